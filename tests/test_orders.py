"""Orders end to end: real OrderRequests in, the follow-up documents out to a real HTTP receiver.

Each outcome of the order issue has a test; every document received is checked for its contents and
validated against the DTD it declares (Fulfill.dtd, InvoiceDetail.dtd, cXML.dtd).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree

from simulator.cxml.parse import parse_document
from simulator.cxml.validate import DtdRegistry

from .conftest import Receiver
from .helpers import assert_valid, order_request, status_of

Doc = tuple[str, Any, bytes]


@pytest.fixture
def buyer(client: FlaskClient, receiver: Receiver) -> Iterator[Receiver]:
    """The demo account, active with a payment method, sending to the receiver at once."""
    patched = client.patch(
        "/__admin/accounts/demo",
        json={
            "status": "active",
            "payment_method": {"type": "invoice"},
            "buyer_endpoint": {"url": receiver.url.replace("/punchout/return", "/cxml"), "shared_secret": "inbound"},
            "settings": {"timeline": "instant"},
        },
    )
    assert patched.status_code == 200, patched.get_json()
    yield receiver


def settings(client: FlaskClient, **values: Any) -> None:
    assert client.patch("/__admin/accounts/demo", json={"settings": values}).status_code == 200


def place(client: FlaskClient, **kwargs: Any) -> tuple[int, str, str]:
    """Post an OrderRequest; lines without a price carry the catalogue's business price."""
    lines = kwargs.get("lines") or [{"asin": "B0TESTSLOW"}]
    for line in lines:
        if "price" not in line:
            product = client.get(f"/__admin/catalog/products/{line['asin']}")
            line["price"] = product.get_json()["business_price"] if product.status_code == 200 else "10.00"
    kwargs["lines"] = lines
    response = client.post("/orders", data=order_request(**kwargs), headers={"Content-Type": "text/xml"})
    return status_of(response.data)


def delivered(client: FlaskClient, receiver: Receiver, dtds: DtdRegistry) -> list[Doc]:
    """Flush the outbox; every cXML document the buyer received, validated, in order."""
    client.post("/__admin/outbox/flush")
    docs = []
    for post in receiver.posts:
        if not post["content_type"].startswith("text/xml"):
            continue
        assert_valid(post["body"], dtds)
        root = parse_document(post["body"]).root
        request = root.find("Request")
        docs.append((request[0].tag, root, post["body"]))
    return docs


def of_type(docs: list[Doc], doc_type: str) -> list[Any]:
    return [root for tag, root, _ in docs if tag == doc_type]


def statuses(confirmation: Any) -> dict[int, list[tuple[str, str]]]:
    """line number → [(type, quantity)] of a ConfirmationRequest."""
    result: dict[int, list[tuple[str, str]]] = {}
    for item in confirmation.iter("ConfirmationItem"):
        result[int(item.get("lineNumber"))] = [
            (s.get("type"), s.get("quantity")) for s in item.iter("ConfirmationStatus")
        ]
    return result


def comment(element: Any, kind: str) -> str:
    found = [c for c in element.iter("Comments") if c.get("type") == kind]
    return "".join(found[0].itertext()).strip() if found else ""


def test_accepted_order_is_confirmed_shipped_and_invoiced(
    client: FlaskClient, buyer: Receiver, dtds: DtdRegistry
) -> None:
    assert place(client, order_id="PO-ACCEPT", lines=[{"asin": "B0TESTSLOW", "quantity": 2, "price": "0"}]) == (
        200,
        "OK",
        "",
    )
    orders = client.get("/__admin/orders").get_json()
    assert orders["total"] == 1 and orders["items"][0]["order_id"] == "PO-ACCEPT"
    docs = delivered(client, buyer, dtds)
    assert [tag for tag, _, _ in docs] == ["ConfirmationRequest", "ShipNoticeRequest", "InvoiceDetailRequest"]
    confirmation, notice, invoice = (root for _, root, _ in docs)
    header = confirmation.find(".//ConfirmationHeader")
    assert header.get("type") == "detail"  # the price changed from 0 to the catalogue price
    confirm_id = header.get("confirmID")
    assert len(confirm_id) == 19 and confirm_id[3] == "-" and confirm_id[11] == "-"
    reference = confirmation.find(".//OrderReference")
    assert reference.get("orderID") == "PO-ACCEPT"
    assert reference.find("DocumentReference").get("payloadID") == "PO-ACCEPT.new@buyer.test"
    assert statuses(confirmation) == {1: [("accept", "2")]}
    assert confirmation.find(".//ConfirmationStatus/UnitPrice/Money").text != "0.00"
    sender = confirmation.find("Header/Sender/Credential")
    assert sender.findtext("SharedSecret") == "inbound"
    assert confirmation.find("Header/To/Credential/Identity").text == "DEMO-BUYER"
    assert confirmation.find("Request").get("deploymentMode") is None
    assert notice.find(".//ShipNoticeHeader").get("shipmentID").isdigit()
    identifier = notice.find(".//ShipmentIdentifier")
    assert identifier.text and identifier.get("trackingURL", "").startswith("https://")
    assert [(i.get("lineNumber"), i.get("quantity")) for i in notice.iter("ShipNoticeItem")] == [("1", "2")]
    summary = invoice.find(".//InvoiceDetailSummary")
    assert summary.find("NetAmount/Money").text == summary.find("GrossAmount/Money").text
    assert invoice.find(".//InvoiceDetailItemReference").get("lineNumber") == "1"
    detail = invoice.find(".//InvoiceDetailItem/Tax/TaxDetail")
    assert (detail.get("category"), detail.get("percentageRate")) == ("sales", "8.85")  # CA, from the state table
    order = client.get(f"/__admin/orders/{orders['items'][0]['id']}").get_json()
    assert [d["doc_type"] for d in order["documents"]] == [
        "ConfirmationRequest",
        "ShipNoticeRequest",
        "InvoiceDetailRequest",
    ]
    assert all(d["status"] == "delivered" and d["attempts"] for d in order["documents"])


def test_the_price_on_the_order_is_kept_when_it_matches(
    client: FlaskClient, buyer: Receiver, dtds: DtdRegistry
) -> None:
    price = client.get("/__admin/catalog/products/B0TESTSLOW").get_json()["business_price"]
    place(client, order_id="PO-SAME", lines=[{"asin": "B0TESTSLOW", "quantity": 1, "price": price}])
    confirmation = of_type(delivered(client, buyer, dtds), "ConfirmationRequest")[0]
    assert confirmation.find(".//ConfirmationHeader").get("type") == "accept"
    assert confirmation.find(".//ConfirmationStatus/UnitPrice") is None


def test_test_account_gets_a_confirmation_only_marked_test(
    client: FlaskClient, receiver: Receiver, dtds: DtdRegistry
) -> None:
    client.patch(
        "/__admin/accounts/demo",
        # demo buyer: the demo account fulfils test orders by default now; this test starts without
        json={
            "buyer_endpoint": {"url": receiver.url},
            "settings": {"timeline": "instant", "fulfil_test_orders": False},
        },
    )
    assert place(client, order_id="PO-TEST")[0] == 200
    docs = delivered(client, receiver, dtds)
    assert [tag for tag, _, _ in docs] == ["ConfirmationRequest"]
    assert docs[0][1].find("Request").get("deploymentMode") == "test"
    settings(client, fulfil_test_orders=True)
    place(client, order_id="PO-TEST-2")
    docs = delivered(client, receiver, dtds)[1:]
    assert [tag for tag, _, _ in docs] == ["ConfirmationRequest", "ShipNoticeRequest", "InvoiceDetailRequest"]
    assert {root.find("Request").get("deploymentMode") for _, root, _ in docs} == {"test"}


def test_rejected_test_product_is_a_line_reject(client: FlaskClient, buyer: Receiver, dtds: DtdRegistry) -> None:
    place(client, order_id="PO-REJT", lines=[{"asin": "B0TESTREJT", "quantity": 2}, {"asin": "B0TESTSLOW"}])
    confirmation = of_type(delivered(client, buyer, dtds), "ConfirmationRequest")
    lines = {k: v for c in confirmation for k, v in statuses(c).items()}
    assert lines[1] == [("reject", "2")] and lines[2] == [("accept", "1")]
    rejected = next(i for c in confirmation for i in c.iter("ConfirmationItem") if i.get("lineNumber") == "1")
    assert comment(rejected, "LineItemErrorCode").startswith("002-001 Item unavailable")


def test_backordered_then_shipped(client: FlaskClient, buyer: Receiver, dtds: DtdRegistry) -> None:
    place(client, order_id="PO-BACK", lines=[{"asin": "B0TESTBACK", "quantity": 3}])
    docs = delivered(client, buyer, dtds)
    confirmation = of_type(docs, "ConfirmationRequest")[0]
    assert statuses(confirmation) == {1: [("backordered", "3")]}
    status = confirmation.find(".//ConfirmationStatus")
    assert status.get("deliveryDate")
    notices = of_type(docs, "ShipNoticeRequest")
    assert [(i.get("lineNumber"), i.get("quantity")) for n in notices for i in n.iter("ShipNoticeItem")] == [("1", "3")]


@pytest.mark.parametrize(
    ("remainder", "expected"),
    [("cancel", [("accept", "1"), ("reject", "2")]), ("backorder", [("accept", "1"), ("backordered", "2")])],
)
def test_partial_fulfilment(
    client: FlaskClient, buyer: Receiver, dtds: DtdRegistry, remainder: str, expected: list[tuple[str, str]]
) -> None:
    settings(client, safeguards={"quantity": {"remainder": remainder}})
    place(client, order_id=f"PO-PART-{remainder}", lines=[{"asin": "B0TESTPART", "quantity": 3}])
    docs = delivered(client, buyer, dtds)
    assert statuses(of_type(docs, "ConfirmationRequest")[0]) == {1: expected}
    shipped = sorted(
        int(i.get("quantity")) for n in of_type(docs, "ShipNoticeRequest") for i in n.iter("ShipNoticeItem")
    )
    assert shipped == ([1] if remainder == "cancel" else [1, 2])


@pytest.mark.parametrize(
    ("safeguard", "expected"),
    [
        ({"max_increase_pct": 10, "action": "remove_item"}, "line"),
        ({"max_increase_pct": 10, "action": "cancel_order"}, "order"),
        ({"max_increase_pct": 30, "action": "remove_item"}, "new_price"),
    ],
)
def test_price_rise_and_the_unit_price_safeguard(
    client: FlaskClient, buyer: Receiver, dtds: DtdRegistry, safeguard: dict[str, Any], expected: str
) -> None:
    settings(client, safeguards={"unit_price": safeguard})
    price = client.get("/__admin/catalog/products/B0TESTPRCE").get_json()["business_price"]
    place(client, order_id="PO-PRCE", lines=[{"asin": "B0TESTPRCE", "quantity": 1, "price": price}])
    confirmation = of_type(delivered(client, buyer, dtds), "ConfirmationRequest")[0]
    header = confirmation.find(".//ConfirmationHeader")
    if expected == "order":
        assert header.get("type") == "reject"
        assert comment(header, "OrderErrorCode").startswith("001-020 Order cancelled by an order safeguard: line 1")
    elif expected == "line":
        assert statuses(confirmation) == {1: [("reject", "1")]}
        assert comment(confirmation.find(".//ConfirmationItem"), "LineItemErrorCode").startswith(
            "002-003 Unit price increased beyond the order safeguard"
        )
    else:
        assert statuses(confirmation) == {1: [("accept", "1")]}
        new_price = confirmation.find(".//ConfirmationStatus/UnitPrice/Money").text
        assert float(new_price) == pytest.approx(float(price) * 1.25, abs=0.011)


def test_split_product_ships_in_two_shipments(client: FlaskClient, buyer: Receiver, dtds: DtdRegistry) -> None:
    place(client, order_id="PO-SPLT", lines=[{"asin": "B0TESTSPLT", "quantity": 4}])
    notices = of_type(delivered(client, buyer, dtds), "ShipNoticeRequest")
    assert [[i.get("quantity") for i in n.iter("ShipNoticeItem")] for n in notices] == [["2"], ["2"]]
    ids = {n.find(".//ShipNoticeHeader").get("shipmentID") for n in notices}
    assert len(ids) == 2


def test_slow_product_and_the_delivery_days_safeguard(client: FlaskClient, buyer: Receiver, dtds: DtdRegistry) -> None:
    settings(client, safeguards={"delivery_days": {"max": 15}})
    place(client, order_id="PO-SLOW", lines=[{"asin": "B0TESTSLOW"}])
    confirmation = of_type(delivered(client, buyer, dtds), "ConfirmationRequest")[0]
    assert statuses(confirmation) == {1: [("reject", "1")]}
    assert comment(confirmation.find(".//ConfirmationItem"), "LineItemErrorCode") == (
        "002-005 Delivery time beyond the order safeguard: 21 days, more than 15"
    )


def test_out_of_stock(client: FlaskClient, buyer: Receiver, dtds: DtdRegistry) -> None:
    place(client, order_id="PO-OOST", lines=[{"asin": "B0TESTOOST", "quantity": 2}])
    confirmation = of_type(delivered(client, buyer, dtds), "ConfirmationRequest")[0]
    assert statuses(confirmation) == {1: [("reject", "2")]}
    assert comment(confirmation.find(".//ConfirmationItem"), "LineItemErrorCode").startswith("002-002 Out of stock")


def test_active_account_without_payment_method_is_rejected(
    client: FlaskClient, buyer: Receiver, dtds: DtdRegistry
) -> None:
    client.patch("/__admin/accounts/demo", json={"payment_method": None})
    assert place(client, order_id="PO-PAY")[0] == 200
    docs = delivered(client, buyer, dtds)
    assert [tag for tag, _, _ in docs] == ["ConfirmationRequest"]
    header = docs[0][1].find(".//ConfirmationHeader")
    assert header.get("type") == "reject"
    assert comment(header, "OrderErrorCode").startswith("001-010 Payment declined")
    emails = client.get("/__admin/emails").get_json()["items"]
    assert emails[0]["kind"] == "order_rejected" and emails[0]["to_address"] == "alice@buyer.test"
    assert "001-010 Payment declined" in emails[0]["body"]


def test_reject_synchronously(client: FlaskClient, buyer: Receiver, dtds: DtdRegistry) -> None:
    settings(client, reject_synchronously=True)
    code, text, message = place(client, order_id="PO-NOSHIP", ship_to=False)
    assert (code, text) == (400, "001-005 Bad Request")
    assert message == "001-005 Missing or invalid ShipTo address: the order has no ShipTo/Address"
    assert delivered(client, buyer, dtds) == []


def test_missing_ship_to_is_rejected_later(client: FlaskClient, buyer: Receiver, dtds: DtdRegistry) -> None:
    assert place(client, order_id="PO-NOSHIP", ship_to=False)[0] == 200
    header = of_type(delivered(client, buyer, dtds), "ConfirmationRequest")[0].find(".//ConfirmationHeader")
    assert header.get("type") == "reject"
    assert comment(header, "OrderErrorCode").startswith("001-005 Missing or invalid ShipTo address")


def test_order_changes_are_refused_unless_allowed(client: FlaskClient, buyer: Receiver, dtds: DtdRegistry) -> None:
    place(client, order_id="PO-CHG")
    assert place(client, order_id="PO-CHG", order_type="update", document_reference="PO-CHG.new@buyer.test")[0] == 200
    confirmations = of_type(delivered(client, buyer, dtds), "ConfirmationRequest")
    assert comment(confirmations[-1].find(".//ConfirmationHeader"), "OrderErrorCode").startswith("001-001")
    settings(client, allow_order_changes=True, timeline="manual")
    place(client, order_id="PO-CHG2")
    place(client, order_id="PO-CHG2", order_type="delete", document_reference="PO-CHG2.new@buyer.test")
    orders = {o["type"]: o for o in client.get("/__admin/orders?order_id=PO-CHG2").get_json()["items"]}
    assert orders["new"]["status"] == "cancelled"
    original = client.get(f"/__admin/orders/{orders['new']['id']}").get_json()
    assert {d["status"] for d in original["documents"]} == {"cancelled"}


def test_same_payload_is_idempotent_and_same_order_id_is_409(client: FlaskClient, buyer: Receiver) -> None:
    first = client.post("/orders", data=order_request(order_id="PO-DUP")).data
    again = client.post("/orders", data=order_request(order_id="PO-DUP")).data
    assert status_of(first) == status_of(again) == (200, "OK", "")
    assert client.get("/__admin/orders").get_json()["total"] == 1
    code, text, message = status_of(
        client.post("/orders", data=order_request(order_id="PO-DUP", payload_id="other@b")).data
    )
    assert (code, text) == (409, "Conflict")
    assert message.startswith("Order PO-DUP was already received with payloadID PO-DUP.new@buyer.test at ")
    assert client.get("/__admin/orders").get_json()["total"] == 1


def test_sync_status_201_sends_a_status_update(client: FlaskClient, buyer: Receiver, dtds: DtdRegistry) -> None:
    settings(client, sync_status=201)
    code, text, _ = place(client, order_id="PO-201")
    assert (code, text) == (201, "Accepted")
    docs = delivered(client, buyer, dtds)
    assert docs[0][0] == "StatusUpdateRequest"
    update = docs[0][1]
    assert update.find(".//DocumentReference").get("payloadID") == "PO-201.new@buyer.test"
    assert update.find(".//StatusUpdateRequest/Status").get("code") == "200"


def test_one_po_becomes_one_supplier_order_per_seller(
    client: FlaskClient, buyer: Receiver, dtds: DtdRegistry, app: Flask
) -> None:
    from simulator.db import connect

    conn = connect(app.config["SIMULATOR"].database_path)
    rows = conn.execute(
        "SELECT asin, sold_by FROM products WHERE stock > 5 AND test_behaviour IS NULL GROUP BY sold_by LIMIT 2"
    ).fetchall()
    conn.close()
    assert len(rows) == 2 and rows[0]["sold_by"] != rows[1]["sold_by"]
    place(client, order_id="PO-SPLIT-SELLERS", lines=[{"asin": r["asin"], "price": "0"} for r in rows])
    confirmations = of_type(delivered(client, buyer, dtds), "ConfirmationRequest")
    ids = [c.find(".//ConfirmationHeader").get("confirmID") for c in confirmations]
    assert len(confirmations) == 2 and len(set(ids)) == 2


def test_followup_url_overrides_the_buyer_endpoint(client: FlaskClient, buyer: Receiver, dtds: DtdRegistry) -> None:
    other = Receiver()
    try:
        place(client, order_id="PO-FOLLOW", followup_url=other.url.replace("/punchout/return", "/followup"))
        client.post("/__admin/outbox/flush")
        assert [p["path"] for p in other.posts] == ["/followup"] * 3
        assert [p for p in buyer.posts if p["content_type"].startswith("text/xml")] == []
    finally:
        other.stop()


def test_per_account_order_url(client: FlaskClient, buyer: Receiver) -> None:
    assert status_of(client.post("/orders/demo", data=order_request(order_id="PO-URL")).data)[0] == 200
    code, _, message = status_of(client.post("/orders/acct_other", data=order_request(order_id="PO-URL2")).data)
    assert code == 401
    assert message.startswith("This purchase-order URL belongs to the account 'acct_other'")


def test_orders_at_cxml_and_wrong_type_at_orders(client: FlaskClient, buyer: Receiver) -> None:
    assert status_of(client.post("/cxml", data=order_request(order_id="PO-CXML")).data)[0] == 200
    from .helpers import setup_request

    code, _, message = status_of(client.post("/orders", data=setup_request()).data)
    assert (code, message) == (450, "PunchOutSetupRequest is not served at /orders; this endpoint takes OrderRequest.")


def test_quoted_cart_lines_are_matched(client: FlaskClient, buyer: Receiver, dtds: DtdRegistry) -> None:
    from .helpers import setup_request

    client.post("/punchout", data=setup_request(buyer_cookie="q"))
    sid = client.get("/__admin/sessions?buyer_cookie=q").get_json()["items"][0]["id"]
    client.post(f"/__admin/sessions/{sid}/cart/items", json={"asin": "B0TESTSLOW", "quantity": 2})
    cart = etree.fromstring(client.post(f"/__admin/sessions/{sid}/checkout", json={}).get_json()["cxml"].encode())
    item = cart.find(".//ItemIn")
    aux = item.findtext("ItemID/SupplierPartAuxiliaryID")
    price = item.findtext("ItemDetail/UnitPrice/Money")
    place(
        client,
        order_id="PO-QUOTE",
        email=None,
        lines=[{"asin": "B0TESTSLOW", "aux": aux, "quantity": 2, "price": price}],
    )
    confirmation = of_type(delivered(client, buyer, dtds), "ConfirmationRequest")[0]
    assert confirmation.find(".//ConfirmationHeader").get("type") == "accept"
    order = client.get("/__admin/orders?order_id=PO-QUOTE").get_json()["items"][0]
    assert order["user_email"] == "alice@buyer.test"  # the punchout user of the quoted cart


def test_manual_timeline_waits_for_advance(client: FlaskClient, buyer: Receiver, dtds: DtdRegistry) -> None:
    settings(client, timeline="manual")
    place(client, order_id="PO-MANUAL")
    order_pk = client.get("/__admin/orders").get_json()["items"][0]["id"]
    pending = client.get("/__admin/outbox?status=pending").get_json()
    assert pending["total"] == 3
    advanced = client.post(f"/__admin/orders/{order_pk}/advance").get_json()
    assert (advanced["doc_type"], advanced["status"]) == ("ConfirmationRequest", "delivered")
    assert [p for p in buyer.posts if p["content_type"].startswith("text/xml")].__len__() == 1
    client.post(f"/__admin/orders/{order_pk}/advance")
    client.post(f"/__admin/orders/{order_pk}/advance")
    last = client.post(f"/__admin/orders/{order_pk}/advance")
    assert last.status_code == 409 and last.get_json()["error"] == "nothing_to_advance"


def test_amazon_day_holds_shipments_to_the_weekday(client: FlaskClient, buyer: Receiver) -> None:
    from datetime import datetime

    settings(client, amazon_day="wednesday", timeline="realistic")
    place(client, order_id="PO-ADAY", lines=[{"asin": "B0TESTSPLT", "quantity": 2}])
    notices = client.get("/__admin/outbox?type=ShipNoticeRequest").get_json()["items"]
    days = {datetime.fromisoformat(n["due_at"]).strftime("%A %H:%M") for n in notices}
    assert days == {"Wednesday 08:00"}


def test_realistic_timeline_follows_the_clock(client: FlaskClient, buyer: Receiver) -> None:
    settings(client, timeline="realistic")
    place(client, order_id="PO-REAL")
    due = {i["doc_type"]: i["due_at"] for i in client.get("/__admin/outbox").get_json()["items"]}
    now = client.get("/__admin/clock").get_json()["now"]
    assert now < due["ConfirmationRequest"] < due["ShipNoticeRequest"] < due["InvoiceDetailRequest"]
    moved = client.post("/__admin/clock/advance", json={"seconds": 3600}).get_json()
    assert moved["offset_seconds"] == 3600 and moved["now"] > due["InvoiceDetailRequest"]
    assert client.post("/__admin/clock/advance", json={"seconds": -1}).status_code == 400


def test_order_placed_email_lists_fulfilled_and_unfulfilled(client: FlaskClient, buyer: Receiver) -> None:
    place(client, order_id="PO-MAIL", lines=[{"asin": "B0TESTSLOW"}, {"asin": "B0TESTREJT"}])
    email = client.get("/__admin/emails").get_json()["items"][0]
    assert email["subject"] == "Your order PO-MAIL has been placed"
    assert "line 1: B0TESTSLOW × 1" in email["body"]
    assert "line 2: B0TESTREJT × 1: 002-001 Item unavailable" in email["body"]


def test_buyer_refusal_is_visible_and_resend_works(client: FlaskClient, buyer: Receiver, dtds: DtdRegistry) -> None:
    buyer.cxml_answer = (
        b'<?xml version="1.0"?><cXML payloadID="2@b" timestamp="2026-01-01T00:00:00+00:00">'
        b'<Response><Status code="400" text="Bad Request">unknown PO</Status></Response></cXML>'
    )
    place(client, order_id="PO-REFUSED")
    client.post("/__admin/outbox/flush")
    failed = client.get("/__admin/outbox?status=failed").get_json()["items"]
    assert failed and failed[0]["last_error"] == "The buyer refused the document: cXML 400 Bad Request: unknown PO"
    buyer.cxml_answer = Receiver.CXML_OK
    resent = client.post(f"/__admin/outbox/{failed[0]['id']}/resend").get_json()
    assert resent["status"] == "delivered"
    payloads = [parse_document(p["body"]).root.get("payloadID") for p in buyer.posts if p["body"].startswith(b"<?xml")]
    assert payloads.count(failed[0]["payload_id"]) == 2  # the same payloadID every time


def test_your_orders_page_shows_statuses_and_tracking(client: FlaskClient, buyer: Receiver) -> None:
    from urllib.parse import parse_qs, urlsplit

    from .helpers import setup_request, start_url

    body = client.post("/punchout", data=setup_request(email="alice@buyer.test")).data
    sid = parse_qs(urlsplit(client.get(urlsplit(start_url(body)).path).headers["Location"]).query)["sid"][0]
    assert b'data-testid="no-orders"' in client.get(f"/shop/orders?sid={sid}").data
    place(client, order_id="PO-MINE", lines=[{"asin": "B0TESTSLOW"}, {"asin": "B0TESTREJT"}])
    place(client, order_id="PO-OTHER", email="bob@buyer.test")
    page = client.get(f"/shop/orders?sid={sid}").get_data(as_text=True)
    assert 'data-order-id="PO-MINE"' in page and "PO-OTHER" not in page
    assert "1 not fulfilled: 002-001 Item unavailable" in page
    assert page.count('data-testid="tracking"') == 1


class SmtpReceiver:
    """A minimal SMTP server on loopback that keeps every message it is given."""

    def __init__(self) -> None:
        import socketserver
        import threading

        self.messages: list[str] = []
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 sim-test ESMTP\r\n")
                while line := self.rfile.readline():
                    command = line.decode().strip().upper()
                    if command.startswith("DATA"):
                        self.wfile.write(b"354 go ahead\r\n")
                        data = []
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data.append(chunk.decode())
                        outer.messages.append("".join(data))
                        self.wfile.write(b"250 queued\r\n")
                    elif command.startswith("QUIT"):
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 ok\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.url = f"smtp://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_emails_are_sent_to_the_smtp_server(config, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    from simulator import create_app

    smtp = SmtpReceiver()
    try:
        client = create_app(config.with_overrides(smtp_url=smtp.url)).test_client()
        client.patch("/__admin/accounts/demo", json={"buyer_endpoint": {"url": receiver.url}})
        place(client, order_id="PO-SMTP")
        email = client.get("/__admin/emails").get_json()["items"][0]
        assert email["smtp_status"] == "sent"
        assert len(smtp.messages) == 1 and "Subject: Your order PO-SMTP has been placed" in smtp.messages[0]
    finally:
        smtp.stop()


def test_running_server_delivers_on_the_clock(live_server, receiver: Receiver, dtds: DtdRegistry) -> None:  # type: ignore[no-untyped-def]
    """On a live server the dispatcher sends each document when the simulator's clock reaches it."""
    import time

    import requests

    base = live_server.url
    requests.patch(
        f"{base}/__admin/accounts/demo",
        json={"status": "active", "payment_method": {"type": "invoice"}, "buyer_endpoint": {"url": receiver.url}},
        timeout=10,
    ).raise_for_status()
    price = requests.get(f"{base}/__admin/catalog/products/B0TESTSPLT", timeout=10).json()["business_price"]
    answer = requests.post(
        f"{base}/orders",
        data=order_request(order_id="PO-LIVE", lines=[{"asin": "B0TESTSPLT", "quantity": 2, "price": price}]),
        timeout=10,
    )
    assert status_of(answer.content) == (200, "OK", "")

    def received() -> list[str]:
        return [
            parse_document(p["body"]).root.find("Request")[0].tag
            for p in receiver.posts
            if p["body"].startswith(b"<?xml")
        ]

    def wait_for(count: int) -> list[str]:
        deadline = time.monotonic() + 10
        while len(received()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return received()

    time.sleep(0.5)
    assert received() == []  # the confirmation is due two minutes after the order
    requests.post(f"{base}/__admin/clock/advance", json={"seconds": 130}, timeout=10)
    assert wait_for(1) == ["ConfirmationRequest"]
    requests.post(f"{base}/__admin/clock/advance", json={"seconds": 3600}, timeout=10)
    assert wait_for(4) == ["ConfirmationRequest", "ShipNoticeRequest", "ShipNoticeRequest", "InvoiceDetailRequest"]
    for post in receiver.posts:
        if post["body"].startswith(b"<?xml"):
            assert_valid(post["body"], dtds)


def test_pcard_numbers_are_masked_in_the_journal(client: FlaskClient, buyer: Receiver) -> None:
    body = order_request(order_id="PO-CARD").replace(
        b"</BillTo>",
        b'</BillTo><Payment><PCard number="4111111111111111" expiration="2030-12-31"/></Payment>',
    )
    assert status_of(client.post("/orders", data=body).data)[0] == 200
    entry = client.get("/__admin/journal?type=OrderRequest&direction=in").get_json()["items"][0]
    raw = client.get(f"/__admin/journal/{entry['id']}").get_json()["body"]
    assert 'number="************1111"' in raw and "4111111111111111" not in raw
    order = client.get("/__admin/orders?order_id=PO-CARD").get_json()["items"][0]
    assert order["payment"]["number"] == "************1111"


def _racing(app: Any, monkeypatch: pytest.MonkeyPatch, bodies: list[bytes]) -> list[bytes]:
    """Post ``bodies`` from two threads at once, both past the checks before the first transaction
    (the planning between them waits at a barrier), as two workers serving at the same moment."""
    import threading

    from simulator.orders import service

    barrier = threading.Barrier(len(bodies), timeout=10)
    plan = service._plan

    def plan_together(*args: Any, **kwargs: Any) -> Any:
        barrier.wait()
        return plan(*args, **kwargs)

    monkeypatch.setattr(service, "_plan", plan_together)
    answers: list[bytes] = [b""] * len(bodies)

    def post(i: int) -> None:
        answers[i] = app.test_client().post("/orders", data=bodies[i], content_type="text/xml").data

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    return answers


def test_a_retry_racing_its_first_try_gets_the_same_answer(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    body = order_request(order_id="PO-RACE", payload_id="race@buyer.test")
    first, second = _racing(app, monkeypatch, [body, body])
    assert status_of(first) == status_of(second) == (200, "OK", "")
    assert first == second  # the stored answer, byte for byte
    client = app.test_client()
    assert client.get("/__admin/orders?order_id=PO-RACE").get_json()["total"] == 1
    entries = client.get("/__admin/journal?type=OrderRequest&limit=10").get_json()["items"]
    assert len(entries) == 2
    replayed = [e for e in entries if "payloadID race@buyer.test was received before" in " ".join(e["advisories"])]
    assert len(replayed) == 1


def test_the_same_order_id_racing_is_taken_once(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = _racing(
        app,
        monkeypatch,
        [order_request(order_id="PO-TWICE", payload_id=f"twice-{n}@buyer.test") for n in (1, 2)],
    )
    codes = sorted(status_of(a)[:2] for a in answers)
    assert codes == [(200, "OK"), (409, "Conflict")]
    assert app.test_client().get("/__admin/orders?order_id=PO-TWICE").get_json()["total"] == 1


def test_a_line_plans_replace_is_dataclasses_replace() -> None:
    """outcomes.replace copies the fields' dict instead of running the frozen __init__: the same plan."""
    import dataclasses
    from decimal import Decimal

    from simulator.orders import codes
    from simulator.orders.outcomes import LinePlan, replace

    plan = LinePlan(3, "B0TESTSLOW", 4, "EA", seller="Seller Co")
    changes: dict[str, Any] = {
        "accepted": 2,
        "rejected": 2,
        "reject": codes.QUANTITY_NOT_AVAILABLE,
        "reject_detail": "2 of 4 available",
        "unit_price": Decimal("9.99"),
        "shipments": (1, 1),
    }
    copied = replace(plan, **changes)
    assert copied == dataclasses.replace(plan, **changes)
    assert type(copied) is LinePlan and copied.reject_message == dataclasses.replace(plan, **changes).reject_message
    assert plan.accepted == 0  # the original is untouched
    with pytest.raises(dataclasses.FrozenInstanceError):
        copied.accepted = 1  # type: ignore[misc]
    with pytest.raises(TypeError, match="LinePlan has no field acceptd"):
        replace(plan, acceptd=1)
