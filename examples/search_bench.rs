//! The search benchmark (tests/perf/search-bench): fills a fresh store with N persons (default
//! 100,000) with two cards each through `persons::transfer::import`, then times
//! `persons::search` by card number and by name substring, 50 queries each, and prints the median
//! and 95th percentile. Targets: card < 5 ms, name < 50 ms.

use std::time::{Duration, Instant};

use gatehouse::accounts::{Actor, Role};
use gatehouse::persons::transfer::{self, Format, ImportOutcome, COLUMNS};
use gatehouse::persons::{self, SearchBy, SearchQuery};

fn stats(mut d: Vec<Duration>) -> (f64, f64) {
    d.sort();
    let ms = |x: Duration| x.as_secs_f64() * 1000.0;
    let p95 = ((d.len() * 95).div_ceil(100)).clamp(1, d.len()) - 1;
    (ms(d[d.len() / 2]), ms(d[p95]))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let app = gatehouse::app::App::open(gatehouse::config::Config {
        data_dir: dir.path().to_owned(),
        ..Default::default()
    })?;
    let actor = Actor {
        username: "bench".into(),
        role: Role::Admin,
        ip: [127, 0, 0, 1].into(),
        session_id: "bench".into(),
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(COLUMNS)?;
    for i in 0..n {
        w.write_record([
            format!("P{i:06}"),
            format!("Person {i} Name{}", i % 997),
            format!("Company/Dept {}", i % 20),
            "general".into(),
            String::new(),
            String::new(),
            String::new(),
            format!("{:08X}:m;{:08X}", 0x1000_0000 + i, 0x4000_0000 + i),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ])?;
    }
    let bytes = w.into_inner()?;
    let t = Instant::now();
    match transfer::import(&app, &actor, &bytes, Format::Csv)? {
        ImportOutcome::Imported(r) => println!(
            "filled: {} persons ({} cards) by one import of {} bytes in {:.2} s",
            r.imported,
            2 * r.imported,
            bytes.len(),
            t.elapsed().as_secs_f64()
        ),
        ImportOutcome::Rejected(e) => return Err(format!("import rejected: {:?}", &e[..1]).into()),
    }

    let queries = 50;
    let mut by_card = Vec::new();
    let mut by_name = Vec::new();
    for k in 0..queries {
        let i = (k * 7919 + 13) % n;
        let q = SearchQuery {
            q: Some(format!("{:08X}", 0x4000_0000 + i)),
            by: Some(SearchBy::Card),
            ..Default::default()
        };
        let t = Instant::now();
        let page = persons::search(&app, &q)?;
        by_card.push(t.elapsed());
        assert_eq!(page.total, 1, "card query {k}");
        assert_eq!(page.items[0].id, format!("P{i:06}"));

        let q = SearchQuery {
            q: Some(format!("name{}", i % 997)),
            by: Some(SearchBy::Name),
            ..Default::default()
        };
        let t = Instant::now();
        let page = persons::search(&app, &q)?;
        by_name.push(t.elapsed());
        assert!(page.total >= n / 997 / 2, "name query {k}: {}", page.total);
    }
    let (cm, cp) = stats(by_card);
    let (nm, np) = stats(by_name);
    println!("search by card ({queries} queries over {n} persons): median {cm:.3} ms, p95 {cp:.3} ms (target < 5 ms)");
    println!("search by name substring ({queries} queries over {n} persons): median {nm:.3} ms, p95 {np:.3} ms (target < 50 ms)");
    Ok(())
}
