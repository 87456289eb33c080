"""Gatehouse's serial readers against the simulated devices of tests/serial/simulators.py, on real
pseudo-terminals (issue 7): the real binary opens the PTY through the path a udev rule would
create, speaks the device's protocol, and the JSON API shows what happened.

- PN532: the initialisation bytes, a card read (4- and 7-byte UIDs), a response with a bad
  checksum answered with a NACK, a NACK from the reader answered by resending, garbage before an
  ACK, a slow answer, a duplicate card refused with its owner, a reader that stops answering (and
  comes back), an unplug in the middle of a read ("disconnected") and the replug, and one user at
  a time.
- EM4100: card issuing in list order, one card per presentation although the reader repeats its
  frame, a frame with a wrong checksum ignored, a duplicate refused, and issuing that survives an
  unplug and goes on after the replug.
- R30x: an enrolment in three presses with the template stored byte for byte, a messy image and
  prints that do not match (start again), the limit of three fingerprints with a duress finger,
  an unplug during enrolment, and a scanner that does not answer.
"""

import importlib.util
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import urllib3

sys.path.insert(0, str(Path(__file__).resolve().parent))

# tests/conftest.py by path: run with tests/browser, "conftest" is that directory's.
_spec = importlib.util.spec_from_file_location(
    "gatehouse_harness_serial", Path(__file__).resolve().parents[1] / "conftest.py"
)
_harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_harness)
Gatehouse = _harness.Gatehouse

from simulators import EM4100Simulator, PN532Simulator, R30xSimulator, template_bytes  # noqa: E402

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

ADMIN, ADMIN_PW = "admin", "Kp7!wQz2"
QUESTIONS = [
    {"question": "First school?", "answer": "Elm Street"},
    {"question": "Birth city?", "answer": "Lyon"},
    {"question": "First pet?", "answer": "Rex"},
]


class Api:
    def __init__(self, base, token):
        self.base = base
        self.s = requests.Session()
        self.s.verify = False
        self.s.headers["Authorization"] = f"Bearer {token}"

    def get(self, path, **kw):
        return self.s.get(self.base + path, timeout=30, verify=False, **kw)

    def post(self, path, body=None, **kw):
        return self.s.post(self.base + path, json=body if body is not None else {}, timeout=60,
                           verify=False, **kw)

    def delete(self, path):
        return self.s.delete(self.base + path, timeout=30, verify=False)

    def ok(self, r, status=200):
        assert r.status_code == status, f"{r.request.method} {r.url}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def reader(self, rid):
        return self.ok(self.get(f"/api/v1/readers/{rid}"))

    def wait_reader(self, rid, pred, what, timeout=10):
        deadline = time.monotonic() + timeout
        v = None
        while time.monotonic() < deadline:
            v = self.reader(rid)
            if pred(v):
                return v
            time.sleep(0.05)
        raise AssertionError(f"{rid}: timed out waiting for {what}; last view: {v}")

    def wait_state(self, rid, state, timeout=10):
        return self.wait_reader(rid, lambda v: v["state"] == state, f"state {state}", timeout)


def login(base, user, pw):
    r = requests.post(base + "/api/v1/session", json={"username": user, "password": pw},
                      verify=False, timeout=30)
    assert r.status_code == 200, r.text
    return Api(base, r.json()["token"])


@pytest.fixture
def box(tmp_path, monkeypatch):
    """A fresh gatehouse whose readers are on PTY paths under tmp_path, and its admin API."""
    dev = tmp_path / "dev"
    dev.mkdir()
    for k, v in {
        "GATEHOUSE_CARD_READER_PORT": str(dev / "card"),
        "GATEHOUSE_FINGERPRINT_PORT": str(dev / "fp"),
        "GATEHOUSE_READER_ANSWER_TIMEOUT": "300ms",
    }.items():
        monkeypatch.setenv(k, v)

    started = []

    def start(card_reader="pn532", scanner="r30x"):
        monkeypatch.setenv("GATEHOUSE_CARD_READER", card_reader)
        monkeypatch.setenv("GATEHOUSE_FINGERPRINT_SCANNER", scanner)
        g = Gatehouse(str(tmp_path / "data"))
        started.append(g)
        r = requests.post(g.base + "/api/v1/setup", verify=False, timeout=30,
                          json={"username": ADMIN, "password": ADMIN_PW,
                                "security_questions": QUESTIONS})
        assert r.status_code == 201, r.text
        return g, login(g.base, ADMIN, ADMIN_PW)

    start.dev = dev
    yield start
    for g in started:
        g.stop()


def read_async(api, body):
    """POST /readers/card/read in a thread; returns (thread, result dict)."""
    out = {}

    def run():
        out["r"] = api.post("/api/v1/readers/card/read", body)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def wait_running(api, rid, kind):
    return api.wait_reader(
        rid,
        lambda v: v["operation"] and v["operation"]["kind"] == kind
        and v["operation"]["status"] == "running",
        f"a running {kind}",
    )


def test_pn532_reads_cards_through_faults_unplug_and_replug(box):
    card = PN532Simulator(box.dev / "card")
    try:
        g, api = box(scanner="none")
        v = api.wait_state("card", "ready")
        assert v["info"] == "PN532 (IC 0x32) firmware 1.6", v
        # The initialisation, byte for byte after UM0701-02.
        kinds = [(f.kind, f.code, f.data) for f in card.received]
        assert kinds[0][0] == "wakeup", kinds
        cmds = card.commands()
        assert cmds[:3] == [(0x14, b"\x01\x14\x01"), (0x02, b""), (0x32, b"\x05\xff\x01\x02")], cmds
        assert api.reader("fingerprint")["state"] == "disabled"

        # A 4-byte UID: 8 hex digits.
        card.present(bytes.fromhex("DEADBEEF"))
        r = api.ok(api.post("/api/v1/readers/card/read", {"wait_seconds": 10}))
        assert r == {"number": "DEADBEEF", "canonical": "DEADBEEF"}
        card.remove()

        # A response with a bad data checksum: Gatehouse NACKs, the PN532 resends, a 7-byte UID.
        mark = len(card.received)
        card.bad_checksum(part="dcs")
        card.present(bytes.fromhex("04112233445566"))
        r = api.ok(api.post("/api/v1/readers/card/read", {"wait_seconds": 10}))
        assert r["number"] == "04112233445566"
        assert any(f.kind == "nack" for f in card.received[mark:]), "no NACK after a bad DCS"
        card.remove()

        # The reader NACKs our command: it is sent again. Garbage before an ACK is skipped.
        mark = len(card.received)
        card.nack()
        card.garbage(before="ack", times=2)
        card.present(bytes.fromhex("0A0B0C0D"))
        r = api.ok(api.post("/api/v1/readers/card/read", {"wait_seconds": 10}))
        assert r["number"] == "0A0B0C0D"
        polls = [f for f in card.received[mark:] if f.kind == "command" and f.code == 0x4A]
        assert len(polls) >= 2, "the NACKed InListPassiveTarget was not resent"
        card.remove()

        # A slow answer (within the answer timeout of 300 ms) is still taken.
        card.slow(0.15, ack=False)
        card.present(bytes.fromhex("11223344"))
        assert api.ok(api.post("/api/v1/readers/card/read", {"wait_seconds": 10}))["number"] == "11223344"
        card.remove()

        # A card that belongs to someone is refused with the owner.
        api.ok(api.post("/api/v1/persons", {"id": "1001", "name": "Alice"}), 201)
        api.ok(api.post("/api/v1/persons/1001/cards", {"number": "DEADBEEF"}), 201)
        card.present(bytes.fromhex("DEADBEEF"))
        r = api.post("/api/v1/readers/card/read", {"wait_seconds": 10})
        assert r.status_code == 409 and r.json()["error"] == "card_taken", r.text
        assert '"1001"' in r.json()["message"]
        r = api.post("/api/v1/readers/card/read", {"wait_seconds": 10, "person": "1001"})
        assert "this person" in r.json()["message"], r.text
        card.remove()

        # No card in time: 503 with the wait named.
        r = api.post("/api/v1/readers/card/read", {"wait_seconds": 1})
        assert r.status_code == 503 and r.json()["error"] == "reader_timeout", r.text
        assert "within 1 s" in r.json()["message"]

        # One user at a time: the second is told who holds the reader.
        api.ok(api.post("/api/v1/accounts", {"username": "op1", "password": "Zq8#mWx3", "role": "operator"}), 201)
        op = login(g.base, "op1", "Zq8#mWx3")
        t, out = read_async(api, {"wait_seconds": 5})
        wait_running(api, "card", "read_card")
        r = op.post("/api/v1/readers/card/read", {"wait_seconds": 5})
        assert r.status_code == 409 and r.json()["error"] == "reader_busy", r.text
        assert "admin" in r.json()["message"], r.text
        r = op.post("/api/v1/readers/card/stop")
        assert r.status_code == 409, "an operator stopped the admin's read"

        # Unplugged in the middle of that read: "disconnected"; Gatehouse keeps running.
        card.unplug()
        t.join(10)
        r = out["r"]
        assert r.status_code == 503 and r.json()["error"] == "reader_disconnected", r.text
        assert "disconnected" in r.json()["message"]
        api.wait_state("card", "disconnected")
        r = api.post("/api/v1/readers/card/read", {"wait_seconds": 2})
        assert r.status_code == 503 and r.json()["error"] == "reader_disconnected", r.text

        # Replugged (a new PTY behind the same path): initialised again, reads again.
        card.replug()
        api.wait_state("card", "ready")
        card.present(bytes.fromhex("CAFEF00D"))
        assert api.ok(op.post("/api/v1/readers/card/read", {"wait_seconds": 10}))["number"] == "CAFEF00D"
        card.remove()

        # A reader that stops answering: "not answering", refused with that, and back when it
        # answers again.
        card.mute()
        api.wait_state("card", "not_answering", timeout=15)
        r = api.post("/api/v1/readers/card/read", {"wait_seconds": 2})
        assert r.status_code == 503 and r.json()["error"] == "reader_not_answering", r.text
        assert "does not answer" in r.json()["message"]
        card.mute(False)
        api.wait_state("card", "ready", timeout=15)
        assert g.proc.poll() is None
    finally:
        card.close()


def test_em4100_issues_cards_in_list_order_once_per_card(box):
    card = EM4100Simulator(box.dev / "card")
    try:
        g, api = box(card_reader="em4100", scanner="none")
        v = api.wait_state("card", "ready")
        assert v["baud"] == 9600 and v["family"] == "em4100"
        api.ok(api.post("/api/v1/persons", {"id": "900", "name": "Owner"}), 201)
        api.ok(api.post("/api/v1/persons/900/cards", {"number": "0F00D0C8A3"}), 201)
        ids = api.ok(api.post("/api/v1/persons/batch-add", {"start_id": "2001", "count": 3}), 201)["ids"]
        session = api.ok(api.post("/api/v1/persons/card-issuing", {"ids": ids}), 201)["session"]
        api.ok(api.post("/api/v1/readers/card/issue", {"session": session}), 202)

        def holder_of(number):
            for it in api.reader("card")["operation"]["issue"]["items"]:
                if it["card"] == number:
                    return it["id"]
            return None

        def present(data, hold=0.8):
            card.present(bytes.fromhex(data))
            time.sleep(hold)  # the reader repeats the frame about every 100 ms meanwhile
            card.remove()
            time.sleep(0.2)

        # Held 0.8 s: about 8 frames, one card.
        present("1122334455")
        api.wait_reader("card", lambda v: v["operation"]["issue"]["issued"] == 1, "card 1")
        assert holder_of("1122334455") == "2001"
        # A frame with a wrong checksum is ignored; the good frames after it count once.
        card.bad_checksum(times=1)
        present("66778899AA")
        api.wait_reader("card", lambda v: v["operation"]["issue"]["issued"] == 2, "card 2")
        assert holder_of("66778899AA") == "2002"
        # A card that belongs to someone else: refused, 2003 stays next.
        present("0F00D0C8A3")
        v = api.wait_reader("card", lambda v: any("not given" in e["text"] for e in v["operation"]["events"]),
                            "the duplicate refused")
        assert v["operation"]["issue"]["next"] == "2003", v
        assert any('"900"' in e["text"] for e in v["operation"]["events"] if e["error"]), v

        # Unplugged while issuing: the run waits, and goes on after the replug.
        card.unplug()
        v = api.wait_reader("card", lambda v: v["state"] == "disconnected", "disconnected")
        assert v["operation"]["status"] == "running", v
        assert "disconnected" in v["operation"]["prompt"]
        card.replug()
        api.wait_state("card", "ready")
        present("BBCCDDEEFF")
        v = api.wait_reader("card", lambda v: v["operation"]["status"] == "done", "the list done")
        assert v["operation"]["issue"]["issued"] == 3
        assert holder_of("BBCCDDEEFF") == "2003"
        # Each person has exactly the card read, stored.
        for pid, number in [("2001", "1122334455"), ("2002", "66778899AA"), ("2003", "BBCCDDEEFF")]:
            p = api.ok(api.get(f"/api/v1/persons/{pid}"))
            assert [c["number"] for c in p["cards"]] == [number], p
    finally:
        card.close()


def enrol(api, fp, person, fingers, duress=False, hold=0.5, gap=0.5):
    api.ok(api.post("/api/v1/readers/fingerprint/enroll", {"person": person, "duress": duress}), 202)
    wait_running(api, "fingerprint", "enroll_fingerprint")
    presses = fp.enroll_presses(fingers, hold=hold, gap=gap)
    v = api.wait_reader("fingerprint", lambda v: v["operation"]["status"] != "running",
                        "the enrolment to end", timeout=30)
    presses.join(15)  # no press of this script may reach the next enrolment
    return v


def test_r30x_enrolment_faults_limit_and_unplug(box):
    fp = R30xSimulator(box.dev / "fp")
    try:
        g, api = box(card_reader="none")
        api.wait_state("fingerprint", "ready")
        api.ok(api.post("/api/v1/persons", {"id": "1001", "name": "Alice"}), 201)

        # Three presses of finger 7; the events show every step.
        v = enrol(api, fp, "1001", 7)
        op = v["operation"]
        assert op["status"] == "done", op
        texts = [e["text"] for e in op["events"]]
        for want in ["step 1 of 3: press", "step 1 of 3 done: lift", "step 2 of 3: press the same finger again",
                     "step 2 of 3 done: lift", "step 3 of 3: press", "fingerprint 1 of 3 stored"]:
            assert any(want in t for t in texts), (want, texts)
        r = api.get("/api/v1/persons/1001/fingerprints/1")
        assert r.status_code == 200 and r.content == template_bytes(7), "template differs"
        # The exchange, as the ZFM documents order it.
        codes = [c for c, _ in fp.commands()]
        assert 0x13 in codes and 0x05 in codes and 0x03 in codes and 0x08 in codes

        # A messy image is retried (8, 8); prints that differ (8 then 9) start again at step 1
        # (9, 9, 9).
        fp.fail_next(0x02, 0x06)
        v = enrol(api, fp, "1001", [8, 8, 9, 9, 9, 9], duress=True)
        op = v["operation"]
        texts = [e["text"] for e in op["events"]]
        assert any("too messy" in t for t in texts if t), texts
        assert any("prints do not match" in t for t in texts), texts
        assert op["status"] == "done", op
        p = api.ok(api.get("/api/v1/persons/1001"))
        assert [f["duress"] for f in p["fingerprints"]] == [False, True]
        assert api.get("/api/v1/persons/1001/fingerprints/2").content == template_bytes(9)

        v = enrol(api, fp, "1001", 10)
        assert v["operation"]["status"] == "done", [e["text"] for e in v["operation"]["events"]]
        r = api.post("/api/v1/readers/fingerprint/enroll", {"person": "1001"})
        assert r.status_code == 422 and r.json()["error"] == "fingerprint_limit", r.text
        api.ok(api.delete("/api/v1/persons/1001/fingerprints/1"))
        p = api.ok(api.get("/api/v1/persons/1001"))
        assert len(p["fingerprints"]) == 2 and p["fingerprints"][0]["duress"]

        # Unplugged in the middle: the enrolment fails with "disconnected"; replug, ready again.
        api.ok(api.post("/api/v1/readers/fingerprint/enroll", {"person": "1001"}), 202)
        api.wait_reader("fingerprint", lambda v: v["operation"]["step"] == 1, "step 1")
        fp.unplug()
        v = api.wait_reader("fingerprint", lambda v: v["operation"]["status"] == "failed", "the failure")
        assert "fingerprint scanner disconnected" in v["operation"]["prompt"], v
        fp.replug()
        api.wait_state("fingerprint", "ready")

        # A scanner that never answers: not answering, and the enrolment is refused.
        fp.mute()
        api.wait_state("fingerprint", "not_answering", timeout=20)
        r = api.post("/api/v1/readers/fingerprint/enroll", {"person": "1001"})
        assert r.status_code == 503 and r.json()["error"] == "reader_not_answering", r.text
        fp.mute(False)
        api.wait_state("fingerprint", "ready", timeout=20)
        assert g.proc.poll() is None
    finally:
        fp.close()
