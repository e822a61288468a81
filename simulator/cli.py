"""``punchout-sim``: the command line.

``punchout-sim serve`` starts the simulator. The other commands talk to a running one (``reset``,
``scenarios``, ``journal tail``, ``buyer roundtrip``) or work on local files (``validate``,
``scenarios validate``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from . import __version__, create_app, prepare_data_dir
from .accounts import DEMO_ACCOUNT
from .config import Config, SupplierIdentity, default_dtd_dir, from_environment
from .db import DataDirError

log = logging.getLogger("simulator")

DEFAULT_URL = "http://127.0.0.1:8080"
URL_ENV = "PUNCHOUT_SIM_URL"
TOKEN_ENV = "PUNCHOUT_SIM_ADMIN_TOKEN"  # noqa: S105 - a variable name, not a secret
Handler = Callable[[argparse.Namespace], int]

DESCRIPTION = """\
PunchOut Simulator: the supplier side of Amazon Business PunchOut (cXML setup, shop, cart, orders).

`punchout-sim` alone is `punchout-sim serve` (its flags go after `serve`). Commands that talk to a
running simulator take --url (default $PUNCHOUT_SIM_URL or http://127.0.0.1:8080) and --admin-token
(default $PUNCHOUT_SIM_ADMIN_TOKEN); `validate` and `scenarios validate` work on local files."""


def _remote(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of every command that talks to a running simulator."""
    parser.add_argument(
        "--url",
        default=os.environ.get(URL_ENV) or DEFAULT_URL,
        help=f"base URL of the running simulator (default ${URL_ENV} or {DEFAULT_URL})",
    )
    parser.add_argument(
        "--admin-token",
        default=os.environ.get(TOKEN_ENV),
        help=f"sent as 'Authorization: Bearer TOKEN' on admin calls (default ${TOKEN_ENV})",
    )
    return parser


def _add(
    commands: Any, name: str, handler: Handler | None, help: str, description: str | None = None
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=help,
        description=description or help[:1].upper() + help[1:] + ".",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if handler is not None:
        parser.set_defaults(handler=handler)
    return parser


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="punchout-sim", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
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
    serve.add_argument(
        "--admin-token", help="require 'Authorization: Bearer TOKEN' on the admin API (all but /__admin/health)"
    )
    serve.add_argument(
        "--insecure-admin",
        action="store_true",
        default=None,
        help="allow a --host beyond loopback without --admin-token (a network that is yours alone)",
    )
    serve.add_argument(
        "--journal-max-rows", type=int, help="keep at most this many journal entries, pruning the oldest (0: no limit)"
    )
    serve.add_argument(
        "--journal-max-days", type=float, help="drop journal entries older than this many days (0: no limit)"
    )
    serve.add_argument(
        "--session-keep-days",
        type=float,
        help="delete shopping sessions and their carts this many days after they expired (default 7; 0: keep all)",
    )
    serve.add_argument(
        "--quote-keep-days",
        type=float,
        help="delete the quotes of returned carts (their SupplierPartAuxiliaryIDs) this many days after the "
        "checkout (default 90; 0: keep all)",
    )
    serve.add_argument(
        "--scenario",
        dest="scenarios",
        action="append",
        metavar="NAME",
        help="activate this scenario of the library from the start (repeatable; PUNCHOUT_SIM_SCENARIOS=a,b)",
    )

    reset = _add(
        commands,
        "reset",
        cmd_reset,
        "reset a running simulator: sessions, orders, outbox, journal, accounts back to the demo account",
        "POST /__admin/reset: empty the runtime state (sessions, carts, orders, the outbox, emails, the\n"
        "journal, users, accounts, faults), scenarios back to the library, the demo account recreated.\n"
        "The catalogue stays. --part resets only the parts named.",
    )
    reset.add_argument(
        "--part",
        dest="parts",
        action="append",
        metavar="PART",
        help="reset only this part (repeatable): journal, orders, sessions, scenarios, faults",
    )
    _remote(reset)

    _scenarios_parser(commands)
    _journal_parser(commands)

    validate = _add(
        commands,
        "validate",
        cmd_validate,
        "lint a cXML document against the DTDs and Amazon's rules (local, no server)",
        "Lint cXML files as the simulator reads them: well-formedness, the DTD named by the DOCTYPE\n"
        "(or the newest), the lenient reader's advisories, and what Amazon would refuse (a setup request\n"
        "without an email or BrowserFormPost URL gets 403 …). A form body (cxml-urlencoded=…) is unwrapped.\n"
        "Exit status: 0 valid, 1 DTD-invalid or not well-formed (or refused, with --amazon), 2 no DTDs.",
    )
    validate.add_argument("files", metavar="FILE", nargs="+", type=Path, help="cXML document(s)")
    validate.add_argument(
        "--dtd-dir", type=Path, help="directory of the cXML DTDs (default $PUNCHOUT_SIM_DTD_DIR or ../shared/cxml/dtd)"
    )
    validate.add_argument(
        "--amazon", action="store_true", help="also exit 1 when Amazon would refuse the document (403, 450 …)"
    )

    _buyer_parser(commands)
    return parser


def _scenarios_parser(commands: Any) -> None:
    scenarios = _add(
        commands,
        "scenarios",
        None,
        "list, show, check and load scenarios (named rule sets that change the simulator's answers)",
    )
    actions = scenarios.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = _add(
        actions, "list", cmd_scenarios_list, "list the scenarios of a running simulator: name, active, state"
    )
    _remote(listing)
    show = _add(
        actions,
        "show",
        cmd_scenarios_show,
        "show one scenario: a local file's text, or the simulator's scenario of that name",
    )
    show.add_argument("name", metavar="NAME_OR_FILE")
    _remote(show)
    check = _add(
        actions,
        "validate",
        cmd_scenarios_validate,
        "check scenario files against the scenario schema (local, no server)",
        "Check scenario files (YAML or JSON) against the scenario schema. Prints `OK FILE` or each\n"
        "problem as `FILE: $.path: message`; exit status 1 when any file is invalid.",
    )
    check.add_argument("files", metavar="FILE", nargs="+", type=Path)
    apply = _add(
        actions,
        "apply",
        cmd_scenarios_apply,
        "load a scenario file into a running simulator, and activate it",
        "Check FILE locally, POST it to /__admin/scenarios (Content-Type: application/yaml) and, with\n"
        "--activate (or --account), POST /__admin/scenarios/<name>/activate.",
    )
    apply.add_argument("file", metavar="FILE", type=Path)
    apply.add_argument("--activate", action="store_true", help="activate the scenario after loading it")
    apply.add_argument("--account", metavar="ID", help="activate it for this account only (implies --activate)")
    _remote(apply)


def _journal_parser(commands: Any) -> None:
    journal = _add(commands, "journal", None, "read the journal of every document in and out")
    actions = journal.add_subparsers(dest="action", metavar="ACTION", required=True)
    tail = _add(
        actions,
        "tail",
        cmd_journal_tail,
        "print the newest journal entries, oldest first; --follow keeps printing new ones",
        "Print the newest journal entries one per line, oldest first: id, time, direction, document type,\n"
        "endpoint, HTTP and cXML status, first advisory. --follow polls every second until Ctrl-C.",
    )
    tail.add_argument("--follow", "-f", action="store_true", help="keep printing new entries until Ctrl-C")
    tail.add_argument("--type", dest="doc_type", metavar="T", help="only this document type (OrderRequest …)")
    tail.add_argument("--limit", "-n", type=int, default=20, metavar="N", help="entries to print first (20)")
    tail.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
    _remote(tail)


def _buyer_parser(commands: Any) -> None:
    buyer = _add(commands, "buyer", None, "a scripted buyer, for smoke tests and demos without a procurement system")
    actions = buyer.add_subparsers(dest="action", metavar="ACTION", required=True)
    roundtrip = _add(
        actions,
        "roundtrip",
        cmd_buyer_roundtrip,
        "punch out, fill the cart, receive the cart message, order it, and print what comes back",
        "Play the procurement system against a running simulator: start a receiver on 127.0.0.1 (a free\n"
        "port), send a PunchOutSetupRequest, fill the cart through the admin API, check out (the cart comes\n"
        "to the receiver as a PunchOutOrderMessage), post an OrderRequest for its lines to /orders and, with\n"
        "--wait, point the account's buyer endpoint at the receiver, flush the outbox and print each\n"
        "ConfirmationRequest / ShipNoticeRequest / InvoiceDetailRequest that comes back (the buyer endpoint\n"
        "is restored afterwards). Each step is printed with ✔ or ✘; exit status 1 when one fails.",
    )
    _remote(roundtrip)
    roundtrip.add_argument("--identity", default="DEMO-BUYER", help="Sender credential identity (DEMO-BUYER)")
    roundtrip.add_argument("--secret", default="demo-secret", help="Sender SharedSecret (demo-secret)")
    roundtrip.add_argument("--domain", default="NetworkId", help="Sender credential domain (NetworkId)")
    roundtrip.add_argument("--email", default="buyer@example.com", help="the shopper's email (UserEmail)")
    roundtrip.add_argument(
        "--asin",
        dest="asins",
        action="append",
        metavar="ASIN",
        help="an ASIN to put in the cart (repeatable; B0TESTSLOW)",
    )
    roundtrip.add_argument("--quantity", type=int, default=1, help="quantity of each ASIN (1)")
    roundtrip.add_argument("--order-id", help="the PO number (default PO-<date>-<time>-<random>)")
    roundtrip.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="receive the documents that follow the order for up to SECONDS (0: do not wait)",
    )


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
        "admin_token",
        "insecure_admin",
        "journal_max_rows",
        "journal_max_days",
        "session_keep_days",
        "quote_keep_days",
    ):
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    if getattr(args, "scenarios", None):
        values["scenarios"] = tuple(args.scenarios)
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


# --- catalogue progress -----------------------------------------------------------------------


class CatalogProgress:
    """``build_catalog``'s ``progress(done, total)``: how the catalogue build is getting on.

    On a terminal, one line redrawn in place (bar, percent, count, rate); elsewhere (a log file,
    CI) a log line at each 10 %. Builds smaller than ``minimum`` products are not reported.
    """

    BAR = 24

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        tty: bool | None = None,
        minimum: int = 10_000,
        logger: logging.Logger = log,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.minimum = minimum
        self.log = logger
        self.clock = clock
        self.started = clock()
        self.decile = 0
        self.drawn = 0.0
        self.finished = False

    def __call__(self, done: int, total: int) -> None:
        if total < self.minimum or self.finished or total <= 0:
            return
        now = self.clock()
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        percent = min(100, done * 100 // total)
        last = done >= total
        if self.tty:
            if not last and now - self.drawn < 0.1:
                return
            self.drawn = now
            filled = self.BAR * percent // 100
            bar = "█" * filled + "░" * (self.BAR - filled)
            end = f" in {elapsed:.1f} s\n" if last else ""
            self.stream.write(
                f"\rBuilding the catalogue [{bar}] {percent:3d} %  {done:,}/{total:,} products  {rate:,.0f}/s{end}"
            )
            self.stream.flush()
        elif percent // 10 > self.decile or last:
            self.decile = percent // 10
            self.log.info("catalogue: %d %% (%s/%s products, %s/s)", percent, f"{done:,}", f"{total:,}", f"{rate:,.0f}")
        self.finished = last


def serve(config: Config) -> None:
    config.check_exposure()
    prepare_data_dir(config, progress=CatalogProgress())
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
                # The path without its query string: an OCI login by GET carries PASSWORD there.
                "access_log_format": '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms',
                "errorlog": "-",
                "loglevel": "info",
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return create_app(config, prepare=False)

    Server().run()


# --- commands that talk to a running simulator ------------------------------------------------


def _client(args: argparse.Namespace) -> Any:
    from .buyer import AdminClient

    return AdminClient(args.url, token=args.admin_token)


def cmd_reset(args: argparse.Namespace) -> int:
    with _client(args) as api:
        result = api.request("POST", "/reset", {"parts": args.parts} if args.parts else None)
    status = result.get("status", result) if isinstance(result, dict) else result
    parts = f" ({', '.join(args.parts)})" if args.parts else ""
    print(f"{args.url.rstrip('/')}: {status}{parts}")
    return 0


def cmd_scenarios_list(args: argparse.Namespace) -> int:
    with _client(args) as api:
        found = api.request("GET", "/scenarios")
    items = found.get("items", []) if isinstance(found, dict) else found
    if not items:
        print("no scenarios")
        return 0
    width = max(len("NAME"), *(len(str(i.get("name", ""))) for i in items))
    state_width = max(len("STATE"), *(len(str(i.get("state", ""))) for i in items))
    print(f"{'NAME':<{width}}  ACTIVE  {'STATE':<{state_width}}  DESCRIPTION")
    for item in items:
        active = "yes" if item.get("active") else "no"
        account = item.get("account_id")
        if item.get("active") and account:
            active = f"yes ({account})"
        print(
            f"{item.get('name', ''):<{width}}  {active:<6}  {item.get('state', ''):<{state_width}}  "
            f"{_one_line(str(item.get('description', '')))}"
        )
    return 0


def _one_line(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cmd_scenarios_show(args: argparse.Namespace) -> int:
    path = Path(args.name)
    if path.is_file():
        sys.stdout.write(path.read_text(encoding="utf-8"))
        return 0
    import yaml

    with _client(args) as api:
        scenario = api.request("GET", f"/scenarios/{quote(args.name, safe='')}")
    if not isinstance(scenario, dict):
        print(json.dumps(scenario, indent=2))
        return 0
    definition = scenario.get("definition")
    status = {k: v for k, v in scenario.items() if k != "definition"}
    for key in ("name", "source", "active", "account_id", "state", "priority", "fired", "activated_at"):
        if key in status:
            print(f"# {key}: {json.dumps(status[key]) if not isinstance(status[key], str) else status[key]}")
    shown = _in_schema_order(definition) if definition is not None else status
    print(yaml.safe_dump(shown, sort_keys=False, allow_unicode=True), end="")
    return 0


SCENARIO_KEYS = ("name", "description", "buyer_should", "priority", "rules")
RULE_KEYS = ("name", "match", "requiredState", "newState", "times", "outcome", "fault", "timeline")


def _in_schema_order(definition: Any) -> Any:
    """The scenario with its keys in the order a scenario file is written (the API sorts them)."""

    def ordered(data: Any, keys: Sequence[str]) -> Any:
        if not isinstance(data, dict):
            return data
        return {**{k: data[k] for k in keys if k in data}, **{k: v for k, v in data.items() if k not in keys}}

    result = ordered(definition, SCENARIO_KEYS)
    if isinstance(result, dict) and isinstance(result.get("rules"), list):
        result["rules"] = [ordered(rule, RULE_KEYS) for rule in result["rules"]]
    return result


def cmd_scenarios_validate(args: argparse.Namespace) -> int:
    from .scenarios.schema import load_file

    bad = 0
    for path in args.files:
        _, problems = load_file(path)
        if not problems:
            print(f"OK {path}")
            continue
        bad += 1
        for problem in problems:
            print(problem if problem.startswith(f"{path}: ") else f"{path}: {problem}")
    return 1 if bad else 0


def cmd_scenarios_apply(args: argparse.Namespace) -> int:
    from .scenarios.schema import load_file

    data, problems = load_file(args.file)
    if problems:
        for problem in problems:
            print(problem if problem.startswith(f"{args.file}: ") else f"{args.file}: {problem}", file=sys.stderr)
        return 1
    name = data["name"]
    with _client(args) as api:
        api.request(
            "POST",
            "/scenarios",
            data=args.file.read_bytes(),
            headers={"Content-Type": "application/yaml"},
        )
        print(f"loaded scenario {name} from {args.file}")
        if args.activate or args.account:
            body = {"account_id": args.account} if args.account else {}
            result = api.request("POST", f"/scenarios/{quote(name, safe='')}/activate", body)
            state = result.get("state", "") if isinstance(result, dict) else ""
            scope = f" for account {args.account}" if args.account else ""
            print(f"activated scenario {name}{scope}" + (f" (state {state})" if state else ""))
    return 0


def journal_line(entry: dict[str, Any]) -> str:
    """One journal entry on one line: id, time, direction, type, endpoint, statuses, first advisory."""
    when = str(entry.get("created_at") or "")[:19].replace("T", " ")
    statuses = []
    if entry.get("http_status") is not None:
        statuses.append(f"http {entry['http_status']}")
    if entry.get("cxml_status") is not None:
        statuses.append(f"cxml {entry['cxml_status']}")
    advisories = entry.get("advisories") or []
    first = advisories[0] if advisories else ""
    if len(advisories) > 1:
        first += f" (+{len(advisories) - 1} more)"
    parts = [
        f"#{entry.get('id', '?'):<5}",
        when,
        f"{entry.get('direction', ''):<3}",
        f"{entry.get('doc_type', ''):<22}",
        f"{entry.get('endpoint', '')}",
        " ".join(statuses) or "-",
    ]
    line = "  ".join(parts)
    return f"{line}  {_one_line(first, 160)}" if first else line


def cmd_journal_tail(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= 500:
        print("punchout-sim: --limit must be 1 to 500", file=sys.stderr)
        return 2
    with _client(args) as api:

        def fetch(limit: int) -> list[dict[str, Any]]:
            found = api.request("GET", "/journal", params={"limit": limit, "type": args.doc_type})
            items: list[dict[str, Any]] = found.get("items", [])
            return items

        last = 0
        try:
            for entry in reversed(fetch(args.limit)):
                print(journal_line(entry), flush=True)
                last = max(last, int(entry["id"]))
            while args.follow:
                time.sleep(args.interval)
                newest = fetch(500)
                if newest and int(newest[0]["id"]) < last:
                    print("(the journal was reset)", flush=True)
                    last = 0
                for entry in reversed(newest):
                    if int(entry["id"]) > last:
                        print(journal_line(entry), flush=True)
                        last = int(entry["id"])
        except KeyboardInterrupt:
            return 0
    return 0


def cmd_buyer_roundtrip(args: argparse.Namespace) -> int:
    from .buyer import DEFAULT_ASINS, RoundTripOptions, roundtrip

    options = RoundTripOptions(
        url=args.url,
        identity=args.identity,
        secret=args.secret,
        domain=args.domain,
        email=args.email,
        asins=tuple(args.asins or DEFAULT_ASINS),
        quantity=args.quantity,
        wait=args.wait,
        admin_token=args.admin_token,
        order_id=args.order_id,
    )
    result = roundtrip(options, out=lambda line: print(line, flush=True))
    return 0 if result.ok else 1


# --- validate: local lint of a cXML document --------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    from .cxml.validate import DtdRegistry

    dtd_dir = args.dtd_dir or from_environment().get("dtd_dir") or default_dtd_dir()
    registry = DtdRegistry(dtd_dir)
    if not registry.available:
        where = dtd_dir or "../shared/cxml/dtd"
        print(f"punchout-sim: no cXML DTDs in {where}: pass --dtd-dir DIR (laid out as <version>/cXML.dtd)")
        return 2
    worst = 0
    for path in args.files:
        worst = max(worst, _validate_file(path, registry, amazon=args.amazon))
    return worst


def _validate_file(path: Path, registry: Any, *, amazon: bool) -> int:
    from .cxml.parse import parse_document, unwrap_body
    from .cxml.read import request_type
    from .errors import CxmlError

    try:
        raw = path.read_bytes()
    except OSError as exc:
        print(f"{path}: cannot read: {exc.strerror or exc}")
        return 1
    advisories: list[str] = []
    try:
        unwrapped = unwrap_body(raw, None, max_bytes=max(len(raw), 1))
        if unwrapped.transport != "raw":
            advisories.append(f"cXML read from the form field {unwrapped.transport}.")
        document = parse_document(unwrapped.xml, max_bytes=max(len(unwrapped.xml), 1))
    except CxmlError as exc:
        print(f"{path}: ✘ {exc.message.replace('The request is not', 'not', 1)}")
        return 1
    root = document.root
    kind = request_type(root) or _response_type(root)
    version = f"cXML {document.declared_version}" if document.declared_version else "no version"
    doctype = f"DOCTYPE {document.doctype_url}" if document.doctype_url else "no DOCTYPE"
    print(f"{path}: {kind or 'no Request or Message'} ({version}, {doctype})")
    if root.tag != "cXML":
        advisories.append(f"Root element <{root.tag}> read as <cXML> (element names are case-sensitive).")
    if document.doctype_url is None:
        advisories.append("The document has no DOCTYPE; validated against the newest DTD.")
    result = registry.validate(root, dtd_name=document.dtd_name, version=document.declared_version, request_type=kind)
    advisories.extend(result.notes)
    if result.dtd_file is None:
        print(f"  DTD: skipped: {result.skipped_reason}")
    elif result.findings:
        print(f"  DTD {result.dtd_file}: ✘ not valid, {len(result.findings)} finding(s):")
        for finding in result.findings:
            print(f"    line {finding.line}: {finding.message}")
    else:
        print(f"  DTD {result.dtd_file}: ✔ valid")
    refusals, more = _amazon_view(root, kind)
    advisories.extend(more)
    for advisory in advisories:
        print(f"  advisory: {advisory}")
    for refusal in refusals:
        print(f"  Amazon: ✘ {refusal}")
    if not refusals and kind in ("PunchOutSetupRequest", "OrderRequest", "ProfileRequest"):
        print("  Amazon: ✔ would accept it")
    invalid = result.dtd_file is None or bool(result.findings)
    return 1 if invalid or (amazon and refusals) else 0


def _response_type(root: Any) -> str | None:
    """``PunchOutSetupResponse`` … for a Response document (``Status`` when it holds only that)."""
    response = root.find("Response")
    if response is None:
        return None
    children = [c.tag for c in response if isinstance(c.tag, str)]
    return next((tag for tag in children if tag != "Status"), "Status")


SENT_BY_SUPPLIER = (
    "PunchOutOrderMessage",
    "ConfirmationRequest",
    "ShipNoticeRequest",
    "InvoiceDetailRequest",
    "StatusUpdateRequest",
    "ProfileResponse",
)


def _amazon_view(root: Any, kind: str | None) -> tuple[list[str], list[str]]:
    """(what Amazon would refuse, the reader's advisories) for a buyer's request."""
    from .cxml.read import (
        BROWSER_FORM_POST_PATH,
        EMAIL_PATHS,
        read_header,
        read_order_request,
        read_punchout_setup_request,
    )

    refusals: list[str] = []
    advisories: list[str] = []
    if kind is None:
        return ["406 Not Acceptable: the document has no Request or Message: nothing to do"], advisories
    if kind in SENT_BY_SUPPLIER or kind.endswith("Response") or kind == "Status":
        return [], [f"{kind} is not a request Amazon receives: checked against the DTD only."]
    if kind not in ("PunchOutSetupRequest", "OrderRequest", "ProfileRequest"):
        return [f"450 Not Implemented: {kind} is not served (Amazon takes PunchOutSetupRequest and OrderRequest)"], []
    header = read_header(root)
    if not header.user_agent:
        advisories.append("Sender has no UserAgent (required by the DTD).")
    if not any(c.shared_secret is not None for c in header.sender):
        refusals.append("401 Unauthorized: Sender/Credential/SharedSecret is missing")
    if kind == "PunchOutSetupRequest":
        from .punchout.service import usable_url

        setup = read_punchout_setup_request(root)
        advisories.extend(setup.advisories)
        url = setup.browser_form_post_url
        if setup.operation not in ("create", "edit", "inspect"):
            refusals.append(
                f'450 Not Implemented: operation="{setup.operation}" (Amazon serves create, edit and inspect)'
            )
        if url is None or not url.strip():
            refusals.append(f"403 Forbidden: Missing mandatory data: {BROWSER_FORM_POST_PATH}")
        elif not usable_url(url):
            refusals.append(f"403 Forbidden: {BROWSER_FORM_POST_PATH} must be an absolute http or https URL")
        found = setup.email()
        if found is None:
            refusals.append(
                "403 Forbidden: Missing mandatory data: the user's email, looked for at " + ", ".join(EMAIL_PATHS)
            )
        else:
            advisories.append(f"email {found[0]} found at {found[1]}")
    elif kind == "OrderRequest":
        from .orders import codes
        from .orders.service import ship_to_problem

        order = read_order_request(root)
        advisories.extend(order.advisories)
        later = "(answered 200, then a ConfirmationRequest type=reject)"
        if order.type in ("update", "delete"):
            refusals.append(f"{codes.ORDER_CHANGE_NOT_SUPPORTED.code} {codes.ORDER_CHANGE_NOT_SUPPORTED.text} {later}")
        problem = ship_to_problem(order)
        if problem:
            refusals.append(f"{codes.INVALID_SHIP_TO.code} {codes.INVALID_SHIP_TO.text}: {problem} {later}")
        if not order.lines:
            refusals.append(f"{codes.NO_ITEMS.code} {codes.NO_ITEMS.text} {later}")
    return refusals, advisories


# --- entry point ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command in (None, "serve"):
        if args.command is None:
            args = parser.parse_args(["serve", *(argv or [])])
        config = config_from(args)
        try:
            config.check_exposure()
            config.check_retention()
        except ValueError as exc:
            print(f"punchout-sim: {exc}", file=sys.stderr)
            return 2
        try:
            serve(config)
        except DataDirError as exc:  # a read-only or missing data dir, an unwritable database
            print(f"punchout-sim: {exc.message}", file=sys.stderr)
            return 2
        return 0
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    from .buyer import AdminAPIError, SimulatorUnreachable

    try:
        return handler(args)
    except SimulatorUnreachable as exc:
        print(f"punchout-sim: {exc} (is `punchout-sim serve` running there? pass --url)", file=sys.stderr)
    except AdminAPIError as exc:
        print(f"punchout-sim: {exc}", file=sys.stderr)
    return 1
