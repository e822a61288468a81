"""Reset without restart: everything back to start, or some parts of it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from . import clock, faults
from .accounts import ensure_demo_account
from .config import Config
from .db import transaction
from .demo_buyer import store as demo_buyer  # demo buyer
from .orders import store as orders
from .scenarios import store as scenarios

PARTS = {
    "journal": ("journal",),
    "orders": (*demo_buyer.TABLES, "delivery_attempts", "outbox", "emails", *orders.TABLES),  # demo buyer tables
    "sessions": ("cart_items", "quotes", "sessions"),
    "scenarios": (),
    "faults": (),
}
ACCOUNT_TABLES = ("users", "accounts")
SEQUENCES = ("journal", "outbox", "delivery_attempts", "emails")


def reset(conn: sqlite3.Connection, config: Config, parts: Iterable[str] | None = None) -> list[str]:
    """Put ``parts`` (all when None: also accounts, users and the clock) back as at start; returns them.

    Scenarios go back to the library, with only the ``--scenario`` ones active, each in ``Started``;
    the catalogue stays as it is: it is derived from the seed and size and does not change.
    """
    chosen = list(PARTS) if parts is None else list(parts)
    with transaction(conn):
        for part in chosen:
            for table in PARTS[part]:
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - table names are constants
        if "scenarios" in chosen:
            conn.execute("DELETE FROM scenarios WHERE source != 'library'")
            conn.execute("UPDATE scenarios SET active = 0, account_id = NULL")
            scenarios.reset(conn)
            for name in config.scenarios:
                scenarios.activate(conn, name)
        if "faults" in chosen:
            faults.clear(conn)
        if parts is None:
            for table in ACCOUNT_TABLES:
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - table names are constants
            conn.execute(f"DELETE FROM sqlite_sequence WHERE name IN ({', '.join('?' for _ in SEQUENCES)})", SEQUENCES)  # noqa: S608
            ensure_demo_account(conn, base_url=config.base_url)  # demo buyer: the buyer endpoint
    if parts is None:
        clock.reset(conn)
    return chosen
