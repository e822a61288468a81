"""Purchase-order endpoints: ``POST /orders`` and the per-account ``POST /orders/<account-id>``."""

from __future__ import annotations

from functools import partial

from flask import Blueprint, Response

from ..context import Context
from ..errors import Unauthorized
from ..inbound import Answer, Exchange, Received
from ..punchout.routes import serve_cxml
from . import service

bp = Blueprint("orders", __name__)


def _for_account(account_id: str, ctx: Context, exchange: Exchange, received: Received) -> Answer:
    """Amazon gives each punchout group its own purchase-order URL; another group's credentials are refused."""
    if received.account.id != account_id:
        raise Unauthorized(
            f"This purchase-order URL belongs to the account {account_id!r}; the Sender credential "
            f"{received.account.domain}/{received.account.identity} is another account's. "
            f"Post to /orders/{received.account.id} or /orders.",
            account_id=received.account.id,
        )
    return service.order_request(ctx, exchange, received)


@bp.post("/orders")
def orders() -> Response:
    return serve_cxml({"OrderRequest": service.order_request})


@bp.post("/orders/<account_id>")
def account_orders(account_id: str) -> Response:
    return serve_cxml({"OrderRequest": partial(_for_account, account_id)})
