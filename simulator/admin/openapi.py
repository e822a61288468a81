"""The admin API described as OpenAPI 3.1, served at ``GET /__admin/openapi.json``.

Written by hand from the routes; a test checks that it is valid, that it names exactly the admin
routes the app serves, and calls every operation in it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from .. import __version__

bp = Blueprint("admin_openapi", __name__, url_prefix="/__admin")

OBJECT: dict[str, Any] = {"type": "object"}
LIST = {"$ref": "#/components/schemas/List"}
ERROR = {"description": "Refused", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _param(name: str, where: str = "query", kind: str = "string", description: str = "") -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": where, "schema": {"type": kind}, "required": where == "path"}
    if description:
        param["description"] = description
    return param


PAGE = [_param("limit", kind="integer"), _param("offset", kind="integer")]
JOURNAL_FILTERS = [
    _param(name)
    for name in ("type", "direction", "account_id", "session_id", "endpoint", "payload_id", "scenario", "contains")
] + [
    _param("http_status", kind="integer"),
    _param("cxml_status", kind="integer"),
    _param("since"),
    _param("until"),
    _param("before", kind="integer"),
]


def _op(
    summary: str,
    tag: str,
    *,
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    ok: int = 200,
    result: dict[str, Any] | None = None,
    errors: tuple[int, ...] = (),
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": {}}
    if params:
        operation["parameters"] = params
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if ok == 204:
        operation["responses"]["204"] = {"description": "Done"}
    else:
        operation["responses"][str(ok)] = _json(result or OBJECT)
    for code in errors:
        operation["responses"][str(code)] = ERROR
    return operation


def paths() -> dict[str, dict[str, Any]]:
    account_id = _param("account_id", "path")
    name = _param("name", "path")
    return {
        "/__admin/health": {"get": _op("Liveness, and whether DTD validation is on", "simulator")},
        "/__admin/openapi.json": {"get": _op("This document", "simulator")},
        "/__admin/reset": {
            "post": {
                **_op("Everything back to start, or some parts", "simulator", errors=(400,)),
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "parts": {
                                        "type": "array",
                                        "items": {"enum": ["journal", "orders", "sessions", "scenarios", "faults"]},
                                    }
                                },
                            }
                        }
                    },
                },
            }
        },
        "/__admin/seed": {
            "get": _op("The seed and size the catalogue was generated from", "simulator"),
            "post": _op(
                "Regenerate the catalogue from a seed {seed, catalog_size?}",
                "simulator",
                body={"type": "object", "required": ["seed"], "properties": {"seed": {"type": "integer"}}},
                errors=(400,),
            ),
        },
        "/__admin/clock": {"get": _op("The simulator's clock", "clock")},
        "/__admin/clock/advance": {
            "post": _op(
                "Move the clock forward",
                "clock",
                body={"type": "object", "required": ["seconds"], "properties": {"seconds": {"type": "number"}}},
                errors=(400,),
            )
        },
        "/__admin/accounts": {
            "get": _op("Accounts (punchout groups)", "accounts", params=PAGE, result=LIST),
            "post": _op("Create an account", "accounts", body=OBJECT, ok=201, errors=(400, 409)),
        },
        "/__admin/accounts/{account_id}": {
            "parameters": [account_id],
            "get": _op("One account", "accounts", errors=(404,)),
            "patch": _op(
                "Change an account (objects merge key by key)", "accounts", body=OBJECT, errors=(400, 404, 409)
            ),
        },
        "/__admin/accounts/{account_id}/users": {
            "parameters": [account_id],
            "get": _op("The account's users", "accounts", result=LIST, errors=(404,)),
            "post": _op("Add a user {email, name, roles}", "accounts", body=OBJECT, ok=201, errors=(400, 404, 409)),
        },
        "/__admin/catalog/search": {
            "get": _op(
                "Search the catalogue",
                "catalogue",
                params=[_param("q"), _param("category"), _param("locale"), *PAGE],
                result=LIST,
                errors=(400,),
            )
        },
        "/__admin/catalog/products/{asin}": {
            "parameters": [_param("asin", "path")],
            "get": _op("One product", "catalogue", params=[_param("locale")], errors=(404,)),
        },
        "/__admin/sessions": {
            "get": _op(
                "PunchOut sessions",
                "sessions",
                params=[_param("buyer_cookie"), _param("account_id"), *PAGE],
                result=LIST,
            )
        },
        "/__admin/sessions/{session_id}": {
            "parameters": [_param("session_id", "path")],
            "get": _op("One session with its cart", "sessions", errors=(404,)),
        },
        "/__admin/sessions/{session_id}/cart/items": {
            "parameters": [_param("session_id", "path")],
            "post": _op(
                "Add to the cart {asin, quantity}", "sessions", body=OBJECT, ok=201, errors=(400, 403, 404, 409)
            ),
        },
        "/__admin/sessions/{session_id}/checkout": {
            "parameters": [_param("session_id", "path")],
            "post": _op("Return the cart {deliver, cancel}", "sessions", body=OBJECT, errors=(404, 409)),
        },
        # OCI: start a session without a browser (the login fields as JSON)
        "/__admin/oci/sessions": {
            "post": _op(
                "Start an OCI session {HOOK_URL, USERNAME, PASSWORD, ~OkCode?, ~target?, ~caller?, OCI_VERSION?}: "
                "returns {session_id, account_id, start_url}",
                "sessions",
                body={
                    "type": "object",
                    "required": ["HOOK_URL", "USERNAME", "PASSWORD"],
                    "additionalProperties": {"type": "string"},
                },
                ok=201,
                errors=(400, 401, 403),
            )
        },
        "/__admin/journal": {
            "get": _op(
                "Every document in and out, newest first", "journal", params=[*JOURNAL_FILTERS, *PAGE], result=LIST
            )
        },
        "/__admin/journal/{entry_id}": {
            "parameters": [_param("entry_id", "path", "integer")],
            "get": _op("One entry with its body", "journal", errors=(404,)),
        },
        "/__admin/journal/find": {
            "post": _op(
                "Entries meeting every criterion of the body", "journal", body=OBJECT, result=LIST, errors=(400,)
            )
        },
        "/__admin/journal/count": {
            "post": _op("How many entries meet the criteria", "journal", body=OBJECT, errors=(400,))
        },
        "/__admin/journal/retention": {
            "get": _op("The journal's retention setting (--journal-max-rows, --journal-max-days) and size", "journal")
        },
        "/__admin/journal/unmatched": {
            "get": _op("Requests no scenario rule matched, with the nearest rules", "journal", params=PAGE, result=LIST)
        },
        "/__admin/orders": {
            "get": _op(
                "Orders",
                "orders",
                params=[_param("account_id"), _param("order_id"), _param("po"), _param("status"), *PAGE],
                result=LIST,
            )
        },
        "/__admin/orders/{order_pk}": {
            "parameters": [_param("order_pk", "path", description="the order's id (not the PO number)")],
            "get": _op("One order: lines, shipments, documents and attempts", "orders", errors=(404,)),
        },
        "/__admin/orders/{order_pk}/advance": {
            "parameters": [_param("order_pk", "path")],
            "post": _op("The order's next document now", "orders", errors=(404, 409)),
        },
        "/__admin/outbox": {
            "get": _op(
                "Documents to buyers",
                "outbox",
                params=[
                    _param("status"),
                    _param("type"),
                    _param("account_id"),
                    _param("order_id"),
                    _param("before", kind="integer"),
                    *PAGE,
                ],
                result=LIST,
                errors=(400,),
            )
        },
        "/__admin/outbox/{outbox_id}": {
            "parameters": [_param("outbox_id", "path", "integer")],
            "get": _op("One document with its attempts", "outbox", errors=(404,)),
        },
        "/__admin/outbox/{outbox_id}/resend": {
            "parameters": [_param("outbox_id", "path", "integer")],
            "post": _op("Send it again, same payloadID", "outbox", errors=(404, 409)),
        },
        "/__admin/outbox/flush": {"post": _op("Send everything pending now", "outbox")},
        "/__admin/emails": {
            "get": _op("Emails to punchout users", "outbox", params=[_param("account_id"), _param("order_id"), *PAGE])
        },
        "/__admin/scenarios": {
            "get": _op("The library and loaded scenarios", "scenarios", result=LIST),
            "post": {
                **_op("Load a scenario (YAML or JSON)", "scenarios", ok=201, errors=(400,)),
                "requestBody": {
                    "required": True,
                    "content": {"application/yaml": {"schema": OBJECT}, "application/json": {"schema": OBJECT}},
                },
            },
        },
        "/__admin/scenarios/reset": {"post": _op("Every scenario back to Started", "scenarios")},
        "/__admin/scenarios/{name}": {"parameters": [name], "get": _op("One scenario", "scenarios", errors=(404,))},
        "/__admin/scenarios/{name}/activate": {
            "parameters": [name],
            "post": {
                **_op("Activate {account_id?}", "scenarios", errors=(400, 404)),
                "requestBody": {"required": False, "content": {"application/json": {"schema": OBJECT}}},
            },
        },
        "/__admin/scenarios/{name}/deactivate": {
            "parameters": [name],
            "post": _op("Deactivate", "scenarios", errors=(404,)),
        },
        "/__admin/scenarios/{name}/state": {
            "parameters": [name],
            "get": _op("The scenario's state", "scenarios", errors=(404,)),
            "put": _op("Set the state {state}", "scenarios", body=OBJECT, errors=(400, 404)),
        },
        "/__admin/faults": {
            "get": _op("Faults", "faults", result=LIST),
            "post": _op("Add a fault", "faults", body=OBJECT, ok=201, errors=(400,)),
            "delete": _op("Remove every fault", "faults", ok=204),
        },
        "/__admin/faults/{fault_id}": {
            "parameters": [_param("fault_id", "path")],
            "delete": _op("Remove a fault", "faults", ok=204, errors=(404,)),
        },
    }


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "PunchOut Simulator admin API",
            "version": __version__,
            "description": "Everything the simulator's UI does, as JSON. Lists answer {items, total, total_exact} "
            "and take limit and offset (at most 10,000); a total above 10,000 is not counted further "
            "(total_exact false). The journal and the outbox page deeper with before=<id>: each page "
            "names the next in next_before. The journal's contains looks at its newest 10,000 entries "
            "(before before=, when given). Errors answer {error, message} with a 4xx. With --admin-token "
            "every route but /__admin/health needs Authorization: Bearer <token>.",
        },
        "paths": paths(),
        "components": {
            "schemas": {
                "List": {
                    "type": "object",
                    "required": ["items", "total"],
                    "properties": {
                        "items": {"type": "array", "items": {}},
                        "total": {"type": "integer"},
                        "total_exact": {"type": "boolean"},
                        "next_before": {"type": ["integer", "null"]},
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
                },
            },
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
        },
    }


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(document())
