//! Person management end to end over real HTTP against the real binary and store: departments,
//! card settings, persons with every field and card rule, photo, QR, search, batch add with
//! card issuing, batch issue cards and batch edit — with the failure cases.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

struct Api {
    s: Server,
    c: reqwest::Client,
    tok: String,
}

impl Api {
    async fn new() -> Api {
        let s = Server::start(&[]);
        setup(&s).await;
        let tok = admin_token(&s).await;
        Api {
            s,
            c: client(),
            tok,
        }
    }
    async fn call(
        &self,
        m: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut r = self.c.request(m, self.s.url(path)).bearer_auth(&self.tok);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.expect("request");
        let st = r.status();
        (st, r.json().await.unwrap_or(Value::Null))
    }
    async fn get(&self, p: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, p, None).await
    }
    async fn post(&self, p: &str, b: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, p, Some(b)).await
    }
    async fn patch(&self, p: &str, b: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::PATCH, p, Some(b)).await
    }
    async fn put(&self, p: &str, b: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::PUT, p, Some(b)).await
    }
    async fn delete(&self, p: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::DELETE, p, None).await
    }
}

fn code(v: &Value) -> &str {
    v["error"].as_str().unwrap_or("")
}

#[tokio::test]
async fn departments_tree_rules() {
    let a = Api::new().await;
    let (st, v) = a.get("/api/v1/departments").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v[0]["id"], 1);
    let (st, hr) = a
        .post("/api/v1/departments", json!({"parent": 1, "name": "HR"}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{hr}");
    let hr = hr["id"].as_u64().unwrap();
    let (st, pay) = a
        .post(
            "/api/v1/departments",
            json!({"parent": hr, "name": "Payroll"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(pay["path"], "Company/HR/Payroll");
    let pay = pay["id"].as_u64().unwrap();
    // unique among siblings (any case), but the same name elsewhere is fine
    let (st, v) = a
        .post("/api/v1/departments", json!({"parent": 1, "name": "hr"}))
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::CONFLICT, "department_name_taken")
    );
    assert_eq!(
        a.post("/api/v1/departments", json!({"parent": pay, "name": "HR"}))
            .await
            .0,
        StatusCode::CREATED
    );
    let (st, v) = a
        .post("/api/v1/departments", json!({"parent": 999, "name": "X"}))
        .await;
    assert_eq!(
        (st, v["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("parent"))
    );
    let (st, v) = a
        .patch(
            &format!("/api/v1/departments/{hr}"),
            json!({"name": "People"}),
        )
        .await;
    assert_eq!(
        (st, v["path"].clone()),
        (StatusCode::OK, json!("Company/People"))
    );
    // delete refused while it holds persons or sub-departments, with the counts
    a.post(
        "/api/v1/persons",
        json!({"id": "P1", "name": "Ann", "department": hr}),
    )
    .await;
    let (st, v) = a.delete(&format!("/api/v1/departments/{hr}")).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::CONFLICT, "department_not_empty")
    );
    let m = v["message"].as_str().unwrap();
    assert!(
        m.contains("1 person(s)") && m.contains("1 sub-department(s)"),
        "{m}"
    );
    let (st, v) = a.delete("/api/v1/departments/1").await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "department_root")
    );
    let (_, list) = a.get("/api/v1/departments").await;
    let people = list
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == hr)
        .unwrap();
    assert_eq!(
        (people["persons"].clone(), people["children"].clone()),
        (json!(1), json!(1))
    );
}

#[tokio::test]
async fn persons_fields_and_card_rules() {
    let a = Api::new().await;
    let full = json!({
        "id": "1001", "name": "Ann Lee", "type": "vip",
        "valid_from": "2026-01-01T00:00:00Z", "valid_to": "2030-12-31",
        "password": "123456", "room": "01#01#302",
        "more": {"gender": "female", "id_type": "passport", "id_number": "X123", "phone": "+33 1 23",
                 "email": "ann@example.org", "address": "1 Main St", "company": "Acme", "title": "CFO", "remarks": "night shift"},
        "cards": [{"number": "2224678"}, {"number": "0A0B0C0D", "duress": true}]
    });
    let (st, p) = a.post("/api/v1/persons", full.clone()).await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    assert_eq!(p["type"], "vip");
    assert_eq!(p["valid_to"], "2030-12-31T23:59:59Z");
    assert_eq!(p["password_set"], true);
    assert!(p.get("password").is_none(), "the password is never shown");
    assert_eq!(p["more"]["title"], "CFO");
    assert_eq!(p["cards"][0]["number"], "02224678");
    assert_eq!(p["cards"][0]["main"], true);
    assert_eq!(p["cards"][1]["main"], false);
    assert_eq!(p["cards"][1]["duress"], true);
    assert_eq!(p["cards"][0]["qr"], true);

    // defaults: now → ten years on
    let (_, d) = a
        .post("/api/v1/persons", json!({"id": "1002", "name": "Bo"}))
        .await;
    let from = d["valid_from"].as_str().unwrap()[..4]
        .parse::<i32>()
        .unwrap();
    let to = d["valid_to"].as_str().unwrap()[..4].parse::<i32>().unwrap();
    assert_eq!(to - from, 10, "{d}");

    // failure cases, each naming its rule and changing nothing
    let cases = [
        (
            json!({"id": "1001", "name": "Dup"}),
            StatusCode::CONFLICT,
            "person_id_taken",
        ),
        (
            json!({"id": "bad-id!", "name": "X"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "person_id_format",
        ),
        (
            json!({"id": "A".repeat(31), "name": "X"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "person_id_format",
        ),
        (
            json!({"id": "2001", "name": "X", "password": "123456789"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "person_password_format",
        ),
        (
            json!({"id": "2001", "name": "X", "password": "12a456"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "person_password_format",
        ),
        (
            json!({"id": "2001", "name": "X", "valid_from": "2027-01-01", "valid_to": "2026-01-01"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validity_order",
        ),
        (
            json!({"id": "2001", "name": "X", "cards": [{"number": "2224678"}]}),
            StatusCode::CONFLICT,
            "card_taken",
        ),
        (
            json!({"id": "2001", "name": "X", "cards": [{"number": "XYZ"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "card_number_format",
        ),
        (
            json!({"id": "2001", "name": "X", "department": 77}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "department_unknown",
        ),
        (
            json!({"id": "2001", "name": "X", "more": {"email": "nope"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "email_format",
        ),
    ];
    for (body, st, rule) in cases {
        let (got, v) = a.post("/api/v1/persons", body.clone()).await;
        assert_eq!((got, code(&v)), (st, rule), "{body}: {v}");
    }
    assert_eq!(a.get("/api/v1/persons/2001").await.0, StatusCode::NOT_FOUND);

    // card rules: add up to 5, a 6th is refused; duplicate across persons refused
    for n in ["11111111", "22222222", "33333333"] {
        let (st, v) = a
            .post("/api/v1/persons/1001/cards", json!({"number": n}))
            .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
    }
    let (st, v) = a
        .post("/api/v1/persons/1001/cards", json!({"number": "44444444"}))
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "card_limit")
    );
    let (st, v) = a
        .post(
            "/api/v1/persons/1002/cards",
            json!({"number": "0x11111111"}),
        )
        .await;
    assert_eq!((st, code(&v)), (StatusCode::CONFLICT, "card_taken"));
    assert!(v["message"].as_str().unwrap().contains("1001"));

    // main, duress, freeze/unfreeze, replace keeping flags, delete
    let (_, p) = a
        .patch(
            "/api/v1/persons/1001/cards/22222222",
            json!({"main": true, "frozen": true}),
        )
        .await;
    let cards = p["cards"].as_array().unwrap();
    assert_eq!(cards.iter().filter(|c| c["main"] == true).count(), 1);
    let c2 = cards.iter().find(|c| c["number"] == "22222222").unwrap();
    assert_eq!(
        (c2["main"].clone(), c2["frozen"].clone()),
        (json!(true), json!(true))
    );
    let (_, p) = a
        .patch(
            "/api/v1/persons/1001/cards/22222222",
            json!({"frozen": false}),
        )
        .await;
    assert_eq!(
        p["cards"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["number"] == "22222222")
            .unwrap()["frozen"],
        false
    );
    let (st, p) = a
        .post(
            "/api/v1/persons/1001/cards/22222222/replace",
            json!({"new_number": "55555555"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{p}");
    let c5 = p["cards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["number"] == "55555555")
        .unwrap()
        .clone();
    assert_eq!(c5["main"], true, "replacement keeps the main flag");
    assert!(!p.to_string().contains("22222222"));
    // the old number is free again, the new one is taken
    assert_eq!(
        a.post("/api/v1/persons/1002/cards", json!({"number": "22222222"}))
            .await
            .0,
        StatusCode::CREATED
    );
    assert_eq!(
        a.post("/api/v1/persons/1002/cards", json!({"number": "55555555"}))
            .await
            .0,
        StatusCode::CONFLICT
    );
    let (st, p) = a.delete("/api/v1/persons/1001/cards/55555555").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        p["cards"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["main"] == true)
            .count(),
        1,
        "another card became main"
    );

    // QR only for 8-hex-digit cards
    let r =
        a.c.get(a.s.url("/api/v1/persons/1001/cards/02224678/qr"))
            .bearer_auth(&a.tok)
            .send()
            .await
            .unwrap();
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    assert!(r.text().await.unwrap().contains("<svg"));
    a.post(
        "/api/v1/persons/1002/cards",
        json!({"number": "0F00ABCDEF"}),
    )
    .await;
    assert_eq!(
        a.get("/api/v1/persons/1002/cards/0F00ABCDEF/qr").await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // photo: checked type and size, stored once
    let png = {
        let mut p = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13];
        p.extend_from_slice(b"IHDR");
        p.extend_from_slice(&120u32.to_be_bytes());
        p.extend_from_slice(&160u32.to_be_bytes());
        p.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        p
    };
    let put = |b: Vec<u8>| {
        a.c.put(a.s.url("/api/v1/persons/1001/photo"))
            .bearer_auth(&a.tok)
            .body(b)
            .send()
    };
    let r = put(b"GIF89a".to_vec()).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        put(vec![0; 300 * 1024]).await.unwrap().status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        put(png.clone()).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let r =
        a.c.get(a.s.url("/api/v1/persons/1001/photo"))
            .bearer_auth(&a.tok)
            .send()
            .await
            .unwrap();
    assert_eq!(r.bytes().await.unwrap().to_vec(), png);
    assert_eq!(a.get("/api/v1/persons/1001").await.1["has_photo"], true);

    // edit and delete
    let (st, p) = a
        .patch(
            "/api/v1/persons/1002",
            json!({"name": "Bo Chen", "password": ""}),
        )
        .await;
    assert_eq!(
        (st, p["name"].clone(), p["password_set"].clone()),
        (StatusCode::OK, json!("Bo Chen"), json!(false))
    );
    let (st, v) = a
        .patch("/api/v1/persons/1002", json!({"valid_from": "2040-01-01"}))
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "validity_order"),
        "{v}"
    );
    assert_eq!(
        a.delete("/api/v1/persons/1002").await.0,
        StatusCode::NO_CONTENT
    );
    // its cards are free again
    assert_eq!(
        a.post(
            "/api/v1/persons/1001/cards",
            json!({"number": "0F00ABCDEF"})
        )
        .await
        .0,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn display_base_and_search() {
    let a = Api::new().await;
    let (_, hr) = a
        .post("/api/v1/departments", json!({"parent": 1, "name": "HR"}))
        .await;
    let hr = hr["id"].as_u64().unwrap();
    let (_, pay) = a
        .post(
            "/api/v1/departments",
            json!({"parent": hr, "name": "Payroll"}),
        )
        .await;
    let pay = pay["id"].as_u64().unwrap();
    a.post("/api/v1/persons", json!({"id": "1001", "name": "Ann Lee", "department": hr, "cards": [{"number": "02224678"}]})).await;
    a.post(
        "/api/v1/persons",
        json!({"id": "1002", "name": "Leo Annan", "department": pay}),
    )
    .await;
    a.post(
        "/api/v1/persons",
        json!({"id": "2001", "name": "Zoe", "cards": [{"number": "ABCDEF01"}]}),
    )
    .await;

    let ids = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, v) = a.get("/api/v1/persons?by=name&q=ANN").await;
    assert_eq!(ids(&v), ["1001", "1002"], "name substring, any case");
    let (_, v) = a.get("/api/v1/persons?by=id&q=100").await;
    assert_eq!(ids(&v), ["1001", "1002"]);
    let (_, v) = a.get("/api/v1/persons?by=card&q=2224678").await;
    assert_eq!(ids(&v), ["1001"]);
    let (_, v) = a.get(&format!("/api/v1/persons?department={hr}")).await;
    assert_eq!(ids(&v), ["1001", "1002"], "with sub-departments by default");
    let (_, v) = a
        .get(&format!(
            "/api/v1/persons?department={hr}&sub_departments=false"
        ))
        .await;
    assert_eq!(ids(&v), ["1001"]);
    let (_, v) = a.get("/api/v1/persons?per_page=2&page=2").await;
    assert_eq!(
        (v["total"].clone(), ids(&v)),
        (json!(3), vec!["2001".to_owned()])
    );
    let (_, v) = a.get("/api/v1/persons?without_card=true").await;
    assert_eq!(ids(&v), ["1002"]);

    // switch to decimal: every view and search follows, stored data does not change
    let (st, s) = a
        .put(
            "/api/v1/card-settings",
            json!({"card_type": "ic", "display": "decimal"}),
        )
        .await;
    assert_eq!(
        (st, s["display"].clone()),
        (StatusCode::OK, json!("decimal"))
    );
    let (_, p) = a.get("/api/v1/persons/1001").await;
    assert_eq!(p["cards"][0]["number"], "35800696");
    assert_eq!(p["cards"][0]["canonical"], "02224678");
    let (_, v) = a.get("/api/v1/persons?by=card&q=35800696").await;
    assert_eq!(ids(&v), ["1001"]);
    assert_eq!(v["items"][0]["main_card"], "35800696");
    let (_, v) = a.get("/api/v1/persons?q=2882400001").await; // ABCDEF01 in decimal, "any" search
    assert_eq!(ids(&v), ["2001"]);
    let (st, v) = a.get("/api/v1/persons?by=card&q=02224678X").await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "card_number_format")
    );
    // typed in decimal now
    let (st, _) = a
        .post("/api/v1/persons/1002/cards", json!({"number": "305419896"}))
        .await; // 0x12345678
    assert_eq!(st, StatusCode::CREATED);
    a.put(
        "/api/v1/card-settings",
        json!({"card_type": "ic", "display": "hex"}),
    )
    .await;
    let (_, p) = a.get("/api/v1/persons/1002").await;
    assert_eq!(p["cards"][0]["number"], "12345678");
}

#[tokio::test]
async fn batch_add_card_issuing_batch_issue_and_batch_edit() {
    let a = Api::new().await;
    let (_, dept) = a
        .post(
            "/api/v1/departments",
            json!({"parent": 1, "name": "Guards"}),
        )
        .await;
    let dept = dept["id"].as_u64().unwrap();
    let (st, v) = a
        .post(
            "/api/v1/persons/batch-add",
            json!({"start_id": "A0998", "count": 3, "department": dept,
        "valid_from": "2026-01-01", "valid_to": "2027-01-01"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["ids"], json!(["A0998", "A0999", "A1000"]));
    // overlapping IDs: refused, nothing created
    let (st, v) = a
        .post(
            "/api/v1/persons/batch-add",
            json!({"start_id": "A0997", "count": 3}),
        )
        .await;
    assert_eq!((st, code(&v)), (StatusCode::CONFLICT, "person_id_taken"));
    assert_eq!(
        a.get("/api/v1/persons/A0997").await.0,
        StatusCode::NOT_FOUND
    );
    let (st, v) = a
        .post(
            "/api/v1/persons/batch-add",
            json!({"start_id": "B1", "count": 0}),
        )
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "batch_count")
    );

    // the "next person waiting for a card" flow with typed numbers
    let (st, s) = a
        .post(
            "/api/v1/persons/card-issuing",
            json!({"ids": ["A0998", "A0999", "A1000"]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{s}");
    let sid = s["session"].as_str().unwrap().to_owned();
    assert_eq!(s["next"], "A0998");
    let path = format!("/api/v1/persons/card-issuing/{sid}/cards");
    let (_, s) = a.post(&path, json!({"number": "10000001"})).await;
    assert_eq!(
        (s["next"].clone(), s["issued"].clone()),
        (json!("A0999"), json!(1))
    );
    // a duplicate is refused and the same person stays waiting
    let (st, v) = a.post(&path, json!({"number": "10000001"})).await;
    assert_eq!((st, code(&v)), (StatusCode::CONFLICT, "card_taken"));
    assert_eq!(
        a.get(&format!("/api/v1/persons/card-issuing/{sid}"))
            .await
            .1["next"],
        "A0999"
    );
    // a number typed for a chosen row
    let (_, s) = a
        .post(&path, json!({"number": "10000003", "person": "A1000"}))
        .await;
    assert_eq!(s["next"], "A0999");
    let (_, s) = a.post(&path, json!({"number": "10000002"})).await;
    assert_eq!(
        (s["next"].clone(), s["issued"].clone()),
        (Value::Null, json!(3))
    );
    assert_eq!(s["items"][1]["card"], "10000002");
    let (st, v) = a.post(&path, json!({"number": "10000004"})).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "batch_done")
    );
    assert_eq!(
        a.get("/api/v1/persons/A0999").await.1["cards"][0]["number"],
        "10000002"
    );
    assert_eq!(
        a.delete(&format!("/api/v1/persons/card-issuing/{sid}"))
            .await
            .0,
        StatusCode::NO_CONTENT
    );

    // batch issue cards: only persons without a card, with the validity of those cards
    a.post("/api/v1/persons", json!({"id": "C1", "name": "C one"}))
        .await;
    a.post("/api/v1/persons", json!({"id": "C2", "name": "C two"}))
        .await;
    let (st, v) = a
        .post(
            "/api/v1/persons/card-issuing",
            json!({"ids": ["C1", "A0998"]}),
        )
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "batch_has_card")
    );
    let (_, s) = a
        .post(
            "/api/v1/persons/card-issuing",
            json!({"ids": ["C2", "C1"], "valid_from": "2026-02-01", "valid_to": "2026-12-31"}),
        )
        .await;
    let sid = s["session"].as_str().unwrap().to_owned();
    assert_eq!(s["next"], "C2", "list order is kept");
    a.post(
        &format!("/api/v1/persons/card-issuing/{sid}/cards"),
        json!({"number": "20000002"}),
    )
    .await;
    let (_, p) = a.get("/api/v1/persons/C2").await;
    assert_eq!(
        (p["valid_from"].clone(), p["valid_to"].clone()),
        (json!("2026-02-01T00:00:00Z"), json!("2026-12-31T23:59:59Z"))
    );

    // batch edit: department and validity, all or nothing
    let (st, v) = a
        .post(
            "/api/v1/persons/batch-edit",
            json!({"ids": ["C1", "C2", "NOPE"], "department": dept}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(
        a.get("/api/v1/persons/C1").await.1["department"],
        1,
        "nothing changed"
    );
    let (st, v) = a.post("/api/v1/persons/batch-edit", json!({"ids": ["C1", "C2"], "department": dept, "valid_from": "2026-03-01", "valid_to": "2026-04-01"})).await;
    assert_eq!((st, v["updated"].clone()), (StatusCode::OK, json!(2)));
    let (_, p) = a.get("/api/v1/persons/C1").await;
    assert_eq!(
        (p["department"].clone(), p["valid_to"].clone()),
        (json!(dept), json!("2026-04-01T23:59:59Z"))
    );
    let (st, v) = a
        .post("/api/v1/persons/batch-edit", json!({"ids": ["C1"]}))
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "batch_nothing")
    );

    // every change is in the audit log
    let (_, log) = a.get("/api/v1/audit?action=person.").await;
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for want in [
        "person.batch_add",
        "person.card.issue",
        "person.batch_edit",
        "person.create",
    ] {
        assert!(actions.contains(&want), "{want} missing in {actions:?}");
    }
}
