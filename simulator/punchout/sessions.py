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
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from .. import clock
from ..db import select_page, transaction
from ..errors import NotFound, ShopError

TOKEN_BYTES = 24  # 192 bits, above the 128 the issue asks for
ALREADY_RETURNED = "This cart has been returned to your procurement system; start a new PunchOut session to shop again."
USED_MESSAGE = (
    "This start link has already been used; each link opens one shopping session. "
    "Start a new PunchOut session from your procurement system."
)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


@dataclass(frozen=True)
class NewSession:
    """What a PunchOutSetupRequest says about the session it opens."""

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
    protocol: str = "cxml"  # "cxml" or "oci"
    oci: dict[str, Any] | None = None  # OCI: hook_url, ok_code, target, caller, version


@dataclass(frozen=True, kw_only=True)
class Session(NewSession):
    id: str
    status: str  # new | shopping | returned | cancelled
    created_at: str
    expires_at: str
    started_at: str | None
    returned_at: str | None
    last_seen_at: str

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["extrinsics"] = {name: value for name, value in self.extrinsics}
        del data["last_seen_at"]
        return data


_JSON_COLUMNS = {"ship_to", "extrinsics", "contacts", "oci"}
_FIELDS = [f.name for f in fields(Session)]
_NEW_FIELDS = [f.name for f in fields(NewSession)]


def _session(row: sqlite3.Row) -> Session:
    values: dict[str, Any] = {}
    for name in _FIELDS:
        value = row[name]
        if name in _JSON_COLUMNS:
            value = json.loads(value) if value else None
        values[name] = value
    values["test_mode"] = bool(values["test_mode"])
    values["extrinsics"] = [tuple(e) for e in values["extrinsics"] or []]
    values["contacts"] = values["contacts"] or []
    return Session(**values)


def create(conn: sqlite3.Connection, new: NewSession, ttl_seconds: int, *, token: str | None = None) -> Session:
    """Store a session opened by the start ``token`` (shown once, in the StartPage URL)."""
    token = token or new_token()
    now = clock.now()
    session_id = "sess_" + secrets.token_hex(10)
    created, expires = clock.timestamp(now), clock.timestamp(now + timedelta(seconds=ttl_seconds))
    conn.execute(
        "INSERT INTO sessions (id, account_id, user_id, start_token_hash, operation, buyer_cookie,"
        " browser_form_post_url, form_target, test_mode, email, user_name, ship_to, extrinsics, contacts,"
        " selected_item, request_payload_id, locale, protocol, oci, status, created_at, expires_at, last_seen_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'new', ?, ?, ?)",
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
            new.protocol,
            json.dumps(new.oci) if new.oci is not None else None,
            created,
            expires,
            created,
        ),
    )
    # As get() would read it back, without reading it back (this runs inside a write transaction).
    values = {name: getattr(new, name) for name in _NEW_FIELDS}
    values.update(test_mode=bool(new.test_mode), extrinsics=[(str(k), str(v)) for k, v in new.extrinsics])
    return Session(
        **values,
        id=session_id,
        status="new",
        created_at=created,
        expires_at=expires,
        started_at=None,
        returned_at=None,
        last_seen_at=created,
    )


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
    rows, total = select_page(
        conn,
        "sessions",
        {"buyer_cookie": buyer_cookie, "account_id": account_id},
        order_by="rowid DESC",  # newest first, as made: read from an index or the table's end, never sorted
        limit=limit,
        offset=offset,
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
        raise ShopError(410, "Start link already used", USED_MESSAGE)
    if _expired(session.expires_at, now):
        raise ShopError(
            410,
            "Start link expired",
            f"This start link expired {ttl_seconds // 60} minutes after it was issued without being opened. "
            "Start a new PunchOut session from your procurement system.",
        )
    shop_key = new_token()
    opened = conn.execute(
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
    if opened.rowcount != 1:  # another request redeemed the link between the SELECT and this UPDATE
        raise ShopError(410, "Start link already used", USED_MESSAGE)
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
    """Close the session as its cart goes back; raises the "already returned" error when another
    request closed it first (a double click, two tabs): the caller's transaction is then undone, so
    one session returns one cart."""
    closed = conn.execute(
        "UPDATE sessions SET status = ?, returned_at = ? WHERE id = ? AND status NOT IN ('returned', 'cancelled')",
        ("cancelled" if cancelled else "returned", clock.timestamp(), session_id),
    ).rowcount
    if not closed:
        raise ShopError(409, "Cart already returned", ALREADY_RETURNED)


# --- retention (the server's dispatcher calls these; --session-keep-days, --quote-keep-days) -------
PRUNE_WINDOW = 2000  # the oldest rows looked at per pass: a pass costs the same at any table size


def prune(conn: sqlite3.Connection, keep_days: float, *, batch: int = 500) -> int:
    """Delete up to ``batch`` sessions (their carts with them) that expired more than ``keep_days``
    days ago on the simulator's clock; returns how many went. 0 days keeps every session.

    Looks at the oldest PRUNE_WINDOW sessions only: sessions are stored in the order they start, so
    the ones to go come first, and a pass stays cheap with millions of rows. One short transaction.
    """
    return _delete_oldest(conn, "sessions", "expires_at", keep_days, batch)


def prune_quotes(conn: sqlite3.Connection, keep_days: float, *, batch: int = 500) -> int:
    """Delete up to ``batch`` quotes (the lines of returned carts, by SupplierPartAuxiliaryID) made
    more than ``keep_days`` days ago on the simulator's clock; returns how many went. 0 keeps all.

    A quote outlives its session: a requisition may wait weeks for approval before its order cites
    the quote (hence 90 days by default, against the price it holds for 7). An order citing a deleted
    quote is priced from the catalogue, with an advisory. Oldest PRUNE_WINDOW rows only, as above.
    """
    return _delete_oldest(conn, "quotes", "created_at", keep_days, batch)


def _delete_oldest(conn: sqlite3.Connection, table: str, column: str, keep_days: float, batch: int) -> int:
    """Delete up to ``batch`` of the oldest PRUNE_WINDOW rows of ``table`` whose ``column`` (a time)
    is more than ``keep_days`` days ago; one short transaction."""
    if keep_days <= 0 or batch <= 0:
        return 0
    cutoff = clock.timestamp(clock.now() - timedelta(days=keep_days))
    with transaction(conn):
        return conn.execute(
            f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM"  # noqa: S608 - table and column: ours
            f" (SELECT rowid, {column} FROM {table} ORDER BY rowid LIMIT ?) WHERE {column} < ? LIMIT ?)",
            (PRUNE_WINDOW, cutoff, batch),
        ).rowcount
