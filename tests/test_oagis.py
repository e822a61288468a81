"""OAGIS purchase orders (a simulator extension): ProcessPurchaseOrder in, AcknowledgePurchaseOrder out.

There is no official OAGIS schema in the repository, so the shape of every BOD the simulator answers
with is checked here by assertion: the namespace, the echo of the buyer's BODID, the action code,
and every line with its status, quantities, reason codes and prices.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from flask.testing import FlaskClient
from lxml import etree

from simulator import create_app
from simulator.config import Config
from simulator.cxml.parse import parse_document
from simulator.cxml.validate import DtdRegistry

from .conftest import Receiver
from .helpers import assert_valid

NS = "http://www.openapplications.org/oagis/9"
N = {"o": NS}
DATA = Path(__file__).resolve().parent / "data" / "oagis"


def basic(identity: str = "DEMO-BUYER", secret: str = "demo-secret") -> dict[str, str]:
    token = base64.b64encode(f"{identity}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/xml"}


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


def price(client: FlaskClient, asin: str) -> str:
    product: dict[str, Any] = client.get(f"/__admin/catalog/products/{asin}").get_json()
    return str(product["business_price"])


def bod(
    *,
    order_id: str = "PO-OAGIS-1",
    bod_id: str | None = None,
    lines: list[dict[str, Any]] | None = None,
    ship_to: bool = True,
    namespace: bool = True,
    logical_id: str = "DEMO-BUYER",
    action: str = "Add",
) -> bytes:
    """A ProcessPurchaseOrder; ``lines``: dicts with ``asin``, ``quantity`` (1), ``price`` ("10.00")."""
    items = "".join(
        f"<PurchaseOrderLine><LineNumber>{n}</LineNumber><Item><ItemID><ID>{line['asin']}</ID></ItemID></Item>"
        f'<Quantity unitCode="EA">{line.get("quantity", 1)}</Quantity>'
        f'<UnitPrice><Amount currencyID="USD">{line.get("price", "10.00")}</Amount></UnitPrice></PurchaseOrderLine>'
        for n, line in enumerate(lines or [{"asin": "B0TESTSLOW"}], start=1)
    )
    party = (
        "<ShipToParty><Name>Buyer HQ</Name><Location><Address><LineOne>1 Main St</LineOne>"
        "<CityName>Springfield</CityName><CountrySubDivisionCode>IL</CountrySubDivisionCode>"
        "<PostalCode>62701</PostalCode><CountryCode>US</CountryCode></Address></Location></ShipToParty>"
        if ship_to
        else ""
    )
    xmlns = f' xmlns="{NS}"' if namespace else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><ProcessPurchaseOrder{xmlns} releaseID="9.0">'
        f"<ApplicationArea><Sender><LogicalID>{escape(logical_id)}</LogicalID></Sender>"
        f"<CreationDateTime>2026-11-26T10:00:00Z</CreationDateTime><BODID>{bod_id or order_id + '.bod'}</BODID>"
        f'</ApplicationArea><DataArea><Process><ActionCriteria><ActionExpression actionCode="{action}"/>'
        f"</ActionCriteria></Process><PurchaseOrder><PurchaseOrderHeader><DocumentID><ID>{order_id}</ID></DocumentID>"
        f"{party}</PurchaseOrderHeader>{items}</PurchaseOrder></DataArea></ProcessPurchaseOrder>"
    ).encode()


def post(client: FlaskClient, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
    """POST /oagis: (HTTP status, root of the answer, body). Every answer is an OAGIS 9 BOD."""
    response = client.post("/oagis", data=body, headers=basic() if headers is None else headers)
    assert response.content_type.startswith("text/xml"), response.data
    assert response.data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>"), response.data[:80]
    root = etree.fromstring(response.data, etree.XMLParser(resolve_entities=False, no_network=True))
    assert etree.QName(root).namespace == NS
    assert root.findtext("o:ApplicationArea/o:Sender/o:LogicalID", namespaces=N) == "AmazonBusiness-Simulator"
    assert root.findtext("o:ApplicationArea/o:BODID", namespaces=N)
    assert root.findtext("o:ApplicationArea/o:CreationDateTime", namespaces=N)
    return response.status_code, root, response.data


def acknowledged(root: Any) -> tuple[str, dict[int, dict[str, Any]]]:
    """(actionCode, line number → status, quantity, reason code, reason, price, schedules)."""
    assert etree.QName(root).localname == "AcknowledgePurchaseOrder"
    action = root.find("o:DataArea/o:Acknowledge/o:ResponseCriteria/o:ResponseExpression", N).get("actionCode")
    lines = {}
    for line in root.iterfind("o:DataArea/o:PurchaseOrder/o:PurchaseOrderLine", N):
        quantity = line.find("o:Quantity", N)
        lines[int(line.findtext("o:LineNumber", namespaces=N))] = {
            "status": line.findtext("o:Status/o:Code", namespaces=N),
            "quantity": int(quantity.text),
            "unit": quantity.get("unitCode"),
            "reason_code": line.findtext("o:Status/o:ReasonCode", namespaces=N),
            "reason": line.findtext("o:Status/o:Reason", namespaces=N),
            "item": line.findtext("o:Item/o:ItemID/o:ID", namespaces=N),
            "price": line.findtext("o:UnitPrice/o:Amount", namespaces=N),
            "schedules": [
                (
                    s.findtext("o:Status/o:Code", namespaces=N),
                    int(s.findtext("o:Quantity", namespaces=N)),
                    s.findtext("o:Status/o:ReasonCode", namespaces=N),
                    s.find("o:PromisedDeliveryDateTime", N) is not None,
                )
                for s in line.iterfind("o:PurchaseOrderSchedule", N)
            ],
        }
    return action, lines


def failure(root: Any) -> tuple[str, str, str]:
    """(ReasonCode, Description, the echoed BODID or "") of a ConfirmBOD refusing the BOD."""
    assert etree.QName(root).localname == "ConfirmBOD"
    data = root.find("o:DataArea", N)
    assert data.find("o:Confirm/o:ResponseCriteria/o:ResponseExpression", N).get("actionCode") == "Rejected"
    message = data.find("o:BOD/o:BODFailureMessage/o:ErrorProcessMessage", N)
    echoed = data.findtext("o:Confirm/o:OriginalApplicationArea/o:BODID", default="", namespaces=N)
    return message.findtext("o:ReasonCode", namespaces=N), message.findtext("o:Description", namespaces=N), echoed


def orders(client: FlaskClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get("/__admin/orders").get_json()["items"]
    return items


@pytest.fixture
def active(client: FlaskClient, receiver: Receiver) -> Iterator[Receiver]:
    """The demo account, active with a payment method, sending its documents to the receiver at once."""
    patched = client.patch(
        "/__admin/accounts/demo",
        json={
            "status": "active",
            "payment_method": {"type": "invoice"},
            "buyer_endpoint": {"url": receiver.url},
            "settings": {"timeline": "instant"},
        },
    )
    assert patched.status_code == 200, patched.get_json()
    yield receiver


def test_round_trip_acknowledges_and_the_cxml_documents_follow(
    client: FlaskClient, active: Receiver, dtds: DtdRegistry
) -> None:
    body = sample("process-purchase-order.xml").replace(b"27.49", price(client, "B0TESTSLOW").encode())
    status, root, _ = post(client, body)
    assert status == 200
    action, lines = acknowledged(root)
    assert action == "Accepted"
    assert lines == {
        1: {
            "status": "Accepted",
            "quantity": 2,
            "unit": "EA",
            "reason_code": None,
            "reason": None,
            "item": "B0TESTSLOW",
            "price": None,
            "schedules": [("Accepted", 2, None, True)],
        }
    }
    assert root.get("systemEnvironmentCode") == "Production"
    original = root.find("o:DataArea/o:Acknowledge/o:OriginalApplicationArea", N)
    assert original.findtext("o:BODID", namespaces=N) == "9b1c7e52-2f0a-4d57-a1c4-oagis-sample-1"
    assert original.findtext("o:Sender/o:LogicalID", namespaces=N) == "DEMO-BUYER"
    header = root.find("o:DataArea/o:PurchaseOrder/o:PurchaseOrderHeader", N)
    assert header.findtext("o:DocumentID/o:ID", namespaces=N) == "PO-OAGIS-1001"
    assert header.findtext("o:Status/o:Code", namespaces=N) == "Accepted"

    [order] = orders(client)
    assert (order["order_id"], order["payload_id"], order["status"]) == (
        "PO-OAGIS-1001",
        "9b1c7e52-2f0a-4d57-a1c4-oagis-sample-1",
        "accepted",
    )
    assert order["ship_to"]["street"] == ["1 Main St"] and order["ship_to"]["state"] == "CA"
    assert order["user_email"] == "alice@buyer.test"

    client.post("/__admin/outbox/flush")
    cxml = [p["body"] for p in active.posts if p["content_type"].startswith("text/xml")]
    assert cxml, "the ConfirmationRequest reaches the buyer endpoint"
    assert_valid(cxml[0], dtds)
    confirmation = parse_document(cxml[0]).root
    assert confirmation.find("Request")[0].tag == "ConfirmationRequest"
    reference = confirmation.find(".//OrderReference")
    assert reference.get("orderID") == "PO-OAGIS-1001"
    assert reference.find("DocumentReference").get("payloadID") == "9b1c7e52-2f0a-4d57-a1c4-oagis-sample-1"


def test_rejected_backordered_partial_and_repriced_lines(client: FlaskClient, active: Receiver) -> None:
    repriced_from = str((Decimal(price(client, "B0TESTSLOW")) * Decimal("0.96")).quantize(Decimal("0.01")))
    lines = [
        {"asin": "B0TESTREJT", "quantity": 1, "price": price(client, "B0TESTREJT")},
        {"asin": "B0TESTBACK", "quantity": 3, "price": price(client, "B0TESTBACK")},
        {"asin": "B0TESTPART", "quantity": 3, "price": price(client, "B0TESTPART")},
        {"asin": "B0TESTSLOW", "quantity": 1, "price": repriced_from},  # within the 10 % safeguard
    ]
    status, root, _ = post(client, bod(order_id="PO-MIXED", lines=lines))
    assert status == 200
    action, answered = acknowledged(root)
    assert action == "Modified"
    assert set(answered) == {1, 2, 3, 4}
    rejected = answered[1]
    assert (rejected["status"], rejected["quantity"], rejected["reason_code"]) == ("Rejected", 1, "002-001")
    assert rejected["reason"].startswith("002-001 Item unavailable")
    assert rejected["schedules"] == [("Rejected", 1, "002-001", False)]
    backordered = answered[2]
    assert (backordered["status"], backordered["quantity"], backordered["reason_code"]) == ("Backordered", 3, None)
    assert backordered["schedules"] == [("Backordered", 3, None, True)]
    partial = answered[3]
    assert (partial["status"], partial["quantity"], partial["reason_code"]) == ("Modified", 1, "002-007")
    assert partial["schedules"] == [("Accepted", 1, None, True), ("Rejected", 2, "002-007", False)]
    repriced = answered[4]
    assert (repriced["status"], repriced["quantity"]) == ("Accepted", 1)
    assert repriced["price"] == price(client, "B0TESTSLOW")
    stored = client.get(f"/__admin/orders/{orders(client)[0]['id']}").get_json()["lines"]
    assert [(line["accepted"], line["backordered"], line["rejected"]) for line in stored] == [
        (0, 0, 1),
        (0, 3, 0),
        (1, 0, 2),
        (1, 0, 0),
    ]


def test_every_line_rejected_is_a_rejected_acknowledgement(client: FlaskClient) -> None:
    status, root, _ = post(client, bod(order_id="PO-ALLREJ", lines=[{"asin": "B0TESTREJT"}, {"asin": "B0NOSUCH00"}]))
    action, answered = acknowledged(root)
    assert (status, action) == (200, "Rejected")
    assert [(line["status"], line["reason_code"]) for line in answered.values()] == [
        ("Rejected", "002-001"),
        ("Rejected", "002-008"),
    ]


@pytest.mark.parametrize(
    ("change", "ship_to", "code"),
    [
        ({}, False, "001-005"),  # no ShipTo
        ({"payment_method": None}, True, "001-010"),  # payment declined: no payment method
    ],
)
def test_whole_order_rejection(
    client: FlaskClient, active: Receiver, change: dict[str, Any], ship_to: bool, code: str
) -> None:
    if change:
        assert client.patch("/__admin/accounts/demo", json=change).status_code == 200
    lines: list[dict[str, Any]] = [
        {"asin": "B0TESTSLOW", "price": price(client, "B0TESTSLOW")},
        {"asin": "B0TESTBACK", "quantity": 2},
    ]
    status, root, _ = post(client, bod(order_id="PO-REJECT", lines=lines, ship_to=ship_to))
    assert status == 200
    action, answered = acknowledged(root)
    assert action == "Rejected"
    change_status = root.find("o:DataArea/o:Acknowledge/o:ResponseCriteria/o:ChangeStatus", N)
    assert change_status.findtext("o:ReasonCode", namespaces=N) == code
    assert change_status.findtext("o:Reason", namespaces=N).startswith(code + " ")
    header = root.find("o:DataArea/o:PurchaseOrder/o:PurchaseOrderHeader/o:Status", N)
    assert (header.findtext("o:Code", namespaces=N), header.findtext("o:ReasonCode", namespaces=N)) == (
        "Rejected",
        code,
    )
    assert [(n, line["status"], line["quantity"], line["reason_code"]) for n, line in answered.items()] == [
        (1, "Rejected", 1, code),
        (2, "Rejected", 2, code),
    ]
    [order] = orders(client)
    assert (order["status"], order["reject_code"]) == ("rejected", code)
    client.post("/__admin/outbox/flush")
    confirmation = parse_document(next(p["body"] for p in active.posts)).root
    assert confirmation.find(".//ConfirmationHeader").get("type") == "reject"


def test_an_order_change_is_refused_as_amazon_does(client: FlaskClient) -> None:
    status, root, _ = post(client, bod(order_id="PO-CHANGE", action="Change"))
    action, answered = acknowledged(root)
    assert (status, action, answered[1]["reason_code"]) == (200, "Rejected", "001-001")


def test_the_same_bodid_again_gets_the_same_acknowledgement_and_one_order(client: FlaskClient) -> None:
    body = bod(order_id="PO-TWICE", bod_id="bod-twice-1", lines=[{"asin": "B0TESTBACK"}])
    first = post(client, body)
    second = post(client, body)
    assert first[0] == second[0] == 200
    assert first[2] == second[2]  # byte for byte, BODID and time included
    assert len(orders(client)) == 1
    entry = client.get("/__admin/journal?type=ProcessPurchaseOrder&direction=in").get_json()["items"][0]
    assert any("received before" in advisory for advisory in entry["advisories"])
    # The PO number again under another BODID is a duplicate order.
    status, root, _ = post(client, bod(order_id="PO-TWICE", bod_id="bod-twice-2"))
    code, description, echoed = failure(root)
    assert (status, code, echoed) == (409, "409", "bod-twice-2")
    assert "PO-TWICE" in description and "duplicate" in description
    assert len(orders(client)) == 1


def test_a_bod_without_namespace_is_accepted(client: FlaskClient) -> None:
    headers = {"X-Shared-Secret": "demo-secret", "Content-Type": "text/xml"}
    status, root, _ = post(client, sample("process-purchase-order-no-namespace.xml"), headers)
    action, answered = acknowledged(root)
    assert (status, action) == (200, "Accepted")
    assert answered[10]["item"] == "B0TESTSLOW" and answered[10]["status"] == "Accepted"
    assert root.get("systemEnvironmentCode") == "Test"  # the demo account is a test account
    entry = client.get("/__admin/journal?type=ProcessPurchaseOrder&direction=in").get_json()["items"][0]
    assert any("no namespace" in advisory for advisory in entry["advisories"])
    assert any("SupplierItemID B0TESTSLOW used" in advisory for advisory in entry["advisories"])
    assert orders(client)[0]["test"] is True


@pytest.mark.parametrize(
    ("headers", "logical_id", "why"),
    [
        (basic(secret="wrong"), "DEMO-BUYER", "does not match"),
        ({"X-Shared-Secret": "wrong"}, "DEMO-BUYER", "does not match"),
        ({}, "DEMO-BUYER", "No shared secret"),
        ({"Authorization": "Bearer demo-secret"}, "DEMO-BUYER", "Authorization: Bearer"),
        (basic(), "SOMEONE-ELSE", "is not the BOD's Sender/LogicalID"),
        ({"X-Shared-Secret": "demo-secret"}, "NOBODY", "No account has the credential identity"),
        ({**basic(), "X-Shared-Secret": "other"}, "DEMO-BUYER", "two different secrets"),
    ],
)
def test_wrong_credentials_are_refused_with_401(
    client: FlaskClient, headers: dict[str, str], logical_id: str, why: str
) -> None:
    status, root, _ = post(client, bod(order_id="PO-AUTH", logical_id=logical_id), headers)
    code, description, echoed = failure(root)
    assert (status, code, echoed) == (401, "401", "PO-AUTH.bod")
    assert why in description, description
    assert orders(client) == []


def test_not_well_formed_or_not_a_purchase_order_is_400(client: FlaskClient) -> None:
    status, root, _ = post(client, sample("not-well-formed.xml"))
    code, description, _ = failure(root)
    assert (status, code) == (400, "400")
    assert "not well-formed XML (line 10)" in description, description
    for body, why in (
        (b"this is not XML", "not well-formed XML (line 1)"),
        (b"", "empty"),
        (b"<cXML><Request><OrderRequest/></Request></cXML>", "cXML orders go to POST /orders"),
        (f'<SyncPurchaseOrder xmlns="{NS}"/>'.encode(), "takes a ProcessPurchaseOrder"),
        (bod().replace(b"<DocumentID><ID>PO-OAGIS-1</ID></DocumentID>", b""), "DocumentID/ID"),
    ):
        status, root, _ = post(client, body)
        code, description, _ = failure(root)
        assert (status, code) == (400, "400")
        assert why in description, description
    response = client.get("/oagis")
    assert response.status_code == 405 and response.headers["Allow"] == "POST"
    assert b"ConfirmBOD" in response.data and b"<html" not in response.data.lower()
    assert orders(client) == []


def test_a_body_too_large_is_413(config: Config) -> None:
    client = create_app(config.with_overrides(max_body_bytes=2000)).test_client()
    status, root, _ = post(client, bod(lines=[{"asin": "B0TESTSLOW"}] * 40))
    assert (status, failure(root)[0]) == (413, "413")


def test_the_bod_and_its_acknowledgement_are_journaled(client: FlaskClient) -> None:
    body = bod(order_id="PO-JOURNAL", bod_id="bod-journal-1")
    _, root, answer = post(client, body)
    [entry] = client.get("/__admin/journal?type=ProcessPurchaseOrder").get_json()["items"]
    assert (entry["direction"], entry["endpoint"], entry["payload_id"], entry["account_id"]) == (
        "in",
        "/oagis",
        "bod-journal-1",
        "demo",
    )
    [reply] = client.get("/__admin/journal?type=AcknowledgePurchaseOrder").get_json()["items"]
    assert (reply["direction"], reply["in_reply_to"], reply["http_status"]) == ("out", entry["id"], 200)
    assert reply["payload_id"] == root.findtext("o:ApplicationArea/o:BODID", namespaces=N)
    assert client.get(f"/__admin/journal/{entry['id']}").get_json()["body"] == body.decode()
    assert client.get(f"/__admin/journal/{reply['id']}").get_json()["body"] == answer.decode()
    # A refused BOD is journaled with its ConfirmBOD.
    post(client, bod(order_id="PO-JOURNAL-2"), basic(secret="wrong"))
    [refused] = client.get("/__admin/journal?type=ConfirmBOD").get_json()["items"]
    assert (refused["http_status"], refused["account_id"]) == (401, "demo")


def test_scenario_rules_see_oagis_orders(client: FlaskClient) -> None:
    rule = {
        "name": "qa-oagis-backorder",
        "description": "OAGIS orders for PO numbers starting with QA- are backordered.",
        "rules": [
            {
                "match": {
                    "document": "ProcessPurchaseOrder",
                    "po": "^QA-",
                    "xpath": "//PurchaseOrderLine/Item/ItemID/ID='B0TESTSLOW'",  # no namespace prefixes needed
                },
                "outcome": {"lines": "backorder", "days": 9},
            },
            {
                "match": {"document": "ProcessPurchaseOrder", "po": "^DUP-"},
                "outcome": {"answer": {"code": 409, "text": "Conflict", "message": "Seen this PO before."}},
            },
            {
                "match": {"document": "ProcessPurchaseOrder", "po": "^DOWN-"},
                "fault": {"type": "http_status", "status": 503},
            },
        ],
    }
    assert client.post("/__admin/scenarios", json=rule).status_code == 201
    assert client.post("/__admin/scenarios/qa-oagis-backorder/activate").status_code == 200
    line = {"asin": "B0TESTSLOW", "quantity": 2, "price": price(client, "B0TESTSLOW")}
    _, root, _ = post(client, bod(order_id="QA-7", lines=[line]))
    action, answered = acknowledged(root)
    assert (action, answered[1]["status"], answered[1]["quantity"]) == ("Modified", "Backordered", 2)
    entry = client.get("/__admin/journal?type=ProcessPurchaseOrder&direction=in").get_json()["items"][0]
    assert entry["scenario"] == "qa-oagis-backorder rule 1"
    _, root, _ = post(client, bod(order_id="PO-8", lines=[line]))
    assert acknowledged(root)[1][1]["status"] == "Accepted"
    # A rule's answer is a ConfirmBOD and creates nothing; a rule's fault applies to the answer.
    status, root, _ = post(client, bod(order_id="DUP-1"))
    assert (status, failure(root)[:2]) == (409, ("409", "Seen this PO before."))
    assert client.post("/oagis", data=bod(order_id="DOWN-1"), headers=basic()).status_code == 503
    assert [o["order_id"] for o in orders(client)] == ["DOWN-1", "PO-8", "QA-7"]
