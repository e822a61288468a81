"""Load benchmark: start ``punchout-sim serve --workers 2`` on loopback and drive it with wrk.

Bounded in time (``--seconds``, default 10 per endpoint) and to 127.0.0.1 only. Prints requests per
second and latency percentiles for the health check, PunchOutSetupRequest and a 10-line
OrderRequest (each with a fresh payloadID and orderID, so none is answered from the idempotency
cache), and the ratio of setup to health.

    python -m bench.load [--seconds 10] [--connections 32] [--catalog-size 5000]
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import order_request, setup_request  # noqa: E402

LUA_POST = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/xml"
local template = [==[%s]==]
local n = 0
request = function()
  n = n + 1
  local body = template:gsub("@@N@@", tostring(n) .. "-" .. tostring(math.random(1, 1000000000)))
  return wrk.format(nil, nil, nil, body)
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_wrk(url: str, seconds: int, connections: int, script: Path | None) -> dict[str, float]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s", url]
    if script is not None:
        command[1:1] = ["-s", str(script)]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "90", "99"):
        match = re.search(rf"\s{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)", output)
        if match:
            value, unit = float(match.group(1)), match.group(2)
            result[f"p{pct}_ms"] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result["non_2xx"] = float(errors.group(1)) if errors else 0.0
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    result["socket_errors"] = float(sum(map(int, socket_errors.groups()))) if socket_errors else 0.0
    return result


def worker_rss_mb(master: int) -> list[float]:
    """Resident size of each gunicorn worker (the children of the server process), in MB."""
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return []
    sizes = []
    for child in children:
        try:
            status = Path(f"/proc/{child}/status").read_text()
        except OSError:
            continue
        found = re.search(r"VmRSS:\s+(\d+) kB", status)
        if found:
            sizes.append(int(found.group(1)) / 1024)
    return sorted(sizes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--catalog-size", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk (make bench does it when run as root)")
        return 2
    data = Path(tempfile.mkdtemp(prefix="punchout-bench-"))
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "run.py",
            "--port",
            str(port),
            "--data-dir",
            str(data),
            "--workers",
            str(args.workers),
            "--catalog-size",
            str(args.catalog_size),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if requests.get(f"{base}/__admin/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        # the demo account is in test status: orders are confirmed only (documents held: no endpoint)
        setup = setup_request().decode().replace("1700000000.1@buyer.test", "bench-@@N@@@buyer.test")
        lines = [{"asin": "B0TESTSLOW", "price": "0", "quantity": 1}] * 10
        order = order_request(order_id="PO-@@N@@", payload_id="bench-@@N@@@buyer.test", lines=lines).decode()
        scripts = {}
        for name, body in (("setup", setup), ("order", order)):
            path = data / f"{name}.lua"
            path.write_text(LUA_POST % body)
            scripts[name] = path
        results = {}
        memory = {"start": worker_rss_mb(server.pid)}
        for name, url, script in (
            ("health", f"{base}/__admin/health", None),
            ("setup", f"{base}/punchout", scripts["setup"]),
            ("order", f"{base}/orders", scripts["order"]),
        ):
            results[name] = run_wrk(url, args.seconds, args.connections, script)
            memory[name] = worker_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
    print(f"{'endpoint':<10}{'req/s':>10}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'errors':>9}")
    for name, r in results.items():
        errors = int(r["non_2xx"] + r["socket_errors"])
        print(
            f"{name:<10}{r['rps']:>10.0f}{r.get('p50_ms', 0):>10.1f}{r.get('p90_ms', 0):>10.1f}"
            f"{r.get('p99_ms', 0):>10.1f}{errors:>9}"
        )
    print(f"setup / health = {results['setup']['rps'] / results['health']['rps']:.2f}")
    print("worker RSS, MB: " + "; ".join(f"{k} {', '.join(f'{v:.0f}' for v in vs)}" for k, vs in memory.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
