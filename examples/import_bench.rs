//! Writes a person file for the import benchmark (tests/perf/import-bench): `import_bench N DIR`
//! writes DIR/persons.csv and DIR/persons.xlsx with N persons, every field filled and two cards
//! each, in the import format of `gatehouse::persons::transfer`.

use std::path::PathBuf;

use gatehouse::persons::transfer::COLUMNS;

/// Row `i` of the benchmark file.
pub fn row(i: usize) -> Vec<String> {
    let kinds = ["general", "guest", "vip", "patrol", "blocklist", "other"];
    vec![
        format!("P{i:06}"),
        format!("Person {i} Name{}", i % 997),
        format!("Company/Dept {}/Team {}", i % 20, i % 5),
        kinds[i % kinds.len()].to_owned(),
        "2026-01-01 00:00:00".to_owned(),
        "2035-12-31 23:59:59".to_owned(),
        if i % 2 == 0 {
            format!("{:06}", 100_000 + i % 900_000)
        } else {
            String::new()
        },
        format!("{:08X}:m;{:08X}:d", 0x1000_0000 + i, 0x4000_0000 + i),
        format!("{:04}", i % 10_000),
        ["male", "female", ""][i % 3].to_owned(),
        "passport".to_owned(),
        format!("X{i:08}"),
        format!("+1 555 {i:07}"),
        format!("p{i}@example.com"),
        format!("{i} Long Road, Town"),
        "Example Ltd".to_owned(),
        "Staff".to_owned(),
        "benchmark row".to_owned(),
    ]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().ok_or("usage: import_bench N DIR")?.parse()?;
    let dir = PathBuf::from(args.next().ok_or("usage: import_bench N DIR")?);
    std::fs::create_dir_all(&dir)?;

    let mut w = csv::Writer::from_path(dir.join("persons.csv"))?;
    w.write_record(COLUMNS)?;
    for i in 0..n {
        w.write_record(row(i))?;
    }
    w.flush()?;

    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in COLUMNS.iter().enumerate() {
        ws.write_string(0, c as u16, *h)?;
    }
    for i in 0..n {
        for (c, v) in row(i).iter().enumerate() {
            ws.write_string(i as u32 + 1, c as u16, v)?;
        }
    }
    wb.save(dir.join("persons.xlsx"))?;
    for f in ["persons.csv", "persons.xlsx"] {
        println!(
            "{f}: {n} persons, {} bytes",
            std::fs::metadata(dir.join(f))?.len()
        );
    }
    Ok(())
}
