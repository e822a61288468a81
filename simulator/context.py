"""What a service needs from the running simulator: the database connection, settings, DTDs."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from .config import Config
from .cxml.validate import DtdRegistry


@dataclass(frozen=True)
class Context:
    conn: sqlite3.Connection
    config: Config
    dtds: DtdRegistry
