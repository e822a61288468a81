"""SAP OCI over HTTP (no browser): the login, the cart as NEW_ITEM fields, cancel, background functions,
the admin API, the journal, and German text in UTF-8."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
from flask.testing import FlaskClient
from lxml import html

from simulator.config import Config
from simulator.db import connect
from simulator.oci.fields import LENGTHS

from .conftest import Receiver
from .helpers import order_request, shop_form, status_of

HOOK = "http://buyer.test/sap/bc/srm/hook?sap-client=100"
LOGIN = {"USERNAME": "demo", "PASSWORD": "demo-secret", "~OkCode": "ADDI", "~target": "_top", "~caller": "CTLGS"}
FIELDS = [
    "DESCRIPTION",
    "MATNR",
    "QUANTITY",
    "UNIT",
    "PRICE",
    "PRICEUNIT",
    "CURRENCY",
    "LEADTIME",
    "VENDOR",
    "VENDORMAT",
    "MANUFACTCODE",
    "MANUFACTMAT",
    "MATGROUP",
    "EXT_PRODUCT_ID",
    "EXT_QUOTE_ID",
    "CUST_FIELD1",
    "CUST_FIELD2",
    "CUST_FIELD3",
    "CUST_FIELD4",
    "CUST_FIELD5",
]


def sid_of(location: str) -> str:
    assert urlsplit(location).path == "/shop", location
    return parse_qs(urlsplit(location).query)["sid"][0]


def login(client: FlaskClient, *, method: str = "GET", hook: str = HOOK, **extra: str) -> str:
    """Log in as SAP does and return the shop key the redirect carries; cookies are dropped after."""
    data = {"HOOK_URL": hook, **LOGIN, **extra}
    response = client.get("/oci", query_string=data) if method == "GET" else client.post("/oci", data=data)
    assert response.status_code == 303, response.data
    client.delete_cookie("punchout_shop")
    return sid_of(response.headers["Location"])


def form_of(page: bytes) -> tuple[Any, list[tuple[str, str]]]:
    """The return form and its fields in document order (a long text name repeats)."""
    form = html.fromstring(page).get_element_by_id("return-form")
    return form, [(i.get("name"), i.get("value", "")) for i in form.iter("input")]


def product(client: FlaskClient, asin: str, locale: str = "en_US") -> dict[str, Any]:
    found: dict[str, Any] = client.get(f"/__admin/catalog/products/{asin}?locale={locale}").get_json()
    return found


def expected_item(n: int, p: dict[str, Any], quantity: str, price: str, quote: str, base: str) -> dict[str, str]:
    """The NEW_ITEM fields of line ``n`` as the README's mapping table says, cut to the OCI lengths."""
    values = {
        "DESCRIPTION": p["title"],
        "MATNR": "",
        "QUANTITY": quantity,
        "UNIT": p["unit_of_measure"],
        "PRICE": price,
        "PRICEUNIT": "1",
        "CURRENCY": p["currency"],
        "LEADTIME": str(p["lead_time_days"]),
        "VENDOR": "AMAZON",
        "VENDORMAT": p["asin"],
        "MANUFACTCODE": p["manufacturer"],
        "MANUFACTMAT": p["manufacturer_part_id"],
        "MATGROUP": p["unspsc"],
        "EXT_PRODUCT_ID": p["asin"],
        "EXT_QUOTE_ID": quote,
        "CUST_FIELD1": p["sold_by"],
        "CUST_FIELD2": p["fulfilled_by"],
        "CUST_FIELD3": p["condition"],
        "CUST_FIELD4": p["upc"],
        "CUST_FIELD5": f"{base}/shop/product/{p['asin']}",
    }
    return {f"NEW_ITEM-{k}[{n}]": v[: LENGTHS[k]].rstrip() for k, v in values.items()}


def unit_price(p: dict[str, Any], quantity: int) -> str:
    """The catalogue's price of one unit at ``quantity`` (the best tier reached, or the business price)."""
    prices = [Decimal(p["business_price"])]
    prices += [Decimal(t["unit_price"]) for t in p["tiers"] if quantity >= t["min_quantity"]]
    return f"{min(prices):.2f}"


def longtext(fields: list[tuple[str, str]], n: int) -> list[str]:
    return [v for k, v in fields if k == f"NEW_ITEM-LONGTEXT_{n}:132[]"]


def journal(client: FlaskClient, **criteria: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.post("/__admin/journal/find", json=criteria).get_json()["items"]
    return items


def entry(client: FlaskClient, entry_id: int) -> dict[str, Any]:
    found: dict[str, Any] = client.get(f"/__admin/journal/{entry_id}").get_json()
    return found


# --- login ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_login_opens_the_shop_with_sid(client: FlaskClient, method: str) -> None:
    sid = login(client, method=method)
    page = client.get(f"/shop?sid={sid}")  # no cookie: the sid alone carries the session
    assert page.status_code == 200
    assert b'data-testid="buyer-organisation">Demo Buyer<' in page.data
    [session] = client.get("/__admin/sessions").get_json()["items"]
    assert session["protocol"] == "oci"
    assert session["status"] == "shopping"
    assert session["buyer_cookie"] == ""
    assert session["browser_form_post_url"] == HOOK
    assert session["form_target"] == "_top"
    assert session["oci"] == {
        "hook_url": HOOK,
        "ok_code": "ADDI",
        "target": "_top",
        "caller": "CTLGS",
        "version": "4.0",
    }
    [answer, call] = journal(client, endpoint="/oci")
    assert (call["direction"], call["doc_type"], call["http_status"]) == ("in", "OCILogin", 303)
    assert (answer["doc_type"], answer["in_reply_to"]) == ("OCILoginResponse", call["id"])
    body = entry(client, call["id"])["body"]
    assert "PASSWORD=%2A%2A%2A%2A" in body
    assert "demo-secret" not in body


def test_lower_case_names_and_extra_fields_are_read(client: FlaskClient) -> None:
    response = client.post(
        "/oci",
        data={
            "HOOK_URL": HOOK,
            "username": "demo",
            "password": "demo-secret",
            "email": "max.mustermann@buyer.test",
            "first_name": "Max",
            "last_name": "Mustermann",
        },
    )
    assert response.status_code == 303
    [session] = client.get("/__admin/sessions").get_json()["items"]
    assert (session["email"], session["user_name"]) == ("max.mustermann@buyer.test", "Max Mustermann")
    assert session["oci"]["ok_code"] == "ADDI"  # the OCI default when the buyer sends none
    assert session["oci"]["caller"] is None
    assert session["extrinsics"] == {
        "email": "max.mustermann@buyer.test",
        "first_name": "Max",
        "last_name": "Mustermann",
    }
    [call] = journal(client, type="OCILogin")
    assert "Field 'username' read as USERNAME (OCI names it USERNAME)." in call["advisories"]
    assert "password=%2A%2A%2A%2A" in entry(client, call["id"])["body"]


def test_wrong_password_is_a_clear_page_and_journaled_masked(client: FlaskClient) -> None:
    response = client.get("/oci", query_string={"HOOK_URL": HOOK, "USERNAME": "demo", "PASSWORD": "letmein"})
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert 'data-testid="error-title">OCI login refused<' in page
    assert (
        "The PASSWORD sent for the OCI username &#39;demo&#39; does not match the account&#39;s OCI password." in page
    )
    [answer, call] = journal(client, endpoint="/oci")
    assert (call["doc_type"], call["direction"], call["http_status"], call["account_id"]) == (
        "OCILogin",
        "in",
        401,
        None,
    )
    body = entry(client, call["id"])["body"]
    assert body == (
        "HOOK_URL=http%3A%2F%2Fbuyer.test%2Fsap%2Fbc%2Fsrm%2Fhook%3Fsap-client%3D100&USERNAME=demo&PASSWORD=%2A%2A%2A%2A"
    )
    assert "letmein" not in body
    assert answer["doc_type"] == "OCILoginResponse"
    assert entry(client, answer["id"])["body"].startswith("OCI login refused: The PASSWORD sent for")
    assert client.get("/__admin/sessions").get_json()["total"] == 0


def test_unknown_username_and_missing_credentials(client: FlaskClient) -> None:
    unknown = client.get("/oci", query_string={"HOOK_URL": HOOK, "USERNAME": "nobody", "PASSWORD": "x"})
    assert unknown.status_code == 401
    assert b"No account has the OCI username &#39;nobody&#39;." in unknown.data
    bare = client.get("/oci", query_string={"HOOK_URL": HOOK})
    assert bare.status_code == 401
    assert b"The catalogue call has no USERNAME and PASSWORD" in bare.data


@pytest.mark.parametrize(
    ("hook", "status", "text"),
    [
        (None, 400, b"The catalogue call has no HOOK_URL: the address the cart goes back to."),
        ("", 400, b"The catalogue call has no HOOK_URL"),
        ("ftp://buyer.test/hook", 400, b"HOOK_URL must be an absolute http or https URL (or SAPEVENT:"),
    ],
)
def test_missing_or_unusable_hook_url_is_a_clear_page(
    client: FlaskClient, hook: str | None, status: int, text: bytes
) -> None:
    data = dict(LOGIN) if hook is None else {"HOOK_URL": hook, **LOGIN}
    response = client.get("/oci", query_string=data)
    assert response.status_code == status
    assert b'data-testid="error-title">HOOK_URL is' in response.data
    assert text in response.data
    [_, call] = journal(client, endpoint="/oci")
    assert (call["http_status"], call["account_id"]) == (status, "demo")
    assert client.get("/__admin/sessions").get_json()["total"] == 0


def test_a_user_without_the_punchout_role_is_refused(client: FlaskClient) -> None:
    client.post("/__admin/accounts/demo/users", json={"email": "viewer@buyer.test", "roles": ["finance"]})
    response = client.get("/oci", query_string={"HOOK_URL": HOOK, **LOGIN, "email": "viewer@buyer.test"})
    assert response.status_code == 403
    assert b"has no PunchOut role" in response.data


def test_account_oci_credentials_are_the_accounts_own(client: FlaskClient) -> None:
    created = client.post(
        "/__admin/accounts",
        json={
            "name": "SAP Buyer",
            "credentials": {"domain": "NetworkId", "identity": "SAP-BUYER", "shared_secret": "s"},
            "oci": {"username": "SAPBUYER", "password": "Geheim-1"},
            "settings": {"locale": "de_DE"},
        },
    ).get_json()
    sid = login(client, USERNAME="SAPBUYER", PASSWORD="Geheim-1")
    assert client.get(f"/shop?sid={sid}").status_code == 200
    [session] = client.get("/__admin/sessions").get_json()["items"]
    assert (session["account_id"], session["locale"]) == (created["id"], "de_DE")


# --- the cart ---------------------------------------------------------------------------------------


def test_return_fields_for_two_products(client: FlaskClient, config: Config) -> None:
    sid = login(client)
    long_described = next(
        p
        for p in client.get("/__admin/catalog/search?q=&limit=100").get_json()["items"]
        if len(p["description"]) > 132 and not p["asin"].startswith("B0TEST")
    )
    client.post("/shop/cart/add", data=shop_form(client, sid, asin="B0TESTSLOW", quantity="2"))
    client.post("/shop/cart/add", data=shop_form(client, sid, asin=long_described["asin"], quantity="1"))
    client.post("/shop/cart/update", data=shop_form(client, sid, asin=long_described["asin"], quantity="3"))
    response = client.post("/shop/checkout", data=shop_form(client, sid))
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    form, fields = form_of(response.data)
    assert (form.get("action"), form.get("method"), form.get("target")) == (HOOK, "post", "_top")
    assert form.get("accept-charset") == "UTF-8"
    assert b'src="/static/return.js"' in response.data  # posts itself

    names = [k for k, _ in fields]
    assert names[:2] == ["~OkCode", "~caller"]
    assert dict(fields[:2]) == {"~OkCode": "ADDI", "~caller": "CTLGS"}
    item_names = [f"NEW_ITEM-{f}[1]" for f in FIELDS] + ["NEW_ITEM-LONGTEXT_1:132[]"]
    assert names[2 : 2 + len(item_names)] == item_names
    values = {k: v for k, v in fields if "LONGTEXT" not in k}
    quote1, quote2 = values["NEW_ITEM-EXT_QUOTE_ID[1]"], values["NEW_ITEM-EXT_QUOTE_ID[2]"]
    assert quote1.endswith(",1") and quote2.endswith(",2") and quote1[:-2] == quote2[:-2]
    assert len(quote1[:-2]) == 19 and quote1[3] == quote1[11] == "-"

    base = "http://simulator.test"
    slow, other = product(client, "B0TESTSLOW"), product(client, long_described["asin"])
    expected = {
        **expected_item(1, slow, "2.000", "27.49", quote1, base),
        **expected_item(2, other, "3.000", unit_price(other, 3), quote2, base),
    }
    assert values == {"~OkCode": "ADDI", "~caller": "CTLGS", **expected}
    # the fixed test product, spelled out: the mapping of the README's table
    assert {k: v for k, v in values.items() if k.endswith("[1]")} == {
        "NEW_ITEM-DESCRIPTION[1]": "Test product: slow delivery (21 days) —",
        "NEW_ITEM-MATNR[1]": "",
        "NEW_ITEM-QUANTITY[1]": "2.000",
        "NEW_ITEM-UNIT[1]": "EA",
        "NEW_ITEM-PRICE[1]": "27.49",
        "NEW_ITEM-PRICEUNIT[1]": "1",
        "NEW_ITEM-CURRENCY[1]": "USD",
        "NEW_ITEM-LEADTIME[1]": "21",
        "NEW_ITEM-VENDOR[1]": "AMAZON",
        "NEW_ITEM-VENDORMAT[1]": "B0TESTSLOW",
        "NEW_ITEM-MANUFACTCODE[1]": "PunchOut S",
        "NEW_ITEM-MANUFACTMAT[1]": "TEST-SLOW-006",
        "NEW_ITEM-MATGROUP[1]": slow["unspsc"],
        "NEW_ITEM-EXT_PRODUCT_ID[1]": "B0TESTSLOW",
        "NEW_ITEM-EXT_QUOTE_ID[1]": quote1,
        "NEW_ITEM-CUST_FIELD1[1]": "Maple & Ma",
        "NEW_ITEM-CUST_FIELD2[1]": "Maple & Ma",
        "NEW_ITEM-CUST_FIELD3[1]": "New",
        "NEW_ITEM-CUST_FIELD4[1]": "200000000066",
        "NEW_ITEM-CUST_FIELD5[1]": "http://simulator.test/shop/product/B0TESTSLOW",
    }
    for name, value in values.items():
        field = name.removeprefix("NEW_ITEM-").split("[")[0]
        if field in LENGTHS:
            assert len(value) <= LENGTHS[field], name
    assert len(slow["unspsc"]) == 8

    # the long text: 132-character pieces that give the description back
    assert longtext(fields, 1) == [slow["description"]]
    pieces = longtext(fields, 2)
    assert len(pieces) == -(-len(other["description"]) // 132) >= 2
    assert all(len(p) == 132 for p in pieces[:-1]) and 0 < len(pieces[-1]) <= 132
    assert "".join(pieces) == other["description"]

    # the journal: the OCICart entry holds the posted fields, and says what was cut
    [cart] = journal(client, type="OCICart")
    assert (cart["direction"], cart["endpoint"]) == ("out", HOOK)
    assert parse_qsl(entry(client, cart["id"])["body"], keep_blank_values=True) == fields
    assert cart["advisories"][0] == "2 item(s) returned as OCI 4.0 NEW_ITEM fields"
    assert (
        "NEW_ITEM-DESCRIPTION[1]: 61 characters cut to the OCI length 40: "
        "'Test product: slow delivery (21 days) — Desk Organizer, Black' -> 'Test product: slow delivery (21 days) —'."
    ) in cart["advisories"]
    assert not any(a.startswith("NEW_ITEM-VENDORMAT") for a in cart["advisories"])

    # the quotes: each EXT_QUOTE_ID is a quote of this session, at the price sent
    conn = connect(config.database_path)
    try:
        rows = conn.execute(
            "SELECT aux_id, asin, quantity, unit_price, currency FROM quotes ORDER BY line_number"
        ).fetchall()
    finally:
        conn.close()
    assert [tuple(r) for r in rows] == [
        (quote1, "B0TESTSLOW", 2, "27.49", "USD"),
        (quote2, other["asin"], 3, values["NEW_ITEM-PRICE[2]"], "USD"),
    ]
    [session] = client.get("/__admin/sessions").get_json()["items"]
    assert session["status"] == "returned"
    again = client.post("/shop/checkout", data=shop_form(client, sid))
    assert again.status_code == 409


def test_an_order_quoting_the_ext_quote_id_is_matched(client: FlaskClient) -> None:
    sid = login(client)
    client.post("/shop/cart/add", data=shop_form(client, sid, asin="B0TESTBACK", quantity="4"))
    _, fields = form_of(client.post("/shop/checkout", data=shop_form(client, sid)).data)
    quote = dict(fields)["NEW_ITEM-EXT_QUOTE_ID[1]"]
    answer = client.post(
        "/orders",
        data=order_request(order_id="PO-OCI-1", lines=[{"asin": "B0TESTBACK", "quantity": 4, "aux": quote}]),
    )
    assert status_of(answer.data)[0] == 200
    [order_in] = journal(client, type="OrderRequest", direction="in")
    assert not any("was not issued to this account" in a for a in order_in["advisories"])
    bogus = client.post(
        "/orders",
        data=order_request(
            order_id="PO-OCI-2", lines=[{"asin": "B0TESTBACK", "quantity": 1, "aux": "123-1234567-1234567,1"}]
        ),
    )
    assert status_of(bogus.data)[0] == 200
    latest = journal(client, type="OrderRequest", direction="in")[0]
    assert any("was not issued to this account" in a for a in latest["advisories"])


def test_return_without_items(client: FlaskClient) -> None:
    sid = login(client)
    client.post("/shop/cart/add", data=shop_form(client, sid, asin="B0TESTSLOW"))
    response = client.post("/shop/return-without-items", data=shop_form(client, sid))
    assert response.status_code == 200
    form, fields = form_of(response.data)
    assert form.get("action") == HOOK
    assert fields == [("~OkCode", "ADDI"), ("~caller", "CTLGS")]
    [session] = client.get("/__admin/sessions").get_json()["items"]
    assert session["status"] == "cancelled"
    [cart] = journal(client, type="OCICart")
    assert cart["advisories"] == ["0 item(s) returned as OCI 4.0 NEW_ITEM fields (cancelled: no items)"]


def test_ocicancel_at_login_returns_no_items_at_once(client: FlaskClient) -> None:
    response = client.get("/oci", query_string={"HOOK_URL": HOOK, **LOGIN, "OCICANCEL": "X"})
    assert response.status_code == 200
    form, fields = form_of(response.data)
    assert (form.get("action"), form.get("target")) == (HOOK, "_top")
    assert fields == [("~OkCode", "ADDI"), ("~caller", "CTLGS")]
    [session] = client.get("/__admin/sessions").get_json()["items"]
    assert session["status"] == "cancelled"
    assert [e["doc_type"] for e in journal(client)] == ["OCILoginResponse", "OCILogin", "OCICart"]


def test_a_cancel_url_in_the_login_takes_the_cancelled_cart(client: FlaskClient) -> None:
    cancel = "http://buyer.test/oci/hook.php/CANCEL"
    sid = login(client, OCI_CANCEL=cancel)
    form, fields = form_of(client.post("/shop/return-without-items", data=shop_form(client, sid)).data)
    assert form.get("action") == cancel
    assert fields == [("~OkCode", "ADDI"), ("~caller", "CTLGS")]


def test_target_and_ok_code_are_echoed_as_sent(client: FlaskClient) -> None:
    sid = login(client, **{"~target": "catalog_frame", "~OkCode": "ADDI", "~caller": "SRM7"})
    client.post("/shop/cart/add", data=shop_form(client, sid, asin="B0TESTBACK"))
    form, fields = form_of(client.post("/shop/checkout", data=shop_form(client, sid)).data)
    assert form.get("target") == "catalog_frame"
    assert fields[:2] == [("~OkCode", "ADDI"), ("~caller", "SRM7")]


def test_german_titles_arrive_intact_in_utf8(client: FlaskClient, receiver: Receiver) -> None:
    assert client.patch("/__admin/accounts/demo", json={"settings": {"locale": "de_DE"}}).status_code == 200
    sid = login(client, hook=receiver.url)
    client.post("/shop/cart/add", data=shop_form(client, sid, asin="B0TESTOOST"))
    client.post("/shop/cart/add", data=shop_form(client, sid, asin="B0TESTREJT"))
    page = client.post("/shop/checkout", data=shop_form(client, sid))
    assert page.content_type == "text/html; charset=utf-8"
    _, fields = form_of(page.data)
    values = dict(fields)
    oost, rejt = product(client, "B0TESTOOST", "de_DE"), product(client, "B0TESTREJT", "de_DE")
    assert values["NEW_ITEM-DESCRIPTION[1]"] == "Testprodukt: nicht vorrätig — Haftnotize"
    assert values["NEW_ITEM-DESCRIPTION[1]"] == oost["title"][:40]
    assert values["NEW_ITEM-CURRENCY[1]"] == "EUR"
    assert values["NEW_ITEM-PRICE[1]"] == f"{Decimal(oost['business_price']):.2f}"
    assert "." in values["NEW_ITEM-PRICE[1]"] and "," not in values["NEW_ITEM-PRICE[1]"]
    assert "".join(longtext(fields, 2)) == rejt["description"]  # 139 characters: two pieces
    assert len(longtext(fields, 2)) == 2
    # the same fields posted from the server: UTF-8, percent-encoded
    session_id = client.get("/__admin/sessions").get_json()["items"][0]["id"]
    login(client, hook=receiver.url)
    second = client.get("/__admin/sessions").get_json()["items"][0]["id"]
    assert second != session_id
    client.post(f"/__admin/sessions/{second}/cart/items", json={"asin": "B0TESTOOST"})
    result = client.post(f"/__admin/sessions/{second}/checkout", json={"deliver": True}).get_json()
    assert result["delivered"]["ok"] is True
    posted = parse_qsl(receiver.posts[-1]["body"].decode("ascii"), keep_blank_values=True, encoding="utf-8")
    assert dict(posted)["NEW_ITEM-DESCRIPTION[1]"] == "Testprodukt: nicht vorrätig — Haftnotize"
    assert "%C3%A4" in receiver.posts[-1]["body"].decode("ascii")  # ä as UTF-8


# --- background functions ---------------------------------------------------------------------------


def background(client: FlaskClient, **fields: str) -> tuple[Any, list[tuple[str, str]]]:
    response = client.get("/oci", query_string={"HOOK_URL": HOOK, **LOGIN, **fields})
    assert response.status_code == 200, response.data
    return form_of(response.data)


def test_detail_answers_one_product_as_fields(client: FlaskClient) -> None:
    form, fields = background(client, FUNCTION="DETAIL", PRODUCTID="b0testslow")
    assert (form.get("action"), form.get("target")) == (HOOK, "_top")
    values = {k: v for k, v in fields if "LONGTEXT" not in k}
    slow = product(client, "B0TESTSLOW")
    assert values == {
        "~OkCode": "ADDI",
        "~caller": "CTLGS",
        **expected_item(1, slow, "1.000", "27.49", "", "http://simulator.test"),
    }
    assert longtext(fields, 1) == [slow["description"]]
    assert client.get("/__admin/sessions").get_json()["total"] == 0  # no session, no quote
    [answer, call] = journal(client)
    assert "OCI 4.0 background function DETAIL." in call["advisories"]
    assert "NEW_ITEM-DESCRIPTION[1]: 61 characters cut" in " ".join(call["advisories"])
    assert (answer["doc_type"], answer["http_status"]) == ("OCILoginResponse", 200)
    assert parse_qsl(entry(client, answer["id"])["body"], keep_blank_values=True) == fields


def test_validate_reprices_at_the_quantity(client: FlaskClient) -> None:
    split = product(client, "B0TESTSPLT")
    assert [t["min_quantity"] for t in split["tiers"]] == [10, 50]
    _, one = background(client, FUNCTION="VALIDATE", PRODUCTID="B0TESTSPLT", QUANTITY="1.000")
    _, ten = background(client, FUNCTION="VALIDATE", PRODUCTID="B0TESTSPLT", QUANTITY="10.000")
    _, fifty = background(client, FUNCTION="VALIDATE", PRODUCTID="B0TESTSPLT", QUANTITY="50")
    assert (dict(one)["NEW_ITEM-PRICE[1]"], dict(one)["NEW_ITEM-QUANTITY[1]"]) == ("22.99", "1.000")
    assert (dict(ten)["NEW_ITEM-PRICE[1]"], dict(ten)["NEW_ITEM-QUANTITY[1]"]) == ("22.30", "10.000")
    assert (dict(fifty)["NEW_ITEM-PRICE[1]"], dict(fifty)["NEW_ITEM-QUANTITY[1]"]) == ("21.38", "50.000")
    assert [t["unit_price"] for t in split["tiers"]] == ["22.30", "21.38"]
    call = journal(client, type="OCILogin")[0]
    assert "VALIDATE B0TESTSPLT x 50: unit price 21.38 USD (business price 22.99)." in call["advisories"]
    _, rounded = background(client, FUNCTION="VALIDATE", PRODUCTID="B0TESTSPLT", QUANTITY="9.5")
    assert dict(rounded)["NEW_ITEM-QUANTITY[1]"] == "10.000"


def test_background_search_answers_at_most_twenty(client: FlaskClient) -> None:
    _, fields = background(client, FUNCTION="BACKGROUND_SEARCH", SEARCHSTRING="paper")
    asins = [v for k, v in fields if k.startswith("NEW_ITEM-EXT_PRODUCT_ID[")]
    expected = client.get("/__admin/catalog/search?q=paper&limit=20").get_json()
    assert asins == [p["asin"] for p in expected["items"]]
    assert 1 < len(asins) <= 20
    assert [k for k, _ in fields if k.startswith("NEW_ITEM-QUANTITY")] == [
        f"NEW_ITEM-QUANTITY[{n}]" for n in range(1, len(asins) + 1)
    ]
    assert {v for k, v in fields if k.startswith("NEW_ITEM-QUANTITY")} == {"1.000"}
    _, many = background(client, FUNCTION="BACKGROUND_SEARCH", SEARCHSTRING="test product pack")
    assert len([k for k, _ in many if k.startswith("NEW_ITEM-VENDORMAT[")]) <= 20
    _, none = background(client, FUNCTION="BACKGROUND_SEARCH", SEARCHSTRING="zzzzqqqq")
    assert none == [("~OkCode", "ADDI"), ("~caller", "CTLGS")]


@pytest.mark.parametrize(
    ("fields", "status", "text"),
    [
        ({"FUNCTION": "FROBNICATE"}, 400, b"FUNCTION=&#39;FROBNICATE&#39; is not served."),
        ({"FUNCTION": "SOURCING"}, 501, b"this simulator serves DETAIL, VALIDATE, BACKGROUND_SEARCH"),
        ({"FUNCTION": "DETAIL"}, 400, b"FUNCTION=DETAIL needs PRODUCTID"),
        ({"FUNCTION": "DETAIL", "PRODUCTID": "B0NOTHERE0"}, 404, b"PRODUCTID &#39;B0NOTHERE0&#39; is not in"),
        ({"FUNCTION": "VALIDATE", "PRODUCTID": "B0TESTSLOW", "QUANTITY": "1,5"}, 400, b"with a decimal point"),
        ({"FUNCTION": "VALIDATE", "PRODUCTID": "B0TESTSLOW", "QUANTITY": "0"}, 400, b"positive number"),
        ({"FUNCTION": "BACKGROUND_SEARCH"}, 400, b"needs SEARCHSTRING"),
    ],
)
def test_function_errors_are_clear_pages(client: FlaskClient, fields: dict[str, str], status: int, text: bytes) -> None:
    response = client.get("/oci", query_string={"HOOK_URL": HOOK, **LOGIN, **fields})
    assert response.status_code == status
    assert text in response.data, response.data
    assert b'data-testid="error-title"' in response.data


# --- admin API --------------------------------------------------------------------------------------


def test_admin_start_fill_and_checkout_with_deliver(client: FlaskClient, receiver: Receiver) -> None:
    started = client.post("/__admin/oci/sessions", json={"HOOK_URL": receiver.url, **LOGIN, "OCI_VERSION": "5.0"})
    assert started.status_code == 201
    body = started.get_json()
    assert body["account_id"] == "demo" and body["cancelled"] is False
    assert body["start_url"].startswith("http://simulator.test/start/")
    session_id = body["session_id"]
    added = client.post(f"/__admin/sessions/{session_id}/cart/items", json={"asin": "B0TESTSLOW", "quantity": 2})
    assert added.status_code == 201
    client.post(f"/__admin/sessions/{session_id}/cart/items", json={"asin": "B0TESTBACK"})
    result = client.post(f"/__admin/sessions/{session_id}/checkout", json={"deliver": True}).get_json()
    assert result["cxml"] is None and result["payload_id"] is None
    assert (result["action"], result["target"], result["protocol"]) == (receiver.url, "_top", "oci")
    assert result["advisories"][0] == "2 item(s) returned as OCI 5.0 NEW_ITEM fields"
    fields = result["fields"]
    assert fields["~OkCode"] == "ADDI" and fields["~caller"] == "CTLGS"
    assert fields["NEW_ITEM-VENDORMAT[1]"] == "B0TESTSLOW" and fields["NEW_ITEM-QUANTITY[1]"] == "2.000"
    assert fields["NEW_ITEM-VENDORMAT[2]"] == "B0TESTBACK" and fields["NEW_ITEM-UNIT[2]"] == "RM"
    assert result["delivered"]["ok"] is True and result["delivered"]["http_status"] == 200
    [post] = receiver.posts
    assert post["path"] == "/punchout/return"
    assert post["content_type"] == "application/x-www-form-urlencoded"
    posted = parse_qsl(post["body"].decode("ascii"), keep_blank_values=True, encoding="utf-8")
    assert {k: v for k, v in posted if "LONGTEXT" not in k} == {
        k: v for k, v in fields.items() if isinstance(v, str) and "LONGTEXT" not in k
    }
    assert [k for k, _ in posted][:4] == ["~OkCode", "~caller", "NEW_ITEM-DESCRIPTION[1]", "NEW_ITEM-MATNR[1]"]
    # the start link is one-time and opens the shop in a browser
    opened = client.get(urlsplit(body["start_url"]).path)
    assert opened.status_code == 410  # already returned: the link was never used, the session is closed
    again = client.post(f"/__admin/sessions/{session_id}/checkout", json={})
    assert again.status_code == 409


def test_admin_start_url_opens_the_shop(client: FlaskClient) -> None:
    body = client.post("/__admin/oci/sessions", json={"HOOK_URL": HOOK, **LOGIN}).get_json()
    opened = client.get(urlsplit(body["start_url"]).path)
    assert opened.status_code == 303
    sid = sid_of(opened.headers["Location"])
    client.delete_cookie("punchout_shop")
    client.post("/shop/cart/add", data=shop_form(client, sid, asin="B0TESTSLOW"))
    result = client.post(f"/__admin/sessions/{body['session_id']}/checkout", json={"cancel": True}).get_json()
    assert result["fields"] == {"~OkCode": "ADDI", "~caller": "CTLGS"}
    assert result["delivered"] is None


def test_admin_start_errors(client: FlaskClient) -> None:
    wrong = client.post("/__admin/oci/sessions", json={"HOOK_URL": HOOK, "USERNAME": "demo", "PASSWORD": "nope"})
    assert wrong.status_code == 401
    assert wrong.get_json()["error"] == "wrong_password"
    no_hook = client.post("/__admin/oci/sessions", json=LOGIN)
    assert (no_hook.status_code, no_hook.get_json()["error"]) == (400, "missing_hook_url")
    not_strings = client.post("/__admin/oci/sessions", json={"HOOK_URL": HOOK, "USERNAME": "demo", "PASSWORD": 1})
    assert (not_strings.status_code, not_strings.get_json()["error"]) == (400, "invalid_body")
    function = client.post("/__admin/oci/sessions", json={"HOOK_URL": HOOK, **LOGIN, "FUNCTION": "DETAIL"})
    assert function.status_code == 400
    calls = journal(client, endpoint="/__admin/oci/sessions", type="OCILogin")
    assert [c["http_status"] for c in calls] == [400, 400, 401]  # the non-string body never got that far
    assert all("nope" not in entry(client, c["id"])["body"] for c in calls)


def test_deliver_reports_an_unreachable_hook(client: FlaskClient) -> None:
    body = client.post("/__admin/oci/sessions", json={"HOOK_URL": "http://127.0.0.1:9/hook", **LOGIN}).get_json()
    result = client.post(f"/__admin/sessions/{body['session_id']}/checkout", json={"deliver": True}).get_json()
    assert result["delivered"]["ok"] is False
    assert "ConnectionError" in result["delivered"]["error"]
