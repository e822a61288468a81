"""The documents Amazon sends after an order: valid for every supported version, and right in content."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from lxml import etree

from simulator.cxml import fulfil
from simulator.cxml.fulfil import (
    ConfirmationItem,
    ConfirmationRequest,
    ConfirmationStatus,
    InvoiceDetailRequest,
    InvoiceLine,
    OrderReference,
    ShipNoticeItem,
    ShipNoticeRequest,
)
from simulator.cxml.parse import parse_document
from simulator.cxml.types import Credential, Envelope, Money, Tax
from simulator.cxml.validate import DtdRegistry

from .helpers import assert_valid

VERSIONS = ("1.2.014", "1.2.024", "1.2.036", "1.2.050", "1.2.063", "1.2.069")
CONFIRM_ID = "114-3941689-8772232"
PO = OrderReference("PO-2026-0042", "2026-11-26T10:00:00-08:00", "1764180000000.4242.abcdef@buyer.test")
NOTICE = "2026-11-26T18:05:00+00:00"


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def sales_tax(taxable: str, state: str = "CA", currency: str = "USD") -> Tax:
    rate = fulfil.sales_tax_rate(state)
    base = Decimal(taxable)
    return Tax(Money(cents(base * rate / 100), currency), f"Sales tax {state}", "sales", rate, Money(base, currency))


def envelope(version: str = "1.2.069", lang: str = "en-US") -> Envelope:
    amazon = Credential("NetworkId", "Amazon")
    return Envelope(
        payload_id="1764180300123.77.5f3c9e2a@amazon.com",
        timestamp="2026-11-26T18:05:00.123+00:00",
        version=version,
        lang=lang,
        from_=(Credential("DUNS", "128990368"), amazon),
        to=(Credential("NetworkId", "DEMO-BUYER"),),
        sender=(Credential("DUNS", "128990368"), Credential("NetworkId", "Amazon", "s3cret-for-buyer")),
        user_agent="Amazon LLC eProcurement Application",
    )


def root_of(xml: bytes) -> etree._Element:
    return parse_document(xml).root


def comments(element: etree._Element) -> list[tuple[str | None, str]]:
    return [(c.get("type"), c.text or "") for c in element.findall("Comments")]


# --- documents -------------------------------------------------------------------------------


def accepted() -> ConfirmationRequest:
    return ConfirmationRequest(
        confirm_id=CONFIRM_ID,
        type="accept",
        notice_date=NOTICE,
        order=PO,
        items=(
            ConfirmationItem(1, 2, "EA", (ConfirmationStatus(2, "accept"),), sales_tax("25.98"), usd("0.00")),
            ConfirmationItem(2, 1, "PK", (ConfirmationStatus(1, "accept"),), sales_tax("13.49"), usd("4.99")),
        ),
        total=usd("34.48"),
        shipping=usd("4.99"),
        tax=sales_tax("39.47"),
        comments=(("confirmID", CONFIRM_ID),),
    )


def rejected() -> ConfirmationRequest:
    return ConfirmationRequest(
        confirm_id=CONFIRM_ID,
        type="reject",
        notice_date=NOTICE,
        order=PO,
        comments=(("OrderErrorCode", "001-005 Missing or invalid ShipTo address"),),
    )


def detailed() -> ConfirmationRequest:
    """Line 1 repriced, line 2 partial (2 accepted, 3 backordered), line 3 rejected."""
    return ConfirmationRequest(
        confirm_id=CONFIRM_ID,
        type="detail",
        notice_date=NOTICE,
        order=PO,
        items=(
            ConfirmationItem(
                1,
                2,
                "EA",
                (ConfirmationStatus(2, "accept", unit_price=usd("13.99"), shipment_date="2026-11-27T12:00:00+00:00"),),
                sales_tax("27.98"),
                usd("0.00"),
            ),
            ConfirmationItem(
                2,
                5,
                "BX",
                (
                    ConfirmationStatus(2, "accept", delivery_date="2026-11-29T20:00:00+00:00"),
                    ConfirmationStatus(3, "backordered", delivery_date="2026-12-12T20:00:00+00:00"),
                ),
                sales_tax("49.95"),
                usd("0.00"),
            ),
            ConfirmationItem(
                3,
                1,
                "EA",
                (ConfirmationStatus(1, "reject", comments=(("LineItemErrorCode", "002-001 Item out of stock"),)),),
            ),
        ),
        total=usd("77.93"),
        shipping=usd("0.00"),
        tax=sales_tax("77.93"),
    )


def shipped() -> ShipNoticeRequest:
    return ShipNoticeRequest(
        shipment_id="2417735092841",
        notice_date=NOTICE,
        shipment_date="2026-11-27T09:30:00+00:00",
        delivery_date="2026-11-29T20:00:00+00:00",
        carrier="UPS",
        tracking_number="1Z7A95E60312345675",
        tracking_url="https://www.ups.com/track?loc=en_US&tracknum=1Z7A95E60312345675",
        fulfillment_type="partial",
        order=PO,
        items=(ShipNoticeItem(1, 2, "EA", "B0TESTBACK"), ShipNoticeItem(2, 2, "BX", "B0TESTPART")),
        confirm_id=CONFIRM_ID,
    )


def invoiced(*, line_shipping: bool = False) -> InvoiceDetailRequest:
    pens = InvoiceLine(
        invoice_line_number=1,
        line_number=1,
        quantity=3,
        unit_of_measure="EA",
        unit_price=usd("12.99"),
        supplier_part_id="B0TESTBACK",
        supplier_part_auxiliary_id="114-3941689-8772232,1",
        description="Ballpoint Pens, Blue, 12",
        tax=sales_tax("38.97"),
        shipping=usd("0.00") if line_shipping else None,
    )
    notes = InvoiceLine(
        invoice_line_number=2,
        line_number=4,
        quantity=2,
        unit_of_measure="PK",
        unit_price=usd("7.45"),
        supplier_part_id="B0TESTPART",
        supplier_part_auxiliary_id=None,
        description="Sticky Notes, 3 x 3 in",
        tax=sales_tax("19.89"),
        shipping=usd("4.99") if line_shipping else None,
    )
    return InvoiceDetailRequest(
        invoice_id="INV-114-3941689-8772232",
        invoice_date="2026-12-01T08:00:00+00:00",
        order=PO,
        lines=(pens, notes),
        shipping=usd("4.99"),
        confirm_id=CONFIRM_ID,
    )


BUILDERS: dict[str, Callable[[Envelope, bool], bytes]] = {
    "accept": lambda env, test: fulfil.confirmation_request(env, accepted(), test=test),
    "reject": lambda env, test: fulfil.confirmation_request(env, rejected(), test=test),
    "detail": lambda env, test: fulfil.confirmation_request(env, detailed(), test=test),
    "ship_notice": lambda env, test: fulfil.ship_notice_request(env, shipped(), test=test),
    "invoice": lambda env, test: fulfil.invoice_detail_request(env, invoiced(), test=test),
    "invoice_line_shipping": lambda env, test: fulfil.invoice_detail_request(
        env, invoiced(line_shipping=True), test=test
    ),
    "status_update": lambda env, test: fulfil.status_update_request(
        env, document_payload_id=PO.payload_id, code=200, text="OK", message="Order forwarded", test=test
    ),
}
DTD_NAMES = {"invoice": "InvoiceDetail", "invoice_line_shipping": "InvoiceDetail", "status_update": "cXML"}


# --- validity --------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_every_document_validates_for_every_version(kind: str, version: str, dtds: DtdRegistry) -> None:
    xml = BUILDERS[kind](envelope(version), False)
    assert_valid(xml, dtds)
    document = parse_document(xml)
    assert (document.dtd_name, document.dtd_version) == (DTD_NAMES.get(kind, "Fulfill"), version)
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<!DOCTYPE cXML SYSTEM \"http://xml.cxml.org")


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_test_mode_is_marked_and_production_is_not(kind: str, dtds: DtdRegistry) -> None:
    test_doc = BUILDERS[kind](envelope(), True)
    assert_valid(test_doc, dtds)
    assert root_of(test_doc).find("Request").get("deploymentMode") == "test"
    assert "deploymentMode" not in root_of(BUILDERS[kind](envelope(), False)).find("Request").attrib


def test_german_vat_invoice_validates(dtds: DtdRegistry) -> None:
    def vat(taxable: str) -> Tax:
        base = Decimal(taxable)
        return Tax(
            Money(cents(base * 19 / 100), "EUR"), "Umsatzsteuer 19 %", "vat", Decimal("19.00"), Money(base, "EUR")
        )

    doc = InvoiceDetailRequest(
        invoice_id="DE-INV-1",
        invoice_date="2026-12-01T08:00:00+01:00",
        order=PO,
        lines=(
            InvoiceLine(
                1, 1, 4, "C62", Money(Decimal("2.35"), "EUR"), "B0TESTBACK", None, "Kugelschreiber", vat("9.40")
            ),
        ),
        shipping=Money(Decimal("0.00"), "EUR"),
        lang="de-DE",
    )
    for version in VERSIONS:
        xml = fulfil.invoice_detail_request(envelope(version, "de-DE"), doc)
        assert_valid(xml, dtds)
    detail = root_of(xml).find(".//InvoiceDetailSummary/Tax/TaxDetail")
    assert detail.attrib == {"category": "vat", "percentageRate": "19.00", "purpose": "subtotalTax"}
    assert root_of(xml).findtext(".//InvoiceDetailSummary/DueAmount/Money") == "11.19"


# --- envelope --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_header_carries_amazon_credentials_and_the_secret_only_in_sender(kind: str) -> None:
    root = root_of(BUILDERS[kind](envelope(), False))
    assert root.get("payloadID") == "1764180300123.77.5f3c9e2a@amazon.com"
    assert root.get("version") == "1.2.069"
    header = root.find("Header")
    ids = {
        part: [(c.get("domain"), c.findtext("Identity")) for c in header.findall(f"{part}/Credential")]
        for part in ("From", "To", "Sender")
    }
    assert ids == {
        "From": [("DUNS", "128990368"), ("NetworkId", "Amazon")],
        "To": [("NetworkId", "DEMO-BUYER")],
        "Sender": [("DUNS", "128990368"), ("NetworkId", "Amazon")],
    }
    assert [s.text for s in header.iter("SharedSecret")] == ["s3cret-for-buyer"]
    assert header.find("Sender/Credential[2]/SharedSecret") is not None
    assert header.findtext("Sender/UserAgent") == "Amazon LLC eProcurement Application"


# --- ConfirmationRequest ---------------------------------------------------------------------


def test_accept_confirms_the_order_with_amazon_order_number_and_per_line_money() -> None:
    root = root_of(fulfil.confirmation_request(envelope(), accepted()))
    request = root.find("Request/ConfirmationRequest")
    header = request.find("ConfirmationHeader")
    assert header.attrib == {"confirmID": CONFIRM_ID, "operation": "new", "type": "accept", "noticeDate": NOTICE}
    assert [child.tag for child in header] == ["Total", "Shipping", "Tax", "Comments"]
    assert header.findtext("Total/Money") == "34.48"
    assert header.find("Total/Money").get("currency") == "USD"
    assert header.findtext("Shipping/Description") == "Cost of shipping, not including shipping tax"
    assert header.findtext("Tax/Money") == "3.49"  # 39.47 × 8.85 % = 3.493…
    assert comments(header) == [("confirmID", CONFIRM_ID)]
    reference = request.find("OrderReference")
    assert (reference.get("orderID"), reference.get("orderDate")) == (PO.order_id, PO.order_date)
    assert reference.find("DocumentReference").get("payloadID") == PO.payload_id
    items = request.findall("ConfirmationItem")
    assert [(i.get("lineNumber"), i.get("quantity"), i.findtext("UnitOfMeasure")) for i in items] == [
        ("1", "2", "EA"),
        ("2", "1", "PK"),
    ]
    status = items[1].find("ConfirmationStatus")
    assert (status.get("quantity"), status.get("type")) == ("1", "accept")
    assert [child.tag for child in status] == ["UnitOfMeasure", "Tax", "Shipping", "Comments"]
    assert status.findtext("Tax/Money") == "1.19"  # 13.49 × 8.85 % = 1.1939
    assert status.find("Tax/TaxDetail").get("percentageRate") == "8.85"
    assert status.findtext("Shipping/Money") == "4.99"
    assert comments(status) == [("confirmID", CONFIRM_ID)]


def test_whole_order_reject_carries_the_order_error_code() -> None:
    root = root_of(fulfil.confirmation_request(envelope(), rejected()))
    header = root.find(".//ConfirmationHeader")
    assert header.get("type") == "reject"
    assert comments(header) == [("OrderErrorCode", "001-005 Missing or invalid ShipTo address")]
    assert root.findall(".//ConfirmationItem") == []
    assert root.find(".//OrderReference/DocumentReference").get("payloadID") == PO.payload_id


def test_detail_reprices_splits_backorders_and_rejects_lines() -> None:
    root = root_of(fulfil.confirmation_request(envelope(), detailed()))
    assert root.find(".//ConfirmationHeader").get("type") == "detail"
    line1, line2, line3 = root.findall(".//ConfirmationItem")

    (repriced,) = line1.findall("ConfirmationStatus")
    assert repriced.attrib == {"quantity": "2", "type": "accept", "shipmentDate": "2026-11-27T12:00:00+00:00"}
    assert [child.tag for child in repriced] == ["UnitOfMeasure", "UnitPrice", "Tax", "Shipping", "Comments"]
    assert repriced.findtext("UnitPrice/Money") == "13.99"

    assert line2.get("quantity") == "5"
    split = line2.findall("ConfirmationStatus")
    assert [(s.get("quantity"), s.get("type"), s.get("deliveryDate")) for s in split] == [
        ("2", "accept", "2026-11-29T20:00:00+00:00"),
        ("3", "backordered", "2026-12-12T20:00:00+00:00"),
    ]
    assert sum(int(s.get("quantity")) for s in split) == 5
    # the line's tax and shipping are stated once, with the first status that is kept
    assert [s.find("Tax") is not None for s in split] == [True, False]
    assert split[0].findtext("Tax/Money") == "4.42"  # 49.95 × 8.85 % = 4.4206

    (reject,) = line3.findall("ConfirmationStatus")
    assert (reject.get("quantity"), reject.get("type")) == ("1", "reject")
    assert comments(reject) == [("LineItemErrorCode", "002-001 Item out of stock"), ("confirmID", CONFIRM_ID)]
    assert reject.find("Tax") is None


def test_before_typed_comments_the_comments_fold_into_one() -> None:
    root = root_of(fulfil.confirmation_request(envelope("1.2.014"), detailed()))
    reject = root.findall(".//ConfirmationItem")[2].find("ConfirmationStatus")
    assert comments(reject) == [(None, f"LineItemErrorCode: 002-001 Item out of stock\nconfirmID: {CONFIRM_ID}")]
    header = root_of(fulfil.confirmation_request(envelope("1.2.020"), rejected())).find(".//ConfirmationHeader")
    assert comments(header) == [(None, "OrderErrorCode: 001-005 Missing or invalid ShipTo address")]
    typed = root_of(fulfil.confirmation_request(envelope("1.2.024"), rejected())).find(".//ConfirmationHeader")
    assert comments(typed) == [("OrderErrorCode", "001-005 Missing or invalid ShipTo address")]


def test_invoice_id_goes_on_the_confirmation_header() -> None:
    doc = ConfirmationRequest(CONFIRM_ID, "accept", NOTICE, PO, invoice_id="INV-7")
    header = root_of(fulfil.confirmation_request(envelope(), doc)).find(".//ConfirmationHeader")
    assert header.get("invoiceID") == "INV-7"


def one_line(quantity: int, *statuses: ConfirmationStatus) -> ConfirmationRequest:
    return ConfirmationRequest(CONFIRM_ID, "detail", NOTICE, PO, (ConfirmationItem(7, quantity, "EA", statuses),))


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (ConfirmationRequest(CONFIRM_ID, "maybe", NOTICE, PO), "unknown ConfirmationHeader type 'maybe'"),
        (one_line(5, ConfirmationStatus(4, "accept")), "line 7: statuses cover 4 of 5 ordered"),
        (one_line(1), "line 7: a ConfirmationItem needs at least one ConfirmationStatus"),
        (one_line(1, ConfirmationStatus(1, "shipped")), "line 7: unknown ConfirmationStatus type 'shipped'"),
    ],
)
def test_inconsistent_confirmations_are_refused(doc: ConfirmationRequest, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        fulfil.confirmation_request(envelope(), doc)


def test_versions_older_than_supported_are_refused() -> None:
    with pytest.raises(ValueError, match=re.escape("cXML 1.2.013 is older than the oldest supported version 1.2.014")):
        fulfil.confirmation_request(envelope("1.2.013"), accepted())


# --- ShipNoticeRequest -----------------------------------------------------------------------


def test_ship_notice_names_carrier_tracking_order_and_lines() -> None:
    root = root_of(fulfil.ship_notice_request(envelope(), shipped()))
    request = root.find("Request/ShipNoticeRequest")
    assert [child.tag for child in request] == ["ShipNoticeHeader", "ShipControl", "ShipNoticePortion"]
    header = request.find("ShipNoticeHeader")
    assert re.fullmatch(r"\d{13}", header.get("shipmentID"))
    assert header.attrib == {
        "shipmentID": "2417735092841",
        "operation": "new",
        "noticeDate": NOTICE,
        "shipmentDate": "2026-11-27T09:30:00+00:00",
        "deliveryDate": "2026-11-29T20:00:00+00:00",
        "shipmentType": "actual",
        "fulfillmentType": "partial",
    }
    assert comments(header) == [("confirmID", CONFIRM_ID)]
    control = request.find("ShipControl")
    carrier = control.find("CarrierIdentifier")
    assert (carrier.get("domain"), carrier.text) == ("companyName", "UPS")
    identifier = control.find("ShipmentIdentifier")
    assert identifier.text == "1Z7A95E60312345675"
    assert identifier.get("trackingURL") == "https://www.ups.com/track?loc=en_US&tracknum=1Z7A95E60312345675"
    assert control.find("PackageIdentification").attrib == {"rangeBegin": "1", "rangeEnd": "1"}
    portion = request.find("ShipNoticePortion")
    assert portion.find("OrderReference").get("orderID") == PO.order_id
    assert portion.find("OrderReference/DocumentReference").get("payloadID") == PO.payload_id
    items = portion.findall("ShipNoticeItem")
    assert [(i.get("lineNumber"), i.get("quantity"), i.findtext("UnitOfMeasure")) for i in items] == [
        ("1", "2", "EA"),
        ("2", "2", "BX"),
    ]
    assert [i.findtext("ItemID/SupplierPartID") for i in items] == ["B0TESTBACK", "B0TESTPART"]


@pytest.mark.parametrize(
    ("version", "tracking_url", "fulfillment_type", "item_id", "shipment_type"),
    [
        ("1.2.014", False, False, False, False),
        ("1.2.024", False, False, False, True),
        ("1.2.036", True, False, False, True),
        ("1.2.050", True, True, True, True),
        ("1.2.069", True, True, True, True),
    ],
)
def test_ship_notice_features_follow_the_version(
    version: str, tracking_url: bool, fulfillment_type: bool, item_id: bool, shipment_type: bool
) -> None:
    doc = replace(shipped(), fulfillment_type="complete")
    header = root_of(fulfil.ship_notice_request(envelope(version), doc)).find(".//ShipNoticeHeader")
    root = header.getparent()
    assert ("trackingURL" in root.find("ShipControl/ShipmentIdentifier").attrib) is tracking_url
    assert (header.get("fulfillmentType") == "complete") is fulfillment_type
    assert (root.find(".//ShipNoticeItem/ItemID") is not None) is item_id
    assert (header.get("shipmentType") == "actual") is shipment_type
    # the ShipmentIdentifier itself is in every version, and without the attribute the URL is a comment
    assert root.findtext("ShipControl/ShipmentIdentifier") == doc.tracking_number
    text = " ".join(t for _, t in comments(header))
    assert (doc.tracking_url in text) is not tracking_url
    assert CONFIRM_ID in text


def test_ship_notice_refuses_an_unknown_fulfillment_type() -> None:
    with pytest.raises(ValueError, match="fulfillmentType must be partial or complete, not 'all'"):
        fulfil.ship_notice_request(envelope(), replace(shipped(), fulfillment_type="all"))


# --- InvoiceDetailRequest --------------------------------------------------------------------


def money_of(element: etree._Element, path: str) -> Decimal:
    return Decimal(element.findtext(f"{path}/Money"))


def test_invoice_references_po_lines_and_adds_up() -> None:
    root = root_of(fulfil.invoice_detail_request(envelope(), invoiced()))
    request = root.find("Request/InvoiceDetailRequest")
    header = request.find("InvoiceDetailRequestHeader")
    assert header.attrib == {
        "invoiceID": "INV-114-3941689-8772232",
        "purpose": "standard",
        "operation": "new",
        "invoiceDate": "2026-12-01T08:00:00+00:00",
    }
    assert [child.tag for child in header] == [
        "InvoiceDetailHeaderIndicator",
        "InvoiceDetailLineIndicator",
        "PaymentTerm",
    ]
    assert header.find("InvoiceDetailLineIndicator").attrib == {"isTaxInLine": "yes"}
    assert header.find("PaymentTerm").get("payInNumberOfDays") == "30"

    info = request.find("InvoiceDetailOrder/InvoiceDetailOrderInfo")
    assert info.find("OrderReference").get("orderID") == PO.order_id
    assert info.find("OrderReference/DocumentReference").get("payloadID") == PO.payload_id
    assert info.find("SupplierOrderInfo").get("orderID") == CONFIRM_ID

    items = request.findall("InvoiceDetailOrder/InvoiceDetailItem")
    assert [(i.get("invoiceLineNumber"), i.get("quantity"), i.findtext("UnitOfMeasure")) for i in items] == [
        ("1", "3", "EA"),
        ("2", "2", "PK"),
    ]
    references = [i.find("InvoiceDetailItemReference") for i in items]
    assert [r.get("lineNumber") for r in references] == ["1", "4"]
    assert [r.findtext("ItemID/SupplierPartID") for r in references] == ["B0TESTBACK", "B0TESTPART"]
    assert [r.findtext("ItemID/SupplierPartAuxiliaryID") for r in references] == ["114-3941689-8772232,1", None]
    assert references[0].findtext("Description") == "Ballpoint Pens, Blue, 12"
    assert [money_of(i, "UnitPrice") for i in items] == [Decimal("12.99"), Decimal("7.45")]
    assert [money_of(i, "SubtotalAmount") for i in items] == [Decimal("38.97"), Decimal("14.90")]
    assert [money_of(i, "Tax") for i in items] == [Decimal("3.45"), Decimal("1.76")]  # 3.4488…, 1.7602…
    assert items[0].find("Tax/TaxDetail").get("category") == "sales"

    summary = request.find("InvoiceDetailSummary")
    assert [child.tag for child in summary] == [
        "SubtotalAmount",
        "Tax",
        "ShippingAmount",
        "GrossAmount",
        "NetAmount",
        "DueAmount",
    ]
    subtotal, tax, shipping = (money_of(summary, p) for p in ("SubtotalAmount", "Tax", "ShippingAmount"))
    assert subtotal == sum(money_of(i, "SubtotalAmount") for i in items) == Decimal("53.87")
    assert tax == sum(money_of(i, "Tax") for i in items) == Decimal("5.21")
    assert shipping == Decimal("4.99")
    gross = money_of(summary, "GrossAmount")
    assert gross == subtotal + tax + shipping == Decimal("64.07")
    assert money_of(summary, "NetAmount") == money_of(summary, "DueAmount") == gross
    detail = summary.find("Tax/TaxDetail")
    assert (detail.get("percentageRate"), money_of(detail, "TaxableAmount"), money_of(detail, "TaxAmount")) == (
        "8.85",
        Decimal("58.86"),
        Decimal("5.21"),
    )


def test_line_shipping_is_stated_per_line_and_flagged() -> None:
    root = root_of(fulfil.invoice_detail_request(envelope(), invoiced(line_shipping=True)))
    indicator = root.find(".//InvoiceDetailLineIndicator")
    assert indicator.attrib == {"isTaxInLine": "yes", "isShippingInLine": "yes"}
    shipping = [i.find("InvoiceDetailLineShipping") for i in root.iter("InvoiceDetailItem")]
    assert [s.findtext("Money") for s in shipping] == ["0.00", "4.99"]
    assert [c.get("role") for c in shipping[1].findall("InvoiceDetailShipping/Contact")] == ["shipFrom", "shipTo"]
    assert root.findtext(".//InvoiceDetailSummary/ShippingAmount/Money") == "4.99"


def test_summary_tax_keeps_one_detail_per_rate() -> None:
    doc = invoiced()
    ny = InvoiceLine(3, 5, 1, "EA", usd("10.00"), "B0TESTSLOW", None, "Stapler", sales_tax("10.00", "NY"))
    root = root_of(fulfil.invoice_detail_request(envelope(), replace(doc, lines=(*doc.lines, ny))))
    tax = root.find(".//InvoiceDetailSummary/Tax")
    assert [d.get("percentageRate") for d in tax.findall("TaxDetail")] == ["8.85", "8.53"]
    assert tax.findtext("Description") == "Total tax"
    assert money_of(root.find(".//InvoiceDetailSummary"), "Tax") == Decimal("5.21") + Decimal("0.85")


def test_half_cents_round_up_everywhere_so_shown_amounts_add_up() -> None:
    line = InvoiceLine(
        1,
        1,
        2,
        "EA",
        usd("2.345"),
        "B0TESTPRCE",
        None,
        "Tape",
        Tax(usd("0.125"), "Tax", "sales", Decimal("2.6"), usd("4.70")),
    )
    root = root_of(
        fulfil.invoice_detail_request(envelope(), InvoiceDetailRequest("I-1", NOTICE, PO, (line,), usd("0")))
    )
    item = root.find(".//InvoiceDetailItem")
    # str(Money) alone would round half to even: 2.34 and 0.12
    assert (money_of(item, "UnitPrice"), money_of(item, "SubtotalAmount")) == (Decimal("2.35"), Decimal("4.70"))
    assert money_of(item, "Tax") == money_of(root.find(".//InvoiceDetailSummary"), "Tax") == Decimal("0.13")
    assert money_of(root.find(".//InvoiceDetailSummary"), "DueAmount") == Decimal("4.83")


def test_inconsistent_invoices_are_refused() -> None:
    doc = invoiced(line_shipping=True)
    with pytest.raises(ValueError, match=re.escape("line shipping adds up to 4.99, the invoice's shipping is 9.98")):
        fulfil.invoice_detail_request(envelope(), replace(doc, shipping=usd("9.98")))
    with pytest.raises(ValueError, match="all amounts of an invoice must be in EUR"):
        fulfil.invoice_detail_request(envelope(), replace(doc, shipping=Money(Decimal("4.99"), "EUR")))
    with pytest.raises(ValueError, match="an invoice needs at least one line"):
        fulfil.invoice_detail_request(envelope(), replace(doc, lines=()))


# --- StatusUpdateRequest ---------------------------------------------------------------------


def test_status_update_references_the_document() -> None:
    xml = fulfil.status_update_request(
        envelope(), document_payload_id=PO.payload_id, code=201, text="Accepted", message="Confirmation follows"
    )
    update = root_of(xml).find("Request/StatusUpdateRequest")
    assert update.find("DocumentReference").get("payloadID") == PO.payload_id
    status = update.find("Status")
    assert (status.get("code"), status.get("text"), status.text) == ("201", "Accepted", "Confirmation follows")
    bare = fulfil.status_update_request(envelope(), document_payload_id="x", code=200, text="OK")
    assert root_of(bare).find(".//Status").text is None


# --- numbers ---------------------------------------------------------------------------------


def test_amazon_order_numbers_are_3_7_7_digits_and_repeatable() -> None:
    numbers = [fulfil.amazon_order_number(random.Random(seed)) for seed in range(200)]
    assert all(re.fullmatch(r"[1-9]\d{2}-\d{7}-\d{7}", n) for n in numbers)
    assert all(100 <= int(n[:3]) <= 999 for n in numbers)
    assert len(set(numbers)) == 200
    assert fulfil.amazon_order_number(random.Random(7)) == fulfil.amazon_order_number(random.Random(7))


def test_shipment_ids_are_13_digits() -> None:
    rng = random.Random(3)
    assert all(re.fullmatch(r"[1-9]\d{12}", fulfil.shipment_id(rng)) for _ in range(200))


@pytest.mark.parametrize(
    ("carrier", "pattern", "url"),
    [
        ("UPS", r"1Z[0-9A-Z]{16}", "https://www.ups.com/track?loc=en_US&tracknum="),
        ("USPS", r"9400111\d{15}", "https://tools.usps.com/go/TrackConfirmAction?tLabels="),
        ("Amazon Logistics", r"TBA\d{12}", "https://track.amazon.com/tracking/"),
        ("DHL", r"\d{10}", "https://www.dhl.com/de-de/home/tracking/tracking-express.html?submit=1&tracking-id="),
        ("FedEx", r"\d{12}", "https://www.fedex.com/fedextrack/?trknbr="),
    ],
)
def test_tracking_numbers_and_urls_per_carrier(carrier: str, pattern: str, url: str) -> None:
    rng = random.Random(11)
    for _ in range(50):
        number, link = fulfil.tracking(carrier, rng)
        assert re.fullmatch(pattern, number), number
        assert link == url + number
    assert fulfil.tracking(carrier.lower(), random.Random(1)) == fulfil.tracking(carrier, random.Random(1))


def test_tracking_numbers_carry_their_check_digits(samples: Path) -> None:
    rng = random.Random(5)
    for _ in range(50):
        ups, _ = fulfil.tracking("UPS", rng)
        assert fulfil.ups_check_digit(ups[2:17]) == ups[17]
        usps, _ = fulfil.tracking("USPS", rng)
        assert fulfil.gs1_check_digit(usps[:-1]) == usps[-1]
        dhl, _ = fulfil.tracking("DHL", rng)
        assert int(dhl[:9]) % 7 == int(dhl[9])
    # the check digit agrees with a real UPS number from Amazon's own ship notice
    real = root_of((samples / "ship_notice_request" / "amazon-sdi-1.xml").read_bytes()).findtext(
        ".//ShipmentIdentifier"
    )
    assert real.startswith("1Z") and fulfil.ups_check_digit(real[2:17]) == real[17]


def test_unknown_carrier_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown carrier 'Pony Express'"):
        fulfil.tracking("Pony Express", random.Random(1))


def test_sales_tax_rates_come_from_the_table() -> None:
    assert fulfil.sales_tax_rate("CA") == Decimal("8.85")
    assert fulfil.sales_tax_rate(" ca ") == Decimal("8.85")
    assert fulfil.sales_tax_rate("LA") == Decimal("9.56")
    for state in ("OR", "MT", "NH", "DE"):
        assert fulfil.sales_tax_rate(state) == Decimal("0.00")
    assert Decimal("0") < fulfil.sales_tax_rate("AK") < Decimal("3")
    assert fulfil.sales_tax_rate(None) == fulfil.sales_tax_rate("") == fulfil.sales_tax_rate("ZZ") == Decimal("8.25")


def test_sales_tax_table_covers_50_states_and_dc_and_names_its_source() -> None:
    raw = json.loads((fulfil.DATA_DIR / "us_sales_tax.json").read_text("utf-8"))
    assert len(raw["rates"]) == 51 and "DC" in raw["rates"]
    assert "Tax Foundation" in raw["source"]
    assert all(0 <= rate < 11 for rate in raw["rates"].values())


def test_at_least_compares_versions_numerically() -> None:
    assert fulfil.at_least("1.2.036", "1.2.024")
    assert fulfil.at_least("1.2.024", "1.2.024")
    assert not fulfil.at_least("1.2.014", "1.2.024")
    assert fulfil.at_least("1.2.100", "1.2.069")
