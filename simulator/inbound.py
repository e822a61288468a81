"""The path every inbound cXML request takes: unwrap, parse, authenticate, validate, journal.

Each step either fills the :class:`Exchange` or raises a ``CxmlError``; whatever happens, the
request and the answer end up in the journal together (:func:`finish`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import accounts, clock, db, journal
from .accounts import Account
from .context import Context
from .cxml import build, read
from .cxml.ids import payload_id
from .cxml.parse import Document, parse_document, unwrap_body
from .cxml.types import Credential, Envelope
from .errors import CxmlError, InternalError, NotAcceptable, NotImplementedRequest
from .scenarios import engine
from .scenarios import store as scenario_store
from .scenarios.engine import Fired

log = logging.getLogger(__name__)

LANG_BY_LOCALE = {"en_US": "en-US", "de_DE": "de-DE"}

# Documents a supplier sends, not receives: the simulator, playing the supplier, says so when given one.
SUPPLIER_SENDS = {
    name: f" {name} is what a supplier sends to a buyer; this simulator plays the supplier."
    for name in (
        "PunchOutOrderMessage",
        "ConfirmationRequest",
        "ShipNoticeRequest",
        "InvoiceDetailRequest",
        "ProductActivityMessage",
        "QuoteMessage",
    )
}


@dataclass
class Exchange:
    """One inbound request as it is being served."""

    endpoint: str
    content_type: str
    body: bytes
    charset: str | None = None
    doc_type: str = "unknown"
    payload_id: str | None = None
    account: Account | None = None
    session_id: str | None = None
    advisories: list[str] = field(default_factory=list)
    fired: Fired | None = None  # the scenario rule that fired for this request
    fault: dict[str, Any] | None = None  # a fault a rule put on this request's answer
    journaled: bool = False  # the handler journaled the exchange in its own write transaction


@dataclass(frozen=True)
class Answer:
    body: bytes
    cxml_status: int
    http_status: int
    doc_type: str
    payload_id: str


@dataclass(frozen=True)
class Received:
    document: Document
    request_type: str
    header: read.Header
    account: Account


Handler = Callable[[Context, Exchange, Received], Answer]


def envelope(ctx: Context, account: Account | None, *, to: tuple[Credential, ...] = ()) -> Envelope:
    supplier = ctx.config.supplier
    ours = (Credential("DUNS", supplier.duns), Credential("NetworkId", supplier.network_id))
    locale = account.setting("locale") if account else "en_US"
    return Envelope(
        payload_id=payload_id(supplier.payload_domain),
        timestamp=clock.timestamp(),
        version=account.setting("cxml_version") if account else build.DEFAULT_VERSION,
        lang=LANG_BY_LOCALE.get(locale, "en-US"),
        from_=ours,
        to=to,
        sender=ours,
        user_agent=supplier.user_agent,
    )


def http_status_for(account: Account | None, cxml_status: int) -> int:
    """cXML's way is HTTP 200 with the outcome in Status; ``http_status: mirror`` copies the code."""
    if account is not None and account.setting("http_status") == "mirror":
        return cxml_status if 100 <= cxml_status <= 599 else 200
    return 200


def answer(ctx: Context, exchange: Exchange, body: bytes, env: Envelope, doc_type: str, code: int = 200) -> Answer:
    return Answer(body, code, http_status_for(exchange.account, code), doc_type, env.payload_id)


def error_answer(ctx: Context, exchange: Exchange, error: CxmlError) -> Answer:
    if exchange.account is None and error.account_id:
        try:
            exchange.account = accounts.get_account(ctx.conn, error.account_id)
        except Exception:
            exchange.account = None
    env = envelope(ctx, exchange.account)
    body = build.status_response(error.code, error.text, error.message, env)
    http = error.http_status or http_status_for(exchange.account, error.code)
    return Answer(body, error.code, http, "Status", env.payload_id)


def receive(ctx: Context, exchange: Exchange, accepted: tuple[str, ...]) -> Received:
    """Unwrap, parse, identify, authenticate and validate one request."""
    unwrapped = unwrap_body(exchange.body, exchange.content_type, max_bytes=ctx.config.max_body_bytes)
    if unwrapped.transport != "raw":
        exchange.advisories.append(f"cXML received in the form field {unwrapped.transport}.")
    document = parse_document(unwrapped.xml, charset=exchange.charset, max_bytes=ctx.config.max_body_bytes)
    root = document.root
    exchange.payload_id = root.get("payloadID")
    if root.tag != "cXML":
        if root.tag.lower() != "cxml":
            raise NotAcceptable(f"The document's root element is <{root.tag}>; a cXML document starts with <cXML>.")
        exchange.advisories.append(f"Root element <{root.tag}> read as <cXML> (element names are case-sensitive).")
    request_type = read.request_type(root)
    exchange.doc_type = request_type or "unknown"
    if request_type is None:
        status = root.find("Response/Status")
        if status is not None:
            exchange.doc_type = "Response"
            raise NotAcceptable(
                f"The document is a Response (Status {status.get('code')}): a supplier receives requests, "
                "not answers; send a Request such as PunchOutSetupRequest or OrderRequest."
            )
        raise NotAcceptable("The document has no Request or Message: nothing to do.")
    if request_type not in accepted:
        served = ", ".join(accepted)
        why = SUPPLIER_SENDS.get(request_type, "")
        raise NotImplementedRequest(
            f"{request_type} is not served at {exchange.endpoint}; this endpoint takes {served}.{why}"
        )
    header = read.read_header(root)
    account, notes = accounts.authenticate(ctx.conn, header)
    exchange.account = account
    exchange.advisories.extend(notes)
    if not header.user_agent:
        exchange.advisories.append("Sender has no UserAgent (required by the DTD).")
    if document.doctype_url is None:
        exchange.advisories.append("The document has no DOCTYPE; validated against the newest DTD.")
    _validate(ctx, exchange, document, request_type, account)
    return Received(document, request_type, header, account)


def _validate(ctx: Context, exchange: Exchange, document: Document, request_type: str, account: Account) -> None:
    result = ctx.dtds.validate(
        document.root,
        dtd_name=document.dtd_name,
        version=document.declared_version,
        request_type=request_type,
    )
    if result.dtd_file is None:
        exchange.advisories.append(f"DTD validation skipped: {result.skipped_reason}.")
        return
    exchange.advisories.extend(result.notes)
    if not result.findings:
        return
    if account.setting("validation") == "strict":
        first = result.findings[0]
        more = f" (and {len(result.findings) - 1} more)" if len(result.findings) > 1 else ""
        raise NotAcceptable(
            f"The document is not valid against {result.dtd_file}: line {first.line}: {first.message}{more}.",
            account_id=account.id,
        )
    exchange.advisories.extend(f"DTD {result.dtd_file}: {finding}" for finding in result.findings)


def finish(ctx: Context, exchange: Exchange, result: Answer) -> None:
    """Journal the request and its answer (once). Never raises: a journal failure is logged.

    A handler that writes may call this inside its own transaction, so that a request costs one
    write transaction, not two; the call after the handler then does nothing.
    """
    if exchange.journaled:
        return
    exchange.journaled = True
    account_id = exchange.account.id if exchange.account else None
    try:
        journal.record_exchange(
            ctx.conn,
            journal.Entry(
                direction="in",
                doc_type=exchange.doc_type,
                endpoint=exchange.endpoint,
                body=exchange.body,
                account_id=account_id,
                session_id=exchange.session_id,
                http_status=result.http_status,
                cxml_status=result.cxml_status,
                payload_id=exchange.payload_id,
                content_type=exchange.content_type,
                advisories=tuple(exchange.advisories),
                scenario=exchange.fired.label if exchange.fired else None,
            ),
            journal.Entry(
                direction="out",
                doc_type=result.doc_type,
                endpoint=exchange.endpoint,
                body=result.body,
                account_id=account_id,
                session_id=exchange.session_id,
                http_status=result.http_status,
                cxml_status=result.cxml_status,
                payload_id=result.payload_id,
                content_type="text/xml; charset=UTF-8",
            ),
        )
    except Exception:
        log.exception("could not journal the exchange at %s", exchange.endpoint)


def refuse(ctx: Context, exchange: Exchange, error: CxmlError) -> Answer:
    """The answer to a request refused with ``error`` (whatever it had written is rolled back), journaled."""
    if ctx.conn.in_transaction:
        ctx.conn.execute("ROLLBACK")
    exchange.fault = None  # a refusal is sent as it is
    result = error_answer(ctx, exchange, error)
    finish(ctx, exchange, result)
    return result


def internal_error(error: Exception, data_dir: Path) -> InternalError:
    """Our own failure as a cXML 500 that says what to do: a full disk, a read-only database …"""
    storage = db.storage_error(error, data_dir)
    return InternalError(
        storage or f"The simulator failed while serving this request ({type(error).__name__}); see its log."
    )


def scenario_answer(spec: dict[str, Any], account_id: str) -> CxmlError:
    """A scenario's synchronous answer, as the error the one error handler renders."""
    error = CxmlError(spec.get("message") or spec.get("text") or "Refused by a scenario.", account_id=account_id)
    error.code = int(spec["code"])
    error.text = spec.get("text") or ("OK" if error.code < 300 else "Refused")
    return error


def serve(ctx: Context, exchange: Exchange, handlers: dict[str, Handler]) -> Answer:
    """Receive a request, let the active scenarios see it, and hand it to the handler for its type."""
    received = receive(ctx, exchange, tuple(handlers))
    if scenario_store.any_active(ctx.conn):
        from .scenarios.facts import from_request

        exchange.fired = engine.evaluate(ctx.conn, from_request(exchange, received))
        if exchange.fired is not None:
            exchange.advisories.append(f"Scenario {exchange.fired.label} fired.")
            answer_spec = exchange.fired.outcome.get("answer")
            if answer_spec:
                raise scenario_answer(answer_spec, received.account.id)
            fault = exchange.fired.fault
            if fault and fault.get("target", "response") == "response":
                exchange.fault = fault
    return handlers[received.request_type](ctx, exchange, received)
