"""Returning the cart: the PunchOutOrderMessage, its quotes, and the form that carries it back."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from decimal import Decimal

from .. import journal, profiles
from ..accounts import get_account
from ..context import Context
from ..cxml import build
from ..cxml.parse import parse_document
from ..cxml.types import ItemIn, Money, PunchOutOrderMessage, Tax
from ..db import transaction
from ..inbound import LANG_BY_LOCALE, envelope
from . import cart as carts
from . import sessions
from .sessions import Session

SHIPPING_TEXT = "Cost of shipping, not including shipping tax"
HEADER_TAX_TEXT = "Cost of tax, including shipping tax"


@dataclass(frozen=True)
class ReturnedCart:
    """What the shopper's browser posts back: the message and the form around it."""

    session_id: str
    payload_id: str
    xml: bytes
    action: str
    target: str
    fields: dict[str, str]
    journal_id: int
    item_count: int
    enctype: str = "application/x-www-form-urlencoded"


def cart_number() -> str:
    """An Amazon-order-number-shaped token ``NNN-NNNNNNN-NNNNNNN`` (protocol.md §3)."""
    return f"{100 + secrets.randbelow(900)}-{secrets.randbelow(10**7):07d}-{secrets.randbelow(10**7):07d}"


def detail_page_url(ctx: Context, asin: str) -> str:
    return f"{ctx.config.base_url}/shop/product/{asin}"


def _items(ctx: Context, cart: carts.Cart, number: str, lang: str) -> list[ItemIn]:
    items = []
    for index, line in enumerate(cart.lines, start=1):
        product = line.product
        taxable = Money(line.subtotal + line.shipping, cart.currency)
        items.append(
            ItemIn(
                quantity=line.quantity,
                line_number=index,
                supplier_part_id=product.asin,
                supplier_part_auxiliary_id=f"{number},{index}",
                unit_price=Money(line.unit_price, cart.currency),
                description=product.title,
                short_name="",
                lang=lang,
                unit_of_measure=product.unit_of_measure,
                unspsc=product.unspsc,
                manufacturer_part_id=product.manufacturer_part_id,
                manufacturer_name=product.manufacturer,
                url=detail_page_url(ctx, product.asin),
                lead_time_days=product.lead_time_days,
                shipping=Money(line.shipping, cart.currency),
                tax=Tax(
                    Money(line.tax, cart.currency),
                    cart.tax_description,
                    cart.tax_category,
                    cart.tax_rate,
                    taxable,
                ),
                extrinsics=(
                    ("soldBy", product.sold_by),
                    ("fulfilledBy", product.fulfilled_by),
                    ("category", product.category),
                    ("subCategory", product.sub_category),
                    ("itemCondition", product.condition),
                    ("qualifiedOffer", "true" if product.qualified_offer else "false"),
                    ("UPC", product.upc),
                    ("detailPageURL", detail_page_url(ctx, product.asin)),
                    ("ean", product.ean),
                    ("preference", product.preference),
                ),
            )
        )
    return items


def return_cart(ctx: Context, session: Session, *, cancel: bool = False) -> ReturnedCart:
    """Build the PunchOutOrderMessage for the session's cart (empty when ``cancel``) and close it."""
    if session.status in ("returned", "cancelled"):
        carts._check_writable(session)  # raises the "already returned" error
    account = get_account(ctx.conn, session.account_id)
    cart = carts.load(ctx.conn, session)
    lines = () if cancel else cart.lines
    cart = carts.Cart(lines, cart.currency, cart.tax_category, cart.tax_rate, cart.tax_description)
    env = envelope(ctx, account, to=(account.credential,))
    lang = LANG_BY_LOCALE.get(session.locale, env.lang)
    number = cart_number()
    currency = cart.currency
    message = PunchOutOrderMessage(
        buyer_cookie=session.buyer_cookie,
        operation_allowed=account.setting("operation_allowed"),
        total=Money(cart.total, currency),
        shipping=Money(cart.shipping, currency) if lines else None,
        tax=Tax(
            Money(cart.tax, currency),
            HEADER_TAX_TEXT,
            cart.tax_category,
            cart.tax_rate,
            Money(cart.total + cart.shipping, currency),
        )
        if lines
        else None,
        items=tuple(_items(ctx, cart, number, lang)),
    )
    xml = build.punchout_order_message(env, message)
    encoding = account.setting("return_encoding")
    fields, enctype = return_fields(xml, encoding)
    advisories = [f"{len(lines)} item(s) returned as {encoding}" + (" (cancelled: no items)" if cancel else "")]
    advisories += profiles.check_cart(account.setting("checks"), parse_document(xml).root, build.doctype(env.version))
    with transaction(ctx.conn):
        for index, line in enumerate(lines, start=1):
            ctx.conn.execute(
                "INSERT INTO quotes (aux_id, session_id, account_id, line_number, asin, quantity, unit_price,"
                " currency, created_at, email) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    f"{number},{index}",
                    session.id,
                    account.id,
                    index,
                    line.product.asin,
                    line.quantity,
                    str(line.unit_price),
                    currency,
                    env.timestamp,
                    session.email,
                ),
            )
        journal_id = journal.record(
            ctx.conn,
            journal.Entry(
                direction="out",
                doc_type="PunchOutOrderMessage",
                endpoint=session.browser_form_post_url,
                body=xml,
                account_id=account.id,
                session_id=session.id,
                payload_id=env.payload_id,
                content_type=f"application/x-www-form-urlencoded ({encoding})",
                advisories=tuple(advisories),
            ),
        )
        sessions.mark_returned(ctx.conn, session.id, cancelled=cancel)
    return ReturnedCart(
        session_id=session.id,
        payload_id=env.payload_id,
        xml=xml,
        action=session.browser_form_post_url,
        target=session.form_target,
        fields=fields,
        journal_id=journal_id,
        item_count=len(lines),
        enctype=enctype,
    )


RAW_FIELD = "<?xml version"


def return_fields(xml: bytes, encoding: str) -> tuple[dict[str, str], str]:
    """The form fields (and the form's enctype) that carry the cart message back through the browser.

    ``raw`` posts the XML itself as the body: a ``text/plain`` form sends ``name=value``, so a field
    named ``<?xml version`` whose value is the rest of the document makes the body the document.
    """
    text = xml.decode("utf-8")
    if encoding == "cxml-base64":
        return {"cxml-base64": base64.b64encode(xml).decode("ascii")}, "application/x-www-form-urlencoded"
    if encoding == "raw":
        assert text.startswith(RAW_FIELD + "=")
        return {RAW_FIELD: text[len(RAW_FIELD) + 1 :]}, "text/plain"
    return {"cxml-urlencoded": text}, "application/x-www-form-urlencoded"


def quoted_line(ctx: Context, aux_id: str, account_id: str) -> tuple[str, int, Decimal] | None:
    """The ASIN, quantity and unit price quoted under a SupplierPartAuxiliaryID, if we issued it to a
    session of this account (another account's quote is not this buyer's to restore)."""
    row = ctx.conn.execute(
        "SELECT asin, quantity, unit_price FROM quotes WHERE aux_id = ? AND account_id = ?",
        (aux_id.strip(), account_id),
    ).fetchone()
    if row is None:
        return None
    return row["asin"], row["quantity"], Decimal(row["unit_price"])
