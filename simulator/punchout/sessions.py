"""Shopping sessions opened by a PunchOutSetupRequest.

A session is reached through a one-time StartPage link (a 192-bit token, stored only as a hash,
that expires unused after ``--session-ttl`` seconds). Opening it issues a shop key, also random
and stored hashed, that the shop carries in a cookie and in every link and form, so a session
works in a new window, inside an iframe, and without cookies.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .. import clock
from ..errors import NotFound, ShopError

TOKEN_BYTES = 24  # 192 bits, above the 128 the issue asks for


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


@dataclass(frozen=True)
class Session:
    id: str
    account_id: str
    user_id: str | None
    operation: str
    buyer_cookie: str
    browser_form_post_url: str
    form_target: str
    test_mode: bool
    email: str
    user_name: str
    ship_to: dict[str, Any] | None
    extrinsics: list[list[str]]
    selected_item: str | None
    request_payload_id: str
    locale: str
    status: str  # new | shopping | returned | cancelled
    created_at: str
    expires_at: str
    started_at: str | None
    returned_at: str | None
    last_seen_at: str

    @property
    def read_only(self) -> bool:
        return self.operation == "inspect" or self.status in ("returned", "cancelled")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "account_id": self.account_id,
            "user_id": self.user_id,
            "operation": self.operation,
            "buyer_cookie": self.buyer_cookie,
            "browser_form_post_url": self.browser_form_post_url,
            "form_target": self.form_target,
            "test_mode": self.test_mode,
            "email": self.email,
            "user_name": self.user_name,
            "ship_to": self.ship_to,
            "extrinsics": {name: value for name, value in self.extrinsics},
            "selected_item": self.selected_item,
            "request_payload_id": self.request_payload_id,
            "locale": self.locale,
            "status": self.status,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "started_at": self.started_at,
            "returned_at": self.returned_at,
        }


def _session(row: sqlite3.Row) -> Session:
    return Session(
        id=row["id"],
        account_id=row["account_id"],
        user_id=row["user_id"],
        operation=row["operation"],
        buyer_cookie=row["buyer_cookie"],
        browser_form_post_url=row["browser_form_post_url"],
        form_target=row["form_target"],
        test_mode=bool(row["test_mode"]),
        email=row["email"],
        user_name=row["user_name"],
        ship_to=json.loads(row["ship_to"]) if row["ship_to"] else None,
        extrinsics=json.loads(row["extrinsics"]),
        selected_item=row["selected_item"],
        request_payload_id=row["request_payload_id"],
        locale=row["locale"],
        status=row["status"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        started_at=row["started_at"],
        returned_at=row["returned_at"],
        last_seen_at=row["last_seen_at"],
    )


@dataclass(frozen=True)
class NewSession:
    account_id: str
    user_id: str | None
    operation: str
    buyer_cookie: str
    browser_form_post_url: str
    form_target: str
    test_mode: bool
    email: str
    user_name: str
    ship_to: dict[str, Any] | None
    extrinsics: list[tuple[str, str]]
    contacts: list[dict[str, str]]
    selected_item: str | None
    request_payload_id: str
    locale: str


def create(conn: sqlite3.Connection, new: NewSession, ttl_seconds: int) -> tuple[Session, str]:
    """Store a session; returns it and the start token (shown once, in the StartPage URL)."""
    token = new_token()
    now = clock.now()
    session_id = "sess_" + secrets.token_hex(10)
    conn.execute(
        "INSERT INTO sessions (id, account_id, user_id, start_token_hash, operation, buyer_cookie,"
        " browser_form_post_url, form_target, test_mode, email, user_name, ship_to, extrinsics, contacts,"
        " selected_item, request_payload_id, locale, status, created_at, expires_at, last_seen_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'new', ?, ?, ?)",
        (
            session_id,
            new.account_id,
            new.user_id,
            _hash(token),
            new.operation,
            new.buyer_cookie,
            new.browser_form_post_url,
            new.form_target,
            int(new.test_mode),
            new.email,
            new.user_name,
            json.dumps(new.ship_to) if new.ship_to else None,
            json.dumps([list(e) for e in new.extrinsics]),
            json.dumps(new.contacts),
            new.selected_item,
            new.request_payload_id,
            new.locale,
            clock.timestamp(now),
            clock.timestamp(now + timedelta(seconds=ttl_seconds)),
            clock.timestamp(now),
        ),
    )
    return get(conn, session_id), token


def get(conn: sqlite3.Connection, session_id: str) -> Session:
    row = conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
    if row is None:
        raise NotFound("session", session_id)
    return _session(row)


def find(
    conn: sqlite3.Connection,
    *,
    buyer_cookie: str | None = None,
    account_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Session], int]:
    where, params = [], []
    if buyer_cookie is not None:
        where.append("buyer_cookie = ?")
        params.append(buyer_cookie)
    if account_id is not None:
        where.append("account_id = ?")
        params.append(account_id)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    total = conn.execute(f"SELECT count(*) FROM sessions {clause}", params).fetchone()[0]  # noqa: S608
    rows = conn.execute(
        f"SELECT * FROM sessions {clause} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",  # noqa: S608
        [*params, limit, offset],
    )
    return [_session(r) for r in rows], total


def _expired(moment: str, now: datetime) -> bool:
    return datetime.fromisoformat(moment) < now


def open_start_page(conn: sqlite3.Connection, token: str, ttl_seconds: int) -> tuple[Session, str]:
    """Redeem a StartPage token once; returns the session and a new shop key."""
    row = conn.execute("SELECT * FROM sessions WHERE start_token_hash = ?", (_hash(token),)).fetchone()
    if row is None:
        raise ShopError(
            404,
            "Start link not found",
            "This start link is not valid. Start a new PunchOut session from your procurement system.",
        )
    session = _session(row)
    now = clock.now()
    if session.status != "new":
        raise ShopError(
            410,
            "Start link already used",
            "This start link has already been used; each link opens one shopping session. "
            "Start a new PunchOut session from your procurement system.",
        )
    if _expired(session.expires_at, now):
        raise ShopError(
            410,
            "Start link expired",
            f"This start link expired {ttl_seconds // 60} minutes after it was issued without being opened. "
            "Start a new PunchOut session from your procurement system.",
        )
    shop_key = new_token()
    conn.execute(
        "UPDATE sessions SET status = 'shopping', shop_key_hash = ?, started_at = ?, last_seen_at = ?,"
        " expires_at = ? WHERE id = ? AND status = 'new'",
        (
            _hash(shop_key),
            clock.timestamp(now),
            clock.timestamp(now),
            clock.timestamp(now + timedelta(seconds=ttl_seconds)),
            session.id,
        ),
    )
    return get(conn, session.id), shop_key


def by_shop_key(conn: sqlite3.Connection, shop_key: str, ttl_seconds: int) -> Session:
    """The session a shop key opens; refreshes its expiry. Expired sessions are refused."""
    row = conn.execute("SELECT * FROM sessions WHERE shop_key_hash = ?", (_hash(shop_key),)).fetchone()
    if row is None:
        raise ShopError(
            403,
            "No shopping session",
            "This page needs a PunchOut session. Start one from your procurement system.",
        )
    session = _session(row)
    now = clock.now()
    if session.status == "shopping" and _expired(session.expires_at, now):
        raise ShopError(
            410,
            "Session expired",
            f"Your shopping session expired after {ttl_seconds // 60} minutes without activity. "
            "Start a new PunchOut session from your procurement system.",
        )
    touch(conn, session.id, ttl_seconds)
    return session


def touch(conn: sqlite3.Connection, session_id: str, ttl_seconds: int) -> None:
    now = clock.now()
    conn.execute(
        "UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE id = ? AND status = 'shopping'",
        (clock.timestamp(now), clock.timestamp(now + timedelta(seconds=ttl_seconds)), session_id),
    )


def mark_returned(conn: sqlite3.Connection, session_id: str, *, cancelled: bool) -> None:
    conn.execute(
        "UPDATE sessions SET status = ?, returned_at = ? WHERE id = ?",
        ("cancelled" if cancelled else "returned", clock.timestamp(), session_id),
    )
