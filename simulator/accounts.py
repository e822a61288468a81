"""Accounts: Amazon Business "punchout groups", their buyer credentials, status, settings and users."""

from __future__ import annotations

import functools
import hmac
import json
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from . import clock, memo, profiles
from . import settings as settings_schema
from .cxml.read import Header
from .cxml.types import Credential
from .db import transaction
from .errors import AdminError, Forbidden, NotFound, Unauthorized

DEMO_ACCOUNT_ID = "demo"
DEMO_ACCOUNT = {
    "name": "Demo Buyer",
    "status": "test",
    "credentials": {"domain": "NetworkId", "identity": "DEMO-BUYER", "shared_secret": "demo-secret"},
    "oci": {"username": "demo", "password": "demo-secret"},
    "settings": {"fulfil_test_orders": True},  # demo buyer: confirmation, ship notices and invoice for test orders
}
DEMO_BUYER_PATH = "/demo-buyer/cxml"  # demo buyer: the demo account's buyer endpoint, under the base URL
STATUSES = ("test", "active")
ROLES = ("administrator", "punchout_user", "technical_administrator", "requisitioner", "finance")


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    status: str
    domain: str
    identity: str
    shared_secret: str
    settings: dict[str, Any]
    payment_method: dict[str, Any] | None
    buyer_endpoint: dict[str, Any] | None
    oci: dict[str, str] | None  # SAP OCI login: {"username", "password"}
    created_at: str
    updated_at: str
    # console: Amazon's set-up steps (business registered and verified, punchout added)
    business_registered_at: str | None = None
    business_verified_at: str | None = None
    punchout: bool = True

    @property
    def business_verified(self) -> bool:  # console
        return _verified(self.business_verified_at)

    @property
    def credential(self) -> Credential:
        return Credential(self.domain, self.identity)

    def setting(self, name: str) -> Any:
        return self.settings[name]

    def safeguard(self, name: str) -> dict[str, Any]:
        rule: dict[str, Any] = self.settings["safeguards"][name]
        return rule

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
            "payment_method": self.payment_method,
            "buyer_endpoint": self.buyer_endpoint,
            "oci": self.oci,
            "settings": self.settings,
            "setup": {  # console: read-only, changed by the set-up steps
                "business_registered_at": self.business_registered_at,
                "business_verified_at": self.business_verified_at,
                "business_verified": self.business_verified,
                "punchout": self.punchout,
            },
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


@functools.lru_cache(maxsize=256)
def _settings(stored: str) -> dict[str, Any]:
    """An account's settings over the defaults, parsed once per distinct stored text (they are
    read on every request and never mutated in place; see settings.merge)."""
    return settings_schema.merge(settings_schema.DEFAULT_SETTINGS, json.loads(stored))


def _account(row: sqlite3.Row) -> Account:
    return Account(
        id=row["id"],
        name=row["name"],
        status=row["status"],
        domain=row["domain"],
        identity=row["identity"],
        shared_secret=row["shared_secret"],
        settings=_settings(row["settings"]),
        payment_method=json.loads(row["payment_method"]) if row["payment_method"] else None,
        buyer_endpoint=json.loads(row["buyer_endpoint"]) if row["buyer_endpoint"] else None,
        oci=json.loads(row["oci"]) if row["oci"] else None,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        business_registered_at=row["business_registered_at"],  # console
        business_verified_at=row["business_verified_at"],  # console
        punchout=bool(row["punchout"]),  # console
    )


def _verified(verified_at: str | None) -> bool:  # console
    return verified_at is not None and clock.parse(verified_at) <= clock.now()


def _user(row: sqlite3.Row) -> User:
    return User(
        id=row["id"],
        account_id=row["account_id"],
        email=row["email"],
        name=row["name"],
        roles=tuple(json.loads(row["roles"])),
        registered=bool(row["registered"]),
    )


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


EDITABLE = ("name", "status", "credentials", "settings", "payment_method", "buyer_endpoint", "oci")


def _payment_method(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, dict) and value.get("type") == "invoice" and set(value) == {"type"}:
        return {"type": "invoice"}
    if isinstance(value, dict) and value.get("type") == "pcard" and set(value) <= {"type", "last4"}:
        last4 = str(value.get("last4", ""))
        if len(last4) == 4 and last4.isdigit():
            return {"type": "pcard", "last4": last4}
    raise AdminError(
        400,
        "invalid_payment_method",
        'payment_method must be null, {"type": "pcard", "last4": "NNNN"} or {"type": "invoice"}.',
    )


def _buyer_endpoint(value: Any, account: dict[str, Any]) -> dict[str, Any] | None:
    """Where documents for the buyer go, with the credentials the buyer expects in them."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"url", "domain", "identity", "shared_secret"}:
        raise AdminError(
            400, "invalid_buyer_endpoint", "buyer_endpoint must be null or {url, domain, identity, shared_secret}."
        )
    url = value.get("url")
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        raise AdminError(400, "invalid_buyer_endpoint", "buyer_endpoint.url must be an http or https URL.")
    creds = account["credentials"]
    endpoint = {
        "url": url,
        "domain": value.get("domain") or creds["domain"],
        "identity": value.get("identity") or creds["identity"],
        "shared_secret": value.get("shared_secret") or creds["shared_secret"],
    }
    if not all(isinstance(v, str) for v in endpoint.values()):
        raise AdminError(400, "invalid_buyer_endpoint", "buyer_endpoint values must be strings.")
    return endpoint


def _oci(value: Any, current: Any) -> dict[str, str] | None:
    if value is None:
        return None
    merged = {**(current or {}), **value} if isinstance(value, dict) else value
    if (
        not isinstance(merged, dict)
        or set(merged) != {"username", "password"}
        or not all(isinstance(v, str) and v for v in merged.values())
    ):
        raise AdminError(400, "invalid_oci", 'oci must be null or {"username": "…", "password": "…"}.')
    return {"username": merged["username"], "password": merged["password"]}


def _apply(current: dict[str, Any], patch: Any) -> dict[str, Any]:
    """The account JSON after ``patch``, checked; nested objects merge key by key."""
    if not isinstance(patch, dict):
        raise AdminError(400, "invalid_account", "The body must be a JSON object.")
    unknown = set(patch) - set(EDITABLE) - {"id", "created_at", "updated_at", "setup"}  # console: setup
    if unknown:
        raise AdminError(
            400, "invalid_account", f"Unknown key(s) {', '.join(sorted(unknown))}; accounts take {', '.join(EDITABLE)}."
        )
    result = dict(current)
    name = patch.get("name", current["name"])
    if not isinstance(name, str) or not name.strip():
        raise AdminError(400, "invalid_account", "name is required and must be a non-empty string.")
    result["name"] = name.strip()
    status = patch.get("status", current["status"])
    if status not in STATUSES:
        raise AdminError(400, "invalid_account", f"status must be 'test' or 'active', got {status!r}.")
    if current["status"] == "active" and status == "test":
        raise AdminError(
            409, "status_one_way", "An active account cannot go back to test status (test → active is one way)."
        )
    if current["status"] == "test" and status == "active" and not _verified(current["setup"]["business_verified_at"]):
        raise AdminError(  # console: Amazon verifies the business (1–3 business days) before it goes live
            409,
            "business_not_verified",
            "The account cannot go from test to active until Amazon has verified the business "
            "(register the business first, then wait for its verification).",
        )
    result["status"] = status
    if "credentials" in patch:
        if not isinstance(patch["credentials"], dict):
            raise AdminError(400, "invalid_credentials", "credentials must be an object.")
        result["credentials"] = _credentials({**(current["credentials"] or {}), **patch["credentials"]})
    if "settings" in patch:
        changes = settings_schema.validate(patch["settings"])
        base = current["settings"]
        if "profile" in changes:  # the profile's defaults first; what the same PATCH says wins
            base = settings_schema.merge(base, profiles.defaults(changes["profile"]))
        result["settings"] = settings_schema.merge(base, changes)
    if "payment_method" in patch:
        result["payment_method"] = _payment_method(patch["payment_method"])
    if "oci" in patch:
        result["oci"] = _oci(patch["oci"], current.get("oci"))
    if "buyer_endpoint" in patch:
        merged = patch["buyer_endpoint"]
        if isinstance(merged, dict) and isinstance(current.get("buyer_endpoint"), dict):
            merged = {**current["buyer_endpoint"], **merged}
        result["buyer_endpoint"] = _buyer_endpoint(merged, result)
    return result


def _write(conn: sqlite3.Connection, account_id: str, data: dict[str, Any], *, insert: bool) -> None:
    creds = data["credentials"]
    values = (
        data["name"],
        data["status"],
        creds["domain"],
        creds["identity"],
        creds["shared_secret"],
        json.dumps(data["settings"]),
        json.dumps(data["payment_method"]),
        json.dumps(data["buyer_endpoint"]),
        json.dumps(data.get("oci")),
        clock.timestamp(),
        account_id,
    )
    try:
        if insert:
            conn.execute(
                "INSERT INTO accounts (name, status, domain, identity, shared_secret, settings, payment_method,"
                " buyer_endpoint, oci, updated_at, id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, clock.timestamp()),
            )
        else:
            conn.execute(
                "UPDATE accounts SET name = ?, status = ?, domain = ?, identity = ?, shared_secret = ?, settings = ?,"
                " payment_method = ?, buyer_endpoint = ?, oci = ?, updated_at = ? WHERE id = ?",
                values,
            )
    except sqlite3.IntegrityError as exc:
        raise AdminError(
            409,
            "duplicate_credentials",
            f"Another account already has the credential {creds['domain']}/{creds['identity']}.",
        ) from exc


def create_account(
    conn: sqlite3.Connection, data: Any, *, account_id: str | None = None, set_up: bool = True
) -> Account:
    """A new account from the JSON ``GET`` returns, without ``id``; omitted keys take their defaults.

    With ``set_up`` (the admin API) the business is registered and verified and punchout added at
    once; without (the console) the account starts at the first of Amazon's set-up steps.
    """
    if isinstance(data, dict) and "id" in data:
        raise AdminError(400, "invalid_account", "id is assigned by the simulator; leave it out.")
    if not isinstance(data, dict) or "credentials" not in data:
        raise AdminError(
            400, "invalid_credentials", "credentials must be an object with domain, identity, shared_secret."
        )
    base = {
        "name": "",
        "status": "test",
        "credentials": None,
        "settings": settings_schema.defaults(),
        "payment_method": None,
        "buyer_endpoint": None,
        "oci": None,
        "setup": {"business_verified_at": clock.timestamp() if set_up else None},  # console
    }
    result = _apply(base, data)
    new_id = account_id or "acct_" + secrets.token_hex(8)
    _write(conn, new_id, result, insert=True)
    now = clock.timestamp() if set_up else None  # console: the set-up steps done, or none yet
    conn.execute(
        "UPDATE accounts SET business_registered_at = ?, business_verified_at = ?, punchout = ? WHERE id = ?",
        (now, now, int(set_up), new_id),
    )
    return get_account(conn, new_id)


def register_business(conn: sqlite3.Connection, account_id: str, delay_hours: float = 0) -> Account:  # console
    """Register the account's business; Amazon verifies it ``delay_hours`` later (simulator time)."""
    if isinstance(delay_hours, bool) or not isinstance(delay_hours, int | float) or not 0 <= delay_hours <= 24 * 30:
        raise AdminError(400, "invalid_delay", "The verification delay must be 0 to 720 hours.")
    account = get_account(conn, account_id)
    if account.business_registered_at is not None:
        raise AdminError(409, "business_registered", f"The business of {account.name!r} is registered already.")
    now = clock.now()
    conn.execute(
        "UPDATE accounts SET business_registered_at = ?, business_verified_at = ?, updated_at = ? WHERE id = ?",
        (clock.timestamp(now), clock.timestamp(now + timedelta(hours=delay_hours)), clock.timestamp(now), account_id),
    )
    return get_account(conn, account_id)


def add_punchout(conn: sqlite3.Connection, account_id: str) -> Account:  # console
    """Make the account a punchout account: one way, there is no going back to non-punchout."""
    get_account(conn, account_id)
    conn.execute("UPDATE accounts SET punchout = 1, updated_at = ? WHERE id = ?", (clock.timestamp(), account_id))
    return get_account(conn, account_id)


def patch_account(conn: sqlite3.Connection, account_id: str, patch: Any) -> Account:
    """Merge ``patch`` into the account (settings and buyer_endpoint key by key)."""
    with transaction(conn):
        account = get_account(conn, account_id)
        result = _apply(account.to_json(), patch)
        _write(conn, account_id, result, insert=False)
    return get_account(conn, account_id)


def ensure_demo_account(conn: sqlite3.Connection, *, base_url: str | None = None) -> Account:
    """The demo account, created when missing; with ``base_url`` its buyer endpoint is the demo buyer's."""
    row = conn.execute("SELECT * FROM accounts WHERE id = ?", (DEMO_ACCOUNT_ID,)).fetchone()
    if row is not None:
        return _account(row)
    data = dict(DEMO_ACCOUNT)
    if base_url:  # demo buyer
        data["buyer_endpoint"] = {"url": base_url.rstrip("/") + DEMO_BUYER_PATH}
    return create_account(conn, data, account_id=DEMO_ACCOUNT_ID)


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
        account = memo.lookup(
            ("account", credential.domain, credential.identity),  # as sent: SQL's lower() is not str.lower()
            functools.partial(_by_credential, conn, credential.domain, credential.identity),
        )
        if account is not None:
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


def _by_credential(conn: sqlite3.Connection, domain: str, identity: str) -> Account | None:
    row = conn.execute(
        "SELECT * FROM accounts WHERE lower(domain) = lower(?) AND identity = ?", (domain, identity)
    ).fetchone()
    return _account(row) if row else None


def find_user(conn: sqlite3.Connection, account_id: str, email: str) -> User | None:
    return memo.lookup(("user", account_id, email), functools.partial(_find_user, conn, account_id, email))


def _find_user(conn: sqlite3.Connection, account_id: str, email: str) -> User | None:
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
    roles: tuple[str, ...] = ("punchout_user",),
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
    if "punchout_user" not in user.roles:
        raise Forbidden(
            f"The user {user.email} has no PunchOut role in the account {account.name!r}; "
            "an administrator must give them the punchout_user role.",
            account_id=account.id,
        )
    return user


def mark_registered(conn: sqlite3.Connection, user_id: str, name: str) -> None:
    conn.execute("UPDATE users SET registered = 1, name = ? WHERE id = ?", (name, user_id))
