"""cXML endpoints (thin: read the request, call the service, send the answer) and the StartPage."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, make_response, redirect, request, url_for

from .. import cxml_endpoints, inbound
from ..cxml_endpoints import FAULT_ENVIRON_KEY
from ..scenarios import pages
from ..web import context, xml_response
from . import sessions

bp = Blueprint("punchout", __name__)

SHOP_COOKIE = "punchout_shop"


def serve_cxml(table: dict[str, inbound.Handler]) -> Response:
    """Serve one cXML request with the handler for its type (any other type is answered 450).

    Most cXML POSTs never get here: :class:`simulator.cxml_endpoints.CxmlEndpoints` serves them in
    front of Flask with the same tables; Flask's routes take what it passes on.
    """
    ctx = context()
    exchange = inbound.Exchange(
        endpoint=request.path,
        content_type=request.content_type or "",
        body=request.get_data(cache=True, parse_form_data=False),
        charset=request.mimetype_params.get("charset"),
    )
    g.exchange = exchange
    result = cxml_endpoints.respond(ctx, exchange, table)
    if exchange.fault is not None:
        request.environ[FAULT_ENVIRON_KEY] = exchange.fault  # applied by the fault middleware
    return xml_response(result)


@bp.post("/punchout")
@bp.post("/punchout/test")
@bp.post("/cxml")
def cxml() -> Response:
    table = cxml_endpoints.handlers(request.path)
    assert table is not None
    return serve_cxml(table)


@bp.get("/start/<token>")
def start_page(token: str) -> Response:
    """Redeem the one-time StartPage link and open the shop (cookie and ``sid`` in the URL)."""
    ctx = context()
    session, shop_key = sessions.open_start_page(ctx.conn, token, ctx.config.session_ttl)
    fault = pages.on_page(ctx.conn, "StartPage", "start_page", session)
    if fault is not None:
        request.environ[FAULT_ENVIRON_KEY] = fault
    if session.selected_item:
        target = url_for("shop.product", asin=session.selected_item, sid=shop_key)
    elif session.operation in ("edit", "inspect"):
        target = url_for("shop.cart_page", sid=shop_key)
    else:
        target = url_for("shop.home", sid=shop_key)
    response = make_response(redirect(target, code=303))
    secure = request.is_secure or ctx.config.base_url.startswith("https://")
    response.set_cookie(
        SHOP_COOKIE,
        shop_key,
        httponly=True,
        secure=secure,
        samesite="None" if secure else "Lax",
        max_age=current_app.config["SIMULATOR"].session_ttl * 4,
    )
    response.headers["Cache-Control"] = "no-store"
    return response
