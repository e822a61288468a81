"""An order's documents are decided at intake and built when due or first looked at (cxml/deferred.py).

Against the real SQLite file of the app and a real HTTP receiver on loopback.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from simulator.cxml import deferred
from simulator.cxml.validate import DtdRegistry

from .conftest import Receiver
from .helpers import assert_valid, order_request, status_of


@pytest.fixture
def buyer(client: FlaskClient, receiver: Receiver) -> Iterator[Receiver]:
    patched = client.patch(
        "/__admin/accounts/demo",
        json={
            "status": "active",
            "payment_method": {"type": "invoice"},
            "buyer_endpoint": {"url": receiver.url.replace("/punchout/return", "/cxml"), "shared_secret": "inbound"},
            "settings": {"timeline": "instant", "einvoicing": True},
        },
    )
    assert patched.status_code == 200, patched.get_json()
    yield receiver


def rows(app: Flask) -> list[sqlite3.Row]:
    with sqlite3.connect(app.config["SIMULATOR"].database_path) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute("SELECT id, doc_type, body, recipe FROM outbox ORDER BY id").fetchall()


def place(client: FlaskClient) -> None:
    lines = [{"asin": "B0TESTSLOW", "price": "0", "quantity": 2}, {"asin": "B0TESTSPLT", "price": "0", "quantity": 2}]
    answer = client.post("/orders", data=order_request(order_id="PO-DEFER", lines=lines), content_type="text/xml")
    assert status_of(answer.data)[0] == 200, answer.data


def test_intake_stores_recipes_and_looking_builds_each_document_once(
    app: Flask, client: FlaskClient, buyer: Receiver, dtds: DtdRegistry
) -> None:
    place(client)
    queued = rows(app)
    assert {r["doc_type"] for r in queued} == {"ConfirmationRequest", "ShipNoticeRequest", "InvoiceDetailRequest"}
    assert all(bytes(r["body"]) == b"" and r["recipe"] is not None for r in queued)

    first = queued[0]
    shown = client.get(f"/__admin/outbox/{first['id']}").get_json()
    assert shown["body"].startswith("<?xml") and shown["payload_id"] in shown["body"]
    after = {r["id"]: r for r in rows(app)}
    stored = bytes(after[first["id"]]["body"])
    assert after[first["id"]]["recipe"] is None
    assert_valid(stored, dtds)

    client.post("/__admin/outbox/flush")
    delivered = [post["body"] for post in buyer.posts if post["content_type"].startswith("text/xml")]
    assert len(delivered) == len(queued)
    assert stored in delivered  # the document shown is the one sent, byte for byte
    for body in delivered:
        assert_valid(body, dtds)
    assert all(r["recipe"] is None and bytes(r["body"]) in delivered for r in rows(app))


def test_a_recipe_renders_the_same_bytes_every_time(app: Flask, client: FlaskClient, buyer: Receiver) -> None:
    place(client)
    for row in rows(app):
        recipe = deferred.loads(bytes(row["recipe"]))
        assert recipe.render() == recipe.render()
        assert recipe.builder in deferred.BUILDERS


class _Hostile:
    """Unpickles to a call of os.system: what a tampered recipe could try."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_a_tampered_recipe_runs_nothing_and_the_row_dies_with_a_clear_error(
    app: Flask, client: FlaskClient, buyer: Receiver, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(deferred.RecipeError, match=r"a document recipe may not contain (posix|os)\.system"):
        deferred.loads(pickle.dumps(_Hostile(marker)))
    place(client)
    target = rows(app)[0]["id"]
    with sqlite3.connect(app.config["SIMULATOR"].database_path) as conn:
        conn.execute("UPDATE outbox SET recipe = ? WHERE id = ?", (pickle.dumps(_Hostile(marker)), target))
    client.post("/__admin/outbox/flush")
    assert not marker.exists()
    dead = client.get("/__admin/outbox?status=dead").get_json()["items"]
    assert [(i["id"], i["last_error"]) for i in dead] == [
        (target, "The simulator could not build this document (RecipeError); see its log.")
    ]
