"""The spend dashboard's figures against their definitions (simulator/console/dashboard.py), worked
out here the slow way, from the documents: each order's request in the journal and its
ConfirmationRequests in the outbox. The dashboard aggregates the order tables in SQL instead; it
must give the same figures, for orders taken now and for orders stored before the promised dates
and cost centers were, and its number of queries must not grow with the number of orders."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree

from simulator import db, journal, outbox
from simulator.catalog.repository import get_products
from simulator.console import dashboard

from .helpers import order_request

XML = {"Content-Type": "text/xml"}
NONE = "—"


def _price(client: FlaskClient, asin: str) -> str:
    return str(client.get(f"/__admin/catalog/products/{asin}").get_json()["business_price"])


def _order(
    client: FlaskClient,
    order_id: str,
    lines: list[tuple[str, int]],
    *,
    email: str,
    cost_center: str | None = None,
    month: str = "2026-11",
    currency: str = "USD",
) -> None:
    body = order_request(
        order_id=order_id,
        lines=[{"asin": asin, "price": _price(client, asin), "quantity": quantity} for asin, quantity in lines],
        email=email,
        currency=currency,
    )
    body = body.replace(b'orderDate="2026-11-26', f'orderDate="{month}-05'.encode())
    if cost_center is not None:
        extrinsic = f'<Extrinsic name="CostCenter"> {cost_center} </Extrinsic></OrderRequestHeader>'
        body = body.replace(b"</OrderRequestHeader>", extrinsic.encode())
    answer = client.post("/orders", data=body, headers=XML)
    assert b'code="200"' in answer.data, answer.data


def _root(body: str | bytes) -> Any:
    return etree.fromstring(body.encode() if isinstance(body, str) else body)


def _from_documents(conn: sqlite3.Connection, currency: str | None) -> dict[str, Any]:
    """The figures as the dashboard's docstring defines them, read from the documents."""
    orders = [dict(r) for r in conn.execute("SELECT * FROM orders ORDER BY order_date")]
    lines = [dict(r) for r in conn.execute("SELECT * FROM order_lines")]
    by_order: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        by_order[line["order_pk"]].append(line)
    accepted = [o for o in orders if o["status"] == "accepted"]
    currencies = Counter(o["currency"] for o in accepted)
    chosen = currency if currency in currencies else (currencies.most_common(1)[0][0] if currencies else None)
    products = get_products(conn, sorted({line["supplier_part_id"] for line in lines}))
    spend: dict[str, Any] = {"orders": 0, "total": Decimal("0")}
    groups: dict[str, dict[str, Decimal]] = {k: defaultdict(Decimal) for k in ("month", "category", "user", "center")}
    for order in accepted:
        if order["currency"] != chosen:
            continue
        spend["orders"] += 1
        entries, _ = journal.search(conn, payload_id=order["payload_id"], direction="in", limit=1)
        request = _root(journal.get(conn, int(entries[0]["id"]))["body"])
        center = (request.findtext(".//OrderRequestHeader/Extrinsic[@name='CostCenter']") or "").strip() or NONE
        for line in by_order[order["id"]]:
            amount = Decimal(line["unit_price"] or "0") * (line["accepted"] + line["backordered"])
            product = products.get(line["supplier_part_id"].upper())
            spend["total"] += amount
            groups["month"][order["order_date"][:7]] += amount
            groups["category"][product.category if product else NONE] += amount
            groups["user"][order["user_email"] or NONE] += amount
            groups["center"][center] += amount
    on_time = late = 0
    for order in accepted:
        items, _ = outbox.list_items(conn, order_id=order["id"], doc_type="ConfirmationRequest", limit=50)
        promised: dict[int, str] = {}
        for item in items:
            for confirmed in _root(item.body).iter("ConfirmationItem"):
                for status in confirmed.iter("ConfirmationStatus"):
                    number = int(confirmed.get("lineNumber"))
                    if status.get("deliveryDate") and status.get("deliveryDate") > promised.get(number, ""):
                        promised[number] = status.get("deliveryDate")
        for row in conn.execute("SELECT delivery_date, lines FROM shipments WHERE order_pk = ?", (order["id"],)):
            for shipped in json.loads(row["lines"]):
                due = promised.get(int(shipped["line_number"]))
                if due is not None:
                    on_time, late = (
                        (on_time + 1, late) if row["delivery_date"][:10] <= due[:10] else (on_time, late + 1)
                    )
    return {
        "currencies": sorted(currencies),
        "orders_received": len(orders),
        "lines": len(lines),
        "rejected_lines": sum(1 for line in lines if line["rejected"]),
        "backordered_lines": sum(1 for line in lines if line["backordered"]),
        "on_time": on_time,
        "deliveries": on_time + late,
        "spend": {"currency": chosen or "", **spend, **{k: dict(v) for k, v in groups.items()}},
    }


def _shown(figures: dict[str, Any]) -> dict[str, Any]:
    spend = figures.pop("spend")
    figures.pop("average")
    figures["spend"] = {
        "currency": spend.currency,
        "orders": spend.orders,
        "total": spend.total,
        "month": dict(spend.by_month),
        "category": dict(spend.by_category),
        "user": dict(spend.by_user),
        "center": dict(spend.by_cost_center),
    }
    return figures


@pytest.fixture
def orders(client: FlaskClient) -> None:
    """Orders of two currencies, three users, two months, with and without a cost center, with
    backordered, rejected, partly shipped, split and repriced lines."""
    _order(client, "PO-D1", [("B0TESTSLOW", 3), ("B0TESTBACK", 2), ("B0TESTREJT", 1)], email="alice@buyer.test",
           cost_center="CC-1")  # fmt: skip
    _order(client, "PO-D2", [("B0TESTPART", 4), ("B0TESTSPLT", 2), ("B0TESTPRCE", 1)], email="bob@buyer.test",
           month="2026-10")  # fmt: skip
    _order(client, "PO-D3", [("B0TESTSLOW", 1), ("B0TESTOOST", 2)], email="carol@buyer.test", cost_center="CC-2")
    _order(client, "PO-D4", [("B0TESTSLOW", 5)], email="carol@buyer.test", cost_center="CC-2", currency="EUR")


def _compare(app: Flask) -> dict[str, Any]:
    with app.app_context():
        conn = db.shared(app.config["SIMULATOR"].database_path)
        for currency in (None, "USD", "EUR", "CHF"):
            expected = _from_documents(conn, currency)
            assert _shown(dashboard.figures(conn, currency)) == expected, currency
        return _from_documents(conn, None)


@pytest.mark.usefixtures("orders")
def test_the_figures_are_those_of_the_documents(app: Flask) -> None:
    figures = _compare(app)
    # The orders above reach every part of the definitions (else the comparison proves little).
    assert figures["currencies"] == ["EUR", "USD"] and figures["spend"]["orders"] == 3
    assert figures["rejected_lines"] >= 2 and figures["backordered_lines"] >= 1
    assert figures["deliveries"] >= 6 and figures["on_time"] >= 1
    assert set(figures["spend"]["center"]) == {"CC-1", "CC-2", NONE}
    assert set(figures["spend"]["month"]) == {"2026-10", "2026-11"}
    assert len(figures["spend"]["user"]) == 3


@pytest.mark.usefixtures("orders")
def test_orders_stored_before_the_dates_and_cost_centers_were_give_the_same_figures(app: Flask) -> None:
    """A data dir from an earlier version: ``orders.cost_center`` and the lines' promised dates are
    NULL (the column was added on start); the dashboard reads those orders' documents instead."""
    with sqlite3.connect(app.config["SIMULATOR"].database_path) as conn:
        for order_id in ("PO-D1", "PO-D2"):
            (order_pk,) = conn.execute("SELECT id FROM orders WHERE order_id = ?", (order_id,)).fetchone()
            conn.execute("UPDATE orders SET cost_center = NULL WHERE id = ?", (order_pk,))
            conn.execute("UPDATE order_lines SET delivery_date = NULL WHERE order_pk = ?", (order_pk,))
    figures = _compare(app)
    assert set(figures["spend"]["center"]) == {"CC-1", "CC-2", NONE}


def test_a_line_keeps_the_delivery_date_its_confirmation_promised(client: FlaskClient) -> None:
    _order(client, "PO-D5", [("B0TESTSLOW", 1), ("B0TESTREJT", 1)], email="alice@buyer.test", cost_center="CC-9")
    order = client.get("/__admin/orders?po=PO-D5").get_json()["items"][0]
    assert order["cost_center"] == "CC-9"
    lines = client.get(f"/__admin/orders/{order['id']}").get_json()["lines"]
    confirmations = client.get(f"/__admin/outbox?order_id={order['id']}&type=ConfirmationRequest").get_json()
    assert len(confirmations["items"]) == 2  # two sellers, one confirmation each
    promised = {
        int(item.get("lineNumber")): status.get("deliveryDate")
        for confirmation in confirmations["items"]
        for item in _root(client.get(f"/__admin/outbox/{confirmation['id']}").get_json()["body"]).iter(
            "ConfirmationItem"
        )
        for status in item.iter("ConfirmationStatus")
        if status.get("deliveryDate")
    }
    assert set(promised) == {1}  # the rejected line is promised nothing
    assert {line["line_number"]: line["delivery_date"] for line in lines} == {1: promised[1], 2: None}


def test_the_number_of_queries_does_not_grow_with_the_orders(app: Flask, client: FlaskClient) -> None:
    """Reading each order's documents took 17 s for 10,000 orders (docs/performance.md)."""
    price = _price(client, "B0TESTSLOW")

    def statements() -> int:
        seen: list[str] = []
        with app.app_context():
            conn = db.shared(app.config["SIMULATOR"].database_path)
            conn.set_trace_callback(seen.append)
            try:
                dashboard.figures(conn, None)
            finally:
                conn.set_trace_callback(None)
        return len(seen)

    def add(first: int, count: int) -> None:
        for n in range(first, first + count):
            client.post(
                "/orders", data=order_request(order_id=f"PO-N{n}", lines=[{"asin": "B0TESTSLOW", "price": price}])
            )

    add(0, 2)
    few = statements()
    add(2, 20)
    assert statements() == few
    with sqlite3.connect(app.config["SIMULATOR"].database_path) as conn:
        assert conn.execute("SELECT count(*) FROM orders WHERE status = 'accepted'").fetchone()[0] == 22
