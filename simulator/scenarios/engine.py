"""Matching requests against the rules of the active scenarios.

Precedence: among active scenarios, a higher ``priority`` first, then the most recently activated;
within a scenario, its rules in file order. The first rule that matches — its criteria, the
scenario's account, its ``requiredState``, its ``times`` — fires alone: its outcome, fault and
timeline apply, its ``newState`` is set. Every matcher says why it did not match, so the journal
can show the nearest rules of a request that matched none.
"""

from __future__ import annotations

import fnmatch
import re
import sqlite3
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from lxml import etree

from ..db import transaction
from . import store
from .store import Scenario

# "OrderRequest" in a rule means an order whatever it came as: cXML, or an OAGIS ProcessPurchaseOrder.
ORDER_DOCUMENTS = ("OrderRequest", "ProcessPurchaseOrder")


@dataclass(frozen=True)
class Facts:
    """What a rule can match on, taken from one request."""

    document: str  # OrderRequest, PunchOutSetupRequest, StartPage, Checkout …
    endpoint: str | None = None
    account_id: str | None = None
    email: str = ""
    lines: tuple[tuple[str, Decimal], ...] = ()  # (ASIN or SupplierPartID, quantity)
    po: str = ""
    root: etree._Element | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Fired:
    scenario: str
    rule_index: int
    rule: dict[str, Any]

    @property
    def label(self) -> str:
        name = self.rule.get("name")
        return f"{self.scenario} rule {self.rule_index + 1}" + (f" ({name})" if name else "")

    @property
    def outcome(self) -> dict[str, Any]:
        outcome: dict[str, Any] = self.rule.get("outcome") or {}
        return outcome

    @property
    def fault(self) -> dict[str, Any] | None:
        fault: dict[str, Any] | None = self.rule.get("fault")
        return fault

    @property
    def timeline(self) -> dict[str, Any]:
        timeline: dict[str, Any] = self.rule.get("timeline") or {}
        return timeline


def _in_range(value: int | Decimal, expected: Any) -> bool:
    if isinstance(expected, int):
        return value == expected
    low, high = expected.get("min", value), expected.get("max", value)
    return bool(low <= value <= high)


def _describe(expected: Any) -> str:
    if isinstance(expected, int):
        return str(expected)
    return " ".join(f"{k} {v}" for k, v in expected.items())


def match_criteria(match: dict[str, Any], facts: Facts) -> list[str]:
    """The criteria of ``match`` that ``facts`` misses, each with the reason; empty when it matches."""
    misses = []
    if (
        "document" in match
        and match["document"] != facts.document
        and not (match["document"] == "OrderRequest" and facts.document in ORDER_DOCUMENTS)
    ):
        misses.append(f"document is {facts.document}, not {match['document']}")
    if "endpoint" in match and match["endpoint"] != facts.endpoint:
        misses.append(f"endpoint is {facts.endpoint}, not {match['endpoint']}")
    if "account" in match and match["account"] != facts.account_id:
        misses.append(f"account is {facts.account_id}, not {match['account']}")
    if "email" in match and not fnmatch.fnmatch(facts.email.lower(), match["email"].lower()):
        misses.append(f"email {facts.email or '(none)'} does not match {match['email']}")
    matching_lines = [
        (asin, qty)
        for asin, qty in facts.lines
        if "asin" not in match or fnmatch.fnmatch(asin.upper(), match["asin"].upper())
    ]
    if "asin" in match and not matching_lines:
        misses.append(f"no line has an ASIN matching {match['asin']}")
    if "quantity" in match and not any(_in_range(qty, match["quantity"]) for _, qty in matching_lines):
        misses.append(
            f"no line{' with that ASIN' if 'asin' in match else ''} has quantity {_describe(match['quantity'])}"
        )
    if "po" in match and not re.search(match["po"], facts.po or ""):
        misses.append(f"PO number {facts.po or '(none)'} does not match /{match['po']}/")
    if "lines" in match and not _in_range(len(facts.lines), match["lines"]):
        misses.append(f"{len(facts.lines)} lines, not {_describe(match['lines'])}")
    if "xpath" in match:
        if facts.root is None:
            misses.append("no document for the XPath")
        else:
            try:
                result = facts.root.xpath(match["xpath"])
            except etree.XPathError as exc:
                misses.append(f"XPath {match['xpath']!r} is not valid: {exc}")
            else:
                if not result:
                    misses.append(f"XPath {match['xpath']!r} is false")
    return misses


def rule_misses(scenario: Scenario, index: int, rule: dict[str, Any], facts: Facts) -> list[str]:
    misses = match_criteria(rule.get("match") or {}, facts)
    if scenario.account_id and scenario.account_id != facts.account_id:
        misses.append(f"the scenario is active for account {scenario.account_id} only")
    required = rule.get("requiredState")
    if required and required != scenario.state:
        misses.append(f"scenario state is {scenario.state}, the rule requires {required}")
    times = rule.get("times")
    if times is not None and scenario.fired.get(str(index), 0) >= times:
        misses.append(f"already fired {times} time(s)")
    return misses


def evaluate(conn: sqlite3.Connection, facts: Facts) -> Fired | None:
    """The rule that fires for these facts, if any; its state change and count are recorded."""
    with transaction(conn):
        for scenario in store.active(conn):
            for index, rule in enumerate(scenario.rules):
                if not rule_misses(scenario, index, rule, facts):
                    store.record_fired(conn, scenario, index, rule.get("newState"))
                    return Fired(scenario.name, index, rule)
    return None


def nearest(conn: sqlite3.Connection, facts: Facts, limit: int = 3) -> list[dict[str, Any]]:
    """The active rules closest to matching (fewest misses), with why each missed."""
    candidates: list[tuple[list[str], dict[str, Any]]] = []
    for scenario in store.active(conn):
        for index, rule in enumerate(scenario.rules):
            misses = rule_misses(scenario, index, rule, facts)
            candidates.append(
                (misses, {"scenario": scenario.name, "rule": index + 1, "name": rule.get("name"), "misses": misses})
            )
    candidates.sort(key=lambda c: len(c[0]))
    return [c[1] for c in candidates[:limit]]
