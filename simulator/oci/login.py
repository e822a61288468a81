"""Reading an OCI catalogue call (the login): its fields, the account it names, its HOOK_URL.

OCI field names are case-sensitive upper case (``~OkCode`` and friends excepted); real buyers send
``username``/``password`` in lower case too, so names are matched without regard to case and the
journal says when one was not written as OCI writes it. Fields OCI does not define (``email``,
``BUYER_USERNAME``, ``first_name`` …) are kept on the session as extrinsics.
"""

from __future__ import annotations

import hmac
import sqlite3
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from .. import journal
from ..accounts import Account, get_account
from ..errors import ShopError

KNOWN = (
    "HOOK_URL",
    "USERNAME",
    "PASSWORD",
    "~OkCode",
    "~target",
    "~caller",
    "OCI_VERSION",
    "OPI_VERSION",
    "OCICANCEL",
    "OCI_CANCEL",
    "FUNCTION",
    "PRODUCTID",
    "SEARCHSTRING",
    "QUANTITY",
)
_BY_UPPER = {name.upper(): name for name in KNOWN}
EMAIL_FIELDS = ("EMAIL", "USER_EMAIL", "USEREMAIL", "BUYER_USERNAME")
SAPEVENT = "sapevent:"


class OciError(ShopError):
    """A catalogue call the simulator refuses: an HTML error page for a browser, JSON for the admin API."""

    def __init__(self, status: int, code: str, title: str, message: str) -> None:
        super().__init__(status, title, message)
        self.code = code


def is_secret(name: str) -> bool:
    return "PASSWORD" in name.upper()


@dataclass
class LoginRequest:
    """The fields of one catalogue call, as sent (``pairs``) and by their OCI names (``values``)."""

    pairs: list[tuple[str, str]]
    values: dict[str, str] = field(default_factory=dict)
    extra: list[tuple[str, str]] = field(default_factory=list)
    advisories: list[str] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def extra_value(self, *names: str) -> str | None:
        wanted = {n.upper() for n in names}
        return next((v for n, v in self.extra if n.upper() in wanted and v.strip()), None)

    def masked_body(self) -> bytes:
        """The fields urlencoded as sent, every password replaced by ``****`` (for the journal)."""
        shown = [(n, journal.MASK if is_secret(n) else v) for n, v in self.pairs]
        return urlencode(shown).encode("ascii")


def read(pairs: list[tuple[str, str]]) -> LoginRequest:
    request = LoginRequest(pairs=pairs)
    for name, value in pairs:
        canonical = _BY_UPPER.get(name.strip().upper())
        if canonical is None:
            if not is_secret(name):
                request.extra.append((name, value))
            continue
        if canonical in request.values:
            request.advisories.append(f"{canonical} was sent more than once; the first value is used.")
            continue
        if name != canonical:
            request.advisories.append(f"Field {name!r} read as {canonical} (OCI names it {canonical}).")
        request.values[canonical] = value
    return request


def authenticate(conn: sqlite3.Connection, request: LoginRequest) -> Account:
    """The account whose OCI credentials the call carries (``accounts.oci``); 401 otherwise."""
    username, password = (request.get("USERNAME") or "").strip(), request.get("PASSWORD") or ""
    if not username or not password:
        missing = " and ".join(n for n, v in (("USERNAME", username), ("PASSWORD", password)) if not v)
        raise OciError(
            401,
            "missing_credentials",
            "OCI login refused",
            f"The catalogue call has no {missing}: send the account's OCI credentials "
            "(the demo account's are demo / demo-secret).",
        )
    rows = conn.execute(
        "SELECT id FROM accounts WHERE json_extract(oci, '$.username') = ? ORDER BY id", (username,)
    ).fetchall()
    if not rows:
        raise OciError(
            401,
            "unknown_username",
            "OCI login refused",
            f"No account has the OCI username {username!r}. Give an account OCI credentials with "
            'PATCH /__admin/accounts/<id> {"oci": {"username": "…", "password": "…"}}, '
            "or use the demo account's demo / demo-secret.",
        )
    for row in rows:
        account = get_account(conn, row["id"])
        expected = (account.oci or {}).get("password", "")
        if hmac.compare_digest(password.encode(), expected.encode()):
            return account
    raise OciError(
        401,
        "wrong_password",
        "OCI login refused",
        f"The PASSWORD sent for the OCI username {username!r} does not match the account's OCI password.",
    )


def hook_url(request: LoginRequest) -> str:
    """The HOOK_URL, checked: an absolute http(s) URL, or SAP GUI's ``SAPEVENT:`` (with an advisory)."""
    url = (request.get("HOOK_URL") or "").strip()
    if not url:
        raise OciError(
            400,
            "missing_hook_url",
            "HOOK_URL is missing",
            "The catalogue call has no HOOK_URL: the address the cart goes back to. "
            "An OCI buyer sends it with every call (GET or POST), next to USERNAME and PASSWORD.",
        )
    if url.lower().startswith(SAPEVENT):
        request.advisories.append(
            f"HOOK_URL {url!r} is a SAP GUI event: only SAP GUI's browser control can follow it; "
            "a browser cannot, and the admin API's deliver cannot post to it."
        )
        return url
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise OciError(
            400,
            "invalid_hook_url",
            "HOOK_URL is not usable",
            f"HOOK_URL must be an absolute http or https URL (or SAPEVENT:…); got {url!r}.",
        )
    return url
