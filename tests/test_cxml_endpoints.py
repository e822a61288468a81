"""The cXML endpoints served in front of Flask answer exactly as Flask's routes do."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from simulator import db
from simulator.cxml_endpoints import THROUGH_FLASK, handlers
from simulator.punchout import sessions

from .helpers import order_request, setup_request, status_of

_VARYING = [
    (re.compile(rb'payloadID="[^"]*"'), b'payloadID="-"'),
    (re.compile(rb'timestamp="[^"]*"'), b'timestamp="-"'),
    (re.compile(rb"/start/[A-Za-z0-9_-]+"), b"/start/-"),
    (re.compile(rb"PO-[a-z]+-\d"), b"PO-x"),
]
_FIXED_HEADERS = ("Content-Type", "Content-Length", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options")


def _setup(payload_id: str, **kwargs: Any) -> bytes:
    return setup_request(**kwargs).replace(b"1700000000.1@buyer.test", payload_id.encode())


def _normal(body: bytes) -> bytes:
    for pattern, replacement in _VARYING:
        body = pattern.sub(replacement, body)
    return body


def _both(client: FlaskClient, path: str, make: Any, **kwargs: Any) -> tuple[Any, Any]:
    """The same request (made twice, so each is new to the simulator) by both paths."""
    plain = client.post(path, data=make("plain"), **kwargs)
    flask = client.post(path, data=make("flask"), environ_overrides={THROUGH_FLASK: True}, **kwargs)
    return plain, flask


CASES = {
    "setup": ("/punchout", lambda n: _setup(f"{n}@b")),
    "setup at /punchout/test": ("/punchout/test", lambda n: _setup(f"t-{n}@b")),
    "setup at /cxml": ("/cxml", lambda n: _setup(f"c-{n}@b")),
    "wrong secret": ("/punchout", lambda n: _setup(f"w-{n}@b", sender_secret="wrong")),
    "not XML": ("/punchout", lambda n: b"<cXML><Header>"),
    "empty body": ("/punchout", lambda n: b""),
    "an order at /punchout": ("/punchout", lambda n: order_request(order_id=f"PO-{n}-1", payload_id=f"o-{n}@b")),
    "order": ("/orders", lambda n: order_request(order_id=f"PO-{n}-2", payload_id=f"p-{n}@b")),
    "order at the account's URL": (
        "/orders/demo",
        lambda n: order_request(order_id=f"PO-{n}-3", payload_id=f"q-{n}@b"),
    ),
    "order at another account's URL": (
        "/orders/someone-else",
        lambda n: order_request(order_id=f"PO-{n}-4", payload_id=f"r-{n}@b"),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_both_paths_answer_alike(client: FlaskClient, case: str) -> None:
    path, make = CASES[case]
    plain, flask = _both(client, path, make, content_type="text/xml")
    assert plain.status_code == flask.status_code
    assert _normal(plain.data) == _normal(flask.data), case
    for name in _FIXED_HEADERS:
        if name != "Content-Length":
            assert plain.headers.get(name) == flask.headers.get(name), name
    assert plain.headers["Content-Length"] == str(len(plain.data))


def test_journal_entries_alike(client: FlaskClient, app: Flask) -> None:
    plain, flask = _both(client, "/punchout", CASES["wrong secret"][1], content_type="text/xml")
    assert status_of(plain.data)[0] == status_of(flask.data)[0] == 401
    conn = db.connect(app.config["SIMULATOR"].database_path)
    try:
        rows = conn.execute(
            "SELECT direction, doc_type, endpoint, http_status, cxml_status, advisories FROM journal"
            " ORDER BY id DESC LIMIT 4"
        ).fetchall()
    finally:
        conn.close()
    assert [tuple(r) for r in rows[:2]] == [tuple(r) for r in rows[2:]]
    assert [r["direction"] for r in rows] == ["out", "in", "out", "in"]


def test_cxml_posts_skip_flask_and_the_rest_go_through_it(client: FlaskClient, app: Flask) -> None:
    seen: list[str] = []

    @app.before_request
    def note() -> None:
        seen.append("flask")

    client.post("/punchout", data=_setup("skip@b"), content_type="text/xml")
    assert seen == []
    client.post("/punchout", data=_setup("via@b"), environ_overrides={THROUGH_FLASK: True})
    assert seen == ["flask"]
    # not taken in front: other methods, a body without Content-Length, unknown paths
    assert status_of(client.get("/punchout").data)[0] == 400
    assert len(seen) == 2
    assert status_of(client.post("/orders/", data=b"x", content_type="text/xml").data)[0] == 450
    assert len(seen) == 3
    chunked = client.post(
        "/punchout",
        input_stream=io.BytesIO(_setup("chunked@b")),
        headers={"Content-Type": "text/xml", "Transfer-Encoding": "chunked"},
        environ_overrides={"CONTENT_LENGTH": "", "wsgi.input_terminated": True},  # as gunicorn gives it
    )
    assert status_of(chunked.data)[0] == 200
    assert seen == ["flask"] * 4


def test_an_oversize_body_is_refused_with_413_as_before(client: FlaskClient, app: Flask) -> None:
    limit = app.config["SIMULATOR"].max_body_bytes
    response = client.post("/punchout", data=b"<" + b"x" * limit, content_type="text/xml")
    assert response.status_code == 413
    assert status_of(response.data)[:2] == (413, "Request Entity Too Large")


def test_handler_tables() -> None:
    assert set(handlers("/cxml") or {}) == {
        "PunchOutSetupRequest",
        "ProfileRequest",
        "OrderRequest",
        "StatusUpdateRequest",
    }
    assert set(handlers("/orders/acme-1") or {}) == {"OrderRequest"}
    assert handlers("/orders/") is None
    assert handlers("/orders/a/b") is None
    assert handlers("/shop") is None


def test_a_new_session_is_what_is_stored(app: Flask) -> None:
    """sessions.create builds the session it stored instead of reading it back: the two agree."""
    conn = db.connect(app.config["SIMULATOR"].database_path)
    try:
        new = sessions.NewSession(
            account_id="demo",
            user_id=None,
            operation="edit",
            buyer_cookie="cookie",
            browser_form_post_url="https://buyer.test/return",
            form_target="_top",
            test_mode=True,
            email="a@b.test",
            user_name="A",
            ship_to={"name": "HQ", "street": ["1 Main St"], "city": "X"},
            extrinsics=[("UserEmail", "a@b.test"), ("CostCenter", "42")],
            contacts=[{"name": "A", "email": "a@b.test", "role": "buyer"}],
            selected_item="B0TESTSLOW",
            request_payload_id="p@b",
            locale="de_DE",
            protocol="oci",
            oci={"hook_url": "https://buyer.test/hook", "version": "5.0"},
        )
        with db.transaction(conn):
            made = sessions.create(conn, new, 600)
        assert made == sessions.get(conn, made.id)
    finally:
        conn.close()
