"""Plain values the builders turn into cXML. Names follow the cXML elements they become."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Credential:
    domain: str
    identity: str
    shared_secret: str | None = None


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return str(self.amount.quantize(CENT))


@dataclass(frozen=True)
class Tax:
    """``Tax`` with one ``TaxDetail`` (category "sales" or "vat")."""

    money: Money
    description: str
    category: str
    percentage_rate: Decimal
    taxable_amount: Money


@dataclass(frozen=True)
class Envelope:
    """What goes on the ``cXML`` root and in its ``Header``."""

    payload_id: str
    timestamp: str
    version: str
    lang: str = "en-US"
    from_: tuple[Credential, ...] = ()
    to: tuple[Credential, ...] = ()
    sender: tuple[Credential, ...] = ()
    user_agent: str = ""


@dataclass(frozen=True)
class ItemIn:
    quantity: int
    line_number: int
    supplier_part_id: str
    supplier_part_auxiliary_id: str
    unit_price: Money
    description: str
    short_name: str
    lang: str
    unit_of_measure: str
    unspsc: str
    manufacturer_part_id: str
    manufacturer_name: str
    url: str
    lead_time_days: int
    shipping: Money
    tax: Tax
    extrinsics: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PunchOutOrderMessage:
    buyer_cookie: str
    operation_allowed: str
    total: Money
    shipping: Money | None = None
    tax: Tax | None = None
    items: tuple[ItemIn, ...] = field(default=())
