//! Company information (manual 1.1): the name and the logo shown in the page header. Owns the
//! `company` and `company.logo` records of the `SETTINGS` table; knows nothing of HTTP.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::Actor;
use crate::app::App;
use crate::audit;
use crate::error::{Error, Result};
use crate::store::{self, StoreError, Versioned, SETTINGS};

pub const MAX_LOGO_BYTES: usize = 512 * 1024;
pub const MAX_LOGO_PIXELS: usize = 2048;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, ToSchema)]
pub struct Company {
    pub name: String,
}

impl Default for Company {
    fn default() -> Self {
        Company {
            name: "My company".into(),
        }
    }
}

impl Versioned for Company {
    const KIND: &'static str = "company";
    const VERSION: u8 = 1;
}

/// The logo as stored: a checked image.
pub type Logo = crate::images::Image;

pub fn get(app: &App) -> Result<Company> {
    app.store.read(|txn| {
        let t = txn.open_table(SETTINGS).map_err(StoreError::from)?;
        Ok(store::get(&t, "company")?.unwrap_or_default())
    })
}

pub fn set(app: &App, actor: &Actor, new: &Company) -> Result<Company> {
    actor.require_admin()?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(Error::invalid(
            "company_name_length",
            "name",
            "the company name must have 1 to 64 characters",
        ));
    }
    let c = Company { name: name.into() };
    app.store.write(|txn| {
        let mut t = txn.open_table(SETTINGS).map_err(StoreError::from)?;
        let old: Company = store::get(&t, "company")?.unwrap_or_default();
        store::put(&mut t, "company", &c)?;
        drop(t);
        audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "company.update",
            "company",
            format!("name \"{}\" → \"{}\"", old.name, c.name),
        )
    })?;
    Ok(c)
}

pub fn logo(app: &App) -> Result<Option<Logo>> {
    app.store.read(|txn| {
        let t = txn.open_table(SETTINGS).map_err(StoreError::from)?;
        Ok(store::get(&t, "company.logo")?)
    })
}

/// Whether a logo is set, without decoding it.
pub fn has_logo(app: &App) -> Result<bool> {
    app.store.read(|txn| {
        let t = txn.open_table(SETTINGS).map_err(StoreError::from)?;
        let found = redb::ReadableTable::get(&t, "company.logo")
            .map_err(StoreError::from)?
            .is_some();
        Ok(found)
    })
}

/// Checks an uploaded logo: PNG or JPEG by its content, at most 512 KiB and 2048×2048 pixels.
pub fn check_logo(bytes: &[u8]) -> Result<Logo> {
    crate::images::check(
        bytes,
        &crate::images::Limits {
            what: "logo",
            field: "logo",
            codes: [
                "logo_empty",
                "logo_too_large",
                "logo_type",
                "logo_dimensions",
            ],
            max_bytes: MAX_LOGO_BYTES,
            max_pixels: MAX_LOGO_PIXELS,
        },
    )
}

pub fn set_logo(app: &App, actor: &Actor, bytes: &[u8]) -> Result<()> {
    actor.require_admin()?;
    let logo = check_logo(bytes)?;
    app.store.write(|txn| {
        let mut t = txn.open_table(SETTINGS).map_err(StoreError::from)?;
        store::put(&mut t, "company.logo", &logo)?;
        drop(t);
        audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "company.logo",
            "company",
            format!(
                "logo set ({}, {}×{}, {} bytes)",
                logo.mime,
                logo.width,
                logo.height,
                logo.bytes.len()
            ),
        )
    })
}

pub fn remove_logo(app: &App, actor: &Actor) -> Result<()> {
    actor.require_admin()?;
    app.store.write(|txn| {
        let mut t = txn.open_table(SETTINGS).map_err(StoreError::from)?;
        t.remove("company.logo").map_err(StoreError::from)?;
        drop(t);
        audit::record(
            txn,
            app.config.audit_retention,
            Some(&actor.username),
            actor.ip,
            "company.logo",
            "company",
            "logo removed",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logo_checks_name_the_rule() {
        assert_eq!(check_logo(b"").unwrap_err().code(), "logo_empty");
        assert_eq!(check_logo(b"GIF89a....").unwrap_err().code(), "logo_type");
        assert_eq!(
            check_logo(&vec![0u8; MAX_LOGO_BYTES + 1])
                .unwrap_err()
                .code(),
            "logo_too_large"
        );
        // a PNG header claiming 4000×10 pixels
        let mut png = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13];
        png.extend_from_slice(b"IHDR");
        png.extend_from_slice(&4000u32.to_be_bytes());
        png.extend_from_slice(&10u32.to_be_bytes());
        png.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(check_logo(&png).unwrap_err().code(), "logo_dimensions");
    }
}
