"""The message journal: every document in and out, with its advisories, secrets masked."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import clock
from .db import select_page, transaction
from .errors import AdminError, NotFound

MASK = "****"
_SHARED_SECRET = re.compile(r"(<SharedSecret\b[^>]*>)(.*?)(</SharedSecret\s*>)", re.IGNORECASE | re.DOTALL)


_PCARD_NUMBER = re.compile(r"""(<PCard\b[^>]*?\bnumber\s*=\s*)(["'])([^"']*)\2""", re.IGNORECASE)


def _last_four(match: re.Match[str]) -> str:
    number = match.group(3)
    return f"{match.group(1)}{match.group(2)}{'*' * max(len(number) - 4, 0)}{number[-4:]}{match.group(2)}"


def mask_secrets(body: str) -> str:
    """Replace every SharedSecret's content with ``****`` and all but the last four digits of a
    PCard number with ``*``."""
    body = _SHARED_SECRET.sub(lambda m: m.group(1) + MASK + m.group(3), body)
    return _PCARD_NUMBER.sub(_last_four, body)


def decode(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("latin-1")


@dataclass(frozen=True)
class Entry:
    direction: str
    doc_type: str
    endpoint: str
    body: bytes
    account_id: str | None = None
    session_id: str | None = None
    http_status: int | None = None
    cxml_status: int | None = None
    payload_id: str | None = None
    content_type: str = ""
    advisories: tuple[str, ...] = ()
    scenario: str | None = None  # the scenario rule that fired for this request


def record(conn: sqlite3.Connection, entry: Entry, *, in_reply_to: int | None = None) -> int:
    cursor = conn.execute(
        "INSERT INTO journal (direction, doc_type, account_id, session_id, endpoint, http_status, cxml_status,"
        " payload_id, in_reply_to, content_type, advisories, body, created_at, scenario)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            entry.direction,
            entry.doc_type,
            entry.account_id,
            entry.session_id,
            entry.endpoint,
            entry.http_status,
            entry.cxml_status,
            entry.payload_id,
            in_reply_to,
            entry.content_type,
            json.dumps(list(entry.advisories)),
            mask_secrets(decode(entry.body)),
            clock.timestamp(),
            entry.scenario,
        ),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def record_exchange(conn: sqlite3.Connection, request: Entry, response: Entry) -> tuple[int, int]:
    """A request and the synchronous answer to it, linked by ``in_reply_to``, in one transaction."""
    if conn.in_transaction:
        first = record(conn, request)
        return first, record(conn, response, in_reply_to=first)
    with transaction(conn):
        first = record(conn, request)
        return first, record(conn, response, in_reply_to=first)


_COLUMNS = (
    "id, direction, doc_type, account_id, session_id, endpoint, http_status, cxml_status, payload_id,"
    " in_reply_to, content_type, advisories, created_at, scenario"
)


def _summary(row: sqlite3.Row) -> dict[str, Any]:
    item = dict(row)
    item["advisories"] = json.loads(item["advisories"])
    return item


CRITERIA = (
    "type",
    "direction",
    "account_id",
    "session_id",
    "endpoint",
    "payload_id",
    "scenario",
    "http_status",
    "cxml_status",
    "since",
    "until",
    "contains",
)


def search(
    conn: sqlite3.Connection,
    *,
    doc_type: str | None = None,
    direction: str | None = None,
    account_id: str | None = None,
    session_id: str | None = None,
    endpoint: str | None = None,
    payload_id: str | None = None,
    scenario: str | None = None,
    http_status: int | None = None,
    cxml_status: int | None = None,
    since: str | None = None,
    until: str | None = None,
    contains: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Entries newest first; every criterion given must hold (``since``/``until`` are ISO 8601 times,
    ``contains`` a text the body contains)."""
    rows, total = select_page(
        conn,
        "journal",
        {
            "doc_type": doc_type,
            "direction": direction,
            "account_id": account_id,
            "session_id": session_id,
            "endpoint": endpoint,
            "payload_id": payload_id,
            "scenario": scenario,
            "http_status": http_status,
            "cxml_status": cxml_status,
        },
        columns=_COLUMNS,
        order_by="id DESC",
        limit=limit,
        offset=offset,
        conditions=[
            ("created_at >= ?", _utc(since)),
            ("created_at <= ?", _utc(until)),
            ("instr(body, ?) > 0", contains),
        ],
    )
    return [_summary(r) for r in rows], total


def _utc(moment: str | None) -> str | None:
    """An ISO 8601 time as the journal stores it (UTC, milliseconds), so text comparison works."""
    if not moment:
        return None
    try:
        return clock.timestamp(datetime.fromisoformat(moment.replace("Z", "+00:00")))
    except ValueError as exc:
        raise AdminError(400, "invalid_time", f"{moment!r} is not an ISO 8601 time with an offset.") from exc


def unmatched(conn: sqlite3.Connection, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Inbound requests that no scenario rule matched, newest first, with their bodies."""
    where = "direction = 'in' AND scenario IS NULL AND doc_type NOT IN ('unknown', 'Status')"
    total = conn.execute(f"SELECT count(*) FROM journal WHERE {where}").fetchone()[0]  # noqa: S608
    rows = conn.execute(
        f"SELECT {_COLUMNS}, body FROM journal WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",  # noqa: S608
        (limit, offset),
    )
    return [_summary(r) for r in rows], total


def get(conn: sqlite3.Connection, entry_id: int) -> dict[str, Any]:
    row = conn.execute(f"SELECT {_COLUMNS}, body FROM journal WHERE id = ?", (entry_id,)).fetchone()  # noqa: S608
    if row is None:
        raise NotFound("journal entry", str(entry_id))
    return _summary(row)
