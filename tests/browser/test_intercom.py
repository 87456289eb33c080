"""Drives the intercom-configuration pages (manual 3.1–3.3) in headless Chromium, on a fresh
gatehouse: set up and sign in, batch-create an organization (1 building x 1 unit x 2 floors x 2
rooms), add a VTH on the device page, give it the registration number of room 101 on the dial page
(`01#01#101`, the SIP password shown once), set room 101's unlock password typed twice (shown as
set, with a sending status per device), and a 5-digit password refused with the rule. A screenshot
per step goes to $SCREENSHOT_DIR (names start with `intercom-`).
"""

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from browserlib import Steps, no_horizontal_scroll, set_up_and_sign_in


def type_into(s, element_id, text):
    el = s.d.find_element(By.ID, element_id)
    el.clear()
    el.send_keys(text)
    return el


def choose(s, element_id, visible_text):
    Select(s.d.find_element(By.ID, element_id)).select_by_visible_text(visible_text)



def room_id(s, code):
    row = s.d.find_element(By.XPATH, f"//table[@id='rooms']//tr[.//code[text()='{code}']]")
    return row.get_attribute("id").removeprefix("room-")


def password_form(s, rid, password, confirm):
    s.d.find_element(By.CSS_SELECTOR, f"#room-{rid} details.inline-actions summary").click()
    form = s.d.find_element(By.ID, f"room-password-{rid}")
    form.find_element(By.NAME, "password").send_keys(password)
    form.find_element(By.NAME, "confirm").send_keys(confirm)
    s.reloads(form.find_element(By.CSS_SELECTOR, "button[type=submit]").click)


def test_organization_vth_dial_and_room_password(server, browser):
    s = Steps(browser, server, prefix="intercom-")
    set_up_and_sign_in(s)

    s.d.get(s.base + "/intercom")
    s.at("/intercom")
    s.shot("empty")

    # Batch creation while the organization is empty.
    type_into(s, "batch-buildings", "1")
    type_into(s, "batch-units", "1")
    type_into(s, "batch-floors", "2")
    type_into(s, "batch-rooms", "2")
    s.reloads(lambda: s.click("batch-submit"))
    s.at("/intercom")
    assert "created" in s.text("notice")
    assert "4 rooms" in s.text("org-tree")
    s.shot("organization")

    # A VTH in the device registry.
    s.d.get(s.base + "/intercom/devices")
    s.at("/intercom/devices")
    form = s.d.find_element(By.ID, "device-form")
    for name, value in {"name": "VTH 101", "ip": "192.0.2.41", "number": "9901"}.items():
        form.find_element(By.NAME, name).send_keys(value)
    Select(form.find_element(By.NAME, "kind")).select_by_visible_text("VTH (indoor monitor)")
    s.reloads(lambda: s.click("add-device"))
    s.at("/intercom/devices")
    assert "added" in s.text("notice")
    assert "VTH 101" in s.text("devices")
    s.shot("device-added")

    # Its registration number for room 101; the SIP password is shown once.
    s.d.get(s.base + "/intercom")
    s.reloads(lambda: s.click("nav-dial"))
    s.at("/intercom/dial")
    choose(s, "dial-device", "VTH 101 (VTH (indoor monitor), 9901)")
    choose(s, "dial-type", "VTH (indoor monitor)")
    choose(s, "dial-room", "01#01#101")
    s.reloads(lambda: s.click("dial-add"))
    assert "01#01#101" in s.text("dial-vth")
    sip = s.text("sip-password")
    assert len(sip) >= 8, sip
    s.shot("registration-added")
    s.d.get(s.base + "/intercom/dial")
    assert "01#01#101" in s.text("dial-vth")
    assert not s.d.find_elements(By.ID, "sip-password"), "the SIP password is shown only once"
    assert sip not in s.d.page_source
    s.shot("registration-listed")

    # Room 101's unlock password, typed twice.
    s.d.get(s.base + "/intercom/rooms")
    s.at("/intercom/rooms")
    rid = room_id(s, "01#01#101")
    password_form(s, rid, "246813", "246813")
    s.at("/intercom/rooms")
    assert "unlock password was set" in s.text("notice")
    assert s.text(f"password-state-{rid}") == "set"
    status = s.text(f"send-status-{rid}")
    assert "VTH 101" in status and any(w in status for w in ("pending", "sent", "failed")), status
    s.shot("room-password-set")

    # Five digits are refused with the rule; the list is shown again.
    password_form(s, rid, "12345", "12345")
    assert "6 to 8 digits" in s.text("error")
    s.shot("room-password-refused")

    # Call groups (manual 3.4): a VTS and a manager client as members, reordered.
    for name, kind, number in (("Guard VTS", "VTS (master station)", "888801"),
                               ("Desk client", "Manager client", "888802")):
        s.d.get(s.base + "/intercom/devices")
        form = s.d.find_element(By.ID, "device-form")
        for field, value in {"name": name, "ip": "192.0.2.50", "number": number}.items():
            form.find_element(By.NAME, field).send_keys(value)
        Select(form.find_element(By.NAME, "kind")).select_by_visible_text(kind)
        s.reloads(lambda: s.click("add-device"))
        assert "added" in s.text("notice")
    s.d.get(s.base + "/intercom")
    s.reloads(lambda: s.click("nav-call-groups"))
    s.at("/intercom/call-groups")
    type_into(s, "group-name", "Guards")
    type_into(s, "group-ring", "20")
    Select(s.d.find_element(By.ID, "group-buildings")).select_by_index(0)
    s.reloads(lambda: s.click("group-add"))
    assert "added" in s.text("notice")
    group = s.d.find_element(By.CSS_SELECTOR, "section[id^=group-]")
    gid = group.get_attribute("id").removeprefix("group-")
    offered = [o.text for o in group.find_elements(By.CSS_SELECTOR, "select[name=device] option")]
    assert all("VTH" not in o for o in offered), offered
    for label in ("Guard VTS", "Desk client"):
        group = s.d.find_element(By.ID, f"group-{gid}")
        sel = Select(group.find_element(By.NAME, "device"))
        sel.select_by_visible_text(next(o for o in offered if o.startswith(label)))
        s.reloads(group.find_element(By.XPATH, ".//button[text()='Add member']").click)
        assert "changed" in s.text("notice")
    rows = s.d.find_elements(By.CSS_SELECTOR, f"#members-{gid} tbody tr")
    assert "Guard VTS" in rows[0].text and "Desk client" in rows[1].text
    s.reloads(rows[1].find_element(By.XPATH, ".//button[text()='Up']").click)
    assert "changed" in s.text("notice")
    rows = s.d.find_elements(By.CSS_SELECTOR, f"#members-{gid} tbody tr")
    assert "Desk client" in rows[0].text and "Guard VTS" in rows[1].text
    s.shot("call-group")

    # Information release (manual 3.5): only VTO/VTH with a registration number are targets.
    s.d.get(s.base + "/intercom")
    s.reloads(lambda: s.click("nav-notices"))
    s.at("/intercom/notices")
    targets = s.d.find_element(By.ID, "notice-targets").text
    assert "VTH 101" in targets and "Guard VTS" not in targets, targets
    type_into(s, "notice-subject", "Water off")
    type_into(s, "notice-text", "x" * 1001)
    s.d.execute_script("document.getElementById('notice-text').removeAttribute('maxlength')")
    type_into(s, "notice-text", "x" * 1001)
    s.d.execute_script("document.getElementById('notice-start').value = '2026-12-24T08:00'")
    s.d.find_element(By.CSS_SELECTOR, "#notice-targets input[type=checkbox]").click()
    s.reloads(lambda: s.click("notice-submit"))
    assert s.text("error")
    assert s.d.find_element(By.ID, "notice-subject").get_attribute("value") == "Water off"
    s.shot("notice-refused")
    type_into(s, "notice-text", "Tuesday 9-12 the water is off.")
    s.reloads(lambda: s.click("notice-submit"))
    assert "draft" in s.text("notice")
    assert s.text("notice-state") == "draft"
    assert "pending" in s.text("notice-devices")
    s.reloads(lambda: s.click("notice-release"))
    assert "released" in s.text("notice")
    assert s.text("notice-state") == "released"
    assert not s.d.find_elements(By.ID, "notice-delete")
    s.shot("notice-released")

    # Phone width.
    s.d.set_window_size(390, 844)
    for path in ("/intercom/dial", "/intercom/call-groups", "/intercom/notices", "/intercom/rooms"):
        s.d.get(s.base + path)
        s.wait(EC.presence_of_element_located((By.TAG_NAME, "main")))
        no_horizontal_scroll(s.d)
    s.shot("phone-rooms")
    s.d.set_window_size(1280, 900)
