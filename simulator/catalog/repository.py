"""Read access to the catalogue built by :mod:`simulator.catalog.generate`.

Every function takes an open :class:`sqlite3.Connection` and leaves it as it
found it: rows are read through a private cursor whose ``row_factory`` is reset
to plain tuples, so the connection's own ``row_factory`` does not matter.

Search uses the FTS5 index with bm25 ranking, weighted so that a word in a
title or the ASIN counts far more than the same word in a description. User
text is never passed to FTS5 as query syntax: it is cut into words (letters and
digits), each word is quoted, and the words are ANDed; when that finds nothing
and there are several words, they are ORed instead.

Search costs about the same whatever the size of the catalogue, and this is
what it approximates to get there (a million products, a word in 600,000 of
them: FTS5's ``bm25()`` over every match would take about half a second):

* Only a bounded set of candidates is ranked: the first :data:`CANDIDATES`
  matches in product order, plus the first :data:`TITLE_CANDIDATES` matches
  with every word in a title, the brand or an identifier (looked for among
  about the first :data:`TITLE_WINDOW` matches). Products are independent
  random draws, so "first in product order" is a fair sample, not a bias.
  Matches outside the candidates come after them, in product order. With at
  most CANDIDATES matches (most multi-word queries), every match is ranked.
* The ranking is bm25 computed here for the candidates (FTS5's formula and
  column weights), with two differences: the average product length is that of
  the candidates, and a word's document frequency is counted up to
  :data:`COUNT_LIMIT` and estimated above (from where its COUNT_LIMIT-th match
  lies). FTS5's own ``bm25()`` cannot be bounded: it counts every product with
  each word before it scores the first row.
* ``SearchPage.total`` counts up to COUNT_LIMIT matches; beyond, it is a lower
  bound (``total.exact`` False) and the pages stop there.
* A category filter is a token of the ``facet`` column ANDed to the query, so
  filtering costs no join per match.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import unicodedata
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, Final

from simulator import db
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

# Bounded ranking (see search): the candidates are the first CANDIDATES matches in product order plus
# the first TITLE_CANDIDATES matches with every word in a title, the brand or an identifier.
CANDIDATES: Final = 100
TITLE_CANDIDATES: Final = 100
TITLE_WINDOW: Final = 1000
#: Matches are counted up to COUNT_LIMIT; beyond, ``SearchPage.total`` is a lower bound (``exact`` False).
COUNT_LIMIT: Final = db.COUNT_LIMIT
_TITLE_COLUMNS: Final = "{title_en title_de brand asin part_id}"
# bm25 as FTS5 computes it (k1 1.2, b 0.75), with these column weights, in products_fts column order.
_WEIGHTS: Final = (10.0, 10.0, 4.0, 3.0, 1.0, 50.0, 20.0)
_K1: Final = 1.2
_B: Final = 0.75

_FIRST_MATCHES: Final = "SELECT rowid FROM products_fts WHERE products_fts MATCH ? ORDER BY rowid LIMIT ?"
_MATCHES_AFTER: Final = "SELECT rowid FROM products_fts WHERE products_fts MATCH ? AND rowid > ? ORDER BY rowid LIMIT ?"
_NTH_MATCH: Final = "SELECT rowid FROM products_fts WHERE products_fts MATCH ? ORDER BY rowid LIMIT 1 OFFSET ?"
_COUNT_MATCHES: Final = "SELECT count(*) FROM (SELECT 1 FROM products_fts WHERE products_fts MATCH ? LIMIT ?)"
_ROW_COUNT: Final = "SELECT CAST(value AS INTEGER) FROM catalog_meta WHERE key = 'product_count'"
_META: Final = "SELECT key, value FROM catalog_meta ORDER BY key"
_FIRST_MATCHES_UP_TO: Final = (
    "SELECT rowid FROM products_fts WHERE products_fts MATCH ? AND rowid <= ? ORDER BY rowid LIMIT ?"
)
# Document frequencies of words, per catalogue (its catalog_meta): they only change with a rebuild.
_FREQUENCIES: dict[tuple[tuple[tuple[Any, ...], ...], str], float] = {}
_FREQUENCIES_KEPT: Final = 50_000
# Whether the tokenizer takes a non-ASCII word as one term (_searchable); the same for every catalogue.
_ONE_TERM: dict[str, bool] = {}
_TEXTS: Final = """SELECT p.seq, p.title_en, p.title_de, p.brand,
       c.name_en || ' ' || c.name_de || ' ' || s.name_en || ' ' || s.name_de,
       p.description_en || ' ' || p.description_de, p.asin, p.manufacturer_part_id
FROM products AS p
JOIN categories AS c ON c.id = p.category_id
JOIN categories AS s ON s.id = p.subcategory_id
WHERE p.seq IN ({})"""
# Between a product's columns while they are folded together: not a letter or a digit, and
# neither lower() nor NFKD turns anything into it or it into anything.
_COLUMN_BREAK: Final = "\x00"
# Each product's number of tokens per column, as FTS5 counted them (docs: "The %_docsize table").
_DOC_SIZES: Final = "SELECT id, sz FROM products_fts_docsize WHERE id IN ({})"
_BY_SEQ: Final = _SELECT.replace("\nFROM products AS p", ", p.seq\nFROM products AS p", 1) + "\nWHERE p.seq IN ({})"

_CATEGORIES: Final = """SELECT c.id, c.name_en, c.name_de, c.unspsc, c.parent_id, c.product_count
FROM categories AS c
LEFT JOIN categories AS parent ON parent.id = c.parent_id
ORDER BY coalesce(parent.position, c.position), c.parent_id IS NOT NULL, c.position"""

# Letters and digits of any script; everything else (quotes, *, ^, :, parentheses, -, _ ...)
# separates words, as it does for the unicode61 tokenizer.
_WORD: Final = re.compile(r"[^\W_]+")
# Combining marks, which NFKD splits off accented letters (what remove_diacritics drops).
_MARKS: Final = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_ASIN_SHAPE: Final = re.compile(r"[A-Z0-9]{10}")
_GET_MANY_CHUNK: Final = 500
_TEST_PRODUCT_COUNT: Final = 7  # seq -7 .. -1, before the generated products in the index

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


def _searchable(conn: sqlite3.Connection, words: list[str]) -> list[str]:
    """``words`` without those the index cannot look up as one term.

    The index keeps no word positions (``detail=column``), so a quoted string that the tokenizer
    cuts into two tokens — a phrase — is refused. Every ASCII word is one token; of the letters
    Python counts as such, a few were marks in Unicode 6.1, whose tables SQLite's unicode61
    tokenizer follows, and it cuts a word there (New Tai Lue vowel signs, for example). No product
    text has them, so such a word could match nothing anyway.
    """
    kept = []
    for word in words:
        one_term = word.isascii() or _ONE_TERM.get(word)
        if one_term is None:
            try:
                _ids(conn, _FIRST_MATCHES, (fts_query([word]), 1))
                one_term = True
            except sqlite3.OperationalError as error:
                if "phrase" not in str(error):
                    raise
                one_term = False
            if len(_ONE_TERM) >= _FREQUENCIES_KEPT:
                _ONE_TERM.clear()
            _ONE_TERM[word] = one_term
        if one_term:
            kept.append(word)
    return kept


def _category_level(conn: sqlite3.Connection, category: str | None) -> str | None:
    """None for no filter, "category"/"subcategory" for a known id; raises LookupError for an unknown one."""
    if category is None:
        return None
    rows = _fetchall(conn, "SELECT parent_id FROM categories WHERE id = ?", (category,))
    if not rows:
        raise LookupError(category)
    return "category" if rows[0][0] is None else "subcategory"


def facet_token(category_id: str) -> str:
    """The token of the ``facet`` column of ``products_fts`` that marks a (sub)category.

    It starts with a private-use character, which the tokenizer keeps in a word and
    :func:`query_words` never produces, so typed words cannot match it.
    """
    return "\ue000" + category_id.replace("-", "")


def fold(word: str) -> str:
    """``word`` as the tokenizer indexes it: lower case, diacritics removed."""
    word = word.lower()
    if word.isascii():
        return word
    return _MARKS.sub("", unicodedata.normalize("NFKD", word))


def _ids(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[int]:
    return [int(row[0]) for row in _fetchall(conn, sql, params)]


def _document_frequency(conn: sqlite3.Connection, word: str, rows: int) -> float:
    """How many products contain ``word``: counted up to COUNT_LIMIT, estimated above.

    Products are independent draws, so matches are spread evenly over the product order: the
    position of the COUNT_LIMIT-th match tells the share of products that have the word.
    """
    match = fts_query([word])
    found = _fetch_int(conn, _COUNT_MATCHES, (match, COUNT_LIMIT))
    if found < COUNT_LIMIT:
        return float(found)
    nth = _fetchall(conn, _NTH_MATCH, (match, COUNT_LIMIT - 1))
    position = int(nth[0][0]) + _TEST_PRODUCT_COUNT + 1 if nth else rows
    return min(float(rows), COUNT_LIMIT * rows / max(position, COUNT_LIMIT))


def occurrences(text: str, word: str) -> int:
    """How often ``word`` (letters and digits) is a whole word of ``text``, as ``_WORD`` cuts it.

    The same as ``_WORD.findall(text).count(word)`` (``[^\\W_]`` is what ``str.isalnum`` says),
    without cutting the whole text into words: a candidate's description is long, and a query's
    words are in it a few times at most.
    """
    found = 0
    start = text.find(word)
    while start >= 0:
        end = start + len(word)
        if (start == 0 or not text[start - 1].isalnum()) and (end == len(text) or not text[end].isalnum()):
            found += 1
        start = text.find(word, start + 1)
    return found


def _token_count(sizes: bytes) -> int:
    """A product's words in the index, from its FTS5 ``docsize`` record: a varint per column.

    The last column, ``facet``, is the category filter's marks, not the product's text: it is left out.
    """
    counts: list[int] = []
    value = 0
    for byte in sizes:
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            counts.append(value)
            value = 0
    return sum(counts[: len(_WEIGHTS)])


def _scores(
    conn: sqlite3.Connection, seqs: Sequence[int], words: Sequence[str], idf: dict[str, float]
) -> dict[int, float]:
    """bm25 of the products ``seqs`` (higher is better), computed here as FTS5 computes it.

    The average document length is that of these products, not of the whole catalogue. Each
    product's length is the tokenizer's own count (FTS5 keeps it per column), and a word's
    frequency is counted where it occurs, without cutting the texts into words.
    """
    if not seqs:
        return {}
    marks = ", ".join("?" * len(seqs))
    lengths = {int(seq): _token_count(sizes) for seq, sizes in _fetchall(conn, _DOC_SIZES.format(marks), seqs)}
    counted: list[tuple[int, list[float], int]] = []
    for row in _fetchall(conn, _TEXTS.format(marks), seqs):
        frequencies = [0.0] * len(words)  # column-weighted, per word
        texts = [str(text) for text in row[1:]]
        folded = fold(_COLUMN_BREAK.join(texts))  # the columns folded at once, then apart again
        columns = folded.split(_COLUMN_BREAK)
        if len(columns) != len(texts):  # a text with the break in it
            columns = [fold(text) for text in texts]
        for position, word in enumerate(words):
            if word in folded:
                for weight, text in zip(_WEIGHTS, columns, strict=True):
                    if word in text:
                        frequencies[position] += weight * occurrences(text, word)
        counted.append((int(row[0]), frequencies, lengths.get(int(row[0]), 0)))
    average = sum(length for _, _, length in counted) / len(counted) or 1.0
    scores: dict[int, float] = {}
    weights = [idf[word] for word in words]
    for seq, frequencies, length in counted:
        norm = _K1 * (1 - _B + _B * length / average)
        score = 0.0
        for word_idf, tf in zip(weights, frequencies, strict=True):
            if tf:
                score += word_idf * tf * (_K1 + 1) / (tf + norm)
        scores[seq] = score
    return scores


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
    ``offset`` to 0 and above.

    ``total`` counts the matches up to :data:`COUNT_LIMIT`; beyond, it is
    COUNT_LIMIT with ``total.exact`` False (a :class:`simulator.db.Total`), and
    pages end there.

    Ranking is bounded, so that a word found in most of a million products costs
    no more than a rare one: the candidates are the first :data:`CANDIDATES`
    matches in product order (products are independent random draws, so this is
    a fair sample) plus the first :data:`TITLE_CANDIDATES` matches with every
    word in a title, the brand or an identifier. The candidates are ranked by
    bm25 with the column weights of :data:`_WEIGHTS` (what FTS5's ``bm25()``
    computes, with each word's document frequency counted up to COUNT_LIMIT and
    estimated above); the other matches follow in product order. When there are
    at most CANDIDATES matches, every match is ranked: the order is exactly
    bm25's.
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

    typed = query_words(query)
    # Folding can make more than one word of one ("½" is "1⁄2"): each is looked up on its own.
    words = _searchable(conn, list(dict.fromkeys(part for word in typed for part in _WORD.findall(fold(word)))))
    if typed and not words:  # nothing in the query can be looked up: it finds nothing
        return SearchPage(items=[], total=0, limit=limit, offset=offset)
    if not words:
        total = _listing_count(conn, category)
        rows = _fetchall(conn, _LIST[level], (*filter_params, limit, offset))
        return SearchPage(items=[_product(r, locale) for r in rows], total=total, limit=limit, offset=offset)

    facet = "" if category is None else " AND " + fts_query([facet_token(category)])
    candidates: list[int] = []
    for any_word in (False, True) if len(words) > 1 else (False,):
        words_query = "(" + fts_query(words, any_word=any_word) + ")"
        match = words_query + facet
        candidates = _ids(conn, _FIRST_MATCHES, (match, CANDIDATES + 1))
        if candidates:
            break
    titled: list[int] = []
    if len(candidates) <= CANDIDATES:
        total = db.Total(len(candidates))  # every match is a candidate
    else:
        del candidates[CANDIDATES:]
        total = _count(conn, match)
        # Title matches are looked for among about the first TITLE_WINDOW matches only, so that a
        # query whose words are rarely in a title does not scan all its matches. Matches are spread
        # evenly over the product order, so the window ends about TITLE_WINDOW / CANDIDATES times as
        # far as the candidates do.
        window = (candidates[-1] + _TEST_PRODUCT_COUNT + 1) * TITLE_WINDOW // CANDIDATES
        title_match = f"{_TITLE_COLUMNS} : {words_query}{facet}"
        titled = _ids(conn, _FIRST_MATCHES_UP_TO, (title_match, window, TITLE_CANDIDATES))
    if not total or offset >= total:
        return SearchPage(items=[], total=total, limit=limit, offset=offset)
    last_candidate = candidates[-1]
    pool = list(dict.fromkeys(candidates + titled))
    meta = tuple(_fetchall(conn, _META, ()))
    rows_total = int(dict(meta).get("product_count", 0))
    idf = {}
    for word in words:
        frequency = _FREQUENCIES.get((meta, word))
        if frequency is None:
            if len(_FREQUENCIES) >= _FREQUENCIES_KEPT:
                _FREQUENCIES.clear()
            frequency = _FREQUENCIES[meta, word] = _document_frequency(conn, word, rows_total)
        idf[word] = max(math.log((rows_total - frequency + 0.5) / (frequency + 0.5)), 1e-6)
    scores = _scores(conn, pool, words, idf)
    first: int | None = None
    exact_asin = normalize_asin(query)
    if _ASIN_SHAPE.fullmatch(exact_asin):
        found = _ids(conn, "SELECT seq FROM products WHERE asin = ?", (exact_asin,))
        first = found[0] if found and found[0] in scores else None
    ranked = sorted(pool, key=lambda seq: (seq != first, -scores.get(seq, 0.0), seq))

    wanted = min(offset + limit, total)
    order = ranked[offset:wanted]
    if len(ranked) < wanted:
        # The rest follow in product order: matches after the last candidate, without the title ones.
        skip = max(offset - len(ranked), 0)
        need = wanted - len(ranked) - skip
        in_pool = set(pool)
        after = _ids(conn, _MATCHES_AFTER, (match, last_candidate, skip + need + len(titled)))
        order += [seq for seq in after if seq not in in_pool][skip : skip + need]
    if not order:
        return SearchPage(items=[], total=total, limit=limit, offset=offset)
    by_seq = {int(row[33]): row for row in _fetchall(conn, _BY_SEQ.format(", ".join("?" * len(order))), order)}
    items = [_product(by_seq[seq], locale) for seq in order if seq in by_seq]
    return SearchPage(items=items, total=total, limit=limit, offset=offset)


def _count(conn: sqlite3.Connection, match: str) -> db.Total:
    found = _fetch_int(conn, _COUNT_MATCHES, (match, COUNT_LIMIT + 1))
    return db.Total(COUNT_LIMIT, exact=False) if found > COUNT_LIMIT else db.Total(found)


def _listing_count(conn: sqlite3.Connection, category: str | None) -> int:
    """Products in ``category`` (all without one), from the counts the build stored."""
    if category is None:
        return _fetch_int(conn, _ROW_COUNT, ())
    return _fetch_int(conn, "SELECT product_count FROM categories WHERE id = ?", (category,))


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
