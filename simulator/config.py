"""Settings of one simulator instance: command-line flags, ``PUNCHOUT_SIM_*`` variables, defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

ENV_PREFIX = "PUNCHOUT_SIM_"
DEFAULT_DTD_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "cxml" / "dtd"


@dataclass(frozen=True)
class SupplierIdentity:
    """Who the simulator says it is in the documents it sends (Amazon's identity by default).

    Amazon's PunchOutOrderMessage carries two credentials in From and Sender, DUNS 128990368 and
    NetworkId "Amazon" (protocol.md §3, seen in US 2024 and DE 2021 captures).
    """

    duns: str = "128990368"
    network_id: str = "Amazon"
    payload_domain: str = "amazon.com"
    user_agent: str = "PunchOut Simulator 0.1.0 (Amazon Business PunchOut stand-in)"


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("./var")
    catalog_size: int = 5000
    seed: int = 1
    public_url: str | None = None
    dtd_dir: Path | None = None
    workers: int = 1
    session_ttl: int = 900
    max_body_bytes: int = 5 * 1024 * 1024
    dev: bool = False
    smtp_url: str | None = None
    outbox_interval: float = 0.5
    scenarios: tuple[str, ...] = ()  # scenarios of the library active from the start (--scenario)
    admin_token: str | None = None  # when set, /__admin needs "Authorization: Bearer <token>"
    insecure_admin: bool = False  # allow listening beyond loopback without an admin token
    journal_max_rows: int = 0  # keep at most this many journal entries (0: no limit)
    journal_max_days: float = 0  # drop journal entries older than this many days (0: no limit)
    session_keep_days: float = 7  # delete shopping sessions this many days after they expired (0: keep)
    quote_keep_days: float = 90  # delete returned carts' quotes this many days after the checkout (0: keep)
    supplier: SupplierIdentity = field(default_factory=SupplierIdentity)

    @property
    def database_path(self) -> Path:
        return self.data_dir / "simulator.sqlite3"

    @property
    def base_url(self) -> str:
        """The base of every absolute URL the simulator hands out (StartPage, ProfileResponse)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    @property
    def loopback_only(self) -> bool:
        return self.host in ("127.0.0.1", "::1", "localhost") or self.host.startswith("127.")

    def check_exposure(self) -> None:
        """Refuse to serve the admin API beyond loopback without a token, unless told to."""
        if not self.loopback_only and not self.admin_token and not self.insecure_admin:
            raise ValueError(
                f"Listening on {self.host} would open the admin API to the network: set --admin-token "
                "(PUNCHOUT_SIM_ADMIN_TOKEN), or --insecure-admin if the network is yours alone."
            )

    def check_retention(self) -> None:
        """Refuse a negative journal retention (0 means no limit)."""
        if self.journal_max_rows < 0 or self.journal_max_days < 0:
            raise ValueError(
                "--journal-max-rows and --journal-max-days (PUNCHOUT_SIM_JOURNAL_MAX_ROWS, _DAYS) must be 0 "
                "(no limit) or more."
            )
        if not 0 <= self.session_keep_days <= 36_500:  # NaN fails too
            raise ValueError(
                "--session-keep-days (PUNCHOUT_SIM_SESSION_KEEP_DAYS) must be 0 (keep every session) or a number "
                "of days up to 36500."
            )
        if not 0 <= self.quote_keep_days <= 36_500:  # NaN fails too
            raise ValueError(
                "--quote-keep-days (PUNCHOUT_SIM_QUOTE_KEEP_DAYS) must be 0 (keep every quote) or a number "
                "of days up to 36500."
            )

    def with_overrides(self, **changes: Any) -> Config:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


_CONVERTERS: dict[str, Any] = {
    "port": int,
    "catalog_size": int,
    "seed": int,
    "workers": int,
    "session_ttl": int,
    "max_body_bytes": int,
    "outbox_interval": float,
    "journal_max_rows": int,
    "journal_max_days": float,
    "session_keep_days": float,
    "quote_keep_days": float,
    "data_dir": Path,
    "dtd_dir": Path,
    "dev": lambda v: str(v).lower() in ("1", "true", "yes", "on"),
    "insecure_admin": lambda v: str(v).lower() in ("1", "true", "yes", "on"),
    "scenarios": lambda v: tuple(name.strip() for name in str(v).split(",") if name.strip()),
}


def from_environment(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Read ``PUNCHOUT_SIM_<NAME>`` variables into keyword arguments for :class:`Config`."""
    environ = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    for f in fields(Config):
        raw = environ.get(ENV_PREFIX + f.name.upper())
        if raw is None or f.name == "supplier":
            continue
        values[f.name] = _CONVERTERS.get(f.name, str)(raw)
    supplier = {
        f.name: environ[f"{ENV_PREFIX}SUPPLIER_{f.name.upper()}"]
        for f in fields(SupplierIdentity)
        if f"{ENV_PREFIX}SUPPLIER_{f.name.upper()}" in environ
    }
    if supplier:
        values["supplier"] = SupplierIdentity(**supplier)
    return values


def default_dtd_dir() -> Path | None:
    """``../shared/cxml/dtd`` next to the checkout, when it is there."""
    return DEFAULT_DTD_DIR if DEFAULT_DTD_DIR.is_dir() else None
