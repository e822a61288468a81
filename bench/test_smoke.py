"""The benchmark scripts themselves, run small so that they do not rot (``make bench`` runs them full)."""

from __future__ import annotations

import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, timeout: float = 300) -> str:
    done = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_table_benchmark_runs() -> None:
    output = run("bench.tables", "--rows", "3000", "--repeat", "2")
    operations = ("PunchOutSetupRequest", "journal, one payloadID", "outbox, what is due", "console journal")
    for operation in (*operations, "console journal entry, newest", "console dashboard"):
        assert operation in output
    assert "300 orders of 10 lines" in output


def test_the_catalogue_benchmark_runs() -> None:
    output = run("bench.catalog", "--size", "3000", "--queries", "6")
    assert "built in" in output and "product page (lookup by ASIN) p95" in output and "resident size" in output


def needs_wrk(what: str) -> None:
    """Skip without wrk, with how to get it; in CI a missing wrk is a failure."""
    if shutil.which("wrk") is None:
        message = f"{what} needs wrk: apt-get install wrk (make test installs it when run as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def test_the_load_benchmark_runs() -> None:
    needs_wrk("the load benchmark")
    output = run("bench.load", "--seconds", "1", "--rounds", "2", "--catalog-size", "300", "--bare")
    assert "worker RSS, MB" in output and "medians of 2 interleaved rounds" in output
    for ratio in ("setup / health", "setup / bare:setup", "bare:setup / bare:health"):
        assert re.search(rf"^{ratio} = \d\.\d\d \(each round: \d\.\d\d, \d\.\d\d\)", output, re.M), output
    rows = {cells[0]: cells for cells in map(str.split, output.splitlines()) if len(cells) >= 6 and cells[1].isdigit()}
    # every request new (unique payloadIDs across threads and rounds) and answered cXML 200
    assert rows["setup"][5] == rows["order"][5] == "0", output
    assert rows["bare:health"][5] == rows["bare:setup"][5] == "0", output  # --bare: the yardstick ran beside it
    taken = re.search(r"([\d,]+) orders taken of ([\d,]+) received", output)
    assert taken is not None and taken.group(1) == taken.group(2), output
    # the orders' documents wait, held, instead of being posted to the simulator's own demo buyer
    assert re.search(r"^outbox after the run: held [\d,]+ \(", output, re.M), output
    assert re.search(r"WAL file, largest after an endpoint's run: \d+ MB", output), output


@pytest.mark.parametrize("server", ["gunicorn", "granian"])
def test_the_decomposition_runs(server: str) -> None:
    needs_wrk("the decomposition")
    output = run("bench.decompose", "--seconds", "1", "--rounds", "1", "--catalog-size", "300", "--server", server)
    assert output.splitlines()[0].startswith(server), output
    rows = {line[:20].strip(): line[20:].split() for line in output.splitlines()[1:6]}
    assert list(rows) == ["health", "setup", "setup, no journal", "setup, no writes", "setup, 1 worker"], output
    for cells in rows.values():  # req/s, p99, user, system, CPU per request: all measured
        assert float(cells[0]) > 0 and float(cells[4]) > 0, output
    assert "errors: 0" in output, output
    for part in ("the journal", "the session and its write transaction", "two processes sharing the database"):
        assert re.search(rf"{part}[^\n]*:\s+-?\d+\.\d\d ms", output), output
    assert re.search(r"setup / health \(req/s\):\s+\d\.\d\d\n", output), output


def test_a_decomposition_variant_leaves_out_what_it_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The "no writes" worker answers a setup request with a StartPage and stores nothing."""
    import sqlite3

    from bench import decompose
    from simulator import journal
    from simulator.app import prepare_data_dir
    from simulator.config import Config
    from simulator.punchout import service, sessions

    for module, name in ((journal, "record_exchange"), (service, "transaction"), (sessions, "create")):
        monkeypatch.setattr(module, name, getattr(module, name))  # restored after the test
    config = Config(data_dir=tmp_path, catalog_size=300)
    prepare_data_dir(config)
    monkeypatch.setenv("DECOMPOSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DECOMPOSE_CATALOG_SIZE", "300")
    monkeypatch.setenv("DECOMPOSE_LEAVE_OUT", "writes")
    client = decompose.application().test_client()
    answer = client.post("/punchout", data=decompose.setup_body(), headers={"Content-Type": "text/xml"})
    assert 'code="200"' in answer.get_data(as_text=True) and "<StartPage>" in answer.get_data(as_text=True)
    with sqlite3.connect(config.database_path) as conn:
        assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM journal").fetchone()[0] == 0


def test_the_bare_endpoint_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lxml import etree

    from bench import bare_endpoint
    from tests.helpers import setup_request

    monkeypatch.setattr(bare_endpoint, "DATABASE", str(tmp_path / "bare.sqlite3"))
    monkeypatch.setattr(bare_endpoint._local, "conn", None, raising=False)
    client = bare_endpoint.app.test_client()
    assert client.get("/health").json == {"ok": True}
    answer = etree.fromstring(client.post("/setup", data=setup_request(), content_type="text/xml").data)
    assert answer.get("payloadID") == "1700000000.1@buyer.test.answer"
    assert answer.find("Response/Status").get("code") == "200"


class _SlowStart(http.server.BaseHTTPRequestHandler):
    """A server whose first answer takes longer than the wait's one-second read timeout."""

    answered = 0

    def do_GET(self) -> None:
        type(self).answered += 1
        if type(self).answered == 1:
            time.sleep(1.5)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_the_wait_for_the_server_outlasts_a_slow_first_answer() -> None:
    """A worker still starting (a read timeout) is waited for, as a port not yet listening is."""
    from bench.load import wait_until_healthy

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowStart)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        wait_until_healthy(f"http://127.0.0.1:{server.server_address[1]}", seconds=10)
        assert _SlowStart.answered >= 2
    finally:
        server.shutdown()
        server.server_close()


def test_the_wait_for_the_server_gives_up_at_its_deadline() -> None:
    from bench.load import free_port, wait_until_healthy

    port = free_port()  # nothing listens there
    with pytest.raises(RuntimeError, match=rf"127.0.0.1:{port} did not answer its health check within 1 s"):
        wait_until_healthy(f"http://127.0.0.1:{port}", seconds=1)
