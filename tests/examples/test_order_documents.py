"""Waiting for the ConfirmationRequest that follows an order.

Documents go to the account's buyer endpoint. Here that is a small receiver from
``simulator.buyer``; in your suite it is your procurement system's inbound cXML URL.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulator.buyer import Receiver
from simulator.testing import Simulator


@pytest.fixture
def buyer_inbox(punchout_sim_reset: Simulator) -> Iterator[Receiver]:
    with Receiver() as inbox:
        punchout_sim_reset.set_buyer_endpoint(inbox.documents_url)  # the demo account's documents go here
        yield inbox


def test_confirmation_follows_the_order(punchout_sim_reset: Simulator, buyer_inbox: Receiver) -> None:
    sim = punchout_sim_reset
    # The demo account fulfils its test orders (`fulfil_test_orders`, on by default); turned off here.
    sim.admin("PATCH", "/accounts/demo", {"settings": {"fulfil_test_orders": False}})
    price = sim.admin("GET", "/catalog/products/B0TESTSLOW")["business_price"]
    assert sim.order([{"asin": "B0TESTSLOW", "quantity": 1, "price": price}], order_id="PO-EXAMPLE-2").ok

    # The demo account is in `test` status: a ConfirmationRequest follows, nothing is shipped.
    # wait_for_document sends pending documents at once instead of waiting for the timeline.
    confirmation = sim.wait_for_document("ConfirmationRequest", order_id="PO-EXAMPLE-2", timeout=10)
    assert confirmation["status"] == "delivered"
    assert 'type="accept"' in confirmation["body"]
    assert len(buyer_inbox.documents()) == 1  # it reached the buyer's endpoint
