"""Buyer-platform profiles: the defaults that differ between procurement systems, and the checks
their inbound side is known to make on a cart.

Choosing a profile (``settings.profile``) sets its defaults; any setting can still be changed after
(or in the same PATCH). Where a default comes from is in ``SOURCES`` and in the README: facts from
``protocol.md`` are cited; the rest is marked as this project's assumption.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

PROFILES: dict[str, dict[str, Any]] = {
    "generic": {
        "return_encoding": "cxml-urlencoded",
        "cxml_version": "1.2.069",
        "form_target": "_top",
        "oci_version": "4.0",
        "checks": [],
    },
    "ariba": {
        "return_encoding": "cxml-urlencoded",
        "cxml_version": "1.2.069",
        "form_target": "_top",
        "oci_version": "4.0",
        "checks": ["doctype"],
    },
    "coupa": {
        "return_encoding": "cxml-urlencoded",
        "cxml_version": "1.2.023",
        "form_target": "_top",
        "oci_version": "4.0",
        "checks": ["doctype", "unspsc"],
    },
    "sap-srm": {
        "return_encoding": "cxml-base64",
        "cxml_version": "1.2.014",
        "form_target": "_top",
        "oci_version": "4.0",
        "checks": ["description_40", "unit_3"],
    },
    "sap-s4": {
        "return_encoding": "cxml-base64",
        "cxml_version": "1.2.036",
        "form_target": "_top",
        "oci_version": "5.0",
        "checks": ["description_40", "unit_3"],
    },
    "jaggaer": {
        "return_encoding": "cxml-urlencoded",
        "cxml_version": "1.2.036",
        "form_target": "_top",
        "oci_version": "4.0",
        "checks": ["doctype"],
    },
    "oracle": {
        "return_encoding": "cxml-urlencoded",
        "cxml_version": "1.2.014",
        "form_target": "_top",
        "oci_version": "4.0",
        "checks": ["doctype"],
    },
    "workday": {
        "return_encoding": "cxml-urlencoded",
        "cxml_version": "1.2.036",
        "form_target": "_top",
        "oci_version": "4.0",
        "checks": ["doctype", "unspsc"],
    },
    "netsuite": {
        "return_encoding": "cxml-urlencoded",
        "cxml_version": "1.2.014",
        "form_target": "_top",
        "oci_version": "4.0",
        "checks": ["doctype"],
    },
}

SOURCES: dict[str, str] = {
    "generic": "The simulator's own defaults: the newest cXML version of the shared DTDs, cxml-urlencoded.",
    "ariba": "Assumption: Ariba reads cxml-urlencoded and current 1.2.0xx DTDs; it validates against the DOCTYPE.",
    "coupa": "protocol.md §9: Coupa's PunchOutOrderMessage is 1.2.023 (PO 1.2.014, ASN 1.2.014, invoice 1.2.020, "
    "confirmation 1.2.036). UNSPSC classification: assumption (Coupa maps commodities from it).",
    "sap-srm": "protocol.md §3: SAP expects base64 by the field name cxml-base64; protocol.md §8: OCI 4.0, "
    "DESCRIPTION 40 and UNIT 3 characters. Version 1.2.014: assumption (an older supported version).",
    "sap-s4": "protocol.md §3 and §8 as SAP SRM; OCI 5.0 for S/4HANA: assumption.",
    "jaggaer": "Assumption: cxml-urlencoded, a mid 1.2.0xx version.",
    "oracle": "The Oracle Exchange sample in ../shared/cxml/samples declares cXML 1.1.007; 1.2.014 is the oldest "
    "version the simulator sends. cxml-urlencoded: assumption.",
    "workday": "Assumption: cxml-urlencoded, 1.2.036, UNSPSC classification expected.",
    "netsuite": "The NetSuite/Oracle sample shows an old cXML dialect; 1.2.014 as for Oracle. Assumption otherwise.",
}

PROFILE_KEYS = ("return_encoding", "cxml_version", "form_target", "oci_version", "checks")


def defaults(profile: str) -> dict[str, Any]:
    return {key: PROFILES[profile][key] for key in PROFILE_KEYS}


def check_cart(checks: list[str], root: etree._Element, doctype: str | None) -> list[str]:
    """What the buyer platform's inbound side would object to in a PunchOutOrderMessage."""
    findings = []
    if "doctype" in checks and not doctype:
        findings.append("profile check doctype: the message has no DOCTYPE, which this platform requires.")
    for item in root.iter("ItemIn"):
        part = item.findtext("ItemID/SupplierPartID") or "?"
        if "description_40" in checks:
            text = (
                "".join(item.find("ItemDetail/Description").itertext()).strip()
                if item.find("ItemDetail/Description") is not None
                else ""
            )
            if len(text) > 40:
                findings.append(
                    f"profile check description_40: {part}: Description has {len(text)} characters; SAP keeps the "
                    "first 40 as the short text."
                )
        if "unit_3" in checks and len(item.findtext("ItemDetail/UnitOfMeasure") or "") > 3:
            findings.append(f"profile check unit_3: {part}: UnitOfMeasure longer than SAP's 3 characters.")
        if "unspsc" in checks and item.find("ItemDetail/Classification[@domain='UNSPSC']") is None:
            findings.append(f"profile check unspsc: {part}: no UNSPSC Classification.")
    return findings
