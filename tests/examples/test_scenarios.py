"""Scenarios: named rules that change the simulator's answers, loaded from a dict or YAML text.

``apply_scenario`` posts the scenario to ``/__admin/scenarios`` and activates it; the ``punchout_sim_reset``
fixture gives each test a reset simulator. The scenario format: ``punchout-sim scenarios validate FILE``
checks a file, and ``scenarios/`` holds the library shipped with the simulator.
"""

from __future__ import annotations

from simulator.testing import Simulator

REJECT_BIG_ORDERS = """
name: reject-big-orders
description: Orders whose PO number starts with BIG are rejected as if the payment were declined.
rules:
  - match: {document: OrderRequest, po: "^BIG"}
    outcome: {order: reject, code: "001-010", text: Payment declined}
    timeline: {mode: instant}
"""


def test_scenario_from_yaml_text(punchout_sim_reset: Simulator) -> None:
    sim = punchout_sim_reset
    sim.apply_scenario(REJECT_BIG_ORDERS)
    sim.set_buyer_endpoint("http://127.0.0.1:9/unreachable")  # documents are queued; we read the outbox

    line = {"asin": "B0TESTSLOW", "price": sim.admin("GET", "/catalog/products/B0TESTSLOW")["business_price"]}
    assert sim.order([line], order_id="BIG-1").ok  # answered 200: the refusal comes in the confirmation
    confirmation = sim.outbox(type="ConfirmationRequest")[0]
    body = sim.admin("GET", f"/outbox/{confirmation['id']}")["body"]
    assert 'type="reject"' in body and "001-010" in body


def test_scenario_from_a_dict_for_one_account(punchout_sim_reset: Simulator) -> None:
    sim = punchout_sim_reset
    scenario = {
        "name": "setup-refused",
        "description": "Every PunchOutSetupRequest is refused with cXML 401.",
        "rules": [
            {
                "match": {"document": "PunchOutSetupRequest"},
                "outcome": {"answer": {"code": 401, "text": "Unauthorized", "message": "Wrong secret."}},
            }
        ],
    }
    activated = sim.apply_scenario(scenario, account_id="demo")
    assert activated["active"] is True

    from simulator.buyer import setup_request_xml

    answer = sim.post_cxml(
        "/punchout",
        setup_request_xml(identity="DEMO-BUYER", secret="demo-secret", return_url="http://buyer.invalid/return"),
    )
    assert (answer.code, answer.message) == (401, "Wrong secret.")
