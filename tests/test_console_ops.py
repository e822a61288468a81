"""The console's operations pages: the live journal, orders with their timeline and buttons, and the
spend dashboard. Page tests through Flask's client, then in real Chromium: no console errors, the
basic accessibility check on every page, and screenshots for the docs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from simulator.charts import bar_chart

from .a11y import assert_accessible, watch_errors
from .conftest import LiveServer, Receiver
from .helpers import browser_form, order_request, setup_request

SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
XML = {"Content-Type": "text/xml"}


@pytest.fixture
def manual(client: FlaskClient, receiver: Receiver) -> Iterator[Receiver]:
    """The demo account sends to the receiver, one step at a time (``timeline: manual``)."""
    answer = client.patch(
        "/__admin/accounts/demo",
        json={"buyer_endpoint": {"url": receiver.url}, "settings": {"timeline": "manual"}},
    )
    assert answer.status_code == 200, answer.get_json()
    yield receiver


def _client_order(client: FlaskClient, order_id: str) -> str:
    price = client.get("/__admin/catalog/products/B0TESTSLOW").get_json()["business_price"]
    client.post("/orders", data=order_request(order_id=order_id, lines=[{"asin": "B0TESTSLOW", "price": price}]))
    return str(client.get(f"/__admin/orders?po={order_id}").get_json()["items"][0]["id"])


# --- without a browser ----------------------------------------------------------------------------


def test_bar_chart_is_accessible_svg() -> None:
    svg = str(bar_chart("Spend <by> month", [("2026-11", 12), ("2026-12", 3.5)], unit="USD"))
    assert svg.startswith("<svg") and 'role="img"' in svg
    assert "<title>Spend &lt;by&gt; month</title>" in svg
    assert 'aria-label="Spend &lt;by&gt; month: 2026-11: 12 USD; 2026-12: 3.50 USD"' in svg
    assert svg.count("<rect") == 2 and 'width="240.0"' in svg  # the biggest bar takes the whole plot
    assert "No data" in str(bar_chart("Empty", []))


def test_journal_pairs_request_and_answer_and_masks_secrets(client: FlaskClient) -> None:
    client.post("/punchout", data=setup_request(), headers=XML)
    rows = client.get("/console/journal").get_data(as_text=True)
    assert rows.count('data-testid="journal-row"') == 2
    request_id = client.get("/__admin/journal?type=PunchOutSetupRequest").get_json()["items"][0]["id"]
    for entry_id in (request_id, request_id + 1):  # the request's html and the answer's html show both
        html = client.get(f"/console/journal/{entry_id}").get_data(as_text=True)
        assert 'data-testid="journal-request"' in html and "PunchOutSetupResponse" in html
        assert "demo-secret" not in html and "&lt;SharedSecret&gt;****&lt;/SharedSecret&gt;" in html
        assert "\n  &lt;Header&gt;" in html  # pretty-printed
    only_out = client.get("/console/journal?direction=out").get_data(as_text=True)
    assert only_out.count('data-testid="journal-row"') == 1
    since = client.get(f"/console/journal/since/{request_id}").get_json()
    assert since["latest"] == request_id + 1 and len(since["rows"]) == 1
    assert client.get(f"/console/journal/since/{request_id + 1}").get_json()["rows"] == []
    german = client.get("/console/journal?lang=de").get_data(as_text=True)
    assert "Nachrichtenjournal" in german and '<html lang="de">' in german


def test_order_buttons_advance_and_resend(client: FlaskClient, manual: Receiver) -> None:
    pk = _client_order(client, "PO-CON-1")
    listing = client.get("/console/orders?po=PO-CON-1").get_data(as_text=True)
    assert listing.count('data-testid="order-row"') == 1
    assert client.get("/console/orders?po=NOPE").get_data(as_text=True).count('data-testid="order-row"') == 0
    advanced = client.post(f"/console/orders/{pk}/advance", data=browser_form(client))
    assert advanced.status_code == 303 and advanced.headers["Location"].endswith("notice=advanced")
    html = client.get(advanced.headers["Location"]).get_data(as_text=True)
    assert re.search(r'data-doc-type="ConfirmationRequest" data-status="delivered"', html)
    first = client.get(f"/__admin/outbox?order_id={pk}&type=ConfirmationRequest").get_json()["items"][0]
    posts = len(manual.posts)
    resent = client.post(f"/console/orders/{pk}/resend/{first['id']}?lang=de", data=browser_form(client))
    assert resent.status_code == 303 and "lang=de" in resent.headers["Location"]
    assert len(manual.posts) == posts + 1
    assert "Das Dokument wurde erneut gesendet." in client.get(resent.headers["Location"]).get_data(as_text=True)
    assert client.post(f"/console/orders/other/resend/{first['id']}", data=browser_form(client)).status_code == 404


def test_dashboard_figures(client: FlaskClient, manual: Receiver) -> None:
    price = client.get("/__admin/catalog/products/B0TESTSLOW").get_json()["business_price"]
    body = order_request(order_id="PO-DASH", lines=[{"asin": "B0TESTSLOW", "price": price, "quantity": 3}])
    body = body.replace(
        b"</OrderRequestHeader>", b'<Extrinsic name="CostCenter">CC-42</Extrinsic></OrderRequestHeader>'
    )
    client.post("/orders", data=body, headers=XML)
    client.post("/__admin/outbox/flush")
    html = client.get("/console/dashboard").get_data(as_text=True)
    spend = f"{float(price) * 3:,.2f} USD"
    assert f'data-testid="spend-total">{spend}<' in html
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"') == 4
    assert f"<title>CC-42: {spend}</title>" in html and f"<title>alice@buyer.test: {spend}</title>" in html
    assert 'data-testid="on-time">100%<' in html
    assert "Ausgaben nach Kostenstelle" in client.get("/console/dashboard?lang=de").get_data(as_text=True)


# --- in Chromium ----------------------------------------------------------------------------------


def _post(server: LiveServer, path: str, body: bytes) -> requests.Response:
    return requests.post(f"{server.url}{path}", data=body, headers=XML, timeout=10)


def _check(view: Any, errors: list[str], name: str | None = None) -> None:
    assert_accessible(view)
    assert errors == []
    if name:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        view.screenshot(path=str(SCREENSHOTS / name), full_page=True)


@pytest.mark.browser
def test_live_journal_in_the_browser(page, live_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    errors = watch_errors(page)
    _post(live_server, "/punchout", setup_request(buyer_cookie="first"))
    page.goto(f"{live_server.url}/console/journal")
    assert page.locator("[data-testid=journal-row]").count() == 2
    _check(page, errors)
    # a new request while the page is open shows up at the top, without a reload
    page.evaluate("window.__same_page = true")
    _post(live_server, "/punchout", setup_request(buyer_cookie="second"))
    page.wait_for_function("() => document.querySelectorAll('[data-testid=journal-row]').length === 4")
    assert page.evaluate("window.__same_page") is True
    ids = [int(r.get_attribute("data-id")) for r in page.locator("[data-testid=journal-row]").all()]
    assert ids == sorted(ids, reverse=True)
    assert page.locator("[data-testid=journal-row]").first.get_attribute("data-type") == "PunchOutSetupResponse"
    _check(page, errors, "console-journal.png")
    # the request's page: the request and its answer side by side
    page.locator("[data-testid=journal-row][data-type=PunchOutSetupRequest] a").first.click()
    request_box = page.locator("[data-testid=journal-request]")
    answer_box = page.locator("[data-testid=journal-answer]")
    assert "PunchOutSetupRequest" in request_box.inner_text()
    assert "PunchOutSetupResponse" in answer_box.inner_text() and "****" in request_box.inner_text()
    left, right = request_box.bounding_box(), answer_box.bounding_box()
    assert left and right and right["x"] > left["x"] and abs(right["y"] - left["y"]) < 5
    _check(page, errors, "console-journal-entry.png")
    page.goto(f"{live_server.url}/console/journal?lang=de")
    page.wait_for_selector("text=Nachrichtenjournal")
    _check(page, errors)


@pytest.mark.browser
def test_order_timeline_in_the_browser(page, live_server: LiveServer, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    errors = watch_errors(page)
    patched = requests.patch(
        f"{live_server.url}/__admin/accounts/demo",
        json={"buyer_endpoint": {"url": receiver.url}, "settings": {"timeline": "manual"}},
        timeout=10,
    )
    assert patched.status_code == 200
    price = requests.get(f"{live_server.url}/__admin/catalog/products/B0TESTSLOW", timeout=10).json()["business_price"]
    for po in ("PO-UI-1", "PO-UI-2"):
        body = order_request(order_id=po, lines=[{"asin": "B0TESTSLOW", "price": price, "quantity": 2}])
        assert _post(live_server, "/orders", body).status_code == 200
    page.goto(f"{live_server.url}/console/orders")
    assert page.locator("[data-testid=order-row]").count() == 2
    _check(page, errors)
    page.get_by_label("PO number").fill("PO-UI-2")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**po=PO-UI-2**")
    assert page.locator("[data-testid=order-row]").count() == 1
    page.get_by_role("link", name="PO-UI-2").click()
    assert page.locator("[data-testid=order-po]").inner_text() == "PO-UI-2"
    confirmation = page.locator("[data-testid=timeline-item][data-doc-type=ConfirmationRequest]")
    assert confirmation.get_attribute("data-status") == "pending"
    _check(page, errors)
    page.get_by_role("button", name="Advance to the next step").click()
    page.wait_for_selector("[data-testid=notice]")
    assert confirmation.get_attribute("data-status") == "delivered"
    assert confirmation.locator("[data-testid=attempt][data-outcome=delivered]").count() == 1
    assert any(b"ConfirmationRequest" in p["body"] for p in receiver.posts)
    _check(page, errors)
    posts = len(receiver.posts)
    confirmation.locator("[data-testid=resend] button").click()
    page.wait_for_selector("[data-testid=notice]:has-text('sent again')")
    assert len(receiver.posts) == posts + 1
    assert confirmation.locator("[data-testid=attempt]").count() == 2
    confirmation.locator("details summary").first.click()
    _check(page, errors, "console-order.png")
    page.goto(page.url.split("?")[0] + "?lang=de")
    page.wait_for_selector("text=Nächsten Schritt ausführen")
    _check(page, errors)


@pytest.mark.browser
def test_dashboard_in_the_browser(page, live_server: LiveServer, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    errors = watch_errors(page)
    requests.patch(
        f"{live_server.url}/__admin/accounts/demo", json={"buyer_endpoint": {"url": receiver.url}}, timeout=10
    )
    price = requests.get(f"{live_server.url}/__admin/catalog/products/B0TESTSLOW", timeout=10).json()["business_price"]
    body = order_request(order_id="PO-SPEND", lines=[{"asin": "B0TESTSLOW", "price": price, "quantity": 4}])
    assert _post(live_server, "/orders", body).status_code == 200
    page.goto(f"{live_server.url}/console/dashboard")
    charts = page.locator("svg[role=img]")
    assert charts.count() == 4
    spend = f"{float(price) * 4:,.2f} USD"
    assert page.locator("[data-testid=spend-total]").inner_text() == spend
    assert spend in (page.locator("[data-testid=chart-user] svg").get_attribute("aria-label") or "")
    assert page.locator("[data-testid=chart-cost-center] svg > title").text_content() == "Spend by cost center"
    _check(page, errors, "console-dashboard.png")
    page.goto(f"{live_server.url}/console/dashboard?lang=de")
    page.wait_for_selector("text=Ausgaben-Übersicht")
    _check(page, errors)
