"""Drives the person-management pages (manual 1.2) in headless Chromium, on a fresh gatehouse:
set up and sign in, add a department, add a person in it with a photo and a hexadecimal card (its
QR code shows), switch card numbers to decimal, find the person by the card number typed in
decimal, the card view with the photo, deleting the department refused with its counts, a batch
add of 3 persons going straight to card issuing where 2 typed numbers go to the next person
waiting (the marker moves), batch edit and delete of a selection, export to XLSX read back with openpyxl, an import refused row by row, and the pages at
phone width. A screenshot per step goes to $SCREENSHOT_DIR (names start with `persons-`).
"""

import shutil
import tempfile
import time
from pathlib import Path

import openpyxl

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from browserlib import Steps, no_horizontal_scroll, set_up_and_sign_in, tiny_png

HEX_CARD = "02224678"
DEC_CARD = "35800696"  # the same card in decimal


def type_into(s, element_id, text):
    el = s.d.find_element(By.ID, element_id)
    el.clear()
    el.send_keys(text)
    return el


def choose(s, element_id, visible_text):
    Select(s.d.find_element(By.ID, element_id)).select_by_visible_text(visible_text)


def full_shot(s, name):
    """A screenshot of the whole page, not only the window."""
    width, height = s.d.get_window_size()["width"], s.d.get_window_size()["height"]
    page = s.d.execute_script("return document.documentElement.scrollHeight")
    s.d.set_window_size(width, min(max(page + 140, height), 4000))
    s.shot(name)
    s.d.set_window_size(width, height)


def next_person(s):
    return s.wait(EC.presence_of_element_located((By.ID, "next-person"))).get_attribute("data-person")


def test_departments_person_cards_search_batch_issue(server, browser):
    s = Steps(browser, server, prefix="persons-")
    set_up_and_sign_in(s)

    # The start page's tile leads to the person page.
    s.click("nav-persons")
    s.at("/persons")
    assert "Nobody found" in s.text("found")
    s.shot("empty")

    # A department under the company.
    type_into(s, "dept-name", "Engineering")
    s.click("dept-add")
    s.at("/persons")
    assert "added" in s.text("notice")
    assert s.text("selected-dept") == "Company/Engineering"
    s.shot("department-added")

    # A person in it, with a photo and a hexadecimal card.
    s.click("add-person")
    s.at("/persons/new")
    type_into(s, "person-id", "1001")
    type_into(s, "person-name", "Ann Lee")
    choose(s, "person-department", "Company/Engineering")
    type_into(s, "person-card", HEX_CARD)
    browser.find_element(By.NAME, "email").send_keys("ann@example.org")
    png = Path(tempfile.mkdtemp(prefix="gatehouse-photo-")) / "ann.png"
    png.write_bytes(tiny_png(48, 48))
    browser.find_element(By.ID, "photo-file").send_keys(str(png))
    full_shot(s, "new-person-form")
    s.click("person-save")
    s.at("/persons/1001")
    assert "added" in s.text("notice")
    assert HEX_CARD in s.text("cards-table")
    photo = s.wait(EC.visibility_of_element_located((By.ID, "person-photo")))
    s.wait(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", photo))
    # An 8-hex-digit card has a QR code.
    s.click(f"qr-link-{HEX_CARD}")
    qr = s.wait(EC.visibility_of_element_located((By.ID, f"qr-{HEX_CARD}")))
    assert qr.find_element(By.TAG_NAME, "svg").is_displayed()
    full_shot(s, "person-with-card")

    # Saving the form again keeps the validity and changes what was typed.
    valid_to = browser.find_element(By.ID, "valid-to").get_attribute("value")
    type_into(s, "person-room", "01#01#302")
    type_into(s, "person-password", "12")
    s.click("person-save")
    assert "6 to 8 digits" in s.text("error")
    assert browser.find_element(By.ID, "person-room").get_attribute("value") == "01#01#302"
    type_into(s, "person-password", "123456")
    s.click("person-save")
    assert "saved" in s.text("notice")
    assert browser.find_element(By.ID, "person-room").get_attribute("value") == "01#01#302"
    assert browser.find_element(By.ID, "valid-to").get_attribute("value") == valid_to
    assert "A password is set" in s.text("basic-info")

    # A card refused by the domain: the reason in #error, the typed number kept.
    type_into(s, "card-number", "XYZ")
    s.click("card-add")
    assert "hexadecimal" in s.text("error")
    assert browser.find_element(By.ID, "card-number").get_attribute("value") == "XYZ"
    s.shot("card-refused")

    # Card numbers in decimal from now on.
    browser.get(server + "/persons")
    choose(s, "card-display", "Decimal")
    s.click("card-settings-save")
    s.at("/persons")
    assert "saved" in s.text("notice")
    assert DEC_CARD in s.text("persons-list")
    s.shot("decimal")

    # Find the person by the card number typed in decimal.
    type_into(s, "search-q", DEC_CARD)
    choose(s, "search-by", "card number")
    s.click("search")
    s.at("/persons")
    assert "of 1" in s.text("found")
    row = s.text("person-1001")
    assert "Ann Lee" in row and DEC_CARD in row
    s.shot("found-by-card")

    # The card view shows the photo.
    s.click("view-cards")
    card = s.wait(EC.visibility_of_element_located((By.ID, "person-1001")))
    img = card.find_element(By.TAG_NAME, "img")
    s.wait(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img))
    assert img.get_attribute("loading") == "lazy"
    s.shot("card-view")

    # Deleting a department that holds a person is refused with the counts.
    browser.get(server + "/persons")
    s.click("dept-2")
    s.wait(lambda d: s.text("selected-dept") == "Company/Engineering")
    browser.find_element(By.CSS_SELECTOR, "#departments .dept-actions details:last-of-type summary").click()
    s.click("dept-delete")
    error = s.text("error")
    assert "1 person(s)" in error and "0 sub-department(s)" in error, error
    s.shot("department-delete-refused")

    # Batch add of 3 persons goes straight to issuing their cards.
    s.click("batch-add")
    s.at("/persons/batch-add")
    type_into(s, "batch-start", "2001")
    type_into(s, "batch-count", "3")
    choose(s, "batch-add-department", "Company/Engineering")
    s.click("batch-add-submit")
    s.wait(lambda d: s.path().startswith("/persons/issue/"))
    assert next_person(s) == "2001"
    assert "0 of 3" in s.text("issue-count")
    s.shot("issue-start")

    # Two typed numbers (decimal now) go to the next person waiting; the marker moves.
    type_into(s, "issue-number", "1000001").send_keys(Keys.ENTER)
    s.wait(lambda d: "issued" in s.text("notice"))
    assert next_person(s) == "2002"
    assert "1000001" in s.text("issue-2001")
    type_into(s, "issue-number", "1000002").send_keys(Keys.ENTER)
    s.wait(lambda d: next_person(s) == "2003")
    assert "2 of 3" in s.text("issue-count")
    assert "1000002" in s.text("issue-2002")
    s.shot("issue-two-given")

    # A number already given is refused, and 2003 stays next.
    type_into(s, "issue-number", "1000001").send_keys(Keys.ENTER)
    assert "already" in s.text("error")
    assert next_person(s) == "2003"
    s.shot("issue-duplicate-refused")

    s.click("issue-stop")
    s.at("/persons")
    assert "stopped" in s.text("notice")
    assert "1000002" in s.text("persons-list")
    s.shot("after-issuing")

    # Batch edit of the selection: 2001 moves to the company itself.
    s.click("sel-2001")
    browser.find_element(By.CSS_SELECTOR, "#batch-edit-box summary").click()
    choose(s, "batch-department", "Company")
    s.click("batch-edit")
    assert "changed" in s.text("notice")
    assert "Company/Engineering" not in s.text("person-2001")

    # Delete the selection (2003, still without a card).
    s.click("sel-2003")
    browser.find_element(By.CSS_SELECTOR, "#delete-box summary").click()
    s.click("delete-selected")
    assert "deleted" in s.text("notice")
    assert not browser.find_elements(By.ID, "person-2003")
    assert "of 3" in s.text("found")
    s.shot("after-batch-edit-and-delete")

    # Export to XLSX (nothing selected: everyone found), read back with openpyxl.
    s.click("export-xlsx")
    deadline = time.time() + 45
    done = []
    while time.time() < deadline:
        done = [p for p in browser.download_dir.iterdir() if p.suffix == ".xlsx"]
        if done:
            break
        time.sleep(0.2)
    assert done, f"no .xlsx downloaded: {list(browser.download_dir.iterdir())}"
    assert done[0].read_bytes()[:2] == b"PK"
    sheet = openpyxl.load_workbook(done[0]).active
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    assert rows[0][0] == "Person ID", rows[0]
    assert any(r[0] == "1001" for r in rows[1:]), rows

    # The import page refuses a bad file row by row and changes nothing.
    browser.get(server + "/persons/transfer")
    bad = Path(browser.download_dir) / "bad.csv"
    header = ("Person ID,Name,Department,Type,Effective Time,Expiry Time,Password,Cards,Room,Gender,"
              "ID Type,ID Number,Phone,Email,Address,Company,Title,Remarks")
    bad.write_text(header + "\nbad id!,X" + "," * 16 + "\n4002,Y,,,,,123456789" + "," * 11 + "\n")
    browser.find_element(By.ID, "import-file").send_keys(str(bad))
    s.click("import-submit")
    table = s.wait(EC.visibility_of_element_located((By.ID, "import-errors")))
    rows_shown = [r.text for r in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert rows_shown[0].startswith("2 Person ID"), rows_shown
    assert any(r.startswith("3 Password") for r in rows_shown), rows_shown
    s.shot("import-refused")

    # Phone width: the list, the card view and the person form fit.
    browser.set_window_size(390, 844)
    for path, name in [
        ("/persons", "phone-list"),
        ("/persons?view=cards", "phone-cards"),
        ("/persons/1001", "phone-person"),
    ]:
        browser.get(server + path)
        s.wait(EC.presence_of_element_located((By.TAG_NAME, "footer")))
        no_horizontal_scroll(browser)
        full_shot(s, name)
    browser.set_window_size(1280, 900)
    shutil.rmtree(png.parent, ignore_errors=True)
