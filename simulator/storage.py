"""Every table of the simulator, created in one place; the tables reset empties."""

from __future__ import annotations

import sqlite3

from . import db, faults, outbox
from .demo_buyer import store as demo_buyer  # demo buyer
from .orders import emails, store
from .scenarios import store as scenarios

SCHEMAS = (
    *(db.SCHEMA, outbox.SCHEMA, store.SCHEMA, emails.SCHEMA, scenarios.SCHEMA, faults.SCHEMA),
    demo_buyer.SCHEMA,  # demo buyer
)

# children before parents, so foreign keys never stand in the way
RUNTIME_TABLES = ("delivery_attempts", "outbox", "emails", *faults.TABLES, *store.TABLES, *db.RUNTIME_TABLES)


def initialise(conn: sqlite3.Connection) -> None:
    for schema in SCHEMAS[1:]:
        conn.executescript(schema)
    db.initialise(conn)
