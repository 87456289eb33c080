//! The strong-password rules of the manual's cybersecurity appendix, and the security-question
//! rules, as pure functions. Every rejection names the rule it broke. Owns no state and stores
//! nothing; hashing lives in `hashing`.

use crate::error::Error;

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 128;

/// Checks `password` for the account `username`; `field` names the input in the error.
pub fn check(username: &str, password: &str, field: &'static str) -> Result<(), Error> {
    let chars: Vec<char> = password.chars().collect();
    if chars.len() < MIN_LEN {
        return Err(Error::invalid(
            "password_too_short",
            field,
            format!("the password must have at least {MIN_LEN} characters"),
        ));
    }
    if chars.len() > MAX_LEN {
        return Err(Error::invalid(
            "password_too_long",
            field,
            format!("the password must have at most {MAX_LEN} characters"),
        ));
    }
    let classes = [
        chars.iter().any(|c| c.is_uppercase()),
        chars.iter().any(|c| c.is_lowercase()),
        chars.iter().any(|c| c.is_ascii_digit()),
        chars.iter().any(|c| !c.is_alphanumeric()),
    ];
    if classes.iter().filter(|&&b| b).count() < 2 {
        return Err(Error::invalid(
            "password_character_classes",
            field,
            "the password must mix at least two kinds of characters: upper-case letters, \
             lower-case letters, digits, symbols",
        ));
    }
    let lower = password.to_lowercase();
    let name = username.trim().to_lowercase();
    if !name.is_empty() {
        let reversed: String = name.chars().rev().collect();
        if lower.contains(&name) || lower.contains(&reversed) {
            return Err(Error::invalid(
                "password_contains_username",
                field,
                "the password must not contain the user name or the user name reversed",
            ));
        }
    }
    let folded: Vec<char> = lower.chars().collect();
    for w in folded.windows(3) {
        let (a, b, c) = (w[0] as i64, w[1] as i64, w[2] as i64);
        if a == b && b == c {
            return Err(Error::invalid(
                "password_repeated_characters",
                field,
                format!(
                    "the password must not repeat a character three times in a row (\"{}\")",
                    w.iter().collect::<String>()
                ),
            ));
        }
        let run = w.iter().all(|ch| ch.is_ascii_alphanumeric())
            && w.iter().all(|ch| ch.is_ascii_digit()) == w[0].is_ascii_digit()
            && ((b - a == 1 && c - b == 1) || (a - b == 1 && b - c == 1));
        if run {
            return Err(Error::invalid(
                "password_consecutive_characters",
                field,
                format!(
                    "the password must not contain three consecutive characters such as 123, abc \
                     or cba (\"{}\")",
                    w.iter().collect::<String>()
                ),
            ));
        }
    }
    Ok(())
}

/// A question with its answer, as a user types them.
pub struct QuestionInput<'a> {
    pub question: &'a str,
    pub answer: &'a str,
}

/// Normal form of an answer, so "Paris " and "paris" match.
pub fn normalize_answer(answer: &str) -> String {
    answer
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Three questions, all different, with three different non-empty answers.
pub fn check_questions(qs: &[QuestionInput<'_>]) -> Result<(), Error> {
    const FIELD: &str = "security_questions";
    if qs.len() != 3 {
        return Err(Error::invalid(
            "security_questions_count",
            FIELD,
            "exactly three security questions are needed",
        ));
    }
    for q in qs {
        if q.question.trim().is_empty() || q.question.chars().count() > 200 {
            return Err(Error::invalid(
                "security_question_empty",
                FIELD,
                "each security question needs a text of 1 to 200 characters",
            ));
        }
        if q.answer.trim().is_empty() || q.answer.chars().count() > 200 {
            return Err(Error::invalid(
                "security_answer_empty",
                FIELD,
                "each security question needs an answer of 1 to 200 characters",
            ));
        }
    }
    for i in 0..3 {
        for j in i + 1..3 {
            if normalize_answer(qs[i].question) == normalize_answer(qs[j].question) {
                return Err(Error::invalid(
                    "security_questions_not_distinct",
                    FIELD,
                    "the three security questions must be different",
                ));
            }
            if normalize_answer(qs[i].answer) == normalize_answer(qs[j].answer) {
                return Err(Error::invalid(
                    "security_answers_not_distinct",
                    FIELD,
                    "the three answers must be different from each other",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(user: &str, pw: &str) -> &'static str {
        match check(user, pw, "password") {
            Ok(()) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn each_rule_has_a_failing_and_a_passing_example() {
        assert_eq!(rule("admin", "Ab1!x"), "password_too_short");
        assert_eq!(rule("admin", "Kp7!wQz2"), "ok");
        assert_eq!(rule("admin", "qwpzmxnv"), "password_character_classes");
        assert_eq!(rule("admin", "qwpzmxn7"), "ok");
        assert_eq!(rule("manager", "Xmanager7"), "password_contains_username");
        assert_eq!(rule("manager", "Xreganam7"), "password_contains_username");
        assert_eq!(rule("manager", "Xmangre7q"), "ok");
        assert_eq!(rule("admin", "Zq9!123w"), "password_consecutive_characters");
        assert_eq!(rule("admin", "Zq9!abcw"), "password_consecutive_characters");
        assert_eq!(rule("admin", "Zq9!CBAw"), "password_consecutive_characters");
        assert_eq!(rule("admin", "Zq9!13bw"), "ok");
        assert_eq!(rule("admin", "Zq9!111w"), "password_repeated_characters");
        assert_eq!(rule("admin", "Zq9!aAaw"), "password_repeated_characters");
        assert_eq!(rule("admin", "Zq9!11aw"), "ok");
        assert_eq!(rule("admin", &"Zq9!".repeat(40)), "password_too_long");
    }

    #[test]
    fn digit_letter_boundaries_are_not_runs() {
        // '9' (0x39) and ':' (0x3A) are code-point neighbours but not a digit run.
        assert_eq!(rule("admin", "Wq89:Lx0"), "ok");
    }

    #[test]
    fn questions_must_differ_and_answers_too() {
        let q = |a: &'static str, b: &'static str| QuestionInput {
            question: a,
            answer: b,
        };
        assert!(check_questions(&[q("A?", "x"), q("B?", "y"), q("C?", "z")]).is_ok());
        let e = check_questions(&[q("A?", "x"), q("a? ", "y"), q("C?", "z")]).unwrap_err();
        assert_eq!(e.code(), "security_questions_not_distinct");
        let e = check_questions(&[q("A?", "x"), q("B?", " X"), q("C?", "z")]).unwrap_err();
        assert_eq!(e.code(), "security_answers_not_distinct");
        let e = check_questions(&[q("A?", "x"), q("B?", "y")]).unwrap_err();
        assert_eq!(e.code(), "security_questions_count");
    }
}
