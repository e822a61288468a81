"""Builders for every document the simulator sends. Each returns bytes with the XML declaration
and the DOCTYPE of the version it declares; tests validate each against that DTD.
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree
from lxml.builder import ElementMaker

from .types import Credential, Envelope, ItemIn, Money, PunchOutOrderMessage, Tax

E = ElementMaker()
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
DEFAULT_VERSION = "1.2.069"
OLDEST_SUPPORTED_VERSION = "1.2.014"  # LeadTime, TaxDetail and ShortName appear here


def doctype(version: str, dtd_name: str = "cXML") -> str:
    return f'<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/{version}/{dtd_name}.dtd">'


def serialize(root: etree._Element, version: str, dtd_name: str = "cXML") -> bytes:
    data: bytes = etree.tostring(
        root, xml_declaration=True, encoding="UTF-8", doctype=doctype(version, dtd_name), pretty_print=True
    )
    return data


def _root(envelope: Envelope, *children: etree._Element) -> etree._Element:
    root = etree.Element("cXML", payloadID=envelope.payload_id, timestamp=envelope.timestamp)
    root.extend(children)
    root.set("version", envelope.version)
    root.set(XML_LANG, envelope.lang)
    return root


def _credentials(credentials: Iterable[Credential]) -> list[etree._Element]:
    elements = []
    for credential in credentials:
        element = E.Credential(E.Identity(credential.identity), domain=credential.domain)
        if credential.shared_secret is not None:
            element.append(E.SharedSecret(credential.shared_secret))
        elements.append(element)
    return elements


def _header(envelope: Envelope) -> etree._Element:
    return E.Header(
        E.From(*_credentials(envelope.from_)),
        E.To(*_credentials(envelope.to)),
        E.Sender(*_credentials(envelope.sender), E.UserAgent(envelope.user_agent)),
    )


def _money(money: Money) -> etree._Element:
    return E.Money(str(money), currency=money.currency)


def _description(text: str, lang: str, short_name: str | None = None) -> etree._Element:
    element = E.Description()
    element.set(XML_LANG, lang)
    if short_name:
        element.append(E.ShortName(short_name))
        element[-1].tail = text
    else:
        element.text = text
    return element


def _tax(tax: Tax, lang: str) -> etree._Element:
    detail = E.TaxDetail(
        E.TaxableAmount(_money(tax.taxable_amount)),
        E.TaxAmount(_money(tax.money)),
        category=tax.category,
        percentageRate=str(tax.percentage_rate),
        purpose="subtotalTax" if tax.category == "vat" else "tax",
    )
    return E.Tax(_money(tax.money), _description(tax.description, lang), detail)


def status_response(code: int, text: str, message: str | None, envelope: Envelope, *children: etree._Element) -> bytes:
    """``<Response><Status code text>message</Status>…</Response>``: the synchronous answer.

    Built with ``SubElement`` rather than the ElementMaker: every request is answered with one, and
    this way costs half as much (docs/performance.md).
    """
    root = _root(envelope)
    response = etree.SubElement(root, "Response")
    status = etree.SubElement(response, "Status", code=str(code), text=text)
    status.set(XML_LANG, envelope.lang)
    if message:
        status.text = message
    response.extend(children)
    return serialize(root, envelope.version)


def punchout_setup_response(envelope: Envelope, start_page_url: str) -> bytes:
    start = etree.Element("PunchOutSetupResponse")
    etree.SubElement(etree.SubElement(start, "StartPage"), "URL").text = start_page_url
    return status_response(200, "OK", None, envelope, start)


def profile_response(envelope: Envelope, transactions: Iterable[tuple[str, str]]) -> bytes:
    body = E.ProfileResponse(
        *(E.Transaction(E.URL(url), requestName=name) for name, url in transactions),
        effectiveDate=envelope.timestamp,
    )
    return status_response(200, "OK", None, envelope, body)


def _item_in(item: ItemIn, lang: str) -> etree._Element:
    item_id = E.ItemID(
        E.SupplierPartID(item.supplier_part_id),
        E.SupplierPartAuxiliaryID(item.supplier_part_auxiliary_id),
    )
    detail = E.ItemDetail(
        E.UnitPrice(_money(item.unit_price)),
        _description(item.description, lang, item.short_name),
        E.UnitOfMeasure(item.unit_of_measure),
        E.Classification(item.unspsc, domain="UNSPSC"),
        E.ManufacturerPartID(item.manufacturer_part_id),
        E.ManufacturerName(item.manufacturer_name),
        E.URL(item.url),
        E.LeadTime(str(item.lead_time_days)),
        *(E.Extrinsic(value, name=name) for name, value in item.extrinsics),
    )
    shipping = E.Shipping(_money(item.shipping), _description("Cost of shipping, not including shipping tax", lang))
    return E.ItemIn(
        item_id,
        detail,
        shipping,
        _tax(item.tax, lang),
        quantity=str(item.quantity),
        lineNumber=str(item.line_number),
    )


def punchout_order_message(envelope: Envelope, message: PunchOutOrderMessage) -> bytes:
    """The cart, shaped as Amazon sends it (protocol.md §3)."""
    header = E.PunchOutOrderMessageHeader(E.Total(_money(message.total)), operationAllowed=message.operation_allowed)
    if message.shipping is not None:
        header.append(
            E.Shipping(
                _money(message.shipping),
                _description("Cost of shipping, not including shipping tax", envelope.lang),
            )
        )
    if message.tax is not None:
        header.append(_tax(message.tax, envelope.lang))
    poom = E.PunchOutOrderMessage(
        E.BuyerCookie(message.buyer_cookie), header, *(_item_in(i, envelope.lang) for i in message.items)
    )
    return serialize(_root(envelope, _header(envelope), E.Message(poom)), envelope.version)
