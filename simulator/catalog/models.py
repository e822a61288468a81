"""Value types of the product catalogue.

Everything here is immutable and free of database concerns: the repository
builds these objects from rows, the shop and the cXML code read them.
Money is always :class:`decimal.Decimal` with two places, in the currency of
the locale the object was read for (see :data:`CURRENCY_BY_LOCALE`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

#: The locales the catalogue speaks, and the currency each one shows prices in.
CURRENCY_BY_LOCALE: Final[dict[str, str]] = {"en_US": "USD", "de_DE": "EUR"}

#: Default locale of every read function.
DEFAULT_LOCALE: Final = "en_US"

CENT: Final = Decimal("0.01")


def check_locale(locale: str) -> str:
    """Return ``locale`` if the catalogue supports it, else raise :class:`ValueError`."""
    if locale not in CURRENCY_BY_LOCALE:
        supported = ", ".join(sorted(CURRENCY_BY_LOCALE))
        raise ValueError(f"unsupported locale {locale!r}; expected one of {supported}")
    return locale


def to_cents(amount: Decimal) -> Decimal:
    """Round ``amount`` half-up to whole cents."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def tier_unit_price(business_price: Decimal, discount_percent: int) -> Decimal:
    """Unit price of a quantity tier: the business price less ``discount_percent``, half-up to cents."""
    return to_cents(business_price * (100 - discount_percent) / 100)


@dataclass(frozen=True)
class PriceTier:
    """From ``min_quantity`` units on, each unit costs ``unit_price``."""

    min_quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class Product:
    """One offer of the catalogue, read for one locale.

    ``title``, ``description``, ``category``, ``sub_category`` and all prices are
    in that locale (``currency`` says which currency). ``tiers`` are sorted by
    ``min_quantity``. ``test_behaviour`` is ``None`` for ordinary products and
    one of the codes in :data:`simulator.catalog.generate.TEST_BEHAVIOURS` for
    the fixed test products.
    """

    asin: str
    title: str
    description: str
    brand: str
    manufacturer: str
    manufacturer_part_id: str
    upc: str
    ean: str
    category_id: str
    category: str
    subcategory_id: str
    sub_category: str
    unspsc: str
    unit_of_measure: str
    currency: str
    list_price: Decimal
    business_price: Decimal
    tiers: tuple[PriceTier, ...]
    stock: int
    lead_time_days: int
    sold_by: str
    fulfilled_by: str
    amazon_fulfilled: bool
    condition: str
    qualified_offer: bool
    preference: str
    rating: float
    test_behaviour: str | None

    def unit_price(self, quantity: int) -> Decimal:
        """Price of one unit when ``quantity`` units are bought.

        The lowest price among the tiers whose ``min_quantity`` the quantity
        reaches, or the business price when it reaches none.
        """
        price = self.business_price
        for tier in self.tiers:
            if quantity >= tier.min_quantity and tier.unit_price < price:
                price = tier.unit_price
        return price


@dataclass(frozen=True)
class Category:
    """A node of the category tree; ``parent_id`` is ``None`` for top-level categories.

    ``product_count`` counts the products in the node, subcategories included.
    """

    id: str
    name: str
    unspsc: str
    parent_id: str | None
    product_count: int


@dataclass(frozen=True)
class SearchPage:
    """One page of search results; ``total`` counts all matches, not just this page."""

    items: list[Product]
    total: int
    limit: int
    offset: int
