//! The image-loading options shared by every command that reads images (`segment`, `label`,
//! `eval`, `sweep`), so that each refuses the same files in the same words.

use crate::load::{DEFAULT_MAX_PIXELS, LoadOptions, load_image};
use anyhow::Result;
use clap::Args;
use image::DynamicImage;
use std::path::Path;

/// `--max-pixels` and `--allow-truncated`.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Refuse images with more pixels than this before decoding them (`segment` with SLIC
    /// reads a larger TIFF window by window, in tiles, instead).
    #[arg(long, default_value_t = DEFAULT_MAX_PIXELS)]
    pub max_pixels: u64,

    /// Accept truncated or partly corrupt images (what the decoder recovers of a JPEG or a
    /// non-interlaced PNG; the missing rows are grey) with a warning, instead of refusing them.
    #[arg(long)]
    pub allow_truncated: bool,
}

impl LoadArgs {
    /// The loader's options.
    pub fn options(&self) -> LoadOptions {
        LoadOptions {
            max_pixels: self.max_pixels,
            allow_truncated: self.allow_truncated,
        }
    }

    /// Decodes `path`; errors say what is wrong (the caller names the file), a warning about
    /// an accepted damaged file is printed on stderr with the path.
    pub fn load(&self, path: &Path) -> Result<DynamicImage> {
        let loaded = load_image(path, &self.options())?;
        if let Some(w) = &loaded.warning {
            eprintln!("warning: {}: {w}", path.display());
        }
        Ok(loaded.image)
    }
}
