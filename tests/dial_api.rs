//! Dial management (manual 3.2) and room unlock passwords (3.3) over real HTTP against the real
//! binary: every registration rule and refusal, the SIP password shown once, devices with a number
//! not deletable, room passwords and their sending status, and the device-list round trip.

mod common;

use common::*;
use reqwest::Method as M;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn call(s: &Server, tok: &str, m: M, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut r = client().request(m, s.url(path)).bearer_auth(tok);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let st = r.status();
    (st, r.json().await.unwrap_or(Value::Null))
}

async fn device(s: &Server, t: &str, name: &str, kind: &str, number: &str) -> u64 {
    let (st, v) = call(
        s,
        t,
        M::POST,
        "/api/v1/devices",
        Some(json!({"name": name, "kind": kind, "ip": "10.0.0.5", "number": number, "password": "devpass1"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    v["id"].as_u64().unwrap()
}

/// Building 11 with units 01 and 02, rooms 11 and 12 in each.
async fn organization(s: &Server, t: &str) -> (u64, Vec<u64>, Vec<Value>) {
    let (_, b) = call(
        s,
        t,
        M::POST,
        "/api/v1/organization/buildings",
        Some(json!({"number": "11"})),
    )
    .await;
    let b = b["id"].as_u64().unwrap();
    let mut units = Vec::new();
    let mut rooms = Vec::new();
    for u in ["01", "02"] {
        let (_, v) = call(
            s,
            t,
            M::POST,
            "/api/v1/organization/units",
            Some(json!({"building": b, "number": u})),
        )
        .await;
        let uid = v["id"].as_u64().unwrap();
        units.push(uid);
        for r in ["11", "12"] {
            let (st, v) = call(
                s,
                t,
                M::POST,
                "/api/v1/organization/rooms",
                Some(json!({"unit": uid, "number": r})),
            )
            .await;
            assert_eq!(st, StatusCode::CREATED, "{v}");
            rooms.push(v);
        }
    }
    (b, units, rooms)
}

fn err(v: &Value) -> &str {
    v["error"].as_str().unwrap_or("")
}

#[tokio::test]
async fn registration_rules_sip_password_and_room_passwords() {
    let s = Server::start(&[]);
    setup(&s).await;
    let t = admin_token(&s).await;
    let (_b, units, rooms) = organization(&s, &t).await;
    let room11 = rooms[0]["id"].as_u64().unwrap();
    let room12 = rooms[1]["id"].as_u64().unwrap();
    let vth1 = device(&s, &t, "VTH 1", "vth", "9901").await;
    let vth2 = device(&s, &t, "VTH 2", "vth", "9902").await;
    let vto = device(&s, &t, "Door", "vto", "8055").await;
    let fence = device(&s, &t, "Fence", "fence_station", "8066").await;
    let vts = device(&s, &t, "Master", "vts", "101").await;
    let reg = "/api/v1/registrations";

    // VTH: the manual's 11#01#11#5 (with an extension), wrong kinds refused
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        reg,
        Some(json!({"device": vto, "type": "vth", "room": room11})),
    )
    .await;
    assert_eq!(
        (st, err(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "registration_device_kind"),
        "{v}"
    );
    assert!(
        v["message"].as_str().unwrap().contains("indoor monitor"),
        "{v}"
    );
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        reg,
        Some(json!({"device": vth1, "type": "vth", "room": room11})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["number"], "11#01#11");
    let pw = v["sip_password"].as_str().unwrap().to_owned();
    assert_eq!(pw.len(), 20);
    // a second VTH in the room needs an extension
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        reg,
        Some(json!({"device": vth2, "type": "vth", "room": room11})),
    )
    .await;
    assert_eq!(
        (st, err(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "registration_extension_required"
        ),
        "{v}"
    );
    assert!(
        v["message"].as_str().unwrap().contains("more than one VTH"),
        "{v}"
    );
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        reg,
        Some(json!({"device": vth2, "type": "vth", "room": room11, "extension": 5})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["number"], "11#01#11#5");
    assert_eq!(v["alias"], "21120121115");
    // one number per device
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        reg,
        Some(json!({"device": vth1, "type": "vth", "room": room12})),
    )
    .await;
    assert_eq!(
        (st, err(&v)),
        (StatusCode::CONFLICT, "registration_exists"),
        "{v}"
    );
    assert!(v["message"].as_str().unwrap().contains("11#01#11"), "{v}");

    // VTO: suffix must equal the last two digits of the number; kind must fit
    let vto_req = |suffix: &str, station: &str, device: u64| json!({"device": device, "type": "vto", "station": station, "unit": units[0], "suffix": suffix});
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        reg,
        Some(vto_req("56", "unit_door_station", vto)),
    )
    .await;
    assert_eq!(
        (st, err(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "registration_suffix_mismatch"
        ),
        "{v}"
    );
    assert!(
        v["message"].as_str().unwrap().contains("last two digits"),
        "{v}"
    );
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        reg,
        Some(vto_req("5", "unit_door_station", vto)),
    )
    .await;
    assert_eq!(
        (st, err(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "registration_suffix_format"
        ),
        "{v}"
    );
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        reg,
        Some(vto_req("01", "unit_door_station", vts)),
    )
    .await;
    assert_eq!(
        (st, err(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "registration_device_kind"),
        "{v}"
    );
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        reg,
        Some(vto_req("66", "unit_door_station", fence)),
    )
    .await;
    assert_eq!(
        (st, err(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "registration_station"),
        "{v}"
    );
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        reg,
        Some(json!({"device": vto, "type": "vto", "station": "unit_door_station", "suffix": "55"})),
    )
    .await;
    assert_eq!(
        (st, err(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "registration_unit"),
        "{v}"
    );
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        reg,
        Some(vto_req("55", "unit_door_station", vto)),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["number"], "11#01#8055");
    // duplicate number: another VTO numbered 8055 in the same unit
    let vto_b = device(&s, &t, "Door B", "vto", "8055").await;
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        reg,
        Some(vto_req("55", "unit_door_station", vto_b)),
    )
    .await;
    assert_eq!(
        (st, err(&v)),
        (StatusCode::CONFLICT, "registration_number_taken"),
        "{v}"
    );

    // VTS: 101 → 01
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        reg,
        Some(json!({"device": vts, "type": "vts", "suffix": "10"})),
    )
    .await;
    assert_eq!(
        (st, err(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "registration_suffix_mismatch"
        ),
        "{v}"
    );
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        reg,
        Some(json!({"device": vth2 + 100, "type": "vts", "suffix": "01"})),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        reg,
        Some(json!({"device": vth1, "type": "vts", "suffix": "01"})),
    )
    .await;
    assert_eq!(
        (st, err(&v)),
        (StatusCode::CONFLICT, "registration_exists"),
        "{v}"
    );
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        reg,
        Some(json!({"device": vts, "type": "vts", "suffix": "01"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["number"], "101");

    // the SIP password is shown once; afterwards only that it is set; regenerate gives a new one
    let (st, v) = call(&s, &t, M::GET, &format!("{reg}/{vth1}"), None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["sip_password_set"], true);
    assert!(v.get("sip_password").is_none(), "{v}");
    let (_, list) = call(&s, &t, M::GET, reg, None).await;
    assert_eq!(list.as_array().unwrap().len(), 4);
    assert!(!list.to_string().contains(&pw));
    let (st, v) = call(&s, &t, M::POST, &format!("{reg}/{vth1}/sip-password"), None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let pw2 = v["sip_password"].as_str().unwrap();
    assert_eq!(pw2.len(), 20);
    assert_ne!(pw2, pw);

    // a device with a number cannot be deleted; without it, it can
    let (st, v) = call(&s, &t, M::DELETE, &format!("/api/v1/devices/{vts}"), None).await;
    assert_eq!(
        (st, err(&v)),
        (StatusCode::CONFLICT, "device_registered"),
        "{v}"
    );
    assert!(v["message"].as_str().unwrap().contains("101"), "{v}");
    let (st, _) = call(&s, &t, M::DELETE, &format!("{reg}/{vts}"), None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = call(&s, &t, M::DELETE, &format!("/api/v1/devices/{vts}"), None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);

    // room passwords
    let pwurl = format!("/api/v1/organization/rooms/{room11}/password");
    for (p, c, code) in [
        ("12345", "12345", "room_password_format"),
        ("123456789", "123456789", "room_password_format"),
        ("12a456", "12a456", "room_password_format"),
        ("888888", "888889", "room_password_confirm"),
    ] {
        let (st, v) = call(
            &s,
            &t,
            M::PUT,
            &pwurl,
            Some(json!({"password": p, "confirm": c})),
        )
        .await;
        assert_eq!(
            (st, err(&v)),
            (StatusCode::UNPROCESSABLE_ENTITY, code),
            "{p} {v}"
        );
    }
    let (st, v) = call(
        &s,
        &t,
        M::PUT,
        &pwurl,
        Some(json!({"password": "888888", "confirm": "888888"})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // the unit's VTO and the room's two VTHs
    assert_eq!(v["queued"], 3);
    let status_url = format!("/api/v1/organization/rooms/{room11}/send-status");
    let (_, stv) = call(&s, &t, M::GET, &status_url, None).await;
    let mut devs: Vec<u64> = stv
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["device"].as_u64().unwrap())
        .collect();
    devs.sort();
    assert_eq!(devs, vec![vth1, vth2, vto]);
    assert!(
        stv.as_array()
            .unwrap()
            .iter()
            .all(|x| x["state"] == "pending"),
        "{stv}"
    );
    let (_, rv) = call(
        &s,
        &t,
        M::GET,
        &format!("/api/v1/organization/rooms?unit={}", units[0]),
        None,
    )
    .await;
    assert!(rv.to_string().contains("\"password_set\":true"), "{rv}");
    // change, send, batch send
    let (st, _) = call(
        &s,
        &t,
        M::PUT,
        &pwurl,
        Some(json!({"password": "12345678", "confirm": "12345678"})),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        &format!("/api/v1/organization/rooms/{room11}/send"),
        None,
    )
    .await;
    assert_eq!((st, v["queued"].clone()), (StatusCode::OK, json!(3)));
    // room 12 has no password yet: batch send refuses naming it, then works
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        "/api/v1/organization/rooms/send",
        Some(json!({"rooms": [room11, room12]})),
    )
    .await;
    assert_eq!(
        (st, err(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "room_password_missing"),
        "{v}"
    );
    let (st, _) = call(
        &s,
        &t,
        M::PUT,
        &format!("/api/v1/organization/rooms/{room12}/password"),
        Some(json!({"password": "654321", "confirm": "654321"})),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        "/api/v1/organization/rooms/send",
        Some(json!({"rooms": [room11, room12]})),
    )
    .await;
    // room 12: only the unit's VTO
    assert_eq!((st, v["queued"].clone()), (StatusCode::OK, json!(4)), "{v}");
    let (_, stv) = call(
        &s,
        &t,
        M::GET,
        &format!("/api/v1/organization/rooms/{room12}/send-status"),
        None,
    )
    .await;
    assert_eq!(stv.as_array().unwrap().len(), 1);
    assert_eq!(stv[0]["state"], "pending");
    assert_eq!(stv[0]["number"], "11#01#8055");
    // clear
    let (st, v) = call(&s, &t, M::DELETE, &pwurl, None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (_, rv) = call(
        &s,
        &t,
        M::GET,
        &format!("/api/v1/organization/rooms?unit={}&q=11", units[0]),
        None,
    )
    .await;
    assert!(rv.to_string().contains("\"password_set\":false"), "{rv}");
}

#[tokio::test]
async fn export_then_import_into_another_gatehouse() {
    let a = Server::start(&[]);
    setup(&a).await;
    let ta = admin_token(&a).await;
    let (_b, units, rooms) = organization(&a, &ta).await;
    let vth = device(&a, &ta, "VTH 1", "vth", "9901").await;
    let vto = device(&a, &ta, "Door", "vto", "8055").await;
    let vts = device(&a, &ta, "Master", "vts", "101").await;
    let manager = device(&a, &ta, "Desk softphone", "manager_client", "7001").await;
    device(&a, &ta, "Spare", "vth", "9909").await;
    let reg = "/api/v1/registrations";
    for body in [
        json!({"device": vth, "type": "vth", "room": rooms[2]["id"], "extension": 2}),
        json!({"device": vto, "type": "vto", "station": "unit_door_station", "unit": units[1], "suffix": "55"}),
        json!({"device": vts, "type": "vts", "suffix": "01"}),
        json!({"device": manager, "type": "manager"}),
    ] {
        let (st, v) = call(&a, &ta, M::POST, reg, Some(body)).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
    }
    let (st, file) = call(&a, &ta, M::GET, "/api/v1/devices/export", None).await;
    assert_eq!(st, StatusCode::OK, "{file}");
    assert!(
        !file.to_string().contains("devpass1"),
        "no secrets in exports"
    );

    let b = Server::start(&[]);
    setup(&b).await;
    let tb = admin_token(&b).await;
    // a file whose organization does not fit a Gatehouse that has one: nothing is imported
    let c = Server::start(&[]);
    setup(&c).await;
    let tc = admin_token(&c).await;
    call(
        &c,
        &tc,
        M::POST,
        "/api/v1/organization/buildings",
        Some(json!({"number": "7"})),
    )
    .await;
    let (st, v) = call(
        &c,
        &tc,
        M::POST,
        "/api/v1/devices/import",
        Some(file.clone()),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (_, devs) = call(&c, &tc, M::GET, "/api/v1/devices", None).await;
    assert_eq!(devs, json!([]));
    // an empty Gatehouse takes the organization with the devices
    let (st, v) = call(&b, &tb, M::POST, "/api/v1/devices/import", Some(file)).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["devices"], 5);
    assert_eq!(v["registrations"].as_array().unwrap().len(), 4);
    assert!(
        v["registrations"][0]["sip_password"]
            .as_str()
            .unwrap()
            .len()
            == 20
    );

    let strip = |l: Value| {
        let mut out: Vec<Value> = l
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                json!([
                    r["device_name"],
                    r["device_kind"],
                    r["number"],
                    r["type"],
                    r["station"],
                    r["extension"],
                    r["suffix"]
                ])
            })
            .collect();
        out.sort_by_key(|v| v.to_string());
        out
    };
    let (_, la) = call(&a, &ta, M::GET, reg, None).await;
    let (_, lb) = call(&b, &tb, M::GET, reg, None).await;
    assert_eq!(strip(la), strip(lb));
    let (_, da) = call(&a, &ta, M::GET, "/api/v1/devices", None).await;
    let (_, db) = call(&b, &tb, M::GET, "/api/v1/devices", None).await;
    let (_, oa) = call(&a, &ta, M::GET, "/api/v1/organization", None).await;
    let (_, ob) = call(&b, &tb, M::GET, "/api/v1/organization", None).await;
    assert_eq!(oa["rooms"], ob["rooms"]);
    assert_eq!(
        oa["buildings"].to_string().len(),
        ob["buildings"].to_string().len()
    );
    let names = |d: Value| {
        let mut v: Vec<String> = d
            .as_array()
            .unwrap()
            .iter()
            .map(|x| format!("{} {} {} {}", x["name"], x["kind"], x["ip"], x["number"]))
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(da), names(db));
}

/// A manager client's softphone registers like the others: its registration number is its device
/// number (digits, like a VTS's), with a SIP password shown once; only manager clients take that
/// type, and a number may not meet another's alias or the management centre's number.
#[tokio::test]
async fn manager_client_registration() {
    let s = Server::start(&[]);
    setup(&s).await;
    let t = admin_token(&s).await;
    let reg = "/api/v1/registrations";
    let manager = device(&s, &t, "Desk softphone", "manager_client", "7001").await;
    let vth = device(&s, &t, "VTH", "vth", "9901").await;
    let vts = device(&s, &t, "Master", "vts", "101").await;
    let alias_of_101 = device(&s, &t, "Alias clash", "manager_client", "3101").await;
    let centre = device(&s, &t, "Centre clash", "manager_client", "888888").await;

    let (st, v) = call(
        &s,
        &t,
        M::POST,
        reg,
        Some(json!({"device": vth, "type": "manager"})),
    )
    .await;
    assert_eq!(
        (st, err(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "registration_device_kind"),
        "{v}"
    );
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        reg,
        Some(json!({"device": manager, "type": "vts", "suffix": "01"})),
    )
    .await;
    assert_eq!(
        (st, err(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "registration_device_kind"),
        "{v}"
    );

    let (st, v) = call(
        &s,
        &t,
        M::POST,
        reg,
        Some(json!({"device": manager, "type": "manager"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["number"], "7001");
    assert_eq!(v["alias"], "47001");
    assert_eq!(v["type"], "manager");
    assert_eq!(v["device_kind"], "manager_client");
    let pw = v["sip_password"].as_str().unwrap().to_owned();
    assert_eq!(pw.len(), 20);
    let (st, v) = call(&s, &t, M::GET, &format!("{reg}/{manager}"), None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        (v["type"].as_str(), v["sip_password_set"].as_bool()),
        (Some("manager"), Some(true))
    );
    assert!(!v.to_string().contains(&pw));

    // `3101` is the alias of the VTS number `101`: whichever comes second is refused
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        reg,
        Some(json!({"device": vts, "type": "vts", "suffix": "01"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        reg,
        Some(json!({"device": alias_of_101, "type": "manager"})),
    )
    .await;
    assert_eq!(
        (st, err(&v)),
        (StatusCode::CONFLICT, "registration_number_taken"),
        "{v}"
    );
    // the management centre's number (default 888888) is not a registration number
    let (st, v) = call(
        &s,
        &t,
        M::POST,
        reg,
        Some(json!({"device": centre, "type": "manager"})),
    )
    .await;
    assert_eq!(
        (st, err(&v)),
        (StatusCode::CONFLICT, "registration_number_taken"),
        "{v}"
    );
    assert!(
        v["message"].as_str().unwrap().contains("management centre"),
        "{v}"
    );

    let (_, list) = call(&s, &t, M::GET, reg, None).await;
    let numbers: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["7001", "101"]);
}
