"""The facts a scenario rule matches on, read from an inbound cXML request or a shop session."""

from __future__ import annotations

from decimal import Decimal

from ..cxml.read import read_order_request, read_punchout_setup_request
from ..inbound import Exchange, Received
from ..punchout.sessions import Session
from .engine import Facts

ENDPOINT_BY_PATH = (
    ("/punchout", "punchout"),
    ("/orders", "orders"),
    ("/cxml", "cxml"),
    ("/oci", "oci"),
    ("/oagis", "oagis"),
)


def endpoint_of(path: str) -> str | None:
    return next((name for prefix, name in ENDPOINT_BY_PATH if path == prefix or path.startswith(prefix + "/")), None)


def from_request(exchange: Exchange, received: Received) -> Facts:
    root = received.document.root
    email, po = "", ""
    lines: tuple[tuple[str, Decimal], ...] = ()
    if received.request_type == "PunchOutSetupRequest":
        setup = read_punchout_setup_request(root)
        found = setup.email()
        email = found[0] if found else ""
        lines = tuple((item.supplier_part_id, item.quantity) for item in setup.items)
        if setup.selected_item:
            lines += ((setup.selected_item, Decimal(1)),)
    elif received.request_type == "OrderRequest":
        order = read_order_request(root)
        email, po = order.extrinsic("UserEmail") or "", order.order_id
        lines = tuple((line.supplier_part_id, line.quantity) for line in order.lines)
    return Facts(
        document=received.request_type,
        endpoint=endpoint_of(exchange.endpoint),
        account_id=received.account.id,
        email=email,
        lines=lines,
        po=po,
        root=root,
    )


def from_session(document: str, endpoint: str, session: Session, lines: tuple[tuple[str, Decimal], ...] = ()) -> Facts:
    return Facts(document=document, endpoint=endpoint, account_id=session.account_id, email=session.email, lines=lines)
