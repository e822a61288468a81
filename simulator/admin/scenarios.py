"""``/__admin/scenarios``: the library, loading, activating, states; and the journal's matching tools."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, jsonify, request

from .. import journal
from ..cxml.parse import parse_document
from ..cxml.read import request_type
from ..db import transaction
from ..errors import AdminError
from ..scenarios import engine, schema, store
from ..scenarios.engine import Facts
from ..scenarios.facts import endpoint_of
from ..web import context
from .routes import page_args, page_json

bp = Blueprint("admin_scenarios", __name__, url_prefix="/__admin")


def _scenario_body() -> Any:
    kind = (request.mimetype or "").lower()
    text = request.get_data(as_text=True)
    if kind in ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"):
        try:
            return schema.parse_text(text)
        except ValueError as exc:
            raise AdminError(400, "invalid_yaml", f"The body is {exc}.") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise AdminError(
            400, "invalid_json", "Send the scenario as JSON, or as YAML with Content-Type: application/yaml."
        ) from exc


@bp.get("/scenarios")
def list_scenarios() -> Response:
    items = [s.to_json() for s in store.list_all(context().conn)]
    return page_json(items, len(items))


@bp.post("/scenarios")
def add_scenario() -> tuple[Response, int]:
    scenario = store.put(context().conn, _scenario_body())
    return jsonify(scenario.to_json(full=True)), 201


@bp.get("/scenarios/<name>")
def get_scenario(name: str) -> Response:
    return jsonify(store.get(context().conn, name).to_json(full=True))


@bp.post("/scenarios/<name>/activate")
def activate(name: str) -> Response:
    data = request.get_json(silent=True) or {}
    account_id = data.get("account_id") if isinstance(data, dict) else None
    if account_id is not None and not isinstance(account_id, str):
        raise AdminError(400, "invalid_account", "account_id must be a string.")
    if account_id is not None:
        from ..accounts import get_account

        get_account(context().conn, account_id)
    return jsonify(store.activate(context().conn, name, account_id).to_json())


@bp.post("/scenarios/<name>/deactivate")
def deactivate(name: str) -> Response:
    return jsonify(store.deactivate(context().conn, name).to_json())


@bp.get("/scenarios/<name>/state")
def get_state(name: str) -> Response:
    return jsonify({"name": name, "state": store.get(context().conn, name).state})


@bp.put("/scenarios/<name>/state")
def put_state(name: str) -> Response:
    data = request.get_json(silent=True)
    scenario = store.set_state(context().conn, name, data.get("state") if isinstance(data, dict) else None)
    return jsonify({"name": name, "state": scenario.state})


@bp.post("/scenarios/reset")
def reset_scenarios() -> Response:
    conn = context().conn
    with transaction(conn):
        store.reset(conn)
    return jsonify({"status": "reset"})


def _facts(entry: dict[str, Any]) -> Facts | None:
    """The facts of a journaled request, to see how near the active rules came to it."""
    try:
        document = parse_document(entry["body"].encode("utf-8"))
    except Exception:
        return None
    root = document.root
    kind = request_type(root) or entry["doc_type"]
    email, po = "", ""
    lines: tuple[tuple[str, Decimal], ...] = ()
    if kind == "OrderRequest":
        from ..cxml.read import read_order_request

        order = read_order_request(root)
        email, po = order.extrinsic("UserEmail") or "", order.order_id
        lines = tuple((line.supplier_part_id, line.quantity) for line in order.lines)
    elif kind == "PunchOutSetupRequest":
        from ..cxml.read import read_punchout_setup_request

        found = read_punchout_setup_request(root).email()
        email = found[0] if found else ""
    return Facts(
        document=kind,
        endpoint=endpoint_of(entry["endpoint"]),
        account_id=entry["account_id"],
        email=email,
        lines=lines,
        po=po,
        root=root,
    )


@bp.get("/journal/unmatched")
def unmatched() -> Response:
    """Inbound requests no scenario rule matched, each with the nearest active rules and why they missed."""
    limit, offset = page_args()
    conn = context().conn
    rows, total = journal.unmatched(conn, limit=limit, offset=offset)
    items = []
    for entry in rows:
        facts = _facts(entry)
        entry.pop("body", None)
        entry["nearest"] = engine.nearest(conn, facts) if facts is not None else []
        items.append(entry)
    return page_json(items, total)
