"""Console: the scenario library, which are active (and for which account), their state."""

from __future__ import annotations

from flask import request
from werkzeug.wrappers import Response

from .. import accounts
from ..db import transaction
from ..errors import AdminError
from ..scenarios import store
from ..web import context
from . import bp, render
from .accounts import back


@bp.get("/scenarios")
def scenarios_list() -> str:
    conn = context().conn
    items = store.list_all(conn)
    known, _ = accounts.list_accounts(conn, limit=500)
    return render(
        "console/scenarios.html",
        scenarios=items,
        accounts=known,
        started=store.STARTED,
        error=request.args.get("error"),
    )


@bp.post("/scenarios/<name>/activate")
def scenario_activate(name: str) -> Response:
    conn = context().conn
    account_id = request.form.get("account_id") or None
    try:
        if account_id is not None:
            accounts.get_account(conn, account_id)
        store.activate(conn, name, account_id)
    except AdminError as exc:
        return back("console.scenarios_list", exc.message)
    return back("console.scenarios_list")


@bp.post("/scenarios/<name>/deactivate")
def scenario_deactivate(name: str) -> Response:
    try:
        store.deactivate(context().conn, name)
    except AdminError as exc:
        return back("console.scenarios_list", exc.message)
    return back("console.scenarios_list")


@bp.post("/scenarios/reset")
def scenarios_reset() -> Response:
    conn = context().conn
    with transaction(conn):
        store.reset(conn)
    return back("console.scenarios_list")
