"""Web security of the browser pages: CSRF tokens, escaping of buyer-supplied text, the
Content-Security-Policy with nonces, return-URL schemes, shop session isolation, StartPage links."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from simulator import db
from simulator.errors import ShopError
from simulator.punchout import sessions
from simulator.security import CSRF_FIELD, REFUSED_MESSAGE, REFUSED_TITLE

from ..helpers import (
    browser_form,
    csrf_token,
    order_request,
    setup_request,
    shop_form,
    shop_token,
    start_url,
    status_of,
)

TEMPLATES = Path(__file__).resolve().parents[2] / "simulator" / "templates"
SCRIPT = '<script>alert("xss")</script>'
PAYLOAD = f'x"><img src=x onerror=alert(1)>{SCRIPT}'
RAW = ("<script>alert(", "<img src=x onerror")
ESCAPED = "&lt;script&gt;alert("
IN_XML = "&amp;lt;script&amp;gt;alert("  # escaped in the (pretty-printed) XML, then in the HTML


def cdata(text: str = PAYLOAD) -> str:
    """Text that reaches the parser unescaped: the document carries it in a CDATA section."""
    return f"<![CDATA[{text}]]>"


def assert_escaped(html: str, where: str, escaped: str = ESCAPED) -> None:
    """The payload is on the page (so the test looks at the right place), and only escaped."""
    for raw in RAW:
        assert raw not in html, f"{where}: unescaped {raw!r}"
    assert escaped in html, f"{where}: the payload is not shown at all"


def open_shop(client: FlaskClient, body: bytes | None = None, **kwargs: Any) -> str:
    answer = client.post("/punchout", data=body if body is not None else setup_request(**kwargs))
    assert status_of(answer.data)[0] == 200, answer.data
    opened = client.get(urlsplit(start_url(answer.data)).path)
    assert opened.status_code == 303, opened.data
    return parse_qs(urlsplit(opened.headers["Location"]).query)["sid"][0]


def cart_items(client: FlaskClient, sid_session_cookie: str) -> dict[str, int]:
    sessions = client.get("/__admin/sessions?buyer_cookie=" + sid_session_cookie).get_json()["items"]
    return {i["asin"]: i["quantity"] for i in sessions[0]["cart"]["items"]}


def journal_id(client: FlaskClient, doc_type: str) -> int:
    items = client.get(f"/__admin/journal?type={doc_type}").get_json()["items"]
    return int(items[0]["id"])


def page(client: FlaskClient, url: str) -> str:
    response = client.get(url, follow_redirects=True)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


# --- escaping of every buyer-supplied field ------------------------------------------------------


def test_setup_request_fields_are_escaped_in_the_shop_and_the_console(client: FlaskClient) -> None:
    body = (
        setup_request(buyer_cookie="COOKIE-MARK", extrinsics={"UserFullName": "NAME-MARK", "CostCenter": "CC-MARK"})
        .replace(b"COOKIE-MARK", cdata().encode())
        .replace(b"NAME-MARK", cdata().encode())
        .replace(b"CC-MARK", cdata().encode())
    )
    sid = open_shop(client, body)
    assert_escaped(page(client, f"/shop?sid={sid}"), "shop banner (user name)")
    setup_entry = page(client, f"/console/journal/{journal_id(client, 'PunchOutSetupRequest')}")
    assert_escaped(setup_entry, "journal entry", IN_XML)
    journal = page(client, "/console/journal")
    assert not any(raw in journal for raw in RAW)
    client.post("/shop/cart/add", data=shop_form(client, sid, asin="B0TESTSLOW"))
    returned = client.post("/shop/checkout", data=shop_form(client, sid)).get_data(as_text=True)
    assert 'data-testid="return-form"' in returned and not any(raw in returned for raw in RAW)
    assert "&amp;lt;script&amp;gt;alert(" in returned  # the cookie, escaped in the XML, escaped again in HTML


def test_order_request_fields_are_escaped_in_the_console_and_the_shop(client: FlaskClient) -> None:
    sid = open_shop(client)  # alice@buyer.test, who sends the order below
    body = (
        order_request(order_id="PO-MARK", lines=[{"asin": "B0TESTSLOW", "description": "DESC-MARK"}])
        .decode()
        .replace('orderID="PO-MARK"', 'orderID="&lt;script&gt;alert(&quot;xss&quot;)&lt;/script&gt;"')
        .replace("DESC-MARK", cdata())
        .replace("<DeliverTo>Alice Buyer</DeliverTo>", f"<DeliverTo>{cdata()}</DeliverTo>", 1)
        .replace("</OrderRequestHeader>", f'<Extrinsic name="CostCenter">{cdata()}</Extrinsic></OrderRequestHeader>')
    )
    answer = client.post("/orders", data=body.encode(), headers={"Content-Type": "text/xml"})
    assert status_of(answer.data)[0] == 200, answer.data
    order = client.get("/__admin/orders").get_json()["items"][0]
    assert order["order_id"] == SCRIPT
    assert_escaped(page(client, "/console/orders"), "console orders (PO number)")
    assert_escaped(page(client, f"/console/orders/{order['id']}"), "console order (PO number, description)")
    assert_escaped(page(client, f"/console/journal/{journal_id(client, 'OrderRequest')}"), "journal (address)", IN_XML)
    assert_escaped(page(client, "/console/dashboard"), "spend dashboard (cost center)")
    assert_escaped(page(client, f"/shop/orders?sid={sid}"), "shop: your orders")


def test_console_form_fields_are_escaped(client: FlaskClient) -> None:
    created = client.post(
        "/console/accounts",
        data=browser_form(client, name=PAYLOAD, domain="NetworkId", identity="XSS-1", shared_secret="s"),
    )
    assert created.status_code == 303
    assert_escaped(page(client, "/console/accounts"), "console accounts (name)")
    assert_escaped(page(client, created.headers["Location"]), "console account (name)")
    added = client.post(
        "/console/accounts/demo/users",
        data=browser_form(client, email="xss@buyer.test", name=PAYLOAD, roles="punchout_user"),
    )
    assert added.status_code == 303
    assert_escaped(page(client, "/console/accounts/demo"), "console account (user name)")
    assert_escaped(page(client, "/console/emails"), "console emails (invitation)")
    assert_escaped(page(client, "/console/accounts?error=" + quote(PAYLOAD)), "console error notice")


def test_demo_buyer_fields_are_escaped(client: FlaskClient) -> None:
    client.post("/demo-buyer/punchout", data=browser_form(client))
    session = client.get("/__admin/sessions").get_json()["items"][0]
    client.post(f"/__admin/sessions/{session['id']}/cart/items", json={"asin": "B0TESTSLOW", "quantity": 1})
    returned = client.post(f"/__admin/sessions/{session['id']}/checkout", json={"deliver": False}).get_json()
    xml = returned["fields"]["cxml-urlencoded"]
    description = re.search(r'<ItemDetail>.*?<Description xml:lang="[^"]+">([^<]+)', xml, re.S)
    assert description is not None
    forged = xml.replace(description.group(1), cdata(), 1)  # the return URL takes posts from anywhere
    back = client.post("/demo-buyer/punchout/return", data={"cxml-urlencoded": forged})
    assert back.status_code == 303
    url = urlsplit(back.headers["Location"]).path
    assert_escaped(page(client, url), "demo buyer requisition (description)")
    client.post("/demo-buyer/user", data=browser_form(client, user="adam", next="/demo-buyer"))
    decided = client.post(url + "/decision", data=browser_form(client, decision="reject", comment=PAYLOAD))
    assert decided.status_code == 303
    requisition = page(client, url)
    assert_escaped(requisition, "demo buyer requisition (comment)")
    assert requisition.count(ESCAPED) == 2  # the description and the comment


def test_reflected_text_is_escaped(client: FlaskClient) -> None:
    assert_escaped(page(client, "/shop/search?q=" + quote(PAYLOAD)), "shop search")
    missing = client.get("/shop/product/" + quote("<img src=x onerror=alert(1)>", safe=""))
    assert missing.status_code == 404
    text = missing.get_data(as_text=True)
    assert "There is no product &lt;img src=x onerror=alert(1)&gt; in this catalogue." in text
    assert "<img src=x" not in text
    refused = client.get(
        "/oci?" + urlencode({"HOOK_URL": "http://buyer.test/hook", "USERNAME": SCRIPT, "PASSWORD": "x"})
    )
    assert refused.status_code == 401
    assert not any(raw in refused.get_data(as_text=True) for raw in RAW)
    assert_escaped(page(client, f"/console/journal/{journal_id(client, 'OCILogin')}"), "journal (OCI login)")


# --- return URLs: http(s) only ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)"],
)
def test_browser_form_post_url_must_be_http(client: FlaskClient, url: str) -> None:
    body = setup_request(return_url="RETURN-MARK").replace(b"RETURN-MARK", cdata(url).encode())
    assert status_of(client.post("/punchout", data=body).data) == (
        403,
        "Forbidden",
        f"/cXML/Request/PunchOutSetupRequest/BrowserFormPost/URL must be an absolute http or https URL; got {url!r}.",
    )
    assert client.get("/__admin/sessions").get_json()["total"] == 0


@pytest.mark.parametrize(
    "hook", ["javascript:alert(1)", " javascript:alert(1)", "data:text/html;base64,PHNjcmlwdD4=", "DATA:text/html,x"]
)
def test_oci_hook_url_must_be_http(client: FlaskClient, hook: str) -> None:
    refused = client.get("/oci?" + urlencode({"HOOK_URL": hook, "USERNAME": "demo", "PASSWORD": "demo-secret"}))
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert '<h1 data-testid="error-title">HOOK_URL is not usable</h1>' in text
    assert "HOOK_URL must be an absolute http or https URL (or SAPEVENT:…); got" in text
    assert client.get("/__admin/sessions").get_json()["total"] == 0


# --- CSRF ------------------------------------------------------------------------------------------

SHOP_POSTS = [
    ("/shop/cart/add", {"asin": "B0TESTBACK"}),
    ("/shop/cart/update", {"asin": "B0TESTSLOW", "quantity": "7"}),
    ("/shop/cart/remove", {"asin": "B0TESTSLOW"}),
    ("/shop/checkout", {}),
    ("/shop/return-without-items", {}),
]


def assert_refused(response: Any) -> None:
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert f'<h1 data-testid="error-title">{REFUSED_TITLE}</h1>' in text
    assert REFUSED_MESSAGE in text
    assert "Content-Security-Policy" in response.headers


@pytest.mark.parametrize(("path", "fields"), SHOP_POSTS)
def test_shop_forms_need_the_sessions_token(client: FlaskClient, path: str, fields: dict[str, str]) -> None:
    sid = open_shop(client, buyer_cookie="alice")
    client.post("/shop/cart/add", data=shop_form(client, sid, asin="B0TESTSLOW"))
    other = open_shop(client, buyer_cookie="bob", email="bob@buyer.test")
    assert_refused(client.post(path, data={"sid": sid, **fields}))  # no token
    assert_refused(client.post(path, data={"sid": sid, CSRF_FIELD: "0" * 64, **fields}))  # a made-up one
    assert_refused(client.post(path, data={"sid": sid, CSRF_FIELD: shop_token(client, other), **fields}))
    # the browser carries alice's cookie (SameSite=None over https): a cross-site form has no token
    assert_refused(client.post(path, data=fields))
    assert cart_items(client, "alice") == {"B0TESTSLOW": 1}
    assert client.get("/__admin/sessions?buyer_cookie=alice").get_json()["items"][0]["status"] == "shopping"
    assert client.post(path, data=shop_form(client, sid, **fields)).status_code in (200, 303)


def test_the_cookie_alone_with_its_token_works(client: FlaskClient) -> None:
    sid = open_shop(client, buyer_cookie="alice")
    token = shop_token(client, sid)
    assert client.post("/shop/cart/add", data={CSRF_FIELD: token, "asin": "B0TESTSLOW"}).status_code == 303
    assert cart_items(client, "alice") == {"B0TESTSLOW": 1}


def test_registration_form_needs_the_token(client: FlaskClient) -> None:
    client.patch("/__admin/accounts/demo", json={"settings": {"first_punchout": "register"}})
    sid = open_shop(client, email="new.user@buyer.test")
    form = client.get(f"/shop/register?sid={sid}").get_data(as_text=True)
    assert 'data-testid="register"' in form
    assert_refused(client.post("/shop/register", data={"sid": sid, "name": "Mallory", "accept": "yes"}))
    done = client.post("/shop/register", data={"sid": sid, CSRF_FIELD: csrf_token(form), "name": "N", "accept": "yes"})
    assert done.status_code == 303 and client.get(f"/shop?sid={sid}").status_code == 200


CONSOLE_POSTS = [
    "/console/accounts",
    "/console/accounts/demo/business",
    "/console/accounts/demo/punchout",
    "/console/accounts/demo/activate",
    "/console/accounts/demo/payment-method",
    "/console/accounts/demo/users",
    "/console/scenarios/happy-path/activate",
    "/console/scenarios/happy-path/deactivate",
    "/console/scenarios/reset",
    "/console/orders/1/advance",
    "/console/orders/1/resend/1",
    "/demo-buyer/user",
    "/demo-buyer/punchout",
    "/demo-buyer/requisitions/REQ-1/decision",
]


@pytest.mark.parametrize("path", CONSOLE_POSTS)
def test_console_and_demo_buyer_forms_need_the_token(client: FlaskClient, path: str) -> None:
    journal_before = client.get("/__admin/journal").get_json()["total"]
    assert_refused(client.post(path, data={"user": "adam", "name": "Mallory", "confirm": "yes"}))
    assert client.get("/__admin/journal").get_json()["total"] == journal_before  # no PunchOutSetupRequest


def test_console_token_is_bound_to_the_browser(app: Flask) -> None:
    first, second = app.test_client(), app.test_client()
    token = csrf_token(first.get("/console/scenarios").data)
    assert second.get("/console/scenarios").status_code == 200  # second has a seed cookie of its own
    assert_refused(second.post("/console/scenarios/reset", data={CSRF_FIELD: token}))
    assert_refused(app.test_client().post("/console/scenarios/reset", data={CSRF_FIELD: token}))  # no cookie
    assert first.post("/console/scenarios/reset", data={CSRF_FIELD: token}).status_code == 303
    created = first.post(
        "/console/accounts",
        data={CSRF_FIELD: token, "name": "Acme", "domain": "NetworkId", "identity": "ACME-1", "shared_secret": "s"},
    )
    assert created.status_code == 303 and "/console/accounts/" in created.headers["Location"]


def test_machine_and_cross_site_endpoints_need_no_token(client: FlaskClient) -> None:
    assert status_of(client.post("/punchout", data=setup_request()).data)[0] == 200
    login = client.post(
        "/oci", data={"HOOK_URL": "http://buyer.test/hook", "USERNAME": "demo", "PASSWORD": "demo-secret"}
    )
    assert login.status_code == 303 and "/shop" in login.headers["Location"]
    assert status_of(client.post("/demo-buyer/cxml", data=setup_request(), content_type="text/xml").data)[0] == 450
    empty = client.post("/demo-buyer/punchout/return", data={"cxml-urlencoded": "<cXML"})
    assert empty.status_code == 400 and "Form not accepted" not in empty.get_data(as_text=True)


def post_forms(html: str) -> list[str]:
    return re.findall(r'<form[^>]*method="post".*?</form>', html, re.S)


def test_every_form_carries_the_token_and_the_return_form_none(client: FlaskClient) -> None:
    client.post("/console/accounts/demo/users", data=browser_form(client, email="x@buyer.test", roles="punchout_user"))
    client.post("/demo-buyer/punchout", data=browser_form(client))
    session = client.get("/__admin/sessions").get_json()["items"][0]
    client.post(f"/__admin/sessions/{session['id']}/cart/items", json={"asin": "B0TESTSLOW", "quantity": 1})
    fields = client.post(f"/__admin/sessions/{session['id']}/checkout", json={"deliver": False}).get_json()["fields"]
    url = urlsplit(client.post("/demo-buyer/punchout/return", data=fields).headers["Location"]).path
    client.post("/demo-buyer/user", data=browser_form(client, user="adam", next="/demo-buyer"))
    client.post("/orders", data=order_request(order_id="PO-FORMS"), headers={"Content-Type": "text/xml"})
    order_pk = client.get("/__admin/orders").get_json()["items"][0]["id"]
    sid = open_shop(client)
    client.post("/shop/cart/add", data=shop_form(client, sid, asin="B0TESTSLOW"))
    pages = [
        f"/shop/cart?sid={sid}",
        f"/shop/product/B0TESTSLOW?sid={sid}",
        f"/shop/search?q=test&sid={sid}",
        "/console/accounts",
        "/console/accounts/demo",
        "/console/accounts/demo/activate",
        "/console/scenarios",
        f"/console/orders/{order_pk}",
        "/demo-buyer",
        url,
    ]
    counted = 0
    for path in pages:
        forms = post_forms(page(client, path))
        assert forms, path
        for form in forms:
            assert f'name="{CSRF_FIELD}"' in form, (path, form[:200])
        counted += len(forms)
    assert counted >= 20
    returned = client.post("/shop/checkout", data=shop_form(client, sid)).get_data(as_text=True)
    [form] = post_forms(returned)
    assert "csrf_token" not in returned  # the buyer's system never sees the simulator's token


# --- Content-Security-Policy and the other headers ----------------------------------------------


def nonce_of(response: Any) -> str:
    policy = response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    found = re.search(r"script-src 'nonce-([A-Za-z0-9_-]+)'(;|$)", policy)
    assert found, policy
    return found.group(1)


def test_return_page_script_runs_by_nonce_and_the_shop_stays_frameable(client: FlaskClient) -> None:
    sid = open_shop(client)
    shop = client.get(f"/shop?sid={sid}")
    assert shop.headers["X-Content-Type-Options"] == "nosniff"
    assert shop.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "frame-ancestors" not in shop.headers["Content-Security-Policy"]  # buyers frame the shop
    assert "X-Frame-Options" not in shop.headers
    returned = client.post("/shop/checkout", data=shop_form(client, sid))
    nonce = nonce_of(returned)
    scripts = re.findall(r"<script[^>]*>", returned.get_data(as_text=True))
    assert scripts == [f'<script src="/static/return.js" nonce="{nonce}">']
    assert nonce != nonce_of(client.get(f"/shop?sid={sid}"))  # a new nonce for every response
    assert "frame-ancestors" not in returned.headers["Content-Security-Policy"]


def test_console_pages_use_the_nonce_and_are_not_frameable(client: FlaskClient) -> None:
    response = client.get("/console/journal")
    nonce = nonce_of(response)
    html = response.get_data(as_text=True)
    assert f'<style nonce="{nonce}">' in html
    assert f'src="/static/console-journal.js" nonce="{nonce}"' in html
    policy = response.headers["Content-Security-Policy"]
    assert f"style-src 'self' 'nonce-{nonce}'" in policy and "frame-ancestors 'self'" in policy
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    demo = client.get("/demo-buyer")
    assert "frame-ancestors 'self'" in demo.headers["Content-Security-Policy"]
    xml = client.post("/punchout", data=setup_request())
    assert xml.headers["X-Content-Type-Options"] == "nosniff" and "Content-Security-Policy" not in xml.headers


def test_templates_have_no_inline_code_the_policy_would_block() -> None:
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        for tag in re.findall(r"<(?:script|style)\b[^>]*>", text):
            assert 'nonce="{{ csp_nonce() }}"' in tag, (template.name, tag)
        assert not re.search(r"\son[a-z]+\s*=", text), f"{template.name}: inline event handler"
        assert not re.search(r"\sstyle\s*=", text), f"{template.name}: style attribute"
        assert "javascript:" not in text.lower(), template.name


# --- shop session isolation ---------------------------------------------------------------------


def test_one_session_cannot_read_or_change_anothers_cart(app: Flask) -> None:
    alice, bob = app.test_client(), app.test_client()  # two browsers, each with its own cookie
    a = open_shop(alice, buyer_cookie="alice")
    b = open_shop(bob, buyer_cookie="bob", email="bob@buyer.test")
    alice.post("/shop/cart/add", data=shop_form(alice, a, asin="B0TESTSLOW", quantity="2"))
    bob.post("/shop/cart/add", data=shop_form(bob, b, asin="B0TESTBACK"))
    a_token = shop_token(alice, a)
    # bob's browser names alice's sid with his own token, or with no sid (his cookie), or a made-up sid
    assert_refused(
        bob.post(
            "/shop/cart/update", data={"sid": a, CSRF_FIELD: shop_token(bob, b), "asin": "B0TESTSLOW", "quantity": "0"}
        )
    )
    assert_refused(bob.post("/shop/cart/remove", data={"sid": "x" * 32, CSRF_FIELD: a_token, "asin": "B0TESTSLOW"}))
    # alice's token names alice's session only: under bob's cookie without a sid it is refused
    assert_refused(bob.post("/shop/cart/add", data={CSRF_FIELD: a_token, "asin": "B0TESTOOST"}))
    # changing "another" line from alice's own session touches alice's cart only
    alice.post("/shop/cart/remove", data=shop_form(alice, a, asin="B0TESTBACK"))
    assert cart_items(alice, "alice") == {"B0TESTSLOW": 2}
    assert cart_items(bob, "bob") == {"B0TESTBACK": 1}
    a_cart = alice.get(f"/shop/cart?sid={a}").get_data(as_text=True)
    b_cart = bob.get(f"/shop/cart?sid={b}").get_data(as_text=True)
    assert 'data-asin="B0TESTSLOW"' in a_cart and 'data-asin="B0TESTBACK"' not in a_cart
    assert 'data-asin="B0TESTBACK"' in b_cart and 'data-asin="B0TESTSLOW"' not in b_cart
    # a sid that is not a session opens nothing, even with a valid cookie next to it
    guessed = bob.get("/shop/cart?sid=" + "A" * 32)
    assert guessed.status_code == 403 and b"No shopping session" in guessed.data
    # alice's checkout returns her cart and leaves bob's open
    returned = alice.post("/shop/checkout", data=shop_form(alice, a)).get_data(as_text=True)
    assert "B0TESTSLOW" in returned and "B0TESTBACK" not in returned
    assert bob.post("/shop/cart/add", data=shop_form(bob, b, asin="B0TESTSLOW")).status_code == 303
    assert cart_items(bob, "bob") == {"B0TESTBACK": 1, "B0TESTSLOW": 1}


def test_one_session_never_lists_anothers_orders(app: Flask) -> None:
    alice, bob = app.test_client(), app.test_client()
    a = open_shop(alice, buyer_cookie="alice")
    b = open_shop(bob, buyer_cookie="bob", email="bob@buyer.test")
    for order_id, email in (("PO-ALICE-1", "alice@buyer.test"), ("PO-BOB-1", "bob@buyer.test")):
        answer = alice.post("/orders", data=order_request(order_id=order_id, email=email))
        assert status_of(answer.data)[0] == 200
    a_orders = alice.get(f"/shop/orders?sid={a}").get_data(as_text=True)
    b_orders = bob.get(f"/shop/orders?sid={b}").get_data(as_text=True)
    assert re.findall(r'data-order-id="([^"]+)"', a_orders) == ["PO-ALICE-1"]
    assert re.findall(r'data-order-id="([^"]+)"', b_orders) == ["PO-BOB-1"]
    # alice's browser asking for bob's page with her cookie but bob's sid needs bob's sid: a secret
    assert re.findall(r'data-order-id="([^"]+)"', alice.get("/shop/orders").get_data(as_text=True)) == ["PO-ALICE-1"]
    assert bob.get("/shop/orders?sid=" + a[:-2] + "xx").status_code == 403


def test_a_session_without_an_email_lists_no_orders(client: FlaskClient, config: Any) -> None:
    sid = open_shop(client)
    assert status_of(client.post("/orders", data=order_request(order_id="PO-SOMEONE")).data)[0] == 200
    conn = db.connect(config.database_path)
    try:
        conn.execute("UPDATE sessions SET email = ''")  # an empty filter must not mean "every user"
    finally:
        conn.close()
    listed = client.get(f"/shop/orders?sid={sid}").get_data(as_text=True)
    assert 'data-testid="no-orders"' in listed and "PO-SOMEONE" not in listed


# --- StartPage links: single use, expiring --------------------------------------------------------


def test_start_link_opens_once_and_not_after_checkout(client: FlaskClient) -> None:
    link = urlsplit(start_url(client.post("/punchout", data=setup_request()).data)).path
    first = client.get(link)
    assert first.status_code == 303
    again = client.get(link)
    assert again.status_code == 410 and b"This start link has already been used" in again.data
    sid = parse_qs(urlsplit(first.headers["Location"]).query)["sid"][0]
    client.post("/shop/cart/add", data=shop_form(client, sid, asin="B0TESTSLOW"))
    assert b'data-testid="return-form"' in client.post("/shop/checkout", data=shop_form(client, sid)).data
    after = client.get(link)
    assert after.status_code == 410 and b"This start link has already been used" in after.data
    twice = client.post("/shop/checkout", data=shop_form(client, sid))
    assert twice.status_code in (403, 409) and b'data-testid="return-form"' not in twice.data
    changed = client.post("/shop/cart/add", data=shop_form(client, sid, asin="B0TESTBACK"))
    assert changed.status_code in (403, 409)
    assert client.get("/__admin/journal?type=PunchOutOrderMessage").get_json()["total"] == 1


def test_start_link_expires_unused(client: FlaskClient, config: Any) -> None:
    link = urlsplit(start_url(client.post("/punchout", data=setup_request()).data)).path
    client.post("/__admin/clock/advance", json={"seconds": config.session_ttl + 1})
    expired = client.get(link)
    assert expired.status_code == 410 and b"This start link expired" in expired.data
    assert client.get("/__admin/sessions").get_json()["items"][0]["status"] == "new"


class RedeemedMeanwhile:
    """A connection on which another request redeems the start link between the check and the update."""

    def __init__(self, conn: sqlite3.Connection, other: sqlite3.Connection, token: str) -> None:
        self.conn, self.other, self.token = conn, other, token

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        if sql.startswith("UPDATE sessions SET status = 'shopping'"):
            sessions.open_start_page(self.other, self.token, 3600)  # the other click wins the race
        return self.conn.execute(sql, params)


def test_start_link_opens_once_when_two_clicks_race(client: FlaskClient, config: Any) -> None:
    token = urlsplit(start_url(client.post("/punchout", data=setup_request()).data)).path.rsplit("/", 1)[1]
    conn, other = db.connect(config.database_path), db.connect(config.database_path)
    try:
        with pytest.raises(ShopError) as refused:
            sessions.open_start_page(RedeemedMeanwhile(conn, other, token), token, 3600)  # type: ignore[arg-type]
    finally:
        conn.close()
        other.close()
    assert (refused.value.status, refused.value.title) == (410, "Start link already used")
    assert client.get("/__admin/sessions").get_json()["items"][0]["status"] == "shopping"  # opened once
