"""Time as the simulator sees it: real time plus an offset that tests and QA can move.

``POST /__admin/clock/advance`` stores the offset in the database (table ``meta``) so every worker
process shares it; :func:`sync` loads it, and runs at the start of every request and every outbox
pass. Everything that schedules or stamps asks :func:`now`.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

_offset = timedelta()
META_KEY = "clock_offset_seconds"


def now() -> datetime:
    return datetime.now(UTC) + _offset


def offset_seconds() -> float:
    return _offset.total_seconds()


def timestamp(moment: datetime | None = None) -> str:
    """ISO 8601 with milliseconds and an offset, as Amazon stamps its documents (protocol.md §3)."""
    moment = moment or now()
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def sync(conn: sqlite3.Connection) -> None:
    """Load the shared offset from the database."""
    global _offset
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (META_KEY,)).fetchone()
    _offset = timedelta(seconds=float(row[0])) if row else timedelta()


def advance(conn: sqlite3.Connection, seconds: float) -> datetime:
    """Move the simulator's clock forward (never back) for every worker; returns the new now."""
    if seconds < 0:
        raise ValueError("the clock only moves forward")
    sync(conn)
    total = offset_seconds() + seconds
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (META_KEY, repr(total)),
    )
    sync(conn)
    return now()


def reset(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM meta WHERE key = ?", (META_KEY,))
    sync(conn)
