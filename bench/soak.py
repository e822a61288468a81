"""Soak run: the real server under mixed load for minutes, delivering to a flaky buyer.

``punchout-sim serve --workers 4`` on loopback, its own data dir, the demo account active with an
instant timeline and its cXML endpoint at :class:`FlakyBuyer`, a real HTTP server that answers late,
hangs past the simulator's delivery timeout, resets connections, answers HTML instead of cXML or
HTTP 503, and now and then stops listening so that connections are refused. Meanwhile:

* shoppers send a PunchOutSetupRequest, open the StartPage and browse ``/shop`` with that session;
* buyers send PunchOutSetupRequests;
* procurement systems post OrderRequests (each a fresh orderID and payloadID).

Afterwards the load stops and the outbox drains. The run passes when there was no 5xx (HTTP or
cXML), no "database is locked" anywhere (answers and the server's log), the orders in the database
are the orders acknowledged, every document due was delivered (no ``dead``/``failed`` rows; the buyer
acknowledged each payloadID), and the workers' resident memory is flat after warm-up: the mean of the
last third of the samples is within ``--rss-growth`` of the first third's.

    python -m bench.soak [--minutes 10] [--workers 4]        # make soak
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import order_request, setup_request, start_url  # noqa: E402

CXML_OK = (
    b'<?xml version="1.0"?><cXML payloadID="{pid}" timestamp="2026-01-01T00:00:00+00:00">'
    b'<Response><Status code="200" text="OK"/></Response></cXML>'
)
_PAYLOAD_ID = re.compile(rb'<cXML\b[^>]*\bpayloadID="([^"]+)"')
_STATUS = re.compile(rb'<Status\b[^>]*\bcode="(\d+)"')
PRICES = {"B0TESTSPLT": "22.99", "B0TESTSLOW": "27.49"}  # catalogue prices of two test products
DELIVERY_TIMEOUT = 10.0  # the simulator's delivery timeout (outbox.deliver_due)


# --- the buyer's flaky cXML endpoint ---------------------------------------------------------------


class FlakyBuyer:
    """A buyer endpoint that misbehaves on first attempts and accepts every document in the end.

    The first POST of a payloadID draws a behaviour from a seeded hash (so a run is reproducible):
    ``ok``, ``slow`` (answers after 0.5–2 s), ``hang`` (answers after the delivery timeout),
    ``reset`` (closes the connection with RST), ``garbage`` (HTTP 200 with an HTML page), ``http503``.
    The first document of all always hangs, so that every run sees a delivery time out.
    The second attempt is ``ok`` or ``slow``; every later one ``ok``. Every ``outage_every`` seconds
    the listener is closed for ``outage_seconds``: connections are refused meanwhile.
    """

    BEHAVIOURS = (("ok", 52), ("slow", 20), ("reset", 10), ("garbage", 8), ("http503", 8), ("hang", 2))

    def __init__(self, *, seed: int = 1, outage_every: float = 20.0, outage_seconds: float = 1.0) -> None:
        self.seed = seed
        self.lock = threading.Lock()
        self.attempts: Counter[str] = Counter()  # payloadID → POSTs received
        self.acknowledged: Counter[str] = Counter()  # payloadID → cXML 200 answers sent
        self.behaviours: Counter[str] = Counter()
        self.outages = 0
        self._stop = threading.Event()
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/cxml/inbound"
        self.server = self._listen()
        self.outage_every = outage_every
        self.outage_seconds = outage_seconds
        self._cycler = threading.Thread(target=self._cycle, name="flaky-buyer-outages", daemon=True)
        self._cycler.start()

    def _listen(self) -> ThreadingHTTPServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):  # HTTP/1.0: a connection per POST, so outages refuse
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                found = _PAYLOAD_ID.search(body)
                payload_id = found.group(1).decode() if found else "?"
                behaviour, digest = outer._behaviour(payload_id)
                if behaviour == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return  # the socket is closed with RST, no answer
                if behaviour == "slow":
                    time.sleep(0.5 + (digest % 150) / 100)
                elif behaviour == "hang":
                    time.sleep(DELIVERY_TIMEOUT + 1)
                if behaviour == "garbage":
                    self._answer(200, "text/html", b"<html><body><h1>Thanks!</h1></body></html>")
                elif behaviour == "http503":
                    self._answer(503, "text/plain", b"Service Unavailable: try later")
                elif behaviour == "hang":
                    with contextlib.suppress(OSError):  # the simulator gave up waiting: not acknowledged
                        self._answer(200, "text/xml", CXML_OK.replace(b"{pid}", b"too-late"))
                else:
                    self._answer(200, "text/xml", CXML_OK.replace(b"{pid}", f"ack-{payload_id}".encode()))
                    with outer.lock:
                        outer.acknowledged[payload_id] += 1

            def _answer(self, status: int, kind: str, page: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
                self.wfile.flush()

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return server

    def _behaviour(self, payload_id: str) -> tuple[str, int]:
        with self.lock:
            self.attempts[payload_id] += 1
            attempt = self.attempts[payload_id]
        digest = int.from_bytes(hashlib.sha256(f"{self.seed}:{payload_id}:{attempt}".encode()).digest()[:4], "big")
        if attempt == 1 and len(self.attempts) == 1:
            name = "hang"
        elif attempt == 1:
            point, name = digest % 100, "ok"
            for candidate, weight in self.BEHAVIOURS:
                if point < weight:
                    name = candidate
                    break
                point -= weight
        else:
            name = "slow" if attempt == 2 and digest % 4 == 0 else "ok"
        with self.lock:
            self.behaviours[name] += 1
        return name, digest

    def _cycle(self) -> None:
        while not self._stop.wait(self.outage_every):
            self.server.shutdown()
            self.server.server_close()  # refused from now on
            with self.lock:
                self.outages += 1
            self._stop.wait(self.outage_seconds)
            self.server = self._listen()

    def recover(self) -> None:
        """No more outages (the listener is up again if it was down); faults of first attempts stay."""
        self._stop.set()
        self._cycler.join(self.outage_every + self.outage_seconds + 5)

    def stop(self) -> None:
        self.recover()
        with contextlib.suppress(OSError):
            self.server.shutdown()
            self.server.server_close()


# --- the simulator under test ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Simulator:
    """``run.py`` (gunicorn master and workers) in its own session, its output in a file."""

    def __init__(self, data_dir: Path, workers: int, catalog_size: int, journal_max_rows: int) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / "server.log"
        dtd_dir = ROOT.parent / "shared" / "cxml" / "dtd"
        self.args = [
            sys.executable,
            "run.py",
            "--port",
            str(self.port),
            "--data-dir",
            str(data_dir),
            "--workers",
            str(workers),
            "--catalog-size",
            str(catalog_size),
            "--journal-max-rows",
            str(journal_max_rows),
            *(["--dtd-dir", str(dtd_dir)] if dtd_dir.is_dir() else []),
        ]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"{self.url}/__admin/health", timeout=2).ok:
                    return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the simulator did not start:\n{self.log()}")

    def workers(self) -> list[int]:
        """The gunicorn workers: the master's children."""
        assert self.process is not None
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    stat = (entry / "stat").read_text()
                    if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                        children.append(int(entry.name))
        return sorted(children)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = requests.request(method, f"{self.url}/__admin{path}", timeout=30, **kwargs)
        answer.raise_for_status()
        return answer.json()


def rss_kib(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# --- the load ----------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the load saw, shared by its threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: Counter[str] = field(default_factory=Counter)  # kind → requests
    statuses: Counter[str] = field(default_factory=Counter)  # "kind HTTP n" / "kind cXML n"
    server_errors: list[str] = field(default_factory=list)
    locked: list[str] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)  # orderIDs answered cXML 200/201
    latency_max: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # the load's own failures (connection errors …)

    def seen(self, kind: str, answer: requests.Response, seconds: float) -> int | None:
        code: int | None = None
        if answer.headers.get("Content-Type", "").startswith("text/xml"):
            found = _STATUS.search(answer.content)
            code = int(found.group(1)) if found else None
        with self.lock:
            self.counts[kind] += 1
            self.statuses[f"{kind} HTTP {answer.status_code}"] += 1
            if code is not None:
                self.statuses[f"{kind} cXML {code}"] += 1
            if answer.status_code >= 500 or (code is not None and code >= 500):
                self.server_errors.append(f"{kind}: HTTP {answer.status_code} {answer.text[:300]}")
            if b"database is locked" in answer.content:
                self.locked.append(f"{kind}: {answer.text[:300]}")
            self.latency_max[kind] = max(self.latency_max.get(kind, 0.0), seconds)
        return code

    def failed(self, kind: str, exc: BaseException) -> None:
        with self.lock:
            self.errors.append(f"{kind}: {type(exc).__name__}: {exc}")


def _timed(http: requests.Session, method: str, url: str, **kwargs: Any) -> tuple[requests.Response, float]:
    started = time.monotonic()
    answer = http.request(method, url, timeout=30, **kwargs)
    return answer, time.monotonic() - started


def shopper(base: str, tally: Tally, stop: threading.Event, pause: float) -> None:
    """Setup request, StartPage, then a few shop pages with that session."""
    n = 0
    while not stop.is_set():
        n += 1
        with requests.Session() as http:
            try:
                body = setup_request(buyer_cookie=f"shop-{uuid.uuid4().hex}")
                answer, took = _timed(http, "POST", f"{base}/punchout", data=body, headers={"Content-Type": "text/xml"})
                if tally.seen("setup (shopper)", answer, took) != 200:
                    continue
                for kind, url in (
                    ("start page", start_url(answer.content)),
                    ("shop search", f"{base}/shop/search?q=paper"),
                    ("shop product", f"{base}/shop/product/B0TESTSPLT"),
                    ("shop cart", f"{base}/shop/cart"),
                ):
                    page, took = _timed(http, "GET", url)
                    tally.seen(kind, page, took)
            except requests.RequestException as exc:
                tally.failed("shopper", exc)
        stop.wait(pause)


def setups(base: str, tally: Tally, stop: threading.Event, pause: float) -> None:
    with requests.Session() as http:
        while not stop.is_set():
            try:
                body = setup_request(buyer_cookie=f"setup-{uuid.uuid4().hex}")
                answer, took = _timed(http, "POST", f"{base}/punchout", data=body, headers={"Content-Type": "text/xml"})
                tally.seen("setup", answer, took)
            except requests.RequestException as exc:
                tally.failed("setup", exc)
            stop.wait(pause)


def orders(base: str, tally: Tally, stop: threading.Event, pause: float, run: str, lane: int) -> None:
    with requests.Session() as http:
        n = 0
        while not stop.is_set():
            n += 1
            order_id = f"SOAK-{run}-{lane}-{n:06d}"
            lines = [
                [{"asin": "B0TESTSPLT", "quantity": 2, "price": PRICES["B0TESTSPLT"]}],
                [{"asin": "B0TESTSLOW", "quantity": 1, "price": PRICES["B0TESTSLOW"]}],
                [
                    {"asin": "B0TESTSPLT", "quantity": 1, "price": PRICES["B0TESTSPLT"]},
                    {"asin": "B0TESTSLOW", "quantity": 3, "price": PRICES["B0TESTSLOW"]},
                ],
            ][n % 3]
            body = order_request(order_id=order_id, payload_id=f"{order_id}@buyer.test", lines=lines, state="IL")
            try:
                answer, took = _timed(http, "POST", f"{base}/orders", data=body, headers={"Content-Type": "text/xml"})
                if tally.seen("order", answer, took) in (200, 201):
                    with tally.lock:
                        tally.acknowledged.add(order_id)
            except requests.RequestException as exc:
                tally.failed("order", exc)
            stop.wait(pause)


# --- the run -----------------------------------------------------------------------------------------


@dataclass
class Result:
    seconds: float
    tally: Tally
    buyer: FlakyBuyer
    rss: list[tuple[float, int]]  # (seconds since start, KiB of all workers)
    workers_at_start: list[int]
    workers_at_end: list[int]
    orders_in_database: int
    outbox: Counter[str]  # status → rows
    outbox_payload_ids: set[str]
    journal: dict[str, Any]
    log_locked: list[str]
    log_errors: list[str]
    drained_in: float
    attempts: Counter[str]  # delivery attempts by outcome and cause, from the database
    boots: int  # "Booting worker" lines in the server's log
    backlog: list[int]  # outbox rows pending or being sent, sampled with the RSS
    warmup: float
    rss_growth_limit: float
    checks: dict[str, bool] = field(default_factory=dict)

    def rss_thirds(self) -> tuple[float, float]:
        """Mean worker RSS (MiB) of the first and the last third of the samples after warm-up."""
        samples = [kib for at, kib in self.rss if at >= self.warmup]
        if len(samples) < 3:
            return 0.0, 0.0
        third = len(samples) // 3
        first, last = samples[:third], samples[-third:]
        return sum(first) / len(first) / 1024, sum(last) / len(last) / 1024

    def evaluate(self) -> bool:
        first, last = self.rss_thirds()
        delivered = self.outbox["delivered"]
        due = sum(self.outbox.values())
        self.checks = {
            "no 5xx (HTTP or cXML)": not self.tally.server_errors,
            'no "database is locked"': not self.tally.locked and not self.log_locked,
            "no load-side errors": not self.tally.errors,
            "orders in database = orders acknowledged": self.orders_in_database == len(self.tally.acknowledged),
            "documents delivered = documents due": delivered == due and due > 0,
            "every document acknowledged by the buyer": self.outbox_payload_ids <= set(self.buyer.acknowledged),
            "workers never restarted": self.workers_at_start == self.workers_at_end
            and self.boots == len(self.workers_at_start),
            "intake answered while deliveries hung (order < 5 s)": self.tally.latency_max.get("order", 99) < 5,
            "RSS flat after warm-up": first > 0 and last <= first * (1 + self.rss_growth_limit),
        }
        return all(self.checks.values())

    def summary(self) -> str:
        first, last = self.rss_thirds()
        t = self.tally
        rows = [
            (
                "duration of the load",
                f"{self.seconds:.0f} s (warm-up {self.warmup:.0f} s), drained in {self.drained_in:.1f} s",
            ),
            ("workers", f"{len(self.workers_at_start)} (pids {self.workers_at_start}), {self.boots} booted"),
            *[
                (f"requests: {kind}", f"{n} (max {t.latency_max.get(kind, 0):.2f} s)")
                for kind, n in sorted(t.counts.items())
            ],
            ("5xx answers", str(len(t.server_errors))),
            ('"database is locked"', f"{len(t.locked)} in answers, {len(self.log_locked)} in the server log"),
            ("load-side errors", str(len(t.errors))),
            ("orders acknowledged / in database", f"{len(t.acknowledged)} / {self.orders_in_database}"),
            ("outbox rows by status", ", ".join(f"{k} {v}" for k, v in sorted(self.outbox.items()))),
            (
                "buyer: POSTs / payloadIDs acknowledged",
                f"{sum(self.buyer.attempts.values())} / {len(self.buyer.acknowledged)}",
            ),
            ("buyer: behaviours", ", ".join(f"{k} {v}" for k, v in sorted(self.buyer.behaviours.items()))),
            ("buyer: outages (refused)", str(self.buyer.outages)),
            (
                "outbox backlog max / at the end of the load",
                f"{max(self.backlog, default=0)} / {self.backlog[-1] if self.backlog else 0}",
            ),
            ("delivery attempts", ", ".join(f"{k} {v}" for k, v in sorted(self.attempts.items()))),
            (
                "journal entries / pruned",
                f"{self.journal.get('entries')} / {self.journal.get('pruned_total')}"
                f" (max_rows {self.journal.get('max_rows')})",
            ),
            (
                "worker RSS first → last third",
                f"{first:.1f} → {last:.1f} MiB ({(last / first - 1) * 100 if first else 0:+.1f} %,"
                f" limit +{self.rss_growth_limit * 100:.0f} %)",
            ),
            ("server log errors", str(len(self.log_errors))),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"{name:<{width}}  {value}" for name, value in rows]
        lines.append("")
        lines.extend(f"{'PASS' if ok else 'FAIL'}  {name}" for name, ok in self.checks.items())
        for label, items in (
            ("5xx", t.server_errors),
            ("locked", t.locked + self.log_locked),
            ("load errors", t.errors),
        ):
            lines.extend(f"  {label}: {item}" for item in items[:5])
        return "\n".join(lines)


def run(
    *,
    seconds: float,
    workers: int = 4,
    catalog_size: int = 2000,
    shoppers: int = 2,
    order_lanes: int = 1,
    order_pause: float = 0.5,
    page_pause: float = 0.2,
    journal_max_rows: int = 5000,
    rss_every: float = 2.0,
    rss_growth: float = 0.10,
    outage_every: float = 20.0,
    outage_seconds: float = 1.0,
    drain_seconds: float = 180.0,
    data_root: Path | None = None,
) -> Result:
    """Run the soak for ``seconds`` of load, drain the outbox, and return what was seen."""
    root = Path(data_root or tempfile.mkdtemp(prefix="punchout-soak-"))
    simulator = Simulator(root / "data", workers, catalog_size, journal_max_rows)
    buyer = FlakyBuyer(outage_every=outage_every, outage_seconds=outage_seconds)
    simulator.start()
    try:
        simulator.admin(
            "PATCH",
            "/accounts/demo",
            json={
                "status": "active",
                "payment_method": {"type": "invoice"},
                "buyer_endpoint": {"url": buyer.url},
                "settings": {"timeline": "instant"},
            },
        )
        tally = Tally()
        stop = threading.Event()
        run_id = uuid.uuid4().hex[:6]
        threads = [
            threading.Thread(target=shopper, args=(simulator.url, tally, stop, page_pause)) for _ in range(shoppers)
        ]
        threads.append(threading.Thread(target=setups, args=(simulator.url, tally, stop, page_pause)))
        threads += [
            threading.Thread(target=orders, args=(simulator.url, tally, stop, order_pause, run_id, lane))
            for lane in range(order_lanes)
        ]
        workers_at_start = simulator.workers()
        deadline = time.monotonic() + 60
        while len(workers_at_start) < workers and time.monotonic() < deadline:  # still booting
            time.sleep(0.2)
            workers_at_start = simulator.workers()
        started = time.monotonic()
        for thread in threads:
            thread.daemon = True
            thread.start()
        rss: list[tuple[float, int]] = []
        backlog: list[int] = []
        while (elapsed := time.monotonic() - started) < seconds:
            rss.append((elapsed, sum(rss_kib(pid) for pid in simulator.workers())))
            backlog.append(waiting(root / "data" / "simulator.sqlite3"))
            time.sleep(min(rss_every, max(seconds - elapsed, 0.01)))
        stop.set()
        for thread in threads:
            thread.join(60)
        load_seconds = time.monotonic() - started
        backlog.append(waiting(root / "data" / "simulator.sqlite3"))
        buyer.recover()  # the buyer's server is back for good: what is pending now drains with backoff
        drain_started = time.monotonic()
        while time.monotonic() - drain_started < drain_seconds and waiting(root / "data" / "simulator.sqlite3"):
            time.sleep(0.5)
        drained_in = time.monotonic() - drain_started
        workers_at_end = simulator.workers()
        outbox: Counter[str] = Counter()
        payload_ids: set[str] = set()
        offset = 0
        while True:
            page = simulator.admin("GET", f"/outbox?limit=500&offset={offset}")
            for item in page["items"]:
                outbox[item["status"]] += 1
                payload_ids.add(item["payload_id"])
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                break
        orders_in_database = simulator.admin("GET", "/orders?limit=1")["total"]
        journal = simulator.admin("GET", "/journal/retention")
    finally:
        simulator.stop()
        buyer.stop()
    log = simulator.log().splitlines()
    attempts = attempt_causes(root / "data" / "simulator.sqlite3")
    result = Result(
        seconds=load_seconds,
        tally=tally,
        buyer=buyer,
        rss=rss,
        workers_at_start=workers_at_start,
        workers_at_end=workers_at_end,
        orders_in_database=orders_in_database,
        outbox=outbox,
        outbox_payload_ids=payload_ids,
        journal=journal,
        log_locked=[line for line in log if "database is locked" in line],
        log_errors=[line for line in log if " ERROR " in line or "Traceback" in line],
        drained_in=drained_in,
        attempts=attempts,
        backlog=backlog,
        boots=sum("Booting worker" in line for line in log),
        warmup=min(60.0, seconds / 4),
        rss_growth_limit=rss_growth,
    )
    result.evaluate()
    return result


CAUSES = (
    ("refused", "Connection refused"),
    ("reset", "Connection reset"),
    ("closed", "Connection closed"),
    ("timeout", "(timeout)"),
    ("not cXML", "The answer is not cXML"),
    ("HTTP 503", "HTTP 503"),
)


def waiting(database: Path) -> int:
    """Outbox rows pending or being sent, in one read (two admin calls could miss a row moving between)."""
    conn = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')").fetchone()[0])
    finally:
        conn.close()


def attempt_causes(database: Path) -> Counter[str]:
    """Delivery attempts by outcome, the retries by cause (what the buyer did), read from the database."""
    found: Counter[str] = Counter()
    conn = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
    try:
        for outcome, error in conn.execute("SELECT outcome, coalesce(error, '') FROM delivery_attempts"):
            cause = next((name for name, text in CAUSES if text in error), "other") if outcome == "retry" else ""
            found[f"{outcome} ({cause})" if cause else outcome] += 1
    finally:
        conn.close()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes of load (default 10)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--catalog-size", type=int, default=2000)
    parser.add_argument("--shoppers", type=int, default=2, help="concurrent shoppers (default 2)")
    parser.add_argument("--order-lanes", type=int, default=2, help="concurrent order posters (default 2)")
    parser.add_argument("--order-pause", type=float, default=2.0, help="seconds between a lane's orders (2)")
    parser.add_argument("--journal-max-rows", type=int, default=5000, help="the server's journal retention")
    parser.add_argument("--rss-growth", type=float, default=0.10, help="allowed RSS growth, last vs first third")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    result = run(
        seconds=args.minutes * 60,
        workers=args.workers,
        catalog_size=args.catalog_size,
        shoppers=args.shoppers,
        order_lanes=args.order_lanes,
        order_pause=args.order_pause,
        journal_max_rows=args.journal_max_rows,
        rss_every=10.0 if args.minutes >= 5 else 2.0,
        rss_growth=args.rss_growth,
    )
    print(result.summary())
    if args.json:
        first, last = result.rss_thirds()
        args.json.write_text(
            json.dumps(
                {
                    "seconds": result.seconds,
                    "requests": dict(result.tally.counts),
                    "statuses": dict(result.tally.statuses),
                    "orders_acknowledged": len(result.tally.acknowledged),
                    "orders_in_database": result.orders_in_database,
                    "outbox": dict(result.outbox),
                    "buyer_behaviours": dict(result.buyer.behaviours),
                    "outages": result.buyer.outages,
                    "rss_mib_first_third": first,
                    "rss_mib_last_third": last,
                    "rss_samples": result.rss,
                    "backlog_samples": result.backlog,
                    "attempts": dict(result.attempts),
                    "drained_in": result.drained_in,
                    "journal": result.journal,
                    "checks": result.checks,
                },
                indent=2,
            )
        )
    return 0 if all(result.checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
