//! Benchmark of issue 5 point 1: batch creation of a compound of 50 buildings × 4 units ×
//! 30 floors × 8 rooms (48,000 rooms) in one transaction on a fresh store. Target: under 5 s.
//! Run: `cargo bench --bench organization`.

use std::time::Instant;

use gatehouse::accounts::{Actor, Role};
use gatehouse::intercom::organization::{self, BatchOrganization};

fn main() {
    let mut times = Vec::new();
    for _ in 0..3 {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = gatehouse::config::Config {
            data_dir: dir.path().to_owned(),
            ..Default::default()
        };
        let app = gatehouse::app::App::open(config).expect("app");
        let actor = Actor {
            username: "bench".into(),
            role: Role::Admin,
            ip: [127, 0, 0, 1].into(),
            session_id: "bench".into(),
        };
        let req = BatchOrganization {
            buildings: 50,
            units_per_building: 4,
            floors: 30,
            rooms_per_floor: 8,
        };
        let t = Instant::now();
        let made = organization::batch_create(&app, &actor, &req).expect("batch");
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(made.rooms, 48_000);
        let t2 = Instant::now();
        let tree = organization::snapshot(&app).expect("snapshot").tree();
        let read = t2.elapsed().as_secs_f64();
        assert_eq!(tree.rooms, 48_000);
        println!("batch create 48,000 rooms: {secs:.3} s (whole tree read back: {read:.3} s)");
        times.push(secs);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    println!("median of 3: {:.3} s (target < 5 s)", times[1]);
}
