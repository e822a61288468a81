"""Faults as data, seen from the client's side over real sockets: every type on the answers, and on
the documents the outbox sends to a real HTTP receiver; probability and seed, times, endpoints,
validation, and a stored fault shared by two simulator instances on one data dir.
"""

from __future__ import annotations

import http.client
import logging
import random
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from flask.testing import FlaskClient
from lxml import etree

from simulator import create_app, faults
from simulator.config import Config
from simulator.cxml.parse import parse_document
from simulator.cxml.validate import DtdRegistry
from simulator.errors import AdminError

from .conftest import TEST_CATALOG_SIZE, LiveServer, Receiver
from .helpers import order_request, setup_request, shop_form_http, start_url, status_of

XML = {"Content-Type": "text/xml"}
PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


class Sim:
    """The live simulator as a buyer and a QA engineer use it: cXML posts and admin calls."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.url = server.url

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.url}/__admin{path}", timeout=10, **kwargs)
        assert response.status_code < 400, response.text
        return response.json() if response.content else None

    def fault(self, **spec: Any) -> dict[str, Any]:
        response = requests.post(f"{self.url}/__admin/faults", json=spec, timeout=10)
        assert response.status_code == 201, response.text
        fault: dict[str, Any] = response.json()
        return fault

    def post(self, path: str, body: bytes, **kwargs: Any) -> requests.Response:
        return requests.post(f"{self.url}{path}", data=body, headers=XML, timeout=10, **kwargs)

    def order(self, order_id: str) -> requests.Response:
        price = self.admin("GET", "/catalog/products/B0TESTSLOW")["business_price"]
        return self.post("/orders", order_request(order_id=order_id, lines=[{"asin": "B0TESTSLOW", "price": price}]))

    def fault_entries(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.admin("GET", "/journal?type=Fault")["items"]
        return items


@pytest.fixture
def sim(live_server: LiveServer) -> Sim:
    return Sim(live_server)


@pytest.fixture
def buyer(sim: Sim, receiver: Receiver) -> Iterator[Receiver]:
    """The demo account active, sending its documents at once to the receiver."""
    sim.admin(
        "PATCH",
        "/accounts/demo",
        json={
            "status": "active",
            "payment_method": {"type": "invoice"},
            "buyer_endpoint": {"url": receiver.url.replace("/punchout/return", "/cxml"), "shared_secret": "inbound"},
            "settings": {"timeline": "instant"},
        },
    )
    yield receiver


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def delivered(sim: Sim, receiver: Receiver, count: int) -> list[dict[str, Any]]:
    """Flush the outbox and wait until the receiver has ``count`` posts (the dispatcher runs too)."""
    sim.admin("POST", "/outbox/flush")
    wait_for(lambda: len(receiver.posts) >= count)
    wait_for(lambda: not sim.admin("GET", "/outbox?status=sending")["items"])
    return receiver.posts


def well_formed(body: bytes) -> bool:
    try:
        etree.fromstring(body, PARSER)
    except etree.XMLSyntaxError:
        return False
    return True


def dtd_findings(body: bytes, dtds: DtdRegistry) -> list[str]:
    document = parse_document(body)
    result = dtds.validate(document.root, dtd_name=document.dtd_name, version=document.dtd_version)
    assert result.dtd_file is not None
    return [str(f) for f in result.findings]


# --- the admin API ------------------------------------------------------------------------------

ALL_TYPES = (
    "delay, http_status, cxml_status, malformed, empty, reset, truncate, content_type, dtd_invalid, "
    "bad_credentials, duplicate, out_of_order"
)
CXML_TYPES = "delay, http_status, cxml_status, malformed, empty, reset, truncate, content_type, dtd_invalid"
OUTBOUND_TYPES = (
    "delay, malformed, empty, truncate, content_type, dtd_invalid, bad_credentials, duplicate, out_of_order"
)
ENDPOINTS = "punchout, orders, cxml, oci, oagis, start_page, checkout, outbound"

INVALID = [
    (
        [],
        'The body must be a JSON object describing the fault, e.g. {"endpoint": "orders", "type": "delay", "ms": 500}.',
    ),
    ({"type": "delay", "ms": 1}, f"endpoint is required: one of {ENDPOINTS}."),
    ({"endpoint": "shop", "type": "delay", "ms": 1}, f'endpoint must be one of {ENDPOINTS}; got "shop".'),
    ({"endpoint": "orders"}, f"type is required: one of {ALL_TYPES}."),
    ({"endpoint": "orders", "type": "slow"}, f'type must be one of {ALL_TYPES}; got "slow".'),
    (
        {"endpoint": "orders", "type": "delay", "mss": 5},
        "unknown key 'mss' in a delay fault; its keys are endpoint, type, ms, min_ms, max_ms, name, probability, "
        "seed, times.",
    ),
    ({"endpoint": "orders", "type": "delay"}, "ms is required: a delay fault takes ms, or min_ms and max_ms."),
    (
        {"endpoint": "orders", "type": "delay", "ms": 5, "max_ms": 9},
        "a delay fault takes either ms, or min_ms and max_ms; not both.",
    ),
    (
        {"endpoint": "orders", "type": "delay", "min_ms": 500, "max_ms": 100},
        "min_ms (500) must not be greater than max_ms (100).",
    ),
    (
        {"endpoint": "orders", "type": "delay", "ms": 200000},
        "ms must be a whole number of milliseconds from 0 to 100000; got 200000.",
    ),
    (
        {"endpoint": "orders", "type": "http_status"},
        "status is required for an http_status fault: a whole number from 200 to 599.",
    ),
    (
        {"endpoint": "orders", "type": "http_status", "status": 99},
        "status must be a whole number from 200 to 599; got 99.",
    ),
    (
        {"endpoint": "orders", "type": "http_status", "status": 500, "cxml_body": "yes"},
        'cxml_body must be true or false; got "yes".',
    ),
    (
        {"endpoint": "cxml", "type": "cxml_status", "code": 503},
        'text is required for a cxml_status fault: the Status text attribute, e.g. "Service Unavailable".',
    ),
    (
        {"endpoint": "orders", "type": "content_type"},
        'value is required for a content_type fault: the Content-Type to send, e.g. "text/html".',
    ),
    (
        {"endpoint": "orders", "type": "duplicate"},
        "type 'duplicate' does not apply to orders: it sends a document to the buyer twice, so it is for endpoint "
        f"outbound only. On orders use one of {CXML_TYPES}.",
    ),
    (
        {"endpoint": "punchout", "type": "bad_credentials"},
        "type 'bad_credentials' does not apply to punchout: it puts wrong credentials in the documents the "
        f"simulator sends to the buyer, so it is for endpoint outbound only. On punchout use one of {CXML_TYPES}.",
    ),
    (
        {"endpoint": "outbound", "type": "reset"},
        "type 'reset' does not apply to outbound: on outbound the simulator is the client; to break the connection "
        f"in the middle of a send use truncate. On outbound use one of {OUTBOUND_TYPES}.",
    ),
    (
        {"endpoint": "outbound", "type": "http_status", "status": 500},
        "type 'http_status' does not apply to outbound: on outbound the simulator is the client: the HTTP status "
        f"and the cXML Status are the buyer's answer. On outbound use one of {OUTBOUND_TYPES}.",
    ),
    (
        {"endpoint": "start_page", "type": "malformed"},
        "type 'malformed' does not apply to start_page: start_page answers with a redirect (303 to the shop): the "
        "browser reads neither its body nor its type. On start_page use one of delay, http_status, empty, reset, "
        "truncate.",
    ),
    (
        {"endpoint": "checkout", "type": "cxml_status", "code": 500, "text": "x"},
        "type 'cxml_status' does not apply to checkout: checkout answers a browser with an HTML page carrying the "
        "cart, not with a cXML document. On checkout use one of delay, http_status, malformed, empty, reset, "
        "truncate, content_type.",
    ),
    (
        {"endpoint": "checkout", "type": "http_status", "status": 500, "cxml_body": True},
        "cxml_body: true does not apply to checkout: it answers a browser with an HTML page carrying the cart, "
        "not with cXML; use cxml_body: false.",
    ),
    (
        {"endpoint": "oci", "type": "empty", "probability": 1.5},
        "probability must be a number from 0 to 1; got 1.5.",
    ),
    ({"endpoint": "oci", "type": "empty", "seed": 1.5}, "seed must be a whole number, a string or null; got 1.5."),
    ({"endpoint": "oci", "type": "empty", "times": 0}, "times must be a whole number of 1 or more, or null; got 0."),
    (
        {"endpoint": "oci", "type": "empty", "target": "outbound"},
        "unknown key 'target' in an empty fault; its keys are endpoint, type, name, probability, seed, times.",
    ),
]


@pytest.mark.parametrize(("body", "message"), INVALID, ids=[m[:40] for _, m in INVALID])
def test_invalid_faults_are_refused_with_the_key_and_the_allowed_values(
    client: FlaskClient, body: Any, message: str
) -> None:
    response = client.post("/__admin/faults", json=body)
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid_fault", "message": message}


def test_a_body_that_is_not_json_is_refused(client: FlaskClient) -> None:
    response = client.post("/__admin/faults", data="delay please", headers={"Content-Type": "text/plain"})
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_json"


def test_scenario_faults_validate_without_an_endpoint() -> None:
    assert faults.validate({"type": "duplicate", "target": "outbound"}, endpoint_required=False)["endpoint"] == (
        "outbound"
    )
    assert faults.validate({"type": "malformed"}, endpoint_required=False) == {
        "endpoint": None,
        "type": "malformed",
        "name": None,
        "probability": 1.0,
        "seed": None,
        "times": None,
    }
    with pytest.raises(AdminError) as refused:
        faults.validate({"type": "duplicate"}, endpoint_required=False)
    assert refused.value.message == (
        "type 'duplicate' is not for an answer: it sends a document to the buyer twice; use target outbound."
    )


def test_add_list_delete_and_clear(client: FlaskClient) -> None:
    added = client.post(
        "/__admin/faults", json={"endpoint": "orders", "type": "delay", "min_ms": 10, "max_ms": 20, "times": 3}
    )
    assert added.status_code == 201
    first = added.get_json()
    assert {k: v for k, v in first.items() if k != "created_at"} == {
        "id": first["id"],
        "endpoint": "orders",
        "type": "delay",
        "min_ms": 10,
        "max_ms": 20,
        "name": None,
        "probability": 1.0,
        "seed": None,
        "times": 3,
        "evaluations": 0,
        "fired": 0,
        "remaining": 3,
    }
    second = client.post(
        "/__admin/faults", json={"endpoint": "cxml", "type": "cxml_status", "code": 503, "text": "Busy", "seed": "s"}
    ).get_json()
    assert (second["message"], second["seed"], second["remaining"]) == (None, "s", None)
    listed = client.get("/__admin/faults").get_json()
    assert listed["total"] == 2 and [f["id"] for f in listed["items"]] == [first["id"], second["id"]]
    assert client.delete(f"/__admin/faults/{first['id']}").status_code == 204
    missing = client.delete(f"/__admin/faults/{first['id']}")
    assert missing.status_code == 404
    assert missing.get_json() == {"error": "not_found", "message": f"No fault with id '{first['id']}'."}
    assert client.delete("/__admin/faults/abc").get_json()["message"] == "No fault with id 'abc'."
    assert client.get("/__admin/faults").get_json()["total"] == 1
    assert client.delete("/__admin/faults").status_code == 204
    assert client.get("/__admin/faults").get_json() == {"items": [], "total": 0, "total_exact": True}


def test_endpoints_of_paths() -> None:
    assert faults.endpoint_of("/punchout", "POST") == "punchout"
    assert faults.endpoint_of("/punchout/test", "POST") == "punchout"
    assert faults.endpoint_of("/orders", "POST") == faults.endpoint_of("/orders/demo", "POST") == "orders"
    assert faults.endpoint_of("/cxml", "POST") == "cxml"
    assert faults.endpoint_of("/oci", "GET") == faults.endpoint_of("/oci", "POST") == "oci"
    assert faults.endpoint_of("/start/abc", "GET") == "start_page"
    assert faults.endpoint_of("/shop/checkout", "POST") == "checkout"
    assert faults.endpoint_of("/shop/return-without-items", "POST") == "checkout"
    for path, method in [
        ("/punchout", "GET"),
        ("/orders/a/b", "POST"),
        ("/shop/cart/add", "POST"),
        ("/shop/checkout", "GET"),
        ("/__admin/faults", "POST"),
        ("/start/", "GET"),
    ]:
        assert faults.endpoint_of(path, method) is None, path


# --- inbound, one test per type -----------------------------------------------------------------


def test_delay_answers_late_and_the_order_is_taken(sim: Sim, buyer: Receiver) -> None:
    fault = sim.fault(endpoint="orders", type="delay", ms=400)
    started = time.monotonic()
    answer = sim.order("PO-DELAY")
    assert time.monotonic() - started >= 0.4
    assert status_of(answer.content)[0] == 200
    assert [o["order_id"] for o in sim.admin("GET", "/orders")["items"]] == ["PO-DELAY"]
    [entry] = sim.fault_entries()
    assert entry["endpoint"] == "/orders" and entry["http_status"] == 200
    assert entry["advisories"] == [f"Fault (fault {fault['id']}): the answer was delayed 400 ms."]


def test_random_delay_is_within_range_and_reproducible_with_a_seed(sim: Sim) -> None:
    fault = sim.fault(endpoint="punchout", type="delay", min_ms=100, max_ms=500, seed=5, name="jitter")
    for n in (1, 2, 3):
        rng = random.Random(f"5:{n}")
        rng.random()
        expected = rng.randint(100, 500)
        started = time.monotonic()
        answer = sim.post("/punchout", setup_request())
        elapsed = time.monotonic() - started
        assert status_of(answer.content)[0] == 200
        assert expected / 1000 <= elapsed < expected / 1000 + 1
        assert sim.fault_entries()[0]["advisories"] == [
            f"Fault (fault {fault['id']} 'jitter'): the answer was delayed {expected} ms."
        ]


def test_http_status_without_a_cxml_body(sim: Sim) -> None:
    sim.fault(endpoint="punchout", type="http_status", status=503)
    answer = sim.post("/punchout", setup_request())
    assert answer.status_code == 503
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert answer.content == b"503 Service Unavailable\n"


def test_http_status_with_a_cxml_body(sim: Sim) -> None:
    sim.fault(endpoint="orders", type="http_status", status=500, cxml_body=True, message="Try again later.")
    answer = sim.order("PO-500")
    assert answer.status_code == 500 and answer.headers["Content-Type"] == "text/xml; charset=UTF-8"
    assert status_of(answer.content) == (500, "Internal Server Error", "Try again later.")
    root = etree.fromstring(answer.content, PARSER)
    assert root.get("payloadID", "").endswith("@amazon.com") and root.get("version") == "1.2.069"


def test_cxml_status(sim: Sim, dtds: DtdRegistry) -> None:
    sim.fault(endpoint="cxml", type="cxml_status", code=503, text="Service Unavailable", message="Maintenance.")
    answer = sim.post("/cxml", setup_request())
    assert answer.status_code == 200
    assert status_of(answer.content) == (503, "Service Unavailable", "Maintenance.")
    assert dtd_findings(answer.content, dtds) == []
    # the journal: the request's own entry says what the buyer got, the Fault entry what was sent
    [request] = sim.admin("GET", "/journal?type=PunchOutSetupRequest")["items"]
    [entry] = sim.fault_entries()
    note = "Fault (fault 1): answered HTTP 200 with a cXML Status 503 Service Unavailable."
    assert (request["http_status"], request["cxml_status"], request["advisories"][-1]) == (200, 503, note)
    assert (entry["in_reply_to"], entry["account_id"], entry["cxml_status"]) == (request["id"], "demo", 503)
    assert sim.admin("GET", f"/journal/{entry['id']}")["body"] == answer.text
    [original] = sim.admin("GET", "/journal?type=PunchOutSetupResponse")["items"]
    assert (original["in_reply_to"], original["cxml_status"]) == (request["id"], 200)  # what it would have said


def test_malformed(sim: Sim) -> None:
    sim.fault(endpoint="punchout", type="malformed")
    answer = sim.post("/punchout", setup_request())
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "text/xml; charset=UTF-8"
    assert answer.content.startswith(b"<?xml")
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(answer.content, PARSER)


def test_empty(sim: Sim) -> None:
    sim.fault(endpoint="punchout", type="empty")
    answer = sim.post("/punchout", setup_request())
    assert (answer.status_code, answer.content) == (200, b"")
    assert answer.headers["Content-Type"] == "text/xml; charset=UTF-8"


def test_reset(sim: Sim, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    sim.fault(endpoint="punchout", type="reset", times=2)
    with pytest.raises(requests.ConnectionError):
        sim.post("/punchout", setup_request())
    body = setup_request()
    host, port = urlsplit(sim.url).hostname, urlsplit(sim.url).port
    with socket.create_connection((host, port), timeout=5) as raw:
        raw.sendall(
            b"POST /punchout HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        with pytest.raises(ConnectionResetError):
            assert raw.recv(1024) == b"", "a reset, not an orderly close"
    assert status_of(sim.post("/punchout", setup_request()).content)[0] == 200  # the server goes on
    entry = sim.fault_entries()[0]
    assert entry["http_status"] is None and entry["advisories"][0].endswith(
        "the connection was reset (TCP RST); nothing was sent."
    )
    request = sim.admin("GET", f"/journal/{entry['in_reply_to']}")
    assert (request["doc_type"], request["http_status"], request["cxml_status"]) == ("PunchOutSetupRequest", None, None)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_truncate(sim: Sim) -> None:
    sim.fault(endpoint="punchout", type="truncate", times=1)
    connection = http.client.HTTPConnection(urlsplit(sim.url).netloc, timeout=5)
    connection.request("POST", "/punchout", body=setup_request(), headers=XML)
    response = connection.getresponse()
    announced = int(response.headers["Content-Length"])
    with pytest.raises(http.client.IncompleteRead) as cut:
        response.read()
    connection.close()
    assert len(cut.value.partial) == announced // 2 and cut.value.expected == announced - announced // 2
    sim.fault(endpoint="punchout", type="truncate", bytes=10)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        sim.post("/punchout", setup_request())
    assert sim.fault_entries()[0]["advisories"][0].endswith(
        f"only 10 of the {announced} bytes announced were sent, then the connection was closed."
    )


def test_content_type(sim: Sim) -> None:
    sim.fault(endpoint="orders", type="content_type", value="text/html; charset=ISO-8859-1")
    answer = sim.post("/orders", order_request(order_id="PO-CT"))
    assert answer.headers["Content-Type"] == "text/html; charset=ISO-8859-1"
    assert status_of(answer.content)[0] in (200, 400, 403)  # the same cXML answer, under another type


def test_dtd_invalid(sim: Sim, dtds: DtdRegistry) -> None:
    sim.fault(endpoint="punchout", type="dtd_invalid")
    answer = sim.post("/punchout", setup_request())
    assert answer.status_code == 200
    assert well_formed(answer.content) and start_url(answer.content).startswith(sim.url)
    findings = dtd_findings(answer.content, dtds)
    assert findings and any("SimulatorFault" in f for f in findings)


# --- endpoints: which requests a fault touches ---------------------------------------------------


def test_a_fault_on_orders_leaves_punchout_alone(sim: Sim) -> None:
    sim.fault(endpoint="orders", type="http_status", status=503)
    assert sim.post("/punchout", setup_request()).status_code == 200
    assert sim.post("/orders", order_request()).status_code == 503
    assert sim.post("/orders/demo", order_request(order_id="PO-2")).status_code == 503
    assert requests.get(f"{sim.url}/__admin/health", timeout=5).status_code == 200
    assert sim.admin("GET", "/faults")["items"][0]["fired"] == 2


def test_start_page_fault(sim: Sim) -> None:
    sim.fault(endpoint="start_page", type="http_status", status=500)
    setup = sim.post("/punchout", setup_request())
    assert status_of(setup.content)[0] == 200  # the setup itself is not touched
    page = requests.get(start_url(setup.content), allow_redirects=False, timeout=10)
    assert (page.status_code, page.content) == (500, b"500 Internal Server Error\n")
    assert "Location" not in page.headers
    assert sim.fault_entries()[0]["endpoint"].startswith("/start/")


def test_checkout_faults(sim: Sim) -> None:
    sim.fault(endpoint="checkout", type="empty", times=1)
    sim.fault(endpoint="checkout", type="http_status", status=502)
    sids = []
    for cookie in ("c-1", "c-2"):
        shop = requests.get(start_url(sim.post("/punchout", setup_request(buyer_cookie=cookie)).content), timeout=10)
        sids.append(shop.url.split("sid=")[1])
    requests.post(
        f"{sim.url}/shop/cart/add", data=shop_form_http(requests, sim.url, sids[0], asin="B0TESTSLOW"), timeout=10
    )
    checkout = requests.post(f"{sim.url}/shop/checkout", data=shop_form_http(requests, sim.url, sids[0]), timeout=10)
    assert (checkout.status_code, checkout.content) == (200, b"")  # the return form is lost …
    assert sim.admin("GET", "/journal?type=PunchOutOrderMessage")["total"] == 1  # … the cart was returned
    cancel = requests.post(
        f"{sim.url}/shop/return-without-items", data=shop_form_http(requests, sim.url, sids[1]), timeout=10
    )
    assert cancel.status_code == 502


# --- probability, seed, times, persistence ------------------------------------------------------


def fire_pattern(sim: Sim, count: int = 20) -> list[bool]:
    """GET /oci (no credentials: 401) ``count`` times; True where the fault answered 503."""
    statuses = [requests.get(f"{sim.url}/oci", timeout=10).status_code for _ in range(count)]
    assert set(statuses) <= {401, 503}
    return [s == 503 for s in statuses]


def test_probability_with_a_seed_is_reproducible(sim: Sim) -> None:
    sim.fault(endpoint="oci", type="http_status", status=503, probability=0.5, seed=42)
    first = fire_pattern(sim)
    assert first == [random.Random(f"42:{n}").random() < 0.5 for n in range(1, 21)]
    assert 0 < sum(first) < 20
    sim.admin("DELETE", "/faults")
    sim.fault(endpoint="oci", type="http_status", status=503, probability=0.5, seed=42)
    assert fire_pattern(sim) == first
    sim.admin("DELETE", "/faults")
    sim.fault(endpoint="oci", type="http_status", status=503, probability=0.5, seed=43)
    other = fire_pattern(sim)
    assert other != first
    [listed] = sim.admin("GET", "/faults")["items"]
    assert (listed["evaluations"], listed["fired"]) == (20, sum(other))


def test_times_fires_n_times_then_stops(sim: Sim) -> None:
    sim.fault(endpoint="oci", type="http_status", status=503, times=2)
    assert fire_pattern(sim, 4) == [True, True, False, False]
    [listed] = sim.admin("GET", "/faults")["items"]
    assert (listed["fired"], listed["remaining"], listed["evaluations"]) == (2, 0, 2)


def test_a_stored_fault_applies_to_every_instance_on_the_data_dir(sim: Sim, dtd_dir: Any) -> None:
    sim.fault(endpoint="punchout", type="http_status", status=503, times=3)
    data_dir = sim.server.app.config["SIMULATOR"].data_dir
    other = LiveServer(
        lambda port: create_app(
            Config(data_dir=data_dir, catalog_size=TEST_CATALOG_SIZE, seed=1, dtd_dir=dtd_dir, port=port),
            prepare=False,
        )
    )
    other.start()
    try:
        statuses = [
            requests.post(f"{url}/punchout", data=setup_request(), timeout=10).status_code
            for url in (sim.url, other.url, other.url, sim.url)
        ]
        assert statuses == [503, 503, 503, 200]
        listed = requests.get(f"{other.url}/__admin/faults", timeout=10).json()["items"][0]
        assert (listed["fired"], listed["remaining"]) == (3, 0)
    finally:
        other.stop()


def test_a_scenario_rule_fault_draws_its_probability(sim: Sim) -> None:
    rule: dict[str, dict[str, Any]] = {
        "match": {"document": "PunchOutSetupRequest"},
        "fault": {"type": "empty", "probability": 0.5, "seed": 7},
    }
    sim.admin("POST", "/scenarios", json={"name": "flaky-setup", "description": "Half empty.", "rules": [rule]})
    sim.admin("POST", "/scenarios/flaky-setup/activate")
    empty = [sim.post("/punchout", setup_request()).content == b"" for _ in range(12)]
    spec = faults.validate({**rule["fault"], "target": "response"}, endpoint_required=False)
    assert empty == [faults.draw(7, n).random() < 0.5 for n in range(1, 13)]
    assert 0 < sum(empty) < 12
    assert sim.fault_entries()[0]["advisories"][0].startswith("Fault (the fault set while serving the request")
    assert spec["probability"] == 0.5


# --- outbound: what the buyer's endpoint receives -----------------------------------------------


def the_one(posts: list[dict[str, Any]], test: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    found = [p for p in posts if test(p)]
    assert len(found) == 1, [p["body"][:200] for p in posts]
    return found[0]


def test_outbound_malformed(sim: Sim, buyer: Receiver) -> None:
    sim.fault(endpoint="outbound", type="malformed", times=1)
    sim.order("PO-OUT-MAL")
    posts = delivered(sim, buyer, 3)
    bad = the_one(posts, lambda p: not well_formed(p["body"]))
    assert bad["content_type"] == "text/xml; charset=UTF-8" and bad["body"].startswith(b"<?xml")


def test_outbound_empty(sim: Sim, buyer: Receiver) -> None:
    sim.fault(endpoint="outbound", type="empty", times=1)
    sim.order("PO-OUT-EMPTY")
    the_one(delivered(sim, buyer, 3), lambda p: p["body"] == b"")


def test_outbound_truncate(sim: Sim, buyer: Receiver) -> None:
    sim.fault(endpoint="outbound", type="truncate", times=1)
    sim.order("PO-OUT-CUT")
    cut = the_one(delivered(sim, buyer, 3), lambda p: not well_formed(p["body"]))
    entries = sim.admin("GET", "/journal?direction=out")["items"]
    note = next(a for e in entries for a in e["advisories"] if "bytes announced" in a)
    assert f"only {len(cut['body'])} of the {2 * len(cut['body'])}" in note or (
        f"only {len(cut['body'])} of the {2 * len(cut['body']) + 1}" in note
    )


def test_outbound_content_type(sim: Sim, buyer: Receiver) -> None:
    sim.fault(endpoint="outbound", type="content_type", value="application/json", times=1)
    sim.order("PO-OUT-CT")
    odd = the_one(delivered(sim, buyer, 3), lambda p: p["content_type"] == "application/json")
    assert well_formed(odd["body"])
    refused = sim.admin("GET", "/outbox?status=pending")["items"]  # the receiver answered HTML: retried
    assert [i["last_error"].startswith("The answer is not cXML") for i in refused] == [True]


def test_outbound_dtd_invalid(sim: Sim, buyer: Receiver, dtds: DtdRegistry) -> None:
    sim.fault(endpoint="outbound", type="dtd_invalid", times=1)
    sim.order("PO-OUT-DTD")
    posts = delivered(sim, buyer, 3)
    assert all(well_formed(p["body"]) for p in posts)
    invalid = the_one(posts, lambda p: bool(dtd_findings(p["body"], dtds)))
    assert b"<SimulatorFault>" in invalid["body"]


def test_outbound_bad_credentials(sim: Sim, buyer: Receiver) -> None:
    sim.fault(endpoint="outbound", type="bad_credentials", times=1)
    sim.order("PO-OUT-CRED")
    posts = delivered(sim, buyer, 3)
    secrets = [etree.fromstring(p["body"], PARSER).findtext("Header/Sender/Credential/SharedSecret") for p in posts]
    assert sorted(secrets) == ["inbound", "inbound", faults.WRONG_SECRET]


def test_outbound_duplicate(sim: Sim, buyer: Receiver) -> None:
    sim.fault(endpoint="outbound", type="duplicate", times=1)
    sim.order("PO-OUT-DUP")
    posts = delivered(sim, buyer, 4)
    payloads = [etree.fromstring(p["body"], PARSER).get("payloadID") for p in posts]
    twice = [p for p in set(payloads) if payloads.count(p) == 2]
    assert len(posts) == 4 and len(twice) == 1
    items = sim.admin("GET", "/outbox")["items"]
    assert all(i["status"] == "delivered" for i in items)
    [row] = [i for i in items if i["payload_id"] == twice[0]]
    attempts = sim.admin("GET", f"/outbox/{row['id']}")["attempts"]
    assert [(a["attempt"], a["outcome"]) for a in attempts] == [(1, "delivered"), (1, "delivered")]
    sent = [e for e in sim.admin("GET", "/journal?direction=out")["items"] if e["payload_id"] == twice[0]]
    assert sorted(a for e in sent for a in e["advisories"] if a.startswith("Fault")) == [
        f"Fault (fault 1): the document is sent twice with the same payloadID. (copy {n} of 2)" for n in (1, 2)
    ]


def test_outbound_delay(sim: Sim, buyer: Receiver) -> None:
    sim.fault(endpoint="outbound", type="delay", ms=300, times=1)
    started = time.monotonic()
    sim.order("PO-OUT-SLOW")
    delivered(sim, buyer, 3)
    assert time.monotonic() - started >= 0.3
    advisories = [a for e in sim.admin("GET", "/journal?direction=out")["items"] for a in e["advisories"]]
    assert advisories.count("Fault (fault 1): the send was delayed 300 ms.") == 1
    assert all(i["status"] == "delivered" for i in sim.admin("GET", "/outbox")["items"])


def test_outbound_out_of_order_is_picked_by_the_scheduler(sim: Sim, buyer: Receiver) -> None:
    sim.fault(endpoint="outbound", type="out_of_order", times=1)
    sim.order("PO-OUT-OOO")
    posts = delivered(sim, buyer, 3)
    kinds = [etree.fromstring(p["body"], PARSER).find("Request")[0].tag for p in posts]
    assert kinds[:2] == ["ShipNoticeRequest", "ConfirmationRequest"]
    assert sim.admin("GET", "/faults")["items"][0]["fired"] == 1


def test_a_document_s_own_fault_from_a_scenario(sim: Sim, buyer: Receiver) -> None:
    rule = {
        "match": {"document": "OrderRequest"},
        "outcome": {"order": "accept"},
        "fault": {"type": "bad_credentials", "target": "outbound"},
    }
    sim.admin("POST", "/scenarios", json={"name": "wrong-secret", "description": "Bad creds.", "rules": [rule]})
    sim.admin("POST", "/scenarios/wrong-secret/activate")
    sim.order("PO-OWN")
    posts = delivered(sim, buyer, 3)
    secrets = {etree.fromstring(p["body"], PARSER).findtext("Header/Sender/Credential/SharedSecret") for p in posts}
    assert secrets == {faults.WRONG_SECRET}
    advisories = [a for e in sim.admin("GET", "/journal?direction=out")["items"] for a in e["advisories"]]
    assert advisories.count("Fault (the document's own): the Sender's credentials were made wrong.") == 3
