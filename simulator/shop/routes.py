"""Shop pages. A page is served for a PunchOut session (``sid`` in the URL or the cookie) or,
for browsing only, without one. Every link and form carries ``sid`` so cookies are optional.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, g, redirect, render_template, request, url_for

from .. import accounts
from ..catalog import repository
from ..cxml_endpoints import FAULT_ENVIRON_KEY
from ..errors import AdminError, ShopError
from ..i18n import browser_locale
from ..oci import checkout as oci_checkout  # OCI
from ..orders import store
from ..punchout import cart, checkout, sessions
from ..punchout.routes import SHOP_COOKIE
from ..scenarios import pages
from ..web import context

bp = Blueprint("shop", __name__, url_prefix="/shop")
PAGE_SIZE = 20


@bp.before_request
def _choose_locale() -> None:
    g.locale = browser_locale()


def _shop_key() -> str | None:
    return request.values.get("sid") or request.cookies.get(SHOP_COOKIE) or None


def _session(required: bool = True) -> sessions.Session | None:
    key = _shop_key()
    if key is None:
        if required:
            raise ShopError(
                403,
                "No shopping session",
                "This page needs a PunchOut session. Start one from your procurement system.",
            )
        return None
    ctx = context()
    session = sessions.by_shop_key(ctx.conn, key, ctx.config.session_ttl)
    g.sid = key
    g.locale = session.locale  # the account's locale wins over the browser's
    return session


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    def shop_url(endpoint: str, **values: Any) -> str:
        sid = g.get("sid")
        if sid:
            values["sid"] = sid
        return url_for(endpoint, **values)

    return {"shop_url": shop_url}


def _render(template: str, session: sessions.Session | None, **values: Any) -> str:
    ctx = context()
    account = accounts.get_account(ctx.conn, session.account_id) if session else None
    categories = repository.list_categories(ctx.conn, session.locale if session else "en_US")
    count = ctx.conn.execute(
        "SELECT coalesce(sum(quantity), 0) FROM cart_items WHERE session_id = ?",
        (session.id if session else "",),
    ).fetchone()[0]
    return render_template(
        template,
        session=session,
        account=account,
        test_mode=bool(session and (session.test_mode or (account and account.status == "test"))),
        top_categories=[c for c in categories if c.parent_id is None],
        cart_count=count,
        sid=g.get("sid"),
        **values,
    )


def _locale(session: sessions.Session | None) -> str:
    return session.locale if session else "en_US"


def _registration_needed(session: sessions.Session | None) -> bool:
    if session is None or session.user_id is None:
        return False
    return not accounts.get_user(context().conn, session.user_id).registered


def _gate(session: sessions.Session | None) -> Response | None:
    if _registration_needed(session):
        return redirect(url_for("shop.register", sid=g.get("sid")), code=303)  # type: ignore[return-value]
    return None


@bp.get("/")
@bp.get("")
def home() -> Any:
    session = _session(required=False)
    if (gate := _gate(session)) is not None:
        return gate
    categories = repository.list_categories(context().conn, _locale(session))
    return _render("shop/home.html", session, categories=categories)


@bp.get("/search")
def search() -> Any:
    session = _session(required=False)
    if (gate := _gate(session)) is not None:
        return gate
    query = request.args.get("q", "").strip()[:200]
    category = request.args.get("category") or None
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    results = repository.search(
        context().conn,
        query,
        locale=_locale(session),
        category=category,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    pages = max(1, -(-results.total // PAGE_SIZE))
    return _render("shop/search.html", session, query=query, category=category, results=results, page=page, pages=pages)


@bp.get("/product/<asin>")
def product(asin: str) -> Any:
    session = _session(required=False)
    if (gate := _gate(session)) is not None:
        return gate
    item = repository.get_product(context().conn, asin, _locale(session))
    if item is None:
        raise ShopError(404, "Product not found", f"There is no product {asin} in this catalogue.")
    return _render("shop/product.html", session, product=item)


def _quantity(default: int | None = None) -> int:
    raw = request.form.get("quantity")
    if raw is None and default is not None:
        return default
    try:
        return int(str(raw).strip())
    except ValueError as exc:
        raise ShopError(400, "Invalid quantity", f"Quantity must be a whole number, got {raw!r}.") from exc


def _cart_redirect() -> Response:
    return redirect(url_for("shop.cart_page", sid=g.get("sid")), code=303)  # type: ignore[return-value]


def _shop_action(action: Any) -> Response:
    try:
        action()
    except AdminError as exc:
        raise ShopError(exc.status, "Cannot change the cart", exc.message) from exc
    return _cart_redirect()


@bp.post("/cart/add")
def cart_add() -> Response:
    session = _session()
    assert session is not None
    asin, quantity = request.form.get("asin", ""), _quantity(1)
    return _shop_action(lambda: cart.add(context().conn, session, asin, quantity))


@bp.post("/cart/update")
def cart_update() -> Response:
    session = _session()
    assert session is not None
    asin, quantity = request.form.get("asin", ""), _quantity()
    if quantity < 0:
        raise ShopError(400, "Invalid quantity", "Quantity cannot be negative.")
    return _shop_action(lambda: cart.set_quantity(context().conn, session, asin, quantity))


@bp.post("/cart/remove")
def cart_remove() -> Response:
    session = _session()
    assert session is not None
    asin = request.form.get("asin", "")
    return _shop_action(lambda: cart.remove(context().conn, session, asin))


@bp.get("/cart")
def cart_page() -> Any:
    session = _session()
    if (gate := _gate(session)) is not None:
        return gate
    assert session is not None
    return _render("shop/cart.html", session, cart=cart.load(context().conn, session))


def _return(cancel: bool) -> str:
    session = _session()
    assert session is not None
    ctx = context()
    lines = tuple((line.product.asin, Decimal(line.quantity)) for line in cart.load(ctx.conn, session).lines)
    fault = pages.on_page(ctx.conn, "Checkout", "checkout", session, lines)
    if fault is not None:
        request.environ[FAULT_ENVIRON_KEY] = fault
    if session.protocol == "oci":  # OCI: the cart goes back as NEW_ITEM form fields
        form = oci_checkout.return_cart(ctx, session, cancel=cancel)
        return render_template("oci/return.html", form=form, heading=form.heading(cancel=cancel))
    returned = checkout.return_cart(ctx, session, cancel=cancel)
    return render_template("shop/return.html", returned=returned, cancel=cancel)


@bp.post("/checkout")
def checkout_cart() -> str:
    return _return(cancel=False)


@bp.post("/return-without-items")
def return_without_items() -> str:
    return _return(cancel=True)


@bp.get("/orders")
def orders() -> Any:
    """ "Your orders": the punchout user's orders, with line statuses and tracking."""
    session = _session()
    if (gate := _gate(session)) is not None:
        return gate
    assert session is not None
    conn = context().conn
    if not session.email:  # an empty filter would match every user: show no one else's orders
        return _render("shop/orders.html", session, orders=[])
    found, _ = store.list_orders(conn, account_id=session.account_id, user_email=session.email, limit=50)
    return _render("shop/orders.html", session, orders=[store.get_order(conn, o["id"]) for o in found])


@bp.route("/register", methods=["GET", "POST"])
def register() -> Any:
    session = _session()
    assert session is not None
    if session.user_id is None or not _registration_needed(session):
        return redirect(url_for("shop.home", sid=g.get("sid")), code=303)
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        if not name or request.form.get("accept") != "yes":
            return _render("shop/register.html", session, error="Enter your name and accept the business terms."), 400
        accounts.mark_registered(context().conn, session.user_id, name[:200])
        return redirect(url_for("shop.home", sid=g.get("sid")), code=303)
    return _render("shop/register.html", session, error=None)
