"""The demo buyer (``/demo-buyer``): a small procurement system that plays the buyer's part.

Pick a demo user, punch out to the simulator, the cart comes back as a requisition, an approver
approves it (a second approver too above :data:`SECOND_APPROVAL_ABOVE`), the approved requisition
becomes a cXML OrderRequest, and ``POST /demo-buyer/cxml`` receives the ConfirmationRequest,
ShipNoticeRequest(s) and InvoiceDetailRequest the simulator sends back, shown per purchase order
with a three-way match.

The PunchOutSetupRequest and the OrderRequest are *not* sent over HTTP: a request from this server
to itself would deadlock under gunicorn with one sync worker. They go in-process through
:func:`simulator.inbound.serve` with an :class:`~simulator.inbound.Exchange` built from the XML
bytes (built by :mod:`simulator.buyer`), the same HTTP-free path the ``/punchout`` and
``/orders/<account-id>`` routes take, so the journal and the scenario rules see them like any other
request. The documents coming back do go over HTTP: the outbox dispatcher posts them from its own
thread to the demo account's buyer endpoint, ``<base URL>/demo-buyer/cxml``.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from flask import Blueprint, Response, abort, g, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from .. import accounts, clock, inbound
from ..buyer import (
    USER_AGENT,
    CxmlAnswer,
    new_order_id,
    new_payload_id,
    order_request_xml,
    read_cart,
    setup_request_xml,
)
from ..context import Context
from ..cxml import build
from ..cxml.parse import parse_document, unwrap_body
from ..cxml.read import read_header, request_type
from ..cxml.types import Credential, Envelope
from ..errors import CxmlError, NotAcceptable, NotImplementedRequest, Unauthorized
from ..i18n import browser_locale, translate
from ..orders import service as order_service
from ..punchout import service as punchout_service
from ..web import context
from . import store

log = logging.getLogger(__name__)
bp = Blueprint("demo_buyer", __name__, url_prefix="/demo-buyer")

USER_COOKIE = "demo_buyer_user"
SECOND_APPROVAL_ABOVE = Decimal(500)
ACCEPTED = ("ConfirmationRequest", "ShipNoticeRequest", "InvoiceDetailRequest", "StatusUpdateRequest")


@dataclass(frozen=True)
class DemoUser:
    key: str
    name: str
    email: str
    role: str  # requester | approver | second_approver


USERS = (
    DemoUser("rita", "Rita Requester", "rita.requester@demo-buyer.example.com", "requester"),
    DemoUser("adam", "Adam Approver", "adam.approver@demo-buyer.example.com", "approver"),
    DemoUser("fiona", "Fiona Finance", "fiona.finance@demo-buyer.example.com", "second_approver"),
)
USERS_BY_KEY = {u.key: u for u in USERS}
ROLE_LABELS = {"requester": "Requester", "approver": "Approver", "second_approver": "Second approver"}


@bp.before_request
def _locale() -> None:
    g.locale = browser_locale()


def _(text: str) -> str:
    return translate(text, g.get("locale", "en_US"))


def current_user() -> DemoUser:
    return USERS_BY_KEY.get(request.cookies.get(USER_COOKIE, ""), USERS[0])


def render(template: str, **values: Any) -> str:
    return render_template(
        template,
        locale=g.get("locale", "en_US"),
        user=current_user(),
        users=USERS,
        role_labels=ROLE_LABELS,
        threshold=SECOND_APPROVAL_ABOVE,
        **values,
    )


def _user_by_name(name: str) -> DemoUser | None:
    return next((u for u in USERS if u.name == name), None)


# --- pages --------------------------------------------------------------------------------------


@bp.get("")
@bp.get("/")
def home() -> str:
    conn = context().conn
    return render(
        "demo_buyer/home.html",
        requisitions=store.list_requisitions(conn),
        notice=request.args.get("notice", ""),
    )


@bp.post("/user")
def pick_user() -> BaseResponse:
    key = request.form.get("user", "")
    if key not in USERS_BY_KEY:
        abort(400, "Pick one of the demo users.")
    target = request.form.get("next", "")
    if not target.startswith("/demo-buyer") or "//" in target or "\\" in target:
        target = url_for("demo_buyer.home")
    response = redirect(target, code=303)
    response.set_cookie(USER_COOKIE, key, httponly=True, samesite="Lax")
    return response


def _serve_in_process(ctx: Context, endpoint: str, xml: bytes, handlers: dict[str, inbound.Handler]) -> CxmlAnswer:
    """Serve a document as if it had been posted to ``endpoint``: journal and scenarios included."""
    exchange = inbound.Exchange(endpoint=endpoint, content_type="text/xml; charset=UTF-8", body=xml, charset="UTF-8")
    try:
        result = inbound.serve(ctx, exchange, handlers)
    except CxmlError as error:
        if ctx.conn.in_transaction:
            ctx.conn.execute("ROLLBACK")
        result = inbound.error_answer(ctx, exchange, error)
    inbound.finish(ctx, exchange, result)
    return CxmlAnswer.read(result.http_status, result.body)


@bp.post("/punchout")
def punchout() -> BaseResponse | tuple[str, int]:
    """Send the PunchOutSetupRequest with the demo account's credentials and open the StartPage."""
    ctx = context()
    account = accounts.get_account(ctx.conn, accounts.DEMO_ACCOUNT_ID)
    user = current_user()
    xml = setup_request_xml(
        identity=account.identity,
        secret=account.shared_secret,
        domain=account.domain,
        email=user.email,
        buyer_cookie=f"demo-buyer-{user.key}-{secrets.token_hex(6)}",
        return_url=request.host_url.rstrip("/") + url_for("demo_buyer.punchout_return"),
    )
    handlers: dict[str, inbound.Handler] = {
        "PunchOutSetupRequest": partial(punchout_service.punchout_setup, test_endpoint=False)
    }
    answer = _serve_in_process(ctx, "/punchout", xml, handlers)
    start = answer.start_page() if answer.ok else None
    if not start:
        return render("demo_buyer/failed.html", what=_("PunchOutSetupRequest"), answer=answer), 502
    return redirect(start, code=303)


@bp.post("/punchout/return")
def punchout_return() -> BaseResponse | tuple[str, int]:
    """The BrowserFormPost URL: the cart (cxml-urlencoded or cxml-base64) becomes a requisition."""
    ctx = context()
    try:
        unwrapped = unwrap_body(request.get_data(cache=True), request.content_type)
        cart = read_cart(unwrapped.xml)
    except (CxmlError, ValueError) as exc:
        message = exc.message if isinstance(exc, CxmlError) else str(exc)
        return render("demo_buyer/failed.html", what=_("PunchOutOrderMessage"), answer=None, message=message), 400
    if not cart.lines:
        return redirect(url_for("demo_buyer.home", notice="empty"), code=303)
    parts = cart.buyer_cookie.split("-")
    requester = USERS_BY_KEY.get(parts[2]) if len(parts) > 3 and cart.buyer_cookie.startswith("demo-buyer-") else None
    req_id = store.create_requisition(
        ctx.conn,
        requester=(requester or current_user()).name,
        lines=cart.lines,
        currency=cart.currency,
        buyer_cookie=cart.buyer_cookie,
        cart_payload_id=cart.payload_id,
    )
    return redirect(url_for("demo_buyer.requisition", req_id=req_id), code=303)


def _awaited_role(requisition: store.Requisition) -> str | None:
    return {"pending": "approver", "pending_second": "second_approver"}.get(requisition.status)


@bp.get("/requisitions/<req_id>")
def requisition(req_id: str) -> str:
    found = store.get_requisition(context().conn, req_id)
    if found is None:
        abort(404, f"No requisition {req_id}.")
    awaited = _awaited_role(found)
    return render(
        "demo_buyer/requisition.html",
        req=found,
        awaited=awaited,
        awaited_user=next((u for u in USERS if u.role == awaited), None),
        can_decide=awaited is not None and current_user().role == awaited,
        line_total=store.line_total,
        notice=request.args.get("notice", ""),
    )


@bp.post("/requisitions/<req_id>/decision")
def decision(req_id: str) -> BaseResponse:
    ctx = context()
    found = store.get_requisition(ctx.conn, req_id)
    if found is None:
        abort(404, f"No requisition {req_id}.")
    user = current_user()
    awaited = _awaited_role(found)
    if awaited is None or user.role != awaited:
        abort(403, "This requisition is not waiting for your approval.")
    choice = request.form.get("decision")
    if choice not in ("approve", "reject"):
        abort(400, "Approve or reject.")
    comment = request.form.get("comment", "").strip()[:500]
    level = 1 if awaited == "approver" else 2
    if choice == "reject":
        status = "rejected"
    elif level == 1 and found.total > SECOND_APPROVAL_ABOVE:
        status = "pending_second"
    else:
        status = "approved"
    if not store.decide(
        ctx.conn, req_id, level=level, approver=user.name, decision=choice, comment=comment, status=status
    ):
        return redirect(url_for("demo_buyer.requisition", req_id=req_id), code=303)
    if status == "approved":
        approved = store.get_requisition(ctx.conn, req_id)
        assert approved is not None
        send_order(ctx, approved)
    return redirect(url_for("demo_buyer.requisition", req_id=req_id), code=303)


def send_order(ctx: Context, requisition: store.Requisition) -> CxmlAnswer:
    """The approved requisition as an OrderRequest, served in-process as ``POST /orders/demo``."""
    account = accounts.get_account(ctx.conn, accounts.DEMO_ACCOUNT_ID)
    requester = _user_by_name(requisition.requester) or USERS[0]
    order_id = new_order_id()
    payload_id = new_payload_id()
    xml = order_request_xml(
        identity=account.identity,
        secret=account.shared_secret,
        domain=account.domain,
        email=requester.email,
        lines=requisition.lines,
        order_id=order_id,
        payload_id=payload_id,
    )
    answer = _serve_in_process(ctx, f"/orders/{account.id}", xml, {"OrderRequest": order_service.order_request})
    store.record_order(
        ctx.conn,
        requisition,
        order_id=order_id,
        payload_id=payload_id,
        answer_code=answer.code,
        answer_text=answer.summary(),
    )
    return answer


@bp.get("/orders")
def orders() -> str:
    return render("demo_buyer/orders.html", orders=store.list_orders(context().conn))


@bp.get("/orders/<order_id>")
def order(order_id: str) -> str:
    view = store.order_view(context().conn, order_id)
    if view is None:
        abort(404, f"No purchase order {order_id}.")
    return render("demo_buyer/order.html", order=view)


# --- the inbound cXML endpoint ------------------------------------------------------------------


def _envelope() -> Envelope:
    ours = (Credential("NetworkId", accounts.DEMO_ACCOUNT["credentials"]["identity"]),)  # type: ignore[index]
    return Envelope(
        payload_id=new_payload_id(),
        timestamp=clock.timestamp(),
        version=build.DEFAULT_VERSION,
        from_=ours,
        sender=ours,
        user_agent=USER_AGENT,
    )


def _cxml(code: int, text: str, message: str | None = None) -> Response:
    body = build.status_response(code, text, message, _envelope())
    return make_response((body, 200, {"Content-Type": "text/xml; charset=UTF-8"}))


def summary(kind: str, root: Any) -> str:
    def attr(path: str, name: str) -> str:
        element = root.find(path)
        return str(element.get(name, "")) if element is not None else ""

    if kind == "ConfirmationRequest":
        return f"{attr('.//ConfirmationHeader', 'type')} {attr('.//ConfirmationHeader', 'confirmID')}".strip()
    if kind == "ShipNoticeRequest":
        return f"{attr('.//ShipNoticeHeader', 'shipmentID')}".strip()
    if kind == "InvoiceDetailRequest":
        return f"{attr('.//InvoiceDetailRequestHeader', 'invoiceID')}".strip()
    if kind == "StatusUpdateRequest":
        return f"{attr('.//Status', 'code')} {attr('.//Status', 'text')}".strip()
    return ""


def _authenticate(ctx: Context, root: Any) -> None:
    """The Sender's SharedSecret must be the one the demo account's buyer endpoint gives (401 otherwise)."""
    account = accounts.get_account(ctx.conn, accounts.DEMO_ACCOUNT_ID)
    expected = (account.buyer_endpoint or {}).get("shared_secret") or account.shared_secret
    sent = [c.shared_secret for c in read_header(root).sender if c.shared_secret is not None]
    if not any(hmac.compare_digest(secret.encode(), str(expected).encode()) for secret in sent):
        raise Unauthorized(
            "The Sender's SharedSecret is not the demo account's buyer-endpoint secret "
            "(buyer_endpoint.shared_secret of the account 'demo')."
        )


@bp.post("/cxml")
def inbound_cxml() -> Response:
    """ConfirmationRequest, ShipNoticeRequest, InvoiceDetailRequest, StatusUpdateRequest → cXML 200."""
    ctx = context()
    try:
        unwrapped = unwrap_body(request.get_data(cache=True), request.content_type)
        document = parse_document(unwrapped.xml, charset=request.mimetype_params.get("charset"))
        root = document.root
        kind = request_type(root)
        if kind is None:
            raise NotAcceptable("The document has no Request: the demo buyer takes " + ", ".join(ACCEPTED) + ".")
        if kind not in ACCEPTED:
            raise NotImplementedRequest(
                f"{kind} is not served at /demo-buyer/cxml; the demo buyer takes {', '.join(ACCEPTED)}."
            )
        _authenticate(ctx, root)
        order_id = store.order_for_document(ctx.conn, root)
        store.store_document(
            ctx.conn,
            order_id=order_id,
            doc_type=kind,
            payload_id=root.get("payloadID"),
            summary=summary(kind, root),
            body=unwrapped.xml,
        )
    except CxmlError as error:
        return _cxml(error.code, error.text, error.message)
    except Exception:  # cXML in, cXML out: never an HTML error page on this endpoint
        log.exception("the demo buyer failed to take a document")
        return _cxml(500, "Internal Server Error", "The demo buyer failed to take this document; see the log.")
    note = f"Received for {order_id}." if order_id else "Received; no purchase order of the demo buyer matches it."
    return _cxml(200, "OK", note)
