"""OCI ``NEW_ITEM`` fields: names, lengths and the mapping from a catalogue product (no Flask, no SQL).

Lengths are SAP's (protocol.md §8; the same in OCI 4.0 and 5.0, whose field table keeps
DESCRIPTION at 40). They count characters, not bytes: the form is posted as UTF-8. A value longer
than its field is cut (and a blank left at the end of the cut dropped, as SAP drops it), and the
cut is reported as an advisory for the journal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from ..catalog.models import Product

#: The NEW_ITEM fields this simulator sends, in the order it sends them, with their OCI lengths.
LENGTHS: Final[dict[str, int]] = {
    "DESCRIPTION": 40,
    "MATNR": 40,
    "QUANTITY": 15,
    "UNIT": 3,
    "PRICE": 15,
    "PRICEUNIT": 5,
    "CURRENCY": 5,
    "LEADTIME": 5,
    "VENDOR": 10,
    "VENDORMAT": 40,
    "MANUFACTCODE": 10,
    "MANUFACTMAT": 40,
    "MATGROUP": 10,
    "EXT_PRODUCT_ID": 40,
    "EXT_QUOTE_ID": 35,
    "CUST_FIELD1": 10,
    "CUST_FIELD2": 10,
    "CUST_FIELD3": 10,
    "CUST_FIELD4": 20,
    "CUST_FIELD5": 50,
}
LONGTEXT_CHUNK: Final = 132
#: The supplier's number in the buyer's SAP (a business partner number there). Amazon has none that
#: is the same for every buyer, so a constant stands in; SAP maps it, or the buyer ignores it.
VENDOR: Final = "AMAZON"
OK_CODE: Final = "ADDI"  # what SAP sends (and wants back) when it asks for items to be added
QUANTITY_DECIMALS: Final = 3  # "3.000", as SAP and real catalogues send it (decimal point)


def field_name(field: str, index: int) -> str:
    return f"NEW_ITEM-{field}[{index}]"


def longtext_name(index: int) -> str:
    return f"NEW_ITEM-LONGTEXT_{index}:132[]"


def quantity_text(quantity: int | Decimal) -> str:
    return f"{Decimal(quantity):.{QUANTITY_DECIMALS}f}"


def price_text(price: Decimal) -> str:
    return f"{price:.2f}"


def chunks(text: str, size: int = LONGTEXT_CHUNK) -> list[str]:
    """``text`` in pieces of ``size`` characters; joined again, they give the text back exactly."""
    text = text.strip()
    return [text[start : start + size] for start in range(0, len(text), size)]


@dataclass(frozen=True)
class Line:
    """One item to send: the product, the quantity, its unit price and the quote that holds it."""

    product: Product
    quantity: int
    unit_price: Decimal
    quote_id: str  # "" when the line is not a quote (background functions)
    detail_url: str


def item_values(line: Line) -> dict[str, str]:
    """The NEW_ITEM values of one line before any cut (see the README's mapping table)."""
    product = line.product
    return {
        "DESCRIPTION": product.title,
        "MATNR": "",  # the buyer's own material number: only the buyer's SAP knows it
        "QUANTITY": quantity_text(line.quantity),
        "UNIT": product.unit_of_measure,
        "PRICE": price_text(line.unit_price),
        "PRICEUNIT": "1",
        "CURRENCY": product.currency,
        "LEADTIME": str(product.lead_time_days),
        "VENDOR": VENDOR,
        "VENDORMAT": product.asin,
        "MANUFACTCODE": product.manufacturer,
        "MANUFACTMAT": product.manufacturer_part_id,
        "MATGROUP": product.unspsc,
        "EXT_PRODUCT_ID": product.asin,
        "EXT_QUOTE_ID": line.quote_id,
        "CUST_FIELD1": product.sold_by,
        "CUST_FIELD2": product.fulfilled_by,
        "CUST_FIELD3": product.condition,
        "CUST_FIELD4": product.upc,
        "CUST_FIELD5": line.detail_url,
    }


def item_fields(index: int, line: Line) -> tuple[list[tuple[str, str]], list[str]]:
    """The form fields of item ``index`` (from 1), each within its length, and an advisory per cut."""
    pairs: list[tuple[str, str]] = []
    advisories: list[str] = []
    for field, value in item_values(line).items():
        name, limit = field_name(field, index), LENGTHS[field]
        value = value.strip()
        if len(value) > limit:
            cut = value[:limit].rstrip()  # SAP drops trailing blanks of a CHAR field anyway
            advisories.append(f"{name}: {len(value)} characters cut to the OCI length {limit}: {value!r} -> {cut!r}.")
            value = cut
        pairs.append((name, value))
    for piece in chunks(line.product.description):
        pairs.append((longtext_name(index), piece))
    return pairs, advisories


def form_fields(
    lines: list[Line], *, ok_code: str, caller: str | None
) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """All the fields of a return form: ``~OkCode``, ``~caller`` (when the buyer sent one), then the items."""
    pairs: list[tuple[str, str]] = [("~OkCode", ok_code)]
    if caller is not None:
        pairs.append(("~caller", caller))
    advisories: list[str] = []
    for index, line in enumerate(lines, start=1):
        item, cuts = item_fields(index, line)
        pairs += item
        advisories += cuts
    return tuple(pairs), tuple(advisories)
