"""The command line: local linting, commands against a running simulator, the scripted buyer, progress."""

from __future__ import annotations

import io
import logging
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
import types
from pathlib import Path
from typing import Any

import pytest
import requests

from simulator import prepare_data_dir
from simulator.cli import CatalogProgress, journal_line, main
from simulator.config import Config
from simulator.cxml.validate import DtdRegistry

from .conftest import LiveServer
from .helpers import DEMO, assert_valid, order_request, setup_request

ROOT = Path(__file__).resolve().parents[1]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- help ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["serve"],
        ["reset"],
        ["scenarios"],
        ["scenarios", "list"],
        ["scenarios", "show"],
        ["scenarios", "validate"],
        ["scenarios", "apply"],
        ["journal", "tail"],
        ["validate"],
        ["buyer", "roundtrip"],
    ],
)
def test_every_command_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: punchout-sim")
    assert len(out.splitlines()) > 3


def test_top_level_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("serve", "reset", "scenarios", "journal", "validate", "buyer"):
        assert re.search(rf"^\s+{command}\s+\S", out, re.MULTILINE), command


def test_runs_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "simulator", "buyer", "--help"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0 and "roundtrip" in done.stdout


# --- validate (local) ---------------------------------------------------------------------------


def test_validate_a_valid_sample(samples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sample = samples / "punchout_setup_request" / "businesscxml-3.xml"
    code, out, _ = run(capsys, "validate", str(sample))
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == (
        f"{sample}: PunchOutSetupRequest (cXML 1.2.036, DOCTYPE http://xml.cxml.org/schemas/cXML/1.2.036/cXML.dtd)"
    )
    assert "  DTD 1.2.036/cXML.dtd: ✔ valid" in lines
    assert "  advisory: email 1234@remotehost found at //Extrinsic[@name='UserEmail']" in lines
    assert "  Amazon: ✔ would accept it" in lines


def test_validate_names_what_amazon_would_refuse(
    samples: Path, dtd_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = samples / "negative" / "businesscxml-missing-browserformpost.xml"
    code, out, _ = run(capsys, "validate", "--dtd-dir", str(dtd_dir), str(sample))
    assert code == 0  # DTD-valid: only --amazon turns a refusal into a failure
    assert (
        "  Amazon: ✘ 403 Forbidden: Missing mandatory data: /cXML/Request/PunchOutSetupRequest/BrowserFormPost/URL"
        in (out.splitlines())
    )
    assert run(capsys, "validate", "--amazon", str(sample))[0] == 1


def test_validate_reports_the_missing_email(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "no-email.xml"
    path.write_bytes(setup_request(email=None))
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 0
    assert (
        "  Amazon: ✘ 403 Forbidden: Missing mandatory data: the user's email, looked for at "
        "//Extrinsic[@name='UserEmail'], //ShipTo/Address/Email, //Contact/Email, //Extrinsic[@name='Email']"
    ) in out.splitlines()


def test_validate_a_dtd_invalid_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    xml = setup_request().decode().replace("<BuyerCookie>", "<Bogus/><BuyerCookie>", 1)
    xml = xml.replace("<Header>", "\n<Header>", 1)  # the finding is on line 2
    path = tmp_path / "invalid.xml"
    path.write_text(xml)
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 1
    assert "  DTD 1.2.069/cXML.dtd: ✘ not valid, 2 finding(s):" in out
    assert "    line 2: No declaration for element Bogus" in out.splitlines()


def test_validate_advisories_of_the_lenient_reader(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "odd.xml"
    path.write_bytes(setup_request(operation="Create", doctype=False))
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 1  # "Create" is not in the DTD's enumeration: served all the same, with an advisory
    assert "  DTD 1.2.069/cXML.dtd: ✘ not valid, 1 finding(s):" in out
    assert "  advisory: The document has no DOCTYPE; validated against the newest DTD." in out
    assert '  advisory: operation="Create" read as "create" (cXML enumerations are lower case).' in out


def test_validate_an_order_request(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "order.xml"
    path.write_bytes(order_request(ship_to=False))
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 0
    assert "OrderRequest (cXML 1.2.069" in out
    assert "  Amazon: ✘ 001-005 Missing or invalid ShipTo address: the order has no ShipTo/Address" in out


def test_validate_a_file_that_is_not_well_formed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.xml"
    path.write_text('<?xml version="1.0"?>\n<cXML>\n  <Header>\n</cXML>\n')
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 1
    assert out.startswith(f"{path}: ✘ not well-formed XML (line 4): Opening and ending tag mismatch")


def test_validate_without_dtds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x.xml"
    path.write_bytes(setup_request())
    code, out, _ = run(capsys, "validate", "--dtd-dir", str(tmp_path), str(path))
    assert code == 2
    assert "no cXML DTDs in" in out


def test_validate_a_form_encoded_body(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from urllib.parse import quote_from_bytes

    path = tmp_path / "form.txt"
    path.write_text("cxml-urlencoded=" + quote_from_bytes(setup_request()))
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 0
    assert "  advisory: cXML read from the form field cxml-urlencoded." in out


# --- scenarios validate (local) -----------------------------------------------------------------


def test_scenarios_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(
        textwrap.dedent(
            """\
            name: reject-all
            description: Every order is rejected.
            rules:
              - match: {document: OrderRequest}
                outcome: {order: reject, code: "001-010"}
            """
        )
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad Name\nrules: []\n")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")

    assert run(capsys, "scenarios", "validate", str(good)) == (0, f"OK {good}\n", "")
    code, out, _ = run(capsys, "scenarios", "validate", str(good), str(bad), str(broken))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"OK {good}"
    assert f"{bad}: $: 'description' is a required property" in lines
    assert f"{bad}: $.name: 'Bad Name' does not match '^[a-z0-9][a-z0-9-]*$'" in lines
    assert f"{bad}: $.rules: [] should be non-empty" in lines
    assert any(line.startswith(f"{broken}: not valid YAML (line 2, column 1)") for line in lines), lines


def test_scenarios_validate_the_library(capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted((ROOT / "scenarios").glob("*.yaml"))
    if not files:
        pytest.skip("no scenario library in this checkout")
    code, out, _ = run(capsys, "scenarios", "validate", *map(str, files))
    assert code == 0, out


def test_scenarios_show_a_local_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: x\n")
    assert run(capsys, "scenarios", "show", str(path)) == (0, "name: x\n", "")


# --- against a running simulator ---------------------------------------------------------------


def test_connection_failure_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    for argv in (["reset"], ["scenarios", "list"], ["journal", "tail"], ["buyer", "roundtrip"]):
        code, out, err = run(capsys, *argv, "--url", url)
        assert code == 1, argv
        assert err == (
            f"punchout-sim: cannot reach the simulator at {url}: Connection refused "
            "(is `punchout-sim serve` running there? pass --url)\n"
        )
        assert "Traceback" not in out + err


def test_url_and_token_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[dict[str, str]] = []
    server = FakeAdmin({"POST /__admin/reset": {"status": "reset"}}, seen)
    try:
        monkeypatch.setenv("PUNCHOUT_SIM_URL", server.url)
        monkeypatch.setenv("PUNCHOUT_SIM_ADMIN_TOKEN", "s3cret")
        assert run(capsys, "reset") == (0, f"{server.url}: reset\n", "")
        assert seen[0]["Authorization"] == "Bearer s3cret"
        assert run(capsys, "reset", "--admin-token", "other")[0] == 0
        assert seen[1]["Authorization"] == "Bearer other"
    finally:
        server.stop()


def test_admin_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    server = FakeAdmin({}, [])
    try:
        code, _, err = run(capsys, "scenarios", "show", "nope", "--url", server.url)
    finally:
        server.stop()
    assert code == 1
    assert err == "punchout-sim: GET /__admin/scenarios/nope → HTTP 404 not_found: No such thing.\n"


def test_reset(live_server: LiveServer, capsys: pytest.CaptureFixture[str]) -> None:
    requests.post(f"{live_server.url}/punchout", data=setup_request(), timeout=10)
    assert requests.get(f"{live_server.url}/__admin/journal", timeout=10).json()["total"] == 2
    assert run(capsys, "reset", "--url", live_server.url, "--part", "sessions") == (
        0,
        f"{live_server.url}: reset (sessions)\n",
        "",
    )
    assert requests.get(f"{live_server.url}/__admin/journal", timeout=10).json()["total"] == 2
    assert requests.get(f"{live_server.url}/__admin/sessions", timeout=10).json()["total"] == 0
    assert run(capsys, "reset", "--url", live_server.url) == (0, f"{live_server.url}: reset\n", "")
    assert requests.get(f"{live_server.url}/__admin/journal", timeout=10).json()["total"] == 0


def test_journal_tail(live_server: LiveServer, capsys: pytest.CaptureFixture[str]) -> None:
    requests.post(f"{live_server.url}/punchout", data=setup_request(email=None), timeout=10)
    requests.post(f"{live_server.url}/punchout", data=setup_request(doctype=False), timeout=10)
    code, out, _ = run(capsys, "journal", "tail", "--url", live_server.url)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 4
    assert [line.split()[:4] for line in lines] == [
        ["#1", *lines[0].split()[1:3], "in"],
        ["#2", *lines[1].split()[1:3], "out"],
        ["#3", *lines[2].split()[1:3], "in"],
        ["#4", *lines[3].split()[1:3], "out"],
    ]
    assert "PunchOutSetupRequest" in lines[0] and "/punchout" in lines[0] and "http 200 cxml 403" in lines[0]
    assert "cxml 200  The document has no DOCTYPE; validated against the newest DTD." in lines[2]

    code, out, _ = run(capsys, "journal", "tail", "--url", live_server.url, "--type", "PunchOutSetupRequest", "-n", "1")
    assert code == 0 and out.splitlines() == [lines[2]]


def test_journal_tail_follow_until_ctrl_c(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import simulator.cli

    polls = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 1:  # something happens between two polls
            requests.post(f"{live_server.url}/punchout", data=setup_request(), timeout=10)
        elif len(polls) == 3:
            raise KeyboardInterrupt

    # only the CLI's sleep: the live server in this process sleeps too (the writer lock's polling)
    monkeypatch.setattr(simulator.cli, "time", types.SimpleNamespace(sleep=sleep, monotonic=time.monotonic))
    code, out, err = run(capsys, "journal", "tail", "--follow", "--url", live_server.url)
    assert (code, err) == (0, "")
    assert polls == [1.0, 1.0, 1.0]
    assert [line.split()[0] for line in out.splitlines()] == ["#1", "#2"]


def test_journal_line() -> None:
    entry = {
        "id": 7,
        "created_at": "2026-01-01T10:00:00.123+00:00",
        "direction": "in",
        "doc_type": "OrderRequest",
        "endpoint": "/orders",
        "http_status": 200,
        "cxml_status": 200,
        "advisories": ["first", "second"],
    }
    assert journal_line(entry) == (
        "#7      2026-01-01 10:00:00  in   OrderRequest            /orders  http 200 cxml 200  first (+1 more)"
    )


SCENARIO = """\
name: cli-reject
description: Orders are rejected.
rules:
  - match: {document: OrderRequest}
    outcome: {order: reject, code: "001-010"}
"""


def test_scenarios_apply_list_show(live_server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cli-reject.yaml"
    path.write_text(SCENARIO)
    code, out, err = run(capsys, "scenarios", "apply", str(path), "--account", "demo", "--url", live_server.url)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"loaded scenario cli-reject from {path}",
        "activated scenario cli-reject for account demo (state Started)",
    ]

    code, out, _ = run(capsys, "scenarios", "list", "--url", live_server.url)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "ACTIVE", "STATE", "DESCRIPTION"]
    ours = next(line for line in lines if line.startswith("cli-reject "))
    assert ours.split() == ["cli-reject", "yes", "(demo)", "Started", "Orders", "are", "rejected."]

    code, out, _ = run(capsys, "scenarios", "show", "cli-reject", "--url", live_server.url)
    assert code == 0
    assert "# active: true" in out.splitlines()
    assert (
        "\nname: cli-reject\ndescription: Orders are rejected.\nrules:\n- match:\n    document: OrderRequest\n" in out
    )


def test_scenarios_apply_refuses_an_invalid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\n")
    code, out, err = run(capsys, "scenarios", "apply", str(path), "--url", f"http://127.0.0.1:{closed_port()}")
    assert code == 1 and out == ""
    assert f"{path}: $: 'description' is a required property" in err.splitlines()


def test_scenarios_list_against_the_documented_shape(capsys: pytest.CaptureFixture[str]) -> None:
    listing = {
        "items": [
            {"name": "happy-path", "description": "All accepted.", "active": False, "state": "Started", "source": "x"},
            {"name": "slow", "description": "Slow.", "active": True, "state": "Waiting", "source": "loaded"},
        ],
        "total": 2,
    }
    server = FakeAdmin({"GET /__admin/scenarios": listing}, [])
    try:
        code, out, _ = run(capsys, "scenarios", "list", "--url", server.url)
    finally:
        server.stop()
    assert code == 0
    assert out.splitlines() == [
        "NAME        ACTIVE  STATE    DESCRIPTION",
        "happy-path  no      Started  All accepted.",
        "slow        yes     Waiting  Slow.",
    ]


# --- the scripted buyer -------------------------------------------------------------------------


def test_buyer_roundtrip(live_server: LiveServer, capsys: pytest.CaptureFixture[str]) -> None:
    # demo buyer: the demo account fulfils test orders by default now; this test expects the confirmation only
    patched = requests.patch(
        f"{live_server.url}/__admin/accounts/demo",
        json={"settings": {"fulfil_test_orders": False}, "buyer_endpoint": None},
        timeout=10,
    )
    assert patched.status_code == 200
    code, out, err = run(
        capsys,
        "buyer",
        "roundtrip",
        "--url",
        live_server.url,
        "--identity",
        DEMO["identity"],
        "--secret",
        DEMO["shared_secret"],
        "--asin",
        "B0TESTSLOW",
        "--quantity",
        "2",
        "--order-id",
        "PO-CLI-1",
        "--wait",
        "10",
    )
    assert (code, err) == (0, ""), out
    steps = [line for line in out.splitlines() if not line.startswith("    ")]
    assert [line[0] for line in steps] == ["✔"] * 9 + ["·"], out
    assert steps[1].startswith(f"✔ PunchOutSetupRequest → 200 OK; StartPage {live_server.url}/start/")
    assert steps[3] == "✔ cart: B0TESTSLOW × 2 at 27.49 USD"
    assert steps[4] == "✔ PunchOutOrderMessage received (cxml-urlencoded): 1 line(s), total 54.98 USD"
    assert re.fullmatch(r"    1\. B0TESTSLOW \[\d{3}-\d{7}-\d{7},1\] × 2 at 27\.49 USD", out.splitlines()[5])
    assert steps[5].startswith("✔ account demo (test): buyer endpoint → http://127.0.0.1:")
    assert steps[6] == "✔ OrderRequest PO-CLI-1 → 200 OK"
    assert steps[7] == "✔ outbox flushed (1 delivery attempt(s))"
    assert re.fullmatch(r"✔ ConfirmationRequest confirmID=\d{3}-\d{7}-\d{7} type=accept lines: accept", steps[8])
    assert steps[-1] == "· account demo: buyer endpoint restored (none)"
    # the simulator kept what the buyer sent, and the account is as it was
    order = requests.get(f"{live_server.url}/__admin/orders?po=PO-CLI-1", timeout=10).json()["items"][0]
    assert order["status"] == "accepted"
    assert requests.get(f"{live_server.url}/__admin/accounts/demo", timeout=10).json()["buyer_endpoint"] is None


def test_buyer_roundtrip_without_waiting(live_server: LiveServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "buyer", "roundtrip", "--url", live_server.url, "--asin", "B0TESTBACK")
    assert code == 0, out
    assert out.splitlines()[-1].startswith("· documents not awaited")
    assert "✔ OrderRequest PO-" in out


def test_buyer_roundtrip_reports_a_failed_step(live_server: LiveServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "buyer", "roundtrip", "--url", live_server.url, "--secret", "wrong")
    assert code == 1
    assert out.splitlines()[-1].startswith("✘ PunchOutSetupRequest → 401 Unauthorized: The SharedSecret sent for")

    code, out, _ = run(capsys, "buyer", "roundtrip", "--url", live_server.url, "--asin", "B0NOSUCHAS")
    assert code == 1
    assert (
        out.splitlines()[-1] == "✘ add B0NOSUCHAS × 1 to the cart: No product with ASIN 'B0NOSUCHAS' in the catalogue."
    )


def test_the_buyers_documents_are_valid(dtds: DtdRegistry) -> None:
    from simulator.buyer import CartLine, order_request_xml, setup_request_xml

    assert_valid(setup_request_xml(identity="I", secret="S", return_url="http://b.test/r", email="a@b.test"), dtds)
    line = CartLine(1, 2, "B0TESTSLOW", "123-1234567-1234567,1", "27.49", "USD", "Organizer & co", "EA", "44121615")
    order = order_request_xml(identity="I", secret="S", lines=[line], order_id="PO-<1>")
    assert_valid(order, dtds)
    assert b'orderID="PO-&lt;1&gt;"' in order and b'<Money currency="USD">54.98</Money></Total>' in order


def test_describe_the_documents_that_come_back() -> None:
    from simulator.buyer import describe

    confirmation = (
        b'<cXML payloadID="x"><Request><ConfirmationRequest><ConfirmationHeader confirmID="111-2222222-3333333" '
        b'type="detail"/><OrderReference orderID="PO-1"/><ConfirmationItem><ConfirmationStatus type="reject">'
        b'<Comments type="LineItemErrorCode">002-001 Unavailable</Comments></ConfirmationStatus>'
        b"</ConfirmationItem></ConfirmationRequest></Request></cXML>"
    )
    assert describe(confirmation) == (
        "ConfirmationRequest",
        "confirmID=111-2222222-3333333 type=detail lines: reject 002-001",
    )
    invoice = (
        b'<cXML payloadID="x"><Request><InvoiceDetailRequest><InvoiceDetailRequestHeader invoiceID="INV-1"/>'
        b'<InvoiceDetailSummary><DueAmount><Money currency="EUR">12.50</Money></DueAmount></InvoiceDetailSummary>'
        b"</InvoiceDetailRequest></Request></cXML>"
    )
    assert describe(invoice) == ("InvoiceDetailRequest", "invoiceID=INV-1 amount=12.50 EUR")
    assert describe(b"<cXML")[0] == "unreadable"


# --- catalogue progress -------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_off_a_terminal_logs_every_ten_percent(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    progress = CatalogProgress(io.StringIO(), tty=False, minimum=0, clock=clock)
    with caplog.at_level(logging.INFO, logger="simulator"):
        for done in range(1_000, 100_001, 1_000):
            clock.now += 0.1
            progress(done, 100_000)
        progress(100_000, 100_000)  # build_catalog's last call repeats the total: not logged twice
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "catalogue: 10 % (10,000/100,000 products, 10,000/s)"
    assert [m.split()[1] for m in messages] == [str(p) for p in range(10, 101, 10)]
    assert messages[-1] == "catalogue: 100 % (100,000/100,000 products, 10,000/s)"


def test_progress_on_a_terminal_redraws_one_line() -> None:
    clock = Clock()
    stream = io.StringIO()
    progress = CatalogProgress(stream, tty=True, minimum=0, clock=clock)
    for done in (25_000, 50_000, 75_000):
        clock.now += 1
        progress(done, 100_000)
    clock.now += 1
    progress(100_000, 100_000)
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith(" in 4.0 s\n")
    frames = text.rstrip("\n").split("\r")[1:]
    assert len(frames) == 4
    assert frames[1] == "Building the catalogue [████████████░░░░░░░░░░░░]  50 %  50,000/100,000 products  25,000/s"


def test_small_catalogues_are_not_reported(caplog: pytest.LogCaptureFixture) -> None:
    progress = CatalogProgress(io.StringIO(), tty=False)
    with caplog.at_level(logging.INFO, logger="simulator"):
        progress(5_007, 5_007)
    assert caplog.records == []


def test_prepare_data_dir_reports_the_build(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = Config(data_dir=tmp_path / "data", catalog_size=2_000, seed=3)
    with caplog.at_level(logging.INFO, logger="simulator"):
        prepare_data_dir(config, progress=CatalogProgress(io.StringIO(), tty=False, minimum=0))
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("catalogue: ")]
    assert [int(m.split()[1]) // 10 for m in progress] == list(range(1, 11))  # one line per 10 %
    assert progress[-1].startswith("catalogue: 100 % (2,007/2,007 products, ")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="simulator"):  # up to date: nothing to report
        prepare_data_dir(config, progress=CatalogProgress(io.StringIO(), tty=False, minimum=0))
    assert not [r for r in caplog.records if r.getMessage().startswith("catalogue: ")]


def test_serve_refuses_an_open_admin_api(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import simulator.cli
    from simulator.cli import _parser, config_from

    def not_served(config: Config) -> None:
        raise AssertionError("must not be served")

    monkeypatch.setattr(simulator.cli, "serve", not_served)
    monkeypatch.delenv("PUNCHOUT_SIM_ADMIN_TOKEN", raising=False)
    code, _, err = run(capsys, "serve", "--host", "0.0.0.0")
    assert code == 2
    assert err.startswith("punchout-sim: Listening on 0.0.0.0 would open the admin API to the network: ")
    config = config_from(_parser().parse_args(["serve", "--host", "0.0.0.0", "--admin-token", "t"]), environ={})
    assert config.admin_token == "t"
    config.check_exposure()
    insecure = config_from(_parser().parse_args(["serve", "--host", "0.0.0.0", "--insecure-admin"]), environ={})
    insecure.check_exposure()


def test_admin_token(dtd_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from simulator.testing import Simulator

    with Simulator(catalog_size=10, dtd_dir=dtd_dir, admin_token="t0ken") as sim:
        assert sim.admin("GET", "/accounts")["total"] == 1  # the Simulator sends its token
        assert requests.get(f"{sim.url}/__admin/accounts", timeout=10).status_code == 401
        assert run(capsys, "reset", "--url", sim.url, "--admin-token", "t0ken")[0] == 0
        code, _, err = run(capsys, "reset", "--url", sim.url, "--admin-token", "wrong")
        assert code == 1
        assert err.startswith("punchout-sim: POST /__admin/reset → HTTP 401 ")


def test_serve_takes_scenarios() -> None:
    from simulator.cli import _parser, config_from

    args = _parser().parse_args(["serve", "--scenario", "happy-path", "--scenario", "slow-supplier"])
    assert config_from(args, environ={}).scenarios == ("happy-path", "slow-supplier")
    assert config_from(_parser().parse_args(["serve"]), environ={}).scenarios == ()


# --- a fake admin API for the documented shapes -------------------------------------------------


class FakeAdmin:
    """A tiny HTTP server answering ``"METHOD /path"`` with JSON; anything else is a 404."""

    def __init__(self, answers: dict[str, Any], seen: list[dict[str, str]]) -> None:
        import json
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                seen.append(dict(self.headers))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                key = f"{self.command} {self.path.split('?')[0]}"
                if key in answers:
                    status, body = 200, answers[key]
                else:
                    status, body = 404, {"error": "not_found", "message": "No such thing."}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
