"""Scenarios in SQLite: the library (files in ``scenarios/``), loaded ones, which are active, their state.

States work as in WireMock: every scenario starts in ``Started``; a rule may require a state and move
the scenario to a new one. ``times`` limits how often a rule fires; the counts are kept per rule.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import clock, memo
from ..errors import AdminError, NotFound
from . import schema

STARTED = "Started"
LIBRARY_DIR = Path(__file__).resolve().parents[2] / "scenarios"

SCHEMA = """
CREATE TABLE IF NOT EXISTS scenarios (
    name TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    source TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 0,
    account_id TEXT,
    state TEXT NOT NULL DEFAULT 'Started',
    fired TEXT NOT NULL DEFAULT '{}',
    activated_at TEXT,
    activation INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Scenario:
    name: str
    definition: dict[str, Any]
    source: str  # "library" (a file of scenarios/) or "loaded" (through the admin API)
    active: bool
    account_id: str | None
    state: str
    fired: dict[str, int]
    activated_at: str | None
    activation: int = 0  # increases with every activation: the latest activated goes first

    @property
    def priority(self) -> int:
        return int(self.definition.get("priority", 0))

    @property
    def rules(self) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = self.definition["rules"]
        return rules

    def to_json(self, *, full: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "description": self.definition.get("description", ""),
            "buyer_should": self.definition.get("buyer_should", ""),
            "source": self.source,
            "active": self.active,
            "account_id": self.account_id,
            "state": self.state,
            "priority": self.priority,
            "fired": self.fired,
            "activated_at": self.activated_at,
        }
        if full:
            data["definition"] = self.definition
        return data


def _scenario(row: sqlite3.Row) -> Scenario:
    return Scenario(
        name=row["name"],
        definition=json.loads(row["definition"]),
        source=row["source"],
        active=bool(row["active"]),
        account_id=row["account_id"],
        state=row["state"],
        fired=json.loads(row["fired"]),
        activated_at=row["activated_at"],
        activation=row["activation"],
    )


def checked(data: Any) -> dict[str, Any]:
    problems = schema.errors(data)
    if problems:
        raise AdminError(400, "invalid_scenario", "The scenario is not valid: " + "; ".join(problems))
    result: dict[str, Any] = data
    return result


def put(conn: sqlite3.Connection, data: Any, *, source: str = "loaded") -> Scenario:
    """Add or replace a scenario's definition; an existing one keeps whether it is active and its state."""
    definition = checked(data)
    conn.execute(
        "INSERT INTO scenarios (name, definition, source, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, source = excluded.source,"
        " updated_at = excluded.updated_at",
        (definition["name"], json.dumps(definition), source, clock.timestamp()),
    )
    return get(conn, definition["name"])


def load_library(conn: sqlite3.Connection, directory: Path = LIBRARY_DIR) -> list[str]:
    """Load every ``*.yaml`` of the library directory; returns the problems of invalid files."""
    problems: list[str] = []
    for path in sorted(directory.glob("*.y*ml")) if directory.is_dir() else []:
        data, errors = schema.load_file(path)
        if errors:
            problems.extend(f"{path.name}: {e}" for e in errors)
            continue
        put(conn, data, source="library")
    return problems


def any_active(conn: sqlite3.Connection) -> bool:
    return bool(memo.lookup("scenarios active", lambda: _any_active(conn)))


def _any_active(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM scenarios WHERE active = 1 LIMIT 1").fetchone() is not None


def get(conn: sqlite3.Connection, name: str) -> Scenario:
    row = conn.execute("SELECT * FROM scenarios WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise NotFound("scenario", name)
    return _scenario(row)


def list_all(conn: sqlite3.Connection) -> list[Scenario]:
    return [_scenario(r) for r in conn.execute("SELECT * FROM scenarios ORDER BY source DESC, name")]


def active(conn: sqlite3.Connection) -> list[Scenario]:
    """Active scenarios in precedence order: priority (higher first), then the latest activated first."""
    rows = conn.execute("SELECT * FROM scenarios WHERE active = 1")
    found = [_scenario(r) for r in rows]
    return sorted(found, key=lambda s: (-s.priority, -s.activation, s.name))


def activate(conn: sqlite3.Connection, name: str, account_id: str | None = None) -> Scenario:
    get(conn, name)
    conn.execute(
        "UPDATE scenarios SET active = 1, account_id = ?, activated_at = ?, updated_at = ?,"
        " activation = (SELECT coalesce(max(activation), 0) + 1 FROM scenarios) WHERE name = ?",
        (account_id, clock.timestamp(), clock.timestamp(), name),
    )
    return get(conn, name)


def deactivate(conn: sqlite3.Connection, name: str) -> Scenario:
    get(conn, name)
    conn.execute("UPDATE scenarios SET active = 0, updated_at = ? WHERE name = ?", (clock.timestamp(), name))
    return get(conn, name)


def set_state(conn: sqlite3.Connection, name: str, state: Any) -> Scenario:
    if not isinstance(state, str) or not state:
        raise AdminError(400, "invalid_state", 'The body must be {"state": "<name of a state>"}.')
    get(conn, name)
    conn.execute("UPDATE scenarios SET state = ?, updated_at = ? WHERE name = ?", (state, clock.timestamp(), name))
    return get(conn, name)


def reset(conn: sqlite3.Connection) -> None:
    """Every scenario back to Started with no rule fired; which are active stays as it is."""
    conn.execute("UPDATE scenarios SET state = ?, fired = '{}', updated_at = ?", (STARTED, clock.timestamp()))


def record_fired(conn: sqlite3.Connection, scenario: Scenario, rule_index: int, new_state: str | None) -> None:
    fired = dict(scenario.fired)
    fired[str(rule_index)] = fired.get(str(rule_index), 0) + 1
    conn.execute(
        "UPDATE scenarios SET fired = ?, state = ?, updated_at = ? WHERE name = ?",
        (json.dumps(fired), new_state or scenario.state, clock.timestamp(), scenario.name),
    )
