"""``/__admin/faults``: store, list and remove faults (see :mod:`simulator.faults`)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from .. import faults
from ..errors import AdminError
from ..web import context
from .routes import page_json

bp = Blueprint("admin_faults", __name__, url_prefix="/__admin")


@bp.post("/faults")
def add_fault() -> tuple[Response, int]:
    data = request.get_json(silent=True)
    if data is None:
        raise AdminError(400, "invalid_json", "The body must be JSON (Content-Type: application/json).")
    return jsonify(faults.add(context().conn, data)), 201


@bp.get("/faults")
def list_faults() -> Response:
    items = faults.list_faults(context().conn)
    return page_json(items, len(items))


@bp.delete("/faults/<fault_id>")
def delete_fault(fault_id: str) -> tuple[str, int]:
    faults.delete(context().conn, fault_id)
    return "", 204


@bp.delete("/faults")
def clear_faults() -> tuple[str, int]:
    faults.clear(context().conn)
    return "", 204
