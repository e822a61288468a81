"""The Flask app of one simulator instance, and the preparation of its data dir."""

from __future__ import annotations

import ctypes
import gc
import logging
import sqlite3
import sys

from flask import Flask

from . import db, journal, outbox, storage
from .accounts import ensure_demo_account
from .catalog.generate import DEFAULT_BATCH_SIZE, ProgressCallback, build_catalog, unfinished_build
from .config import Config, default_dtd_dir
from .cxml.validate import DtdRegistry
from .cxml_endpoints import CxmlEndpoints
from .faults import FaultMiddleware
from .scenarios import store as scenario_store

log = logging.getLogger(__name__)


def prepare_data_dir(config: Config, *, progress: ProgressCallback | None = None) -> None:
    """Create the database, build the catalogue if it is missing or stale, add the demo account.

    ``progress(done, total)`` is called while the catalogue is built (not when it is up to date).
    """
    db.make_data_dir(config.data_dir)  # a clear DataDirError for a file, a read-only dir …
    conn = db.connect(config.database_path)
    built = False
    try:
        storage.initialise(conn)
        # Smaller batches when someone watches, so that progress moves (the rows are the same).
        batch = max(100, min(DEFAULT_BATCH_SIZE, config.catalog_size // 100)) if progress else DEFAULT_BATCH_SIZE
        if unfinished_build(conn):
            log.warning("the catalogue build before was interrupted (its staging tables are left); building it again")
        built = build_catalog(conn, size=config.catalog_size, seed=config.seed, progress=progress, batch_size=batch)
        if built:
            log.info("catalogue built: %s products, seed %s", config.catalog_size, config.seed)
        with db.transaction(conn):
            ensure_demo_account(conn, base_url=config.base_url)  # demo buyer: the buyer endpoint
            load_scenarios(conn, config)
    finally:
        conn.close()
    if built:
        release_freed_memory()


def release_freed_memory() -> None:
    """Give the memory a catalogue build freed back to the operating system (glibc's malloc_trim).

    A build grows the process by SQLite's page cache and the batches; Python and SQLite free them at
    the end, but the C allocator keeps the pages. ``serve`` builds in the process that then forks its
    workers, and each started with them in its resident size: 133 MB per worker after building a
    million products, 59 MB with them given back (docs/performance.md, step 22).
    """
    gc.collect()
    if not sys.platform.startswith("linux"):
        return
    try:
        trim = ctypes.CDLL(None).malloc_trim  # glibc; not every C library has it
    except (OSError, AttributeError):
        return
    trim(0)


def load_scenarios(conn: sqlite3.Connection, config: Config) -> None:
    """The library of scenarios/ into the database; those named by --scenario become active."""
    for problem in scenario_store.load_library(conn):
        log.warning("scenario library: %s", problem)
    known = {s.name for s in scenario_store.list_all(conn)}
    for name in config.scenarios:
        if name not in known:
            raise ValueError(
                f"--scenario {name}: there is no such scenario; the library has {', '.join(sorted(known))}."
            )
        scenario_store.activate(conn, name)


def create_app(config: Config | None = None, *, prepare: bool = True) -> Flask:
    """The WSGI app for one simulator instance (one data dir)."""
    config = config or Config()
    if config.dtd_dir is None:
        config = config.with_overrides(dtd_dir=default_dtd_dir())
    if prepare:
        prepare_data_dir(config)
    app = Flask(__name__)
    app.config["SIMULATOR"] = config
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.extensions["dtds"] = DtdRegistry(config.dtd_dir)

    from .admin.faults import bp as admin_faults_bp  # faults
    from .admin.openapi import bp as admin_openapi_bp
    from .admin.orders import bp as admin_orders_bp
    from .admin.routes import bp as admin_bp
    from .admin.scenarios import bp as admin_scenarios_bp
    from .console import bp as console_bp
    from .demo_buyer import bp as demo_buyer_bp  # demo buyer
    from .oagis.routes import bp as oagis_bp  # OAGIS purchase orders (a simulator extension)
    from .oci.routes import bp as oci_bp  # OCI
    from .operator import init_app as init_operator
    from .orders.routes import bp as orders_bp
    from .punchout.routes import bp as punchout_bp
    from .security import init_app as init_security
    from .shop.routes import bp as shop_bp
    from .web import register_error_handlers

    app.register_blueprint(punchout_bp)
    app.register_blueprint(shop_bp)
    app.register_blueprint(console_bp)
    app.register_blueprint(demo_buyer_bp)  # demo buyer: /demo-buyer
    app.register_blueprint(admin_bp)
    app.register_blueprint(orders_bp)
    app.register_blueprint(admin_orders_bp)
    app.register_blueprint(admin_faults_bp)  # faults
    app.register_blueprint(admin_scenarios_bp)
    app.register_blueprint(admin_openapi_bp)
    app.register_blueprint(oci_bp)  # OCI: GET|POST /oci, POST /__admin/oci/sessions
    app.register_blueprint(oagis_bp)  # OAGIS purchase orders (a simulator extension)
    register_error_handlers(app)
    init_operator(app)  # with --admin-token, the console and the demo buyer need it too
    init_security(app)  # CSRF tokens on the browser forms, CSP and the other security headers
    # cXML POSTs are served in front of Flask (cxml_endpoints); faults apply to every answer.
    app.wsgi_app = CxmlEndpoints(app.wsgi_app, config, app.extensions["dtds"])  # type: ignore[method-assign]
    app.wsgi_app = FaultMiddleware(app.wsgi_app, config.database_path)  # type: ignore[method-assign]  # faults
    if config.outbox_interval > 0:
        retention = journal.Retention(config.journal_max_rows, config.journal_max_days)
        dispatcher = outbox.Dispatcher(
            config.database_path,
            interval=config.outbox_interval,
            retention=retention,
            session_keep_days=config.session_keep_days,
            quote_keep_days=config.quote_keep_days,
        )
        dispatcher.start()
        app.extensions["outbox_dispatcher"] = dispatcher
        checkpointer = db.Checkpointer(config.database_path)  # WAL checkpoints off the request path
        checkpointer.start()
        app.extensions["wal_checkpointer"] = checkpointer
    return app
