"""Orders in SQLite: the order, its lines with their outcome, its shipments, and queries."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from .. import clock
from ..db import select_page
from ..errors import NotFound

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    payload_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    order_date TEXT NOT NULL,
    status TEXT NOT NULL,
    test INTEGER NOT NULL,
    currency TEXT NOT NULL,
    total TEXT,
    ship_to TEXT,
    bill_to TEXT,
    payment TEXT,
    followup_url TEXT,
    user_email TEXT,
    reject_code TEXT,
    reject_message TEXT,
    refers_to TEXT,
    answer_code INTEGER NOT NULL,
    answer_http INTEGER NOT NULL,
    answer_body BLOB NOT NULL,
    advisories TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    -- the header's <Extrinsic name="CostCenter">, for the spend dashboard: '' when there is none,
    -- NULL for an order taken before this column (the dashboard then reads the request in the journal)
    cost_center TEXT
);
CREATE INDEX IF NOT EXISTS orders_po ON orders (account_id, order_id);
CREATE INDEX IF NOT EXISTS orders_created ON orders (created_at);

CREATE TABLE IF NOT EXISTS order_lines (
    order_pk TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_number INTEGER NOT NULL,
    supplier_part_id TEXT NOT NULL,
    aux_id TEXT,
    description TEXT NOT NULL DEFAULT '',
    unit_of_measure TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    ordered_unit_price TEXT,
    unit_price TEXT,
    accepted INTEGER NOT NULL,
    backordered INTEGER NOT NULL,
    rejected INTEGER NOT NULL,
    reject_code TEXT,
    reject_message TEXT,
    confirm_id TEXT,
    seller TEXT,
    delivery_date TEXT,  -- promised in the order's ConfirmationRequest; NULL for a line with none
    PRIMARY KEY (order_pk, line_number)
);

CREATE TABLE IF NOT EXISTS shipments (
    shipment_id TEXT PRIMARY KEY,
    order_pk TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    confirm_id TEXT NOT NULL,
    carrier TEXT NOT NULL,
    tracking_number TEXT NOT NULL,
    tracking_url TEXT NOT NULL,
    ship_at TEXT NOT NULL,
    delivery_date TEXT NOT NULL,
    lines TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS shipments_order ON shipments (order_pk);
"""

TABLES = ("shipments", "order_lines", "orders")
_JSON = ("ship_to", "bill_to", "payment", "advisories")


def _order_json(row: sqlite3.Row) -> dict[str, Any]:
    data = {k: row[k] for k in row.keys() if k != "answer_body"}  # noqa: SIM118 - sqlite3.Row
    for key in _JSON:
        data[key] = json.loads(data[key]) if data[key] else None
    data["test"] = bool(data["test"])
    return data


@dataclass(frozen=True)
class StoredAnswer:
    code: int
    http: int
    body: bytes
    order_pk: str


def by_payload_id(conn: sqlite3.Connection, payload_id: str) -> StoredAnswer | None:
    row = conn.execute(
        "SELECT id, answer_code, answer_http, answer_body FROM orders WHERE payload_id = ?", (payload_id,)
    ).fetchone()
    if row is None:
        return None
    return StoredAnswer(row["answer_code"], row["answer_http"], bytes(row["answer_body"]), row["id"])


def by_order_id(conn: sqlite3.Connection, account_id: str, order_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT * FROM orders WHERE account_id = ? AND order_id = ? ORDER BY created_at", (account_id, order_id)
    )
    return [_order_json(r) for r in rows]


def insert_order(conn: sqlite3.Connection, values: dict[str, Any]) -> None:
    row = dict(values)
    for key in _JSON:
        if key in row:
            row[key] = json.dumps(row[key]) if row[key] is not None else None
    row.setdefault("created_at", clock.timestamp())
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    conn.execute(f"INSERT INTO orders ({columns}) VALUES ({marks})", list(row.values()))  # noqa: S608


def insert_lines(conn: sqlite3.Connection, rows: list[dict[str, Any]]) -> None:
    """Insert an order's lines in one statement (every row has the same keys)."""
    if not rows:
        return
    columns = ", ".join(rows[0])
    marks = ", ".join("?" for _ in rows[0])
    conn.executemany(
        f"INSERT INTO order_lines ({columns}) VALUES ({marks})",  # noqa: S608
        [list(row.values()) for row in rows],
    )


def insert_shipment(conn: sqlite3.Connection, values: dict[str, Any]) -> None:
    row = {**values, "lines": json.dumps(values["lines"])}
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    conn.execute(f"INSERT INTO shipments ({columns}) VALUES ({marks})", list(row.values()))  # noqa: S608


def set_status(conn: sqlite3.Connection, order_pk: str, status: str) -> None:
    conn.execute("UPDATE orders SET status = ? WHERE id = ?", (status, order_pk))


def get_order(conn: sqlite3.Connection, order_pk: str) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM orders WHERE id = ?", (order_pk,)).fetchone()
    if row is None:
        raise NotFound("order", order_pk)
    order = _order_json(row)
    order["lines"] = [
        dict(r) for r in conn.execute("SELECT * FROM order_lines WHERE order_pk = ? ORDER BY line_number", (order_pk,))
    ]
    order["shipments"] = []
    for r in conn.execute("SELECT * FROM shipments WHERE order_pk = ? ORDER BY ship_at, shipment_id", (order_pk,)):
        shipment = dict(r)
        shipment["lines"] = json.loads(shipment["lines"])
        shipment["shipped"] = shipment["ship_at"] <= clock.timestamp()
        order["shipments"].append(shipment)
    return order


def list_orders(
    conn: sqlite3.Connection,
    *,
    account_id: str | None = None,
    order_id: str | None = None,
    status: str | None = None,
    user_email: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    rows, total = select_page(
        conn,
        "orders",
        {"account_id": account_id, "order_id": order_id, "status": status, "user_email": user_email},
        order_by="created_at DESC, id DESC",
        limit=limit,
        offset=offset,
    )
    return [_order_json(r) for r in rows], total
