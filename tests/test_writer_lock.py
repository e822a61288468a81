"""Write transactions queue on the data dir's writer lock (db.transaction), on a real SQLite file."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from simulator import db


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "simulator.sqlite3"
    conn = db.connect(path)
    conn.execute("CREATE TABLE t (n INTEGER)")
    conn.close()
    return path


def held_by_someone(path: Path) -> bool:
    """Whether another open file description holds the writer lock (as another process would see it)."""
    fd = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_a_transaction_holds_the_writer_lock_until_it_ends(database: Path) -> None:
    conn = db.connect(database)
    assert not held_by_someone(database)
    with db.transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
        assert held_by_someone(database)
    assert not held_by_someone(database)
    with pytest.raises(sqlite3.OperationalError), db.transaction(conn):
        conn.execute("INSERT INTO missing VALUES (1)")
    assert not held_by_someone(database)  # released after a rollback too
    conn.close()


def test_a_waiting_writer_goes_on_as_soon_as_the_lock_is_released(database: Path) -> None:
    first, second = db.connect(database), db.connect(database)
    started = threading.Event()
    waited: list[float] = []

    def hold() -> None:
        with db.transaction(first):
            started.set()
            time.sleep(0.3)

    holder = threading.Thread(target=hold)
    holder.start()
    started.wait()
    began = time.monotonic()
    with db.transaction(second):
        waited.append(time.monotonic() - began)
        second.execute("INSERT INTO t VALUES (2)")
    holder.join()
    assert 0.25 <= waited[0] < 0.35
    first.close()
    second.close()


def test_a_lock_held_elsewhere_in_the_same_thread_does_not_hang(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the lock wait, SQLite's own busy timeout decides: an error, not a hang."""
    monkeypatch.setattr(db, "_LOCK_WAIT_SECONDS", 0.1)
    outer, inner = db.connect(database), db.connect(database)
    inner.execute("PRAGMA busy_timeout = 100")
    with db.transaction(outer):
        began = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="database is locked"), db.transaction(inner):
            pass
        assert time.monotonic() - began < 2
    outer.close()
    inner.close()


def test_a_setup_request_is_one_write_transaction_with_its_journal(client, app) -> None:  # type: ignore[no-untyped-def]
    """The session and the journal's two entries commit together: one lock, one commit per request."""
    from .helpers import setup_request

    client.post("/punchout", data=setup_request())  # warm: the user is created by the first request
    conn = db.shared(app.config["SIMULATOR"].database_path)
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        client.post("/punchout", data=setup_request().replace(b"1700000000.1@buyer.test", b"one-txn@buyer.test"))
    finally:
        conn.set_trace_callback(None)
    assert [s for s in statements if s.startswith(("BEGIN", "COMMIT"))] == ["BEGIN IMMEDIATE", "COMMIT"]
    entries = client.get("/__admin/journal?limit=2").get_json()["items"]
    assert [(e["direction"], e["doc_type"]) for e in entries] == [
        ("out", "PunchOutSetupResponse"),
        ("in", "PunchOutSetupRequest"),
    ]
    assert entries[0]["in_reply_to"] == entries[1]["id"] and entries[1]["session_id"] is not None


def test_an_order_is_one_write_transaction_with_its_journal(client, app) -> None:  # type: ignore[no-untyped-def]
    from .helpers import order_request

    conn = db.shared(app.config["SIMULATOR"].database_path)
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        client.post("/orders", data=order_request(order_id="PO-ONE-TXN"), content_type="text/xml")
    finally:
        conn.set_trace_callback(None)
    assert [s for s in statements if s.startswith(("BEGIN", "COMMIT"))] == ["BEGIN IMMEDIATE", "COMMIT"]
    entries = client.get("/__admin/journal?limit=2").get_json()["items"]
    assert [(e["direction"], e["doc_type"]) for e in entries] == [("out", "Status"), ("in", "OrderRequest")]
    assert client.get("/__admin/orders?po=PO-ONE-TXN").get_json()["total"] == 1


def _main_file_pages(path: Path) -> int:
    return path.stat().st_size // 4096


def test_without_a_checkpointer_a_commit_checkpoints_on_the_request_path(database: Path) -> None:
    conn = db.connect(database)
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    conn.close()


def test_a_checkpointer_moves_the_wal_into_the_database_file_in_the_background(database: Path) -> None:
    checkpointer = db.Checkpointer(database, interval=0.05)
    checkpointer.start()
    try:
        conn = db.connect(database)
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0  # left to the checkpointer
        before = _main_file_pages(database)
        for _ in range(50):
            with db.transaction(conn):
                conn.executemany("INSERT INTO t VALUES (?)", [(n,) for n in range(500)])
        deadline = time.monotonic() + 10
        while _main_file_pages(database) <= before + 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _main_file_pages(database) > before + 20  # 25,000 rows reached the database file
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 25_000
        conn.close()
    finally:
        checkpointer.stop()
    conn = db.connect(database)
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000  # stopped: back to SQLite's own
    conn.close()


def _wal_size(database: Path) -> int:
    try:
        return Path(f"{database}-wal").stat().st_size
    except FileNotFoundError:
        return 0


def _write_without_pause(database: Path, seconds: float) -> tuple[int, int]:
    """Commit 16 KB at a time, one transaction after another, as a loaded server does: the largest
    WAL file seen, and the bytes committed."""
    conn = db.connect(database)
    largest = written = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            with db.transaction(conn):
                conn.execute("INSERT INTO t VALUES (?)", (os.urandom(16384),))
            written += 16384
            conn.execute("SELECT count(*) FROM t WHERE rowid > (SELECT max(rowid) - 10 FROM t)").fetchone()
            largest = max(largest, _wal_size(database))
    finally:
        conn.close()
    return largest, written


def test_under_sustained_writes_the_checkpointer_keeps_the_wal_bounded(database: Path) -> None:
    """PASSIVE checkpoints alone let the WAL grow as long as commits keep coming — to more than all
    that was written (measured: 385 MB for 250 MB); past restart_frames the checkpointer restarts
    it, and the file stays about as large as what came between two restarts (measured: 17–25 MB,
    about a tenth of what was written). On a busy machine the restarts come later — the
    checkpointer's thread waits for a core and for the GIL, and a restart that finds a reader backs
    off (step 21 of docs/performance.md): 21 MB of 75 MB with three CPU hogs beside it, 60 MB of
    166 MB once in a full test run. So the bound is half of what was written: still far below the
    growth without restarts."""
    checkpointer = db.Checkpointer(database, interval=0.02, restart_frames=256)  # 1 MB of 4 KB pages
    checkpointer.start()
    try:
        largest, written = _write_without_pause(database, 1.5)
    finally:
        checkpointer.stop()
    assert checkpointer.restarts > 0
    assert written > 40 * 1024 * 1024, "the test wrote too little to tell"
    assert largest < written / 2, f"the WAL grew to {largest:,} bytes of {written:,} written"
    conn = db.connect(database)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == written // 16384
    conn.close()


def test_a_reader_that_stays_does_not_stall_the_writers(database: Path) -> None:
    """A reader that keeps a transaction open (someone's sqlite3 shell) keeps the WAL from being
    restarted; the checkpointer must then give up quickly and wait before trying again, since it
    holds the writer lock while it tries."""
    reader = sqlite3.connect(database, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM t").fetchone()  # a read transaction, left open
    checkpointer = db.Checkpointer(database, interval=0.02, restart_frames=256)
    checkpointer.start()
    conn = db.connect(database)
    slowest = 0.0
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            started = time.monotonic()
            with db.transaction(conn):
                conn.execute("INSERT INTO t VALUES (?)", (os.urandom(16384),))
            slowest = max(slowest, time.monotonic() - started)
    finally:
        conn.close()
        checkpointer.stop()
        reader.close()
    assert slowest < 0.25, f"a write waited {slowest:.3f} s for the checkpointer"


def test_after_a_reader_leaves_the_wal_is_restarted_again_soon(database: Path) -> None:
    """A restart that finds a reader busy backs off briefly first: under load readers come and go,
    and each second without a restart is about 100 MB more WAL (a 5 s back-off let it reach 595 MB)."""
    reader = sqlite3.connect(database, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM t").fetchone()  # holds an old snapshot for a moment
    checkpointer = db.Checkpointer(database, interval=0.02, restart_frames=256)
    checkpointer.start()
    try:
        _write_without_pause(database, 0.4)  # past restart_frames: restarts are tried, and busy
        assert checkpointer.restarts == 0
        reader.close()
        _write_without_pause(database, 1.5)  # the next try comes within a second, not 5 s later
    finally:
        checkpointer.stop()
    assert checkpointer.restarts > 0


def test_a_checkpointer_never_creates_a_database(tmp_path: Path) -> None:
    missing = tmp_path / "gone" / "simulator.sqlite3"
    missing.parent.mkdir()
    checkpointer = db.Checkpointer(missing, interval=0.02)
    checkpointer.start()
    time.sleep(0.2)
    checkpointer.stop()
    assert not missing.exists()
