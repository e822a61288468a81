"""The shop over HTTP (no browser): sessions, expiry, cookies, cart rules, pricing, locales."""

from __future__ import annotations

import re
import time
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from simulator import create_app
from simulator.catalog import repository
from simulator.config import Config
from simulator.cxml.parse import parse_document
from simulator.cxml.validate import DtdRegistry
from simulator.db import connect

from .helpers import assert_valid, setup_request, shop_form, start_url, status_of


def open_shop(client: FlaskClient, **kwargs: object) -> str:
    """Punch out, open the StartPage, and return the shop key (sid) of the session."""
    body = client.post("/punchout", data=setup_request(**kwargs)).data  # type: ignore[arg-type]
    assert status_of(body)[0] == 200, body
    opened = client.get(urlsplit(start_url(body)).path)
    assert opened.status_code == 303
    return parse_qs(urlsplit(opened.headers["Location"]).query)["sid"][0]


def session_json(client: FlaskClient) -> dict:  # type: ignore[type-arg]
    return client.get("/__admin/sessions").get_json()["items"][0]  # type: ignore[no-any-return]


def test_cart_add_update_remove(client: FlaskClient) -> None:
    sid = open_shop(client)
    assert (
        client.post("/shop/cart/add", data=shop_form(client, sid, asin="B0TESTSLOW", quantity="2")).status_code == 303
    )
    client.post("/shop/cart/add", data=shop_form(client, sid, asin="B0TESTSLOW", quantity="1"))
    client.post("/shop/cart/add", data=shop_form(client, sid, asin="B0TESTBACK"))
    assert {i["asin"]: i["quantity"] for i in session_json(client)["cart"]["items"]} == {
        "B0TESTSLOW": 3,
        "B0TESTBACK": 1,
    }
    client.post("/shop/cart/update", data=shop_form(client, sid, asin="B0TESTSLOW", quantity="5"))
    client.post("/shop/cart/remove", data=shop_form(client, sid, asin="B0TESTBACK"))
    assert {i["asin"]: i["quantity"] for i in session_json(client)["cart"]["items"]} == {"B0TESTSLOW": 5}
    client.post("/shop/cart/update", data=shop_form(client, sid, asin="B0TESTSLOW", quantity="0"))
    assert session_json(client)["cart"]["items"] == []
    page = client.get(f"/shop/cart?sid={sid}")
    assert b'data-testid="cart-empty"' in page.data


def test_bad_quantity_is_a_clear_page(client: FlaskClient) -> None:
    sid = open_shop(client)
    response = client.post("/shop/cart/add", data=shop_form(client, sid, asin="B0TESTSLOW", quantity="lots"))
    assert response.status_code == 400
    assert b"Quantity must be a whole number, got &#39;lots&#39;." in response.data


def test_tier_prices_apply_in_the_cart(app: Flask, client: FlaskClient) -> None:
    conn = connect(app.config["SIMULATOR"].database_path)
    asin = conn.execute("SELECT asin FROM products WHERE tiers != '[]' ORDER BY asin LIMIT 1").fetchone()[0]
    product = repository.get_product(conn, asin)
    conn.close()
    assert product is not None and product.tiers
    tier = product.tiers[0]
    sid = open_shop(client)
    client.post("/shop/cart/add", data=shop_form(client, sid, asin=asin, quantity=str(tier.min_quantity)))
    line = session_json(client)["cart"]["items"][0]
    assert Decimal(line["unit_price"]) == tier.unit_price < product.business_price < product.list_price


def test_inspect_sessions_are_read_only_on_the_server(client: FlaskClient) -> None:
    sid = open_shop(client, operation="inspect", items_out=[{"asin": "B0TESTSLOW", "quantity": 2}])
    response = client.post("/shop/cart/add", data=shop_form(client, sid, asin="B0TESTBACK"))
    assert response.status_code == 403
    assert b"This cart was opened for inspection and cannot be changed." in response.data
    assert [i["asin"] for i in session_json(client)["cart"]["items"]] == ["B0TESTSLOW"]


def test_returned_cart_cannot_change(client: FlaskClient) -> None:
    sid = open_shop(client, return_url="http://buyer.test/return")
    client.post("/shop/cart/add", data=shop_form(client, sid, asin="B0TESTSLOW"))
    page = client.post("/shop/checkout", data=shop_form(client, sid))
    assert b'data-testid="return-form"' in page.data and b'action="http://buyer.test/return"' in page.data
    again = client.post("/shop/cart/add", data=shop_form(client, sid, asin="B0TESTBACK"))
    assert again.status_code == 409


def test_two_checkouts_at_once_return_one_cart(client: FlaskClient, app: Flask) -> None:
    """A double click or two tabs: both requests read the session open before either closes it.
    The second finds it closed inside its transaction and is undone: one cart message, one set of
    quotes, and the shopper sees "Cart already returned"."""
    from simulator import db
    from simulator.context import Context
    from simulator.errors import ShopError
    from simulator.punchout import checkout, sessions

    open_shop(client, return_url="http://buyer.test/return")
    session_id = session_json(client)["id"]
    client.post(f"/__admin/sessions/{session_id}/cart/items", json={"asin": "B0TESTSLOW", "quantity": 2})
    conn = db.connect(app.config["SIMULATOR"].database_path)
    try:
        ctx = Context(conn, app.config["SIMULATOR"], app.extensions["dtds"])
        seen_open = sessions.get(conn, session_id)  # what both requests read before their transactions
        first = checkout.return_cart(ctx, seen_open)
        with pytest.raises(ShopError) as refused:
            checkout.return_cart(ctx, seen_open)
        assert (refused.value.status, refused.value.title) == (409, "Cart already returned")
        messages = conn.execute(
            "SELECT count(*) FROM journal WHERE doc_type = 'PunchOutOrderMessage' AND session_id = ?", (session_id,)
        ).fetchone()[0]
        quotes = [r[0] for r in conn.execute("SELECT aux_id FROM quotes WHERE session_id = ?", (session_id,))]
    finally:
        conn.close()
    assert messages == 1
    assert len(quotes) == 1 and quotes[0].encode() in first.xml  # the first message's line, only


def test_edit_restores_quoted_prices_and_skips_unknown_items(client: FlaskClient) -> None:
    sid = open_shop(client, buyer_cookie="first")
    client.post("/shop/cart/add", data=shop_form(client, sid, asin="B0TESTSLOW", quantity="2"))
    page = client.post("/shop/checkout", data=shop_form(client, sid)).get_data(as_text=True)
    aux = re.search(r"SupplierPartAuxiliaryID&gt;([^&]+)&lt;", page)
    assert aux is not None
    items = [{"asin": "B0TESTSLOW", "aux": aux.group(1), "quantity": 2}, {"asin": "OTHER-SKU-1", "quantity": 1}]
    client.post("/punchout", data=setup_request(operation="edit", buyer_cookie="second", items_out=items))
    session = client.get("/__admin/sessions?buyer_cookie=second").get_json()["items"][0]
    assert [(i["asin"], i["quantity"]) for i in session["cart"]["items"]] == [("B0TESTSLOW", 2)]
    entry = client.get("/__admin/journal?direction=in&type=PunchOutSetupRequest").get_json()["items"][0]
    assert (
        "ItemOut 2: OTHER-SKU-1 is neither a line this simulator quoted nor a catalogue ASIN; left out of the cart."
        in entry["advisories"]
    )


def test_first_punchout_register_asks_for_a_business_account(client: FlaskClient) -> None:
    client.patch("/__admin/accounts/demo", json={"settings": {"first_punchout": "register"}})
    sid = open_shop(client, email="newbie@buyer.test")
    home = client.get(f"/shop?sid={sid}")
    assert home.status_code == 303 and "/shop/register" in home.headers["Location"]
    form = client.get(f"/shop/register?sid={sid}")
    assert b"Create your business account" in form.data
    refused = client.post("/shop/register", data=shop_form(client, sid, name="New Buyer"))
    assert refused.status_code == 400
    done = client.post("/shop/register", data=shop_form(client, sid, name="New Buyer", accept="yes"))
    assert done.status_code == 303
    assert client.get(f"/shop?sid={sid}").status_code == 200
    users = client.get("/__admin/accounts/demo/users").get_json()["items"]
    assert [(u["email"], u["name"], u["registered"]) for u in users] == [("newbie@buyer.test", "New Buyer", True)]


def test_pages_without_a_session(client: FlaskClient) -> None:
    assert b"Browsing only" in client.get("/shop/product/B0TESTSLOW").data
    assert b'data-testid="add-to-cart"' not in client.get("/shop/product/B0TESTSLOW").data
    cart = client.get("/shop/cart")
    assert cart.status_code == 403 and b"This page needs a PunchOut session." in cart.data
    assert client.get("/shop/product/B0NOTHERE1").status_code == 404
    assert client.get("/shop/cart?sid=forged").status_code == 403


def test_search_paginates(client: FlaskClient) -> None:
    first = client.get("/shop/search?q=&page=1").get_data(as_text=True)
    second = client.get("/shop/search?q=&page=2").get_data(as_text=True)

    def asins(page: str) -> set[str]:
        return set(re.findall(r'data-asin="(\w+)"', page))

    assert len(asins(first)) == 20 and asins(first).isdisjoint(asins(second))
    assert 'data-testid="next-page"' in first


def test_a_total_that_was_not_counted_to_the_end_says_more_than(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted = client.get("/shop/search?q=pack").get_data(as_text=True)
    assert re.search(r'data-testid="result-count">\d+ results</p>', counted)
    monkeypatch.setattr(repository, "COUNT_LIMIT", 5)
    monkeypatch.setattr(repository, "CANDIDATES", 3)  # so that the count is asked for at all
    page = client.get("/shop/search?q=pack").get_data(as_text=True)
    assert 'data-testid="result-count">More than 5 results</p>' in page


@pytest.fixture
def short_lived(config: Config) -> FlaskClient:
    return create_app(config.with_overrides(session_ttl=1)).test_client()


def test_start_link_and_idle_session_expire(short_lived: FlaskClient) -> None:
    body = short_lived.post("/punchout", data=setup_request()).data
    time.sleep(1.2)
    expired = short_lived.get(urlsplit(start_url(body)).path)
    assert expired.status_code == 410 and b"This start link expired" in expired.data
    sid = open_shop(short_lived)
    assert short_lived.get(f"/shop/cart?sid={sid}").status_code == 200
    time.sleep(1.2)
    idle = short_lived.get(f"/shop/cart?sid={sid}")
    assert idle.status_code == 410 and b"Your shopping session expired" in idle.data


def test_cookie_is_samesite_none_secure_over_https(config: Config) -> None:
    client = create_app(config.with_overrides(public_url="https://sim.example")).test_client()
    body = client.post("/punchout", data=setup_request()).data
    cookie = client.get(urlsplit(start_url(body)).path).headers["Set-Cookie"]
    assert "Secure" in cookie and "SameSite=None" in cookie and "HttpOnly" in cookie


def test_german_account_gets_eur_and_vat(client: FlaskClient, dtds: DtdRegistry) -> None:
    client.patch("/__admin/accounts/demo", json={"settings": {"locale": "de_DE", "cxml_version": "1.2.024"}})
    sid = open_shop(client)
    client.post("/shop/cart/add", data=shop_form(client, sid, asin="B0TESTSLOW"))
    session = session_json(client)
    result = client.post(f"/__admin/sessions/{session['id']}/checkout", json={}).get_json()
    xml = result["cxml"].encode()
    assert b"/1.2.024/cXML.dtd" in xml
    assert_valid(xml, dtds)
    root = parse_document(xml).root
    item = root.find("Message/PunchOutOrderMessage/ItemIn")
    assert item.find("ItemDetail/UnitPrice/Money").get("currency") == "EUR"
    detail = item.find("Tax/TaxDetail")
    assert (detail.get("category"), detail.get("percentageRate"), detail.get("purpose")) == (
        "vat",
        "19.00",
        "subtotalTax",
    )
    assert item.find("ItemDetail/Description").get("{http://www.w3.org/XML/1998/namespace}lang") == "de-DE"
