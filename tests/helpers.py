"""Helpers for the tests: building buyer requests, reading answers, checking DTD validity."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from simulator.cxml.parse import parse_document
from simulator.cxml.validate import DtdRegistry

DEMO = {"domain": "NetworkId", "identity": "DEMO-BUYER", "shared_secret": "demo-secret"}


def assert_valid(xml: bytes, dtds: DtdRegistry) -> None:
    """The document validates against the DTD and version its own DOCTYPE declares."""
    document = parse_document(xml)
    assert document.dtd_version is not None, "every emitted document declares its DTD"
    result = dtds.validate(document.root, dtd_name=document.dtd_name, version=document.dtd_version)
    assert result.dtd_file is not None
    assert result.findings == (), "\n".join(str(f) for f in result.findings) + "\n" + xml.decode()


def setup_request(
    *,
    operation: str = "create",
    buyer_cookie: str = "cookie-1",
    return_url: str | None = "http://buyer.test/punchout/return",
    email: str | None = "alice@buyer.test",
    email_at: str = "extrinsic",
    credentials: dict[str, str] | None = None,
    sender_secret: str | None = None,
    deployment_mode: str | None = None,
    extrinsics: dict[str, str] | None = None,
    selected_item: str | None = None,
    items_out: list[dict[str, Any]] | None = None,
    ship_to: bool = True,
    version: str = "1.2.069",
    doctype: bool = True,
) -> bytes:
    """A PunchOutSetupRequest as a well-behaved buyer sends it (valid against cXML.dtd)."""
    creds = credentials or DEMO
    secret = sender_secret if sender_secret is not None else creds["shared_secret"]
    ext = dict(extrinsics or {})
    if email and email_at == "extrinsic":
        ext = {"UserEmail": email, **ext}
    ext_xml = "".join(f"<Extrinsic name={quoteattr(k)}>{escape(v)}</Extrinsic>" for k, v in ext.items())
    post = f"<BrowserFormPost><URL>{escape(return_url)}</URL></BrowserFormPost>" if return_url is not None else ""
    contact = (
        f'<Contact role="endUser"><Name xml:lang="en-US">Alice Buyer</Name><Email>{escape(email)}</Email></Contact>'
        if email and email_at == "contact"
        else ""
    )
    ship_email = f"<Email>{escape(email)}</Email>" if email and email_at == "shipto" else ""
    ship = (
        '<ShipTo><Address addressID="HQ-1"><Name xml:lang="en-US">Buyer HQ</Name><PostalAddress>'
        "<DeliverTo>Alice Buyer</DeliverTo><Street>1 Main St</Street><City>Springfield</City>"
        '<State>IL</State><PostalCode>62701</PostalCode><Country isoCountryCode="US">United States</Country>'
        f"</PostalAddress>{ship_email}</Address></ShipTo>"
        if ship_to
        else ""
    )
    selected = (
        f"<SelectedItem><ItemID><SupplierPartID>{selected_item}</SupplierPartID></ItemID></SelectedItem>"
        if selected_item
        else ""
    )
    items = ""
    for n, item in enumerate(items_out or [], start=1):
        aux = item.get("aux", "")
        items += (
            f'<ItemOut quantity="{item.get("quantity", 1)}" lineNumber="{n}"><ItemID>'
            f"<SupplierPartID>{item['asin']}</SupplierPartID>"
            f"{f'<SupplierPartAuxiliaryID>{aux}</SupplierPartAuxiliaryID>' if aux else ''}</ItemID></ItemOut>"
        )
    mode = f' deploymentMode="{deployment_mode}"' if deployment_mode else ""
    dt = f'<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/{version}/cXML.dtd">' if doctype else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{dt}'
        f'<cXML payloadID="1700000000.1@buyer.test" timestamp="2026-11-26T10:00:00+00:00" xml:lang="en-US">'
        f"<Header><From><Credential domain={quoteattr(creds['domain'])}><Identity>{escape(creds['identity'])}"
        f'</Identity></Credential></From><To><Credential domain="DUNS"><Identity>128990368</Identity>'
        f"</Credential></To><Sender><Credential domain={quoteattr(creds['domain'])}><Identity>"
        f"{escape(creds['identity'])}</Identity><SharedSecret>{escape(secret)}</SharedSecret></Credential>"
        f"<UserAgent>Test buyer 1.0</UserAgent></Sender></Header>"
        f'<Request{mode}><PunchOutSetupRequest operation="{operation}"><BuyerCookie>{escape(buyer_cookie)}'
        f"</BuyerCookie>{ext_xml}{post}{contact}{ship}{selected}{items}</PunchOutSetupRequest></Request></cXML>"
    ).encode()


def status_of(body: bytes) -> tuple[int, str, str]:
    """(code, text attribute, message) of a cXML Response's Status."""
    root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    status = root.find("Response/Status")
    assert status is not None, body.decode()
    return int(status.get("code", "0")), status.get("text", ""), (status.text or "").strip()


def start_url(body: bytes) -> str:
    root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    url = root.findtext("Response/PunchOutSetupResponse/StartPage/URL")
    assert url, body.decode()
    return url


def order_request(
    *,
    order_id: str = "PO-1001",
    payload_id: str | None = None,
    lines: list[dict[str, Any]] | None = None,
    order_type: str = "new",
    ship_to: bool = True,
    state: str = "CA",
    credentials: dict[str, str] | None = None,
    deployment_mode: str | None = None,
    followup_url: str | None = None,
    document_reference: str | None = None,
    email: str | None = "alice@buyer.test",
    currency: str = "USD",
    version: str = "1.2.069",
) -> bytes:
    """An OrderRequest as a well-behaved procurement system sends it (valid against cXML.dtd).

    ``lines``: dicts with ``asin``, ``quantity`` (1), ``price`` ("10.00"), optional ``aux``.
    """
    creds = credentials or DEMO
    items = ""
    total = 0.0
    for n, line in enumerate(lines or [{"asin": "B0TESTSLOW"}], start=1):
        price = str(line.get("price", "10.00"))
        quantity = line.get("quantity", 1)
        total += float(price) * int(quantity)
        aux = f"<SupplierPartAuxiliaryID>{line['aux']}</SupplierPartAuxiliaryID>" if line.get("aux") else ""
        items += (
            f'<ItemOut quantity="{quantity}" lineNumber="{n}"><ItemID><SupplierPartID>{line["asin"]}</SupplierPartID>'
            f'{aux}</ItemID><ItemDetail><UnitPrice><Money currency="{currency}">{price}</Money></UnitPrice>'
            f'<Description xml:lang="en-US">{escape(line.get("description", "Item " + str(n)))}</Description>'
            f'<UnitOfMeasure>EA</UnitOfMeasure><Classification domain="UNSPSC">44121704</Classification>'
            f"</ItemDetail></ItemOut>"
        )
    address = (
        '<Address addressID="HQ-1"><Name xml:lang="en-US">Buyer HQ</Name><PostalAddress>'
        f"<DeliverTo>Alice Buyer</DeliverTo><Street>1 Main St</Street><City>Springfield</City><State>{state}</State>"
        '<PostalCode>62701</PostalCode><Country isoCountryCode="US">United States</Country></PostalAddress></Address>'
    )
    ship = f"<ShipTo>{address}</ShipTo>" if ship_to else ""
    followup = f"<Followup><URL>{escape(followup_url)}</URL></Followup>" if followup_url else ""
    reference = f'<DocumentReference payloadID="{document_reference}"/>' if document_reference else ""
    extrinsic = f'<Extrinsic name="UserEmail">{escape(email)}</Extrinsic>' if email else ""
    mode = f' deploymentMode="{deployment_mode}"' if deployment_mode else ""
    payload = payload_id or f"{order_id}.{order_type}@buyer.test"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>'
        f'<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/{version}/cXML.dtd">'
        f'<cXML payloadID="{payload}" timestamp="2026-11-26T10:00:00+00:00" xml:lang="en-US">'
        f"<Header><From><Credential domain={quoteattr(creds['domain'])}><Identity>{escape(creds['identity'])}"
        f'</Identity></Credential></From><To><Credential domain="DUNS"><Identity>128990368</Identity>'
        f"</Credential></To><Sender><Credential domain={quoteattr(creds['domain'])}><Identity>"
        f"{escape(creds['identity'])}</Identity><SharedSecret>{escape(creds['shared_secret'])}</SharedSecret>"
        f"</Credential><UserAgent>Test buyer 1.0</UserAgent></Sender></Header>"
        f'<Request{mode}><OrderRequest><OrderRequestHeader orderID="{order_id}" '
        f'orderDate="2026-11-26T10:00:00+00:00" type="{order_type}"><Total><Money currency="{currency}">'
        f"{total:.2f}</Money></Total>{ship}<BillTo>{address}</BillTo>{followup}{reference}{extrinsic}"
        f"</OrderRequestHeader>{items}</OrderRequest></Request></cXML>"
    ).encode()
