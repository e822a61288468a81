"""``punchout-sim``: the command line. ``punchout-sim serve`` starts the simulator."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import __version__, create_app, prepare_data_dir
from .accounts import DEMO_ACCOUNT
from .config import Config, SupplierIdentity, default_dtd_dir, from_environment

log = logging.getLogger("simulator")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="punchout-sim", description="PunchOut Simulator: Amazon Business PunchOut.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser(
        "serve", help="start the simulator", description="Each flag can also be set as PUNCHOUT_SIM_<NAME>."
    )
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8080)")
    serve.add_argument("--data-dir", type=Path, help="where the SQLite database lives (default ./var)")
    serve.add_argument("--catalog-size", type=int, help="generated products, besides the test products (default 5000)")
    serve.add_argument("--seed", type=int, help="seed of the generated catalogue (default 1)")
    serve.add_argument("--public-url", help="base of the absolute URLs handed out (StartPage …), for proxies")
    serve.add_argument("--dtd-dir", type=Path, help="directory of the cXML DTDs (default ../shared/cxml/dtd)")
    serve.add_argument("--workers", type=int, help="gunicorn worker processes (default 1)")
    serve.add_argument("--session-ttl", type=int, help="seconds a StartPage link and an idle session live (900)")
    serve.add_argument("--max-body-bytes", type=int, help="largest request body accepted (default 5 MB)")
    serve.add_argument("--smtp-url", help="also send the punchout users' emails to this SMTP server (smtp://host:port)")
    serve.add_argument("--supplier-duns", help="DUNS in From/Sender of documents sent (default Amazon's 128990368)")
    serve.add_argument("--supplier-network-id", help="NetworkId in From/Sender (default Amazon)")
    serve.add_argument(
        "--dev", action="store_true", default=None, help="Flask's development server instead of gunicorn"
    )
    return parser


def config_from(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Config:
    values = from_environment(environ)
    for name in (
        "host",
        "port",
        "data_dir",
        "catalog_size",
        "seed",
        "public_url",
        "dtd_dir",
        "workers",
        "session_ttl",
        "max_body_bytes",
        "smtp_url",
        "dev",
    ):
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    supplier = values.pop("supplier", SupplierIdentity())
    if args.supplier_duns or args.supplier_network_id:
        supplier = replace(
            supplier,
            duns=args.supplier_duns or supplier.duns,
            network_id=args.supplier_network_id or supplier.network_id,
        )
    config = Config(**values, supplier=supplier)
    if config.dtd_dir is None:
        config = config.with_overrides(dtd_dir=default_dtd_dir())
    return config


def banner(config: Config) -> str:
    base = config.base_url
    creds = DEMO_ACCOUNT["credentials"]
    assert isinstance(creds, dict)
    dtd = str(config.dtd_dir) if config.dtd_dir else "none (DTD validation skipped; set --dtd-dir)"
    return "\n".join(
        [
            f"PunchOut Simulator {__version__} on {base}  (data: {config.data_dir.resolve()})",
            "",
            "cXML endpoints:",
            f"  PunchOutSetupRequest   POST {base}/punchout",
            f"  … in test mode         POST {base}/punchout/test",
            f"  any cXML request       POST {base}/cxml   (ProfileRequest lists the URLs)",
            "Shop (opened through the StartPage link of a setup response):",
            f"  {base}/shop",
            "Admin API:",
            f"  {base}/__admin/health   {base}/__admin/accounts   {base}/__admin/journal",
            f"  {base}/__admin/sessions   {base}/__admin/catalog/search?q=paper   POST {base}/__admin/reset",
            "",
            "Demo account (status test):",
            f"  Sender credential domain={creds['domain']} identity={creds['identity']} "
            f"SharedSecret={creds['shared_secret']}",
            f"DTD directory: {dtd}",
            "",
        ]
    )


def serve(config: Config) -> None:
    prepare_data_dir(config)
    print(banner(config), flush=True)
    if config.dev or sys.platform == "win32":
        app = create_app(config, prepare=False)
        app.run(host=config.host, port=config.port, threaded=True)
        return
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options: dict[str, Any] = {
                "bind": f"{config.host}:{config.port}",
                "workers": max(1, config.workers),
                "worker_class": "sync",
                "timeout": 120,
                "accesslog": "-" if os.environ.get("PUNCHOUT_SIM_ACCESS_LOG") else None,
                "errorlog": "-",
                "loglevel": "info",
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return create_app(config, prepare=False)

    Server().run()


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command in (None, "serve"):
        if args.command is None:
            args = parser.parse_args(["serve", *(argv or [])])
        serve(config_from(args))
        return 0
    parser.print_help()
    return 2
