"""The operator's sign-in in real Chromium: a simulator started with an admin token."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator import create_app
from simulator.config import Config

from ..a11y import assert_accessible, watch_errors
from ..conftest import TEST_CATALOG_SIZE, LiveServer

pytestmark = pytest.mark.browser
TOKEN = "browser-operator-token"


@pytest.fixture
def guarded_server(tmp_path: Path, template_data_dir: Path, dtd_dir: Path) -> Iterator[LiveServer]:
    data_dir = tmp_path / "guarded"
    shutil.copytree(template_data_dir, data_dir)
    server = LiveServer(
        lambda port: create_app(
            Config(
                data_dir=data_dir,
                catalog_size=TEST_CATALOG_SIZE,
                dtd_dir=dtd_dir,
                port=port,
                outbox_interval=0,
                admin_token=TOKEN,
            )
        )
    )
    server.start()
    yield server
    server.stop()


def test_sign_in_then_use_the_console_then_sign_out(page, guarded_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    errors = watch_errors(page)
    page.goto(f"{guarded_server.url}/console/orders")
    assert page.url == f"{guarded_server.url}/console/sign-in?next=/console/orders"
    assert page.locator("[data-testid=sign-in-needed]").count() == 0  # a redirect, not a refusal
    assert_accessible(page)
    page.fill("#token", "wrong")
    page.click("[data-testid=sign-in-form] button")
    assert page.locator("[data-testid=sign-in-refused]").inner_text() == (
        "That is not the admin token this simulator was started with."
    )
    assert_accessible(page)
    page.fill("#token", TOKEN)
    page.click("[data-testid=sign-in-form] button")
    page.wait_for_url(f"{guarded_server.url}/console/orders")
    assert page.locator("h1").count() == 1
    page.goto(f"{guarded_server.url}/demo-buyer")
    assert page.url == f"{guarded_server.url}/demo-buyer"
    page.goto(f"{guarded_server.url}/console")
    page.click("[data-testid=sign-out] button")
    page.wait_for_url(f"{guarded_server.url}/console/sign-in")
    page.goto(f"{guarded_server.url}/console/accounts")
    assert "/console/sign-in" in page.url
    # the refused sign-in answered 401, which Chromium reports; nothing else went wrong
    assert errors == ["Failed to load resource: the server responded with a status of 401 (UNAUTHORIZED)"]
