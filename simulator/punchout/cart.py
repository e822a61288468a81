"""The cart of a shopping session: lines, Amazon Business pricing, shipping and tax estimates.

Prices: the business price, or a quantity tier's price when the quantity reaches it; a line
restored from an earlier cart (edit/inspect) keeps the price quoted then until its quantity
changes. Shipping is free for items fulfilled by Amazon and a flat fee per line otherwise. Tax is
an estimate: US sales tax at a flat rate, German VAT at 19 % (protocol.md §3, DE capture).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from ..catalog.models import Product
from ..catalog.repository import get_products
from ..errors import AdminError, ShopError
from . import sessions
from .sessions import Session

CENT = Decimal("0.01")
MAX_QUANTITY = 9999
SELLER_SHIPPING = Decimal("4.99")
TAX_BY_LOCALE = {
    "en_US": ("sales", Decimal("8.25"), "Estimated sales tax, including tax on shipping"),
    "de_DE": ("vat", Decimal("19.00"), "Umsatzsteuer 19 %, einschließlich Versand"),
}


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class CartLine:
    product: Product
    quantity: int
    unit_price: Decimal
    shipping: Decimal
    tax: Decimal
    position: int

    @property
    def subtotal(self) -> Decimal:
        return money(self.unit_price * self.quantity)


@dataclass(frozen=True)
class Cart:
    lines: tuple[CartLine, ...]
    currency: str
    tax_category: str
    tax_rate: Decimal
    tax_description: str

    @property
    def total(self) -> Decimal:
        """Items only, without shipping and tax, as Amazon's header Total (protocol.md §3)."""
        return sum((line.subtotal for line in self.lines), Decimal("0.00"))

    @property
    def shipping(self) -> Decimal:
        return sum((line.shipping for line in self.lines), Decimal("0.00"))

    @property
    def tax(self) -> Decimal:
        return sum((line.tax for line in self.lines), Decimal("0.00"))

    @property
    def quantity(self) -> int:
        return sum(line.quantity for line in self.lines)


def _check_quantity(quantity: object) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        raise AdminError(400, "invalid_quantity", f"quantity must be a whole number from 1 to {MAX_QUANTITY}.")
    return quantity


def _check_writable(session: Session) -> None:
    if session.operation == "inspect":
        raise ShopError(403, "Read-only cart", "This cart was opened for inspection and cannot be changed.")
    if session.status in ("returned", "cancelled"):
        raise ShopError(409, "Cart already returned", sessions.ALREADY_RETURNED)


def add(conn: sqlite3.Connection, session: Session, asin: str, quantity: int) -> None:
    _check_writable(session)
    quantity = _check_quantity(quantity)
    products = get_products(conn, [asin], session.locale)
    if not products:
        raise AdminError(404, "not_found", f"No product with ASIN {asin!r} in the catalogue.")
    asin = next(iter(products))
    row = conn.execute(
        "SELECT quantity FROM cart_items WHERE session_id = ? AND asin = ?", (session.id, asin)
    ).fetchone()
    if row is not None:
        set_quantity(conn, session, asin, min(row["quantity"] + quantity, MAX_QUANTITY))
        return
    position = conn.execute(
        "SELECT coalesce(max(position), 0) + 1 FROM cart_items WHERE session_id = ?", (session.id,)
    ).fetchone()[0]
    conn.execute(
        "INSERT INTO cart_items (session_id, asin, quantity, position) VALUES (?, ?, ?, ?)",
        (session.id, asin, quantity, position),
    )


def restore(conn: sqlite3.Connection, session_id: str, lines: list[tuple[str, int, Decimal | None]]) -> None:
    """Put lines back into a new session's cart (edit/inspect), keeping their quoted prices."""
    for position, (asin, quantity, price) in enumerate(lines, start=1):
        conn.execute(
            "INSERT INTO cart_items (session_id, asin, quantity, quoted_unit_price, position) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (session_id, asin) DO UPDATE SET quantity = quantity + excluded.quantity",
            (
                session_id,
                asin,
                min(quantity, MAX_QUANTITY),
                str(price) if price is not None else None,
                position,
            ),
        )


def set_quantity(conn: sqlite3.Connection, session: Session, asin: str, quantity: int) -> None:
    _check_writable(session)
    if quantity == 0:
        remove(conn, session, asin)
        return
    quantity = _check_quantity(quantity)
    cursor = conn.execute(
        "UPDATE cart_items SET quantity = ?, quoted_unit_price = NULL WHERE session_id = ? AND asin = ?",
        (quantity, session.id, asin),
    )
    if cursor.rowcount == 0:
        raise AdminError(404, "not_found", f"{asin} is not in this cart.")


def remove(conn: sqlite3.Connection, session: Session, asin: str) -> None:
    _check_writable(session)
    conn.execute("DELETE FROM cart_items WHERE session_id = ? AND asin = ?", (session.id, asin))


def load(conn: sqlite3.Connection, session: Session) -> Cart:
    rows = conn.execute(
        "SELECT asin, quantity, quoted_unit_price, position FROM cart_items WHERE session_id = ? ORDER BY position",
        (session.id,),
    ).fetchall()
    products = get_products(conn, [r["asin"] for r in rows], session.locale)
    category, rate, description = TAX_BY_LOCALE.get(session.locale, TAX_BY_LOCALE["en_US"])
    lines = []
    currency = "EUR" if session.locale == "de_DE" else "USD"
    for row in rows:
        product = products.get(row["asin"])
        if product is None:
            continue
        currency = product.currency
        quantity = row["quantity"]
        quoted = row["quoted_unit_price"]
        unit = Decimal(quoted) if quoted is not None else product.unit_price(quantity)
        shipping = Decimal("0.00") if product.amazon_fulfilled else SELLER_SHIPPING
        tax = money((money(unit * quantity) + shipping) * rate / 100)
        lines.append(CartLine(product, quantity, unit, shipping, tax, row["position"]))
    return Cart(tuple(lines), currency, category, rate, description)
