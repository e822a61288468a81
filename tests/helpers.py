"""Helpers for the tests: building buyer requests, reading answers, checking DTD validity."""

from __future__ import annotations

import re
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
    url: str | None = root.findtext("Response/PunchOutSetupResponse/StartPage/URL")
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


CSRF_INPUT = re.compile(r'<input type="hidden" name="csrf_token" value="([0-9a-f]+)">')


def csrf_token(page: str | bytes) -> str:
    """The CSRF token of the first form on a page (every state-changing form carries the same one)."""
    text = page.decode() if isinstance(page, bytes) else page
    found = CSRF_INPUT.search(text)
    assert found, "the page has no form with a csrf_token"
    return found.group(1)


def shop_token(client: Any, sid: str) -> str:
    """The CSRF token of a shop session (Flask test client), read from its cart page (or the
    registration page the cart leads a new user to)."""
    return csrf_token(client.get(f"/shop/cart?sid={sid}", follow_redirects=True).data)


def shop_token_http(http: Any, base_url: str, sid: str) -> str:
    """The same over HTTP: ``http`` is ``requests`` or a ``requests.Session``."""
    return csrf_token(http.get(f"{base_url}/shop/cart?sid={sid}", timeout=10).text)


def browser_form(client: Any, *, base_url: str = "http://localhost", **fields: str) -> dict[str, str]:
    """The fields of a console or demo-buyer form post (Flask test client): the CSRF token and ``fields``.

    The token is bound to a cookie that the first page sets; the client keeps it, so it stays valid.
    """
    return {"csrf_token": csrf_token(client.get("/demo-buyer", base_url=base_url).data), **fields}


_shop_tokens: dict[str, str] = {}  # by sid (random, never reused): a session's token never changes


def shop_form(client: Any, sid: str, **fields: str) -> dict[str, str]:
    """The fields of a shop form post: ``sid``, the session's CSRF token (read once) and ``fields``."""
    if sid not in _shop_tokens:
        _shop_tokens[sid] = shop_token(client, sid)
    return {"sid": sid, "csrf_token": _shop_tokens[sid], **fields}


def shop_form_http(http: Any, base_url: str, sid: str, **fields: str) -> dict[str, str]:
    """:func:`shop_form` over HTTP (``http`` is ``requests`` or a ``requests.Session``)."""
    if sid not in _shop_tokens:
        _shop_tokens[sid] = shop_token_http(http, base_url, sid)
    return {"sid": sid, "csrf_token": _shop_tokens[sid], **fields}
