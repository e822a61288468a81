"""Rejection codes, shaped ``NNN-NNN`` as Amazon's (protocol.md §4).

Two are Amazon's own, from an unofficial but public source: ``001-001`` (order type update/delete
not supported) and ``001-005`` (missing or invalid ShipTo). Amazon publishes no list of the others;
the simulator assigns the rest in the same shape, order-level codes in ``001-``, line-level codes
in ``002-``, and documents them in the README.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    code: str
    text: str

    def message(self, detail: str = "") -> str:
        return f"{self.code} {self.text}" + (f": {detail}" if detail else "")


# Whole order (ConfirmationRequest type="reject", Comments type="OrderErrorCode")
ORDER_CHANGE_NOT_SUPPORTED = Code("001-001", "Order updates and deletions are not supported; cancel and re-order")
INVALID_SHIP_TO = Code("001-005", "Missing or invalid ShipTo address")
NO_PAYMENT_METHOD = Code("001-010", "Payment declined: the punchout group has no default payment method")
SAFEGUARD_CANCELLED_ORDER = Code("001-020", "Order cancelled by an order safeguard")
NO_ITEMS = Code("001-030", "The order has no line items")
UNKNOWN_ORIGINAL_ORDER = Code("001-040", "The order to change or cancel is not known")

# One line (ConfirmationStatus type="reject", Comments type="LineItemErrorCode")
ITEM_UNAVAILABLE = Code("002-001", "Item unavailable")
OUT_OF_STOCK = Code("002-002", "Out of stock")
PRICE_INCREASE = Code("002-003", "Unit price increased beyond the order safeguard")
SHIPPING_PRICE = Code("002-004", "Shipping price above the order safeguard")
DELIVERY_TOO_LATE = Code("002-005", "Delivery time beyond the order safeguard")
NOT_AMAZON_FULFILLED = Code("002-006", "Not fulfilled by Amazon (order safeguard)")
QUANTITY_NOT_AVAILABLE = Code("002-007", "Quantity not available; the rest was cancelled")
UNKNOWN_ITEM = Code("002-008", "Item not found in the catalogue")
INVALID_QUANTITY = Code("002-009", "Invalid quantity")

ALL = [v for v in list(globals().values()) if isinstance(v, Code)]
