//! Person import and export (manual 1.2.5.3–1.2.5.4) against the real binary over HTTPS: the
//! templates, a good import, a file full of bad rows refused whole with every row listed and the
//! store untouched, an XLSX round trip between two servers without loss, and the decimal display
//! base in exports.

mod common;

use std::io::Cursor;

use calamine::{Data, Reader};
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

const HEADER: &str = "Person ID,Name,Department,Type,Effective Time,Expiry Time,Password,Cards,Room,Gender,ID Type,ID Number,Phone,Email,Address,Company,Title,Remarks";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

struct Api {
    s: Server,
    c: reqwest::Client,
    tok: String,
}

impl Api {
    async fn start() -> Api {
        let s = Server::start(&[]);
        setup(&s).await;
        let tok = admin_token(&s).await;
        Api {
            s,
            c: client(),
            tok,
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.c
            .get(self.s.url(path))
            .bearer_auth(&self.tok)
            .send()
            .await
            .unwrap()
    }

    async fn import(&self, format: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let r = self
            .c
            .post(
                self.s
                    .url(&format!("/api/v1/persons/import?format={format}")),
            )
            .bearer_auth(&self.tok)
            .body(body)
            .send()
            .await
            .unwrap();
        let st = r.status();
        (st, r.json().await.unwrap_or(Value::Null))
    }

    async fn export(&self, format: &str) -> Vec<u8> {
        let r = self
            .get(&format!("/api/v1/persons/export?format={format}"))
            .await;
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap().to_vec()
    }
}

fn csv(rows: &[&str]) -> Vec<u8> {
    let mut s = HEADER.to_owned();
    for r in rows {
        s.push('\n');
        s.push_str(r);
    }
    s.into_bytes()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .trim_start_matches('\u{feff}')
        .to_owned()
}

/// Every cell of the first sheet, as text.
fn cells(xlsx: &[u8]) -> Vec<Vec<String>> {
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(xlsx)).unwrap();
    let range = wb.worksheet_range_at(0).unwrap().unwrap();
    range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::Empty => String::new(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn templates_download_as_csv_and_xlsx() {
    let a = Api::start().await;
    let r = a.get("/api/v1/persons/template?format=csv").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let cd = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cd.starts_with("attachment;") && cd.contains(".csv"), "{cd}");
    let t = text(&r.bytes().await.unwrap());
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 2, "{t}");
    assert_eq!(lines[0], HEADER);
    assert!(lines[1].starts_with("1001,Alice Martin,Company/HR,general,"));

    let r = a.get("/api/v1/persons/template?format=xlsx").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], XLSX);
    let cd = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cd.contains(".xlsx"), "{cd}");
    let rows = cells(&r.bytes().await.unwrap());
    assert_eq!(rows[0].join(","), HEADER);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1][7], "02224678:m;0A0B0C0D");

    // the template imports as is
    let t = a.get("/api/v1/persons/template?format=xlsx").await;
    let (st, v) = a.import("xlsx", t.bytes().await.unwrap().to_vec()).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v,
        json!({"imported": 1, "created": 1, "updated": 0, "departments_created": 1})
    );

    // signed-out callers get nothing
    let r =
        a.c.get(a.s.url("/api/v1/persons/template?format=csv"))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn a_good_csv_creates_and_then_updates_persons() {
    let a = Api::start().await;
    let (st, v) = a
        .import(
            "csv",
            csv(&[
                "2001,Ann Lee,Company/Sales/East,vip,2026-01-01 08:00:00,2027-01-01 08:00:00,246810,11223344:m;55667788:d,0203,female,,,,ann@example.com,,,,",
                "2002,Bo Chan,Sales,guest,,,,,,,,,,,,,,",
            ]),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v,
        json!({"imported": 2, "created": 2, "updated": 0, "departments_created": 2})
    );
    let out = text(&a.export("csv").await);
    assert!(out.contains("2001,Ann Lee,Company/Sales/East,vip,2026-01-01 08:00:00,2027-01-01 08:00:00,246810,11223344:m;55667788:d,0203,female,,,,ann@example.com,,,,"), "{out}");
    assert!(out.contains("2002,Bo Chan,Company/Sales,guest,"), "{out}");

    // the same ID again is an update; its cards are replaced by the row's
    let (st, v) = a
        .import(
            "csv",
            csv(&["2001,Ann Lee-Smith,Sales,vip,,,,55667788,,,,,,,,,,"]),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v,
        json!({"imported": 1, "created": 0, "updated": 1, "departments_created": 0})
    );
    let out = text(&a.export("csv").await);
    assert!(out.contains("2001,Ann Lee-Smith,Company/Sales,vip,2026-01-01 08:00:00,2027-01-01 08:00:00,,55667788:m,"), "{out}");

    // the selection only
    let r = a.get("/api/v1/persons/export?format=csv&ids=2002").await;
    let sel = text(&r.bytes().await.unwrap());
    assert_eq!(sel.lines().count(), 2);
    assert!(sel.contains("2002,Bo Chan"));
    let r = a.get("/api/v1/persons/export?format=csv&ids=nobody").await;
    assert_eq!(r.status(), 404);

    // one audit entry per import and export
    let r = a.get("/api/v1/audit?action=person.import").await;
    let v: Value = r.json().await.unwrap();
    let n = v
        .as_array()
        .map(|a| a.iter().filter(|e| e["action"] == "person.import").count())
        .unwrap_or(0);
    assert_eq!(n, 2, "{v}");
}

#[tokio::test]
async fn bad_rows_are_all_listed_and_nothing_changes() {
    let a = Api::start().await;
    let (st, _) = a
        .import("csv", csv(&["3000,Kept,,,,,,0A0A0A0A,,,,,,,,,,"]))
        .await;
    assert_eq!(st, 200);
    let before_csv = a.export("csv").await;
    let before_xlsx = cells(&a.export("xlsx").await);

    let (st, v) = a
        .import(
            "csv",
            csv(&[
                "3001,Fine,,,,,,01010101,,,,,,,,,,",
                "bad id!,Bad ID,,,,,,,,,,,,,,,,",
                "3003,Dup card,,,,,,1010101,,,,,,,,,,",
                "3004,Six cards,,,,,,1;2;3;4;5;6,,,,,,,,,,",
                "3005,Long pw,,,,,123456789,,,,,,,,,,,",
                "3006,Backwards,,,2026-05-01 00:00:00,2026-04-01 00:00:00,,,,,,,,,,,,",
                "3007,Wizard,,wizard,,,,,,,,,,,,,,",
                "3008,Taken,,,,,,0A0A0A0A,,,,,,,,,,",
                "3009,Also fine,,,,,,,,,,,,,,,,",
            ]),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"], "import_rejected");
    assert_eq!(v["field"], Value::Null);
    assert_eq!(
        v["message"], "7 rows have errors; nothing was imported",
        "{v}"
    );
    let got: Vec<(u64, String)> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(e["reason"].as_str().unwrap().len() > 5, "{e}");
            (
                e["row"].as_u64().unwrap(),
                e["column"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: Vec<(u64, String)> = [
        (3, "Person ID"),
        (4, "Cards"),
        (5, "Cards"),
        (6, "Password"),
        (7, "Expiry Time"),
        (8, "Type"),
        (9, "Cards"),
    ]
    .iter()
    .map(|(r, c)| (*r, (*c).to_owned()))
    .collect();
    assert_eq!(got, want, "{v}");
    assert!(v["rows"][1]["reason"]
        .as_str()
        .unwrap()
        .contains("also in row 2"));
    assert!(v["rows"][6]["reason"]
        .as_str()
        .unwrap()
        .contains("\"3000\""));

    assert_eq!(a.export("csv").await, before_csv);
    assert_eq!(cells(&a.export("xlsx").await), before_xlsx);

    // a wrong header, or a file that is not what it claims, is refused the same way
    let (st, v) = a.import("csv", b"ID,Name\n1,Someone\n".to_vec()).await;
    assert_eq!(st, 422);
    assert_eq!(v["rows"][0]["row"], 1, "{v}");
    let (st, v) = a.import("xlsx", b"not a zip".to_vec()).await;
    assert_eq!(st, 422);
    assert_eq!(v["rows"][0]["column"], "file", "{v}");
    assert_eq!(a.export("csv").await, before_csv);

    // more than 32 MiB is refused before it is read
    let (st, v) = a.import("csv", vec![b'x'; 32 * 1024 * 1024 + 1]).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(v["error"], "too_large");
}

#[tokio::test]
async fn xlsx_export_reimports_into_a_fresh_server_without_loss() {
    let a = Api::start().await;
    let kinds = ["general", "guest", "vip", "patrol", "blocklist", "other"];
    let mut rows = Vec::new();
    for i in 0..40u32 {
        let flags = ["m", "md", "mf", "mdf"][i as usize % 4];
        rows.push(format!(
            "R{i:03},Person {i} \"Q\",Company/Dept {}/Team {},{},2026-0{}-0{} 0{}:1{}:2{},2036-01-01 00:00:00,{},{:08X}:{flags};{:08X}:d;{:08X}:f,{},{},passport,N{i},+1 555 {i},p{i}@example.com,\"{i} Road, Town\",Co {i},Title {i},\"=not a formula; line\"",
            i % 3,
            i % 2,
            kinds[i as usize % 6],
            1 + i % 9,
            1 + i % 9,
            i % 10,
            i % 10,
            i % 10,
            if i % 2 == 0 { format!("{}", 100000 + i) } else { String::new() },
            0x1000_0000 + i,
            0x2000_0000 + i,
            0x3000_0000 + i,
            if i % 3 == 0 { format!("{:04}", i) } else { String::new() },
            ["male", "female", ""][i as usize % 3],
        ));
    }
    let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
    let (st, v) = a.import("csv", csv(&refs)).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["created"], 40);

    let first = a.export("xlsx").await;
    let b = Api::start().await;
    let (st, v) = b.import("xlsx", first.clone()).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["created"], 40);
    let second = b.export("xlsx").await;
    let (c1, c2) = (cells(&first), cells(&second));
    assert_eq!(c1.len(), 41);
    assert_eq!(c1, c2);
    assert_eq!(a.export("csv").await, b.export("csv").await);
    // every field and flag made it
    let r7 = c1.iter().find(|r| r[0] == "R007").unwrap();
    assert_eq!(
        r7[..9].join("|"),
        "R007|Person 7 \"Q\"|Company/Dept 1/Team 1|guest|2026-08-08 07:17:27|2036-01-01 00:00:00||10000007:mdf;20000007:d;30000007:f|"
    );
    assert_eq!(r7[17], "=not a formula; line");
}

#[tokio::test]
async fn exports_follow_the_decimal_display_base() {
    let a = Api::start().await;
    let (st, _) = a
        .import(
            "csv",
            csv(&["4001,Dec,,,,,,02224678:m;0A0B0C0D:df,,,,,,,,,,"]),
        )
        .await;
    assert_eq!(st, 200);
    let r =
        a.c.put(a.s.url("/api/v1/card-settings"))
            .bearer_auth(&a.tok)
            .json(&json!({"card_type": "ic", "display": "decimal"}))
            .send()
            .await
            .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let out = text(&a.export("csv").await);
    assert!(out.contains("4001,Dec,Company,general,"), "{out}");
    assert!(out.contains(",35800696:m;168496141:df,"), "{out}");
    let t = text(
        &a.get("/api/v1/persons/template?format=csv")
            .await
            .bytes()
            .await
            .unwrap(),
    );
    assert!(t.contains("35800696:m;168496141"), "{t}");
    // decimal numbers import back to the same cards
    let (st, v) = a.import("csv", out.into_bytes()).await;
    assert_eq!((st, v["updated"].clone()), (StatusCode::OK, json!(1)));
}
