"""The project's one XML parser, and the unwrapping of the ways buyers send a cXML body.

Safety: entities are never resolved, the DOCTYPE's DTD is never loaded or fetched, no network is
touched, and bodies above a size limit are refused before parsing (protocol.md §10).
"""

from __future__ import annotations

import base64
import binascii
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
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as first:
        recoded = _recode(data, charset)
        if recoded is None:
            raise _syntax_error(first) from first
        try:
            root = etree.fromstring(recoded, _parser())
        except etree.XMLSyntaxError as second:
            raise _syntax_error(second) from second
        data = recoded
    if root is None:
        raise NotAcceptable("The request body holds no XML element.")
    docinfo = root.getroottree().docinfo
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


def _syntax_error(exc: etree.XMLSyntaxError) -> NotAcceptable:
    line = exc.lineno or (exc.position[0] if exc.position else 0)
    message = str(exc.msg if hasattr(exc, "msg") else exc).strip()
    return NotAcceptable(f"The request is not well-formed XML (line {line}): {message}")
