"""XML is parsed only through simulator/cxml/parse.py: no other module builds a parser or parses."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "simulator"
PARSING = re.compile(r"\b(?:etree\.)?(?:XMLParser|fromstring|XML|parse|iterparse|XMLPullParser|HTMLParser)\(")
ALLOWED = {PACKAGE / "cxml" / "parse.py"}


def test_no_module_but_the_one_parser_parses_xml() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in ALLOWED:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if "etree" in line and PARSING.search(line):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}")
    assert offenders == []
