//! User name and password (split at the first NUL) through every rule, and security questions.
#![no_main]
use gatehouse::accounts::password::{check, check_questions, QuestionInput};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (user, pw) = text.split_once('\0').unwrap_or(("admin", &text));
    let _ = check(user, pw, "password");
    let parts: Vec<&str> = text.split('\0').collect();
    let qs: Vec<QuestionInput<'_>> = parts
        .chunks(2)
        .map(|c| QuestionInput { question: c[0], answer: c.get(1).copied().unwrap_or("") })
        .collect();
    let _ = check_questions(&qs);
});
