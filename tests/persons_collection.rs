//! Person collection (manual 1.3) against the real binary over HTTPS: users pushed through the
//! test-only route (served only with `GATEHOUSE_TEST_HOOKS=1`), conflicts on person ID and on
//! card, the side-by-side detail, sync refused without confirmation and changing nothing, sync
//! with confirmation overwriting the person and taking the card from its other owner, auto sync
//! of the conflict-free only, refresh after a change, the subscribe switch, roles, and the page.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

struct Api<'a> {
    s: &'a Server,
    c: reqwest::Client,
    tok: String,
}

impl Api<'_> {
    async fn call(&self, rq: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let r = rq.bearer_auth(&self.tok).send().await.expect("request");
        let st = r.status();
        (st, r.json().await.unwrap_or(Value::Null))
    }
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(self.c.get(self.s.url(path))).await
    }
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(self.c.post(self.s.url(path)).json(&body)).await
    }
    async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(self.c.put(self.s.url(path)).json(&body)).await
    }
    /// Pushes `user` as if `device` had; returns its key.
    async fn push(&self, device: &str, user: Value) -> String {
        let (st, v) = self
            .post(
                "/api/v1/person-collection/test-push",
                json!({"device": device, "user": user}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        v["key"].as_str().expect("key").to_owned()
    }
    async fn list(&self) -> Vec<Value> {
        let (st, v) = self.get("/api/v1/person-collection").await;
        assert_eq!(st, StatusCode::OK, "{v}");
        v.as_array().expect("array").clone()
    }
    async fn detail(&self, key: &str) -> Value {
        let (st, v) = self.get(&format!("/api/v1/person-collection/{key}")).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        v
    }
}

fn user(id: &str, name: &str, cards: &[&str]) -> Value {
    json!({"user_id": id, "name": name, "cards": cards,
           "valid_from": "2024-01-04", "valid_to": "2034-01-04"})
}

fn row<'a>(l: &'a [Value], device: &str, id: &str) -> &'a Value {
    l.iter()
        .find(|v| v["device"] == json!(device) && v["user_id"] == json!(id))
        .unwrap_or_else(|| panic!("{device}/{id} not listed"))
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_str().expect("string").to_owned())
        .collect()
}

#[tokio::test]
async fn collected_users_conflicts_sync_auto_sync_refresh_and_page() {
    let s = Server::start_with_env(&[], &[("GATEHOUSE_TEST_HOOKS", "1")]);
    setup(&s).await;
    let api = Api {
        s: &s,
        c: client(),
        tok: admin_token(&s).await,
    };

    // Persons already in person management, made the same way a device would bring them.
    let seed_ann = api.push("Seed", user("7", "Old Ann", &["0A0B0C0D"])).await;
    let seed_bob = api
        .push("Seed", user("8", "Bob", &["11223344", "55667788"]))
        .await;
    let (st, r) = api
        .post("/api/v1/person-collection/auto-sync", json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(ids(&r["created"]), ["7", "8"]);

    // A door station pushes: Ann changed (ID conflict), Cat with Bob's card, Dan free.
    let ann = api.push("VTO-1", user("7", "Ann", &["0A0B0C0D"])).await;
    let cat = api.push("VTO-1", user("9", "Cat", &["11223344"])).await;
    let dan = api.push("VTO-1", user("10", "Dan", &["99999999"])).await;
    let l = api.list().await;
    assert_eq!(l.len(), 5);
    let a = row(&l, "VTO-1", "7");
    assert_eq!(
        (a["status"].clone(), a["person_id_conflict"].clone()),
        (json!("conflict"), json!(true))
    );
    assert_eq!(
        a["card_conflicts"],
        json!([]),
        "its own card is no conflict"
    );
    let c = row(&l, "VTO-1", "9");
    assert_eq!(c["status"], json!("conflict"));
    assert_eq!(c["person_id_conflict"], json!(false));
    assert_eq!(c["card_conflicts"][0]["owner_id"], json!("8"));
    assert_eq!(c["card_conflicts"][0]["owner_name"], json!("Bob"));
    let d = row(&l, "VTO-1", "10");
    assert_eq!(d["status"], json!("pending"));
    assert_eq!(row(&l, "Seed", "8")["status"], json!("synced"));
    let (_, only) = api.get("/api/v1/person-collection?status=conflict").await;
    assert_eq!(only.as_array().map(Vec::len), Some(2));

    // Side by side: the collected user and the person it would overwrite; the card's owner.
    let da = api.detail(&ann).await;
    assert_eq!(da["collected"]["name"], json!("Ann"));
    assert_eq!(da["existing"]["name"], json!("Old Ann"));
    assert_eq!(da["existing"]["id"], json!("7"));
    let dc = api.detail(&cat).await;
    assert_eq!(dc["existing"], Value::Null);
    assert_eq!(dc["card_owners"][0]["owner"]["id"], json!("8"));
    assert_eq!(dc["card_owners"][0]["number"], json!("11223344"));
    let (st, v) = api.get("/api/v1/person-collection/00zz").await;
    assert_eq!(
        (st, v["error"].clone()),
        (StatusCode::NOT_FOUND, json!("not_found"))
    );

    // Without the confirmation: refused, every conflict named, nothing changed.
    let (st, v) = api
        .post(
            "/api/v1/person-collection/sync",
            json!({"keys": [ann, cat, dan]}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"], json!("collection_conflict"));
    let msg = v["message"].as_str().unwrap_or("");
    assert!(msg.contains("VTO-1/7") && msg.contains("VTO-1/9"), "{msg}");
    assert_eq!(api.detail(&ann).await["existing"]["name"], json!("Old Ann"));
    assert_eq!(
        api.detail(&seed_bob).await["existing"]["cards"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(api.detail(&dan).await["existing"], Value::Null);

    // Auto sync takes only the conflict-free.
    let (st, r) = api
        .post("/api/v1/person-collection/auto-sync", json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(ids(&r["created"]), ["10"]);
    assert_eq!(r["overwritten"], json!([]));
    assert_eq!(r["skipped"].as_array().map(Vec::len), Some(2));
    assert_eq!(api.detail(&dan).await["existing"]["name"], json!("Dan"));
    assert_eq!(api.detail(&ann).await["existing"]["name"], json!("Old Ann"));

    // With the confirmation: Ann overwritten, the card taken from Bob and given to Cat.
    let (st, r) = api
        .post(
            "/api/v1/person-collection/sync",
            json!({"keys": [ann, cat], "confirm_overwrite": true}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(ids(&r["overwritten"]), ["7"]);
    assert_eq!(ids(&r["created"]), ["9"]);
    assert_eq!(
        r["cards_removed"],
        json!([{"number": "11223344", "from": "8", "to": "9"}])
    );
    assert_eq!(
        api.detail(&seed_ann).await["existing"]["name"],
        json!("Ann")
    );
    let bob = api.detail(&seed_bob).await;
    let bob_cards = bob["existing"]["cards"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(bob_cards.len(), 1);
    assert_eq!(bob_cards[0]["canonical"], json!("55667788"));
    assert_eq!(bob_cards[0]["main"], json!(true));
    let cat_now = api.detail(&cat).await;
    assert_eq!(
        cat_now["existing"]["cards"][0]["canonical"],
        json!("11223344")
    );
    assert_eq!(cat_now["collected"]["status"], json!("synced"));

    // The audit log names the card taken and the person overwritten.
    let (_, log) = api.get("/api/v1/audit?action=person.").await;
    let log = log.as_array().cloned().unwrap_or_default();
    assert!(log
        .iter()
        .any(|e| e["action"] == json!("person.card.delete")
            && e["target"] == json!("8")
            && e["detail"].as_str().unwrap_or("").contains("11223344")));
    assert!(log
        .iter()
        .any(|e| e["action"] == json!("person.collection.overwrite") && e["target"] == json!("7")));

    // Refresh re-evaluates after a change: Fay wants Bob's last card, until Bob gives it up.
    let fay = api.push("VTO-2", user("12", "Fay", &["55667788"])).await;
    let (st, l) = api
        .post("/api/v1/person-collection/refresh", json!({}))
        .await;
    assert_eq!(st, StatusCode::OK);
    let l = l.as_array().cloned().unwrap_or_default();
    assert_eq!(row(&l, "VTO-2", "12")["status"], json!("conflict"));
    api.push("Seed", user("8", "Bob", &[])).await;
    let (st, r) = api
        .post(
            "/api/v1/person-collection/sync",
            json!({"keys": [seed_bob], "confirm_overwrite": true}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    let (_, l) = api
        .post("/api/v1/person-collection/refresh", json!({}))
        .await;
    let l = l.as_array().cloned().unwrap_or_default();
    assert_eq!(row(&l, "VTO-2", "12")["status"], json!("pending"));
    assert_eq!(api.detail(&fay).await["card_owners"], json!([]));

    // Subscribe: off until turned on.
    let (_, v) = api.get("/api/v1/person-collection/subscription").await;
    assert_eq!(v, json!({"enabled": false}));
    let (st, v) = api
        .put(
            "/api/v1/person-collection/subscription",
            json!({"enabled": true}),
        )
        .await;
    assert_eq!((st, v), (StatusCode::OK, json!({"enabled": true})));
    let (_, v) = api.get("/api/v1/person-collection/subscription").await;
    assert_eq!(v, json!({"enabled": true}));

    // Operators may do all but the test push.
    let (st, _) = api
        .post(
            "/api/v1/accounts",
            json!({"username": "op", "password": "Wq8!zLx0", "role": "operator"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let op = Api {
        s: &s,
        c: client(),
        tok: login_as(&s, &client(), "op", "Wq8!zLx0").await["token"]
            .as_str()
            .expect("token")
            .to_owned(),
    };
    assert_eq!(op.list().await.len(), 6);
    let (st, _) = op
        .post("/api/v1/person-collection/auto-sync", json!({}))
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, v) = op
        .post(
            "/api/v1/person-collection/test-push",
            json!({"device": "X", "user": user("1", "A", &[])}),
        )
        .await;
    assert_eq!(
        (st, v["error"].clone()),
        (StatusCode::FORBIDDEN, json!("admin_only"))
    );
    // rules of person management hold for pushed users
    let (st, v) = api
        .post(
            "/api/v1/person-collection/test-push",
            json!({"device": "X", "user": user("1-2", "A", &[])}),
        )
        .await;
    assert_eq!(
        (st, v["error"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("person_id_format"))
    );

    // The page: list, detail, and a form sync refused without confirmation.
    let page = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = page
        .post(s.url("/api/v1/session"))
        .json(&json!({"username": ADMIN, "password": ADMIN_PW}))
        .send()
        .await
        .expect("login");
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("cookie")
        .to_owned();
    let csrf = r.json::<Value>().await.expect("json")["csrf_token"]
        .as_str()
        .expect("csrf")
        .to_owned();
    let html = |path: String| {
        let rq = page.get(s.url(&path)).header("cookie", &cookie);
        async move {
            let r = rq.send().await.expect("page");
            (r.status(), r.text().await.unwrap_or_default())
        }
    };
    let (st, text) = html("/persons/collection".into()).await;
    assert_eq!(st, StatusCode::OK);
    for needle in [
        "Sync selected",
        "Auto sync",
        "Refresh",
        "Subscribe is <strong>on</strong>",
        "I confirm overwriting conflicting persons",
        "Fay",
        &fay,
    ] {
        assert!(text.contains(needle), "{needle} missing");
    }
    let (st, text) = html(format!("/persons/collection/{ann}")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(text.contains("side-by-side") && text.contains("Ann"));
    let (_, text) = html("/persons".into()).await;
    assert!(text.contains("href=\"/persons/collection\""));

    // a new conflict through the page form: refused, with the reason in #error
    let gus = api.push("VTO-3", user("9", "Gus", &[])).await;
    let form = |confirm: bool| {
        let mut f = vec![("csrf", csrf.clone()), ("key", gus.clone())];
        if confirm {
            f.push(("confirm", "1".into()));
        }
        page.post(s.url("/persons/collection/sync"))
            .header("cookie", &cookie)
            .form(&f)
            .send()
    };
    let r = form(false).await.expect("post");
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let text = r.text().await.unwrap_or_default();
    assert!(
        text.contains("id=\"error\"") && text.contains("VTO-3/9"),
        "{text}"
    );
    let r = form(true).await.expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(api.detail(&gus).await["existing"]["name"], json!("Gus"));
    // a form without its token changes nothing
    let r = page
        .post(s.url("/persons/collection/subscribe"))
        .header("cookie", &cookie)
        .form(&[("csrf", "wrong"), ("enabled", "0")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (_, v) = api.get("/api/v1/person-collection/subscription").await;
    assert_eq!(v, json!({"enabled": true}));
}

#[tokio::test]
async fn test_push_is_404_without_the_test_hooks() {
    let s = Server::start(&[]);
    setup(&s).await;
    let tok = admin_token(&s).await;
    let r = client()
        .post(s.url("/api/v1/person-collection/test-push"))
        .bearer_auth(&tok)
        .json(&json!({"device": "X", "user": user("1", "A", &[])}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // not even a hint to the unauthenticated
    let r = client()
        .post(s.url("/api/v1/person-collection/test-push"))
        .json(&json!({}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // the rest is there
    let r = client()
        .get(s.url("/api/v1/person-collection"))
        .bearer_auth(&tok)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
}
