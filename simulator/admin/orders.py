"""``/__admin`` routes for orders, the outbox, emails and the clock."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from .. import clock, outbox
from ..errors import AdminError
from ..orders import emails, store
from ..web import context
from .routes import page_args, page_json

bp = Blueprint("admin_orders", __name__, url_prefix="/__admin")
WORKER = "admin"
MAX_CLOCK_OFFSET = 100 * 365 * 86400


def _outbox_json(item: outbox.OutboxItem, *, body: bool = False) -> dict[str, Any]:
    data = item.to_json()
    if not body:
        data.pop("body", None)
    return data


@bp.get("/orders")
def list_orders() -> Response:
    limit, offset = page_args()
    items, total = store.list_orders(
        context().conn,
        account_id=request.args.get("account_id"),
        order_id=request.args.get("order_id") or request.args.get("po"),
        status=request.args.get("status"),
        limit=limit,
        offset=offset,
    )
    return page_json(items, total)


@bp.get("/orders/<order_pk>")
def get_order(order_pk: str) -> Response:
    conn = context().conn
    order = store.get_order(conn, order_pk)
    documents, _ = outbox.list_items(conn, order_id=order_pk, limit=500)
    order["documents"] = [
        {**_outbox_json(item), "attempts": outbox.attempts(conn, item.id)}
        for item in sorted(documents, key=lambda i: i.id)
    ]
    return jsonify(order)


@bp.post("/orders/<order_pk>/advance")
def advance_order(order_pk: str) -> Response:
    """The order's next step now: its earliest document not yet sent is made due and delivered."""
    conn = context().conn
    store.get_order(conn, order_pk)
    item = outbox.advance_order(conn, order_pk, worker_id=WORKER)
    if item is None:
        raise AdminError(409, "nothing_to_advance", f"Order {order_pk} has no document waiting to be sent.")
    return jsonify(_outbox_json(item))


@bp.get("/outbox")
def list_outbox() -> Response:
    limit, offset = page_args()
    status = request.args.get("status")
    if status and status not in outbox.STATUSES:
        raise AdminError(400, "invalid_filter", f"status must be one of {', '.join(outbox.STATUSES)}.")
    items, total = outbox.list_items(
        context().conn,
        account_id=request.args.get("account_id"),
        order_id=request.args.get("order_id"),
        status=status,
        doc_type=request.args.get("type"),
        before=_before(),
        limit=limit,
        offset=offset,
    )
    return page_json([_outbox_json(i) for i in items], total, limit=limit)


def _before() -> int | None:
    value = request.args.get("before")
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise AdminError(400, "invalid_paging", "before must be an outbox id (a whole number).") from exc


@bp.get("/outbox/<int:outbox_id>")
def get_outbox_item(outbox_id: int) -> Response:
    conn = context().conn
    data = _outbox_json(outbox.get_item(conn, outbox_id), body=True)
    data["attempts"] = outbox.attempts(conn, outbox_id)
    return jsonify(data)


@bp.post("/outbox/<int:outbox_id>/resend")
def resend(outbox_id: int) -> Response:
    conn = context().conn
    outbox.resend(conn, outbox_id)
    return jsonify(_outbox_json(outbox.send_now(conn, outbox_id, worker_id=WORKER)))


@bp.post("/outbox/flush")
def flush() -> Response:
    conn = context().conn
    attempts = outbox.flush(conn, worker_id=WORKER)
    return jsonify({"attempts": attempts, "pending": outbox.pending_count(conn)})


@bp.get("/emails")
def list_emails() -> Response:
    limit, offset = page_args()
    items, total = emails.list_emails(
        context().conn,
        account_id=request.args.get("account_id"),
        order_pk=request.args.get("order_id"),
        limit=limit,
        offset=offset,
    )
    return page_json(items, total)


@bp.get("/clock")
def get_clock() -> Response:
    return jsonify({"now": clock.timestamp(), "offset_seconds": clock.offset_seconds()})


@bp.post("/clock/advance")
def advance_clock() -> Response:
    data = request.get_json(silent=True)
    seconds = data.get("seconds") if isinstance(data, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds >= 0:  # NaN too
        raise AdminError(400, "invalid_seconds", 'The body must be {"seconds": N} with N a number of 0 or more.')
    conn = context().conn
    if clock.offset_seconds() + seconds > MAX_CLOCK_OFFSET:  # beyond, dates overflow and every request fails
        raise AdminError(
            400,
            "invalid_seconds",
            f"The clock moves at most 100 years ahead in all ({MAX_CLOCK_OFFSET} seconds); it is "
            f"{clock.offset_seconds():.0f} seconds ahead now. Ask for fewer (POST /__admin/reset puts it back).",
        )
    now = clock.advance(conn, seconds)
    return jsonify({"now": clock.timestamp(now), "offset_seconds": clock.offset_seconds()})
