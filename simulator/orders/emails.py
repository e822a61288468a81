"""Emails to the punchout user, as Amazon sends them: order placed (what will and will not be
fulfilled) and order rejected (the order's error). They go to an outbox table, readable through
``GET /__admin/emails``; with ``--smtp-url`` they are also sent to that SMTP server.
"""

from __future__ import annotations

import logging
import smtplib
import sqlite3
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from .. import clock
from ..accounts import Account
from ..context import Context
from ..cxml.read import OrderRequest
from ..db import select_page
from .outcomes import Plan

log = logging.getLogger(__name__)
SENDER = "no-reply@business.amazon.simulator.invalid"

SCHEMA = """
CREATE TABLE IF NOT EXISTS emails (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL,
    order_pk TEXT,
    kind TEXT NOT NULL,
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    smtp_status TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS emails_account ON emails (account_id, id);
"""


def order_outcome(
    ctx: Context, account: Account, order_pk: str, order: OrderRequest, plan: Plan, to: str
) -> int | None:
    """Queue the email the punchout user gets for this order; None when the order names no user."""
    if not to:
        return None
    if plan.rejected:
        subject = f"Your order {order.order_id} could not be placed"
        body = (
            f"Hello,\n\nYour order {order.order_id} for {account.name} was not placed.\n\n"
            f"Reason: {plan.reject_message}\n\nNo items will be shipped and nothing has been charged.\n"
        )
        return send(ctx, account.id, order_pk, "order_rejected", to, subject, body)
    fulfilled = [line for line in plan.lines if line.accepted or line.backordered]
    unfulfilled = [line for line in plan.lines if line.rejected]
    rows = ["Items being fulfilled:"]
    rows += [
        f"  line {line.line_number}: {line.supplier_part_id} × {line.accepted + line.backordered}"
        + (f" ({line.backordered} backordered)" if line.backordered else "")
        for line in fulfilled
    ] or ["  none"]
    rows += ["", "Items not fulfilled:"]
    rows += [
        f"  line {line.line_number}: {line.supplier_part_id} × {line.rejected}: {line.reject_message}"
        for line in unfulfilled
    ] or ["  none"]
    subject = f"Your order {order.order_id} has been placed"
    body = f"Hello,\n\nThank you for your order {order.order_id} for {account.name}.\n\n" + "\n".join(rows) + "\n"
    return send(ctx, account.id, order_pk, "order_placed", to, subject, body)


def send(ctx: Context, account_id: str, order_pk: str | None, kind: str, to: str, subject: str, body: str) -> int:
    status = _smtp(ctx.config.smtp_url, to, subject, body) if ctx.config.smtp_url else None
    cursor = ctx.conn.execute(
        "INSERT INTO emails (account_id, order_pk, kind, to_address, subject, body, smtp_status, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (account_id, order_pk, kind, to, subject, body, status, clock.timestamp()),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _smtp(url: str, to: str, subject: str, body: str) -> str:
    parts = urlsplit(url)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = SENDER, to, subject
    message.set_content(body)
    try:
        with smtplib.SMTP(parts.hostname or "127.0.0.1", parts.port or 25, timeout=5) as smtp:
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("could not send email to %s through %s: %s", to, url, exc)
        return f"failed: {exc}"
    return "sent"


def list_emails(
    conn: sqlite3.Connection, *, account_id: str | None, order_pk: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    rows, total = select_page(
        conn, "emails", {"account_id": account_id, "order_pk": order_pk}, order_by="id DESC", limit=limit, offset=offset
    )
    return [dict(r) for r in rows], total
