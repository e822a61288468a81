"""Placeholder: the fault engine is being written in this file (pick and clear are all the rest use)."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from typing import Any


def pick(conn: sqlite3.Connection, endpoint: str, *, types: Collection[str] | None = None) -> dict[str, Any] | None:
    return None


def clear(conn: sqlite3.Connection) -> None:
    return None
