"""Drives the SIP pages (issue 6 item 6; manual 4 and 5) in headless Chromium on a fresh gatehouse
started with test hooks: set up and sign in; add two manager clients and a door station, register
one manager client's softphone on the dial page (type "Manager client", its number is its device
number, the SIP password shown once) and the other through the API; the desk's softphone (SIPp,
digest auth) registers with that password; store 65 call records the way
the SIP service stores them (the test-only insertion route); then the call records page (newest
first, 50 a page and the next page, filters by device and status, by time range typed into the
form, a manager client's missed calls), "Devices online" (the desk online with its contact and user
agent, the night desk offline) and "Live calls" (none), reached from the start page's section 4. A screenshot per
step goes to $SCREENSHOT_DIR (names start with `sip-`).
"""

import importlib.util
import re
import shutil
import socket
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import urllib3
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from browserlib import Api, Steps, no_horizontal_scroll, set_up_and_sign_in

urllib3.disable_warnings()

_spec = importlib.util.spec_from_file_location(
    "gatehouse_harness", Path(__file__).resolve().parents[1] / "conftest.py"
)
_harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_harness)


@pytest.fixture
def hooked(tmp_path, monkeypatch):
    """A fresh gatehouse with the test-only routes on."""
    monkeypatch.setenv("GATEHOUSE_TEST_HOOKS", "1")
    g = _harness.Gatehouse(str(tmp_path / "data"))
    yield g
    g.stop()



def choose(s, element_id, visible_text):
    Select(s.d.find_element(By.ID, element_id)).select_by_visible_text(visible_text)


def rows(s, table_id):
    return s.d.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")


def sipp_register(sip, user, password, expires=300):
    """Registers `user` through SIPp (tests/sip/register.xml, digest auth); returns its port."""
    sipp = shutil.which("sipp")
    assert sipp, "sipp is missing: apt-get install sip-tester"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    work = tempfile.mkdtemp(prefix="gatehouse-sipp-")
    try:
        inf = Path(work) / "users.csv"
        inf.write_text(f"SEQUENTIAL\n{user};{password};{expires}\n")
        scenario = Path(__file__).resolve().parents[1] / "sip" / "register.xml"
        run = subprocess.run(
            [sipp, sip, "-sf", str(scenario), "-inf", str(inf), "-m", "1", "-timeout", "20s",
             "-timeout_error", "-i", "127.0.0.1", "-p", str(port), "-nostdin",
             "-au", "[field0]", "-ap", "[field1]"],
            cwd=work, capture_output=True, text=True, timeout=60,
        )
        assert run.returncode == 0, f"sipp REGISTER failed:\n{run.stdout}\n{run.stderr}"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return port


def sip_address(g):
    for line in g.lines:
        m = re.search(r"SIP listening on udp://(\S+)", line)
        if m:
            return m.group(1)
    raise AssertionError("no 'SIP listening' line in the log:\n" + "".join(g.lines))


def local(ms):
    """What a datetime-local input holds for `ms` (UTC, to the minute)."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M")


def test_call_records_devices_online_and_live_calls(hooked, browser):
    s = Steps(browser, hooked.base, prefix="sip-")
    set_up_and_sign_in(s)
    api = Api(hooked.base)

    gate = api.post("/api/v1/devices", {"name": "Gate", "kind": "vto", "ip": "192.0.2.10", "number": "8001"})["id"]
    desk = api.post("/api/v1/devices", {"name": "Desk", "kind": "manager_client", "ip": "192.0.2.20", "number": "7001"})["id"]
    night = api.post("/api/v1/devices", {"name": "Night desk", "kind": "manager_client", "ip": "192.0.2.21", "number": "7002"})["id"]
    flat = api.post("/api/v1/devices", {"name": "Flat 101", "kind": "vth", "ip": "192.0.2.30", "number": "9901"})["id"]

    # The desk's softphone gets its registration on the dial page: its number is its device number.
    s.d.get(s.base + "/intercom/dial")
    s.at("/intercom/dial")
    choose(s, "dial-device", "Desk (Manager client, 7001)")
    choose(s, "dial-type", "Manager client (softphone)")
    s.reloads(lambda: s.click("dial-add"))
    assert s.text("shown-number") == "7001"
    assert len(s.text("sip-password")) == 20
    assert "7001" in s.text("dial-manager")
    desk_password = s.text("sip-password")
    s.shot("manager-registered")
    api.post("/api/v1/registrations", {"device": night, "type": "manager"})
    phone_port = sipp_register(sip_address(hooked), "7001", desk_password)

    # 65 records: five of interest three days ago, then 60 answered calls.
    now = int(time.time() * 1000)
    base = (now - 3 * 86_400_000) // 60_000 * 60_000
    hour, day = 3_600_000, 86_400_000

    def rec(cid, started, caller, number, dialled, rung, answered_by, status, code):
        return {"call_id": cid, "caller_number": number, "caller_device": caller,
                "callee_number": dialled, "callee_devices": rung, "started": started,
                "answered": started + 3_000 if answered_by else None, "ended": started + 48_000,
                "answered_by": answered_by, "status": status, "sip_code": code}

    records = [
        rec("r1", base, gate, "1#01#8001", "888888", [desk, night], night, "answered", 200),
        rec("r2", base + hour, gate, "1#01#8001", "888888", [desk, night], None, "missed", 408),
        rec("r3", base + 2 * hour, gate, "1#01#8001", "888888", [desk], None, "cancelled", 487),
        rec("r4", base + day, desk, "7001", "01#01#101", [flat], None, "busy", 486),
        rec("r5", base + day + hour, gate, "1#01#8001", "888888", [night], None, "missed", 408),
    ] + [
        rec(f"n{i}", base + 2 * day + i * 60_000, gate, "1#01#8001", "888888", [desk], desk, "answered", 200)
        for i in range(60)
    ]
    assert api.post("/api/v1/records/calls/test-insert", records)["stored"] == 65
    ids = {r["call_id"]: r["id"] for r in api.get("/api/v1/records/calls?limit=500")["records"]}

    # Reached from the start page: section 4 lists the working pages.
    s.d.get(s.base + "/")
    s.reloads(lambda: s.click("nav-intercom"))
    s.at("/section/intercom")
    links = [a.get_attribute("href") for a in s.d.find_elements(By.CSS_SELECTOR, "table.parts a")]
    assert any(h.endswith("/sip/devices") for h in links), links
    assert any(h.endswith("/sip/calls") for h in links), links
    s.shot("section-intercom")

    # Call records: newest first, 50 a page, then the rest.
    s.d.get(s.base + "/records/calls")
    s.at("/records/calls")
    assert s.text("records-total") == "65"
    shown = rows(s, "call-records")
    assert len(shown) == 50
    assert shown[0].get_attribute("id") == f"call-{ids['n59']}"
    no_horizontal_scroll(s.d)
    s.shot("records-first-page")
    s.reloads(lambda: s.click("records-older"))
    shown = rows(s, "call-records")
    assert len(shown) == 15
    assert [r.get_attribute("id") for r in shown[-5:]] == [f"call-{ids[k]}" for k in ("r5", "r4", "r3", "r2", "r1")]
    assert "Showing 51–65 of" in s.text("records-summary")
    s.d.find_element(By.ID, "records-newer")
    s.shot("records-second-page")

    # By device and status.
    s.d.get(s.base + "/records/calls")
    choose(s, "records-device", "Night desk (7002)")
    choose(s, "records-status", "Missed")
    s.reloads(lambda: s.click("records-search"))
    shown = rows(s, "call-records")
    assert [r.get_attribute("id") for r in shown] == [f"call-{ids['r5']}", f"call-{ids['r2']}"]
    assert "Night desk" in shown[0].text and "Missed" in shown[0].text
    s.shot("records-night-desk-missed")

    # By time range, typed into the form (datetime-local, UTC): the first three hours.
    s.d.get(s.base + "/records/calls")
    for el_id, value in (("records-from", local(base)), ("records-to", local(base + 2 * hour))):
        s.d.execute_script("arguments[0].value = arguments[1]", s.d.find_element(By.ID, el_id), value)
    s.reloads(lambda: s.click("records-search"))
    shown = rows(s, "call-records")
    assert [r.get_attribute("id") for r in shown] == [f"call-{ids[k]}" for k in ("r3", "r2", "r1")]
    answered = s.d.find_element(By.ID, f"call-{ids['r1']}").text
    assert "Answered" in answered and "Night desk" in answered and "0:45" in answered, answered
    s.shot("records-time-range")

    # The desk's missed calls: rang it, nobody answered (missed, cancelled, rejected).
    s.d.get(s.base + "/records/calls?missed=1")
    assert s.d.find_elements(By.ID, "choose-device")
    choose(s, "records-device", "Desk (7001)")
    s.reloads(lambda: s.click("records-search"))
    assert s.d.find_element(By.ID, "records-missed").is_selected()
    shown = rows(s, "call-records")
    assert [r.get_attribute("id") for r in shown] == [f"call-{ids['r3']}", f"call-{ids['r2']}"]
    assert "Cancelled" in shown[0].text
    s.shot("records-desk-missed")

    # A bad filter is refused with the rule, the form kept.
    s.d.get(s.base + "/records/calls?from=soon")
    assert "2026-11-30" in s.text("error")
    s.shot("records-bad-filter")

    # Devices online: the desk's softphone registered, the night desk's not.
    s.d.get(s.base + "/section/intercom")
    s.reloads(lambda: s.d.find_element(By.CSS_SELECTOR, "table.parts a[href='/sip/devices']").click())
    s.at("/sip/devices")
    assert s.text("online-count") == "1" and s.text("known-count") == "2"
    row = s.text(f"sip-device-{desk}")
    for want in ("Desk", "7001", "online", f"sip:7001@127.0.0.1:{phone_port}", "UDP", "sipp-register"):
        assert want in row, (want, row)
    row = s.text(f"sip-device-{night}")
    assert "7002" in row and "offline" in row, row
    no_horizontal_scroll(s.d)
    s.shot("devices-online")
    s.reloads(lambda: s.d.find_element(By.CSS_SELECTOR, f"#sip-device-{desk} a").click())
    s.at("/records/calls")
    assert len(rows(s, "call-records")) == 2
    s.reloads(lambda: s.click("nav-sip-calls"))
    s.at("/sip/calls")
    assert "No call right now" in s.text("no-calls")
    s.shot("live-calls")
