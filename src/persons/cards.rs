//! Card numbers and card settings (manual 1.2.2): the card type (ID 125 kHz or IC 13.56 MHz) and
//! whether numbers are shown and typed in hexadecimal (the default) or decimal. A card number is
//! stored in one canonical form — upper-case hexadecimal of its value, at least 8 digits, an even
//! count — so switching the display never changes stored data. Owns the `card_settings` record.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::Actor;
use crate::app::App;
use crate::audit;
use crate::error::{Error, Result};
use crate::store::{self, StoreError, Versioned, SETTINGS};

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum CardType {
    /// ID card, 125 kHz (EM4100 family).
    #[default]
    Id,
    /// IC card, 13.56 MHz (MIFARE family).
    Ic,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Base {
    #[default]
    Hex,
    Decimal,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, ToSchema, Default)]
pub struct CardSettings {
    pub card_type: CardType,
    /// How card numbers are shown and typed everywhere (pages, exports, search).
    pub display: Base,
}

impl Versioned for CardSettings {
    const KIND: &'static str = "card settings";
    const VERSION: u8 = 1;
}

pub fn settings(app: &App) -> Result<CardSettings> {
    app.store.read(|txn| {
        let t = txn.open_table(SETTINGS).map_err(StoreError::from)?;
        Ok(store::get(&t, "card_settings")?.unwrap_or_default())
    })
}

pub fn set_settings(app: &App, actor: &Actor, new: CardSettings) -> Result<CardSettings> {
    app.store.write(|txn| {
        let mut t = txn.open_table(SETTINGS).map_err(StoreError::from)?;
        store::put(&mut t, "card_settings", &new)?;
        drop(t);
        audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "cards.settings",
            "card settings",
            format!("card type {:?}, display {:?}", new.card_type, new.display),
        )
    })?;
    Ok(new)
}

/// The canonical form of a card number's value.
pub fn canonical(value: u64) -> String {
    let digits = format!("{value:X}");
    let width = digits.len().max(8);
    let width = width + width % 2;
    format!("{value:0width$X}")
}

/// Parses a card number typed in `base` into its canonical form. `field` names the input.
pub fn parse(text: &str, base: Base, field: &'static str) -> Result<String> {
    let t = text.trim();
    let bad = |why: String| Error::invalid("card_number_format", field, why);
    if t.is_empty() {
        return Err(bad("the card number is empty".into()));
    }
    let value = match base {
        Base::Hex => {
            let t = t
                .strip_prefix("0x")
                .or_else(|| t.strip_prefix("0X"))
                .unwrap_or(t);
            if t.len() > 16 || !t.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad(format!(
                    "\"{text}\" is not a hexadecimal card number (1 to 16 digits 0-9, A-F)"
                )));
            }
            u64::from_str_radix(t, 16).map_err(|e| bad(e.to_string()))?
        }
        Base::Decimal => {
            if t.len() > 20 || !t.chars().all(|c| c.is_ascii_digit()) {
                return Err(bad(format!(
                    "\"{text}\" is not a decimal card number (digits 0-9 only)"
                )));
            }
            t.parse::<u64>()
                .map_err(|_| bad(format!("\"{text}\" is too large for a card number")))?
        }
    };
    if value == 0 {
        return Err(bad("the card number cannot be 0".into()));
    }
    Ok(canonical(value))
}

/// How a stored (canonical) card number is shown in `base`.
pub fn display(canonical: &str, base: Base) -> String {
    match base {
        Base::Hex => canonical.to_owned(),
        Base::Decimal => u64::from_str_radix(canonical, 16)
            .map(|v| v.to_string())
            .unwrap_or_else(|_| canonical.to_owned()),
    }
}

/// Whether the page shows the card as a QR code: only 8-hex-digit numbers (manual 1.2.3).
pub fn has_qr(canonical: &str) -> bool {
    canonical.len() == 8
}

/// The QR code of a card number as an SVG document.
pub fn qr_svg(canonical: &str) -> Result<String> {
    let code = qrcode::QrCode::new(canonical.as_bytes())
        .map_err(|e| Error::Internal(format!("qr code: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(160, 160)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_canonical_form_whatever_the_base() {
        assert_eq!(parse("2224678", Base::Hex, "card").unwrap(), "02224678");
        assert_eq!(parse("0x02224678", Base::Hex, "card").unwrap(), "02224678");
        assert_eq!(
            parse("35800696", Base::Decimal, "card").unwrap(),
            "02224678"
        );
        assert_eq!(
            parse("0f00abcdef", Base::Hex, "card").unwrap(),
            "0F00ABCDEF"
        );
        assert_eq!(display("02224678", Base::Decimal), "35800696");
        assert_eq!(display("02224678", Base::Hex), "02224678");
        assert_eq!(
            parse("04A1B2C3D4E5F6", Base::Hex, "card").unwrap(),
            "04A1B2C3D4E5F6"
        );
        for bad in ["", "xyz", "0", "12345678901234567", "-1"] {
            assert_eq!(
                parse(bad, Base::Hex, "card").unwrap_err().code(),
                "card_number_format",
                "{bad}"
            );
        }
        assert!(parse("1A", Base::Decimal, "card").is_err());
        assert!(parse("99999999999999999999", Base::Decimal, "card").is_err());
        assert!(has_qr("02224678") && !has_qr("0F00ABCDEF"));
        assert!(qr_svg("02224678").unwrap().contains("<svg"));
    }
}
