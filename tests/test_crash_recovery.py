"""A SIGKILL of the whole server loses nothing it acknowledged and sends nothing twice (except what it interrupted).

Two kills of the real server (gunicorn master and workers, see ``test_server.Server``):

* during delivery (the first test, described below), and
* during order intake (``test_sigkill_during_order_intake_...``): concurrent buyers post orders to
  two workers and the process group is killed mid-stream. After a restart on the same data dir
  every order answered with cXML 200 is in the database, every stored order is whole (its
  documents are in the outbox: one transaction), and each document reaches the buyer once.

The delivery case:

The real server (gunicorn master + worker, see ``test_server.Server``) takes ten orders with the
realistic timeline, so every ConfirmationRequest, ShipNoticeRequest and InvoiceDetailRequest waits
in the SQLite outbox. The clock is moved to when the confirmations are due and, while the
dispatcher is in the middle of sending one (the buyer's receiver holds its answer), the whole
process group is killed with SIGKILL. A new server on the same data dir and port must then:

* still know every order that was acknowledged with cXML 200, on a database that passes
  ``PRAGMA integrity_check`` (right after the kill and after the final stop);
* deliver every document exactly once, except the one whose delivery the kill interrupted: that
  one is sent again (at-least-once, protocol.md §6), byte for byte the same, and its outbox item
  shows the ``interrupted`` attempt.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests
from lxml import etree

from simulator.cxml.validate import DtdRegistry

from . import helpers
from .helpers import assert_valid, status_of
from .test_server import Server

pytestmark = pytest.mark.skipif(not hasattr(os, "killpg"), reason="POSIX only: kills a process group")

ORDERS = 10
HELD_POST = 3  # the receiver holds its answer to this POST: the kill lands during that delivery
PRICES = {"B0TESTSPLT": Decimal("22.99"), "B0TESTSLOW": Decimal("27.49")}  # catalogue prices, below tier 1
TIMEOUT = 10
PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
OK = (
    b'<?xml version="1.0"?><cXML payloadID="x" timestamp="2026-01-01T00:00:00+00:00">'
    b'<Response><Status code="200" text="OK"/></Response></cXML>'
)


# --- the buyer's cXML endpoint ------------------------------------------------------------------


class CxmlReceiver:
    """The buyer's inbound cXML URL: records every POST body, answers cXML 200.

    With ``hold_post=n`` the answer to the n-th POST waits until :meth:`release` (the body is
    already recorded: the buyer has the document, the simulator does not know it yet).
    """

    def __init__(self, hold_post: int | None = None) -> None:
        self.bodies: list[bytes] = []
        self.lock = threading.Lock()
        self.hold_post = hold_post
        self.holding = threading.Event()
        self._release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    outer.bodies.append(body)
                    number = len(outer.bodies)
                if number == outer.hold_post:
                    outer.holding.set()
                    outer._release.wait(60)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/xml")
                    self.send_header("Content-Length", str(len(OK)))
                    self.end_headers()
                    self.wfile.write(OK)
                except OSError:
                    pass  # the sender was killed while we held the answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/cxml/inbound"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def snapshot(self) -> list[bytes]:
        with self.lock:
            return list(self.bodies)

    def release(self) -> None:
        self._release.set()

    def stop(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


# --- a server that can be killed as a whole ------------------------------------------------------


class KillableServer(Server):
    """``Server`` in its own session, so the gunicorn master and its worker die with one ``killpg``."""

    popen_options: ClassVar[dict[str, Any]] = {"start_new_session": True}

    def kill(self) -> None:
        """SIGKILL the master and every worker at once; return when the port is closed."""
        assert self.process is not None
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # the session leader's pid is the group id
            self.process.wait(timeout=TIMEOUT)
            self.collect_output()
        # Every process of the group held the listening socket: refused means none is left.
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            except ConnectionRefusedError:
                return
            assert time.monotonic() < deadline, f"port {self.port} still answers after SIGKILL of the group"
            time.sleep(0.1)

    def get(self, path: str) -> Any:
        answer = requests.get(f"{self.url}{path}", timeout=TIMEOUT)
        assert answer.ok, f"GET {path}: HTTP {answer.status_code} {answer.text}"
        return answer.json()

    def post(self, path: str, json: dict[str, Any]) -> Any:
        answer = requests.post(f"{self.url}{path}", json=json, timeout=TIMEOUT)
        assert answer.ok, f"POST {path}: HTTP {answer.status_code} {answer.text}"
        return answer.json()


@pytest.fixture
def receiver() -> Iterator[CxmlReceiver]:
    r = CxmlReceiver(hold_post=HELD_POST)
    yield r
    r.stop()


@pytest.fixture
def servers(tmp_path: Path, dtd_dir: Path) -> Iterator[Callable[..., KillableServer]]:
    started: list[KillableServer] = []

    def make(port: int | None = None, *extra: str) -> KillableServer:
        server = KillableServer(tmp_path / "data", dtd_dir, *extra, port=port)
        started.append(server)
        server.start()
        return server

    yield make
    for server in started:
        if server.process is not None and server.process.returncode is None:
            server.kill()


# --- the buyer's OrderRequest --------------------------------------------------------------------


def order_request(order_id: str, lines: list[tuple[str, int]]) -> bytes:
    """An OrderRequest of type new for ``lines`` of (ASIN, quantity) at the catalogue's prices."""
    return helpers.order_request(
        order_id=order_id,
        payload_id=f"{uuid.uuid4().hex}@buyer.test",
        state="IL",
        lines=[{"asin": asin, "quantity": quantity, "price": str(PRICES[asin])} for asin, quantity in lines],
    )


def lines_of(n: int) -> list[tuple[str, int]]:
    """Two sellers (two supplier orders), a split shipment, or one slow item, in turn."""
    return [
        [("B0TESTSPLT", 2), ("B0TESTSLOW", 1)],
        [("B0TESTSPLT", 4)],
        [("B0TESTSLOW", 1)],
    ][n % 3]


# --- reading the server and the database ---------------------------------------------------------


def count(server: KillableServer, status: str) -> int:
    return int(server.get(f"/__admin/outbox?status={status}&limit=1")["total"])


def wait_until(condition: Callable[[], bool], seconds: float, message: Callable[[], str]) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"after {seconds} s: {message()}")
        time.sleep(0.1)


def integrity(database: Path) -> str:
    conn = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def integrity_as_left(database: Path, scratch: Path) -> str:
    """integrity_check of the database and its WAL as the kill left them, on a copy (recovery runs there)."""
    scratch.mkdir()
    copy = scratch / database.name
    for suffix in ("", "-wal"):
        if Path(f"{database}{suffix}").exists():
            shutil.copyfile(f"{database}{suffix}", f"{copy}{suffix}")
    conn = sqlite3.connect(copy)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def payload_id_of(body: bytes) -> str:
    return str(etree.fromstring(body, PARSER).get("payloadID"))


# --- the test -----------------------------------------------------------------------------------


def test_sigkill_while_documents_are_pending_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path, servers: Callable[..., KillableServer], receiver: CxmlReceiver, dtds: DtdRegistry
) -> None:
    first = servers()
    answer = requests.patch(
        f"{first.url}/__admin/accounts/demo",
        json={
            "status": "active",
            "payment_method": {"type": "invoice"},
            "buyer_endpoint": {"url": receiver.url},
            "settings": {"timeline": "realistic"},
        },
        timeout=TIMEOUT,
    )
    assert answer.ok, answer.text

    # Ten orders, each acknowledged with cXML 200; their documents wait in the outbox.
    run = uuid.uuid4().hex[:8]
    acknowledged = []
    for n in range(ORDERS):
        order_id = f"PO-{run}-{n:02d}"
        body = order_request(order_id, lines_of(n))
        assert_valid(body, dtds)
        reply = requests.post(f"{first.url}/orders", data=body, headers={"Content-Type": "text/xml"}, timeout=TIMEOUT)
        assert status_of(reply.content)[0] == 200, reply.text
        acknowledged.append(order_id)
    pending = count(first, "pending")
    assert pending >= 3 * ORDERS, f"expected a confirmation, shipments and an invoice per order; {pending} pending"
    assert count(first, "delivered") == 0
    assert receiver.snapshot() == [], "nothing is due before the confirmations (2 min after the order)"

    # Confirmations due: kill the whole server while the dispatcher waits for the buyer's answer.
    first.post("/__admin/clock/advance", {"seconds": 130})
    assert receiver.holding.wait(30), (
        f"the dispatcher did not send {HELD_POST} documents within 30 s; it sent {len(receiver.snapshot())}"
    )
    first.kill()
    receiver.release()
    received_before_kill = receiver.snapshot()
    assert len(received_before_kill) == HELD_POST, "one dispatcher sends one document at a time"
    held = payload_id_of(received_before_kill[-1])  # received by the buyer, unknown to the simulator
    database = tmp_path / "data" / "simulator.sqlite3"
    assert integrity_as_left(database, tmp_path / "as-left") == "ok"

    # The same data dir and port: every acknowledged order is still there.
    second = servers(port=first.port)
    orders = second.get("/__admin/orders?limit=500")
    assert sorted(o["order_id"] for o in orders["items"]) == sorted(acknowledged)
    sending = {item["payload_id"] for item in second.get("/__admin/outbox?status=sending&limit=500")["items"]}
    assert held in sending, "the interrupted send keeps its claim until its lease expires"

    # A day later everything is due, the interrupted send's lease included.
    second.post("/__admin/clock/advance", {"seconds": 86400})
    wait_until(
        lambda: count(second, "pending") + count(second, "sending") == 0,
        30,
        lambda: (
            f"{count(second, 'pending')} pending, {count(second, 'sending')} sending; "
            f"{len(receiver.snapshot())} documents received"
        ),
    )
    outbox = second.get("/__admin/outbox?limit=500")
    assert outbox["total"] == len(outbox["items"]) == pending, "no document appeared or vanished"
    assert {item["status"] for item in outbox["items"]} == {"delivered"}, [
        (item["payload_id"], item["status"], item["last_error"]) for item in outbox["items"]
    ]
    interrupted = {
        item["payload_id"]
        for item in outbox["items"]
        if any(a["outcome"] == "interrupted" for a in second.get(f"/__admin/outbox/{item['id']}")["attempts"])
    }

    # At the buyer: every document once; the interrupted one at most twice, identical.
    received: dict[str, list[bytes]] = defaultdict(list)
    for body in receiver.snapshot():
        received[payload_id_of(body)].append(body)
    expected = {item["payload_id"] for item in outbox["items"]}
    assert set(received) == expected, (
        f"missing: {sorted(expected - set(received))}; unexpected: {sorted(set(received) - expected)}"
    )
    duplicates = {pid for pid, bodies in received.items() if len(bodies) > 1}
    assert duplicates <= interrupted, f"sent twice without an interrupted attempt: {sorted(duplicates - interrupted)}"
    for pid in duplicates:
        assert len(received[pid]) == 2 and received[pid][0] == received[pid][1], f"{pid}: resent differently"
    # The document the kill interrupted (the one the receiver held) was received, then sent again.
    assert interrupted == {held} == duplicates, (interrupted, held, duplicates)
    for bodies in received.values():
        assert_valid(bodies[0], dtds)

    second.stop()
    assert integrity(database) == "ok"


# --- a kill during order intake ---------------------------------------------------------------------

BUYERS = 6  # concurrent buyers posting orders
INTAKE_SECONDS = 1.5  # how long they post before the kill, at most
ENOUGH = 40  # … or until this many orders were acknowledged


def test_sigkill_during_order_intake_keeps_every_acknowledged_order(
    tmp_path: Path, servers: Callable[..., KillableServer], dtds: DtdRegistry
) -> None:
    buyer = CxmlReceiver()
    try:
        _intake_crash(tmp_path, servers, buyer, dtds)
    finally:
        buyer.stop()


def _intake_crash(
    tmp_path: Path, servers: Callable[..., KillableServer], buyer: CxmlReceiver, dtds: DtdRegistry
) -> None:
    first = servers(None, "--workers", "2")
    answer = requests.patch(
        f"{first.url}/__admin/accounts/demo",
        json={
            "status": "active",
            "payment_method": {"type": "invoice"},
            "buyer_endpoint": {"url": buyer.url},
            "settings": {"timeline": "realistic"},  # documents wait: none is in flight at the kill
        },
        timeout=TIMEOUT,
    )
    assert answer.ok, answer.text

    run = uuid.uuid4().hex[:8]
    acknowledged: list[str] = []
    refused: list[tuple[str, str]] = []  # answers other than cXML 200 (there must be none)
    unanswered: list[str] = []  # in flight at the kill: stored or not, either is right
    lock = threading.Lock()
    stop = threading.Event()
    numbers = iter(range(100_000))

    def buyer_loop() -> None:
        with requests.Session() as http:
            while not stop.is_set():
                with lock:
                    n = next(numbers)
                order_id = f"PO-{run}-{n:04d}"
                body = order_request(order_id, lines_of(n))
                try:
                    reply = http.post(
                        f"{first.url}/orders", data=body, headers={"Content-Type": "text/xml"}, timeout=TIMEOUT
                    )
                except requests.RequestException:
                    with lock:
                        unanswered.append(order_id)
                    continue
                code = status_of(reply.content)[0] if reply.content.startswith(b"<?xml") else reply.status_code
                with lock:
                    (acknowledged.append(order_id) if code == 200 else refused.append((order_id, reply.text[:300])))

    threads = [threading.Thread(target=buyer_loop, daemon=True) for _ in range(BUYERS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + INTAKE_SECONDS
    while time.monotonic() < deadline and len(acknowledged) < ENOUGH:
        time.sleep(0.01)
    first.kill()  # buyers are still posting: some requests are cut off mid-way
    stop.set()
    for thread in threads:
        thread.join(TIMEOUT)
    assert refused == []
    assert len(acknowledged) >= 5, f"only {len(acknowledged)} orders acknowledged before the kill"
    database = tmp_path / "data" / "simulator.sqlite3"
    assert integrity_as_left(database, tmp_path / "as-left") == "ok"

    second = servers(first.port, "--workers", "2")
    stored = {o["order_id"]: o for o in second.get("/__admin/orders?limit=500")["items"]}
    missing = sorted(set(acknowledged) - set(stored))
    assert missing == [], f"acknowledged with cXML 200 but lost: {missing}"
    assert set(stored) <= set(acknowledged) | set(unanswered), "an order nobody sent"

    # Every stored order is whole: its documents wait in the outbox (order and outbox: one transaction).
    outbox_items = second.get("/__admin/outbox?limit=500")["items"]
    per_order: dict[str, int] = defaultdict(int)
    for item in outbox_items:
        per_order[item["order_id"]] += 1
    for order in stored.values():
        assert per_order[order["id"]] >= 3, f"{order['order_id']} has {per_order[order['id']]} documents"

    # A day later everything is due: each document reaches the buyer once.
    second.post("/__admin/clock/advance", {"seconds": 86400})
    wait_until(
        lambda: count(second, "pending") + count(second, "sending") == 0,
        60,
        lambda: f"{count(second, 'pending')} pending, {count(second, 'sending')} sending",
    )
    outbox_items = second.get("/__admin/outbox?limit=500")["items"]
    assert {item["status"] for item in outbox_items} == {"delivered"}
    received: dict[str, list[bytes]] = defaultdict(list)
    for body in buyer.snapshot():
        received[payload_id_of(body)].append(body)
    expected = {item["payload_id"] for item in outbox_items}
    assert set(received) == expected
    interrupted = {
        item["payload_id"]
        for item in outbox_items
        if any(a["outcome"] == "interrupted" for a in second.get(f"/__admin/outbox/{item['id']}")["attempts"])
    }
    twice = {pid for pid, bodies in received.items() if len(bodies) > 1}
    assert twice <= interrupted, f"sent twice without an interrupted attempt: {sorted(twice - interrupted)}"
    for bodies in received.values():
        assert_valid(bodies[0], dtds)
    second.stop()
    assert integrity(database) == "ok"
    print(
        f"intake crash: {len(acknowledged)} acknowledged, {len(unanswered)} cut off, {len(stored)} stored, "
        f"{len(outbox_items)} documents delivered, {len(twice)} twice (interrupted)"
    )
