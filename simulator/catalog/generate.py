"""Build the simulated product catalogue into SQLite.

The catalogue is generated, not stored: :func:`build_catalog` turns a
``(size, seed)`` pair into ``size`` products plus the seven fixed test products
of ``catalog_data/test_products.json``. The same seed gives byte-identical rows
on every machine and whatever the batch size, because

* faker (pinned in pyproject.toml) is only used once per build, seeded, to draw
  small vocabularies (product-line names, model-number prefixes);
* product ``i`` is then built from those vocabularies and ``catalog_data`` with
  random draws taken from a BLAKE2b digest of ``i`` keyed with the seed, so it
  depends on no other product (batches can be generated in parallel, see
  :meth:`ProductFactory.rows`);
* draws and money use integer arithmetic only (no ``pow``/``log``, whose last
  bit may differ between C libraries); prices are computed in integer cents.

Schema (all created by :func:`build_catalog`)::

    catalog_meta(key TEXT PRIMARY KEY, value TEXT)
        generator_version, schema_version, size, seed, data_digest, product_count
    categories(id TEXT PRIMARY KEY, parent_id TEXT NULL, position INTEGER,
               name_en, name_de, unspsc TEXT, product_count INTEGER)
    products(seq INTEGER PRIMARY KEY, asin TEXT NOT NULL UNIQUE, ...)
        seq is the product index (0 .. size-1; test products -1 .. -7) and the
        rowid the search index refers to; asin is the key callers use.
        Money columns are TEXT decimals ("12.99"); tiers is JSON text
        [[min_quantity, discount_percent], ...].
    products_fts  FTS5, contentless (content=''), see below.

``products_fts`` is *contentless*: it stores only the index, not a second copy
of the text (a plain FTS5 table would add about 50 MB per 100,000 products),
and that is enough for MATCH; ``highlight()`` and ``snippet()`` are not
available, and results are joined back to ``products`` on ``rowid = seq``.
Columns: ``title_en, title_de, brand, category`` (top-level and subcategory
names in both languages), ``description`` (both languages), ``asin, part_id``
and ``facet``: one token per category and subcategory of the product (see
:func:`simulator.catalog.repository.facet_token`), so that a category filter is
part of the full-text query instead of a join per match. Tokenizer ``unicode61
remove_diacritics 2``; ``detail=column`` (no word positions: no phrase queries),
merged into one segment at the end of a build.

Building a million products (the ``--catalog-size`` of a load test) takes
about a minute on two cores:

* rows are generated in batches by worker processes (``processes``; product
  ``i`` depends only on the seed and ``i``), while this process inserts them
  and indexes each batch right after inserting it, in rowid order (FTS5
  appends cheaply when rowids grow; see ``_FTS_SETTINGS``);
* the build writes staging tables (``catalog_build_*``) and commits every
  ``commit_every`` products, so that the write-ahead log stays small; one last
  transaction drops the old catalogue, renames the staging tables into place,
  creates the indexes and writes ``catalog_meta``. A build that is killed
  leaves the old catalogue (or none) in place and staging tables behind,
  which the next build drops (:func:`unfinished_build`).

Euro prices are the dollar prices times :data:`EUR_PER_USD` (0.92), rounded
half-up to the cent.

Connection tuning (``PRAGMA journal_mode``, ``synchronous``) is the caller's
business; the build only raises ``cache_size`` while it runs
(:data:`BUILD_CACHE_KIB`) and puts it back. The search index's own settings
(``_FTS_SETTINGS``) stay with the index.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import re
import sqlite3
from bisect import bisect_right
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from multiprocessing.pool import AsyncResult
from pathlib import Path
from typing import Any, Final, TypeVar

#: Bump when a change to this module changes the rows it produces for a seed.
GENERATOR_VERSION: Final = "1"

#: Bump when the tables or the search index change (the rows may stay the same): a catalogue built
#: with another schema version is rebuilt at the next start.
SCHEMA_VERSION: Final = "3"

#: Default location of the seed data (``catalog_data/`` at the repository root).
DEFAULT_DATA_DIR: Final = Path(__file__).resolve().parents[2] / "catalog_data"

#: Fixed conversion used for every euro price.
EUR_PER_USD: Final = Decimal("0.92")
_EUR_PER_USD_PERCENT: Final = 92

#: Behaviour code of each fixed test product.
TEST_BEHAVIOURS: Final[dict[str, str]] = {
    "B0TESTBACK": "backordered",
    "B0TESTREJT": "rejected",
    "B0TESTPART": "partial",
    "B0TESTPRCE": "price_rise",
    "B0TESTSPLT": "split",
    "B0TESTSLOW": "slow",
    "B0TESTOOST": "out_of_stock",
}

#: Generated products are indexed 0 .. MAX_SIZE-1 (the ASIN bijection is on 40 bits).
MAX_SIZE: Final = 1 << 40

DEFAULT_BATCH_SIZE: Final = 10_000

_DATA_FILES: Final = (
    "categories.json",
    "brands.json",
    "sellers.json",
    "units_of_measure.json",
    "offers.json",
    "test_products.json",
)

# Shares of generated products, in percent.
_FIRST_PARTY_PERCENT: Final = 35
_FBA_PERCENT: Final = 60  # of third-party offers, fulfilled by Amazon
_ADJECTIVE_PERCENT: Final = 60
_SERIES_IN_TITLE_PERCENT: Final = 35
_TIERED_PERCENT: Final = 30
_OUT_OF_STOCK_PERCENT: Final = 6
_UPC_PART_ID_PERCENT: Final = 8

_TIER_QUANTITIES: Final = (5, 10, 20, 25, 50, 100, 250)
_PRICE_ENDINGS: Final = (99, 99, 99, 99, 49, 95, 0, 29, 79)
_MODEL_SUFFIXES: Final = ("", "", "", "", "B", "X", "S", "P", "N")
_FBA_LEAD_TIMES: Final = (1, 1, 2, 2, 2, 2, 3, 3, 4, 5)
_UPC_NUMBER_SYSTEMS: Final = (0, 1, 6, 7, 8)
_ASIN_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_BASE36_PAIRS: Final = tuple(a + b for a in _ASIN_ALPHABET for b in _ASIN_ALPHABET)
_MASK20: Final = (1 << 20) - 1
_TEN_DIGITS: Final = 10**10

ProgressCallback = Callable[[int, int], None]
T = TypeVar("T")
Pair = tuple[str, str]


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Subcategory:
    """A subcategory with everything needed to generate its products."""

    id: str
    category_id: str
    name_en: str
    name_de: str
    unspsc: str
    nouns: tuple[Pair, ...]
    adjectives: tuple[Pair, ...]
    variants: tuple[Pair, ...]
    features: tuple[Pair, ...]
    usage: tuple[Pair, ...]
    units: tuple[str, ...]
    pack_sizes: tuple[int, ...]
    price_min_cents: int
    price_max_cents: int
    allow_used: bool
    brands: tuple[tuple[str, str], ...]
    sellers: tuple[str, ...]


@dataclass(frozen=True)
class TopCategory:
    id: str
    name_en: str
    name_de: str
    unspsc: str
    subcategory_ids: tuple[str, ...]


@dataclass(frozen=True)
class Unit:
    code: str
    pack_en: str
    pack_de: str
    uses_pack_size: bool


@dataclass(frozen=True)
class CatalogData:
    """The parsed contents of ``catalog_data/``."""

    categories: tuple[TopCategory, ...]
    subcategories: tuple[Subcategory, ...]
    units: dict[str, Unit]
    first_party_sold_by: str
    first_party_fulfilled_by: str
    conditions: tuple[tuple[str, int], ...]
    preferences: tuple[tuple[str, int], ...]
    templates_en: tuple[str, ...]
    templates_de: tuple[str, ...]
    test_products: tuple[dict[str, Any], ...]
    digest: str

    def subcategory(self, subcategory_id: str) -> Subcategory:
        for sub in self.subcategories:
            if sub.id == subcategory_id:
                return sub
        raise KeyError(subcategory_id)

    @property
    def unspsc_codes(self) -> frozenset[str]:
        return frozenset(c.unspsc for c in self.categories) | frozenset(s.unspsc for s in self.subcategories)


class CatalogDataError(ValueError):
    """``catalog_data/`` is missing something or contradicts itself."""


def _pairs(raw: Any, where: str) -> tuple[Pair, ...]:
    pairs = tuple((str(p[0]), str(p[1])) for p in raw)
    if not pairs or any(len(p) != 2 or not p[0] or not p[1] for p in raw):
        raise CatalogDataError(f"{where}: expected a non-empty list of [English, German] pairs")
    return pairs


def _cents(value: Any) -> int:
    return int((Decimal(str(value)) * 100).to_integral_exact())


def load_catalog_data(data_dir: Path | None = None) -> CatalogData:
    """Read and check the seed data in ``data_dir`` (default :data:`DEFAULT_DATA_DIR`)."""
    base = data_dir if data_dir is not None else DEFAULT_DATA_DIR
    raw: dict[str, Any] = {}
    digest = hashlib.sha256()
    for name in _DATA_FILES:
        content = (base / name).read_bytes()
        digest.update(name.encode() + b"\0" + content + b"\0")
        raw[name] = json.loads(content)

    units = {
        code: Unit(code, u["pack_en"], u["pack_de"], bool(u["uses_pack_size"]))
        for code, u in raw["units_of_measure.json"]["units"].items()
    }
    sellers_raw = raw["sellers.json"]
    brands_raw = raw["brands.json"]["brands"]
    offers = raw["offers.json"]

    categories: list[TopCategory] = []
    subcategories: list[Subcategory] = []
    seen_ids: set[str] = set()
    for cat in raw["categories.json"]["categories"]:
        cat_id = cat["id"]
        brands = tuple((b["name"], b["manufacturer"]) for b in brands_raw if cat_id in b["categories"])
        sellers = tuple(
            s["name"] for s in sellers_raw["third_party"] if cat_id in s["categories"] or "*" in s["categories"]
        )
        if not brands or not sellers:
            raise CatalogDataError(f"category {cat_id}: needs at least one brand and one third-party seller")
        usage = _pairs(cat["usage"], f"{cat_id}.usage")
        sub_ids = []
        for sub in cat["subcategories"]:
            where = f"{cat_id}/{sub['id']}"
            sub_units = tuple(sub["units"])
            unknown = [u for u in sub_units if u not in units]
            if not sub_units or unknown:
                raise CatalogDataError(f"{where}: unknown or missing units {unknown}")
            packs = tuple(int(n) for n in sub["pack_sizes"])
            if any(units[u].uses_pack_size for u in sub_units) and not packs:
                raise CatalogDataError(f"{where}: units need pack_sizes")
            low, high = (_cents(p) for p in sub["price_usd"])
            if not 0 < low < high:
                raise CatalogDataError(f"{where}: bad price range")
            features = _pairs(sub["features"], f"{where}.features")
            if len(features) < 2:
                raise CatalogDataError(f"{where}: needs at least two features")
            subcategories.append(
                Subcategory(
                    id=sub["id"],
                    category_id=cat_id,
                    name_en=sub["name_en"],
                    name_de=sub["name_de"],
                    unspsc=sub["unspsc"],
                    nouns=_pairs(sub["nouns"], f"{where}.nouns"),
                    adjectives=_pairs(sub["adjectives"], f"{where}.adjectives"),
                    variants=_pairs(sub["variants"], f"{where}.variants"),
                    features=features,
                    usage=usage,
                    units=sub_units,
                    pack_sizes=packs,
                    price_min_cents=low,
                    price_max_cents=high,
                    allow_used=bool(cat["allow_used"]),
                    brands=brands,
                    sellers=sellers,
                )
            )
            sub_ids.append(sub["id"])
        categories.append(TopCategory(cat_id, cat["name_en"], cat["name_de"], cat["unspsc"], tuple(sub_ids)))

    for node_id, code in [(c.id, c.unspsc) for c in categories] + [(s.id, s.unspsc) for s in subcategories]:
        if node_id in seen_ids:
            raise CatalogDataError(f"duplicate category id {node_id}")
        seen_ids.add(node_id)
        if len(code) != 8 or not code.isdigit():
            raise CatalogDataError(f"{node_id}: UNSPSC code must be 8 digits, got {code!r}")

    test_products = tuple(raw["test_products.json"]["products"])
    if {p["asin"]: p["test_behaviour"] for p in test_products} != TEST_BEHAVIOURS:
        raise CatalogDataError("test_products.json must define exactly the products of TEST_BEHAVIOURS")
    for product in test_products:
        if product["subcategory_id"] not in seen_ids or product["unit_of_measure"] not in units:
            raise CatalogDataError(f"{product['asin']}: unknown subcategory or unit")

    return CatalogData(
        categories=tuple(categories),
        subcategories=tuple(subcategories),
        units=units,
        first_party_sold_by=sellers_raw["first_party"]["sold_by"],
        first_party_fulfilled_by=sellers_raw["first_party"]["fulfilled_by"],
        conditions=tuple((c["value"], int(c["weight"])) for c in offers["conditions"]),
        preferences=tuple((p["value"], int(p["weight"])) for p in offers["preferences"]),
        templates_en=tuple(offers["description_templates_en"]),
        templates_de=tuple(offers["description_templates_de"]),
        test_products=test_products,
        digest=digest.hexdigest(),
    )


# ------------------------------------------------------------------ vocabulary


@dataclass(frozen=True)
class Vocabulary:
    """Words drawn once per build with faker; products pick from them."""

    series: tuple[str, ...]
    model_prefixes: tuple[str, ...]


def draw_vocabulary(seed: int, *, series_count: int = 300, prefix_count: int = 200) -> Vocabulary:
    """Draw product-line names and model-number prefixes with a faker seeded by ``seed``."""
    from faker import Faker  # imported here: it takes a quarter of a second to load

    fake = Faker("en_US")
    fake.seed_instance(seed)
    series: dict[str, None] = {}
    for _ in range(series_count * 20):
        if len(series) == series_count:
            break
        name = fake.last_name()
        if name.isalpha():
            series[name] = None
    prefixes: dict[str, None] = {}
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    for n in range(prefix_count * 20):
        if len(prefixes) == prefix_count:
            break
        prefixes[fake.lexify("??" if n % 3 else "???", letters=letters)] = None
    return Vocabulary(tuple(series), tuple(prefixes))


# --------------------------------------------------------------- number codes


# Weighted digit sum of every four-digit group (weights 1, 3, 1, 3 from the left).
_GTIN_GROUPS: Final = tuple(v // 1000 + 3 * (v // 100 % 10) + v // 10 % 10 + 3 * (v % 10) for v in range(10_000))


def gtin_check_value(body: int) -> int:
    """GS1 check digit of a UPC/EAN body given as a number (weights 3, 1, 3 ... from the right)."""
    groups, total = _GTIN_GROUPS, 0
    while body:
        body, group = divmod(body, 10_000)
        total += groups[group]
    return -total % 10


def gtin_check_digit(body: str) -> str:
    """GS1 check digit for a UPC/EAN body (all digits but the last)."""
    return str(gtin_check_value(int(body)))


def is_valid_gtin(code: str) -> bool:
    """True if ``code`` is all digits and its last digit is the right check digit."""
    return len(code) > 1 and code.isdigit() and gtin_check_digit(code[:-1]) == code[-1]


def _derive(seed: int, label: str, bits: int = 32) -> int:
    digest = hashlib.blake2b(f"{label}:{seed}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & ((1 << bits) - 1)


class AsinMapper:
    """Seeded bijection from product index (< 2**40) to ``B0`` + 8 base-36 characters.

    A four-round Feistel network on 40 bits; the result is below 36**8 and its
    first character is at most ``E``, so it can never spell ``B0TEST...``.
    """

    def __init__(self, seed: int) -> None:
        self._keys = tuple(_derive(seed, f"asin{r}", 20) for r in range(4))

    def __call__(self, index: int) -> str:
        left, right = index >> 20, index & _MASK20
        for key in self._keys:
            mixed = ((right ^ key) * 0x2545F491 + (right >> 7) + key) & 0xFFFFFFFF
            left, right = right, left ^ ((mixed ^ (mixed >> 13)) & _MASK20)
        value = (left << 20) | right
        high, low = divmod(value, 1296 * 1296)
        chunks = _BASE36_PAIRS
        return "B0" + chunks[high // 1296] + chunks[high % 1296] + chunks[low // 1296] + chunks[low % 1296]


def usd_to_eur_cents(usd_cents: int) -> int:
    """Convert with :data:`EUR_PER_USD`, rounding half-up to the cent."""
    return (usd_cents * _EUR_PER_USD_PERCENT + 50) // 100


def cents_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _weighted(table: Sequence[tuple[str, int]]) -> tuple[tuple[str, ...], tuple[int, ...], int]:
    values, bounds, total = [], [], 0
    for value, weight in table:
        total += weight
        values.append(value)
        bounds.append(total)
    return tuple(values), tuple(bounds), total


# ------------------------------------------------------------------ products

PRODUCT_COLUMNS: Final = (
    "seq",
    "asin",
    "title_en",
    "title_de",
    "description_en",
    "description_de",
    "brand",
    "manufacturer",
    "manufacturer_part_id",
    "upc",
    "ean",
    "category_id",
    "subcategory_id",
    "unspsc",
    "unit_of_measure",
    "list_price_usd",
    "business_price_usd",
    "list_price_eur",
    "business_price_eur",
    "tiers",
    "stock",
    "lead_time_days",
    "sold_by",
    "fulfilled_by",
    "amazon_fulfilled",
    "condition",
    "qualified_offer",
    "preference",
    "rating",
    "test_behaviour",
)

ProductRow = tuple[Any, ...]
_SUBCATEGORY: Final = PRODUCT_COLUMNS.index("subcategory_id")


class ProductFactory:
    """Builds product rows; row ``i`` depends only on the seed, ``i`` and the data.

    Each row draws from its own pool of 512 random bits, a BLAKE2b digest of the
    index keyed with the seed. Draws take the pool apart in mixed radix
    (``pool, r = divmod(pool, n)``), so every draw is an exact integer operation
    and costs less than a call to :mod:`random`; a row uses about 240 bits.
    """

    def __init__(self, data: CatalogData, vocabulary: Vocabulary, seed: int) -> None:
        self._data = data
        self._vocab = vocabulary
        self._seed = seed
        self._hasher = hashlib.blake2b(digest_size=64, key=f"punchout-catalog:{seed}".encode())
        self._asin = AsinMapper(seed)
        self._upc_mul = (_derive(seed, "upc-a") % 10**9) * 10 + 7
        self._upc_add = _derive(seed, "upc-b", 60) % _TEN_DIGITS
        self._ean_mul = (_derive(seed, "ean-a") % 10**9) * 10 + 3
        self._ean_add = _derive(seed, "ean-b", 60) % _TEN_DIGITS
        self._conditions = _weighted(data.conditions)
        self._preferences = _weighted(data.preferences)

    def __reduce__(self) -> tuple[type[ProductFactory], tuple[CatalogData, Vocabulary, int]]:
        # Picklable, so that worker processes can each generate a range of rows.
        return (ProductFactory, (self._data, self._vocab, self._seed))

    def _pool(self, index: int) -> int:
        hasher = self._hasher.copy()
        hasher.update(index.to_bytes(8, "little"))
        return int.from_bytes(hasher.digest(), "little")

    def row(self, index: int) -> ProductRow:
        """The row of generated product ``index``, in :data:`PRODUCT_COLUMNS` order."""
        data, vocab = self._data, self._vocab
        pool = self._pool(index)

        def below(n: int) -> int:
            nonlocal pool
            pool, r = divmod(pool, n)
            return r

        def pick(seq: Sequence[T]) -> T:
            nonlocal pool
            pool, r = divmod(pool, len(seq))
            return seq[r]

        def weighted(table: tuple[tuple[str, ...], tuple[int, ...], int]) -> str:
            values, bounds, total = table
            return values[bisect_right(bounds, below(total))]

        sub = pick(data.subcategories)
        brand, manufacturer = pick(sub.brands)
        noun_en, noun_de = pick(sub.nouns)
        variant_en, variant_de = pick(sub.variants)
        series = pick(vocab.series)
        prefix = pick(vocab.model_prefixes)
        model_number = f"{100 + below(9900)}{pick(_MODEL_SUFFIXES)}"
        model = f"{prefix}-{model_number}"

        unit = data.units[pick(sub.units)]
        pack_en, pack_de = unit.pack_en, unit.pack_de
        if unit.uses_pack_size:
            count = str(pick(sub.pack_sizes))
            pack_en, pack_de = pack_en.replace("{n}", count), pack_de.replace("{n}", count)

        head = f"{brand} {series}" if below(100) < _SERIES_IN_TITLE_PERCENT else brand
        if below(100) < _ADJECTIVE_PERCENT:
            adjective_en, adjective_de = pick(sub.adjectives)
            title_en = f"{head} {adjective_en} {noun_en} {model}, {variant_en}"
            title_de = f"{head} {noun_de} {model}, {adjective_de}, {variant_de}"
        else:
            title_en = f"{head} {noun_en} {model}, {variant_en}"
            title_de = f"{head} {noun_de} {model}, {variant_de}"
        if pack_en:
            title_en = f"{title_en}, {pack_en}"
            title_de = f"{title_de}, {pack_de}"

        features = sub.features
        first = below(len(features))
        second = below(len(features) - 1)
        second += second >= first
        feature1, feature2 = features[first], features[second]
        usage_en, usage_de = pick(sub.usage)
        template = below(len(data.templates_en))
        description_en = data.templates_en[template].format(
            brand=brand, noun=noun_en, series=series, feature1=feature1[0], feature2=feature2[0], usage=usage_en
        )
        description_de = data.templates_de[template].format(
            brand=brand, noun=noun_de, series=series, feature1=feature1[1], feature2=feature2[1], usage=usage_de
        )
        description_en = description_en[0].upper() + description_en[1:]
        description_de = description_de[0].upper() + description_de[1:]

        upc_body = pick(_UPC_NUMBER_SYSTEMS) * _TEN_DIGITS + (self._upc_mul * index + self._upc_add) % _TEN_DIGITS
        upc = f"{upc_body:011d}{gtin_check_value(upc_body)}"
        ean_body = 40 * _TEN_DIGITS + (self._ean_mul * index + self._ean_add) % _TEN_DIGITS
        ean = f"{ean_body:012d}{gtin_check_value(ean_body)}"
        part_id = f"UPC-{upc}" if below(100) < _UPC_PART_ID_PERCENT else f"{prefix}{model_number}"

        # Skewed towards the cheap end of the range: the product of two uniform draws.
        low, high = sub.price_min_cents, sub.price_max_cents
        base = low + (high - low) * below(1024) * below(1024) // (1024 * 1024)
        list_cents = min(max(base - base % 100 + pick(_PRICE_ENDINGS), low), high)
        discount_per_mille = 20 + below(131)  # 2.0 % to 15.0 %
        business_cents = min((list_cents * (1000 - discount_per_mille) + 500) // 1000, list_cents - 1)
        list_eur = usd_to_eur_cents(list_cents)
        business_eur = min(usd_to_eur_cents(business_cents), list_eur - 1)

        tiers = "[]"
        if below(100) < _TIERED_PERCENT:
            picked = sorted({below(len(_TIER_QUANTITIES)) for _ in range(1 + below(3))})
            discount, parts = 0, []
            for position in picked:
                discount += 2 + below(5)
                parts.append(f"[{_TIER_QUANTITIES[position]}, {discount}]")
            tiers = "[" + ", ".join(parts) + "]"

        stock = 0 if below(100) < _OUT_OF_STOCK_PERCENT else 1 + below(500)
        if below(100) < _FIRST_PARTY_PERCENT:
            sold_by, fulfilled_by, amazon_fulfilled = data.first_party_sold_by, data.first_party_fulfilled_by, 1
        else:
            sold_by = pick(sub.sellers)
            if below(100) < _FBA_PERCENT:
                fulfilled_by, amazon_fulfilled = data.first_party_fulfilled_by, 1
            else:
                fulfilled_by, amazon_fulfilled = sold_by, 0
        lead_time = pick(_FBA_LEAD_TIMES) if amazon_fulfilled else 3 + below(12)
        condition = weighted(self._conditions) if sub.allow_used else "New"
        qualified = int(below(100) < (90 if amazon_fulfilled and condition == "New" else 15))
        preference = weighted(self._preferences)
        # One decimal, 1.0 to 5.0, mostly high.
        rating = (50 - below(41) * below(41) // 40) / 10
        if pool < 1 << 64:  # pragma: no cover - guards the size of the data files, not the code
            raise CatalogDataError("catalog_data lists are too long for the per-product random pool")

        return (
            index,
            self._asin(index),
            title_en,
            title_de,
            description_en,
            description_de,
            brand,
            manufacturer,
            part_id,
            upc,
            ean,
            sub.category_id,
            sub.id,
            sub.unspsc,
            unit.code,
            cents_text(list_cents),
            cents_text(business_cents),
            cents_text(list_eur),
            cents_text(business_eur),
            tiers,
            stock,
            lead_time,
            sold_by,
            fulfilled_by,
            amazon_fulfilled,
            condition,
            qualified,
            preference,
            rating,
            None,
        )

    def rows(self, start: int, stop: int) -> list[ProductRow]:
        """Rows of generated products ``start`` .. ``stop - 1``."""
        return [self.row(index) for index in range(start, stop)]

    def test_rows(self) -> list[ProductRow]:
        """Rows of the fixed test products (``seq`` -1, -2, ...)."""
        rows = []
        for position, p in enumerate(self._data.test_products, start=1):
            sub = self._data.subcategory(p["subcategory_id"])
            list_cents, business_cents = _cents(p["list_price_usd"]), _cents(p["business_price_usd"])
            tiers = "[" + ", ".join(f"[{int(q)}, {int(d)}]" for q, d in p["tiers"]) + "]"
            amazon_fulfilled = int(p["fulfilled_by"] == self._data.first_party_fulfilled_by)
            rows.append(
                (
                    -position,
                    p["asin"],
                    p["title_en"],
                    p["title_de"],
                    p["description_en"],
                    p["description_de"],
                    p["brand"],
                    p["manufacturer"],
                    p["manufacturer_part_id"],
                    p["upc"],
                    p["ean"],
                    sub.category_id,
                    sub.id,
                    sub.unspsc,
                    p["unit_of_measure"],
                    cents_text(list_cents),
                    cents_text(business_cents),
                    cents_text(usd_to_eur_cents(list_cents)),
                    cents_text(usd_to_eur_cents(business_cents)),
                    tiers,
                    int(p["stock"]),
                    int(p["lead_time_days"]),
                    p["sold_by"],
                    p["fulfilled_by"],
                    amazon_fulfilled,
                    p["condition"],
                    int(bool(p["qualified_offer"])),
                    p["preference"],
                    float(p["rating"]),
                    p["test_behaviour"],
                )
            )
        return rows


# --------------------------------------------------------------------- schema

_CREATE = (
    """CREATE TABLE catalog_meta (
        key TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE categories (
        id TEXT PRIMARY KEY NOT NULL,
        parent_id TEXT,
        position INTEGER NOT NULL,
        name_en TEXT NOT NULL,
        name_de TEXT NOT NULL,
        unspsc TEXT NOT NULL,
        product_count INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE products (
        seq INTEGER PRIMARY KEY,
        asin TEXT NOT NULL,
        title_en TEXT NOT NULL,
        title_de TEXT NOT NULL,
        description_en TEXT NOT NULL,
        description_de TEXT NOT NULL,
        brand TEXT NOT NULL,
        manufacturer TEXT NOT NULL,
        manufacturer_part_id TEXT NOT NULL,
        upc TEXT NOT NULL,
        ean TEXT NOT NULL,
        category_id TEXT NOT NULL,
        subcategory_id TEXT NOT NULL,
        unspsc TEXT NOT NULL,
        unit_of_measure TEXT NOT NULL,
        list_price_usd TEXT NOT NULL,
        business_price_usd TEXT NOT NULL,
        list_price_eur TEXT NOT NULL,
        business_price_eur TEXT NOT NULL,
        tiers TEXT NOT NULL,
        stock INTEGER NOT NULL,
        lead_time_days INTEGER NOT NULL,
        sold_by TEXT NOT NULL,
        fulfilled_by TEXT NOT NULL,
        amazon_fulfilled INTEGER NOT NULL,
        condition TEXT NOT NULL,
        qualified_offer INTEGER NOT NULL,
        preference TEXT NOT NULL,
        rating REAL NOT NULL,
        test_behaviour TEXT
    )""",
)

# The catalogue is built under these staging names and renamed in one last transaction (see build_catalog).
STAGING_PREFIX: Final = "catalog_build_"
_LIVE_TABLES: Final = ("products_fts", "products", "categories", "catalog_meta")

# Built in the last transaction, after the bulk insert: sorting once is much cheaper than keeping them
# up to date row by row.
_INDEXES = (
    "CREATE UNIQUE INDEX products_asin ON products (asin)",
    "CREATE INDEX products_category ON products (category_id, asin)",
    "CREATE INDEX products_subcategory ON products (subcategory_id, asin)",
)

# detail=column: the index says which products have a word, and in which columns, but not where in
# them. Search asks nothing more (every word is quoted on its own, never a phrase; bm25's word
# counts come from the texts, repository._scores), and without positions the index is 11 % smaller,
# builds faster and is read faster (docs/performance.md, step 19).
_CREATE_FTS = """CREATE VIRTUAL TABLE products_fts USING fts5(
    title_en, title_de, brand, category, description, asin, part_id, facet,
    content='', detail=column,
    tokenize='unicode61 remove_diacritics 2'
)"""

# After the last batch: merge the index's segments (ten for a million products) into one, so that a
# query looks each word up once, not once per segment.
_OPTIMIZE_FTS = "INSERT INTO products_fts (products_fts) VALUES ('optimize')"

# Index more in memory before writing a segment (default 1 MB), and merge segments 8 at a time
# (default 4): a third less time to index a million products, for the same index.
_FTS_SETTINGS = (
    "INSERT INTO products_fts (products_fts, rank) VALUES ('hashsize', 67108864)",
    "INSERT INTO products_fts (products_fts, rank) VALUES ('automerge', 8)",
)

# One batch of products (seq from ? to ?) into the index, in rowid order: FTS5 appends cheaply only
# when rowids grow within a transaction.
_FILL_FTS = """INSERT INTO products_fts (rowid, title_en, title_de, brand, category, description, asin, part_id, facet)
SELECT p.seq, p.title_en, p.title_de, p.brand,
       c.name_en || ' ' || c.name_de || ' ' || s.name_en || ' ' || s.name_de,
       p.description_en || ' ' || p.description_de,
       p.asin, p.manufacturer_part_id,
       char(57344) || replace(p.category_id, '-', '') || ' ' || char(57344) || replace(p.subcategory_id, '-', '')
FROM products AS p
JOIN categories AS c ON c.id = p.category_id
JOIN categories AS s ON s.id = p.subcategory_id
WHERE p.seq BETWEEN ? AND ?
ORDER BY p.seq"""

_INSERT_PRODUCT = (
    f"INSERT INTO products ({', '.join(PRODUCT_COLUMNS)}) VALUES ({', '.join('?' * len(PRODUCT_COLUMNS))})"  # noqa: S608
)

#: Catalogues at least this big are generated by worker processes when ``processes`` is not given.
PARALLEL_FROM: Final = 100_000

#: Page cache of the connection while it builds (KiB); put back to what it was afterwards.
BUILD_CACHE_KIB: Final = 64 * 1024

#: Products between two commits of a build that is not inside the caller's transaction.
COMMIT_EVERY: Final = 100_000


def _staged(sql: str) -> str:
    """``sql`` with the catalogue's table names replaced by their staging names."""
    return re.sub(r"\b(products_fts|products|categories|catalog_meta)\b", STAGING_PREFIX + r"\1", sql)


def _meta_wanted(size: int, seed: int, data: CatalogData) -> dict[str, str]:
    return {
        "generator_version": GENERATOR_VERSION,
        "schema_version": SCHEMA_VERSION,
        "size": str(size),
        "seed": str(seed),
        "data_digest": data.digest,
        "product_count": str(size + len(data.test_products)),
    }


def read_catalog_meta(conn: sqlite3.Connection) -> dict[str, str]:
    """The ``catalog_meta`` of the catalogue in ``conn``; empty if there is none.

    ``catalog_meta`` is written in the transaction that puts a finished catalogue in place, so a
    non-empty answer means the catalogue is complete.
    """
    cur = conn.cursor()
    cur.row_factory = None
    try:
        found = cur.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('catalog_meta', 'products')"
        ).fetchone()[0]
        if found != 2:
            return {}
        return {str(key): str(value) for key, value in cur.execute("SELECT key, value FROM catalog_meta")}
    finally:
        cur.close()


def unfinished_build(conn: sqlite3.Connection) -> bool:
    """True if ``conn`` holds the staging tables of a build that was interrupted (killed, crashed)."""
    cur = conn.cursor()
    cur.row_factory = None
    try:
        pattern = STAGING_PREFIX.replace("_", "!_") + "%"
        return (
            cur.execute("SELECT 1 FROM sqlite_master WHERE name LIKE ? ESCAPE '!' LIMIT 1", (pattern,)).fetchone()
            is not None
        )
    finally:
        cur.close()


def _drop_staging(cur: sqlite3.Cursor) -> None:
    for table in _LIVE_TABLES:
        cur.execute(f"DROP TABLE IF EXISTS {STAGING_PREFIX}{table}")


# A worker process's factory, set once by _init_worker (the vocabulary is sent, not drawn again).
_worker_factory: ProductFactory | None = None


def _init_worker(factory: ProductFactory) -> None:
    global _worker_factory  # one factory per worker process
    _worker_factory = factory


def _worker_rows(bounds: tuple[int, int]) -> list[ProductRow]:
    assert _worker_factory is not None
    return _worker_factory.rows(*bounds)


def _batches(factory: ProductFactory, size: int, batch_size: int, processes: int) -> Iterator[list[ProductRow]]:
    """The generated rows, batch by batch in order, made here or by ``processes`` worker processes."""
    bounds = [(start, min(start + batch_size, size)) for start in range(0, size, batch_size)]
    if processes <= 1 or len(bounds) <= 1:
        for start, stop in bounds:
            yield factory.rows(start, stop)
        return
    # fork where there is one: spawn would re-run the caller's __main__ module in each worker. The
    # workers only compute rows (no locks, no connections), so forking a threaded server is safe here.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with context.Pool(processes, initializer=_init_worker, initargs=(factory,)) as pool:
        # At most two batches per worker ahead of the caller, so that memory stays bounded when
        # inserting is slower than generating.
        pending: deque[AsyncResult[list[ProductRow]]] = deque()
        for bound in bounds:
            pending.append(pool.apply_async(_worker_rows, (bound,)))
            if len(pending) > 2 * processes:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def build_catalog(
    conn: sqlite3.Connection,
    *,
    size: int,
    seed: int,
    progress: ProgressCallback | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    data_dir: Path | None = None,
    processes: int | None = None,
    commit_every: int = COMMIT_EVERY,
) -> bool:
    """Create and fill the catalogue tables in ``conn``.

    Returns ``False`` and changes nothing when the catalogue already there was
    built with the same ``size``, ``seed``, :data:`GENERATOR_VERSION` and seed
    data (``catalog_data`` digest); otherwise builds a new catalogue with
    ``size`` generated products plus the fixed test products, puts it in place
    of the old one and returns ``True``. ``progress(done, total)`` is called
    after every batch of ``batch_size`` products. ``processes`` worker
    processes generate the rows (default: 2 from :data:`PARALLEL_FROM` products
    on, else none). Neither ``batch_size`` nor ``processes`` changes the result.

    The new catalogue is built in staging tables (``catalog_build_*``) and
    renamed to the live names in one last transaction, which also writes
    ``catalog_meta``: the catalogue in place is always complete, and a build
    killed half-way leaves only staging tables, which the next build drops
    (:func:`unfinished_build` tells whether there are any). When ``conn`` is
    not in a transaction, the build commits every ``commit_every`` products
    (default :data:`COMMIT_EVERY`, so that the write-ahead log stays small); inside the caller's
    transaction everything is left to the caller.
    """
    if not 0 <= size < MAX_SIZE:
        raise ValueError(f"size must be between 0 and {MAX_SIZE - 1}")
    if seed < 0:
        raise ValueError("seed must not be negative")
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    if processes is not None and processes < 0:
        raise ValueError("processes must not be negative")
    if commit_every < 1:
        raise ValueError("commit_every must be positive")
    data = load_catalog_data(data_dir)
    wanted = _meta_wanted(size, seed, data)
    leftover = unfinished_build(conn)
    if read_catalog_meta(conn) == wanted and not leftover:
        return False
    if processes is None:
        processes = 2 if size >= PARALLEL_FROM else 0

    own_transactions = not conn.in_transaction
    cache_size = conn.execute("PRAGMA cache_size").fetchone()[0]
    conn.execute(f"PRAGMA cache_size = {-BUILD_CACHE_KIB}")  # FTS5 merges and index sorts need room
    try:
        commit = commit_every if own_transactions else 0
        return _build(conn, data, wanted, size, seed, progress, batch_size, processes, commit)
    finally:
        conn.execute(f"PRAGMA cache_size = {int(cache_size)}")


def _build(
    conn: sqlite3.Connection,
    data: CatalogData,
    wanted: dict[str, str],
    size: int,
    seed: int,
    progress: ProgressCallback | None,
    batch_size: int,
    processes: int,
    commit_every: int,
) -> bool:
    """build_catalog's work; commits every ``commit_every`` products, or never (0: the caller's transaction)."""
    own_transactions = commit_every > 0
    total = size + len(data.test_products)
    cur = conn.cursor()
    cur.row_factory = None
    if own_transactions:
        cur.execute("BEGIN IMMEDIATE")
    else:
        cur.execute("SAVEPOINT build_catalog")
    try:
        _drop_staging(cur)
        if read_catalog_meta(conn) == wanted:  # only the leftovers of an interrupted build were in the way
            _finish(cur, own_transactions)
            return False
        for statement in _CREATE:
            cur.execute(_staged(statement))
        cur.execute(_staged(_CREATE_FTS))
        for statement in _FTS_SETTINGS:
            cur.execute(_staged(statement))
        _insert_categories(cur, data)
        factory = ProductFactory(data, draw_vocabulary(seed), seed)
        test_rows = sorted(factory.test_rows())  # seq -7 .. -1: before the generated ones, in rowid order
        insert, fill = _staged(_INSERT_PRODUCT), _staged(_FILL_FTS)
        cur.executemany(insert, test_rows)
        counts = Counter(row[_SUBCATEGORY] for row in test_rows)
        cur.execute(fill, (test_rows[0][0], test_rows[-1][0]))
        done = since_commit = 0
        for rows in _batches(factory, size, batch_size, processes):
            cur.executemany(insert, rows)
            cur.execute(fill, (rows[0][0], rows[-1][0]))
            counts.update(row[_SUBCATEGORY] for row in rows)
            done += len(rows)
            since_commit += len(rows)
            if own_transactions and since_commit >= commit_every:
                cur.execute("COMMIT")
                cur.execute("BEGIN IMMEDIATE")
                since_commit = 0
            if progress is not None:
                progress(done, total)
        cur.execute(_staged(_OPTIMIZE_FTS))
        _update_counts(cur, data, counts)
        cur.executemany(_staged("INSERT INTO catalog_meta (key, value) VALUES (?, ?)"), sorted(wanted.items()))
        if own_transactions:
            cur.execute("COMMIT")
            cur.execute("BEGIN IMMEDIATE")
        # The switch: one transaction drops the old catalogue and renames the new one into place.
        for table in _LIVE_TABLES:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
        for table in reversed(_LIVE_TABLES):
            cur.execute(f"ALTER TABLE {STAGING_PREFIX}{table} RENAME TO {table}")
        for statement in _INDEXES:
            cur.execute(statement)
    except BaseException:
        if own_transactions:
            if conn.in_transaction:
                cur.execute("ROLLBACK")
        else:
            cur.execute("ROLLBACK TO build_catalog")
            cur.execute("RELEASE build_catalog")
        cur.close()
        raise
    _finish(cur, own_transactions)
    if own_transactions:
        # The log held the last transaction (indexes); give the space back.
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    if progress is not None:
        progress(total, total)
    return True


def _finish(cur: sqlite3.Cursor, own_transactions: bool) -> None:
    cur.execute("COMMIT" if own_transactions else "RELEASE build_catalog")
    cur.close()


def _insert_categories(cur: sqlite3.Cursor, data: CatalogData) -> None:
    rows: list[tuple[object, ...]] = []
    for cat in data.categories:
        rows.append((cat.id, None, len(rows), cat.name_en, cat.name_de, cat.unspsc))
        for sub_id in cat.subcategory_ids:
            sub = data.subcategory(sub_id)
            rows.append((sub.id, cat.id, len(rows), sub.name_en, sub.name_de, sub.unspsc))
    cur.executemany(
        _staged("INSERT INTO categories (id, parent_id, position, name_en, name_de, unspsc) VALUES (?, ?, ?, ?, ?, ?)"),
        rows,
    )


def _update_counts(cur: sqlite3.Cursor, data: CatalogData, counts: Counter[str]) -> None:
    updates = []
    for cat in data.categories:
        sub_counts = [counts.get(sub_id, 0) for sub_id in cat.subcategory_ids]
        updates.append((sum(sub_counts), cat.id))
        updates.extend(zip(sub_counts, cat.subcategory_ids, strict=True))
    cur.executemany(_staged("UPDATE categories SET product_count = ? WHERE id = ?"), updates)
