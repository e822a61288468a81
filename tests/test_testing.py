"""``simulator.testing``: the ``Simulator`` context manager and the pytest plugin's fixtures."""

from __future__ import annotations

import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from simulator.buyer import AdminAPIError, Receiver
from simulator.testing import Simulator

pytest_plugins = ["pytester"]


def refused(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="module")
def sim(dtd_dir: Path) -> Iterator[Simulator]:
    with Simulator(dtd_dir=dtd_dir) as simulator:
        yield simulator


@pytest.fixture
def fresh(sim: Simulator) -> Simulator:
    sim.reset()
    return sim


def test_starts_and_stops(dtd_dir: Path) -> None:
    simulator = Simulator(catalog_size=20, dtd_dir=dtd_dir)
    with simulator as sim:
        assert sim.running
        port, data_dir = sim.port, sim.data_dir
        assert sim.url == f"http://127.0.0.1:{port}"
        assert requests.get(f"{sim.url}/__admin/health", timeout=10).json() == {"status": "ok", "dtd_validation": True}
        assert data_dir is not None and (data_dir / "simulator.sqlite3").is_file()
        dispatcher = sim.app.extensions["outbox_dispatcher"]
    assert not simulator.running
    assert refused(port)
    assert data_dir is not None and not data_dir.exists()
    assert not dispatcher.alive
    with pytest.raises(RuntimeError, match="not running"):
        simulator.url  # noqa: B018
    simulator.stop()  # twice is harmless


def test_two_at_once_are_independent(sim: Simulator, dtd_dir: Path) -> None:
    sim.reset()
    with Simulator(catalog_size=10, seed=2, dtd_dir=dtd_dir) as other:
        assert other.port != sim.port
        other.punchout()
        assert [e["doc_type"] for e in other.journal()] == ["PunchOutSetupResponse", "PunchOutSetupRequest"]
        assert sim.journal() == []
        assert other.admin("GET", "/catalog/search", params={"q": "", "limit": 1})["total"] == 17  # 10 + 7 test


def test_reset(fresh: Simulator) -> None:
    fresh.punchout()
    fresh.admin("PATCH", "/accounts/demo", {"status": "active"})
    assert fresh.journal() and fresh.admin("GET", "/sessions")["total"] == 1
    fresh.reset("journal")
    assert fresh.journal() == []
    assert fresh.admin("GET", "/sessions")["total"] == 1
    fresh.reset()
    assert fresh.admin("GET", "/sessions")["total"] == 0
    assert fresh.admin("GET", "/accounts/demo")["status"] == "test"


def test_admin_errors_are_clear(sim: Simulator) -> None:
    with pytest.raises(AdminAPIError) as error:
        sim.admin("GET", "/accounts/nobody")
    assert error.value.status == 404
    assert str(error.value) == "GET /__admin/accounts/nobody → HTTP 404 not_found: No account with id 'nobody'."


def test_unknown_options_are_refused() -> None:
    with pytest.raises(TypeError, match="unknown option\\(s\\) catalogue_size"):
        Simulator(catalogue_size=10)


def test_config_overrides_and_a_data_dir_of_ones_own(tmp_path: Path, dtd_dir: Path) -> None:
    with Simulator(catalog_size=10, dtd_dir=dtd_dir, data_dir=tmp_path / "d", session_ttl=60) as sim:
        assert sim.config is not None and sim.config.session_ttl == 60
        start = sim.punchout().start_url
        assert start.startswith(sim.url + "/start/")
    assert (tmp_path / "d" / "simulator.sqlite3").is_file()  # kept: it is not the simulator's


def test_punchout_checkout_and_order(fresh: Simulator) -> None:
    punchout = fresh.punchout(email="carol@example.com")
    punchout.add("B0TESTSPLT", 3)
    cart = punchout.checkout()
    assert cart.buyer_cookie == punchout.buyer_cookie
    assert [(line.supplier_part_id, line.quantity) for line in cart.lines] == [("B0TESTSPLT", 3)]
    placed = fresh.order(cart, order_id="PO-T-1")
    assert (placed.ok, placed.order_id) == (True, "PO-T-1")
    again = fresh.order(cart, order_id="PO-T-1")  # another payloadID, same orderID
    assert again.code == 409


def test_punchout_refused(fresh: Simulator) -> None:
    with pytest.raises(AssertionError, match="PunchOutSetupRequest refused: 401 Unauthorized"):
        fresh.punchout(credentials={"secret": "wrong"})


def test_wait_for_document(fresh: Simulator) -> None:
    with Receiver() as inbox:
        fresh.set_buyer_endpoint(inbox.documents_url)
        # demo buyer: the demo account fulfils test orders by default now; here the confirmation only
        fresh.admin("PATCH", "/accounts/demo", {"settings": {"fulfil_test_orders": False}})
        assert fresh.order([{"asin": "B0TESTSLOW", "price": "27.49"}], order_id="PO-W-1").ok
        item = fresh.wait_for_document("ConfirmationRequest", order_id="PO-W-1", timeout=10)
        assert item["status"] == "delivered" and item["doc_type"] == "ConfirmationRequest"
        assert "<ConfirmationRequest>" in item["body"] and 'orderID="PO-W-1"' in item["body"]
        assert len(inbox.documents()) == 1
        # by the simulator's own order id too
        assert fresh.wait_for_document("ConfirmationRequest", order_id=item["order_id"])["id"] == item["id"]


def test_wait_for_document_times_out_saying_what_it_saw(fresh: Simulator) -> None:
    fresh.set_buyer_endpoint(None)  # demo buyer: the demo account has a buyer endpoint by default now
    fresh.admin("PATCH", "/accounts/demo", {"settings": {"fulfil_test_orders": False}})  # and fulfils test orders
    assert fresh.order([{"asin": "B0TESTSLOW", "price": "27.49"}], order_id="PO-HELD").ok
    with pytest.raises(TimeoutError) as error:
        fresh.wait_for_document("ConfirmationRequest", order_id="PO-HELD", timeout=0.3)
    message = str(error.value)
    assert message.startswith("no ConfirmationRequest for order PO-HELD was delivered within 0.3 s; the outbox has #1 ")
    assert ": held (no buyer endpoint: set the account's buyer_endpoint, or send a Followup URL in the order)." in (
        message
    )

    with pytest.raises(TimeoutError, match="the simulator has no order with orderID 'PO-NONE'"):
        fresh.wait_for_document("ConfirmationRequest", order_id="PO-NONE", timeout=0.1)
    with pytest.raises(TimeoutError, match=r"no ShipNoticeRequest was delivered within 0\.1 s; the outbox has no such"):
        fresh.wait_for_document("ShipNoticeRequest", timeout=0.1)


def test_apply_scenario_by_name_file_and_text(fresh: Simulator, tmp_path: Path) -> None:
    library = {s["name"] for s in fresh.admin("GET", "/scenarios")["items"]}
    if "happy-path" in library:
        assert fresh.apply_scenario("happy-path")["active"] is True
    path = tmp_path / "mine.yaml"
    path.write_text(
        "name: mine\ndescription: Mine.\nrules:\n  - match: {document: OrderRequest}\n    outcome: {order: accept}\n"
    )
    assert fresh.apply_scenario(path, account_id="demo")["account_id"] == "demo"
    assert fresh.apply_scenario(str(path), activate=False)["name"] == "mine"
    with pytest.raises(FileNotFoundError):
        fresh.apply_scenario(tmp_path / "missing.yaml")
    with pytest.raises(AdminAPIError, match="invalid_scenario"):
        fresh.apply_scenario({"name": "broken"})
    assert fresh.deactivate_scenario("mine")["active"] is False


# --- the pytest plugin --------------------------------------------------------------------------


PLUGIN_TESTS = """
import requests
import threading


def test_session_fixture(punchout_sim):
    assert requests.get(punchout_sim.url + "/__admin/health", timeout=10).json()["status"] == "ok"
    assert punchout_sim.admin("GET", "/catalog/search", params={"q": "", "limit": 1})["total"] == 12 + 7
    punchout_sim.punchout()


def test_same_simulator_state_kept(punchout_sim):
    assert len(punchout_sim.journal()) == 2


def test_reset_fixture(punchout_sim_reset, punchout_sim):
    assert punchout_sim_reset is punchout_sim
    assert punchout_sim_reset.journal() == []
"""


def test_plugin_fixtures(pytester: pytest.Pytester, dtd_dir: Path) -> None:
    pytester.makepyfile(test_plugin=PLUGIN_TESTS)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--punchout-sim-catalog-size", "12", "--punchout-sim-dtd-dir", str(dtd_dir)
    )
    result.assert_outcomes(passed=3)


def test_plugin_starts_nothing_unless_asked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_idle=textwrap.dedent(
            """
            import threading


            def test_idle(request):
                assert request.config.pluginmanager.hasplugin("punchout_sim")
                assert request.config.getoption("punchout_sim_catalog_size") is None  # the plugin's option
                assert not [t for t in threading.enumerate() if t.name.startswith("punchout-sim")]
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_plugin_can_be_switched_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_off="def test_off(punchout_sim):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:punchout_sim")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'punchout_sim' not found*"])
