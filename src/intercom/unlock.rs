//! Unlocking through a room password (manual 3.3) as a pure function: what a visitor types on a
//! door station becomes a decision. Two forms are accepted: the manual's digits — the room number
//! left-padded to 6 digits followed by the 6–8 digit password (room 11, password 888888 →
//! `000011888888`) — and `#room#password#`. Holds no state and no secret: the caller answers
//! whether a password matches a room (the store keeps only a hash for that).

/// What the caller knows about a room of the door station's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomCheck {
    NoSuchRoom,
    /// The room exists but has no unlock password.
    NoPassword,
    Matches,
    Wrong,
}

/// The outcome, with the room concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Open {
        room: String,
    },
    UnknownRoom {
        room: String,
    },
    RoomWithoutPassword {
        room: String,
    },
    WrongPassword {
        room: String,
    },
    /// Not a room-password entry at all (wrong length, letters…).
    Malformed(&'static str),
}

/// Room numbers compare without their padding zeros (`000011` is room `11`).
pub fn normalize_room(room: &str) -> String {
    let t = room.trim_start_matches('0');
    if t.is_empty() {
        "0".into()
    } else {
        t.into()
    }
}

/// Splits what was typed into (room, password).
pub fn parse(typed: &str) -> Result<(String, String), &'static str> {
    let t = typed.trim();
    if let Some(inner) = t.strip_prefix('#') {
        let inner = inner
            .strip_suffix('#')
            .ok_or("the #room#password# form ends with #")?;
        let (room, pw) = inner
            .split_once('#')
            .ok_or("the #room#password# form has three #")?;
        if room.is_empty() || room.len() > 6 || !room.bytes().all(|b| b.is_ascii_digit()) {
            return Err("the room number has 1 to 6 digits");
        }
        if !(6..=8).contains(&pw.len()) || !pw.bytes().all(|b| b.is_ascii_digit()) {
            return Err("the password has 6 to 8 digits");
        }
        return Ok((normalize_room(room), pw.into()));
    }
    if !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err("only digits, or #room#password#");
    }
    if !(12..=14).contains(&t.len()) {
        return Err("6 digits of room number and a 6 to 8 digit password");
    }
    let (room, pw) = t.split_at(6);
    Ok((normalize_room(room), pw.into()))
}

/// Decides on `typed` with `check(room, password)` answering for the door station's rooms.
pub fn decide(typed: &str, check: impl Fn(&str, &str) -> RoomCheck) -> Decision {
    let (room, pw) = match parse(typed) {
        Ok(x) => x,
        Err(why) => return Decision::Malformed(why),
    };
    match check(&room, &pw) {
        RoomCheck::Matches => Decision::Open { room },
        RoomCheck::NoSuchRoom => Decision::UnknownRoom { room },
        RoomCheck::NoPassword => Decision::RoomWithoutPassword { room },
        RoomCheck::Wrong => Decision::WrongPassword { room },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rooms(room: &str, pw: &str) -> RoomCheck {
        match room {
            "11" => {
                if pw == "888888" {
                    RoomCheck::Matches
                } else {
                    RoomCheck::Wrong
                }
            }
            "302" => {
                if pw == "12345678" {
                    RoomCheck::Matches
                } else {
                    RoomCheck::Wrong
                }
            }
            "303" => RoomCheck::NoPassword,
            _ => RoomCheck::NoSuchRoom,
        }
    }

    #[test]
    fn the_manuals_example_opens() {
        assert_eq!(
            decide("000011888888", rooms),
            Decision::Open { room: "11".into() }
        );
    }

    #[test]
    fn every_branch() {
        assert_eq!(
            decide("#11#888888#", rooms),
            Decision::Open { room: "11".into() }
        );
        assert_eq!(
            decide("00030212345678", rooms),
            Decision::Open { room: "302".into() }
        );
        assert_eq!(
            decide("000011888889", rooms),
            Decision::WrongPassword { room: "11".into() }
        );
        assert_eq!(
            decide("000303123456", rooms),
            Decision::RoomWithoutPassword { room: "303".into() }
        );
        assert_eq!(
            decide("000404123456", rooms),
            Decision::UnknownRoom { room: "404".into() }
        );
        assert_eq!(
            decide("#0011#888888#", rooms),
            Decision::Open { room: "11".into() }
        );
        for bad in [
            "",
            "12345",
            "00001188888",
            "000011888888123",
            "00001a888888",
            "#11#888888",
            "#11888888#",
            "#11#88#",
            "#1234567#888888#",
            "##888888#",
        ] {
            assert!(
                matches!(decide(bad, rooms), Decision::Malformed(_)),
                "{bad}"
            );
        }
    }
}
