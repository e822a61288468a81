"""Scenarios: the admin API, the matching rules, and every scenario of the library run against a
running simulator, with what the buyer receives checked (documents validated against their DTDs)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from lxml import etree

from simulator.cxml.parse import parse_document
from simulator.cxml.validate import DtdRegistry

from .conftest import LiveServer, Receiver
from .helpers import assert_valid, order_request, setup_request, shop_form_http, start_url, status_of

LIBRARY = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "scenarios").glob("*.yaml"))

RULE_YAML = """
name: qa-backorder-pens
description: Pens are backordered for PO numbers starting with QA-.
rules:
  - match: {document: OrderRequest, asin: "B0TESTSL*", po: "^QA-"}
    outcome: {lines: backorder, days: 9}
    newState: Backordered
    times: 2
"""


def test_library_has_every_ready_scenario(client: FlaskClient) -> None:
    listed = client.get("/__admin/scenarios").get_json()
    names = {s["name"] for s in listed["items"] if s["source"] == "library"}
    assert names == set(LIBRARY) and len(names) >= 15
    assert all(s["description"] and s["buyer_should"] and not s["active"] for s in listed["items"])
    assert {s["state"] for s in listed["items"]} == {"Started"}


def test_load_yaml_activate_state_and_reset(client: FlaskClient) -> None:
    created = client.post("/__admin/scenarios", data=RULE_YAML, headers={"Content-Type": "application/yaml"})
    assert created.status_code == 201 and created.get_json()["definition"]["rules"][0]["times"] == 2
    assert client.post("/__admin/scenarios/qa-backorder-pens/activate").get_json()["active"] is True
    assert client.get("/__admin/scenarios/qa-backorder-pens/state").get_json() == {
        "name": "qa-backorder-pens",
        "state": "Started",
    }
    price = client.get("/__admin/catalog/products/B0TESTSLOW").get_json()["business_price"]
    body = order_request(order_id="QA-1", lines=[{"asin": "B0TESTSLOW", "price": price}])
    assert status_of(client.post("/orders", data=body).data)[0] == 200
    assert client.get("/__admin/scenarios/qa-backorder-pens/state").get_json()["state"] == "Backordered"
    order = client.get("/__admin/orders?order_id=QA-1").get_json()["items"][0]
    lines = client.get(f"/__admin/orders/{order['id']}").get_json()["lines"]
    assert (lines[0]["backordered"], lines[0]["accepted"]) == (1, 0)
    entry = client.get("/__admin/journal?type=OrderRequest&direction=in").get_json()["items"][0]
    assert entry["scenario"] == "qa-backorder-pens rule 1"
    put = client.put("/__admin/scenarios/qa-backorder-pens/state", json={"state": "Anything"})
    assert put.get_json() == {"name": "qa-backorder-pens", "state": "Anything"}
    client.post("/__admin/scenarios/reset")
    assert client.get("/__admin/scenarios/qa-backorder-pens").get_json()["state"] == "Started"
    assert client.post("/__admin/scenarios/qa-backorder-pens/deactivate").get_json()["active"] is False


def test_times_limits_a_rule(client: FlaskClient) -> None:
    client.post("/__admin/scenarios", data=RULE_YAML, headers={"Content-Type": "application/yaml"})
    client.post("/__admin/scenarios/qa-backorder-pens/activate")
    for n in range(3):
        client.post("/orders", data=order_request(order_id=f"QA-{n}"))
    fired = [e["scenario"] for e in client.get("/__admin/journal?type=OrderRequest&direction=in").get_json()["items"]]
    assert fired == [None, "qa-backorder-pens rule 1", "qa-backorder-pens rule 1"]


def test_invalid_scenarios_are_explained_by_path(client: FlaskClient) -> None:
    bad = client.post("/__admin/scenarios", json={"name": "Bad Name", "rules": [{"fault": {"type": "nope"}}]})
    assert bad.status_code == 400
    message = bad.get_json()["message"]
    assert message.startswith("The scenario is not valid: $: 'description' is a required property")
    assert "$.name: 'Bad Name' does not match" in message and "$.rules[0].fault.type: 'nope' is not one of" in message
    broken = client.post("/__admin/scenarios", data="name: [", headers={"Content-Type": "application/yaml"})
    assert broken.status_code == 400 and broken.get_json()["message"].startswith("The body is not valid YAML (line")
    assert client.post("/__admin/scenarios/nope/activate").status_code == 404
    assert client.put("/__admin/scenarios/happy-path/state", json={}).status_code == 400


def test_precedence_priority_then_latest_activated(client: FlaskClient) -> None:
    def scenario(name: str, code: str, priority: int = 0) -> dict[str, Any]:
        return {
            "name": name,
            "description": name,
            "priority": priority,
            "rules": [{"match": {"document": "OrderRequest"}, "outcome": {"order": "reject", "code": code}}],
        }

    for body in (
        scenario("first", "001-101"),
        scenario("second", "001-102"),
        scenario("urgent", "001-103", priority=5),
    ):
        client.post("/__admin/scenarios", json=body)
    client.post("/__admin/scenarios/first/activate")
    client.post("/__admin/scenarios/second/activate")
    client.post("/orders", data=order_request(order_id="P-1"))
    client.post("/__admin/scenarios/urgent/activate")
    client.post("/__admin/scenarios/first/activate")  # activated last, but lower priority than urgent
    client.post("/orders", data=order_request(order_id="P-2"))
    codes = {o["order_id"]: o["reject_code"] for o in client.get("/__admin/orders").get_json()["items"]}
    assert codes == {"P-1": "001-102", "P-2": "001-103"}


def test_account_scoped_activation(client: FlaskClient) -> None:
    client.post(
        "/__admin/accounts",
        json={"name": "Other", "credentials": {"domain": "NetworkId", "identity": "OTHER", "shared_secret": "o"}},
    )
    other = next(a for a in client.get("/__admin/accounts").get_json()["items"] if a["name"] == "Other")
    client.post("/__admin/scenarios/shipto-rejected/activate", json={"account_id": other["id"]})
    client.post("/orders", data=order_request(order_id="DEMO-1"))
    assert client.get("/__admin/orders").get_json()["items"][0]["reject_code"] is None
    creds = {"domain": "NetworkId", "identity": "OTHER", "shared_secret": "o"}
    client.post("/orders", data=order_request(order_id="OTHER-1", credentials=creds))
    assert client.get("/__admin/orders?order_id=OTHER-1").get_json()["items"][0]["reject_code"] == "001-005"
    missing = client.post("/__admin/scenarios/shipto-rejected/activate", json={"account_id": "nope"})
    assert missing.status_code == 404


def test_unmatched_requests_show_the_nearest_rules(client: FlaskClient) -> None:
    client.post("/__admin/scenarios", data=RULE_YAML, headers={"Content-Type": "application/yaml"})
    client.post("/__admin/scenarios/qa-backorder-pens/activate")
    client.post("/orders", data=order_request(order_id="PROD-7", lines=[{"asin": "B0TESTBACK", "quantity": 3}]))
    unmatched = client.get("/__admin/journal/unmatched").get_json()
    assert unmatched["total"] == 1
    nearest = unmatched["items"][0]["nearest"][0]
    assert nearest["scenario"] == "qa-backorder-pens" and nearest["rule"] == 1
    assert nearest["misses"] == [
        "no line has an ASIN matching B0TESTSL*",
        "PO number PROD-7 does not match /^QA-/",
    ]


def test_xpath_email_quantity_and_lines_criteria(client: FlaskClient) -> None:
    client.post(
        "/__admin/scenarios",
        json={
            "name": "criteria",
            "description": "all criteria",
            "rules": [
                {
                    "match": {
                        "document": "OrderRequest",
                        "email": "*@buyer.test",
                        "quantity": {"min": 2},
                        "lines": 1,
                        "xpath": "//OrderRequestHeader[@orderID='X-9']",
                    },
                    "outcome": {"order": "reject", "code": "001-777", "text": "criteria met"},
                }
            ],
        },
    )
    client.post("/__admin/scenarios/criteria/activate")
    client.post("/orders", data=order_request(order_id="X-8", lines=[{"asin": "B0TESTSLOW", "quantity": 2}]))
    client.post("/orders", data=order_request(order_id="X-9", lines=[{"asin": "B0TESTSLOW", "quantity": 2}]))
    codes = {o["order_id"]: o["reject_code"] for o in client.get("/__admin/orders").get_json()["items"]}
    assert codes == {"X-8": None, "X-9": "001-777"}


def test_journal_find_count_and_time_filters(client: FlaskClient) -> None:
    client.post("/punchout", data=setup_request())
    client.post("/orders", data=order_request(order_id="J-1"))
    assert client.post("/__admin/journal/count", json={"type": "OrderRequest"}).get_json() == {"count": 1}
    found = client.post("/__admin/journal/find", json={"direction": "in", "contains": "J-1"}).get_json()
    assert [e["doc_type"] for e in found["items"]] == ["OrderRequest"]
    assert client.post("/__admin/journal/count", json={"cxml_status": 200, "direction": "out"}).get_json()["count"] == 2
    future = client.get("/__admin/journal?since=2999-01-01T00:00:00Z").get_json()
    assert future == {"items": [], "total": 0, "total_exact": True, "next_before": None}
    assert client.get("/__admin/journal?until=2999-01-01T00:00:00%2B00:00").get_json()["total"] == 4
    bad = client.post("/__admin/journal/find", json={"colour": "red"})
    assert bad.status_code == 400 and bad.get_json()["message"].startswith("Unknown criteria colour;")
    assert client.get("/__admin/journal?since=yesterday").status_code == 400


def test_reset_parts(client: FlaskClient) -> None:
    client.post("/__admin/scenarios/happy-path/activate")
    client.post("/orders", data=order_request(order_id="R-1"))
    answer = client.post("/__admin/reset", json={"parts": ["orders", "scenarios"]}).get_json()
    assert answer == {"status": "reset", "parts": ["orders", "scenarios"]}
    assert client.get("/__admin/orders").get_json()["total"] == 0
    assert client.get("/__admin/journal").get_json()["total"] > 0  # the journal was not asked for
    assert not client.get("/__admin/scenarios/happy-path").get_json()["active"]
    assert client.post("/__admin/reset", json={"parts": ["everything"]}).status_code == 400


# --- the library, against a running simulator ----------------------------------------------------


class Buyer:
    """A procurement system as the tests need it: posts to the live simulator, reads its receiver."""

    def __init__(self, server: LiveServer, receiver: Receiver) -> None:
        self.url = server.url
        self.receiver = receiver

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.url}/__admin{path}", timeout=10, **kwargs)
        assert response.status_code < 400, response.text
        return response.json() if response.content else None

    def activate(self, name: str) -> None:
        self.admin("POST", f"/scenarios/{name}/activate")

    def order(
        self, order_id: str, lines: list[dict[str, Any]] | None = None, timeout: float = 10
    ) -> tuple[int, str, str]:
        lines = lines or [{"asin": "B0TESTSLOW", "quantity": 2}]
        for line in lines:
            line.setdefault("price", self.admin("GET", f"/catalog/products/{line['asin']}")["business_price"])
        body = order_request(order_id=order_id, lines=lines)
        return status_of(requests.post(f"{self.url}/orders", data=body, timeout=timeout).content)

    def documents(self, count: int, timeout: float = 10) -> list[tuple[str, Any, bytes]]:
        """At least ``count`` cXML documents received (the dispatcher sends them), in order."""
        deadline = time.monotonic() + timeout
        while True:
            posts = [p["body"] for p in self.receiver.posts if p["content_type"].startswith("text/xml")]
            if len(posts) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        docs = []
        for body in posts:
            root = parse_document(body).root
            docs.append((root.find("Request")[0].tag, root, body))
        return docs


@pytest.fixture
def buyer(live_server: LiveServer, receiver: Receiver) -> Iterator[Buyer]:
    b = Buyer(live_server, receiver)
    b.admin(
        "PATCH",
        "/accounts/demo",
        json={"status": "active", "payment_method": {"type": "invoice"}, "buyer_endpoint": {"url": receiver.url}},
    )
    yield b


def comment(root: Any, kind: str) -> str:
    found = [c for c in root.iter("Comments") if c.get("type") == kind]
    return "".join(found[0].itertext()).strip() if found else ""


def kinds(docs: list[tuple[str, Any, bytes]]) -> list[str]:
    return [tag for tag, _, _ in docs]


def test_every_library_scenario_has_a_test() -> None:
    tested = {
        name.removeprefix("test_scenario_").replace("_", "-") for name in globals() if name.startswith("test_scenario_")
    }
    assert tested == set(LIBRARY)


def test_scenario_happy_path(buyer: Buyer, dtds: DtdRegistry) -> None:
    buyer.admin("PATCH", "/accounts/demo", json={"status": "active"})
    buyer.activate("happy-path")
    assert buyer.order("HP-1", [{"asin": "B0TESTREJT", "quantity": 1}]) == (200, "OK", "")
    docs = buyer.documents(3)
    assert kinds(docs) == ["ConfirmationRequest", "ShipNoticeRequest", "InvoiceDetailRequest"]
    assert docs[0][1].find(".//ConfirmationHeader").get("type") == "accept"  # even the always-rejected product
    for _, _, body in docs:
        assert_valid(body, dtds)


def test_scenario_price_over_tolerance_cancel(buyer: Buyer, dtds: DtdRegistry) -> None:
    buyer.activate("price-over-tolerance-cancel")
    buyer.order("PT-1")
    docs = buyer.documents(1)
    assert kinds(docs) == ["ConfirmationRequest"]
    header = docs[0][1].find(".//ConfirmationHeader")
    assert header.get("type") == "reject" and comment(header, "OrderErrorCode").startswith("001-020")
    assert_valid(docs[0][2], dtds)


def test_scenario_price_over_tolerance_remove(buyer: Buyer, dtds: DtdRegistry) -> None:
    buyer.activate("price-over-tolerance-remove")
    buyer.order("PR-1")
    docs = buyer.documents(1)
    status = docs[0][1].find(".//ConfirmationStatus")
    assert (status.get("type"), status.get("quantity")) == ("reject", "2")
    assert comment(docs[0][1].find(".//ConfirmationItem"), "LineItemErrorCode").startswith("002-003")
    assert_valid(docs[0][2], dtds)


def test_scenario_backorder_then_ship(buyer: Buyer, dtds: DtdRegistry) -> None:
    buyer.activate("backorder-then-ship")
    buyer.order("BO-1")
    docs = buyer.documents(3)
    assert kinds(docs) == ["ConfirmationRequest", "ShipNoticeRequest", "InvoiceDetailRequest"]
    status = docs[0][1].find(".//ConfirmationStatus")
    assert status.get("type") == "backordered" and status.get("deliveryDate")
    for _, _, body in docs:
        assert_valid(body, dtds)


def test_scenario_partial_fulfilment(buyer: Buyer, dtds: DtdRegistry) -> None:
    buyer.activate("partial-fulfilment")
    buyer.order("PF-1", [{"asin": "B0TESTSLOW", "quantity": 3}])
    docs = buyer.documents(3)
    statuses = [(s.get("type"), s.get("quantity")) for s in docs[0][1].iter("ConfirmationStatus")]
    assert statuses == [("accept", "1"), ("reject", "2")]
    assert [i.get("quantity") for i in docs[1][1].iter("ShipNoticeItem")] == ["1"]


def test_scenario_split_shipment(buyer: Buyer, dtds: DtdRegistry) -> None:
    buyer.activate("split-shipment")
    buyer.order("SS-1", [{"asin": "B0TESTSLOW", "quantity": 5}])
    docs = buyer.documents(4)
    assert kinds(docs) == ["ConfirmationRequest", "ShipNoticeRequest", "ShipNoticeRequest", "InvoiceDetailRequest"]
    assert [[i.get("quantity") for i in d[1].iter("ShipNoticeItem")] for d in docs[1:3]] == [["3"], ["2"]]
    for _, _, body in docs:
        assert_valid(body, dtds)


def test_scenario_shipto_rejected(buyer: Buyer) -> None:
    buyer.activate("shipto-rejected")
    buyer.order("ST-1")
    header = buyer.documents(1)[0][1].find(".//ConfirmationHeader")
    assert comment(header, "OrderErrorCode") == "001-005 Missing or invalid ShipTo address"


def test_scenario_payment_declined(buyer: Buyer) -> None:
    buyer.activate("payment-declined")
    buyer.order("PD-1")
    header = buyer.documents(1)[0][1].find(".//ConfirmationHeader")
    assert header.get("type") == "reject" and comment(header, "OrderErrorCode").startswith("001-010 Payment declined")


def test_scenario_duplicate_po(buyer: Buyer) -> None:
    buyer.activate("duplicate-po")
    assert buyer.order("DP-1")[0] == 200
    code, text, message = buyer.order("DP-2")
    assert (code, text) == (409, "Conflict")
    assert message == "This order was already received; a PO sent again with a new payloadID is a duplicate."
    assert [o["order_id"] for o in buyer.admin("GET", "/orders")["items"]] == ["DP-1"]


def test_scenario_test_mode_account(buyer: Buyer) -> None:
    buyer.activate("test-mode-account")
    buyer.order("TM-1")
    docs = buyer.documents(1)
    time.sleep(0.5)
    assert kinds(buyer.documents(1)) == ["ConfirmationRequest"]
    assert docs[0][1].find("Request").get("deploymentMode") == "test"


def test_scenario_buyer_endpoint_down(buyer: Buyer) -> None:
    buyer.activate("buyer-endpoint-down")
    buyer.receiver.cxml_answer = b"Service Unavailable"  # not cXML: a transport error, retried
    buyer.order("DOWN-1", [{"asin": "B0TESTSLOW", "quantity": 1}])
    deadline = time.monotonic() + 10
    while not buyer.admin("GET", "/outbox?status=pending")["total"] and time.monotonic() < deadline:
        time.sleep(0.05)
    item = buyer.admin("GET", "/outbox?type=ConfirmationRequest")["items"][0]
    while buyer.admin("GET", f"/outbox/{item['id']}")["attempts"].__len__() < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert buyer.admin("GET", f"/outbox/{item['id']}")["last_error"].startswith("The answer is not cXML")
    buyer.receiver.cxml_answer = Receiver.CXML_OK  # the endpoint recovers
    buyer.admin("POST", "/clock/advance", json={"seconds": 600})
    deadline = time.monotonic() + 15
    while buyer.admin("GET", "/outbox?status=delivered")["total"] < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    delivered = buyer.admin("GET", "/outbox?status=delivered")["items"]
    assert sorted(d["doc_type"] for d in delivered) == [
        "ConfirmationRequest",
        "InvoiceDetailRequest",
        "ShipNoticeRequest",
    ]
    payloads = [root.get("payloadID") for _, root, _ in buyer.documents(4)]
    assert payloads.count(item["payload_id"]) >= 2  # the same payloadID, retried


def test_scenario_slow_supplier(buyer: Buyer) -> None:
    buyer.activate("slow-supplier")
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        buyer.order("SLOW-1", timeout=1.5)
    assert time.monotonic() - started < 10
    orders = buyer.admin("GET", "/orders")["items"]
    assert [o["order_id"] for o in orders] == ["SLOW-1"]  # taken at once; only the answer is late


def test_scenario_malformed_responses(buyer: Buyer) -> None:
    buyer.activate("malformed-responses")
    body = requests.post(f"{buyer.url}/orders", data=order_request(order_id="MAL-1"), timeout=10).content
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    body = requests.post(f"{buyer.url}/punchout", data=setup_request(), timeout=10).content
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))


def test_scenario_credentials_rejected(buyer: Buyer) -> None:
    buyer.activate("credentials-rejected")
    answer = requests.post(f"{buyer.url}/punchout", data=setup_request(), timeout=10)
    assert status_of(answer.content) == (
        401,
        "Unauthorized",
        "The shared secret does not match this punchout group.",
    )
    assert buyer.admin("GET", "/sessions")["total"] == 0


def test_scenario_session_expired_at_checkout(buyer: Buyer) -> None:
    buyer.activate("session-expired-at-checkout")
    session = requests.Session()
    url = start_url(
        requests.post(f"{buyer.url}/punchout", data=setup_request(return_url=buyer.receiver.url), timeout=10).content
    )
    shop = session.get(url, timeout=10)
    sid = shop.url.split("sid=")[1]
    session.post(
        f"{buyer.url}/shop/cart/add", data=shop_form_http(session, buyer.url, sid, asin="B0TESTSLOW"), timeout=10
    )
    checkout = session.post(f"{buyer.url}/shop/checkout", data=shop_form_http(session, buyer.url, sid), timeout=10)
    assert checkout.status_code == 410 and "Your shopping session has expired" in checkout.text
    assert 'data-testid="return-form"' not in checkout.text
    assert buyer.receiver.posts == []


def test_scenario_documents_out_of_order(buyer: Buyer, dtds: DtdRegistry) -> None:
    buyer.activate("documents-out-of-order")
    buyer.order("OOO-1")
    docs = buyer.documents(3)
    assert kinds(docs)[:2] == ["ShipNoticeRequest", "ConfirmationRequest"]
    for _, _, body in docs:
        assert_valid(body, dtds)


def test_scenario_duplicate_delivery(buyer: Buyer) -> None:
    buyer.activate("duplicate-delivery")
    buyer.order("DD-1")
    docs = buyer.documents(6)
    payloads = [root.get("payloadID") for _, root, _ in docs]
    assert len(payloads) == 6 and all(payloads.count(p) == 2 for p in payloads)
    assert buyer.admin("GET", "/outbox?status=delivered")["total"] == 3
