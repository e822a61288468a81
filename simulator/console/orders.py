"""Console: orders. A list with search by PO number; an order's page with its lines, shipments and
timeline (the order, then every document of its outbox with each delivery attempt and the buyer's
answer), and buttons to advance the next step or resend a document.

The buttons call the same service functions as the admin API (``outbox.advance_order``,
``outbox.resend`` + ``outbox.send_now``), then answer 303 back to the order's page.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from werkzeug.wrappers import Response

from .. import outbox
from ..errors import AdminError
from ..orders import store
from ..web import context
from . import bp, render

WORKER = "console"
PAGE_SIZE = 50
# The notices a redirect may carry (``?notice=``); the page shows the text, translated.
NOTICES = {
    "advanced": "The next step was sent.",
    "held": "The next document is held: the account has no buyer endpoint.",
    "nothing_to_advance": "This order has no document waiting to be sent.",
    "resent": "The document was sent again.",
    "in_flight": "The document is being sent right now; resend it when this attempt is over.",
    "no_url": "The document has no buyer URL: set the account's buyer endpoint first.",
}


def _back(order_pk: str, notice: str) -> Response:
    lang = request.args.get("lang")
    target = url_for("console.order_page", order_pk=order_pk, notice=notice, lang=lang or None)
    return redirect(target, code=303)


@bp.get("/orders")
def orders_page() -> str:
    po = (request.args.get("po") or "").strip()
    orders, total = store.list_orders(context().conn, order_id=po or None, limit=PAGE_SIZE)
    return render("console/orders.html", orders=orders, total=total, po=po)


def _timeline(order: dict[str, Any]) -> list[dict[str, Any]]:
    conn = context().conn
    documents, _ = outbox.list_items(conn, order_id=order["id"], limit=500)
    return [
        {"item": item, "attempts": outbox.attempts(conn, item.id)}
        for item in sorted(documents, key=lambda i: (i.due_at, i.id))
    ]


@bp.get("/orders/<order_pk>")
def order_page(order_pk: str) -> str:
    order = store.get_order(context().conn, order_pk)
    notice = NOTICES.get(request.args.get("notice") or "")
    return render("console/order.html", order=order, timeline=_timeline(order), notice=notice)


@bp.post("/orders/<order_pk>/advance")
def order_advance(order_pk: str) -> Response:
    conn = context().conn
    store.get_order(conn, order_pk)
    item = outbox.advance_order(conn, order_pk, worker_id=WORKER)
    if item is None:
        return _back(order_pk, "nothing_to_advance")
    return _back(order_pk, "held" if item.status == "held" else "advanced")


@bp.post("/orders/<order_pk>/resend/<int:outbox_id>")
def order_resend(order_pk: str, outbox_id: int) -> Response:
    conn = context().conn
    if outbox.get_item(conn, outbox_id).order_id != order_pk:
        raise AdminError(404, "not_found", f"Outbox item {outbox_id} is not a document of order {order_pk}.")
    try:
        outbox.resend(conn, outbox_id)
    except AdminError as exc:
        if exc.error in NOTICES:
            return _back(order_pk, exc.error)
        raise
    outbox.send_now(conn, outbox_id, worker_id=WORKER)
    return _back(order_pk, "resent")
