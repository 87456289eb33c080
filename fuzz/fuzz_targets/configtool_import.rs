//! An imported ConfigTool device file: CSV or XLSX (zip) reading and every row check.
#![no_main]
use gatehouse::intercom::configtool::parse_rows;
use gatehouse::persons::transfer::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let format = match data.first().map(|b| b & 1) {
        Some(0) => Format::Csv,
        _ => Format::Xlsx,
    };
    let _ = parse_rows(data.get(1..).unwrap_or_default(), format);
});
