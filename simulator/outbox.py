"""At-least-once delivery of the documents the supplier sends later (protocol.md §6), kept in SQLite.

The order service calls :func:`enqueue` for each ConfirmationRequest, ShipNoticeRequest,
InvoiceDetailRequest or StatusUpdateRequest with a due time on the simulator's clock; a
:class:`Dispatcher` thread in every server process calls :func:`deliver_due`.

A row goes ``held`` (no buyer URL yet) → ``pending`` → ``sending`` (claimed by one worker, with a
lease) → ``delivered`` | ``failed`` (the buyer refused it: cXML 4xx, never retried) | ``dead``
(:data:`MAX_ATTEMPTS` transport errors); a row not sent yet can be ``cancelled`` with its order.
A claim is one ``BEGIN IMMEDIATE`` transaction, so two processes never send the same row at once;
the HTTP call happens outside any transaction and its outcome is written in a second short one. A
worker that dies mid-send leaves a ``sending`` row whose lease expires: that row is due again, and
the interrupted attempt is counted.

Every attempt is kept in ``delivery_attempts`` and in the journal (the document out, the buyer's
answer in, linked by ``in_reply_to``).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import urllib3

from . import clock, faults, journal
from .cxml import deferred
from .cxml.parse import parse_document
from .db import Total, connect, select_page, transaction
from .errors import AdminError, CxmlError, NotFound
from .punchout import sessions

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 2
BACKOFF_CAP_SECONDS = 300
LEASE_SECONDS = 60

CONTENT_TYPE = "text/xml; charset=UTF-8"
MAX_RESPONSE_BYTES = 1024 * 1024  # more of a buyer's answer than this is not read
RESPONSE_EXCERPT_CHARS = 2000  # the answer kept with each attempt

_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._-]+)", re.IGNORECASE)

_REQUEST = re.compile(r"^The (request|cXML document)( body)? ")

STATUSES = ("held", "pending", "sending", "delivered", "failed", "dead", "cancelled")

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL,
    order_id TEXT,
    step TEXT,
    doc_type TEXT NOT NULL,
    payload_id TEXT NOT NULL UNIQUE,
    url TEXT,
    status TEXT NOT NULL CHECK (status IN ('held', 'pending', 'sending', 'delivered', 'failed', 'dead', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    lease_until TEXT,
    locked_by TEXT,
    last_error TEXT,
    last_http_status INTEGER,
    last_cxml_status INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    delivered_at TEXT,
    body BLOB NOT NULL,  -- empty while recipe is set: built when due or first looked at
    recipe BLOB,  -- cxml/deferred.py: the document's builder and inputs, until body is built
    fault TEXT,  -- faults: the document's own fault (JSON), applied to every attempt
    CHECK (url IS NOT NULL OR status IN ('held', 'cancelled'))
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS outbox_lease ON outbox (status, lease_until);
CREATE INDEX IF NOT EXISTS outbox_account ON outbox (account_id, id);
CREATE INDEX IF NOT EXISTS outbox_order ON outbox (order_id, id);
CREATE INDEX IF NOT EXISTS outbox_status ON outbox (status, id);

CREATE TABLE IF NOT EXISTS delivery_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    worker_id TEXT NOT NULL,
    url TEXT NOT NULL,
    at TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'failed', 'retry', 'dead', 'interrupted')),
    http_status INTEGER,
    cxml_status INTEGER,
    error TEXT,
    duration_ms INTEGER,
    response TEXT,
    journal_id INTEGER
);
CREATE INDEX IF NOT EXISTS delivery_attempts_outbox ON delivery_attempts (outbox_id, id);
"""

_COLUMNS = (
    "id, account_id, order_id, step, doc_type, payload_id, url, status, attempts, due_at, next_attempt_at,"
    " last_error, last_http_status, last_cxml_status, created_at, delivered_at, body, recipe"
)


@dataclass(frozen=True)
class OutboxItem:
    id: int
    account_id: str
    order_id: str | None
    step: str | None
    doc_type: str
    payload_id: str
    url: str | None
    status: str
    attempts: int
    due_at: str
    next_attempt_at: str
    last_error: str | None
    last_http_status: int | None
    last_cxml_status: int | None
    created_at: str
    delivered_at: str | None
    body: bytes

    def to_json(self) -> dict[str, Any]:
        """The item for the admin API: the body as text with its SharedSecret masked, as in the journal."""
        return {
            "id": self.id,
            "account_id": self.account_id,
            "order_id": self.order_id,
            "step": self.step,
            "doc_type": self.doc_type,
            "payload_id": self.payload_id,
            "url": self.url,
            "status": self.status,
            "attempts": self.attempts,
            "max_attempts": MAX_ATTEMPTS,
            "due_at": self.due_at,
            "next_attempt_at": self.next_attempt_at,
            "last_error": self.last_error,
            "last_http_status": self.last_http_status,
            "last_cxml_status": self.last_cxml_status,
            "created_at": self.created_at,
            "delivered_at": self.delivered_at,
            "body": journal.mask_secrets(journal.decode(self.body)),
        }


def built_body(conn: sqlite3.Connection, outbox_id: int, body: bytes, recipe: bytes | None) -> bytes:
    """The row's document: ``body``, or built from its recipe now (and kept, so it is built once).

    Building is deterministic (cxml/deferred.py), so two workers building the same row at once
    store the same bytes.
    """
    if recipe is None:
        return bytes(body)
    built = deferred.loads(bytes(recipe)).render()
    conn.execute("UPDATE outbox SET body = ?, recipe = NULL WHERE id = ? AND recipe IS NOT NULL", (built, outbox_id))
    return built


def _item(conn: sqlite3.Connection, row: sqlite3.Row) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        account_id=row["account_id"],
        order_id=row["order_id"],
        step=row["step"],
        doc_type=row["doc_type"],
        payload_id=row["payload_id"],
        url=row["url"],
        status=row["status"],
        attempts=row["attempts"],
        due_at=row["due_at"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        last_http_status=row["last_http_status"],
        last_cxml_status=row["last_cxml_status"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
        body=_shown_body(conn, row),
    )


def _shown_body(conn: sqlite3.Connection, row: sqlite3.Row) -> bytes:
    """The body for the admin API and the console; empty for a recipe that cannot be built (its row
    is dead with the reason in last_error once the dispatcher reached it)."""
    try:
        return built_body(conn, row["id"], row["body"], row["recipe"])
    except Exception:
        log.exception("could not build outbox row %s", row["id"])
        return b""


def backoff_seconds(attempts: int) -> int:
    """The wait after the ``attempts``-th failed attempt: 2, 4, 8 … seconds, at most 300."""
    return int(min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS))


# --- enqueueing and admin operations -------------------------------------------------------------
# These run as single statements, so the order service may call them inside its own transaction.


def enqueue(
    conn: sqlite3.Connection,
    *,
    account_id: str,
    doc_type: str,
    payload_id: str,
    body: bytes = b"",
    recipe: deferred.Deferred | bytes | None = None,
    url: str | None,
    due_at: datetime,
    order_id: str | None = None,
    step: str | None = None,
    fault: dict[str, Any] | None = None,
) -> int:
    """Queue ``body`` (or the document ``recipe`` builds) for ``url`` at ``due_at``; ``held`` while
    there is no URL. Idempotent by payload_id.

    ``fault``: a fault spec (simulator/faults.py) applied to every attempt of this document.
    """
    now = clock.timestamp()
    due = clock.timestamp(due_at)
    row = conn.execute(
        "INSERT INTO outbox (account_id, order_id, step, doc_type, payload_id, url, status, due_at,"
        " next_attempt_at, created_at, updated_at, body, recipe, fault)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (payload_id) DO NOTHING RETURNING id",
        (
            account_id,
            order_id,
            step,
            doc_type,
            payload_id,
            url,
            "held" if url is None else "pending",
            due,
            due,
            now,
            now,
            b"" if recipe is not None else body,
            recipe if recipe is None or isinstance(recipe, bytes) else deferred.dumps(recipe),
            None if fault is None else json.dumps(fault),  # faults
        ),
    ).fetchone()
    if row is None:  # queued before under this payloadID
        row = conn.execute("SELECT id FROM outbox WHERE payload_id = ?", (payload_id,)).fetchone()
    return int(row["id"])


def set_url(conn: sqlite3.Connection, *, account_id: str, url: str) -> int:
    """Give every held row of the account this URL and make it pending; returns how many."""
    cursor = conn.execute(
        "UPDATE outbox SET url = ?, status = 'pending', updated_at = ? WHERE account_id = ? AND status = 'held'",
        (url, clock.timestamp(), account_id),
    )
    return cursor.rowcount


def cancel_pending(conn: sqlite3.Connection, *, order_id: str, reason: str | None = None) -> int:
    """Cancel the order's documents not sent yet (held or pending); returns how many.

    A document being sent right now is left to finish: it may already be at the buyer.
    """
    cursor = conn.execute(
        "UPDATE outbox SET status = 'cancelled', last_error = ?, updated_at = ?"
        " WHERE order_id = ? AND status IN ('held', 'pending')",
        (reason or "Cancelled before it was sent: the order was cancelled or replaced.", clock.timestamp(), order_id),
    )
    return cursor.rowcount


def resend(conn: sqlite3.Connection, outbox_id: int) -> OutboxItem:
    """Send a row again from scratch: pending, no attempts, due now, the same payloadID and body.

    A delivered row is delivered a second time (a deliberate duplicate, as QA wants to see).
    """
    now = clock.timestamp()
    cursor = conn.execute(
        "UPDATE outbox SET status = 'pending', attempts = 0, due_at = ?, next_attempt_at = ?, lease_until = NULL,"
        " locked_by = NULL, last_error = NULL, last_http_status = NULL, last_cxml_status = NULL,"
        " delivered_at = NULL, updated_at = ?"
        " WHERE id = ? AND url IS NOT NULL AND NOT (status = 'sending' AND lease_until > ?)",
        (now, now, now, outbox_id, now),
    )
    if cursor.rowcount == 0:
        item = get_item(conn, outbox_id)  # NotFound for an unknown id
        if item.url is None:
            raise AdminError(
                409,
                "no_url",
                f"Outbox item {outbox_id} has no buyer URL: account {item.account_id!r} had no cXML endpoint "
                "when it was queued. Set the buyer's endpoint: held documents are then sent.",
            )
        raise AdminError(
            409,
            "in_flight",
            f"Outbox item {outbox_id} is being sent right now; resend it when this attempt is over.",
        )
    return get_item(conn, outbox_id)


def get_item(conn: sqlite3.Connection, outbox_id: int) -> OutboxItem:
    row = conn.execute(f"SELECT {_COLUMNS} FROM outbox WHERE id = ?", (outbox_id,)).fetchone()  # noqa: S608
    if row is None:
        raise NotFound("outbox item", str(outbox_id))
    return _item(conn, row)


def list_items(
    conn: sqlite3.Connection,
    *,
    account_id: str | None = None,
    order_id: str | None = None,
    status: str | None = None,
    doc_type: str | None = None,
    before: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[OutboxItem], Total]:
    """One page of the outbox, newest first (``before``: rows older than that id), and the total
    (counted up to db.COUNT_LIMIT)."""
    rows, total = select_page(
        conn,
        "outbox",
        {"account_id": account_id, "order_id": order_id, "status": status, "doc_type": doc_type},
        columns=_COLUMNS,
        order_by="id DESC",
        limit=limit,
        offset=offset,
        conditions=[("id < ?", before)],
    )
    return [_item(conn, r) for r in rows], total


def attempts(conn: sqlite3.Connection, outbox_id: int) -> list[dict[str, Any]]:
    """Every delivery attempt of a row, oldest first."""
    get_item(conn, outbox_id)
    rows = conn.execute(
        "SELECT id, attempt, worker_id, url, at, outcome, http_status, cxml_status, error, duration_ms,"
        " response, journal_id FROM delivery_attempts WHERE outbox_id = ? ORDER BY id",
        (outbox_id,),
    ).fetchall()
    return [dict(r) for r in rows]


def pending_count(conn: sqlite3.Connection) -> int:
    """Rows waiting to be delivered: pending (due or not) and being sent. Held rows are not counted."""
    row = conn.execute("SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')").fetchone()
    return int(row[0])


# --- delivery -----------------------------------------------------------------------------------


def flush(conn: sqlite3.Connection, *, worker_id: str, timeout: float = 10.0) -> int:
    """Make every pending row due now, release held rows that have a URL, and deliver; returns attempts."""
    now = clock.timestamp()
    conn.execute(
        "UPDATE outbox SET status = 'pending', updated_at = ? WHERE status = 'held' AND url IS NOT NULL", (now,)
    )
    conn.execute(
        "UPDATE outbox SET due_at = min(due_at, ?), next_attempt_at = ?, updated_at = ?"
        " WHERE status = 'pending' AND next_attempt_at > ?",
        (now, now, now, now),
    )
    made = 0
    with requests.Session() as http:
        while True:  # each failed row is rescheduled into the future, so this ends
            done = deliver_due(conn, worker_id=worker_id, limit=100, timeout=timeout, http=http)
            made += done
            if done < 100:
                return made


def advance_order(
    conn: sqlite3.Connection, order_id: str, *, worker_id: str, timeout: float = 10.0
) -> OutboxItem | None:
    """The order's next document now: its earliest one not sent yet is made due and delivered.

    Returns that row after the attempt, or None when the order has nothing waiting. A held row
    (no buyer URL yet) is made due but cannot be sent: it comes back still held.
    """
    row = conn.execute(
        "SELECT id, status FROM outbox WHERE order_id = ? AND status IN ('pending', 'held')"
        " ORDER BY due_at, id LIMIT 1",
        (order_id,),
    ).fetchone()
    if row is None:
        return None
    if row["status"] == "held":
        now = clock.timestamp()
        conn.execute(
            "UPDATE outbox SET due_at = min(due_at, ?), next_attempt_at = ? WHERE id = ?", (now, now, row["id"])
        )
        return get_item(conn, int(row["id"]))
    return send_now(conn, int(row["id"]), worker_id=worker_id, timeout=timeout)


def send_now(conn: sqlite3.Connection, outbox_id: int, *, worker_id: str, timeout: float = 10.0) -> OutboxItem:
    """Make one pending row due now and attempt it, leaving every other row alone; returns it after.

    For a resend from the admin API: :func:`flush` would also send every other order's documents.
    """
    now = clock.timestamp()
    conn.execute(
        "UPDATE outbox SET due_at = min(due_at, ?), next_attempt_at = ?, updated_at = ?"
        " WHERE id = ? AND status = 'pending'",
        (now, now, now, outbox_id),
    )
    with requests.Session() as http:
        _deliver_one(conn, worker_id, timeout, http, only_id=outbox_id)
    return get_item(conn, outbox_id)


@dataclass(frozen=True)
class _Claim:
    id: int
    account_id: str
    doc_type: str
    payload_id: str
    url: str
    attempt: int
    at: str
    body: bytes
    headers: dict[str, str] | None = None  # faults: the headers sent, when a fault changed them
    fault: str | None = None  # faults: which fault changed the send, for the journal


@dataclass
class _Outcome:
    kind: str  # "delivered" | "failed" | "retry"
    error: str | None = None
    http_status: int | None = None
    cxml_status: int | None = None
    response: bytes | None = None  # None when no answer came back
    response_type: str = ""
    response_doc_type: str = "unknown"
    response_payload_id: str | None = None


def deliver_due(
    conn: sqlite3.Connection,
    *,
    worker_id: str,
    limit: int = 50,
    timeout: float = 10.0,
    http: requests.Session | None = None,
) -> int:
    """Send up to ``limit`` due rows, one claim at a time; returns the number of attempts made.

    Must not be called inside a transaction: each claim and each outcome is its own short one.
    """
    session = http or requests.Session()
    made = 0
    try:
        while made < limit and _deliver_one(conn, worker_id, timeout, session):
            made += 1
    finally:
        if http is None:
            session.close()
    return made


def _deliver_one(
    conn: sqlite3.Connection, worker_id: str, timeout: float, http: requests.Session, *, only_id: int | None = None
) -> bool:
    """Claim one due row (that row, with ``only_id``), send it, record the outcome; False if none was due."""
    claim = _claim(conn, worker_id, lease_seconds=max(LEASE_SECONDS, 2 * timeout), only_id=only_id)
    if claim is None:
        return False
    # faults: a stored outbound fault or the row's own may change what is sent, or send it twice
    for sent in faults.outbound_sends(conn, claim.id, claim.body, {"Content-Type": CONTENT_TYPE}, timeout=timeout):
        attempt = replace(claim, body=sent.body, headers=sent.headers, fault=sent.note)
        started = time.monotonic()
        outcome = _send(http, attempt, timeout)
        _record(conn, attempt, worker_id, outcome, round((time.monotonic() - started) * 1000))
    return True


def _claim(
    conn: sqlite3.Connection, worker_id: str, *, lease_seconds: float, only_id: int | None = None
) -> _Claim | None:
    """Atomically take the next due row for this worker, or None when nothing is due.

    Whether anything is due is read first without the write lock: the dispatcher of every worker
    asks twice a second, and most of the time the answer is no.
    """
    if _next_due(conn, clock.timestamp(), only_id) is None:
        return None
    with transaction(conn):
        while True:
            now = clock.now()
            stamp = clock.timestamp(now)
            row = _next_due(conn, stamp, only_id)
            if row is None:
                return None
            if row["status"] == "sending" and _interrupted(conn, row, stamp):
                continue  # that row is dead now; look for another
            stored = conn.execute("SELECT body, recipe FROM outbox WHERE id = ?", (row["id"],)).fetchone()
            try:
                body = built_body(conn, row["id"], stored["body"], stored["recipe"])
            except Exception as exc:  # a recipe that cannot be built is never sendable
                log.exception("could not build outbox row %s", row["id"])
                conn.execute(
                    "UPDATE outbox SET status = 'dead', last_error = ?, updated_at = ? WHERE id = ?",
                    (
                        f"The simulator could not build this document ({type(exc).__name__}); see its log.",
                        stamp,
                        row["id"],
                    ),
                )
                continue
            attempt = row["attempts"] + 1
            conn.execute(
                "UPDATE outbox SET status = 'sending', attempts = ?, lease_until = ?, locked_by = ?, updated_at = ?"
                " WHERE id = ?",
                (attempt, clock.timestamp(now + timedelta(seconds=lease_seconds)), worker_id, stamp, row["id"]),
            )
            return _Claim(
                id=row["id"],
                account_id=row["account_id"],
                doc_type=row["doc_type"],
                payload_id=row["payload_id"],
                url=row["url"],
                attempt=attempt,
                at=stamp,
                body=body,
            )


_DUE_COLUMNS = "id, account_id, doc_type, payload_id, url, status, attempts, locked_by, lease_until, next_attempt_at"


def _next_due(conn: sqlite3.Connection, stamp: str, only_id: int | None) -> sqlite3.Row | None:
    """The next row to send: pending and due, or sending with an expired lease; earliest first.

    Two queries, one per index (outbox_due, outbox_lease), instead of one with an OR that reads the
    whole table: the outbox keeps every delivered document, so it grows to millions of rows.
    """
    if only_id is not None:
        row: sqlite3.Row | None = conn.execute(
            f"SELECT {_DUE_COLUMNS} FROM outbox WHERE id = ? AND url IS NOT NULL"  # noqa: S608
            " AND ((status = 'pending' AND next_attempt_at <= ?) OR (status = 'sending' AND lease_until <= ?))",
            (only_id, stamp, stamp),
        ).fetchone()
        return row
    pending = conn.execute(
        f"SELECT {_DUE_COLUMNS} FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?"  # noqa: S608
        " AND url IS NOT NULL ORDER BY next_attempt_at, id LIMIT 1",
        (stamp,),
    ).fetchone()
    stale = conn.execute(
        f"SELECT {_DUE_COLUMNS} FROM outbox WHERE status = 'sending' AND lease_until <= ?"  # noqa: S608
        " AND url IS NOT NULL ORDER BY next_attempt_at, id LIMIT 1",
        (stamp,),
    ).fetchone()
    found = [r for r in (pending, stale) if r is not None]
    return min(found, key=lambda r: (r["next_attempt_at"], r["id"])) if found else None


def _interrupted(conn: sqlite3.Connection, row: sqlite3.Row, stamp: str) -> bool:
    """Count the attempt whose worker died before recording it; True when that was the last one."""
    error = (
        f"Attempt {row['attempts']} was interrupted: worker {row['locked_by']} did not record an outcome "
        f"before its lease expired at {row['lease_until']}. The buyer may or may not have received the document."
    )
    dead = int(row["attempts"]) >= MAX_ATTEMPTS
    conn.execute(
        "INSERT INTO delivery_attempts (outbox_id, attempt, worker_id, url, at, outcome, error)"
        " VALUES (?, ?, ?, ?, ?, 'interrupted', ?)",
        (row["id"], row["attempts"], row["locked_by"] or "", row["url"], row["lease_until"], error),
    )
    if dead:
        conn.execute(
            "UPDATE outbox SET status = 'dead', lease_until = NULL, locked_by = NULL, last_error = ?,"
            " last_http_status = NULL, last_cxml_status = NULL, updated_at = ? WHERE id = ?",
            (f"{error} No attempts left ({MAX_ATTEMPTS} of {MAX_ATTEMPTS}).", stamp, row["id"]),
        )
    return dead


def _send(session: requests.Session, claim: _Claim, timeout: float) -> _Outcome:
    """POST the document and classify what came back. Never raises for a network problem."""
    url = claim.url
    try:
        with faults.post(  # faults: session.post, or a raw socket for a truncated body
            session,
            url,
            data=claim.body,
            headers=claim.headers or {"Content-Type": CONTENT_TYPE},
            timeout=timeout,
            allow_redirects=False,
            stream=True,
        ) as response:
            content = _read_capped(response)
    except requests.RequestException as exc:
        return _Outcome("retry", _network_error(url, exc, timeout))
    return _classify(url, response, content)


def _read_capped(response: requests.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(64 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_RESPONSE_BYTES:
            break
    return b"".join(chunks)[:MAX_RESPONSE_BYTES]


def _network_error(url: str, exc: requests.RequestException, timeout: float) -> str:
    """What went wrong before an answer came back, in words a person can act on."""
    timed_out = f"No answer from {url} within {timeout:g} s (timeout)."
    if isinstance(exc, requests.Timeout):
        return timed_out
    causes = _causes(exc)
    for cause in causes:
        if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == errno.ECONNREFUSED:
            return f"Connection refused by {url}: is the buyer's server listening there?"
        if isinstance(cause, ConnectionResetError) or getattr(cause, "errno", None) == errno.ECONNRESET:
            return f"Connection reset by {url} before it answered."
        if isinstance(cause, socket.gaierror):
            return f"Could not resolve the host of {url}: {cause}"
    # A read timeout while streaming the answer's body comes wrapped in a ConnectionError.
    if any(isinstance(c, (TimeoutError, urllib3.exceptions.ReadTimeoutError)) for c in causes):
        return timed_out
    text = str(exc)
    if not isinstance(exc, requests.ConnectionError):
        return f"Could not send to {url}: {text}"
    if "refused" in text.lower():
        return f"Connection refused by {url}: is the buyer's server listening there?"
    if "RemoteDisconnected" in text or "aborted" in text.lower():
        return f"Connection closed by {url} before it answered: {text}"
    return f"Could not connect to {url}: {text}"


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (requests → urllib3 → socket errors)."""
    seen: list[BaseException] = []
    stack: list[BaseException] = [exc]
    while stack and len(seen) < 20:
        current = stack.pop()
        if any(current is s for s in seen):
            continue
        seen.append(current)
        wrapped = [*current.args, getattr(current, "reason", None), current.__cause__, current.__context__]
        stack.extend(w for w in wrapped if isinstance(w, BaseException))
    return seen


def _classify(url: str, response: requests.Response, content: bytes) -> _Outcome:
    """The outcome of an attempt that got an HTTP answer."""
    status = response.status_code
    content_type = response.headers.get("Content-Type", "")
    outcome = _Outcome("retry", http_status=status, response=content, response_type=content_type)
    charset = _CHARSET.search(content_type)
    found = _read_status(content, charset.group(1) if charset else None)
    if isinstance(found, tuple):
        code, text, message, payload_id = found
        outcome.cxml_status, outcome.response_doc_type, outcome.response_payload_id = code, "Status", payload_id
        described = f"cXML {code} {text}".rstrip() + (f": {message}" if message else "")
    else:
        described = found
    if status >= 300:
        reason = f"HTTP {status} {response.reason or ''}".rstrip()
        if 300 <= status < 400:
            where = response.headers.get("Location")
            outcome.error = f"{reason} from {url}: redirects are not followed" + (
                f" (it points to {where}; set the buyer's endpoint to that URL)." if where else "."
            )
        elif isinstance(found, tuple):
            outcome.error = f"{reason} from {url} ({described})."
        else:
            outcome.error = f"{reason} from {url}: {_excerpt(content, 200) or 'empty body'}"
        return outcome
    if not isinstance(found, tuple):
        outcome.error = f"The answer is not cXML: {found} (HTTP {status} from {url})."
        return outcome
    code = found[0]
    if 200 <= code < 300:
        outcome.kind = "delivered"
    elif 400 <= code < 500:
        outcome.kind = "failed"
        outcome.error = f"The buyer refused the document: {described}"
    elif code >= 500:
        outcome.error = described
    else:
        outcome.error = f"{described}: a Status code that is neither success (2xx) nor refusal (4xx); will retry."
    return outcome


def _read_status(content: bytes, charset: str | None) -> tuple[int, str, str, str | None] | str:
    """(code, text, message, payloadID) of the answer's Response/Status, or why there is none."""
    try:
        document = parse_document(content, charset=charset)
    except CxmlError as exc:  # the parser speaks of "the request"; here it is the buyer's answer
        return _REQUEST.sub("it ", exc.message)
    root = document.root
    if root.tag != "cXML":
        return f"the root element is <{root.tag}>, not <cXML> ({_excerpt(content, 200)})"
    status = root.find("Response/Status")
    if status is None:
        return "it has no Response/Status element"
    raw_code = (status.get("code") or "").strip()
    if not raw_code.isdigit():
        return f"its Status code {raw_code!r} is not a number"
    message = " ".join("".join(status.itertext()).split())
    return int(raw_code), (status.get("text") or "").strip(), message, root.get("payloadID")


def _excerpt(content: bytes, chars: int) -> str:
    text = journal.decode(content)
    return text if len(text) <= chars else text[:chars] + "…"


def _record(conn: sqlite3.Connection, claim: _Claim, worker_id: str, outcome: _Outcome, duration_ms: int) -> None:
    """Write the attempt: journal out (+ in), delivery_attempts, and the row's new state."""
    now = clock.now()
    stamp = clock.timestamp(now)
    kind = outcome.kind
    next_attempt_at: str | None = None
    if kind == "retry" and claim.attempt >= MAX_ATTEMPTS:
        kind = "dead"
    elif kind == "retry":
        next_attempt_at = clock.timestamp(now + timedelta(seconds=backoff_seconds(claim.attempt)))
    advisories = [f"attempt {claim.attempt} of {MAX_ATTEMPTS}"]
    if claim.fault:  # faults
        advisories.append(claim.fault)
    if outcome.error:
        advisories.append(outcome.error)
    if next_attempt_at:
        advisories.append(f"next attempt at {next_attempt_at}")
    elif kind == "dead":
        advisories.append(f"no attempts left: the document is dead after {MAX_ATTEMPTS} attempts")
    with transaction(conn):
        out_id = journal.record(
            conn,
            journal.Entry(
                direction="out",
                doc_type=claim.doc_type,
                endpoint=claim.url,
                body=claim.body,
                account_id=claim.account_id,
                http_status=outcome.http_status,
                cxml_status=outcome.cxml_status,
                payload_id=claim.payload_id,
                content_type=(claim.headers or {}).get("Content-Type", CONTENT_TYPE),  # faults
                advisories=tuple(advisories),
            ),
        )
        if outcome.response is not None:
            journal.record(
                conn,
                journal.Entry(
                    direction="in",
                    doc_type=outcome.response_doc_type,
                    endpoint=claim.url,
                    body=outcome.response,
                    account_id=claim.account_id,
                    http_status=outcome.http_status,
                    cxml_status=outcome.cxml_status,
                    payload_id=outcome.response_payload_id,
                    content_type=outcome.response_type,
                ),
                in_reply_to=out_id,
            )
        conn.execute(
            "INSERT INTO delivery_attempts (outbox_id, attempt, worker_id, url, at, outcome, http_status, cxml_status,"
            " error, duration_ms, response, journal_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                claim.id,
                claim.attempt,
                worker_id,
                claim.url,
                claim.at,
                kind,
                outcome.http_status,
                outcome.cxml_status,
                outcome.error,
                duration_ms,
                None
                if outcome.response is None
                else journal.mask_secrets(_excerpt(outcome.response, RESPONSE_EXCERPT_CHARS)),
                out_id,
            ),
        )
        # Only while the claim is still ours: a resend or an expired lease may have moved the row on.
        conn.execute(
            "UPDATE outbox SET status = ?, next_attempt_at = coalesce(?, next_attempt_at), lease_until = NULL,"
            " locked_by = NULL, last_error = ?, last_http_status = ?, last_cxml_status = ?,"
            " delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END, updated_at = ?"
            " WHERE id = ? AND status = 'sending' AND locked_by = ? AND attempts = ?",
            (
                "pending" if kind == "retry" else kind,
                next_attempt_at,
                outcome.error,
                outcome.http_status,
                outcome.cxml_status,
                kind,
                stamp,
                stamp,
                claim.id,
                worker_id,
                claim.attempt,
            ),
        )
    if kind != "delivered":
        log.info("outbox %s (%s %s) attempt %s: %s", claim.id, claim.doc_type, claim.payload_id, claim.attempt, kind)


# --- the background thread ----------------------------------------------------------------------


class Dispatcher:
    """A daemon thread that delivers due rows; one per server process."""

    def __init__(
        self,
        database_path: Path,
        *,
        interval: float = 0.5,
        worker_id: str | None = None,
        retention: journal.Retention | None = None,
        session_keep_days: float = 0,
        quote_keep_days: float = 0,
    ) -> None:
        self.database_path = Path(database_path)
        self.interval = interval
        self.worker_id = worker_id
        self.retention = retention or journal.Retention()  # retention: pruned between deliveries
        self.session_keep_days = session_keep_days  # expired shopping sessions, pruned likewise
        self.quote_keep_days = quote_keep_days  # and returned carts' quotes
        self._next_prune = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error: str | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="outbox-dispatcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the outbox dispatcher did not stop within %s s (an attempt is still running)", timeout)
            else:
                self._thread = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        worker_id = self.worker_id or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        conn: sqlite3.Connection | None = None
        with requests.Session() as http:
            try:
                while not self._stop.is_set():
                    busy = False
                    try:
                        if conn is None:
                            conn = connect(self.database_path)
                        clock.sync(conn)
                        # one attempt per pass, so that stop() waits for one attempt at most
                        busy = deliver_due(conn, worker_id=worker_id, limit=1, http=http) > 0
                        busy = self._prune(conn) or busy  # retention
                        self._last_error = None
                    except Exception as exc:
                        self._report(exc)
                        if conn is not None:
                            conn.close()
                            conn = None
                    if not busy:
                        self._stop.wait(self.interval)
            finally:
                if conn is not None:
                    conn.close()

    def _prune(self, conn: sqlite3.Connection) -> bool:
        """Retention: one bounded batch of the journal, of expired sessions and of old quotes every
        PRUNE_EVERY_SECONDS; True while behind."""
        active = self.retention.active or self.session_keep_days > 0 or self.quote_keep_days > 0
        if not active or time.monotonic() < self._next_prune:
            return False
        batch = journal.PRUNE_BATCH
        behind = journal.prune(conn, self.retention) >= batch
        behind = sessions.prune(conn, self.session_keep_days, batch=batch) >= batch or behind
        behind = sessions.prune_quotes(conn, self.quote_keep_days, batch=batch) >= batch or behind
        self._next_prune = 0.0 if behind else time.monotonic() + journal.PRUNE_EVERY_SECONDS
        return behind

    def _report(self, exc: Exception) -> None:
        """Log an error with its traceback once, not again on every pass while it lasts."""
        message = f"{type(exc).__name__}: {exc}"
        if message == self._last_error:
            log.debug("outbox pass failed again: %s", message)
        else:
            log.exception("outbox pass failed; the dispatcher goes on")
        self._last_error = message
