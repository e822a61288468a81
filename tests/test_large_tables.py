"""The journal and the outbox stay cheap to read as they grow: capped totals, keyset pages, a bounded
``contains``, and an index behind every filter (bench/tables.py measures them at a million rows)."""

from __future__ import annotations

import sqlite3

import pytest
from flask import Flask
from flask.testing import FlaskClient

from simulator import db, journal, outbox

from .helpers import setup_request

BODY = "<cXML payloadID='x'><Request/></cXML>"
XML = {"Content-Type": "text/xml"}


def database(app: Flask) -> sqlite3.Connection:
    return sqlite3.connect(app.config["SIMULATOR"].database_path)


def fill_journal(app: Flask, count: int, *, marked: int | None = None) -> None:
    """``count`` inbound entries; entry number ``marked`` (0 = oldest) has NEEDLE in its body."""
    with database(app) as conn:
        conn.executemany(
            "INSERT INTO journal (direction, doc_type, account_id, session_id, endpoint, payload_id, body, created_at)"
            " VALUES ('in', 'PunchOutSetupRequest', 'demo', ?, '/punchout', ?, ?, '2026-01-01T00:00:00.000+00:00')",
            ((f"sess_{n % 7}", f"fill-{n}@buyer.test", BODY + ("NEEDLE" if n == marked else "")) for n in range(count)),
        )


def fill_outbox(app: Flask, count: int) -> None:
    with database(app) as conn:
        conn.executemany(
            "INSERT INTO outbox (account_id, doc_type, payload_id, url, status, due_at, next_attempt_at, created_at,"
            " updated_at, body) VALUES ('demo', 'ConfirmationRequest', ?, 'http://127.0.0.1:9/', ?, 'x', 'x', 'x',"
            " 'x', x'00')",
            ((f"doc-{n}@amazon.com", "failed" if n % 2 else "delivered") for n in range(count)),
        )


def test_a_total_beyond_the_count_limit_is_a_lower_bound_but_count_is_exact(app: Flask, client: FlaskClient) -> None:
    fill_journal(app, db.COUNT_LIMIT + 3)
    page = client.get("/__admin/journal?limit=5").get_json()
    assert (page["total"], page["total_exact"]) == (db.COUNT_LIMIT, False)
    narrow = client.get("/__admin/journal?payload_id=fill-9@buyer.test").get_json()
    assert (narrow["total"], narrow["total_exact"]) == (1, True)
    counted = client.post("/__admin/journal/count", json={"type": "PunchOutSetupRequest"}).get_json()
    assert counted == {"count": db.COUNT_LIMIT + 3}
    assert "Entries: 10000+" in client.get("/console/journal").get_data(as_text=True)


def test_before_pages_through_the_journal_without_gaps_or_repeats(app: Flask, client: FlaskClient) -> None:
    fill_journal(app, 123)
    seen: list[int] = []
    url = "/__admin/journal?limit=50"
    while True:
        page = client.get(url).get_json()
        seen.extend(item["id"] for item in page["items"])
        if page["next_before"] is None:
            break
        url = f"/__admin/journal?limit=50&before={page['next_before']}"
    assert len(seen) == 123 and seen == sorted(seen, reverse=True) and len(set(seen)) == 123


def test_before_pages_through_the_outbox(app: Flask, client: FlaskClient) -> None:
    fill_outbox(app, 30)
    first = client.get("/__admin/outbox?status=failed&limit=10").get_json()
    second = client.get(f"/__admin/outbox?status=failed&limit=10&before={first['next_before']}").get_json()
    ids = [i["id"] for i in first["items"] + second["items"]]
    assert len(ids) == 15 and ids == sorted(ids, reverse=True)
    assert second["next_before"] is None
    assert all(i["status"] == "failed" for i in first["items"] + second["items"])
    bad = client.get("/__admin/outbox?before=soon")
    assert bad.status_code == 400
    assert bad.get_json()["message"] == "before must be an outbox id (a whole number)."


def test_deep_offsets_are_refused_with_the_way_to_page_further(client: FlaskClient) -> None:
    answer = client.get("/__admin/journal?offset=10001")
    assert answer.status_code == 400
    assert answer.get_json() == {
        "error": "invalid_paging",
        "message": "offset is at most 10000. Page further with before=<next_before of the last page> "
        "(the journal and the outbox), or narrow the list with its filters.",
    }
    assert client.get("/__admin/journal?offset=10000").status_code == 200


def test_contains_reads_only_the_newest_window(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal, "CONTAINS_WINDOW", 100)
    fill_journal(app, 300, marked=10)
    assert client.get("/__admin/journal?contains=NEEDLE").get_json()["items"] == []
    with database(app) as conn:
        needle_id = conn.execute("SELECT id FROM journal WHERE instr(body, 'NEEDLE') > 0").fetchone()[0]
    found = client.get(f"/__admin/journal?contains=NEEDLE&before={needle_id + 50}").get_json()
    assert [i["id"] for i in found["items"]] == [needle_id]


@pytest.mark.parametrize(
    ("sql", "index"),
    [
        ("SELECT id FROM journal WHERE payload_id = 'p' ORDER BY id DESC LIMIT 50", "journal_payload"),
        ("SELECT id FROM journal WHERE session_id = 's' ORDER BY id DESC LIMIT 50", "journal_session"),
        ("SELECT id FROM journal WHERE doc_type = 't' ORDER BY id DESC LIMIT 50", "journal_type"),
        ("SELECT id FROM journal WHERE account_id = 'a' ORDER BY id DESC LIMIT 50", "journal_account"),
        (
            "SELECT id FROM journal WHERE direction = 'in' AND scenario IS NULL"
            " AND doc_type NOT IN ('unknown', 'Status') ORDER BY id DESC LIMIT 50",
            "journal_unmatched",
        ),
        ("SELECT id FROM outbox WHERE status = 'failed' ORDER BY id DESC LIMIT 50", "outbox_status"),
        ("SELECT id FROM outbox WHERE account_id = 'a' ORDER BY id DESC LIMIT 50", "outbox_account"),
    ],
)
def test_every_list_filter_reads_through_an_index(app: Flask, sql: str, index: str) -> None:
    with database(app) as conn:
        plan = " ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
    assert f"USING INDEX {index}" in plan or f"USING COVERING INDEX {index}" in plan, plan


def test_the_dispatchers_question_reads_indexes_and_takes_no_lock_when_nothing_is_due(app: Flask) -> None:
    """Every worker asks twice a second whether a document is due; at a million delivered rows a
    table scan there cost 40 ms, under the write lock."""
    fill_outbox(app, 50)
    statements: list[str] = []
    conn = db.connect(app.config["SIMULATOR"].database_path)
    conn.set_trace_callback(statements.append)
    try:
        assert outbox._claim(conn, "test-worker", lease_seconds=30) is None
    finally:
        conn.set_trace_callback(None)
    assert statements and not any(s.startswith("BEGIN") for s in statements), statements
    for sql in statements:
        plan = " ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
        assert "SCAN outbox" not in plan, (sql, plan)
    conn.close()


def test_the_console_finds_an_answer_among_the_ids_just_beyond_its_request(app: Flask, client: FlaskClient) -> None:
    """``in_reply_to`` has no index: looking an answer up by it alone read the journal from its first
    entry (160 ms at 300,000 entries for the newest request, and more the bigger the journal)."""
    fill_journal(app, 300)
    client.post("/punchout", data=setup_request(), headers={"Content-Type": "text/xml"})
    fill_journal(app, 20)
    request_id = client.get("/__admin/journal?payload_id=1700000000.1@buyer.test").get_json()["items"][0]["id"]
    with database(app) as conn:
        (answer_id,) = conn.execute("SELECT id FROM journal WHERE in_reply_to = ?", (request_id,)).fetchone()
    statements: list[str] = []
    conn = db.shared(app.config["SIMULATOR"].database_path)  # the connection this thread's requests use
    conn.set_trace_callback(statements.append)
    try:
        html = client.get(f"/console/journal/{request_id}").get_data(as_text=True)
    finally:
        conn.set_trace_callback(None)
    assert f">#{answer_id}</a>" in html and 'data-testid="journal-answer-body"' in html
    reads = [sql for sql in statements if "FROM journal" in sql]
    assert reads
    for sql in reads:
        plan = " ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
        assert "SCAN journal" not in plan, (sql, plan)


def test_sessions_are_listed_newest_first_without_sorting_them_all(app: Flask, client: FlaskClient) -> None:
    """Ordered by their time, the list sorted every session when no account was given (141 ms at
    327,680 sessions; a long load test makes millions); newest first as made, it reads an index or the
    table from its end."""
    for n in range(3):
        body = setup_request(buyer_cookie=f"cookie-{n % 2}")
        client.post("/punchout", data=body.replace(b"1700000000.1@", f"list-{n}@".encode()), headers=XML)
    with database(app) as conn:
        made = [row[0] for row in conn.execute("SELECT id FROM sessions ORDER BY rowid")]
    assert len(made) == 3
    statements: list[str] = []
    conn = db.shared(app.config["SIMULATOR"].database_path)
    conn.set_trace_callback(statements.append)
    try:
        listed = {
            query: [item["id"] for item in client.get(f"/__admin/sessions{query}").get_json()["items"]]
            for query in ("", "?account_id=demo", "?buyer_cookie=cookie-0")
        }
    finally:
        conn.set_trace_callback(None)
    assert listed[""] == listed["?account_id=demo"] == made[::-1]
    assert listed["?buyer_cookie=cookie-0"] == [made[2], made[0]]
    pages = [sql for sql in statements if "FROM sessions" in sql and "ORDER BY" in sql]
    assert len(pages) == 3
    for sql in pages:
        plan = " ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
        assert "TEMP B-TREE" not in plan, (sql, plan)
