"""The cXML endpoints as plain WSGI: what a procurement system posts, served without Flask's
per-request machinery.

``POST /punchout``, ``/punchout/test``, ``/cxml``, ``/orders`` and ``/orders/<account-id>`` are
machine to machine: no cookies, sessions, templates, CSRF tokens or locale. Flask's request
context, hooks and response objects cost about a quarter of a PunchOutSetupRequest (270 of
1,150 µs in-process; docs/performance.md, "What the profiles showed"), so these requests go from
the WSGI environ straight to :func:`simulator.inbound.serve` and back.

Whatever this path does not take — another method, a body without Content-Length or over the
limit, a path it does not know — goes on to Flask, whose routes serve the same handler tables
(:func:`handlers`) with the same error rules, so an answer is the same either way
(tests/test_cxml_endpoints.py sends each kind of request both ways and compares).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from werkzeug.http import HTTP_STATUS_CODES, parse_options_header

from . import clock, db, inbound
from .context import Context
from .errors import BadRequest, CxmlError, Unauthorized
from .orders import service as order_service
from .punchout import service as punchout_service

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from .config import Config
    from .cxml.validate import DtdRegistry

log = logging.getLogger(__name__)

#: Handed to the fault middleware: a fault a scenario rule put on this request's answer.
FAULT_ENVIRON_KEY = "punchout_sim.fault"
#: Set on an environ to send the request through Flask's routes (the tests compare both paths).
THROUGH_FLASK = "punchout_sim.through_flask"
#: The headers every answer of the simulator carries (security.add_headers sets them on Flask's).
COMMON_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    # Shop URLs carry the session key (?sid=): other origins get the origin only, never the path.
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
)
CONTENT_TYPE = "text/xml; charset=UTF-8"

_SETUP = partial(punchout_service.punchout_setup, test_endpoint=False)
_TABLES: dict[str, dict[str, inbound.Handler]] = {
    "/punchout": {"PunchOutSetupRequest": _SETUP},
    "/punchout/test": {"PunchOutSetupRequest": partial(punchout_service.punchout_setup, test_endpoint=True)},
    "/cxml": {
        "PunchOutSetupRequest": _SETUP,
        "ProfileRequest": punchout_service.profile,
        "OrderRequest": order_service.order_request,
        "StatusUpdateRequest": punchout_service.status_update,
    },
    "/orders": {"OrderRequest": order_service.order_request},
}
_ACCOUNT_ORDERS = re.compile(r"/orders/([A-Za-z0-9._~-]+)")


def handlers(path: str) -> dict[str, inbound.Handler] | None:
    """The handler for each request type served at ``path``; None when no cXML endpoint is there."""
    found = _TABLES.get(path)
    if found is not None:
        return found
    match = _ACCOUNT_ORDERS.fullmatch(path)
    if match is None:
        return None
    return account_orders(match.group(1))


def account_orders(account_id: str) -> dict[str, inbound.Handler]:
    return {"OrderRequest": partial(_for_account, account_id)}


def _for_account(
    account_id: str, ctx: Context, exchange: inbound.Exchange, received: inbound.Received
) -> inbound.Answer:
    """Amazon gives each punchout group its own purchase-order URL; another group's credentials are refused."""
    if received.account.id != account_id:
        raise Unauthorized(
            f"This purchase-order URL belongs to the account {account_id!r}; the Sender credential "
            f"{received.account.domain}/{received.account.identity} is another account's. "
            f"Post to /orders/{received.account.id} or /orders.",
            account_id=received.account.id,
        )
    return order_service.order_request(ctx, exchange, received)


def respond(ctx: Context, exchange: inbound.Exchange, table: dict[str, inbound.Handler]) -> inbound.Answer:
    """Serve one request, and journal it with its answer — the answer to a refusal included."""
    try:
        result = inbound.serve(ctx, exchange, table)
    except CxmlError as error:
        return inbound.refuse(ctx, exchange, error)
    inbound.finish(ctx, exchange, result)
    return result


def status_line(code: int) -> str:
    """As werkzeug writes it, so that both paths answer alike."""
    return f"{code} {HTTP_STATUS_CODES.get(code, 'unknown').upper()}"


class CxmlEndpoints:
    """WSGI middleware in front of the Flask app: serves the cXML POSTs it can, passes on the rest."""

    def __init__(self, app: WSGIApplication, config: Config, dtds: DtdRegistry) -> None:
        self.app = app
        self.config = config
        self.dtds = dtds
        self.database_path: Path = config.database_path

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        table = None
        length = -1
        if environ.get("REQUEST_METHOD") == "POST" and not environ.get(THROUGH_FLASK):
            table = handlers(environ.get("PATH_INFO", ""))
            raw = environ.get("CONTENT_LENGTH", "")
            length = int(raw) if raw.isdigit() else -1
        if table is None or not 0 <= length <= self.config.max_body_bytes:
            return self.app(environ, start_response)  # Flask: its routes, limits and error pages
        result = self._serve(environ, table, length)
        headers = [
            ("Content-Type", CONTENT_TYPE),
            ("Content-Length", str(len(result.body))),
            *COMMON_HEADERS,
        ]
        start_response(status_line(result.http_status), headers)
        return [result.body]

    def _serve(self, environ: WSGIEnvironment, table: dict[str, inbound.Handler], length: int) -> inbound.Answer:
        content_type = environ.get("CONTENT_TYPE", "")
        exchange = inbound.Exchange(
            endpoint=environ["PATH_INFO"],
            content_type=content_type,
            body=b"",
            charset=parse_options_header(content_type)[1].get("charset") if ";" in content_type else None,
        )
        conn = db.shared(self.database_path)
        ctx = Context(conn, self.config, self.dtds)
        try:
            try:
                exchange.body = environ["wsgi.input"].read(length) if length else b""
                if len(exchange.body) < length:
                    raise BadRequest(
                        "Bad Request: The client disconnected while sending the request body "
                        f"({len(exchange.body)} of {length} bytes arrived)."
                    )
                clock.sync(conn)
                result = respond(ctx, exchange, table)
            except CxmlError as error:
                result = inbound.refuse(ctx, exchange, error)
            except Exception as error:  # our own failure: a cXML 500 that says what to do, never a trace
                log.exception("unexpected error at POST %s", exchange.endpoint)
                result = inbound.refuse(ctx, exchange, inbound.internal_error(error, self.config.data_dir))
        finally:
            conn.close()
        if exchange.fault is not None:
            environ[FAULT_ENVIRON_KEY] = exchange.fault  # applied by the fault middleware
        return result
