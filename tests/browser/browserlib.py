"""Helpers shared by the Chromium tests: the step recorder with its screenshots, a tiny PNG, the
first administrator's credentials and the first-boot setup."""

import os
import struct
import zlib
from pathlib import Path

import requests

from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

REPO = Path(__file__).resolve().parents[2]
USER = "admin"
PASSWORD = "Kp7!wQz2"


def tiny_png(width=24, height=24):
    """A valid RGB PNG: a blue square with a lighter diagonal."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    rows = b""
    for y in range(height):
        row = b"\x00"
        for x in range(width):
            row += b"\x90\xc8\xff" if abs(x - y) < 3 else b"\x1f\x5f\x9e"
        rows += row
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


class Steps:
    def __init__(self, driver, base, prefix=""):
        self.d = driver
        self.prefix = prefix
        self.base = base
        self.n = 0
        self.dir = Path(os.environ.get("SCREENSHOT_DIR", REPO / "target/screenshots"))
        if not self.dir.is_absolute():
            self.dir = REPO / self.dir
        self.dir.mkdir(parents=True, exist_ok=True)

    def shot(self, name):
        self.n += 1
        path = self.dir / f"{self.prefix}{self.n:02d}-{name}.png"
        assert self.d.save_screenshot(str(path)), f"screenshot {path} failed"

    def wait(self, cond, timeout=45):
        """Waits until `cond(driver)` is truthy. An element of a page being replaced (stale, or
        Chromium's "does not belong to the document") counts as not yet: the next try looks at
        the new page."""

        def settled(d):
            try:
                return cond(d)
            except StaleElementReferenceException:
                return False
            except WebDriverException as e:
                if "does not belong to the document" in str(e):
                    return False
                raise

        return WebDriverWait(self.d, timeout).until(settled)

    def reloads(self, action):
        """Runs `action` (a click that submits a form or follows a link) and waits until the next
        document has loaded. The old document is marked with a window property that the new one
        does not have; this avoids Selenium's staleness check, which newer Chromium answers with
        "Node with given id does not belong to the document" while the page is being replaced."""
        self.d.execute_script("window.__gatehouseOldPage = true;")
        action()

        def loaded(d):
            try:
                return d.execute_script(
                    "return window.__gatehouseOldPage !== true && document.readyState === 'complete';"
                )
            except WebDriverException:
                return False  # the page is between documents

        self.wait(loaded)

    def path(self):
        return self.d.current_url[len(self.base):].split("?")[0]

    def at(self, path):
        self.wait(lambda d: self.path() == path)

    def fill(self, values):
        for name, value in values.items():
            el = self.d.find_element(By.NAME, name)
            el.clear()
            el.send_keys(value)

    def click(self, element_id):
        self.d.find_element(By.ID, element_id).click()

    def text(self, element_id):
        return self.wait(EC.visibility_of_element_located((By.ID, element_id))).text


SETUP_QUESTIONS = {
    "q1": "In which city were you born?",
    "a1": "Lisbon",
    "q2": "What was the name of your first pet?",
    "a2": "Rex",
    "q3": "What is your favourite book?",
    "a3": "Dune",
}



def set_up_and_sign_in(s):
    """First-boot setup with the administrator above; lands on the start page signed in."""
    s.d.get(s.base + "/")
    s.at("/setup")
    s.fill({"username": USER, "password": PASSWORD, "password2": PASSWORD, **SETUP_QUESTIONS})
    s.click("setup-submit")
    s.at("/")


def no_horizontal_scroll(driver):
    scroll, inner = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert scroll <= inner, f"horizontal scrollbar: {scroll} > {inner}"


class Api:
    """The JSON API as the first administrator (a bearer token), for checks next to the page."""

    def __init__(self, base):
        self.base = base
        r = requests.post(f"{base}/api/v1/session", json={"username": USER, "password": PASSWORD},
                          verify=False, timeout=10)
        assert r.status_code == 200, r.text
        self.h = {"Authorization": f"Bearer {r.json()['token']}"}

    def post(self, path, body, want=201):
        r = requests.post(self.base + path, json=body, headers=self.h, verify=False, timeout=30)
        assert r.status_code == want, f"{path}: {r.status_code} {r.text}"
        return r.json()

    def get(self, path):
        r = requests.get(self.base + path, headers=self.h, verify=False, timeout=10)
        assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
        return r.json()
