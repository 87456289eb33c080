//! Checks of uploaded images (company logo, person photos): PNG or JPEG by content, a byte limit
//! and a pixel limit, each rejection naming its rule. Reads only the image header; decodes nothing.
//! Owns no state.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// An image that passed the checks, as stored.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Image {
    /// `image/png` or `image/jpeg`.
    pub mime: String,
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

impl crate::store::Versioned for Image {
    const KIND: &'static str = "image";
    const VERSION: u8 = 1;
}

/// Limits of one kind of upload; `what` names it in messages ("logo", "photo") and the rule codes
/// are `<what>_empty`, `<what>_too_large`, `<what>_type`, `<what>_dimensions`.
pub struct Limits {
    pub what: &'static str,
    pub field: &'static str,
    pub codes: [&'static str; 4],
    pub max_bytes: usize,
    pub max_pixels: usize,
}

pub fn check(bytes: &[u8], l: &Limits) -> Result<Image> {
    let [empty, too_large, kind, dims] = l.codes;
    if bytes.is_empty() {
        return Err(Error::invalid(empty, l.field, "choose a PNG or JPEG file"));
    }
    if bytes.len() > l.max_bytes {
        return Err(Error::invalid(
            too_large,
            l.field,
            format!(
                "the {} is {} KiB; at most {} KiB are accepted",
                l.what,
                bytes.len().div_ceil(1024),
                l.max_bytes / 1024
            ),
        ));
    }
    let mime = match imagesize::image_type(bytes) {
        Ok(imagesize::ImageType::Png) => "image/png",
        Ok(imagesize::ImageType::Jpeg) => "image/jpeg",
        _ => {
            return Err(Error::invalid(
                kind,
                l.field,
                format!("the {} must be a PNG or JPEG image", l.what),
            ))
        }
    };
    let size = imagesize::blob_size(bytes).map_err(|_| {
        Error::invalid(
            kind,
            l.field,
            format!("the {} image is damaged or truncated", l.what),
        )
    })?;
    let max = l.max_pixels;
    if size.width == 0 || size.height == 0 || size.width > max || size.height > max {
        return Err(Error::invalid(
            dims,
            l.field,
            format!(
                "the {} is {}×{} pixels; at most {max}×{max} are accepted",
                l.what, size.width, size.height
            ),
        ));
    }
    Ok(Image {
        mime: mime.into(),
        bytes: bytes.to_vec(),
        width: size.width as u32,
        height: size.height as u32,
    })
}
