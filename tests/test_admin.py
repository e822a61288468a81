"""The /__admin JSON API: conventions, accounts, journal, catalogue, and a punchout without a browser."""

from __future__ import annotations

import base64
from urllib.parse import unquote_plus

from flask.testing import FlaskClient

from simulator.cxml.parse import parse_document
from simulator.cxml.validate import DtdRegistry

from .conftest import Receiver
from .helpers import assert_valid, setup_request, status_of

NEW_ACCOUNT = {
    "name": "Coupa QA",
    "credentials": {"domain": "NetworkId", "identity": "COUPA-QA", "shared_secret": "s3cret"},
}


def test_health(client: FlaskClient) -> None:
    assert client.get("/__admin/health").get_json() == {"status": "ok", "dtd_validation": True}


def test_demo_account_exists_with_default_settings(client: FlaskClient) -> None:
    demo = client.get("/__admin/accounts/demo").get_json()
    assert demo["name"] == "Demo Buyer" and demo["status"] == "test"
    assert demo["credentials"] == {"domain": "NetworkId", "identity": "DEMO-BUYER", "shared_secret": "demo-secret"}
    assert demo["settings"] == {
        "return_encoding": "cxml-urlencoded",
        "operation_allowed": "create",
        "cxml_version": "1.2.069",
        "validation": "lenient",
        "locale": "en_US",
        "first_punchout": "auto",
        "require_email": True,
        "http_status": "200",
        "timeline": "realistic",
        "einvoicing": True,
        "fulfil_test_orders": True,  # demo buyer: the demo account fulfils its test orders
        "sync_status": 200,
        "reject_synchronously": False,
        "allow_order_changes": False,
        "amazon_day": None,
        "safeguards": {
            "unit_price": {"max_increase_pct": 10, "action": "remove_item"},
            "quantity": {"action": "send_available", "remainder": "cancel"},
            "shipping_price": {"max": None, "action": "cancel_order"},
            "delivery_days": {"max": None, "action": "remove_item"},
            "amazon_fulfilled_only": {"enabled": False, "action": "remove_item"},
        },
        "profile": "generic",
        "form_target": "_top",
        "oci_version": "4.0",
        "checks": [],
    }
    assert demo["payment_method"] is None
    # demo buyer: the demo account's documents go to the demo buyer (the template data dir's base URL)
    assert demo["buyer_endpoint"] == {
        "url": "http://127.0.0.1:8080/demo-buyer/cxml",
        "domain": "NetworkId",
        "identity": "DEMO-BUYER",
        "shared_secret": "demo-secret",
    }
    assert demo["oci"] == {"username": "demo", "password": "demo-secret"}


def test_create_account_takes_get_shape_and_defaults(client: FlaskClient) -> None:
    created = client.post("/__admin/accounts", json={**NEW_ACCOUNT, "settings": {"locale": "de_DE"}})
    assert created.status_code == 201
    body = created.get_json()
    assert body["status"] == "test" and body["settings"]["locale"] == "de_DE"
    assert body["settings"]["return_encoding"] == "cxml-urlencoded"
    assert client.get(f"/__admin/accounts/{body['id']}").get_json() == body
    listing = client.get("/__admin/accounts?limit=1&offset=1").get_json()
    assert listing["total"] == 2 and [a["id"] for a in listing["items"]] == [body["id"]]


def test_account_errors_are_json_with_codes(client: FlaskClient) -> None:
    duplicate = client.post(
        "/__admin/accounts",
        json={"name": "x", "credentials": {"domain": "networkid", "identity": "DEMO-BUYER", "shared_secret": "y"}},
    )
    assert duplicate.status_code == 409
    assert duplicate.get_json() == {
        "error": "duplicate_credentials",
        "message": "Another account already has the credential networkid/DEMO-BUYER.",
    }
    bad = client.post("/__admin/accounts", json={**NEW_ACCOUNT, "settings": {"validation": "loose"}})
    assert bad.status_code == 400
    assert bad.get_json()["message"] == 'settings.validation must be one of "lenient" | "strict", got \'loose\'.'
    unknown = client.patch("/__admin/accounts/demo", json={"settings": {"colour": "red"}})
    assert unknown.status_code == 400 and unknown.get_json()["message"].startswith("Unknown setting 'colour'.")
    missing = client.get("/__admin/accounts/nope")
    assert missing.status_code == 404
    assert missing.get_json() == {"error": "not_found", "message": "No account with id 'nope'."}
    assert client.post("/__admin/accounts", data="x").status_code == 400


def test_patch_merges_nested_safeguards_payment_and_endpoint(client: FlaskClient) -> None:
    body = client.patch(
        "/__admin/accounts/demo",
        json={
            "settings": {"safeguards": {"unit_price": {"max_increase_pct": 20}}},
            "payment_method": {"type": "pcard", "last4": "4242"},
            "buyer_endpoint": {"url": "http://buyer.test/cxml"},
        },
    ).get_json()
    assert body["settings"]["safeguards"]["unit_price"] == {"max_increase_pct": 20, "action": "remove_item"}
    assert body["settings"]["safeguards"]["quantity"]["action"] == "send_available"
    assert body["payment_method"] == {"type": "pcard", "last4": "4242"}
    assert body["buyer_endpoint"] == {
        "url": "http://buyer.test/cxml",
        "domain": "NetworkId",
        "identity": "DEMO-BUYER",
        "shared_secret": "demo-secret",
    }
    body = client.patch("/__admin/accounts/demo", json={"buyer_endpoint": {"shared_secret": "inbound"}}).get_json()
    assert (
        body["buyer_endpoint"]["url"] == "http://buyer.test/cxml"
        and body["buyer_endpoint"]["shared_secret"] == "inbound"
    )
    bad = client.patch("/__admin/accounts/demo", json={"settings": {"safeguards": {"unit_price": {"action": "shrug"}}}})
    assert bad.status_code == 400
    assert bad.get_json()["message"] == (
        'settings.safeguards.unit_price.action must be one of "cancel_order" | "remove_item" | "send_available", '
        "got 'shrug'."
    )
    assert client.patch("/__admin/accounts/demo", json={"payment_method": {"type": "cash"}}).status_code == 400
    assert client.patch("/__admin/accounts/demo", json={"settings": {"sync_status": True}}).status_code == 400


def test_patch_merges_settings_and_status_is_one_way(client: FlaskClient) -> None:
    client.patch("/__admin/accounts/demo", json={"settings": {"locale": "de_DE"}})
    patched = client.patch("/__admin/accounts/demo", json={"settings": {"validation": "strict"}, "status": "active"})
    body = patched.get_json()
    assert body["settings"]["locale"] == "de_DE" and body["settings"]["validation"] == "strict"
    assert body["status"] == "active"
    back = client.patch("/__admin/accounts/demo", json={"status": "test"})
    assert back.status_code == 409
    assert back.get_json()["message"] == "An active account cannot go back to test status (test → active is one way)."


def test_reset_restores_the_start(client: FlaskClient) -> None:
    client.post("/__admin/accounts", json=NEW_ACCOUNT)
    client.patch("/__admin/accounts/demo", json={"name": "Renamed"})
    client.post("/punchout", data=setup_request())
    assert client.post("/__admin/reset").get_json() == {"status": "reset", "parts": "all"}
    accounts = client.get("/__admin/accounts").get_json()
    assert accounts["total"] == 1 and accounts["items"][0]["name"] == "Demo Buyer"
    assert client.get("/__admin/journal").get_json() == {
        "items": [],
        "total": 0,
        "total_exact": True,
        "next_before": None,
    }
    assert client.get("/__admin/sessions").get_json()["total"] == 0
    assert client.get("/__admin/catalog/products/B0TESTBACK").status_code == 200


def test_journal_filters_and_links_answers(client: FlaskClient) -> None:
    client.post("/punchout", data=setup_request())
    client.post("/punchout", data=setup_request(sender_secret="bad"))
    everything = client.get("/__admin/journal").get_json()
    assert everything["total"] == 4
    first = everything["items"][0]
    assert set(first) == {
        "id",
        "direction",
        "doc_type",
        "account_id",
        "session_id",
        "endpoint",
        "http_status",
        "cxml_status",
        "payload_id",
        "in_reply_to",
        "content_type",
        "advisories",
        "created_at",
        "scenario",
    }
    assert (first["direction"], first["doc_type"], first["cxml_status"]) == ("out", "Status", 401)
    assert first["in_reply_to"] == everything["items"][1]["id"]
    inbound = client.get("/__admin/journal?direction=in&type=PunchOutSetupRequest").get_json()
    assert inbound["total"] == 2 and {e["cxml_status"] for e in inbound["items"]} == {200, 401}
    assert client.get("/__admin/journal?account_id=demo&limit=1").get_json()["total"] == 4
    assert client.get("/__admin/journal?direction=sideways").status_code == 400
    assert client.get("/__admin/journal/999999").status_code == 404


def test_catalog_search_and_product(client: FlaskClient) -> None:
    found = client.get("/__admin/catalog/search?q=test+product&limit=10").get_json()
    asins = {p["asin"] for p in found["items"]}
    assert {"B0TESTBACK", "B0TESTSLOW"} <= asins
    product = client.get("/__admin/catalog/products/B0TESTSLOW").get_json()
    assert product["lead_time_days"] == 21 and product["test_behaviour"] == "slow"
    german = client.get("/__admin/catalog/products/B0TESTSLOW?locale=de_DE").get_json()
    assert german["currency"] == "EUR" and german["title"] != product["title"]
    assert client.get("/__admin/catalog/products/B0NOTTHERE").status_code == 404


def _session_id(client: FlaskClient, cookie: str) -> str:
    items = client.get(f"/__admin/sessions?buyer_cookie={cookie}").get_json()["items"]
    assert len(items) == 1
    return str(items[0]["id"])


def test_punchout_without_a_browser_delivers_to_the_buyer(
    client: FlaskClient, receiver: Receiver, dtds: DtdRegistry
) -> None:
    assert (
        status_of(client.post("/punchout", data=setup_request(buyer_cookie="qa-1", return_url=receiver.url)).data)[0]
        == 200
    )
    sid = _session_id(client, "qa-1")
    added = client.post(f"/__admin/sessions/{sid}/cart/items", json={"asin": "B0TESTPART", "quantity": 2})
    assert added.status_code == 201
    assert added.get_json()["cart"]["items"][0]["quantity"] == 2
    bad = client.post(f"/__admin/sessions/{sid}/cart/items", json={"asin": "B0TESTPART", "quantity": 0})
    assert bad.status_code == 400
    assert client.post(f"/__admin/sessions/{sid}/cart/items", json={"asin": "B0NOPE", "quantity": 1}).status_code == 404
    result = client.post(f"/__admin/sessions/{sid}/checkout", json={"deliver": True}).get_json()
    assert result["delivered"]["ok"] is True and result["delivered"]["http_status"] == 200
    assert_valid(result["cxml"].encode(), dtds)
    posted = receiver.posts[-1]
    xml = unquote_plus(posted["body"].decode().split("=", 1)[1]).encode()
    assert xml == result["cxml"].encode()
    root = parse_document(xml).root
    assert root.findtext("Message/PunchOutOrderMessage/BuyerCookie") == "qa-1"
    item = root.find("Message/PunchOutOrderMessage/ItemIn")
    assert item.get("quantity") == "2" and item.findtext("ItemID/SupplierPartID") == "B0TESTPART"
    aux = item.findtext("ItemID/SupplierPartAuxiliaryID")
    assert aux is not None and aux.endswith(",1") and len(aux.split(",")[0]) == 19
    again = client.post(f"/__admin/sessions/{sid}/checkout", json={})
    assert again.status_code == 409
    assert again.get_json() == {
        "error": "cart_already_returned",
        "message": "This cart has been returned to your procurement system; "
        "start a new PunchOut session to shop again.",
    }


def test_checkout_base64_and_cancel(client: FlaskClient, dtds: DtdRegistry) -> None:
    client.patch("/__admin/accounts/demo", json={"settings": {"return_encoding": "cxml-base64"}})
    client.post("/punchout", data=setup_request(buyer_cookie="b64"))
    sid = _session_id(client, "b64")
    client.post(f"/__admin/sessions/{sid}/cart/items", json={"asin": "B0TESTBACK", "quantity": 1})
    result = client.post(f"/__admin/sessions/{sid}/checkout", json={"cancel": True}).get_json()
    xml = base64.b64decode(result["fields"]["cxml-base64"])
    assert_valid(xml, dtds)
    assert b"<ItemIn" not in xml
    assert client.get(f"/__admin/sessions/{sid}").get_json()["status"] == "cancelled"


def test_seed_regenerates_the_catalogue_deterministically(client: FlaskClient) -> None:
    first = client.get("/__admin/seed").get_json()
    assert (first["seed"], first["catalog_size"]) == (1, 300)
    before = client.get("/__admin/catalog/search?q=&limit=5").get_json()["items"]
    changed = client.post("/__admin/seed", json={"seed": 7}).get_json()
    assert (changed["seed"], changed["rebuilt"]) == (7, True)
    other = client.get("/__admin/catalog/search?q=&limit=5").get_json()["items"]
    assert [p["asin"] for p in other] != [p["asin"] for p in before]
    assert client.get("/__admin/catalog/products/B0TESTBACK").status_code == 200  # test products stay
    again = client.post("/__admin/seed", json={"seed": 1}).get_json()
    assert again["rebuilt"] is True
    assert client.get("/__admin/catalog/search?q=&limit=5").get_json()["items"] == before
    assert client.post("/__admin/seed", json={"seed": "x"}).status_code == 400
