"""Every table of the simulator, created in one place (reset.py says which parts reset empties)."""

from __future__ import annotations

import sqlite3

from . import db, faults, memo, outbox
from .demo_buyer import store as demo_buyer  # demo buyer
from .orders import emails, store
from .scenarios import store as scenarios

SCHEMAS = (
    *(db.SCHEMA, outbox.SCHEMA, store.SCHEMA, emails.SCHEMA, scenarios.SCHEMA, faults.SCHEMA),
    demo_buyer.SCHEMA,  # demo buyer
)


def initialise(conn: sqlite3.Connection) -> None:
    """Create every table; db.SCHEMA last, since db.initialise also adds columns to older databases;
    then the triggers of the per-process memo (memo.py)."""
    for schema in SCHEMAS[1:]:
        conn.executescript(schema)
    db.initialise(conn)
    memo.install(conn)
