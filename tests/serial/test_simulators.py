"""Self-check of the serial simulators over real PTYs: third-party host libraries (pyfingerprint,
Adafruit's PN532 driver on a pyserial port) drive them as they drive the real devices, the
EM4100 frames parse, and every fault knob does what it says."""

import contextlib
import os
import time

import pytest
import serial

from simulators import (
    PN532_ACK,
    PN532_ERROR_FRAME,
    PN532_NACK,
    PN532_WAKEUP,
    DirectPort,
    EM4100Simulator,
    PN532Simulator,
    R30xSimulator,
    characteristic_bytes,
    em4100_frame,
    match_score,
    pn532_frame,
    pn532_host_frame,
    r30x_checksum,
    r30x_packet,
    template_bytes,
)

# Plain imports: without the third-party libraries this file fails, it does not skip.
from adafruit_pn532.uart import PN532_UART  # noqa: E402
from pyfingerprint.pyfingerprint import PyFingerprint  # noqa: E402

UID4 = bytes.fromhex("DEADBEEF")
UID7 = bytes.fromhex("04A2249A5C2680")


@contextlib.contextmanager
def explain(sim):
    """On failure, prints what the simulator received and sent last."""
    try:
        yield
    except BaseException:
        t0 = sim.received[0].t if sim.received else 0
        for f in sim.received[-12:]:
            print(f"{f.t - t0:8.3f} host> {f.kind} {f.raw.hex(' ')}")
        for t, b in sim.sent[-6:]:
            print(f"{t - t0:8.3f} sim>  {b[:40].hex(' ')}")
        raise


@pytest.fixture
def link(tmp_path):
    return str(tmp_path / "device")


def open_port(path, baud, timeout=0.2):
    return serial.Serial(path, baud, timeout=timeout)


def read_for(port, seconds):
    """Everything that arrives within `seconds`."""
    end = time.monotonic() + seconds
    out = bytearray()
    while time.monotonic() < end:
        port.timeout = max(0.0, end - time.monotonic())
        out += port.read(4096)
    return bytes(out)


def read_exact(port, n, timeout=2.0):
    port.timeout = timeout
    data = port.read(n)
    assert len(data) == n, f"wanted {n} bytes, got {data.hex(' ')}"
    return data


# =====================================================================  PN532


def pn532_answer(payload):
    return pn532_frame(bytes([0xD5]) + bytes(payload))


FW = pn532_answer([0x03, 0x32, 0x01, 0x06, 0x07])


def test_documented_pn532_bytes():
    assert FW == bytes.fromhex("0000FF06FAD50332010607E800")
    assert pn532_host_frame(0x02) == bytes.fromhex("0000FF02FED4022A00")
    assert pn532_host_frame(0x14, [1, 0x14, 1]) == bytes.fromhex("0000FF05FBD4140114010200")
    assert pn532_host_frame(0x4A, [1, 0]) == bytes.fromhex("0000FF04FCD44A0100E100")
    ext = pn532_frame(b"\xd4\x40" + b"\xab" * 260)
    assert ext[:8] == bytes([0, 0, 0xFF, 0xFF, 0xFF, 0x01, 0x06, 0xF9]) and len(ext) == 272
    assert PN532_ACK == bytes.fromhex("0000FF00FF00")
    assert PN532_NACK == bytes.fromhex("0000FFFF0000")
    assert PN532_ERROR_FRAME == bytes.fromhex("0000FF01FF7F8100")


def test_adafruit_reads_firmware_sam_and_uids(link):
    with PN532Simulator(link) as sim:
        uart = open_port(link, 115200, timeout=0.05)
        pn = PN532_UART(uart)  # wake-up, SAMConfiguration, GetFirmwareVersion
        assert pn.firmware_version == (0x32, 0x01, 0x06, 0x07)
        pn.SAM_configuration()
        sim.present(UID4)
        assert bytes(pn.read_passive_target(timeout=0.5)) == UID4
        sim.present(UID7)
        assert bytes(pn.read_passive_target(timeout=0.5)) == UID7
        # With RFConfiguration's MxRtyPassiveActivation below FF, no card answers NbTg = 0.
        pn.call_function(0x32, params=[0x05, 0xFF, 0x01, 0x02])
        sim.remove()
        assert bytes(pn.call_function(0x4A, response_length=64, params=[1, 0])) == b"\x00"
        kinds = [f.kind for f in sim.received]
        assert kinds[0] == "wakeup" and set(kinds[1:]) == {"command"}, kinds
        assert sim.received[0].raw[:2] == b"\x55\x55"
        assert [c for c, _ in sim.commands()] == [0x14, 0x02, 0x02, 0x14, 0x4A, 0x4A, 0x32, 0x4A]
        assert sim.sam_configured and sim.rf_retries == (0xFF, 0x01, 0x02)
        uart.close()


def test_pn532_sleeps_until_wakeup_and_after_replug(link):
    with PN532Simulator(link) as sim:
        port = open_port(link, 115200)
        port.write(pn532_host_frame(0x02))
        assert read_for(port, 0.15) == b""
        assert sim.received[-1].kind == "ignored"
        port.write(PN532_WAKEUP + pn532_host_frame(0x14, [1, 0x14, 1]))
        assert read_exact(port, 15) == PN532_ACK + pn532_answer([0x15])
        assert [f.kind for f in sim.received[-2:]] == ["wakeup", "command"]
        assert sim.received[-2].raw == PN532_WAKEUP

        # Unplug: the link goes, the host's port reads EOF and fails to write.
        sim.unplug()
        assert not os.path.lexists(link)
        with pytest.raises(serial.SerialException):
            port.read(1)
        with pytest.raises(serial.SerialException):
            port.write(b"\x00")
        port.close()
        # Replug: a new PTY at the same path, the PN532 powered on (asleep) again.
        sim.replug()
        port = open_port(link, 115200)
        sim.wait_open(count=2)
        port.write(pn532_host_frame(0x02))
        assert read_for(port, 0.15) == b""
        port.write(PN532_WAKEUP + pn532_host_frame(0x02))
        assert read_exact(port, 19) == PN532_ACK + FW
        port.close()


def awake_pn532(link, **kw):
    sim = PN532Simulator(link, require_wakeup=False, **kw)
    port = open_port(link, 115200)
    sim.wait_open()
    return sim, port


def test_pn532_extended_frames_both_ways(link):
    sim, port = awake_pn532(link, force_extended=True)
    with sim:
        port.write(pn532_host_frame(0x02, extended=True))
        got = read_exact(port, 6 + 16)
        assert got == PN532_ACK + bytes.fromhex("0000FFFFFF0006FAD50332010607E800")
        assert sim.received[-1].kind == "command" and sim.received[-1].raw[3:5] == b"\xff\xff"
        # A long extended command the PN532 does not know: ACK, then the error frame.
        port.write(pn532_host_frame(0x40, b"\x01" + bytes(300)))
        assert read_exact(port, 14) == PN532_ACK + PN532_ERROR_FRAME
        assert sim.received[-1].code == 0x40 and len(sim.received[-1].data) == 301
        port.close()


def test_pn532_card_waits_and_host_ack_aborts(link):
    sim, port = awake_pn532(link, no_card_delay=0.05)
    with sim:
        # Default MxRtyPassiveActivation FF: InListPassiveTarget waits for a card.
        port.write(pn532_host_frame(0x4A, [1, 0]))
        assert read_for(port, 0.3) == PN532_ACK
        sim.present(UID7)
        card = pn532_answer(bytes.fromhex("4B0101004400 07") + UID7)
        assert read_exact(port, len(card)) == card
        # The host's ACK aborts a waiting InListPassiveTarget.
        sim.remove()
        port.write(pn532_host_frame(0x4A, [1, 0]))
        assert read_exact(port, 6) == PN532_ACK
        port.write(PN532_ACK)
        sim.wait_for(lambda d: d.received[-1].kind == "ack")
        sim.present(UID4)
        assert read_for(port, 0.2) == b""
        # With finite retries: NbTg = 0 after the no-card delay.
        sim.remove()
        port.write(pn532_host_frame(0x32, [5, 0xFF, 1, 2]))
        assert read_exact(port, 15) == PN532_ACK + pn532_answer([0x33])
        t = time.monotonic()
        port.write(pn532_host_frame(0x4A, [1, 0]))
        assert read_exact(port, 16) == PN532_ACK + pn532_answer([0x4B, 0x00])
        assert time.monotonic() - t >= 0.04
        port.close()


def test_pn532_fault_knobs(link):
    sim, port = awake_pn532(link)
    fw_cmd = pn532_host_frame(0x02)
    with sim:
        # NACK instead of ACK, then normal again.
        sim.nack()
        port.write(fw_cmd)
        assert read_for(port, 0.15) == PN532_NACK
        port.write(fw_cmd)
        assert read_exact(port, 19) == PN532_ACK + FW
        # A bad DCS; the host's NACK gets the response again, intact.
        sim.bad_checksum()
        port.write(fw_cmd)
        bad = read_exact(port, 19)[6:]
        assert bad[:-2] == FW[:-2] and bad[-2] != FW[-2]
        port.write(PN532_NACK)
        assert read_exact(port, 13) == FW
        # A bad LCS.
        sim.bad_checksum(part="lcs")
        port.write(fw_cmd)
        bad = read_exact(port, 19)[6:]
        assert bad[4] != FW[4] and bad[5:] == FW[5:]
        # Resending on NACK can be turned off.
        sim.resend_on_nack = False
        port.write(PN532_NACK)
        assert read_for(port, 0.15) == b""
        sim.resend_on_nack = True
        # Garbage before the ACK, or before the response.
        sim.garbage(b"\x13\x37")
        port.write(fw_cmd)
        assert read_exact(port, 21) == b"\x13\x37" + PN532_ACK + FW
        sim.garbage(b"\xff\xfe", before="response")
        port.write(fw_cmd)
        assert read_exact(port, 21) == PN532_ACK + b"\xff\xfe" + FW
        # Slow: the whole answer, or only the response.
        sim.slow(0.6)
        port.write(fw_cmd)
        assert read_for(port, 0.25) == b""
        assert read_exact(port, 19) == PN532_ACK + FW
        sim.slow(0.6, ack=False)
        port.write(fw_cmd)
        assert read_for(port, 0.25) == PN532_ACK
        assert read_exact(port, 13) == FW
        # Mute: logs, never answers.
        sim.mute()
        port.write(fw_cmd)
        assert read_for(port, 0.2) == b""
        assert sim.received[-1].kind == "command"
        sim.mute(False)
        # A frame with a bad DCS from the host is not answered; an unknown command gets the ACK
        # and the error frame; `times` repeats a fault.
        port.write(fw_cmd[:-2] + b"\x00\x00")
        assert read_for(port, 0.15) == b""
        assert sim.received[-1].kind == "bad_checksum"
        port.write(pn532_host_frame(0x7E))
        assert read_exact(port, 14) == PN532_ACK + PN532_ERROR_FRAME
        sim.nack(times=2)
        for _ in range(2):
            port.write(fw_cmd)
            assert read_exact(port, 6) == PN532_NACK
        port.write(fw_cmd)
        assert read_exact(port, 19) == PN532_ACK + FW
        sim.inject(b"\x01\x02")
        assert read_exact(port, 2) == b"\x01\x02"
        port.close()


def test_adafruit_notices_the_faults(link):
    sim, port = awake_pn532(link)
    with sim:
        port.timeout = 0.05
        pn = PN532_UART(port)
        sim.bad_checksum()
        with pytest.raises(RuntimeError, match="checksum"):
            pn.firmware_version
        sim.garbage(b"\x13\x37")
        with pytest.raises(RuntimeError, match="ACK"):
            pn.firmware_version
        assert pn.firmware_version == (0x32, 0x01, 0x06, 0x07)
        port.close()


# =====================================================================  EM4100


def parse_em4100(stream):
    """Frames of the stream as (data bytes, checksum ok)."""
    out = []
    for chunk in stream.split(b"\x02")[1:]:
        assert chunk.endswith(b"\x03") and len(chunk) == 13, chunk
        body = chunk[:-1].decode()
        data, check = bytes.fromhex(body[:10]), int(body[10:], 16)
        x = 0
        for b in data:
            x ^= b
        out.append((data, x == check))
    return out


def test_em4100_frames_parse_and_repeat(link):
    assert em4100_frame(bytes.fromhex("0F00D0C8A3")) == b"\x020F00D0C8A3B4\x03"
    with EM4100Simulator(link, interval=0.1) as sim:
        port = open_port(link, 9600)
        sim.wait_open()
        data = bytes.fromhex("0F00D0C8A3")
        sim.present(data)
        stream = read_for(port, 0.55)
        frames = parse_em4100(stream)
        assert 3 <= len(frames) <= 7, stream
        assert all(f == (data, True) for f in frames)
        times = [t for t, _ in sim.sent]
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert all(0.08 <= g for g in gaps) and sorted(gaps)[len(gaps) // 2] <= 0.15, gaps
        sim.remove()
        read_for(port, 0.05)
        assert read_for(port, 0.25) == b""
        # A card held for 0.35 s, then nothing; the host sends nothing, or it is logged.
        sim.present(bytes.fromhex("FFFFFFFFFF"), hold=0.35)
        frames = parse_em4100(read_for(port, 0.6))
        assert 2 <= len(frames) <= 5 and frames[0] == (b"\xff" * 5, True)
        assert sim.card is None
        port.write(b"hi")
        sim.wait_for(lambda d: d.received and d.received[-1].kind == "data")
        assert sim.frames == [b"hi"]
        port.close()


def test_em4100_fault_knobs_and_closed_port(link):
    data = bytes.fromhex("1234567890")
    with EM4100Simulator(link, interval=0.05) as sim:
        # Frames sent while no host has the port open are lost, as on a UART.
        sim.present(data)
        time.sleep(0.2)
        assert sim.dropped and not sim.sent
        port = open_port(link, 9600)
        sim.wait_open()
        port.reset_input_buffer()
        assert len(read_for(port, 0.02)) <= 14
        sim.remove()
        time.sleep(0.1)
        port.reset_input_buffer()
        # Bad checksum on the next frame, garbage before the next, then good ones.
        sim.bad_checksum()
        sim.garbage(b"\x13\x37\x03")
        sim.present(data)
        stream = read_for(port, 0.28)
        sim.remove()
        assert stream.startswith(b"\x13\x37\x03\x02")
        frames = parse_em4100(stream[3:])
        assert frames[0] == (data, False) and all(f == (data, True) for f in frames[1:])
        assert len(frames) >= 3
        time.sleep(0.1)
        port.reset_input_buffer()
        # Slow: the first frame comes late; mute: none at all.
        sim.slow(0.5)
        sim.present(data)
        assert read_for(port, 0.2) == b""
        assert parse_em4100(read_for(port, 0.45))[0] == (data, True)
        sim.mute()
        time.sleep(0.1)
        port.reset_input_buffer()
        assert read_for(port, 0.2) == b""
        sim.clear_faults()
        assert parse_em4100(read_for(port, 0.2))
        port.close()


# =====================================================================  R30x


def wait_image(f, present, timeout=5.0):
    """Polls readImage (GenImg) until it reports a finger (present) or none."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if f.readImage() == present:
            return
    raise AssertionError("the finger did not " + ("come" if present else "go"))


def test_pyfingerprint_enrolment(link):
    with R30xSimulator(link) as sim, explain(sim):
        f = PyFingerprint(link, 57600, 0xFFFFFFFF, 0x00000000)
        assert f.verifyPassword()
        assert f.getSystemParameters() == (0, 9, 1000, 3, 0xFFFFFFFF, 2, 6)
        assert f.getTemplateCount() == 0
        script = sim.enroll_presses(7, hold=0.4, gap=0.4)
        wait_image(f, True)
        assert f.convertImage(0x01)
        wait_image(f, False)
        wait_image(f, True)
        assert f.convertImage(0x02)
        assert f.createTemplate()
        assert bytes(f.downloadCharacteristics(0x01)) == template_bytes(7)
        wait_image(f, False)
        wait_image(f, True)
        assert f.convertImage(0x01)
        assert f.compareCharacteristics() == match_score(7)
        assert bytes(f.downloadCharacteristics(0x02)) == template_bytes(7)
        assert bytes(f.downloadCharacteristics(0x01)) == characteristic_bytes(7)
        script.join()
        codes = [c for c, _ in sim.commands()]
        assert codes[:3] == [0x13, 0x0F, 0x1D]
        assert codes[-3:] == [0x03, 0x08, 0x08]
        assert set(codes[3:-3]) == {0x01, 0x02, 0x05, 0x08}
        assert sim.received[0].raw == bytes.fromhex("EF01FFFFFFFF0100071300000000001B")
        # The upload: the ack, then 128-byte data packets, the last one pid 08.
        _, upload = sim.sent[-1]
        assert upload[:12] == r30x_packet(0x07, b"\x00")
        pids = [upload[12 + i * 139 + 6] for i in range(4)]
        assert pids == [0x02, 0x02, 0x02, 0x08] and len(upload) == 12 + 4 * 139


def test_pyfingerprint_prints_that_differ(link):
    with R30xSimulator(link, capture_time=0.0) as sim:
        f = PyFingerprint(link, 57600, 0xFFFFFFFF, 0)
        assert f.verifyPassword()
        for n, finger in ((1, 3), (2, 4)):
            sim.press(finger)
            assert f.readImage()
            assert f.convertImage(n)
            sim.lift()
        assert f.createTemplate() is False  # 0x0A
        assert f.compareCharacteristics() == 0  # 0x08
        # Img2Tz with no image yet after power-on: 0x15.
        sim.unplug()
        sim.replug()
        f = PyFingerprint(link, 57600, 0xFFFFFFFF, 0)
        with pytest.raises(Exception, match="invalid"):
            f.convertImage(0x01)


def test_pyfingerprint_passwords(link):
    with R30xSimulator(link, password=0xDEADBEEF) as sim:
        wrong = PyFingerprint(link, 57600, 0xFFFFFFFF, 0x01020304)
        assert wrong.verifyPassword() is False  # 0x13
        with pytest.raises(Exception, match="0x21"):
            wrong.readImage()  # not verified yet
        right = PyFingerprint(link, 57600, 0xFFFFFFFF, 0xDEADBEEF)
        assert right.verifyPassword()
        assert right.readImage() is False
        assert not sim.muted and sim.verified


def r30x_ack(code, data=b""):
    return r30x_packet(0x07, bytes([code]) + data)


def test_r30x_fault_knobs(link):
    with R30xSimulator(link, capture_time=0.0) as sim:
        port = open_port(link, 57600)
        sim.wait_open()
        genimg = r30x_packet(0x01, b"\x01")
        assert genimg == bytes.fromhex("EF01FFFFFFFF010003010005")
        # Garbage before the next answer; a bad sum on the next one.
        sim.garbage(b"\xef\x13")
        port.write(genimg)
        assert read_exact(port, 14) == b"\xef\x13" + r30x_ack(0x02)
        sim.bad_checksum()
        port.write(genimg)
        bad = read_exact(port, 12)
        assert bad[:10] == r30x_ack(0x02)[:10] and bad[10:] != r30x_ack(0x02)[10:]
        # Slow and mute.
        sim.slow(0.5)
        port.write(genimg)
        assert read_for(port, 0.2) == b""
        assert read_exact(port, 12) == r30x_ack(0x02)
        sim.mute()
        port.write(genimg)
        assert read_for(port, 0.2) == b""
        sim.mute(False)
        # A bad sum from the host: 0x01; an unknown instruction: 0x01; another address: nothing.
        port.write(genimg[:-1] + b"\x06")
        assert read_exact(port, 12) == r30x_ack(0x01)
        assert sim.received[-1].kind == "bad_checksum"
        port.write(r30x_packet(0x01, b"\x77"))
        assert read_exact(port, 12) == r30x_ack(0x01)
        port.write(r30x_packet(0x01, b"\x01", address=0x12345678))
        assert read_for(port, 0.15) == b""
        assert sim.received[-1].kind == "ignored"
        # fail_next: Img2Tz answers "too messy" once.
        sim.press(9)
        port.write(genimg)
        assert read_exact(port, 12) == r30x_ack(0x00)
        sim.fail_next(0x02, 0x06)
        img2tz = r30x_packet(0x01, b"\x02\x01")
        port.write(img2tz)
        assert read_exact(port, 12) == r30x_ack(0x06)
        port.write(img2tz)
        assert read_exact(port, 12) == r30x_ack(0x00)
        # UpChar of an empty buffer: 0x0D; bad sum on a data packet of the upload.
        port.write(r30x_packet(0x01, b"\x08\x02"))
        assert read_exact(port, 12) == r30x_ack(0x0D)
        sim.bad_checksum(packet=2)
        port.write(r30x_packet(0x01, b"\x08\x01"))
        upload = read_exact(port, 12 + 4 * 139)
        packets = [upload[12 + i * 139:12 + (i + 1) * 139] for i in range(4)]
        sums = [int.from_bytes(p[-2:], "big") == r30x_checksum(p[6], p[9:-2]) for p in packets]
        assert sums == [True, False, True, True]
        assert b"".join(p[9:-2] for p in packets) == characteristic_bytes(9)
        port.close()


def test_r30x_packet_size_and_direct_port():
    sim = R30xSimulator(None, packet_size=32, capture_time=0.0)
    port = DirectPort(sim)
    for n in (1, 2):
        sim.press(11)
        port.write(r30x_packet(0x01, b"\x01"))
        port.write(r30x_packet(0x01, bytes([0x02, n])))
    port.write(r30x_packet(0x01, b"\x05"))
    port.write(r30x_packet(0x01, b"\x08\x02"))
    out = port.read(100000)
    assert out[:72] == r30x_ack(0) * 6
    data = out[72:]
    assert len(data) == 16 * (11 + 32)
    blob = b"".join(data[i * 43 + 9:i * 43 + 41] for i in range(16))
    assert blob == template_bytes(11)
    assert [data[i * 43 + 6] for i in range(16)] == [2] * 15 + [8]


def test_cli_plays_a_device_for_another_process(link):
    import json
    import subprocess
    import sys

    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "simulators.py")
    proc = subprocess.Popen([sys.executable, script, "r30x", link, "--password", "0x1234",
                             "--capture-time", "0"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        def ask(line):
            proc.stdin.write(line + "\n")
            proc.stdin.flush()
            return json.loads(proc.stdout.readline())

        ready = json.loads(proc.stdout.readline())
        assert ready["ready"] and os.readlink(link) == ready["pty"]
        port = open_port(link, 57600)
        assert ask("wait_open 5")["ok"]
        port.write(r30x_packet(0x01, b"\x13\x00\x00\x12\x34"))
        assert read_exact(port, 12) == r30x_ack(0x00)
        assert ask("press 4") == {"ok": True, "result": None}
        port.write(r30x_packet(0x01, b"\x01"))
        assert read_exact(port, 12) == r30x_ack(0x00)
        assert ask("garbage 1337")["ok"]
        port.write(r30x_packet(0x01, b"\x01"))
        assert read_exact(port, 14) == b"\x13\x37" + r30x_ack(0x00)
        log = ask("commands")["result"]
        assert log == [[0x13, "00001234"], [0x01, ""], [0x01, ""]]
        assert ask("nonsense")["ok"] is False
        port.close()
    finally:
        proc.stdin.close()
        assert proc.wait(10) == 0
    assert not os.path.lexists(link)
