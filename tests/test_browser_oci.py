"""The SAP OCI round trip in real Chromium: the catalogue opened by GET /oci inside the buyer's frame,
search, cart, quantity change, and the NEW_ITEM form posted by the browser to HOOK_URL with ~target=_top.

Cookies are cleared right after the login: OCI clients often cannot keep them, and the shop carries
its session in ``sid`` alone.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
import requests

from simulator.oci.fields import LENGTHS

from .conftest import LiveServer, Receiver
from .test_browser_round_trip import add_first_result
from .test_oci import FIELDS, expected_item, unit_price

pytestmark = pytest.mark.browser

LOGIN = {"USERNAME": "demo", "PASSWORD": "demo-secret", "~OkCode": "ADDI", "~target": "_top", "~caller": "CTLGS"}
QUOTE_ID = re.compile(r"\d{3}-\d{7}-\d{7},\d+")


def oci_url(server: LiveServer, receiver: Receiver, **extra: str) -> str:
    return f"{server.url}/oci?" + urlencode({"HOOK_URL": receiver.url, **LOGIN, **extra})


def posted_fields(receiver: Receiver) -> list[tuple[str, str]]:
    assert receiver.event.wait(15), "the buyer's receiver got no form post"
    post = receiver.posts[-1]
    assert post["content_type"] == "application/x-www-form-urlencoded"
    return parse_qsl(post["body"].decode("ascii"), keep_blank_values=True, strict_parsing=True, encoding="utf-8")


def catalogue_product(server: LiveServer, asin: str) -> dict[str, Any]:
    found: dict[str, Any] = requests.get(f"{server.url}/__admin/catalog/products/{asin}", timeout=10).json()
    return found


def test_oci_round_trip_in_a_frame_without_cookies(page, live_server: LiveServer, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    # SAP SRM opens the catalogue with a GET in its own page; here, a frame of the buyer's page
    page.set_content(
        f'<iframe id="catalog" name="catalog" src="{html.escape(oci_url(live_server, receiver))}" '
        'style="width:100%;height:900px"></iframe>'
    )
    frame = page.frame(name="catalog")
    assert frame is not None
    frame.wait_for_selector("[data-testid=search-input]")
    assert "sid=" in frame.url
    page.context.clear_cookies()  # a third-party frame rarely keeps the StartPage's cookie anyway
    assert frame.locator("[data-testid=buyer-organisation]").inner_text() == "Demo Buyer"

    first = add_first_result(frame, "paper")
    second = add_first_result(frame, "test product")
    assert first != second
    line = frame.locator(f"[data-testid=cart-line][data-asin={first}]")
    line.locator("[data-testid=cart-quantity] input[name=quantity]").fill("3")
    line.locator("[data-testid=cart-quantity] button").click()
    frame.wait_for_selector(f"[data-testid=cart-line][data-asin={first}] input[value='3']")
    assert page.context.cookies() == []
    frame.locator("[data-testid=checkout] button").click()

    # ~target=_top: the form replaced the buyer's whole page, not the catalogue frame
    page.wait_for_selector("#received")
    assert page.url == receiver.url
    fields = posted_fields(receiver)
    names = [k for k, _ in fields]
    assert names[:2] == ["~OkCode", "~caller"]
    assert dict(fields[:2]) == {"~OkCode": "ADDI", "~caller": "CTLGS"}
    for n in (1, 2):
        item = [k for k in names if k.endswith(f"[{n}]") or k == f"NEW_ITEM-LONGTEXT_{n}:132[]"]
        assert item[: len(FIELDS)] == [f"NEW_ITEM-{f}[{n}]" for f in FIELDS]
        assert set(item[len(FIELDS) :]) == {f"NEW_ITEM-LONGTEXT_{n}:132[]"}
    assert not [k for k in names if k.endswith("[3]") or "LONGTEXT_3" in k]

    values = {k: v for k, v in fields if "LONGTEXT" not in k}
    quotes = [values["NEW_ITEM-EXT_QUOTE_ID[1]"], values["NEW_ITEM-EXT_QUOTE_ID[2]"]]
    assert all(QUOTE_ID.fullmatch(q) for q in quotes) and quotes[0][:-2] == quotes[1][:-2]
    one, two = catalogue_product(live_server, first), catalogue_product(live_server, second)
    assert values == {
        "~OkCode": "ADDI",
        "~caller": "CTLGS",
        **expected_item(1, one, "3.000", unit_price(one, 3), quotes[0], live_server.url),
        **expected_item(2, two, "1.000", unit_price(two, 1), quotes[1], live_server.url),
    }
    for name, value in values.items():
        if name.startswith("NEW_ITEM-"):
            assert len(value) <= LENGTHS[name.removeprefix("NEW_ITEM-").split("[")[0]], name
    for n, p in ((1, one), (2, two)):
        pieces = [v for k, v in fields if k == f"NEW_ITEM-LONGTEXT_{n}:132[]"]
        assert all(len(piece) <= 132 for piece in pieces)
        assert "".join(pieces) == p["description"]

    sessions = requests.get(f"{live_server.url}/__admin/sessions", timeout=10).json()["items"]
    assert [(s["protocol"], s["status"]) for s in sessions] == [("oci", "returned")]
    journal = requests.get(f"{live_server.url}/__admin/journal?type=OCICart", timeout=10).json()["items"]
    assert journal[0]["endpoint"] == receiver.url
    assert journal[0]["advisories"][0] == "2 item(s) returned as OCI 4.0 NEW_ITEM fields"


def test_oci_return_without_items_from_the_browser(page, live_server: LiveServer, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    page.goto(oci_url(live_server, receiver, **{"~caller": "SRM"}))  # top level: the cookie is kept …
    assert [c["name"] for c in page.context.cookies()] == ["punchout_shop"]
    page.context.clear_cookies()  # … and not needed
    add_first_result(page, "paper")
    page.locator("[data-testid=return-without-items] button").click()
    page.wait_for_selector("#received")
    assert posted_fields(receiver) == [("~OkCode", "ADDI"), ("~caller", "SRM")]
