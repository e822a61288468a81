"""``POST /oagis`` (thin: read the HTTP request, call the service, send the BOD).

Every answer here is a BOD, whatever happens: errors are handled inside the blueprint, so the app's
cXML and HTML error handlers never see this endpoint.
"""

from __future__ import annotations

from flask import Blueprint, Request, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from .. import faults
from ..errors import BadRequest
from ..inbound import Answer, Exchange, finish
from ..web import context
from . import service

bp = Blueprint("oagis", __name__)

CONTENT_TYPE = "text/xml; charset=UTF-8"
SECRET_HEADER = "X-Shared-Secret"  # noqa: S105 - the name of a header, not a secret


def secrets_of(http: Request) -> service.Secrets:
    """HTTP Basic auth (identity:secret) and the X-Shared-Secret header."""
    auth = http.authorization
    basic = auth is not None and auth.type == "basic"
    scheme = (http.headers.get("Authorization") or "").split(" ", 1)[0]
    return service.Secrets(
        basic_user=auth.username if basic and auth is not None else None,
        basic_secret=auth.password if basic and auth is not None else None,
        header_secret=http.headers.get(SECRET_HEADER),
        other_scheme=scheme if scheme and not basic else None,
    )


def _response(result: Answer, **headers: str) -> Response:
    response = Response(result.body, status=result.http_status, content_type=CONTENT_TYPE)
    response.headers.update(headers)
    return response


def _exchange(body: bytes) -> Exchange:
    return Exchange(
        endpoint=request.path,
        content_type=request.content_type or "",
        body=body,
        charset=request.mimetype_params.get("charset"),
    )


@bp.post("/oagis")
def process_purchase_order() -> Response:
    ctx = context()
    too_large = False
    try:
        body = request.get_data(cache=True, parse_form_data=False)
    except RequestEntityTooLarge:
        body, too_large = b"", True
    exchange = _exchange(body)
    result = service.serve(ctx, exchange, secrets_of(request), too_large=too_large)
    if exchange.fault is not None:
        request.environ[faults.ENVIRON_KEY] = exchange.fault  # applied by the fault middleware
    return _response(result)


@bp.route("/oagis", methods=["GET", "PUT", "PATCH", "DELETE"])
def other_method() -> Response:
    ctx = context()
    exchange = _exchange(b"")
    error = BadRequest(f"{request.method} is not served at /oagis: POST a ProcessPurchaseOrder BOD.")
    error.code, error.text = 405, "Method Not Allowed"
    result = service.refusal(ctx, exchange, error)
    finish(ctx, exchange, result)
    return _response(result, Allow="POST")
