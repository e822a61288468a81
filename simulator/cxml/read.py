"""Reading buyer requests leniently: what can be served is read, what was odd is reported.

Real buyers send documents that break the DTD (protocol.md §2 and the samples): elements out of
order, upper-case enumerations, ``NetworkID`` for ``NetworkId``, no UserAgent, no DOCTYPE. The
readers here never depend on element order, and return advisories for what they had to bend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from lxml import etree

from .types import Credential

# Amazon looks for the shopper's email in this order and names these paths when none is found
# (protocol.md §2, "Amazon [seen]").
EMAIL_PATHS = (
    "//Extrinsic[@name='UserEmail']",
    "//ShipTo/Address/Email",
    "//Contact/Email",
    "//Extrinsic[@name='Email']",
)
BROWSER_FORM_POST_PATH = "/cXML/Request/PunchOutSetupRequest/BrowserFormPost/URL"
OPERATIONS = ("create", "edit", "inspect", "source")


def text(element: etree._Element | None) -> str:
    """The whole text of an element (ShortName included), stripped; empty for None."""
    if element is None:
        return ""
    if not len(element):  # a leaf (most are): its own text, without walking a subtree
        return (element.text or "").strip()
    return "".join(element.itertext()).strip()


@dataclass(frozen=True)
class Header:
    from_: tuple[Credential, ...]
    to: tuple[Credential, ...]
    sender: tuple[Credential, ...]
    user_agent: str


@dataclass(frozen=True)
class Contact:
    name: str
    email: str
    role: str


@dataclass(frozen=True)
class Address:
    address_id: str
    name: str
    deliver_to: tuple[str, ...]
    street: tuple[str, ...]
    city: str
    state: str
    postal_code: str
    country: str
    email: str
    phone: str

    def as_dict(self) -> dict[str, object]:
        return {
            "address_id": self.address_id,
            "name": self.name,
            "deliver_to": list(self.deliver_to),
            "street": list(self.street),
            "city": self.city,
            "state": self.state,
            "postal_code": self.postal_code,
            "country": self.country,
            "email": self.email,
            "phone": self.phone,
        }


@dataclass(frozen=True)
class ItemOut:
    quantity: Decimal
    line_number: int | None
    supplier_part_id: str
    supplier_part_auxiliary_id: str
    unit_price: Decimal | None
    currency: str


@dataclass(frozen=True)
class PunchOutSetupRequest:
    operation: str
    buyer_cookie: str
    deployment_mode: str
    browser_form_post_url: str | None
    supplier_setup_url: str | None
    extrinsics: tuple[tuple[str, str], ...]
    contacts: tuple[Contact, ...]
    ship_to: Address | None
    selected_item: str | None
    items: tuple[ItemOut, ...]
    advisories: tuple[str, ...] = field(default=())

    def extrinsic(self, name: str) -> str | None:
        for key, value in self.extrinsics:
            if key == name:
                return value
        lowered = name.lower()
        for key, value in self.extrinsics:
            if key.lower() == lowered:
                return value
        return None

    def email(self) -> tuple[str, str] | None:
        """The shopper's email and the path it was found at, in Amazon's order of precedence."""
        candidates = (
            self.extrinsic("UserEmail"),
            self.ship_to.email if self.ship_to else None,
            next((c.email for c in self.contacts if c.email), None),
            self.extrinsic("Email"),
        )
        for path, value in zip(EMAIL_PATHS, candidates, strict=True):
            if value and "@" in value:
                return value.strip(), path
        return None

    def user_name(self) -> str:
        full = self.extrinsic("UserFullName") or self.extrinsic("UserName")
        if full:
            return full
        first, last = self.extrinsic("FirstName"), self.extrinsic("LastName")
        if first or last:
            return " ".join(p for p in (first, last) if p)
        for contact in self.contacts:
            if contact.name:
                return contact.name
        return ""


def request_type(root: etree._Element) -> str | None:
    """The name of the Request's (or Message's) child, e.g. "PunchOutSetupRequest"."""
    for container in ("Request", "Message"):
        parent = _child(root, container)
        if parent is not None:
            for child in parent:
                if isinstance(child.tag, str) and child.tag not in ("Status",):
                    return child.tag
    return None


def deployment_mode(root: etree._Element) -> str:
    request = _child(root, "Request")
    mode = (request.get("deploymentMode") if request is not None else None) or "production"
    return mode.strip().lower()


def _child(element: etree._Element | None, name: str) -> etree._Element | None:
    """First child called ``name``; tolerant of case (``NetworkID``-style slips) as a fallback.

    One pass over the children in Python: cXML elements have few children, and this costs a third
    of lxml's ``find`` (which compiles and runs a path) — it runs some thirty times per request.
    """
    if element is None:
        return None
    lowered = name.lower()
    slipped = None
    for child in element:
        tag = child.tag
        if tag == name:
            return child
        if slipped is None and isinstance(tag, str) and tag.lower() == lowered:
            slipped = child
    return slipped


def _children(element: etree._Element | None) -> Callable[[str], etree._Element | None]:
    """``_child`` for many names of one element: the children are looked at once, not per name."""
    exact: dict[str, etree._Element] = {}
    folded: dict[str, etree._Element] = {}
    for child in () if element is None else element:
        tag = child.tag
        if isinstance(tag, str):
            exact.setdefault(tag, child)
            folded.setdefault(tag.lower(), child)

    def find(name: str) -> etree._Element | None:
        found = exact.get(name)
        return found if found is not None else folded.get(name.lower())

    return find


def _path(element: etree._Element | None, *names: str) -> etree._Element | None:
    """``_child`` step by step: ``_path(item, "ItemDetail", "UnitPrice", "Money")``."""
    for name in names:
        element = _child(element, name)
    return element


def _credentials(party: etree._Element | None) -> tuple[Credential, ...]:
    if party is None:
        return ()
    creds = []
    for credential in party:
        if not isinstance(credential.tag, str) or credential.tag.lower() != "credential":
            continue
        secret = _child(credential, "SharedSecret")
        creds.append(
            Credential(
                domain=(credential.get("domain") or "").strip(),
                identity=text(_child(credential, "Identity")),
                shared_secret=text(secret) if secret is not None else None,
            )
        )
    return tuple(creds)


def read_header(root: etree._Element) -> Header:
    header = _child(root, "Header")
    sender = _child(header, "Sender")
    return Header(
        from_=_credentials(_child(header, "From")),
        to=_credentials(_child(header, "To")),
        sender=_credentials(sender),
        user_agent=text(_child(sender, "UserAgent")),
    )


def _address(element: etree._Element | None) -> Address | None:
    if element is None:
        return None
    postal = _child(element, "PostalAddress")
    country = _child(postal, "Country")
    phone = _child(element, "Phone")
    return Address(
        address_id=element.get("addressID") or "",
        name=text(_child(element, "Name")),
        deliver_to=tuple(text(e) for e in (postal.findall("DeliverTo") if postal is not None else [])),
        street=tuple(text(e) for e in (postal.findall("Street") if postal is not None else [])),
        city=text(_child(postal, "City")),
        state=text(_child(postal, "State")),
        postal_code=text(_child(postal, "PostalCode")),
        country=(country.get("isoCountryCode") if country is not None else None) or text(country),
        email=text(_child(element, "Email")),
        phone=" ".join(text(phone).split()) if phone is not None else "",
    )


def _decimal(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value.strip().replace(",", ""))
    except InvalidOperation:
        return None


def _item_out(element: etree._Element) -> ItemOut | None:
    item_id = _child(element, "ItemID")
    part = text(_child(item_id, "SupplierPartID"))
    if not part:
        return None
    money = _path(element, "ItemDetail", "UnitPrice", "Money")
    line = element.get("lineNumber")
    return ItemOut(
        quantity=_decimal(element.get("quantity")) or Decimal(1),
        line_number=int(line) if line and line.strip().isdigit() else None,
        supplier_part_id=part,
        supplier_part_auxiliary_id=text(_child(item_id, "SupplierPartAuxiliaryID")),
        unit_price=_decimal(money.text) if money is not None else None,
        currency=(money.get("currency") or "") if money is not None else "",
    )


def read_punchout_setup_request(root: etree._Element) -> PunchOutSetupRequest:
    setup = _path(root, "Request", "PunchOutSetupRequest")
    if setup is None:
        setup = root.find(".//PunchOutSetupRequest")
    assert setup is not None, "caller checks the request type first"
    advisories: list[str] = []
    raw_operation = (setup.get("operation") or "").strip()
    operation = raw_operation.lower()
    if not raw_operation:
        operation = "create"
        advisories.append('PunchOutSetupRequest has no operation attribute; read as "create".')
    elif raw_operation != operation:
        advisories.append(f'operation="{raw_operation}" read as "{operation}" (cXML enumerations are lower case).')
    extrinsics = tuple(
        ((e.get("name") or "").strip(), text(e)) for e in setup.iter("Extrinsic") if e.getparent() is setup
    )
    contacts = tuple(
        Contact(name=text(_child(c, "Name")), email=text(_child(c, "Email")), role=c.get("role") or "")
        for c in setup.findall("Contact")
    )
    selected = _path(setup, "SelectedItem", "ItemID", "SupplierPartID")
    post_url = _child(_child(setup, "BrowserFormPost"), "URL")
    supplier_setup = _child(_child(setup, "SupplierSetup"), "URL")
    items = tuple(i for i in (_item_out(e) for e in setup.findall("ItemOut")) if i is not None)
    return PunchOutSetupRequest(
        operation=operation,
        buyer_cookie=text(_child(setup, "BuyerCookie")),
        deployment_mode=deployment_mode(root),
        browser_form_post_url=text(post_url) if post_url is not None else None,
        supplier_setup_url=text(supplier_setup) if supplier_setup is not None else None,
        extrinsics=extrinsics,
        contacts=contacts,
        ship_to=_address(_path(setup, "ShipTo", "Address")),
        selected_item=text(selected) if selected is not None else None,
        items=items,
        advisories=tuple(advisories),
    )


@dataclass(frozen=True)
class OrderLine:
    line_number: int
    quantity: Decimal
    supplier_part_id: str
    supplier_part_auxiliary_id: str
    unit_price: Decimal | None
    currency: str
    description: str
    unit_of_measure: str
    requested_delivery_date: str
    ship_to: Address | None


@dataclass(frozen=True)
class OrderRequest:
    order_id: str
    order_date: str
    type: str  # new | update | delete
    order_type: str
    total: Decimal | None
    currency: str
    ship_to: Address | None
    bill_to: Address | None
    pcard: dict[str, str] | None  # {"number": …, "expiration": …, "name": …}
    followup_url: str | None
    document_reference: str | None  # payloadID of the order an update or delete refers to
    comments: str
    extrinsics: tuple[tuple[str, str], ...]
    lines: tuple[OrderLine, ...]
    advisories: tuple[str, ...] = field(default=())

    def extrinsic(self, name: str) -> str | None:
        return next((v for k, v in self.extrinsics if k.lower() == name.lower()), None)


def read_order_request(root: etree._Element) -> OrderRequest:
    """The parts of an OrderRequest the simulator acts on, read without regard to element order."""
    order = _path(root, "Request", "OrderRequest")
    if order is None:
        order = root.find(".//OrderRequest")
    assert order is not None, "caller checks the request type first"
    header = _child(order, "OrderRequestHeader")
    advisories: list[str] = []
    if header is None:
        header = etree.Element("OrderRequestHeader")
        advisories.append("OrderRequest has no OrderRequestHeader.")
    raw_type = (header.get("type") or "new").strip()
    if raw_type != raw_type.lower():
        advisories.append(f'type="{raw_type}" read as "{raw_type.lower()}" (cXML enumerations are lower case).')
    if _child(header, "BillTo") is None:
        advisories.append("OrderRequestHeader has no BillTo (required by the DTD); accepted.")
    total = _path(header, "Total", "Money")
    pcard = _path(header, "Payment", "PCard")
    followup = _path(header, "Followup", "URL")
    reference = _child(header, "DocumentReference")
    lines = []
    for position, item in enumerate(order.iterchildren("ItemOut"), start=1):
        kids = _children(item)
        item_id = _children(kids("ItemID"))
        detail = _children(kids("ItemDetail"))
        money = _child(detail("UnitPrice"), "Money")
        raw_line = (item.get("lineNumber") or "").strip()
        lines.append(
            OrderLine(
                line_number=int(raw_line) if raw_line.isdigit() else position,
                quantity=_decimal(item.get("quantity")) or Decimal(0),
                supplier_part_id=text(item_id("SupplierPartID")),
                supplier_part_auxiliary_id=text(item_id("SupplierPartAuxiliaryID")),
                unit_price=_decimal(money.text) if money is not None else None,
                currency=(money.get("currency") or "") if money is not None else "",
                description=text(detail("Description")),
                unit_of_measure=text(detail("UnitOfMeasure")) or "EA",
                requested_delivery_date=item.get("requestedDeliveryDate") or "",
                ship_to=_address(_child(kids("ShipTo"), "Address")),
            )
        )
    return OrderRequest(
        order_id=(header.get("orderID") or "").strip(),
        order_date=(header.get("orderDate") or "").strip(),
        type=raw_type.lower(),
        order_type=(header.get("orderType") or "regular").strip(),
        total=_decimal(total.text) if total is not None else None,
        currency=(total.get("currency") or "") if total is not None else "",
        ship_to=_address(_path(header, "ShipTo", "Address")),
        bill_to=_address(_path(header, "BillTo", "Address")),
        pcard=({k: pcard.get(k) or "" for k in ("number", "expiration", "name")} if pcard is not None else None),
        followup_url=text(followup) or None if followup is not None else None,
        document_reference=reference.get("payloadID") if reference is not None else None,
        comments=" ".join(text(c) for c in header.findall("Comments")).strip(),
        extrinsics=tuple(((e.get("name") or "").strip(), text(e)) for e in header.findall("Extrinsic")),
        lines=tuple(lines),
        advisories=tuple(advisories),
    )
