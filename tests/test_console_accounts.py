"""The console's accounts, scenarios and emails pages in real Chromium.

Accounts with Amazon's set-up steps as a checklist, creating an account, the one-way test → active
step (refused until the business is verified), users and their invitation emails, the scenario
library, the email outbox, and the German pages. Every page visited is checked for console errors
and the basic accessibility rules of ``tests/a11y.py``; each page is saved to ``docs/screenshots``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from .a11y import assert_accessible, watch_errors
from .conftest import LiveServer

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


@pytest.fixture
def tab(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


@pytest.fixture
def visit(tab: Any, live_server: LiveServer) -> Iterator[Callable[..., Any]]:
    """Open a console path, check it (accessibility) and optionally save a screenshot; at the end of
    the test, no page may have logged a console error or thrown."""
    page = tab
    errors = watch_errors(page)

    def check(screenshot: str | None = None) -> None:
        assert_accessible(page)
        if screenshot:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / screenshot), full_page=True)

    def go(path: str, screenshot: str | None = None) -> Any:
        response = page.goto(live_server.url + path)
        assert response is not None and response.status == 200, f"{path}: {response and response.status}"
        check(screenshot)
        return page

    go.check = check  # type: ignore[attr-defined]
    yield go
    assert not errors, f"console errors or page errors: {errors}"


def admin(server: LiveServer, method: str, path: str, **kwargs: Any) -> Any:
    reply = requests.request(method, f"{server.url}/__admin{path}", timeout=10, **kwargs)
    assert reply.ok, reply.text
    return reply.json()


def step(page: Any, key: str) -> Any:
    return page.locator(f'[data-testid="checklist"] li[data-step="{key}"]')


def test_the_accounts_list_and_the_demo_accounts_checklist(visit: Any) -> None:
    page = visit("/console/accounts", "console-accounts.png")
    assert page.locator("h1").inner_text() == "Accounts"
    row = page.locator('tr[data-account="demo"]')
    assert "Demo Buyer" in row.inner_text() and "NetworkId/DEMO-BUYER" in row.inner_text()
    nav = page.get_by_test_id("console-nav")
    for name, href in [
        ("Accounts", "/console/accounts"),
        ("Journal", "/console/journal"),
        ("Orders", "/console/orders"),
        ("Scenarios", "/console/scenarios"),
        ("Emails", "/console/emails"),
        ("Spend", "/console/dashboard"),
    ]:
        assert nav.get_by_role("link", name=name, exact=True).get_attribute("href") == href
    assert nav.get_by_role("link", name="Accounts", exact=True).get_attribute("aria-current") == "page"

    row.get_by_role("link", name="Demo Buyer").click()
    page.wait_for_url("**/console/accounts/demo")
    visit.check("console-account.png")
    assert page.locator("h1").inner_text() == "Demo Buyer"
    for key in ("business", "punchout", "test", "settings"):
        assert step(page, key).get_attribute("data-done") == "yes", key
    for key in ("test_orders", "active", "payment", "users"):
        assert step(page, key).get_attribute("data-done") == "no", key
    assert page.get_by_test_id("next-step").inner_text().startswith("Next: Test orders placed — Punch out")
    assert page.get_by_test_id("settings").locator("code", has_text="return_encoding").count() == 1


def test_create_an_account_from_the_console(visit: Any, live_server: LiveServer) -> None:
    page = visit("/console/accounts")
    form = page.get_by_test_id("create-account")
    form.get_by_label("Name").fill("Acme Procurement")
    form.get_by_label("Credential identity").fill("ACME-1")
    form.get_by_label("Shared secret").fill("acme-secret")
    form.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/console/accounts/acct_*")
    visit.check("console-account-new.png")
    assert page.locator("h1").inner_text() == "Acme Procurement"
    assert page.get_by_test_id("next-step").inner_text() == (
        "Next: Business registered and verified — Register the business."
    )
    assert step(page, "business").get_attribute("data-done") == "no"
    assert step(page, "punchout").get_attribute("data-done") == "no"

    account_id = page.url.rsplit("/", 1)[-1]
    account = admin(live_server, "GET", f"/accounts/{account_id}")
    assert account["name"] == "Acme Procurement" and account["status"] == "test"
    assert account["credentials"] == {"domain": "NetworkId", "identity": "ACME-1", "shared_secret": "acme-secret"}
    assert account["setup"]["punchout"] is False

    page.get_by_role("button", name="Add punchout (cannot be undone)").click()
    page.wait_for_url(f"**/console/accounts/{account_id}")
    assert step(page, "punchout").get_attribute("data-done") == "yes"
    assert admin(live_server, "GET", f"/accounts/{account_id}")["setup"]["punchout"] is True

    # the same credentials again: refused with the service's message
    page = visit("/console/accounts")
    form = page.get_by_test_id("create-account")
    form.get_by_label("Name").fill("Acme again")
    form.get_by_label("Credential identity").fill("ACME-1")
    form.get_by_label("Shared secret").fill("x")
    form.get_by_role("button", name="Create account").click()
    page.wait_for_url(lambda url: "/console/accounts?error=" in url)
    assert "already has the credential NetworkId/ACME-1" in page.get_by_test_id("error").inner_text()
    visit.check()


def test_test_to_active_waits_for_the_business_verification(visit: Any, live_server: LiveServer) -> None:
    page = visit("/console/accounts")
    form = page.get_by_test_id("create-account")
    form.get_by_label("Name").fill("Slow Verify GmbH")
    form.get_by_label("Credential identity").fill("SLOW-1")
    form.get_by_label("Shared secret").fill("slow-secret")
    form.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/console/accounts/acct_*")
    account_id = page.url.rsplit("/", 1)[-1]

    page.get_by_label("Verification delay (hours)").fill("48")
    page.get_by_role("button", name="Register the business").click()
    page.wait_for_url(f"**/console/accounts/{account_id}")
    visit.check()
    assert step(page, "business").get_attribute("data-done") == "no"
    assert "expected at" in page.locator("dl.facts").inner_text()

    page.get_by_test_id("activate-link").click()
    page.wait_for_url(f"**/console/accounts/{account_id}/activate")
    visit.check("console-account-activate.png")
    page.get_by_label("I understand that the account cannot go back to test status.").check()
    page.get_by_role("button", name="Move to active").click()
    page.wait_for_url(lambda url: "/activate?error=" in url)
    visit.check()
    assert "until Amazon has verified the business" in page.get_by_test_id("error").inner_text()
    assert admin(live_server, "GET", f"/accounts/{account_id}")["status"] == "test"

    admin(live_server, "POST", "/clock/advance", json={"seconds": 48 * 3600 + 60})
    page.reload()
    visit.check()
    page.get_by_label("I understand that the account cannot go back to test status.").check()
    page.get_by_role("button", name="Move to active").click()
    page.wait_for_url(f"**/console/accounts/{account_id}")
    visit.check()
    assert page.get_by_test_id("status").inner_text() == "active"
    assert step(page, "business").get_attribute("data-done") == "yes"
    assert step(page, "active").get_attribute("data-done") == "yes"
    account = admin(live_server, "GET", f"/accounts/{account_id}")
    assert account["status"] == "active" and account["setup"]["business_verified"] is True
    # one way: the API refuses the way back
    back = requests.patch(f"{live_server.url}/__admin/accounts/{account_id}", json={"status": "test"}, timeout=10)
    assert back.status_code == 409


def test_payment_method_and_a_user_with_an_invitation_email(visit: Any, live_server: LiveServer) -> None:
    page = visit("/console/accounts/demo")
    form = page.get_by_test_id("payment-method")
    form.get_by_label("Type").select_option("pcard")
    form.get_by_label("Last 4 digits of the card (pcard only)").fill("4242")
    form.get_by_role("button", name="Save the payment method").click()
    page.wait_for_url("**/console/accounts/demo")
    assert step(page, "payment").get_attribute("data-done") == "yes"
    assert admin(live_server, "GET", "/accounts/demo")["payment_method"] == {"type": "pcard", "last4": "4242"}

    form = page.get_by_test_id("add-user")
    form.get_by_label("Email").fill("tech.admin@buyer.example")
    form.get_by_label("Name").fill("Tess Admin")
    form.get_by_label("technical_administrator").check()
    form.get_by_role("button", name="Add the user and send the invitation").click()
    page.wait_for_url("**/console/accounts/demo")
    visit.check()
    assert "tech.admin@buyer.example" in page.get_by_test_id("users").inner_text()
    assert step(page, "users").get_attribute("data-done") == "yes"
    users = admin(live_server, "GET", "/accounts/demo/users")["items"]
    assert users[0]["roles"] == ["punchout_user", "technical_administrator"]

    page.get_by_test_id("console-nav").get_by_role("link", name="Emails", exact=True).click()
    page.wait_for_url("**/console/emails")
    visit.check("console-emails.png")
    email = page.get_by_test_id("email").first
    assert email.get_attribute("data-kind") == "invitation"
    assert "You are invited to join Demo Buyer on Amazon Business" in email.locator("h2").inner_text()
    assert "tech.admin@buyer.example" in email.inner_text()
    assert "technical_administrator" in email.locator("pre").inner_text()
    outbox = admin(live_server, "GET", "/emails")["items"]
    assert [(e["kind"], e["to_address"]) for e in outbox] == [("invitation", "tech.admin@buyer.example")]


def test_scenarios_activate_deactivate_and_reset(visit: Any, live_server: LiveServer) -> None:
    page = visit("/console/scenarios", "console-scenarios.png")
    row = page.locator('tr[data-scenario="happy-path"]')
    assert row.get_attribute("data-active") == "no"
    row.get_by_role("button", name="Activate happy-path").click()
    page.wait_for_url("**/console/scenarios")
    visit.check()
    row = page.locator('tr[data-scenario="happy-path"]')
    assert row.get_attribute("data-active") == "yes" and "every account" in row.inner_text()
    scenario = admin(live_server, "GET", "/scenarios/happy-path")
    assert scenario["active"] is True and scenario["account_id"] is None

    requests.put(f"{live_server.url}/__admin/scenarios/happy-path/state", json={"state": "Elsewhere"}, timeout=10)
    page.reload()
    assert "Elsewhere" in page.locator('tr[data-scenario="happy-path"]').inner_text()
    page.get_by_role("button", name="Reset every state to Started").click()
    page.wait_for_url("**/console/scenarios")
    assert admin(live_server, "GET", "/scenarios/happy-path/state")["state"] == "Started"

    page.locator('tr[data-scenario="happy-path"]').get_by_role("button", name="Deactivate happy-path").click()
    page.wait_for_url("**/console/scenarios")
    assert admin(live_server, "GET", "/scenarios/happy-path")["active"] is False

    row = page.locator('tr[data-scenario="happy-path"]')
    row.get_by_label("For").select_option("demo")
    row.get_by_role("button", name="Activate happy-path").click()
    page.wait_for_url("**/console/scenarios")
    assert admin(live_server, "GET", "/scenarios/happy-path")["account_id"] == "demo"


def test_the_pages_in_german(visit: Any) -> None:
    page = visit("/console/accounts?lang=de", "console-accounts-de.png")
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.locator("h1").inner_text() == "Konten"
    assert page.locator("h2").first.inner_text() == "Ein Konto anlegen"
    page.locator('tr[data-account="demo"]').get_by_role("link", name="Demo Buyer").click()
    page.wait_for_url("**/console/accounts/demo?lang=de")
    visit.check("console-account-de.png")
    assert page.locator("h2").first.inner_text() == "Einrichtungsschritte"
    assert "Testbestellungen aufgegeben" in page.get_by_test_id("next-step").inner_text()
    page = visit("/console/accounts/demo/activate?lang=de")
    assert page.locator("h1").inner_text() == "Auf aktiv umstellen"
    page = visit("/console/scenarios?lang=de")
    assert page.locator("h1").inner_text() == "Szenarien"
    page = visit("/console/emails?lang=de")
    assert page.locator("h1").inner_text() == "E-Mails"
    assert page.get_by_test_id("console-nav").get_by_role("link", name="Konten").get_attribute("href") == (
        "/console/accounts?lang=de"
    )
