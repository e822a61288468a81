"""``/__admin`` routes: thin wrappers over the services, JSON in and out."""

from __future__ import annotations

from typing import Any

import requests
from flask import Blueprint, Response, jsonify, request

from .. import accounts, journal, outbox, reset
from ..catalog import repository
from ..catalog.generate import build_catalog, read_catalog_meta
from ..errors import AdminError, NotFound
from ..oci import checkout as oci_checkout  # OCI
from ..punchout import cart, checkout, sessions
from ..web import context

bp = Blueprint("admin", __name__, url_prefix="/__admin")

MAX_LIMIT = 500


def _body() -> Any:
    data = request.get_json(silent=True)
    if data is None:
        raise AdminError(400, "invalid_json", "The body must be JSON (Content-Type: application/json).")
    return data


def page_args(default: int = 50) -> tuple[int, int]:
    try:
        limit = int(request.args.get("limit", default))
        offset = int(request.args.get("offset", 0))
    except ValueError as exc:
        raise AdminError(400, "invalid_paging", "limit and offset must be whole numbers.") from exc
    return checked_page(limit, offset)


#: Deeper pages are read with ``before`` (journal, outbox): an offset costs a row read per row skipped.
MAX_OFFSET = 10_000


def checked_page(limit: int, offset: int) -> tuple[int, int]:
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise AdminError(400, "invalid_paging", f"limit must be 1 to {MAX_LIMIT} and offset 0 or more.")
    if offset > MAX_OFFSET:
        raise AdminError(
            400,
            "invalid_paging",
            f"offset is at most {MAX_OFFSET}. Page further with before=<next_before of the last page> "
            "(the journal and the outbox), or narrow the list with its filters.",
        )
    return limit, offset


def page_json(items: list[Any], total: int, *, limit: int | None = None) -> Response:
    """A page: its items, the total (exact, or ``total_exact`` false: at least that many), and for
    lists in id order, ``next_before``: the ``before`` of the next page (null on the last one)."""
    page: dict[str, Any] = {"items": items, "total": total, "total_exact": getattr(total, "exact", True)}
    if limit is not None:
        page["next_before"] = items[-1]["id"] if len(items) == limit else None
    return jsonify(page)


@bp.get("/health")
def health() -> Response:
    ctx = context()
    ctx.conn.execute("SELECT 1").fetchone()
    return jsonify({"status": "ok", "dtd_validation": ctx.dtds.available})


@bp.post("/reset")
def reset_all() -> Response:
    """Everything back to start, or the parts named: {"parts": ["journal", "orders", …]}."""
    data = request.get_json(silent=True) if request.content_length else None
    parts = None
    if isinstance(data, dict) and "parts" in data:
        parts = data["parts"]
        if (
            not isinstance(parts, list)
            or not parts
            or any(not isinstance(p, str) or p not in reset.PARTS for p in parts)
        ):
            raise AdminError(400, "invalid_parts", f"parts must be a list of {', '.join(reset.PARTS)}.")
    ctx = context()
    done = reset.reset(ctx.conn, ctx.config, parts)
    return jsonify({"status": "reset", "parts": done if parts is not None else "all"})


def _catalogue_meta() -> dict[str, Any]:
    meta = read_catalog_meta(context().conn)
    return {
        "seed": int(meta.get("seed", 0)),
        "catalog_size": int(meta.get("size", 0)),
        "products": int(meta.get("product_count", 0)),
        "generator_version": meta.get("generator_version"),
    }


@bp.get("/seed")
def get_seed() -> Response:
    """The seed and size the catalogue was generated from."""
    return jsonify(_catalogue_meta())


@bp.post("/seed")
def put_seed() -> Response:
    """Regenerate the catalogue from another seed (and size): the same seed gives the same products.

    Until the next restart, which builds the catalogue of --seed and --catalog-size again.
    """
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        data = {}
    seed = data.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise AdminError(
            400, "invalid_seed", 'The body must be {"seed": N} with N a whole number ("catalog_size" optional).'
        )
    current = _catalogue_meta()
    size = data.get("catalog_size", current["catalog_size"])
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= 2_000_000:
        raise AdminError(400, "invalid_seed", "catalog_size must be a whole number from 0 to 2000000.")
    rebuilt = build_catalog(context().conn, size=size, seed=seed)
    return jsonify({**_catalogue_meta(), "rebuilt": rebuilt})


@bp.get("/accounts")
def list_accounts() -> Response:
    limit, offset = page_args(100)
    items, total = accounts.list_accounts(context().conn, limit, offset)
    return page_json([a.to_json() for a in items], total)


@bp.post("/accounts")
def create_account() -> tuple[Response, int]:
    account = accounts.create_account(context().conn, _body())
    return jsonify(account.to_json()), 201


@bp.get("/accounts/<account_id>")
def get_account(account_id: str) -> Response:
    return jsonify(accounts.get_account(context().conn, account_id).to_json())


@bp.patch("/accounts/<account_id>")
def patch_account(account_id: str) -> Response:
    conn = context().conn
    account = accounts.patch_account(conn, account_id, _body())
    if account.buyer_endpoint:
        outbox.set_url(conn, account_id=account.id, url=account.buyer_endpoint["url"])
    return jsonify(account.to_json())


@bp.get("/accounts/<account_id>/users")
def list_users(account_id: str) -> Response:
    conn = context().conn
    accounts.get_account(conn, account_id)
    users = accounts.list_users(conn, account_id)
    return page_json([u.to_json() for u in users], len(users))


@bp.post("/accounts/<account_id>/users")
def create_user(account_id: str) -> tuple[Response, int]:
    conn = context().conn
    accounts.get_account(conn, account_id)
    data = _body()
    if not isinstance(data, dict) or not isinstance(data.get("email"), str):
        raise AdminError(400, "invalid_user", "The body must be an object with an email.")
    roles = data.get("roles", ["punchout_user"])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise AdminError(400, "invalid_user", "roles must be a list of role names.")
    user = accounts.create_user(
        conn,
        account_id,
        data["email"],
        name=str(data.get("name", "")),
        roles=tuple(roles),
        registered=bool(data.get("registered", True)),
    )
    return jsonify(user.to_json()), 201


def _sqlite_sized(value: str | int | float) -> bool:
    """Whether SQLite can take the value as a parameter (its integers are 64-bit)."""
    return not isinstance(value, int) or -(2**63) <= value < 2**63


def _journal_criteria(source: dict[str, Any]) -> dict[str, Any]:
    unknown = set(source) - set(journal.CRITERIA) - {"limit", "offset"}
    if unknown:
        raise AdminError(
            400,
            "invalid_filter",
            f"Unknown criteria {', '.join(sorted(unknown))}; known: {', '.join(journal.CRITERIA)}.",
        )
    direction = source.get("direction")
    if direction not in (None, "", "in", "out"):
        raise AdminError(400, "invalid_filter", "direction must be 'in' or 'out'.")
    criteria = {key: source.get(key) for key in journal.CRITERIA if key != "type"}
    criteria["doc_type"] = source.get("type")
    for key, given in criteria.items():
        if given is not None and (not isinstance(given, str | int | float) or not _sqlite_sized(given)):
            name = "type" if key == "doc_type" else key
            raise AdminError(400, "invalid_filter", f"{name} must be a string or a 64-bit number.")
        if key in ("since", "until") and given is not None and not isinstance(given, str):
            raise AdminError(400, "invalid_time", f"{key} must be an ISO 8601 time with an offset, as a string.")
    for key in ("http_status", "cxml_status", "before"):
        value: Any = criteria[key]
        if value not in (None, ""):
            try:
                criteria[key] = int(value)
            except (TypeError, ValueError) as exc:
                raise AdminError(400, "invalid_filter", f"{key} must be a number.") from exc
    return criteria


@bp.get("/journal")
def journal_list() -> Response:
    limit, offset = page_args()
    items, total = journal.search(
        context().conn, **_journal_criteria(request.args.to_dict()), limit=limit, offset=offset
    )
    return page_json(items, total, limit=limit)


@bp.post("/journal/find")
def journal_find() -> Response:
    """Entries that meet every criterion of the JSON body (as the query of GET /__admin/journal)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise AdminError(400, "invalid_json", "The body must be a JSON object of criteria.")
    try:
        limit, offset = int(data.get("limit", 50)), int(data.get("offset", 0))
    except (TypeError, ValueError, OverflowError) as exc:  # a list, NaN, Infinity
        raise AdminError(400, "invalid_paging", "limit and offset must be whole numbers.") from exc
    if not (_sqlite_sized(limit) and _sqlite_sized(offset)):
        raise AdminError(400, "invalid_paging", "limit and offset must be whole numbers.")
    limit, offset = checked_page(min(limit, MAX_LIMIT), offset)
    items, total = journal.search(context().conn, **_journal_criteria(data), limit=limit, offset=offset)
    return page_json(items, total, limit=limit)


@bp.post("/journal/count")
def journal_count() -> Response:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise AdminError(400, "invalid_json", "The body must be a JSON object of criteria.")
    return jsonify({"count": journal.count(context().conn, **_journal_criteria(data))})


@bp.get("/journal/retention")
def journal_retention() -> Response:
    """The retention setting (--journal-max-rows, --journal-max-days) and the journal's size."""
    ctx = context()
    retention = journal.Retention(ctx.config.journal_max_rows, ctx.config.journal_max_days)
    return jsonify(journal.retention_status(ctx.conn, retention))


@bp.get("/journal/<int:entry_id>")
def journal_entry(entry_id: int) -> Response:
    return jsonify(journal.get(context().conn, entry_id))


def _product_json(product: Any) -> dict[str, Any]:
    data = {k: v for k, v in vars(product).items()}
    for key in ("list_price", "business_price"):
        data[key] = str(data[key])
    data["tiers"] = [{"min_quantity": t.min_quantity, "unit_price": str(t.unit_price)} for t in product.tiers]
    return data


@bp.get("/catalog/search")
def catalog_search() -> Response:
    limit, offset = page_args(20)
    locale = request.args.get("locale", "en_US")
    if locale not in ("en_US", "de_DE"):
        raise AdminError(400, "invalid_locale", "locale must be en_US or de_DE.")
    page = repository.search(
        context().conn,
        request.args.get("q", ""),
        locale=locale,
        category=request.args.get("category") or None,
        limit=min(limit, 100),
        offset=offset,
    )
    return page_json([_product_json(p) for p in page.items], page.total)


@bp.get("/catalog/products/<asin>")
def catalog_product(asin: str) -> Response:
    locale = request.args.get("locale", "en_US")
    if locale not in ("en_US", "de_DE"):
        raise AdminError(400, "invalid_locale", "locale must be en_US or de_DE.")
    product = repository.get_product(context().conn, asin, locale)
    if product is None:
        raise NotFound("product", asin)
    return jsonify(_product_json(product))


def _session_json(session: sessions.Session) -> dict[str, Any]:
    data = session.to_json()
    c = cart.load(context().conn, session)
    data["cart"] = {
        "currency": c.currency,
        "total": str(c.total),
        "shipping": str(c.shipping),
        "tax": str(c.tax),
        "items": [
            {
                "asin": line.product.asin,
                "title": line.product.title,
                "quantity": line.quantity,
                "unit_price": str(line.unit_price),
                "subtotal": str(line.subtotal),
            }
            for line in c.lines
        ],
    }
    return data


@bp.get("/sessions")
def list_sessions() -> Response:
    limit, offset = page_args()
    items, total = sessions.find(
        context().conn,
        buyer_cookie=request.args.get("buyer_cookie"),
        account_id=request.args.get("account_id"),
        limit=limit,
        offset=offset,
    )
    return page_json([_session_json(s) for s in items], total)


@bp.get("/sessions/<session_id>")
def get_session(session_id: str) -> Response:
    return jsonify(_session_json(sessions.get(context().conn, session_id)))


@bp.post("/sessions/<session_id>/cart/items")
def add_cart_item(session_id: str) -> tuple[Response, int]:
    conn = context().conn
    session = sessions.get(conn, session_id)
    data = _body()
    if not isinstance(data, dict) or not isinstance(data.get("asin"), str):
        raise AdminError(400, "invalid_item", 'The body must be {"asin": "...", "quantity": N}.')
    cart.add(conn, session, data["asin"], data.get("quantity", 1))
    return jsonify(_session_json(sessions.get(conn, session_id))), 201


@bp.post("/sessions/<session_id>/checkout")
def checkout_session(session_id: str) -> Response:
    ctx = context()
    session = sessions.get(ctx.conn, session_id)
    data = request.get_json(silent=True) or {}
    if not isinstance(data, dict):
        raise AdminError(400, "invalid_body", 'The body must be {"deliver": bool, "cancel": bool}.')
    if session.protocol == "oci":  # OCI: the NEW_ITEM form fields instead of a cXML message
        cancel, deliver = bool(data.get("cancel", False)), bool(data.get("deliver"))
        return jsonify(oci_checkout.admin_checkout(ctx, session, cancel=cancel, deliver_form=deliver))
    returned = checkout.return_cart(ctx, session, cancel=bool(data.get("cancel", False)))
    result: dict[str, Any] = {
        "session_id": returned.session_id,
        "payload_id": returned.payload_id,
        "journal_id": returned.journal_id,
        "action": returned.action,
        "target": returned.target,
        "fields": returned.fields,
        "cxml": returned.xml.decode("utf-8"),
        "delivered": None,
    }
    if data.get("deliver"):
        result["delivered"] = _deliver(returned)
    return jsonify(result)


def _deliver(returned: checkout.ReturnedCart) -> dict[str, Any]:
    """Post the return form to BrowserFormPost from the server, as the shopper's browser would."""
    try:
        if returned.enctype == "text/plain":  # raw: the body is the cXML document itself
            reply = requests.post(
                returned.action,
                data=returned.xml,
                headers={"Content-Type": "text/xml; charset=UTF-8"},
                timeout=30,
                allow_redirects=False,
            )
        else:
            reply = requests.post(returned.action, data=returned.fields, timeout=30, allow_redirects=False)
    except requests.RequestException as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": reply.ok, "http_status": reply.status_code, "body": reply.text[:2000]}
