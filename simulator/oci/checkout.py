"""Returning an OCI cart: the NEW_ITEM form fields, the quotes behind them, and the form the browser posts.

Mirrors :func:`simulator.punchout.checkout.return_cart`: each line gets a quote id shaped like
Amazon's SupplierPartAuxiliaryID (``NNN-NNNNNNN-NNNNNNN,N``), stored in ``quotes`` and sent as
``NEW_ITEM-EXT_QUOTE_ID``, so that a later order quoting it is matched to the price given here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from .. import clock, journal
from ..accounts import get_account
from ..context import Context
from ..db import transaction
from ..errors import ShopError
from ..punchout import cart as carts
from ..punchout import sessions
from ..punchout.checkout import cart_number, detail_page_url
from ..punchout.sessions import Session
from . import fields
from .fields import Line


@dataclass(frozen=True)
class OciForm:
    """An HTML form of OCI fields for the browser to post to the buyer (``action`` = HOOK_URL)."""

    action: str
    target: str
    fields: tuple[tuple[str, str], ...]
    item_count: int
    advisories: tuple[str, ...] = ()
    session_id: str | None = None
    journal_id: int | None = None

    def urlencoded(self) -> str:
        """The body the browser posts (UTF-8, percent-encoded)."""
        return urlencode(list(self.fields))

    def heading(self, *, cancel: bool = False, function: str | None = None) -> str:
        """The return page's title."""
        count = f"{self.item_count} item{'' if self.item_count == 1 else 's'}"
        if function:
            return f"OCI {function}: {count} for your procurement system…"
        if cancel:
            return "Returning without items…"
        return f"Returning {count} to your procurement system…"

    def fields_json(self) -> dict[str, str | list[str]]:
        """The fields by name; a name sent more than once (the long text) has the list of its values."""
        out: dict[str, str | list[str]] = {}
        for name, value in self.fields:
            if name not in out:
                out[name] = value
                continue
            previous = out[name]
            out[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        return out


def session_oci(session: Session) -> dict[str, Any]:
    return session.oci or {}


def _check_open(session: Session) -> None:
    if session.status in ("returned", "cancelled"):
        raise ShopError(
            409,
            "Cart already returned",
            "This cart has been returned to your procurement system; start a new PunchOut session to shop again.",
        )


def return_cart(ctx: Context, session: Session, *, cancel: bool = False) -> OciForm:
    """The NEW_ITEM fields of the session's cart (none when ``cancel``); records the quotes, closes the session."""
    _check_open(session)
    oci = session_oci(session)
    account = get_account(ctx.conn, session.account_id)
    cart = carts.load(ctx.conn, session)
    cart_lines = () if cancel else cart.lines
    number = cart_number()
    lines = [
        Line(line.product, line.quantity, line.unit_price, f"{number},{index}", detail_page_url(ctx, line.product.asin))
        for index, line in enumerate(cart_lines, start=1)
    ]
    pairs, cuts = fields.form_fields(lines, ok_code=oci.get("ok_code") or fields.OK_CODE, caller=oci.get("caller"))
    action = session.browser_form_post_url
    advisories = [
        f"{len(lines)} item(s) returned as OCI {oci.get('version') or '4.0'} NEW_ITEM fields"
        + (" (cancelled: no items)" if cancel else "")
    ]
    if cancel and oci.get("cancel_url"):
        action = oci["cancel_url"]
        advisories.append(f"Cancelled: posted to the cancel URL the login sent ({action}) instead of HOOK_URL.")
    advisories += cuts
    now = clock.timestamp()
    with transaction(ctx.conn):
        for index, line in enumerate(lines, start=1):
            ctx.conn.execute(
                "INSERT INTO quotes (aux_id, session_id, account_id, line_number, asin, quantity, unit_price,"
                " currency, created_at, email) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    line.quote_id,
                    session.id,
                    account.id,
                    index,
                    line.product.asin,
                    line.quantity,
                    str(line.unit_price),
                    cart.currency,
                    now,
                    session.email,
                ),
            )
        form = OciForm(action, session.form_target, pairs, len(lines), tuple(advisories), session.id)
        journal_id = journal.record(
            ctx.conn,
            journal.Entry(
                direction="out",
                doc_type="OCICart",
                endpoint=action,
                body=form.urlencoded().encode("ascii"),
                account_id=account.id,
                session_id=session.id,
                content_type="application/x-www-form-urlencoded; charset=UTF-8",
                advisories=form.advisories,
            ),
        )
        sessions.mark_returned(ctx.conn, session.id, cancelled=cancel)
    return replace(form, journal_id=journal_id)


def deliver(form: OciForm) -> dict[str, Any]:
    """Post the form to HOOK_URL from the server, as the shopper's browser would (UTF-8, urlencoded)."""
    if urlsplit(form.action).scheme.lower() not in ("http", "https"):
        return {"ok": False, "error": f"{form.action!r} is not an http(s) URL; only SAP GUI can follow it."}
    try:
        reply = requests.post(form.action, data=list(form.fields), timeout=30, allow_redirects=False)
    except requests.RequestException as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": reply.ok, "http_status": reply.status_code, "body": reply.text[:2000]}


def admin_checkout(ctx: Context, session: Session, *, cancel: bool, deliver_form: bool) -> dict[str, Any]:
    """``POST /__admin/sessions/<id>/checkout`` for an OCI session: the form fields instead of a cXML message."""
    form = return_cart(ctx, session, cancel=cancel)
    return {
        "session_id": form.session_id,
        "protocol": "oci",
        "payload_id": None,
        "journal_id": form.journal_id,
        "action": form.action,
        "target": form.target,
        "fields": form.fields_json(),
        "advisories": list(form.advisories),
        "cxml": None,
        "delivered": deliver(form) if deliver_form else None,
    }
