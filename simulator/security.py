"""Browser-facing security: CSRF tokens on the forms of the shop, the console and the demo buyer,
and the security headers of every answer (a Content-Security-Policy with a per-response nonce).

CSRF. Every form that changes something in a browser page carries ``csrf_token``, an HMAC of what
the form is bound to, keyed with a secret kept in the data dir's database (table ``meta``, so every
worker process shares it and a restart keeps it):

* shop forms are bound to the shop session key (``sid``). The shop works without cookies (inside a
  buyer's iframe third-party cookies are often blocked), so the token cannot live in a cookie; a
  page of one session cannot make a token for another.
* console and demo-buyer forms are bound to a random value in the cookie ``punchout_sim_csrf``
  (SameSite=Lax, HttpOnly), set the first time a page with a form is shown.

A POST (PUT, PATCH, DELETE) to the ``shop``, ``console`` or ``demo_buyer`` blueprint without the
right token is refused with 400 and the app's HTML error page. Not checked, because they are
cross-site by design and answer machines, not a logged-in browser:

* the cXML, OCI and OAGIS machine endpoints (``/punchout``, ``/cxml``, ``/orders/…``, ``/oagis/…``);
  a procurement system posts them from its own server, authenticated by the shared secret;
* ``GET /start/<token>`` and the OCI login ``GET|POST /oci``: the buyer's system opens the shop with
  them from its own page; the one-time start token or the OCI credentials are the authentication;
* ``POST /demo-buyer/punchout/return``: the demo buyer plays the procurement system, and this is its
  BrowserFormPost URL, which receives the cart the shop posts back from another origin;
* ``POST /demo-buyer/cxml``: the demo buyer's cXML endpoint (shared secret), posted by the outbox;
* ``/__admin``: a JSON API, protected by ``--admin-token`` when one is set. A browser form cannot
  send a JSON body, and it is not in the browser blueprints.

Headers: ``Content-Security-Policy`` on every HTML page (scripts only with the response's nonce,
no ``'unsafe-inline'``), ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy`` on every answer.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3

from flask import Flask, Response, current_app, g, request
from markupsafe import Markup, escape

from .cxml_endpoints import COMMON_HEADERS
from .errors import ShopError
from .punchout.routes import SHOP_COOKIE

CSRF_FIELD = "csrf_token"
SEED_COOKIE = "punchout_sim_csrf"
META_ROW = "csrf_secret"  # the key of the row of table meta that holds the HMAC key
PROTECTED_BLUEPRINTS = frozenset({"shop", "console", "demo_buyer", "operator"})  # operator: the console sign-in
EXEMPT_ENDPOINTS = frozenset(
    {
        "demo_buyer.punchout_return",  # the demo buyer's BrowserFormPost URL: cross-origin by design
        "demo_buyer.inbound_cxml",  # cXML from the simulator's outbox, authenticated by shared secret
    }
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The console and the demo buyer change the simulator's state and are never shown inside another
# site's page. Everything else stays frameable: buyers open the shop (the StartPage, the OCI login
# and the pages that post the cart back) in an iframe of their procurement system.
UNFRAMEABLE_BLUEPRINTS = frozenset({"console", "demo_buyer"})
REFUSED_TITLE = "Form not accepted"
REFUSED_MESSAGE = (
    "This form could not be verified: it was not sent from a page of this simulator, or the page "
    "belongs to another session. Go back, reload the page and send the form again. "
    "(Console and demo-buyer forms need cookies.)"
)


# --- the secret and the tokens ------------------------------------------------------------------


def load_secret(conn: sqlite3.Connection) -> bytes:
    """The data dir's CSRF key: created once (the first writer wins, across processes), then kept."""
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
        (META_ROW, secrets.token_hex(32)),
    )
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (META_ROW,)).fetchone()
    return bytes.fromhex(row[0])


def _secret() -> bytes:
    key: bytes | None = current_app.extensions.get("csrf_secret")
    if key is None:
        from .web import connection

        key = load_secret(connection())
        current_app.extensions["csrf_secret"] = key
    return key


def make_token(secret: bytes, binding: str) -> str:
    return hmac.new(secret, binding.encode(), hashlib.sha256).hexdigest()


def _shop_key() -> str | None:
    """The shop session key exactly as the shop's routes read it: ``sid`` first, then the cookie."""
    return request.values.get("sid") or request.cookies.get(SHOP_COOKIE) or None


def _binding(*, create: bool) -> str | None:
    """What this request's forms are bound to: the shop session, or the browser's seed cookie."""
    if request.blueprint == "shop":
        key = g.get("sid") or _shop_key()
        return f"shop:{key}" if key else None
    seed = request.cookies.get(SEED_COOKIE) or g.get("csrf_new_seed")
    if seed is None and create:
        seed = g.csrf_new_seed = secrets.token_urlsafe(24)
    return f"browser:{seed}" if seed else None


def csrf_token() -> str:
    binding = _binding(create=True)
    if binding is None:  # a shop page without a session shows no form that changes anything
        return ""
    return make_token(_secret(), binding)


def csrf_field() -> Markup:
    """The hidden input every state-changing form of the browser pages carries (a template global)."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, escape(csrf_token()))


def csp_nonce() -> str:
    """This response's nonce for ``<script nonce=…>`` and ``<style nonce=…>`` (a template global)."""
    nonce: str | None = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(18)
    return nonce


# --- the hooks ----------------------------------------------------------------------------------


def check_csrf() -> None:
    if request.method in SAFE_METHODS or request.blueprint not in PROTECTED_BLUEPRINTS:
        return
    if request.endpoint in EXEMPT_ENDPOINTS:
        return
    binding = _binding(create=False)
    if binding is None and request.blueprint == "shop":
        return  # no session key: the route refuses with "No shopping session" (403) before any change
    sent = request.form.get(CSRF_FIELD, "")
    if binding is None or not sent or not hmac.compare_digest(sent.encode(), make_token(_secret(), binding).encode()):
        raise ShopError(400, REFUSED_TITLE, REFUSED_MESSAGE)


def content_security_policy(nonce: str, *, frameable: bool) -> str:
    directives = [
        "default-src 'self'",
        f"script-src 'nonce-{nonce}'",  # only the scripts this response names; no 'unsafe-inline'
        # The console's page styles are <style> blocks with the nonce; the stylesheets are files.
        f"style-src 'self' 'nonce-{nonce}'",
        "img-src 'self' data:",  # data: for the empty favicon <link rel="icon" href="data:,">
        "object-src 'none'",
        "base-uri 'none'",
        # No form-action: the return page posts the cart to the buyer's BrowserFormPost URL or
        # HOOK_URL, any http(s) origin (checked when the session starts).
    ]
    if not frameable:
        directives.append("frame-ancestors 'self'")
    # Frameable pages name no frame-ancestors at all: even "*" would refuse parents that are not
    # http(s), such as a buyer's test page opened from a file or written into about:blank.
    return "; ".join(directives)


def add_headers(response: Response) -> Response:
    for name, value in COMMON_HEADERS:
        response.headers.setdefault(name, value)
    frameable = request.blueprint not in UNFRAMEABLE_BLUEPRINTS
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = content_security_policy(csp_nonce(), frameable=frameable)
    if not frameable:
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    seed = g.get("csrf_new_seed")
    if seed is not None and SEED_COOKIE not in request.cookies:
        response.set_cookie(SEED_COOKIE, seed, httponly=True, samesite="Lax", secure=request.is_secure, path="/")
    return response


def init_app(app: Flask) -> None:
    app.before_request(check_csrf)
    app.after_request(add_headers)
    app.add_template_global(csrf_field)
    app.add_template_global(csp_nonce)
