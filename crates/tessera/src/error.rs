//! The library's error type.

use thiserror::Error;

/// Everything that can go wrong in `tessera`.
///
/// Every public function that takes user data returns `Result<_, Error>`; the library never
/// panics on bad input.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// The image has no pixels, or its buffer does not match its stated size.
    #[error("invalid image: {0}")]
    InvalidImage(String),
    /// The image's pixel format is not one tessera can read.
    #[error("unsupported pixel format: {0}")]
    UnsupportedFormat(String),
    /// A parameter is out of its valid range (zero, negative, NaN, ...).
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// The parameter's name, as in the parameter struct.
        name: &'static str,
        /// Why the value was refused.
        reason: String,
    },
    /// A mask, label map or other companion array does not match the image's size.
    #[error("size mismatch: {0}")]
    SizeMismatch(String),
    /// A label map does not satisfy the `Segmentation` invariants.
    #[error("invalid label map: {0}")]
    InvalidLabels(String),
    /// A tiled run could not read a tile, or could not keep its promise of the whole-image
    /// result with the tiles and halos it has.
    #[error("tiled run: {0}")]
    Tiling(String),
}

/// Shorthand for `Result<T, tessera::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Builds an [`Error::InvalidParameter`].
    pub(crate) fn param(name: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name,
            reason: reason.into(),
        }
    }

    /// `Ok` when `v` is finite and at least 0, else an [`Error::InvalidParameter`] naming
    /// `name` and the value.
    pub(crate) fn check_non_negative(name: &'static str, v: f32) -> Result<()> {
        if v.is_finite() && v >= 0.0 {
            return Ok(());
        }
        Err(Error::param(
            name,
            format!("must be finite and >= 0, got {v}"),
        ))
    }

    /// `Ok` when `v` is finite and above 0, else an [`Error::InvalidParameter`] naming
    /// `name` and the value.
    pub(crate) fn check_positive(name: &'static str, v: f32) -> Result<()> {
        if v.is_finite() && v > 0.0 {
            return Ok(());
        }
        Err(Error::param(
            name,
            format!("must be finite and > 0, got {v}"),
        ))
    }

    /// `Ok` when two things have the same `(width, height, depth)`, else an
    /// [`Error::SizeMismatch`] naming both ("the image is 4x3, the segmentation 3x4"; a depth
    /// above 1 is written as a third size, "4x3x5").
    pub(crate) fn check_sizes(
        first: &str,
        a: (u32, u32, u32),
        second: &str,
        b: (u32, u32, u32),
    ) -> Result<()> {
        if a == b {
            return Ok(());
        }
        Err(Error::SizeMismatch(format!(
            "the {first} is {}, the {second} {}",
            crate::image::shape_text(a.2, a.0, a.1),
            crate::image::shape_text(b.2, b.0, b.1)
        )))
    }
}
