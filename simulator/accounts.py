"""Accounts: Amazon Business "punchout groups", their buyer credentials, status, settings and users."""

from __future__ import annotations

import hmac
import json
import re
import secrets
import sqlite3
from dataclasses import dataclass
from typing import Any

from . import clock
from .cxml.read import Header
from .cxml.types import Credential
from .db import transaction
from .errors import AdminError, Forbidden, NotFound, Unauthorized

DEMO_ACCOUNT_ID = "demo"
DEMO_ACCOUNT = {
    "name": "Demo Buyer",
    "status": "test",
    "credentials": {"domain": "NetworkId", "identity": "DEMO-BUYER", "shared_secret": "demo-secret"},
}
DEFAULT_SETTINGS: dict[str, Any] = {
    "return_encoding": "cxml-urlencoded",
    "operation_allowed": "create",
    "cxml_version": "1.2.069",
    "validation": "lenient",
    "locale": "en_US",
    "first_punchout": "auto",
    "require_email": True,
    "http_status": "200",
}
SETTING_CHOICES: dict[str, tuple[Any, ...]] = {
    "return_encoding": ("cxml-urlencoded", "cxml-base64"),
    "operation_allowed": ("create", "edit", "inspect"),
    "validation": ("lenient", "strict"),
    "locale": ("en_US", "de_DE"),
    "first_punchout": ("auto", "register"),
    "require_email": (True, False),
    "http_status": ("200", "mirror"),
}
STATUSES = ("test", "active")
ROLES = ("administrator", "requisitioner", "punchout", "finance", "technical")
_VERSION = re.compile(r"^1\.2\.0\d\d$")


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    status: str
    domain: str
    identity: str
    shared_secret: str
    settings: dict[str, Any]
    created_at: str
    updated_at: str

    @property
    def credential(self) -> Credential:
        return Credential(self.domain, self.identity)

    def setting(self, name: str) -> Any:
        return self.settings.get(name, DEFAULT_SETTINGS.get(name))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "credentials": {
                "domain": self.domain,
                "identity": self.identity,
                "shared_secret": self.shared_secret,
            },
            "settings": {**DEFAULT_SETTINGS, **self.settings},
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class User:
    id: str
    account_id: str
    email: str
    name: str
    roles: tuple[str, ...]
    registered: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "roles": list(self.roles),
            "registered": self.registered,
        }


def _account(row: sqlite3.Row) -> Account:
    return Account(
        id=row["id"],
        name=row["name"],
        status=row["status"],
        domain=row["domain"],
        identity=row["identity"],
        shared_secret=row["shared_secret"],
        settings={**DEFAULT_SETTINGS, **json.loads(row["settings"])},
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _user(row: sqlite3.Row) -> User:
    return User(
        id=row["id"],
        account_id=row["account_id"],
        email=row["email"],
        name=row["name"],
        roles=tuple(json.loads(row["roles"])),
        registered=bool(row["registered"]),
    )


def validate_settings(settings: Any) -> dict[str, Any]:
    if not isinstance(settings, dict):
        raise AdminError(400, "invalid_settings", "settings must be a JSON object.")
    for key, value in settings.items():
        if key == "cxml_version":
            if not isinstance(value, str) or not _VERSION.match(value) or value < "1.2.014":
                raise AdminError(
                    400,
                    "invalid_settings",
                    f"settings.cxml_version must be a cXML version from 1.2.014 to 1.2.069, got {value!r}.",
                )
        elif key in SETTING_CHOICES:
            if value not in SETTING_CHOICES[key]:
                choices = " | ".join(json.dumps(c) for c in SETTING_CHOICES[key])
                raise AdminError(400, "invalid_settings", f"settings.{key} must be one of {choices}, got {value!r}.")
        else:
            known = ", ".join(sorted(DEFAULT_SETTINGS))
            raise AdminError(400, "invalid_settings", f"Unknown setting {key!r}. Known settings: {known}.")
    return settings


def _credentials(data: Any) -> dict[str, str]:
    if not isinstance(data, dict):
        raise AdminError(
            400, "invalid_credentials", "credentials must be an object with domain, identity, shared_secret."
        )
    out = {}
    for key in ("domain", "identity", "shared_secret"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise AdminError(
                400, "invalid_credentials", f"credentials.{key} is required and must be a non-empty string."
            )
        out[key] = value.strip()
    return out


def get_account(conn: sqlite3.Connection, account_id: str) -> Account:
    row = conn.execute("SELECT * FROM accounts WHERE id = ?", (account_id,)).fetchone()
    if row is None:
        raise NotFound("account", account_id)
    return _account(row)


def list_accounts(conn: sqlite3.Connection, limit: int = 100, offset: int = 0) -> tuple[list[Account], int]:
    total = conn.execute("SELECT count(*) FROM accounts").fetchone()[0]
    rows = conn.execute("SELECT * FROM accounts ORDER BY created_at, id LIMIT ? OFFSET ?", (limit, offset))
    return [_account(r) for r in rows], total


def create_account(conn: sqlite3.Connection, data: Any, *, account_id: str | None = None) -> Account:
    if not isinstance(data, dict):
        raise AdminError(400, "invalid_account", "The body must be a JSON object describing the account.")
    if "id" in data:
        raise AdminError(400, "invalid_account", "id is assigned by the simulator; leave it out.")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise AdminError(400, "invalid_account", "name is required and must be a non-empty string.")
    status = data.get("status", "test")
    if status not in STATUSES:
        raise AdminError(400, "invalid_account", f"status must be 'test' or 'active', got {status!r}.")
    credentials = _credentials(data.get("credentials"))
    settings = validate_settings(data.get("settings", {}))
    now = clock.timestamp()
    new_id = account_id or "acct_" + secrets.token_hex(8)
    try:
        conn.execute(
            "INSERT INTO accounts (id, name, status, domain, identity, shared_secret, settings, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                new_id,
                name.strip(),
                status,
                credentials["domain"],
                credentials["identity"],
                credentials["shared_secret"],
                json.dumps({**DEFAULT_SETTINGS, **settings}),
                now,
                now,
            ),
        )
    except sqlite3.IntegrityError as exc:
        raise AdminError(
            409,
            "duplicate_credentials",
            f"Another account already has the credential {credentials['domain']}/{credentials['identity']}.",
        ) from exc
    return get_account(conn, new_id)


def patch_account(conn: sqlite3.Connection, account_id: str, patch: Any) -> Account:
    if not isinstance(patch, dict):
        raise AdminError(400, "invalid_account", "The body must be a JSON object.")
    with transaction(conn):
        account = get_account(conn, account_id)
        unknown = set(patch) - {"name", "status", "credentials", "settings"}
        if unknown:
            raise AdminError(400, "invalid_account", f"Cannot change {', '.join(sorted(unknown))}.")
        name = patch.get("name", account.name)
        if not isinstance(name, str) or not name.strip():
            raise AdminError(400, "invalid_account", "name must be a non-empty string.")
        status = patch.get("status", account.status)
        if status not in STATUSES:
            raise AdminError(400, "invalid_account", f"status must be 'test' or 'active', got {status!r}.")
        if account.status == "active" and status == "test":
            raise AdminError(
                409,
                "status_one_way",
                "An active account cannot go back to test status (test → active is one way).",
            )
        credentials = {
            "domain": account.domain,
            "identity": account.identity,
            "shared_secret": account.shared_secret,
        }
        if "credentials" in patch:
            if not isinstance(patch["credentials"], dict):
                raise AdminError(400, "invalid_credentials", "credentials must be an object.")
            credentials = _credentials({**credentials, **patch["credentials"]})
        settings = dict(account.settings)
        if "settings" in patch:
            settings.update(validate_settings(patch["settings"]))
        try:
            conn.execute(
                "UPDATE accounts SET name = ?, status = ?, domain = ?, identity = ?, shared_secret = ?, settings = ?,"
                " updated_at = ? WHERE id = ?",
                (
                    name.strip(),
                    status,
                    credentials["domain"],
                    credentials["identity"],
                    credentials["shared_secret"],
                    json.dumps(settings),
                    clock.timestamp(),
                    account_id,
                ),
            )
        except sqlite3.IntegrityError as exc:
            raise AdminError(409, "duplicate_credentials", "Another account already has these credentials.") from exc
    return get_account(conn, account_id)


def ensure_demo_account(conn: sqlite3.Connection) -> Account:
    row = conn.execute("SELECT * FROM accounts WHERE id = ?", (DEMO_ACCOUNT_ID,)).fetchone()
    if row is not None:
        return _account(row)
    return create_account(conn, DEMO_ACCOUNT, account_id=DEMO_ACCOUNT_ID)


def authenticate(conn: sqlite3.Connection, header: Header) -> tuple[Account, list[str]]:
    """The account whose credentials the request's Sender carries; 401 otherwise.

    The Sender credential names the account; when none does, a From credential may (Ariba Network
    style: the network in Sender, the buyer in From), with the secret still read from Sender.
    """
    advisories: list[str] = []
    if not header.sender and not header.from_:
        raise Unauthorized("The Header has no Sender/Credential: send the account's domain, identity and SharedSecret.")
    account = None
    for credential in (*header.sender, *header.from_):
        row = conn.execute(
            "SELECT * FROM accounts WHERE lower(domain) = lower(?) AND identity = ?",
            (credential.domain, credential.identity),
        ).fetchone()
        if row is not None:
            account = _account(row)
            if credential.domain != account.domain:
                advisories.append(
                    f'Credential domain "{credential.domain}" matched the account\'s "{account.domain}" '
                    "(compared without regard to case)."
                )
            break
    if account is None:
        sent = ", ".join(f"{c.domain}/{c.identity}" for c in header.sender) or "none"
        raise Unauthorized(
            f"No account has the Sender credential {sent}. Create an account with these credentials "
            "(POST /__admin/accounts) or send the demo account's NetworkId/DEMO-BUYER."
        )
    secrets_sent = [c.shared_secret for c in header.sender if c.shared_secret is not None]
    who = f"{account.domain}/{account.identity}"
    if not secrets_sent:
        raise Unauthorized(f"Sender/Credential/SharedSecret is missing for {who}.", account_id=account.id)
    expected = account.shared_secret.encode()
    if not any(hmac.compare_digest(s.encode(), expected) for s in secrets_sent):
        raise Unauthorized(
            f"The SharedSecret sent for {who} does not match the account's shared secret.",
            account_id=account.id,
        )
    return account, advisories


def find_user(conn: sqlite3.Connection, account_id: str, email: str) -> User | None:
    row = conn.execute(
        "SELECT * FROM users WHERE account_id = ? AND lower(email) = lower(?)", (account_id, email)
    ).fetchone()
    return _user(row) if row else None


def get_user(conn: sqlite3.Connection, user_id: str) -> User:
    row = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
    if row is None:
        raise NotFound("user", user_id)
    return _user(row)


def list_users(conn: sqlite3.Connection, account_id: str) -> list[User]:
    rows = conn.execute("SELECT * FROM users WHERE account_id = ? ORDER BY created_at, id", (account_id,))
    return [_user(r) for r in rows]


def create_user(
    conn: sqlite3.Connection,
    account_id: str,
    email: str,
    *,
    name: str = "",
    roles: tuple[str, ...] = ("punchout",),
    registered: bool = True,
) -> User:
    bad = [r for r in roles if r not in ROLES]
    if bad:
        raise AdminError(400, "invalid_user", f"Unknown role(s) {', '.join(bad)}; roles are {', '.join(ROLES)}.")
    if "@" not in email:
        raise AdminError(400, "invalid_user", f"email must be an email address, got {email!r}.")
    user_id = "user_" + secrets.token_hex(8)
    try:
        conn.execute(
            "INSERT INTO users (id, account_id, email, name, roles, registered, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (user_id, account_id, email, name, json.dumps(list(roles)), int(registered), clock.timestamp()),
        )
    except sqlite3.IntegrityError as exc:
        raise AdminError(409, "duplicate_user", f"The account already has a user {email}.") from exc
    return get_user(conn, user_id)


def punchout_user(conn: sqlite3.Connection, account: Account, email: str, name: str) -> User:
    """The Amazon Business user a punchout acts for, created on first sight (PunchOut role).

    With ``first_punchout: register`` the user is created unregistered and the shop asks them to
    create their business account first, as Amazon does. A user without the PunchOut role is
    refused with 403.
    """
    user = find_user(conn, account.id, email)
    if user is None:
        register = account.setting("first_punchout") == "register"
        user = create_user(conn, account.id, email, name=name, registered=not register)
    if "punchout" not in user.roles:
        raise Forbidden(
            f"The user {user.email} has no PunchOut role in the account {account.name!r}; "
            "an administrator must give them the PunchOut role.",
            account_id=account.id,
        )
    return user


def mark_registered(conn: sqlite3.Connection, user_id: str, name: str) -> None:
    conn.execute("UPDATE users SET registered = 1, name = ? WHERE id = ?", (name, user_id))
