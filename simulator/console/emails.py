"""Console: the email outbox, newest first, as the punchout users receive them."""

from __future__ import annotations

from flask import request

from .. import accounts
from ..orders import emails
from ..web import context
from . import bp, render

PAGE = 100


@bp.get("/emails")
def emails_list() -> str:
    conn = context().conn
    account_id = request.args.get("account_id") or None
    items, total = emails.list_emails(conn, account_id=account_id, order_pk=None, limit=PAGE, offset=0)
    known, _ = accounts.list_accounts(conn, limit=500)
    return render("console/emails.html", emails=items, total=total, accounts=known, account_id=account_id)
