"""Account settings: their defaults, the values each may take, and the recursive merge of PATCH."""

from __future__ import annotations

import copy
import json
import math
import re
from typing import Any

from .errors import AdminError

SAFEGUARD_ACTIONS = ("cancel_order", "remove_item", "send_available")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# Amazon Business "order safeguards" (protocol.md §7): each with an action.
DEFAULT_SAFEGUARDS: dict[str, dict[str, Any]] = {
    "unit_price": {"max_increase_pct": 10, "action": "remove_item"},
    "quantity": {"action": "send_available", "remainder": "cancel"},
    "shipping_price": {"max": None, "action": "cancel_order"},
    "delivery_days": {"max": None, "action": "remove_item"},
    "amazon_fulfilled_only": {"enabled": False, "action": "remove_item"},
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
    "timeline": "realistic",
    "einvoicing": True,
    "fulfil_test_orders": False,
    "sync_status": 200,
    "reject_synchronously": False,
    "allow_order_changes": False,
    "amazon_day": None,
    "safeguards": DEFAULT_SAFEGUARDS,
    "profile": "generic",
    "form_target": "_top",
    "oci_version": "4.0",
    "checks": [],
}
CHECKS = ("doctype", "description_40", "unit_3", "unspsc")
PROFILE_NAMES = ("generic", "ariba", "coupa", "sap-srm", "sap-s4", "jaggaer", "oracle", "workday", "netsuite")
_FORM_TARGET = re.compile(r"^(_top|_blank|_self|_parent|[A-Za-z][A-Za-z0-9_-]{0,63})$")

SETTING_CHOICES: dict[str, tuple[Any, ...]] = {
    "return_encoding": ("cxml-urlencoded", "cxml-base64", "raw"),
    "operation_allowed": ("create", "edit", "inspect"),
    "validation": ("lenient", "strict"),
    "locale": ("en_US", "de_DE"),
    "first_punchout": ("auto", "register"),
    "require_email": (True, False),
    "http_status": ("200", "mirror"),
    "timeline": ("realistic", "instant", "manual"),
    "einvoicing": (True, False),
    "fulfil_test_orders": (True, False),
    "sync_status": (200, 201),
    "reject_synchronously": (True, False),
    "allow_order_changes": (True, False),
    "amazon_day": (None, *WEEKDAYS),
    "profile": PROFILE_NAMES,
    "oci_version": ("4.0", "5.0"),
}

_VERSION = re.compile(r"^1\.2\.0\d\d$")
_NUMBER_OR_NULL = ("max_increase_pct", "max")


def defaults() -> dict[str, Any]:
    return copy.deepcopy(DEFAULT_SETTINGS)


def merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``patch`` merged into ``base``: nested objects key by key, everything else replaced.

    New dicts are made at every level that changes; values themselves are shared, not copied
    (settings are read far more often than written, and nothing mutates them in place).
    """
    merged = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _invalid(message: str) -> AdminError:
    return AdminError(400, "invalid_settings", message)


def _choices(values: tuple[Any, ...]) -> str:
    return " | ".join(json.dumps(c) for c in values)


def _validate_safeguards(value: Any) -> None:
    if not isinstance(value, dict):
        raise _invalid("settings.safeguards must be an object.")
    for name, rule in value.items():
        if name not in DEFAULT_SAFEGUARDS:
            raise _invalid(f"Unknown safeguard {name!r}. Safeguards: {', '.join(DEFAULT_SAFEGUARDS)}.")
        if not isinstance(rule, dict):
            raise _invalid(f"settings.safeguards.{name} must be an object.")
        for key, item in rule.items():
            path = f"settings.safeguards.{name}.{key}"
            if key not in DEFAULT_SAFEGUARDS[name]:
                raise _invalid(f"Unknown key {path}; {name} takes {', '.join(DEFAULT_SAFEGUARDS[name])}.")
            if key == "action" and item not in SAFEGUARD_ACTIONS:
                raise _invalid(f"{path} must be one of {_choices(SAFEGUARD_ACTIONS)}, got {item!r}.")
            if key == "remainder" and item not in ("cancel", "backorder"):
                raise _invalid(f'{path} must be "cancel" | "backorder", got {item!r}.')
            if key == "enabled" and not isinstance(item, bool):
                raise _invalid(f"{path} must be true or false.")
            if (
                key in _NUMBER_OR_NULL
                and item is not None
                and (isinstance(item, bool) or not isinstance(item, int | float) or not 0 <= item < math.inf)
            ):  # JSON's NaN and Infinity too: NaN broke every order
                raise _invalid(f"{path} must be a number of 0 or more, or null.")


def validate(settings: Any) -> dict[str, Any]:
    """Check a (partial) settings object; returns it unchanged when every key and value is known."""
    if not isinstance(settings, dict):
        raise _invalid("settings must be a JSON object.")
    for key, value in settings.items():
        if key == "cxml_version":
            if not isinstance(value, str) or not _VERSION.match(value) or value < "1.2.014":
                raise _invalid(f"settings.cxml_version must be a cXML version from 1.2.014 to 1.2.069, got {value!r}.")
        elif key == "safeguards":
            _validate_safeguards(value)
        elif key == "form_target":
            if not isinstance(value, str) or not _FORM_TARGET.match(value):
                raise _invalid(
                    f"settings.form_target must be _top, _blank, _self, _parent or a frame name, got {value!r}."
                )
        elif key == "checks":
            if not isinstance(value, list) or any(v not in CHECKS for v in value):
                raise _invalid(f"settings.checks must be a list of {', '.join(CHECKS)}, got {value!r}.")
        elif key in SETTING_CHOICES:
            if value not in SETTING_CHOICES[key] or isinstance(value, bool) != isinstance(
                SETTING_CHOICES[key][-1], bool
            ):
                raise _invalid(f"settings.{key} must be one of {_choices(SETTING_CHOICES[key])}, got {value!r}.")
        else:
            raise _invalid(f"Unknown setting {key!r}. Known settings: {', '.join(sorted(DEFAULT_SETTINGS))}.")
    return settings
