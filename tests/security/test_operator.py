"""With --admin-token, the console and the demo buyer need it too (simulator/operator.py)."""

from __future__ import annotations

import dataclasses
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from simulator import create_app
from simulator.config import Config
from simulator.operator import COOKIE

from ..helpers import order_request, status_of

TOKEN = "operator-token-7f3a"
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


@pytest.fixture
def guarded(config: Config) -> Flask:
    return create_app(dataclasses.replace(config, admin_token=TOKEN))


def sign_in(client: FlaskClient, token: str, next_path: str = "/console/journal"):  # type: ignore[no-untyped-def]
    page = client.get("/console/sign-in").get_data(as_text=True)
    fields = {"token": token, "next": next_path}
    found = CSRF.search(page)
    if found:
        fields["csrf_token"] = found.group(1)
    return client.post("/console/sign-in", data=fields)


def test_without_a_token_the_console_is_open(client: FlaskClient) -> None:
    assert client.get("/console").status_code == 200
    assert client.get("/console/sign-in?next=/console/orders").headers["Location"] == "/console/orders"


@pytest.mark.parametrize("path", ["/console", "/console/accounts", "/console/journal", "/demo-buyer"])
def test_every_page_redirects_to_the_sign_in(guarded: Flask, path: str) -> None:
    answer = guarded.test_client().get(path)
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"/console/sign-in?next={path}"


def test_a_form_post_without_signing_in_is_refused_with_the_sign_in_page(guarded: Flask) -> None:
    answer = guarded.test_client().post("/console/accounts", data={"name": "Intruder"})
    assert answer.status_code == 401
    text = answer.get_data(as_text=True)
    assert "Sign in first: this simulator was started with an admin token." in text
    assert 'data-testid="sign-in-form"' in text


def test_a_wrong_token_is_refused_and_sets_no_cookie(guarded: Flask) -> None:
    client = guarded.test_client()
    answer = sign_in(client, "not-the-token")
    assert answer.status_code == 401
    assert "That is not the admin token this simulator was started with." in answer.get_data(as_text=True)
    assert client.get_cookie(COOKIE) is None
    assert client.get("/console").status_code == 302


def test_the_right_token_signs_in_until_signing_out(guarded: Flask) -> None:
    client = guarded.test_client()
    answer = sign_in(client, TOKEN)
    assert (answer.status_code, answer.headers["Location"]) == (302, "/console/journal")
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert TOKEN not in cookie.value
    assert client.get("/console").status_code == 200
    assert client.get("/demo-buyer").status_code == 200
    page = client.get("/console").get_data(as_text=True)
    assert 'data-testid="sign-out"' in page
    found = CSRF.search(page)
    assert found is not None
    assert client.post("/console/sign-out", data={"csrf_token": "0" * 64}).status_code == 400  # CSRF
    assert client.post("/console/sign-out", data={"csrf_token": found.group(1)}).status_code == 302
    assert client.get("/console").status_code == 302


def test_a_cookie_made_for_another_token_is_not_accepted(config: Config) -> None:
    other = create_app(dataclasses.replace(config, admin_token="some-other-token")).test_client()
    sign_in(other, "some-other-token")
    stolen = other.get_cookie(COOKIE)
    assert stolen is not None
    guarded = create_app(dataclasses.replace(config, admin_token=TOKEN)).test_client()
    guarded.set_cookie(COOKIE, stolen.value)
    assert guarded.get("/console").status_code == 302


@pytest.mark.parametrize("target", ["https://evil.test/phish", "//evil.test/phish", "javascript:alert(1)"])
def test_signing_in_never_redirects_off_the_simulator(guarded: Flask, target: str) -> None:
    answer = sign_in(guarded.test_client(), TOKEN, next_path=target)
    assert (answer.status_code, answer.headers["Location"]) == (302, "/console/")


def test_machine_endpoints_stay_reachable_with_their_own_authentication(guarded: Flask) -> None:
    client = guarded.test_client()
    order = client.post("/orders", data=order_request(order_id="PO-OPERATOR"), content_type="text/xml")
    assert status_of(order.data)[0] in (200, 201)
    cxml = client.post("/demo-buyer/cxml", data=b"<cXML/>", content_type="text/xml")
    assert cxml.status_code != 302 and cxml.content_type.startswith("text/xml")
    assert client.get("/__admin/health").status_code == 200
    assert client.get("/__admin/accounts").status_code == 401
