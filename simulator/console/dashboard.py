"""Console: the spend dashboard, from the order tables (``orders``, ``order_lines``, ``shipments``).

Definitions (also written on the page):

- spend: unit price × (accepted + backordered units) of the lines of accepted orders, in one
  currency at a time (the most used one unless ``?currency=`` picks another);
- month: the order's ``order_date``; category: the catalogue's category of the line's ASIN
  ("—" when the ASIN is not in the catalogue); user: ``orders.user_email``;
- cost center: the order tables keep no extrinsics, so it is read from the order's request in the
  journal (a header ``<Extrinsic name="CostCenter">``); "—" when there is none;
- rejected / backordered share: lines with any rejected (backordered) unit among all lines of all
  orders received, of every status;
- on time: a (shipment, line) pair is on time when the shipment's delivery date is on or before the
  delivery date promised for that line in the order's ConfirmationRequest (``deliveryDate`` of its
  ConfirmationStatus); shipments are counted as scheduled, whether sent yet or not.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import g, request
from lxml import etree
from markupsafe import Markup

from .. import journal, outbox
from ..catalog.repository import get_products
from ..charts import bar_chart
from ..cxml.parse import parse_document
from ..errors import SimulatorError
from ..i18n import translate
from ..web import context
from . import bp, render

NONE = "—"
TOP = 12  # bars per chart; the rest is summed into "Other"


@dataclass
class Spend:
    currency: str
    orders: int = 0
    total: Decimal = Decimal("0.00")
    by_month: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    by_category: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    by_user: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    by_cost_center: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))


def _decimal(text: str | None) -> Decimal:
    try:
        return Decimal(text or "0")
    except InvalidOperation:
        return Decimal("0")


def _xml(body: str | bytes) -> etree._Element | None:
    try:
        return parse_document(body.encode("utf-8") if isinstance(body, str) else body).root
    except (SimulatorError, ValueError, etree.LxmlError):
        return None


def cost_center(conn: sqlite3.Connection, payload_id: str) -> str:
    """The order request's header extrinsic CostCenter, read from the journal; "—" when there is none."""
    entries, _ = journal.search(conn, payload_id=payload_id, direction="in", limit=1)
    if not entries:
        return NONE
    root = _xml(journal.get(conn, int(entries[0]["id"]))["body"])
    if root is None:
        return NONE
    value = root.findtext(".//OrderRequestHeader/Extrinsic[@name='CostCenter']")
    return value.strip() if value and value.strip() else NONE


def promised_dates(conn: sqlite3.Connection, order_pk: str) -> dict[int, str]:
    """line number → the latest delivery date the order's ConfirmationRequests promised for it."""
    items, _ = outbox.list_items(conn, order_id=order_pk, doc_type="ConfirmationRequest", limit=50)
    promised: dict[int, str] = {}
    for item in items:
        root = _xml(item.body)
        if root is None:
            continue
        for line in root.iter("ConfirmationItem"):
            for status in line.iter("ConfirmationStatus"):
                date = status.get("deliveryDate")
                number = int(line.get("lineNumber", "0"))
                if date and date > promised.get(number, ""):
                    promised[number] = date
    return promised


def _top(values: dict[str, Decimal], other: str) -> list[tuple[str, Decimal]]:
    ranked = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(ranked) <= TOP:
        return ranked
    return [*ranked[: TOP - 1], (other, sum((v for _, v in ranked[TOP - 1 :]), Decimal("0")))]


def figures(conn: sqlite3.Connection, currency: str | None) -> dict[str, Any]:
    orders = [dict(r) for r in conn.execute("SELECT * FROM orders ORDER BY order_date")]
    lines = [dict(r) for r in conn.execute("SELECT * FROM order_lines")]
    by_order: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        by_order[line["order_pk"]].append(line)
    accepted = [o for o in orders if o["status"] == "accepted"]
    currencies = Counter(o["currency"] for o in accepted)
    chosen = currency if currency in currencies else (currencies.most_common(1)[0][0] if currencies else None)
    products = get_products(conn, sorted({line["supplier_part_id"] for line in lines}))
    spend = Spend(chosen or "")
    for order in accepted:
        if order["currency"] != chosen:
            continue
        spend.orders += 1
        month = (order["order_date"] or "")[:7] or NONE
        user = order["user_email"] or NONE
        center = cost_center(conn, order["payload_id"])
        for line in by_order[order["id"]]:
            amount = _decimal(line["unit_price"]) * (line["accepted"] + line["backordered"])
            product = products.get(str(line["supplier_part_id"]).upper())
            spend.total += amount
            spend.by_month[month] += amount
            spend.by_category[product.category if product else NONE] += amount
            spend.by_user[user] += amount
            spend.by_cost_center[center] += amount
    on_time = late = 0
    for order in accepted:
        shipments = conn.execute("SELECT delivery_date, lines FROM shipments WHERE order_pk = ?", (order["id"],))
        rows = shipments.fetchall()
        if not rows:
            continue
        promised = promised_dates(conn, order["id"])
        for row in rows:
            for shipped in json.loads(row["lines"]):
                due = promised.get(int(shipped["line_number"]))
                if due is None:
                    continue
                if row["delivery_date"][:10] <= due[:10]:
                    on_time += 1
                else:
                    late += 1
    return {
        "spend": spend,
        "currencies": sorted(currencies),
        "orders_received": len(orders),
        "average": (spend.total / spend.orders).quantize(Decimal("0.01")) if spend.orders else None,
        "lines": len(lines),
        "rejected_lines": sum(1 for line in lines if line["rejected"]),
        "backordered_lines": sum(1 for line in lines if line["backordered"]),
        "on_time": on_time,
        "deliveries": on_time + late,
    }


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else NONE


@bp.get("/dashboard")
def dashboard_page() -> str:
    def _(text: str) -> str:
        return translate(text, g.get("locale", "en_US"))

    data = figures(context().conn, request.args.get("currency") or None)
    spend: Spend = data["spend"]
    other, empty = _("Other"), _("No spend yet")

    def chart(key: str, title: str, values: list[tuple[str, Decimal]]) -> tuple[str, str, Markup]:
        return key, title, bar_chart(title, values, unit=spend.currency, empty_text=empty)

    charts = [
        chart("month", _("Spend by month"), sorted(spend.by_month.items())),
        chart("category", _("Spend by category"), _top(spend.by_category, other)),
        chart("user", _("Spend by user"), _top(spend.by_user, other)),
        chart("cost-center", _("Spend by cost center"), _top(spend.by_cost_center, other)),
    ]
    return render(
        "console/dashboard.html",
        data=data,
        spend=spend,
        charts=charts,
        rejected_share=_share(data["rejected_lines"], data["lines"]),
        backordered_share=_share(data["backordered_lines"], data["lines"]),
        on_time_share=_share(data["on_time"], data["deliveries"]),
    )
