"""The issue's yardstick: a bare Flask + lxml + SQLite endpoint, to run beside the simulator.

It parses a PunchOutSetupRequest, inserts one row and builds a response — nothing else — so
that ``python -m bench.load``'s figures can be read against what Flask, lxml and SQLite cost on
the same machine at the same moment (docs/performance.md, "Results")::

    .venv/bin/gunicorn -w 2 -b 127.0.0.1:9941 bench.bare_endpoint:app
    wrk -t2 -c32 -d10s http://127.0.0.1:9941/health
    wrk -t2 -c32 -d10s -s <a setup.lua as bench.load writes it> http://127.0.0.1:9941/setup
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import threading

from flask import Flask, Response, request
from lxml import etree

app = Flask(__name__)
DATABASE = os.environ.get("BARE_DATABASE", os.path.join(tempfile.gettempdir(), "bare-endpoint.sqlite3"))
_local = threading.local()
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def _connection() -> sqlite3.Connection:
    conn: sqlite3.Connection | None = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(DATABASE, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("CREATE TABLE IF NOT EXISTS received (id INTEGER PRIMARY KEY, payload_id TEXT, body BLOB)")
        _local.conn = conn
    return conn


@app.get("/health")
def health() -> dict[str, bool]:
    return {"ok": True}


@app.post("/setup")
def setup() -> Response:
    body = request.get_data()
    payload_id = etree.fromstring(body, _PARSER).get("payloadID") or ""
    _connection().execute("INSERT INTO received (payload_id, body) VALUES (?, ?)", (payload_id, body))
    root = etree.Element("cXML", payloadID=payload_id + ".answer", timestamp="2026-01-01T00:00:00+00:00")
    answer = etree.SubElement(root, "Response")
    etree.SubElement(answer, "Status", code="200", text="OK")
    start = etree.SubElement(etree.SubElement(answer, "PunchOutSetupResponse"), "StartPage")
    etree.SubElement(start, "URL").text = "http://127.0.0.1/start/token"
    return Response(etree.tostring(root, xml_declaration=True, encoding="UTF-8"), mimetype="text/xml")
