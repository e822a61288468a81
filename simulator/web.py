"""Glue between Flask and the services: the per-request connection and the error handlers."""

from __future__ import annotations

import hmac
import logging
import sqlite3
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from . import clock, cxml_endpoints, db, inbound
from .context import Context
from .errors import (
    AdminError,
    BadRequest,
    CxmlError,
    NotImplementedRequest,
    RequestTooLarge,
    ShopError,
)

log = logging.getLogger(__name__)

CXML_ENDPOINTS = ("/punchout", "/cxml", "/orders")
XML_MIMETYPE = "text/xml"


def connection() -> sqlite3.Connection:
    if "db" not in g:
        g.db = db.shared(current_app.config["SIMULATOR"].database_path)
    conn: sqlite3.Connection = g.db
    return conn


def context() -> Context:
    return Context(connection(), current_app.config["SIMULATOR"], current_app.extensions["dtds"])


def close_connection(_: BaseException | None = None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


def is_cxml_endpoint() -> bool:
    return any(request.path == p or request.path.startswith(p + "/") for p in CXML_ENDPOINTS)


def xml_response(result: inbound.Answer) -> Response:
    return Response(result.body, status=result.http_status, content_type=cxml_endpoints.CONTENT_TYPE)


def _cxml_error(error: CxmlError) -> Response:
    ctx = context()
    exchange = g.get("exchange") or inbound.Exchange(
        endpoint=request.path, content_type=request.content_type or "", body=b""
    )
    return xml_response(inbound.refuse(ctx, exchange, error))


def _admin_error(error: AdminError) -> tuple[Response, int]:
    return jsonify({"error": error.error, "message": error.message}), error.status


def _shop_error(error: ShopError) -> Any:
    if request.path.startswith("/__admin"):
        return jsonify({"error": error.title.lower().replace(" ", "_"), "message": error.message}), error.status
    return render_template("error.html", title=error.title, message=error.message), error.status


def _http_error(error: HTTPException) -> Any:
    if isinstance(error, RequestEntityTooLarge) and is_cxml_endpoint():
        limit = current_app.config["SIMULATOR"].max_body_bytes
        return _cxml_error(
            RequestTooLarge(
                f"The request body is larger than {limit} bytes, the most this simulator accepts "
                "(set --max-body-bytes or PUNCHOUT_SIM_MAX_BODY_BYTES to change it)."
            )
        )
    if is_cxml_endpoint():
        if error.code == 405:
            return _cxml_error(BadRequest(f"{request.method} is not served at {request.path}: POST the cXML document."))
        if error.code == 404:
            return _cxml_error(NotImplementedRequest(f"Nothing is served at {request.path}."))
        return _cxml_error(BadRequest(f"{error.name}: {error.description}"))
    if request.path.startswith("/__admin"):
        return jsonify({"error": (error.name or "error").lower().replace(" ", "_"), "message": error.description}), (
            error.code or 500
        )
    return render_template("error.html", title=error.name, message=error.description), error.code or 500


def _unexpected(error: Exception) -> Any:
    log.exception("unexpected error at %s %s", request.method, request.path)
    data_dir = current_app.config["SIMULATOR"].data_dir
    if is_cxml_endpoint():
        return _cxml_error(inbound.internal_error(error, data_dir))
    storage = db.storage_error(error, data_dir)  # a full disk, read-only …
    if request.path.startswith("/__admin"):
        if storage:
            return jsonify({"error": "storage_error", "message": storage}), 500
        return jsonify({"error": "internal_error", "message": f"{type(error).__name__}: see the simulator's log."}), 500
    return render_template(
        "error.html",
        title="Something went wrong",
        message=storage or "The simulator failed to show this page; see its log.",
    ), 500


def _before_request() -> Any:
    config = current_app.config["SIMULATOR"]
    if config.admin_token and request.path.startswith("/__admin") and request.path != "/__admin/health":
        sent = request.headers.get("Authorization", "")
        expected = f"Bearer {config.admin_token}"
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            return jsonify(
                {
                    "error": "unauthorized",
                    "message": "The admin API needs the header Authorization: Bearer <admin token>.",
                }
            ), 401
    clock.sync(connection())
    return None


def register_error_handlers(app: Flask) -> None:
    app.before_request(_before_request)
    app.register_error_handler(CxmlError, _cxml_error)
    app.register_error_handler(AdminError, _admin_error)
    app.register_error_handler(ShopError, _shop_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    app.teardown_appcontext(close_connection)
