//! Decoding input images, with limits so that a hostile file cannot exhaust memory, and with
//! truncated or damaged files refused rather than decoded into made-up pixels.
//!
//! Every decoder's error is reported once, in plain words: `image` wraps the decoders' errors
//! and also returns them as their `source()`, so printing the chain would repeat each cause.
//!
//! JPEG is decoded with `zune-jpeg` directly (the decoder `image` uses) because `image` runs it
//! in its lenient mode only, where a file cut short decodes without complaint and its missing
//! rows come out grey. Here it runs in strict mode first; when that fails and the lenient mode
//! still produces a picture, the file is damaged: an error, or with `allow_truncated` the
//! lenient picture and a warning.

use crate::tiff_window::{Pixels, TiffWindows};
use anyhow::{Result, anyhow, bail};
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};
use std::error::Error as StdError;
use std::path::Path;
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;

/// The default of `--max-pixels`: 100 megapixels (a 12,000 x 8,000 photo fits).
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;

/// How images are loaded.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// Refuse images of more pixels than this, after reading the header and before the pixel
    /// data is allocated.
    pub max_pixels: u64,
    /// Accept a truncated or partly corrupt image (what the decoder recovered) with a warning
    /// instead of refusing it.
    pub allow_truncated: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            max_pixels: DEFAULT_MAX_PIXELS,
            allow_truncated: false,
        }
    }
}

/// A decoded image, and what was wrong with the file when it was accepted anyway.
#[derive(Debug)]
pub struct Loaded {
    /// The pixels.
    pub image: DynamicImage,
    /// Set when the file was damaged and `allow_truncated` accepted it: what is missing.
    pub warning: Option<String>,
}

/// Decodes `path` (see the module docs). Errors name the problem, not the file: callers add
/// the path.
pub fn load_image(path: &Path, opts: &LoadOptions) -> Result<Loaded> {
    let meta = std::fs::metadata(path).map_err(|e| anyhow!("cannot read the file: {e}"))?;
    if meta.is_dir() {
        bail!("is a folder, not an image");
    }
    if meta.len() == 0 {
        bail!("the file is empty");
    }
    let reader = ImageReader::open(path)
        .map_err(|e| anyhow!("cannot open the file: {e}"))?
        .with_guessed_format()
        .map_err(|e| anyhow!("cannot read the file: {e}"))?;
    match reader.format() {
        None => {
            bail!("not an image in a format tessera reads (PNG, JPEG, TIFF, GIF, BMP, WebP, PNM)")
        }
        Some(ImageFormat::Jpeg) => {
            drop(reader);
            let bytes = std::fs::read(path).map_err(|e| anyhow!("cannot read the file: {e}"))?;
            load_jpeg(&bytes, opts)
        }
        Some(ImageFormat::Tiff) => load_tiff(path, reader, opts),
        Some(format) => load_other(path, reader, format, opts),
    }
}

/// TIFF goes through `image`, but for 8-bit YCbCr (JPEG-compressed tiles or strips, the
/// usual form of slides), which `image`'s TIFF decoder refuses: that is read as one window
/// of `tiff_window`'s reader, which converts it to RGB.
fn load_tiff(
    path: &Path,
    reader: ImageReader<std::io::BufReader<std::fs::File>>,
    opts: &LoadOptions,
) -> Result<Loaded> {
    let windows = match TiffWindows::open(path) {
        Ok(w) if w.is_ycbcr() => w,
        // Anything else, readable or not, is `image`'s to decode or to explain.
        _ => return load_other(path, reader, ImageFormat::Tiff, opts),
    };
    let (w, h) = (windows.width(), windows.height());
    check_size(w, h, opts.max_pixels)?;
    // The reader names the file; the caller does too.
    let unnamed = |e: anyhow::Error| {
        let msg = format!("{e:#}");
        let prefix = format!("{}: ", path.display());
        anyhow!("{}", msg.strip_prefix(&prefix).unwrap_or(&msg))
    };
    let window = windows
        .with_cache_bytes(0)
        .read_window(0, 0, w, h)
        .map_err(unnamed)?;
    let Pixels::U8(samples) = window.pixels else {
        bail!("a YCbCr TIFF decoded to samples of more than 8 bits");
    };
    let rgb = image::RgbImage::from_raw(w, h, samples)
        .ok_or_else(|| anyhow!("the {w}x{h} YCbCr TIFF decoded to the wrong number of samples"))?;
    Ok(Loaded {
        image: DynamicImage::ImageRgb8(rgb),
        warning: None,
    })
}

fn check_size(w: u32, h: u32, max_pixels: u64) -> Result<()> {
    let pixels = w as u64 * h as u64;
    if pixels > max_pixels {
        bail!(
            "the image is {w}x{h} = {pixels} pixels, more than the limit of {max_pixels} (raise it with --max-pixels)"
        );
    }
    if pixels == 0 {
        bail!("the image is {w}x{h}: it has no pixels");
    }
    Ok(())
}

/// Every format but JPEG, through `image`. Their decoders refuse a file cut short (PNG: a
/// missing image-data chunk or checksum; TIFF: a short strip), so the error only needs to say
/// so plainly; for a non-interlaced PNG the rows before the cut are recovered to say how much
/// is missing, and to accept them with `allow_truncated`.
fn load_other(
    path: &Path,
    mut reader: ImageReader<std::io::BufReader<std::fs::File>>,
    format: ImageFormat,
    opts: &LoadOptions,
) -> Result<Loaded> {
    let mut limits = Limits::default();
    // The decoded image at up to 4 channels of 4 bytes, plus room for the decoder's buffers.
    limits.max_alloc = Some(opts.max_pixels.saturating_mul(16).saturating_add(64 << 20));
    reader.limits(limits);
    let name = format_name(format);
    let decoder = reader.into_decoder().map_err(|e| {
        if is_truncation(&e) {
            anyhow!(
                "the {name} file is truncated: it ends before its header is complete ({})",
                describe(&e)
            )
        } else {
            anyhow!("cannot decode the {name} header: {}", describe(&e))
        }
    })?;
    let (w, h) = decoder.dimensions();
    check_size(w, h, opts.max_pixels)?;
    let decoded = DynamicImage::from_decoder(decoder);
    if let Err(e) = &decoded
        && format == ImageFormat::Png
        && is_truncation(e)
        && let Some((image, rows)) = recover_png(path)
    {
        let problem = format!(
            "the PNG file is truncated: its data ends at row {rows} of {h}, the last {} rows ({:.0}% of the image) are missing",
            h - rows,
            100.0 * f64::from(h - rows) / f64::from(h)
        );
        if !opts.allow_truncated {
            bail!("{problem} (--allow-truncated accepts it)");
        }
        return Ok(Loaded {
            image,
            warning: Some(format!("{problem}; accepted (--allow-truncated)")),
        });
    }
    let image = decoded.map_err(|e| {
        if is_truncation(&e) {
            anyhow!(
                "the {name} file is truncated: it ends before the pixel data of its {w}x{h} image is complete ({}){}",
                describe(&e),
                if opts.allow_truncated {
                    "; no part of it can be recovered, so --allow-truncated cannot accept it"
                } else {
                    ""
                }
            )
        } else {
            anyhow!("cannot decode the {name} image: {}", describe(&e))
        }
    })?;
    Ok(Loaded {
        image,
        warning: None,
    })
}

/// The rows of a truncated, non-interlaced PNG up to where its data ends, the rest mid-grey
/// (128 in every byte, as the JPEG decoder fills); and how many rows were decoded. `None` when
/// no row can be read. `image` gives nothing of a PNG that fails part-way, so the `png`
/// decoder it uses is called row by row here.
fn recover_png(path: &Path) -> Option<(DynamicImage, u32)> {
    use png::{BitDepth, ColorType};
    let file = std::io::BufReader::new(std::fs::File::open(path).ok()?);
    let mut decoder = png::Decoder::new(file);
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().ok()?;
    let (w, h, interlaced) = {
        let info = reader.info();
        (info.width, info.height, info.interlaced)
    };
    if interlaced {
        return None;
    }
    let (color, depth) = reader.output_color_type();
    let line = reader.output_line_size(w)?;
    // The size was checked against --max-pixels before the first decode.
    let mut buf = vec![128u8; line.checked_mul(h as usize)?];
    let mut rows = 0usize;
    while rows < h as usize {
        match reader.next_row() {
            Ok(Some(row)) if row.data().len() == line => {
                buf[rows * line..(rows + 1) * line].copy_from_slice(row.data());
                rows += 1;
            }
            _ => break,
        }
    }
    if rows == 0 {
        return None;
    }
    let wide = || -> Vec<u16> {
        buf.chunks_exact(2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .collect()
    };
    let image = match (color, depth) {
        (ColorType::Grayscale, BitDepth::Eight) => {
            DynamicImage::ImageLuma8(image::ImageBuffer::from_raw(w, h, buf)?)
        }
        (ColorType::GrayscaleAlpha, BitDepth::Eight) => {
            DynamicImage::ImageLumaA8(image::ImageBuffer::from_raw(w, h, buf)?)
        }
        (ColorType::Rgb, BitDepth::Eight) => {
            DynamicImage::ImageRgb8(image::ImageBuffer::from_raw(w, h, buf)?)
        }
        (ColorType::Rgba, BitDepth::Eight) => {
            DynamicImage::ImageRgba8(image::ImageBuffer::from_raw(w, h, buf)?)
        }
        (ColorType::Grayscale, BitDepth::Sixteen) => {
            DynamicImage::ImageLuma16(image::ImageBuffer::from_raw(w, h, wide())?)
        }
        (ColorType::GrayscaleAlpha, BitDepth::Sixteen) => {
            DynamicImage::ImageLumaA16(image::ImageBuffer::from_raw(w, h, wide())?)
        }
        (ColorType::Rgb, BitDepth::Sixteen) => {
            DynamicImage::ImageRgb16(image::ImageBuffer::from_raw(w, h, wide())?)
        }
        (ColorType::Rgba, BitDepth::Sixteen) => {
            DynamicImage::ImageRgba16(image::ImageBuffer::from_raw(w, h, wide())?)
        }
        _ => return None,
    };
    Some((image, rows as u32))
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "PNG",
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Tiff => "TIFF",
        ImageFormat::Gif => "GIF",
        ImageFormat::Bmp => "BMP",
        ImageFormat::WebP => "WebP",
        ImageFormat::Pnm => "PNM",
        _ => "image",
    }
}

/// The error and its causes, each said once: a cause whose text the previous one already
/// contains is dropped.
fn describe(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        let text = e.to_string();
        let text = text.trim().trim_end_matches('.').to_string();
        if !text.is_empty() && !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = e.source();
    }
    let mut out = parts.join(": ");
    // `image` prefixes its decoding errors with "Format error decoding <Format>": the caller
    // names the format already.
    for prefix in ["Format error decoding ", "Format error encoding "] {
        if let Some(rest) = out.strip_prefix(prefix) {
            out = rest
                .split_once(": ")
                .map_or(rest.to_string(), |(_, r)| r.to_string());
        }
    }
    out
}

/// Did the decoder run out of data?
fn is_truncation(err: &ImageError) -> bool {
    if let ImageError::IoError(io) = err
        && io.kind() == std::io::ErrorKind::UnexpectedEof
    {
        return true;
    }
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::UnexpectedEof
        {
            return true;
        }
        let text = e.to_string().to_lowercase();
        if [
            "unexpected end",
            "unexpected eof",
            "failed to fill whole buffer",
        ]
        .iter()
        .any(|t| text.contains(t))
        {
            return true;
        }
        cur = e.source();
    }
    false
}

/// The colour layout `image` gives a JPEG's pixels (CMYK and YCCK become RGB).
fn jpeg_output(space: ColorSpace) -> ColorSpace {
    match space {
        ColorSpace::RGB | ColorSpace::RGBA | ColorSpace::Luma | ColorSpace::LumaA => space,
        _ => ColorSpace::RGB,
    }
}

fn jpeg_decode(bytes: &[u8], strict: bool) -> Result<(Vec<u8>, u32, u32, ColorSpace), String> {
    let options = DecoderOptions::default()
        .set_strict_mode(strict)
        .set_max_width(usize::MAX)
        .set_max_height(usize::MAX);
    let mut dec = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    dec.decode_headers().map_err(|e| e.to_string())?;
    let space = jpeg_output(dec.input_colorspace().unwrap_or(ColorSpace::RGB));
    dec.set_options(dec.options().jpeg_set_out_colorspace(space));
    let (w, h) = dec.dimensions().ok_or("no image size in the header")?;
    let pixels = dec.decode().map_err(|e| e.to_string())?;
    Ok((pixels, w as u32, h as u32, space))
}

fn jpeg_image(pixels: Vec<u8>, w: u32, h: u32, space: ColorSpace) -> Result<DynamicImage> {
    let wrong = || anyhow!("the JPEG decoder returned a buffer of the wrong size");
    Ok(match space {
        ColorSpace::Luma => {
            DynamicImage::ImageLuma8(image::GrayImage::from_raw(w, h, pixels).ok_or_else(wrong)?)
        }
        ColorSpace::LumaA => DynamicImage::ImageLumaA8(
            image::GrayAlphaImage::from_raw(w, h, pixels).ok_or_else(wrong)?,
        ),
        ColorSpace::RGBA => {
            DynamicImage::ImageRgba8(image::RgbaImage::from_raw(w, h, pixels).ok_or_else(wrong)?)
        }
        _ => DynamicImage::ImageRgb8(image::RgbImage::from_raw(w, h, pixels).ok_or_else(wrong)?),
    })
}

/// Rows at the bottom that the lenient decoder filled with its mid-grey (128 in every
/// channel): the part of the picture a truncated file does not hold.
fn grey_rows_at_bottom(pixels: &[u8], w: u32, h: u32, space: ColorSpace) -> u32 {
    let row = w as usize * space.num_components();
    if row == 0 {
        return 0;
    }
    let filled = pixels
        .chunks_exact(row)
        .rev()
        .take_while(|r| r.iter().all(|&v| v == 128))
        .count();
    (filled as u32).min(h)
}

fn load_jpeg(bytes: &[u8], opts: &LoadOptions) -> Result<Loaded> {
    // The header first, leniently: the size limit comes before any pixel is allocated.
    let lenient_opts = DecoderOptions::default()
        .set_strict_mode(false)
        .set_max_width(usize::MAX)
        .set_max_height(usize::MAX);
    let mut header = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), lenient_opts);
    header.decode_headers().map_err(|e| {
        let text = describe(&e);
        if text.contains("Not enough bytes") || text.to_lowercase().contains("eof") {
            anyhow!("the JPEG file is truncated: it ends before its header is complete ({text})")
        } else {
            anyhow!("cannot decode the JPEG header: {text}")
        }
    })?;
    let (w, h) = header
        .dimensions()
        .ok_or_else(|| anyhow!("cannot decode the JPEG header: no image size"))?;
    check_size(w as u32, h as u32, opts.max_pixels)?;

    let strict_error = match jpeg_decode(bytes, true) {
        Ok((pixels, w, h, space)) => {
            return Ok(Loaded {
                image: jpeg_image(pixels, w, h, space)?,
                warning: None,
            });
        }
        Err(e) => e,
    };
    let (pixels, w, h, space) = jpeg_decode(bytes, false)
        .map_err(|e| anyhow!("cannot decode the JPEG image: {}", e.trim_end_matches('.')))?;
    // Padding between header segments is all the strict mode objects to in some cameras'
    // files; the pixels are complete.
    if strict_error.contains("Extra bytes between headers") {
        return Ok(Loaded {
            image: jpeg_image(pixels, w, h, space)?,
            warning: None,
        });
    }
    let missing = grey_rows_at_bottom(&pixels, w, h, space);
    let lower = strict_error.to_lowercase();
    let ran_out = lower.contains("premature end") || lower.contains("exhausted data");
    let problem = if ran_out && missing > 0 {
        format!(
            "the JPEG file is truncated: its data ends at row {} of {h}, the last {missing} rows ({:.0}% of the image) are missing",
            h - missing,
            100.0 * missing as f64 / h as f64
        )
    } else if ran_out {
        format!("the JPEG file is truncated: its data ends before the {w}x{h} image is complete")
    } else {
        format!(
            "the JPEG data is corrupt ({}): part of the {w}x{h} image cannot be decoded",
            strict_error.trim_end_matches('.')
        )
    };
    if !opts.allow_truncated {
        bail!("{problem} (--allow-truncated accepts it)");
    }
    Ok(Loaded {
        image: jpeg_image(pixels, w, h, space)?,
        warning: Some(format!("{problem}; accepted (--allow-truncated)")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn jpeg(w: u32, h: u32, grey: bool) -> Vec<u8> {
        let rgb = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([
                (x * 7 % 256) as u8,
                (y * 5 % 256) as u8,
                ((x ^ y) % 256) as u8,
            ])
        });
        let img = if grey {
            DynamicImage::ImageLuma8(DynamicImage::ImageRgb8(rgb).to_luma8())
        } else {
            DynamicImage::ImageRgb8(rgb)
        };
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Jpeg).unwrap();
        out.into_inner()
    }

    /// The strict decode gives exactly the pixels `image` gives.
    #[test]
    fn jpeg_pixels_match_image() {
        for grey in [false, true] {
            let bytes = jpeg(70, 45, grey);
            let ours = load_jpeg(&bytes, &LoadOptions::default()).unwrap();
            assert!(ours.warning.is_none());
            let theirs = image::load_from_memory(&bytes).unwrap();
            assert_eq!(ours.image.color(), theirs.color());
            assert_eq!(ours.image.as_bytes(), theirs.as_bytes());
        }
    }

    /// The rows before the cut of a truncated PNG are recovered exactly, 8- and 16-bit.
    #[test]
    fn truncated_png_rows_are_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let rgb = image::RgbImage::from_fn(50, 40, |x, y| {
            image::Rgb([
                (x * 37 % 256) as u8,
                (y * 11 % 256) as u8,
                ((x * y) % 256) as u8,
            ])
        });
        for img in [
            DynamicImage::ImageRgb8(rgb.clone()),
            DynamicImage::ImageRgb16(DynamicImage::ImageRgb8(rgb).to_rgb16()),
        ] {
            let mut bytes = Cursor::new(Vec::new());
            img.write_to(&mut bytes, ImageFormat::Png).unwrap();
            let bytes = bytes.into_inner();
            let path = dir.path().join("cut.png");
            std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
            let err = load_image(&path, &LoadOptions::default()).unwrap_err();
            assert!(format!("{err}").contains("its data ends at row"), "{err}");
            let (back, rows) = recover_png(&path).unwrap();
            assert!(rows > 0 && rows < 40, "{rows}");
            assert_eq!(back.color(), img.color());
            let row_bytes = img.as_bytes().len() / 40;
            let n = rows as usize * row_bytes;
            assert_eq!(&back.as_bytes()[..n], &img.as_bytes()[..n]);
            assert!(back.as_bytes()[n..].iter().all(|&v| v == 128));
        }
    }

    #[test]
    fn truncated_jpeg_is_refused_or_accepted_with_a_warning() {
        let bytes = jpeg(64, 64, false);
        let cut = &bytes[..bytes.len() * 2 / 3];
        let err = load_jpeg(cut, &LoadOptions::default()).unwrap_err();
        assert!(format!("{err}").contains("truncated"), "{err}");
        let opts = LoadOptions {
            allow_truncated: true,
            ..LoadOptions::default()
        };
        let ok = load_jpeg(cut, &opts).unwrap();
        assert_eq!((ok.image.width(), ok.image.height()), (64, 64));
        assert!(ok.warning.unwrap().contains("truncated"));
    }

    #[test]
    fn causes_are_said_once() {
        let io = std::io::Error::other("Invalid PNG signature.");
        let err = ImageError::IoError(io);
        assert_eq!(describe(&err), "Invalid PNG signature");
    }
}
