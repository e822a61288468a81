"""The shop's pages in real Chromium: no console errors, and the basic accessibility check."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from .a11y import assert_accessible, watch_errors
from .conftest import LiveServer, Receiver
from .helpers import setup_request, start_url

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def test_shop_pages_are_accessible(page, live_server: LiveServer, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    errors = watch_errors(page)
    body = requests.post(f"{live_server.url}/punchout", data=setup_request(return_url=receiver.url), timeout=10).content
    page.goto(start_url(body))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert_accessible(page)
    page.screenshot(path=str(SCREENSHOTS / "shop-home.png"))
    page.fill("[data-testid=search-input]", "paper")
    page.press("[data-testid=search-input]", "Enter")
    page.wait_for_selector("[data-testid=result-count]")
    assert_accessible(page)
    page.screenshot(path=str(SCREENSHOTS / "shop-search.png"))
    page.locator("[data-testid=product-link]").first.click()
    page.wait_for_selector("[data-testid=product-title]")
    assert_accessible(page)
    page.screenshot(path=str(SCREENSHOTS / "shop-product.png"))
    page.locator("[data-testid=add-to-cart] button").click()
    page.wait_for_selector("[data-testid=cart-table]")
    assert_accessible(page)
    page.screenshot(path=str(SCREENSHOTS / "shop-cart.png"))
    page.goto(page.url.replace("/shop/cart", "/shop/orders"))
    assert_accessible(page)
    assert errors == []
