"""``POST /oagis``: a ProcessPurchaseOrder BOD → the order engine → an AcknowledgePurchaseOrder BOD.

The steps are those of a cXML order (``inbound.serve`` and ``orders.service.order_request``): parse
with the project's one parser, authenticate with ``accounts.authenticate``, let the active scenarios
see the order, then ``take_order``. Whatever happens, the request and the answer are journaled
together (``inbound.finish``); every refusal is a ConfirmBOD, never HTML.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from .. import accounts, inbound
from ..accounts import Account
from ..context import Context
from ..cxml.parse import parse_document, unwrap_body
from ..cxml.read import Header, OrderRequest
from ..cxml.types import Credential
from ..errors import (
    Conflict,
    CxmlError,
    InternalError,
    NotAcceptable,
    NotImplementedRequest,
    RequestTooLarge,
    Unauthorized,
)
from ..inbound import LANG_BY_LOCALE, Answer, Exchange
from ..orders import store
from ..orders.outcomes import Plan
from ..orders.service import take_order
from ..scenarios import engine
from ..scenarios import store as scenario_store
from . import build
from .read import ROOT, ApplicationArea, check_root, child, local, read_application_area, read_purchase_order, text
from .read import without_namespaces as plain

log = logging.getLogger(__name__)

ENDPOINT = "oagis"  # as scenario rules and the journal name it
ACKNOWLEDGE = "AcknowledgePurchaseOrder"
CONFIRM = "ConfirmBOD"


@dataclass
class Seen:
    """What was read of the BOD before it was refused, for the ConfirmBOD to echo."""

    original: ApplicationArea | None = None


@dataclass(frozen=True)
class Secrets:
    """What the HTTP request carries to authenticate the BOD."""

    basic_user: str | None = None
    basic_secret: str | None = None
    header_secret: str | None = None  # X-Shared-Secret
    other_scheme: str | None = None  # an Authorization header that is not Basic ("Bearer" …)


def http_status(error: CxmlError) -> int:
    """OAGIS has no status envelope of its own: a refusal's HTTP status says what went wrong."""
    if isinstance(error, NotAcceptable | NotImplementedRequest):
        return 400  # not well-formed, not a ProcessPurchaseOrder
    if error.http_status:
        return error.http_status
    return error.code if 200 <= error.code <= 599 else 500


def _domain(conn: sqlite3.Connection, identity: str, scheme: str, advisories: list[str]) -> str:
    """The credential domain for a LogicalID: its schemeID, or the one account's with that identity."""
    domains = [r["domain"] for r in conn.execute("SELECT domain FROM accounts WHERE identity = ?", (identity,))]
    if not domains:
        raise Unauthorized(
            f"No account has the credential identity {identity!r} (ApplicationArea/Sender/LogicalID). Create an "
            "account with this identity (POST /__admin/accounts) or send the demo account's DEMO-BUYER."
        )
    if scheme and any(d.lower() == scheme.lower() for d in domains):
        return scheme  # accounts.authenticate compares it without regard to case, with an advisory
    if len(domains) == 1:
        if scheme:
            advisories.append(
                f'Sender/LogicalID schemeID="{scheme}" is not the account\'s credential domain "{domains[0]}"; '
                "the account was found by its identity alone."
            )
        return str(domains[0])
    raise Unauthorized(
        f"Several accounts have the identity {identity!r} (domains {', '.join(sorted(domains))}): name the domain "
        'in Sender/LogicalID schemeID="…".'
    )


def authenticate(ctx: Context, exchange: Exchange, area: ApplicationArea, secrets: Secrets) -> Account:
    """The account of ``Sender/LogicalID`` whose shared secret the HTTP request carries; 401 otherwise."""
    identity = area.logical_id
    if secrets.basic_user and identity and secrets.basic_user != identity:
        raise Unauthorized(
            f"The HTTP Basic auth user {secrets.basic_user!r} is not the BOD's Sender/LogicalID {identity!r}."
        )
    if not identity:
        if not secrets.basic_user:
            raise Unauthorized(
                "ApplicationArea/Sender/LogicalID is missing: it names the account (its credential identity)."
            )
        identity = secrets.basic_user
        exchange.advisories.append(
            f"The BOD has no Sender/LogicalID; the HTTP Basic auth user {identity} names the account."
        )
    domain = _domain(ctx.conn, identity, area.logical_id_scheme, exchange.advisories)
    if None not in (secrets.basic_secret, secrets.header_secret) and secrets.basic_secret != secrets.header_secret:
        raise Unauthorized("HTTP Basic auth and X-Shared-Secret carry two different secrets: send one.")
    secret = secrets.basic_secret if secrets.basic_secret is not None else secrets.header_secret
    header = Header(from_=(), to=(), sender=(Credential(domain, identity, secret),), user_agent=area.component_id)
    try:
        account, notes = accounts.authenticate(ctx.conn, header)
    except Unauthorized as error:
        if secret is None:
            other = f" (an Authorization: {secrets.other_scheme} header is not read)" if secrets.other_scheme else ""
            message = (
                f"No shared secret for {identity}{other}: send HTTP Basic auth ({identity}:<secret>) "
                "or an X-Shared-Secret header."
            )
        elif error.account_id:
            message = f"The shared secret sent for {identity} does not match the account's shared secret."
        else:
            message = error.message
        raise Unauthorized(message, account_id=error.account_id) from error
    exchange.advisories.extend(notes)
    return account


def _scenarios(ctx: Context, exchange: Exchange, account: Account, order: OrderRequest, root: Any) -> None:
    """Let the active scenarios see the order, as ``inbound.serve`` does for cXML."""
    if not scenario_store.any_active(ctx.conn):
        return
    facts = engine.Facts(
        document=ROOT,
        endpoint=ENDPOINT,
        account_id=account.id,
        email=order.extrinsic("UserEmail") or "",
        lines=tuple((line.supplier_part_id, line.quantity) for line in order.lines),
        po=order.order_id,
        root=plain(root),
    )
    exchange.fired = engine.evaluate(ctx.conn, facts)
    if exchange.fired is None:
        return
    exchange.advisories.append(f"Scenario {exchange.fired.label} fired.")
    answer_spec = exchange.fired.outcome.get("answer")
    if answer_spec:
        raise inbound.scenario_answer(answer_spec, account.id)
    fault = exchange.fired.fault
    if fault and fault.get("target", "response") == "response":
        exchange.fault = fault


def _bod_id_of(body: bytes) -> tuple[str, str]:
    """(root name, BODID) of a BOD the simulator produced."""
    root = parse_document(body).root
    return local(root), text(child(root, "ApplicationArea", "BODID"))


def _earlier(ctx: Context, account: Account, payload: str) -> None:
    """A BODID is the order's payloadID: refuse one a cXML order or another account already used."""
    stored = store.by_payload_id(ctx.conn, payload)
    if stored is None:
        return
    if store.get_order(ctx.conn, stored.order_pk)["account_id"] != account.id:
        raise Conflict(f"BODID {payload} was already used by another account's order: send a new BODID.")
    if _bod_id_of(stored.body)[0] != ACKNOWLEDGE:
        raise Conflict(
            f"BODID {payload} was already received as the payloadID of a cXML OrderRequest: send a new BODID.",
            account_id=account.id,
        )


def _order(ctx: Context, exchange: Exchange, secrets: Secrets, seen: Seen) -> Answer:
    unwrapped = unwrap_body(exchange.body, exchange.content_type, max_bytes=ctx.config.max_body_bytes)
    document = parse_document(unwrapped.xml, charset=exchange.charset, max_bytes=ctx.config.max_body_bytes)
    root = document.root
    exchange.doc_type = local(root) or "unknown"
    exchange.advisories.extend(check_root(root))
    exchange.doc_type = ROOT
    area = read_application_area(root)
    exchange.payload_id = area.bod_id or None
    seen.original = area
    account = authenticate(ctx, exchange, area, secrets)
    exchange.account = account
    bod = read_purchase_order(root, area)
    order = bod.order
    exchange.advisories.extend(order.advisories)
    _scenarios(ctx, exchange, account, order, root)
    payload = area.bod_id
    if not payload:
        payload = "missing-" + hashlib.sha256(exchange.body).hexdigest()[:24]
        exchange.advisories.append("The BOD has no ApplicationArea/BODID; one derived from its body identifies it.")
    _earlier(ctx, account, payload)
    test = account.status == "test" or bod.test
    final_test = bool((exchange.fired.outcome if exchange.fired else {}).get("test", test))
    locale = account.setting("locale")
    currency = order.currency or ("EUR" if locale == "de_DE" else "USD")
    language = bod.language or LANG_BY_LOCALE.get(locale, "en-US")

    def render(plan: Plan, code: int, _text: str, _message: str) -> bytes:
        return build.acknowledge_purchase_order(
            build.Stamp.new(), area, order, plan, currency=currency, test=final_test, language=language
        )

    taken = take_order(ctx, exchange, account, order, payload=payload, test=test, render=render)
    return Answer(taken.body, taken.code, 200, ACKNOWLEDGE, _bod_id_of(taken.body)[1])


def refusal(ctx: Context, exchange: Exchange, error: CxmlError, original: ApplicationArea | None = None) -> Answer:
    """A ConfirmBOD for what was refused before (or instead of) the engine."""
    if ctx.conn.in_transaction:
        ctx.conn.execute("ROLLBACK")
    if exchange.account is None and error.account_id:
        try:
            exchange.account = accounts.get_account(ctx.conn, error.account_id)
        except Exception:
            exchange.account = None
    status = http_status(error)
    text_ = error.text if error.code == status else HTTPStatus(status).phrase
    locale = exchange.account.setting("locale") if exchange.account else "en_US"
    stamp = build.Stamp.new()
    body = build.confirm_bod(
        stamp, original, status, text_, error.message, language=LANG_BY_LOCALE.get(locale, "en-US")
    )
    return Answer(body, status, status, CONFIRM, stamp.bod_id)


def serve(ctx: Context, exchange: Exchange, secrets: Secrets, *, too_large: bool = False) -> Answer:
    """Serve one BOD and journal it with its answer. Never raises."""
    seen = Seen()
    try:
        if too_large:
            raise RequestTooLarge(
                f"The request body is larger than {ctx.config.max_body_bytes} bytes, the most this simulator "
                "accepts (set --max-body-bytes or PUNCHOUT_SIM_MAX_BODY_BYTES to change it)."
            )
        result = _order(ctx, exchange, secrets, seen)
    except CxmlError as error:
        result = refusal(ctx, exchange, error, seen.original)
    except Exception as error:
        log.exception("unexpected error serving a BOD at %s", exchange.endpoint)
        failure = InternalError(f"The simulator failed while serving this BOD ({type(error).__name__}); see its log.")
        try:
            result = refusal(ctx, exchange, failure, seen.original)
        except Exception:
            log.exception("could not answer the failure at %s", exchange.endpoint)
            body = build.confirm_bod(build.Stamp.new(), None, 500, "Internal Server Error", failure.message)
            result = Answer(body, 500, 500, CONFIRM, "")
    inbound.finish(ctx, exchange, result)
    return result
