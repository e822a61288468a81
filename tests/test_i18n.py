"""English and German: every text a template translates has its German, and pages follow the locale."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient

from simulator.i18n import GERMAN

from .helpers import setup_request, start_url

TEMPLATES = Path(__file__).resolve().parents[1] / "simulator" / "templates"
CALL = re.compile(r"""_\(\s*(['"])(.+?)\1\s*\)""")


def test_every_translated_text_has_its_german() -> None:
    missing = set()
    for template in TEMPLATES.rglob("*.html"):
        for _, text in CALL.findall(template.read_text(encoding="utf-8")):
            if text not in GERMAN:
                missing.add(f"{template.relative_to(TEMPLATES)}: {text}")
    assert not missing, "texts without German:\n" + "\n".join(sorted(missing))


def test_the_shop_speaks_the_accounts_language(client: FlaskClient) -> None:
    client.patch("/__admin/accounts/demo", json={"settings": {"locale": "de_DE"}})
    body = client.post("/punchout", data=setup_request()).data
    location = client.get(urlsplit(start_url(body)).path).headers["Location"]
    sid = parse_qs(urlsplit(location).query)["sid"][0]
    page = client.get(f"/shop?sid={sid}").get_data(as_text=True)
    assert '<html lang="de">' in page and "Amazon-Business-Katalog (simuliert)" in page
    cart = client.get(f"/shop/cart?sid={sid}").get_data(as_text=True)
    assert "Ihr Warenkorb ist leer." in cart


def test_without_a_session_the_browser_chooses(client: FlaskClient) -> None:
    german = client.get("/shop/product/B0TESTSLOW", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert "In den Warenkorb" not in german.get_data(as_text=True)  # no session: no cart form
    assert "Marke" in german.get_data(as_text=True)
    english = client.get("/shop/product/B0TESTSLOW?lang=en", headers={"Accept-Language": "de"})
    assert "Brand" in english.get_data(as_text=True)
