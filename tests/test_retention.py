"""Journal retention: --journal-max-rows / --journal-max-days bound the journal on a real SQLite file.

Pruning deletes the oldest entries in bounded batches, never the entries of a document still
waiting in the outbox, and an answer always goes with its request (no ``in_reply_to`` left
pointing at a deleted entry). The server prunes from its outbox dispatcher thread; the admin API
shows the setting at ``GET /__admin/journal/retention``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from simulator import clock, create_app, db, journal, outbox
from simulator.cli import _parser, config_from, main
from simulator.config import Config

from .helpers import setup_request, status_of


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = db.connect(tmp_path / "simulator.sqlite3")
    db.initialise(connection)
    connection.executescript(outbox.SCHEMA)
    clock.reset(connection)
    yield connection
    clock.reset(connection)  # the offset is process-wide
    connection.close()


def entry(n: int, direction: str = "in") -> journal.Entry:
    return journal.Entry(
        direction=direction, doc_type="ProfileRequest", endpoint="/cxml", body=f"<cXML n='{n}'/>".encode()
    )


def exchanges(conn: sqlite3.Connection, count: int) -> list[tuple[int, int]]:
    """``count`` requests, each with its answer (two entries linked by in_reply_to)."""
    return [journal.record_exchange(conn, entry(n), entry(n, "out")) for n in range(count)]


def ids(conn: sqlite3.Connection) -> list[int]:
    return [row[0] for row in conn.execute("SELECT id FROM journal ORDER BY id")]


def dangling(conn: sqlite3.Connection) -> list[int]:
    return [
        row[0]
        for row in conn.execute(
            "SELECT a.id FROM journal a WHERE a.in_reply_to IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM journal r WHERE r.id = a.in_reply_to)"
        )
    ]


def test_max_rows_keeps_the_newest_in_bounded_batches(conn: sqlite3.Connection) -> None:
    exchanges(conn, 600)  # 1200 entries, ids 1 … 1200
    keep = journal.Retention(max_rows=1000)
    assert journal.prune(conn, keep, batch=50) == 50  # one batch, the 50 oldest
    assert ids(conn)[0] == 51
    assert journal.prune_all(conn, keep, batch=50) == 150
    assert ids(conn) == list(range(201, 1201))
    assert journal.prune(conn, keep) == 0, "nothing beyond the limit is left"
    status = journal.retention_status(conn, keep)
    assert (status["entries"], status["pruned_total"], status["max_rows"], status["active"]) == (1000, 200, 1000, True)
    assert status["description"] == "Keeps at most the newest 1000 entries."
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_an_answer_goes_with_its_request(conn: sqlite3.Connection) -> None:
    pairs = exchanges(conn, 10)  # ids 1 … 20: (1, 2), (3, 4) …
    # 15 to keep: the cut (id <= 5) splits the pair (5, 6); 6 answers 5, so it goes too.
    assert journal.prune_all(conn, journal.Retention(max_rows=15)) == 6
    assert ids(conn) == list(range(7, 21))
    assert dangling(conn) == []
    assert pairs[3] == (7, 8)


def test_max_days_drops_older_entries_on_the_simulator_s_clock(conn: sqlite3.Connection) -> None:
    exchanges(conn, 5)  # ids 1 … 10, stamped now
    clock.advance(conn, timedelta(days=3).total_seconds())
    exchanges(conn, 2)  # ids 11 … 14, three days later
    keep = journal.Retention(max_days=2)
    assert journal.prune_all(conn, keep) == 10
    assert ids(conn) == [11, 12, 13, 14]
    clock.advance(conn, timedelta(days=1).total_seconds())
    assert journal.prune(conn, keep) == 0, "a day old: within two days"
    assert journal.retention_status(conn, keep)["description"] == "Keeps none older than 2 days."


def test_no_limit_prunes_nothing(conn: sqlite3.Connection) -> None:
    exchanges(conn, 5)
    assert journal.prune(conn, journal.Retention()) == 0
    assert len(ids(conn)) == 10
    assert journal.retention_status(conn, journal.Retention())["description"] == (
        "Keeps every entry (no retention limit set)."
    )


def test_entries_of_documents_still_in_the_outbox_are_kept(conn: sqlite3.Connection) -> None:
    """A pending document's failed attempt (the document out, the refusal in) outlives the limit
    until the document is delivered; then it is pruned like any other entry."""
    url = "http://127.0.0.1:9/cxml"  # the discard port: nothing listens, the attempt is refused
    item = outbox.enqueue(
        conn,
        account_id="acct",
        doc_type="ConfirmationRequest",
        payload_id="c-1@sim",
        body=b"<cXML/>",
        url=url,
        due_at=clock.now(),
    )
    assert outbox.deliver_due(conn, worker_id="w", timeout=2) == 1
    attempt = outbox.attempts(conn, item)[0]
    assert attempt["outcome"] == "retry" and attempt["journal_id"] == 1
    exchanges(conn, 20)  # ids 2 … 41
    keep = journal.Retention(max_rows=10)
    journal.prune_all(conn, keep)
    assert ids(conn) == [1, *range(32, 42)], "the pending document's attempt stays"
    conn.execute("UPDATE outbox SET status = 'delivered' WHERE id = ?", (item,))
    assert journal.prune_all(conn, keep) == 1
    assert ids(conn) == list(range(32, 42))
    assert dangling(conn) == []


def test_settings_from_flags_and_environment() -> None:
    args = _parser().parse_args(["serve", "--journal-max-rows", "5000"])
    config = config_from(args, {"PUNCHOUT_SIM_JOURNAL_MAX_DAYS": "1.5"})
    assert (config.journal_max_rows, config.journal_max_days) == (5000, 1.5)
    assert config_from(_parser().parse_args(["serve"]), {}).journal_max_rows == 0


def test_a_negative_limit_is_refused_at_start(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["serve", "--data-dir", str(tmp_path), "--journal-max-rows", "-1"]) == 2
    assert capsys.readouterr().err == (
        "punchout-sim: --journal-max-rows and --journal-max-days (PUNCHOUT_SIM_JOURNAL_MAX_ROWS, _DAYS) must be 0 "
        "(no limit) or more.\n"
    )


def test_the_server_prunes_and_the_admin_api_shows_the_setting(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal, "PRUNE_EVERY_SECONDS", 0.1)  # the server's pace, shortened for the test
    app = create_app(config.with_overrides(journal_max_rows=20, outbox_interval=0.05))
    client = app.test_client()
    try:
        for n in range(30):  # 60 entries: each setup request and its answer
            answer = client.post("/punchout", data=setup_request(buyer_cookie=f"c-{n}"), content_type="text/xml")
            assert status_of(answer.data)[0] == 200
        deadline = time.monotonic() + 10
        while client.get("/__admin/journal/retention").get_json()["entries"] > 20:
            assert time.monotonic() < deadline, client.get("/__admin/journal/retention").get_json()
            time.sleep(0.1)
        status = client.get("/__admin/journal/retention").get_json()
    finally:
        app.extensions["outbox_dispatcher"].stop()
    assert status["max_rows"] == 20 and status["max_days"] == 0 and status["active"] is True
    assert status["description"] == "Keeps at most the newest 20 entries."
    assert status["entries"] == 20 and status["pruned_total"] >= 40
    listed = client.get("/__admin/journal?limit=500").get_json()
    assert listed["total"] == 20
    assert {item["doc_type"] for item in listed["items"]} == {"PunchOutSetupRequest", "PunchOutSetupResponse"}
