"""OCI endpoints (thin): the catalogue call ``GET|POST /oci`` and ``POST /__admin/oci/sessions``."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request

from ..errors import AdminError, ShopError
from ..punchout.routes import start_page
from ..punchout.service import start_page_url
from ..web import context
from . import login, service
from .checkout import OciForm
from .login import OciError

bp = Blueprint("oci", __name__)

HTML = "text/html; charset=utf-8"
ADMIN_BODY = (
    'The body must be a JSON object of OCI login fields, every value a string: {"HOOK_URL": "…", '
    '"USERNAME": "…", "PASSWORD": "…"} and optionally "~OkCode", "~target", "~caller", "OCI_VERSION", "OCICANCEL".'
)


def render_form(form: OciForm, *, function: str | None = None, cancel: bool = False) -> str:
    return render_template("oci/return.html", form=form, heading=form.heading(cancel=cancel, function=function))


@bp.route("/oci", methods=["GET", "POST"])
def catalogue_call() -> Any:
    """The OCI login (GET, as SAP SRM sends it, or POST): opens the shop, or answers a background function."""
    ctx = context()
    exchange = service.Exchange(
        endpoint="/oci",
        content_type=request.content_type or f"{request.method} query string",
        request=login.read([(name, value) for name, values in request.values.lists() for value in values]),
    )
    try:
        result = service.serve(ctx, exchange)
        if isinstance(result, service.Started):
            response = start_page(result.token)  # cookie and sid, as for a cXML StartPage
            service.record(
                ctx,
                exchange,
                status=response.status_code,
                body=f"{response.status_code} to the shop (session {result.session.id})",
                content_type="",
            )
            return response
    except ShopError as error:
        service.record(ctx, exchange, status=error.status, body=f"{error.title}: {error.message}", content_type=HTML)
        raise
    function = (exchange.request.get("FUNCTION") or "").strip().upper() or None
    page = render_form(result, function=function, cancel=function is None)
    service.record(ctx, exchange, status=200, body=result.urlencoded(), content_type=HTML)
    return page


@bp.post("/__admin/oci/sessions")
def admin_start_session() -> tuple[Response, int]:
    """Start an OCI session without a browser: the login fields as JSON; returns the one-time start URL."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise AdminError(400, "invalid_body", ADMIN_BODY)
    ctx = context()
    exchange = service.Exchange(
        endpoint=request.path, content_type="application/json", request=login.read(list(data.items()))
    )
    try:
        result = service.serve(ctx, exchange, allow_functions=False)
    except OciError as error:
        service.record(ctx, exchange, status=error.status, body=f"{error.title}: {error.message}", content_type=HTML)
        raise AdminError(error.status, error.code, error.message) from error
    assert exchange.account is not None
    body: dict[str, Any] = {"session_id": exchange.session_id, "account_id": exchange.account.id}
    if isinstance(result, OciForm):  # OCICANCEL: the session was cancelled at once
        body |= {"start_url": None, "cancelled": True, "action": result.action, "fields": result.fields_json()}
    else:
        body |= {"start_url": start_page_url(ctx, result.token), "cancelled": False}
    service.record(ctx, exchange, status=201, body=json.dumps(body), content_type="application/json")
    return jsonify(body), 201
