"""The operator's sign-in: with ``--admin-token`` set, the console and the demo buyer need it too.

The admin API asks for ``Authorization: Bearer <token>``; the console changes the same settings
through the same services, and the demo buyer places orders, so a simulator shared on a network
with a token must not leave them open. A browser cannot send a bearer header, so the operator
signs in once at ``/console/sign-in`` with the token and gets a cookie:

* ``punchout_sim_operator`` = HMAC-SHA256 of a fixed label keyed with the admin token: nothing is
  stored, every worker checks it the same way, a restart keeps it valid and changing the token
  signs everyone out. HttpOnly, SameSite=Lax, path ``/``.
* Pages of the console and the demo buyer without the cookie redirect to the sign-in page (a JSON
  or form POST gets 401 with the page instead of a redirect, so no form is silently lost).
* Not covered, because machines post them with their own authentication: the demo buyer's
  BrowserFormPost URL and its cXML endpoint (see security.EXEMPT_ENDPOINTS); the shop, which a
  buyer's user reaches through a one-time StartPage token or OCI credentials.

Without ``--admin-token`` the simulator listens on loopback only (or was told ``--insecure-admin``),
and the console is open as before.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, redirect, render_template, request, url_for

bp = Blueprint("operator", __name__)

COOKIE = "punchout_sim_operator"
GUARDED_BLUEPRINTS = frozenset({"console", "demo_buyer"})
OPEN_ENDPOINTS = frozenset({"demo_buyer.punchout_return", "demo_buyer.inbound_cxml"})
_LABEL = b"punchout-simulator operator sign-in v1"


def _expected(token: str) -> str:
    return hmac.new(token.encode(), _LABEL, hashlib.sha256).hexdigest()


def signed_in() -> bool:
    token = current_app.config["SIMULATOR"].admin_token
    if not token:
        return True
    sent = request.cookies.get(COOKIE, "")
    return hmac.compare_digest(sent.encode(), _expected(token).encode())


def _local_path(target: str | None) -> str:
    """Only a path of this simulator is a place to go back to after signing in (no open redirect)."""
    if not target:
        return url_for("console.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("console.home")
    return target


def _guard() -> Any:
    if request.blueprint not in GUARDED_BLUEPRINTS or request.endpoint in OPEN_ENDPOINTS or signed_in():
        return None
    if request.method in ("GET", "HEAD"):
        return redirect(url_for("operator.sign_in", next=request.full_path.rstrip("?")))
    return render_template("operator/sign_in.html", next=request.path, refused=False, needed=True), 401


@bp.route("/console/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    config = current_app.config["SIMULATOR"]
    target = _local_path(request.values.get("next"))
    if not config.admin_token:
        return redirect(target)
    if request.method == "GET":
        return render_template("operator/sign_in.html", next=target, refused=False, needed=False)
    sent = request.form.get("token", "")
    if not hmac.compare_digest(sent.encode(), config.admin_token.encode()):
        return render_template("operator/sign_in.html", next=target, refused=True, needed=False), 401
    response = redirect(target)
    response.set_cookie(COOKIE, _expected(config.admin_token), httponly=True, samesite="Lax", path="/")
    return response


@bp.post("/console/sign-out")
def sign_out() -> Any:
    response = redirect(url_for("operator.sign_in"))
    response.delete_cookie(COOKIE, path="/")
    return response


def operator_sign_out() -> bool:
    """Whether pages show the sign-out button: a token is set and this browser signed in with it."""
    return bool(current_app.config["SIMULATOR"].admin_token) and signed_in()


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.before_request(_guard)
    app.add_template_global(operator_sign_out)
