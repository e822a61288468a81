"""The simulator inside a test suite: the :class:`Simulator` context manager and a pytest plugin.

Without pytest::

    from simulator.testing import Simulator

    with Simulator() as sim:                      # a real server on a free loopback port
        punchout = sim.punchout(email="alice@example.com")
        punchout.add("B0TESTSLOW", 2)
        cart = punchout.checkout()                # the PunchOutOrderMessage, read
        assert sim.order(cart).ok

With pytest the package registers this module as a plugin (entry point ``punchout_sim``); its
fixtures are used by name only, nothing starts unless a test asks for it:

* ``punchout_sim``: one :class:`Simulator` for the whole session (300 products; change it with
  ``--punchout-sim-catalog-size``, ``--punchout-sim-seed``, ``--punchout-sim-dtd-dir``);
* ``punchout_sim_reset``: the same simulator, reset before the test (``POST /__admin/reset``). To
  reset before every test of a module: ``pytestmark = pytest.mark.usefixtures("punchout_sim_reset")``.

``-p no:punchout_sim`` turns the plugin off.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    import pytest

    _PYTEST = True
except ImportError:  # pragma: no cover - pytest is only a test dependency: Simulator works without it
    _PYTEST = False

if TYPE_CHECKING:
    from flask import Flask
    from werkzeug.serving import BaseWSGIServer

    from .buyer import AdminClient, Cart, CartLine, CxmlAnswer
    from .config import Config

DEFAULT_CATALOG_SIZE = 300
DEMO_CREDENTIALS = {"domain": "NetworkId", "identity": "DEMO-BUYER", "secret": "demo-secret"}
DEFAULT_RETURN_URL = "http://buyer.invalid/punchout/return"


class Simulator:
    """A real simulator on a free loopback port, in a background thread, with its own data dir.

    ``catalog_size`` and ``seed`` choose the generated catalogue (the test products are always
    there); ``dtd_dir`` defaults to ``../shared/cxml/dtd`` when it is there (else no DTD
    validation); ``data_dir`` keeps the database somewhere you choose (it is then not deleted);
    any other keyword is a :class:`simulator.config.Config` field (``outbox_interval``,
    ``session_ttl``, ``public_url`` …). Use it as a context manager, or call :meth:`start` and
    :meth:`stop`.
    """

    def __init__(
        self,
        *,
        catalog_size: int = DEFAULT_CATALOG_SIZE,
        seed: int = 1,
        dtd_dir: Path | str | None = None,
        data_dir: Path | str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        quiet: bool = True,
        **overrides: Any,
    ) -> None:
        from .config import Config

        known = {f.name for f in fields(Config)} - {"data_dir", "catalog_size", "seed", "dtd_dir", "host", "port"}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TypeError(
                f"Simulator() got unknown option(s) {', '.join(unknown)}; besides catalog_size, seed, dtd_dir, "
                f"data_dir, host, port and quiet it takes the Config fields {', '.join(sorted(known))}."
            )
        self.catalog_size = catalog_size
        self.seed = seed
        self.dtd_dir = Path(dtd_dir) if dtd_dir is not None else None
        self.data_dir: Path | None = Path(data_dir) if data_dir is not None else None
        self.host = host
        self.quiet = quiet
        self.overrides = overrides
        self._port = port
        self._owns_data_dir = data_dir is None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._app: Flask | None = None
        self._api: AdminClient | None = None
        self.config: Config | None = None

    # --- life cycle ---------------------------------------------------------------------------

    def start(self) -> Simulator:
        """Build the data dir (catalogue, demo account), bind the port, serve. Returns self."""
        if self._server is not None:
            return self
        from werkzeug.serving import WSGIRequestHandler, make_server

        from . import create_app
        from .buyer import AdminClient
        from .config import default_dtd_dir

        class QuietHandler(WSGIRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                pass

        server = make_server(
            self.host, self._port, self._wsgi, threaded=True, request_handler=QuietHandler if self.quiet else None
        )
        try:
            from .config import Config

            if self._owns_data_dir:
                self.data_dir = Path(tempfile.mkdtemp(prefix="punchout-sim-"))
            assert self.data_dir is not None
            self.config = Config(
                data_dir=self.data_dir,
                catalog_size=self.catalog_size,
                seed=self.seed,
                dtd_dir=self.dtd_dir or default_dtd_dir(),
                host=self.host,
                port=server.server_port,
                **self.overrides,
            )
            self._app = create_app(self.config)
        except BaseException:
            server.server_close()
            self._remove_data_dir()
            raise
        self._server = server
        self._api = AdminClient(self.url, token=self.config.admin_token)
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=f"punchout-sim-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        assert self._app is not None
        return self._app(environ, start_response)

    def stop(self) -> None:
        """Stop serving, stop the outbox dispatcher, close the port and delete the temporary data dir."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._app is not None:
            for name in ("outbox_dispatcher", "wal_checkpointer"):
                if (worker := self._app.extensions.get(name)) is not None:
                    worker.stop()
        if self._api is not None:
            self._api.close()
            self._api = None
        self._remove_data_dir()

    def _remove_data_dir(self) -> None:
        if self._owns_data_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not running: call start() or use it in a with block")
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: the base of every endpoint."""
        return f"http://{self.host}:{self.port}"

    @property
    def app(self) -> Flask:
        if self._app is None:
            raise RuntimeError("the simulator is not running")
        return self._app

    @property
    def api(self) -> AdminClient:
        if self._api is None:
            raise RuntimeError("the simulator is not running: call start() or use it in a with block")
        return self._api

    # --- the admin API ------------------------------------------------------------------------

    def admin(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Call ``/__admin<path>``; the parsed JSON. Raises ``simulator.buyer.AdminAPIError`` on 4xx/5xx."""
        return self.api.request(
            method, path, json, params=dict(params) if params else None, data=data, headers=dict(headers or {})
        )

    def reset(self, *parts: str) -> None:
        """Everything back to the start: sessions, orders, outbox, journal, faults, scenarios (the
        library's, inactive), users and accounts (the demo account); or only the ``parts`` named
        (``"journal"``, ``"orders"``, ``"sessions"``, ``"scenarios"``, ``"faults"``)."""
        self.admin("POST", "/reset", {"parts": list(parts)} if parts else None)

    def apply_scenario(
        self, scenario: str | Path | Mapping[str, Any], *, account_id: str | None = None, activate: bool = True
    ) -> dict[str, Any]:
        """Load a scenario and activate it (for ``account_id`` only, when given); returns the scenario.

        ``scenario`` is a dict, a YAML/JSON text (anything with a newline), a path to a YAML/JSON
        file, or the name of a scenario the simulator already has (its library), which is only
        activated.
        """
        from .scenarios.schema import parse_text

        result: dict[str, Any]
        if isinstance(scenario, Mapping):
            name = str(scenario["name"])
            result = self.admin("POST", "/scenarios", dict(scenario))
        else:
            text: str | None = None
            if isinstance(scenario, Path) or (isinstance(scenario, str) and "\n" not in scenario):
                path = Path(scenario)
                if path.is_file():
                    text = path.read_text(encoding="utf-8")
                elif isinstance(scenario, Path) or path.suffix.lower() in (".yaml", ".yml", ".json"):
                    raise FileNotFoundError(f"no scenario file at {path}")
            else:
                text = scenario
            if text is None:
                name = str(scenario)
                result = self.admin("GET", f"/scenarios/{name}")
            else:
                data = parse_text(text)
                if not isinstance(data, Mapping) or "name" not in data:
                    raise ValueError("the scenario has no name")
                name = str(data["name"])
                result = self.admin(
                    "POST", "/scenarios", data=text.encode("utf-8"), headers={"Content-Type": "application/yaml"}
                )
        if activate:
            body = {"account_id": account_id} if account_id else {}
            result = self.admin("POST", f"/scenarios/{name}/activate", body)
        return result

    def deactivate_scenario(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.admin("POST", f"/scenarios/{name}/deactivate")
        return result

    def journal(self, **filters: Any) -> list[dict[str, Any]]:
        """Journal entries, newest first, as ``GET /__admin/journal`` (filters: ``type`` or
        ``doc_type``, ``direction``, ``account_id``, ``session_id``, ``limit`` (500))."""
        params = {"limit": 500, **filters}
        if "doc_type" in params:
            params["type"] = params.pop("doc_type")
        items: list[dict[str, Any]] = self.admin("GET", "/journal", params=params)["items"]
        return items

    def outbox(self, **filters: Any) -> list[dict[str, Any]]:
        """Outbox items (the documents for the buyer), as ``GET /__admin/outbox`` (``type``, ``status``,
        ``order_id`` (the simulator's order id), ``account_id``, ``limit`` (500))."""
        params = {"limit": 500, **filters}
        if "doc_type" in params:
            params["type"] = params.pop("doc_type")
        items: list[dict[str, Any]] = self.admin("GET", "/outbox", params=params)["items"]
        return items

    def flush_outbox(self) -> dict[str, Any]:
        """Send every pending document now, whatever the account's timeline says."""
        result: dict[str, Any] = self.admin("POST", "/outbox/flush")
        return result

    def set_buyer_endpoint(self, url: str | None, account_id: str = "demo") -> dict[str, Any]:
        """Where the account's ConfirmationRequest, ShipNoticeRequest … go (None: nowhere, held)."""
        result: dict[str, Any] = self.admin(
            "PATCH", f"/accounts/{account_id}", {"buyer_endpoint": {"url": url} if url else None}
        )
        return result

    def _order_pks(self, order_id: str) -> set[str]:
        if order_id.startswith("ord_"):
            return {order_id}
        found = self.admin("GET", "/orders", params={"po": order_id, "limit": 500})
        return {str(o["id"]) for o in found["items"]}

    def wait_for_document(
        self,
        doc_type: str,
        order_id: str | None = None,
        timeout: float = 10.0,
        *,
        advance: bool = True,
        interval: float = 0.05,
    ) -> dict[str, Any]:
        """The first ``doc_type`` document (of the order ``order_id``: its PO number or the
        simulator's ``ord_…`` id) that was delivered to the buyer: the outbox item with its body.

        ``advance`` (default) sends pending documents at once (``POST /__admin/outbox/flush``)
        instead of waiting for the account's timeline (a confirmation comes two minutes after the
        order in ``realistic`` mode). Raises ``TimeoutError`` saying what the outbox held.
        """
        deadline = time.monotonic() + timeout
        where = f" for order {order_id}" if order_id else ""
        while True:
            pks = self._order_pks(order_id) if order_id else None
            items = self.outbox(type=doc_type)
            mine = [i for i in items if pks is None or i["order_id"] in pks]
            delivered = sorted((i for i in mine if i["status"] == "delivered"), key=lambda i: int(i["id"]))
            if delivered:
                item: dict[str, Any] = self.admin("GET", f"/outbox/{delivered[0]['id']}")
                return item
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"no {doc_type}{where} was delivered within {timeout:g} s; " + _outbox_report(mine, pks, order_id)
                )
            if advance and any(i["status"] == "pending" for i in mine):
                self.flush_outbox()
            time.sleep(interval)

    # --- a buyer's requests -------------------------------------------------------------------

    def post_cxml(self, path: str, xml: bytes) -> CxmlAnswer:
        """POST a cXML document to ``path`` (``/punchout``, ``/orders``, ``/cxml`` …); the answer read."""
        return self.api.post_cxml(path, xml)

    def punchout(
        self,
        *,
        email: str = "buyer@example.com",
        return_url: str = DEFAULT_RETURN_URL,
        buyer_cookie: str | None = None,
        operation: str = "create",
        credentials: Mapping[str, str] | None = None,
        path: str = "/punchout",
    ) -> PunchOut:
        """Send a PunchOutSetupRequest (the demo account's credentials unless ``credentials`` has
        ``domain``, ``identity``, ``secret``); raises ``AssertionError`` when it is refused."""
        import secrets

        from .buyer import setup_request_xml

        creds = _credentials(credentials)
        cookie = buyer_cookie or "cookie-" + secrets.token_hex(6)
        answer = self.post_cxml(
            path,
            setup_request_xml(
                identity=creds["identity"],
                secret=creds["secret"],
                domain=creds["domain"],
                return_url=return_url,
                buyer_cookie=cookie,
                email=email,
                operation=operation,
            ),
        )
        if not answer.ok:
            raise AssertionError(f"PunchOutSetupRequest refused: {answer.summary()}")
        sessions = self.admin("GET", "/sessions", params={"buyer_cookie": cookie})["items"]
        return PunchOut(self, answer, answer.start_page() or "", cookie, str(sessions[0]["id"]) if sessions else "")

    def order(
        self,
        lines: Cart | Iterable[CartLine] | Iterable[Mapping[str, Any]],
        *,
        order_id: str | None = None,
        email: str | None = "buyer@example.com",
        credentials: Mapping[str, str] | None = None,
        path: str = "/orders",
    ) -> OrderAnswer:
        """Post an OrderRequest for a checked-out cart, cart lines, or dicts with ``asin``, ``price``
        (and ``quantity``, ``aux``); returns the synchronous answer with the ``order_id`` used."""
        from .buyer import Cart, CartLine, lines_of, new_order_id, order_request_xml

        if isinstance(lines, Cart):
            cart_lines: list[CartLine] = list(lines.lines)
        else:
            given = list(lines)
            cart_lines = [x for x in given if isinstance(x, CartLine)] or lines_of(
                dict(x) for x in given if isinstance(x, Mapping)
            )
        creds = _credentials(credentials)
        po = order_id or new_order_id()
        xml = order_request_xml(
            identity=creds["identity"],
            secret=creds["secret"],
            domain=creds["domain"],
            lines=cart_lines,
            order_id=po,
            email=email,
        )
        answer = self.post_cxml(path, xml)
        return OrderAnswer(po, answer)


def _credentials(given: Mapping[str, str] | None) -> dict[str, str]:
    creds = {**DEMO_CREDENTIALS, **(given or {})}
    if given and "shared_secret" in given:
        creds["secret"] = given["shared_secret"]
    return creds


def _outbox_report(items: Sequence[dict[str, Any]], pks: set[str] | None, order_id: str | None) -> str:
    if pks is not None and not pks:
        return f"the simulator has no order with orderID {order_id!r} (GET /__admin/orders?po={order_id})."
    if not items:
        return "the outbox has no such document (a test account gets a ConfirmationRequest only)."
    seen = []
    for item in items:
        text = f"#{item['id']} {item['doc_type']} for {item['order_id']}: {item['status']}"
        if item.get("attempts"):
            text += f", {item['attempts']} attempt(s)"
        if item.get("last_error"):
            text += f", last error: {item['last_error']}"
        if item["status"] == "held":
            text += " (no buyer endpoint: set the account's buyer_endpoint, or send a Followup URL in the order)"
        seen.append(text)
    return "the outbox has " + "; ".join(seen) + "."


@dataclass
class PunchOut:
    """A punchout session opened by :meth:`Simulator.punchout`."""

    simulator: Simulator
    answer: CxmlAnswer
    start_url: str
    buyer_cookie: str
    session_id: str

    def add(self, asin: str, quantity: int = 1) -> dict[str, Any]:
        """Put an item in the cart (as the shopper would); returns the session with its cart."""
        result: dict[str, Any] = self.simulator.admin(
            "POST", f"/sessions/{self.session_id}/cart/items", {"asin": asin, "quantity": quantity}
        )
        return result

    def checkout(self, *, deliver: bool = False) -> Cart:
        """Return the cart: the PunchOutOrderMessage, read into lines (``deliver`` also posts the
        form to the BrowserFormPost URL, as the browser would)."""
        from .buyer import read_cart

        returned = self.simulator.admin("POST", f"/sessions/{self.session_id}/checkout", {"deliver": deliver})
        return read_cart(returned["cxml"].encode("utf-8"))


@dataclass
class OrderAnswer:
    """The synchronous answer to an OrderRequest, with the PO number it carried."""

    order_id: str
    answer: CxmlAnswer

    @property
    def ok(self) -> bool:
        return self.answer.ok

    @property
    def code(self) -> int:
        return self.answer.code


# --- the pytest plugin ------------------------------------------------------------------------

if _PYTEST:

    def pytest_addoption(parser: pytest.Parser) -> None:
        group = parser.getgroup("punchout-sim", "PunchOut Simulator (fixtures punchout_sim, punchout_sim_reset)")
        group.addoption(
            "--punchout-sim-catalog-size",
            type=int,
            default=None,
            help=f"generated products of the punchout_sim fixture's catalogue (default {DEFAULT_CATALOG_SIZE})",
        )
        group.addoption("--punchout-sim-seed", type=int, default=None, help="seed of that catalogue (default 1)")
        group.addoption(
            "--punchout-sim-dtd-dir", default=None, help="cXML DTD directory (default ../shared/cxml/dtd if there)"
        )

    @pytest.fixture(scope="session")
    def punchout_sim(request: pytest.FixtureRequest) -> Iterator[Simulator]:
        """A running simulator shared by the session (``.url``, ``.admin()``, ``.reset()`` …)."""
        options = request.config.option
        size = getattr(options, "punchout_sim_catalog_size", None)
        seed = getattr(options, "punchout_sim_seed", None)
        with Simulator(
            catalog_size=DEFAULT_CATALOG_SIZE if size is None else size,
            seed=1 if seed is None else seed,
            dtd_dir=getattr(options, "punchout_sim_dtd_dir", None),
        ) as simulator:
            yield simulator

    @pytest.fixture
    def punchout_sim_reset(punchout_sim: Simulator) -> Simulator:
        """The session's simulator, reset before this test."""
        punchout_sim.reset()
        return punchout_sim
