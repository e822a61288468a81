"""A full disk or an unwritable data dir: a clear error at start, a cXML 500 with a clear text at run
time, and never a corrupt database.

How the faults are made, without a loop that fills a real disk: the tests run as root, where
``chmod`` does not stop writes, so

* a full disk is SQLite's own limit on the file, ``PRAGMA max_page_count`` set to the database's
  current size on the connection the server uses: the next write that needs a page fails with
  SQLITE_FULL, "database or disk is full", exactly the error a full disk gives;
* a database that became read-only while the server runs is ``PRAGMA query_only`` on that
  connection: every write fails with "attempt to write a readonly database", as on a read-only
  mount;
* at start, an unusable data dir is a path that is a file, a data dir under a file, a database
  path that is a directory (SQLite and the file system refuse those for root too), or /proc/sys,
  a real directory the kernel keeps read-only for root (the test is skipped where it is writable).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from simulator import db
from simulator.cli import main
from simulator.config import Config

from .helpers import order_request, status_of

NO_LIMIT = 1073741823  # SQLite's default max_page_count


@pytest.fixture
def server_conn(app: Flask, config: Config) -> Iterator[sqlite3.Connection]:
    """The connection the app's requests use in this thread (the test client runs them here)."""
    conn = db.shared(config.database_path)
    yield conn
    conn.execute("PRAGMA query_only = 0")
    conn.execute(f"PRAGMA max_page_count = {NO_LIMIT}")


def disk_full(conn: sqlite3.Connection) -> None:
    """No page can be added to the database file any more (its free pages used up first)."""
    conn.execute("VACUUM")  # no free pages left inside the file: the next new row needs a new page
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    assert conn.execute(f"PRAGMA max_page_count = {pages}").fetchone()[0] == pages


def counts(config: Config) -> dict[str, int]:
    conn = sqlite3.connect(config.database_path)
    try:
        return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in ("orders", "outbox")}
    finally:
        conn.close()


def integrity(config: Config) -> str:
    conn = sqlite3.connect(config.database_path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def post_order(client: FlaskClient, order_id: str) -> tuple[int, str, str]:
    # 30 lines: the request alone is larger than a page, so journaling it needs new pages
    lines = [{"asin": "B0TESTSLOW", "quantity": n, "price": "27.49"} for n in range(1, 31)]
    body = order_request(order_id=order_id, payload_id=f"{order_id}@buyer.test", lines=lines)
    assert len(body) > 8192
    answer = client.post("/orders", data=body, content_type="text/xml")
    assert answer.status_code == 200 and answer.mimetype == "text/xml", answer.data
    return status_of(answer.data)


def test_a_full_disk_answers_cxml_500_with_what_to_do_and_stores_nothing(
    client: FlaskClient, config: Config, server_conn: sqlite3.Connection
) -> None:
    before = counts(config)
    disk_full(server_conn)
    code, text, message = post_order(client, "PO-FULL-1")
    assert (code, text) == (500, "Internal Server Error")
    assert message == (
        f"The simulator's data dir {config.data_dir} is full (SQLite: database or disk is full); nothing of this "
        "request was stored. Free space on that disk, or bound the journal with --journal-max-rows or "
        "--journal-max-days, then send the request again."
    )
    assert counts(config) == before, "no half-stored order"
    assert integrity(config) == "ok"

    # Space again: the same order is taken, once.
    server_conn.execute(f"PRAGMA max_page_count = {NO_LIMIT}")
    assert post_order(client, "PO-FULL-1")[0] == 200
    after = counts(config)
    assert after["orders"] == before["orders"] + 1 and after["outbox"] > before["outbox"]
    assert integrity(config) == "ok"


def test_a_full_disk_on_the_admin_api_is_a_json_500(
    client: FlaskClient, config: Config, server_conn: sqlite3.Connection
) -> None:
    disk_full(server_conn)
    credentials = {"domain": "NetworkId", "identity": "FULL-1", "shared_secret": "s"}
    name = "Full " * 2000  # larger than a page: the row needs new pages
    answer = client.post("/__admin/accounts", json={"name": name, "credentials": credentials})
    assert answer.status_code == 500
    assert answer.get_json()["error"] == "storage_error"
    assert answer.get_json()["message"].startswith(f"The simulator's data dir {config.data_dir} is full")
    assert integrity(config) == "ok"


def test_a_database_turned_read_only_answers_cxml_500(
    client: FlaskClient, config: Config, server_conn: sqlite3.Connection
) -> None:
    before = counts(config)
    server_conn.execute("PRAGMA query_only = 1")
    code, _, message = post_order(client, "PO-RO-1")
    assert code == 500
    assert message == (
        f"The simulator's database in {config.data_dir} is read-only (SQLite: attempt to write a readonly "
        "database); nothing of this request was stored. Make the data dir and its files writable by the "
        "simulator's user and restart it."
    )
    server_conn.execute("PRAGMA query_only = 0")
    assert counts(config) == before
    assert integrity(config) == "ok"


def test_a_data_dir_that_is_a_file_is_refused_at_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "not-a-dir"
    path.write_text("a file")
    assert main(["serve", "--data-dir", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"punchout-sim: The data dir {path} cannot be created: {path} is a file, not a directory. "
        "Pass --data-dir (PUNCHOUT_SIM_DATA_DIR) a directory.\n"
    )
    assert path.read_text() == "a file"


def test_a_data_dir_under_a_file_is_refused_at_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("")
    path = tmp_path / "file" / "data"
    assert main(["serve", "--data-dir", str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"punchout-sim: The data dir {path} cannot be created: ")


def test_an_unwritable_database_is_refused_at_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "simulator.sqlite3").mkdir()  # SQLite cannot open a directory, for root neither
    assert main(["serve", "--data-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"punchout-sim: The database {tmp_path / 'simulator.sqlite3'} is a directory, not a SQLite file: move it "
        "away or pass another --data-dir.\n"
    )


READ_ONLY_DIR = Path("/proc/sys")  # Linux mounts it read-only in containers: unwritable for root too


@pytest.mark.skipif(
    not READ_ONLY_DIR.is_dir() or os.access(READ_ONLY_DIR, os.W_OK), reason="needs a read-only directory (/proc/sys)"
)
def test_a_read_only_data_dir_is_refused_at_start(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--data-dir", str(READ_ONLY_DIR)]) == 2
    assert capsys.readouterr().err == (
        f"punchout-sim: The data dir {READ_ONLY_DIR} is not writable by the simulator's user: the database, its "
        "WAL and its journal live there. Make it writable, or pass --data-dir (PUNCHOUT_SIM_DATA_DIR) another "
        "directory.\n"
    )


def test_an_update_that_cannot_be_stored_leaves_the_order_it_changes(
    client: FlaskClient, config: Config, server_conn: sqlite3.Connection
) -> None:
    """The original is replaced in the update's own transaction: not when the update fails to be stored."""
    assert client.patch("/__admin/accounts/demo", json={"settings": {"allow_order_changes": True}}).status_code == 200
    assert post_order(client, "PO-UPD")[0] == 200
    original = client.get("/__admin/orders?order_id=PO-UPD").get_json()["items"][0]
    documents = {d["status"] for d in client.get(f"/__admin/orders/{original['id']}").get_json()["documents"]}
    assert documents and "cancelled" not in documents
    lines = [{"asin": "B0TESTSLOW", "quantity": n, "price": "27.49"} for n in range(1, 31)]
    update = order_request(
        order_id="PO-UPD",
        order_type="update",
        payload_id="PO-UPD.update@buyer.test",
        document_reference="PO-UPD@buyer.test",
        lines=lines,
    )
    disk_full(server_conn)
    code, _, message = status_of(client.post("/orders", data=update, content_type="text/xml").data)
    assert code == 500 and "is full (SQLite: database or disk is full); nothing of this request was stored" in message
    after = client.get(f"/__admin/orders/{original['id']}").get_json()
    assert after["status"] == "accepted"
    assert {d["status"] for d in after["documents"]} == documents

    # Space again: the buyer's retry finds the original and replaces it.
    server_conn.execute(f"PRAGMA max_page_count = {NO_LIMIT}")
    assert status_of(client.post("/orders", data=update, content_type="text/xml").data)[0] == 200
    statuses = {o["type"]: o["status"] for o in client.get("/__admin/orders?order_id=PO-UPD").get_json()["items"]}
    assert statuses == {"new": "replaced", "update": "accepted"}
    assert integrity(config) == "ok"
