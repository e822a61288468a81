"""Console: the live message journal. Every document in and out, newest first, with filters; an
entry's page shows the request and its answer side by side, pretty-printed, secrets masked.

The list updates without a reload: ``console-journal.js`` polls ``/console/journal/since/<id>``,
which returns the newer rows as HTML rendered here, so texts and escaping stay on the server.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, render_template, request
from lxml import etree

from .. import journal
from ..cxml.parse import parse_document
from ..errors import CxmlError
from ..web import context
from . import bp, render

PAGE_SIZE = 50
DIRECTIONS = ("in", "out")


def _filters() -> dict[str, str | None]:
    direction = request.args.get("direction") or None
    return {
        "doc_type": request.args.get("type") or None,
        "direction": direction if direction in DIRECTIONS else None,
        "account_id": request.args.get("account") or None,
    }


def _search(filters: dict[str, str | None]) -> tuple[list[dict[str, Any]], int]:
    return journal.search(
        context().conn,
        doc_type=filters["doc_type"],
        direction=filters["direction"],
        account_id=filters["account_id"],
        limit=PAGE_SIZE,
    )


def pretty(body: str) -> str:
    """The body reformatted by the project's safe parser, or the text as it is when it does not parse."""
    try:
        root = parse_document(body.encode("utf-8")).root
    except (CxmlError, ValueError, etree.LxmlError):
        return body
    return str(etree.tostring(root.getroottree(), pretty_print=True, encoding="unicode"))


def _answer_of(entry_id: int) -> dict[str, Any] | None:
    """The answer to a request: written with it or right after it, so looked for in the ids just
    beyond (``in_reply_to`` has no index; without the range this read the journal from its first
    entry: 160 ms for the newest request at 300,000 entries)."""
    row = context().conn.execute(
        "SELECT id FROM journal WHERE id > ? AND id <= ? AND in_reply_to = ? ORDER BY id LIMIT 1",
        (entry_id, entry_id + journal.ANSWER_WINDOW, entry_id),
    )
    found = row.fetchone()
    return _with_body(int(found["id"])) if found else None


def _with_body(entry_id: int) -> dict[str, Any]:
    entry = journal.get(context().conn, entry_id)
    entry["pretty"] = pretty(entry["body"])
    return entry


def _choices() -> tuple[list[str], list[str]]:
    conn = context().conn
    types = [r[0] for r in conn.execute("SELECT DISTINCT doc_type FROM journal ORDER BY doc_type")]
    accounts = [r[0] for r in conn.execute("SELECT DISTINCT account_id FROM journal WHERE account_id IS NOT NULL")]
    return types, sorted(accounts)


@bp.get("/journal")
def journal_page() -> str:
    filters = _filters()
    entries, total = _search(filters)
    types, accounts = _choices()
    return render(
        "console/journal.html",
        entries=entries,
        total=total,
        filters=filters,
        types=types,
        accounts=accounts,
        latest=entries[0]["id"] if entries else 0,
    )


@bp.get("/journal/since/<int:after>")
def journal_since(after: int) -> Response:
    """Entries newer than ``after`` (at most a page, newest first) as table rows, for the live update."""
    entries, _ = _search(_filters())
    newer = [e for e in entries if e["id"] > after]
    return jsonify(
        {
            "latest": max([after, *(e["id"] for e in newer)]),
            "rows": [
                render_template("console/journal_row.html", entry=e, locale=g.get("locale", "en_US")) for e in newer
            ],
        }
    )


@bp.get("/journal/<int:entry_id>")
def journal_entry(entry_id: int) -> str:
    entry = _with_body(entry_id)
    answer: dict[str, Any] | None
    if entry["in_reply_to"] is not None:  # an answer: show it to the right of its request
        request_entry, answer = _with_body(int(entry["in_reply_to"])), entry
    else:
        request_entry, answer = entry, _answer_of(entry_id)
    return render("console/journal_entry.html", entry=entry, request_entry=request_entry, answer=answer)
