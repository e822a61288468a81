"""The demo buyer (``/demo-buyer``): requisition, approvals, the OrderRequest, the documents back.

The flask-client tests drive each step; the browser test plays the whole demo in real Chromium
against the live server, its outbox dispatcher delivering to the demo buyer's inbound endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from flask.testing import FlaskClient

from simulator.cxml.parse import parse_document

from .a11y import assert_accessible
from .conftest import LiveServer, Receiver
from .helpers import browser_form, setup_request, status_of

SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


# --- the steps through the flask client -----------------------------------------------------------


def as_user(client: FlaskClient, key: str) -> None:
    assert client.post("/demo-buyer/user", data=browser_form(client, user=key, next="/demo-buyer")).status_code == 303


def shop(client: FlaskClient, items: list[tuple[str, int]], user: str = "rita") -> str:
    """Punch out as ``user``, fill the cart through the admin API, return it: the requisition's URL."""
    as_user(client, user)
    started = client.post("/demo-buyer/punchout", data=browser_form(client))
    assert started.status_code == 303 and "/start/" in started.headers["Location"]
    sessions = client.get("/__admin/sessions").get_json()["items"]
    session = next(s for s in sessions if str(s.get("buyer_cookie", "")).startswith(f"demo-buyer-{user}-"))
    for asin, quantity in items:
        added = client.post(f"/__admin/sessions/{session['id']}/cart/items", json={"asin": asin, "quantity": quantity})
        assert added.status_code in (200, 201), added.get_json()
    returned = client.post(f"/__admin/sessions/{session['id']}/checkout", json={"deliver": False}).get_json()
    assert urlsplit(returned["action"]).path == "/demo-buyer/punchout/return"
    back = client.post("/demo-buyer/punchout/return", data=returned["fields"])
    assert back.status_code == 303
    return urlsplit(back.headers["Location"]).path


def decide(client: FlaskClient, url: str, user: str, decision: str, comment: str = "") -> str:
    as_user(client, user)
    answer = client.post(url + "/decision", data=browser_form(client, decision=decision, comment=comment))
    assert answer.status_code == 303
    return client.get(url).get_data(as_text=True)


def status(page: str) -> str:
    found = re.search(r'data-testid="req-status">([^<]*)<', page)
    assert found
    return found.group(1)


def test_home_lists_users_and_every_control_has_a_label(client: FlaskClient) -> None:
    page = client.get("/demo-buyer").get_data(as_text=True)
    assert page.count("<h1") == 1 and "Shop at Amazon Business (simulated)" in page
    for name in ("Rita Requester", "Adam Approver", "Fiona Finance"):
        assert name in page
    for control_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', page):
        assert f'for="{control_id}"' in page
    assert "<script" not in page
    german = client.get("/demo-buyer?lang=de").get_data(as_text=True)
    assert '<html lang="de">' in german and "Bei Amazon Business einkaufen (simuliert)" in german


def test_punchout_sends_the_setup_request_with_the_demo_credentials(client: FlaskClient) -> None:
    as_user(client, "rita")
    started = client.post(
        "/demo-buyer/punchout", data=browser_form(client, base_url="http://demo.test"), base_url="http://demo.test"
    )
    assert started.status_code == 303
    entry = client.get("/__admin/journal?limit=5").get_json()["items"]
    request_in = next(e for e in entry if e["doc_type"] == "PunchOutSetupRequest")
    body = client.get(f"/__admin/journal/{request_in['id']}").get_json()
    xml = (body.get("body") or "").encode()
    root = parse_document(xml).root
    assert root.findtext("Header/Sender/Credential/Identity") == "DEMO-BUYER"
    assert request_in["endpoint"] == "/punchout" and request_in["cxml_status"] == 200  # the secret matched
    assert root.findtext(".//BrowserFormPost/URL") == "http://demo.test/demo-buyer/punchout/return"
    assert root.findtext(".//Extrinsic[@name='UserEmail']") == "rita.requester@demo-buyer.example.com"


def test_approved_requisition_becomes_an_order_and_the_documents_match(client: FlaskClient, receiver: Receiver) -> None:
    client.patch(
        "/__admin/accounts/demo", json={"buyer_endpoint": {"url": receiver.url}, "settings": {"timeline": "instant"}}
    )
    url = shop(client, [("B0TESTSLOW", 1)])
    page = client.get(url).get_data(as_text=True)
    assert status(page) == "Waiting for approval" and "Rita Requester" in page
    assert 'data-testid="approve"' not in page  # the requester cannot approve
    as_user(client, "rita")
    assert client.post(url + "/decision", data=browser_form(client, decision="approve")).status_code == 403

    page = decide(client, url, "adam", "approve", "fine")
    assert status(page) == "Ordered"
    order_id = re.search(r'data-testid="order-link">([^<]+)<', page).group(1)  # type: ignore[union-attr]
    orders = client.get(f"/__admin/orders?po={order_id}").get_json()["items"]
    assert len(orders) == 1 and orders[0]["account_id"] == "demo"

    # the simulator's documents, as the outbox delivers them, posted to the demo buyer's endpoint
    client.post("/__admin/outbox/flush")
    documents = [p for p in receiver.posts if p["content_type"].startswith("text/xml")]
    assert len(documents) >= 3
    for post in documents:
        answer = client.post("/demo-buyer/cxml", data=post["body"], content_type="text/xml; charset=UTF-8")
        assert status_of(answer.data)[0] == 200
    again = client.post("/demo-buyer/cxml", data=documents[0]["body"], content_type="text/xml")
    assert status_of(again.data)[0] == 200  # a repeat is answered 200 and kept once

    order = client.get(f"/demo-buyer/orders/{order_id}").get_data(as_text=True)
    kinds = re.findall(r'<tr data-testid="document"><td>[^<]*</td><td>([A-Za-z]+)</td>', order)
    assert kinds.count("ConfirmationRequest") == 1 and "ShipNoticeRequest" in kinds and "InvoiceDetailRequest" in kinds
    assert 'data-testid="order-status">Invoiced<' in order
    assert "✓" in order and "✗" not in order
    assert order_id in client.get("/demo-buyer/orders").get_data(as_text=True)


def test_above_the_amount_a_second_approval_is_needed(client: FlaskClient) -> None:
    url = shop(client, [("B0TESTSLOW", 400)])
    page = decide(client, url, "adam", "approve")
    assert status(page) == "Waiting for second approval" and 'data-testid="second-approval-note"' in page
    assert client.get("/__admin/orders").get_json()["total"] == 0
    page = decide(client, url, "fiona", "approve")
    assert status(page) == "Ordered"
    assert client.get("/__admin/orders").get_json()["total"] == 1


def test_a_rejected_requisition_is_not_ordered(client: FlaskClient) -> None:
    url = shop(client, [("B0TESTSLOW", 1)])
    page = decide(client, url, "adam", "reject", "not in the budget")
    assert status(page) == "Rejected" and "not in the budget" in page
    assert client.get("/__admin/orders").get_json()["total"] == 0
    as_user(client, "adam")
    assert client.post(url + "/decision", data=browser_form(client, decision="approve")).status_code == 403


def test_inbound_endpoint_refuses_other_documents_with_450(client: FlaskClient) -> None:
    answer = client.post("/demo-buyer/cxml", data=setup_request(), content_type="text/xml")
    assert answer.status_code == 200 and status_of(answer.data)[0] == 450
    broken = client.post("/demo-buyer/cxml", data=b"<cXML", content_type="text/xml")
    assert status_of(broken.data)[0] == 406


def test_inbound_endpoint_checks_the_shared_secret(client: FlaskClient, receiver: Receiver) -> None:
    client.patch(
        "/__admin/accounts/demo", json={"buyer_endpoint": {"url": receiver.url}, "settings": {"timeline": "instant"}}
    )
    url = shop(client, [("B0TESTSLOW", 1)])
    decide(client, url, "adam", "approve")
    client.post("/__admin/outbox/flush")
    confirmation = next(p["body"] for p in receiver.posts if b"<ConfirmationRequest" in p["body"])
    forged = confirmation.replace(b"<SharedSecret>demo-secret</SharedSecret>", b"<SharedSecret>guess</SharedSecret>")
    assert forged != confirmation
    assert status_of(client.post("/demo-buyer/cxml", data=forged, content_type="text/xml").data)[0] == 401
    assert status_of(client.post("/demo-buyer/cxml", data=confirmation, content_type="text/xml").data)[0] == 200


def test_empty_cart_makes_no_requisition(client: FlaskClient) -> None:
    as_user(client, "rita")
    client.post("/demo-buyer/punchout", data=browser_form(client))
    session = client.get("/__admin/sessions").get_json()["items"][0]
    returned = client.post(f"/__admin/sessions/{session['id']}/checkout", json={"cancel": True}).get_json()
    back = client.post("/demo-buyer/punchout/return", data=returned["fields"])
    assert back.status_code == 303 and "notice=empty" in back.headers["Location"]


# --- the whole demo in real Chromium ---------------------------------------------------------------


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    context.close()


def checked(page: Any) -> None:
    """Every demo-buyer page: accessible, and no console errors."""
    assert_accessible(page)
    assert page.errors == [], page.errors


def pick(page: Any, key: str) -> None:
    page.select_option("[data-testid=user-select]", key)
    page.click("[data-testid=user-switch]")
    page.wait_for_load_state()


@pytest.mark.browser
def test_the_whole_demo_in_chromium(page: Any, live_server: LiveServer) -> None:
    # the data dir was made for port 8080: point the demo account at this server, instant timeline
    requests.patch(
        f"{live_server.url}/__admin/accounts/demo",
        json={"buyer_endpoint": {"url": f"{live_server.url}/demo-buyer/cxml"}, "settings": {"timeline": "instant"}},
        timeout=10,
    ).raise_for_status()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    page.goto(f"{live_server.url}/demo-buyer")
    checked(page)
    page.check("[data-testid=pick-rita]")
    page.click("[data-testid=pick-submit]")
    page.wait_for_selector("[data-testid=shop]")
    checked(page)
    page.screenshot(path=str(SCREENSHOTS / "demo-buyer-home.png"), full_page=True)

    page.click("[data-testid=shop]")  # → PunchOutSetupRequest in-process → StartPage → the shop
    page.wait_for_selector("[data-testid=search-input]")
    page.fill("[data-testid=search-input]", "paper")
    page.press("[data-testid=search-input]", "Enter")
    page.wait_for_selector("[data-testid=result-count]")
    card = page.locator(".product-card").filter(has=page.locator("[data-testid=add-to-cart]")).first
    card.locator("[data-testid=add-to-cart] button").click()
    page.wait_for_selector("[data-testid=cart-table]")
    page.locator("[data-testid=checkout] button").click()  # the cart comes back as a requisition

    page.wait_for_selector("[data-testid=requisition-id]")
    assert page.locator("[data-testid=req-status]").inner_text() == "Waiting for approval"
    assert page.locator("[data-testid=requester]").inner_text() == "Rita Requester"
    checked(page)
    page.screenshot(path=str(SCREENSHOTS / "demo-buyer-requisition.png"), full_page=True)

    pick(page, "adam")
    page.fill("[data-testid=comment]", "Approved for the demo")
    page.click("[data-testid=approve]")
    page.wait_for_load_state()
    if page.locator("[data-testid=req-status]").inner_text() == "Waiting for second approval":
        pick(page, "fiona")
        page.click("[data-testid=approve]")
        page.wait_for_load_state()
    assert page.locator("[data-testid=req-status]").inner_text() == "Ordered"
    checked(page)

    page.click("[data-testid=order-link]")
    page.wait_for_selector("[data-testid=order-id]")
    order_url = page.url
    for _ in range(60):  # the dispatcher delivers within a second or two
        if page.locator("[data-testid=order-status]").inner_text() == "Invoiced":
            break
        page.wait_for_timeout(250)
        page.goto(order_url)
    assert page.locator("[data-testid=order-status]").inner_text() == "Invoiced"
    documents = page.locator("[data-testid=document] td:nth-child(2)").all_inner_texts()
    assert documents[0] == "ConfirmationRequest" and "ShipNoticeRequest" in documents
    assert documents[-1] == "InvoiceDetailRequest" or "InvoiceDetailRequest" in documents
    results = page.locator("[data-testid=match-result]").all_inner_texts()
    assert results and all(r.startswith("✓") for r in results), results
    checked(page)
    page.screenshot(path=str(SCREENSHOTS / "demo-buyer-order.png"), full_page=True)

    page.click("[data-testid=orders-nav]")
    page.wait_for_selector("[data-testid=orders]")
    checked(page)
    page.goto(f"{live_server.url}/demo-buyer?lang=de")
    assert page.locator("[data-testid=shop]").inner_text() == "Bei Amazon Business einkaufen (simuliert)"
    checked(page)

    refused = requests.post(
        f"{live_server.url}/demo-buyer/cxml", data=setup_request(), headers={"Content-Type": "text/xml"}, timeout=10
    )
    assert status_of(refused.content)[0] == 450
