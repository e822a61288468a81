"""Every real buyer's PunchOutSetupRequest in ``../shared/cxml/samples`` is served as Amazon would.

Lenient mode: a StartPage, except where Amazon's own rules refuse (no usable BrowserFormPost URL,
or no email while ``require_email`` is on): those get the 403 naming what is missing. With
``require_email`` off, the ones without an email get a StartPage too. Strict mode: the DTD-invalid
ones get 406 with the DTD error.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from lxml import etree

from simulator.cxml.parse import parse_document
from simulator.cxml.read import read_header, read_order_request, read_punchout_setup_request, request_type
from simulator.cxml.validate import DtdRegistry
from simulator.punchout.service import usable_url

from .conftest import SHARED_CXML
from .helpers import assert_valid, setup_request, start_url, status_of

SAMPLES = SHARED_CXML / "samples"


def samples_of(kind: str) -> list[Path]:
    """The well-formed samples, of any folder, whose request is ``kind``."""
    found = []
    for path in sorted(SAMPLES.glob("*/*.xml")) if SAMPLES.is_dir() else []:
        try:
            root = parse_document(path.read_bytes()).root
        except Exception:
            continue
        if request_type(root) == kind:
            found.append(path)
    return found


SETUP_SAMPLES = samples_of("PunchOutSetupRequest")
IDS = [f"{p.parent.name}/{p.name}" for p in SETUP_SAMPLES]


def test_the_samples_are_there(samples: Path) -> None:
    assert len(SETUP_SAMPLES) >= 15, "expected the 15+ PunchOutSetupRequest samples of the shared folder"


def _account_for(client: FlaskClient, sample: Path, settings: dict[str, object]) -> None:
    header = read_header(parse_document(sample.read_bytes()).root)
    sender = next(c for c in header.sender if c.shared_secret is not None)
    created = client.post(
        "/__admin/accounts",
        json={
            "name": f"Buyer of {sample.name}",
            "credentials": {
                "domain": sender.domain,
                "identity": sender.identity,
                "shared_secret": sender.shared_secret,
            },
            "settings": settings,
        },
    )
    assert created.status_code == 201, created.get_json()


def _expected(sample: Path, require_email: bool) -> tuple[int, str]:
    request = read_punchout_setup_request(parse_document(sample.read_bytes()).root)
    if not usable_url(request.browser_form_post_url):
        return 403, "/cXML/Request/PunchOutSetupRequest/BrowserFormPost/URL"
    if require_email and request.email() is None:
        return 403, "Missing mandatory data: the user's email."
    return 200, ""


@pytest.mark.parametrize("require_email", [True, False], ids=["require_email", "no_email_needed"])
@pytest.mark.parametrize("sample", SETUP_SAMPLES, ids=IDS)
def test_lenient_mode_serves_every_sample(
    client: FlaskClient, dtds: DtdRegistry, sample: Path, require_email: bool
) -> None:
    _account_for(client, sample, {"require_email": require_email})
    response = client.post("/punchout", data=sample.read_bytes(), headers={"Content-Type": "text/xml"})
    assert_valid(response.data, dtds)
    code, _text, message = status_of(response.data)
    expected_code, expected_text = _expected(sample, require_email)
    assert code == expected_code, message
    if code == 200:
        assert start_url(response.data).startswith("http://simulator.test/start/")
        opened = client.get("/start/" + start_url(response.data).rsplit("/", 1)[1])
        assert opened.status_code == 303
    else:
        assert expected_text in message
    journal = client.get("/__admin/journal?direction=in").get_json()["items"]
    assert journal[0]["doc_type"] == "PunchOutSetupRequest"
    assert journal[0]["cxml_status"] == code


@pytest.mark.parametrize("sample", SETUP_SAMPLES, ids=IDS)
def test_strict_mode_refuses_only_dtd_invalid_samples(client: FlaskClient, dtds: DtdRegistry, sample: Path) -> None:
    _account_for(client, sample, {"validation": "strict", "require_email": False})
    document = parse_document(sample.read_bytes())
    result = dtds.validate(
        document.root,
        dtd_name=document.dtd_name,
        version=document.declared_version,
        request_type="PunchOutSetupRequest",
    )
    response = client.post("/punchout", data=sample.read_bytes(), headers={"Content-Type": "text/xml"})
    code, _, message = status_of(response.data)
    if result.findings:
        assert code == 406
        first = result.findings[0]
        assert message.startswith(f"The document is not valid against {result.dtd_file}: line {first.line}: ")
    else:
        assert code == _expected(sample, require_email=False)[0], message


# quirk → (how to put it into a valid request, the cXML code a strict account answers)
QUIRKS: dict[str, tuple[Callable[[bytes], bytes], int]] = {
    "contact before BrowserFormPost": (
        lambda x: x.replace(
            b"<BrowserFormPost>", b'<Contact role="endUser"><Name xml:lang="en">A</Name></Contact><BrowserFormPost>', 1
        ),
        406,
    ),
    "no UserAgent": (lambda x: x.replace(b"<UserAgent>Test buyer 1.0</UserAgent>", b""), 406),
    "upper-case operation": (lambda x: x.replace(b'operation="create"', b'operation="CREATE"'), 406),
    "no DOCTYPE": (
        lambda x: x.replace(b'<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/1.2.069/cXML.dtd">', b""),
        200,
    ),
    "NetworkID domain": (lambda x: x.replace(b'domain="NetworkId"', b'domain="NetworkID"'), 200),
}


@pytest.mark.parametrize("quirk", list(QUIRKS))
def test_quirky_buyer_documents_are_served_leniently_and_refused_strictly(client: FlaskClient, quirk: str) -> None:
    mutate, strict_code = QUIRKS[quirk]
    xml = mutate(setup_request())
    lenient = status_of(client.post("/punchout", data=xml).data)
    assert lenient[0] == 200, lenient
    entry = client.get("/__admin/journal?direction=in").get_json()["items"][0]
    assert entry["advisories"], f"the {quirk} quirk leaves an advisory"
    client.patch("/__admin/accounts/demo", json={"settings": {"validation": "strict"}})
    code, _, message = status_of(client.post("/punchout", data=xml).data)
    assert code == strict_code, message
    if code == 406:
        assert message.startswith("The document is not valid against 1.2.069/cXML.dtd: line 1: ")


def test_no_sample_root_is_lost_to_the_parser() -> None:
    for sample in SETUP_SAMPLES:
        assert etree.iselement(parse_document(sample.read_bytes()).root)


ORDER_SAMPLES = samples_of("OrderRequest")


@pytest.mark.parametrize("sample", ORDER_SAMPLES, ids=[f"{p.parent.name}/{p.name}" for p in ORDER_SAMPLES])
def test_every_order_sample_is_answered_and_followed_up(
    client: FlaskClient, receiver: Any, dtds: DtdRegistry, sample: Path
) -> None:
    """Each real OrderRequest gets Amazon's synchronous answer and valid follow-up documents."""
    document = parse_document(sample.read_bytes())
    header = read_header(document.root)
    sender = header.sender[0]
    created = client.post(
        "/__admin/accounts",
        json={
            "name": f"Buyer of {sample.name}",
            "status": "active",
            "payment_method": {"type": "invoice"},
            "buyer_endpoint": {"url": receiver.url.replace("/punchout/return", "/cxml")},
            "credentials": {
                "domain": sender.domain,
                "identity": sender.identity,
                "shared_secret": sender.shared_secret or "not-sent",
            },
            "settings": {"timeline": "instant"},
        },
    )
    assert created.status_code == 201, created.get_json()
    code, _, message = status_of(client.post("/orders", data=sample.read_bytes()).data)
    if sender.shared_secret is None:
        assert code == 401 and message.startswith("Sender/Credential/SharedSecret is missing for ")
        return
    assert code == 200, message
    client.post("/__admin/outbox/flush")
    received = [p["body"] for p in receiver.posts if p["content_type"].startswith("text/xml")]
    assert received, "a ConfirmationRequest follows every order taken"
    for body in received:
        assert_valid(body, dtds)
    order_id = read_order_request(document.root).order_id
    confirmation = parse_document(received[0]).root
    assert confirmation.find(".//OrderReference").get("orderID") == order_id
