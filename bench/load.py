"""Load benchmark: start ``punchout-sim serve --workers 2`` on loopback and drive it with wrk.

Bounded in time (``--seconds``, default 10 per endpoint and round) and to 127.0.0.1 only. Prints
requests per second and latency percentiles for the health check, PunchOutSetupRequest and a
10-line OrderRequest (each with a fresh payloadID and orderID, so none is answered from the
idempotency cache), and the ratio of setup to health.

With ``--rounds N`` the three endpoints are driven N times in turn and each figure is the median of
its N runs, with the range beside it: on a shared machine whose speed drifts, interleaved rounds
keep the setup/health ratio honest (docs/performance.md, "Method").

With ``--bare`` each round also drives the performance issue's yardstick, ``bench/bare_endpoint.py``
(Flask + lxml + SQLite: parse a setup request, insert one row, answer) under the same gunicorn
settings, and prints the simulator's setup rate as a fraction of the bare endpoint's — a figure
measured in the same minutes, so it holds on a machine whose speed drifts.

    python -m bench.load [--seconds 10] [--rounds 3] [--connections 32] [--catalog-size 5000] [--bare]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import closing
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.config import Config  # noqa: E402
from tests.helpers import order_request, setup_request  # noqa: E402

# Every request's payloadID (and orderID) is unique: a tag per wrk run (its first argument), the
# thread's number and a counter. (Counters with math.random alone repeat: each wrk thread runs its
# own Lua state with the same unseeded sequence, so the two threads sent the same IDs, and a later
# round the IDs of the first — orders then measured the idempotent replay, not the order engine.)
LUA_POST = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/xml"
local template = [==[%s]==]
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end
function init(args)
  tag = (args[1] or "run") .. "-" .. tostring(thread_number)
end
local n = 0
request = function()
  n = n + 1
  local body = template:gsub("@@N@@", tag .. "-" .. tostring(n))
  return wrk.format(nil, nil, nil, body)
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_wrk(url: str, seconds: int, connections: int, script: Path | None) -> dict[str, float]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s", url]
    if script is not None:
        command[1:1] = ["-s", str(script)]
        command += ["--", uuid.uuid4().hex]  # the run's tag in every payloadID
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "90", "99"):
        match = re.search(rf"\s{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)", output)
        if match:
            value, unit = float(match.group(1)), match.group(2)
            result[f"p{pct}_ms"] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result["non_2xx"] = float(errors.group(1)) if errors else 0.0
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    result["socket_errors"] = float(sum(map(int, socket_errors.groups()))) if socket_errors else 0.0
    return result


def wait_until_healthy(base: str, seconds: float = 120, path: str = "/__admin/health") -> None:
    """Wait for the server at ``base`` to answer its health check (it may be building its catalogue)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}{path}", timeout=1).ok:
                return
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or a worker still starting
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server at {base} did not answer its health check within {seconds:.0f} s")


def start_bare_endpoint(data: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    """The issue's bare endpoint under gunicorn (sync workers, as ``serve``), its database in ``data``."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "-k",
            "sync",
            "-b",
            f"127.0.0.1:{port}",
            "bench.bare_endpoint:app",
        ],
        cwd=ROOT,
        env={**os.environ, "BARE_DATABASE": str(data / "bare-endpoint.sqlite3")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, seconds=60, path="/health")
        answer = requests.post(f"{base}/setup", data=setup_request(), headers={"Content-Type": "text/xml"}, timeout=10)
        if 'code="200"' not in answer.text:
            raise RuntimeError(f"the bare endpoint did not answer the setup request:\n{answer.text}")
    except BaseException:
        server.terminate()
        server.wait(timeout=30)
        raise
    return server, base


def journal_count(base: str, criteria: dict[str, object]) -> int:
    answer = requests.post(f"{base}/__admin/journal/count", json=criteria, timeout=120)
    answer.raise_for_status()
    return int(answer.json()["count"])


def wal_file_mb(data: Path) -> float:
    try:
        return Path(f"{Config(data_dir=data).database_path}-wal").stat().st_size / 1e6
    except FileNotFoundError:
        return 0.0


def worker_rss_mb(master: int) -> list[float]:
    """Resident size of each gunicorn worker (the children of the server process), in MB."""
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return []
    sizes = []
    for child in children:
        try:
            status = Path(f"/proc/{child}/status").read_text()
        except OSError:
            continue
        found = re.search(r"VmRSS:\s+(\d+) kB", status)
        if found:
            sizes.append(int(found.group(1)) / 1024)
    return sorted(sizes)


def print_ratio(runs: dict[str, list[dict[str, float]]], one: str, other: str, remark: str = "") -> None:
    """``one``'s requests per second over ``other``'s: the median of the rounds' ratios, and each."""
    ratios = [a["rps"] / b["rps"] for a, b in zip(runs[one], runs[other], strict=True)]
    each = f" (each round: {', '.join(f'{x:.2f}' for x in ratios)})" if len(ratios) > 1 else ""
    print(f"{one} / {other} = {statistics.median(ratios):.2f}{each}{remark}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1, help="drive the endpoints N times in turn; medians")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--catalog-size", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--bare", action="store_true", help="also drive bench/bare_endpoint.py in every round")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk (make bench does it when run as root)")
        return 2
    data = Path(tempfile.mkdtemp(prefix="punchout-bench-"))
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "run.py",
            "--port",
            str(port),
            "--data-dir",
            str(data),
            "--workers",
            str(args.workers),
            "--catalog-size",
            str(args.catalog_size),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    bare: subprocess.Popen[bytes] | None = None
    try:
        wait_until_healthy(base)
        # Orders are measured at intake. The demo account's buyer endpoint is the simulator's own demo
        # buyer: about two minutes after the first orders, their ConfirmationRequests came due and both
        # workers spent most of a core posting them to themselves, in the middle of a later
        # measurement. Without an endpoint the documents are held (make soak covers delivery).
        patched = requests.patch(f"{base}/__admin/accounts/demo", json={"buyer_endpoint": None}, timeout=10)
        patched.raise_for_status()
        setup = setup_request().decode().replace("1700000000.1@buyer.test", "bench-@@N@@@buyer.test")
        lines = [{"asin": "B0TESTSLOW", "price": "0", "quantity": 1}] * 10
        order = order_request(order_id="PO-@@N@@", payload_id="bench-@@N@@@buyer.test", lines=lines).decode()
        scripts = {}
        for name, body in (("setup", setup), ("order", order)):
            path = data / f"{name}.lua"
            path.write_text(LUA_POST % body)
            scripts[name] = path
        targets = [
            ("health", f"{base}/__admin/health", None),
            ("setup", f"{base}/punchout", scripts["setup"]),
            ("order", f"{base}/orders", scripts["order"]),
        ]
        if args.bare:
            bare, bare_base = start_bare_endpoint(data, args.workers)
            targets += [
                ("bare:health", f"{bare_base}/health", None),
                ("bare:setup", f"{bare_base}/setup", scripts["setup"]),
            ]
        runs: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in targets}
        memory = {"start": worker_rss_mb(server.pid)}
        wal_mb = 0.0
        for _ in range(max(1, args.rounds)):
            for name, url, script in targets:
                runs[name].append(run_wrk(url, args.seconds, args.connections, script))
                if not name.startswith("bare:"):
                    memory[name] = worker_rss_mb(server.pid)
                    wal_mb = max(wal_mb, wal_file_mb(data))
        # wrk counts HTTP errors only; a cXML refusal comes with HTTP 200: count those from the journal
        refused = {"health": 0, "bare:health": 0, "bare:setup": 0}  # the bare endpoint answers 200 or fails
        for name, doc_type in (("setup", "PunchOutSetupRequest"), ("order", "OrderRequest")):
            received = journal_count(base, {"type": doc_type, "direction": "in"})
            refused[name] = received - journal_count(base, {"type": doc_type, "direction": "in", "cxml_status": 200})
    finally:
        for process in (server, bare):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
    try:
        # counted in the database itself: the admin API's order list stops counting at 10,000
        with closing(sqlite3.connect(Config(data_dir=data).database_path)) as conn:
            taken = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
            statuses = conn.execute("SELECT status, count(*) FROM outbox GROUP BY status ORDER BY status").fetchall()
        orders_taken = f"{taken:,} orders taken of {received:,} received"
        outbox_rows = ", ".join(f"{status} {count:,}" for status, count in statuses) or "empty"
    finally:
        shutil.rmtree(data, ignore_errors=True)
    results = {
        name: {key: statistics.median(r.get(key, 0.0) for r in rs) for key in rs[0]} for name, rs in runs.items()
    }
    rounds = len(runs["health"])
    print(f"{'endpoint':<12}{'req/s':>10}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'errors':>9}")
    for name, r in results.items():
        errors = int(sum(x["non_2xx"] + x["socket_errors"] for x in runs[name])) + refused[name]
        spread = f"   ({min(x['rps'] for x in runs[name]):.0f}–{max(x['rps'] for x in runs[name]):.0f})"
        print(
            f"{name:<12}{r['rps']:>10.0f}{r.get('p50_ms', 0):>10.1f}{r.get('p90_ms', 0):>10.1f}"
            f"{r.get('p99_ms', 0):>10.1f}{errors:>9}{spread if rounds > 1 else ''}"
        )
    print_ratio(runs, "setup", "health")
    if args.bare:
        print_ratio(runs, "setup", "bare:setup")
        print_ratio(runs, "bare:setup", "bare:health", "  (the performance issue measured 0.49)")
    if rounds > 1:
        print(f"medians of {rounds} interleaved rounds; req/s range in brackets")
    print("errors: HTTP errors, socket errors and answers other than cXML 200 (from the journal)")
    print(orders_taken + " (each request a new order: no payloadID repeated)")
    print(f"outbox after the run: {outbox_rows} (held: the demo account has no buyer endpoint here)")
    print("worker RSS, MB: " + "; ".join(f"{k} {', '.join(f'{v:.0f}' for v in vs)}" for k, vs in memory.items()))
    print(f"WAL file, largest after an endpoint's run: {wal_mb:.0f} MB (the checkpointer keeps it bounded)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
