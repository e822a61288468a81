"""Fixtures: a real simulator on a real SQLite file, a live HTTP server, a buyer's receiver.

The cXML DTDs and samples are read from ``../shared/cxml`` (or ``PUNCHOUT_SIM_SHARED_CXML``);
Chromium from ``/usr/bin/chromium`` (or ``PUNCHOUT_SIM_CHROMIUM``). When one is missing the tests
that need it are skipped with a message saying how to get it, except under ``CI=true``, where a
missing prerequisite fails the run.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from simulator import create_app, prepare_data_dir
from simulator.config import Config
from simulator.cxml.validate import DtdRegistry

ROOT = Path(__file__).resolve().parents[1]
SHARED_CXML = Path(os.environ.get("PUNCHOUT_SIM_SHARED_CXML", ROOT.parent / "shared" / "cxml")).resolve()
IN_CI = os.environ.get("CI", "").lower() == "true"
TEST_CATALOG_SIZE = 300


CHROMIUM = Path(os.environ.get("PUNCHOUT_SIM_CHROMIUM", "/usr/bin/chromium"))
# Debian's Chromium, as root, on a machine without network beyond the package registries
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def require(condition: bool, message: str) -> None:
    """Skip when a prerequisite is missing, or fail under CI=true."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"missing prerequisite in CI: {message}")
    pytest.skip(message)


@pytest.fixture(scope="session")
def shared_cxml() -> Path:
    require(
        (SHARED_CXML / "dtd").is_dir() and (SHARED_CXML / "samples").is_dir(),
        f"the cXML DTDs and samples are not at {SHARED_CXML}: check out the shared folder next to the "
        "project, or set PUNCHOUT_SIM_SHARED_CXML to its cxml directory",
    )
    return SHARED_CXML


@pytest.fixture(scope="session")
def dtd_dir(shared_cxml: Path) -> Path:
    return shared_cxml / "dtd"


@pytest.fixture(scope="session")
def samples(shared_cxml: Path) -> Path:
    return shared_cxml / "samples"


@pytest.fixture(scope="session")
def dtds(dtd_dir: Path) -> DtdRegistry:
    return DtdRegistry(dtd_dir)


@pytest.fixture(scope="session")
def template_data_dir(tmp_path_factory: pytest.TempPathFactory, dtd_dir: Path) -> Path:
    """A data dir with the test catalogue built once; each test copies it."""
    directory = tmp_path_factory.mktemp("template-data")
    prepare_data_dir(Config(data_dir=directory, catalog_size=TEST_CATALOG_SIZE, seed=1, dtd_dir=dtd_dir))
    return directory


@pytest.fixture
def config(tmp_path: Path, template_data_dir: Path, dtd_dir: Path) -> Config:
    data_dir = tmp_path / "data"
    shutil.copytree(template_data_dir, data_dir)
    return Config(
        data_dir=data_dir,
        catalog_size=TEST_CATALOG_SIZE,
        seed=1,
        dtd_dir=dtd_dir,
        public_url="http://simulator.test",
        outbox_interval=0,  # tests flush the outbox themselves; live_server runs the dispatcher
    )


@pytest.fixture
def app(config: Config) -> Flask:
    return create_app(config)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class LiveServer:
    """The simulator on a real port of loopback, in a thread. Its public URL is that port."""

    def __init__(self, make_app: Callable[[int], Flask]) -> None:
        self.server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = make_app(self.port)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.app(environ, start_response)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def live_server(tmp_path: Path, template_data_dir: Path, dtd_dir: Path) -> Iterator[LiveServer]:
    data_dir = tmp_path / "live-data"
    shutil.copytree(template_data_dir, data_dir)
    server = LiveServer(
        lambda port: create_app(
            Config(
                data_dir=data_dir,
                catalog_size=TEST_CATALOG_SIZE,
                seed=1,
                dtd_dir=dtd_dir,
                port=port,
                outbox_interval=0.1,
            )
        )
    )
    server.start()
    yield server
    server.stop()
    for name in ("outbox_dispatcher", "wal_checkpointer"):
        if (worker := server.app.extensions.get(name)) is not None:
            worker.stop()


class Receiver:
    """The buyer's side: a real HTTP server that keeps every post. A cart form post gets an HTML
    page; a cXML document (text/xml) gets ``cxml_answer``, a cXML 200 unless a test changes it."""

    CXML_OK = (
        b'<?xml version="1.0"?><cXML payloadID="1@buyer.test" timestamp="2026-01-01T00:00:00+00:00">'
        b'<Response><Status code="200" text="OK"/></Response></cXML>'
    )

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.cxml_answer = self.CXML_OK
        self.event = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                outer.posts.append(
                    {
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type", ""),
                        "body": body,
                        "fields": dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="latin-1")),
                    }
                )
                if self.headers.get("Content-Type", "").startswith("text/xml"):
                    page, kind = outer.cxml_answer, "text/xml"
                else:
                    page = b"<!doctype html><title>Buyer received the cart</title><h1 id=received>Cart received</h1>"
                    kind = "text/html"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
                outer.event.set()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/punchout/return"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Real Chromium (Debian's package) through Playwright, one for the whole run."""
    require(
        CHROMIUM.exists(),
        f"Chromium is not at {CHROMIUM}: install Debian's package ('apt-get install chromium') or set "
        "PUNCHOUT_SIM_CHROMIUM to a Chromium binary",
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the test extra installs it
        require(False, "Playwright is not installed: pip install -e '.[test]'")
        raise
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context and page for one test."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
