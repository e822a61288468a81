"""What every cXML request reads and an operator seldom changes, kept per process between requests.

A setup request used to read the account, the user, whether its endpoint has live faults and
whether any scenario is active: four queries, and after the other worker's last commit (SQLite then
drops a connection's page cache) several page reads each. These change only when someone changes
accounts, users, faults or scenarios, so triggers on those tables bump one counter in ``meta``
(``config_generation``, a random token: :func:`install`), whichever process or connection writes, and a
request reads only that. A value remembered under another token is never used. A new user is the
one change that needs no new token: a user is remembered only once found, and no remembered lookup
can find a different user after an insert (one user per account and email: a unique index) — so
a load test that sends a new email in every request keeps the memo.

The memo is on only inside :func:`request` (faults.FaultMiddleware wraps each cXML POST in it); a
caller outside one — the admin API, the console, the dispatcher, a test calling a function
directly — reads the database as before. Only what was found is remembered: a lookup that finds
nothing asks the database again next time.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Final, TypeVar

T = TypeVar("T")

META_KEY: Final = "config_generation"
#: Entries kept at most; past it the memo starts again (users are created on first sight).
LIMIT: Final = 10_000

#: The tables whose changes make the memo start again, and which changes.
WATCHED: Final = {
    "accounts": ("INSERT", "UPDATE", "DELETE"),
    "users": ("UPDATE", "DELETE"),  # not INSERT: see above
    "faults": ("INSERT", "UPDATE", "DELETE"),
    "scenarios": ("INSERT", "UPDATE", "DELETE"),
}

_local = threading.local()
_memo: dict[tuple[str, Hashable], tuple[str, object]] = {}  # (database, key) → (generation, value)


def install(conn: sqlite3.Connection) -> None:
    """Create the counter and the triggers that change it (storage.initialise, after the tables)."""
    new = "lower(hex(randomblob(8)))"  # random: a new database never repeats an old one's value
    conn.execute(f"INSERT OR IGNORE INTO meta (key, value) VALUES (?, {new})", (META_KEY,))  # noqa: S608
    conn.execute("DROP TRIGGER IF EXISTS users_insert_generation")  # data dirs made before it was left out
    for table, events in WATCHED.items():
        for event in events:
            trigger = (
                f"CREATE TRIGGER IF NOT EXISTS {table}_{event.lower()}_generation AFTER {event} ON {table}"  # noqa: S608
                f" BEGIN UPDATE meta SET value = {new} WHERE key = '{META_KEY}'; END"
            )
            conn.execute(trigger)  # table names and SQL: this module's constants


def generation(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (META_KEY,)).fetchone()
    return str(row[0]) if row else None


@contextmanager
def request(connect: Callable[[], sqlite3.Connection]) -> Iterator[None]:
    """Lookups inside use what is remembered for the database under its current generation
    (or read the database, when it cannot be asked for the generation: the request then says why)."""
    database = current = None
    try:
        conn = connect()
        database = getattr(conn, "writer_lock_path", None)  # one per database file (db.connect)
        current = generation(conn) if database else None
    except Exception:  # the request itself reports what is wrong with the database
        current = None
    _local.current = (database, current) if current else None
    try:
        yield
    finally:
        _local.current = None


def lookup(key: Hashable, load: Callable[[], T | None]) -> T | None:
    """``load()``, or what it gave under the current generation; ``None`` is never remembered."""
    current: tuple[str, str] | None = getattr(_local, "current", None)
    if current is None:
        return load()
    database, generation_now = current
    found = _memo.get((database, key))
    if found is not None and found[0] == generation_now:
        return found[1]  # type: ignore[return-value]
    value = load()
    if value is not None:
        if len(_memo) >= LIMIT:
            _memo.clear()
        _memo[(database, key)] = (generation_now, value)
    return value


def forget() -> None:
    """Drop everything remembered (tests; a reset runs the triggers anyway)."""
    _memo.clear()
