"""The board files: the systemd unit verifies with systemd-analyze, the shell scripts parse, and
the BusyBox init script really supervises: a failing service is restarted with growing delays,
`stop` ends it."""

import os
import shutil
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_systemd_unit_verifies(tmp_path):
    assert shutil.which("systemd-analyze"), "systemd-analyze is missing (Debian package systemd)"
    unit = (REPO / "board/systemd/gatehouse.service").read_text()
    fake = tmp_path / "gatehouse"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    (tmp_path / "gatehouse.service").write_text(unit.replace("/usr/bin/gatehouse", str(fake)))
    r = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "gatehouse.service")],
                       capture_output=True, text=True)
    # Only systemd < 254 not knowing the back-off step keys is acceptable.
    problems = [l for l in r.stderr.splitlines()
                if l.strip() and "RestartSteps" not in l and "RestartMaxDelaySec" not in l]
    assert r.returncode == 0 and not problems, r.stderr
    for key in ["NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/gatehouse",
                "CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "Restart=on-failure"]:
        assert key in unit


def test_scripts_parse():
    for script in ["board/init.d/S50gatehouse", "images/initramfs/init", "images/rootfs/etc/init.d/rcS",
                   "images/rootfs/etc/init.d/rcK", "images/rootfs/usr/share/udhcpc/default.script"]:
        r = subprocess.run(["sh", "-n", str(REPO / script)], capture_output=True, text=True)
        assert r.returncode == 0, f"{script}: {r.stderr}"


def test_udev_rules_name_both_peripherals_for_every_chip():
    rules = (REPO / "board/udev/99-gatehouse-serial.rules").read_text()
    for vid in ["1a86", "10c4", "0403", "067b"]:  # CH340, CP210x, FTDI, PL2303
        assert f'ATTRS{{idVendor}}=="{vid}"' in rules
    assert 'SYMLINK+="gatehouse-card"' in rules and 'SYMLINK+="gatehouse-fp"' in rules


def test_init_script_restarts_with_backoff_and_stops(tmp_path):
    counter = tmp_path / "starts"
    fake = tmp_path / "gatehouse"
    fake.write_text(f"#!/bin/sh\necho start >> {counter}\nexit 3\n")
    fake.chmod(0o755)
    env = dict(os.environ, GATEHOUSE_BIN=str(fake), GATEHOUSE_RUN_DIR=str(tmp_path),
               GATEHOUSE_LOG=str(tmp_path / "log"))
    script = str(REPO / "board/init.d/S50gatehouse")
    subprocess.run(["sh", script, "start"], env=env, check=True, timeout=10)
    try:
        time.sleep(7.5)  # starts at 0 s, 2 s (delay 2), 6 s (delay 4)
        starts = counter.read_text().count("start")
        assert starts == 3, f"{starts} starts in 7.5 s"
        log = (tmp_path / "log").read_text()
        assert "restarting in 2s" in log and "restarting in 4s" in log, log
        r = subprocess.run(["sh", script, "status"], env=env, capture_output=True, text=True)
        assert "running" in r.stdout
    finally:
        subprocess.run(["sh", script, "stop"], env=env, check=True, timeout=15)
    r = subprocess.run(["sh", script, "status"], env=env, capture_output=True, text=True)
    assert "stopped" in r.stdout
