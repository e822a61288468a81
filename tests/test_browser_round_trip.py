"""The whole round trip in real Chromium: setup → StartPage → search → cart → form post to the buyer.

The buyer's receiver is a real HTTP server; the cart message it receives is validated against the
official DTDs. Edit restores the cart, inspect shows it read-only, cancel returns no items.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests
from lxml import etree

from simulator.cxml.parse import parse_document
from simulator.cxml.validate import DtdRegistry

from .conftest import LiveServer, Receiver
from .helpers import assert_valid, setup_request, start_url

pytestmark = pytest.mark.browser


def punch_out(server: LiveServer, receiver: Receiver, **kwargs: object) -> str:
    response = requests.post(
        f"{server.url}/punchout",
        data=setup_request(return_url=receiver.url, **kwargs),  # type: ignore[arg-type]
        headers={"Content-Type": "text/xml"},
        timeout=10,
    )
    return start_url(response.content)


def received_message(receiver: Receiver, index: int = -1) -> tuple[etree._Element, bytes]:
    assert receiver.event.wait(15), "the buyer's receiver got no form post"
    post = receiver.posts[index]
    assert post["content_type"] == "application/x-www-form-urlencoded"
    xml = post["fields"]["cxml-urlencoded"].encode("latin-1")
    return parse_document(xml).root, xml


def add_first_result(page, query: str) -> str:  # type: ignore[no-untyped-def]
    page.fill("[data-testid=search-input]", query)
    page.press("[data-testid=search-input]", "Enter")
    page.wait_for_selector("[data-testid=result-count]")
    card = page.locator(".product-card").filter(has=page.locator("[data-testid=add-to-cart]")).first
    asin = card.get_attribute("data-asin")
    card.locator("[data-testid=add-to-cart] button").click()
    page.wait_for_selector("[data-testid=cart-table]")
    return str(asin)


def test_round_trip_edit_inspect_and_cancel(
    page: Any,
    live_server: LiveServer,
    receiver: Receiver,
    dtds: DtdRegistry,
) -> None:
    # create: search, add two products, change a quantity, submit for approval
    page.goto(punch_out(live_server, receiver, buyer_cookie="round-trip-1"))
    assert page.locator("[data-testid=buyer-organisation]").inner_text() == "Demo Buyer"
    assert page.locator("[data-testid=test-mode]").is_visible()
    first = add_first_result(page, "paper")
    second = add_first_result(page, "test product")
    assert first != second
    line = page.locator(f"[data-testid=cart-line][data-asin={first}]")
    line.locator("[data-testid=cart-quantity] input[name=quantity]").fill("3")
    line.locator("[data-testid=cart-quantity] button").click()
    page.wait_for_selector(f"[data-testid=cart-line][data-asin={first}]")
    assert page.locator("[data-testid=cart-line]").count() == 2
    page.locator("[data-testid=checkout] button").click()
    page.wait_for_selector("#received")

    root, xml = received_message(receiver)
    assert_valid(xml, dtds)
    assert root.findtext("Message/PunchOutOrderMessage/BuyerCookie") == "round-trip-1"
    items = root.findall("Message/PunchOutOrderMessage/ItemIn")
    assert {i.findtext("ItemID/SupplierPartID"): i.get("quantity") for i in items} == {first: "3", second: "1"}
    header_total = root.findtext("Message/PunchOutOrderMessage/PunchOutOrderMessageHeader/Total/Money")
    item_sum = sum(float(i.findtext("ItemDetail/UnitPrice/Money")) * int(i.get("quantity")) for i in items)
    assert float(header_total) == pytest.approx(item_sum, abs=0.011)

    # edit: the cart comes back from the ItemOut lines, editable
    receiver.event.clear()
    item_out = [
        {
            "asin": i.findtext("ItemID/SupplierPartID"),
            "aux": i.findtext("ItemID/SupplierPartAuxiliaryID"),
            "quantity": i.get("quantity"),
        }
        for i in items
    ]
    page.goto(punch_out(live_server, receiver, operation="edit", buyer_cookie="round-trip-2", items_out=item_out))
    page.wait_for_selector("[data-testid=cart-table]")
    quantities = {
        row.get_attribute("data-asin"): row.locator("input[name=quantity]").input_value()
        for row in page.locator("[data-testid=cart-line]").all()
    }
    assert quantities == {first: "3", second: "1"}
    assert page.locator("[data-testid=cart-remove]").count() == 2

    # inspect: the same cart, read-only
    page.goto(punch_out(live_server, receiver, operation="inspect", buyer_cookie="round-trip-3", items_out=item_out))
    page.wait_for_selector("[data-testid=cart-table]")
    assert page.locator("[data-testid=read-only]").is_visible()
    assert page.locator("[data-testid=cart-quantity]").count() == 0
    assert page.locator("[data-testid=cart-remove]").count() == 0
    assert page.locator("[data-testid=return-without-items]").count() == 0
    page.goto(f"{live_server.url}/shop/product/{first}?sid=" + page.url.split("sid=")[1])
    assert page.locator("[data-testid=add-to-cart]").count() == 0

    # cancel: return without items
    page.goto(punch_out(live_server, receiver, buyer_cookie="round-trip-4"))
    add_first_result(page, "paper")
    page.locator("[data-testid=return-without-items] button").click()
    page.wait_for_selector("#received")
    root, xml = received_message(receiver)
    assert_valid(xml, dtds)
    assert root.findtext("Message/PunchOutOrderMessage/BuyerCookie") == "round-trip-4"
    assert root.findall("Message/PunchOutOrderMessage/ItemIn") == []
    assert root.findtext("Message/PunchOutOrderMessage/PunchOutOrderMessageHeader/Total/Money") == "0.00"


def test_shop_works_in_an_iframe_without_cookies(
    page: Any,
    live_server: LiveServer,
    receiver: Receiver,
    dtds: DtdRegistry,
) -> None:
    url = punch_out(live_server, receiver, buyer_cookie="framed", extrinsics={"ReturnFrame": "_top"})
    page.set_content(f'<iframe id="shop" src="{url}" style="width:100%;height:900px"></iframe>')
    frame = page.frame_locator("#shop")
    frame.locator("[data-testid=search-input]").wait_for()
    page.context.clear_cookies()
    frame.locator("[data-testid=search-input]").fill("paper")
    frame.locator("[data-testid=search-input]").press("Enter")
    frame.locator("[data-testid=add-to-cart] button").first.click()
    frame.locator("[data-testid=cart-table]").wait_for()
    frame.locator("[data-testid=checkout] button").click()
    page.wait_for_selector("#received")  # target=_top replaced the buyer's page
    root, xml = received_message(receiver)
    assert_valid(xml, dtds)
    assert len(root.findall("Message/PunchOutOrderMessage/ItemIn")) == 1


def test_base64_return_and_test_product_badge(
    page: Any,
    live_server: LiveServer,
    receiver: Receiver,
    dtds: DtdRegistry,
) -> None:
    requests.patch(
        f"{live_server.url}/__admin/accounts/demo", json={"settings": {"return_encoding": "cxml-base64"}}, timeout=10
    ).raise_for_status()
    page.goto(punch_out(live_server, receiver, selected_item="B0TESTBACK"))
    assert "B0TESTBACK" in page.url
    assert page.locator("[data-testid=test-product-badge]").inner_text() == "Test product: backordered"
    page.locator("[data-testid=add-to-cart] button").click()
    page.locator("[data-testid=checkout] button").click()
    page.wait_for_selector("#received")
    assert receiver.event.wait(15)
    xml = base64.b64decode(receiver.posts[-1]["fields"]["cxml-base64"])
    assert_valid(xml, dtds)
    assert b"<SupplierPartID>B0TESTBACK</SupplierPartID>" in xml


def test_raw_return_in_the_browser(
    page: Any,
    live_server: LiveServer,
    receiver: Receiver,
    dtds: DtdRegistry,
) -> None:
    """return_encoding raw: the browser's text/plain form posts the cXML document itself."""
    requests.patch(
        f"{live_server.url}/__admin/accounts/demo", json={"settings": {"return_encoding": "raw"}}, timeout=10
    ).raise_for_status()
    page.goto(punch_out(live_server, receiver, selected_item="B0TESTSLOW"))
    page.locator("[data-testid=add-to-cart] button").click()
    page.locator("[data-testid=checkout] button").click()
    page.wait_for_selector("#received")
    posted = receiver.posts[-1]
    assert posted["content_type"].startswith("text/plain")
    root = parse_document(posted["body"]).root
    assert_valid(posted["body"].strip(), dtds)
    assert root.findtext("Message/PunchOutOrderMessage/ItemIn/ItemID/SupplierPartID") == "B0TESTSLOW"
