"""A scripted buyer: the procurement system's side of a punchout, for smoke tests and demos.

``punchout-sim buyer roundtrip`` (and :class:`RoundTrip`) plays a buyer against a running simulator:
a PunchOutSetupRequest, a cart filled through the admin API, the PunchOutOrderMessage received at
its own small HTTP endpoint (:class:`Receiver`), an OrderRequest built from the cart lines, and the
ConfirmationRequest / ShipNoticeRequest / InvoiceDetailRequest that come back.

The module also holds what the command line and :mod:`simulator.testing` share: :class:`AdminClient`
for the ``/__admin`` API, and the builders of the requests a well-behaved buyer sends
(:func:`setup_request_xml`, :func:`order_request_xml`), which are valid against cXML.dtd.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote
from xml.sax.saxutils import escape, quoteattr

import requests

from .cxml.parse import parse_document
from .cxml.read import request_type, text
from .errors import CxmlError

DEFAULT_URL = "http://127.0.0.1:8080"
URL_ENV = "PUNCHOUT_SIM_URL"
TOKEN_ENV = "PUNCHOUT_SIM_ADMIN_TOKEN"  # noqa: S105 - a variable name, not a secret
DEFAULT_EMAIL = "buyer@example.com"
DEFAULT_ASINS = ("B0TESTSLOW",)
BUYER_DOMAIN = "buyer.punchout-sim.invalid"
USER_AGENT = "punchout-sim scripted buyer"
FINAL_STATUSES = ("delivered", "failed", "dead", "cancelled")

OK, FAIL, NOTE = "✔", "✘", "·"


# --- talking to a running simulator -----------------------------------------------------------


class SimulatorUnreachable(Exception):
    """No simulator answered at the URL (connection refused, unknown host, timeout)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach the simulator at {url}: {reason}")
        self.url = url
        self.reason = reason


class AdminAPIError(Exception):
    """The admin API answered 4xx or 5xx: ``status``, the ``error`` code and the ``message``."""

    def __init__(self, method: str, path: str, status: int, error: str, message: str) -> None:
        super().__init__(f"{method} {path} → HTTP {status} {error}: {message}")
        self.method = method
        self.path = path
        self.status = status
        self.error = error
        self.message = message


def _reason(exc: requests.RequestException) -> str:
    """``Connection refused`` out of the long chain requests and urllib3 wrap around it."""
    if isinstance(exc, requests.Timeout):
        return "no answer (timed out)"
    found = re.findall(r"\[Errno -?\d+\] ([^'\")\]]+)", str(exc))
    if found:
        return str(found[-1]).strip()
    if "Name or service not known" in str(exc) or "nodename nor servname" in str(exc):
        return "unknown host"
    return type(exc).__name__


class AdminClient:
    """The simulator's HTTP API: ``request()`` for ``/__admin`` (JSON), ``post_cxml()`` for cXML.

    ``token`` is sent as ``Authorization: Bearer <token>`` on admin calls.
    """

    def __init__(self, url: str = DEFAULT_URL, *, token: str | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.http = requests.Session()

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = path if path.startswith(("http://", "https://")) else self.url + path
        try:
            return self.http.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise SimulatorUnreachable(self.url, _reason(exc)) from None

    def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        params: dict[str, Any] | None = None,
        data: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Call the admin API; the parsed JSON answer, or :class:`AdminAPIError` on HTTP 4xx/5xx."""
        if not path.startswith("/"):
            path = "/" + path
        if not path.startswith("/__admin"):
            path = "/__admin" + path
        sent = dict(headers or {})
        if self.token:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        if params:
            params = {k: v for k, v in params.items() if v is not None}
        reply = self._send(method.upper(), path, json=json, params=params or None, data=data, headers=sent)
        try:
            body: Any = reply.json()
        except ValueError:
            body = None
        if reply.status_code >= 400:
            if isinstance(body, dict):
                error, message = str(body.get("error", "error")), str(body.get("message", body))
            else:
                error, message = reply.reason or "error", reply.text.strip()[:300] or "(empty body)"
            raise AdminAPIError(method.upper(), path, reply.status_code, error, message)
        return body

    def post_cxml(self, path: str, xml: bytes) -> CxmlAnswer:
        reply = self._send("POST", path, data=xml, headers={"Content-Type": "text/xml; charset=UTF-8"})
        return CxmlAnswer.read(reply.status_code, reply.content)


@dataclass(frozen=True)
class CxmlAnswer:
    """A cXML answer: its HTTP status, the Status code, text and message, and the body."""

    http_status: int
    code: int
    text: str
    message: str
    body: bytes

    @classmethod
    def read(cls, http_status: int, body: bytes) -> CxmlAnswer:
        try:
            root = parse_document(body).root
        except CxmlError as exc:
            return cls(http_status, 0, "not cXML", exc.message, body)
        status = root.find("Response/Status")
        if status is None:
            return cls(http_status, 0, "no Status", "the answer has no Response/Status", body)
        try:
            code = int(status.get("code", "0"))
        except ValueError:
            code = 0
        return cls(http_status, code, status.get("text", ""), (status.text or "").strip(), body)

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300

    def summary(self) -> str:
        line = f"{self.code} {self.text}".strip()
        return f"{line}: {self.message}" if self.message else line

    def start_page(self) -> str | None:
        try:
            root = parse_document(self.body).root
        except CxmlError:
            return None
        return text(root.find("Response/PunchOutSetupResponse/StartPage/URL")) or None


# --- the buyer's documents --------------------------------------------------------------------


def new_payload_id() -> str:
    return f"{time.time_ns()}.{os.getpid()}.{secrets.token_hex(4)}@{BUYER_DOMAIN}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _header(domain: str, identity: str, secret: str) -> str:
    cred = f"<Credential domain={quoteattr(domain)}><Identity>{escape(identity)}</Identity>"
    return (
        f"<Header><From>{cred}</Credential></From>"
        '<To><Credential domain="DUNS"><Identity>128990368</Identity></Credential></To>'
        f"<Sender>{cred}<SharedSecret>{escape(secret)}</SharedSecret></Credential>"
        f"<UserAgent>{USER_AGENT}</UserAgent></Sender></Header>"
    )


def _envelope(payload_id: str, version: str, header: str, request: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/{version}/cXML.dtd">'
        f'<cXML payloadID={quoteattr(payload_id)} timestamp="{_now()}" xml:lang="en-US">'
        f"{header}{request}</cXML>"
    ).encode()


@dataclass(frozen=True)
class ShipTo:
    """The address the buyer's documents carry (a US address by default)."""

    name: str = "Buyer HQ"
    deliver_to: str = "Alice Buyer"
    street: str = "1 Main St"
    city: str = "Springfield"
    state: str = "IL"
    postal_code: str = "62701"
    country: str = "US"
    country_name: str = "United States"

    def xml(self, email: str | None = None) -> str:
        mail = f"<Email>{escape(email)}</Email>" if email else ""
        return (
            f'<Address addressID="HQ-1"><Name xml:lang="en-US">{escape(self.name)}</Name><PostalAddress>'
            f"<DeliverTo>{escape(self.deliver_to)}</DeliverTo><Street>{escape(self.street)}</Street>"
            f"<City>{escape(self.city)}</City><State>{escape(self.state)}</State>"
            f"<PostalCode>{escape(self.postal_code)}</PostalCode>"
            f"<Country isoCountryCode={quoteattr(self.country)}>{escape(self.country_name)}</Country>"
            f"</PostalAddress>{mail}</Address>"
        )


def setup_request_xml(
    *,
    identity: str,
    secret: str,
    return_url: str,
    domain: str = "NetworkId",
    buyer_cookie: str | None = None,
    email: str | None = DEFAULT_EMAIL,
    operation: str = "create",
    ship_to: ShipTo | None = None,
    payload_id: str | None = None,
    version: str = "1.2.069",
) -> bytes:
    """A PunchOutSetupRequest as a well-behaved buyer sends it (valid against cXML.dtd)."""
    cookie = buyer_cookie or "buyer-" + secrets.token_hex(8)
    extrinsic = f'<Extrinsic name="UserEmail">{escape(email)}</Extrinsic>' if email else ""
    request = (
        f'<Request><PunchOutSetupRequest operation="{operation}"><BuyerCookie>{escape(cookie)}</BuyerCookie>'
        f"{extrinsic}<BrowserFormPost><URL>{escape(return_url)}</URL></BrowserFormPost>"
        f"<ShipTo>{(ship_to or ShipTo()).xml()}</ShipTo></PunchOutSetupRequest></Request>"
    )
    return _envelope(payload_id or new_payload_id(), version, _header(domain, identity, secret), request)


@dataclass(frozen=True)
class CartLine:
    """One ItemIn of a PunchOutOrderMessage, as an OrderRequest line needs it."""

    line_number: int
    quantity: int
    supplier_part_id: str
    supplier_part_auxiliary_id: str
    unit_price: str
    currency: str
    description: str = ""
    unit_of_measure: str = "EA"
    unspsc: str = ""


def order_request_xml(
    *,
    identity: str,
    secret: str,
    lines: Sequence[CartLine],
    order_id: str | None = None,
    domain: str = "NetworkId",
    email: str | None = DEFAULT_EMAIL,
    ship_to: ShipTo | None = None,
    payload_id: str | None = None,
    version: str = "1.2.069",
) -> bytes:
    """An OrderRequest for cart lines (SupplierPartID, SupplierPartAuxiliaryID, price), valid against cXML.dtd."""
    po = order_id or new_order_id()
    currency = lines[0].currency if lines else "USD"
    total = sum((Decimal(line.unit_price) * line.quantity for line in lines), Decimal(0))
    items = ""
    for n, line in enumerate(lines, start=1):
        aux = line.supplier_part_auxiliary_id
        aux_xml = f"<SupplierPartAuxiliaryID>{escape(aux)}</SupplierPartAuxiliaryID>" if aux else ""
        items += (
            f'<ItemOut quantity="{line.quantity}" lineNumber="{n}"><ItemID>'
            f"<SupplierPartID>{escape(line.supplier_part_id)}</SupplierPartID>{aux_xml}</ItemID><ItemDetail>"
            f"<UnitPrice><Money currency={quoteattr(line.currency)}>{escape(line.unit_price)}</Money></UnitPrice>"
            f'<Description xml:lang="en-US">{escape(line.description or line.supplier_part_id)}</Description>'
            f"<UnitOfMeasure>{escape(line.unit_of_measure or 'EA')}</UnitOfMeasure>"
            f'<Classification domain="UNSPSC">{escape(line.unspsc or "44120000")}</Classification>'
            "</ItemDetail></ItemOut>"
        )
    address = (ship_to or ShipTo()).xml()
    extrinsic = f'<Extrinsic name="UserEmail">{escape(email)}</Extrinsic>' if email else ""
    request = (
        f'<Request><OrderRequest><OrderRequestHeader orderID={quoteattr(po)} orderDate="{_now()}" '
        f'type="new"><Total><Money currency={quoteattr(currency)}>{total:.2f}</Money></Total>'
        f"<ShipTo>{address}</ShipTo><BillTo>{address}</BillTo>{extrinsic}</OrderRequestHeader>"
        f"{items}</OrderRequest></Request>"
    )
    return _envelope(payload_id or new_payload_id(), version, _header(domain, identity, secret), request)


def new_order_id() -> str:
    return f"PO-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2).upper()}"


def _int(value: str | None, default: int) -> int:
    try:
        return int(Decimal((value or "").strip()))
    except (InvalidOperation, ValueError):
        return default


@dataclass(frozen=True)
class Cart:
    """What a PunchOutOrderMessage says: buyer cookie, lines, total."""

    buyer_cookie: str
    lines: tuple[CartLine, ...]
    total: str
    currency: str
    payload_id: str


def read_cart(xml: bytes) -> Cart:
    """The lines of a PunchOutOrderMessage (raises the parser's NotAcceptable when it is not XML)."""
    root = parse_document(xml).root
    message = root.find("Message/PunchOutOrderMessage")
    if message is None:
        raise ValueError(f"not a PunchOutOrderMessage but {request_type(root) or root.tag}")
    lines = []
    for position, item in enumerate(message.findall("ItemIn"), start=1):
        money = item.find("ItemDetail/UnitPrice/Money")
        lines.append(
            CartLine(
                line_number=_int(item.get("lineNumber"), position),
                quantity=_int(item.get("quantity"), 1),
                supplier_part_id=text(item.find("ItemID/SupplierPartID")),
                supplier_part_auxiliary_id=text(item.find("ItemID/SupplierPartAuxiliaryID")),
                unit_price=text(money),
                currency=(money.get("currency") if money is not None else None) or "USD",
                description=text(item.find("ItemDetail/Description")),
                unit_of_measure=text(item.find("ItemDetail/UnitOfMeasure")) or "EA",
                unspsc=text(item.find("ItemDetail/Classification[@domain='UNSPSC']")),
            )
        )
    total = message.find("PunchOutOrderMessageHeader/Total/Money")
    return Cart(
        buyer_cookie=text(message.find("BuyerCookie")),
        lines=tuple(lines),
        total=text(total),
        currency=(total.get("currency") if total is not None else None) or "",
        payload_id=root.get("payloadID") or "",
    )


def describe(xml: bytes) -> tuple[str, str]:
    """(document type, its key attributes) of a document the simulator sends to the buyer."""
    try:
        root = parse_document(xml).root
    except CxmlError as exc:
        return "unreadable", exc.message
    kind = request_type(root) or root.tag
    if kind == "ConfirmationRequest":
        header = root.find(".//ConfirmationHeader")
        attrs = f"confirmID={header.get('confirmID')} type={header.get('type')}" if header is not None else ""
        order_error = _error_code(header, "OrderErrorCode")
        if order_error:
            attrs += f" ({order_error})"
        statuses = []
        for status in root.iter("ConfirmationStatus"):
            code = _error_code(status, "LineItemErrorCode")
            statuses.append(status.get("type", "?") + (f" {code}" if code else ""))
        if statuses:
            attrs += " lines: " + ", ".join(statuses)
        return kind, attrs
    if kind == "ShipNoticeRequest":
        header = root.find(".//ShipNoticeHeader")
        carrier = text(root.find(".//ShipControl/CarrierIdentifier"))
        tracking = text(root.find(".//ShipControl/ShipmentIdentifier"))
        shipment = header.get("shipmentID") if header is not None else None
        return kind, f"shipmentID={shipment} carrier={carrier} tracking={tracking}"
    if kind == "InvoiceDetailRequest":
        header = root.find(".//InvoiceDetailRequestHeader")
        due = root.find(".//InvoiceDetailSummary/DueAmount/Money")
        amount = f"{text(due)} {due.get('currency', '')}".strip() if due is not None else "?"
        invoice = header.get("invoiceID") if header is not None else None
        return kind, f"invoiceID={invoice} amount={amount}"
    return kind, f"payloadID={root.get('payloadID')}"


def _error_code(element: Any, kind: str) -> str:
    """The ``NNN-NNN`` code of a ``Comments type=kind`` child (Amazon's error codes), or ""."""
    if element is None:
        return ""
    for comments in element.findall("Comments"):
        if comments.get("type") == kind:
            return text(comments).split(" ", 1)[0]
    return ""


# --- the buyer's endpoint ---------------------------------------------------------------------


@dataclass(frozen=True)
class Post:
    """One request the receiver got."""

    path: str
    content_type: str
    body: bytes
    fields: dict[str, str]

    @property
    def cxml(self) -> bytes | None:
        """The cXML it carries: the body, or a form's cxml-urlencoded / cxml-base64 field."""
        if "cxml-base64" in self.fields:
            return base64.b64decode(self.fields["cxml-base64"].encode("latin-1"))
        if "cxml-urlencoded" in self.fields:
            return self.fields["cxml-urlencoded"].encode("latin-1")
        return self.body if self.body.lstrip().startswith(b"<") else None

    @property
    def transport(self) -> str:
        return next((f for f in ("cxml-urlencoded", "cxml-base64") if f in self.fields), "raw")


CXML_OK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/1.2.069/cXML.dtd">'
    '<cXML payloadID="{payload}" timestamp="{now}"><Response><Status code="200" text="OK"/></Response></cXML>'
)
RETURN_PAGE = b"<!doctype html><title>Cart received</title><h1>The scripted buyer received the cart</h1>"


class Receiver:
    """The buyer's HTTP endpoint on loopback (a free port): it keeps every post.

    A form post (the cart coming back through BrowserFormPost) gets an HTML page; a cXML document
    (a ConfirmationRequest …) gets a cXML 200.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.posts: list[Post] = []
        self._changed = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                content_type = self.headers.get("Content-Type", "")
                form = content_type.startswith("application/x-www-form-urlencoded") or body.startswith(b"cxml-")
                fields = dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="latin-1"))
                post = Post(self.path, content_type, body, fields if form else {})
                if form:
                    page, kind = RETURN_PAGE, "text/html; charset=utf-8"
                else:
                    page = CXML_OK.format(payload=new_payload_id(), now=_now()).encode()
                    kind = "text/xml; charset=UTF-8"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
                with outer._changed:
                    outer.posts.append(post)
                    outer._changed.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="punchout-sim-receiver", daemon=True)
        self.thread.start()

    @property
    def cart_url(self) -> str:
        """Where BrowserFormPost should point."""
        return self.url + "/punchout/return"

    @property
    def documents_url(self) -> str:
        """Where the account's buyer endpoint should point (ConfirmationRequest …)."""
        return self.url + "/cxml"

    def wait_for(self, predicate: Callable[[Post], bool], timeout: float) -> Post | None:
        """The first post (already here or arriving within ``timeout`` seconds) that matches."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = next((p for p in self.posts if predicate(p)), None)
                remaining = deadline - time.monotonic()
                if found is not None or remaining <= 0:
                    return found
                self._changed.wait(remaining)

    def documents(self) -> list[Post]:
        with self._changed:
            return [p for p in self.posts if not p.fields and p.cxml is not None]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- the round trip ---------------------------------------------------------------------------


class StepFailed(Exception):
    pass


@dataclass
class RoundTripOptions:
    url: str
    identity: str
    secret: str
    domain: str = "NetworkId"
    email: str = DEFAULT_EMAIL
    asins: Sequence[str] = DEFAULT_ASINS
    quantity: int = 1
    wait: float = 0.0
    admin_token: str | None = None
    order_id: str | None = None
    timeout: float = 30.0


@dataclass
class RoundTripResult:
    ok: bool = False
    start_page: str | None = None
    session_id: str | None = None
    cart: Cart | None = None
    order_id: str | None = None
    documents: list[tuple[str, str]] = field(default_factory=list)


class RoundTrip:
    """One scripted punchout and order; each step printed with ✔ or ✘ through ``out``."""

    def __init__(self, options: RoundTripOptions, out: Callable[[str], None] = print) -> None:
        self.options = options
        self.out = out
        self.result = RoundTripResult()
        self.failures = 0

    def ok(self, message: str) -> None:
        self.out(f"{OK} {message}")

    def fail(self, message: str) -> StepFailed:
        self.failures += 1
        self.out(f"{FAIL} {message}")
        return StepFailed(message)

    def note(self, message: str) -> None:
        self.out(f"{NOTE} {message}")

    def run(self) -> RoundTripResult:
        """Every step; stops at the first that fails. ``result.ok`` says whether all went through."""
        o = self.options
        with AdminClient(o.url, token=o.admin_token, timeout=o.timeout) as api, Receiver() as receiver:
            self.ok(f"buyer endpoint listening on {receiver.url}")
            restore: tuple[str, Any] | None = None
            try:
                self._punchout(api, receiver)
                if o.wait > 0:
                    restore = self._point_account_at(api, receiver)
                self._order(api)
                if o.wait > 0:
                    self._collect(api, receiver)
                else:
                    self.note(
                        "documents not awaited: pass --wait SECONDS to receive the ConfirmationRequest and the rest"
                    )
            except StepFailed:
                pass
            except AdminAPIError as exc:
                self.fail(f"admin API: {exc}")
            finally:
                if restore is not None:
                    self._restore(api, *restore)
        self.result.ok = self.failures == 0
        return self.result

    # steps

    def _punchout(self, api: AdminClient, receiver: Receiver) -> None:
        o = self.options
        cookie = "buyer-" + secrets.token_hex(8)
        xml = setup_request_xml(
            identity=o.identity,
            secret=o.secret,
            domain=o.domain,
            email=o.email,
            buyer_cookie=cookie,
            return_url=receiver.cart_url,
        )
        answer = api.post_cxml("/punchout", xml)
        if not answer.ok:
            raise self.fail(f"PunchOutSetupRequest → {answer.summary()}")
        start = answer.start_page()
        if not start:
            raise self.fail("PunchOutSetupRequest answered 200 without a StartPage URL")
        self.result.start_page = start
        self.ok(f"PunchOutSetupRequest → {answer.code} {answer.text}; StartPage {start}")

        found = api.request("GET", "/sessions", params={"buyer_cookie": cookie})
        if not found.get("items"):
            raise self.fail(f"no session with buyer cookie {cookie} (GET /__admin/sessions)")
        session_id = str(found["items"][0]["id"])
        self.result.session_id = session_id
        self.ok(f"session {session_id} (buyer cookie {cookie}, user {found['items'][0].get('email', '')})")

        for asin in o.asins:
            try:
                session = api.request(
                    "POST", f"/sessions/{quote(session_id)}/cart/items", {"asin": asin, "quantity": o.quantity}
                )
            except AdminAPIError as exc:
                raise self.fail(f"add {asin} × {o.quantity} to the cart: {exc.message}") from None
            line = next((i for i in session["cart"]["items"] if i["asin"] == asin), None)
            price = f" at {line['unit_price']} {session['cart']['currency']}" if line else ""
            self.ok(f"cart: {asin} × {o.quantity}{price}")

        returned = api.request("POST", f"/sessions/{quote(session_id)}/checkout", {"deliver": True})
        delivered = returned.get("delivered") or {}
        if not delivered.get("ok"):
            why = delivered.get("error") or f"HTTP {delivered.get('http_status')}"
            raise self.fail(f"checkout: the cart could not be posted to {returned.get('action')}: {why}")
        post = receiver.wait_for(lambda p: bool(p.fields), timeout=10)
        cxml = post.cxml if post is not None else None
        if post is None or cxml is None:
            raise self.fail("checkout: no PunchOutOrderMessage arrived at the BrowserFormPost URL")
        try:
            cart = read_cart(cxml)
        except (CxmlError, ValueError) as exc:
            raise self.fail(f"PunchOutOrderMessage unreadable: {exc}") from None
        self.result.cart = cart
        self.ok(
            f"PunchOutOrderMessage received ({post.transport}): {len(cart.lines)} line(s), "
            f"total {cart.total} {cart.currency}"
        )
        for line in cart.lines:
            self.out(
                f"    {line.line_number}. {line.supplier_part_id} [{line.supplier_part_auxiliary_id}] "
                f"× {line.quantity} at {line.unit_price} {line.currency}"
            )
        if not cart.lines:
            raise self.fail("the cart came back empty: nothing to order")

    def _point_account_at(self, api: AdminClient, receiver: Receiver) -> tuple[str, Any]:
        o = self.options
        listed = api.request("GET", "/accounts", params={"limit": 500})
        account = next(
            (
                a
                for a in listed.get("items", [])
                if a["credentials"]["identity"] == o.identity and a["credentials"]["domain"].lower() == o.domain.lower()
            ),
            None,
        )
        if account is None:
            raise self.fail(f"no account with the credential {o.domain}/{o.identity} (GET /__admin/accounts)")
        previous = account.get("buyer_endpoint")
        api.request("PATCH", f"/accounts/{quote(account['id'])}", {"buyer_endpoint": {"url": receiver.documents_url}})
        self.ok(f"account {account['id']} ({account['status']}): buyer endpoint → {receiver.documents_url}")
        return account["id"], previous

    def _restore(self, api: AdminClient, account_id: str, previous: Any) -> None:
        try:
            api.request("PATCH", f"/accounts/{quote(account_id)}", {"buyer_endpoint": previous})
        except (AdminAPIError, SimulatorUnreachable) as exc:
            self.note(f"could not restore the buyer endpoint of account {account_id}: {exc}")
            return
        where = previous["url"] if previous else "none"
        self.note(f"account {account_id}: buyer endpoint restored ({where})")

    def _order(self, api: AdminClient) -> None:
        o = self.options
        assert self.result.cart is not None
        order_id = o.order_id or new_order_id()
        self.result.order_id = order_id
        xml = order_request_xml(
            identity=o.identity,
            secret=o.secret,
            domain=o.domain,
            email=o.email,
            lines=self.result.cart.lines,
            order_id=order_id,
        )
        answer = api.post_cxml("/orders", xml)
        if not answer.ok:
            raise self.fail(f"OrderRequest {order_id} → {answer.summary()}")
        self.ok(f"OrderRequest {order_id} → {answer.code} {answer.text}")

    def _order_documents(self, api: AdminClient) -> list[dict[str, Any]]:
        orders = api.request("GET", "/orders", params={"po": self.result.order_id})
        items: list[dict[str, Any]] = []
        for order in orders.get("items", []):
            found = api.request("GET", "/outbox", params={"order_id": order["id"], "limit": 500})
            items.extend(found.get("items", []))
        return sorted(items, key=lambda i: int(i["id"]))

    def _collect(self, api: AdminClient, receiver: Receiver) -> None:
        o = self.options
        deadline = time.monotonic() + o.wait
        flushed = api.request("POST", "/outbox/flush")
        self.ok(f"outbox flushed ({flushed.get('attempts', 0)} delivery attempt(s))")
        shown: set[str] = set()
        last_flush = time.monotonic()
        items: list[dict[str, Any]] = []
        while True:
            items = self._order_documents(api)
            ours = {i["payload_id"] for i in items}
            for post in receiver.documents():
                payload = _payload_id(post.body)
                if payload is None or payload in shown or payload not in ours:
                    continue
                shown.add(payload)
                kind, attrs = describe(post.body)
                self.result.documents.append((kind, attrs))
                self.ok(f"{kind} {attrs}")
            settled = items and all(i["status"] in FINAL_STATUSES for i in items)
            if (settled and all(i["payload_id"] in shown for i in items if i["status"] == "delivered")) or (
                time.monotonic() >= deadline
            ):
                break
            if time.monotonic() - last_flush >= 1:
                api.request("POST", "/outbox/flush")
                last_flush = time.monotonic()
            time.sleep(0.1)
        for item in items:
            if item["status"] in ("failed", "dead"):
                self.fail(f"{item['doc_type']} not delivered ({item['status']}): {item.get('last_error')}")
            elif item["status"] not in FINAL_STATUSES:
                self.fail(f"{item['doc_type']} still {item['status']} after {o.wait:g} s")
        if not items:
            self.fail(f"no document for order {self.result.order_id} in the outbox after {o.wait:g} s")
        elif not self.result.documents:
            self.fail(f"no document came back within {o.wait:g} s")


def _payload_id(xml: bytes) -> str | None:
    try:
        payload: str | None = parse_document(xml).root.get("payloadID")
    except CxmlError:
        return None
    return payload


def roundtrip(options: RoundTripOptions, out: Callable[[str], None] = print) -> RoundTripResult:
    """Run :class:`RoundTrip` with ``options``; see ``punchout-sim buyer roundtrip --help``."""
    return RoundTrip(options, out).run()


def lines_of(items: Iterable[dict[str, Any]]) -> list[CartLine]:
    """Cart lines from dicts with ``asin``, ``price`` and optional ``quantity``, ``aux``, ``currency``."""
    return [
        CartLine(
            line_number=n,
            quantity=int(item.get("quantity", 1)),
            supplier_part_id=str(item["asin"]),
            supplier_part_auxiliary_id=str(item.get("aux", "")),
            unit_price=str(item["price"]),
            currency=str(item.get("currency", "USD")),
            description=str(item.get("description", "")),
        )
        for n, item in enumerate(items, start=1)
    ]
