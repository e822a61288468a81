"""Read access to the catalogue built by :mod:`simulator.catalog.generate`.

Every function takes an open :class:`sqlite3.Connection` and leaves it as it
found it: rows are read through a private cursor whose ``row_factory`` is reset
to plain tuples, so the connection's own ``row_factory`` does not matter.

Search uses the FTS5 index with bm25 ranking, weighted so that a word in a
title or the ASIN counts far more than the same word in a description. User
text is never passed to FTS5 as query syntax: it is cut into words (letters and
digits), each word is quoted, and the words are ANDed; when that finds nothing
and there are several words, they are ORed instead.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, Final

from simulator.catalog.models import (
    CURRENCY_BY_LOCALE,
    DEFAULT_LOCALE,
    Category,
    PriceTier,
    Product,
    SearchPage,
    check_locale,
    tier_unit_price,
)

MAX_LIMIT: Final = 100
#: At most this many words of a query are used, each cut to this many characters.
MAX_QUERY_TOKENS: Final = 16
MAX_TOKEN_LENGTH: Final = 64

# Column weights for bm25, in products_fts column order:
# title_en, title_de, brand, category, description, asin, part_id.
_BM25: Final = "bm25(products_fts, 10.0, 10.0, 4.0, 3.0, 1.0, 50.0, 20.0)"

# Both languages are read and the locale picks in Python, so that no SQL text depends on input.
_SELECT: Final = """SELECT p.asin, p.title_en, p.title_de, p.description_en, p.description_de,
       p.brand, p.manufacturer, p.manufacturer_part_id, p.upc, p.ean,
       p.category_id, c.name_en, c.name_de, p.subcategory_id, s.name_en, s.name_de,
       p.unspsc, p.unit_of_measure,
       p.list_price_usd, p.business_price_usd, p.list_price_eur, p.business_price_eur, p.tiers,
       p.stock, p.lead_time_days, p.sold_by, p.fulfilled_by, p.amazon_fulfilled,
       p.condition, p.qualified_offer, p.preference, p.rating, p.test_behaviour
FROM products AS p
JOIN categories AS c ON c.id = p.category_id
JOIN categories AS s ON s.id = p.subcategory_id"""

_BY_ASIN: Final = _SELECT + "\nWHERE p.asin = ?"

_LIST: Final = {
    None: _SELECT + "\nORDER BY p.asin LIMIT ? OFFSET ?",
    "category": _SELECT + "\nWHERE p.category_id = ? ORDER BY p.asin LIMIT ? OFFSET ?",
    "subcategory": _SELECT + "\nWHERE p.subcategory_id = ? ORDER BY p.asin LIMIT ? OFFSET ?",
}
_COUNT: Final = {
    None: "SELECT count(*) FROM products",
    "category": "SELECT count(*) FROM products WHERE category_id = ?",
    "subcategory": "SELECT count(*) FROM products WHERE subcategory_id = ?",
}

_MATCHES: Final = f"SELECT rowid AS seq, {_BM25} AS score FROM products_fts WHERE products_fts MATCH ?"  # noqa: S608
_SEARCH_FROM: Final = f"WITH m AS ({_MATCHES})\n{_SELECT}\nJOIN m ON m.seq = p.seq\n"
# A product whose ASIN is the query goes first, then relevance (bm25 is lower for better matches).
_SEARCH_ORDER: Final = "ORDER BY p.asin = ? DESC, m.score, p.asin LIMIT ? OFFSET ?"
_SEARCH: Final = {
    None: _SEARCH_FROM + _SEARCH_ORDER,
    "category": _SEARCH_FROM + "WHERE p.category_id = ? " + _SEARCH_ORDER,
    "subcategory": _SEARCH_FROM + "WHERE p.subcategory_id = ? " + _SEARCH_ORDER,
}
_SEARCH_COUNT: Final = {
    None: "SELECT count(*) FROM products_fts WHERE products_fts MATCH ?",
    "category": "SELECT count(*) FROM products_fts AS f JOIN products AS p ON p.seq = f.rowid "
    "WHERE products_fts MATCH ? AND p.category_id = ?",
    "subcategory": "SELECT count(*) FROM products_fts AS f JOIN products AS p ON p.seq = f.rowid "
    "WHERE products_fts MATCH ? AND p.subcategory_id = ?",
}

_CATEGORIES: Final = """SELECT c.id, c.name_en, c.name_de, c.unspsc, c.parent_id, c.product_count
FROM categories AS c
LEFT JOIN categories AS parent ON parent.id = c.parent_id
ORDER BY coalesce(parent.position, c.position), c.parent_id IS NOT NULL, c.position"""

# Letters and digits of any script; everything else (quotes, *, ^, :, parentheses, -, _ ...)
# separates words, as it does for the unicode61 tokenizer.
_WORD: Final = re.compile(r"[^\W_]+")
_ASIN_SHAPE: Final = re.compile(r"[A-Z0-9]{10}")
_GET_MANY_CHUNK: Final = 500

#: English and German filler words left out of queries that have other words.
STOP_WORDS: Final = frozenset(
    {
        # English
        "a", "an", "and", "by", "for", "from", "in", "of", "on", "or", "the", "to", "with",
        # German
        "aus", "das", "der", "die", "ein", "eine", "für", "im", "mit", "und", "von", "zu",
    }
)  # fmt: skip


def _cursor(conn: sqlite3.Connection) -> sqlite3.Cursor:
    cur = conn.cursor()
    cur.row_factory = None
    return cur


def _fetchall(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    cur = _cursor(conn)
    try:
        return [tuple(row) for row in cur.execute(sql, params)]
    finally:
        cur.close()


def _fetch_int(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> int:
    cur = _cursor(conn)
    try:
        return int(cur.execute(sql, params).fetchone()[0])
    finally:
        cur.close()


def _product(row: Sequence[Any], locale: str) -> Product:
    german = locale == "de_DE"
    if german:
        list_price, business_price = Decimal(row[20]), Decimal(row[21])
    else:
        list_price, business_price = Decimal(row[18]), Decimal(row[19])
    tiers: tuple[PriceTier, ...] = ()
    if row[22] != "[]":
        tiers = tuple(
            PriceTier(int(quantity), tier_unit_price(business_price, int(discount)))
            for quantity, discount in sorted(json.loads(row[22]))
        )
    return Product(
        asin=row[0],
        title=row[2] if german else row[1],
        description=row[4] if german else row[3],
        brand=row[5],
        manufacturer=row[6],
        manufacturer_part_id=row[7],
        upc=row[8],
        ean=row[9],
        category_id=row[10],
        category=row[12] if german else row[11],
        subcategory_id=row[13],
        sub_category=row[15] if german else row[14],
        unspsc=row[16],
        unit_of_measure=row[17],
        currency=CURRENCY_BY_LOCALE[locale],
        list_price=list_price,
        business_price=business_price,
        tiers=tiers,
        stock=int(row[23]),
        lead_time_days=int(row[24]),
        sold_by=row[25],
        fulfilled_by=row[26],
        amazon_fulfilled=bool(row[27]),
        condition=row[28],
        qualified_offer=bool(row[29]),
        preference=row[30],
        rating=float(row[31]),
        test_behaviour=row[32],
    )


def normalize_asin(asin: str) -> str:
    """ASINs are compared upper-case and without surrounding blanks."""
    return asin.strip().upper()


def get_product(conn: sqlite3.Connection, asin: str, locale: str = DEFAULT_LOCALE) -> Product | None:
    """The product with ``asin`` (any case), or ``None``."""
    check_locale(locale)
    rows = _fetchall(conn, _BY_ASIN, (normalize_asin(asin),))
    return _product(rows[0], locale) if rows else None


def get_products(conn: sqlite3.Connection, asins: Sequence[str], locale: str = DEFAULT_LOCALE) -> dict[str, Product]:
    """The products among ``asins`` that exist, keyed by upper-case ASIN; unknown ASINs are left out."""
    check_locale(locale)
    wanted = list(dict.fromkeys(normalize_asin(a) for a in asins))
    found: dict[str, Product] = {}
    for start in range(0, len(wanted), _GET_MANY_CHUNK):
        chunk = wanted[start : start + _GET_MANY_CHUNK]
        sql = _SELECT + "\nWHERE p.asin IN (" + ", ".join("?" * len(chunk)) + ")"
        for row in _fetchall(conn, sql, chunk):
            found[row[0]] = _product(row, locale)
    return found


def query_words(text: str) -> list[str]:
    """The words of ``text`` that search uses.

    Letters and digits only, lower-cased, deduplicated, at most 16. Filler words
    (:data:`STOP_WORDS`) are dropped unless the query has nothing else: they occur
    in nearly every description, so they would only slow the search down.
    """
    words = list(dict.fromkeys(w[:MAX_TOKEN_LENGTH].lower() for w in _WORD.findall(text)))
    meaningful = [w for w in words if w not in STOP_WORDS]
    return (meaningful or words)[:MAX_QUERY_TOKENS]


def fts_query(words: Iterable[str], *, any_word: bool = False) -> str:
    """An FTS5 query matching every word (or any word) literally: each word becomes a quoted string."""
    quoted = ['"' + w.replace('"', '""') + '"' for w in words]
    return (" OR " if any_word else " AND ").join(quoted)


def _category_level(conn: sqlite3.Connection, category: str | None) -> str | None:
    """None for no filter, "category"/"subcategory" for a known id; raises LookupError for an unknown one."""
    if category is None:
        return None
    rows = _fetchall(conn, "SELECT parent_id FROM categories WHERE id = ?", (category,))
    if not rows:
        raise LookupError(category)
    return "category" if rows[0][0] is None else "subcategory"


def search(
    conn: sqlite3.Connection,
    query: str,
    *,
    locale: str = DEFAULT_LOCALE,
    category: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> SearchPage:
    """Search the catalogue.

    ``query`` is free text; its words must all occur in a product (in either
    language), or, when no product has them all, any of them. Results are
    ordered by relevance, except that a product whose ASIN is the whole query
    comes first. An empty query lists everything, ordered by ASIN.
    ``category`` (a top-level or subcategory id) restricts the results; an
    unknown id gives an empty page, an empty string means no filter. ``limit`` is clamped to 1..100 and
    ``offset`` to 0 and above; ``total`` counts all matches.
    """
    check_locale(locale)
    category = category or None
    limit = min(max(int(limit), 1), MAX_LIMIT)
    offset = max(int(offset), 0)
    try:
        level = _category_level(conn, category)
    except LookupError:
        return SearchPage(items=[], total=0, limit=limit, offset=offset)
    filter_params: tuple[str, ...] = () if category is None else (category,)

    words = query_words(query)
    if not words:
        total = _fetch_int(conn, _COUNT[level], filter_params)
        rows = _fetchall(conn, _LIST[level], (*filter_params, limit, offset))
        return SearchPage(items=[_product(r, locale) for r in rows], total=total, limit=limit, offset=offset)

    match = fts_query(words)
    total = _fetch_int(conn, _SEARCH_COUNT[level], (match, *filter_params))
    if total == 0 and len(words) > 1:
        match = fts_query(words, any_word=True)
        total = _fetch_int(conn, _SEARCH_COUNT[level], (match, *filter_params))
    if total == 0:
        return SearchPage(items=[], total=0, limit=limit, offset=offset)
    exact_asin = normalize_asin(query)
    if not _ASIN_SHAPE.fullmatch(exact_asin):
        exact_asin = ""
    rows = _fetchall(conn, _SEARCH[level], (match, *filter_params, exact_asin, limit, offset))
    return SearchPage(items=[_product(r, locale) for r in rows], total=total, limit=limit, offset=offset)


def list_categories(conn: sqlite3.Connection, locale: str = DEFAULT_LOCALE) -> list[Category]:
    """All categories in tree order: each top-level category followed by its subcategories."""
    check_locale(locale)
    german = locale == "de_DE"
    return [
        Category(
            id=row[0],
            name=row[2] if german else row[1],
            unspsc=row[3],
            parent_id=row[4],
            product_count=int(row[5]),
        )
        for row in _fetchall(conn, _CATEGORIES, ())
    ]
