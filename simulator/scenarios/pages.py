"""Scenario rules on the browser side: the StartPage and the checkout."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from typing import Any

from ..errors import ShopError
from ..punchout.sessions import Session
from . import engine, store
from .facts import from_session

EXPIRED = ShopError(
    410,
    "Session expired",
    "Your shopping session has expired. Start a new PunchOut session from your procurement system.",
)


def on_page(
    conn: sqlite3.Connection,
    document: str,
    endpoint: str,
    session: Session,
    lines: tuple[tuple[str, Decimal], ...] = (),
) -> dict[str, Any] | None:
    """Let the active scenarios see a StartPage or checkout; returns a fault for the answer, if any.

    A rule whose outcome is ``session: expired`` ends the page with the expired-session error.
    """
    if not store.any_active(conn):
        return None
    fired = engine.evaluate(conn, from_session(document, endpoint, session, lines))
    if fired is None:
        return None
    if fired.outcome.get("session") == "expired":
        raise EXPIRED
    fault = fired.fault
    return fault if fault and fault.get("target", "response") == "response" else None
