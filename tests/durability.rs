//! Acknowledged writes survive `kill -9`: a stream of account creations is cut by SIGKILL in the
//! middle, the service is started again on the same data dir, and every write that was answered
//! 201 is there.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_survives_sigkill() {
    let mut s = Server::start(&[]);
    let tmp = s.take_tmp();
    setup(&s).await;
    let tok = admin_token(&s).await;
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (acked, url, tok) = (acked.clone(), s.url("/api/v1/accounts"), tok.clone());
        writers.push(tokio::spawn(async move {
            let c = client();
            for i in 0.. {
                let name = format!("w{w}n{i}");
                let r = c
                    .post(&url)
                    .bearer_auth(&tok)
                    .json(&json!({"username": name, "password": "Dk8#mWq2", "role": "operator"}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 201 => acked.lock().unwrap().push(name),
                    Ok(r) => panic!("unexpected {}", r.status()),
                    Err(_) => break, // the server died under us: this one was not acknowledged
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    s.child.kill().expect("SIGKILL"); // std sends SIGKILL on Unix
    s.child.wait().expect("wait");
    for w in writers {
        w.await.expect("writer");
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 10,
        "too few writes to mean anything: {}",
        acked.len()
    );
    eprintln!("{} writes acknowledged before SIGKILL", acked.len());

    let s2 = Server::start_in(&s.data_dir, &[]);
    let tok = admin_token(&s2).await;
    let list: Value = client()
        .get(s2.url("/api/v1/accounts"))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    let lost: Vec<&String> = acked
        .iter()
        .filter(|n| !names.contains(&n.as_str()))
        .collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    drop(tmp);
}
