"""A punchout round trip with the ``punchout_sim`` fixture: setup, cart, cart message, order.

The fixtures come from the package's pytest plugin (``simulator.testing``): ``punchout_sim`` is a
simulator running for the whole session, ``punchout_sim_reset`` is the same one reset before the test.
"""

from __future__ import annotations

import requests

from simulator.testing import Simulator


def test_punchout_cart_and_order(punchout_sim_reset: Simulator) -> None:
    sim = punchout_sim_reset

    # 1. The buyer's PunchOutSetupRequest (demo account credentials) opens a session.
    punchout = sim.punchout(email="alice@example.com")
    assert punchout.start_url.startswith(f"{sim.url}/start/")
    assert requests.get(punchout.start_url, timeout=10).status_code == 200  # the shop, as the browser sees it

    # 2. The shopper fills the cart and submits it: the PunchOutOrderMessage, read into lines.
    punchout.add("B0TESTSLOW", quantity=2)
    cart = punchout.checkout()
    assert [(line.supplier_part_id, line.quantity) for line in cart.lines] == [("B0TESTSLOW", 2)]

    # 3. After approval, the procurement system orders those lines (part ids, aux ids, prices).
    placed = sim.order(cart, order_id="PO-EXAMPLE-1")
    assert placed.ok, placed.answer.summary()

    # Everything in and out is in the journal, newest first.
    kinds = [entry["doc_type"] for entry in sim.journal(direction="in")]
    assert kinds[0] == "OrderRequest" and "PunchOutSetupRequest" in kinds
