"""The XLSX files of person import/export (manual 1.2.5.3-4) open in openpyxl, an independent
reader: the template has the header and one example row, and an export shows the imported persons
with every column."""

import io

import openpyxl
import requests
import urllib3

urllib3.disable_warnings()

HEADER = ["Person ID", "Name", "Department", "Type", "Effective Time", "Expiry Time", "Password",
          "Cards", "Room", "Gender", "ID Type", "ID Number", "Phone", "Email", "Address",
          "Company", "Title", "Remarks"]
QUESTIONS = [{"question": q, "answer": a}
             for q, a in [("First school?", "Elm"), ("Birth city?", "Lyon"), ("Pet?", "Rex")]]


def session(g):
    r = requests.post(g.url("/api/v1/setup"), verify=False, timeout=10,
                      json={"username": "admin", "password": "Kp7!wQz2",
                            "security_questions": QUESTIONS})
    assert r.status_code == 201, r.text
    r = requests.post(g.url("/api/v1/session"), verify=False, timeout=10,
                      json={"username": "admin", "password": "Kp7!wQz2"})
    token = r.json()["token"]

    class Api:
        # verify=False on each call: a session's own setting loses to REQUESTS_CA_BUNDLE
        @staticmethod
        def get(url, **kw):
            return requests.get(url, verify=False, headers={"Authorization": "Bearer " + token}, **kw)

        @staticmethod
        def post(url, **kw):
            return requests.post(url, verify=False, headers={"Authorization": "Bearer " + token}, **kw)

    return Api


def sheet_rows(content):
    wb = openpyxl.load_workbook(io.BytesIO(content))
    ws = wb.worksheets[0]
    return [[("" if c is None else str(c)) for c in row] for row in ws.iter_rows(values_only=True)]


def test_template_opens_with_header_and_example(gatehouse):
    s = session(gatehouse)
    r = s.get(gatehouse.url("/api/v1/persons/template?format=xlsx"), timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in r.headers["content-disposition"]
    rows = sheet_rows(r.content)
    assert rows[0] == HEADER
    assert len(rows) == 2
    assert rows[1][:4] == ["1001", "Alice Martin", "Company/HR", "general"]
    assert rows[1][7] == "02224678:m;0A0B0C0D"


def test_export_opens_with_imported_rows(gatehouse):
    s = session(gatehouse)
    csv = ",".join(HEADER) + "\n" + "\n".join([
        "0042,Zoë Ångström,Company/Lab,patrol,2026-02-01 06:00:00,2027-02-01 06:00:00,"
        "1234567,00ABCDEF:md;12345678:f,0301,female,passport,P42,+44 20,zoe@example.com,"
        "\"1 Quay, Port\",Lab Co,Chemist,night shift",
        "0043,Ian Roe,,,,,,,,,,,,,,,,",
    ]) + "\n"
    r = s.post(gatehouse.url("/api/v1/persons/import?format=csv"), data=csv.encode(), timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 2
    r = s.get(gatehouse.url("/api/v1/persons/export?format=xlsx"), timeout=10)
    assert r.status_code == 200
    rows = sheet_rows(r.content)
    assert rows[0] == HEADER
    assert len(rows) == 3
    assert rows[1] == ["0042", "Zoë Ångström", "Company/Lab", "patrol", "2026-02-01 06:00:00",
                       "2027-02-01 06:00:00", "1234567", "00ABCDEF:md;12345678:f", "0301",
                       "female", "passport", "P42", "+44 20", "zoe@example.com", "1 Quay, Port",
                       "Lab Co", "Chemist", "night shift"]
    assert rows[2][:4] == ["0043", "Ian Roe", "Company", "general"]
    # only the selected
    r = s.get(gatehouse.url("/api/v1/persons/export?format=xlsx&ids=0043"), timeout=10)
    assert [row[0] for row in sheet_rows(r.content)] == ["Person ID", "0043"]
