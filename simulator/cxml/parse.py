"""The project's one XML parser, and the unwrapping of the ways buyers send a cXML body.

Safety: entities are never resolved, the DOCTYPE's DTD is never loaded or fetched, no network is
touched, and bodies above a size limit are refused before parsing (protocol.md §10).

Entity declarations are refused with cXML 406 (docs/security.md, "Hostile input"): a bounded scan of
the prolog finds them before lxml sees the document, and lxml's own view of the internal subset
(``docinfo.internalDTD``) is checked after parsing, so a declaration the scan missed is refused too.
The one exception is a parameter entity whose value is plain text, as in the cXML specification's own
sample (``<!ENTITY % SGML-help "INCLUDE">``): it only switches sections of the DTD, which is never
loaded, so it is accepted and never expanded. General entities (even plain text), external entities
(SYSTEM, PUBLIC, NDATA) and entities whose value holds markup or references are refused.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from lxml import etree

from ..errors import NotAcceptable, RequestTooLarge

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
FORM_FIELDS = ("cxml-urlencoded", "cxml-base64")

_DOCTYPE_URL = re.compile(r"/(?P<version>\d+\.\d+\.\d+)/(?P<dtd>[A-Za-z]+)\.dtd\s*$")
_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_DECLARED_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""", re.IGNORECASE)
_BOM = b"\xef\xbb\xbf"
MAX_PARAMETER_ENTITIES = 16  # plain-text ones, accepted and never expanded
MAX_DEPTH = 256  # libxml2's nesting limit without XML_PARSE_HUGE: deeper documents are refused

# UTF-16/32 bodies, by their byte-order mark or their first character "<" (XML 1.0, appendix F)
_WIDE = (
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\xfe\xff", "utf-16"),
    (b"\xff\xfe", "utf-16"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00", "utf-16-be"),
    (b"<\x00", "utf-16-le"),
)
_SPACE = re.compile(rb"[ \t\r\n]*")
_DOCTYPE_STOP = re.compile(rb"[\"'\[>]")
_SUBSET_TOKEN = re.compile(rb"<!--|<\?|<!ENTITY|[\"'\]]")
_ENTITY_DECL = re.compile(
    rb"<!ENTITY\s+(?P<pe>%\s+)?(?P<name>[^\s\"'%;<>&]+)\s+"
    rb"(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'|(?P<external>(?:SYSTEM|PUBLIC)\b[^>]{0,200}))"
)
_NOT_PLAIN = re.compile(r"[&%<]")
_LIBXML_POSITION = re.compile(r"\s*,\s*line \d+, column \d+$")  # the line is said once, up front


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
    )


@dataclass(frozen=True)
class Document:
    """A parsed cXML document and what its prolog says."""

    root: etree._Element
    raw: bytes
    doctype_url: str | None
    dtd_name: str | None  # "cXML", "Fulfill", "InvoiceDetail" … from the DOCTYPE
    dtd_version: str | None  # "1.2.069" … from the DOCTYPE
    envelope_version: str | None  # the root's version attribute

    @property
    def declared_version(self) -> str | None:
        return self.dtd_version or self.envelope_version


@dataclass(frozen=True)
class Unwrapped:
    """The XML bytes of a request and how they came (raw body or a form field)."""

    xml: bytes
    transport: str  # "raw" | "cxml-urlencoded" | "cxml-base64"


def unwrap_body(
    body: bytes,
    content_type: str | None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Unwrapped:
    """Find the cXML in a request body: a raw XML body, or a form with a cxml-* field.

    Any content type is accepted (buyers send text/xml, application/xml, none at all); a form post
    is recognised by its content type or by a body that starts with ``cxml-urlencoded=``.
    """
    if len(body) > max_bytes:
        raise RequestTooLarge(
            f"The request body is {len(body)} bytes; this simulator accepts at most {max_bytes} bytes "
            "(set --max-body-bytes or PUNCHOUT_SIM_MAX_BODY_BYTES to change it)."
        )
    ctype = (content_type or "").split(";")[0].strip().lower()
    head = body.lstrip()[:20].lower()
    if ctype == "multipart/form-data":
        raise NotAcceptable(
            "multipart/form-data bodies are not read here: post the cXML as the body "
            "(text/xml) or as an application/x-www-form-urlencoded field cxml-urlencoded or cxml-base64."
        )
    if ctype == "application/x-www-form-urlencoded" or head.startswith((b"cxml-urlencoded=", b"cxml-base64=")):
        return _unwrap_form(body)
    return Unwrapped(body, "raw")


def _unwrap_form(body: bytes) -> Unwrapped:
    try:
        pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    except ValueError as exc:
        raise NotAcceptable(f"The form body could not be decoded: {exc}.") from exc
    fields = {name.strip().lower(): value for name, value in pairs}
    if "cxml-base64" in fields:
        try:
            xml = base64.b64decode(fields["cxml-base64"].encode("latin-1"), validate=False)
        except (binascii.Error, ValueError) as exc:
            raise NotAcceptable(f"The cxml-base64 field is not valid Base64: {exc}.") from exc
        return Unwrapped(xml, "cxml-base64")
    if "cxml-urlencoded" in fields:
        # parse_qsl decoded the percent-escapes into latin-1 characters; these are the original bytes.
        return Unwrapped(fields["cxml-urlencoded"].encode("latin-1"), "cxml-urlencoded")
    names = ", ".join(sorted(fields)) or "none"
    raise NotAcceptable(f"The form post has no cxml-urlencoded or cxml-base64 field (fields found: {names}).")


def parse_document(xml: bytes, *, charset: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """Parse cXML bytes safely. Raises NotAcceptable (406) with the line number on bad XML."""
    if len(xml) > max_bytes:
        raise RequestTooLarge(
            f"The cXML document is {len(xml)} bytes; this simulator accepts at most {max_bytes} bytes."
        )
    data = xml[len(_BOM) :] if xml.startswith(_BOM) else xml
    if not data.strip():
        raise NotAcceptable("The request body is empty: expected a cXML document.")
    allowed = _scan_prolog(data)
    parser = _parser()
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as first:
        # an encoding neither libxml2 nor Python knows is refused, not guessed at
        unknown = str(first.msg).startswith("Unsupported encoding") and not _python_reads_declared(data)
        recoded = None if unknown else _recode(data, charset)
        if recoded is None:
            raise _syntax_error(first, data, charset) from first
        parser = _parser()
        try:
            root = etree.fromstring(recoded, parser)
        except etree.XMLSyntaxError as second:
            raise _syntax_error(second, data, charset) from second
        data = recoded
    if root is None:
        raise NotAcceptable("The request body holds no XML element.")
    docinfo = root.getroottree().docinfo
    _check_declared_entities(docinfo.internalDTD, allowed)
    _check_undeclared_references(parser.error_log)
    url = docinfo.system_url
    dtd_name = dtd_version = None
    if url:
        match = _DOCTYPE_URL.search(url)
        if match:
            dtd_name, dtd_version = match.group("dtd"), match.group("version")
    return Document(
        root=root,
        raw=data,
        doctype_url=url,
        dtd_name=dtd_name,
        dtd_version=dtd_version,
        envelope_version=root.get("version"),
    )


def _python_reads_declared(data: bytes) -> bool:
    """Whether Python has a codec for the encoding the XML declaration names (libxml2 lacks "latin-1")."""
    declared = _DECLARED_ENCODING.search(data[:200])
    if declared is None:
        return False
    try:
        codecs.lookup(declared.group(1).decode())
    except LookupError:
        return False
    return True


def _recode(data: bytes, charset: str | None) -> bytes | None:
    """Retry with another encoding: the HTTP charset, the declared one, or Windows-1252.

    Buyers sometimes declare UTF-8 and send Latin-1, or send no declaration at all.
    """
    declared = _DECLARED_ENCODING.search(data[:200])
    candidates = [c for c in (charset, declared.group(1).decode() if declared else None, "cp1252") if c]
    for candidate in candidates:
        try:
            text = data.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
        body = _DECLARATION.sub(b"", text.encode("utf-8"), count=1)
        if body != data:
            return body
    return None


def _prolog_bytes(data: bytes) -> bytes:
    """The body as bytes an ASCII scan can read: UTF-16/32 decoded to UTF-8, anything else as it is."""
    for mark, codec in _WIDE:
        if data.startswith(mark):
            return data.decode(codec, errors="replace").encode("utf-8")
    return data


def _scan_prolog(data: bytes) -> dict[str, str]:
    """Refuse the entity declarations of the DOCTYPE's internal subset before parsing.

    A bounded walk over the prolog (XML declaration, comments, processing instructions, the DOCTYPE)
    that stops at the end of the internal subset or at the first thing that is none of these; it
    reads declarations only as far as their name and value. Returns the plain-text parameter
    entities it accepts (name → value), which the check after parsing expects to find.
    """
    text = _prolog_bytes(data)
    pos = 0
    while True:
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]  # [ \t\r\n]* always matches
        if text.startswith(b"<?", pos):
            end, closing = text.find(b"?>", pos + 2), 2
        elif text.startswith(b"<!--", pos):
            end, closing = text.find(b"-->", pos + 4), 3
        elif text.startswith(b"<!DOCTYPE", pos):
            break
        else:
            return {}
        if end < 0:
            return {}
        pos = end + closing
    # the DOCTYPE's name and external id, up to "[" (an internal subset) or ">" (none)
    pos += len(b"<!DOCTYPE")
    while True:
        stop = _DOCTYPE_STOP.search(text, pos)
        if stop is None or stop.group() == b">":
            return {}
        if stop.group() == b"[":
            break
        pos = _after_quote(text, stop.start())
        if pos < 0:
            return {}
    return _scan_subset(text, stop.end())


def _after_quote(text: bytes, start: int) -> int:
    """The position after the literal that starts with a quote at ``start`` (-1: never closed)."""
    end = text.find(text[start : start + 1], start + 1)
    return end + 1 if end >= 0 else -1


def _scan_subset(text: bytes, pos: int) -> dict[str, str]:
    allowed: dict[str, str] = {}
    while True:
        token = _SUBSET_TOKEN.search(text, pos)
        if token is None or token.group() == b"]":
            return allowed
        kind = token.group()
        if kind == b"<!--":
            end = text.find(b"-->", token.end())
            pos = end + 3 if end >= 0 else -1
        elif kind == b"<?":
            end = text.find(b"?>", token.end())
            pos = end + 2 if end >= 0 else -1
        elif kind in (b'"', b"'"):
            pos = _after_quote(text, token.start())
        else:
            name, value = _entity_declaration(text, token.start())
            allowed[name] = value
            if len(allowed) > MAX_PARAMETER_ENTITIES:
                raise NotAcceptable(
                    f"The request's DOCTYPE declares more than {MAX_PARAMETER_ENTITIES} parameter entities: the "
                    "simulator accepts a few plain-text ones (the cXML specification's sample has one), never "
                    "expanded. Remove the internal subset [ … ] from the DOCTYPE."
                )
            pos = token.start() + len(b"<!ENTITY")
        if pos < 0:
            return allowed


def _entity_declaration(text: bytes, start: int) -> tuple[str, str]:
    """The name and value of an acceptable entity declaration at ``start``; any other is refused."""
    decl = _ENTITY_DECL.match(text, start)
    if decl is None:
        excerpt = text[start : start + 60].decode("utf-8", errors="replace")
        raise NotAcceptable(
            f"The request's DOCTYPE declares an entity the simulator cannot read ({excerpt!r}…): entity "
            "declarations are refused. Remove the internal subset [ … ] from the DOCTYPE."
        )
    name = decl.group("name").decode("utf-8", errors="replace")
    if decl.group("external"):
        raise NotAcceptable(
            f"The request's DOCTYPE declares the external entity '{name}' ({_external_id(decl.group('external'))}): "
            "the simulator never reads files or fetches URLs named in a document, and refuses external "
            "entities. Remove the declaration from the DOCTYPE."
        )
    raw = decl.group("dq") if decl.group("dq") is not None else decl.group("sq")
    value = raw.decode("utf-8", errors="replace")
    if not decl.group("pe"):
        raise _general_entity(name)
    if _NOT_PLAIN.search(value):
        raise _unplain_parameter_entity(name)
    return name, value


def _external_id(raw: bytes) -> str:
    return " ".join(raw.decode("utf-8", errors="replace").split())


def _general_entity(name: str) -> NotAcceptable:
    return NotAcceptable(
        f"The request's DOCTYPE declares the entity '{name}': the simulator refuses entity declarations "
        "(they are how XML bombs and external-entity attacks work, and cXML needs none). Write the text "
        "itself where the entity is used, and remove the internal subset [ … ] from the DOCTYPE."
    )


def _unplain_parameter_entity(name: str) -> NotAcceptable:
    return NotAcceptable(
        f"The request's DOCTYPE declares the parameter entity '{name}' with a value that holds markup or "
        "references (&, %, <): the simulator accepts only plain-text parameter entities, such as the cXML "
        'specification\'s <!ENTITY % SGML-help "INCLUDE">, and never expands them. Remove the declaration.'
    )


def _check_declared_entities(dtd: etree.DTD | None, allowed: dict[str, str]) -> None:
    """After parsing: every entity lxml saw in the internal subset must be one the scan accepted."""
    if dtd is None:
        return
    for entity in dtd.iterentities():
        name = str(entity.name)
        if entity.system_url is not None:
            raise NotAcceptable(
                f"The request's DOCTYPE declares the external entity '{name}' ({entity.system_url}): the "
                "simulator never reads files or fetches URLs named in a document, and refuses external "
                "entities. Remove the declaration from the DOCTYPE."
            )
        if allowed.get(name) != entity.orig:
            raise _general_entity(name)


def _check_undeclared_references(log: etree._ListErrorLog) -> None:
    """A reference to an entity the document does not declare (possible with an external DTD, which is
    never loaded) would silently lose its text: refused, with the line."""
    for entry in log:
        if entry.type_name == "WAR_UNDECLARED_ENTITY":
            raise NotAcceptable(
                f"The request refers to an entity it does not declare (line {entry.line}: {entry.message}): "
                "the simulator never loads the DTD, so it cannot know the entity's text. Write the text itself "
                "(only &amp; &lt; &gt; &quot; &apos; and character references such as &#233; are understood)."
            )


def _syntax_error(exc: etree.XMLSyntaxError, data: bytes, charset: str | None) -> NotAcceptable:
    line = exc.lineno or (exc.position[0] if exc.position else 0)
    message = _LIBXML_POSITION.sub("", " ".join(str(exc.msg if hasattr(exc, "msg") else exc).split()))
    if message.startswith("Excessive depth in document"):
        return NotAcceptable(
            f"The request nests elements more than {MAX_DEPTH} levels deep (line {line}): the simulator "
            "refuses such documents; a cXML document needs far fewer levels."
        )
    if "entity amplification" in message or "entity reference loop" in message:
        return NotAcceptable(
            f"The request's entities would expand without bound (line {line}: {message.split(',')[0]}): "
            "the simulator refuses entity declarations. Remove the internal subset [ … ] from the DOCTYPE."
        )
    if message.startswith("Unsupported encoding"):
        return NotAcceptable(
            f"The request is in a character encoding the simulator cannot read ({message.split(',')[0].strip()}): "
            "send UTF-8 (or UTF-16, ISO-8859-1, Windows-1252), and say which in <?xml … encoding=…?>."
        )
    if message.startswith("Invalid bytes in character encoding"):
        declared = _DECLARED_ENCODING.search(data[:200])
        said = charset or (declared.group(1).decode() if declared else "UTF-8")
        return NotAcceptable(
            f"The request is not valid {said} text (line {line}): it holds a byte sequence that is not "
            f"{said}, and it does not read as Windows-1252 either. Send UTF-8, or declare the encoding the "
            "body is really in (<?xml … encoding=…?> or the HTTP charset)."
        )
    return NotAcceptable(f"The request is not well-formed XML (line {line}): {message}")
