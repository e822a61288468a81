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


def test_a_repeated_setup_reads_no_account_user_fault_or_scenario(config: Config, client: FlaskClient) -> None:
    assert _setup(client, 1)[0] == 200  # creates the user: a change, so the next request reads again
    assert _setup(client, 2)[0] == 200
    seen = _statements(config, client, 3)
    tables = ("FROM accounts", "FROM users", "FROM faults", "FROM scenarios")
    assert [s for s in seen if any(t in s for t in tables)] == []
    assert sum("'config_generation'" in s for s in seen) == 1  # what it reads instead


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
