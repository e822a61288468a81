"""Catalogue benchmark: build a large catalogue, restart on it, search it, and measure memory.

    python -m bench.catalog [--size 1000000] [--seed 1] [--queries 200] [--keep DIR]

Builds the catalogue in a temporary data dir the way ``punchout-sim serve`` does
(:func:`simulator.app.prepare_data_dir`), then, in a fresh process like a server worker, times the
restart on the existing catalogue, searches and product pages, and reads that process's resident
size. Queries are drawn by word frequency: a random product, then random words of its title and
description (so common words come up as often as they occur): one word, three words of one
product, or three words of three products (which rarely occur together: the OR fallback). Each
query is run without and with a category filter (the first product's subcategory), on page 1 and
on page 5. Prints build time, database size, restart time, p50/p95/p99 per kind, product-page p95 and
the RSS.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator import db  # noqa: E402
from simulator.app import prepare_data_dir  # noqa: E402
from simulator.catalog.repository import STOP_WORDS, get_product, query_words, search  # noqa: E402
from simulator.cli import CatalogProgress  # noqa: E402
from simulator.config import Config  # noqa: E402

PAGE_SIZE = 20


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(data_dir: Path, size: int, seed: int, queries: int) -> dict[str, object]:
    """Runs in a fresh process: restart, queries, product pages, RSS."""
    config = Config(data_dir=data_dir, catalog_size=size, seed=seed)
    started = time.perf_counter()
    prepare_data_dir(config)
    restart = time.perf_counter() - started
    conn = db.connect(config.database_path)
    rng = random.Random(seed)
    products = int(conn.execute("SELECT count(*) FROM products WHERE seq >= 0").fetchone()[0])

    def product_words() -> tuple[list[str], str, str]:
        row = conn.execute(
            "SELECT title_en, description_en, subcategory_id, asin FROM products WHERE seq = ?",
            (rng.randrange(products),),
        ).fetchone()
        words = [w for w in query_words(f"{row[0]} {row[1]}") if w not in STOP_WORDS]
        return [w for w in words if w.isalpha()] or words, row[2], row[3]

    samples: list[tuple[str, list[str], str, str]] = []
    for number in range(queries):
        words, subcategory, asin = product_words()
        if number % 3 == 0:
            samples.append(("1 word", [rng.choice(words)], subcategory, asin))
        elif number % 3 == 1:
            samples.append(("3 words", rng.sample(words, 3), subcategory, asin))
        else:  # three words of three products: mostly no product has them all (the OR fallback)
            others = [rng.choice(product_words()[0]) for _ in range(2)]
            samples.append(("3 random words", [rng.choice(words), *others], subcategory, asin))
    timings: dict[str, list[float]] = {}
    totals: dict[str, list[int]] = {}
    for kind, words, subcategory, _ in samples:
        for filtered in (False, True):
            for page in (1, 5):
                name = f"{kind}{', category' if filtered else ''}, page {page}"
                begin = time.perf_counter()
                result = search(
                    conn,
                    " ".join(words),
                    category=subcategory if filtered else None,
                    limit=PAGE_SIZE,
                    offset=(page - 1) * PAGE_SIZE,
                )
                timings.setdefault(name, []).append(time.perf_counter() - begin)
                totals.setdefault(name, []).append(result.total)
    page_times = []
    for _, _, _, asin in samples:
        begin = time.perf_counter()
        assert get_product(conn, asin) is not None
        page_times.append(time.perf_counter() - begin)
    return {
        "restart_s": restart,
        "search_ms": {
            name: [round(1000 * percentile(values, share), 2) for share in (0.5, 0.95, 0.99)]
            for name, values in timings.items()
        },
        "median_total": {name: sorted(values)[len(values) // 2] for name, values in totals.items()},
        "product_page_p95_ms": round(1000 * percentile(page_times, 0.95), 3),
        "rss_mib": round(rss_mib(), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--queries", type=int, default=300, help="queries in all, a third of each kind (default 300)")
    parser.add_argument("--keep", type=Path, help="build in (or reuse) this data dir and keep it")
    parser.add_argument("--measure-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_only:
        print(json.dumps(measure(args.measure_only, args.size, args.seed, args.queries)))
        return

    logging.basicConfig(level=logging.INFO, format="%(message)s")  # progress lines when not on a terminal
    data_dir = args.keep or Path(tempfile.mkdtemp(prefix="punchout-catalog-"))
    try:
        config = Config(data_dir=data_dir, catalog_size=args.size, seed=args.seed)
        started = time.perf_counter()
        prepare_data_dir(config, progress=CatalogProgress(minimum=0))
        build = time.perf_counter() - started
        files = sorted(data_dir.glob("simulator.sqlite3*"))
        size_mb = sum(f.stat().st_size for f in files) / 1e6
        print(f"catalogue of {args.size:,} products (seed {args.seed}): built in {build:.1f} s")
        print(f"database: {size_mb:,.0f} MB ({', '.join(f'{f.name} {f.stat().st_size / 1e6:,.0f} MB' for f in files)})")
        measured = subprocess.run(
            [sys.executable, "-m", "bench.catalog", "--measure-only", str(data_dir), "--size", str(args.size),
             "--seed", str(args.seed), "--queries", str(args.queries)],
            cwd=ROOT, check=True, capture_output=True, text=True,
        )  # fmt: skip
        result = json.loads(measured.stdout.strip().splitlines()[-1])
        print(f"restart on the existing catalogue: {result['restart_s']:.2f} s")
        print(f"search, {args.queries // 3} queries of each kind, {PAGE_SIZE} a page (ms: p50 p95 p99, median total):")
        for name, (p50, p95, p99) in result["search_ms"].items():
            print(f"  {name:<35} {p50:7.2f} {p95:7.2f} {p99:7.2f}   {result['median_total'][name]:>6}")
        print(f"product page (lookup by ASIN) p95: {result['product_page_p95_ms']:.3f} ms")
        print(f"resident size of a process holding a connection after the queries: {result['rss_mib']:.0f} MiB")
    finally:
        if args.keep is None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
