"""The outbox: at-least-once delivery to a real HTTP buyer on loopback, from a real SQLite file."""

from __future__ import annotations

import json
import re
import socket
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from simulator import clock, db, journal, outbox
from simulator.errors import AdminError, NotFound

ACCOUNT = "acct-1"
CONTENT_TYPE = "text/xml; charset=UTF-8"


def document(payload_id: str, doc_type: str = "ConfirmationRequest") -> bytes:
    """A small supplier document, as the order service would queue it (with a secret to mask)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/1.2.069/Fulfill.dtd">\n'
        f'<cXML payloadID="{payload_id}" timestamp="2025-01-01T00:00:00.000+00:00">'
        '<Header><From><Credential domain="NetworkId"><Identity>AN01000000001</Identity></Credential></From>'
        '<To><Credential domain="NetworkId"><Identity>DEMO-BUYER</Identity></Credential></To>'
        '<Sender><Credential domain="NetworkId"><Identity>AN01000000001</Identity>'
        "<SharedSecret>buyer-inbound-secret</SharedSecret></Credential><UserAgent>Amazon</UserAgent></Sender>"
        f'</Header><Request><{doc_type}><Note xml:lang="en">Grüße</Note></{doc_type}></Request></cXML>'
    ).encode()


def cxml_status(code: int, text: str, message: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<cXML payloadID="answer-{code}@buyer.test" timestamp="2025-01-01T00:00:00+00:00">'
        f'<Response><Status code="{code}" text="{text}">{message}</Status></Response></cXML>'
    ).encode()


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = cxml_status(200, "OK")
    content_type: str = "text/xml; charset=UTF-8"
    delay: float = 0.0


class Buyer:
    """A buyer's cXML endpoint on 127.0.0.1 whose answers each test chooses.

    Answers queued with :meth:`answer` are used one per request, then :attr:`default`. The port is
    reserved when the object is made, so the URL is known before :meth:`start`; a buyer that is not
    started (or is stopped) refuses connections.
    """

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/cxml"
        self.default = Answer()
        self.queue: list[Answer] = []
        self.posts: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.event = threading.Event()
        self.server: ThreadingHTTPServer | None = None

    def answer(self, *answers: Answer) -> None:
        with self.lock:
            self.queue.extend(answers)

    def payload_ids(self) -> list[str]:
        with self.lock:
            return [p["payload_id"] for p in self.posts]

    def start(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                match = re.search(rb'payloadID="([^"]+)"', body)
                with outer.lock:
                    outer.posts.append(
                        {
                            "path": self.path,
                            "content_type": self.headers.get("Content-Type", ""),
                            "body": body,
                            "payload_id": match.group(1).decode() if match else None,
                        }
                    )
                    answer = outer.queue.pop(0) if outer.queue else outer.default
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.content_type)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    pass  # the sender gave up waiting (timeout test)
                outer.event.set()

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "simulator.db"


@pytest.fixture
def conn(db_path: Path) -> Iterator[sqlite3.Connection]:
    connection = db.connect(db_path)
    db.initialise(connection)
    connection.executescript(outbox.SCHEMA)
    clock.reset(connection)
    yield connection
    clock.reset(connection)  # the offset is process-wide: leave it at zero for other tests
    connection.close()


@pytest.fixture
def buyer() -> Iterator[Buyer]:
    b = Buyer()
    b.start()
    yield b
    b.stop()


def queue(
    conn: sqlite3.Connection,
    payload_id: str,
    url: str | None,
    *,
    account_id: str = ACCOUNT,
    delay: float = 0,
    due_at: datetime | None = None,
    order_id: str = "order-1",
) -> int:
    return outbox.enqueue(
        conn,
        account_id=account_id,
        doc_type="ConfirmationRequest",
        payload_id=payload_id,
        body=document(payload_id),
        url=url,
        due_at=due_at or clock.now() + timedelta(seconds=delay),
        order_id=order_id,
        step="confirm",
    )


def deliver(conn: sqlite3.Connection, **kwargs: Any) -> int:
    return outbox.deliver_due(conn, worker_id="test-worker", **kwargs)


def seconds_between(earlier: str, later: str) -> float:
    return (clock.parse(later) - clock.parse(earlier)).total_seconds()


def test_delivered_on_cxml_200_with_exact_body_and_content_type(conn: sqlite3.Connection, buyer: Buyer) -> None:
    item_id = queue(conn, "doc-1@sim", buyer.url)
    assert outbox.get_item(conn, item_id).status == "pending"
    assert outbox.pending_count(conn) == 1

    assert deliver(conn) == 1
    assert len(buyer.posts) == 1
    assert buyer.posts[0]["body"] == document("doc-1@sim")
    assert buyer.posts[0]["content_type"] == CONTENT_TYPE
    assert buyer.posts[0]["path"] == "/cxml"
    item = outbox.get_item(conn, item_id)
    assert (item.status, item.attempts, item.last_http_status, item.last_cxml_status) == ("delivered", 1, 200, 200)
    assert item.delivered_at is not None and item.last_error is None
    assert outbox.pending_count(conn) == 0
    assert deliver(conn) == 0 and len(buyer.posts) == 1

    as_json = item.to_json()
    json.dumps(as_json)
    assert as_json["body"].startswith("<?xml") and "Grüße" in as_json["body"]
    assert "buyer-inbound-secret" not in as_json["body"] and "<SharedSecret>****</SharedSecret>" in as_json["body"]
    [attempt] = outbox.attempts(conn, item_id)
    assert attempt["outcome"] == "delivered" and attempt["http_status"] == 200 and attempt["cxml_status"] == 200
    assert attempt["attempt"] == 1 and attempt["worker_id"] == "test-worker" and attempt["duration_ms"] >= 0
    assert attempt["response"] == cxml_status(200, "OK").decode()


def test_not_sent_before_due(conn: sqlite3.Connection, buyer: Buyer) -> None:
    item_id = queue(conn, "later@sim", buyer.url, delay=3600)
    assert deliver(conn) == 0 and buyer.posts == []
    clock.advance(conn, 3599)
    assert deliver(conn) == 0
    clock.advance(conn, 1)
    assert deliver(conn) == 1
    assert outbox.get_item(conn, item_id).status == "delivered"


def test_retries_with_backoff_until_the_buyer_recovers(conn: sqlite3.Connection) -> None:
    buyer = Buyer()  # not listening yet: connections are refused
    item_id = queue(conn, "retry@sim", buyer.url)
    try:
        assert deliver(conn) == 1
        item = outbox.get_item(conn, item_id)
        assert item.status == "pending" and item.attempts == 1
        assert item.last_error is not None
        assert item.last_error.startswith(f"Connection refused by {buyer.url}")
        assert item.last_http_status is None

        buyer.start()
        buyer.answer(
            Answer(status=500, body=b"<html>boom</html>", content_type="text/html"),
            Answer(status=200, body=b"OK", content_type="text/plain"),
            Answer(body=cxml_status(500, "Internal Server Error", "Database down")),
        )
        errors: list[str | None] = [item.last_error]
        for attempt in (2, 3, 4):
            assert deliver(conn) == 0, "not due before its backoff has passed"
            clock.advance(conn, outbox.backoff_seconds(attempt - 1))
            assert deliver(conn) == 1
            item = outbox.get_item(conn, item_id)
            assert item.status == "pending" and item.attempts == attempt
            errors.append(item.last_error)
        assert errors[1] == f"HTTP 500 Internal Server Error from {buyer.url}: <html>boom</html>"
        assert errors[2] is not None
        assert errors[2].startswith("The answer is not cXML: it is not well-formed XML (line 1): ")
        assert errors[2].endswith(f"(HTTP 200 from {buyer.url}).")
        assert errors[3] == "cXML 500 Internal Server Error: Database down"
        assert item.last_cxml_status == 500

        clock.advance(conn, outbox.backoff_seconds(4))
        assert deliver(conn) == 1
        item = outbox.get_item(conn, item_id)
        assert item.status == "delivered" and item.attempts == 5 and item.last_error is None
    finally:
        buyer.stop()

    assert buyer.payload_ids() == ["retry@sim"] * 4, "the same payloadID on every attempt"
    history = outbox.attempts(conn, item_id)
    assert [a["outcome"] for a in history] == ["retry"] * 4 + ["delivered"]
    assert [a["http_status"] for a in history] == [None, 500, 200, 200, 200]
    assert [a["cxml_status"] for a in history] == [None, None, None, 500, 200]
    assert history[0]["response"] is None and history[1]["response"] == "<html>boom</html>"


def test_backoff_doubles_and_is_capped(conn: sqlite3.Connection) -> None:
    assert [outbox.backoff_seconds(n) for n in range(1, 10)] == [2, 4, 8, 16, 32, 64, 128, 256, 300]
    buyer = Buyer()  # never started
    item_id = queue(conn, "backoff@sim", buyer.url)
    waits = []
    for attempt in range(1, 5):
        before = clock.timestamp()
        assert deliver(conn) == 1
        item = outbox.get_item(conn, item_id)
        waits.append(seconds_between(before, item.next_attempt_at))
        clock.advance(conn, outbox.backoff_seconds(attempt))
    for wait, expected in zip(waits, (2, 4, 8, 16), strict=True):
        assert expected <= wait < expected + 1


def test_cxml_400_fails_and_is_never_retried(conn: sqlite3.Connection, buyer: Buyer) -> None:
    buyer.answer(Answer(body=cxml_status(400, "Bad Request", "Unknown order PO-1")))
    item_id = queue(conn, "refused@sim", buyer.url)
    assert deliver(conn) == 1
    item = outbox.get_item(conn, item_id)
    assert item.status == "failed" and item.attempts == 1 and item.last_cxml_status == 400
    assert item.last_error == "The buyer refused the document: cXML 400 Bad Request: Unknown order PO-1"
    clock.advance(conn, 86400)
    assert deliver(conn) == 0
    assert outbox.flush(conn, worker_id="test-worker") == 0
    assert len(buyer.posts) == 1
    assert [a["outcome"] for a in outbox.attempts(conn, item_id)] == ["failed"]


def test_dead_after_max_attempts_then_resend_delivers(conn: sqlite3.Connection, buyer: Buyer) -> None:
    buyer.default = Answer(status=503, body=b"maintenance", content_type="text/plain")
    item_id = queue(conn, "dead@sim", buyer.url)
    for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
        assert deliver(conn) == 1
        item = outbox.get_item(conn, item_id)
        assert item.attempts == attempt
        assert item.last_error == f"HTTP 503 Service Unavailable from {buyer.url}: maintenance"
        clock.advance(conn, outbox.backoff_seconds(attempt))
    assert item.status == "dead"
    clock.advance(conn, 86400)
    assert deliver(conn) == 0 and len(buyer.posts) == outbox.MAX_ATTEMPTS
    assert outbox.attempts(conn, item_id)[-1]["outcome"] == "dead"

    buyer.default = Answer()
    again = outbox.resend(conn, item_id)
    assert (again.status, again.attempts, again.last_error, again.payload_id) == ("pending", 0, None, "dead@sim")
    assert deliver(conn) == 1
    assert outbox.get_item(conn, item_id).status == "delivered"

    # A delivered document sent again: a deliberate duplicate, same payloadID and body.
    assert outbox.resend(conn, item_id).status == "pending"
    assert deliver(conn) == 1
    item = outbox.get_item(conn, item_id)
    assert item.status == "delivered" and item.attempts == 1
    assert buyer.payload_ids() == ["dead@sim"] * (outbox.MAX_ATTEMPTS + 2)
    assert buyer.posts[-1]["body"] == buyer.posts[0]["body"] == document("dead@sim")
    assert len(outbox.attempts(conn, item_id)) == outbox.MAX_ATTEMPTS + 2, "the history is kept"

    with pytest.raises(NotFound):
        outbox.resend(conn, 9999)


def test_send_now_sends_that_row_alone(conn: sqlite3.Connection, buyer: Buyer) -> None:
    later = queue(conn, "later@sim", buyer.url, delay=86400)
    queue(conn, "unrelated@sim", buyer.url, delay=86400)
    assert deliver(conn) == 0, "nothing is due yet"
    item = outbox.send_now(conn, later, worker_id="admin")
    assert item.status == "delivered" and buyer.payload_ids() == ["later@sim"]
    again = outbox.send_now(conn, later, worker_id="admin")  # not pending: nothing is sent
    assert again.status == "delivered" and len(buyer.posts) == 1
    outbox.resend(conn, later)
    assert outbox.send_now(conn, later, worker_id="admin").status == "delivered"
    assert buyer.payload_ids() == ["later@sim", "later@sim"]


def test_held_without_url_until_set_url(conn: sqlite3.Connection, buyer: Buyer) -> None:
    held = queue(conn, "held@sim", None)
    other = queue(conn, "other@sim", None, account_id="acct-2")
    assert outbox.get_item(conn, held).status == "held"
    assert deliver(conn) == 0
    assert outbox.flush(conn, worker_id="test-worker") == 0
    assert buyer.posts == []
    with pytest.raises(AdminError) as refused:
        outbox.resend(conn, held)
    assert refused.value.status == 409 and refused.value.error == "no_url"

    assert outbox.set_url(conn, account_id=ACCOUNT, url=buyer.url) == 1
    item = outbox.get_item(conn, held)
    assert item.status == "pending" and item.url == buyer.url
    assert deliver(conn) == 1
    assert outbox.get_item(conn, held).status == "delivered"
    assert buyer.payload_ids() == ["held@sim"]
    assert outbox.get_item(conn, other).status == "held"
    assert outbox.set_url(conn, account_id=ACCOUNT, url=buyer.url) == 0


def test_enqueue_is_idempotent_by_payload_id(conn: sqlite3.Connection, buyer: Buyer) -> None:
    first = queue(conn, "same@sim", buyer.url)
    second = outbox.enqueue(
        conn,
        account_id="acct-other",
        doc_type="ShipNoticeRequest",
        payload_id="same@sim",
        body=b"<different/>",
        url="http://elsewhere.test/",
        due_at=clock.now() + timedelta(days=1),
    )
    assert first == second
    items, total = outbox.list_items(conn)
    assert total == 1
    assert items[0].body == document("same@sim") and items[0].url == buyer.url and items[0].account_id == ACCOUNT


def test_two_workers_never_send_the_same_row_twice(db_path: Path, conn: sqlite3.Connection, buyer: Buyer) -> None:
    buyer.default = Answer(delay=0.005)
    for n in range(50):
        queue(conn, f"row-{n}@sim", buyer.url)
    start = threading.Barrier(2)
    made: dict[str, int] = {}
    failures: list[BaseException] = []

    def work(name: str) -> None:
        own = db.connect(db_path)
        try:
            start.wait()
            total = 0
            while (done := outbox.deliver_due(own, worker_id=name, limit=3)) > 0:
                total += done
            made[name] = total
        except BaseException as exc:
            failures.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=work, args=(f"worker-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    assert failures == []
    assert sum(made.values()) == 50
    assert len(made) == 2 and min(made.values()) > 0, "both workers took a share"
    counts = Counter(buyer.payload_ids())
    assert len(counts) == 50 and set(counts.values()) == {1}
    _, delivered = outbox.list_items(conn, status="delivered")
    assert delivered == 50


def test_expired_lease_is_sent_again(conn: sqlite3.Connection, buyer: Buyer) -> None:
    item_id = queue(conn, "crashed@sim", buyer.url)
    lease = clock.timestamp(clock.now() + timedelta(seconds=outbox.LEASE_SECONDS))
    # As a worker leaves it when its process dies after claiming, before recording the outcome.
    conn.execute(
        "UPDATE outbox SET status = 'sending', attempts = 1, lease_until = ?, locked_by = 'dead-worker' WHERE id = ?",
        (lease, item_id),
    )
    assert outbox.pending_count(conn) == 1
    assert deliver(conn) == 0, "not while the lease runs"
    with pytest.raises(AdminError) as busy:
        outbox.resend(conn, item_id)
    assert busy.value.error == "in_flight"
    clock.advance(conn, outbox.LEASE_SECONDS)
    assert deliver(conn) == 1
    item = outbox.get_item(conn, item_id)
    assert item.status == "delivered" and item.attempts == 2
    history = outbox.attempts(conn, item_id)
    assert [(a["attempt"], a["outcome"]) for a in history] == [(1, "interrupted"), (2, "delivered")]
    assert "dead-worker" in history[0]["error"]


def test_expired_lease_on_the_last_attempt_is_dead(conn: sqlite3.Connection, buyer: Buyer) -> None:
    item_id = queue(conn, "last@sim", buyer.url)
    conn.execute(
        "UPDATE outbox SET status = 'sending', attempts = ?, lease_until = ?, locked_by = 'dead-worker' WHERE id = ?",
        (outbox.MAX_ATTEMPTS, clock.timestamp(), item_id),
    )
    assert deliver(conn) == 0
    item = outbox.get_item(conn, item_id)
    assert item.status == "dead" and item.last_error is not None and "No attempts left" in item.last_error
    assert buyer.posts == []


def test_slow_buyer_beyond_timeout_is_a_failed_attempt(conn: sqlite3.Connection, buyer: Buyer) -> None:
    buyer.answer(Answer(delay=1.5))
    item_id = queue(conn, "slow@sim", buyer.url)
    started = time.monotonic()
    assert deliver(conn, timeout=0.5) == 1
    assert time.monotonic() - started < 1.4
    item = outbox.get_item(conn, item_id)
    assert item.status == "pending" and item.attempts == 1 and item.last_http_status is None
    assert item.last_error == f"No answer from {buyer.url} within 0.5 s (timeout)."
    clock.advance(conn, outbox.backoff_seconds(1))
    assert deliver(conn, timeout=0.5) == 1
    assert outbox.get_item(conn, item_id).status == "delivered"


def test_journal_has_each_attempt_out_and_the_answer_in(conn: sqlite3.Connection) -> None:
    buyer = Buyer()
    item_id = queue(conn, "journal@sim", buyer.url)
    try:
        assert deliver(conn) == 1  # refused: no answer
        buyer.start()
        clock.advance(conn, outbox.backoff_seconds(1))
        assert deliver(conn) == 1
    finally:
        buyer.stop()
    assert outbox.get_item(conn, item_id).status == "delivered"
    entries, total = journal.search(conn, account_id=ACCOUNT)
    assert total == 3
    answer, second, first = entries  # newest first
    assert (first["direction"], first["doc_type"], first["endpoint"], first["payload_id"]) == (
        "out",
        "ConfirmationRequest",
        buyer.url,
        "journal@sim",
    )
    assert first["http_status"] is None and first["advisories"][0] == "attempt 1 of 8"
    assert any(a.startswith("Connection refused by") for a in first["advisories"])
    assert (second["direction"], second["http_status"], second["cxml_status"]) == ("out", 200, 200)
    assert second["advisories"] == ["attempt 2 of 8"] and second["content_type"] == CONTENT_TYPE
    assert (answer["direction"], answer["doc_type"], answer["in_reply_to"]) == ("in", "Status", second["id"])
    assert (answer["cxml_status"], answer["payload_id"]) == (200, "answer-200@buyer.test")
    assert journal.get(conn, answer["id"])["id"] == answer["id"]
    body = conn.execute("SELECT body FROM journal WHERE id = ?", (answer["id"],)).fetchone()[0]
    assert body == cxml_status(200, "OK").decode()
    sent = conn.execute("SELECT body FROM journal WHERE id = ?", (second["id"],)).fetchone()[0]
    assert "<SharedSecret>****</SharedSecret>" in sent
    assert outbox.attempts(conn, item_id)[1]["journal_id"] == second["id"]


def test_journal_marks_a_non_cxml_answer_unknown(conn: sqlite3.Connection, buyer: Buyer) -> None:
    buyer.answer(Answer(status=200, body=b"OK", content_type="text/plain"))
    queue(conn, "unknown@sim", buyer.url)
    assert deliver(conn) == 1
    entries, _ = journal.search(conn, direction="in")
    assert [(e["doc_type"], e["http_status"], e["cxml_status"]) for e in entries] == [("unknown", 200, None)]


def test_flush_makes_everything_due_now(conn: sqlite3.Connection, buyer: Buyer) -> None:
    tomorrow = queue(conn, "tomorrow@sim", buyer.url, delay=86400)
    backing_off = queue(conn, "backoff@sim", buyer.url)
    buyer.answer(Answer(status=502, body=b""))
    assert deliver(conn) == 1
    assert outbox.get_item(conn, backing_off).status == "pending"
    held = queue(conn, "held@sim", None)
    conn.execute("UPDATE outbox SET url = ? WHERE id = ?", (buyer.url, held))  # as if set elsewhere

    assert outbox.flush(conn, worker_id="test-worker") == 3
    for item_id in (tomorrow, backing_off, held):
        assert outbox.get_item(conn, item_id).status == "delivered"
    assert seconds_between(outbox.get_item(conn, tomorrow).due_at, clock.timestamp()) < 5
    assert sorted(buyer.payload_ids()) == ["backoff@sim", "backoff@sim", "held@sim", "tomorrow@sim"]


def test_cancel_pending_stops_an_orders_unsent_documents(conn: sqlite3.Connection, buyer: Buyer) -> None:
    sent = queue(conn, "sent@sim", buyer.url)
    assert deliver(conn) == 1
    waiting = queue(conn, "waiting@sim", buyer.url, delay=60)
    held = queue(conn, "held@sim", None)
    other = queue(conn, "other@sim", buyer.url, delay=60, order_id="order-2")
    assert outbox.cancel_pending(conn, order_id="order-1") == 2
    assert [outbox.get_item(conn, i).status for i in (sent, waiting, held, other)] == [
        "delivered",
        "cancelled",
        "cancelled",
        "pending",
    ]
    assert outbox.get_item(conn, waiting).last_error == (
        "Cancelled before it was sent: the order was cancelled or replaced."
    )
    assert outbox.set_url(conn, account_id=ACCOUNT, url=buyer.url) == 0
    assert outbox.flush(conn, worker_id="test-worker") == 1
    assert buyer.payload_ids() == ["sent@sim", "other@sim"]
    assert "cancelled" in outbox.STATUSES


def test_advance_order_sends_its_next_document_only(conn: sqlite3.Connection, buyer: Buyer) -> None:
    manual = datetime(9999, 12, 31, tzinfo=UTC)  # the manual timeline's "not until asked"
    first = queue(conn, "confirm@sim", buyer.url, due_at=manual)
    second = queue(conn, "ship@sim", buyer.url, due_at=manual)
    queue(conn, "someone-else@sim", buyer.url, order_id="order-2")  # due, but not this order's
    assert deliver(conn, limit=0) == 0

    item = outbox.advance_order(conn, "order-1", worker_id="admin")
    assert item is not None and item.id == first and item.status == "delivered"
    assert seconds_between(item.due_at, clock.timestamp()) < 5
    assert buyer.payload_ids() == ["confirm@sim"]
    assert outbox.get_item(conn, second).status == "pending"
    item = outbox.advance_order(conn, "order-1", worker_id="admin")
    assert item is not None and item.id == second and item.status == "delivered"
    assert outbox.advance_order(conn, "order-1", worker_id="admin") is None
    assert buyer.payload_ids() == ["confirm@sim", "ship@sim"]

    held = queue(conn, "held@sim", None, due_at=manual, order_id="order-3")
    item = outbox.advance_order(conn, "order-3", worker_id="admin")
    assert item is not None and item.id == held and item.status == "held"
    assert len(buyer.posts) == 2


def test_listing_and_lookup(conn: sqlite3.Connection) -> None:
    for n in range(3):
        queue(conn, f"list-{n}@sim", "http://127.0.0.1:9/cxml", account_id="a" if n < 2 else "b", delay=60)
    items, total = outbox.list_items(conn, account_id="a", limit=1)
    assert total == 2 and [i.payload_id for i in items] == ["list-1@sim"]
    items, total = outbox.list_items(conn, order_id="order-1", status="pending", doc_type="ConfirmationRequest")
    assert total == 3
    assert outbox.list_items(conn, status="delivered") == ([], 0)
    assert outbox.attempts(conn, items[0].id) == []
    with pytest.raises(NotFound):
        outbox.get_item(conn, 9999)
    with pytest.raises(NotFound):
        outbox.attempts(conn, 9999)


def test_dispatcher_delivers_and_stops(db_path: Path, conn: sqlite3.Connection, buyer: Buyer) -> None:
    dispatcher = outbox.Dispatcher(db_path, interval=0.05)
    dispatcher.start()
    try:
        item_id = queue(conn, "dispatched@sim", buyer.url)
        assert buyer.event.wait(3)
        deadline = time.monotonic() + 3
        while outbox.get_item(conn, item_id).status != "delivered" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert outbox.get_item(conn, item_id).status == "delivered"
        worker = outbox.attempts(conn, item_id)[0]["worker_id"]
        assert worker.count(":") == 2, "hostname:pid:thread"
    finally:
        dispatcher.stop()
    assert not dispatcher.alive


def test_dispatcher_survives_errors(tmp_path: Path, buyer: Buyer, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "late.db"
    setup = db.connect(path)
    db.initialise(setup)  # no outbox table yet: every pass fails
    dispatcher = outbox.Dispatcher(path, interval=0.05, worker_id="w1")
    dispatcher.start()
    try:
        time.sleep(0.3)
        assert dispatcher.alive
        assert "outbox pass failed" in caplog.text
        setup.executescript(outbox.SCHEMA)
        item_id = queue(setup, "late@sim", buyer.url)
        assert buyer.event.wait(3)
        deadline = time.monotonic() + 3
        while outbox.get_item(setup, item_id).status != "delivered" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert outbox.get_item(setup, item_id).status == "delivered"
    finally:
        dispatcher.stop()
        setup.close()
    assert not dispatcher.alive
