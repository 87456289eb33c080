//! An imported person file: CSV or XLSX (zip) reading and every row check, in both card bases.
#![no_main]
use gatehouse::persons::cards::Base;
use gatehouse::persons::transfer::{parse_rows, Format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (format, base) = match data.first().map(|b| b & 3) {
        Some(0) => (Format::Csv, Base::Hex),
        Some(1) => (Format::Csv, Base::Decimal),
        Some(2) => (Format::Xlsx, Base::Hex),
        _ => (Format::Xlsx, Base::Decimal),
    };
    let _ = parse_rows(data.get(1..).unwrap_or_default(), format, base);
});
