"""Time as the simulator sees it. Everything asks here, so tests and scenarios can move it."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def timestamp(moment: datetime | None = None) -> str:
    """ISO 8601 with milliseconds and an offset, as Amazon stamps its documents (protocol.md §3)."""
    moment = moment or now()
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")
