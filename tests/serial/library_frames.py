"""Makes two third-party host libraries build their frames, for tests/serial_third_party.rs to
compare byte for byte with Gatehouse's encoders: pyfingerprint (R30x/ZFM sensors) and Adafruit's
CircuitPython PN532 driver (PN532 over UART). Each library talks to one of our simulators through
a `DirectPort` (a pyserial-like object, no PTY, no waiting) that records every write; what the
simulator answered, and the library accepted, is printed too, for our decoders to read.

Prints one JSON object {name: hex}: `NAME` is what the library wrote for one call,
`NAME.answer` the bytes the simulator sent back. Also `r30x.template` (the 512-byte template the
sensor uploaded, as pyfingerprint returned it), `r30x.match_score`, `pn532.uid4`/`pn532.uid7`
(the UIDs adafruit read) and `em4100.frame.DATA` (the reader frame for 5 data bytes).
"""

import json
import os
import sys
from importlib import metadata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

HINT = ("install the test packages: python3 -m venv target/test-venv && "
        "target/test-venv/bin/pip install -r tests/requirements.txt (tests/run does it)")

try:
    import serial  # pyserial
    import pyfingerprint.pyfingerprint as pf_module
    import adafruit_pn532.adafruit_pn532 as adafruit_core
    from adafruit_pn532.uart import PN532_UART
except ImportError as e:  # pragma: no cover - the Rust test shows this
    print(f"library_frames.py: {e}; {HINT}", file=sys.stderr)
    sys.exit(2)

from simulators import (  # noqa: E402
    DirectPort,
    EM4100Simulator,
    PN532Simulator,
    R30xSimulator,
    match_score,
    pn532_host_frame,
    template_bytes,
)

out = {}


def expect(cond, what):
    if not cond:
        print(f"library_frames.py: unexpected result: {what}", file=sys.stderr)
        sys.exit(1)


def capture(name, port, fn, split=False):
    """Runs fn(); records what the library wrote (as one string, and with `split` each write
    call separately as NAME#i) and what the simulator answered."""
    port.take_written()
    sent_before = len(port.device.sent)
    result = fn()
    writes = list(port.written)
    port.take_written()
    out[name] = b"".join(writes).hex()
    if split:
        for i, w in enumerate(writes):
            out[f"{name}#{i}"] = w.hex()
    out[name + ".answer"] = b"".join(b for _, b in port.device.sent[sent_before:]).hex()
    return result


def pyfingerprint_on(device, address=0xFFFFFFFF, password=0):
    """A PyFingerprint whose serial port is a DirectPort to `device`."""
    port = DirectPort(device)

    class SerialModule:
        EIGHTBITS = serial.EIGHTBITS

        @staticmethod
        def Serial(**_kwargs):  # noqa: N802 (pyserial's name)
            return port

    pf_module.serial = SerialModule
    return pf_module.PyFingerprint("/dev/simulated", 57600, address, password), port


def r30x():
    sensor = R30xSimulator(None)
    f, port = pyfingerprint_on(sensor)
    expect(capture("r30x.verify_password_0", port, f.verifyPassword) is True, "verifyPassword")
    expect(capture("r30x.gen_img_no_finger", port, f.readImage) is False, "readImage no finger")
    sensor.press(5)
    expect(capture("r30x.gen_img", port, f.readImage) is True, "readImage")
    capture("r30x.img2tz_1", port, lambda: f.convertImage(0x01))
    sensor.lift()
    sensor.press(5)
    f.readImage()
    capture("r30x.img2tz_2", port, lambda: f.convertImage(0x02))
    expect(capture("r30x.reg_model", port, f.createTemplate) is True, "createTemplate")
    up1 = capture("r30x.up_char_1", port, lambda: f.downloadCharacteristics(0x01))
    expect(bytes(up1) == template_bytes(5), "downloadCharacteristics(1) = the template")
    sensor.lift()
    sensor.press(5)
    f.readImage()
    f.convertImage(0x01)
    score = capture("r30x.match", port, f.compareCharacteristics)
    expect(score == match_score(5), f"compareCharacteristics {score}")
    up2 = capture("r30x.up_char_2", port, lambda: f.downloadCharacteristics(0x02))
    expect(bytes(up2) == template_bytes(5), "downloadCharacteristics(2) = the template")
    out["r30x.template"] = bytes(up2).hex()
    out["r30x.match_score"] = f"{score:04x}"
    params = capture("r30x.read_sys_para", port, f.getSystemParameters)
    expect(params == (0, 9, 1000, 3, 0xFFFFFFFF, 2, 6), f"getSystemParameters {params}")
    capture("r30x.template_count", port, f.getTemplateCount)
    # Prints that differ: RegModel answers 0x0A, Match 0x08.
    sensor.lift()
    sensor.press(6)
    f.readImage()
    f.convertImage(0x02)
    sensor.lift()
    sensor.press(5)
    f.readImage()
    f.convertImage(0x01)
    expect(capture("r30x.reg_model_fail", port, f.createTemplate) is False, "createTemplate 0x0A")
    expect(capture("r30x.match_fail", port, f.compareCharacteristics) == 0, "compare 0x08")

    # A non-zero password, right and wrong.
    sensor = R30xSimulator(None, password=0xDEADBEEF)
    f, port = pyfingerprint_on(sensor, password=0xDEADBEEF)
    expect(capture("r30x.verify_password_deadbeef", port, f.verifyPassword) is True, "password")
    f, port = pyfingerprint_on(sensor, password=0x01020304)
    expect(capture("r30x.verify_password_wrong", port, f.verifyPassword) is False,
           "wrong password")

    # Another module address.
    sensor = R30xSimulator(None, address=0x12345678)
    f, port = pyfingerprint_on(sensor, address=0x12345678)
    expect(capture("r30x.gen_img_address_12345678", port, f.readImage) is False,
           "readImage at another address")


def pn532():
    reader = PN532Simulator(None)
    port = DirectPort(reader)
    # The constructor wakes the PN532 up, sends SAMConfiguration, then GetFirmwareVersion.
    pn = capture("pn532.init", port, lambda: PN532_UART(port), split=True)
    expect(len(port.device.received) >= 3, "constructor frames")
    out["pn532.ack_expected"] = adafruit_core._ACK.hex()
    fw = capture("pn532.get_firmware_version", port, lambda: pn.firmware_version)
    expect(fw == (0x32, 0x01, 0x06, 0x07), f"firmware_version {fw}")
    capture("pn532.sam_configuration", port, pn.SAM_configuration)
    reader.present(bytes.fromhex("DEADBEEF"))
    uid = capture("pn532.in_list_passive_target", port,
                  lambda: pn.read_passive_target(timeout=0.1))
    expect(bytes(uid) == bytes.fromhex("DEADBEEF"), f"4-byte UID {uid}")
    out["pn532.uid4"] = bytes(uid).hex()
    reader.present(bytes.fromhex("04A2249A5C2680"))
    uid = capture("pn532.in_list_passive_target_7", port,
                  lambda: pn.read_passive_target(timeout=0.1))
    expect(bytes(uid) == bytes.fromhex("04A2249A5C2680"), f"7-byte UID {uid}")
    out["pn532.uid7"] = bytes(uid).hex()
    # RFConfiguration item 5 (MxRtyATR FF, MxRtyPSL 01, MxRtyPassiveActivation 02) through the
    # library's generic call, then InListPassiveTarget with no card answers NbTg = 0.
    capture("pn532.rf_configuration_retries", port,
            lambda: pn.call_function(0x32, params=[0x05, 0xFF, 0x01, 0x02]))
    reader.remove()
    r = capture("pn532.in_list_no_card", port,
                lambda: pn.call_function(0x4A, response_length=64, params=[0x01, 0x00]))
    expect(bytes(r) == b"\x00", f"no card: {r}")

    def unknown():
        try:
            pn.call_function(0xFE)
        except RuntimeError:
            return "error frame"
        return "answered"
    expect(capture("pn532.unknown_command", port, unknown) == "error frame", "error frame")

    # Extended frames: adafruit builds only normal ones (payload < 255); the simulator answers
    # a GetFirmwareVersion in an extended frame when told to.
    ext = PN532Simulator(None, require_wakeup=False, force_extended=True)
    ext.feed(pn532_host_frame(0x02))
    out["pn532.extended_firmware.answer"] = ext.drain().hex()


def em4100():
    for data in ("0F00D0C8A3", "0000000000", "FFFFFFFFFF", "1234567890"):
        reader = EM4100Simulator(None)
        reader.present(bytes.fromhex(data))
        out[f"em4100.frame.{data}"] = reader.drain().hex()


r30x()
pn532()
em4100()
# Not hex: which library versions made these frames, for the test's output.
out["versions"] = ", ".join(
    f"{name} {metadata.version(name)}"
    for name in ("pyfingerprint", "adafruit-circuitpython-pn532", "pyserial"))
json.dump(out, sys.stdout, indent=1, sort_keys=True)
print()
