"""Console: accounts, their settings and users, and Amazon's set-up steps as a checklist.

Every change goes through the same services as ``/__admin/accounts``; forms POST and redirect (303)
back, with the service's message in ``?error=`` when it refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, g, redirect, request, url_for
from werkzeug.wrappers import Response

from .. import accounts, settings
from ..db import select_page, transaction
from ..errors import AdminError, NotFound
from ..orders import emails
from ..web import context
from . import bp, render

CONSOLE_ROLES = ("administrator", "punchout_user", "technical_administrator")


def lang() -> str | None:
    """The ``lang`` query value to carry into redirects and links (German only when asked for)."""
    return "de" if g.get("locale") == "de_DE" else None


def back(endpoint: str, error: str | None = None, **values: Any) -> Response:
    return redirect(url_for(endpoint, lang=lang(), error=error, **values), code=303)


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    done: bool
    action: str  # what to do next while the step is not done
    detail: str = ""


def account_or_404(account_id: str) -> accounts.Account:
    try:
        return accounts.get_account(context().conn, account_id)
    except NotFound:
        abort(404, f"There is no account {account_id!r}.")


def test_order_count(account_id: str) -> int:
    _, total = select_page(
        context().conn, "orders", {"account_id": account_id, "test": 1}, columns="id", order_by="id", limit=1, offset=0
    )
    return int(total)


def changed_settings(account: accounts.Account) -> list[str]:
    defaults = settings.DEFAULT_SETTINGS
    return sorted(k for k, v in account.settings.items() if k in defaults and v != defaults[k])


def steps(account: accounts.Account, users: list[accounts.User]) -> list[Step]:
    """Amazon Business's set-up steps, in their order, with what is done."""
    orders = test_order_count(account.id)
    changed = changed_settings(account)
    verify = "Wait for Amazon to verify the business." if account.business_registered_at else "Register the business."
    return [
        Step("business", "Business registered and verified", account.business_verified, verify),
        Step("punchout", "Punchout added", account.punchout, "Add punchout to the account."),
        Step("test", "Account in test status", account.status in ("test", "active"), ""),
        Step("settings", "Settings reviewed (shown at their defaults)", True, "", ", ".join(changed)),
        Step(
            "test_orders",
            "Test orders placed",
            orders > 0,
            "Punch out from the procurement system and send a test order.",
            str(orders),
        ),
        Step("active", "Account moved from test to active", account.status == "active", "Move the account to active."),
        Step("payment", "Default payment method added", account.payment_method is not None, "Add a payment method."),
        Step("users", "Users added", bool(users), "Add a user.", str(len(users))),
    ]


@bp.get("/accounts")
def accounts_list() -> str:
    items, total = accounts.list_accounts(context().conn, limit=500)
    return render("console/accounts.html", accounts=items, total=total, error=request.args.get("error"))


@bp.post("/accounts")
def accounts_create() -> Response:
    form = request.form
    data = {
        "name": form.get("name", ""),
        "credentials": {k: form.get(k, "") for k in ("domain", "identity", "shared_secret")},
    }
    conn = context().conn
    try:
        with transaction(conn):
            account = accounts.create_account(conn, data, set_up=False)
    except AdminError as exc:
        return back("console.accounts_list", exc.message)
    return back("console.account_detail", account_id=account.id)


@bp.get("/accounts/<account_id>")
def account_detail(account_id: str) -> str:
    conn = context().conn
    account = account_or_404(account_id)
    users = accounts.list_users(conn, account_id)
    checklist = steps(account, users)
    next_step = next((s for s in checklist if not s.done), None)
    return render(
        "console/account.html",
        account=account,
        users=users,
        steps=checklist,
        next_step=next_step,
        defaults=settings.DEFAULT_SETTINGS,
        roles=CONSOLE_ROLES,
        error=request.args.get("error"),
    )


@bp.post("/accounts/<account_id>/business")
def account_register_business(account_id: str) -> Response:
    try:
        delay = float(request.form.get("delay_hours") or 0)
    except ValueError:
        return back(
            "console.account_detail", "The verification delay must be a number of hours.", account_id=account_id
        )
    conn = context().conn
    try:
        with transaction(conn):
            accounts.register_business(conn, account_id, delay)
    except AdminError as exc:
        return back("console.account_detail", exc.message, account_id=account_id)
    return back("console.account_detail", account_id=account_id)


@bp.post("/accounts/<account_id>/punchout")
def account_add_punchout(account_id: str) -> Response:
    conn = context().conn
    with transaction(conn):
        accounts.add_punchout(conn, account_id)
    return back("console.account_detail", account_id=account_id)


@bp.get("/accounts/<account_id>/activate")
def account_activate_confirm(account_id: str) -> str:
    account = account_or_404(account_id)
    return render("console/account_activate.html", account=account, error=request.args.get("error"))


@bp.post("/accounts/<account_id>/activate")
def account_activate(account_id: str) -> Response:
    if request.form.get("confirm") != "yes":
        return back(
            "console.account_activate_confirm",
            "Tick the box to confirm: an active account cannot go back to test.",
            account_id=account_id,
        )
    try:
        accounts.patch_account(context().conn, account_id, {"status": "active"})
    except AdminError as exc:
        return back("console.account_activate_confirm", exc.message, account_id=account_id)
    return back("console.account_detail", account_id=account_id)


@bp.post("/accounts/<account_id>/payment-method")
def account_payment_method(account_id: str) -> Response:
    kind = request.form.get("type", "")
    method: dict[str, str] = {"type": kind}
    if kind == "pcard":
        method["last4"] = request.form.get("last4", "").strip()
    try:
        accounts.patch_account(context().conn, account_id, {"payment_method": method})
    except AdminError as exc:
        return back("console.account_detail", exc.message, account_id=account_id)
    return back("console.account_detail", account_id=account_id)


def invitation(account: accounts.Account, email: str, name: str, roles: tuple[str, ...]) -> tuple[str, str]:
    subject = f"You are invited to join {account.name} on Amazon Business"
    body = (
        f"Hello{' ' + name if name else ''},\n\n"
        f"You have been invited to join the business account {account.name} on Amazon Business "
        f"with the role(s) {', '.join(roles)}.\n\n"
        "Sign in with this email address to start shopping.\n"
    )
    return subject, body


@bp.post("/accounts/<account_id>/users")
def account_add_user(account_id: str) -> Response:
    ctx = context()
    account = account_or_404(account_id)
    email = request.form.get("email", "").strip()
    name = request.form.get("name", "").strip()
    roles = tuple(r for r in request.form.getlist("roles") if r)
    if not roles:
        return back("console.account_detail", "Choose at least one role for the user.", account_id=account_id)
    try:
        with transaction(ctx.conn):
            user = accounts.create_user(ctx.conn, account_id, email, name=name, roles=roles)
            subject, body = invitation(account, user.email, name, roles)
            emails.send(ctx, account_id, None, "invitation", user.email, subject, body)
    except AdminError as exc:
        return back("console.account_detail", exc.message, account_id=account_id)
    return back("console.account_detail", account_id=account_id)
