"""The admin API's OpenAPI document: valid, complete, and every operation in it answers as documented."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from simulator import create_app
from simulator.config import Config

from .helpers import order_request, setup_request

METHODS = ("get", "post", "put", "patch", "delete")


def spec(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/__admin/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.get_json()
    return document


def test_document_is_valid_openapi(client: FlaskClient) -> None:
    validate(spec(client))


def test_document_names_exactly_the_admin_routes(app: Flask, client: FlaskClient) -> None:
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/__admin"):
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
            for method in rule.methods or ():
                if method.lower() in METHODS:
                    served.add((path, method.lower()))
    documented = {
        (path, method) for path, item in spec(client)["paths"].items() for method in item if method in METHODS
    }
    assert documented == served


def _fixtures(client: FlaskClient) -> dict[str, str]:
    """Real ids for every path parameter: a session with a cart, an order with documents, a fault."""
    client.patch("/__admin/accounts/demo", json={"buyer_endpoint": {"url": "http://127.0.0.1:9/cxml"}})
    client.post("/punchout", data=setup_request(buyer_cookie="openapi"))
    session_id = client.get("/__admin/sessions?buyer_cookie=openapi").get_json()["items"][0]["id"]
    client.post("/orders", data=order_request(order_id="OPENAPI-1"))
    order_id = client.get("/__admin/orders").get_json()["items"][0]["id"]
    outbox_id = client.get("/__admin/outbox").get_json()["items"][0]["id"]
    fault = client.post("/__admin/faults", json={"endpoint": "oci", "type": "empty"}).get_json()
    return {
        "account_id": "demo",
        "asin": "B0TESTSLOW",
        "session_id": session_id,
        "entry_id": str(client.get("/__admin/journal").get_json()["items"][0]["id"]),
        "order_pk": order_id,
        "outbox_id": str(outbox_id),
        "name": "happy-path",
        "fault_id": str(fault["id"]),
    }


BODIES: dict[tuple[str, str], Any] = {
    ("/__admin/clock/advance", "post"): {"seconds": 1},
    ("/__admin/seed", "post"): {"seed": 1},
    ("/__admin/accounts", "post"): {
        "name": "OpenAPI",
        "credentials": {"domain": "NetworkId", "identity": "OPENAPI", "shared_secret": "s"},
    },
    ("/__admin/accounts/{account_id}", "patch"): {"name": "Demo Buyer"},
    ("/__admin/accounts/{account_id}/users", "post"): {"email": "openapi@buyer.test"},
    ("/__admin/sessions/{session_id}/cart/items", "post"): {"asin": "B0TESTSLOW", "quantity": 1},
    ("/__admin/sessions/{session_id}/checkout", "post"): {},
    ("/__admin/oci/sessions", "post"): {  # OCI
        "HOOK_URL": "http://buyer.test/oci/hook",
        "USERNAME": "demo",
        "PASSWORD": "demo-secret",
    },
    ("/__admin/journal/find", "post"): {"type": "OrderRequest"},
    ("/__admin/journal/count", "post"): {"direction": "in"},
    ("/__admin/scenarios", "post"): {"name": "openapi", "description": "d", "rules": [{"match": {}}]},
    ("/__admin/scenarios/{name}/state", "put"): {"state": "Started"},
    ("/__admin/faults", "post"): {"endpoint": "oci", "type": "empty"},
    ("/__admin/reset", "post"): {"parts": ["journal"]},
}
LAST = ("/__admin/faults/{fault_id}", "/__admin/faults", "/__admin/reset")  # they remove what others use


@pytest.fixture
def quiet_client(config: Config) -> FlaskClient:
    return create_app(config).test_client()


def test_every_operation_answers_with_a_documented_status(quiet_client: FlaskClient) -> None:
    client = quiet_client
    document = spec(client)
    ids = _fixtures(client)
    operations = [
        (path, method, item[method]) for path, item in document["paths"].items() for method in METHODS if method in item
    ]
    operations.sort(key=lambda op: (LAST.index(op[0]) if op[0] in LAST else -1, op[0]))
    called = []
    for path, method, operation in operations:
        url = re.sub(r"{([a-z_]+)}", lambda m: ids[m.group(1)], path)
        body = BODIES.get((path, method))
        response = client.open(url, method=method.upper(), json=body)
        documented = {int(code) for code in operation["responses"]}
        assert response.status_code in documented, (
            f"{method.upper()} {url}: {response.status_code} {response.data[:300]!r}"
        )
        assert response.status_code < 400, f"{method.upper()} {url} failed: {response.data[:300]!r}"
        if response.status_code != 204 and "application/json" in str(operation["responses"][str(response.status_code)]):
            assert response.is_json
        called.append((path, method))
    assert len(called) == len(operations)
