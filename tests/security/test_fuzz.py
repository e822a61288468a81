"""Property-based tests of every inbound endpoint: random and mutated input never gets a 500.

On a cXML endpoint (``/punchout``, ``/punchout/test``, ``/cxml``, ``/orders``, ``/orders/<account>``, and
the demo buyer's ``/demo-buyer/cxml``) every answer is cXML: ``text/xml``, a Response/Status that is
not 5xx, valid against the DTD it declares, never a stack trace. ``/oagis`` answers a BOD, ``/oci``
and the shop's forms an HTML page or a redirect, the admin API JSON: none of them a 5xx.

The inputs: valid documents mutated byte by byte (flips, cuts, repeats, hostile snippets spliced
in), valid documents mutated element by element (elements dropped, repeated or moved, attributes
and texts replaced by random text), random trees of cXML element names inside a real envelope
with the demo account's credentials (so the handlers behind authentication see them too), and
random bytes; sent raw under several content types or wrapped in the cxml-urlencoded and
cxml-base64 form fields. The admin API gets random JSON, account settings and mutated library
scenarios, after which punchouts and orders must still be served. The regression tests at the end
pin the 500s these properties found. ``conftest.py`` holds the profiles: ``ci`` (default, few
examples, derandomized) and ``fuzz`` (``make fuzz``, many).
"""

from __future__ import annotations

import base64
import copy
import json
import math
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlsplit
from xml.sax.saxutils import escape, quoteattr

import pytest
import yaml
from flask.testing import FlaskClient
from hypothesis import event, given
from hypothesis import strategies as st
from lxml import etree
from werkzeug.datastructures import MultiDict

from simulator import create_app
from simulator.config import Config
from simulator.cxml.validate import DtdRegistry

from ..conftest import TEST_CATALOG_SIZE
from ..helpers import assert_valid, order_request, setup_request, shop_token, start_url, status_of

HERE = Path(__file__).parent
OAGIS_SAMPLE = (HERE.parent / "data" / "oagis" / "process-purchase-order.xml").read_bytes()
PROFILE_REQUEST = (
    setup_request()
    .replace(b'<PunchOutSetupRequest operation="create">', b"<ProfileRequest/><!--")
    .replace(b"</PunchOutSetupRequest>", b"-->")
)
SEEDS = [
    setup_request(),
    setup_request(operation="edit", items_out=[{"asin": "B0TESTBACK", "quantity": 2}]),
    order_request(lines=[{"asin": "B0TESTBACK", "quantity": 2}, {"asin": "B0TESTPART", "quantity": 3}]),
    order_request(order_type="update", lines=[{"asin": "B0TESTSPLT", "quantity": 2}]),
    PROFILE_REQUEST,
    OAGIS_SAMPLE,
    (HERE / "payloads" / "sgml-help-parameter-entity.xml").read_bytes(),
    (HERE / "payloads" / "utf16le-bom.xml").read_bytes(),
]
SNIPPETS = [
    b'<!DOCTYPE cXML [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    b'<!ENTITY % p "INCLUDE">',
    b"&x;",
    b"&amp;",
    b"&#0;",
    b"&#x10FFFF;",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<?xml version='1.0' encoding='UTF-16'?>",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\x81",
    b"\xc3",
    b"<a>" * 300,
    b'"',
    b"'",
    b"<",
    b">",
    b"</cXML>",
    b"<Request>",
    b'<Extrinsic name="UserEmail">',
    b"-1",
    b"99999999999999999999999999",
    b"1e400",
    b"NaN",
    b"2026-13-45T99:99:99",
    b'xmlns="http://example.com/other"',
    b'xmlns:xi="http://www.w3.org/2001/XInclude"',
]
CXML_ENDPOINTS = ["/punchout", "/punchout/test", "/cxml", "/orders", "/orders/demo", "/demo-buyer/cxml"]
CONTENT_TYPES = [
    "text/xml",
    "application/xml",
    "",
    "text/xml; charset=ISO-8859-1",
    "text/xml; charset=x-unknown",
    "text/plain",
    "multipart/form-data",
]
TAGS = [
    "cXML", "Header", "From", "To", "Sender", "Credential", "Identity", "SharedSecret", "UserAgent", "Request",
    "Response", "Status", "Message", "PunchOutSetupRequest", "PunchOutOrderMessage", "OrderRequest",
    "OrderRequestHeader", "ProfileRequest", "StatusUpdateRequest", "ItemOut", "ItemID", "SupplierPartID",
    "SupplierPartAuxiliaryID", "ItemDetail", "UnitPrice", "Money", "Total", "Shipping", "Tax", "BuyerCookie",
    "Extrinsic", "BrowserFormPost", "URL", "ShipTo", "BillTo", "Address", "PostalAddress", "Street", "City",
    "State", "PostalCode", "Country", "Email", "Contact", "Name", "SelectedItem", "Followup",
    "DocumentReference", "Comments", "Payment", "PCard", "x",
]  # fmt: skip
ATTRIBUTES = [
    "payloadID", "timestamp", "version", "operation", "domain", "name", "quantity", "lineNumber", "orderID",
    "orderDate", "type", "currency", "deploymentMode", "xml:lang", "isoCountryCode", "addressID", "role",
    "code", "text", "number", "expiration",
]  # fmt: skip
# text as buyers and attackers write it: letters, digits, punctuation, numbers out of range, emoji
TEXT = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=24),
    st.sampled_from(["", "0", "-1", "1.5", "1e309", "NaN", "99999999999999999999", "B0TESTBACK", "create",
                     "edit", "inspect", "new", "update", "delete", "test", "USD", "EUR", "XXX", "NetworkId",
                     "DEMO-BUYER", "demo-secret", "alice@buyer.test", "http://buyer.test/r", "javascript:x",
                     "2026-11-26T10:00:00+00:00", "9999-99-99", "🙂" * 3, " " * 3]),
)  # fmt: skip


def _element(tag: str, attributes: dict[str, str], children: list[str]) -> str:
    attrs = "".join(f" {name}={quoteattr(value)}" for name, value in attributes.items())
    return f"<{tag}{attrs}>{''.join(children)}</{tag}>"


NODES = st.recursive(
    TEXT.map(escape),
    lambda children: st.builds(
        _element,
        st.sampled_from(TAGS),
        st.dictionaries(st.sampled_from(ATTRIBUTES), TEXT, max_size=3),
        st.lists(children, max_size=4),
    ),
    max_leaves=25,
)


@st.composite
def random_request(draw: st.DrawFn) -> bytes:
    """A real envelope (the demo account's credentials, or random ones) around a random Request."""
    header = setup_request().split(b"<Request>")[0].decode()
    if draw(st.booleans()):
        header = header.replace("DEMO-BUYER", escape(draw(TEXT))).replace("demo-secret", escape(draw(TEXT)))
    kind = draw(st.sampled_from(["PunchOutSetupRequest", "OrderRequest", "ProfileRequest", "StatusUpdateRequest",
                                 "PunchOutOrderMessage", "x"]))  # fmt: skip
    attributes = draw(st.dictionaries(st.sampled_from(ATTRIBUTES), TEXT, max_size=3))
    body = _element(kind, attributes, draw(st.lists(NODES, max_size=6)))
    wrapper = draw(st.sampled_from(["Request", "Message", "Response"]))
    return f"{header}<{wrapper}>{body}</{wrapper}></cXML>".encode()


@st.composite
def byte_mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 5))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["flip", "cut", "repeat", "splice", "truncate"]))
        if op == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        elif op == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 64))] * draw(st.integers(1, 20))
        elif op == "splice":
            data[at:at] = draw(st.sampled_from(SNIPPETS))
        elif op == "truncate":
            del data[at:]
    return bytes(data)


@st.composite
def tree_mutated(draw: st.DrawFn) -> bytes:
    """A valid document with elements dropped, repeated or moved, attributes and texts replaced."""
    seed = draw(st.sampled_from(SEEDS[:5]))
    root = etree.fromstring(seed, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    for _ in range(draw(st.integers(1, 6))):
        elements = list(root.iter(etree.Element))
        element = draw(st.sampled_from(elements))
        op = draw(st.sampled_from(["drop", "repeat", "move", "attribute", "text", "tag"]))
        parent = element.getparent()
        if op == "drop" and parent is not None:
            parent.remove(element)
        elif op == "repeat" and parent is not None:
            for _ in range(draw(st.integers(1, 5))):
                parent.append(etree.fromstring(etree.tostring(element)))
        elif op == "move" and parent is not None:
            target = draw(st.sampled_from(elements))
            if element not in target.iterancestors() and target is not element:
                target.append(element)
        elif op == "attribute":
            name = draw(st.sampled_from([*ATTRIBUTES, *element.attrib.keys()]))
            element.set(name.replace("xml:", "{http://www.w3.org/XML/1998/namespace}"), draw(TEXT))
        elif op == "text":
            element.text = draw(TEXT)
        elif op == "tag":
            element.tag = draw(st.sampled_from(TAGS))
    declaration = seed.split(b"<cXML", 1)[0] if b"<cXML" in seed else b""
    tree: bytes = etree.tostring(root, encoding="utf-8")
    return declaration + tree


DOCUMENTS = st.one_of(byte_mutated(), tree_mutated(), random_request(), st.binary(max_size=512))


@st.composite
def transported(draw: st.DrawFn) -> tuple[bytes, str]:
    """(body, Content-Type): raw under some content type, or in a cxml-* form field."""
    xml = draw(DOCUMENTS)
    how = draw(st.sampled_from(["raw", "raw", "raw", "cxml-urlencoded", "cxml-base64"]))
    if how == "cxml-urlencoded":
        return b"cxml-urlencoded=" + quote_plus(xml.decode("latin-1"), encoding="latin-1").encode(), (
            "application/x-www-form-urlencoded"
        )
    if how == "cxml-base64":
        return b"cxml-base64=" + quote_plus(base64.b64encode(xml).decode()).encode(), draw(
            st.sampled_from(["application/x-www-form-urlencoded", ""])
        )
    return xml, draw(st.sampled_from(CONTENT_TYPES))


def _app_client(tmp_path_factory: pytest.TempPathFactory, template_data_dir: Path, dtd_dir: Path) -> FlaskClient:
    """A simulator of its own for one test module's property (examples share it, as buyers would)."""
    data_dir = tmp_path_factory.mktemp("fuzz") / "data"
    shutil.copytree(template_data_dir, data_dir)
    config = Config(
        data_dir=data_dir,
        catalog_size=TEST_CATALOG_SIZE,
        seed=1,
        dtd_dir=dtd_dir,
        public_url="http://simulator.test",
        outbox_interval=0,
    )
    return create_app(config).test_client()


@pytest.fixture(scope="module")
def cxml_client(tmp_path_factory: pytest.TempPathFactory, template_data_dir: Path, dtd_dir: Path) -> FlaskClient:
    return _app_client(tmp_path_factory, template_data_dir, dtd_dir)


@pytest.fixture(scope="module")
def other_client(tmp_path_factory: pytest.TempPathFactory, template_data_dir: Path, dtd_dir: Path) -> FlaskClient:
    return _app_client(tmp_path_factory, template_data_dir, dtd_dir)


def assert_cxml(response: Any, dtds: DtdRegistry) -> None:
    """The answer of a cXML endpoint: cXML, not a 5xx, valid against its DTD."""
    assert response.status_code in (200, 413), response.status_code
    assert response.content_type == "text/xml; charset=UTF-8"
    assert b"Traceback" not in response.data
    code, text, message = status_of(response.data)
    assert code < 500, (code, text, message)
    assert_valid(response.data, dtds)


@pytest.mark.parametrize("endpoint", CXML_ENDPOINTS)
@given(request=transported())
def test_cxml_endpoints_answer_cxml(
    endpoint: str, request: tuple[bytes, str], cxml_client: FlaskClient, dtds: DtdRegistry
) -> None:
    body, content_type = request
    response = cxml_client.post(endpoint, data=body, content_type=content_type or None)
    assert_cxml(response, dtds)


@given(body=st.one_of(byte_mutated(), st.binary(max_size=512)))
def test_oagis_answers_a_bod(body: bytes, other_client: FlaskClient) -> None:
    response = other_client.post("/oagis", data=body, content_type="text/xml")
    assert response.status_code < 500, response.data[:500]
    assert response.content_type == "text/xml; charset=UTF-8"
    root = etree.fromstring(response.data, etree.XMLParser(resolve_entities=False, no_network=True))
    assert etree.QName(root).localname in ("AcknowledgePurchaseOrder", "ConfirmBOD")


OCI_FIELDS = ["USERNAME", "PASSWORD", "HOOK_URL", "FUNCTION", "SEARCHSTRING", "PRODUCTID", "QUANTITY", "VENDOR",
              "OCI_VERSION", "OPI_VERSION", "returntarget", "~TARGET", "~OkCode", "~CALLER", "sap-language",
              "NEW_ITEM-QUANTITY[1]", "x"]  # fmt: skip
OCI_VALUES = st.one_of(TEXT, st.sampled_from(["demo", "demo-secret", "http://buyer.test/hook", "DETAIL",
                                              "VALIDATE", "SOURCING", "BACKGROUND_SEARCH", "4.0", "5.0",
                                              "B0TESTBACK"]))  # fmt: skip


@given(
    method=st.sampled_from(["GET", "POST"]),
    fields=st.lists(st.tuples(st.sampled_from(OCI_FIELDS), OCI_VALUES), max_size=8),
)
def test_oci_never_fails(method: str, fields: list[tuple[str, str]], other_client: FlaskClient) -> None:
    if method == "GET":
        response = other_client.get("/oci", query_string=fields)
    else:
        response = other_client.post("/oci", data=MultiDict(fields))
    assert response.status_code < 500, response.data[:500]
    assert b"Traceback" not in response.data


JSON_KEYS = ["name", "credentials", "domain", "identity", "shared_secret", "settings", "status", "seconds", "parts",
             "type", "ms", "endpoint", "account_id", "state", "email", "roles", "asin", "quantity", "direction",
             "since", "until", "contains", "limit", "payload_id", "http_status", "cxml_status", "locale",
             "validation", "rules", "match", "outcome", "fault", "probability", "times", "code", "buyer_cookie",
             "browser_form_post", "operation", "x"]  # fmt: skip
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(JSON_KEYS) | TEXT, inner, max_size=5)
    ),
    max_leaves=12,
)
ADMIN_CALLS = [
    ("POST", "/__admin/accounts"),
    ("PATCH", "/__admin/accounts/demo"),
    ("POST", "/__admin/accounts/demo/users"),
    ("POST", "/__admin/journal/find"),
    ("POST", "/__admin/journal/count"),
    ("POST", "/__admin/clock/advance"),
    ("POST", "/__admin/reset"),
    ("POST", "/__admin/scenarios"),
    ("PUT", "/__admin/scenarios/happy-path/state"),
    ("POST", "/__admin/scenarios/happy-path/activate"),
    ("POST", "/__admin/faults"),
    ("POST", "/__admin/oci/sessions"),
    ("POST", "/__admin/sessions/{session}/cart/items"),
    ("POST", "/__admin/sessions/{session}/checkout"),
    ("POST", "/__admin/outbox/flush"),
]


@pytest.fixture(scope="module")
def admin_client(tmp_path_factory: pytest.TempPathFactory, template_data_dir: Path, dtd_dir: Path) -> FlaskClient:
    return _app_client(tmp_path_factory, template_data_dir, dtd_dir)


NUMBERS = st.one_of(st.integers(), st.floats(), st.sampled_from([1e300, 10**30, -1, float("inf"), float("nan")]))
OBJECTS = st.dictionaries(st.sampled_from(JSON_KEYS), st.one_of(NUMBERS, JSON), max_size=5)


@given(
    call=st.sampled_from(ADMIN_CALLS),
    body=st.one_of(OBJECTS, JSON).map(lambda value: json.dumps(value).encode()) | st.binary(max_size=64),
    session=st.one_of(st.just("real"), TEXT.filter(lambda s: "/" not in s and s not in ("", ".", ".."))),
)
def test_admin_api_answers_json(call: tuple[str, str], body: bytes, session: str, admin_client: FlaskClient) -> None:
    method, path = call
    if "{session}" in path:
        if session == "real":
            started = admin_client.post("/punchout", data=setup_request(), content_type="text/xml")
            session = start_url(started.data).rsplit("/", 1)[1]
        path = path.replace("{session}", quote_plus(session))
    try:
        response = admin_client.open(path, method=method, data=body, content_type="application/json")
        assert response.status_code < 500, response.data[:500]
        assert response.content_type == "application/json"
        answer = response.get_json()
        if response.status_code >= 400:
            assert set(answer) >= {"error", "message"}, answer
    finally:  # faults and scenarios may change later answers on purpose: none outlive the example
        admin_client.delete("/__admin/faults")
        admin_client.post("/__admin/reset", json={"parts": ["scenarios", "faults"]})


@pytest.fixture(scope="module")
def shop_client(tmp_path_factory: pytest.TempPathFactory, template_data_dir: Path, dtd_dir: Path) -> FlaskClient:
    return _app_client(tmp_path_factory, template_data_dir, dtd_dir)


def _open_shop(client: FlaskClient, operation: str) -> dict[str, str]:
    """A new shop session: its ``sid`` and CSRF token, which a real form carries."""
    items = [{"asin": "B0TESTBACK", "quantity": 1}] if operation == "edit" else None
    answer = client.post("/punchout", data=setup_request(operation=operation, items_out=items), content_type="text/xml")
    opened = client.get(start_url(answer.data))
    assert opened.status_code == 303  # the shop's cookie is set
    sid = parse_qs(urlsplit(opened.headers["Location"]).query)["sid"][0]
    return {"sid": sid, "csrf_token": shop_token(client, sid)}


SHOP_FORMS = ["/shop/cart/add", "/shop/cart/update", "/shop/cart/remove", "/shop/checkout",
              "/shop/return-without-items", "/shop/register"]  # fmt: skip
SHOP_FIELDS = ["asin", "quantity", "name", "accept", "sid", "q", "x"]
SHOP_VALUES = st.one_of(TEXT, st.sampled_from(["B0TESTBACK", "B0TESTPART", "1", "0", "-3", "1000000", "yes"]))


@given(
    operation=st.sampled_from(["create", "edit"]),
    steps=st.lists(
        st.tuples(
            st.sampled_from(SHOP_FORMS),
            st.lists(st.tuples(st.sampled_from(SHOP_FIELDS), SHOP_VALUES)),
            st.sampled_from([False, False, False, True]),
        ),
        min_size=1,
        max_size=4,
    ),
    query=TEXT,
)
def test_shop_forms_never_fail(
    operation: str, steps: list[tuple[str, list[tuple[str, str]], bool]], query: str, shop_client: FlaskClient
) -> None:
    genuine = _open_shop(shop_client, operation)
    for path, fields, forged in steps:
        form = MultiDict(fields)
        if not forged:  # most posts come from the shop's own forms; some without sid and token
            for name, value in genuine.items():
                form.setlist(name, [value])
        response = shop_client.post(path, data=form)
        assert response.status_code < 500, (path, fields, response.data[:500])
        assert b"Traceback" not in response.data
    for path in (f"/shop/search?q={quote_plus(query)}", f"/shop/product/{quote_plus(query) or 'x'}", "/shop/cart"):
        response = shop_client.get(path)
        assert response.status_code < 500, (path, response.data[:500])


def test_the_properties_can_fail(cxml_client: FlaskClient, dtds: DtdRegistry) -> None:
    """A cXML answer of 500 is what these properties catch (an unknown route here is 450, not 500)."""
    assert_cxml(cxml_client.post("/cxml/unknown", data=b"<cXML/>", content_type="text/xml"), dtds)
    with pytest.raises(AssertionError):
        assert_cxml(cxml_client.get("/shop"), dtds)  # HTML, not cXML


@pytest.mark.parametrize("seconds", ["1e300", "Infinity", "NaN", "99999999999999999999", "3153600001"])
def test_the_clock_cannot_be_moved_out_of_the_calendar(seconds: str, admin_client: FlaskClient) -> None:
    """Found while fuzzing the admin API: such an advance overflowed, and every later request answered 500."""
    admin_client.post("/__admin/reset", json={})
    body = f'{{"seconds": {seconds}}}'
    answer = admin_client.post("/__admin/clock/advance", data=body, content_type="application/json")
    assert answer.status_code == 400
    if seconds == "NaN":
        assert answer.get_json()["message"] == 'The body must be {"seconds": N} with N a number of 0 or more.'
    else:
        assert answer.get_json() == {
            "error": "invalid_seconds",
            "message": "The clock moves at most 100 years ahead in all (3153600000 seconds); it is 0 seconds "
            "ahead now. Ask for fewer (POST /__admin/reset puts it back).",
        }
    assert admin_client.get("/__admin/journal").status_code == 200
    hundred_years = admin_client.post("/__admin/clock/advance", json={"seconds": 3153600000})
    assert hundred_years.status_code == 200 and hundred_years.get_json()["offset_seconds"] == 3153600000
    assert admin_client.post("/__admin/clock/advance", json={"seconds": 1}).status_code == 400
    assert admin_client.get("/__admin/journal").status_code == 200
    admin_client.post("/__admin/reset", json={})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"limit": Infinity}', "limit and offset must be whole numbers."),
        (b'{"offset": NaN}', "limit and offset must be whole numbers."),
        (b'{"limit": [1]}', "limit and offset must be whole numbers."),
        (b'{"offset": 9223372036854775808}', "limit and offset must be whole numbers."),
        (b'{"limit": -9223372036854775809}', "limit and offset must be whole numbers."),
        (b'{"contains": {"a": 1}}', "contains must be a string or a 64-bit number."),
        (b'{"account_id": ["demo"]}', "account_id must be a string or a 64-bit number."),
        (b'{"type": 9223372036854775808}', "type must be a string or a 64-bit number."),
        (b'{"since": 1.0}', "since must be an ISO 8601 time with an offset, as a string."),
    ],
)
def test_journal_find_refuses_what_it_cannot_search_by(body: bytes, message: str, admin_client: FlaskClient) -> None:
    """Found by the admin property: these were answered 500 (OverflowError, ValueError, TypeError)."""
    # (a 64-bit overflow is an OverflowError when SQLite binds the parameter)
    answer = admin_client.post("/__admin/journal/find", data=body, content_type="application/json")
    assert (answer.status_code, answer.get_json()["message"]) == (400, message)
    counted = admin_client.post("/__admin/journal/count", data=body, content_type="application/json")
    if message.startswith("limit"):  # count has no paging: the criteria are all there is
        assert counted.status_code == 200 and isinstance(counted.get_json()["count"], int)
    else:
        assert (counted.status_code, counted.get_json()["message"]) == (400, message)


@pytest.mark.parametrize("parts", [[[]], [{"journal": 1}], [1], "journal", []])
def test_reset_refuses_parts_it_does_not_know(parts: Any, admin_client: FlaskClient) -> None:
    """Found by the admin property: a list or an object among the parts was answered 500 (unhashable)."""
    answer = admin_client.post("/__admin/reset", json={"parts": parts})
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "invalid_parts"
    assert answer.get_json()["message"].startswith("parts must be a list of ")


SETTING_KEYS = ["return_encoding", "operation_allowed", "cxml_version", "validation", "locale", "first_punchout",
                "require_email", "http_status", "timeline", "einvoicing", "fulfil_test_orders", "sync_status",
                "reject_synchronously", "allow_order_changes", "amazon_day", "safeguards", "profile", "form_target",
                "oci_version", "checks"]  # fmt: skip
SETTING_VALUES = st.one_of(
    st.sampled_from(["cxml-base64", "raw", "inspect", "1.2.014", "1.2.099", "strict", "de_DE", "register", "mirror",
                     "instant", "manual", 201, 299, "monday", "ariba", "sap-srm", "5.0", "_blank", True, False, None,
                     ["doctype", "unspsc"], ["nope"]]),
    JSON,
    st.dictionaries(
        st.sampled_from(["unit_price", "quantity", "shipping_price", "delivery_days", "amazon_fulfilled_only"]),
        st.dictionaries(st.sampled_from(["max_increase_pct", "action", "max", "enabled", "remainder"]),
                        st.one_of(NUMBERS, st.sampled_from(["cancel_order", "remove_item", "send_available",
                                                            "backorder", "cancel"]), JSON), max_size=3),
        max_size=3,
    ),
)  # fmt: skip


@given(settings=st.dictionaries(st.sampled_from(SETTING_KEYS), SETTING_VALUES, max_size=4))
def test_account_settings_never_break_the_endpoints(
    settings: dict[str, Any], admin_client: FlaskClient, dtds: DtdRegistry
) -> None:
    """Whatever settings the admin API accepts, the account's punchouts and orders are still served."""
    identity = f"FUZZ-{abs(hash(json.dumps(settings, sort_keys=True, default=str)))}"
    credentials = {"domain": "NetworkId", "identity": identity, "shared_secret": "fuzz-secret"}
    created = admin_client.post(
        "/__admin/accounts", json={"name": "Fuzzed", "credentials": credentials, "settings": settings}
    )
    assert created.status_code in (201, 400, 409), created.data[:500]
    event(f"account answered {created.status_code}")
    if created.status_code != 201:
        assert set(created.get_json()) >= {"error", "message"}
        return
    for document in (
        setup_request(credentials=credentials),
        setup_request(credentials=credentials, operation="edit", items_out=[{"asin": "B0TESTPART", "quantity": 2}]),
        order_request(credentials=credentials, order_id=identity, lines=[{"asin": "B0TESTPART", "quantity": 3}]),
    ):
        answer = admin_client.post("/cxml", data=document, content_type="text/xml")
        assert answer.status_code < 500 and answer.content_type == "text/xml; charset=UTF-8", answer.data[:500]
        code, text, message = status_of(answer.data)
        assert code < 500, (code, text, message)
        assert_valid(answer.data, dtds)
    flushed = admin_client.post("/__admin/outbox/flush")
    assert flushed.status_code < 500, flushed.data[:500]


LIBRARY = [yaml.safe_load(path.read_text()) for path in sorted((HERE.parents[1] / "scenarios").glob("*.yaml"))]
SCENARIO_VALUES = st.one_of(
    NUMBERS,
    TEXT,
    JSON,
    st.sampled_from(["[", "(a", "^QA-", "//[", "//Extrinsic", "B0TEST*", "*@buyer.test", "OrderRequest",
                     "PunchOutSetupRequest", "StartPage", "Checkout", "orders", "punchout", "checkout", "backorder",
                     "partial", "split", "price_change", "reject", "expired", "instant", "manual", {"min": 2},
                     {"max": -1}, {"code": 409, "text": "Conflict"}]),
)  # fmt: skip


def _leaves(node: Any) -> list[tuple[Any, Any]]:
    """(container, key) of every value in a scenario, nested ones too."""
    found: list[tuple[Any, Any]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in items:
        found.append((node, key))
        found.extend(_leaves(value))
    return found


@st.composite
def mutated_scenario(draw: st.DrawFn) -> dict[str, Any]:
    """A library scenario with some values replaced, minus what makes answers fail on purpose."""
    scenario: dict[str, Any] = json.loads(json.dumps(draw(st.sampled_from(LIBRARY))))
    for _ in range(draw(st.integers(1, 4))):
        container, key = draw(st.sampled_from(_leaves(scenario)))
        if key != "name" or container is not scenario:
            container[key] = copy.deepcopy(draw(SCENARIO_VALUES))  # sampled values are shared objects
    scenario["name"] = "fuzz-scenario"
    rules = scenario.get("rules")
    for rule in rules if isinstance(rules, list) else []:
        if isinstance(rule, dict):
            rule.pop("fault", None)  # faults break answers on purpose: that is what they are for
            outcome = rule.get("outcome")
            if isinstance(outcome, dict) and not (
                isinstance(outcome.get("answer"), dict) and isinstance(outcome["answer"].get("code"), int)
                and outcome["answer"]["code"] < 500
            ):  # fmt: skip
                outcome.pop("answer", None)
    return scenario


@given(scenario=mutated_scenario())
def test_scenarios_never_break_the_endpoints(
    scenario: dict[str, Any], admin_client: FlaskClient, dtds: DtdRegistry
) -> None:
    """Whatever scenario the admin API accepts, while it is active every request is still answered."""
    admin_client.post("/__admin/reset", json={"parts": ["scenarios", "faults", "sessions"]})
    loaded = admin_client.post("/__admin/scenarios", json=scenario)
    assert loaded.status_code in (200, 201, 400), loaded.data[:500]
    event(f"scenario answered {loaded.status_code}")
    if loaded.status_code == 400:
        assert loaded.get_json()["error"] == "invalid_scenario"
        return
    assert admin_client.post("/__admin/scenarios/fuzz-scenario/activate", json={}).status_code == 200
    for endpoint, document in (
        ("/punchout", setup_request()),
        ("/orders", order_request(order_id="PO-FUZZ", lines=[{"asin": "B0TESTPART", "quantity": 3}])),
        ("/cxml", setup_request(operation="edit", items_out=[{"asin": "B0TESTBACK"}])),
    ):
        answer = admin_client.post(endpoint, data=document, content_type="text/xml")
        assert answer.status_code < 500 and answer.content_type == "text/xml; charset=UTF-8", answer.data[:500]
        code, text, message = status_of(answer.data)
        assert code < 500, (endpoint, code, text, message)
        assert_valid(answer.data, dtds)
        if endpoint != "/orders" and code == 200:
            assert admin_client.get(start_url(answer.data)).status_code < 500
    assert admin_client.post("/__admin/outbox/flush").status_code < 500
    admin_client.post("/__admin/reset", json={"parts": ["scenarios", "orders", "journal"]})


def test_a_po_pattern_that_is_not_a_regular_expression_is_refused(admin_client: FlaskClient) -> None:
    """Found by the scenario property: such a scenario loaded, then every request got cXML 500."""
    scenario = {"name": "bad-po", "description": "x", "rules": [{"match": {"po": "["}, "outcome": {"lines": "accept"}}]}
    loaded = admin_client.post("/__admin/scenarios", json=scenario)
    assert (loaded.status_code, loaded.get_json()) == (
        400,
        {
            "error": "invalid_scenario",
            "message": "The scenario is not valid: $.rules[0].match.po: '[' is not a regular expression "
            "(unterminated character set at position 0)",
        },
    )


@pytest.mark.parametrize(
    ("outcome", "problem"),
    [
        (
            {"lines": "price_change", "percent": 6.8e26},
            "$.rules[0].outcome.percent: 6.8e+26 is greater than the maximum of 1000",
        ),
        ({"lines": "slow", "days": 10**7}, "$.rules[0].outcome.days: 10000000 is greater than the maximum of 3650"),
        ({"lines": "price_change", "percent": math.nan}, "$.rules[0].outcome.percent: nan is not a number"),
        (
            {"lines": "accept", "safeguards": {"unit_price": 0}},
            "$.rules[0].outcome.safeguards: settings.safeguards.unit_price must be an object.",
        ),
    ],
)
def test_outcomes_beyond_what_a_document_can_say_are_refused(
    outcome: dict[str, Any], problem: str, admin_client: FlaskClient
) -> None:
    """Found by the scenario property: these loaded, then the order was answered cXML 500 (Decimal and
    date overflows while building the confirmation, a safeguard that is not an object)."""
    scenario = {
        "name": "too-far",
        "description": "x",
        "rules": [{"match": {"document": "OrderRequest"}, "outcome": outcome}],
    }
    loaded = admin_client.post("/__admin/scenarios", json=scenario)
    assert (loaded.status_code, loaded.get_json()["message"]) == (400, f"The scenario is not valid: {problem}")


@pytest.mark.parametrize("value", ["NaN", "Infinity"])
def test_a_safeguard_limit_must_be_a_finite_number(value: str, admin_client: FlaskClient) -> None:
    """Found by the scenario property: a NaN max_increase_pct was accepted (NaN < 0 is false), then
    every order was answered cXML 500 (decimal.InvalidOperation)."""
    safeguards = f'{{"unit_price": {{"max_increase_pct": {value}, "action": "cancel_order"}}}}'
    body = f'{{"settings": {{"safeguards": {safeguards}}}}}'
    patched = admin_client.patch("/__admin/accounts/demo", data=body, content_type="application/json")
    assert (patched.status_code, patched.get_json()["message"]) == (
        400,
        "settings.safeguards.unit_price.max_increase_pct must be a number of 0 or more, or null.",
    )
    scenario = (
        '{"name": "nan-safeguard", "description": "x", "rules": [{"match": {"document": "OrderRequest"}, '
        f'"outcome": {{"lines": "accept", "safeguards": {safeguards}}}}}]}}'
    )
    loaded = admin_client.post("/__admin/scenarios", data=scenario, content_type="application/json")
    assert (loaded.status_code, loaded.get_json()["message"]) == (
        400,
        "The scenario is not valid: $.rules[0].outcome.safeguards: "
        "settings.safeguards.unit_price.max_increase_pct must be a number of 0 or more, or null.",
    )
