"""Buyer-platform profiles: their defaults, overrides, checks, form target and the raw return."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from simulator.cxml.validate import DtdRegistry
from simulator.profiles import PROFILES, SOURCES

from .conftest import Receiver
from .helpers import assert_valid, setup_request


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_each_profile_sets_its_defaults(client: FlaskClient, profile: str, dtds: DtdRegistry) -> None:
    settings = client.patch("/__admin/accounts/demo", json={"settings": {"profile": profile}}).get_json()["settings"]
    expected = PROFILES[profile]
    assert {k: settings[k] for k in expected} == expected
    assert SOURCES[profile]
    client.post("/punchout", data=setup_request(buyer_cookie=profile))
    session = client.get(f"/__admin/sessions?buyer_cookie={profile}").get_json()["items"][0]
    assert session["form_target"] == expected["form_target"]
    client.post(f"/__admin/sessions/{session['id']}/cart/items", json={"asin": "B0TESTSLOW", "quantity": 1})
    result = client.post(f"/__admin/sessions/{session['id']}/checkout", json={}).get_json()
    xml = result["cxml"].encode()
    assert f'/{expected["cxml_version"]}/cXML.dtd"'.encode() in xml
    assert_valid(xml, dtds)
    field = {"cxml-urlencoded": "cxml-urlencoded", "cxml-base64": "cxml-base64", "raw": "<?xml version"}
    assert list(result["fields"]) == [field[expected["return_encoding"]]]


def test_a_setting_in_the_same_patch_wins_over_the_profile(client: FlaskClient) -> None:
    settings = client.patch(
        "/__admin/accounts/demo", json={"settings": {"profile": "sap-srm", "return_encoding": "cxml-urlencoded"}}
    ).get_json()["settings"]
    assert (settings["return_encoding"], settings["cxml_version"]) == ("cxml-urlencoded", "1.2.014")
    later = client.patch("/__admin/accounts/demo", json={"settings": {"cxml_version": "1.2.069"}}).get_json()
    assert (later["settings"]["profile"], later["settings"]["cxml_version"]) == ("sap-srm", "1.2.069")
    bad = client.patch("/__admin/accounts/demo", json={"settings": {"profile": "peoplesoft"}})
    assert bad.status_code == 400 and "settings.profile must be one of" in bad.get_json()["message"]
    bad = client.patch("/__admin/accounts/demo", json={"settings": {"form_target": "javascript:x"}})
    assert bad.status_code == 400


def test_sap_checks_flag_long_descriptions(client: FlaskClient) -> None:
    client.patch("/__admin/accounts/demo", json={"settings": {"profile": "sap-srm"}})
    client.post("/punchout", data=setup_request(buyer_cookie="sap"))
    sid = client.get("/__admin/sessions?buyer_cookie=sap").get_json()["items"][0]["id"]
    client.post(f"/__admin/sessions/{sid}/cart/items", json={"asin": "B0TESTBACK", "quantity": 1})
    client.post(f"/__admin/sessions/{sid}/checkout", json={})
    entry = client.get("/__admin/journal?type=PunchOutOrderMessage").get_json()["items"][0]
    title = client.get("/__admin/catalog/products/B0TESTBACK").get_json()["title"]
    assert len(title) > 40
    expected = (
        f"profile check description_40: B0TESTBACK: Description has {len(title)} characters; "
        "SAP keeps the first 40 as the short text."
    )
    assert expected in entry["advisories"]


def test_raw_return_posts_the_document_itself(client: FlaskClient, receiver: Receiver, dtds: DtdRegistry) -> None:
    client.patch("/__admin/accounts/demo", json={"settings": {"return_encoding": "raw"}})
    client.post("/punchout", data=setup_request(buyer_cookie="raw", return_url=receiver.url))
    sid = client.get("/__admin/sessions?buyer_cookie=raw").get_json()["items"][0]["id"]
    client.post(f"/__admin/sessions/{sid}/cart/items", json={"asin": "B0TESTSLOW", "quantity": 1})
    result = client.post(f"/__admin/sessions/{sid}/checkout", json={"deliver": True}).get_json()
    assert result["delivered"]["ok"]
    posted = receiver.posts[-1]
    assert posted["content_type"].startswith("text/xml")
    assert posted["body"] == result["cxml"].encode()
    assert_valid(posted["body"], dtds)
