"""The scenario file format: a JSON Schema shipped with the package, and readable error messages."""

from __future__ import annotations

import json
import math
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from .. import settings
from ..errors import AdminError

SCHEMA_PATH = Path(__file__).with_name("scenario.schema.json")


@cache
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return data


def _path(parts: Any) -> str:
    text = "$"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def errors(document: Any) -> list[str]:
    """Every problem of a scenario document, each as ``$.path.to.value: what is wrong``."""
    validator = Draft202012Validator(schema())
    found = sorted(validator.iter_errors(document), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if found:
        return [f"{_path(e.absolute_path)}: {e.message}" for e in found]
    return _unusable(document)


def _unusable(document: dict[str, Any]) -> list[str]:
    """What the schema lets through but would fail every request while the scenario is active: a ``po``
    that is not a regular expression, a NaN percent, safeguards the account settings would refuse."""
    problems = []
    for index, rule in enumerate(document.get("rules", [])):
        pattern = rule.get("match", {}).get("po")
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                problems.append(f"$.rules[{index}].match.po: {pattern!r} is not a regular expression ({exc})")
        percent = rule.get("outcome", {}).get("percent")
        if isinstance(percent, float) and not math.isfinite(percent):  # JSON's NaN passes minimum and maximum
            problems.append(f"$.rules[{index}].outcome.percent: {percent} is not a number")
        safeguards = rule.get("outcome", {}).get("safeguards")
        if safeguards is not None:
            try:
                settings.validate({"safeguards": safeguards})
            except AdminError as exc:
                problems.append(f"$.rules[{index}].outcome.safeguards: {exc.message}")
    return problems


def parse_text(text: str) -> Any:
    """YAML (or JSON, which is YAML) text to data; a syntax error is raised as ValueError with its line."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ValueError(f"not valid YAML{where}: {getattr(exc, 'problem', exc)}") from exc


def load_file(path: Path) -> tuple[Any, list[str]]:
    """A scenario file's data and its problems (empty when it is valid)."""
    try:
        data = parse_text(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return None, [f"{path}: {exc}"]
    return data, errors(data)
