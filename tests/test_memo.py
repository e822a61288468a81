"""The per-process memo of accounts, users, faults and scenarios (simulator/memo.py): used by cXML
requests, and never stale — whoever changes those tables, through whichever connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from simulator import db, memo
from simulator.config import Config

from .helpers import setup_request, status_of


def _setup(client: FlaskClient, n: int, **kwargs: object) -> tuple[int, str, str]:
    body = setup_request(**kwargs).replace(b"1700000000.1@buyer.test", f"memo-{n}@buyer.test".encode())  # type: ignore[arg-type]
    response = client.post("/punchout", data=body, content_type="text/xml")
    assert response.status_code == 200
    return status_of(response.data)


@pytest.fixture
def other_worker(config: Config) -> Iterator[sqlite3.Connection]:
    """A connection of its own, as another worker process has: it shares nothing with ours but the file."""
    conn = sqlite3.connect(config.database_path, isolation_level=None, timeout=30)
    yield conn
    conn.close()


def _statements(config: Config, client: FlaskClient, n: int) -> list[str]:
    conn = db.shared(config.database_path)
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        assert _setup(client, n)[0] == 200
    finally:
        conn.set_trace_callback(None)
    return seen


def _statements_of(config: Config, client: FlaskClient, n: int, **kwargs: object) -> list[str]:
    conn = db.shared(config.database_path)
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        assert _setup(client, n, **kwargs)[0] == 200
    finally:
        conn.set_trace_callback(None)
    return seen


def test_a_repeated_setup_reads_no_account_user_fault_or_scenario(config: Config, client: FlaskClient) -> None:
    assert _setup(client, 1)[0] == 200  # creates the user, and remembers the rest
    assert _setup(client, 2)[0] == 200  # finds the user, and remembers it
    seen = _statements(config, client, 3)
    tables = ("FROM accounts", "FROM users", "FROM faults", "FROM scenarios")
    assert [s for s in seen if any(t in s for t in tables)] == []
    assert sum("'config_generation'" in s for s in seen) == 1  # what it reads instead


def test_a_new_user_keeps_the_memo(config: Config, client: FlaskClient, other_worker: sqlite3.Connection) -> None:
    """A load test with a new email in every request: only the user is looked up (and made)."""
    assert _setup(client, 1)[0] == 200
    generation = other_worker.execute("SELECT value FROM meta WHERE key = 'config_generation'").fetchone()
    for n, email in enumerate(("bob@buyer.test", "carol@buyer.test"), start=2):
        seen = _statements_of(config, client, n, email=email)
        assert [s for s in seen if any(t in s for t in ("FROM accounts", "FROM faults", "FROM scenarios"))] == []
        assert any("INSERT INTO users" in s for s in seen)
    assert other_worker.execute("SELECT value FROM meta WHERE key = 'config_generation'").fetchone() == generation
    users = other_worker.execute("SELECT email FROM users WHERE email LIKE '%@buyer.test' ORDER BY email").fetchall()
    assert users == [("alice@buyer.test",), ("bob@buyer.test",), ("carol@buyer.test",)]


def test_a_user_inserted_elsewhere_is_found_and_a_changed_one_read_again(
    client: FlaskClient, other_worker: sqlite3.Connection
) -> None:
    assert _setup(client, 1)[0] == 200
    other_worker.execute(
        "INSERT INTO users (id, account_id, email, name, roles, registered, created_at)"
        " VALUES ('usr_dave', 'demo', 'dave@buyer.test', 'Dave', '[\"punchout_user\"]', 1, '2026-01-01T00:00:00Z')"
    )
    assert _setup(client, 2, email="dave@buyer.test")[0] == 200  # not remembered as missing: found
    assert _setup(client, 3, email="dave@buyer.test")[0] == 200  # remembered now
    other_worker.execute("UPDATE users SET roles = '[]' WHERE id = 'usr_dave'")  # no longer a punchout user
    assert _setup(client, 4, email="dave@buyer.test") == (  # read again, not the remembered user
        403,
        "Forbidden",
        "The user dave@buyer.test has no PunchOut role in the account 'Demo Buyer'; "
        "an administrator must give them the punchout_user role.",
    )
    sessions = other_worker.execute("SELECT count(*) FROM sessions WHERE user_id = 'usr_dave'").fetchone()
    assert sessions == (2,)


def test_data_dirs_made_before_lose_the_insert_trigger(tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "old.db")
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    for table in memo.WATCHED:
        conn.execute(f"CREATE TABLE {table} (id TEXT)")
    conn.execute(
        "CREATE TRIGGER users_insert_generation AFTER INSERT ON users"
        " BEGIN UPDATE meta SET value = 'old' WHERE key = 'config_generation'; END"
    )
    memo.install(conn)
    triggers = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert "users_insert_generation" not in triggers
    assert {"users_update_generation", "users_delete_generation", "accounts_insert_generation"} <= triggers
    before = memo.generation(conn)
    conn.execute("INSERT INTO users VALUES ('u')")
    assert memo.generation(conn) == before
    conn.execute("UPDATE users SET id = 'v'")
    assert memo.generation(conn) != before
    conn.close()


def test_the_first_setup_reads_them(config: Config, client: FlaskClient) -> None:
    memo.forget()
    seen = _statements(config, client, 1)
    for table in ("FROM accounts", "FROM users", "FROM faults", "FROM scenarios"):
        assert any(table in s for s in seen), table


def test_a_secret_changed_by_another_worker_counts_at_once(
    client: FlaskClient, other_worker: sqlite3.Connection
) -> None:
    assert _setup(client, 1)[0] == 200
    other_worker.execute("UPDATE accounts SET shared_secret = 'rotated' WHERE id = 'demo'")
    assert _setup(client, 2) == (
        401,
        "Unauthorized",
        "The SharedSecret sent for NetworkId/DEMO-BUYER does not match the account's shared secret.",
    )
    assert _setup(client, 3, sender_secret="rotated")[0] == 200


def test_a_user_deleted_by_another_worker_is_made_again(
    config: Config, client: FlaskClient, other_worker: sqlite3.Connection
) -> None:
    assert _setup(client, 1)[0] == 200  # makes the user
    assert _setup(client, 2)[0] == 200  # finds it, and remembers it
    other_worker.execute("DELETE FROM users WHERE email = 'alice@buyer.test'")
    assert _setup(client, 3)[0] == 200  # a remembered user id would break the session's foreign key
    rows = other_worker.execute("SELECT count(*) FROM users WHERE email = 'alice@buyer.test'").fetchone()
    assert rows == (1,)


def test_a_fault_added_after_a_request_fires_on_the_next(client: FlaskClient) -> None:
    assert _setup(client, 1)[0] == 200  # remembered: no live fault at the punchout endpoint
    spec = {"endpoint": "punchout", "type": "cxml_status", "code": 503, "text": "Busy", "times": 1}
    assert client.post("/__admin/faults", json=spec).status_code == 201
    assert _setup(client, 2)[:2] == (503, "Busy")
    assert _setup(client, 3)[0] == 200  # times: 1 — spent


def test_a_scenario_activated_after_a_request_answers_the_next(client: FlaskClient) -> None:
    assert _setup(client, 1)[0] == 200  # remembered: no scenario active
    assert client.post("/__admin/scenarios/credentials-rejected/activate").status_code == 200
    assert _setup(client, 2) == (401, "Unauthorized", "The shared secret does not match this punchout group.")
    assert client.post("/__admin/scenarios/credentials-rejected/deactivate").status_code == 200
    assert _setup(client, 3)[0] == 200


def test_outside_a_request_every_lookup_loads(tmp_path: Path) -> None:
    loads: list[int] = []

    def load() -> str:
        loads.append(1)
        return "v"

    assert memo.lookup("k", load) == "v"
    assert memo.lookup("k", load) == "v"
    assert len(loads) == 2


def test_remembers_per_database_and_generation_and_never_nothing(tmp_path: Path) -> None:
    conns = []
    for name in ("a", "b"):
        conn = db.connect(tmp_path / f"{name}.db")
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        for table in memo.WATCHED:
            conn.execute(f"CREATE TABLE {table} (id TEXT)")
        memo.install(conn)
        conns.append(conn)
    a, b = conns
    loads: list[str] = []

    def load(value: str | None) -> str | None:
        loads.append(str(value))
        return value

    with memo.request(lambda: a):
        assert memo.lookup("k", lambda: load("a1")) == "a1"
        assert memo.lookup("k", lambda: load("again")) == "a1"
        assert memo.lookup("none", lambda: load(None)) is None
        assert memo.lookup("none", lambda: load(None)) is None
    with memo.request(lambda: b):  # another database: its own memo
        assert memo.lookup("k", lambda: load("b1")) == "b1"
    a.execute("INSERT INTO accounts VALUES ('x')")  # the trigger gives the database a new generation
    with memo.request(lambda: a):
        assert memo.lookup("k", lambda: load("a2")) == "a2"
    assert loads == ["a1", "None", "None", "b1", "a2"]
    for conn in conns:
        conn.close()
