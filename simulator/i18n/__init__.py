"""English and German for the browser pages: the English text is the key, German comes from the
tables of each area (shop, console, demo buyer). A missing German text falls back to English, and
a test lists every text a template asks for that has no German yet.
"""

from __future__ import annotations

from flask import request

from .console_de import GERMAN as CONSOLE
from .demo_buyer_de import GERMAN as DEMO_BUYER
from .shop_de import GERMAN as SHOP

GERMAN: dict[str, str] = {**SHOP, **CONSOLE, **DEMO_BUYER}
LOCALES = ("en_US", "de_DE")


def translate(text: str, locale: str) -> str:
    if locale == "de_DE":
        return GERMAN.get(text, text)
    return text


def browser_locale(default: str = "en_US") -> str:
    """``?lang=de`` or ``?lang=en`` first, then the browser's Accept-Language."""
    wanted = (request.args.get("lang") or "").lower()
    if wanted.startswith("de"):
        return "de_DE"
    if wanted.startswith("en"):
        return "en_US"
    best = request.accept_languages.best_match(["en", "de"])
    return "de_DE" if best == "de" else default
