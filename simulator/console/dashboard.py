"""Console: the spend dashboard, from the order tables (``orders``, ``order_lines``, ``shipments``).

Definitions (also written on the page):

- spend: unit price × (accepted + backordered units) of the lines of accepted orders, in one
  currency at a time (the most used one unless ``?currency=`` picks another);
- month: the order's ``order_date``; category: the catalogue's category of the line's ASIN
  ("—" when the ASIN is not in the catalogue); user: ``orders.user_email``;
- cost center: the order request's header ``<Extrinsic name="CostCenter">``, stored with the order
  (``orders.cost_center``); "—" when there is none;
- rejected / backordered share: lines with any rejected (backordered) unit among all lines of all
  orders received, of every status;
- on time: a (shipment, line) pair is on time when the shipment's delivery date is on or before the
  delivery date promised for that line in the order's ConfirmationRequest (``deliveryDate`` of its
  ConfirmationStatus), stored with the line when the order is taken (``order_lines.delivery_date``);
  shipments are counted as scheduled, whether sent yet or not.

The figures are aggregated by SQLite, in a fixed number of queries. An order stored before those two
columns were (its ``cost_center`` is NULL) is read from its documents instead: its request in the
journal, its ConfirmationRequests in the outbox.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
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


# An order taken before ``orders.cost_center`` and ``order_lines.delivery_date`` were stored has a
# NULL cost center: its cost center is read from its request in the journal and its promised dates
# from its ConfirmationRequests, as before; every order taken since is aggregated by SQLite.

#: One row per (month, user, cost center, ASIN, unit price) of the chosen currency's accepted orders:
#: SQLite sums the units, Python multiplies each price (Decimal, as text in the table) once per row.
#: An older order keeps rows of its own, by payloadID, to look its cost center up.
_SPEND = """
SELECT substr(coalesce(o.order_date, ''), 1, 7) AS month, coalesce(o.user_email, '') AS user,
       o.cost_center AS center, CASE WHEN o.cost_center IS NULL THEN o.payload_id END AS older,
       upper(l.supplier_part_id) AS asin, l.unit_price AS price, sum(l.accepted + l.backordered) AS units
FROM orders o CROSS JOIN order_lines l ON l.order_pk = o.id
WHERE o.status = 'accepted' AND o.currency = ?
GROUP BY month, user, center, older, asin, price
"""

#: Each (shipment, line) pair of an accepted order, against the date its confirmation promised the
#: line (``order_lines.delivery_date``, stored when the order was taken).
_ON_TIME = """
SELECT coalesce(sum(substr(s.delivery_date, 1, 10) <= substr(l.delivery_date, 1, 10)), 0),
       coalesce(sum(substr(s.delivery_date, 1, 10) > substr(l.delivery_date, 1, 10)), 0)
FROM shipments s CROSS JOIN orders o ON o.id = s.order_pk CROSS JOIN json_each(s.lines) AS j
CROSS JOIN order_lines l ON l.order_pk = s.order_pk AND l.line_number = json_extract(j.value, '$.line_number')
WHERE o.status = 'accepted' AND o.cost_center IS NOT NULL
"""

#: The accepted orders with shipments among those older orders.
_OLDER_SHIPPED = """
SELECT o.id FROM orders o WHERE o.status = 'accepted' AND o.cost_center IS NULL
AND EXISTS (SELECT 1 FROM shipments s WHERE s.order_pk = o.id)
"""


def _older_on_time(conn: sqlite3.Connection, order_pk: str) -> tuple[int, int]:
    """(on time, late) of an order taken before promised dates were stored: from its documents."""
    on_time = late = 0
    promised = promised_dates(conn, order_pk)
    for row in conn.execute("SELECT delivery_date, lines FROM shipments WHERE order_pk = ?", (order_pk,)):
        for shipped in json.loads(row["lines"]):
            due = promised.get(int(shipped["line_number"]))
            if due is None:
                continue
            if row["delivery_date"][:10] <= due[:10]:
                on_time += 1
            else:
                late += 1
    return on_time, late


def figures(conn: sqlite3.Connection, currency: str | None) -> dict[str, Any]:
    """The dashboard's figures, aggregated by SQLite: a few queries whatever the number of orders (a
    load test leaves hundreds of thousands; reading each order's documents took 17 s for 10,000)."""
    received = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
    lines, rejected_lines, backordered_lines = conn.execute(
        "SELECT count(*), coalesce(sum(rejected > 0), 0), coalesce(sum(backordered > 0), 0) FROM order_lines"
    ).fetchone()
    currencies = {
        row[0]: row[1]
        for row in conn.execute(
            "SELECT currency, count(*) FROM orders WHERE status = 'accepted'"
            " GROUP BY currency ORDER BY count(*) DESC, min(order_date), currency"
        )
    }
    chosen = currency if currency in currencies else next(iter(currencies), None)
    spend = Spend(chosen or "", orders=currencies.get(chosen, 0) if chosen is not None else 0)
    rows = conn.execute(_SPEND, (chosen,)).fetchall() if chosen is not None else []
    products = get_products(conn, sorted({row["asin"] for row in rows}))
    older_centers: dict[str, str] = {}
    for row in rows:
        amount = _decimal(row["price"]) * row["units"]
        if row["older"] is not None:
            if row["older"] not in older_centers:
                older_centers[row["older"]] = cost_center(conn, row["older"])
            center = older_centers[row["older"]]
        else:
            center = row["center"] or NONE
        product = products.get(row["asin"])
        spend.total += amount
        spend.by_month[row["month"] or NONE] += amount
        spend.by_category[product.category if product else NONE] += amount
        spend.by_user[row["user"] or NONE] += amount
        spend.by_cost_center[center] += amount
    on_time, late = conn.execute(_ON_TIME).fetchone()
    for (order_pk,) in conn.execute(_OLDER_SHIPPED).fetchall():
        early, overdue = _older_on_time(conn, order_pk)
        on_time, late = on_time + early, late + overdue
    return {
        "spend": spend,
        "currencies": sorted(currencies),
        "orders_received": received,
        "average": (spend.total / spend.orders).quantize(Decimal("0.01")) if spend.orders else None,
        "lines": lines,
        "rejected_lines": rejected_lines,
        "backordered_lines": backordered_lines,
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
