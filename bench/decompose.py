"""Where a PunchOutSetupRequest's time goes under load: the same server with parts taken away.

``bench.load`` says how fast the simulator is; this says why. It runs the simulator under gunicorn
(sync workers, as ``serve`` does) five ways, drives each with wrk like ``bench.load``, and reads
each worker's user and system CPU time from ``/proc`` to give the CPU one request costs:

- ``health``: ``GET /__admin/health`` — what the server and the app cost for a request that does
  nothing;
- ``setup``: the simulator as it ships;
- ``setup, no journal``: the journal's two entries are not written (the session still is);
- ``setup, no writes``: nothing is written — no session, no journal, no write transaction;
- ``setup, 1 worker``: as it ships, with one worker: no second process commits in between, so
  SQLite's page cache is never thrown away.

``--server granian`` runs the same variants under `Granian <https://github.com/emmett-framework/granian>`_
(a Rust HTTP server: its own HTTP parser, keep-alive, one Python thread per worker) instead of
gunicorn's sync workers, to tell the server's share of a request's cost from the simulator's
(docs/performance.md, step 19). ``serve`` itself stays on gunicorn.

The differences are the cost of the journal, of the session's write transaction and of two
processes sharing one database. The variants exist only in this benchmark (it replaces functions
in the worker before the app starts); the simulator has no switch that turns its journal off.

    python -m bench.decompose [--seconds 8] [--rounds 3] [--connections 32] [--server gunicorn|granian]

Linux only (``/proc``); needs wrk, like ``bench.load``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load import LUA_POST, free_port, run_wrk, wait_until_healthy  # noqa: E402
from simulator.config import Config  # noqa: E402
from tests.helpers import setup_request  # noqa: E402

#: name → (workers, path, posts a setup request, what the worker leaves out)
VARIANTS: dict[str, tuple[int, str, bool, str]] = {
    "health": (2, "/__admin/health", False, ""),
    "setup": (2, "/punchout", True, ""),
    "setup, no journal": (2, "/punchout", True, "journal"),
    "setup, no writes": (2, "/punchout", True, "writes"),
    "setup, 1 worker": (1, "/punchout", True, ""),
}


def server_command(server: str, workers: int, port: int) -> list[str]:
    """The command that serves ``application()`` on 127.0.0.1:port; workers are the master's children."""
    if server == "granian":
        return [
            *(sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", str(workers)),
            *("--blocking-threads", "1", "--host", "127.0.0.1", "--port", str(port)),
            *("--factory", "bench.decompose:application"),
        ]
    return [
        *(sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "sync", "-b", f"127.0.0.1:{port}"),
        "bench.decompose:application()",
    ]


def setup_body() -> bytes:
    return setup_request().replace(b"1700000000.1@buyer.test", b"decompose-check@buyer.test")


class _NoWrites:
    """A stand-in connection for ``sessions.create``: its INSERT goes nowhere."""

    def execute(self, *args: Any) -> None:
        return None


def _leave_out(part: str) -> None:
    """Replace, in this worker, what writes the journal (and, for "writes", the session too)."""
    from simulator import journal
    from simulator.punchout import service, sessions

    create = sessions.create

    def record_nothing(conn: Any, request: Any, response: Any) -> tuple[int, int]:
        return 0, 0

    def create_without_insert(conn: Any, new: Any, ttl_seconds: int, *, token: str | None = None) -> Any:
        return create(_NoWrites(), new, ttl_seconds, token=token)  # type: ignore[arg-type]

    if part in ("journal", "writes"):
        setattr(journal, "record_exchange", record_nothing)  # noqa: B010 - mypy would refuse the assignment
    if part == "writes":
        setattr(service, "transaction", lambda conn: contextlib.nullcontext())  # noqa: B010
        setattr(sessions, "create", create_without_insert)  # noqa: B010


def application() -> Any:
    """The gunicorn app factory (``bench.decompose:application()``), in each worker."""
    from simulator.app import create_app

    _leave_out(os.environ.get("DECOMPOSE_LEAVE_OUT", ""))
    data_dir, catalog_size = Path(os.environ["DECOMPOSE_DATA_DIR"]), int(os.environ["DECOMPOSE_CATALOG_SIZE"])
    return create_app(Config(data_dir=data_dir, catalog_size=catalog_size), prepare=False)


def _cpu_ticks(master: int) -> tuple[int, int]:
    """User and system clock ticks of the server's workers (the children of its master) so far."""
    user = system = 0
    for child in Path(f"/proc/{master}/task/{master}/children").read_text().split():
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            user, system = user + int(fields[11]), system + int(fields[12])
    return user, system


def measure(
    name: str, config: Config, seconds: int, connections: int, script: Path, server_name: str = "gunicorn"
) -> dict[str, float]:
    workers, path, posts, leave_out = VARIANTS[name]
    port = free_port()
    env = {
        **os.environ,
        "DECOMPOSE_DATA_DIR": str(config.data_dir),
        "DECOMPOSE_CATALOG_SIZE": str(config.catalog_size),
        "DECOMPOSE_LEAVE_OUT": leave_out,
    }
    server = subprocess.Popen(
        server_command(server_name, workers, port),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}{path}"
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", seconds=60)
        if posts:  # what wrk cannot see: the answer is a cXML 200 (a refusal comes with HTTP 200 too)
            answer = requests.post(url, data=setup_body(), headers={"Content-Type": "text/xml"}, timeout=10)
            if 'code="200"' not in answer.text:
                raise RuntimeError(f"{name}: the simulator did not accept the setup request:\n{answer.text}")
        run_wrk(url, 1, connections, script if posts else None)  # warm up: connections, caches
        before = _cpu_ticks(server.pid)
        result = run_wrk(url, seconds, connections, script if posts else None)
        after = _cpu_ticks(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    requests_served = result["rps"] * seconds
    ticks = os.sysconf("SC_CLK_TCK")
    result["user_ms"] = (after[0] - before[0]) / ticks * 1000 / requests_served
    result["system_ms"] = (after[1] - before[1]) / ticks * 1000 / requests_served
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="run the variants N times in turn; medians")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--catalog-size", type=int, default=5000)
    parser.add_argument("--server", choices=("gunicorn", "granian"), default="gunicorn", help="default: gunicorn")
    args = parser.parse_args()
    if shutil.which("wrk") is None or not Path("/proc/self/stat").exists():
        print("needs wrk (apt-get install wrk) and Linux's /proc")
        return 2
    if args.server == "granian" and importlib.util.find_spec("granian") is None:
        print("--server granian needs Granian: pip install granian (make test installs it)")
        return 2
    from simulator.app import prepare_data_dir

    data = Path(tempfile.mkdtemp(prefix="punchout-decompose-"))
    try:
        config = Config(data_dir=data, catalog_size=args.catalog_size)
        prepare_data_dir(config)
        script = data / "setup.lua"
        script.write_text(LUA_POST % setup_body().decode().replace("decompose-check", "bench-@@N@@"))
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
        for _ in range(max(1, args.rounds)):
            for name in VARIANTS:
                runs[name].append(measure(name, config, args.seconds, args.connections, script, args.server))
    finally:
        shutil.rmtree(data, ignore_errors=True)
    median = {name: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()}
    columns = f"{'req/s':>8}{'p99 ms':>8}{'user ms':>9}{'sys ms':>8}{'CPU ms':>8}"
    print(f"{args.server:<20}{columns}   per request, in the workers")
    total = {name: r["user_ms"] + r["system_ms"] for name, r in median.items()}
    for name, r in median.items():
        rate, p99, user, system = r["rps"], r.get("p99_ms", 0), r["user_ms"], r["system_ms"]
        print(f"{name:<20}{rate:>8.0f}{p99:>8.1f}{user:>9.2f}{system:>8.2f}{total[name]:>8.2f}")
    errors = int(sum(r["non_2xx"] + r["socket_errors"] for rs in runs.values() for r in rs))
    print(f"medians of {max(1, args.rounds)} rounds; errors: {errors}")
    print(f"the journal (two entries):             {total['setup'] - total['setup, no journal']:.2f} ms")
    print(f"the session and its write transaction: {total['setup, no journal'] - total['setup, no writes']:.2f} ms")
    print(f"reading, checking and answering:       {total['setup, no writes'] - total['health']:.2f} ms")
    print(f"two processes sharing the database:    {total['setup'] - total['setup, 1 worker']:.2f} ms")
    print(f"setup / health (req/s):                {median['setup']['rps'] / median['health']['rps']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
