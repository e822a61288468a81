"""The real server: `punchout-sim serve` under gunicorn, configuration, restarts, side-by-side instances."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests

from simulator.cli import _parser, config_from

from .helpers import setup_request, start_url, status_of


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, data_dir: Path, dtd_dir: Path, *extra: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [
            sys.executable,
            "run.py",
            "--port",
            str(self.port),
            "--data-dir",
            str(data_dir),
            "--catalog-size",
            "50",
            "--dtd-dir",
            str(dtd_dir),
            *extra,
        ]
        self.process: subprocess.Popen[bytes] | None = None
        self.output = b""
        self.log: Any = None

    popen_options: ClassVar[dict[str, Any]] = {}

    def collect_output(self) -> None:
        if self.log is not None:
            self.log.seek(0)
            self.output += self.log.read()
            self.log.close()
            self.log = None

    def start(self) -> None:
        root = Path(__file__).resolve().parents[1]
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - a file, not a pipe: a chatty server never blocks
        self.process = subprocess.Popen(
            self.args, cwd=root, stdout=self.log, stderr=subprocess.STDOUT, **self.popen_options
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/__admin/health", timeout=1).ok:
                    return
            except requests.ConnectionError:
                time.sleep(0.2)
            if self.process.poll() is not None:
                break
        self.stop()
        self.collect_output()
        raise AssertionError(f"server did not start: {self.output.decode(errors='replace')}")

    def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.collect_output()


@pytest.fixture
def server_factory(tmp_path: Path, dtd_dir: Path) -> Iterator[object]:
    started: list[Server] = []

    def make(name: str = "data", *extra: str, port: int | None = None) -> Server:
        server = Server(tmp_path / name, dtd_dir, *extra, port=port)
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def test_flags_and_environment(tmp_path: Path) -> None:
    args = _parser().parse_args(["serve", "--port", "9999", "--seed", "7"])
    env = {
        "PUNCHOUT_SIM_PORT": "1234",
        "PUNCHOUT_SIM_CATALOG_SIZE": "42",
        "PUNCHOUT_SIM_PUBLIC_URL": "https://sim.example/",
    }
    config = config_from(args, env)
    assert (config.port, config.seed, config.catalog_size) == (9999, 7, 42)  # a flag beats the environment
    assert config.base_url == "https://sim.example"
    assert config_from(_parser().parse_args(["serve"]), {"PUNCHOUT_SIM_SUPPLIER_DUNS": "1"}).supplier.duns == "1"


def test_serve_prints_the_endpoints_and_demo_credentials(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory()
    server.stop()
    text = server.output.decode()
    assert f"POST {server.url}/punchout" in text
    assert "domain=NetworkId identity=DEMO-BUYER SharedSecret=demo-secret" in text
    assert "Booting worker" in text  # gunicorn, not the development server


def test_state_survives_a_restart(server_factory) -> None:  # type: ignore[no-untyped-def]
    first = server_factory("state")
    account = requests.post(
        f"{first.url}/__admin/accounts",
        json={"name": "Coupa QA", "credentials": {"domain": "NetworkId", "identity": "COUPA-QA", "shared_secret": "s"}},
        timeout=10,
    ).json()
    answer = requests.post(f"{first.url}/punchout", data=setup_request(), timeout=10)
    assert status_of(answer.content)[0] == 200
    first.stop()
    second = server_factory("state", port=first.port)
    assert requests.get(f"{second.url}/__admin/accounts/{account['id']}", timeout=10).json()["name"] == "Coupa QA"
    journal = requests.get(f"{second.url}/__admin/journal?type=PunchOutSetupRequest", timeout=10).json()
    assert journal["total"] == 1
    # the StartPage issued before the restart still opens the shop
    opened = requests.get(start_url(answer.content), allow_redirects=False, timeout=10)
    assert opened.status_code == 303
    assert "/shop?sid=" in opened.headers["Location"]


def test_two_instances_side_by_side(server_factory) -> None:  # type: ignore[no-untyped-def]
    a = server_factory("a", "--workers", "2")
    b = server_factory("b")
    requests.patch(f"{a.url}/__admin/accounts/demo", json={"name": "Instance A"}, timeout=10).raise_for_status()
    assert requests.get(f"{b.url}/__admin/accounts/demo", timeout=10).json()["name"] == "Demo Buyer"
    for _ in range(10):
        assert status_of(requests.post(f"{a.url}/punchout", data=setup_request(), timeout=10).content)[0] == 200
    assert requests.get(f"{a.url}/__admin/journal?type=PunchOutSetupRequest", timeout=10).json()["total"] == 10
    assert requests.get(f"{b.url}/__admin/journal", timeout=10).json()["total"] == 0


def test_dev_flag_uses_the_development_server(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory("dev", "--dev")
    assert requests.get(f"{server.url}/__admin/health", timeout=10).json()["status"] == "ok"
    server.stop()
    assert "Booting worker" not in server.output.decode()


@pytest.mark.skipif(os.name == "nt", reason="POSIX only")
def test_public_url_is_used_in_start_pages(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory("public", "--public-url", "https://punchout.example.com/sim")
    answer = requests.post(f"{server.url}/punchout", data=setup_request(), timeout=10)
    assert start_url(answer.content).startswith("https://punchout.example.com/sim/start/")


def test_the_access_log_leaves_out_query_strings(server_factory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """An OCI login by GET carries PASSWORD in its query string: the access log shows the path only."""
    monkeypatch.setenv("PUNCHOUT_SIM_ACCESS_LOG", "1")
    server = server_factory("access-log")
    answer = requests.get(
        f"{server.url}/oci",
        params={"USERNAME": "nobody", "PASSWORD": "hunter2-in-the-url", "HOOK_URL": "http://buyer.test/hook"},
        timeout=10,
    )
    assert answer.status_code == 401
    server.stop()
    text = server.output.decode()
    assert '"GET /oci HTTP/1.1" 401' in text
    assert "hunter2-in-the-url" not in text
