"""The message journal: every document in and out, with its advisories, secrets masked."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from . import clock
from .db import Total, count_at_most, select_page, transaction, where_clause
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
    "before",
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
    before: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], Total]:
    """Entries newest first; every criterion given must hold (``since``/``until`` are ISO 8601 times,
    ``contains`` a text the body contains, ``before`` an entry id: only older entries — the way to
    page deep into a big journal). The total is counted up to db.COUNT_LIMIT.

    ``contains`` reads bodies, so it looks at the newest CONTAINS_WINDOW entries (before ``before``
    when given) and no further: a search of a million-row journal stays a bounded query.
    """
    criteria = {
        "doc_type": doc_type,
        "direction": direction,
        "account_id": account_id,
        "session_id": session_id,
        "endpoint": endpoint,
        "payload_id": payload_id,
        "scenario": scenario,
        "http_status": http_status,
        "cxml_status": cxml_status,
    }
    conditions = _conditions(conn, since=since, until=until, contains=contains, before=before)
    rows, total = select_page(
        conn,
        "journal",
        criteria,
        columns=_COLUMNS,
        order_by="id DESC",
        limit=limit,
        offset=offset,
        conditions=conditions,
    )
    return [_summary(r) for r in rows], total


#: How many of the newest entries a ``contains`` search reads.
CONTAINS_WINDOW = 10_000


def _conditions(
    conn: sqlite3.Connection, *, since: str | None, until: str | None, contains: str | None, before: int | None
) -> list[tuple[str, Any]]:
    conditions: list[tuple[str, Any]] = [
        ("created_at >= ?", _utc(since)),
        ("created_at <= ?", _utc(until)),
        ("id < ?", before),
    ]
    if contains:
        newest = before - 1 if before is not None else conn.execute("SELECT max(id) FROM journal").fetchone()[0]
        conditions.append(("id > ?", (newest or 0) - CONTAINS_WINDOW))
        conditions.append(("instr(body, ?) > 0", contains))
    return conditions


def count(conn: sqlite3.Connection, **criteria: Any) -> int:
    """The exact number of entries meeting the criteria of :func:`search` (for verifications)."""
    conditions = _conditions(
        conn,
        since=criteria.pop("since", None),
        until=criteria.pop("until", None),
        contains=criteria.pop("contains", None),
        before=criteria.pop("before", None),
    )
    where, params = where_clause(criteria, conditions)
    return int(conn.execute(f"SELECT count(*) FROM journal {where}", params).fetchone()[0])  # noqa: S608


def _utc(moment: str | None) -> str | None:
    """An ISO 8601 time as the journal stores it (UTC, milliseconds), so text comparison works."""
    if not moment:
        return None
    try:
        return clock.timestamp(datetime.fromisoformat(moment.replace("Z", "+00:00")))
    except ValueError as exc:
        raise AdminError(400, "invalid_time", f"{moment!r} is not an ISO 8601 time with an offset.") from exc


def unmatched(conn: sqlite3.Connection, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], Total]:
    """Inbound requests that no scenario rule matched, newest first, with their bodies."""
    where = "direction = 'in' AND scenario IS NULL AND doc_type NOT IN ('unknown', 'Status')"  # index journal_unmatched
    total = count_at_most(conn, f"FROM journal WHERE {where}", [])
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


# --- retention ------------------------------------------------------------------------------------
# A long run journals every request; --journal-max-rows / --journal-max-days bound the table so that
# it cannot fill the disk. Each server process prunes from its outbox dispatcher thread, a bounded
# batch per short transaction, so neither requests nor deliveries wait long for the write lock.

PRUNE_BATCH = 500  # rows deleted per transaction
PRUNE_BATCH_MAX = 900  # bound parameters stay below SQLite's historical limit of 999
PRUNE_EVERY_SECONDS = 10.0  # how often a dispatcher prunes (wall time)
ANSWER_WINDOW = 10_000  # answers are looked for this many ids past their request
_PRUNED_KEY = "journal_pruned"  # meta: rows pruned since the database was made


@dataclass(frozen=True)
class Retention:
    """How much of the journal to keep: the newest ``max_rows`` entries and those younger than
    ``max_days`` days on the simulator's clock; 0 means no limit of that kind."""

    max_rows: int = 0
    max_days: float = 0

    @property
    def active(self) -> bool:
        return self.max_rows > 0 or self.max_days > 0

    def describe(self) -> str:
        parts = []
        if self.max_rows > 0:
            parts.append(f"at most the newest {self.max_rows} entries")
        if self.max_days > 0:
            parts.append(f"none older than {self.max_days:g} days")
        return "Keeps " + ", ".join(parts) + "." if parts else "Keeps every entry (no retention limit set)."


_PROTECTED = (
    # The journal entries of delivery attempts of documents not delivered yet: the console and the
    # admin API show them with the attempts while the document is still being worked on.
    "SELECT a.journal_id FROM delivery_attempts a JOIN outbox o ON o.id = a.outbox_id"
    " WHERE o.status IN ('held', 'pending', 'sending') AND a.journal_id IS NOT NULL"
)


def prune(conn: sqlite3.Connection, retention: Retention, *, batch: int = PRUNE_BATCH) -> int:
    """Delete up to ``batch`` of the oldest entries beyond ``retention``; returns how many went.

    Never deletes an entry of a document still waiting in the outbox (nor the answer to one),
    and deletes an answer with its request, so that no ``in_reply_to`` is left pointing nowhere.
    One short ``BEGIN IMMEDIATE`` transaction; call it again while it returns ``batch``.
    """
    if not retention.active or batch <= 0:
        return 0
    batch = min(batch, PRUNE_BATCH_MAX)
    conditions: list[str] = []
    params: list[Any] = []
    with transaction(conn):
        if retention.max_rows > 0:
            newest = conn.execute("SELECT max(id) FROM journal").fetchone()[0]
            if newest is not None and newest > retention.max_rows:
                conditions.append("id <= ?")
                params.append(newest - retention.max_rows)
        if retention.max_days > 0:
            conditions.append("created_at < ?")
            params.append(clock.timestamp(clock.now() - timedelta(days=retention.max_days)))
        if not conditions:
            return 0
        protected = (
            f"SELECT journal_id FROM ({_PROTECTED})"  # noqa: S608
            f" UNION SELECT j.id FROM journal j WHERE j.in_reply_to IN ({_PROTECTED})"
        )
        ids = [
            row[0]
            for row in conn.execute(
                f"SELECT id FROM journal WHERE ({' OR '.join(conditions)}) AND id NOT IN ({protected})"  # noqa: S608
                " ORDER BY id LIMIT ?",
                [*params, batch],
            )
        ]
        if not ids:
            return 0
        # An answer is written with its request or right after it: look for answers just beyond.
        marks = ",".join("?" * len(ids))
        answers = [
            row[0]
            for row in conn.execute(
                f"SELECT id FROM journal WHERE id > ? AND id <= ? AND in_reply_to IN ({marks})",  # noqa: S608
                [ids[0], ids[-1] + ANSWER_WINDOW, *ids],
            )
        ]
        doomed = sorted(set(ids) | set(answers))
        deleted = 0
        for start in range(0, len(doomed), PRUNE_BATCH_MAX):
            chunk = doomed[start : start + PRUNE_BATCH_MAX]
            deleted += conn.execute(
                f"DELETE FROM journal WHERE id IN ({','.join('?' * len(chunk))})",  # noqa: S608
                chunk,
            ).rowcount
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value",
            (_PRUNED_KEY, deleted),
        )
        return int(deleted)


def prune_all(conn: sqlite3.Connection, retention: Retention, *, batch: int = PRUNE_BATCH, rounds: int = 20) -> int:
    """:func:`prune` until nothing is left beyond the retention or ``rounds`` batches are done."""
    total = 0
    for _ in range(rounds):
        done = prune(conn, retention, batch=batch)
        total += done
        if done < batch:
            break
    return total


def retention_status(conn: sqlite3.Connection, retention: Retention) -> dict[str, Any]:
    """The setting and the journal's size, for the admin API."""
    row = conn.execute("SELECT count(*), min(created_at) FROM journal").fetchone()
    pruned = conn.execute("SELECT value FROM meta WHERE key = ?", (_PRUNED_KEY,)).fetchone()
    return {
        "max_rows": retention.max_rows,
        "max_days": retention.max_days,
        "active": retention.active,
        "description": retention.describe(),
        "entries": int(row[0]),
        "oldest_at": row[1],
        "pruned_total": int(pruned[0]) if pruned else 0,
        "batch": PRUNE_BATCH,
        "every_seconds": PRUNE_EVERY_SECONDS,
    }
