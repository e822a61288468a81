"""One account's quotes are not another's: a SupplierPartAuxiliaryID restores a quoted line, and
holds its price on an order, only for the account it was issued to."""

from __future__ import annotations

import re
import sqlite3

from flask import Flask
from flask.testing import FlaskClient

from ..helpers import order_request, setup_request, shop_form
from ..test_shop import open_shop

OTHER = {"domain": "NetworkId", "identity": "OTHER-BUYER", "shared_secret": "other-secret"}
MARKED_PRICE = "1.23"  # a price the catalogue never has, to see which path priced a line


def quote_for_demo(app: Flask, client: FlaskClient) -> str:
    sid = open_shop(client, buyer_cookie="quoted")
    client.post("/shop/cart/add", data=shop_form(client, sid, asin="B0TESTSLOW", quantity="2"))
    page = client.post("/shop/checkout", data=shop_form(client, sid)).get_data(as_text=True)
    found = re.search(r"SupplierPartAuxiliaryID&gt;([^&]+)&lt;", page)
    assert found is not None
    with sqlite3.connect(app.config["SIMULATOR"].database_path) as conn:
        conn.execute("UPDATE quotes SET unit_price = ? WHERE aux_id = ?", (MARKED_PRICE, found.group(1)))
    return found.group(1)


def cart_prices(client: FlaskClient, cookie: str) -> list[str]:
    session = client.get(f"/__admin/sessions?buyer_cookie={cookie}").get_json()["items"][0]
    return [item["unit_price"] for item in session["cart"]["items"]]


def test_an_edit_restores_a_quote_only_for_its_own_account(app: Flask, client: FlaskClient) -> None:
    aux = quote_for_demo(app, client)
    assert client.post("/__admin/accounts", json={"name": "Other", "credentials": OTHER}).status_code == 201
    items = [{"asin": "B0TESTSLOW", "aux": aux, "quantity": 2}]
    client.post("/punchout", data=setup_request(operation="edit", buyer_cookie="own", items_out=items))
    client.post(
        "/punchout",
        data=setup_request(operation="edit", buyer_cookie="foreign", items_out=items, credentials=OTHER),
    )
    assert cart_prices(client, "own") == [MARKED_PRICE]
    foreign = cart_prices(client, "foreign")
    assert len(foreign) == 1 and foreign[0] != MARKED_PRICE  # priced from the catalogue


def test_an_order_with_another_accounts_quote_is_priced_from_the_catalogue(app: Flask, client: FlaskClient) -> None:
    aux = quote_for_demo(app, client)
    assert client.post("/__admin/accounts", json={"name": "Other", "credentials": OTHER}).status_code == 201
    body = order_request(
        order_id="PO-FOREIGN-QUOTE",
        credentials=OTHER,
        lines=[{"asin": "B0TESTSLOW", "aux": aux, "quantity": 2, "price": MARKED_PRICE}],
    )
    client.post("/orders", data=body, content_type="text/xml")
    entry = client.get("/__admin/journal?direction=in&type=OrderRequest").get_json()["items"][0]
    assert (
        f"ItemOut 1: SupplierPartAuxiliaryID {aux!r} was not issued to this account, or its quote is older than "
        "--quote-keep-days; priced from the catalogue." in entry["advisories"]
    )
