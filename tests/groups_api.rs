//! Call groups (manual 3.4) and information release (3.5) over real HTTP against the real binary:
//! groups with ordered members (up, down, delete), a building in two groups and a member that is
//! neither a manager client nor a VTS refused, the who-rings answer for each of the manual's rules,
//! and notices from draft to released with their per-device states and refusals.

mod common;

use common::*;
use reqwest::Method as M;
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

async fn device(s: &Server, t: &str, name: &str, kind: &str, number: &str) -> u64 {
    let (st, d) = call(
        s,
        t,
        M::POST,
        "/api/v1/devices",
        Some(json!({"name": name, "kind": kind, "ip": "192.168.1.50", "number": number})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{d}");
    d["id"].as_u64().unwrap()
}

async fn building(s: &Server, t: &str, number: &str) -> u64 {
    let (st, b) = call(
        s,
        t,
        M::POST,
        "/api/v1/organization/buildings",
        Some(json!({"number": number})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    b["id"].as_u64().unwrap()
}

fn order(g: &Value) -> Vec<u64> {
    g["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["device"].as_u64().unwrap())
        .collect()
}

fn ids(w: &Value) -> Vec<u64> {
    w["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn call_groups_order_refusals_and_who_rings() {
    let s = Server::start(&[]);
    setup(&s).await;
    let t = admin_token(&s).await;
    let (b1, b2, b3) = (
        building(&s, &t, "1").await,
        building(&s, &t, "2").await,
        building(&s, &t, "3").await,
    );
    let vto = device(&s, &t, "Gate VTO", "vto", "8001").await;
    let fence = device(&s, &t, "Fence", "fence_station", "8002").await;
    let vts = device(&s, &t, "Desk VTS", "vts", "101").await;
    let alice = device(&s, &t, "Alice PC", "manager_client", "888801").await;
    let bob = device(&s, &t, "Bob PC", "manager_client", "888802").await;

    let (st, g) = call(
        &s,
        &t,
        M::POST,
        "/api/v1/call-groups",
        Some(json!({"name": "North", "buildings": [b1, b2], "members": [vts, alice]})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{g}");
    assert_eq!(g["ring_seconds"], 30);
    let gid = g["id"].as_u64().unwrap();
    let base = format!("/api/v1/call-groups/{gid}");

    // members: add, move up/down, delete
    let (st, g) = call(
        &s,
        &t,
        M::POST,
        &format!("{base}/members"),
        Some(json!({"device": bob})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{g}");
    assert_eq!(order(&g), vec![vts, alice, bob]);
    let (_, g) = call(&s, &t, M::POST, &format!("{base}/members/{bob}/up"), None).await;
    assert_eq!(order(&g), vec![vts, bob, alice]);
    let (_, g) = call(&s, &t, M::POST, &format!("{base}/members/{vts}/down"), None).await;
    assert_eq!(order(&g), vec![bob, vts, alice]);
    let (_, g) = call(&s, &t, M::POST, &format!("{base}/members/{bob}/up"), None).await;
    assert_eq!(order(&g), vec![bob, vts, alice], "the first stays first");
    let (st, g) = call(&s, &t, M::DELETE, &format!("{base}/members/{alice}"), None).await;
    assert_eq!((st, order(&g)), (StatusCode::OK, vec![bob, vts]));
    let (st, _) = call(&s, &t, M::DELETE, &format!("{base}/members/{alice}"), None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // refusals: a door station as a member, a building in two groups
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        &format!("{base}/members"),
        Some(json!({"device": vto})),
    )
    .await;
    assert_eq!(
        (st, v["error"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("group_member_kind"))
    );
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        "/api/v1/call-groups",
        Some(json!({"name": "South", "buildings": [b2, b3]})),
    )
    .await;
    assert_eq!(
        (st, v["error"].clone()),
        (StatusCode::CONFLICT, json!("building_in_group"))
    );
    let (st, south) = call(
        &s,
        &t,
        M::POST,
        "/api/v1/call-groups",
        Some(json!({"name": "South", "buildings": [b3], "ring_seconds": 15})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{south}");
    let (st, v) = call(
        &s,
        &t,
        M::PATCH,
        &format!("/api/v1/call-groups/{}", south["id"]),
        Some(json!({"buildings": [b1]})),
    )
    .await;
    assert_eq!(
        (st, v["error"].clone()),
        (StatusCode::CONFLICT, json!("building_in_group"))
    );
    let (st, v) = call(
        &s,
        &t,
        M::PATCH,
        &base,
        Some(json!({"name": "North wing", "ring_seconds": 20})),
    )
    .await;
    assert_eq!(
        (st, v["name"].clone(), v["ring_seconds"].clone()),
        (StatusCode::OK, json!("North wing"), json!(20))
    );
    let (_, list) = call(&s, &t, M::GET, "/api/v1/call-groups", None).await;
    assert_eq!(list.as_array().unwrap().len(), 2);

    // who rings
    let who = |dev: u64, b: Option<u64>| {
        let q = match b {
            Some(b) => format!("/api/v1/call-groups/who-rings?device={dev}&building={b}"),
            None => format!("/api/v1/call-groups/who-rings?device={dev}"),
        };
        let (s, t) = (&s, t.clone());
        async move {
            let (st, w) = call(s, &t, M::GET, &q, None).await;
            assert_eq!(st, StatusCode::OK, "{w}");
            w
        }
    };
    let w = who(vto, Some(b1)).await;
    assert_eq!(
        (w["mode"].clone(), ids(&w), w["ring_seconds"].clone()),
        (json!("in_turn"), vec![bob, vts], json!(20))
    );
    // a group without members is no group: the platform's manager clients all ring
    let w = who(vto, Some(b3)).await;
    assert_eq!(
        (w["mode"].clone(), ids(&w)),
        (json!("together"), vec![alice, bob])
    );
    // no group for the building
    let b4 = building(&s, &t, "4").await;
    let w = who(vto, Some(b4)).await;
    assert_eq!(
        (w["mode"].clone(), ids(&w), w["ring_seconds"].clone()),
        (json!("together"), vec![alice, bob], json!(30))
    );
    // a fence station only calls the platform, even in a grouped building
    let w = who(fence, Some(b1)).await;
    assert_eq!(
        (w["mode"].clone(), ids(&w)),
        (json!("together"), vec![alice, bob])
    );
    // a VTS makes no calls
    let w = who(vts, Some(b1)).await;
    assert_eq!(w["mode"], "refused");
    assert!(ids(&w).is_empty());
    assert!(w["reason"].as_str().unwrap().contains("VTS"), "{w}");
    let (st, _) = call(
        &s,
        &t,
        M::GET,
        "/api/v1/call-groups/who-rings?device=999",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // delete the group: building 1 falls back to the platform
    assert_eq!(
        call(&s, &t, M::DELETE, &base, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&s, &t, M::GET, &base, None).await.0,
        StatusCode::NOT_FOUND
    );
    let w = who(vto, Some(b1)).await;
    assert_eq!(w["mode"], "together");

    // operators read but do not change
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
        call(&s, &op, M::GET, "/api/v1/call-groups", None).await.0,
        StatusCode::OK
    );
    let (st, v) = call(
        &s,
        &op,
        M::POST,
        "/api/v1/call-groups",
        Some(json!({"name": "East", "buildings": [b4]})),
    )
    .await;
    assert_eq!(
        (st, v["error"].clone()),
        (StatusCode::FORBIDDEN, json!("admin_only"))
    );
}

/// Gives `devices` registration numbers by writing the store while the service is stopped (the
/// registration API is not in this branch yet), then starts the service again on the same data.
fn register_offline(s: Server, devices: &[u64]) -> (Server, tempfile::TempDir) {
    use gatehouse::intercom::registrations::{Registration, RegistrationKind};
    use gatehouse::store::{self, codec, Store, REGISTRATIONS};
    let mut s = s;
    let tmp = s.take_tmp().unwrap();
    let dir = s.data_dir.clone();
    drop(s);
    let st = Store::open(&dir.join(store::FILE_NAME)).unwrap();
    st.write(|txn| -> Result<(), store::StoreError> {
        let mut t = txn.open_table(REGISTRATIONS)?;
        for &d in devices {
            let r = Registration {
                device: d,
                number: format!("1#01#80{d:02}"),
                kind: RegistrationKind::Vts {
                    suffix: format!("{d:02}"),
                },
                sip_password: Vec::new(),
                created: 0,
            };
            t.insert(d, codec::encode(&r).unwrap().as_slice())?;
        }
        Ok(())
    })
    .unwrap();
    drop(st);
    (Server::start_in(&dir, &[]), tmp)
}

/// Reports deliveries the way the SIP issue will (`notices::report`), with the service stopped,
/// then starts it again on the same data.
fn report_offline(s: Server, notice: u64, outcomes: &[(u64, Result<(), String>)]) -> Server {
    let dir = s.data_dir.clone();
    drop(s);
    let app = gatehouse::app::App::open(gatehouse::config::Config {
        data_dir: dir.clone(),
        ..Default::default()
    })
    .unwrap();
    for (device, outcome) in outcomes {
        gatehouse::intercom::notices::report(&app, notice, *device, outcome.clone()).unwrap();
    }
    drop(app);
    Server::start_in(&dir, &[])
}

#[tokio::test]
async fn notices_draft_release_and_states() {
    let s = Server::start(&[]);
    setup(&s).await;
    let t = admin_token(&s).await;
    let vto = device(&s, &t, "Gate VTO", "vto", "8001").await;
    let vth = device(&s, &t, "Flat VTH", "vth", "9901").await;
    let bare = device(&s, &t, "Spare VTH", "vth", "9902").await;
    let vts = device(&s, &t, "Desk VTS", "vts", "101").await;
    let (s, _tmp) = register_offline(s, &[vto, vth, vts]);
    let t = admin_token(&s).await;

    let notice = |text: String, devices: Vec<u64>| json!({"subject": "Water off", "text": text, "start": "2030-01-01T08:00:00Z", "devices": devices});
    // refusals: 1,001 characters, no registration number, not a VTO/VTH
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        "/api/v1/notices",
        Some(notice("x".repeat(1001), vec![vto])),
    )
    .await;
    assert_eq!(
        (st, v["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("text"))
    );
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        "/api/v1/notices",
        Some(notice("Hello".into(), vec![vto, bare])),
    )
    .await;
    assert_eq!(
        (st, v["error"].clone()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!("notice_device_unregistered")
        )
    );
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        "/api/v1/notices",
        Some(notice("Hello".into(), vec![vts])),
    )
    .await;
    assert_eq!(
        (st, v["error"].clone()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!("notice_device_kind")
        )
    );

    // a draft is changed and deleted freely
    let (st, d) = call(
        &s,
        &t,
        M::POST,
        "/api/v1/notices",
        Some(notice("x".repeat(1000), vec![vto])),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{d}");
    assert_eq!(d["state"], "draft");
    let draft = format!("/api/v1/notices/{}", d["id"]);
    let (st, d) = call(
        &s,
        &t,
        M::PATCH,
        &draft,
        Some(json!({"text": "No water on Tuesday.", "devices": [vto, vth]})),
    )
    .await;
    assert_eq!(
        (
            st,
            d["text"].clone(),
            d["targets"].as_array().unwrap().len()
        ),
        (StatusCode::OK, json!("No water on Tuesday."), 2)
    );
    let (st, other) = call(
        &s,
        &t,
        M::POST,
        "/api/v1/notices",
        Some(notice("Spare".into(), vec![vth])),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(
        call(
            &s,
            &t,
            M::DELETE,
            &format!("/api/v1/notices/{}", other["id"]),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );

    // released: fixed, with a state per device
    let (st, r) = call(&s, &t, M::POST, &format!("{draft}/release"), None).await;
    assert_eq!(
        (st, r["state"].clone()),
        (StatusCode::OK, json!("released"))
    );
    let (st, v) = call(&s, &t, M::PATCH, &draft, Some(json!({"subject": "Late"}))).await;
    assert_eq!(
        (st, v["error"].clone()),
        (StatusCode::CONFLICT, json!("notice_released"))
    );
    let (st, v) = call(&s, &t, M::DELETE, &draft, None).await;
    assert_eq!(
        (st, v["error"].clone()),
        (StatusCode::CONFLICT, json!("notice_released"))
    );
    let (st, v) = call(&s, &t, M::POST, &format!("{draft}/release"), None).await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    let (st, d) = call(&s, &t, M::GET, &draft, None).await;
    assert_eq!(st, StatusCode::OK);
    let targets: Vec<(u64, String, String)> = d["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["device"].as_u64().unwrap(),
                t["name"].as_str().unwrap().to_owned(),
                t["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        targets,
        vec![
            (vto, "Gate VTO".into(), "pending".into()),
            (vth, "Flat VTH".into(), "pending".into())
        ]
    );
    assert_eq!(d["start"], "2030-01-01T08:00:00Z");

    // the SIP side reports: one delivered, one failed; the details show it
    let id = d["id"].as_u64().unwrap();
    let s = report_offline(s, id, &[(vto, Ok(())), (vth, Err("no answer".into()))]);
    let t = admin_token(&s).await;
    let (_, d) = call(&s, &t, M::GET, &draft, None).await;
    assert_eq!(
        (
            d["targets"][0]["state"].clone(),
            d["targets"][1]["state"].clone(),
            d["targets"][1]["error"].clone()
        ),
        (json!("delivered"), json!("failed"), json!("no answer"))
    );
    let (_, list) = call(&s, &t, M::GET, "/api/v1/notices", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(
        (
            list[0]["state"].clone(),
            list[0]["targets"].clone(),
            list[0]["delivered"].clone(),
            list[0]["failed"].clone()
        ),
        (json!("released"), json!(2), json!(1), json!(1))
    );
}
