"""Injecting a fault: an endpoint answers with an error on purpose, whatever the request.

``POST /__admin/faults`` takes the endpoint (``punchout``, ``orders``, ``cxml``, ``outbound`` …),
the fault type and its parameters (``probability``, ``seed`` and ``times`` make it intermittent).
The request is still served first: here the order is taken, and only its answer is replaced,
which is what a buyer's retry logic has to cope with.
"""

from __future__ import annotations

import pytest

from simulator.testing import Simulator


def test_order_endpoint_answers_500(punchout_sim_reset: Simulator) -> None:
    sim = punchout_sim_reset
    if not any(rule.rule == "/__admin/faults" for rule in sim.app.url_map.iter_rules()):
        pytest.skip("faults API not merged yet")
    sim.admin(
        "POST", "/faults", {"endpoint": "orders", "type": "cxml_status", "code": 500, "text": "Internal Server Error"}
    )

    placed = sim.order([{"asin": "B0TESTSLOW", "price": "27.49"}], order_id="PO-FAULT-1")
    assert (placed.code, placed.answer.text) == (500, "Internal Server Error")

    # The journal shows both: what the simulator would have answered, and the fault that was sent.
    sent, answered = sim.journal(direction="out")[:2]
    assert (answered["doc_type"], answered["cxml_status"]) == ("Status", 200)
    assert sent["doc_type"] == "Fault" and "Status 500 Internal Server Error" in sent["advisories"][0]
    assert sim.admin("GET", "/orders", params={"po": "PO-FAULT-1"})["total"] == 1  # the order was taken

    sim.admin("DELETE", "/faults")
    assert sim.order([{"asin": "B0TESTSLOW", "price": "27.49"}]).ok
