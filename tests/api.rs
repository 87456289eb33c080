//! The JSON API walked end to end against the real binary over HTTPS on loopback: setup, every
//! password rule, lock-out (known and unknown names answer the same), allow-lists, CSRF, session
//! expiry, roles, audit, logo, certificate and error format.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().expect("ip"))
}

async fn body(r: reqwest::Response) -> (StatusCode, Value) {
    let st = r.status();
    let v = r.json().await.unwrap_or(Value::Null);
    (st, v)
}

/// (password, rule it breaks or "ok") for the user name "admin".
const RULES: &[(&str, &str)] = &[
    ("Ab1!x", "password_too_short"),
    ("qwpzmxnv", "password_character_classes"),
    ("Xadmin7q", "password_contains_username"),
    ("Xnimda7q", "password_contains_username"),
    ("Zq9!123w", "password_consecutive_characters"),
    ("Zq9!abcw", "password_consecutive_characters"),
    ("Zq9!cbaw", "password_consecutive_characters"),
    ("Zq9!111w", "password_repeated_characters"),
    ("Zq9!aaaw", "password_repeated_characters"),
];
/// Passing examples, one per rule above.
const PASSING: &[&str] = &["Kp7!wQz2", "qwpzmxn7", "Xadmn7q!", "Zq9!13bw", "Zq9!11aw"];

#[tokio::test]
async fn setup_enforces_every_rule_then_answers_409() {
    let s = Server::start(&[]);
    let c = client();
    let (st, v) = body(c.get(s.url("/api/v1/setup")).send().await.unwrap()).await;
    assert_eq!((st, v["required"].clone()), (StatusCode::OK, json!(true)));

    for (pw, rule) in RULES {
        let (st, v) = body(
            c.post(s.url("/api/v1/setup"))
                .json(
                    &json!({"username": ADMIN, "password": pw, "security_questions": questions()}),
                )
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{pw}");
        assert_eq!(v["error"], json!(rule), "{pw}: {v}");
        assert_eq!(v["field"], json!("password"));
        assert!(v["message"].as_str().unwrap().len() > 10);
    }
    let q = |a: &str, b: &str, c2: &str, d: &str| json!([{"question": a, "answer": b}, {"question": c2, "answer": d}, {"question": "Third?", "answer": "z"}]);
    for (qs, rule) in [
        (
            q("Same?", "x", "same? ", "y"),
            "security_questions_not_distinct",
        ),
        (
            q("One?", "x", "Two?", " X"),
            "security_answers_not_distinct",
        ),
        (
            json!([{"question": "Only?", "answer": "x"}]),
            "security_questions_count",
        ),
    ] {
        let (st, v) = body(
            c.post(s.url("/api/v1/setup"))
                .json(&json!({"username": ADMIN, "password": ADMIN_PW, "security_questions": qs}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (st, v["error"].clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, json!(rule))
        );
        assert_eq!(v["field"], json!("security_questions"));
    }
    // nothing was created by the refused attempts
    let (_, v) = body(c.get(s.url("/api/v1/setup")).send().await.unwrap()).await;
    assert_eq!(v["required"], json!(true));

    setup(&s).await;
    let r = c
        .post(s.url("/api/v1/setup"))
        .json(&json!({"username": "other", "password": "Wq8!zLx0", "security_questions": questions()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // The rules hold wherever a password is set: account creation and own-password change.
    let tok = admin_token(&s).await;
    for (pw, rule) in RULES {
        let (st, v) = body(
            c.post(s.url("/api/v1/accounts"))
                .bearer_auth(&tok)
                .json(&json!({"username": "admin", "password": pw, "role": "operator"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (st, v["error"].clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, json!(rule)),
            "{pw}"
        );
    }
    for (i, pw) in PASSING.iter().enumerate() {
        let (st, v) = body(
            c.post(s.url("/api/v1/accounts"))
                .bearer_auth(&tok)
                .json(&json!({"username": format!("op{i}"), "password": pw, "role": "operator"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{pw}: {v}");
        assert!(v.get("password_hash").is_none() && !v.to_string().contains(pw));
    }
    let (st, v) = body(
        c.put(s.url("/api/v1/me/password"))
            .bearer_auth(&tok)
            .json(&json!({"current_password": ADMIN_PW, "new_password": "Zq9!111w"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (st, v["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("new_password"))
    );
    let r = c
        .put(s.url("/api/v1/me/password"))
        .bearer_auth(&tok)
        .json(&json!({"current_password": ADMIN_PW, "new_password": "Nw5#pLq8"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    login_as(&s, &c, ADMIN, "Nw5#pLq8").await;
    drop(s);
}

async fn try_login(s: &Server, c: &reqwest::Client, user: &str, pw: &str) -> (StatusCode, Value) {
    body(
        c.post(s.url("/api/v1/session"))
            .json(&json!({"username": user, "password": pw}))
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn without_time(v: &Value) -> String {
    let m = v["message"].as_str().unwrap_or("");
    m.split(" after ").next().unwrap_or("").to_owned()
}

#[tokio::test]
async fn lockout_after_five_failures_same_answer_for_unknown_names() {
    let s = Server::start(&["--lockout-duration", "4s"]);
    setup(&s).await;
    let known = client_from(ip("127.0.0.2"));
    let unknown = client_from(ip("127.0.0.3"));
    let mut answers_known = Vec::new();
    let mut answers_unknown = Vec::new();
    for _ in 0..5 {
        answers_known.push(try_login(&s, &known, ADMIN, "Wrong!pw1").await);
        answers_unknown.push(try_login(&s, &unknown, "nosuchuser", "Wrong!pw1").await);
    }
    for (k, u) in answers_known.iter().zip(&answers_unknown) {
        assert_eq!(k.0, u.0);
        assert_eq!(k.1["error"], u.1["error"]);
        assert_eq!(without_time(&k.1), without_time(&u.1));
    }
    for a in &answers_known[..4] {
        assert_eq!(a.0, StatusCode::UNAUTHORIZED);
        assert_eq!(a.1, answers_known[0].1, "every failure answers the same");
    }
    assert_eq!(answers_known[4].0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answers_known[4].1["error"], json!("locked"));
    assert!(answers_known[4].1["message"]
        .as_str()
        .unwrap()
        .contains("try again after 20"));

    // locked: even the right password is refused, for the account from anywhere…
    let (st, _) = try_login(&s, &client(), ADMIN, ADMIN_PW).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    // …and for any account from the locked address
    let (st, _) = try_login(&s, &unknown, ADMIN, ADMIN_PW).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);

    tokio::time::sleep(Duration::from_millis(4200)).await;
    let (st, v) = try_login(&s, &client(), ADMIN, ADMIN_PW).await;
    assert_eq!(st, StatusCode::OK, "{v}");

    // the audit log saw the failures and the lock
    let tok = v["token"].as_str().unwrap();
    let (_, log) = body(
        client()
            .get(s.url("/api/v1/audit?action=login"))
            .bearer_auth(tok)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"login.failure")
            && actions.contains(&"login.locked")
            && actions.contains(&"login.success"),
        "{actions:?}"
    );
    let (_, log) = body(
        client()
            .get(s.url("/api/v1/audit?q=nosuchuser&action=login.locked"))
            .bearer_auth(tok)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(log.as_array().unwrap().len(), 1);
    assert_eq!(log[0]["ip"], json!("127.0.0.3"));
}

#[tokio::test]
async fn password_reset_through_questions_with_lockout() {
    let s = Server::start(&["--lockout-threshold", "3"]);
    setup(&s).await;
    let c = client_from(ip("127.0.0.6"));
    let (st, v) = body(
        c.post(s.url("/api/v1/password-reset/questions"))
            .json(&json!({"username": ADMIN}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        v["questions"],
        json!(["First school?", "Birth city?", "First pet?"])
    );
    // an unknown name gets three stable questions too
    let (_, a) = body(
        c.post(s.url("/api/v1/password-reset/questions"))
            .json(&json!({"username": "ghost"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let (_, b) = body(
        c.post(s.url("/api/v1/password-reset/questions"))
            .json(&json!({"username": "ghost"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a["questions"].as_array().unwrap().len(), 3);
    assert_eq!(a, b);

    let reset = |answers: Value, pw: &str| {
        c.post(s.url("/api/v1/password-reset"))
            .json(&json!({"username": ADMIN, "answers": answers, "new_password": pw}))
            .send()
    };
    let r = reset(json!(["elm street", "LYON", "wrong"]), "Rs4$tNw9")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = reset(json!([" Elm  Street", "lyon", "rex"]), "Rs4$tNw9")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    login_as(&s, &client(), ADMIN, "Rs4$tNw9").await;
    for _ in 0..2 {
        assert_eq!(
            reset(json!(["x", "y", "z"]), "Rs4$tNw9")
                .await
                .unwrap()
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        reset(json!(["x", "y", "z"]), "Rs4$tNw9")
            .await
            .unwrap()
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

async fn create(s: &Server, tok: &str, body_: Value) -> (StatusCode, Value) {
    body(
        client()
            .post(s.url("/api/v1/accounts"))
            .bearer_auth(tok)
            .json(&body_)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn ip_and_mac_allow_lists_at_login_and_on_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let arp = dir.path().join("arp");
    std::fs::write(
        &arp,
        "IP address       HW type     Flags       HW address            Mask     Device\n\
         127.0.0.4        0x1         0x2         3c:ef:8c:01:02:03     *        eth0\n\
         127.0.0.5        0x1         0x2         3c:ef:8c:09:09:09     *        eth0\n",
    )
    .unwrap();
    let s = Server::start(&["--arp-table", arp.to_str().unwrap()]);
    setup(&s).await;
    let tok = admin_token(&s).await;
    let (st, _) = create(&s, &tok, json!({"username": "desk", "password": "Dk8#mWq2", "role": "operator", "allowed_ips": ["127.0.0.2", "10.0.0.0/8"]})).await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, v) = create(&s, &tok, json!({"username": "bad", "password": "Dk8#mWq2", "role": "operator", "allowed_ips": ["127.0.0.300"]})).await;
    assert_eq!(
        (st, v["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("allowed_ips"))
    );

    let (st, v) = try_login(&s, &client(), "desk", "Dk8#mWq2").await;
    assert_eq!(
        (st, v["error"].clone()),
        (StatusCode::FORBIDDEN, json!("address_not_allowed"))
    );
    let from2 = client_from(ip("127.0.0.2"));
    let v = login_as(&s, &from2, "desk", "Dk8#mWq2").await;
    let desk_tok = v["token"].as_str().unwrap().to_owned();
    let r = from2
        .get(s.url("/api/v1/company"))
        .bearer_auth(&desk_tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // the same token from another address is refused on every request
    let r = client_from(ip("127.0.0.3"))
        .get(s.url("/api/v1/company"))
        .bearer_auth(&desk_tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let (st, _) = create(&s, &tok, json!({"username": "kiosk", "password": "Dk8#mWq2", "role": "operator", "allowed_macs": ["3C-EF-8C-01-02-03"]})).await;
    assert_eq!(st, StatusCode::CREATED);
    login_as(&s, &client_from(ip("127.0.0.4")), "kiosk", "Dk8#mWq2").await;
    let (st, _) = try_login(&s, &client_from(ip("127.0.0.5")), "kiosk", "Dk8#mWq2").await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = try_login(&s, &client_from(ip("127.0.0.7")), "kiosk", "Dk8#mWq2").await;
    assert_eq!(st, StatusCode::FORBIDDEN, "not in the ARP table: refused");
}

#[tokio::test]
async fn cookie_sessions_need_the_csrf_token() {
    let s = Server::start(&[]);
    setup(&s).await;
    let c = client();
    let r = c
        .post(s.url("/api/v1/session"))
        .json(&json!({"username": ADMIN, "password": ADMIN_PW}))
        .send()
        .await
        .unwrap();
    let cookie = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    let v: Value = r.json().await.unwrap();
    let pair = cookie.split(';').next().unwrap().to_owned();
    let csrf = v["csrf_token"].as_str().unwrap();
    let put = |token: Option<&str>| {
        let mut rq = c
            .put(s.url("/api/v1/company"))
            .header("cookie", &pair)
            .json(&json!({"name": "Acme Towers"}));
        if let Some(t) = token {
            rq = rq.header("x-csrf-token", t);
        }
        rq.send()
    };
    let (st, v) = body(put(None).await.unwrap()).await;
    assert_eq!(
        (st, v["error"].clone()),
        (StatusCode::FORBIDDEN, json!("csrf"))
    );
    assert_eq!(
        put(Some("00ff")).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(put(Some(csrf)).await.unwrap().status(), StatusCode::OK);
    // reading with the cookie needs no token; bearer clients need none at all
    assert_eq!(
        c.get(s.url("/api/v1/company"))
            .header("cookie", &pair)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let r = c
        .put(s.url("/api/v1/company"))
        .bearer_auth(admin_token(&s).await)
        .json(&json!({"name": "Acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn idle_sessions_expire_and_logout_ends_them() {
    let s = Server::start(&["--session-idle-timeout", "2s"]);
    setup(&s).await;
    let c = client();
    let tok = admin_token(&s).await;
    let get = || c.get(s.url("/api/v1/session")).bearer_auth(&tok).send();
    assert_eq!(get().await.unwrap().status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        get().await.unwrap().status(),
        StatusCode::OK,
        "use keeps it alive"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(get().await.unwrap().status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let (st, v) = body(get().await.unwrap()).await;
    assert_eq!(
        (st, v["error"].clone()),
        (StatusCode::UNAUTHORIZED, json!("unauthorized"))
    );

    let tok2 = admin_token(&s).await;
    let r = c
        .delete(s.url("/api/v1/session"))
        .bearer_auth(&tok2)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        c.get(s.url("/api/v1/session"))
            .bearer_auth(&tok2)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn operators_get_403_on_account_and_system_routes() {
    let s = Server::start(&[]);
    setup(&s).await;
    let tok = admin_token(&s).await;
    assert_eq!(
        create(
            &s,
            &tok,
            json!({"username": "op", "password": "Wq3$kRm9", "role": "operator"})
        )
        .await
        .0,
        StatusCode::CREATED
    );
    let c = client();
    let op = login_as(&s, &c, "op", "Wq3$kRm9").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let calls = [
        c.get(s.url("/api/v1/accounts")),
        c.post(s.url("/api/v1/accounts"))
            .json(&json!({"username": "x2", "password": "Wq3$kRm9", "role": "admin"})),
        c.get(s.url("/api/v1/accounts/admin")),
        c.patch(s.url("/api/v1/accounts/op"))
            .json(&json!({"role": "admin"})),
        c.delete(s.url("/api/v1/accounts/admin")),
        c.get(s.url("/api/v1/sessions")),
        c.get(s.url("/api/v1/audit")),
        c.get(s.url("/api/v1/certificate")),
        c.put(s.url("/api/v1/certificate"))
            .json(&json!({"certificate_pem": "", "private_key_pem": ""})),
        c.get(s.url("/api/v1/system/backup")),
        c.put(s.url("/api/v1/company"))
            .json(&json!({"name": "Nope"})),
    ];
    for rq in calls {
        let (st, v) = body(rq.bearer_auth(&op).send().await.unwrap()).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
        assert_eq!(v["error"], json!("admin_only"));
    }
    // what an operator may do
    assert_eq!(
        c.get(s.url("/api/v1/company"))
            .bearer_auth(&op)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        c.get(s.url("/api/v1/accounts/op"))
            .bearer_auth(&op)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let (st, sys) = body(
        c.get(s.url("/api/v1/system"))
            .bearer_auth(&op)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(sys["version"], json!(env!("CARGO_PKG_VERSION")));
    assert!(
        sys["data_total_bytes"].as_u64().unwrap() > 0
            && sys["data_free_bytes"].as_u64().unwrap() > 0,
        "{sys}"
    );
    assert!(
        sys["commit"].is_string() && sys["target"].is_string() && sys["uptime_seconds"].is_u64()
    );

    // admins see online users and can end a session
    let (_, list) = body(
        c.get(s.url("/api/v1/sessions"))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let op_session = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["username"] == json!("op"))
        .unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = c
        .delete(s.url(&format!("/api/v1/sessions/{op_session}")))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        c.get(s.url("/api/v1/company"))
            .bearer_auth(&op)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );

    // the last administrator cannot be demoted or deleted; an admin cannot delete itself
    let (st, v) = body(
        c.patch(s.url("/api/v1/accounts/admin"))
            .bearer_auth(&tok)
            .json(&json!({"role": "operator"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (st, v["error"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("last_admin"))
    );
    let (st, v) = body(
        c.delete(s.url("/api/v1/accounts/admin"))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (st, v["error"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("delete_self"))
    );
    // changing an account ends its sessions and is audited
    let op2 = login_as(&s, &c, "op", "Wq3$kRm9").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = c
        .patch(s.url("/api/v1/accounts/op"))
        .bearer_auth(&tok)
        .json(&json!({"allowed_ips": ["192.168.1.0/24"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        c.get(s.url("/api/v1/company"))
            .bearer_auth(&op2)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let (_, log) = body(
        c.get(s.url("/api/v1/audit?actor=admin&action=account."))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let log = log.as_array().unwrap();
    assert_eq!(log[0]["action"], json!("account.update"));
    assert!(log[0]["detail"]
        .as_str()
        .unwrap()
        .contains("192.168.1.0/24"));
    assert_eq!(log[1]["action"], json!("account.create"));
    assert_eq!(log[0]["ip"], json!("127.0.0.1"));
}

/// A PNG signature and header chunk are all the checks read.
fn png(w: u32, h: u32) -> Vec<u8> {
    let mut p = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13];
    p.extend_from_slice(b"IHDR");
    p.extend_from_slice(&w.to_be_bytes());
    p.extend_from_slice(&h.to_be_bytes());
    p.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    p
}

#[tokio::test]
async fn company_name_and_logo_with_checks() {
    let s = Server::start(&[]);
    setup(&s).await;
    let tok = admin_token(&s).await;
    let c = client();
    let (st, v) = body(
        c.put(s.url("/api/v1/company"))
            .bearer_auth(&tok)
            .json(&json!({"name": "  "}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (st, v["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("name"))
    );
    let (st, v) = body(
        c.put(s.url("/api/v1/company"))
            .bearer_auth(&tok)
            .json(&json!({"name": "Maple Court"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (st, v["name"].clone()),
        (StatusCode::OK, json!("Maple Court"))
    );
    for (bytes, rule) in [
        (b"GIF89a-not-allowed".to_vec(), "logo_type"),
        (png(5000, 10), "logo_dimensions"),
        (vec![0u8; 600 * 1024], "logo_too_large"),
    ] {
        let (st, v) = body(
            c.put(s.url("/api/v1/company/logo"))
                .bearer_auth(&tok)
                .body(bytes)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (st, v["error"].clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, json!(rule))
        );
    }
    assert_eq!(
        c.get(s.url("/api/v1/company/logo"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    let logo = png(64, 32);
    assert_eq!(
        c.put(s.url("/api/v1/company/logo"))
            .bearer_auth(&tok)
            .body(logo.clone())
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    let r = c.get(s.url("/api/v1/company/logo")).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().to_vec(), logo);
}

#[tokio::test]
async fn certificate_upload_is_checked_and_used_at_once() {
    let s = Server::start(&[]);
    setup(&s).await;
    let tok = admin_token(&s).await;
    let c = client();
    let (_, before) = body(
        c.get(s.url("/api/v1/certificate"))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(before["self_signed"], json!(true));
    let mk = || {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(vec!["gate.example.org".to_string()]).unwrap();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "gate.example.org");
        (p.self_signed(&key).unwrap().pem(), key.serialize_pem())
    };
    let (cert, _) = mk();
    let (_, other_key) = mk();
    let (st, v) = body(
        c.put(s.url("/api/v1/certificate"))
            .bearer_auth(&tok)
            .json(&json!({"certificate_pem": cert, "private_key_pem": other_key}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (st, v["error"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("key_mismatch"))
    );
    let (st, v) = body(
        c.put(s.url("/api/v1/certificate"))
            .bearer_auth(&tok)
            .json(&json!({"certificate_pem": "junk", "private_key_pem": other_key}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (st, v["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("certificate"))
    );
    let (cert, key) = mk();
    let (st, v) = body(
        c.put(s.url("/api/v1/certificate"))
            .bearer_auth(&tok)
            .json(&json!({"certificate_pem": cert, "private_key_pem": key}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["names"], json!(["gate.example.org"]));
    // a new connection is served the uploaded certificate
    let fresh = client();
    let (_, now) = body(
        fresh
            .get(s.url("/api/v1/certificate"))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_ne!(now["sha256_fingerprint"], before["sha256_fingerprint"]);
}

#[tokio::test]
async fn errors_are_json_with_code_message_field() {
    let s = Server::start(&[]);
    let c = client();
    let (st, v) = body(c.get(s.url("/api/v1/no/such/route")).send().await.unwrap()).await;
    assert_eq!(
        (st, v["error"].clone()),
        (StatusCode::NOT_FOUND, json!("not_found"))
    );
    let (st, v) = body(
        c.post(s.url("/api/v1/setup"))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (st, v["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("bad_request_body"))
    );
    assert!(v.get("field").is_some() && v["message"].is_string());
    let (st, v) = body(c.get(s.url("/api/v1/accounts")).send().await.unwrap()).await;
    assert_eq!(
        (st, v["error"].clone()),
        (StatusCode::UNAUTHORIZED, json!("unauthorized"))
    );
    let (st, doc) = body(c.get(s.url("/api/v1/openapi.json")).send().await.unwrap()).await;
    assert_eq!(st, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/api/v1/session"]["post"].is_object());
    // every $ref points at a schema the document defines
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k == "$ref" {
                        out.push(x.as_str().unwrap_or("").to_owned());
                    }
                    refs(x, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in all {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling {r}"
        );
    }
}
