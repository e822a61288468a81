"""The journal and the outbox at a million rows: do requests and every list stay fast?

Builds a data dir, fills ``journal`` and ``outbox`` with ``--rows`` rows each (realistic shapes:
setup and order exchanges of 25 accounts, unique payloadIDs, 1.5 KB bodies; outbox rows mostly
delivered, some pending, failed and dead) and the order tables with a tenth as many orders of 10
lines and one shipment each, then times, in-process through the Flask test client: a
PunchOutSetupRequest and a 10-line OrderRequest (index upkeep on big tables), the admin API's
journal and outbox lists with each filter and a deep page, the unmatched requests, the console's
journal, journal entry, orders and dashboard pages, and the outbox's "what is due" query. Prints
p50/p95 per operation.

    python -m bench.tables [--rows 1000000] [--repeat 40]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator import outbox  # noqa: E402
from simulator.app import create_app, prepare_data_dir  # noqa: E402
from simulator.config import Config  # noqa: E402
from simulator.db import connect  # noqa: E402
from tests.helpers import order_request, setup_request  # noqa: E402

ACCOUNTS = [f"acct-{n:02d}" for n in range(24)] + ["demo"]
BATCH = 50_000
SETUP = setup_request().decode()
ANSWER = SETUP.replace("PunchOutSetupRequest", "PunchOutSetupResponse")[:1500]


def _journal_rows(count: int, start: datetime) -> Iterator[tuple[object, ...]]:
    for n in range(count):
        pair, inbound = divmod(n, 2)
        account = ACCOUNTS[pair % len(ACCOUNTS)]
        order = pair % 10 == 0
        doc_type = ("OrderRequest" if order else "PunchOutSetupRequest") if inbound == 0 else "Status"
        payload = f"bench-{pair}@buyer.test" if inbound == 0 else f"answer-{pair}@amazon.com"
        yield (
            "in" if inbound == 0 else "out",
            doc_type,
            account,
            None if order else f"sess_{pair:020x}",
            "/orders" if order else "/punchout",
            200,
            200,
            payload,
            "text/xml",
            SETUP if inbound == 0 else ANSWER,
            (start + timedelta(milliseconds=pair * 40)).isoformat(timespec="milliseconds"),
            None,
        )


def _outbox_rows(count: int, start: datetime) -> Iterator[tuple[object, ...]]:
    kinds = ("ConfirmationRequest", "ShipNoticeRequest", "InvoiceDetailRequest")
    for n in range(count):
        created = start + timedelta(milliseconds=n * 40)
        status = "delivered"
        if n % 100 == 7:
            status = "failed"
        elif n % 250 == 3:
            status = "dead"
        elif n > count - count // 50:
            status = "pending"  # the newest 2 %: due over the coming weeks
        due = created + timedelta(days=30 if status == "pending" else 0)
        stamp = created.isoformat(timespec="milliseconds")
        yield (
            ACCOUNTS[n % len(ACCOUNTS)],
            f"ord_{n // 3:016x}",
            kinds[n % 3].replace("Request", "").lower(),
            kinds[n % 3],
            f"doc-{n}@amazon.com",
            "http://127.0.0.1:9/cxml",
            status,
            1,
            due.isoformat(timespec="milliseconds"),
            due.isoformat(timespec="milliseconds"),
            stamp,
            stamp,
            stamp if status == "delivered" else None,
            ANSWER.encode(),
        )


ORDER_LINES = 10
ASINS = ("B0TESTSLOW", "B0TESTBACK", "B0TESTPART", "B0TESTSPLT")


Row = tuple[object, ...]


def _order_rows(count: int, start: datetime) -> Iterator[tuple[Row, list[Row], Row]]:
    """(order, its lines, its shipment): orders of the 25 accounts over months, users, cost centers."""
    for n in range(count):
        created = start + timedelta(minutes=n)
        stamp = created.isoformat(timespec="milliseconds")
        order_pk = f"ord_{n:016x}"
        promised = (created + timedelta(days=3)).isoformat(timespec="milliseconds")
        delivered = (created + timedelta(days=2 + n % 3)).isoformat(timespec="milliseconds")
        order = (order_pk, ACCOUNTS[n % len(ACCOUNTS)], f"PO-{n}", f"bench-order-{n}@buyer.test", "new", stamp,
                 "rejected" if n % 50 == 0 else "accepted", 0, "EUR" if n % 20 == 0 else "USD",
                 f"user{n % 40}@buyer.test", b"<cXML/>", stamp, f"CC-{n % 12}" if n % 4 else "")  # fmt: skip
        lines: list[Row] = []
        for k in range(1, ORDER_LINES + 1):
            accepted, backordered, rejected = (1, 1, 0) if k == 3 else (0, 0, 2) if k == 7 else (2, 0, 0)
            asin = ASINS[(n + k) % len(ASINS)]
            lines.append((order_pk, k, asin, "EA", 2, "12.50", "12.50", accepted, backordered, rejected, promised))
        shipped = json.dumps([{"line_number": k, "quantity": 2} for k in range(1, ORDER_LINES + 1)])
        shipment = (f"shp_{n:016x}", order_pk, f"111-{n:07d}", "UPS", f"1Z{n:010d}", "https://ups.example/", stamp,
                    delivered, shipped)  # fmt: skip
        yield order, lines, shipment


def fill_orders(conn: sqlite3.Connection, count: int, start: datetime) -> None:
    made = _order_rows(count, start)
    for first in range(0, count, BATCH // ORDER_LINES):
        batch = [next(made) for _ in range(min(BATCH // ORDER_LINES, count - first))]
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO orders (id, account_id, order_id, payload_id, type, order_date, status, test, currency,"
            " user_email, answer_body, created_at, answer_code, answer_http, cost_center)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 200, 200, ?)",
            (order for order, _, _ in batch),
        )
        conn.executemany(
            "INSERT INTO order_lines (order_pk, line_number, supplier_part_id, unit_of_measure, quantity,"
            " ordered_unit_price, unit_price, accepted, backordered, rejected, delivery_date)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (line for _, lines, _ in batch for line in lines),
        )
        conn.executemany(
            "INSERT INTO shipments (shipment_id, order_pk, confirm_id, carrier, tracking_number, tracking_url,"
            " ship_at, delivery_date, lines) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (shipment for _, _, shipment in batch),
        )
        conn.execute("COMMIT")


def fill(config: Config, rows: int) -> float:
    started = time.perf_counter()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    conn = connect(config.database_path)
    journal = _journal_rows(rows, start)
    documents = _outbox_rows(rows, start)
    for _ in range(0, rows, BATCH):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO journal (direction, doc_type, account_id, session_id, endpoint, http_status, cxml_status,"
            " payload_id, content_type, body, created_at, scenario) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (next(journal) for _ in range(min(BATCH, rows))),
        )
        conn.executemany(
            "INSERT INTO outbox (account_id, order_id, step, doc_type, payload_id, url, status, attempts, due_at,"
            " next_attempt_at, created_at, updated_at, delivered_at, body) VALUES"
            " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (next(documents) for _ in range(min(BATCH, rows))),
        )
        conn.execute("COMMIT")
    fill_orders(conn, rows // ORDER_LINES, start)
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - started


def timed(fn: Callable[[int], object], repeat: int) -> tuple[float, float]:
    fn(-1)  # warm
    times = []
    for n in range(repeat):
        began = time.perf_counter()
        fn(n)
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.95))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--keep", action="store_true", help="keep the data dir (its path is printed)")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="punchout-tables-"))
    config = Config(data_dir=data, catalog_size=2000, outbox_interval=0)
    prepare_data_dir(config)
    print(
        f"filling journal and outbox with {args.rows:,} rows each, {args.rows // ORDER_LINES:,} orders"
        f" of {ORDER_LINES} lines …",
        flush=True,
    )
    seconds = fill(config, args.rows)
    size = sum(p.stat().st_size for p in data.glob("simulator.sqlite3*")) / 1e9
    print(f"filled in {seconds:.0f} s; database {size:.2f} GB")
    client = create_app(config).test_client()
    middle = args.rows // 4

    def setup(n: int) -> object:
        body = SETUP.replace("1700000000.1@buyer.test", f"tables-{n}@buyer.test").encode()
        return client.post("/punchout", data=body, content_type="text/xml")

    def order(n: int) -> object:
        lines = [{"asin": "B0TESTSLOW", "price": "0", "quantity": 1}] * 10
        body = order_request(order_id=f"PO-T{n}", payload_id=f"tables-order-{n}@buyer.test", lines=lines)
        return client.post("/orders", data=body, content_type="text/xml")

    def get(path: str) -> Callable[[int], object]:
        def call(_: int) -> object:
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.status_code, answer.data[:300])
            return answer

        return call

    def due(_: int) -> object:
        conn = connect(config.database_path)
        try:
            return outbox._claim(conn, "bench", lease_seconds=30)  # the dispatcher's query
        finally:
            conn.close()

    operations: list[tuple[str, Callable[[int], object]]] = [
        ("PunchOutSetupRequest", setup),
        ("OrderRequest, 10 lines", order),
        ("journal, newest page", get("/__admin/journal")),
        ("journal, one doc type", get("/__admin/journal?type=OrderRequest")),
        ("journal, one account", get("/__admin/journal?account_id=acct-07")),
        ("journal, one payloadID", get(f"/__admin/journal?payload_id=bench-{middle}@buyer.test")),
        ("journal, one session", get(f"/__admin/journal?session_id=sess_{middle + 1:020x}")),
        ("journal, a time window", get("/__admin/journal?since=2026-01-02T00:00:00Z&until=2026-01-02T01:00:00Z")),
        ("journal, offset 10,000", get("/__admin/journal?offset=10000&limit=50")),
        ("journal, page 10,000 (before=)", get(f"/__admin/journal?before={args.rows - 500_000}&limit=50")),
        ("journal, body contains", get("/__admin/journal?contains=tables-3%40buyer.test")),
        ("journal, unmatched", get("/__admin/journal/unmatched")),
        ("outbox, newest page", get("/__admin/outbox")),
        ("outbox, pending", get("/__admin/outbox?status=pending")),
        ("outbox, failed", get("/__admin/outbox?status=failed")),
        ("outbox, page 10,000 (before=)", get(f"/__admin/outbox?before={args.rows - 500_000}&limit=50")),
        ("outbox, what is due", due),
        ("console journal", get("/console/journal")),
        ("console orders", get("/console/orders")),
        ("console journal entry, newest", get(f"/console/journal/{args.rows - 1}")),
        ("console dashboard", get("/console/dashboard")),
    ]
    print(f"\n{'operation':32s} {'p50 ms':>8s} {'p95 ms':>8s}")
    for name, fn in operations:
        p50, p95 = timed(fn, args.repeat)
        print(f"{name:32s} {p50:8.2f} {p95:8.2f}", flush=True)
    if args.keep:
        print(f"\ndata dir kept: {data}")
    else:
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
