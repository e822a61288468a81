"""PunchOut Simulator: the supplier side of Amazon Business PunchOut, on a laptop or in CI."""

from __future__ import annotations

import logging

from flask import Flask

from . import db, outbox, storage
from .accounts import ensure_demo_account
from .catalog.generate import build_catalog
from .config import Config, default_dtd_dir
from .cxml.validate import DtdRegistry

__version__ = "0.1.0"

log = logging.getLogger(__name__)


def prepare_data_dir(config: Config, *, progress: bool = False) -> None:
    """Create the database, build the catalogue if it is missing or stale, add the demo account."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    conn = db.connect(config.database_path)
    try:
        storage.initialise(conn)
        if build_catalog(conn, size=config.catalog_size, seed=config.seed):
            log.info("catalogue built: %s products, seed %s", config.catalog_size, config.seed)
        with db.transaction(conn):
            ensure_demo_account(conn)
    finally:
        conn.close()


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

    from .admin.orders import bp as admin_orders_bp
    from .admin.routes import bp as admin_bp
    from .orders.routes import bp as orders_bp
    from .punchout.routes import bp as punchout_bp
    from .shop.routes import bp as shop_bp
    from .web import register_error_handlers

    app.register_blueprint(punchout_bp)
    app.register_blueprint(shop_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(orders_bp)
    app.register_blueprint(admin_orders_bp)
    register_error_handlers(app)
    if config.outbox_interval > 0:
        dispatcher = outbox.Dispatcher(config.database_path, interval=config.outbox_interval)
        dispatcher.start()
        app.extensions["outbox_dispatcher"] = dispatcher
    return app
