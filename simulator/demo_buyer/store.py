"""The demo buyer's tables and what it keeps: requisitions, approvals, purchase orders, documents.

The three-way match is computed from the stored documents when a page asks for it, so a document
arriving late or twice (the same payloadID) never leaves a stale figure behind.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from .. import clock
from ..buyer import CartLine
from ..cxml.parse import parse_document
from ..cxml.read import text
from ..db import transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS demo_buyer_requisitions (
    id TEXT PRIMARY KEY,
    requester TEXT NOT NULL,
    status TEXT NOT NULL,
    currency TEXT NOT NULL,
    total TEXT NOT NULL,
    lines TEXT NOT NULL,
    buyer_cookie TEXT,
    cart_payload_id TEXT,
    order_id TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS demo_buyer_approvals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    requisition_id TEXT NOT NULL REFERENCES demo_buyer_requisitions (id) ON DELETE CASCADE,
    level INTEGER NOT NULL,
    approver TEXT NOT NULL,
    decision TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    decided_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS demo_buyer_orders (
    order_id TEXT PRIMARY KEY,
    requisition_id TEXT NOT NULL,
    payload_id TEXT NOT NULL,
    status TEXT NOT NULL,
    currency TEXT NOT NULL,
    total TEXT NOT NULL,
    lines TEXT NOT NULL,
    answer_code INTEGER,
    answer_text TEXT NOT NULL DEFAULT '',
    sent_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS demo_buyer_documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id TEXT,
    doc_type TEXT NOT NULL,
    payload_id TEXT,
    summary TEXT NOT NULL DEFAULT '',
    body BLOB NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS demo_buyer_documents_order ON demo_buyer_documents (order_id, id);
"""

# children before parents (reset empties them in this order)
TABLES = ("demo_buyer_documents", "demo_buyer_orders", "demo_buyer_approvals", "demo_buyer_requisitions")


@dataclass(frozen=True)
class Requisition:
    id: str
    requester: str
    status: str  # pending | pending_second | approved | rejected | ordered | order_failed
    currency: str
    total: Decimal
    lines: tuple[CartLine, ...]
    order_id: str | None
    created_at: str
    approvals: tuple[dict[str, Any], ...] = ()


def money(value: str | None) -> Decimal:
    try:
        return Decimal((value or "0").strip() or "0")
    except InvalidOperation:
        return Decimal(0)


def _line_json(line: CartLine) -> dict[str, Any]:
    return {
        "line_number": line.line_number,
        "quantity": line.quantity,
        "supplier_part_id": line.supplier_part_id,
        "supplier_part_auxiliary_id": line.supplier_part_auxiliary_id,
        "unit_price": line.unit_price,
        "currency": line.currency,
        "description": line.description,
        "unit_of_measure": line.unit_of_measure,
        "unspsc": line.unspsc,
    }


def _lines(data: str) -> tuple[CartLine, ...]:
    return tuple(CartLine(**item) for item in json.loads(data))


def line_total(line: CartLine) -> Decimal:
    return money(line.unit_price) * line.quantity


def create_requisition(
    conn: sqlite3.Connection,
    *,
    requester: str,
    lines: Sequence[CartLine],
    currency: str,
    buyer_cookie: str,
    cart_payload_id: str,
) -> str:
    """A requisition for the cart's lines, waiting for its first approval; its id."""
    req_id = f"REQ-{clock.now():%Y%m%d}-{secrets.token_hex(3).upper()}"
    total = sum((line_total(line) for line in lines), Decimal(0))
    currency = currency or (lines[0].currency if lines else "USD")
    with transaction(conn):
        conn.execute(
            "INSERT INTO demo_buyer_requisitions (id, requester, status, currency, total, lines, buyer_cookie,"
            " cart_payload_id, created_at) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?)",
            (
                req_id,
                requester,
                currency,
                f"{total:.2f}",
                json.dumps([_line_json(line) for line in lines]),
                buyer_cookie,
                cart_payload_id,
                clock.timestamp(),
            ),
        )
    return req_id


def _requisition(conn: sqlite3.Connection, row: sqlite3.Row) -> Requisition:
    approvals = conn.execute(
        "SELECT level, approver, decision, comment, decided_at FROM demo_buyer_approvals"
        " WHERE requisition_id = ? ORDER BY id",
        (row["id"],),
    )
    return Requisition(
        id=row["id"],
        requester=row["requester"],
        status=row["status"],
        currency=row["currency"],
        total=money(row["total"]),
        lines=_lines(row["lines"]),
        order_id=row["order_id"],
        created_at=row["created_at"],
        approvals=tuple(dict(a) for a in approvals),
    )


def get_requisition(conn: sqlite3.Connection, req_id: str) -> Requisition | None:
    row = conn.execute("SELECT * FROM demo_buyer_requisitions WHERE id = ?", (req_id,)).fetchone()
    return _requisition(conn, row) if row is not None else None


def list_requisitions(conn: sqlite3.Connection, limit: int = 50) -> list[Requisition]:
    rows = conn.execute("SELECT * FROM demo_buyer_requisitions ORDER BY created_at DESC, id DESC LIMIT ?", (limit,))
    return [_requisition(conn, row) for row in rows.fetchall()]


def decide(
    conn: sqlite3.Connection, req_id: str, *, level: int, approver: str, decision: str, comment: str, status: str
) -> bool:
    """Record an approval or rejection at ``level`` and move the requisition to ``status``.

    False when the requisition was no longer waiting at that level (a second click, another tab).
    """
    expected = "pending" if level == 1 else "pending_second"
    with transaction(conn):
        changed = conn.execute(
            "UPDATE demo_buyer_requisitions SET status = ? WHERE id = ? AND status = ?", (status, req_id, expected)
        ).rowcount
        if not changed:
            return False
        conn.execute(
            "INSERT INTO demo_buyer_approvals (requisition_id, level, approver, decision, comment, decided_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (req_id, level, approver, decision, comment, clock.timestamp()),
        )
    return True


def record_order(
    conn: sqlite3.Connection,
    requisition: Requisition,
    *,
    order_id: str,
    payload_id: str,
    answer_code: int,
    answer_text: str,
) -> None:
    ok = 200 <= answer_code < 300
    with transaction(conn):
        conn.execute(
            "INSERT INTO demo_buyer_orders (order_id, requisition_id, payload_id, status, currency, total, lines,"
            " answer_code, answer_text, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                order_id,
                requisition.id,
                payload_id,
                "sent" if ok else "refused",
                requisition.currency,
                f"{requisition.total:.2f}",
                json.dumps([_line_json(line) for line in requisition.lines]),
                answer_code,
                answer_text,
                clock.timestamp(),
            ),
        )
        conn.execute(
            "UPDATE demo_buyer_requisitions SET status = ?, order_id = ? WHERE id = ?",
            ("ordered" if ok else "order_failed", order_id, requisition.id),
        )


# --- documents received and the three-way match -------------------------------------------------


def order_for_document(conn: sqlite3.Connection, root: Any) -> str | None:
    """The PO a received document is about: OrderReference@orderID, or the DocumentReference payloadID."""
    for reference in root.iter("OrderReference"):
        order_id = reference.get("orderID")
        if order_id and conn.execute("SELECT 1 FROM demo_buyer_orders WHERE order_id = ?", (order_id,)).fetchone():
            return str(order_id)
    for reference in root.iter("DocumentReference"):
        row = conn.execute(
            "SELECT order_id FROM demo_buyer_orders WHERE payload_id = ?", (reference.get("payloadID"),)
        ).fetchone()
        if row is not None:
            return str(row["order_id"])
    return None


def store_document(
    conn: sqlite3.Connection, *, order_id: str | None, doc_type: str, payload_id: str | None, summary: str, body: bytes
) -> bool:
    """Keep a received document (the same payloadID twice is kept once); False when it was a repeat."""
    with transaction(conn):
        if (
            payload_id
            and conn.execute("SELECT 1 FROM demo_buyer_documents WHERE payload_id = ?", (payload_id,)).fetchone()
        ):
            return False
        conn.execute(
            "INSERT INTO demo_buyer_documents (order_id, doc_type, payload_id, summary, body, received_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (order_id, doc_type, payload_id, summary, body, clock.timestamp()),
        )
        if order_id:
            view = order_view(conn, order_id)
            if view is not None:
                conn.execute("UPDATE demo_buyer_orders SET status = ? WHERE order_id = ?", (view.status, order_id))
    return True


@dataclass
class MatchLine:
    line_number: int
    description: str
    supplier_part_id: str
    unit_price: str
    ordered: int
    confirmed: int | None = None
    shipped: int = 0
    invoiced: int = 0
    invoiced_amount: Decimal = Decimal(0)

    @property
    def matched(self) -> bool:
        """Ordered = confirmed = shipped = invoiced (a line rejected in full matches at nothing shipped)."""
        confirmed = self.ordered if self.confirmed is None else self.confirmed
        return confirmed == self.shipped == self.invoiced and self.confirmed is not None


@dataclass
class OrderView:
    order_id: str
    requisition_id: str
    status: str
    currency: str
    total: str
    sent_at: str
    answer_code: int | None
    answer_text: str
    lines: list[MatchLine] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return bool(self.lines) and all(line.matched for line in self.lines)


def _quantity(value: str | None) -> int:
    try:
        return int(Decimal((value or "0").strip() or "0"))
    except InvalidOperation:
        return 0


def order_view(conn: sqlite3.Connection, order_id: str) -> OrderView | None:
    """The PO with its documents, per-line quantities and a status derived from them."""
    row = conn.execute("SELECT * FROM demo_buyer_orders WHERE order_id = ?", (order_id,)).fetchone()
    if row is None:
        return None
    lines = {
        line.line_number: MatchLine(
            line.line_number,
            line.description or line.supplier_part_id,
            line.supplier_part_id,
            line.unit_price,
            line.quantity,
        )
        for line in _lines(row["lines"])
    }
    view = OrderView(
        order_id=row["order_id"],
        requisition_id=row["requisition_id"],
        status=row["status"],
        currency=row["currency"],
        total=row["total"],
        sent_at=row["sent_at"],
        answer_code=row["answer_code"],
        answer_text=row["answer_text"],
        lines=list(lines.values()),
    )
    if row["status"] == "refused":
        return view
    documents = conn.execute(
        "SELECT id, doc_type, payload_id, summary, body, received_at FROM demo_buyer_documents"
        " WHERE order_id = ? ORDER BY id",
        (order_id,),
    ).fetchall()
    rejected_order = False
    line: MatchLine | None
    confirmations = shipments = invoices = 0
    for doc in documents:
        view.documents.append({k: doc[k] for k in ("id", "doc_type", "payload_id", "summary", "received_at")})
        root = parse_document(bytes(doc["body"])).root
        if doc["doc_type"] == "ConfirmationRequest":
            confirmations += 1
            header = root.find(".//ConfirmationHeader")
            kind = header.get("type", "") if header is not None else ""
            if kind == "reject":
                rejected_order = True
                for each in lines.values():
                    each.confirmed = 0
            elif kind in ("accept", "allDetail") and not root.findall(".//ConfirmationItem"):
                for each in lines.values():
                    each.confirmed = each.ordered
            for item in root.iter("ConfirmationItem"):
                line = lines.get(_quantity(item.get("lineNumber")))
                if line is not None:
                    line.confirmed = sum(
                        _quantity(s.get("quantity"))
                        for s in item.findall("ConfirmationStatus")
                        if s.get("type") != "reject"
                    )
        elif doc["doc_type"] == "ShipNoticeRequest":
            shipments += 1
            for item in root.iter("ShipNoticeItem"):
                line = lines.get(_quantity(item.get("lineNumber")))
                if line is not None:
                    line.shipped += _quantity(item.get("quantity"))
        elif doc["doc_type"] == "InvoiceDetailRequest":
            invoices += 1
            for item in root.iter("InvoiceDetailItem"):
                reference = item.find("InvoiceDetailItemReference")
                line = lines.get(_quantity(reference.get("lineNumber") if reference is not None else None))
                if line is not None:
                    line.invoiced += _quantity(item.get("quantity"))
                    line.invoiced_amount += money(text(item.find("SubtotalAmount/Money")))
    if rejected_order:
        view.status = "rejected"
    elif invoices:
        view.status = "invoiced"
    elif shipments:
        confirmed = sum(line.ordered if line.confirmed is None else line.confirmed for line in lines.values())
        shipped = sum(line.shipped for line in lines.values())
        view.status = "shipped" if shipped >= confirmed else "partially_shipped"
    elif confirmations:
        view.status = "confirmed"
    else:
        view.status = "sent"
    return view


def list_orders(conn: sqlite3.Connection, limit: int = 100) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT o.*, r.requester FROM demo_buyer_orders o JOIN demo_buyer_requisitions r ON r.id = o.requisition_id"
        " ORDER BY o.sent_at DESC, o.order_id DESC LIMIT ?",
        (limit,),
    ).fetchall()
