"""Interoperability: every document in ../shared/cxml/samples gets a precise answer, and text in
any encoding buyers use arrives intact, through to the cart in both return encodings."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest
from flask.testing import FlaskClient

from simulator.cxml.parse import parse_document
from simulator.cxml.read import read_header, request_type
from simulator.errors import NotAcceptable

from .conftest import SHARED_CXML, Receiver
from .helpers import setup_request, status_of

SAMPLES = sorted((SHARED_CXML / "samples").glob("*/*.xml")) if (SHARED_CXML / "samples").is_dir() else []
SUPPLIER_SENDS = {
    "PunchOutOrderMessage",
    "ConfirmationRequest",
    "ShipNoticeRequest",
    "InvoiceDetailRequest",
    "ProductActivityMessage",
    "QuoteMessage",
}


def classify(path: Path) -> tuple[str, Any]:
    try:
        root = parse_document(path.read_bytes()).root
    except NotAcceptable as exc:
        return "not-well-formed", exc
    return request_type(root) or ("Response" if root.find("Response") is not None else "none"), root


@pytest.mark.parametrize("sample", SAMPLES, ids=[f"{p.parent.name}/{p.name}" for p in SAMPLES])
def test_every_sample_gets_a_precise_answer(client: FlaskClient, sample: Path) -> None:
    kind, root = classify(sample)
    if kind not in ("not-well-formed", "none", "Response"):
        sender = next((c for c in read_header(root).sender if c.identity), None)
        if sender is not None:
            created = client.post(
                "/__admin/accounts",
                json={
                    "name": sample.name,
                    "credentials": {
                        "domain": sender.domain or "NetworkId",
                        "identity": sender.identity,
                        "shared_secret": sender.shared_secret or "not-sent",
                    },
                    "settings": {"require_email": False},
                },
            )
            assert created.status_code == 201, created.get_json()
    response = client.post("/cxml", data=sample.read_bytes(), headers={"Content-Type": "text/xml"})
    assert response.content_type == "text/xml; charset=UTF-8"
    code, text, message = status_of(response.data)
    entry = client.get("/__admin/journal?direction=in").get_json()["items"][0]
    assert entry["cxml_status"] == code and isinstance(entry["advisories"], list)
    secret_missing = message.startswith("Sender/Credential/SharedSecret is missing for ")
    if kind == "not-well-formed":
        assert (code, text) == (406, "Not Acceptable") and message.startswith(
            "The request is not well-formed XML (line "
        )
    elif kind == "Response":
        assert code == 406 and message.startswith("The document is a Response (Status ")
    elif kind in SUPPLIER_SENDS:
        assert code == 450 and message.endswith(
            f"{kind} is what a supplier sends to a buyer; this simulator plays the supplier."
        )
    elif kind == "PunchOutSetupRequest":
        assert code in (200, 403), message
        if code == 403:
            assert "/cXML/Request/PunchOutSetupRequest/BrowserFormPost/URL" in message
    elif kind in ("OrderRequest", "ProfileRequest", "StatusUpdateRequest"):
        assert code == 200 or (code == 401 and secret_missing), message
    else:  # CopyRequest and other requests the simulator does not serve
        assert code == 450 and message.startswith(f"{kind} is not served at /cxml; this endpoint takes ")


def test_the_samples_are_all_there() -> None:
    kinds = {classify(p)[0] for p in SAMPLES}
    assert {"PunchOutSetupRequest", "OrderRequest", "ProfileRequest", "StatusUpdateRequest", "not-well-formed"} <= kinds


def _post(client: FlaskClient, xml: bytes) -> tuple[int, str, str]:
    return status_of(client.post("/punchout", data=xml, headers={"Content-Type": "text/xml"}).data)


@pytest.mark.parametrize(
    ("encoding", "name"),
    [("UTF-8", "Jürgen Groß"), ("ISO-8859-1", "Jürgen Groß"), ("windows-1252", "Jürgen – Groß €")],
)
def test_declared_encodings_arrive_intact(client: FlaskClient, encoding: str, name: str) -> None:
    text = setup_request(extrinsics={"UserFullName": name}, buyer_cookie=encoding).decode("utf-8")
    text = text.replace('encoding="UTF-8"', f'encoding="{encoding}"', 1)
    assert _post(client, text.encode(encoding))[0] == 200
    session = client.get(f"/__admin/sessions?buyer_cookie={encoding}").get_json()["items"][0]
    assert session["user_name"] == name


def test_bom_and_crlf(client: FlaskClient) -> None:
    xml = setup_request(buyer_cookie="crlf").replace(b"><", b">\r\n<")
    assert _post(client, b"\xef\xbb\xbf" + xml)[0] == 200


@pytest.mark.parametrize("encoding", ["cxml-urlencoded", "cxml-base64"])
def test_umlauts_reach_the_buyer_in_both_return_encodings(
    client: FlaskClient, receiver: Receiver, encoding: str
) -> None:
    client.patch("/__admin/accounts/demo", json={"settings": {"locale": "de_DE", "return_encoding": encoding}})
    found = client.get("/__admin/catalog/search?q=&locale=de_DE&limit=100").get_json()["items"]
    product = next(p for p in found if any(c in p["title"] for c in "äöüß"))
    client.post("/punchout", data=setup_request(buyer_cookie="umlaut", return_url=receiver.url))
    sid = client.get("/__admin/sessions?buyer_cookie=umlaut").get_json()["items"][0]["id"]
    client.post(f"/__admin/sessions/{sid}/cart/items", json={"asin": product["asin"], "quantity": 1})
    client.post(f"/__admin/sessions/{sid}/checkout", json={"deliver": True})
    body = receiver.posts[-1]["body"].decode("ascii")
    field, value = body.split("=", 1)
    assert field == encoding
    xml = base64.b64decode(unquote_plus(value)) if encoding == "cxml-base64" else unquote_plus(value).encode("utf-8")
    description = parse_document(xml).root.find(".//ItemIn/ItemDetail/Description")
    assert "".join(description.itertext()).strip() == product["title"]


OCI_FORMS = sorted((SHARED_CXML / "samples" / "oci").glob("*.form")) if (SHARED_CXML / "samples").is_dir() else []


@pytest.mark.parametrize("form", OCI_FORMS, ids=[p.name for p in OCI_FORMS])
def test_every_oci_sample(client: FlaskClient, form: Path) -> None:
    """Logins from real OCI clients open the shop; a real cart return uses only fields we know."""
    from urllib.parse import parse_qsl

    from simulator.oci.fields import LENGTHS

    fields = dict(parse_qsl(form.read_text().strip(), keep_blank_values=True))
    if any(name.startswith("NEW_ITEM-") for name in fields):  # a supplier's cart, as a buyer receives it
        names = {name.split("[", 1)[0].removeprefix("NEW_ITEM-") for name in fields}
        assert names <= set(LENGTHS), names - set(LENGTHS)
        return
    login = {k.lower(): v for k, v in fields.items()}
    client.patch("/__admin/accounts/demo", json={"oci": {"username": login["username"], "password": login["password"]}})
    response = client.post("/oci", data=fields)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert "/shop" in response.headers["Location"] and "sid=" in response.headers["Location"]
    entry = client.get("/__admin/journal?type=OCILogin").get_json()["items"][0]
    raw = client.get(f"/__admin/journal/{entry['id']}").get_json()["body"]
    assert login["password"] not in raw
