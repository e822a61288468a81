"""Reset without restart: runtime state back to start, accounts back to the demo account."""

from __future__ import annotations

import sqlite3

from . import clock
from .accounts import ensure_demo_account
from .db import transaction
from .storage import RUNTIME_TABLES


def reset_runtime_state(conn: sqlite3.Connection) -> None:
    """Empty sessions, carts, quotes, orders, the outbox, emails, the journal, users and accounts;
    recreate the demo account and put the clock back.

    The catalogue is left as it is: it is derived from the seed and size and does not change.
    """
    with transaction(conn):
        for table in RUNTIME_TABLES:
            conn.execute(f"DELETE FROM {table}")  # noqa: S608 - table names are constants
        conn.execute("DELETE FROM sqlite_sequence WHERE name IN ('journal', 'outbox', 'delivery_attempts', 'emails')")
        ensure_demo_account(conn)
    clock.reset(conn)
