//! Decoding input images, with limits so that a hostile file cannot exhaust memory.

use anyhow::{Context, Result, bail};
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};
use std::path::Path;

/// The default of `--max-pixels`: 100 megapixels (a 12,000 x 8,000 photo fits).
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;

/// Decodes `path`, refusing an image of more than `max_pixels` pixels after reading its header
/// and before its pixel data is allocated.
pub fn load_image(path: &Path, max_pixels: u64) -> Result<DynamicImage> {
    let meta = std::fs::metadata(path).context("cannot read the file")?;
    if meta.len() == 0 {
        bail!("the file is empty");
    }
    let mut reader = ImageReader::open(path)
        .context("cannot open the file")?
        .with_guessed_format()
        .context("cannot read the file")?;
    if reader.format().is_none() {
        bail!("not an image in a format tessera reads (PNG, JPEG, TIFF, BMP, WebP, PNM)");
    }
    let mut limits = Limits::default();
    // The decoded image at up to 4 channels of 4 bytes, plus room for the decoder's buffers.
    limits.max_alloc = Some(max_pixels.saturating_mul(16).saturating_add(64 << 20));
    reader.limits(limits);
    let decoder = reader
        .into_decoder()
        .context("cannot decode the image header")?;
    let (w, h) = decoder.dimensions();
    let pixels = w as u64 * h as u64;
    if pixels > max_pixels {
        bail!(
            "the image is {w}x{h} = {pixels} pixels, more than the limit of {max_pixels} (raise it with --max-pixels)"
        );
    }
    DynamicImage::from_decoder(decoder).context("cannot decode the image")
}
