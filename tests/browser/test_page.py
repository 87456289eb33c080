"""Drives the real page in headless Chromium (Debian chromium + chromedriver, selenium).

Starts `gatehouse run` itself (binary from $GATEHOUSE_BIN, default target/debug/gatehouse; it
builds nothing), on a fresh data dir and a free port, and walks: first visit lands on setup, a weak
password shows the broken rule in #error, a good setup lands on the start page, sign-out, sign-in,
company name shown in the header, logo upload shown in the header, phone-width layout without a
horizontal scrollbar, sign-out. A screenshot is saved at each step into $SCREENSHOT_DIR (default
target/screenshots). Missing chromium or chromedriver is a failure, not a skip.
"""

import shutil
import tempfile
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from browserlib import PASSWORD, SETUP_QUESTIONS, USER, Steps, tiny_png


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
