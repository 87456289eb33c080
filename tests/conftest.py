"""Shared by the Python tests: start the real gatehouse binary on a random loopback port with its
own temporary data dir, and stop it afterwards."""

import os
import re
import subprocess
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("GATEHOUSE_BIN", os.path.join(ROOT, "target", "debug", "gatehouse"))


class Gatehouse:
    """`extra` goes after `run`; `opts` (global options, e.g. the readers' ports) before it."""

    def __init__(self, data_dir, *extra, opts=()):
        if not os.path.exists(BIN):
            raise RuntimeError(f"{BIN} is missing: run `cargo build` first")
        self.proc = subprocess.Popen(
            [BIN, "--data-dir", data_dir, "--https-addr", "127.0.0.1:0",
             "--sip-addr", "127.0.0.1:0", "--sips-addr", "127.0.0.1:0", *opts, "run", *extra],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        )
        self.lines = []
        found = threading.Event()

        def pump():
            for line in self.proc.stderr:
                self.lines.append(line)
                m = re.search(r"listening on (https://\S+)", line)
                if m:
                    self.base = m.group(1)
                    found.set()

        threading.Thread(target=pump, daemon=True).start()
        if not found.wait(30):
            self.stop()
            raise RuntimeError("gatehouse did not start:\n" + "".join(self.lines))

    def url(self, path):
        return self.base + path

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def gatehouse(tmp_path):
    g = Gatehouse(str(tmp_path / "data"))
    yield g
    g.stop()
