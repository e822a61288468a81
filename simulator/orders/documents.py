"""The documents an order produces, built when the order is taken and queued in the outbox.

Each document gets its payloadID now, so every retry sends the same one. A PO is split into one
supplier order per seller, each with its own confirmID (an Amazon order number), as Amazon does;
each supplier order gets its ConfirmationRequest, one ShipNoticeRequest per shipment and, with
e-invoicing on, an InvoiceDetailRequest after its last shipment (protocol.md §6).
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from .. import clock, faults, outbox
from ..accounts import Account
from ..context import Context
from ..cxml import deferred, fulfil
from ..cxml.ids import payload_id
from ..cxml.read import OrderRequest
from ..cxml.types import Credential, Envelope, Money, Tax
from ..inbound import LANG_BY_LOCALE
from ..scenarios.engine import Fired
from . import store
from .outcomes import LinePlan, Plan
from .timeline import FAR_FUTURE, Timeline

CENT = Decimal("0.01")
CARRIERS = {"en_US": ("UPS", "USPS", "Amazon Logistics"), "de_DE": ("DHL", "Amazon Logistics")}


@dataclass(frozen=True)
class OrderContext:
    order_pk: str
    account: Account
    request: OrderRequest
    payload_id: str
    plan: Plan
    test: bool
    descriptions: dict[int, tuple[str, str | None]]  # line → (description, aux id)


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def buyer_envelope(ctx: Context, account: Account) -> Envelope:
    """From/Sender: the supplier; To: the buyer; the secret the buyer's inbound channel expects."""
    supplier = ctx.config.supplier
    endpoint = account.buyer_endpoint or {}
    domain = endpoint.get("domain", account.domain)
    identity = endpoint.get("identity", account.identity)
    secret = endpoint.get("shared_secret", account.shared_secret)
    return Envelope(
        payload_id=payload_id(supplier.payload_domain),
        timestamp=clock.timestamp(),
        version=account.setting("cxml_version"),
        lang=LANG_BY_LOCALE.get(account.setting("locale"), "en-US"),
        from_=(Credential("DUNS", supplier.duns), Credential("NetworkId", supplier.network_id)),
        to=(Credential(domain, identity),),
        sender=(Credential("NetworkId", supplier.network_id, secret),),
        user_agent=supplier.user_agent,
    )


def destination(order: OrderRequest, account: Account) -> str | None:
    """Followup/URL of the order wins over the account's buyer endpoint."""
    if order.followup_url and order.followup_url.lower().startswith(("http://", "https://")):
        return order.followup_url
    return (account.buyer_endpoint or {}).get("url")


def _tax_basis(account: Account, order: OrderRequest) -> tuple[Decimal, str, str]:
    """(rate, category, text) of the order's tax: German VAT, or the ship-to state's sales tax."""
    if account.setting("locale") == "de_DE":
        return Decimal("19.00"), "vat", "Umsatzsteuer 19 %"
    state = order.ship_to.state if order.ship_to else None
    return fulfil.sales_tax_rate(state), "sales", f"Sales tax {state or ''}".strip()


def _date(moment: datetime, fallback: datetime) -> str:
    return clock.timestamp(fallback if moment >= FAR_FUTURE else moment)


class Scheduler:
    """Decides every document of one order; :meth:`store` writes them.

    Deciding (numbers, dates, the documents' inputs, pickled) is CPU work that needs no lock, so the
    order service does it before its write transaction and only :meth:`store` runs inside it.
    """

    def __init__(self, ctx: Context, order: OrderContext, fired: Fired | None = None) -> None:
        self.ctx = ctx
        self.writes: list[Callable[[sqlite3.Connection], object]] = []
        self.confirm_ids: dict[int, str] = {}  # line number → the Amazon order number confirming it
        self.promised: dict[int, str] = {}  # line number → the delivery date its confirmation promises
        self.order = order
        self.account = order.account
        self.rng = random.Random(order.payload_id)  # the same order gives the same numbers
        self.now = clock.now()
        timeline = fired.timeline if fired else {}
        self.timeline = Timeline(
            timeline.get("mode", self.account.setting("timeline")),
            self.now,
            timeline.get("amazon_day", self.account.setting("amazon_day")),
        )
        fault = fired.fault if fired else None
        self.fault = fault if fault and fault.get("target") == "outbound" else None
        self.url = destination(order.request, self.account)
        self.currency = order.request.currency or ("EUR" if self.account.setting("locale") == "de_DE" else "USD")
        self.reference = fulfil.OrderReference(
            order.request.order_id, order.request.order_date or clock.timestamp(self.now), order.payload_id
        )
        # The same for every line and document of the order: worked out once.
        self.tax_basis = _tax_basis(self.account, order.request)
        self.tomorrow = clock.timestamp(self.now + timedelta(days=1))
        self.deliveries: dict[int, str] = {}  # lead time in days → delivery date

    def store(self, conn: sqlite3.Connection) -> None:
        """Write what was decided: line confirmations, shipments, outbox rows (in the caller's transaction)."""
        for write in self.writes:
            write(conn)
        self.writes.clear()

    def _enqueue(self, step: str, doc_type: str, builder: str, document: object, due: datetime) -> None:
        """Queue the document; its bytes are built when it is due or looked at (cxml/deferred.py)."""
        envelope = buyer_envelope(self.ctx, self.account)
        recipe = deferred.dumps(deferred.Deferred(builder, envelope, document, self.order.test))
        fault = self.fault if self.fault and self.fault["type"] != "out_of_order" else None
        self.writes.append(
            lambda conn: outbox.enqueue(
                conn,
                account_id=self.account.id,
                doc_type=doc_type,
                payload_id=envelope.payload_id,
                recipe=recipe,
                url=self.url,
                due_at=due,
                order_id=self.order.order_pk,
                step=step,
                fault=fault,
            )
        )

    def status_update(self, code: int, text: str, message: str) -> None:
        self._enqueue(
            "status_update",
            "StatusUpdateRequest",
            "status_update_request",
            {"document_payload_id": self.order.payload_id, "code": code, "text": text, "message": message},
            self.timeline.status_update(),
        )

    def reject_order(self) -> None:
        plan = self.order.plan
        due = self.timeline.confirmation()
        doc = fulfil.ConfirmationRequest(
            confirm_id=fulfil.amazon_order_number(self.rng),
            type="reject",
            notice_date=_date(due, self.now),
            order=self.reference,
            comments=(("OrderErrorCode", plan.reject_message),),
        )
        self._enqueue(
            "confirmation",
            "ConfirmationRequest",
            "confirmation_request",
            doc,
            due,
        )

    def fulfil_order(self, *, ship: bool, invoice: bool) -> None:
        groups: dict[str, list[LinePlan]] = {}
        for line in self.order.plan.lines:
            groups.setdefault(line.seller, []).append(line)
        for lines in groups.values():
            confirm_id = fulfil.amazon_order_number(self.rng)
            self.confirm_ids.update((n.line_number, confirm_id) for n in lines)  # stored with the lines
            self._confirm(confirm_id, lines)
            if ship:
                last = self._ship(confirm_id, lines)
                if invoice and last is not None:
                    self._invoice(confirm_id, lines, last)
        if ship and self._out_of_order():
            self.writes.append(self._ship_before_confirming)

    def _out_of_order(self) -> bool:
        if self.fault is not None and self.fault["type"] == "out_of_order":
            return True
        return faults.pick(self.ctx.conn, "outbound", types=["out_of_order"]) is not None

    def _ship_before_confirming(self, conn: sqlite3.Connection) -> None:
        """The out_of_order fault: the first ship notice is due before the confirmation."""
        rows = conn.execute(
            "SELECT id, due_at, next_attempt_at, doc_type FROM outbox WHERE order_id = ?"
            " AND doc_type IN ('ConfirmationRequest', 'ShipNoticeRequest') ORDER BY due_at, id",
            (self.order.order_pk,),
        ).fetchall()
        confirmation = next((r for r in rows if r["doc_type"] == "ConfirmationRequest"), None)
        notice = next((r for r in rows if r["doc_type"] == "ShipNoticeRequest"), None)
        if confirmation is None or notice is None:
            return
        for row, other in ((confirmation, notice), (notice, confirmation)):
            conn.execute(
                "UPDATE outbox SET due_at = ?, next_attempt_at = ? WHERE id = ?",
                (other["due_at"], other["next_attempt_at"], row["id"]),
            )

    def _tax(self, taxable: Decimal) -> Tax:
        rate, category, text = self.tax_basis
        amount = _money(taxable * rate / 100)
        return Tax(Money(amount, self.currency), text, category, rate, Money(_money(taxable), self.currency))

    def _delivery(self, line: LinePlan) -> str:
        """The line's delivery date: its lead time (at least a day) from now."""
        days = max(line.lead_time_days, 1)
        found = self.deliveries.get(days)
        if found is None:
            found = self.deliveries[days] = clock.timestamp(self.now + timedelta(days=days))
        return found

    def _confirm(self, confirm_id: str, lines: list[LinePlan]) -> None:
        due = self.timeline.confirmation()
        items, total, shipping, taxable = [], Decimal("0.00"), Decimal("0.00"), Decimal("0.00")
        for line in lines:
            statuses = []
            price = Money(line.unit_price, self.currency) if line.unit_price is not None else None
            delivery = self._delivery(line)
            if line.accepted:
                statuses.append(
                    fulfil.ConfirmationStatus(
                        line.accepted,
                        "accept",
                        unit_price=price if line.price_changed else None,
                        shipment_date=self.tomorrow,
                        delivery_date=delivery,
                    )
                )
            if line.backordered:
                statuses.append(fulfil.ConfirmationStatus(line.backordered, "backordered", delivery_date=delivery))
            if line.rejected or line.reject:  # a line of quantity 0 is rejected with quantity 0
                statuses.append(
                    fulfil.ConfirmationStatus(
                        line.rejected, "reject", comments=(("LineItemErrorCode", line.reject_message),)
                    )
                )
            kept = line.accepted + line.backordered
            if kept:
                self.promised[line.line_number] = delivery  # stored with the line (the spend dashboard)
            line_total = _money((line.unit_price or Decimal(0)) * kept)
            line_shipping = line.shipping if kept else Decimal("0.00")
            total, shipping, taxable = (
                total + line_total,
                shipping + line_shipping,
                taxable + line_total + line_shipping,
            )
            items.append(
                fulfil.ConfirmationItem(
                    line.line_number,
                    line.quantity,
                    line.unit_of_measure,
                    tuple(statuses),
                    tax=self._tax(line_total + line_shipping) if kept else None,
                    shipping=Money(line_shipping, self.currency) if kept else None,
                )
            )
        whole = all(line.accepted == line.quantity and not line.price_changed for line in lines)
        doc = fulfil.ConfirmationRequest(
            confirm_id=confirm_id,
            type="accept" if whole else "detail",
            notice_date=_date(due, self.now),
            order=self.reference,
            items=tuple(items),
            total=Money(total, self.currency),
            shipping=Money(shipping, self.currency),
            tax=self._tax(taxable),
            comments=(("confirmID", confirm_id),),
        )
        self._enqueue(
            "confirmation",
            "ConfirmationRequest",
            "confirmation_request",
            doc,
            due,
        )

    def _ship(self, confirm_id: str, lines: list[LinePlan]) -> datetime | None:
        batches: list[tuple[list[tuple[LinePlan, int]], bool]] = []
        count = max((len(line.shipments) for line in lines), default=0)
        for index in range(count):
            batch = [(line, line.shipments[index]) for line in lines if index < len(line.shipments)]
            batches.append((batch, False))
        backordered = [(line, line.backordered) for line in lines if line.backordered]
        if backordered:
            batches.append((backordered, True))
        last: datetime | None = None
        for index, (batch, is_backorder) in enumerate(batches):
            last = self._ship_notice(confirm_id, batch, index, is_backorder, final=index == len(batches) - 1)
        return last

    def _ship_notice(
        self, confirm_id: str, batch: Iterable[tuple[LinePlan, int]], index: int, backorder: bool, *, final: bool
    ) -> datetime:
        batch = list(batch)
        due = self.timeline.shipment(index, backorder=backorder)
        carrier = self.rng.choice(CARRIERS.get(self.account.setting("locale"), CARRIERS["en_US"]))
        number, url = fulfil.tracking(carrier, self.rng)
        shipment_id = fulfil.shipment_id(self.rng)
        shipped = _date(due, self.now + timedelta(hours=index + 1))
        delivery = self._delivery(max((line for line, _ in batch), key=lambda line: line.lead_time_days))
        doc = fulfil.ShipNoticeRequest(
            shipment_id=shipment_id,
            notice_date=shipped,
            shipment_date=shipped,
            delivery_date=delivery,
            carrier=carrier,
            tracking_number=number,
            tracking_url=url,
            fulfillment_type="complete" if final else "partial",
            order=self.reference,
            items=tuple(
                fulfil.ShipNoticeItem(line.line_number, quantity, line.unit_of_measure, line.supplier_part_id)
                for line, quantity in batch
            ),
            confirm_id=confirm_id,
        )
        shipment = {
            "shipment_id": shipment_id,
            "order_pk": self.order.order_pk,
            "confirm_id": confirm_id,
            "carrier": carrier,
            "tracking_number": number,
            "tracking_url": url,
            "ship_at": clock.timestamp(due),
            "delivery_date": delivery,
            "lines": [{"line_number": line.line_number, "quantity": quantity} for line, quantity in batch],
        }
        self.writes.append(lambda conn: store.insert_shipment(conn, shipment))
        self._enqueue("shipment", "ShipNoticeRequest", "ship_notice_request", doc, due)
        return due

    def _invoice(self, confirm_id: str, lines: list[LinePlan], last_shipment: datetime) -> None:
        due = self.timeline.invoice(last_shipment)
        invoiced = [line for line in lines if line.accepted + line.backordered > 0 and line.unit_price is not None]
        if not invoiced:
            return
        invoice_lines = []
        for number, line in enumerate(invoiced, start=1):
            quantity = line.accepted + line.backordered
            assert line.unit_price is not None
            subtotal = _money(line.unit_price * quantity)
            description, aux = self.order.descriptions.get(line.line_number, (line.supplier_part_id, None))
            invoice_lines.append(
                fulfil.InvoiceLine(
                    invoice_line_number=number,
                    line_number=line.line_number,
                    quantity=quantity,
                    unit_of_measure=line.unit_of_measure,
                    unit_price=Money(line.unit_price, self.currency),
                    supplier_part_id=line.supplier_part_id,
                    supplier_part_auxiliary_id=aux,
                    description=description,
                    tax=self._tax(subtotal + line.shipping),
                    shipping=Money(line.shipping, self.currency),
                )
            )
        doc = fulfil.InvoiceDetailRequest(
            invoice_id=f"INV-{confirm_id}",
            invoice_date=_date(due, self.now),
            order=self.reference,
            lines=tuple(invoice_lines),
            shipping=Money(sum((line.shipping for line in invoiced), Decimal("0.00")), self.currency),
            payment_term_days=30,
            confirm_id=confirm_id,
            lang=LANG_BY_LOCALE.get(self.account.setting("locale"), "en-US"),
            ship_to_name=(self.order.request.ship_to.name if self.order.request.ship_to else "") or "Ship-to address",
        )
        self._enqueue(
            "invoice",
            "InvoiceDetailRequest",
            "invoice_detail_request",
            doc,
            due,
        )
