"""The message journal: every document in and out, with its advisories, secrets masked."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from . import clock
from .db import select_page
from .errors import NotFound

MASK = "****"
_SHARED_SECRET = re.compile(r"(<SharedSecret\b[^>]*>)(.*?)(</SharedSecret\s*>)", re.IGNORECASE | re.DOTALL)


def mask_secrets(body: str) -> str:
    """Replace every SharedSecret's content with ``****``."""
    return _SHARED_SECRET.sub(lambda m: m.group(1) + MASK + m.group(3), body)


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


def record(conn: sqlite3.Connection, entry: Entry, *, in_reply_to: int | None = None) -> int:
    cursor = conn.execute(
        "INSERT INTO journal (direction, doc_type, account_id, session_id, endpoint, http_status, cxml_status,"
        " payload_id, in_reply_to, content_type, advisories, body, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        ),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def record_exchange(conn: sqlite3.Connection, request: Entry, response: Entry) -> tuple[int, int]:
    """A request and the synchronous answer to it, linked by ``in_reply_to``."""
    first = record(conn, request)
    return first, record(conn, response, in_reply_to=first)


_COLUMNS = (
    "id, direction, doc_type, account_id, session_id, endpoint, http_status, cxml_status, payload_id,"
    " in_reply_to, content_type, advisories, created_at"
)


def _summary(row: sqlite3.Row) -> dict[str, Any]:
    item = dict(row)
    item["advisories"] = json.loads(item["advisories"])
    return item


def search(
    conn: sqlite3.Connection,
    *,
    doc_type: str | None = None,
    direction: str | None = None,
    account_id: str | None = None,
    session_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    rows, total = select_page(
        conn,
        "journal",
        {"doc_type": doc_type, "direction": direction, "account_id": account_id, "session_id": session_id},
        columns=_COLUMNS,
        order_by="id DESC",
        limit=limit,
        offset=offset,
    )
    return [_summary(r) for r in rows], total


def get(conn: sqlite3.Connection, entry_id: int) -> dict[str, Any]:
    row = conn.execute(f"SELECT {_COLUMNS}, body FROM journal WHERE id = ?", (entry_id,)).fetchone()  # noqa: S608
    if row is None:
        raise NotFound("journal entry", str(entry_id))
    return _summary(row)
