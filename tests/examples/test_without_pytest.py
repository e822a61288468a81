"""The ``Simulator`` context manager on its own: what a script, a notebook or another test runner does.

Nothing here needs pytest: the body of ``smoke`` runs as is in ``python -c`` or a ``__main__`` block.
"""

from __future__ import annotations

import requests

from simulator.testing import Simulator


def smoke() -> str:
    with Simulator(catalog_size=50, seed=7) as sim:  # a fresh data dir, a free port; both gone afterwards
        assert requests.get(f"{sim.url}/__admin/health", timeout=10).json()["status"] == "ok"
        punchout = sim.punchout(email="bob@example.com")
        punchout.add("B0TESTBACK")
        cart = punchout.checkout()
        return sim.order(cart).answer.summary()


def test_context_manager_without_fixtures() -> None:
    assert smoke() == "200 OK"


if __name__ == "__main__":
    print(smoke())
