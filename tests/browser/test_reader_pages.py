"""Drives the serial readers' pages (issue 7 item 5) in headless Chromium on a fresh gatehouse whose
card issuer (PN532 on HSU) and fingerprint scanner (R30x) are the simulators of
tests/serial/simulators.py on pseudo-terminals: set up and sign in; enrol a fingerprint of a
person through the three presses, each step shown active and then done on the live page (server-
sent events), the fingerprint then listed on the person page (1 of 3); read a card on the person's
page (filled in, added, the same card again refused as this person's) and into the new-person
form; batch add 3 persons, read cards from the issuer into their list, three different cards held
one after the other each landing on the next person in list order until "3 of 3 issued"; the API
then shows each person with exactly that card, in the display base (hexadecimal, 8 digits for a
4-byte UID). A screenshot per step goes to $SCREENSHOT_DIR (names start with `readers-`).
"""

import importlib.util
import sys
from pathlib import Path

import pytest
import urllib3
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from browserlib import REPO, Api, Steps, set_up_and_sign_in

sys.path.insert(0, str(REPO / "tests" / "serial"))
from simulators import PN532Simulator, R30xSimulator  # noqa: E402

urllib3.disable_warnings()
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

_spec = importlib.util.spec_from_file_location(
    "gatehouse_harness", Path(__file__).resolve().parents[1] / "conftest.py"
)
_harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_harness)

FINGER = 7  # the simulated finger pressed three times
# Three 4-byte UIDs, one with a leading zero digit (it must stay: 8 hex digits).
UIDS = [bytes.fromhex("DEADBEEF"), bytes.fromhex("04A1B2C3"), bytes.fromhex("C0FFEE42")]


@pytest.fixture
def rig(tmp_path):
    """A gatehouse with its card issuer and fingerprint scanner on simulators."""
    ports = tmp_path / "ports"
    ports.mkdir()
    card = PN532Simulator(ports / "card")
    fp = R30xSimulator(ports / "fp")
    try:
        g = _harness.Gatehouse(
            str(tmp_path / "data"),
            opts=(
                "--card-reader", "pn532", "--card-reader-port", str(ports / "card"),
                "--fingerprint-scanner", "r30x", "--fingerprint-port", str(ports / "fp"),
                "--reader-answer-timeout", "1s",
            ),
        )
        try:
            yield g, card, fp
        finally:
            g.stop()
    finally:
        card.close()
        fp.close()


def classes(s, selector):
    return (s.d.find_element(By.CSS_SELECTOR, selector).get_attribute("class") or "").split()


def has_class(s, selector, cls):
    def check(d):
        els = d.find_elements(By.CSS_SELECTOR, selector)
        return bool(els) and cls in (els[0].get_attribute("class") or "").split()

    return check


def text_is(selector, want):
    def check(d):
        els = d.find_elements(By.CSS_SELECTOR, selector)
        return bool(els) and els[0].text.strip() == want

    return check


def visible_next_badges(s):
    """The persons whose row shows the "next" badge."""
    return [r.get_attribute("data-person")
            for r in s.d.find_elements(By.CSS_SELECTOR, "#issue-list tbody tr")
            if any(b.is_displayed() for b in r.find_elements(By.CSS_SELECTOR, ".badge.main"))]


def step_states(s):
    return [classes(s, f"#step-{n}")[0] for n in (1, 2, 3)]


def full_shot(s, name):
    """A screenshot of the whole page (the card list is below the issuer's section)."""
    size = s.d.get_window_size()
    page = s.d.execute_script("return document.documentElement.scrollHeight")
    s.d.set_window_size(size["width"], min(max(page + 140, size["height"]), 4000))
    s.shot(name)
    s.d.set_window_size(size["width"], size["height"])


def show(s, element_id):
    """Scrolls `element_id` to the top of the window, so the screenshot shows it."""
    s.d.execute_script("document.getElementById(arguments[0]).scrollIntoView(true);", element_id)


def assert_shown(ok, problem):
    assert ok, problem


def test_enrol_fingerprint_and_issue_cards_from_the_readers(rig, browser):
    g, card, fp = rig
    s = Steps(browser, g.base, prefix="readers-")
    set_up_and_sign_in(s)
    api = Api(g.base)
    # Both simulators are found and answer: the readers are ready.
    for reader in ("card", "fingerprint"):
        s.wait(lambda d, r=reader: api.get(f"/api/v1/readers/{r}")["state"] == "ready", 20)
    browser.get(g.base + "/readers")
    s.wait(EC.presence_of_element_located((By.CSS_SELECTOR, '#reader-card [data-state="ready"]')))
    assert browser.find_elements(By.CSS_SELECTOR, '#reader-fingerprint [data-state="ready"]')
    s.shot("status-ready")

    # ---------- (a) a fingerprint enrolled in three presses ----------
    api.post("/api/v1/persons", {"id": "1001", "name": "Ann Lee"})
    browser.get(g.base + "/persons/1001")
    s.wait(EC.presence_of_element_located((By.ID, "no-fingerprints")))
    assert "Fingerprints (0 of 3)" in s.text("biometrics")
    show(s, "biometrics")
    s.shot("person-no-fingerprint")

    s.reloads(lambda: s.click("enroll-start"))
    s.at("/persons/1001/fingerprints/enroll")
    assert s.text("live-status") == "running"
    s.shot("enrol-started")

    for n in (1, 2, 3):
        # The step is shown active (the ones before done, the ones after waiting) before the
        # finger goes on the scanner.
        s.wait(has_class(s, f"#step-{n}", "active"))
        assert step_states(s) == ["done"] * (n - 1) + ["active"] + ["waiting"] * (3 - n)
        assert f"step {n} of 3: press" in s.text("live-prompt")
        s.shot(f"enrol-step-{n}-active")
        fp.press(FINGER)
        if n < 3:
            # The press is taken: the step is done and the page asks to lift the finger.
            s.wait(has_class(s, f"#step-{n}", "done"))
            s.wait(lambda d, n=n: f"step {n} of 3 done: lift" in s.text("live-prompt"))
            assert step_states(s) == ["done"] * n + ["waiting"] * (3 - n)
            s.shot(f"enrol-step-{n}-done")
            fp.lift()

    # The third press completes the enrolment: the template is stored with the person.
    s.wait(text_is("#live-status", "done"))
    s.wait(EC.visibility_of_element_located((By.ID, "enroll-over")))
    fp.lift()
    assert step_states(s) == ["done", "done", "done"]
    assert "fingerprint 1 of 3 stored for Ann Lee (1001)" in s.text("live-prompt")
    assert_shown(not browser.find_element(By.ID, "enroll-stop").is_displayed(),
         "enrolment over: the Stop button (#enroll-stop, given the hidden attribute) is still shown")
    s.shot("enrol-done")

    s.reloads(lambda: s.click("enroll-back"))
    assert browser.current_url == g.base + "/persons/1001#biometrics"
    listed = s.wait(EC.visibility_of_element_located((By.CSS_SELECTOR, '#fingerprints li[data-index="1"]')))
    assert "Finger 1: scanner:" in listed.text and "512 bytes" in listed.text, listed.text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#fingerprints li")) == 1
    assert "Fingerprints (1 of 3)" in s.text("biometrics")
    show(s, "biometrics")
    s.shot("person-fingerprint-listed")

    person = api.get("/api/v1/persons/1001")
    assert len(person["fingerprints"]) == 1, person["fingerprints"]
    assert person["fingerprints"][0]["bytes"] == 512
    assert person["fingerprints"][0]["duress"] is False

    # ---------- (a1) a card read on the person's page, then added ----------
    card.present(bytes.fromhex("1A2B3C4D"))
    s.reloads(lambda: s.click("card-read"))
    assert "Card 1A2B3C4D read" in s.text("notice")
    assert browser.find_element(By.ID, "card-number").get_attribute("value") == "1A2B3C4D"
    s.reloads(lambda: s.click("card-add"))
    assert browser.find_elements(By.ID, "card-1A2B3C4D"), "the card read was not added"
    # The same card again is refused with its owner: it is this person's already.
    s.reloads(lambda: s.click("card-read"))
    assert "already belongs to this person" in s.text("error")
    show(s, "cards")
    s.shot("person-card-read-duplicate")
    card.remove()

    # ---------- (a2) a card read into the new-person form ----------
    browser.get(g.base + "/persons/new")
    card.present(bytes.fromhex("5A6B7C8D"))
    s.click("person-card-read")
    s.wait(lambda d: d.find_element(By.ID, "person-card").get_attribute("value") == "5A6B7C8D")
    assert "5A6B7C8D read" in s.text("person-card-read-msg")
    s.shot("new-person-card-read")
    card.remove()

    # ---------- (b) cards read from the issuer into a batch of 3 ----------
    browser.get(g.base + "/persons/batch-add")
    for element_id, value in (("batch-start", "2001"), ("batch-count", "3")):
        el = browser.find_element(By.ID, element_id)
        el.clear()
        el.send_keys(value)
    s.reloads(lambda: s.click("batch-add-submit"))
    s.wait(lambda d: s.path().startswith("/persons/issue/"))
    list_path = s.path()
    order = [r.get_attribute("data-person")
             for r in browser.find_elements(By.CSS_SELECTOR, "#issue-list tbody tr")]
    assert order == ["2001", "2002", "2003"], order
    assert s.text("issue-count") == "0 of 3 issued"
    assert_shown(visible_next_badges(s) == ["2001"],
         f"list drawn: 'next' badge shown on {visible_next_badges(s)}, want ['2001']")
    s.wait(EC.presence_of_element_located((By.CSS_SELECTOR, '#issuer #reader-badge[data-state="ready"]')))
    full_shot(s, "issue-list")

    s.reloads(lambda: s.click("reader-start"))
    s.at(list_path)
    assert s.text("live-prompt") == "hold the next card on the reader"
    assert s.text("live-card") == "—"
    s.wait(EC.visibility_of_element_located((By.ID, "reader-stop")))
    full_shot(s, "issue-reading")

    expected = {}
    for k, (pid, uid) in enumerate(zip(order, UIDS), start=1):
        number = uid.hex().upper()
        expected[pid] = number
        assert has_class(s, f'tr[data-person="{pid}"]', "next")(browser), f"{pid} is not next"
        card.present(uid)
        s.wait(text_is(f'tr[data-person="{pid}"] .card-cell', number))
        s.wait(text_is("#issue-count", f"{k} of 3 issued"))
        assert s.text("live-card") == number
        if k < 3:
            following = order[k]
            s.wait(has_class(s, f'tr[data-person="{following}"]', "next"))
            assert f"({following})" in s.text("next-name")
            s.wait(text_is("#live-prompt", f"hold the card for {following} ({following}) on the reader"))
        # Only one row is marked next, and the cards so far sit on the persons in order.
        assert "next" not in classes(s, f'tr[data-person="{pid}"]')
        assert_shown(visible_next_badges(s) == order[k:k + 1],
             f"card {k}: 'next' badge shown on {visible_next_badges(s)}, want {order[k:k + 1]}")
        for done_pid, done_number in expected.items():
            assert browser.find_element(
                By.CSS_SELECTOR, f'tr[data-person="{done_pid}"] .card-cell').text == done_number
        full_shot(s, f"issue-card-{k}")
        card.remove()

    s.wait(text_is("#live-prompt", "every person in this list has a card"))
    assert_shown(not browser.find_element(By.ID, "reader-stop").is_displayed(),
         "every card given: 'Stop reading' (#reader-stop, given the hidden attribute) is still shown")
    assert not browser.find_element(By.ID, "issue-form").is_displayed(), "the typing form stays"
    assert not browser.find_elements(By.CSS_SELECTOR, "#issue-list tr.next")
    assert_shown(visible_next_badges(s) == [],
         f"every card given: 'next' badge shown on {visible_next_badges(s)}, want none")
    full_shot(s, "issue-all-given")

    # The page drawn again by the server agrees with the live view.
    browser.get(g.base + list_path)
    s.wait(EC.visibility_of_element_located((By.ID, "issue-done")))
    assert s.text("issue-count") == "3 of 3 issued"
    for pid, number in expected.items():
        assert browser.find_element(
            By.CSS_SELECTOR, f'tr[data-person="{pid}"] .card-cell').text == number
    full_shot(s, "issue-reloaded")

    # The API: each person has exactly the card read for them, in the display base (hex).
    assert api.get("/api/v1/card-settings")["display"] == "hex"
    for pid, number in expected.items():
        cards = api.get(f"/api/v1/persons/{pid}")["cards"]
        assert [c["number"] for c in cards] == [number], (pid, cards)
        assert len(number) == 8 and cards[0]["canonical"] == number

