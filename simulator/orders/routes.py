"""Purchase-order endpoints: ``POST /orders`` and the per-account ``POST /orders/<account-id>``.

Served in front of Flask by :class:`simulator.cxml_endpoints.CxmlEndpoints`; these routes take
what it passes on (a body without Content-Length, an account id it does not read).
"""

from __future__ import annotations

from flask import Blueprint, Response

from .. import cxml_endpoints
from ..punchout.routes import serve_cxml

bp = Blueprint("orders", __name__)


@bp.post("/orders")
def orders() -> Response:
    table = cxml_endpoints.handlers("/orders")
    assert table is not None
    return serve_cxml(table)


@bp.post("/orders/<account_id>")
def account_orders(account_id: str) -> Response:
    return serve_cxml(cxml_endpoints.account_orders(account_id))
