"""Serving PunchOutSetupRequest (create, edit, inspect) and ProfileRequest."""

from __future__ import annotations

import math
from decimal import Decimal
from urllib.parse import urlsplit

from .. import accounts
from ..catalog.repository import get_products
from ..context import Context
from ..cxml import build
from ..cxml.read import BROWSER_FORM_POST_PATH, EMAIL_PATHS, ItemOut, read_punchout_setup_request
from ..db import transaction
from ..errors import Forbidden, NotImplementedRequest
from ..inbound import Answer, Exchange, Received, answer, envelope, finish
from . import cart, sessions
from .checkout import quoted_line

TARGET_EXTRINSICS = ("ReturnFrame", "ReturnTarget", "target")


def usable_url(url: str | None) -> bool:
    if not url:
        return False
    parts = urlsplit(url.strip())
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def start_page_url(ctx: Context, token: str) -> str:
    return f"{ctx.config.base_url}/start/{token}"


def punchout_setup(ctx: Context, exchange: Exchange, received: Received, *, test_endpoint: bool) -> Answer:
    account = received.account
    if not account.punchout:
        raise Forbidden(
            f"Punchout is not set up for the account {account.name!r}: an administrator adds it in the console "
            "(Accounts › the account › Add punchout) before the first punchout.",
            account_id=account.id,
        )
    request = read_punchout_setup_request(received.document.root)
    exchange.advisories.extend(request.advisories)
    if request.operation not in ("create", "edit", "inspect"):
        raise NotImplementedRequest(
            f'PunchOutSetupRequest operation="{request.operation}" is not supported; '
            "Amazon Business serves create, edit and inspect.",
            account_id=account.id,
        )
    if request.browser_form_post_url is None or not request.browser_form_post_url.strip():
        raise Forbidden(
            f"Missing mandatory data: {BROWSER_FORM_POST_PATH} (where the shopper's browser returns the cart).",
            account_id=account.id,
        )
    if not usable_url(request.browser_form_post_url):
        raise Forbidden(
            f"{BROWSER_FORM_POST_PATH} must be an absolute http or https URL; "
            f"got {request.browser_form_post_url.strip()!r}.",
            account_id=account.id,
        )
    found = request.email()
    if found is None:
        if account.setting("require_email"):
            raise Forbidden(
                "Missing mandatory data: the user's email. Looked for it at "
                + ", ".join(EMAIL_PATHS)
                + ". Send one of them, or set the account setting require_email to false.",
                account_id=account.id,
            )
        email, name = f"punchout-user@{account.id}.invalid", "PunchOut user"
        exchange.advisories.append("No email in the request; require_email is off, so the account's shared user shops.")
    else:
        email, name = found[0], request.user_name()
        exchange.advisories.append(f"User identified by {email} (from {found[1]}).")
    target = next((v for n in TARGET_EXTRINSICS if (v := request.extrinsic(n))), account.setting("form_target"))
    # Reading and building happen before the write transaction, which the other workers queue for:
    # inside it are only the writes (docs/performance.md).
    user = accounts.find_user(ctx.conn, account.id, email)
    selected = _selected_item(ctx, exchange, request.selected_item, account.setting("locale"))
    token = sessions.new_token()
    env = envelope(ctx, account)
    body = build.punchout_setup_response(env, start_page_url(ctx, token))
    with transaction(ctx.conn):
        if user is None or "punchout_user" not in user.roles:
            user = accounts.punchout_user(ctx.conn, account, email, name)  # creates it, or says why not
        session = sessions.create(
            ctx.conn,
            sessions.NewSession(
                account_id=account.id,
                user_id=user.id,
                operation=request.operation,
                buyer_cookie=request.buyer_cookie,
                browser_form_post_url=request.browser_form_post_url.strip(),
                form_target=target,
                test_mode=test_endpoint or request.deployment_mode == "test",
                email=email,
                user_name=name or user.name,
                ship_to=request.ship_to.as_dict() if request.ship_to else None,
                extrinsics=list(request.extrinsics),
                contacts=[{"name": c.name, "email": c.email, "role": c.role} for c in request.contacts],
                selected_item=selected,
                request_payload_id=received.document.root.get("payloadID") or "",
                locale=account.setting("locale"),
            ),
            ctx.config.session_ttl,
            token=token,
        )
        exchange.session_id = session.id
        if request.operation in ("edit", "inspect"):
            _restore_cart(ctx, exchange, session, request.items)
        result = answer(ctx, exchange, body, env, "PunchOutSetupResponse")
        finish(ctx, exchange, result)  # the journal in the session's transaction: one commit
    return result


def _selected_item(ctx: Context, exchange: Exchange, asin: str | None, locale: str) -> str | None:
    if not asin:
        return None
    found = get_products(ctx.conn, [asin], locale)
    if not found:
        exchange.advisories.append(f"SelectedItem {asin} is not in the catalogue; the shop opens at its home page.")
        return None
    return next(iter(found))


def _restore_cart(ctx: Context, exchange: Exchange, session: sessions.Session, items: tuple[ItemOut, ...]) -> None:
    if not items:
        exchange.advisories.append(f"operation={session.operation} without ItemOut lines: the cart starts empty.")
    lines: list[tuple[str, int, Decimal | None]] = []
    for position, item in enumerate(items, start=1):
        quantity = max(1, math.ceil(item.quantity))
        quoted = (
            quoted_line(ctx, item.supplier_part_auxiliary_id, session.account_id)
            if item.supplier_part_auxiliary_id
            else None
        )
        if quoted is not None:
            lines.append((quoted[0], quantity, quoted[2]))
            continue
        found = get_products(ctx.conn, [item.supplier_part_id], session.locale)
        if not found:
            exchange.advisories.append(
                f"ItemOut {item.line_number or position}: {item.supplier_part_id} is neither a line this simulator "
                "quoted nor a catalogue ASIN; left out of the cart."
            )
            continue
        lines.append((next(iter(found)), quantity, None))
    cart.restore(ctx.conn, session.id, lines)


def profile(ctx: Context, exchange: Exchange, received: Received) -> Answer:
    base = ctx.config.base_url
    env = envelope(ctx, received.account)
    body = build.profile_response(
        env,
        (
            ("ProfileRequest", f"{base}/cxml"),
            ("PunchOutSetupRequest", f"{base}/punchout"),
            ("OrderRequest", f"{base}/orders/{received.account.id}"),
            ("StatusUpdateRequest", f"{base}/cxml"),
        ),
    )
    return answer(ctx, exchange, body, env, "ProfileResponse")


def status_update(ctx: Context, exchange: Exchange, received: Received) -> Answer:
    """A StatusUpdateRequest from the buyer: acknowledged, and noted on the order it refers to."""
    root = received.document.root
    request = root.find(".//StatusUpdateRequest")
    reference = request.find("DocumentReference") if request is not None else None
    status = request.find("Status") if request is not None else None
    payload = reference.get("payloadID") if reference is not None else None
    code = status.get("code") if status is not None else "?"
    text = (status.get("text") or "") if status is not None else ""
    known = (
        ctx.conn.execute("SELECT order_id FROM orders WHERE payload_id = ?", (payload,)).fetchone() if payload else None
    )
    about = f"order {known['order_id']}" if known else f"payloadID {payload}" if payload else "no DocumentReference"
    exchange.advisories.append(f"StatusUpdateRequest about {about}: status {code} {text}".rstrip())
    env = envelope(ctx, received.account)
    body = build.status_response(200, "OK", None, env)
    return answer(ctx, exchange, body, env, "Status")
