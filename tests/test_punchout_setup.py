"""PunchOutSetupRequest over HTTP: Amazon's rules, each error with its exact code and text."""

from __future__ import annotations

import base64
from urllib.parse import urlsplit

from flask.testing import FlaskClient

from simulator.cxml.validate import DtdRegistry

from .helpers import DEMO, assert_valid, setup_request, start_url, status_of

EMAIL_403 = (
    "Missing mandatory data: the user's email. Looked for it at //Extrinsic[@name='UserEmail'], "
    "//ShipTo/Address/Email, //Contact/Email, //Extrinsic[@name='Email']. Send one of them, or set the "
    "account setting require_email to false."
)


def post(client: FlaskClient, body: bytes, path: str = "/punchout", content_type: str | None = "text/xml") -> bytes:
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(path, data=body, headers=headers)
    assert response.status_code in (200, 413), response.data
    assert response.content_type == "text/xml; charset=UTF-8"
    return response.get_data()


def test_setup_request_gets_a_valid_start_page(client: FlaskClient, dtds: DtdRegistry) -> None:
    body = post(client, setup_request())
    assert status_of(body) == (200, "OK", "")
    assert_valid(body, dtds)
    url = start_url(body)
    assert url.startswith("http://simulator.test/start/")
    token = urlsplit(url).path.rsplit("/", 1)[1]
    assert len(base64.urlsafe_b64decode(token + "==")) * 8 >= 128


def test_start_page_is_one_time(client: FlaskClient) -> None:
    path = urlsplit(start_url(post(client, setup_request()))).path
    first = client.get(path)
    assert first.status_code == 303 and "/shop?sid=" in first.headers["Location"]
    second = client.get(path)
    assert second.status_code == 410
    assert b"This start link has already been used" in second.data


def test_unknown_identity_is_401(client: FlaskClient) -> None:
    creds = {"domain": "NetworkId", "identity": "NOBODY", "shared_secret": "x"}
    assert status_of(post(client, setup_request(credentials=creds))) == (
        401,
        "Unauthorized",
        "No account has the Sender credential NetworkId/NOBODY. Create an account with these credentials "
        "(POST /__admin/accounts) or send the demo account's NetworkId/DEMO-BUYER.",
    )


def test_wrong_secret_is_401(client: FlaskClient) -> None:
    assert status_of(post(client, setup_request(sender_secret="wrong"))) == (
        401,
        "Unauthorized",
        "The SharedSecret sent for NetworkId/DEMO-BUYER does not match the account's shared secret.",
    )


def test_missing_browser_form_post_is_403_naming_the_path(client: FlaskClient) -> None:
    assert status_of(post(client, setup_request(return_url=None))) == (
        403,
        "Forbidden",
        "Missing mandatory data: /cXML/Request/PunchOutSetupRequest/BrowserFormPost/URL "
        "(where the shopper's browser returns the cart).",
    )


def test_unusable_browser_form_post_is_403(client: FlaskClient) -> None:
    assert status_of(post(client, setup_request(return_url="javascript:alert(1)"))) == (
        403,
        "Forbidden",
        "/cXML/Request/PunchOutSetupRequest/BrowserFormPost/URL must be an absolute http or https URL; "
        "got 'javascript:alert(1)'.",
    )


def test_missing_email_is_403_naming_every_path(client: FlaskClient) -> None:
    assert status_of(post(client, setup_request(email=None))) == (403, "Forbidden", EMAIL_403)


def test_without_require_email_the_shared_user_shops(client: FlaskClient) -> None:
    client.patch("/__admin/accounts/demo", json={"settings": {"require_email": False}})
    assert status_of(post(client, setup_request(email=None)))[0] == 200
    sessions = client.get("/__admin/sessions").get_json()["items"]
    assert sessions[0]["email"] == "punchout-user@demo.invalid"


def test_user_without_punchout_role_is_403(client: FlaskClient) -> None:
    created = client.post("/__admin/accounts/demo/users", json={"email": "bob@buyer.test", "roles": ["finance"]})
    assert created.status_code == 201
    assert status_of(post(client, setup_request(email="bob@buyer.test"))) == (
        403,
        "Forbidden",
        "The user bob@buyer.test has no PunchOut role in the account 'Demo Buyer'; "
        "an administrator must give them the punchout_user role.",
    )


def test_first_punchout_creates_the_user_with_the_punchout_role(client: FlaskClient) -> None:
    post(client, setup_request(email="new@buyer.test"))
    users = client.get("/__admin/accounts/demo/users").get_json()["items"]
    assert [(u["email"], u["roles"], u["registered"]) for u in users] == [("new@buyer.test", ["punchout_user"], True)]


def test_not_xml_is_406_with_line(client: FlaskClient) -> None:
    code, text, message = status_of(post(client, b"<cXML>\n<oops>"))
    assert (code, text) == (406, "Not Acceptable")
    assert message.startswith("The request is not well-formed XML (line 2):")


def test_order_request_at_punchout_is_450(client: FlaskClient) -> None:
    body = setup_request().replace(b"PunchOutSetupRequest", b"OrderRequest")
    assert status_of(post(client, body)) == (
        450,
        "Not Implemented",
        "OrderRequest is not served at /punchout; this endpoint takes PunchOutSetupRequest.",
    )


def test_oversized_body_is_http_413_with_cxml(client: FlaskClient, app) -> None:  # type: ignore[no-untyped-def]
    limit = app.config["SIMULATOR"].max_body_bytes
    response = client.post("/punchout", data=b"<" + b"x" * limit, headers={"Content-Type": "text/xml"})
    assert response.status_code == 413
    code, text, message = status_of(response.data)
    assert (code, text) == (413, "Request Entity Too Large")
    assert f"larger than {limit} bytes" in message


def test_get_on_a_cxml_endpoint_answers_cxml(client: FlaskClient) -> None:
    response = client.get("/punchout")
    assert status_of(response.data) == (
        400,
        "Bad Request",
        "GET is not served at /punchout: POST the cXML document.",
    )


def test_form_posts_and_odd_content_types_are_accepted(client: FlaskClient) -> None:
    xml = setup_request()
    assert status_of(post(client, xml, content_type=None))[0] == 200
    assert status_of(post(client, xml, content_type="application/xml; charset=utf-8"))[0] == 200
    response = client.post("/punchout", data={"cxml-urlencoded": xml.decode()})
    assert status_of(response.data)[0] == 200
    response = client.post("/punchout", data={"cxml-base64": base64.b64encode(xml).decode()})
    assert status_of(response.data)[0] == 200


def test_strict_account_rejects_dtd_invalid_documents(client: FlaskClient) -> None:
    client.patch("/__admin/accounts/demo", json={"settings": {"validation": "strict"}})
    invalid = setup_request().replace(b"<BuyerCookie>", b"<Bogus/><BuyerCookie>")
    code, text, message = status_of(post(client, invalid))
    assert (code, text) == (406, "Not Acceptable")
    assert message.startswith("The document is not valid against 1.2.069/cXML.dtd: line 1: ")
    assert status_of(post(client, setup_request()))[0] == 200


def test_lenient_account_records_dtd_findings_as_advisories(client: FlaskClient) -> None:
    invalid = setup_request().replace(b"<BuyerCookie>", b"<Bogus/><BuyerCookie>")
    assert status_of(post(client, invalid))[0] == 200
    entry = client.get("/__admin/journal?type=PunchOutSetupRequest&direction=in").get_json()["items"][0]
    assert any(a.startswith("DTD 1.2.069/cXML.dtd: line 1:") and "Bogus" in a for a in entry["advisories"])


def test_http_status_mirror(client: FlaskClient) -> None:
    client.patch("/__admin/accounts/demo", json={"settings": {"http_status": "mirror"}})
    response = client.post("/punchout", data=setup_request(sender_secret="wrong"))
    assert response.status_code == 401
    assert status_of(response.data)[0] == 401
    # before the account is known the cXML way applies
    response = client.post("/punchout", data=setup_request(credentials={**DEMO, "identity": "X"}))
    assert response.status_code == 200


def test_journal_masks_the_shared_secret(client: FlaskClient) -> None:
    post(client, setup_request())
    entry = client.get("/__admin/journal?direction=in").get_json()["items"][0]
    raw = client.get(f"/__admin/journal/{entry['id']}").get_json()["body"]
    assert "<SharedSecret>****</SharedSecret>" in raw
    assert "demo-secret" not in raw


def test_test_endpoint_and_deployment_mode_mark_the_session(client: FlaskClient) -> None:
    post(client, setup_request(buyer_cookie="a"), path="/punchout/test")
    post(client, setup_request(buyer_cookie="b", deployment_mode="test"))
    post(client, setup_request(buyer_cookie="c"))
    modes = {s["buyer_cookie"]: s["test_mode"] for s in client.get("/__admin/sessions").get_json()["items"]}
    assert modes == {"a": True, "b": True, "c": False}


def test_profile_request_lists_urls(client: FlaskClient, dtds: DtdRegistry) -> None:
    body = setup_request().replace(
        setup_request()[setup_request().index(b"<Request>") : setup_request().index(b"</Request>") + 10],
        b"<Request><ProfileRequest/></Request>",
    )
    answer = post(client, body, path="/cxml")
    assert status_of(answer)[0] == 200
    assert_valid(answer, dtds)
    assert b'requestName="PunchOutSetupRequest"' in answer and b"http://simulator.test/punchout" in answer


def test_selected_item_and_ship_to_are_kept(client: FlaskClient) -> None:
    body = post(client, setup_request(selected_item="B0TESTSLOW", extrinsics={"CostCenter": "CC-9"}))
    path = urlsplit(start_url(body)).path
    assert "/shop/product/B0TESTSLOW?sid=" in client.get(path).headers["Location"]
    session = client.get("/__admin/sessions").get_json()["items"][0]
    assert session["extrinsics"]["CostCenter"] == "CC-9"
    assert session["ship_to"]["city"] == "Springfield"
