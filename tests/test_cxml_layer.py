"""The pure cXML layer: the safe parser, body unwrapping, DTD selection, builders."""

from __future__ import annotations

import base64
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote_plus

import pytest

from simulator.cxml import build
from simulator.cxml.parse import parse_document, unwrap_body
from simulator.cxml.read import read_header, read_punchout_setup_request, request_type
from simulator.cxml.types import Credential, Envelope, ItemIn, Money, PunchOutOrderMessage, Tax
from simulator.cxml.validate import DtdRegistry
from simulator.errors import NotAcceptable, RequestTooLarge

from .helpers import assert_valid, setup_request


def test_raw_body_is_taken_as_is() -> None:
    assert unwrap_body(b"<cXML/>", "text/xml").xml == b"<cXML/>"
    assert unwrap_body(b"<cXML/>", None).transport == "raw"


def test_form_fields_are_unwrapped() -> None:
    xml = setup_request()
    urlencoded = b"cxml-urlencoded=" + quote_plus(xml.decode()).encode()
    assert unwrap_body(urlencoded, "application/x-www-form-urlencoded").xml == xml
    b64 = b"cxml-base64=" + quote_plus(base64.b64encode(xml).decode()).encode()
    got = unwrap_body(b64, "application/x-www-form-urlencoded")
    assert (got.xml, got.transport) == (xml, "cxml-base64")
    # no content type, but the body is plainly a form
    assert unwrap_body(urlencoded, None).transport == "cxml-urlencoded"


def test_form_without_cxml_field_is_refused_with_the_fields_found() -> None:
    with pytest.raises(NotAcceptable) as err:
        unwrap_body(b"foo=1&bar=2", "application/x-www-form-urlencoded")
    assert err.value.message == "The form post has no cxml-urlencoded or cxml-base64 field (fields found: bar, foo)."


def test_oversized_body_is_refused_before_parsing() -> None:
    with pytest.raises(RequestTooLarge) as err:
        unwrap_body(b"x" * 101, "text/xml", max_bytes=100)
    assert err.value.code == 413
    assert "101 bytes" in err.value.message and "at most 100 bytes" in err.value.message


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(NotAcceptable) as err:
        parse_document(b"<cXML>\n<Header>\n</cXML>")
    assert err.value.code == 406
    assert err.value.message.startswith("The request is not well-formed XML (line 3):")


def test_entities_are_never_expanded_and_files_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xml = (
        f'<?xml version="1.0"?><!DOCTYPE cXML [<!ENTITY x SYSTEM "file://{secret}">]>'
        "<cXML><Header><From><Credential domain='a'><Identity>&x;</Identity></Credential></From></Header></cXML>"
    ).encode()
    with pytest.raises(NotAcceptable) as err:  # refused before parsing: nothing is read or expanded
        parse_document(xml)
    assert err.value.message.startswith(
        f"The request's DOCTYPE declares the external entity 'x' (SYSTEM \"file://{secret}\")"
    )
    assert "TOP-SECRET" not in err.value.message


def test_bom_and_latin1_body_without_declaration_are_read() -> None:
    doc = parse_document(b"\xef\xbb\xbf<cXML payloadID='1'/>")
    assert doc.root.get("payloadID") == "1"
    latin = "<cXML><Header><From><Credential domain='d'><Identity>Müller</Identity></Credential></From></Header></cXML>"
    doc = parse_document(latin.encode("latin-1"), charset="iso-8859-1")
    assert read_header(doc.root).from_[0].identity == "Müller"


def test_doctype_names_dtd_and_version() -> None:
    doc = parse_document(setup_request(version="1.2.045"))
    assert (doc.dtd_name, doc.dtd_version) == ("cXML", "1.2.045")
    assert request_type(doc.root) == "PunchOutSetupRequest"


def test_dtd_selection_exact_nearest_newer_and_newest(dtds: DtdRegistry) -> None:
    assert dtds.select("cXML", "1.2.069") == "1.2.069"
    assert dtds.select("cXML", "1.2.045") == "1.2.050"
    assert dtds.select("cXML", "1.2.024") == "1.2.036"
    assert dtds.select("cXML", "1.2.099") == "1.2.069"
    assert dtds.select("cXML", None) == "1.2.069"
    assert dtds.select("Fulfill", "1.2.024") == "1.2.050"
    assert dtds.select("InvoiceDetail", "1.2.008") == "1.2.020"


def test_validation_reports_line_numbers(dtds: DtdRegistry) -> None:
    xml = setup_request().replace(b"<BuyerCookie>", b"<Bogus/><BuyerCookie>")
    doc = parse_document(xml)
    result = dtds.validate(doc.root, dtd_name=doc.dtd_name, version=doc.dtd_version)
    assert result.dtd_file == "1.2.069/cXML.dtd"
    assert not result.valid
    assert result.findings[0].line == 1
    assert "Bogus" in " ".join(f.message for f in result.findings)


def test_without_dtd_dir_validation_is_skipped() -> None:
    doc = parse_document(setup_request())
    result = DtdRegistry(None).validate(doc.root, dtd_name="cXML", version="1.2.069")
    assert result.dtd_file is None
    assert result.skipped_reason == "no DTD directory configured (--dtd-dir)"


def test_setup_request_reader_is_lenient() -> None:
    xml = setup_request(extrinsics={"CostCenter": "CC-42"}).replace(b'operation="create"', b'operation="CREATE"')
    request = read_punchout_setup_request(parse_document(xml).root)
    assert request.operation == "create"
    assert request.advisories == ('operation="CREATE" read as "create" (cXML enumerations are lower case).',)
    assert request.extrinsic("CostCenter") == "CC-42"
    assert request.email() == ("alice@buyer.test", "//Extrinsic[@name='UserEmail']")
    assert request.ship_to is not None and request.ship_to.city == "Springfield"


@pytest.mark.parametrize(
    ("where", "path"),
    [
        ("extrinsic", "//Extrinsic[@name='UserEmail']"),
        ("shipto", "//ShipTo/Address/Email"),
        ("contact", "//Contact/Email"),
    ],
)
def test_email_is_found_where_amazon_looks(where: str, path: str) -> None:
    request = read_punchout_setup_request(parse_document(setup_request(email_at=where)).root)
    assert request.email() == ("alice@buyer.test", path)


def _envelope(version: str) -> Envelope:
    amazon = (Credential("DUNS", "128990368"), Credential("NetworkId", "Amazon"))
    return Envelope(
        payload_id="1.2.3@amazon.com",
        timestamp="2026-11-26T10:00:00.000+00:00",
        version=version,
        from_=amazon,
        to=(Credential("NetworkId", "DEMO-BUYER"),),
        sender=amazon,
        user_agent="PunchOut Simulator",
    )


def _message() -> PunchOutOrderMessage:
    usd = "USD"
    tax = Tax(
        Money(Decimal("1.07"), usd),
        "Estimated sales tax",
        "sales",
        Decimal("8.25"),
        Money(Decimal("12.99"), usd),
    )
    item = ItemIn(
        quantity=1,
        line_number=1,
        supplier_part_id="B0TESTBACK",
        supplier_part_auxiliary_id="114-1234567-7654321,1",
        unit_price=Money(Decimal("12.99"), usd),
        description="Test product",
        short_name="",
        lang="en-US",
        unit_of_measure="EA",
        unspsc="14111507",
        manufacturer_part_id="UPC-012345678905",
        manufacturer_name="Acme",
        url="http://simulator.test/shop/product/B0TESTBACK",
        lead_time_days=3,
        shipping=Money(Decimal("0"), usd),
        tax=tax,
        extrinsics=(("soldBy", "Amazon"), ("fulfilledBy", "Amazon")),
    )
    return PunchOutOrderMessage(
        "cookie", "create", Money(Decimal("12.99"), usd), Money(Decimal("0"), usd), tax, (item,)
    )


@pytest.mark.parametrize("version", ["1.2.014", "1.2.020", "1.2.024", "1.2.036", "1.2.050", "1.2.063", "1.2.069"])
def test_every_built_document_validates_in_every_supported_version(version: str, dtds: DtdRegistry) -> None:
    env = _envelope(version)
    assert_valid(build.punchout_order_message(env, _message()), dtds)
    assert_valid(build.punchout_setup_response(env, "http://simulator.test/start/x"), dtds)
    assert_valid(build.status_response(401, "Unauthorized", "no such account", env), dtds)
    assert_valid(build.profile_response(env, [("PunchOutSetupRequest", "http://simulator.test/punchout")]), dtds)
