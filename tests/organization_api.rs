//! The building organization (manual 3.1) over real HTTP against the real binary: batch add and
//! its refusal once an organization exists, codes like `01#01#302`, add/rename/delete at every
//! level with the refusals, a compound without units, and administrators only for changes.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn call(
    s: &Server,
    tok: &str,
    m: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut r = client().request(m, s.url(path)).bearer_auth(tok);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let st = r.status();
    (st, r.json().await.unwrap_or(Value::Null))
}

use reqwest::Method as M;

#[tokio::test]
async fn batch_add_codes_and_refusals() {
    let s = Server::start(&[]);
    setup(&s).await;
    let t = admin_token(&s).await;
    let batch = json!({"buildings": 2, "units_per_building": 2, "floors": 3, "rooms_per_floor": 4});
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        "/api/v1/organization/batch",
        Some(batch.clone()),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v, json!({"buildings": 2, "units": 4, "rooms": 48}));
    let (st, v) = call(&s, &t, M::POST, "/api/v1/organization/batch", Some(batch)).await;
    assert_eq!(
        (st, v["error"].clone()),
        (StatusCode::CONFLICT, json!("organization_exists"))
    );
    let (_, tree) = call(&s, &t, M::GET, "/api/v1/organization", None).await;
    assert_eq!(tree["rooms"], 48);
    assert_eq!(tree["buildings"][0]["units"][0]["code"], "01#01");
    assert_eq!(tree["buildings"][0]["units"][0]["rooms"], 12);
    let unit = tree["buildings"][0]["units"][0]["id"].as_u64().unwrap();
    let (_, rooms) = call(
        &s,
        &t,
        M::GET,
        &format!("/api/v1/organization/rooms?unit={unit}&per_page=100"),
        None,
    )
    .await;
    let codes: Vec<&str> = rooms["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes.len(), 12);
    assert!(
        codes.contains(&"01#01#302") && codes.contains(&"01#01#104"),
        "{codes:?}"
    );
    let (_, q) = call(
        &s,
        &t,
        M::GET,
        "/api/v1/organization/rooms?q=02%2302%23304",
        None,
    )
    .await;
    assert_eq!(q["total"], 1);

    // rooms: duplicates refused; a bad number names its rule
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        "/api/v1/organization/rooms",
        Some(json!({"unit": unit, "number": "0302"})),
    )
    .await;
    assert_eq!(
        (st, v["error"].clone()),
        (StatusCode::CONFLICT, json!("organization_number_taken"))
    );
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        "/api/v1/organization/rooms",
        Some(json!({"unit": unit, "number": "3a"})),
    )
    .await;
    assert_eq!(
        (st, v["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("number"))
    );
    let (st, room) = call(
        &s,
        &t,
        M::POST,
        "/api/v1/organization/rooms",
        Some(json!({"unit": unit, "number": "401", "name": "Penthouse", "remarks": "lift key"})),
    )
    .await;
    assert_eq!(
        (st, room["code"].clone()),
        (StatusCode::CREATED, json!("01#01#401"))
    );

    // delete a unit or building with rooms: refused with the count
    let (st, v) = call(
        &s,
        &t,
        M::DELETE,
        &format!("/api/v1/organization/unit/{unit}"),
        None,
    )
    .await;
    assert_eq!(
        (st, v["error"].clone()),
        (StatusCode::CONFLICT, json!("organization_not_empty"))
    );
    assert!(v["message"].as_str().unwrap().contains("13 room(s)"), "{v}");
    let b1 = tree["buildings"][0]["id"].as_u64().unwrap();
    let (_, v) = call(
        &s,
        &t,
        M::DELETE,
        &format!("/api/v1/organization/building/{b1}"),
        None,
    )
    .await;
    assert!(v["message"].as_str().unwrap().contains("25 room(s)"), "{v}");

    // rename at every level
    let (st, _) = call(
        &s,
        &t,
        M::PATCH,
        &format!("/api/v1/organization/room/{}", room["id"]),
        Some(json!({"name": "Top", "number": "402"})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = call(
        &s,
        &t,
        M::PATCH,
        &format!("/api/v1/organization/unit/{unit}"),
        Some(json!({"name": "East"})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, v) = call(
        &s,
        &t,
        M::PATCH,
        &format!("/api/v1/organization/building/{b1}"),
        Some(json!({"number": "2"})),
    )
    .await;
    assert_eq!(
        (st, v["error"].clone()),
        (StatusCode::CONFLICT, json!("organization_number_taken")),
        "02 exists"
    );
    let (st, c) = call(
        &s,
        &t,
        M::PATCH,
        "/api/v1/organization",
        Some(json!({"name": "Harbour View"})),
    )
    .await;
    assert_eq!(
        (st, c["name"].clone()),
        (StatusCode::OK, json!("Harbour View"))
    );
    let (st, v) = call(
        &s,
        &t,
        M::PATCH,
        "/api/v1/organization",
        Some(json!({"with_units": false})),
    )
    .await;
    assert_eq!(
        (st, v["error"].clone()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!("organization_levels")
        )
    );

    // empty the unit, then it can go
    let (_, rooms) = call(
        &s,
        &t,
        M::GET,
        &format!("/api/v1/organization/rooms?unit={unit}&per_page=100"),
        None,
    )
    .await;
    for r in rooms["items"].as_array().unwrap() {
        assert_eq!(
            call(
                &s,
                &t,
                M::DELETE,
                &format!("/api/v1/organization/room/{}", r["id"]),
                None
            )
            .await
            .0,
            StatusCode::NO_CONTENT
        );
    }
    assert_eq!(
        call(
            &s,
            &t,
            M::DELETE,
            &format!("/api/v1/organization/unit/{unit}"),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );

    // operators read but do not change the organization
    call(
        &s,
        &t,
        M::POST,
        "/api/v1/accounts",
        Some(json!({"username": "desk", "password": "Dk8#mWq2", "role": "operator"})),
    )
    .await;
    let op = login_as(&s, &client(), "desk", "Dk8#mWq2").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        call(&s, &op, M::GET, "/api/v1/organization", None).await.0,
        StatusCode::OK
    );
    let (st, v) = call(
        &s,
        &op,
        M::POST,
        "/api/v1/organization/buildings",
        Some(json!({"number": "9"})),
    )
    .await;
    assert_eq!(
        (st, v["error"].clone()),
        (StatusCode::FORBIDDEN, json!("admin_only"))
    );
}

#[tokio::test]
async fn a_compound_without_units() {
    let s = Server::start(&[]);
    setup(&s).await;
    let t = admin_token(&s).await;
    let (st, _) = call(
        &s,
        &t,
        M::PATCH,
        "/api/v1/organization",
        Some(json!({"with_units": false})),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (_, b) = call(
        &s,
        &t,
        M::POST,
        "/api/v1/organization/buildings",
        Some(json!({"number": "01"})),
    )
    .await;
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        "/api/v1/organization/units",
        Some(json!({"building": b["id"], "number": "1"})),
    )
    .await;
    assert_eq!(
        (st, v["error"].clone()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!("organization_levels")
        )
    );
    let (st, r) = call(
        &s,
        &t,
        M::POST,
        "/api/v1/organization/rooms",
        Some(json!({"building": b["id"], "number": "302"})),
    )
    .await;
    assert_eq!(
        (st, r["code"].clone()),
        (StatusCode::CREATED, json!("01#302"))
    );
    // batch add without units on a fresh store
    let s2 = Server::start(&[]);
    setup(&s2).await;
    let t2 = admin_token(&s2).await;
    let (st, v) = call(
        &s2,
        &t2,
        M::POST,
        "/api/v1/organization/batch",
        Some(json!({"buildings": 1, "units_per_building": 0, "floors": 2, "rooms_per_floor": 2})),
    )
    .await;
    assert_eq!(
        (st, v["rooms"].clone(), v["units"].clone()),
        (StatusCode::CREATED, json!(4), json!(0))
    );
    let (_, rooms) = call(&s2, &t2, M::GET, "/api/v1/organization/rooms", None).await;
    assert_eq!(rooms["items"][0]["code"], "01#101");
}

#[tokio::test]
async fn device_registry() {
    let s = Server::start(&[]);
    setup(&s).await;
    let t = admin_token(&s).await;
    let vto = json!({"name": "Gate VTO", "kind": "vto", "ip": "192.168.1.108", "port": 80, "username": "admin", "password": "Dev1ce!pw", "number": "8055"});
    let (st, d) = call(&s, &t, M::POST, "/api/v1/devices", Some(vto.clone())).await;
    assert_eq!(st, StatusCode::CREATED, "{d}");
    assert_eq!(
        (
            d["password_set"].clone(),
            d["number"].clone(),
            d["kind"].clone()
        ),
        (json!(true), json!("8055"), json!("vto"))
    );
    assert!(
        !d.to_string().contains("Dev1ce!pw"),
        "the password is never shown"
    );
    let (st, v) = call(&s, &t, M::POST, "/api/v1/devices", Some(vto)).await;
    assert_eq!(
        (st, v["error"].clone()),
        (StatusCode::CONFLICT, json!("device_name_taken"))
    );
    for (body, field) in [
        (
            json!({"name": "X", "kind": "vth", "ip": "300.1.1.1", "number": "9901"}),
            "ip",
        ),
        (
            json!({"name": "X", "kind": "vth", "ip": "10.0.0.2", "number": "99a"}),
            "number",
        ),
        (
            json!({"name": "X", "ip": "10.0.0.2", "number": "9901"}),
            "kind",
        ),
    ] {
        let (st, v) = call(&s, &t, M::POST, "/api/v1/devices", Some(body)).await;
        assert_eq!(
            (st, v["field"].clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, json!(field))
        );
    }
    let id = d["id"].as_u64().unwrap();
    let (st, v) = call(
        &s,
        &t,
        M::PATCH,
        &format!("/api/v1/devices/{id}"),
        Some(json!({"password": "", "port": 8080})),
    )
    .await;
    assert_eq!(
        (st, v["password_set"].clone(), v["port"].clone()),
        (StatusCode::OK, json!(false), json!(8080))
    );
    let (_, list) = call(&s, &t, M::GET, "/api/v1/devices", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    call(
        &s,
        &t,
        M::POST,
        "/api/v1/accounts",
        Some(json!({"username": "desk", "password": "Dk8#mWq2", "role": "operator"})),
    )
    .await;
    let op = login_as(&s, &client(), "desk", "Dk8#mWq2").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        call(&s, &op, M::DELETE, &format!("/api/v1/devices/{id}"), None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&s, &t, M::DELETE, &format!("/api/v1/devices/{id}"), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn the_pages_create_and_list_the_organization() {
    let s = Server::start(&[]);
    setup(&s).await;
    let c = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = c
        .post(s.url("/api/v1/session"))
        .json(&json!({"username": ADMIN, "password": ADMIN_PW}))
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let csrf = r.json::<Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = |p: &'static str| c.get(s.url(p)).header("cookie", &cookie).send();
    let html = page("/intercom").await.unwrap().text().await.unwrap();
    assert!(
        html.contains("id=\"batch-form\""),
        "the batch form shows while empty"
    );
    let post = |p: &'static str, form: Vec<(&'static str, String)>| {
        c.post(s.url(p))
            .header("cookie", &cookie)
            .form(&form)
            .send()
    };
    // wrong CSRF token: refused, nothing created
    let r = post(
        "/intercom/batch",
        vec![
            ("csrf", "bad".into()),
            ("buildings", "1".into()),
            ("units_per_building", "1".into()),
            ("floors", "1".into()),
            ("rooms_per_floor", "1".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post(
        "/intercom/batch",
        vec![
            ("csrf", csrf.clone()),
            ("buildings", "2".into()),
            ("units_per_building", "1".into()),
            ("floors", "3".into()),
            ("rooms_per_floor", "2".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = page("/intercom").await.unwrap().text().await.unwrap();
    assert!(
        !html.contains("id=\"batch-form\"") && html.contains("12 rooms"),
        "{html}"
    );
    let rooms = page("/intercom/rooms").await.unwrap().text().await.unwrap();
    assert!(rooms.contains("01#01#302") && rooms.contains("02#01#101"));
    // a refusal shows the rule on the page
    let r = post(
        "/intercom/buildings",
        vec![("csrf", csrf.clone()), ("number", "1".into())],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("building 1 already exists"));
    let r = post(
        "/intercom/devices",
        vec![
            ("csrf", csrf.clone()),
            ("name", "Gate".into()),
            ("kind", "vto".into()),
            ("ip", "10.0.0.5".into()),
            ("port", "80".into()),
            ("username", "admin".into()),
            ("password", "x".into()),
            ("number", "8055".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let devices = page("/intercom/devices")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(devices.contains("Gate") && devices.contains("8055") && devices.contains(">set<"));
}
