"""Hostile XML at the cXML endpoints: every payload of ``payloads/`` gets its cXML answer, fast and small.

Each payload is a PunchOutSetupRequest of the demo account with one hostile part. ``@TRAP@`` stands for
a real HTTP server on loopback that records every request it gets, ``@SECRET@`` for a named pipe
whose opening is noticed (a file that is read, even once, shows up). Every test asserts the exact
HTTP status, the cXML Status code, text and message, that the answer is valid cXML, that it came
within a time bound without growing the process's peak memory much, and that nothing was fetched
from the network or read from disk.
"""

from __future__ import annotations

import errno
import os
import resource
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
from flask import Flask
from flask.testing import FlaskClient

from simulator import create_app
from simulator.config import Config
from simulator.cxml.validate import DtdRegistry

from ..helpers import assert_valid, setup_request, start_url, status_of

PAYLOADS = Path(__file__).parent / "payloads"
SECONDS = 2.0  # per request, on a busy two-core machine; each takes milliseconds
PEAK_GROWTH_KB = 64 * 1024  # the process's peak resident memory may grow by 64 MB at most
MARKER = "TOP-SECRET-7c1f"  # what the named pipe hands to whoever opens it

ENTITY = (
    "The request's DOCTYPE declares the entity '{}': the simulator refuses entity declarations (they are how "
    "XML bombs and external-entity attacks work, and cXML needs none). Write the text itself where the entity "
    "is used, and remove the internal subset [ … ] from the DOCTYPE."
)
EXTERNAL = (
    "The request's DOCTYPE declares the external entity '{}' ({}): the simulator never reads files or fetches "
    "URLs named in a document, and refuses external entities. Remove the declaration from the DOCTYPE."
)
PARAMETER = (
    "The request's DOCTYPE declares the parameter entity '{}' with a value that holds markup or references "
    "(&, %, <): the simulator accepts only plain-text parameter entities, such as the cXML specification's "
    '<!ENTITY % SGML-help "INCLUDE">, and never expands them. Remove the declaration.'
)
ENCODING = (
    "The request is in a character encoding the simulator cannot read (Unsupported encoding: {}): send UTF-8 "
    "(or UTF-16, ISO-8859-1, Windows-1252), and say which in <?xml … encoding=…?>."
)


@dataclass(frozen=True)
class Refused:
    message: str  # the exact Status message; "@SECRET@" and "@TRAP@" are filled in


@dataclass(frozen=True)
class Served:
    """Accepted as an ordinary PunchOutSetupRequest: a StartPage, nothing fetched or read."""

    name: str = "Buyer HQ"  # what ShipTo/Address/Name reads as (encodings)


EXPECTED: dict[str, Refused | Served] = {
    # external entities: refused before parsing, nothing read or fetched
    "xxe-file-general.xml": Refused(EXTERNAL.format("xxe", 'SYSTEM "file://@SECRET@"')),
    "xxe-http-general.xml": Refused(EXTERNAL.format("xxe", 'SYSTEM "@TRAP@/xxe.txt"')),
    "xxe-public-id.xml": Refused(EXTERNAL.format("xxe", 'PUBLIC "-//Hostile//XXE//EN" "@TRAP@/public.txt"')),
    "xxe-in-attribute-default.xml": Refused(EXTERNAL.format("xxe", 'SYSTEM "file://@SECRET@"')),
    "xxe-utf16.xml": Refused(EXTERNAL.format("xxe", 'SYSTEM "file://@SECRET@"')),
    "unparsed-entity-ndata.xml": Refused(EXTERNAL.format("leak", 'SYSTEM "file://@SECRET@" NDATA txt')),
    "parameter-entity-http.xml": Refused(EXTERNAL.format("ext", 'SYSTEM "@TRAP@/ext.dtd"')),
    "parameter-entity-file.xml": Refused(EXTERNAL.format("ext", 'SYSTEM "file://@SECRET@"')),
    "oob-exfiltration.xml": Refused(EXTERNAL.format("data", 'SYSTEM "file://@SECRET@"')),
    "entity-after-comment-with-bracket.xml": Refused(EXTERNAL.format("xxe", 'SYSTEM "file://@SECRET@"')),
    "entity-after-prolog-comments.xml": Refused(EXTERNAL.format("xxe", 'SYSTEM "@TRAP@/late.txt"')),
    # parameter entities that would declare or reference something
    "parameter-entity-markup.xml": Refused(PARAMETER.format("decl")),
    "parameter-entity-char-ref.xml": Refused(PARAMETER.format("decl")),
    "billion-laughs-parameter.xml": Refused(PARAMETER.format("a1")),
    "many-parameter-entities.xml": Refused(
        "The request's DOCTYPE declares more than 16 parameter entities: the simulator accepts a few plain-text "
        "ones (the cXML specification's sample has one), never expanded. Remove the internal subset [ … ] from "
        "the DOCTYPE."
    ),
    # general entities, bombs or not
    "billion-laughs.xml": Refused(ENTITY.format("lol")),
    "quadratic-blowup.xml": Refused(ENTITY.format("a")),
    "entity-reference-loop.xml": Refused(ENTITY.format("a")),
    "general-entity-plain-text.xml": Refused(ENTITY.format("company")),
    "entity-mixed-with-sgml-help.xml": Refused(ENTITY.format("company")),
    "undefined-entity-reference.xml": Refused(
        "The request refers to an entity it does not declare (line 14: Entity 'undeclared' not defined): the "
        "simulator never loads the DTD, so it cannot know the entity's text. Write the text itself (only &amp; "
        "&lt; &gt; &quot; &apos; and character references such as &#233; are understood)."
    ),
    # nesting
    "deep-nesting-10000.xml": Refused(
        "The request nests elements more than 256 levels deep (line 13): the simulator refuses such documents; "
        "a cXML document needs far fewer levels."
    ),
    "deep-nesting-100.xml": Served(),
    # encodings
    "invalid-byte-0x81.xml": Refused(
        "The request is not valid UTF-8 text (line 14): it holds a byte sequence that is not UTF-8, and it does "
        "not read as Windows-1252 either. Send UTF-8, or declare the encoding the body is really in "
        "(<?xml … encoding=…?> or the HTTP charset)."
    ),
    "unsupported-encoding.xml": Refused(ENCODING.format("x-hostile-7")),
    "ebcdic.xml": Refused(ENCODING.format("detecting EBCDIC")),
    "utf16-truncated.xml": Refused("The request is not well-formed XML (line 1): Start tag expected, '<' not found"),
    "nul-byte.xml": Refused(
        "The request is not well-formed XML (line 14): Invalid character: Char 0x0 out of allowed range"
    ),
    "utf16le-bom.xml": Served("Büyer HQ"),
    "utf16be-no-bom.xml": Served("Büyer HQ"),
    "utf32-bom.xml": Served("Büyer HQ"),
    "latin1-labelled-utf8.xml": Served("Büyer HQ"),  # read as Windows-1252, as buyers' Latin-1 bodies are
    "utf16-declared-utf8-sent.xml": Served(),  # the declaration is wrong; the bytes read as Windows-1252
    # never fetched, never included, never transformed: the document is served as it is
    "external-dtd-http.xml": Served(),
    "external-dtd-file.xml": Served(),
    "external-dtd-public-versioned.xml": Served(),
    "xinclude-file.xml": Served(),
    "xinclude-http.xml": Served(),
    "xsl-stylesheet-pi.xml": Served(),
    "sgml-help-parameter-entity.xml": Served(),  # the cXML specification's own internal subset
    "entity-text-in-cdata.xml": Served(),  # declarations as text in CDATA are text
}


class Trap:
    """A real HTTP server on loopback that answers every request and records it."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                outer.requests.append(f"{self.command} {self.path}")
                body = b'<!ENTITY leak "FETCHED">'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_HEAD = _record

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class DiskTrap:
    """A named pipe: whoever opens it to read is noticed (the watcher's non-blocking open for writing
    succeeds only while a reader has it open) and gets ``MARKER``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        os.mkfifo(path)
        self.opened = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.002):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # no reader
                    continue
                raise
            self.opened += 1
            try:
                os.write(fd, MARKER.encode())
            finally:
                os.close(fd)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(2)


@pytest.fixture
def trap() -> Iterator[Trap]:
    server = Trap()
    yield server
    server.stop()


@pytest.fixture
def disk_trap(tmp_path: Path) -> Iterator[DiskTrap]:
    watcher = DiskTrap(tmp_path / "secret.txt")
    yield watcher
    watcher.stop()


def test_the_traps_notice_a_fetch_and_a_read(trap: Trap, disk_trap: DiskTrap) -> None:
    """The traps work: without them the other tests could not fail."""
    import urllib.request

    with urllib.request.urlopen(f"{trap.url}/probe", timeout=5) as answer:
        assert answer.read() == b'<!ENTITY leak "FETCHED">'
    assert trap.requests == ["GET /probe"]
    assert disk_trap.path.read_text() == MARKER
    assert disk_trap.opened == 1


def fill(template: str, trap: Trap, disk_trap: DiskTrap) -> str:
    return template.replace("@TRAP@", trap.url).replace("@SECRET@", str(disk_trap.path))


def payload(name: str, trap: Trap, disk_trap: DiskTrap) -> bytes:
    """The payload file with its placeholders filled in (in its own encoding)."""
    data = (PAYLOADS / name).read_bytes()
    for bom, codec in ((b"\xff\xfe\x00\x00", "utf-32"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            try:
                return fill(data.decode(codec), trap, disk_trap).encode(codec)
            except UnicodeDecodeError:  # a truncated body stays as it is
                return data
    return fill(data.decode("latin-1"), trap, disk_trap).encode("latin-1")


@dataclass(frozen=True)
class Timed:
    status: int
    content_type: str
    body: bytes
    seconds: float
    peak_growth_kb: int


def post(client: FlaskClient, path: str, data: bytes, content_type: str = "text/xml") -> Timed:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    response = client.post(path, data=data, content_type=content_type)
    seconds = time.monotonic() - started
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
    return Timed(response.status_code, response.content_type or "", response.data, seconds, growth)


def assert_cxml_answer(answer: Timed, dtds: DtdRegistry, http: int = 200) -> tuple[int, str, str]:
    assert answer.status == http
    assert answer.content_type == "text/xml; charset=UTF-8"
    assert answer.seconds < SECONDS, f"{answer.seconds:.2f} s"
    assert answer.peak_growth_kb < PEAK_GROWTH_KB, f"peak memory grew by {answer.peak_growth_kb} kB"
    assert b"Traceback" not in answer.body
    assert_valid(answer.body, dtds)
    return status_of(answer.body)


def test_every_payload_has_an_expectation() -> None:
    files = sorted(p.name for p in PAYLOADS.iterdir())
    assert files == sorted(EXPECTED)
    assert len(files) >= 25


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_payload(
    name: str, client: FlaskClient, dtds: DtdRegistry, trap: Trap, disk_trap: DiskTrap, tmp_path: Path
) -> None:
    answer = post(client, "/punchout", payload(name, trap, disk_trap))
    code, text, message = assert_cxml_answer(answer, dtds)
    expected = EXPECTED[name]
    if isinstance(expected, Refused):
        assert (code, text, message) == (406, "Not Acceptable", fill(expected.message, trap, disk_trap))
    else:
        assert (code, text, message) == (200, "OK", "")
        session = client.get(start_url(answer.body))  # the shop opens, with what the document said
        assert session.status_code == 303
    journal = client.get("/__admin/journal?direction=in").get_json()["items"][0]
    assert (journal["endpoint"], journal["cxml_status"]) == ("/punchout", code)
    assert trap.requests == [], "the simulator fetched a URL named in the document"
    assert disk_trap.opened == 0, "the simulator opened a file named in the document"
    assert MARKER not in answer.body.decode() and "FETCHED" not in answer.body.decode()
    assert b"lollol" not in answer.body and b"AAAAAAAA" not in answer.body  # nothing expanded


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if isinstance(e, Served)))
def test_served_payload_reads_as_sent(name: str, app: Flask, trap: Trap, disk_trap: DiskTrap) -> None:
    """What the accepted payloads say arrives intact (encodings decoded, nothing included or lost)."""
    from simulator.cxml.parse import parse_document

    expected = EXPECTED[name]
    assert isinstance(expected, Served)
    document = parse_document(payload(name, trap, disk_trap))
    assert document.root.findtext("Request/PunchOutSetupRequest/ShipTo/Address/Name") == expected.name
    assert document.root.findtext("Header/Sender/Credential/Identity") == "DEMO-BUYER"
    assert trap.requests == [] and disk_trap.opened == 0


@pytest.mark.parametrize("endpoint", ["/punchout/test", "/cxml", "/orders", "/orders/demo"])
def test_every_cxml_endpoint_refuses_a_bomb(
    endpoint: str, client: FlaskClient, dtds: DtdRegistry, trap: Trap, disk_trap: DiskTrap
) -> None:
    answer = post(client, endpoint, payload("billion-laughs.xml", trap, disk_trap))
    assert assert_cxml_answer(answer, dtds) == (406, "Not Acceptable", ENTITY.format("lol"))


@pytest.mark.parametrize("field", ["cxml-urlencoded", "cxml-base64"])
def test_an_external_entity_in_a_form_field_is_refused(
    field: str, client: FlaskClient, dtds: DtdRegistry, trap: Trap, disk_trap: DiskTrap
) -> None:
    import base64

    xml = payload("xxe-http-general.xml", trap, disk_trap)
    value = base64.b64encode(xml).decode() if field == "cxml-base64" else xml.decode()
    body = f"{field}={quote_plus(value)}".encode()
    answer = post(client, "/cxml", body, "application/x-www-form-urlencoded")
    assert assert_cxml_answer(answer, dtds) == (
        406,
        "Not Acceptable",
        EXTERNAL.format("xxe", f'SYSTEM "{trap.url}/xxe.txt"'),
    )
    assert trap.requests == []


def test_oagis_refuses_an_external_entity_with_a_confirm_bod(
    client: FlaskClient, trap: Trap, disk_trap: DiskTrap
) -> None:
    from lxml import etree

    answer = post(client, "/oagis", payload("oob-exfiltration.xml", trap, disk_trap))
    assert (answer.status, answer.content_type) == (400, "text/xml; charset=UTF-8")
    assert answer.seconds < SECONDS
    root = etree.fromstring(answer.body, etree.XMLParser(resolve_entities=False, no_network=True))
    ns = {"o": "http://www.openapplications.org/oagis/9"}
    assert root.findtext(".//o:ErrorProcessMessage/o:Description", namespaces=ns) == EXTERNAL.format(
        "data", f'SYSTEM "file://{disk_trap.path}"'
    )
    assert trap.requests == [] and disk_trap.opened == 0


def _padded(size: int) -> bytes:
    """A valid setup request of exactly ``size`` bytes (a comment pads it)."""
    xml = setup_request()
    pad = size - len(xml) - len(b"<!---->")
    assert pad >= 0
    return xml + b"<!--" + b"p" * pad + b"-->"


@pytest.fixture
def small_limit_client(config: Config) -> FlaskClient:
    return create_app(config.with_overrides(max_body_bytes=4096)).test_client()


def test_a_body_at_the_size_limit_is_served(small_limit_client: FlaskClient, dtds: DtdRegistry) -> None:
    answer = post(small_limit_client, "/punchout", _padded(4096))
    assert assert_cxml_answer(answer, dtds) == (200, "OK", "")


@pytest.mark.parametrize("endpoint", ["/punchout", "/cxml", "/orders"])
def test_a_body_one_byte_over_the_limit_gets_413(
    endpoint: str, small_limit_client: FlaskClient, dtds: DtdRegistry
) -> None:
    answer = post(small_limit_client, endpoint, _padded(4097))
    assert assert_cxml_answer(answer, dtds, http=413) == (
        413,
        "Request Entity Too Large",
        "The request body is larger than 4096 bytes, the most this simulator accepts "
        "(set --max-body-bytes or PUNCHOUT_SIM_MAX_BODY_BYTES to change it).",
    )


def test_a_one_megabyte_attribute_is_served_in_bounded_time(client: FlaskClient, dtds: DtdRegistry) -> None:
    huge = "p" * (1 << 20)
    xml = setup_request().replace(b'payloadID="1700000000.1@buyer.test"', f'payloadID="{huge}@buyer.test"'.encode())
    answer = post(client, "/punchout", xml)
    assert assert_cxml_answer(answer, dtds) == (200, "OK", "")
    journal = client.get("/__admin/journal?direction=in").get_json()["items"][0]
    assert journal["payload_id"] == f"{huge}@buyer.test"


def test_a_one_megabyte_attribute_over_a_small_limit_gets_413(
    small_limit_client: FlaskClient, dtds: DtdRegistry
) -> None:
    xml = setup_request().replace(b"<BuyerCookie>", b'<BuyerCookie junk="' + b"j" * (1 << 20) + b'">')
    answer = post(small_limit_client, "/punchout", xml)
    assert assert_cxml_answer(answer, dtds, http=413) == (
        413,
        "Request Entity Too Large",
        "The request body is larger than 4096 bytes, the most this simulator accepts "
        "(set --max-body-bytes or PUNCHOUT_SIM_MAX_BODY_BYTES to change it).",
    )


def test_the_check_after_parsing_refuses_what_the_scan_did_not_see() -> None:
    """Two layers: the prolog scan, then lxml's own list of the internal subset's entities."""
    from lxml import etree

    from simulator.cxml import parse
    from simulator.errors import NotAcceptable

    xml = b'<!DOCTYPE cXML [<!ENTITY % SGML-help "INCLUDE"><!ENTITY x SYSTEM "http://127.0.0.1:9/x">]><cXML/>'
    dtd = etree.fromstring(xml, parse._parser()).getroottree().docinfo.internalDTD
    with pytest.raises(NotAcceptable) as external:
        parse._check_declared_entities(dtd, {"SGML-help": "INCLUDE"})
    assert external.value.message == EXTERNAL.format("x", "http://127.0.0.1:9/x")
    plain = b'<!DOCTYPE cXML [<!ENTITY % SGML-help "INCLUDE">]><cXML/>'
    dtd = etree.fromstring(plain, parse._parser()).getroottree().docinfo.internalDTD
    parse._check_declared_entities(dtd, {"SGML-help": "INCLUDE"})  # what the scan accepted
    with pytest.raises(NotAcceptable) as unseen:
        parse._check_declared_entities(dtd, {})  # a declaration the scan did not see is refused
    assert unseen.value.message == ENTITY.format("SGML-help")


def test_the_cxml_specification_sample_with_an_internal_subset_is_read(samples: Path) -> None:
    from simulator.cxml.parse import parse_document

    document = parse_document((samples / "order_request" / "cxmlspec-sgml-1.xml").read_bytes())
    assert document.root.findtext("Request/OrderRequest/OrderRequestHeader/Total/Money") == "2.68"
    assert (document.dtd_name, document.dtd_version) == ("cXML", "1.1.010")
