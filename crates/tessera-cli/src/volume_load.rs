//! Reading one file as a volume (`segment --volume`): a multi-page TIFF (one page per slice),
//! a NumPy `.npy` array `(Z, Y, X)` or `(Z, Y, X, C)`, or a NIfTI-1 file (`.nii`, `.nii.gz`),
//! with the voxel size its header gives.
//!
//! Axis order: tessera's volumes are `(slices, rows, columns)` = `(Z, Y, X)`, slice after
//! slice, each row-major. A `.npy` array is taken in that order (C- or Fortran-ordered on
//! disk). NIfTI stores `(X, Y, Z)` with X varying fastest, which is the same layout in
//! memory: its `i, j, k` axes become columns, rows and slices, and `pixdim[1..=3]` becomes the
//! spacing `(pixdim[3], pixdim[2], pixdim[1])`. Dimensions past the third (time, vector
//! components) become channels.
//!
//! Limits: the voxel count is checked against `--max-pixels` from the header, before any
//! voxel data is allocated. Errors name the problem (and the page, for a TIFF), not the file:
//! the caller adds the path.

use anyhow::{Context, Result, anyhow, bail};
use ndarray::ArrayD;
use ndarray_npy::ReadNpyExt;
use ndarray_npy::npy::header::{Header, Layout};
use nifti::{IntoNdArray, NiftiHeader, NiftiObject, NiftiType, ReaderOptions};
use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;
use tessera::{Image, Samples};
use tiff::ColorType;
use tiff::decoder::ifd::Value;
use tiff::decoder::{Decoder, DecodingResult, Limits};
use tiff::tags::Tag;

/// The file formats read as volumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeFormat {
    /// Multi-page TIFF, one page per slice.
    Tiff,
    /// NumPy `.npy`.
    Npy,
    /// NIfTI-1, `.nii` or `.nii.gz`.
    Nifti,
}

impl VolumeFormat {
    /// The format a file name says (case-insensitive), if it is one of the volume formats.
    pub fn of(path: &Path) -> Option<Self> {
        let name = path.file_name()?.to_string_lossy().to_lowercase();
        if name.ends_with(".tif") || name.ends_with(".tiff") {
            Some(VolumeFormat::Tiff)
        } else if name.ends_with(".npy") {
            Some(VolumeFormat::Npy)
        } else if name.ends_with(".nii") || name.ends_with(".nii.gz") {
            Some(VolumeFormat::Nifti)
        } else {
            None
        }
    }

    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            VolumeFormat::Tiff => "TIFF",
            VolumeFormat::Npy => "NumPy",
            VolumeFormat::Nifti => "NIfTI",
        }
    }
}

/// Where a volume's spacing came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpacingSource {
    /// The file's header (ImageJ TIFF description and resolution, NIfTI `pixdim`).
    Header,
    /// `--spacing`.
    Flag,
    /// Neither: 1 along every axis.
    Default,
}

impl SpacingSource {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            SpacingSource::Header => "header",
            SpacingSource::Flag => "flag",
            SpacingSource::Default => "default",
        }
    }
}

/// A volume read from a file.
#[derive(Debug)]
pub struct Volume {
    /// The voxels.
    pub image: Image,
    /// The format it was read from.
    pub format: VolumeFormat,
    /// The voxel size `(Z, Y, X)` the header gives, when it gives one.
    pub spacing: Option<[f32; 3]>,
    /// The unit of the spacing, when the header names one ("mm", "micron", ...).
    pub unit: Option<String>,
    /// The NIfTI header, kept for the label volume written beside it.
    pub nifti: Option<Box<NiftiHeader>>,
    /// Things the user should know about how the file was read.
    pub notes: Vec<String>,
}

/// Reads `path` as one volume of at most `max_voxels` voxels.
pub fn load_volume(path: &Path, max_voxels: u64) -> Result<Volume> {
    let meta = std::fs::metadata(path).map_err(|e| anyhow!("cannot read the file: {e}"))?;
    if meta.is_dir() {
        bail!("is a folder, not a volume");
    }
    if meta.len() == 0 {
        bail!("the file is empty");
    }
    match VolumeFormat::of(path) {
        Some(VolumeFormat::Tiff) => load_tiff(path, max_voxels),
        Some(VolumeFormat::Npy) => load_npy(path, max_voxels),
        Some(VolumeFormat::Nifti) => load_nifti(path, max_voxels),
        None => bail!(
            "not a volume format tessera reads: --volume takes a multi-page TIFF (.tif, .tiff), a NumPy array (.npy) or NIfTI (.nii, .nii.gz)"
        ),
    }
}

fn check_voxels(depth: u64, width: u64, height: u64, max_voxels: u64) -> Result<()> {
    let voxels = depth.saturating_mul(width).saturating_mul(height);
    if voxels == 0 {
        bail!("the volume is {width}x{height}x{depth}: it has no voxels");
    }
    if voxels > max_voxels {
        bail!(
            "the volume is {width}x{height}x{depth} = {voxels} voxels, more than the limit of {max_voxels} (raise it with --max-pixels, which counts voxels)"
        );
    }
    Ok(())
}

fn to_u32(n: usize, what: &str) -> Result<u32> {
    u32::try_from(n).map_err(|_| anyhow!("{what} {n} is too large"))
}

// ---------------------------------------------------------------------------------------------
// TIFF

/// How a page's samples are stored: what every page must agree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PageKind {
    width: u32,
    height: u32,
    color: ColorType,
}

impl PageKind {
    fn describe(&self) -> String {
        format!("{}x{} {}", self.width, self.height, color_text(self.color))
    }
}

fn color_text(c: ColorType) -> String {
    match c {
        ColorType::Gray(b) => format!("{b}-bit grey"),
        ColorType::GrayA(b) => format!("{b}-bit grey+alpha"),
        ColorType::RGB(b) => format!("{b}-bit RGB"),
        ColorType::RGBA(b) => format!("{b}-bit RGBA"),
        ColorType::Palette(b) => format!("{b}-bit palette"),
        ColorType::CMYK(b) => format!("{b}-bit CMYK"),
        ColorType::CMYKA(b) => format!("{b}-bit CMYK+alpha"),
        ColorType::YCbCr(b) => format!("{b}-bit YCbCr"),
        ColorType::Lab(b) => format!("{b}-bit CIELAB"),
        ColorType::Multiband {
            bit_depth,
            num_samples,
        } => format!("{bit_depth}-bit {num_samples}-channel"),
        other => format!("{other:?}"),
    }
}

/// Channels kept, and samples stored per pixel, of a page colour type tessera reads.
fn tiff_channels(c: ColorType) -> Result<(u16, usize)> {
    let (keep, stored, bits) = match c {
        ColorType::Gray(b) => (1, 1, b),
        ColorType::GrayA(b) => (1, 2, b),
        ColorType::RGB(b) => (3, 3, b),
        ColorType::RGBA(b) => (3, 4, b),
        ColorType::Multiband {
            bit_depth,
            num_samples,
        } => (num_samples, num_samples as usize, bit_depth),
        other => bail!(
            "{} pages are not supported (grey, RGB or multi-channel pages are)",
            color_text(other)
        ),
    };
    if ![8, 16, 32, 64].contains(&bits) {
        bail!(
            "{} pages are not supported (8-, 16-, 32- or 64-bit samples are)",
            color_text(c)
        );
    }
    Ok((keep, stored))
}

/// The samples of one decoded page, alpha dropped.
enum PageSamples {
    U8(Vec<u8>),
    U16(Vec<u16>),
    F32(Vec<f32>),
}

fn keep_channels<T: Copy>(v: Vec<T>, keep: usize, stored: usize) -> Vec<T> {
    if keep == stored {
        v
    } else {
        v.chunks_exact(stored)
            .flat_map(|px| px[..keep].iter().copied())
            .collect()
    }
}

fn page_samples(page: DecodingResult, keep: usize, stored: usize) -> Result<PageSamples> {
    fn wide<T: Copy>(v: Vec<T>, f: impl Fn(T) -> f32, keep: usize, stored: usize) -> PageSamples {
        PageSamples::F32(keep_channels(v, keep, stored).into_iter().map(f).collect())
    }
    Ok(match page {
        DecodingResult::U8(v) => PageSamples::U8(keep_channels(v, keep, stored)),
        DecodingResult::U16(v) => PageSamples::U16(keep_channels(v, keep, stored)),
        DecodingResult::F32(v) => PageSamples::F32(keep_channels(v, keep, stored)),
        DecodingResult::F64(v) => wide(v, |s| s as f32, keep, stored),
        DecodingResult::F16(v) => wide(v, f32::from, keep, stored),
        DecodingResult::I8(v) => wide(v, f32::from, keep, stored),
        DecodingResult::I16(v) => wide(v, f32::from, keep, stored),
        DecodingResult::I32(v) => wide(v, |s| s as f32, keep, stored),
        DecodingResult::I64(v) => wide(v, |s| s as f32, keep, stored),
        DecodingResult::U32(v) => wide(v, |s| s as f32, keep, stored),
        DecodingResult::U64(v) => wide(v, |s| s as f32, keep, stored),
    })
}

/// Is the error the file running out?
fn is_eof(e: &tiff::TiffError) -> bool {
    match e {
        tiff::TiffError::IoError(io) => io.kind() == std::io::ErrorKind::UnexpectedEof,
        other => {
            let t = other.to_string().to_lowercase();
            t.contains("unexpected eof") || t.contains("failed to fill whole buffer")
        }
    }
}

fn tiff_error(e: tiff::TiffError, page: usize, what: &str) -> anyhow::Error {
    if is_eof(&e) {
        anyhow!(
            "the TIFF file is truncated: it ends inside page {page} ({what}: {})",
            e.to_string().trim_end_matches('.')
        )
    } else {
        anyhow!(
            "page {page} of the TIFF file cannot be decoded ({what}: {})",
            e.to_string().trim_end_matches('.')
        )
    }
}

/// How many pages (images) a TIFF file holds, without decoding any; `None` when the file
/// cannot be read as a TIFF. Used to warn that a 2-D run reads the first page only.
pub fn tiff_page_count(path: &Path) -> Option<usize> {
    let file = BufReader::new(File::open(path).ok()?);
    let mut dec = Decoder::new(file).ok()?;
    let mut pages = 1;
    while dec.more_images() {
        if dec.next_image().is_err() {
            break;
        }
        pages += 1;
    }
    Some(pages)
}

fn load_tiff(path: &Path, max_voxels: u64) -> Result<Volume> {
    let file = BufReader::new(File::open(path).map_err(|e| anyhow!("cannot open the file: {e}"))?);
    let mut limits = Limits::default();
    // One page at up to 8 bytes a sample, the limit on voxels standing for the limit on pages.
    limits.decoding_buffer_size = usize::try_from(max_voxels.saturating_mul(8 * 4))
        .unwrap_or(usize::MAX)
        .max(1 << 20);
    let mut dec = Decoder::new(file)
        .map_err(|e| {
            if is_eof(&e) {
                anyhow!("the TIFF file is truncated: it ends before its header is complete")
            } else {
                anyhow!(
                    "cannot decode the TIFF header: {}",
                    e.to_string().trim_end_matches('.')
                )
            }
        })?
        .with_limits(limits);

    let (spacing, unit, hyper_channels) = tiff_spacing(&mut dec);
    let mut first: Option<PageKind> = None;
    let mut pages: Vec<PageSamples> = Vec::new();
    loop {
        let n = pages.len() + 1;
        let (width, height) = dec.dimensions().map_err(|e| tiff_error(e, n, "its size"))?;
        let color = dec
            .colortype()
            .map_err(|e| tiff_error(e, n, "its pixel type"))?;
        let kind = PageKind {
            width,
            height,
            color,
        };
        match first {
            None => {
                tiff_channels(color).with_context(|| format!("page {n}"))?;
                first = Some(kind);
            }
            Some(f) if f != kind => bail!(
                "page {n} is {}, page 1 is {}: the pages of a volume must agree in size and type",
                kind.describe(),
                f.describe()
            ),
            Some(_) => {}
        }
        check_voxels(n as u64, width as u64, height as u64, max_voxels)?;
        let (keep, stored) = tiff_channels(color)?;
        let data = dec
            .read_image()
            .map_err(|e| tiff_error(e, n, "its pixel data"))?;
        let expected = width as usize * height as usize * stored;
        let page = page_samples(data, keep as usize, stored)?;
        let got = match &page {
            PageSamples::U8(v) => v.len(),
            PageSamples::U16(v) => v.len(),
            PageSamples::F32(v) => v.len(),
        };
        if got != expected / stored * keep as usize {
            bail!(
                "page {n} decodes to {got} samples, its {} size needs {}",
                kind.describe(),
                expected / stored * keep as usize
            );
        }
        pages.push(page);
        if !dec.more_images() {
            break;
        }
        dec.next_image()
            .map_err(|e| tiff_error(e, pages.len() + 1, "its directory"))?;
    }
    let Some(kind) = first else {
        bail!("the TIFF file has no page");
    };
    let mut depth = pages.len();
    if depth == 1 {
        bail!(
            "the TIFF file has one page: it is a 2-D image, not a volume (segment it without --volume)"
        );
    }
    let (mut channels, _) = tiff_channels(kind.color)?;
    let mut samples = join_pages(pages)?;
    let mut notes = Vec::new();
    if hyper_channels > 1 {
        // An ImageJ hyperstack: its pages run through the channels of each slice first.
        if channels == 1 && depth.is_multiple_of(hyper_channels) && depth > hyper_channels {
            let area = kind.width as usize * kind.height as usize;
            samples = match samples {
                Samples::U8(v) => Samples::U8(interleave(&v, area, hyper_channels)),
                Samples::U16(v) => Samples::U16(interleave(&v, area, hyper_channels)),
                Samples::F32(v) => Samples::F32(interleave(&v, area, hyper_channels)),
            };
            depth /= hyper_channels;
            channels = hyper_channels as u16;
        } else {
            notes.push(format!(
                "ImageJ's description says {hyper_channels} channels, which {depth} {} pages cannot hold: every page is read as a slice",
                color_text(kind.color)
            ));
        }
    }
    let image = Image::new_volume(
        to_u32(depth, "the page count")?,
        kind.width,
        kind.height,
        channels,
        samples,
    )?;
    Ok(Volume {
        image,
        format: VolumeFormat::Tiff,
        spacing,
        unit,
        nifti: None,
        notes,
    })
}

/// Pages `z C + c` (each `area` samples) gathered as `C` interleaved channels of slice `z`.
fn interleave<T: Copy + Default>(v: &[T], area: usize, c: usize) -> Vec<T> {
    let mut out = vec![T::default(); v.len()];
    for (page, chunk) in v.chunks_exact(area).enumerate() {
        let (z, ch) = (page / c, page % c);
        for (i, &s) in chunk.iter().enumerate() {
            out[(z * area + i) * c + ch] = s;
        }
    }
    out
}

fn join_pages(pages: Vec<PageSamples>) -> Result<Samples> {
    Ok(match pages.first() {
        Some(PageSamples::U8(_)) => Samples::U8(
            pages
                .into_iter()
                .flat_map(|p| match p {
                    PageSamples::U8(v) => v,
                    _ => Vec::new(),
                })
                .collect(),
        ),
        Some(PageSamples::U16(_)) => Samples::U16(
            pages
                .into_iter()
                .flat_map(|p| match p {
                    PageSamples::U16(v) => v,
                    _ => Vec::new(),
                })
                .collect(),
        ),
        Some(PageSamples::F32(_)) => Samples::F32(
            pages
                .into_iter()
                .flat_map(|p| match p {
                    PageSamples::F32(v) => v,
                    _ => Vec::new(),
                })
                .collect(),
        ),
        None => bail!("the TIFF file has no page"),
    })
}

/// The voxel size an ImageJ TIFF gives: `spacing=` (slice distance) and `unit=` in its
/// ImageDescription, and the pixel size as the inverse of XResolution / YResolution (pixels
/// per unit). Other TIFF files' resolution (often a nominal 72 dpi) says nothing about the
/// slice distance, so it is not used. Also the channel count of an ImageJ hyperstack (1 when
/// it has none).
fn tiff_spacing<R: Read + Seek>(dec: &mut Decoder<R>) -> (Option<[f32; 3]>, Option<String>, usize) {
    let description = dec
        .get_tag_ascii_string(Tag::ImageDescription)
        .unwrap_or_default();
    let Some(fields) = imagej_fields(&description) else {
        return (None, None, 1);
    };
    let value = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
    };
    let z = value("spacing")
        .and_then(|v| v.parse::<f32>().ok())
        .filter(|v| v.is_finite() && *v > 0.0)
        .unwrap_or(1.0);
    let mut inverse = |tag: Tag| -> f32 {
        let per_unit = match dec.find_tag(tag) {
            Ok(Some(Value::Rational(n, d))) if d != 0 => Some(f64::from(n) / f64::from(d)),
            Ok(Some(Value::Float(v))) => Some(f64::from(v)),
            Ok(Some(Value::Double(v))) => Some(v),
            _ => None,
        };
        per_unit
            .filter(|v| v.is_finite() && *v > 0.0)
            .map(|v| (1.0 / v) as f32)
            .filter(|v| v.is_finite() && *v > 0.0)
            .unwrap_or(1.0)
    };
    let x = inverse(Tag::XResolution);
    let y = inverse(Tag::YResolution);
    let unit = value("unit").map(|u| match u.as_str() {
        // ImageJ writes the micrometre as `\u00B5m` or `micron`.
        "\\u00B5m" | "µm" | "um" => "micron".to_string(),
        _ => u,
    });
    let channels = value("channels")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&c| (1..=Image::MAX_CHANNELS).contains(&c))
        .unwrap_or(1);
    (Some([z, y, x]), unit, channels)
}

/// The `key=value` lines of an ImageJ ImageDescription, `None` for any other description.
fn imagej_fields(description: &str) -> Option<Vec<(&str, &str)>> {
    if !description.starts_with("ImageJ=") {
        return None;
    }
    Some(
        description
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------------
// NumPy

fn load_npy(path: &Path, max_voxels: u64) -> Result<Volume> {
    let mut file =
        BufReader::new(File::open(path).map_err(|e| anyhow!("cannot open the file: {e}"))?);
    let header = Header::from_reader(&mut file).map_err(|e| {
        // The header parser's message goes on to draw the faulty text over several lines.
        let text = e.to_string();
        let first = text.lines().next().unwrap_or_default();
        anyhow!(
            "not a valid .npy file: {}",
            first.trim().trim_end_matches([':', '.']).trim_end()
        )
    })?;
    let shape = header.shape.clone();
    let shape_text = format!(
        "({})",
        shape
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let (depth, height, width, channels) = match shape[..] {
        [z, y, x] => (z, y, x, 1),
        [z, y, x, c] => (z, y, x, c),
        [_, _] => bail!(
            "the array's shape is {shape_text}: a 2-D image, not a volume (--volume takes (Z, Y, X) or (Z, Y, X, C))"
        ),
        _ => bail!(
            "the array's shape is {shape_text}: a volume is (Z, Y, X) or (Z, Y, X, C) (slices, rows, columns[, channels])"
        ),
    };
    if channels == 0 || channels > Image::MAX_CHANNELS {
        bail!(
            "the array's shape is {shape_text}: {channels} channels (1 to {} are supported)",
            Image::MAX_CHANNELS
        );
    }
    check_voxels(depth as u64, width as u64, height as u64, max_voxels)?;
    let descriptor = header.type_descriptor.to_string();
    let dtype = descriptor.trim_matches(|c| c == '\'' || c == '"');
    let order = match header.layout {
        Layout::Standard => "C",
        Layout::Fortran => "Fortran",
    };
    file.rewind()
        .map_err(|e| anyhow!("cannot read the file: {e}"))?;
    let read_err = |e: ndarray_npy::ReadNpyError| match e {
        ndarray_npy::ReadNpyError::MissingData => anyhow!(
            "the .npy file is truncated: its data ends before the {shape_text} array of {dtype} is complete"
        ),
        ndarray_npy::ReadNpyError::ExtraBytes(n) => {
            anyhow!("the .npy file has {n} bytes more than its {shape_text} array of {dtype} needs")
        }
        other => anyhow!("cannot read the .npy data: {other}"),
    };
    // Every dtype NumPy writes for real-valued data, in either byte order.
    let kind = dtype.trim_start_matches(['<', '>', '=', '|']);
    let samples = match kind {
        "u1" | "b1" => Samples::U8(
            ArrayD::<u8>::read_npy(&mut file)
                .or_else(|e| {
                    // `|b1` (bool) is read as 0/1 bytes.
                    if kind == "b1" {
                        file.rewind()?;
                        Ok(ArrayD::<bool>::read_npy(&mut file)
                            .map_err(read_err)?
                            .mapv(u8::from))
                    } else {
                        Err(read_err(e))
                    }
                })?
                .iter()
                .copied()
                .collect(),
        ),
        "u2" => Samples::U16(
            ArrayD::<u16>::read_npy(&mut file)
                .map_err(read_err)?
                .iter()
                .copied()
                .collect(),
        ),
        "i1" => floats(
            ArrayD::<i8>::read_npy(&mut file).map_err(read_err)?,
            f32::from,
        ),
        "i2" => floats(
            ArrayD::<i16>::read_npy(&mut file).map_err(read_err)?,
            f32::from,
        ),
        "u4" => floats(ArrayD::<u32>::read_npy(&mut file).map_err(read_err)?, |v| {
            v as f32
        }),
        "i4" => floats(ArrayD::<i32>::read_npy(&mut file).map_err(read_err)?, |v| {
            v as f32
        }),
        "u8" => floats(ArrayD::<u64>::read_npy(&mut file).map_err(read_err)?, |v| {
            v as f32
        }),
        "i8" => floats(ArrayD::<i64>::read_npy(&mut file).map_err(read_err)?, |v| {
            v as f32
        }),
        "f4" => floats(ArrayD::<f32>::read_npy(&mut file).map_err(read_err)?, |v| v),
        "f8" => floats(ArrayD::<f64>::read_npy(&mut file).map_err(read_err)?, |v| {
            v as f32
        }),
        _ => bail!(
            "the array's dtype {dtype} is not supported (bool, u1, u2, u4, u8, i1, i2, i4, i8, f4 or f8 are)"
        ),
    };
    let image = Image::new_volume(
        to_u32(depth, "the depth")?,
        to_u32(width, "the width")?,
        to_u32(height, "the height")?,
        channels as u16,
        samples,
    )
    .with_context(|| format!("the {shape_text} {dtype} array ({order} order)"))?;
    Ok(Volume {
        image,
        format: VolumeFormat::Npy,
        spacing: None,
        unit: None,
        nifti: None,
        notes: Vec::new(),
    })
}

/// The array's values in logical (C) order, as floats: `iter` walks an array in its logical
/// order whatever its memory layout, so a Fortran-ordered file comes out the same.
fn floats<T: Copy>(a: ArrayD<T>, f: impl Fn(T) -> f32) -> Samples {
    Samples::F32(a.iter().map(|&v| f(v)).collect())
}

// ---------------------------------------------------------------------------------------------
// NIfTI

fn nifti_type_name(header: &NiftiHeader) -> String {
    match header.data_type() {
        Ok(NiftiType::Complex64) => "complex64".into(),
        Ok(NiftiType::Complex128) => "complex128".into(),
        Ok(NiftiType::Complex256) => "complex256".into(),
        Ok(NiftiType::Float128) => "float128".into(),
        Ok(NiftiType::Rgba32) => "RGBA32".into(),
        Ok(other) => format!("{other:?}"),
        Err(_) => format!("code {}", header.datatype),
    }
}

fn load_nifti(path: &Path, max_voxels: u64) -> Result<Volume> {
    let nerr = |e: nifti::NiftiError| -> anyhow::Error {
        match e {
            nifti::NiftiError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                anyhow!("the NIfTI file is truncated: it ends before its voxel data is complete")
            }
            nifti::NiftiError::InvalidFormat => {
                anyhow!("not a NIfTI-1 file (its magic code is neither n+1 nor ni1)")
            }
            other => anyhow!(
                "cannot read the NIfTI file: {}",
                other.to_string().trim_end_matches('.')
            ),
        }
    };
    let header = NiftiHeader::from_file(path).map_err(nerr)?;
    let dims = header.dim().map_err(nerr)?.to_vec();
    if dims.len() < 3 {
        bail!(
            "the NIfTI image has {} dimension(s) ({}): a 2-D image, not a volume",
            dims.len(),
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("x")
        );
    }
    let (nx, ny, nz) = (dims[0] as u64, dims[1] as u64, dims[2] as u64);
    let extra: u64 = dims[3..].iter().map(|&d| d as u64).product();
    check_voxels(nz, nx, ny, max_voxels)?;
    let datatype = header.data_type().ok();
    let supported = matches!(
        datatype,
        Some(
            NiftiType::Uint8
                | NiftiType::Int8
                | NiftiType::Uint16
                | NiftiType::Int16
                | NiftiType::Uint32
                | NiftiType::Int32
                | NiftiType::Uint64
                | NiftiType::Int64
                | NiftiType::Float32
                | NiftiType::Float64
                | NiftiType::Rgb24
        )
    );
    if !supported {
        bail!(
            "the NIfTI datatype {} is not supported (8- to 64-bit integers, float32, float64 or RGB24 are)",
            nifti_type_name(&header)
        );
    }
    let rgb = datatype == Some(NiftiType::Rgb24);
    let channels = extra * if rgb { 3 } else { 1 };
    if channels > Image::MAX_CHANNELS as u64 {
        bail!(
            "the NIfTI image has {channels} values per voxel (dimensions past the third become channels; at most {} are supported)",
            Image::MAX_CHANNELS
        );
    }
    let obj = ReaderOptions::new().read_file(path).map_err(nerr)?;
    let header = obj.header().clone();
    let volume = obj.into_volume();
    let (nx, ny, nz, extra) = (nx as usize, ny as usize, nz as usize, extra as usize);
    let voxels = nx * ny * nz;
    let scaled = header.scl_slope != 0.0 && (header.scl_slope != 1.0 || header.scl_inter != 0.0);
    let samples = if rgb {
        // RGB24 is stored as three bytes per voxel, X fastest: the layout of Samples::U8.
        let raw = volume.raw_data();
        if raw.len() < voxels * extra * 3 {
            bail!("the NIfTI file is truncated: it ends before its voxel data is complete");
        }
        let raw = &raw[..voxels * extra * 3];
        if extra == 1 {
            Samples::U8(raw.to_vec())
        } else {
            // (RGB, X, Y, Z, T...) on disk: every voxel's values gathered together.
            let mut out = vec![0u8; raw.len()];
            for t in 0..extra {
                for v in 0..voxels {
                    let src = (t * voxels + v) * 3;
                    let dst = (v * extra + t) * 3;
                    out[dst..dst + 3].copy_from_slice(&raw[src..src + 3]);
                }
            }
            Samples::U8(out)
        }
    } else {
        let arr = volume.into_ndarray::<f32>().map_err(nerr)?;
        if arr.len() != voxels * extra {
            bail!(
                "the NIfTI volume holds {} values, its header's dimensions need {}",
                arr.len(),
                voxels * extra
            );
        }
        // The axes reversed and walked in logical order: X fastest, then Y, Z and the rest,
        // the order on disk; each voxel's values past the third dimension then gathered.
        let flat: Vec<f32> = arr.t().iter().copied().collect();
        let values: Vec<f32> = if extra == 1 {
            flat
        } else {
            let mut out = vec![0f32; flat.len()];
            for (i, &v) in flat.iter().enumerate() {
                let (t, voxel) = (i / voxels, i % voxels);
                out[voxel * extra + t] = v;
            }
            out
        };
        let integer = |t: NiftiType| datatype == Some(t) && !scaled;
        if integer(NiftiType::Uint8) {
            Samples::U8(values.iter().map(|&v| v as u8).collect())
        } else if integer(NiftiType::Uint16) {
            Samples::U16(values.iter().map(|&v| v as u16).collect())
        } else {
            Samples::F32(values)
        }
    };
    let image = Image::new_volume(
        to_u32(nz, "the depth")?,
        to_u32(nx, "the width")?,
        to_u32(ny, "the height")?,
        channels as u16,
        samples,
    )?;
    let p = header.pixdim;
    let spacing = [p[3], p[2], p[1]];
    let spacing = spacing
        .iter()
        .all(|s| s.is_finite() && *s > 0.0)
        .then_some(spacing);
    let unit = header.xyzt_to_space().ok().and_then(|u| match u {
        nifti::Unit::Meter => Some("m".to_string()),
        nifti::Unit::Mm => Some("mm".to_string()),
        nifti::Unit::Micron => Some("micron".to_string()),
        _ => None,
    });
    let mut notes = Vec::new();
    if extra > 1 {
        notes.push(format!(
            "its {extra} values per voxel past the third dimension (time or vector components) are segmented as channels"
        ));
    }
    if spacing.is_none() {
        notes.push(format!(
            "its pixdim ({}, {}, {}) is not a voxel size; spacing 1, 1, 1 is used unless --spacing is given",
            p[1], p[2], p[3]
        ));
    }
    Ok(Volume {
        image,
        format: VolumeFormat::Nifti,
        spacing,
        unit,
        nifti: Some(Box::new(header)),
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array3, Array4, ShapeBuilder};

    fn vol_values(v: &Volume) -> Vec<f32> {
        v.image.to_planes().concat()
    }

    #[test]
    fn npy_c_and_fortran_orders_read_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let a = Array3::<u16>::from_shape_fn((3, 4, 5), |(z, y, x)| (z * 100 + y * 10 + x) as u16);
        let c = dir.path().join("c.npy");
        ndarray_npy::write_npy(&c, &a).unwrap();
        let f = dir.path().join("f.npy");
        let mut fa = Array3::<u16>::zeros((3, 4, 5).f());
        fa.assign(&a);
        ndarray_npy::write_npy(&f, &fa).unwrap();
        let vc = load_volume(&c, 1000).unwrap();
        let vf = load_volume(&f, 1000).unwrap();
        assert_eq!(
            (vc.image.depth(), vc.image.height(), vc.image.width()),
            (3, 4, 5)
        );
        assert_eq!(vc.image.samples(), vf.image.samples());
        match vc.image.samples() {
            Samples::U16(v) => assert_eq!(v[5 + 1], 11), // z 0, y 1, x 1
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn npy_dtypes_and_channels() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        let a = Array4::<f64>::from_shape_fn((2, 3, 4, 2), |(z, y, x, c)| {
            (z + y + x) as f64 + c as f64 * 0.5
        });
        ndarray_npy::write_npy(&p, &a).unwrap();
        let v = load_volume(&p, 1000).unwrap();
        assert_eq!(v.image.channels(), 2);
        assert_eq!(vol_values(&v).len(), 2 * 3 * 4 * 2);
        let i = dir.path().join("i.npy");
        ndarray_npy::write_npy(&i, &Array3::<i16>::from_elem((2, 2, 2), -1000)).unwrap();
        let v = load_volume(&i, 1000).unwrap();
        assert_eq!(v.image.samples(), &Samples::F32(vec![-1000.0; 8]));
        let b = dir.path().join("b.npy");
        ndarray_npy::write_npy(&b, &Array3::from_shape_fn((2, 1, 2), |(z, _, x)| z == x)).unwrap();
        let v = load_volume(&b, 1000).unwrap();
        assert_eq!(v.image.samples(), &Samples::U8(vec![1, 0, 0, 1]));
        // Limits and shapes.
        let err = load_volume(&i, 7).unwrap_err();
        assert!(
            format!("{err}").contains("more than the limit of 7"),
            "{err}"
        );
        let two = dir.path().join("two.npy");
        ndarray_npy::write_npy(&two, &ndarray::Array2::<u8>::zeros((3, 3))).unwrap();
        let err = load_volume(&two, 1000).unwrap_err();
        assert!(format!("{err}").contains("2-D image"), "{err}");
    }

    #[test]
    fn npy_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        ndarray_npy::write_npy(&p, &Array3::<f32>::zeros((4, 4, 4))).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 10]).unwrap();
        let err = format!("{:#}", load_volume(&p, 1000).unwrap_err());
        assert!(err.contains("truncated"), "{err}");
        std::fs::write(&p, b"\x93NUMPY\x01\x00junk").unwrap();
        let err = format!("{:#}", load_volume(&p, 1000).unwrap_err());
        assert!(err.contains("not a valid .npy file"), "{err}");
        let c = dir.path().join("c.npy");
        ndarray_npy::write_npy(&c, &Array3::<f32>::from_elem((2, 2, 2), f32::NAN)).unwrap();
        let err = format!("{:#}", load_volume(&c, 1000).unwrap_err());
        assert!(err.contains("NaN"), "{err}");
    }

    fn tiff_bytes(
        write: impl FnOnce(&mut tiff::encoder::TiffEncoder<&mut std::io::Cursor<Vec<u8>>>),
    ) -> Vec<u8> {
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut enc = tiff::encoder::TiffEncoder::new(&mut buf).unwrap();
            write(&mut enc);
        }
        buf.into_inner()
    }

    #[test]
    fn tiff_pages_of_every_sample_type() {
        use tiff::encoder::colortype::{Gray16, Gray32Float, RGB8, RGBA8};
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.tif");
        // Two 3x2 pages of 16-bit grey.
        std::fs::write(
            &p,
            tiff_bytes(|e| {
                e.write_image::<Gray16>(3, 2, &[1, 2, 3, 4, 5, 6]).unwrap();
                e.write_image::<Gray16>(3, 2, &[7, 8, 9, 10, 11, 12])
                    .unwrap();
            }),
        )
        .unwrap();
        let v = load_volume(&p, 100).unwrap();
        assert_eq!(
            (v.image.depth(), v.image.height(), v.image.width()),
            (2, 2, 3)
        );
        assert_eq!(v.image.samples(), &Samples::U16((1..=12).collect()));
        assert_eq!(v.spacing, None, "no ImageJ calibration");
        // RGB and RGBA (alpha dropped) pages.
        std::fs::write(
            &p,
            tiff_bytes(|e| {
                e.write_image::<RGB8>(1, 1, &[1, 2, 3]).unwrap();
                e.write_image::<RGB8>(1, 1, &[4, 5, 6]).unwrap();
            }),
        )
        .unwrap();
        let v = load_volume(&p, 100).unwrap();
        assert_eq!(v.image.channels(), 3);
        assert_eq!(v.image.samples(), &Samples::U8(vec![1, 2, 3, 4, 5, 6]));
        std::fs::write(
            &p,
            tiff_bytes(|e| {
                e.write_image::<RGBA8>(1, 1, &[1, 2, 3, 9]).unwrap();
                e.write_image::<RGBA8>(1, 1, &[4, 5, 6, 9]).unwrap();
            }),
        )
        .unwrap();
        assert_eq!(
            load_volume(&p, 100).unwrap().image.samples(),
            &Samples::U8(vec![1, 2, 3, 4, 5, 6])
        );
        // Float pages, values as they are.
        std::fs::write(
            &p,
            tiff_bytes(|e| {
                e.write_image::<Gray32Float>(2, 1, &[-1.5, 2.0]).unwrap();
                e.write_image::<Gray32Float>(2, 1, &[0.0, 100.0]).unwrap();
            }),
        )
        .unwrap();
        assert_eq!(
            load_volume(&p, 100).unwrap().image.samples(),
            &Samples::F32(vec![-1.5, 2.0, 0.0, 100.0])
        );
        // Too many voxels: refused before the second page is decoded.
        let err = load_volume(&p, 3).unwrap_err();
        assert!(
            format!("{err}").contains("more than the limit of 3"),
            "{err}"
        );
    }

    #[test]
    fn nifti_extra_dimensions_and_rgb_become_channels() {
        use nifti::writer::WriterOptions;
        let dir = tempfile::tempdir().unwrap();
        // (X, Y, Z, T) = (4, 3, 2, 5): value 1000 t + 100 z + 10 y + x.
        let arr = ndarray::Array4::<f32>::from_shape_fn((4, 3, 2, 5), |(x, y, z, t)| {
            (1000 * t + 100 * z + 10 * y + x) as f32
        });
        let p = dir.path().join("t.nii");
        WriterOptions::new(&p).write_nifti(&arr).unwrap();
        let v = load_volume(&p, 100).unwrap();
        assert_eq!(
            (v.image.depth(), v.image.height(), v.image.width()),
            (2, 3, 4)
        );
        assert_eq!(v.image.channels(), 5);
        assert!(v.notes[0].contains("5 values per voxel"), "{:?}", v.notes);
        let Samples::F32(s) = v.image.samples() else {
            panic!("float samples")
        };
        // Voxel (x 3, y 2, z 1), channel 4.
        let voxel = 23; // (z H + y) W + x with H = 3, W = 4
        assert_eq!(s[voxel * 5 + 4], 4123.0);
        // RGB24: three bytes a voxel.
        let rgb = ndarray::Array3::<[u8; 3]>::from_shape_fn((2, 2, 2), |(x, y, z)| {
            [x as u8, y as u8, z as u8]
        });
        let p = dir.path().join("rgb.nii.gz");
        WriterOptions::new(&p).write_rgb_nifti(&rgb).unwrap();
        let v = load_volume(&p, 100).unwrap();
        assert_eq!(v.image.channels(), 3);
        let Samples::U8(s) = v.image.samples() else {
            panic!("8-bit samples")
        };
        // Voxel (x 1, y 0, z 1).
        assert_eq!(&s[5 * 3..][..3], &[1, 0, 1]);
        // A 2-D NIfTI image is not a volume.
        let p = dir.path().join("flat.nii");
        WriterOptions::new(&p)
            .write_nifti(&ndarray::Array2::<u8>::zeros((4, 4)))
            .unwrap();
        let err = load_volume(&p, 100).unwrap_err();
        assert!(
            format!("{err}").contains("a 2-D image, not a volume"),
            "{err}"
        );
    }

    #[test]
    fn imagej_hyperstack_channels_are_gathered() {
        use tiff::encoder::colortype::Gray8;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.tif");
        // 2 slices x 3 channels of 2x1 pages, page z C + c holding 10 z + c.
        std::fs::write(
            &p,
            tiff_bytes(|e| {
                for page in 0..6u8 {
                    let (z, c) = (page / 3, page % 3);
                    let mut img = e.new_image::<Gray8>(2, 1).unwrap();
                    if page == 0 {
                        img.encoder()
                            .write_tag(
                                Tag::ImageDescription,
                                "ImageJ=1.54f\nimages=6\nchannels=3\nslices=2\nhyperstack=true\n",
                            )
                            .unwrap();
                    }
                    img.write_data(&[10 * z + c; 2]).unwrap();
                }
            }),
        )
        .unwrap();
        let v = load_volume(&p, 100).unwrap();
        assert_eq!((v.image.depth(), v.image.channels()), (2, 3));
        assert_eq!(
            v.image.samples(),
            &Samples::U8(vec![0, 1, 2, 0, 1, 2, 10, 11, 12, 10, 11, 12])
        );
    }

    /// Damaged files of every format (bytes flipped, cut short) give errors, never panics.
    #[test]
    fn damaged_files_never_panic() {
        use nifti::writer::WriterOptions;
        let dir = tempfile::tempdir().unwrap();
        let a = Array3::<u16>::from_shape_fn((3, 5, 4), |(z, y, x)| (z * 7 + y * 3 + x) as u16);
        let npy = dir.path().join("a.npy");
        ndarray_npy::write_npy(&npy, &a).unwrap();
        let nii = dir.path().join("a.nii");
        WriterOptions::new(&nii).write_nifti(&a.t()).unwrap();
        let tif = dir.path().join("a.tif");
        std::fs::write(
            &tif,
            tiff_bytes(|e| {
                for slice in a.outer_iter() {
                    let data: Vec<u16> = slice.iter().copied().collect();
                    e.write_image::<tiff::encoder::colortype::Gray16>(4, 5, &data)
                        .unwrap();
                }
            }),
        )
        .unwrap();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for good in [npy, nii, tif] {
            let bytes = std::fs::read(&good).unwrap();
            let name = good.file_name().unwrap().to_string_lossy().into_owned();
            let bad = dir.path().join(format!("bad-{name}"));
            for round in 0..300 {
                let mut b = bytes.clone();
                if round % 3 == 0 {
                    b.truncate(next() as usize % b.len());
                } else {
                    // Mostly in the headers, where a flipped byte changes the most.
                    for _ in 0..1 + next() % 4 {
                        let span = if next() % 4 == 0 {
                            b.len()
                        } else {
                            b.len().min(400)
                        };
                        let i = next() as usize % span;
                        b[i] = next() as u8;
                    }
                }
                std::fs::write(&bad, &b).unwrap();
                let result = std::panic::catch_unwind(|| load_volume(&bad, 10_000));
                assert!(result.is_ok(), "{name}, round {round}: a panic");
            }
        }
    }

    #[test]
    fn imagej_descriptions_are_parsed() {
        let f =
            imagej_fields("ImageJ=1.54f\nimages=5\nslices=5\nunit=micron\nspacing=2.5\n").unwrap();
        assert!(f.contains(&("spacing", "2.5")));
        assert!(imagej_fields("made by a scanner").is_none());
    }
}
