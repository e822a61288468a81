"""Faults as data: make an endpoint slow, wrong or broken on purpose, as a QA engineer asks.

A fault is a small JSON object, stored in the ``faults`` table (``/__admin/faults``) or handed
over by the scenario engine. It names an ``endpoint`` and a ``type`` with the type's parameters::

    {"endpoint": "orders", "type": "delay", "ms": 1500, "probability": 0.5, "seed": 7, "times": 10}

Endpoints: ``punchout`` (``POST /punchout``, ``POST /punchout/test``), ``orders`` (``POST /orders``,
``POST /orders/<account>``), ``cxml`` (``POST /cxml``), ``oci`` (``GET|POST /oci``), ``start_page``
(``GET /start/<token>``), ``checkout`` (``POST /shop/checkout``, ``POST /shop/return-without-items``)
and ``outbound``: the documents the outbox POSTs to the buyer.

Types and parameters (see :data:`ALLOWED` for which endpoint takes which type, and why not):

``delay``         ``ms``, or ``min_ms`` and ``max_ms`` (uniform); at most :data:`MAX_DELAY_MS`.
                  Inbound: the request is served, then the answer waits. Outbound: the send waits,
                  at most the outbox timeout.
``http_status``   ``status`` (200-599), ``cxml_body`` (false: a text/plain body; true: a cXML
                  Response/Status with that code), optional ``message`` (the Status text).
``cxml_status``   ``code``, ``text``, optional ``message``: HTTP 200 with that cXML Status.
``malformed``     the body cut off inside a tag, then garbage: not well-formed XML (same type).
``empty``         HTTP 200 with an empty body (same Content-Type). Outbound: an empty POST.
``reset``         the connection is closed with a TCP RST and nothing is sent.
``truncate``      optional ``bytes`` (default half the body): the headers announce the whole body,
                  only that many bytes are sent, then the connection is closed.
``content_type``  ``value``: the same body with that Content-Type.
``dtd_invalid``   the same document with ``<SimulatorFault>``, which no cXML DTD declares, as the
                  root's first child: well-formed, and invalid against its DTD.
``bad_credentials`` (outbound) the Sender's SharedSecret (or, without one, its Identity) is wrong.
``duplicate``     (outbound) the document is POSTed twice, same payloadID, one after the other.
``out_of_order``  (outbound) stored only; the order scheduler picks it when it queues an order's
                  documents and swaps the confirmation and the first ship notice.

Common keys: ``probability`` (0-1, default 1), ``seed`` (null, a whole number or a string),
``times`` (null or N: fire at most N times, then stay listed, spent), ``name`` (a label, quoted in
the journal). The n-th evaluation of a stored fault draws from ``random.Random(f"{seed}:{n}")``, and
the evaluation count is kept in the database, so a seed gives the same pattern in every run, every
worker process and across restarts. ``seed: null`` draws from fresh randomness.

Inbound faults are applied by :class:`FaultMiddleware`, around the whole Flask app: the request is
always served first (an order is taken, a StartPage link is used up) and then its answer is
delayed, replaced or broken, whatever the route returned. A request handler may also put a fault
spec in ``request.environ[ENVIRON_KEY]``; it is applied as if a stored fault had fired (the caller
has already decided that it fires: its probability is not drawn again). When both apply, the
handler's goes first and the stored one is applied to its result.

Outbound faults are applied by the outbox just before each POST (:func:`outbound_sends`, :func:`post`):
a stored ``outbound`` fault and the document's own (``outbox.enqueue(..., fault=spec)``, applied to
every attempt of that document) both apply, the document's own first.

The journal: every inbound fault applied adds an entry ``direction "out", doc_type "Fault"`` at the
request's path, holding what was actually sent (HTTP status, cXML status, body, Content-Type; for
a reset, nothing) and an advisory saying which fault did what. For a cXML request the request's
own ``in`` entry (found by endpoint and payloadID) gets the same advisory and the HTTP and cXML
status the buyer actually received (None where it could read none: reset, truncate, malformed,
empty), and the Fault entry replies to it (``in_reply_to``); the simulator's own answer entry is
left as it was: what it would have answered. An outbound fault is an advisory on the attempt's
``out`` entry, whose body and Content-Type are the document as actually sent.
"""

from __future__ import annotations

import contextlib
import errno
import html
import http.client
import io
import json
import logging
import os
import random
import re
import socket
import sqlite3
import struct
import time
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from lxml import etree
from requests.structures import CaseInsensitiveDict

from . import clock, db, journal, memo
from .cxml import build
from .cxml.ids import payload_id
from .cxml.parse import parse_document, unwrap_body
from .cxml.types import Envelope
from .errors import AdminError, CxmlError, NotFound

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

ENDPOINTS: tuple[str, ...] = ("punchout", "orders", "cxml", "oci", "oagis", "start_page", "checkout", "outbound")
TYPES: tuple[str, ...] = (
    "delay",
    "http_status",
    "cxml_status",
    "malformed",
    "empty",
    "reset",
    "truncate",
    "content_type",
    "dtd_invalid",
    "bad_credentials",
    "duplicate",
    "out_of_order",
)

ENVIRON_KEY = "punchout_sim.fault"

MAX_DELAY_MS = 100_000  # gunicorn kills a sync worker after 120 s
FAULT_ELEMENT = "SimulatorFault"  # declared by no cXML DTD
WRONG_SECRET = "wrong-shared-secret"  # noqa: S105 - deliberately wrong
WRONG_IDENTITY = "WRONG-IDENTITY"
MAX_RESPONSE_BYTES = 1024 * 1024

_PAGE = ("delay", "http_status", "malformed", "empty", "reset", "truncate", "content_type")  # browser answers
_CXML = (*_PAGE[:2], "cxml_status", *_PAGE[2:], "dtd_invalid")  # cXML answers

ALLOWED: dict[str, tuple[str, ...]] = {
    "punchout": _CXML,
    "orders": _CXML,
    "cxml": _CXML,
    "oci": _PAGE,
    "oagis": _PAGE,  # an XML answer, but not cXML: no cXML Status, no cXML DTD
    "start_page": ("delay", "http_status", "empty", "reset", "truncate"),
    "checkout": _PAGE,
    "outbound": (
        "delay",
        "malformed",
        "empty",
        "truncate",
        "content_type",
        "dtd_invalid",
        "bad_credentials",
        "duplicate",
        "out_of_order",
    ),
}
RESPONSE_TYPES: tuple[str, ...] = _CXML  # what an answer to any inbound request can suffer
SEND_TYPES: tuple[str, ...] = tuple(t for t in ALLOWED["outbound"] if t != "out_of_order")  # applied per POST

_BROWSER = {
    "oci": "an HTML page or a redirect",
    "start_page": "a redirect to the shop (303)",
    "checkout": "an HTML page carrying the cart",
}
_OUTBOUND_ONLY = {
    "bad_credentials": "it puts wrong credentials in the documents the simulator sends to the buyer",
    "duplicate": "it sends a document to the buyer twice",
    "out_of_order": "it swaps the order of the documents sent to the buyer",
}

_COMMON = ("endpoint", "type", "name", "probability", "seed", "times")
PARAMETERS: dict[str, tuple[str, ...]] = {
    "delay": ("ms", "min_ms", "max_ms"),
    "http_status": ("status", "cxml_body", "message"),
    "cxml_status": ("code", "text", "message"),
    "truncate": ("bytes",),
    "content_type": ("value",),
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint TEXT NOT NULL,
    type TEXT NOT NULL,
    spec TEXT NOT NULL,
    times INTEGER,
    evaluations INTEGER NOT NULL DEFAULT 0,
    fired INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS faults_endpoint ON faults (endpoint, id);

CREATE TABLE IF NOT EXISTS fault_draws (
    key TEXT PRIMARY KEY,
    evaluations INTEGER NOT NULL DEFAULT 0
);
"""
TABLES = ("faults", "fault_draws")


# --- validation ---------------------------------------------------------------------------------


def _invalid(message: str) -> AdminError:
    return AdminError(400, "invalid_fault", message)


def _one_of(values: Iterable[str]) -> str:
    return ", ".join(values)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _whole(data: dict[str, Any], key: str, low: int, high: int, what: str) -> int:
    value = data[key]
    if not _is_int(value) or not low <= value <= high:
        raise _invalid(f"{key} must be {what} from {low} to {high}; got {json.dumps(value)}.")
    result: int = value
    return result


def _text(data: dict[str, Any], key: str, *, required: bool, example: str, limit: int = 500) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if value is None:
        raise _invalid(f"{key} is required for a {data['type']} fault: {example}.")
    if not isinstance(value, str) or not value.strip() or len(value) > limit or "\n" in value or "\r" in value:
        raise _invalid(
            f"{key} must be a non-empty string of at most {limit} characters on one line; got {json.dumps(value)}."
        )
    return value


def _refusal(endpoint: str, kind: str) -> str | None:
    """Why ``kind`` makes no sense on ``endpoint``, or None when it is fine there."""
    if kind in ALLOWED[endpoint]:
        return None
    if kind in _OUTBOUND_ONLY:
        why = f"{_OUTBOUND_ONLY[kind]}, so it is for endpoint outbound only"
    elif endpoint == "outbound" and kind == "reset":
        why = "on outbound the simulator is the client; to break the connection in the middle of a send use truncate"
    elif endpoint == "outbound":
        why = "on outbound the simulator is the client: the HTTP status and the cXML Status are the buyer's answer"
    elif kind in ("cxml_status", "dtd_invalid"):
        why = f"{endpoint} answers a browser with {_BROWSER[endpoint]}, not with a cXML document"
    else:
        why = f"{endpoint} answers with a redirect (303 to the shop): the browser reads neither its body nor its type"
    return f"type {kind!r} does not apply to {endpoint}: {why}. On {endpoint} use one of {_one_of(ALLOWED[endpoint])}."


def validate(data: Any, *, endpoint_required: bool = True) -> dict[str, Any]:
    """The normalised fault spec, or :class:`AdminError` 400 naming the bad key and what it may be.

    With ``endpoint_required=False`` (a scenario rule's fault) ``endpoint`` may be left out and
    ``target`` given instead: ``response`` (default; the spec's endpoint is then None, meaning the
    endpoint the rule matched) or ``outbound`` (the spec's endpoint becomes ``outbound``).
    """
    if not isinstance(data, dict):
        raise _invalid(
            'The body must be a JSON object describing the fault, e.g. {"endpoint": "orders", "type": "delay", '
            '"ms": 500}.'
        )
    endpoint = data.get("endpoint")
    target = None if endpoint_required else data.get("target")
    if endpoint is None and not endpoint_required:
        if target not in (None, "response", "outbound"):
            raise _invalid(f"target must be one of response, outbound; got {json.dumps(target)}.")
        endpoint = "outbound" if target == "outbound" else None
    elif endpoint is None:
        raise _invalid(f"endpoint is required: one of {_one_of(ENDPOINTS)}.")
    elif endpoint not in ENDPOINTS:
        raise _invalid(f"endpoint must be one of {_one_of(ENDPOINTS)}; got {json.dumps(endpoint)}.")
    elif target is not None and target != ("outbound" if endpoint == "outbound" else "response"):
        raise _invalid(f"target {json.dumps(target)} contradicts endpoint {endpoint!r}; leave target out.")
    kind = data.get("type")
    if kind is None:
        raise _invalid(f"type is required: one of {_one_of(TYPES)}.")
    if kind not in TYPES:
        raise _invalid(f"type must be one of {_one_of(TYPES)}; got {json.dumps(kind)}.")
    keys = (*_COMMON[:2], *PARAMETERS.get(kind, ()), *_COMMON[2:])
    allowed_keys = keys if endpoint_required else (*keys, "target")
    for key in data:
        if key not in allowed_keys:
            article = "an" if kind[0] in "aeiou" else "a"
            raise _invalid(f"unknown key {key!r} in {article} {kind} fault; its keys are {_one_of(allowed_keys)}.")
    if endpoint is not None:
        refusal = _refusal(endpoint, kind)
        if refusal:
            raise _invalid(refusal)
    elif kind in _OUTBOUND_ONLY:
        raise _invalid(f"type {kind!r} is not for an answer: {_OUTBOUND_ONLY[kind]}; use target outbound.")
    spec: dict[str, Any] = {"endpoint": endpoint, "type": kind}
    spec.update(_parameters(data, kind, endpoint))
    spec["name"] = _text(data, "name", required=False, example="", limit=200)
    probability = data.get("probability", 1.0)
    if isinstance(probability, bool) or not isinstance(probability, int | float) or not 0 <= probability <= 1:
        raise _invalid(f"probability must be a number from 0 to 1; got {json.dumps(probability)}.")
    spec["probability"] = float(probability)
    seed = data.get("seed")
    if seed is not None and not _is_int(seed) and not isinstance(seed, str):
        raise _invalid(f"seed must be a whole number, a string or null; got {json.dumps(seed)}.")
    spec["seed"] = seed
    times = data.get("times")
    if times is not None and (not _is_int(times) or times < 1):
        raise _invalid(f"times must be a whole number of 1 or more, or null; got {json.dumps(times)}.")
    spec["times"] = times
    return spec


def _parameters(data: dict[str, Any], kind: str, endpoint: str | None) -> dict[str, Any]:
    if kind == "delay":
        has_ms, has_range = "ms" in data, "min_ms" in data or "max_ms" in data
        if has_ms and has_range:
            raise _invalid("a delay fault takes either ms, or min_ms and max_ms; not both.")
        if has_ms:
            return {"ms": _whole(data, "ms", 0, MAX_DELAY_MS, "a whole number of milliseconds")}
        if "min_ms" not in data or "max_ms" not in data:
            missing = "max_ms" if "min_ms" in data else "min_ms" if "max_ms" in data else "ms"
            raise _invalid(f"{missing} is required: a delay fault takes ms, or min_ms and max_ms.")
        low = _whole(data, "min_ms", 0, MAX_DELAY_MS, "a whole number of milliseconds")
        high = _whole(data, "max_ms", 0, MAX_DELAY_MS, "a whole number of milliseconds")
        if low > high:
            raise _invalid(f"min_ms ({low}) must not be greater than max_ms ({high}).")
        return {"min_ms": low, "max_ms": high}
    if kind == "http_status":
        if "status" not in data:
            raise _invalid("status is required for an http_status fault: a whole number from 200 to 599.")
        status = _whole(data, "status", 200, 599, "a whole number")
        cxml_body = data.get("cxml_body", False)
        if not isinstance(cxml_body, bool):
            raise _invalid(f"cxml_body must be true or false; got {json.dumps(cxml_body)}.")
        if cxml_body and endpoint in _BROWSER:
            raise _invalid(
                f"cxml_body: true does not apply to {endpoint}: it answers a browser with {_BROWSER[endpoint]}, "
                "not with cXML; use cxml_body: false."
            )
        if cxml_body and status in (204, 304):
            raise _invalid(f"cxml_body must be false with status {status}: that answer has no body.")
        message = _text(data, "message", required=False, example="")
        return {"status": status, "cxml_body": cxml_body, "message": message}
    if kind == "cxml_status":
        if "code" not in data:
            raise _invalid("code is required for a cxml_status fault: a whole number from 100 to 999.")
        code = _whole(data, "code", 100, 999, "a whole number")
        text = _text(data, "text", required=True, example='the Status text attribute, e.g. "Service Unavailable"')
        return {"code": code, "text": text, "message": _text(data, "message", required=False, example="")}
    if kind == "truncate":
        count = data.get("bytes")
        if count is not None and (not _is_int(count) or count < 0):
            raise _invalid(
                f"bytes must be a whole number of 0 or more, or null (half the body); got {json.dumps(count)}."
            )
        return {"bytes": count}
    if kind == "content_type":
        return {"value": _text(data, "value", required=True, example='the Content-Type to send, e.g. "text/html"')}
    return {}


# --- storage ------------------------------------------------------------------------------------


def _fault_json(row: sqlite3.Row) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(row["spec"])
    times = row["times"]
    return {
        "id": row["id"],
        **spec,
        "evaluations": row["evaluations"],
        "fired": row["fired"],
        "remaining": None if times is None else max(times - row["fired"], 0),
        "created_at": row["created_at"],
    }


_SELECT = "SELECT id, spec, times, evaluations, fired, created_at FROM faults"


def add(conn: sqlite3.Connection, data: Any) -> dict[str, Any]:
    """Validate and store a fault; returns it as listed."""
    spec = validate(data)
    cursor = conn.execute(
        "INSERT INTO faults (endpoint, type, spec, times, created_at) VALUES (?, ?, ?, ?, ?)",
        (spec["endpoint"], spec["type"], json.dumps(spec), spec["times"], clock.timestamp()),
    )
    return get(conn, int(cursor.lastrowid or 0))


def _fault_id(fault_id: int | str) -> int:
    text = str(fault_id).strip()
    if not text.isdigit():
        raise NotFound("fault", str(fault_id))
    return int(text)


def get(conn: sqlite3.Connection, fault_id: int | str) -> dict[str, Any]:
    row = conn.execute(f"{_SELECT} WHERE id = ?", (_fault_id(fault_id),)).fetchone()
    if row is None:
        raise NotFound("fault", str(fault_id))
    return _fault_json(row)


def list_faults(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every stored fault, oldest first, with its counters (spent ones too)."""
    return [_fault_json(row) for row in conn.execute(f"{_SELECT} ORDER BY id")]


def delete(conn: sqlite3.Connection, fault_id: int | str) -> None:
    """Remove one fault; :class:`NotFound` (404) when there is none with that id."""
    if conn.execute("DELETE FROM faults WHERE id = ?", (_fault_id(fault_id),)).rowcount == 0:
        raise NotFound("fault", str(fault_id))


def clear(conn: sqlite3.Connection) -> None:
    """Remove every stored fault, and the draw counts of handed-over faults (ids go on rising)."""
    conn.execute("DELETE FROM faults")
    conn.execute("DELETE FROM fault_draws")


def draw(seed: int | str | None, evaluation: int) -> random.Random:
    """The random source of a fault's ``evaluation``-th evaluation: reproducible with a seed."""
    return random.Random(f"{seed}:{evaluation}") if seed is not None else random.Random()


def _resolved(spec: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The spec with a min_ms/max_ms delay drawn (``ms``)."""
    if spec["type"] == "delay" and spec.get("ms") is None:
        return {**spec, "ms": rng.randint(int(spec["min_ms"]), int(spec["max_ms"]))}
    return spec


_LIVE = "endpoint = ? AND (times IS NULL OR fired < times)"  # the faults of an endpoint still to fire


def _any_live(conn: sqlite3.Connection, endpoint: str) -> bool:
    return conn.execute(f"SELECT 1 FROM faults WHERE {_LIVE} LIMIT 1", (endpoint,)).fetchone() is not None  # noqa: S608


def pick(conn: sqlite3.Connection, endpoint: str, *, types: Collection[str] | None = None) -> dict[str, Any] | None:
    """The first stored fault for ``endpoint`` (of ``types``) that fires now, counted; None if none does.

    Faults are evaluated oldest first; each evaluation and each firing is counted in the same
    transaction (``BEGIN IMMEDIATE``, or the caller's if one is open), so worker processes sharing
    the database never fire a ``times: N`` fault more than N times. A fault past its ``times`` is
    not evaluated. The returned fault is as listed after this firing, with ``ms`` drawn for a
    min_ms/max_ms delay.
    """
    if not memo.lookup(("faults", endpoint), lambda: _any_live(conn, endpoint)):
        return None
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN IMMEDIATE")
    try:
        chosen: dict[str, Any] | None = None
        for row in conn.execute(f"{_SELECT} WHERE {_LIVE} ORDER BY id", (endpoint,)).fetchall():
            spec = json.loads(row["spec"])
            if types is not None and spec["type"] not in types:
                continue
            evaluation = row["evaluations"] + 1
            rng = draw(spec["seed"], evaluation)
            fires = rng.random() < spec["probability"]
            conn.execute(
                "UPDATE faults SET evaluations = ?, fired = fired + ? WHERE id = ?",
                (evaluation, int(fires), row["id"]),
            )
            if fires:
                chosen = _resolved(_fault_json(conn.execute(f"{_SELECT} WHERE id = ?", (row["id"],)).fetchone()), rng)
                break
        if own:
            conn.execute("COMMIT")
    except BaseException:
        if own:
            conn.execute("ROLLBACK")
        raise
    return chosen


def handed_over(conn: sqlite3.Connection, raw: Any, *, target: str) -> dict[str, Any] | None:
    """A fault handed over by the scenario engine, normalised, if it fires now; else None.

    ``raw`` is a rule's fault (``target``, ``endpoint`` and ``times`` there are ignored: the caller
    says where it applies and has already decided the rule fires). Its ``probability`` is drawn
    here: with a ``seed``, the n-th evaluation of that same spec draws from
    ``random.Random(f"{seed}:{n}")``, n counted in ``fault_draws``. Raises AdminError when invalid.
    """
    if not isinstance(raw, dict):
        raise _invalid(f"a fault must be an object; got {json.dumps(raw, default=str)}.")
    data = {k: v for k, v in raw.items() if k not in ("endpoint", "target", "times")}
    spec = validate({**data, "target": target}, endpoint_required=False)
    if spec["seed"] is None:
        rng = random.Random()
    else:
        key = json.dumps(spec, sort_keys=True)
        rows = conn.execute(
            "INSERT INTO fault_draws (key, evaluations) VALUES (?, 1)"
            " ON CONFLICT (key) DO UPDATE SET evaluations = evaluations + 1 RETURNING evaluations",
            (key,),
        ).fetchall()
        rng = draw(spec["seed"], int(rows[0][0]))
    return _resolved(spec, rng) if rng.random() < spec["probability"] else None


# --- what a fault does to a body ----------------------------------------------------------------

_GARBAGE = b" =&<<\xe2\x80\x9c]]>&amp;;garbage"


def malformed(body: bytes) -> bytes:
    """The body cut off inside a tag after its middle, then garbage: never well-formed XML."""
    start = body.find(b"<", len(body) // 2)
    if start < 0:
        start = body.rfind(b"<")
    if start < 0:
        return b'<?xml version="1.0"?><cXML><Response><Status code="200"' + _GARBAGE
    return body[: start + 2] + _GARBAGE


def _reserialise(root: etree._Element) -> bytes:
    data: bytes = etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")
    return data


def _parse(body: bytes) -> etree._Element | None:
    """The body's root through the project's one parser; None when it is not XML it accepts."""
    try:
        return parse_document(body).root
    except (CxmlError, ValueError, etree.LxmlError):
        return None


def dtd_invalid(body: bytes) -> bytes | None:
    """The document with ``<SimulatorFault>`` as the root's first child; None when it is not XML."""
    root = _parse(body)
    if root is None:
        return None
    element = etree.Element(FAULT_ELEMENT)
    element.text = "dtd_invalid: this element is declared by no cXML DTD"
    root.insert(0, element)
    return _reserialise(root)


def bad_credentials(body: bytes) -> bytes | None:
    """The Sender's SharedSecret made wrong (its Identity, when it has none); None when not cXML."""
    root = _parse(body)
    if root is None:
        return None
    secrets = root.findall("Header/Sender/Credential/SharedSecret")
    for secret in secrets:
        secret.text = WRONG_SECRET
    if not secrets:
        identities = root.findall("Header/Sender/Credential/Identity")
        if not identities:
            return None
        for identity in identities:
            identity.text = WRONG_IDENTITY
    return _reserialise(root)


def _cut(spec: dict[str, Any], size: int) -> int:
    """How many bytes of a ``size``-byte body a truncate fault sends: always fewer than announced."""
    wanted = spec.get("bytes")
    count = size // 2 if wanted is None else int(wanted)
    return max(0, min(count, max(size, 1) - 1))


def _source(spec: dict[str, Any], default: str) -> str:
    where = f"fault {spec['id']}" if spec.get("id") is not None else default
    return f"{where} {spec['name']!r}" if spec.get("name") else where


def _status_line(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Unknown"


def _phrase(code: int) -> str:
    return _status_line(code).split(" ", 1)[1]


# --- outbound -----------------------------------------------------------------------------------


def outbound(spec: dict[str, Any], body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str], int]:
    """What an outbound fault makes of a document: the body and headers to POST, and how many times.

    ``truncate`` keeps ``Content-Length`` at the whole body's length while the body is cut;
    :func:`post` sees the difference and sends exactly that. ``delay`` and ``out_of_order`` change
    nothing here (the send path waits; the scheduler reorders); ``duplicate`` sends twice.
    """
    headers = dict(headers)
    kind = spec["type"]
    if kind == "malformed":
        body = malformed(body)
    elif kind == "empty":
        body = b""
    elif kind == "truncate":
        headers["Content-Length"] = str(max(len(body), 1))
        body = body[: _cut(spec, len(body))]
    elif kind == "content_type":
        headers["Content-Type"] = str(spec["value"])
    elif kind == "dtd_invalid":
        body = dtd_invalid(body) or body
    elif kind == "bad_credentials":
        body = bad_credentials(body) or body
    elif kind == "duplicate":
        return body, headers, 2
    return body, headers, 1


def _outbound_effect(spec: dict[str, Any], before: bytes, after: bytes) -> str:
    kind = spec["type"]
    if kind == "delay":
        return f"the send was delayed {spec['ms']} ms"
    if kind == "malformed":
        return "the document was cut off inside a tag and followed by garbage (not well-formed XML)"
    if kind == "empty":
        return "an empty body was sent"
    if kind == "truncate":
        announced = max(len(before), 1)
        return f"only {len(after)} of the {announced} bytes announced were sent, then the connection was closed"
    if kind == "content_type":
        return f"sent with Content-Type: {spec['value']}"
    if kind == "dtd_invalid":
        changed = after != before
        return f"<{FAULT_ELEMENT}> was inserted (not valid against the DTD)" if changed else "not applied: not XML"
    if kind == "bad_credentials":
        return "the Sender's credentials were made wrong" if after != before else "not applied: no Sender credential"
    if kind == "duplicate":
        return "the document is sent twice with the same payloadID"
    return f"{kind}: nothing to change in a send"


@dataclass(frozen=True)
class Send:
    """One POST of an outbox row: what to send and the journal advisory saying which fault did what."""

    body: bytes
    headers: dict[str, str]
    note: str | None = None


def outbound_sends(
    conn: sqlite3.Connection, outbox_id: int, body: bytes, headers: dict[str, str], *, timeout: float
) -> list[Send]:
    """The POSTs to make for one attempt of an outbox row: one, unchanged, unless a fault fires.

    The row's own fault (column ``outbox.fault``, set by the scenario engine; every attempt draws
    its probability) applies first, then a stored ``outbound`` fault that fires now. A delay sleeps
    here, at most ``timeout`` seconds. Must not be called inside a transaction. Never raises: a
    fault that cannot be applied is skipped and said so in the journal advisory.
    """
    specs: list[tuple[dict[str, Any], str]] = []
    notes: list[str] = []
    try:
        row = conn.execute("SELECT fault FROM outbox WHERE id = ?", (outbox_id,)).fetchone()
        if row is not None and row["fault"]:
            try:
                own = handed_over(conn, json.loads(row["fault"]), target="outbound")
            except AdminError as exc:
                notes.append(f"Fault (the document's own): not applied: {exc.message}")
            else:
                if own is not None:
                    specs.append((own, _source(own, "the document's own")))
        stored = pick(conn, "outbound", types=SEND_TYPES)
        if stored is not None:
            specs.append((stored, _source(stored, "fault")))
    except Exception:
        log.exception("could not read the outbound faults of outbox row %s; sending it unchanged", outbox_id)
    times, delay_ms = 1, 0
    for spec, source in specs:
        if spec["type"] not in SEND_TYPES:
            continue  # out_of_order: the scheduler's, when the documents are queued
        if spec["type"] == "delay":
            delay_ms += int(spec["ms"])
        before = body
        body, headers, count = outbound(spec, body, headers)
        times = max(times, count)
        notes.append(f"Fault ({source}): {_outbound_effect(spec, before, body)}.")
    if delay_ms:
        time.sleep(min(delay_ms / 1000, timeout))
    note = " ".join(notes) or None
    if times == 1:
        return [Send(body, headers, note)]
    return [Send(body, headers, f"{note} (copy {n} of {times})") for n in range(1, times + 1)]


def post(
    session: requests.Session, url: str, *, data: bytes, headers: dict[str, str], timeout: float, **kwargs: Any
) -> requests.Response:
    """``session.post``, except for a truncated body: its headers announce more than ``data``.

    That one is written on a socket of its own (requests would correct the Content-Length): the
    headers, the bytes there are, then the write side is shut so the buyer reads an incomplete
    body; its answer, if any, is read as usual. Network errors are raised as ``requests`` ones.
    """
    declared = headers.get("Content-Length", "")
    if not declared.isdigit() or int(declared) == len(data):
        return session.post(url, data=data, headers=headers, timeout=timeout, **kwargs)
    parts = urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname or "", parts.port, timeout=timeout)
    try:
        connection.putrequest("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        connection.send(data)
        if connection.sock is not None:
            connection.sock.shutdown(socket.SHUT_WR)
        answer = connection.getresponse()
        content = answer.read(MAX_RESPONSE_BYTES)
    except TimeoutError as exc:
        raise requests.Timeout(exc) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise requests.ConnectionError(exc) from exc
    finally:
        connection.close()
    response = requests.Response()
    response.status_code = answer.status
    response.reason = answer.reason
    response.headers = CaseInsensitiveDict(answer.getheaders())
    response.url = url
    response.raw = io.BytesIO(content)
    return response


# --- inbound ------------------------------------------------------------------------------------


def endpoint_of(path: str, method: str) -> str | None:
    """The fault endpoint a request is for, or None (admin, shop pages, static files …)."""
    method = method.upper()
    if method == "POST":
        if path in ("/punchout", "/punchout/test"):
            return "punchout"
        if path == "/orders" or (path.startswith("/orders/") and "/" not in path[8:] and len(path) > 8):
            return "orders"
        if path == "/cxml":
            return "cxml"
        if path == "/oagis":
            return "oagis"
        if path in ("/shop/checkout", "/shop/return-without-items"):
            return "checkout"
    if path == "/oci" and method in ("GET", "POST"):
        return "oci"
    if method in ("GET", "HEAD") and path.startswith("/start/") and len(path) > 7 and "/" not in path[7:]:
        return "start_page"
    return None


@dataclass
class _Answer:
    """The answer as it is being changed: status, headers, body, and what to do with the socket."""

    status: str
    headers: list[tuple[str, str]]
    body: bytes
    action: str = "send"  # "send" | "reset" | "truncate"
    sent: int = 0  # truncate: body bytes sent
    delay_ms: int = 0
    notes: list[str] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def replace(self, status: int, content_type: str, body: bytes) -> None:
        self.status, self.headers, self.body = _status_line(status), [("Content-Type", content_type)], body


def _envelope(original: bytes) -> Envelope:
    """An envelope like the simulator's own answer's (version, language, payloadID domain)."""
    root = _parse(original) if original.lstrip().startswith(b"<") else None
    domain, version, lang = "amazon.com", build.DEFAULT_VERSION, "en-US"
    if root is not None and root.tag == "cXML":
        domain = (root.get("payloadID") or "").rpartition("@")[2] or domain
        version = root.get("version") or version
        lang = root.get(build.XML_LANG) or lang
    return Envelope(payload_id=payload_id(domain), timestamp=clock.timestamp(), version=version, lang=lang)


_XML_TYPE = "text/xml; charset=UTF-8"


def _apply(spec: dict[str, Any], answer: _Answer, source: str) -> None:
    """Change ``answer`` as the fault says, and note what was done."""
    kind = spec["type"]
    if kind == "delay":
        ms = int(spec["ms"]) if spec.get("ms") is not None else random.randint(spec["min_ms"], spec["max_ms"])
        answer.delay_ms += ms
        effect = f"the answer was delayed {ms} ms"
    elif kind == "http_status":
        status = int(spec["status"])
        if spec.get("cxml_body"):
            text = _phrase(status)
            body = build.status_response(status, text, spec.get("message"), _envelope(answer.body))
            answer.replace(status, _XML_TYPE, body)
            effect = f"answered HTTP {status} with a cXML Status {status} {text}"
        else:
            plain = b"" if status in (204, 304) else f"{_status_line(status)}\n".encode()
            answer.replace(status, "text/plain; charset=utf-8", plain)
            effect = f"answered HTTP {status} without a cXML body"
    elif kind == "cxml_status":
        code, text = int(spec["code"]), str(spec["text"])
        answer.replace(200, _XML_TYPE, build.status_response(code, text, spec.get("message"), _envelope(answer.body)))
        effect = f"answered HTTP 200 with a cXML Status {code} {text}"
    elif kind == "malformed":
        answer.body = malformed(answer.body)
        effect = "the answer was cut off inside a tag and followed by garbage (not well-formed XML)"
    elif kind == "empty":
        answer.replace(200, answer.header("Content-Type") or _XML_TYPE, b"")
        effect = "answered HTTP 200 with an empty body"
    elif kind == "content_type":
        answer.headers = [(k, v) for k, v in answer.headers if k.lower() != "content-type"]
        answer.headers.append(("Content-Type", str(spec["value"])))
        effect = f"the answer was sent with Content-Type: {spec['value']}"
    elif kind == "dtd_invalid":
        changed = dtd_invalid(answer.body)
        answer.body = changed or answer.body
        effect = f"<{FAULT_ELEMENT}> was inserted (not valid against the DTD)" if changed else "not applied: not XML"
    elif kind == "reset":
        answer.action = "reset"
        effect = "the connection was reset (TCP RST); nothing was sent"
    elif kind == "truncate":
        answer.action, answer.sent = "truncate", _cut(spec, len(answer.body))
        effect = (
            f"only {answer.sent} of the {max(len(answer.body), 1)} bytes announced were sent, "
            "then the connection was closed"
        )
    else:
        effect = f"not applied: {kind} is for outbound documents"
    answer.notes.append(f"Fault ({source}): {effect}.")


def _socket(environ: WSGIEnvironment) -> socket.socket | None:
    for key in ("werkzeug.socket", "gunicorn.socket"):
        sock = environ.get(key)
        if isinstance(sock, socket.socket):
            return sock
    return None


def _reset(environ: WSGIEnvironment) -> None:
    """Close the client connection with a TCP RST, leaving the server a dead descriptor to finish on.

    With SO_LINGER (on, 0 s), closing the connection's last descriptor sends RST. ``dup2`` closes it
    and puts one end of a closed socket pair in its place: the server's own socket object stays
    valid, reads EOF and gets EPIPE on a write, which servers treat as a client gone away.
    """
    sock = _socket(environ)
    if sock is None or os.name == "nt":
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        dead, peer = socket.socketpair()
        peer.close()
        try:
            os.dup2(dead.fileno(), sock.fileno())
        finally:
            dead.close()
    except OSError:
        log.warning("could not reset the connection for a reset fault", exc_info=True)


def _truncated(environ: WSGIEnvironment, body: bytes) -> Iterator[bytes]:
    """The bytes there are; then the write side is shut, so the client sees fewer than announced."""
    yield body
    sock = _socket(environ)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)


_RECORD_CAP = 16 * 1024 * 1024
_PAYLOAD_ID = re.compile(rb"<cXML\b[^>]*?\spayloadID\s*=\s*([\"'])(.*?)\1", re.DOTALL)


class _Recorded:
    """``wsgi.input`` as the app reads it, keeping a copy (to find the request's payloadID later)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.data = bytearray()

    def _keep(self, chunk: bytes) -> bytes:
        if len(self.data) < _RECORD_CAP:
            self.data += chunk[: _RECORD_CAP - len(self.data)]
        return chunk

    def read(self, size: int | None = -1) -> bytes:
        return self._keep(self._stream.read() if size is None or size < 0 else self._stream.read(size))

    def readinto(self, buffer: Any) -> int:
        chunk = self._keep(self._stream.read(len(buffer)))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def readline(self, size: int | None = -1) -> bytes:
        return self._keep(self._stream.readline() if size is None or size < 0 else self._stream.readline(size))

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _payload_id_of(body: bytes, content_type: str) -> str | None:
    try:
        xml = unwrap_body(body, content_type, max_bytes=len(body) + 1).xml
    except Exception:
        xml = body
    found = _PAYLOAD_ID.search(xml[:65536])
    return html.unescape(found.group(2).decode("utf-8", "replace")) if found else None


def _cxml_status_of(body: bytes) -> int | None:
    root = _parse(body) if body.lstrip().startswith(b"<") else None
    status = root.find("Response/Status") if root is not None else None
    code = (status.get("code") or "").strip() if status is not None else ""
    return int(code) if code.isdigit() else None


class FaultMiddleware:
    """WSGI middleware applying inbound faults to whatever the app answers (see the module's doc)."""

    def __init__(self, app: WSGIApplication, database_path: Path) -> None:
        self.app = app
        self.database_path = Path(database_path)

    def _pick(self, endpoint: str) -> dict[str, Any] | None:
        try:
            conn = db.shared(self.database_path)
            try:
                return pick(conn, endpoint, types=RESPONSE_TYPES)
            finally:
                conn.close()
        except Exception:
            log.exception("could not read the faults for %s; serving without", endpoint)
            return None

    def _handed_over(self, raw: Any, notes: list[str]) -> tuple[dict[str, Any], str] | None:
        source = "the fault set while serving the request (a scenario rule's)"
        try:
            conn = db.shared(self.database_path)
            try:
                spec = handed_over(conn, raw, target="response")
            finally:
                conn.close()
        except AdminError as exc:
            notes.append(f"Fault ({source}): not applied: {exc.message}")
            return None
        except Exception:
            log.exception("could not evaluate %s", source)
            return None
        return None if spec is None else (spec, _source(spec, source))

    def _journal(self, path: str, answer: _Answer, sent: bytes, request: bytes | None, request_type: str) -> None:
        """The Fault entry; and, for a cXML request, the fault on the request's own entry."""
        broken = answer.action != "send"
        http_status = None if answer.action == "reset" else int(answer.status.split(" ", 1)[0])
        cxml_status = None if broken else _cxml_status_of(sent)
        try:
            conn = db.shared(self.database_path)
            try:
                with db.transaction(conn):
                    found = None
                    request_id = None if request is None else _payload_id_of(request, request_type)
                    if request_id is not None:
                        found = conn.execute(
                            "SELECT id, account_id, session_id, advisories FROM journal"
                            " WHERE direction = 'in' AND endpoint = ? AND payload_id = ? ORDER BY id DESC LIMIT 1",
                            (path, request_id),
                        ).fetchone()
                    if found is not None:
                        conn.execute(
                            "UPDATE journal SET http_status = ?, cxml_status = ?, advisories = ? WHERE id = ?",
                            (
                                http_status,
                                cxml_status,
                                json.dumps([*json.loads(found["advisories"]), *answer.notes]),
                                found["id"],
                            ),
                        )
                    journal.record(
                        conn,
                        journal.Entry(
                            direction="out",
                            doc_type="Fault",
                            endpoint=path,
                            body=sent,
                            account_id=found["account_id"] if found else None,
                            session_id=found["session_id"] if found else None,
                            http_status=http_status,
                            cxml_status=cxml_status,
                            content_type="" if answer.action == "reset" else answer.header("Content-Type") or "",
                            advisories=tuple(answer.notes),
                        ),
                        in_reply_to=found["id"] if found else None,
                    )
            finally:
                conn.close()
        except Exception:
            log.exception("could not journal the fault applied at %s", path)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        endpoint = endpoint_of(path, str(environ.get("REQUEST_METHOD", "GET")))
        cxml = endpoint in ("punchout", "orders", "cxml")
        recorded = None
        if cxml and "wsgi.input" in environ:
            recorded = environ["wsgi.input"] = _Recorded(environ["wsgi.input"])
        captured: list[Any] = []
        written: list[bytes] = []
        forward = False

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if forward:
                return start_response(status, headers, exc_info)
            captured[:] = [status, list(headers)]
            return written.append

        # A cXML request reads accounts, users, faults and scenarios through the memo (memo.py).
        with memo.request(lambda: db.shared(self.database_path)) if cxml else contextlib.nullcontext():
            stored = self._pick(endpoint) if endpoint else None
            result = self.app(environ, capture)
        notes: list[str] = []
        faults: list[tuple[dict[str, Any], str]] = []
        if environ.get(ENVIRON_KEY) is not None:
            handed = self._handed_over(environ[ENVIRON_KEY], notes)
            if handed is not None:
                faults.append(handed)
        if stored is not None:
            faults.append((stored, _source(stored, "fault")))
        if not faults and not notes:
            if not captured:  # the app starts its answer lazily: let it through
                forward = True
                return result
            write = start_response(captured[0], captured[1])
            for chunk in written:
                write(chunk)
            return result
        try:
            chunks = [*written, *result]
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        answer = _Answer(captured[0], captured[1], b"".join(chunks), notes=notes)
        for spec, source in faults:
            try:
                _apply(spec, answer, source)
            except Exception:
                log.exception("could not apply %s at %s; skipped", source, path)
        if answer.delay_ms:
            time.sleep(answer.delay_ms / 1000)
        body = answer.body
        headers = [(k, v) for k, v in answer.headers if k.lower() not in ("content-length", "transfer-encoding")]
        headers.append(("Content-Length", str(max(len(body), 1) if answer.action == "truncate" else len(body))))
        if answer.action == "truncate":  # a fault applied after it may have shortened the body
            answer.sent = min(answer.sent, max(len(body) - 1, 0))
        sent = b"" if answer.action == "reset" else body[: answer.sent] if answer.action == "truncate" else body
        request = None if recorded is None else bytes(recorded.data)
        self._journal(path, answer, sent, request, str(environ.get("CONTENT_TYPE", "")))
        if answer.action == "reset":
            _reset(environ)
            raise ConnectionResetError(errno.ECONNRESET, f"connection reset on purpose (fault at {path})")
        start_response(answer.status, headers)
        if answer.action == "truncate":
            return _truncated(environ, sent)
        return [body]
