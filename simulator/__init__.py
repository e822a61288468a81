"""PunchOut Simulator: the supplier side of Amazon Business PunchOut, on a laptop or in CI.

``create_app`` and ``prepare_data_dir`` live in :mod:`simulator.app`; importing the package itself
stays cheap, since the pytest plugin (:mod:`simulator.testing`) is loaded by every test run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .app import create_app, load_scenarios, prepare_data_dir

__all__ = ["__version__", "create_app", "load_scenarios", "prepare_data_dir"]


def __getattr__(name: str) -> Any:
    if name in ("create_app", "load_scenarios", "prepare_data_dir"):
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module 'simulator' has no attribute {name!r}")
