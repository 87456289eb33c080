//! Import of devices through a ConfigTool-style template (manual 3.2) over real HTTP against the
//! real binary: the template in both formats, a file with bad rows refused with every row reported
//! and nothing changed, and a good file creating devices and their registration numbers.

mod common;

use std::io::Cursor;

use calamine::{Data, Reader};
use common::*;
use reqwest::Method as M;
use reqwest::StatusCode;
use serde_json::{json, Value};

const HEADER: &str = "Type,Name,IP,Port,User,Password,Device Number,Organization,Extension";

async fn call(s: &Server, tok: &str, m: M, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut r = client().request(m, s.url(path)).bearer_auth(tok);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let st = r.status();
    (st, r.json().await.unwrap_or(Value::Null))
}

async fn import(s: &Server, tok: &str, format: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let r = client()
        .post(s.url(&format!(
            "/api/v1/devices/configtool-import?format={format}"
        )))
        .bearer_auth(tok)
        .body(body)
        .send()
        .await
        .unwrap();
    let st = r.status();
    (st, r.json().await.unwrap_or(Value::Null))
}

/// Building 01, unit 01, room 302.
async fn organization(s: &Server, t: &str) {
    let (st, b) = call(
        s,
        t,
        M::POST,
        "/api/v1/organization/buildings",
        Some(json!({"number": "01"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let (st, u) = call(
        s,
        t,
        M::POST,
        "/api/v1/organization/units",
        Some(json!({"building": b["id"], "number": "01"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{u}");
    let (st, r) = call(
        s,
        t,
        M::POST,
        "/api/v1/organization/rooms",
        Some(json!({"unit": u["id"], "number": "302"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{r}");
}

fn csv(rows: &[&str]) -> Vec<u8> {
    let mut s = HEADER.to_owned();
    for r in rows {
        s.push('\n');
        s.push_str(r);
    }
    s.into_bytes()
}

#[tokio::test]
async fn template_downloads_as_csv_and_xlsx() {
    let s = Server::start(&[]);
    setup(&s).await;
    let t = admin_token(&s).await;
    let r = client()
        .get(s.url("/api/v1/devices/configtool-template?format=csv"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let body = r.bytes().await.unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0], HEADER);
    assert!(lines[1].starts_with("VTH,"), "{}", lines[1]);

    let r = client()
        .get(s.url("/api/v1/devices/configtool-template?format=xlsx"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cd = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cd.contains("configtool-template.xlsx"), "{cd}");
    let bytes = r.bytes().await.unwrap().to_vec();
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(&bytes)).unwrap();
    let range = wb.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::Empty => String::new(),
                    o => o.to_string(),
                })
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].join(","), HEADER);
    assert_eq!(rows[1][7], "01#01#302");

    // the template imports as is once its room exists
    organization(&s, &t).await;
    let (st, v) = import(&s, &t, "xlsx", bytes).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["registrations"][0]["number"], "01#01#302#1");

    // signed-out callers get nothing
    let r = client()
        .get(s.url("/api/v1/devices/configtool-template?format=csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn bad_rows_are_all_reported_and_nothing_changes() {
    let s = Server::start(&[]);
    setup(&s).await;
    let t = admin_token(&s).await;
    organization(&s, &t).await;
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        "/api/v1/devices",
        Some(json!({"name": "Existing", "kind": "vth", "ip": "10.0.0.9", "number": "9999"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (_, before) = call(&s, &t, M::GET, "/api/v1/devices", None).await;
    let (_, regs_before) = call(&s, &t, M::GET, "/api/v1/registrations", None).await;

    let file = csv(&[
        "VTH,existing,10.0.0.1,,,,1,01#01#302,", // 2: name taken in the store
        "VTH,X,10.0.0.2,,,,2,09#01#302,",        // 3: no such room
        "VTO,Door,10.0.0.3,,,,8055,01#01,",      // 4: fine
        "VTO,Door 2,10.0.0.4,,,,8055,1#1,",      // 5: same number as row 4
        "VTS,door,10.0.0.5,,,,101,,",            // 6: name of row 4
        "VTH,W,not-an-ip,,,,3,01#01#302,5",      // 7: IP
        "Robot,R,10.0.0.7,,,,4,,",               // 8: type
        "Manager Client,M,10.0.0.8,,,,5,01#01,", // 9: organization not allowed
        "VTO,Fence?,10.0.0.9,,,,8077,01#01,3",   // 10: extension on a VTO
        "",
    ]);
    {
        let (st, v) = import(&s, &t, "csv", file).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["error"], "import_rejected");
        let got: Vec<(u64, String)> = v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["row"].as_u64().unwrap(),
                    r["column"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let want: Vec<(u64, String)> = [
            (2, "Name"),
            (3, "Organization"),
            (5, "Device Number"),
            (6, "Name"),
            (7, "IP"),
            (8, "Type"),
            (9, "Organization"),
            (10, "Extension"),
        ]
        .iter()
        .map(|(r, c)| (*r, (*c).to_owned()))
        .collect();
        assert_eq!(got, want, "{v}");
    }
    let (_, after) = call(&s, &t, M::GET, "/api/v1/devices", None).await;
    assert_eq!(before, after);
    let (_, regs_after) = call(&s, &t, M::GET, "/api/v1/registrations", None).await;
    assert_eq!(regs_before, regs_after);

    // a file that is not a workbook is refused as a whole
    let (st, _) = import(&s, &t, "xlsx", b"not a zip".to_vec()).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_good_file_creates_devices_and_registrations() {
    let s = Server::start(&[]);
    setup(&s).await;
    let t = admin_token(&s).await;
    organization(&s, &t).await;
    let file = csv(&[
        "VTH,Monitor 302,10.0.0.10,,,secret1,9901,01#01#302,",
        "VTH,Monitor 302 bis,10.0.0.11,,,,9902,01#01#302,2",
        "VTO,Door 1,10.0.0.20,8080,admin,pw,8055,01#01,",
        "VTS,Master,10.0.0.30,,,,101,,",
        "Manager Client,Desk,10.0.0.40,,,,5001,,",
    ]);
    let (st, v) = import(&s, &t, "csv", file).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["devices"], 5);
    let made = v["registrations"].as_array().unwrap();
    assert_eq!(made.len(), 4);
    assert!(made
        .iter()
        .all(|r| r["sip_password"].as_str().unwrap().len() == 20));

    let (_, devs) = call(&s, &t, M::GET, "/api/v1/devices", None).await;
    let devs = devs.as_array().unwrap();
    assert_eq!(devs.len(), 5);
    let door = devs.iter().find(|d| d["name"] == "Door 1").unwrap();
    assert_eq!(door["port"], 8080);
    assert_eq!(door["password_set"], true);
    assert_eq!(door["kind"], "vto");

    let (_, regs) = call(&s, &t, M::GET, "/api/v1/registrations", None).await;
    let mut numbers: Vec<&str> = regs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["number"].as_str().unwrap())
        .collect();
    numbers.sort();
    assert_eq!(numbers, ["01#01#302", "01#01#302#2", "01#01#8055", "101"]);
    assert!(!regs
        .to_string()
        .contains(made[0]["sip_password"].as_str().unwrap()));

    // importing the same file again is refused: the names exist
    let (st, v) = import(&s, &t, "csv", csv(&["VTS,Master,10.0.0.30,,,,101,,"])).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["rows"][0]["column"], "Name");
}
