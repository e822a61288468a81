"""Session retention: expired shopping sessions and their carts go --session-keep-days after they
expired, and returned carts' quotes --quote-keep-days after the checkout, on the simulator's clock,
on a real SQLite file; the server prunes from its dispatcher."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from simulator import clock, create_app, db, journal
from simulator.cli import _parser, config_from, main
from simulator.config import Config
from simulator.punchout import sessions

from .helpers import setup_request, start_url, status_of


def _setup(client: FlaskClient, n: int) -> str:
    body = client.post("/punchout", data=setup_request(buyer_cookie=f"c-{n}"), content_type="text/xml").data
    assert status_of(body)[0] == 200
    return start_url(body)


def _count(config: Config, table: str) -> int:
    conn = db.connect(config.database_path)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def test_sessions_go_keep_days_after_they_expired_with_their_carts(client: FlaskClient, config: Config) -> None:
    for n in range(3):
        _setup(client, n)
    opened = client.get(urlsplit(_setup(client, 3)).path)  # this one is shopping, with a cart
    assert opened.status_code == 303
    conn = db.connect(config.database_path)
    try:
        shopping = conn.execute("SELECT id FROM sessions WHERE status = 'shopping'").fetchone()[0]
        conn.execute(
            "INSERT INTO cart_items (session_id, asin, quantity, position) VALUES (?, 'B0TESTSLOW', 1, 1)", (shopping,)
        )
        assert sessions.prune(conn, 7) == 0  # none expired yet
        clock.advance(conn, 7 * 86400)  # expired (the TTL is minutes), but not 7 days ago
        assert sessions.prune(conn, 7) == 0
        clock.advance(conn, 86400)
        assert sessions.prune(conn, 7, batch=3) == 3  # bounded batches
        assert sessions.prune(conn, 7) == 1
        assert sessions.prune(conn, 0) == 0  # 0 keeps every session
        assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM cart_items").fetchone()[0] == 0  # carts go with them
    finally:
        clock.reset(conn)
        conn.close()


def test_a_session_still_in_use_is_kept(client: FlaskClient, config: Config) -> None:
    _setup(client, 1)
    conn = db.connect(config.database_path)
    try:
        far = clock.timestamp(clock.now() + timedelta(days=30))
        conn.execute("UPDATE sessions SET expires_at = ?", (far,))  # a shopper kept it alive
        clock.advance(conn, 20 * 86400)
        assert sessions.prune(conn, 7) == 0
        assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
    finally:
        clock.reset(conn)
        conn.close()


def test_settings_from_flags_and_environment(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert config_from(_parser().parse_args(["serve"]), {}).session_keep_days == 7
    assert config_from(_parser().parse_args(["serve", "--session-keep-days", "0.5"]), {}).session_keep_days == 0.5
    assert config_from(_parser().parse_args(["serve"]), {"PUNCHOUT_SIM_SESSION_KEEP_DAYS": "0"}).session_keep_days == 0
    assert main(["serve", "--data-dir", str(tmp_path), "--session-keep-days", "-1"]) == 2
    assert capsys.readouterr().err == (
        "punchout-sim: --session-keep-days (PUNCHOUT_SIM_SESSION_KEEP_DAYS) must be 0 (keep every session) or a "
        "number of days up to 36500.\n"
    )


def test_the_server_prunes_expired_sessions(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal, "PRUNE_EVERY_SECONDS", 0.1)  # the server's pace, shortened for the test
    app = create_app(config.with_overrides(session_keep_days=1, outbox_interval=0.05))
    client = app.test_client()
    try:
        for n in range(5):
            _setup(client, n)
        assert _count(config, "sessions") == 5
        client.post("/__admin/clock/advance", json={"seconds": 2 * 86400})
        deadline = time.monotonic() + 10
        while _count(config, "sessions") > 0:
            assert time.monotonic() < deadline, "the dispatcher did not prune the expired sessions"
            time.sleep(0.1)
    finally:
        app.extensions["outbox_dispatcher"].stop()
        app.extensions["wal_checkpointer"].stop()
        conn = db.connect(config.database_path)
        clock.reset(conn)
        conn.close()


def test_an_order_citing_a_quote_names_the_shopper_after_the_session_is_gone(
    client: FlaskClient, config: Config, receiver: object
) -> None:
    """Approval workflows take weeks: the quote keeps the shopper's email for the order."""
    from lxml import etree

    from .helpers import order_request

    client.post("/punchout", data=setup_request(buyer_cookie="q"), content_type="text/xml")
    sid = client.get("/__admin/sessions?buyer_cookie=q").get_json()["items"][0]["id"]
    client.post(f"/__admin/sessions/{sid}/cart/items", json={"asin": "B0TESTSLOW", "quantity": 2})
    cart = etree.fromstring(client.post(f"/__admin/sessions/{sid}/checkout", json={}).get_json()["cxml"].encode())
    aux = cart.findtext(".//ItemIn/ItemID/SupplierPartAuxiliaryID")
    conn = db.connect(config.database_path)
    try:
        clock.advance(conn, 30 * 86400)
        assert sessions.prune(conn, 7) == 1
    finally:
        conn.close()
    try:
        body = order_request(
            order_id="PO-LATE", lines=[{"asin": "B0TESTSLOW", "aux": aux, "quantity": 2, "price": "0"}]
        )
        body = body.replace(b'<Extrinsic name="UserEmail">alice@buyer.test</Extrinsic>', b"")
        assert status_of(client.post("/orders", data=body, content_type="text/xml").data)[0] == 200
        order = client.get("/__admin/orders?order_id=PO-LATE").get_json()["items"][0]
        assert order["user_email"] == "alice@buyer.test"
    finally:
        conn = db.connect(config.database_path)
        clock.reset(conn)
        conn.close()


def _returned_cart(client: FlaskClient, cookie: str, quantity: int = 2) -> str:
    """A session whose cart of B0TESTSLOW went back to the buyer; the line's SupplierPartAuxiliaryID."""
    from lxml import etree

    client.post("/punchout", data=setup_request(buyer_cookie=cookie), content_type="text/xml")
    sid = client.get(f"/__admin/sessions?buyer_cookie={cookie}").get_json()["items"][0]["id"]
    client.post(f"/__admin/sessions/{sid}/cart/items", json={"asin": "B0TESTSLOW", "quantity": quantity})
    cart = etree.fromstring(client.post(f"/__admin/sessions/{sid}/checkout", json={}).get_json()["cxml"].encode())
    aux: str | None = cart.findtext(".//ItemIn/ItemID/SupplierPartAuxiliaryID")
    assert aux
    return aux


def test_quotes_go_keep_days_after_the_checkout(client: FlaskClient, config: Config) -> None:
    for n in range(3):
        _returned_cart(client, f"q-{n}")
    conn = db.connect(config.database_path)
    try:
        assert conn.execute("SELECT count(*) FROM quotes").fetchone()[0] == 3
        clock.advance(conn, 89 * 86400)
        assert sessions.prune_quotes(conn, 90) == 0  # 89 days old: kept
        assert sessions.prune_quotes(conn, 0) == 0  # 0 keeps every quote
        clock.advance(conn, 2 * 86400)
        assert sessions.prune_quotes(conn, 90, batch=2) == 2  # bounded batches
        assert sessions.prune_quotes(conn, 90) == 1
        assert conn.execute("SELECT count(*) FROM quotes").fetchone()[0] == 0
    finally:
        clock.reset(conn)
        conn.close()


def test_quote_settings_from_flags_and_environment(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert config_from(_parser().parse_args(["serve"]), {}).quote_keep_days == 90
    assert config_from(_parser().parse_args(["serve", "--quote-keep-days", "30"]), {}).quote_keep_days == 30
    assert config_from(_parser().parse_args(["serve"]), {"PUNCHOUT_SIM_QUOTE_KEEP_DAYS": "0"}).quote_keep_days == 0
    assert main(["serve", "--data-dir", str(tmp_path), "--quote-keep-days", "nan"]) == 2
    assert capsys.readouterr().err == (
        "punchout-sim: --quote-keep-days (PUNCHOUT_SIM_QUOTE_KEEP_DAYS) must be 0 (keep every quote) or a "
        "number of days up to 36500.\n"
    )


def test_the_server_prunes_old_quotes(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal, "PRUNE_EVERY_SECONDS", 0.1)  # the server's pace, shortened for the test
    app = create_app(config.with_overrides(quote_keep_days=1, session_keep_days=0, outbox_interval=0.05))
    client = app.test_client()
    try:
        _returned_cart(client, "served")
        assert _count(config, "quotes") == 1
        client.post("/__admin/clock/advance", json={"seconds": 2 * 86400})
        deadline = time.monotonic() + 10
        while _count(config, "quotes") > 0:
            assert time.monotonic() < deadline, "the dispatcher did not prune the old quote"
            time.sleep(0.1)
        assert _count(config, "sessions") == 1  # session_keep_days 0: sessions stay
    finally:
        app.extensions["outbox_dispatcher"].stop()
        app.extensions["wal_checkpointer"].stop()
        conn = db.connect(config.database_path)
        clock.reset(conn)
        conn.close()


def test_an_order_citing_a_deleted_quote_is_priced_from_the_catalogue(client: FlaskClient, config: Config) -> None:
    from .helpers import order_request

    aux = _returned_cart(client, "late")
    conn = db.connect(config.database_path)
    try:
        clock.advance(conn, 100 * 86400)
        assert sessions.prune_quotes(conn, 90) == 1
    finally:
        conn.close()
    try:
        body = order_request(
            order_id="PO-VERY-LATE", lines=[{"asin": "B0TESTSLOW", "aux": aux, "quantity": 2, "price": "0"}]
        )
        assert status_of(client.post("/orders", data=body, content_type="text/xml").data)[0] == 200
        entry = client.get("/__admin/journal?direction=in&type=OrderRequest").get_json()["items"][0]
        assert (
            f"ItemOut 1: SupplierPartAuxiliaryID {aux!r} was not issued to this account, or its quote is older "
            "than --quote-keep-days; priced from the catalogue."
        ) in entry["advisories"]
        order = client.get("/__admin/orders?order_id=PO-VERY-LATE").get_json()["items"][0]
        assert order["status"] == "accepted"
    finally:
        conn = db.connect(config.database_path)
        clock.reset(conn)
        conn.close()
