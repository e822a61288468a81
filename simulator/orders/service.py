"""OrderRequest intake: answer synchronously as Amazon does, store the order, queue what follows.

Synchronous refusals are only: credentials (401), not parseable (406), not an OrderRequest (450)
and a duplicate orderID (409). Every business outcome comes later in a ConfirmationRequest, unless
the account's ``reject_synchronously`` moves whole-order refusals into the answer (protocol.md §4).
"""

from __future__ import annotations

import fnmatch
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from .. import clock, outbox
from ..accounts import Account
from ..catalog.repository import get_products
from ..context import Context
from ..cxml import build
from ..cxml.read import Address, OrderRequest, read_order_request
from ..db import transaction
from ..errors import Conflict
from ..inbound import Answer, Exchange, Received, envelope, finish, http_status_for
from ..scenarios.engine import Fired
from ..settings import merge
from . import codes, emails, store
from .documents import OrderContext, Scheduler
from .outcomes import SCENARIO_BEHAVIOURS, LineInput, OrderInput, Plan, plan_order


def ship_to_problem(order: OrderRequest) -> str | None:
    """Why the order cannot be delivered, or None. A header ShipTo, or one on every line, is needed."""
    addresses: list[Address | None] = [order.ship_to] if order.ship_to else [line.ship_to for line in order.lines]
    if not addresses or any(a is None for a in addresses):
        return "the order has no ShipTo/Address"
    for address in addresses:
        assert address is not None
        missing = [
            name
            for name, value in (("Street", address.street), ("City", address.city), ("Country", address.country))
            if not value
        ]
        if missing:
            return f"ShipTo/Address/PostalAddress has no {', '.join(missing)}"
    return None


def _quote(ctx: Context, aux_id: str, account_id: str) -> tuple[str, Decimal, datetime, str] | None:
    """The quote behind a SupplierPartAuxiliaryID issued to a session of this account (another
    account's quote neither holds a price nor names a user for this buyer)."""
    if not aux_id:
        return None
    row = ctx.conn.execute(
        "SELECT q.asin, q.unit_price, q.created_at, coalesce(q.email, s.email) AS email"
        " FROM quotes q LEFT JOIN sessions s ON s.id = q.session_id"  # quotes stored before they kept the email
        " WHERE q.aux_id = ? AND q.account_id = ?",
        (aux_id.strip(), account_id),
    ).fetchone()
    if row is None:
        return None
    return row["asin"], Decimal(row["unit_price"]), clock.parse(row["created_at"]), row["email"] or ""


def _line_outcome(fired: Fired | None, supplier_part_id: str) -> tuple[str | None, dict[str, Any]]:
    """The behaviour a fired scenario rule gives a line (lines whose ASIN its match names, or all)."""
    if fired is None:
        return None, {}
    if "lines" not in fired.outcome:
        return ("accept", {}) if fired.outcome.get("order") == "accept" else (None, {})
    pattern = (fired.rule.get("match") or {}).get("asin")
    if pattern and not fnmatch.fnmatch(supplier_part_id.upper(), pattern.upper()):
        return None, {}
    options: dict[str, Any] = {
        k: fired.outcome[k] for k in ("available", "remainder", "percent", "shipments", "days") if k in fired.outcome
    }
    return SCENARIO_BEHAVIOURS[fired.outcome["lines"]], options


def _inputs(
    ctx: Context, account: Account, order: OrderRequest, fired: Fired | None
) -> tuple[list[LineInput], str, list[str]]:
    notes: list[str] = []
    locale = account.setting("locale")
    email = order.extrinsic("UserEmail") or ""
    lines = []
    quotes = [_quote(ctx, line.supplier_part_auxiliary_id, account.id) for line in order.lines]
    asins = [quote[0] if quote else line.supplier_part_id for line, quote in zip(order.lines, quotes, strict=True)]
    products = get_products(ctx.conn, [asin for asin in asins if asin], locale)  # one query for every line
    for line, quote, asin in zip(order.lines, quotes, asins, strict=True):
        behaviour, options = _line_outcome(fired, asin)
        product = products.get(asin.upper()) if asin else None
        if quote:
            email = email or quote[3]
        elif line.supplier_part_auxiliary_id:
            notes.append(
                f"ItemOut {line.line_number}: SupplierPartAuxiliaryID {line.supplier_part_auxiliary_id!r} "
                "was not issued to this account, or its quote is older than --quote-keep-days; "
                "priced from the catalogue."
            )
        lines.append(
            LineInput(
                line_number=line.line_number,
                quantity=line.quantity,
                supplier_part_id=line.supplier_part_id,
                product=product,
                ordered_unit_price=line.unit_price,
                quoted_unit_price=quote[1] if quote else None,
                quote_age_days=(clock.now() - quote[2]).total_seconds() / 86400 if quote else None,
                unit_of_measure=line.unit_of_measure,
                behaviour=behaviour,
                options=options,
            )
        )
    return lines, email, notes


def _check_duplicate(ctx: Context, account: Account, order: OrderRequest, payload: str) -> None:
    for earlier in store.by_order_id(ctx.conn, account.id, order.order_id):
        if order.type == "new" and earlier["type"] == "new":
            raise Conflict(
                f"Order {order.order_id} was already received with payloadID {earlier['payload_id']} at "
                f"{earlier['created_at']}; this document (payloadID {payload}) has the same orderID and is a duplicate "
                "order. Send a new orderID, or the same document again (same payloadID) to get the same answer.",
                account_id=account.id,
            )


@dataclass(frozen=True)
class Taken:
    """An order as taken: its id, plan and the synchronous answer (also for a repeated payloadID)."""

    order_pk: str
    plan: Plan | None  # None when the payloadID was received before
    code: int
    http: int
    body: bytes


# Renders the synchronous answer: (plan, code, text, message) → body
Render = Callable[[Plan, int, str, str], bytes]


def order_request(ctx: Context, exchange: Exchange, received: Received) -> Answer:
    """cXML OrderRequest → the order engine → cXML Response/Status."""
    account = received.account
    order = read_order_request(received.document.root)
    exchange.advisories.extend(order.advisories)
    payload = received.document.root.get("payloadID") or ""
    if not payload:
        payload = "missing-" + hashlib.sha256(exchange.body).hexdigest()[:24]
        exchange.advisories.append("The OrderRequest has no payloadID; one derived from its body identifies it.")
    test = account.status == "test" or received.document.root.find("Request[@deploymentMode='test']") is not None
    env = envelope(ctx, account)

    def render(plan: Plan, code: int, text: str, message: str) -> bytes:
        return build.status_response(code, text, message or None, env)

    def journal(code: int, http: int, body: bytes) -> None:
        finish(ctx, exchange, answer_from(body, code, http, env.payload_id))

    taken = take_order(ctx, exchange, account, order, payload=payload, test=test, render=render, journal=journal)
    return answer_from(taken.body, taken.code, taken.http, env.payload_id)


def take_order(
    ctx: Context,
    exchange: Exchange,
    account: Account,
    order: OrderRequest,
    *,
    payload: str,
    test: bool,
    render: Render,
    journal: Callable[[int, int, bytes], None] | None = None,
) -> Taken:
    """The order engine, whatever the order came as: idempotency, outcomes, storage, documents.

    Everything is in SQLite before this returns, so before the answer is sent. ``journal(code, http,
    body)``, when given, journals the exchange in the order's own transaction (one commit).
    """
    stored = store.by_payload_id(ctx.conn, payload)
    if stored is not None:
        return _replay(exchange, payload, stored)
    _check_duplicate(ctx, account, order, payload)

    fired = exchange.fired
    outcome = fired.outcome if fired else {}
    lines, email, notes = _inputs(ctx, account, order, fired)
    exchange.advisories.extend(notes)
    test = bool(outcome.get("test", test))
    plan, superseded = _plan(ctx, account, order, lines, outcome)
    order_pk = "ord_" + secrets.token_hex(8)
    synchronous_reject = plan.rejected and outcome.get("reject_synchronously", account.setting("reject_synchronously"))
    if synchronous_reject:
        code, text, message = (
            400,
            f"{plan.order_reject.code} Bad Request" if plan.order_reject else "Bad Request",
            plan.reject_message,
        )
    elif outcome.get("sync_status", account.setting("sync_status")) == 201:
        code, text, message = 201, "Accepted", f"Order {order.order_id} accepted; a StatusUpdateRequest follows."
    else:
        code, text, message = 200, "OK", ""
    body = render(plan, code, text, message)
    http = http_status_for(account, code)
    # The documents are decided before the write transaction: it is CPU work that needs no lock.
    scheduler = (
        None if synchronous_reject else _schedule(ctx, account, order, payload, order_pk, plan, test, code, fired)
    )
    with transaction(ctx.conn):
        # Again under the writer lock: another worker may have taken this document (a buyer's retry
        # while the first try was still being served) or this orderID since the checks above.
        stored = store.by_payload_id(ctx.conn, payload)
        if stored is not None:
            taken = _replay(exchange, payload, stored)
            if journal is not None:
                journal(taken.code, taken.http, taken.body)
            return taken
        _check_duplicate(ctx, account, order, payload)
        for original, status in superseded:  # an update or delete: the order it changes, in this transaction
            store.set_status(ctx.conn, original, status)
            outbox.cancel_pending(ctx.conn, order_id=original)
        store.insert_order(
            ctx.conn,
            {
                "id": order_pk,
                "account_id": account.id,
                "order_id": order.order_id,
                "payload_id": payload,
                "type": order.type,
                "order_date": order.order_date,
                "status": "rejected" if plan.rejected else "accepted",
                "test": int(test),
                "currency": order.currency,
                "total": str(order.total) if order.total is not None else None,
                "ship_to": order.ship_to.as_dict() if order.ship_to else None,
                "bill_to": order.bill_to.as_dict() if order.bill_to else None,
                "payment": _masked_payment(order),
                "followup_url": order.followup_url,
                "user_email": email,
                "reject_code": plan.order_reject.code if plan.order_reject else None,
                "reject_message": plan.reject_message or None,
                "refers_to": order.document_reference,
                "answer_code": code,
                "answer_http": http,
                "answer_body": body,
                "advisories": list(exchange.advisories),
                "cost_center": cost_center(order),
            },
        )
        _store_lines(ctx, order_pk, order, plan, scheduler)
        if scheduler is not None:
            scheduler.store(ctx.conn)
        emails.order_outcome(ctx, account, order_pk, order, plan, email)
        if journal is not None:
            journal(code, http, body)
    return Taken(order_pk, plan, code, http, body)


def _replay(exchange: Exchange, payload: str, stored: store.StoredAnswer) -> Taken:
    """A payloadID received before: the answer given then, and nothing created."""
    exchange.advisories.append(f"payloadID {payload} was received before: the same answer, nothing created.")
    return Taken(stored.order_pk, None, stored.code, stored.http, stored.body)


def answer_from(body: bytes, code: int, http: int, payload_id: str) -> Answer:
    return Answer(body, code, http, "Status", payload_id)


def _plan(
    ctx: Context, account: Account, order: OrderRequest, lines: list[LineInput], outcome: dict[str, Any]
) -> tuple[Plan, list[tuple[str, str]]]:
    """The plan, and for an update or delete the orders it supersedes with their new status — written
    by the caller in the order's own transaction, so that an update that fails to be stored (a full
    disk) leaves the original order as it was, and the buyer's retry still finds it."""
    if outcome.get("order") == "reject":
        code = codes.Code(outcome.get("code", "001-050"), outcome.get("text", "Order rejected"))
        return Plan(order_reject=code), []
    superseded: list[tuple[str, str]] = []
    if order.type in ("update", "delete"):
        if not account.setting("allow_order_changes"):
            change = Plan(order_reject=codes.ORDER_CHANGE_NOT_SUPPORTED, order_reject_detail=f'type="{order.type}"')
            return change, []
        earlier = [o for o in store.by_order_id(ctx.conn, account.id, order.order_id) if o["status"] == "accepted"]
        if order.document_reference:
            earlier = [o for o in earlier if o["payload_id"] == order.document_reference] or earlier
        if not earlier:
            unknown = Plan(order_reject=codes.UNKNOWN_ORIGINAL_ORDER, order_reject_detail=f"orderID {order.order_id}")
            return unknown, []
        status = "cancelled" if order.type == "delete" else "replaced"
        superseded = [(original["id"], status) for original in earlier]
        if order.type == "delete":
            return Plan(notes=(f"order {order.order_id} cancelled at the buyer's request",)), superseded
    return plan_order(
        OrderInput(
            lines=tuple(lines),
            ship_to_problem=ship_to_problem(order),
            account_active=account.status == "active",
            has_payment_method=account.payment_method is not None or order.pcard is not None,
            safeguards=merge(account.setting("safeguards"), outcome.get("safeguards") or {}),
        )
    ), superseded


def _masked_payment(order: OrderRequest) -> dict[str, str] | None:
    if order.pcard is None:
        return None
    number = order.pcard.get("number", "")
    return {
        "type": "pcard",
        "number": "*" * max(len(number) - 4, 0) + number[-4:],
        "expiration": order.pcard.get("expiration", ""),
    }


def cost_center(order: OrderRequest) -> str:
    """The header's ``<Extrinsic name="CostCenter">``, as the spend dashboard groups by it; '' when none."""
    return next((value.strip() for name, value in order.extrinsics if name == "CostCenter"), "")


def _store_lines(ctx: Context, order_pk: str, order: OrderRequest, plan: Plan, scheduler: Scheduler | None) -> None:
    planned = {line.line_number: line for line in plan.lines}
    confirm_ids = scheduler.confirm_ids if scheduler else {}
    promised = scheduler.promised if scheduler else {}
    rows = []
    for line in order.lines:
        p = planned.get(line.line_number)
        rows.append(
            {
                "order_pk": order_pk,
                "line_number": line.line_number,
                "supplier_part_id": line.supplier_part_id,
                "aux_id": line.supplier_part_auxiliary_id or None,
                "description": line.description,
                "unit_of_measure": line.unit_of_measure,
                "quantity": int(line.quantity) if line.quantity == int(line.quantity) else 0,
                "ordered_unit_price": str(line.unit_price) if line.unit_price is not None else None,
                "unit_price": str(p.unit_price) if p and p.unit_price is not None else None,
                "accepted": p.accepted if p else 0,
                "backordered": p.backordered if p else 0,
                "rejected": p.rejected if p else int(line.quantity),
                "reject_code": p.reject.code
                if p and p.reject
                else (plan.order_reject.code if plan.order_reject else None),
                "reject_message": p.reject_message if p else (plan.reject_message or None),
                "seller": p.seller if p else None,
                "delivery_date": promised.get(line.line_number),
                "confirm_id": confirm_ids.get(line.line_number),
            }
        )
    store.insert_lines(ctx.conn, rows)


def _schedule(
    ctx: Context,
    account: Account,
    order: OrderRequest,
    payload: str,
    order_pk: str,
    plan: Plan,
    test: bool,
    code: int,
    fired: Fired | None,
) -> Scheduler:
    """The order's documents, decided; ``store`` writes them."""
    descriptions = {
        line.line_number: (line.description or line.supplier_part_id, line.supplier_part_auxiliary_id or None)
        for line in order.lines
    }
    scheduler = Scheduler(ctx, OrderContext(order_pk, account, order, payload, plan, test, descriptions), fired)
    if code == 201:
        scheduler.status_update(200, "OK", f"Order {order.order_id} accepted.")
    if order.type == "delete" and not plan.rejected:
        plan = Plan(order_reject=codes.Code("001-000", "Order cancelled at the buyer's request"))
        scheduler.order = OrderContext(order_pk, account, order, payload, plan, test, descriptions)
    if plan.rejected:
        scheduler.reject_order()
        return scheduler
    # A test order is confirmed only, unless the account fulfils test orders; a scenario that makes
    # the order a test order (outcome test: true) means an account in test status: confirmed only.
    forced_test = bool(fired and fired.outcome.get("test") is True)
    fulfil = not test or (account.setting("fulfil_test_orders") and not forced_test)
    scheduler.fulfil_order(ship=bool(fulfil), invoice=bool(fulfil) and account.setting("einvoicing"))
    return scheduler
