"""In-process micro-benchmarks: parse, validate, build, search, and one whole setup request.

``make bench`` runs them with timing; ``make test`` runs each once (--benchmark-disable) so they
cannot rot.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from pytest_benchmark.fixture import BenchmarkFixture

from simulator.app import create_app
from simulator.catalog import repository
from simulator.config import Config
from simulator.cxml import build
from simulator.cxml.parse import parse_document
from simulator.cxml.read import read_punchout_setup_request
from simulator.cxml.types import Credential, Envelope, ItemIn, Money, PunchOutOrderMessage, Tax
from simulator.cxml.validate import DtdRegistry
from simulator.db import connect
from tests.helpers import order_request, setup_request

SETUP = setup_request(extrinsics={"CostCenter": "CC-1", "UniqueName": "alice"})


def test_parse_setup_request(benchmark: BenchmarkFixture) -> None:
    root = benchmark(lambda: parse_document(SETUP).root)
    assert read_punchout_setup_request(root).buyer_cookie == "cookie-1"


def test_validate_setup_request(benchmark: BenchmarkFixture, dtds: DtdRegistry) -> None:
    document = parse_document(SETUP)
    result = benchmark(lambda: dtds.validate(document.root, dtd_name="cXML", version="1.2.069"))
    assert result.valid


def _message(lines: int) -> PunchOutOrderMessage:
    usd = "USD"
    tax = Tax(Money(Decimal("1.07"), usd), "tax", "sales", Decimal("8.25"), Money(Decimal("12.99"), usd))
    item = ItemIn(
        quantity=1,
        line_number=1,
        supplier_part_id="B0TESTBACK",
        supplier_part_auxiliary_id="114-1234567-7654321,1",
        unit_price=Money(Decimal("12.99"), usd),
        description="Product",
        short_name="",
        lang="en-US",
        unit_of_measure="EA",
        unspsc="14111507",
        manufacturer_part_id="P-1",
        manufacturer_name="Acme",
        url="http://simulator.test/shop/product/B0TESTBACK",
        lead_time_days=3,
        shipping=Money(Decimal("0"), usd),
        tax=tax,
        extrinsics=(("soldBy", "Amazon"), ("fulfilledBy", "Amazon")),
    )
    return PunchOutOrderMessage("cookie", "create", Money(Decimal("12.99"), usd), None, None, (item,) * lines)


def test_build_cart_message_10_lines(benchmark: BenchmarkFixture) -> None:
    env = Envelope(
        "1@amazon.com",
        "2026-01-01T00:00:00.000+00:00",
        "1.2.069",
        from_=(Credential("DUNS", "1"),),
        to=(Credential("NetworkId", "B"),),
        sender=(Credential("DUNS", "1"),),
        user_agent="bench",
    )
    xml = benchmark(lambda: build.punchout_order_message(env, _message(10)))
    assert xml.count(b"<ItemIn ") == 10


@pytest.fixture(scope="module")
def catalogue(template_data_dir: Path) -> sqlite3.Connection:
    return connect(template_data_dir / "simulator.sqlite3")


@pytest.mark.parametrize("query", ["paper", "blue ink pens", "test product"])
def test_search(benchmark: BenchmarkFixture, catalogue: sqlite3.Connection, query: str) -> None:
    page = benchmark(lambda: repository.search(catalogue, query, limit=20))
    assert page.total > 0


@pytest.mark.parametrize("query", ["with", "pack office"])
def test_search_common_words_in_a_category_later_page(
    benchmark: BenchmarkFixture, catalogue: sqlite3.Connection, query: str
) -> None:
    page = benchmark(lambda: repository.search(catalogue, query, category="office-supplies", limit=20, offset=60))
    assert page.total > 0 and all(p.category_id == "office-supplies" for p in page.items)


def test_product_page_lookup(benchmark: BenchmarkFixture, catalogue: sqlite3.Connection) -> None:
    assert benchmark(lambda: repository.get_product(catalogue, "B0TESTSLOW")) is not None


@pytest.fixture(scope="module")
def bench_client(tmp_path_factory: pytest.TempPathFactory, template_data_dir: Path, dtd_dir: Path) -> FlaskClient:
    import shutil

    data = tmp_path_factory.mktemp("bench-data")
    shutil.copytree(template_data_dir, data, dirs_exist_ok=True)
    app = create_app(Config(data_dir=data, catalog_size=300, dtd_dir=dtd_dir, outbox_interval=0))
    return app.test_client()


def test_whole_setup_request(benchmark: BenchmarkFixture, bench_client: FlaskClient) -> None:
    response = benchmark(lambda: bench_client.post("/punchout", data=SETUP, headers={"Content-Type": "text/xml"}))
    assert b'code="200"' in response.data


def test_whole_order_request_10_lines(benchmark: BenchmarkFixture, bench_client: FlaskClient) -> None:
    counter = iter(range(10**9))

    def order() -> bytes:
        n = next(counter)
        body = order_request(order_id=f"B-{n}", lines=[{"asin": "B0TESTSLOW", "price": "0"}] * 10)
        return bench_client.post("/orders", data=body, headers={"Content-Type": "text/xml"}).get_data()

    assert b'code="200"' in benchmark(order)
