//! The crate's error type.

use thiserror::Error;

/// Everything that can go wrong in `tessera-crf`.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from `tessera` (image, segmentation).
    #[error(transparent)]
    Tessera(#[from] tessera::Error),
    /// A parameter is out of its valid range.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// The parameter's name, as in the parameter struct.
        name: &'static str,
        /// Why the value was refused.
        reason: String,
    },
    /// The energy model is inconsistent (sizes, NaN costs, labels out of range, ...).
    #[error("invalid model: {0}")]
    InvalidModel(String),
    /// The model is valid but this solver cannot minimise it.
    #[error("unsupported model: {0}")]
    Unsupported(String),
    /// A UAI file could not be parsed.
    #[error("UAI parse error: {0}")]
    Parse(String),
    /// An `.npz` model file could not be written or read.
    #[error("NPZ error: {0}")]
    Npz(String),
    /// A model file ([`crate::model_file`]) is not one, is of another version, or is
    /// inconsistent; the message names the file and the problem.
    #[error("{0}")]
    ModelFile(String),
    /// Reading or writing failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Shorthand for `Result<T, tessera_crf::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn param(name: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name,
            reason: reason.into(),
        }
    }
}
