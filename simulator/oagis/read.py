"""Reading a ProcessPurchaseOrder BOD leniently into the order engine's ``OrderRequest``.

Elements are found by local name (with or without a namespace), in any order, with a
case-insensitive fallback; what had to be bent is reported as advisories.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from lxml import etree

from ..cxml.read import Address, OrderLine, OrderRequest
from ..errors import BadRequest
from . import NS

ROOT = "ProcessPurchaseOrder"
ADDRESS_LINES = ("LineOne", "LineTwo", "LineThree", "LineFour", "LineFive", "LineSix", "LineSeven", "LineEight")
EMAIL_ELEMENTS = ("EMailAddressID", "EmailAddressID", "EMailAddress", "EmailAddress", "URI")
# Process/ActionCriteria/ActionExpression@actionCode → the order type the engine knows
ORDER_TYPES = {"add": "new", "create": "new", "change": "update", "replace": "update", "delete": "delete"}


def local(element: etree._Element) -> str:
    """The element's name without its namespace ("" for comments and processing instructions)."""
    if not isinstance(element.tag, str):
        return ""
    return str(etree.QName(element).localname)


def children(element: etree._Element | None, name: str) -> list[etree._Element]:
    """The children called ``name`` in any namespace; by case-insensitive name when none is exact."""
    if element is None:
        return []
    found = [c for c in element if local(c) == name]
    if found:
        return found
    lowered = name.lower()
    return [c for c in element if local(c).lower() == lowered]


def child(element: etree._Element | None, *path: str) -> etree._Element | None:
    """The first element down ``path`` (local names), or None."""
    for name in path:
        matches = children(element, name)
        element = matches[0] if matches else None
    return element


def descendant(element: etree._Element | None, names: tuple[str, ...]) -> etree._Element | None:
    """The first element below ``element`` whose local name is one of ``names``."""
    if element is None:
        return None
    wanted = {n.lower() for n in names}
    return next((e for e in element.iterdescendants() if local(e).lower() in wanted), None)


def text(element: etree._Element | None) -> str:
    if element is None:
        return ""
    return " ".join("".join(element.itertext()).split())


def without_namespaces(root: etree._Element) -> etree._Element:
    """A copy of the document whose elements have no namespace (for scenario rules' XPath)."""
    plain = copy.deepcopy(root)
    for element in plain.iter():
        if isinstance(element.tag, str):
            element.tag = local(element)
    etree.cleanup_namespaces(plain)
    return plain


@dataclass(frozen=True)
class ApplicationArea:
    logical_id: str
    logical_id_scheme: str  # Sender/LogicalID@schemeID: the credential domain, when given
    component_id: str
    creation: str
    bod_id: str


@dataclass(frozen=True)
class PurchaseOrderBOD:
    area: ApplicationArea
    test: bool  # systemEnvironmentCode="Test"
    language: str
    order: OrderRequest  # its advisories are what had to be bent reading the BOD


def check_root(root: etree._Element) -> list[str]:
    """Advisories for the root's name and namespace; BadRequest when it is not a ProcessPurchaseOrder."""
    name = local(root)
    advisories = []
    if name != ROOT:
        if name.lower() != ROOT.lower():
            hint = " (cXML orders go to POST /orders)" if name.lower() == "cxml" else ""
            raise BadRequest(
                f"The document's root element is <{name}>; POST /oagis takes a ProcessPurchaseOrder BOD{hint}."
            )
        advisories.append(f"Root element <{name}> read as <{ROOT}> (element names are case-sensitive).")
    namespace = etree.QName(root).namespace
    if namespace is None:
        advisories.append(f"The BOD has no namespace; read as OAGIS 9 ({NS}).")
    elif namespace != NS:
        advisories.append(f"The BOD's namespace is {namespace}; read as OAGIS 9 ({NS}).")
    return advisories


def read_application_area(root: etree._Element) -> ApplicationArea:
    area = child(root, "ApplicationArea")
    logical = child(area, "Sender", "LogicalID")
    return ApplicationArea(
        logical_id=text(logical),
        logical_id_scheme=(logical.get("schemeID") or "").strip() if logical is not None else "",
        component_id=text(child(area, "Sender", "ComponentID")),
        creation=text(child(area, "CreationDateTime")),
        bod_id=text(child(area, "BODID")),
    )


def _decimal(value: str) -> Decimal | None:
    if not value:
        return None
    try:
        return Decimal(value.replace(",", ""))
    except InvalidOperation:
        return None


def _email(element: etree._Element | None) -> str:
    """The first email address below ``element`` (EMailAddressID, or a mailto: URI)."""
    if element is None:
        return ""
    wanted = {n.lower() for n in EMAIL_ELEMENTS}
    for found in element.iterdescendants():
        value = text(found)
        if local(found).lower() in wanted and "@" in value:
            return value.removeprefix("mailto:")
    return ""


def _address(party: etree._Element | None) -> Address | None:
    """A party (ShipToParty, BillToParty) with Location/Address or Address, as the engine's Address."""
    if party is None:
        return None
    address = descendant(party, ("Address",))
    if address is None:
        return None
    lines = [text(e) for name in (*ADDRESS_LINES, "AddressLine") for e in children(address, name)]
    street = tuple(line for line in lines if line)
    if not street:
        number_and_street = " ".join(
            p for p in (text(child(address, "BuildingNumber")), text(child(address, "StreetName"))) if p
        )
        street = (number_and_street,) if number_and_street else ()
    location = child(party, "Location")
    contact = child(party, "Contact")
    deliver_to = tuple(
        v
        for v in (
            text(child(address, "AttentionOfName")),
            text(child(address, "CareOfName")),
            text(child(contact, "Name")),
        )
        if v
    )
    phone = descendant(party, ("FormattedNumber", "DialNumber"))
    return Address(
        address_id=text(child(party, "PartyIDs", "ID")) or text(child(location, "ID")),
        name=text(child(party, "Name")) or text(child(location, "Name")),
        deliver_to=deliver_to,
        street=street,
        city=text(child(address, "CityName")),
        state=text(child(address, "CountrySubDivisionCode")),
        postal_code=text(child(address, "PostalCode")),
        country=text(child(address, "CountryCode")),
        email=_email(party),
        phone=text(phone),
    )


def _part(item: etree._Element | None, number: int, advisories: list[str]) -> str:
    """The supplier's part number: SupplierItemID (the supplier's own), else ItemID."""

    def identifier(name: str) -> str:
        element = child(item, name)
        inner = child(element, "ID")
        return text(inner) if inner is not None else text(element)

    supplier, own = identifier("SupplierItemID"), identifier("ItemID")
    if supplier and own and supplier != own:
        advisories.append(f"PurchaseOrderLine {number}: SupplierItemID {supplier} used, not ItemID {own}.")
    return supplier or own


def _lines(order: etree._Element, advisories: list[str]) -> tuple[OrderLine, ...]:
    lines: list[OrderLine] = []
    seen: set[int] = set()
    for position, element in enumerate(children(order, "PurchaseOrderLine"), start=1):
        raw = text(child(element, "LineNumber"))
        number = int(raw) if raw.isdigit() else position
        if raw and not raw.isdigit():
            advisories.append(f"PurchaseOrderLine {position}: LineNumber {raw!r} is not a number; read as {number}.")
        if number in seen:
            number = max(seen) + 1
            advisories.append(
                f"PurchaseOrderLine {position}: LineNumber {raw} repeats an earlier one; read as {number}."
            )
        seen.add(number)
        item = child(element, "Item")
        quantity = child(element, "Quantity")
        amount = child(element, "UnitPrice", "Amount")
        if quantity is None:
            advisories.append(f"PurchaseOrderLine {number} has no Quantity.")
        lines.append(
            OrderLine(
                line_number=number,
                quantity=_decimal(text(quantity)) or Decimal(0),
                supplier_part_id=_part(item, number, advisories),
                supplier_part_auxiliary_id="",
                unit_price=_decimal(text(amount)) if amount is not None else None,
                currency=(amount.get("currencyID") or "").strip() if amount is not None else "",
                description=text(child(element, "Description")) or text(child(item, "Description")),
                unit_of_measure=((quantity.get("unitCode") or "").strip() if quantity is not None else "") or "EA",
                requested_delivery_date=text(child(element, "RequiredDeliveryDateTime")),
                ship_to=_address(child(element, "ShipToParty")),
            )
        )
    return tuple(lines)


def _order_type(data: etree._Element | None, advisories: list[str]) -> str:
    expression = child(data, "Process", "ActionCriteria", "ActionExpression")
    action = (expression.get("actionCode") or "").strip() if expression is not None else ""
    if not action:
        return "new"
    order_type = ORDER_TYPES.get(action.lower())
    if order_type is None:
        advisories.append(f'ActionExpression actionCode="{action}" is not Add, Change, Replace or Delete; read as Add.')
        return "new"
    return order_type


def read_purchase_order(root: etree._Element, area: ApplicationArea) -> PurchaseOrderBOD:
    """The order in a ProcessPurchaseOrder (root already checked). BadRequest without a PO number."""
    advisories: list[str] = []
    data = child(root, "DataArea")
    order = child(data, "PurchaseOrder")
    if order is None:
        raise BadRequest("The BOD has no DataArea/PurchaseOrder.")
    header = child(order, "PurchaseOrderHeader")
    if header is None:
        raise BadRequest("The PurchaseOrder has no PurchaseOrderHeader.")
    order_id = text(child(header, "DocumentID", "ID"))
    if not order_id and text(child(header, "ID")):
        order_id = text(child(header, "ID"))
        advisories.append("PurchaseOrderHeader/ID read as the PO number (OAGIS 9 names it DocumentID/ID).")
    if not order_id:
        raise BadRequest("PurchaseOrderHeader/DocumentID/ID, the PO number, is missing.")
    if len(children(data, "PurchaseOrder")) > 1:
        advisories.append("The BOD has several PurchaseOrders; only the first is read.")
    if not area.creation:
        advisories.append("ApplicationArea has no CreationDateTime.")
    total = child(header, "ExtendedAmount")
    if total is None:
        total = child(header, "TotalAmount")
    lines = _lines(order, advisories)
    currency = (total.get("currencyID") or "").strip() if total is not None else ""
    currency = currency or next((line.currency for line in lines if line.currency), "")
    ship_to = _address(child(header, "ShipToParty"))
    email = (
        _email(child(header, "CustomerParty"))
        or _email(child(header, "BuyerParty"))
        or (ship_to.email if ship_to else "")
    )
    comments = " ".join(text(e) for name in ("Description", "Note") for e in children(header, name)).strip()
    environment = (root.get("systemEnvironmentCode") or "").strip()
    return PurchaseOrderBOD(
        area=area,
        test=environment.lower() == "test",
        language=(root.get("languageCode") or "").strip(),
        order=OrderRequest(
            order_id=order_id,
            order_date=text(child(header, "DocumentDateTime")) or area.creation,
            type=_order_type(data, advisories),
            order_type="regular",
            total=_decimal(text(total)) if total is not None else None,
            currency=currency,
            ship_to=ship_to,
            bill_to=_address(child(header, "BillToParty")),
            pcard=None,
            followup_url=None,
            document_reference=None,
            comments=comments,
            extrinsics=(("UserEmail", email),) if email else (),
            lines=lines,
            advisories=tuple(advisories),
        ),
    )
