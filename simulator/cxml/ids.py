"""payloadIDs: ``epoch-milliseconds.pid.random@host``, unique per document (protocol.md §1)."""

from __future__ import annotations

import os
import secrets
import time


def payload_id(domain: str) -> str:
    return f"{int(time.time() * 1000)}.{os.getpid()}.{secrets.token_hex(8)}@{domain}"
