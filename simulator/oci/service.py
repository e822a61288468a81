"""Serving an OCI catalogue call: the login that opens a shop session, OCICANCEL, and the OCI 4
background functions DETAIL, VALIDATE and BACKGROUND_SEARCH (answered at once, no shop session).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from .. import accounts, journal
from ..accounts import Account
from ..catalog import repository
from ..catalog.models import Product
from ..context import Context
from ..db import transaction
from ..errors import CxmlError
from ..punchout import sessions
from ..punchout.cart import MAX_QUANTITY
from ..punchout.checkout import detail_page_url
from . import checkout, fields, login
from .checkout import OciForm
from .fields import Line
from .login import LoginRequest, OciError

log = logging.getLogger(__name__)

DEFAULT_TARGET = "_top"
FUNCTIONS = ("DETAIL", "VALIDATE", "BACKGROUND_SEARCH")
MAX_SEARCH_RESULTS = 20


@dataclass
class Exchange:
    """One catalogue call being served, and what the journal will say about it."""

    endpoint: str
    content_type: str
    request: LoginRequest
    account: Account | None = None
    session_id: str | None = None
    advisories: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Started:
    """A shop session was opened: the browser goes to its StartPage (one-time ``token``)."""

    session: sessions.Session
    token: str


def _quantity(raw: str | None, function: str, exchange: Exchange) -> int:
    if raw is None or not raw.strip():
        exchange.advisories.append(f"FUNCTION={function} without QUANTITY: quantity 1.")
        return 1
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value <= 0:
        raise OciError(
            400,
            "invalid_quantity",
            "QUANTITY is not usable",
            f"QUANTITY must be a positive number with a decimal point (e.g. 10.000); got {raw!r}.",
        )
    whole = math.ceil(value)
    if whole != value:
        exchange.advisories.append(f"QUANTITY {raw} rounded up to {whole}: Amazon sells whole units.")
    if whole > MAX_QUANTITY:
        raise OciError(
            400, "invalid_quantity", "QUANTITY is not usable", f"QUANTITY must be at most {MAX_QUANTITY}; got {raw!r}."
        )
    return whole


def _product(ctx: Context, exchange: Exchange, function: str, locale: str) -> Product:
    asin = (exchange.request.get("PRODUCTID") or "").strip()
    if not asin:
        raise OciError(
            400,
            "missing_product_id",
            "PRODUCTID is missing",
            f"FUNCTION={function} needs PRODUCTID: the product's ASIN, as sent in NEW_ITEM-EXT_PRODUCT_ID.",
        )
    product = repository.get_product(ctx.conn, asin, locale)
    if product is None:
        raise OciError(404, "unknown_product", "Product not found", f"PRODUCTID {asin!r} is not in the catalogue.")
    return product


def background(ctx: Context, exchange: Exchange, function: str, hook: str, target: str) -> OciForm:
    """DETAIL, VALIDATE or BACKGROUND_SEARCH: the products as NEW_ITEM fields (not quotes: no EXT_QUOTE_ID)."""
    assert exchange.account is not None
    locale = exchange.account.setting("locale")
    request = exchange.request
    if function == "BACKGROUND_SEARCH":
        text = (request.get("SEARCHSTRING") or "").strip()
        if not text:
            raise OciError(
                400,
                "missing_search_string",
                "SEARCHSTRING is missing",
                "FUNCTION=BACKGROUND_SEARCH needs SEARCHSTRING: the words to search the catalogue for.",
            )
        page = repository.search(ctx.conn, text, locale=locale, limit=MAX_SEARCH_RESULTS)
        found = [(p, 1) for p in page.items]
        exchange.advisories.append(
            f"BACKGROUND_SEARCH {text!r}: {page.total} match(es); the first {len(found)} returned "
            f"(at most {MAX_SEARCH_RESULTS}), quantity 1 each."
        )
    else:
        product = _product(ctx, exchange, function, locale)
        found = [(product, _quantity(request.get("QUANTITY"), function, exchange))]
        if function == "VALIDATE":
            quantity = found[0][1]
            exchange.advisories.append(
                f"VALIDATE {product.asin} x {quantity}: unit price {fields.price_text(product.unit_price(quantity))} "
                f"{product.currency} (business price {fields.price_text(product.business_price)})."
            )
    lines = [Line(p, q, p.unit_price(q), "", detail_page_url(ctx, p.asin)) for p, q in found]
    pairs, cuts = fields.form_fields(
        lines, ok_code=request.get("~OkCode") or fields.OK_CODE, caller=request.get("~caller")
    )
    exchange.advisories.extend(cuts)
    return OciForm(hook, target, pairs, len(lines), tuple(cuts))


def _user(ctx: Context, exchange: Exchange, account: Account) -> tuple[accounts.User, str, str]:
    request = exchange.request
    email = next(
        (v.strip() for n in login.EMAIL_FIELDS if (v := request.extra_value(n)) and "@" in v),
        None,
    )
    first, last = request.extra_value("FIRST_NAME") or "", request.extra_value("LAST_NAME") or ""
    name = f"{first} {last}".strip() or request.extra_value("BUYER_USERNAME") or ""
    if email is None:
        email = f"punchout-user@{account.id}.invalid"
        exchange.advisories.append("No email in the login (OCI has none); the account's shared user shops.")
    else:
        exchange.advisories.append(f"User identified by {email}.")
    try:
        user = accounts.punchout_user(ctx.conn, account, email, name or "PunchOut user")
    except CxmlError as error:
        raise OciError(403, "no_punchout_role", "No PunchOut role", error.message) from error
    return user, email, name or user.name


def _cancel_url(exchange: Exchange) -> tuple[str | None, bool]:
    """(a cancel URL the login sent, whether the login itself asks to cancel)."""
    request = exchange.request
    for name in ("OCICANCEL", "OCI_CANCEL"):
        value = request.get(name)
        if value is None:
            continue
        if value.strip().lower().startswith(("http://", "https://")):
            exchange.advisories.append(f"{name} is a URL: a cancelled cart is posted there instead of HOOK_URL.")
            return value.strip(), False
        exchange.advisories.append(f"{name}={value!r}: the session is cancelled at once; no items are returned.")
        return None, True
    return None, False


def serve(ctx: Context, exchange: Exchange, *, allow_functions: bool = True) -> Started | OciForm:
    """Authenticate the call, then open a shop session, cancel one at once, or run a background function."""
    request = exchange.request
    account = login.authenticate(ctx.conn, request)
    exchange.account = account
    hook = login.hook_url(request)
    target = (request.get("~target") or "").strip() or account.settings.get("form_target") or DEFAULT_TARGET
    version = (request.get("OCI_VERSION") or "").strip() or str(account.settings.get("oci_version") or "4.0")
    if request.get("OPI_VERSION"):
        exchange.advisories.append(f"OPI_VERSION {request.get('OPI_VERSION')} noted; OPI is not simulated.")
    function = (request.get("FUNCTION") or "").strip().upper()
    if function:
        if not allow_functions:
            raise OciError(
                400, "function_not_here", "FUNCTION not served here", "Background functions are served at /oci."
            )
        if function not in FUNCTIONS:
            raise OciError(
                501 if function == "SOURCING" else 400,
                "unknown_function",
                "OCI function not supported",
                f"FUNCTION={request.get('FUNCTION')!r} is not served. OCI defines DETAIL, VALIDATE, SOURCING and "
                f"BACKGROUND_SEARCH; this simulator serves {', '.join(FUNCTIONS)} (and the login without FUNCTION).",
            )
        exchange.advisories.append(f"OCI {version} background function {function}.")
        return background(ctx, exchange, function, hook, target)
    cancel_url, cancel_now = _cancel_url(exchange)
    oci = {
        "hook_url": hook,
        "ok_code": request.get("~OkCode") or fields.OK_CODE,
        "target": target,
        "caller": request.get("~caller"),
        "version": version,
    }
    if cancel_url:
        oci["cancel_url"] = cancel_url
    with transaction(ctx.conn):
        user, email, name = _user(ctx, exchange, account)
        token = sessions.new_token()
        session = sessions.create(
            ctx.conn,
            sessions.NewSession(
                account_id=account.id,
                user_id=user.id,
                operation="create",
                buyer_cookie="",
                browser_form_post_url=hook,
                form_target=target,
                test_mode=False,
                email=email,
                user_name=name,
                ship_to=None,
                extrinsics=list(request.extra),
                contacts=[],
                selected_item=None,
                request_payload_id="",
                locale=account.setting("locale"),
                protocol="oci",
                oci=oci,
            ),
            ctx.config.session_ttl,
            token=token,
        )
    exchange.session_id = session.id
    if cancel_now:
        return checkout.return_cart(ctx, session, cancel=True)
    return Started(session, token)


def record(ctx: Context, exchange: Exchange, *, status: int, body: str, content_type: str) -> None:
    """Journal the call (``OCILogin``, password masked) and its answer (``OCILoginResponse``). Never raises."""
    account_id = exchange.account.id if exchange.account else None
    try:
        journal.record_exchange(
            ctx.conn,
            journal.Entry(
                direction="in",
                doc_type="OCILogin",
                endpoint=exchange.endpoint,
                body=exchange.request.masked_body(),
                account_id=account_id,
                session_id=exchange.session_id,
                http_status=status,
                content_type=exchange.content_type,
                advisories=tuple(dict.fromkeys([*exchange.request.advisories, *exchange.advisories])),
            ),
            journal.Entry(
                direction="out",
                doc_type="OCILoginResponse",
                endpoint=exchange.endpoint,
                body=body.encode("utf-8"),
                account_id=account_id,
                session_id=exchange.session_id,
                http_status=status,
                content_type=content_type,
            ),
        )
    except Exception:
        log.exception("could not journal the OCI call at %s", exchange.endpoint)
