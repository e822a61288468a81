"""DTD validation against the official cXML DTDs in a directory (``--dtd-dir``).

The DTD file and version come from the document: the DOCTYPE names the file (cXML.dtd,
Fulfill.dtd, InvoiceDetail.dtd) and the version; without a DOCTYPE the request type decides the
file and the newest version is used. When the exact version is missing, the nearest newer one is
used, and when there is none newer, the newest there is.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

# Documents that validate against a DTD other than cXML.dtd (protocol.md §6).
DTD_FOR_REQUEST = {
    "ConfirmationRequest": "Fulfill",
    "ShipNoticeRequest": "Fulfill",
    "InvoiceDetailRequest": "InvoiceDetail",
}


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@dataclass(frozen=True)
class Finding:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class ValidationResult:
    dtd_file: str | None  # "1.2.069/cXML.dtd", None when validation was skipped
    findings: tuple[Finding, ...] = ()
    skipped_reason: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def valid(self) -> bool:
        return self.dtd_file is not None and not self.findings


class DtdRegistry:
    """The DTDs found under one directory laid out as ``<version>/<Name>.dtd``."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._versions: dict[str, list[str]] = {}
        self._selected: dict[tuple[str, str | None], str | None] = {}
        self._local = threading.local()
        if directory is not None and directory.is_dir():
            for path in sorted(directory.glob("*/*.dtd")):
                version = path.parent.name
                if all(part.isdigit() for part in version.split(".")):
                    self._versions.setdefault(path.stem, []).append(version)
            for versions in self._versions.values():
                versions.sort(key=_version_key)

    @property
    def available(self) -> bool:
        return bool(self._versions)

    def versions(self, dtd_name: str = "cXML") -> list[str]:
        return list(self._versions.get(dtd_name, []))

    def select(self, dtd_name: str, version: str | None) -> str | None:
        """The version of ``dtd_name`` to validate with: exact, nearest newer, else newest."""
        key = (dtd_name, version)
        if key not in self._selected:
            if len(self._selected) > 1024:  # versions come from requests: keep the memo bounded
                self._selected.clear()
            self._selected[key] = self._select(dtd_name, version)
        return self._selected[key]

    def _select(self, dtd_name: str, version: str | None) -> str | None:
        versions = self._versions.get(dtd_name)
        if not versions:
            return None
        if version is None:
            return versions[-1]
        try:
            wanted = _version_key(version)
        except ValueError:
            return versions[-1]
        for candidate in versions:
            if _version_key(candidate) >= wanted:
                return candidate
        return versions[-1]

    def _dtd(self, dtd_name: str, version: str) -> etree.DTD:
        cache: dict[tuple[str, str], etree.DTD] = self._local.__dict__.setdefault("cache", {})
        key = (dtd_name, version)
        if key not in cache:
            assert self.directory is not None
            cache[key] = etree.DTD(str(self.directory / version / f"{dtd_name}.dtd"))
        return cache[key]

    def validate(
        self,
        root: etree._Element,
        *,
        dtd_name: str | None,
        version: str | None,
        request_type: str | None = None,
    ) -> ValidationResult:
        if not self.available:
            return ValidationResult(None, skipped_reason="no DTD directory configured (--dtd-dir)")
        name = dtd_name if dtd_name in self._versions else None
        if name is None:
            name = DTD_FOR_REQUEST.get(request_type or "", "cXML")
        chosen = self.select(name, version)
        if chosen is None:
            return ValidationResult(None, skipped_reason=f"no {name}.dtd in {self.directory}")
        notes: tuple[str, ...] = ()
        if version and chosen != version:
            notes = (f"{name}.dtd {version} is not in the DTD directory; validated with {chosen}",)
        dtd = self._dtd(name, chosen)
        ok = dtd.validate(root)
        findings = () if ok else tuple(Finding(e.line, e.message) for e in dtd.error_log)
        return ValidationResult(f"{chosen}/{name}.dtd", findings, notes=notes)
