"""The console (``/console``): accounts and their Amazon set-up steps, users, the live journal,
orders with their timelines, scenarios, emails and the spend dashboard, in a browser."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template

from ..i18n import browser_locale, translate

bp = Blueprint("console", __name__, url_prefix="/console")


@bp.before_request
def _locale() -> None:
    g.locale = browser_locale()


@bp.app_context_processor
def _console_helpers() -> dict[str, Any]:
    def _(text: str) -> str:
        return translate(text, g.get("locale", "en_US"))

    return {"_": _}


def render(template: str, **values: Any) -> str:
    return render_template(template, locale=g.get("locale", "en_US"), **values)


@bp.get("")
@bp.get("/")
def home() -> str:
    return render("console/home.html")


# Each area adds its routes to ``bp`` in a module of its own.
from . import accounts, dashboard, emails, journal, orders, scenarios  # noqa: E402, F401
