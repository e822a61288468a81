"""SQLite storage: one database file per data dir, WAL mode, one connection per request."""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

try:  # the writer lock (see transaction) needs flock; elsewhere SQLite's own locking serves
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('test', 'active')),
    domain TEXT NOT NULL,
    identity TEXT NOT NULL,
    shared_secret TEXT NOT NULL,
    settings TEXT NOT NULL DEFAULT '{}',
    payment_method TEXT,
    buyer_endpoint TEXT,
    oci TEXT,
    business_registered_at TEXT,  -- console: Amazon's set-up steps
    business_verified_at TEXT,  -- console
    punchout INTEGER NOT NULL DEFAULT 1,  -- console: one way, never back to 0 once added
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS accounts_identity ON accounts (lower(domain), identity);

CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    roles TEXT NOT NULL DEFAULT '["punchout_user"]',
    registered INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS users_email ON users (account_id, lower(email));

CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    start_token_hash TEXT NOT NULL UNIQUE,
    shop_key_hash TEXT UNIQUE,
    operation TEXT NOT NULL,
    buyer_cookie TEXT NOT NULL,
    browser_form_post_url TEXT NOT NULL,
    form_target TEXT NOT NULL DEFAULT '',
    test_mode INTEGER NOT NULL DEFAULT 0,
    email TEXT NOT NULL DEFAULT '',
    user_name TEXT NOT NULL DEFAULT '',
    ship_to TEXT,
    extrinsics TEXT NOT NULL DEFAULT '[]',
    contacts TEXT NOT NULL DEFAULT '[]',
    selected_item TEXT,
    request_payload_id TEXT NOT NULL DEFAULT '',
    locale TEXT NOT NULL DEFAULT 'en_US',
    protocol TEXT NOT NULL DEFAULT 'cxml',
    oci TEXT,
    status TEXT NOT NULL DEFAULT 'new',
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    started_at TEXT,
    returned_at TEXT,
    last_seen_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_buyer_cookie ON sessions (buyer_cookie);
-- The admin API lists sessions newest first by rowid (the order they were made), which this index
-- keeps within an account; (account_id, created_at) before it left a sort of every session.
DROP INDEX IF EXISTS sessions_account;
CREATE INDEX IF NOT EXISTS sessions_by_account ON sessions (account_id);

CREATE TABLE IF NOT EXISTS cart_items (
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    asin TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    quoted_unit_price TEXT,
    position INTEGER NOT NULL,
    PRIMARY KEY (session_id, asin)
);

CREATE TABLE IF NOT EXISTS quotes (
    aux_id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    line_number INTEGER NOT NULL,
    asin TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    unit_price TEXT NOT NULL,
    currency TEXT NOT NULL,
    created_at TEXT NOT NULL,
    email TEXT  -- the shopper's, so that an order citing the quote names them after the session is gone
);
CREATE INDEX IF NOT EXISTS quotes_session ON quotes (session_id);

CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    doc_type TEXT NOT NULL,
    account_id TEXT,
    session_id TEXT,
    endpoint TEXT NOT NULL,
    http_status INTEGER,
    cxml_status INTEGER,
    payload_id TEXT,
    in_reply_to INTEGER,
    content_type TEXT NOT NULL DEFAULT '',
    advisories TEXT NOT NULL DEFAULT '[]',
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    scenario TEXT
);
CREATE INDEX IF NOT EXISTS journal_created ON journal (created_at);
CREATE INDEX IF NOT EXISTS journal_type ON journal (doc_type, id);
CREATE INDEX IF NOT EXISTS journal_account ON journal (account_id, id);
CREATE INDEX IF NOT EXISTS journal_payload ON journal (payload_id);
CREATE INDEX IF NOT EXISTS journal_session ON journal (session_id, id);
CREATE INDEX IF NOT EXISTS journal_unmatched ON journal (id)
    WHERE direction = 'in' AND scenario IS NULL AND doc_type NOT IN ('unknown', 'Status');

CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class Connection(sqlite3.Connection):
    """A connection that knows its data dir's writer lock (see :class:`transaction`)."""

    writer_lock_path: str | None = None
    writer_lock_fd: int | None = None

    def close(self) -> None:
        _close_writer_lock(self)
        super().close()


class _Kept(Connection):
    """A connection kept open for the thread that opened it: ``close()`` only ends a transaction."""

    def close(self) -> None:
        if self.in_transaction:
            self.execute("ROLLBACK")

    def really_close(self) -> None:
        _close_writer_lock(self)
        sqlite3.Connection.close(self)


_local = threading.local()
KEPT_PER_THREAD = 8  # data dirs a thread keeps connections to (tests use many; a server one)


@functools.lru_cache(maxsize=64)
def _resolved(path: str) -> str:
    """The absolute path a data dir's database is kept under (resolving costs file-system calls)."""
    return str(Path(path).resolve())


def shared(path: Path) -> sqlite3.Connection:
    """This thread's open connection to ``path``, made on first use.

    Opening and closing a SQLite connection per request costs milliseconds (the last close of a
    WAL database checkpoints it); a server process keeps one per thread instead.
    """
    kept: OrderedDict[str, _Kept] = _local.__dict__.setdefault("kept", OrderedDict())
    key = _resolved(str(path))
    found = kept.get(key)
    if found is not None:
        kept.move_to_end(key)
        return found
    conn = connect(path, factory=_Kept)
    assert isinstance(conn, _Kept)
    kept[key] = conn
    while len(kept) > KEPT_PER_THREAD:
        kept.popitem(last=False)[1].really_close()
    return conn


def connect(path: Path, factory: type[Connection] = Connection) -> sqlite3.Connection:
    """A connection with the pragmas every part of the simulator relies on.

    Raises :class:`DataDirError` when the database cannot be opened for writing.
    """
    try:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False, factory=factory)
        conn.writer_lock_path = f"{path}-writer.lock"
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 30000")
        if _resolved(str(path)) in _checkpointed:
            conn.execute("PRAGMA wal_autocheckpoint = 0")  # a Checkpointer does it, off the request path
    except sqlite3.Error as exc:
        raise DataDirError(_cannot_open(Path(path), exc)) from exc
    return conn


# --- storage errors in words a person can act on -------------------------------------------------


class DataDirError(Exception):
    """The data dir or its database cannot be used; the message says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def make_data_dir(path: Path) -> None:
    """Create the data dir, or say clearly why it cannot be used (a file, read-only, no permission)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise DataDirError(
            f"The data dir {path} cannot be created: {exc.filename or path} is a file, not a directory. "
            "Pass --data-dir (PUNCHOUT_SIM_DATA_DIR) a directory."
        ) from exc
    except OSError as exc:
        raise DataDirError(
            f"The data dir {path} cannot be created ({exc.strerror}). Pass --data-dir (PUNCHOUT_SIM_DATA_DIR) "
            "a directory the simulator's user can write."
        ) from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise DataDirError(
            f"The data dir {path} is not writable by the simulator's user: the database, its WAL and its "
            "journal live there. Make it writable, or pass --data-dir (PUNCHOUT_SIM_DATA_DIR) another directory."
        )


def _cannot_open(path: Path, exc: sqlite3.Error) -> str:
    reason = str(exc)
    if path.is_dir():
        return f"The database {path} is a directory, not a SQLite file: move it away or pass another --data-dir."
    if "readonly" in reason or "read-only" in reason:
        return (
            f"The database {path} is read-only (SQLite: {reason}): the simulator writes every request to it. "
            "Make the file and its data dir writable by the simulator's user, or pass another --data-dir."
        )
    text = storage_error(exc, path.parent)
    return text or (
        f"The database {path} cannot be opened for writing (SQLite: {reason}). Check that the data dir exists "
        "and is writable by the simulator's user, or pass another --data-dir."
    )


def storage_error(exc: BaseException, data_dir: Path) -> str | None:
    """What a storage failure means for the user and what to do, or None when ``exc`` is not one."""
    if isinstance(exc, DataDirError):
        return exc.message
    if not isinstance(exc, sqlite3.Error):
        return None
    reason = str(exc)
    if "database or disk is full" in reason:
        return (
            f"The simulator's data dir {data_dir} is full (SQLite: database or disk is full); nothing of this "
            "request was stored. Free space on that disk, or bound the journal with --journal-max-rows or "
            "--journal-max-days, then send the request again."
        )
    if "readonly database" in reason:
        return (
            f"The simulator's database in {data_dir} is read-only (SQLite: {reason}); nothing of this request "
            "was stored. Make the data dir and its files writable by the simulator's user and restart it."
        )
    if "disk I/O error" in reason:
        return (
            f"The simulator could not read or write its database in {data_dir} (SQLite: disk I/O error). "
            "Check the disk and the data dir, then send the request again."
        )
    if "database is locked" in reason:
        return (
            "The simulator's database stayed locked for 30 s (another process held a write transaction); "
            "nothing of this request was stored. Send it again."
        )
    if "unable to open database file" in reason:
        return (
            f"The simulator cannot open its database in {data_dir} (SQLite: {reason}). Check that the data dir "
            "still exists and is writable by the simulator's user."
        )
    return None


# Columns added after a table was first released: added to older databases on start.
ADDED_COLUMNS = {
    "accounts": {
        "payment_method": "TEXT",
        "buyer_endpoint": "TEXT",
        "oci": "TEXT",
        # console: Amazon's set-up steps
        "business_registered_at": "TEXT",
        "business_verified_at": "TEXT",
        "punchout": "INTEGER NOT NULL DEFAULT 1",
    },
    "sessions": {"protocol": "TEXT NOT NULL DEFAULT 'cxml'", "oci": "TEXT"},
    "quotes": {"email": "TEXT"},
    "journal": {"scenario": "TEXT"},
    "outbox": {"fault": "TEXT", "recipe": "BLOB"},
    "scenarios": {"activation": "INTEGER NOT NULL DEFAULT 0"},
    "orders": {"cost_center": "TEXT"},
}


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    for table, columns in ADDED_COLUMNS.items():
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if not present:
            continue  # the table is created below, with every column
        for column, kind in columns.items():
            if column not in present:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def initialise(conn: sqlite3.Connection) -> None:
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'journal'").fetchone():
        _add_missing_columns(conn)
    conn.executescript(SCHEMA)
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (str(SCHEMA_VERSION),),
    )


#: A list's total is counted up to this many rows; beyond, it says "at least" (Total.exact False),
#: so that showing the first page of a million-row journal does not count a million rows.
COUNT_LIMIT = 10_000


class Total(int):
    """A list's total: exact, or (``exact`` False) a lower bound, COUNT_LIMIT."""

    exact: bool

    def __new__(cls, value: int, exact: bool = True) -> Total:
        total = super().__new__(cls, value)
        total.exact = exact
        return total


def count_at_most(conn: sqlite3.Connection, sql_from_where: str, params: list[Any], limit: int = COUNT_LIMIT) -> Total:
    """``SELECT count(*) <sql_from_where>``, but reading at most ``limit + 1`` rows."""
    found = conn.execute(
        f"SELECT count(*) FROM (SELECT 1 {sql_from_where} LIMIT ?)",  # noqa: S608
        [*params, limit + 1],
    ).fetchone()[0]
    return Total(limit, exact=False) if found > limit else Total(found)


def where_clause(filters: dict[str, Any], conditions: list[tuple[str, Any]] | None = None) -> tuple[str, list[Any]]:
    """``WHERE …`` (or "") for each non-empty filter column equal to its value and each condition
    ``(sql, value)`` whose value is given, and the parameters in order."""
    used = {column: value for column, value in filters.items() if value is not None and value != ""}
    parts = [f"{column} = ?" for column in used]
    params = list(used.values())
    for sql, value in conditions or []:
        if value is not None and value != "":
            parts.append(sql)
            params.append(value)
    return (f"WHERE {' AND '.join(parts)}" if parts else ""), params


def select_page(
    conn: sqlite3.Connection,
    table: str,
    filters: dict[str, Any],
    *,
    columns: str = "*",
    order_by: str,
    limit: int,
    offset: int,
    conditions: list[tuple[str, Any]] | None = None,
) -> tuple[list[sqlite3.Row], Total]:
    """One page of ``table`` where each non-empty filter column equals its value, and the total
    (counted up to COUNT_LIMIT).

    ``conditions`` adds ``(sql, value)`` pairs such as ``("created_at >= ?", since)``. ``table``,
    ``columns``, ``order_by`` and the SQL of the conditions come from the code, never from a request.
    """
    where, params = where_clause(filters, conditions)
    total = count_at_most(conn, f"FROM {table} {where}", params)
    rows = conn.execute(
        f"SELECT {columns} FROM {table} {where} ORDER BY {order_by} LIMIT ? OFFSET ?",  # noqa: S608
        [*params, limit, offset],
    ).fetchall()
    return rows, total


# --- checkpoints in the background -----------------------------------------------------------
# By default the connection whose commit takes the WAL past 1,000 pages copies it into the database
# file there and then, fsyncs included, while its request waits and — holding the writer lock —
# every other writer too: one setup request in ~50 paid milliseconds for all of them. A server
# process runs a Checkpointer instead, and its connections leave checkpoints to it. Measured with
# bench/load.py: +20 % setup requests per second (docs/performance.md).
_checkpointed: set[str] = set()


#: Frames (pages; 64 MB of 4 KB pages) the WAL may hold under sustained writes before the checkpointer
#: restarts it.
WAL_RESTART_FRAMES = 16_384
#: How long a restart waits for readers, holding the writer lock, before it gives up; and how long
#: the checkpointer then leaves the WAL alone: RESTART_FIRST_BACKOFF_SECONDS after the first busy
#: try, twice as long after each next one, at most RESTART_BACKOFF_SECONDS (a reader that stays,
#: such as an open sqlite3 shell). Under load the readers are only busy for a moment, and every
#: second without a restart is about 100 MB more WAL (docs/performance.md, step 21).
RESTART_WAIT_SECONDS = 0.05
RESTART_FIRST_BACKOFF_SECONDS = 0.25
RESTART_BACKOFF_SECONDS = 5.0


class Checkpointer:
    """A daemon thread that checkpoints the WAL, and keeps it from growing without bound.

    Every ``interval`` a PASSIVE checkpoint copies the committed pages into the database file
    without blocking a reader or a writer. Under sustained writes that is not enough: SQLite starts
    the WAL again from its beginning only when a writer finds every frame copied, and with commits
    every millisecond there is always a newer one — the WAL grew by about 95 MB/s of setup
    requests, 3.3 GB after half a minute (docs/performance.md, step 16). So when the WAL holds more
    than ``restart_frames``, the checkpointer copies what came since without the lock, then takes
    the writer lock (writers queue for it as for a transaction: about 10 ms, measured under load)
    and runs a RESTART checkpoint; the next writer then starts the WAL from its beginning, and the
    file stays about as large as what was written between two restarts. A reader that keeps an old
    snapshot open prevents the restart: the checkpointer gives up after RESTART_WAIT_SECONDS, so
    that writers do not wait for it, and tries again a quarter of a second later, then at doubling
    intervals up to RESTART_BACKOFF_SECONDS while the restart stays busy.
    """

    def __init__(self, path: Path, interval: float = 0.25, restart_frames: int = WAL_RESTART_FRAMES) -> None:
        self.path = path
        self.interval = interval
        self.restart_frames = restart_frames
        self.restarts = 0  # RESTART checkpoints done
        self._next_restart = 0.0  # monotonic time before which no restart is tried (after a busy one)
        self._backoff = RESTART_FIRST_BACKOFF_SECONDS  # the wait after the next busy restart
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        key = _resolved(str(self.path))
        _checkpointed.add(key)  # the connections opened from now on, and this thread's open one:
        kept = _local.__dict__.get("kept", {}).get(key)
        if kept is not None:
            kept.execute("PRAGMA wal_autocheckpoint = 0")
        self._thread = threading.Thread(target=self._run, name="wal-checkpointer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        _checkpointed.discard(_resolved(str(self.path)))

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        while not self._stop.wait(self.interval):
            try:
                if conn is None:
                    uri = f"{Path(self.path).resolve().as_uri()}?mode=rw"  # never creates a database
                    conn = sqlite3.connect(
                        uri,
                        uri=True,
                        timeout=RESTART_WAIT_SECONDS,  # the busy handler of the restart (PASSIVE never waits)
                        isolation_level=None,
                        check_same_thread=False,
                        factory=Connection,
                    )
                    assert isinstance(conn, Connection)
                    conn.writer_lock_path = f"{self.path}-writer.lock"
                frames = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]  # (busy, log, copied)
                if frames > self.restart_frames and time.monotonic() >= self._next_restart:
                    self._restart(conn)
            except sqlite3.Error:
                pass  # busy (another process's checkpointer), or the data dir is being reset: next round
        if conn is not None:
            conn.close()

    def _restart(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()  # what came since, without the lock
        fd = _writer_lock_fd(conn)
        if fd is not None and not _lock(fd):
            return
        try:
            busy = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()[0]
            if busy:  # a reader is still on an old snapshot: leave it be for a while
                self._next_restart = time.monotonic() + self._backoff
                self._backoff = min(self._backoff * 2, RESTART_BACKOFF_SECONDS)
            else:
                self.restarts += 1
                self._backoff = RESTART_FIRST_BACKOFF_SECONDS
        finally:
            if fd is not None:
                _unlock(fd)


# --- the writer lock ------------------------------------------------------------------------------
# SQLite lets one connection write at a time; a connection that finds the database locked sleeps in
# its busy handler for 1, 2, 5, 10 … ms before it looks again. Under load (every request writes the
# journal, two worker processes) those sleeps, not the work, bounded throughput and made p99. So a
# write transaction first takes an flock on "<database>-writer.lock": waiting writers queue in the
# kernel and one wakes the moment the lock is released. The lock is advisory and ours alone:
# anything else writing the database is still serialised by SQLite itself, and a killed process's
# flock is released by the kernel. Waiting polls finely (50 µs, growing to 2 ms) so that a
# transaction another connection of the same thread holds cannot hang us: after busy_timeout we go
# on to BEGIN IMMEDIATE and SQLite's own timeout decides.
_LOCK_WAIT_SECONDS = 30.0


def _writer_lock_fd(conn: sqlite3.Connection) -> int | None:
    if fcntl is None or not isinstance(conn, Connection) or conn.writer_lock_path is None:
        return None
    if conn.writer_lock_fd is None:
        try:
            conn.writer_lock_fd = os.open(conn.writer_lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            conn.writer_lock_path = None  # a read-only data dir: SQLite reports it when we write
            return None
    return conn.writer_lock_fd


def _close_writer_lock(conn: Connection) -> None:
    if conn.writer_lock_fd is not None:
        os.close(conn.writer_lock_fd)
        conn.writer_lock_fd = None


def _lock(fd: int) -> bool:
    assert fcntl is not None
    deadline = time.monotonic() + _LOCK_WAIT_SECONDS
    pause = 0.00005
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.002)


def _unlock(fd: int) -> None:
    assert fcntl is not None
    fcntl.flock(fd, fcntl.LOCK_UN)


class transaction:
    """``with transaction(conn):`` runs the block in BEGIN IMMEDIATE … COMMIT (or ROLLBACK), holding
    the data dir's writer lock (above) around it."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.locked: int | None = None

    def __enter__(self) -> sqlite3.Connection:
        fd = _writer_lock_fd(self.conn)
        if fd is not None and _lock(fd):
            self.locked = fd
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._release()
            raise
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self.conn.execute("COMMIT")
            elif self.conn.in_transaction:  # after some errors (a full disk) SQLite has rolled back already
                self.conn.execute("ROLLBACK")
        finally:
            self._release()

    def _release(self) -> None:
        if self.locked is not None:
            _unlock(self.locked)
            self.locked = None
