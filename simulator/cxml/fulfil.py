"""What Amazon sends a buyer after an OrderRequest (protocol.md §6): ConfirmationRequest and
ShipNoticeRequest (Fulfill.dtd), InvoiceDetailRequest (InvoiceDetail.dtd), StatusUpdateRequest
(cXML.dtd). Pure builders, no Flask and no database, plus the numbers that go into them: Amazon
order numbers, shipment IDs, carrier tracking numbers, US sales tax by state.

Shapes follow Amazon's own documents (samples ``confirmation_request/amazon-sdi-1.xml`` and
``ship_notice_request/amazon-sdi-1.xml``, both declaring 1.2.024): confirmID = Amazon order number,
Tax, Shipping and ``Comments type="confirmID"`` in every ConfirmationStatus, carrier by
companyName, a 13-digit shipmentID, shipmentType "actual".

Version gating. Envelope versions 1.2.014 to 1.2.069 are supported. Fulfill.dtd exists locally
only from 1.2.050, so what an older version allows is judged from the other local DTDs (the
common elements live in every cXML.dtd) and from Amazon's real 1.2.024 documents; whatever cannot
be shown to exist in a version is left out of it:

* typed and repeated ``Comments`` (:data:`TYPED_COMMENTS`): 1.2.020 has neither ``type`` nor
  repeated Comments, Amazon's 1.2.024 documents carry ``type``. Older versions get one untyped
  Comments holding ``type: text`` lines;
* ``shipmentType`` and ``PackageIdentification`` (:data:`AMAZON_BASELINE`): seen in Amazon's 1.2.024;
* ``ShipmentIdentifier@trackingURL`` (:data:`TRACKING_URL`): absent from 1.2.020, present in
  1.2.036; older versions get the URL as a ShipNoticeHeader comment;
* ``fulfillmentType`` and ``ShipNoticeItem/ItemID`` (:data:`FULFILL_LOCAL`): shown only by the
  1.2.050+ Fulfill.dtd.

``ShipmentIdentifier`` itself is in every version (1.2.014's cXML.dtd defines it; ShipControl
requires it), and everything the invoice uses is in InvoiceDetail.dtd 1.2.020.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import MappingProxyType

from lxml import etree

from . import build
from .build import OLDEST_SUPPORTED_VERSION, XML_LANG, E, _description, _header, _root, serialize
from .types import CENT, Envelope, Money, Tax
from .validate import _version_key

DATA_DIR = Path(__file__).resolve().parents[2] / "catalog_data"
SHIPPING_TEXT = "Cost of shipping, not including shipping tax"
TOTAL_TAX_TEXT = "Total tax"

AMAZON_BASELINE = "1.2.024"
TYPED_COMMENTS = AMAZON_BASELINE
TRACKING_URL = "1.2.036"
FULFILL_LOCAL = "1.2.050"

CONFIRMATION_TYPES = frozenset(
    {"accept", "allDetail", "detail", "backordered", "except", "reject", "requestToPay", "replace"}
)
STATUS_TYPES = frozenset({"accept", "allDetail", "detail", "backordered", "reject", "unknown", "requestToPay"})
FULFILLMENT_TYPES = frozenset({"partial", "complete"})


def at_least(version: str, minimum: str) -> bool:
    """``version`` is ``minimum`` or newer (``"1.2.036"`` >= ``"1.2.024"``)."""
    return _version_key(version) >= _version_key(minimum)


def _check_version(version: str) -> None:
    if not at_least(version, OLDEST_SUPPORTED_VERSION):
        raise ValueError(f"cXML {version} is older than the oldest supported version {OLDEST_SUPPORTED_VERSION}")


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _round(money: Money) -> Money:
    return Money(_cents(money.amount), money.currency)


def _money(money: Money) -> etree._Element:
    """``build._money`` rounded half up to the cent first (``str(Money)`` alone rounds half to even),
    so that every amount shown is the amount summed."""
    return build._money(_round(money))


def _tax(tax: Tax, lang: str) -> etree._Element:
    return build._tax(replace(tax, money=_round(tax.money), taxable_amount=_round(tax.taxable_amount)), lang)


def _request(body: etree._Element, test: bool) -> etree._Element:
    request = E.Request(body)
    if test:
        request.set("deploymentMode", "test")
    return request


def _document(envelope: Envelope, body: etree._Element, test: bool, dtd_name: str) -> bytes:
    _check_version(envelope.version)
    root = _root(envelope, _header(envelope), _request(body, test))
    return serialize(root, envelope.version, dtd_name)


def _comments(pairs: Iterable[tuple[str, str]], version: str) -> list[etree._Element]:
    """One ``Comments type=…`` per pair, or, before typed Comments exist, one untyped Comments."""
    pairs = list(pairs)
    if not pairs:
        return []
    if at_least(version, TYPED_COMMENTS):
        return [E.Comments(text, type=kind) for kind, text in pairs]
    return [E.Comments("\n".join(f"{kind}: {text}" for kind, text in pairs))]


def _shipping(money: Money, lang: str) -> etree._Element:
    return E.Shipping(_money(money), _description(SHIPPING_TEXT, lang))


@dataclass(frozen=True)
class OrderReference:
    order_id: str  # the buyer's PO number (OrderRequestHeader@orderID)
    order_date: str  # as the buyer sent it
    payload_id: str  # the OrderRequest's payloadID -> DocumentReference@payloadID


def _order_reference(order: OrderReference) -> etree._Element:
    return E.OrderReference(
        E.DocumentReference(payloadID=order.payload_id), orderID=order.order_id, orderDate=order.order_date
    )


# --- ConfirmationRequest ---------------------------------------------------------------------


@dataclass(frozen=True)
class ConfirmationStatus:
    quantity: int
    type: str  # accept | backordered | reject | detail | unknown
    unit_price: Money | None = None  # set when the price changed: emitted as UnitPrice
    shipment_date: str | None = None
    delivery_date: str | None = None
    comments: tuple[tuple[str, str], ...] = ()  # (type, text), e.g. ("LineItemErrorCode", "002-001 …")


@dataclass(frozen=True)
class ConfirmationItem:
    line_number: int
    quantity: int  # the ordered quantity of the line
    unit_of_measure: str
    statuses: tuple[ConfirmationStatus, ...]
    tax: Tax | None = None
    shipping: Money | None = None


@dataclass(frozen=True)
class ConfirmationRequest:
    confirm_id: str  # Amazon order number NNN-NNNNNNN-NNNNNNN
    type: str  # accept | reject | detail | except | backordered | allDetail
    notice_date: str
    order: OrderReference
    items: tuple[ConfirmationItem, ...] = ()
    total: Money | None = None
    shipping: Money | None = None
    tax: Tax | None = None
    comments: tuple[tuple[str, str], ...] = ()  # header comments, e.g. ("OrderErrorCode", "001-005 …")
    invoice_id: str | None = None


def _confirmation_item(item: ConfirmationItem, confirm_id: str, lang: str, version: str) -> etree._Element:
    if not item.statuses:
        raise ValueError(f"line {item.line_number}: a ConfirmationItem needs at least one ConfirmationStatus")
    confirmed = sum(status.quantity for status in item.statuses)
    if confirmed != item.quantity:
        raise ValueError(f"line {item.line_number}: statuses cover {confirmed} of {item.quantity} ordered")
    # The line's tax and shipping go with the first status that is not a rejection (Amazon has
    # one status per line and puts them there).
    carrier = next((i for i, s in enumerate(item.statuses) if s.type != "reject"), 0)
    element = E.ConfirmationItem(
        E.UnitOfMeasure(item.unit_of_measure), quantity=str(item.quantity), lineNumber=str(item.line_number)
    )
    for index, status in enumerate(item.statuses):
        if status.type not in STATUS_TYPES:
            raise ValueError(f"line {item.line_number}: unknown ConfirmationStatus type {status.type!r}")
        child = E.ConfirmationStatus(
            E.UnitOfMeasure(item.unit_of_measure), quantity=str(status.quantity), type=status.type
        )
        if status.shipment_date:
            child.set("shipmentDate", status.shipment_date)
        if status.delivery_date:
            child.set("deliveryDate", status.delivery_date)
        if status.unit_price is not None:
            child.append(E.UnitPrice(_money(status.unit_price)))
        if index == carrier and item.tax is not None:
            child.append(_tax(item.tax, lang))
        if index == carrier and item.shipping is not None:
            child.append(_shipping(item.shipping, lang))
        comments = list(status.comments)
        if all(kind != "confirmID" for kind, _ in comments):
            comments.append(("confirmID", confirm_id))
        child.extend(_comments(comments, version))
        element.append(child)
    return element


def confirmation_request(envelope: Envelope, doc: ConfirmationRequest, *, test: bool = False) -> bytes:
    """The order's fate: accepted, rejected (whole order or lines), backordered, repriced.

    Every ConfirmationStatus carries ``Comments type="confirmID"`` with the Amazon order number,
    as Amazon's do. Raises ValueError on an unknown type or when a line's status quantities do
    not add up to its ordered quantity.
    """
    if doc.type not in CONFIRMATION_TYPES:
        raise ValueError(f"unknown ConfirmationHeader type {doc.type!r}")
    lang, version = envelope.lang, envelope.version
    header = E.ConfirmationHeader(confirmID=doc.confirm_id, operation="new", type=doc.type, noticeDate=doc.notice_date)
    if doc.invoice_id:
        header.set("invoiceID", doc.invoice_id)
    if doc.total is not None:
        header.append(E.Total(_money(doc.total)))
    if doc.shipping is not None:
        header.append(_shipping(doc.shipping, lang))
    if doc.tax is not None:
        header.append(_tax(doc.tax, lang))
    header.extend(_comments(doc.comments, version))
    body = E.ConfirmationRequest(
        header,
        _order_reference(doc.order),
        *(_confirmation_item(item, doc.confirm_id, lang, version) for item in doc.items),
    )
    return _document(envelope, body, test, "Fulfill")


# --- ShipNoticeRequest -----------------------------------------------------------------------


@dataclass(frozen=True)
class ShipNoticeItem:
    line_number: int
    quantity: int
    unit_of_measure: str
    supplier_part_id: str | None = None


@dataclass(frozen=True)
class ShipNoticeRequest:
    shipment_id: str  # 13 digits, as Amazon
    notice_date: str
    shipment_date: str
    delivery_date: str
    carrier: str  # company name, e.g. "UPS", "Amazon Logistics"
    tracking_number: str
    tracking_url: str
    fulfillment_type: str  # partial | complete
    order: OrderReference
    items: tuple[ShipNoticeItem, ...]
    confirm_id: str | None = None  # the Amazon order number: ShipNoticeHeader Comments type="confirmID"


def ship_notice_request(envelope: Envelope, doc: ShipNoticeRequest, *, test: bool = False) -> bytes:
    """One shipment of one order: carrier, tracking number and URL, the lines and quantities in it."""
    if doc.fulfillment_type not in FULFILLMENT_TYPES:
        raise ValueError(f"fulfillmentType must be partial or complete, not {doc.fulfillment_type!r}")
    version = envelope.version
    header = E.ShipNoticeHeader(
        shipmentID=doc.shipment_id,
        operation="new",
        noticeDate=doc.notice_date,
        shipmentDate=doc.shipment_date,
        deliveryDate=doc.delivery_date,
    )
    if at_least(version, AMAZON_BASELINE):
        header.set("shipmentType", "actual")
    if at_least(version, FULFILL_LOCAL):
        header.set("fulfillmentType", doc.fulfillment_type)
    comments = [("confirmID", doc.confirm_id)] if doc.confirm_id else []
    identifier = E.ShipmentIdentifier(doc.tracking_number)
    if at_least(version, TRACKING_URL):
        identifier.set("trackingURL", doc.tracking_url)
    else:
        comments.append(("trackingURL", doc.tracking_url))
    header.extend(_comments(comments, version))
    control = E.ShipControl(E.CarrierIdentifier(doc.carrier, domain="companyName"), identifier)
    if at_least(version, AMAZON_BASELINE):
        control.append(E.PackageIdentification(rangeBegin="1", rangeEnd="1"))
    portion = E.ShipNoticePortion(_order_reference(doc.order))
    for item in doc.items:
        element = E.ShipNoticeItem(quantity=str(item.quantity), lineNumber=str(item.line_number))
        if item.supplier_part_id and at_least(version, FULFILL_LOCAL):
            element.append(E.ItemID(E.SupplierPartID(item.supplier_part_id)))
        element.append(E.UnitOfMeasure(item.unit_of_measure))
        portion.append(element)
    return _document(envelope, E.ShipNoticeRequest(header, control, portion), test, "Fulfill")


# --- InvoiceDetailRequest --------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceLine:
    invoice_line_number: int
    line_number: int  # the PO line (InvoiceDetailItemReference@lineNumber)
    quantity: int
    unit_of_measure: str
    unit_price: Money
    supplier_part_id: str  # ASIN
    supplier_part_auxiliary_id: str | None
    description: str
    tax: Tax  # line-level tax (US sales tax by ship-to state, or 19 % VAT)
    shipping: Money | None = None  # line shipping if any

    @property
    def subtotal(self) -> Money:
        """Quantity × the unit price as shown (in cents), rounded half up to the cent."""
        return Money(_cents(_round(self.unit_price).amount * self.quantity), self.unit_price.currency)


@dataclass(frozen=True)
class InvoiceDetailRequest:
    invoice_id: str
    invoice_date: str
    order: OrderReference
    lines: tuple[InvoiceLine, ...]
    shipping: Money  # total shipping (may be 0.00)
    payment_term_days: int = 30
    confirm_id: str | None = None  # supplier order number -> SupplierOrderInfo@orderID
    lang: str = "en-US"
    # Line shipping (InvoiceDetailLineShipping) must name a ship-from and a ship-to contact.
    ship_from_name: str = "Amazon.com Services LLC"
    ship_to_name: str = "Ship-to address of the order"


@dataclass(frozen=True)
class InvoiceTotals:
    """The InvoiceDetailSummary amounts: gross = subtotal + tax + shipping; net = due = gross."""

    subtotal: Money
    tax: Money
    shipping: Money
    gross: Money

    @property
    def net(self) -> Money:
        return self.gross

    @property
    def due(self) -> Money:
        return self.gross


def invoice_totals(doc: InvoiceDetailRequest) -> InvoiceTotals:
    """Sum the lines; raise ValueError when currencies are mixed or line shipping disagrees with the total."""
    if not doc.lines:
        raise ValueError("an invoice needs at least one line")
    currency = doc.shipping.currency
    amounts = [m for line in doc.lines for m in (line.unit_price, line.tax.money, line.shipping) if m is not None]
    if any(m.currency != currency for m in amounts):
        raise ValueError(f"all amounts of an invoice must be in {currency}")
    subtotal = sum((line.subtotal.amount for line in doc.lines), Decimal("0.00"))
    tax = sum((_cents(line.tax.money.amount) for line in doc.lines), Decimal("0.00"))
    shipping = _cents(doc.shipping.amount)
    line_shipping = [_cents(line.shipping.amount) for line in doc.lines if line.shipping is not None]
    if line_shipping and sum(line_shipping, Decimal("0.00")) != shipping:
        raise ValueError(f"line shipping adds up to {sum(line_shipping)}, the invoice's shipping is {shipping}")
    return InvoiceTotals(
        Money(subtotal, currency),
        Money(tax, currency),
        Money(shipping, currency),
        Money(subtotal + tax + shipping, currency),
    )


def _summary_tax(lines: Sequence[InvoiceLine], total: Money, lang: str) -> etree._Element:
    """The summary Tax: the sum, with one TaxDetail per (category, rate) over the lines."""
    groups: dict[tuple[str, Decimal], tuple[Decimal, Decimal]] = {}
    for line in lines:
        key = (line.tax.category, line.tax.percentage_rate)
        taxable, amount = groups.get(key, (Decimal("0.00"), Decimal("0.00")))
        groups[key] = (taxable + _cents(line.tax.taxable_amount.amount), amount + _cents(line.tax.money.amount))
    descriptions = {line.tax.description for line in lines}
    description = descriptions.pop() if len(descriptions) == 1 else TOTAL_TAX_TEXT
    details = (
        _tax(Tax(Money(amount, total.currency), description, category, rate, Money(taxable, total.currency)), lang)
        for (category, rate), (taxable, amount) in groups.items()
    )
    return E.Tax(_money(total), _description(description, lang), *(tax.find("TaxDetail") for tax in details))


def _invoice_item(line: InvoiceLine, doc: InvoiceDetailRequest) -> etree._Element:
    item_id = E.ItemID(E.SupplierPartID(line.supplier_part_id))
    if line.supplier_part_auxiliary_id:
        item_id.append(E.SupplierPartAuxiliaryID(line.supplier_part_auxiliary_id))
    element = E.InvoiceDetailItem(
        E.UnitOfMeasure(line.unit_of_measure),
        E.UnitPrice(_money(line.unit_price)),
        E.InvoiceDetailItemReference(
            item_id, _description(line.description, doc.lang), lineNumber=str(line.line_number)
        ),
        E.SubtotalAmount(_money(line.subtotal)),
        _tax(line.tax, doc.lang),
        invoiceLineNumber=str(line.invoice_line_number),
        quantity=str(line.quantity),
    )
    if line.shipping is not None:
        contacts = []
        for role, name in (("shipFrom", doc.ship_from_name), ("shipTo", doc.ship_to_name)):
            contact_name = E.Name(name)
            contact_name.set(XML_LANG, doc.lang)
            contacts.append(E.Contact(contact_name, role=role))
        element.append(E.InvoiceDetailLineShipping(E.InvoiceDetailShipping(*contacts), _money(line.shipping)))
    return element


def invoice_detail_request(envelope: Envelope, doc: InvoiceDetailRequest, *, test: bool = False) -> bytes:
    """A standard invoice against one PO with line-level tax; the summary adds up to the cent.

    Carries what Coupa requires (protocol.md §6): PO number, PO line numbers, supplier part
    numbers and units of measure.
    """
    totals = invoice_totals(doc)
    indicator = E.InvoiceDetailLineIndicator(isTaxInLine="yes")
    if any(line.shipping is not None for line in doc.lines):
        indicator.set("isShippingInLine", "yes")
    header = E.InvoiceDetailRequestHeader(
        E.InvoiceDetailHeaderIndicator(),
        indicator,
        E.PaymentTerm(payInNumberOfDays=str(doc.payment_term_days)),
        invoiceID=doc.invoice_id,
        purpose="standard",
        operation="new",
        invoiceDate=doc.invoice_date,
    )
    info = E.InvoiceDetailOrderInfo(_order_reference(doc.order))
    if doc.confirm_id:
        info.append(E.SupplierOrderInfo(orderID=doc.confirm_id))
    order = E.InvoiceDetailOrder(info, *(_invoice_item(line, doc) for line in doc.lines))
    summary = E.InvoiceDetailSummary(
        E.SubtotalAmount(_money(totals.subtotal)),
        _summary_tax(doc.lines, totals.tax, doc.lang),
        E.ShippingAmount(_money(totals.shipping)),
        E.GrossAmount(_money(totals.gross)),
        E.NetAmount(_money(totals.net)),
        E.DueAmount(_money(totals.due)),
    )
    return _document(envelope, E.InvoiceDetailRequest(header, order, summary), test, "InvoiceDetail")


# --- StatusUpdateRequest ---------------------------------------------------------------------


def status_update_request(
    envelope: Envelope, *, document_payload_id: str, code: int, text: str, message: str = "", test: bool = False
) -> bytes:
    """The later status of a document the buyer sent (DocumentReference = its payloadID)."""
    status = E.Status(code=str(code), text=text)
    status.set(XML_LANG, envelope.lang)
    if message:
        status.text = message
    body = E.StatusUpdateRequest(E.DocumentReference(payloadID=document_payload_id), status)
    return _document(envelope, body, test, "cXML")


# --- Numbers: order numbers, shipment IDs, tracking, sales tax -------------------------------


def amazon_order_number(rng: random.Random) -> str:
    """``NNN-NNNNNNN-NNNNNNN``, the first group 100–999 (e.g. ``114-…``)."""
    return f"{rng.randint(100, 999)}-{rng.randrange(10**7):07d}-{rng.randrange(10**7):07d}"


def shipment_id(rng: random.Random) -> str:
    """13 digits, as Amazon's ShipNoticeHeader@shipmentID."""
    return str(rng.randrange(10**12, 10**13))


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def ups_check_digit(body: str) -> str:
    """UPS's check digit over the 15 characters after ``1Z``: letters count as (ord - 63) mod 10,
    characters in even positions double."""
    total = 0
    for position, char in enumerate(body, start=1):
        value = int(char) if char.isdigit() else (ord(char) - 63) % 10
        total += value * 2 if position % 2 == 0 else value
    return str(-total % 10)


def gs1_check_digit(body: str) -> str:
    """GS1 mod-10 (USPS IMpb): weights 3, 1, 3, … from the rightmost digit."""
    total = sum(int(char) * (3 if index % 2 == 0 else 1) for index, char in enumerate(reversed(body)))
    return str(-total % 10)


def _ups(rng: random.Random) -> str:
    shipper = "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(6))
    body = shipper + rng.choice(("01", "02", "03", "12", "13")) + _digits(rng, 7)
    return "1Z" + body + ups_check_digit(body)


def _usps(rng: random.Random) -> str:
    body = "9400111" + _digits(rng, 14)
    return body + gs1_check_digit(body)


def _dhl(rng: random.Random) -> str:
    body = str(rng.randrange(10**8, 10**9))
    return body + str(int(body) % 7)  # DHL Express waybill: 9 digits and their remainder mod 7


#: carrier (lower case) -> (tracking number maker, tracking page with ``{}`` for the number)
CARRIERS: Mapping[str, tuple[Callable[[random.Random], str], str]] = MappingProxyType(
    {
        "ups": (_ups, "https://www.ups.com/track?loc=en_US&tracknum={}"),
        "usps": (_usps, "https://tools.usps.com/go/TrackConfirmAction?tLabels={}"),
        "amazon logistics": (lambda rng: "TBA" + _digits(rng, 12), "https://track.amazon.com/tracking/{}"),
        "dhl": (_dhl, "https://www.dhl.com/de-de/home/tracking/tracking-express.html?submit=1&tracking-id={}"),
        "fedex": (lambda rng: _digits(rng, 12), "https://www.fedex.com/fedextrack/?trknbr={}"),
    }
)


def tracking(carrier: str, rng: random.Random) -> tuple[str, str]:
    """(tracking number, tracking URL) shaped as the carrier's: UPS ``1Z…`` (18, with its check
    digit), USPS 22 digits, Amazon Logistics ``TBA`` + 12 digits, DHL 10 digits, FedEx 12 digits."""
    entry = CARRIERS.get(carrier.strip().lower())
    if entry is None:
        raise ValueError(f"unknown carrier {carrier!r}; known: UPS, USPS, Amazon Logistics, DHL, FedEx")
    make, url = entry
    number = make(rng)
    return number, url.format(number)


@functools.cache
def _sales_tax_table() -> tuple[Mapping[str, Decimal], Decimal]:
    raw = json.loads((DATA_DIR / "us_sales_tax.json").read_text("utf-8"), parse_float=Decimal, parse_int=Decimal)
    rates = {state.upper(): _cents(Decimal(rate)) for state, rate in raw["rates"].items()}
    return MappingProxyType(rates), _cents(Decimal(raw["default"]))


def sales_tax_rate(state: str | None) -> Decimal:
    """Combined state + average local sales tax in percent (``"CA"`` -> ``Decimal("8.85")``) from
    ``catalog_data/us_sales_tax.json``; a missing or unknown state gets the file's ``default``
    (8.25, the cart's flat estimate)."""
    rates, default = _sales_tax_table()
    if not state:
        return default
    return rates.get(state.strip().upper(), default)
