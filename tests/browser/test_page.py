"""Drives the real page in headless Chromium (Debian chromium + chromedriver, selenium).

Starts `gatehouse run` itself (binary from $GATEHOUSE_BIN, default target/debug/gatehouse; it
builds nothing), on a fresh data dir and a free port, and walks: first visit lands on setup, a weak
password shows the broken rule in #error, a good setup lands on the start page, sign-out, sign-in,
company name shown in the header, logo upload shown in the header, phone-width layout without a
horizontal scrollbar, sign-out. A screenshot is saved at each step into $SCREENSHOT_DIR (default
target/screenshots). Missing chromium or chromedriver is a failure, not a skip.
"""

import os
import shutil
import struct
import tempfile
import zlib
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
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


@pytest.fixture
def server(gatehouse):
    """The base URL of a fresh gatehouse (the `gatehouse` fixture of tests/conftest.py)."""
    return gatehouse.base


@pytest.fixture
def browser():
    # Fail loudly: a missing browser must not look like a passing run.
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    assert Path(CHROMEDRIVER).exists(), f"{CHROMEDRIVER} is missing: apt-get install -y chromium-driver"
    profile = tempfile.mkdtemp(prefix="gatehouse-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--ignore-certificate-errors",
        "--window-size=1280,900",
        f"--user-data-dir={profile}",
    ]:
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Steps:
    def __init__(self, driver, base):
        self.d = driver
        self.base = base
        self.n = 0
        self.dir = Path(os.environ.get("SCREENSHOT_DIR", REPO / "target/screenshots"))
        if not self.dir.is_absolute():
            self.dir = REPO / self.dir
        self.dir.mkdir(parents=True, exist_ok=True)

    def shot(self, name):
        self.n += 1
        path = self.dir / f"{self.n:02d}-{name}.png"
        assert self.d.save_screenshot(str(path)), f"screenshot {path} failed"

    def wait(self, cond, timeout=15):
        return WebDriverWait(self.d, timeout).until(cond)

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


def test_setup_login_company_logo_and_phone(server, browser):
    s = Steps(browser, server)

    # Before setup every page leads to /setup.
    browser.get(server + "/")
    s.at("/setup")
    s.shot("setup")

    # A weak password: the broken rule is shown, typed non-secret values are kept.
    s.fill({"username": USER, "password": "Ab1!x", "password2": "Ab1!x", **SETUP_QUESTIONS})
    s.click("setup-submit")
    error = s.text("error")
    assert "at least 8 characters" in error, error
    assert browser.find_element(By.NAME, "username").get_attribute("value") == USER
    assert browser.find_element(By.NAME, "q1").get_attribute("value") == SETUP_QUESTIONS["q1"]
    s.shot("setup-weak-password")

    # A good setup signs in and lands on the start page.
    s.fill({"username": USER, "password": PASSWORD, "password2": PASSWORD, **SETUP_QUESTIONS})
    s.click("setup-submit")
    s.at("/")
    assert USER in s.text("welcome")
    assert browser.find_element(By.ID, "nav-persons").is_displayed()
    s.shot("home")

    # A section says plainly that it is not available yet.
    s.click("nav-permissions")
    s.at("/section/permissions")
    assert "Not available yet" in s.text("not-available")
    s.shot("section-permissions")

    # Sign out, then sign in again.
    s.click("logout")
    s.at("/login")
    s.shot("signed-out")
    s.fill({"username": USER, "password": PASSWORD})
    s.click("login-submit")
    s.at("/")
    s.shot("signed-in")

    # The company name shows in the header of every page.
    browser.get(server + "/company")
    s.fill({"name": "Harbour View Residences"})
    s.click("company-save")
    s.at("/company")
    assert "saved" in s.text("notice")
    assert s.text("company-name") == "Harbour View Residences"
    s.shot("company-name")

    # A logo upload shows the logo in the header.
    assert not browser.find_elements(By.ID, "company-logo")
    png = Path(tempfile.mkdtemp(prefix="gatehouse-logo-")) / "logo.png"
    png.write_bytes(tiny_png())
    browser.find_element(By.NAME, "logo").send_keys(str(png))
    s.click("logo-upload")
    s.at("/company")
    logo = s.wait(EC.visibility_of_element_located((By.ID, "company-logo")))
    s.wait(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", logo))
    assert browser.execute_script("return arguments[0].naturalWidth", logo) == 24
    s.shot("company-logo")

    # Phone width: no horizontal scrollbar on the start page.
    browser.set_window_size(390, 844)
    browser.get(server + "/")
    s.at("/")
    s.text("welcome")
    s.shot("phone-home")
    scroll, inner = browser.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert scroll <= inner, f"horizontal scrollbar at phone width: {scroll} > {inner}"
    browser.set_window_size(1280, 900)

    # Sign out: back to the sign-in page, and the start page needs signing in again.
    browser.get(server + "/")
    s.click("logout")
    s.at("/login")
    assert browser.find_element(By.ID, "company-logo").is_displayed()
    browser.get(server + "/")
    s.at("/login")
    s.shot("signed-out-again")
    shutil.rmtree(png.parent, ignore_errors=True)
