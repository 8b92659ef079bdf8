//! Reading rectangles ("windows") of a TIFF too big to decode whole, chunk by chunk.
//!
//! The `tiff` crate is used directly, not through `image` (which decodes whole images): the
//! first IFD (level 0 of a pyramid) is parsed once, and each window decodes only the tiles or
//! strips it overlaps, with [`tiff::decoder::Decoder::read_chunk`]. Tiled and striped files,
//! TIFF and BigTIFF, and every compression the `tiff` crate decodes (none, LZW, Deflate,
//! PackBits, JPEG) are read the same way.
//!
//! Memory: the window itself, one chunk being decoded, and a least-recently-used cache of
//! decoded chunks (stored with the window's channels, alpha already dropped) bounded in bytes:
//! [`DEFAULT_CACHE_BYTES`] unless [`TiffWindows::with_cache_bytes`] says otherwise, and never
//! fewer than one chunk. Within one window every chunk is decoded once, cache or not. Across
//! windows: the chunks of a window are visited column of chunks by column of chunks, so the
//! most recently used ones — those the cache keeps longest — are its right-hand column, the
//! one the next window of a row of windows (raster order) starts with when windows do not
//! line up with the tiles. The default 64 MiB holds that column for any window up to 2048 px
//! high and any tile up to 2048 x 2048 RGB u8 or 1024 x 1024 RGB u16. What it does not keep is
//! the row of tiles straddling two rows of windows (that would take a row of tiles across the
//! whole image): those tiles are decoded once more by the next row of windows, which costs at
//! most one tile height per window height extra (1/8 for 256-px tiles and 2048-px windows).
//! A strip spans the whole width, so the strips of a wide striped file are decoded again by
//! each window of a row unless the cache is raised to width x window height x pixel bytes;
//! tiled files are the ones to use for huge images.
//!
//! Threads: reading takes `&mut self` (the decoder seeks one file handle). Each thread opens
//! its own reader; opening costs one header and IFD read, and each reader has its own cache,
//! so the budget to plan is threads x cache bytes.

use anyhow::{Context, Result, anyhow, bail};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use tiff::ColorType;
use tiff::decoder::{ChunkType, Decoder, DecodingResult};
use tiff::tags::Tag;

/// Default size of the decoded-chunk cache of one reader: 64 MiB (see the module docs).
pub const DEFAULT_CACHE_BYTES: usize = 64 << 20;

/// The largest decoded chunk accepted: the `tiff` crate's own default limit for one decoding
/// buffer.
const MAX_CHUNK_BYTES: u64 = 256 << 20;

/// The type of the samples of an image and of the windows read from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleType {
    /// Unsigned 8-bit.
    U8,
    /// Unsigned 16-bit.
    U16,
    /// 32-bit IEEE float.
    F32,
}

impl SampleType {
    /// Bytes of one sample.
    pub fn bytes(self) -> usize {
        match self {
            SampleType::U8 => 1,
            SampleType::U16 => 2,
            SampleType::F32 => 4,
        }
    }
}

/// Interleaved samples of a window (or of a cached chunk), row-major.
#[derive(Debug, Clone, PartialEq)]
pub enum Pixels {
    /// 8-bit samples.
    U8(Vec<u8>),
    /// 16-bit samples.
    U16(Vec<u16>),
    /// Float samples.
    F32(Vec<f32>),
}

impl Pixels {
    fn zeros(kind: SampleType, len: usize) -> Pixels {
        match kind {
            SampleType::U8 => Pixels::U8(vec![0; len]),
            SampleType::U16 => Pixels::U16(vec![0; len]),
            SampleType::F32 => Pixels::F32(vec![0.0; len]),
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            Pixels::U8(v) => v.len(),
            Pixels::U16(v) => v.len(),
            Pixels::F32(v) => v.len(),
        }
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held.
    fn byte_len(&self) -> usize {
        match self {
            Pixels::U8(v) => v.len(),
            Pixels::U16(v) => v.len() * 2,
            Pixels::F32(v) => v.len() * 4,
        }
    }
}

/// The pixels of one rectangle of the image.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Left column of the window in the image.
    pub x: u32,
    /// Top row of the window in the image.
    pub y: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Samples per pixel: 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// `width * height * channels` samples, interleaved, row-major.
    pub pixels: Pixels,
}

/// How the samples of a decoded chunk become the window's channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Grey, possibly followed by extra samples (alpha) that are dropped.
    Grey,
    /// RGB, possibly followed by extra samples (alpha) that are dropped.
    Rgb,
    /// 8-bit YCbCr (JPEG tiles, mostly), converted to RGB.
    YCbCr,
}

/// One decoded chunk, already in the window's channels.
struct Chunk {
    width: u32,
    height: u32,
    pixels: Pixels,
    last_used: u64,
}

/// A windowed reader over the first image of one TIFF file; see the module documentation.
pub struct TiffWindows {
    path: PathBuf,
    decoder: Decoder<BufReader<File>>,
    width: u32,
    height: u32,
    channels: usize,
    sample_type: SampleType,
    layout: Layout,
    alpha_dropped: bool,
    tiled: bool,
    /// Nominal chunk size: the tile, or (image width, rows per strip).
    chunk_width: u32,
    chunk_height: u32,
    chunks_across: u32,
    /// Where each chunk's bytes are in the file, to name truncation plainly.
    chunk_ends: Vec<u64>,
    file_len: u64,
    cache: HashMap<u32, Chunk>,
    cache_bytes: usize,
    cache_limit: usize,
    clock: u64,
}

impl std::fmt::Debug for TiffWindows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TiffWindows")
            .field("path", &self.path)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("channels", &self.channels)
            .field("sample_type", &self.sample_type)
            .finish_non_exhaustive()
    }
}

/// Whether the file at `path` starts like a TIFF or BigTIFF (whatever its name).
pub fn is_tiff(path: &Path) -> Result<bool> {
    has_tiff_signature(path)
}

fn has_tiff_signature(path: &Path) -> Result<bool> {
    let mut head = [0u8; 4];
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let n = f
        .read(&mut head)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(n == 4 && matches!(&head, b"II*\0" | b"MM\0*" | b"II+\0" | b"MM\0+"))
}

/// Width and height of an image file, from its header only (nothing is decoded): the first
/// IFD of a TIFF, or whatever `image` reads for other formats.
pub fn dimensions(path: &Path) -> Result<(u32, u32)> {
    if has_tiff_signature(path)? {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut dec = Decoder::new(BufReader::new(file))
            .map_err(|e| anyhow!("{}: not a readable TIFF: {e}", path.display()))?;
        return dec
            .dimensions()
            .map_err(|e| anyhow!("{}: not a readable TIFF: {e}", path.display()));
    }
    image::image_dimensions(path).map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// Whether the image at `path` has more than `max_pixels` pixels (read from its header), so
/// that the caller should read it in windows rather than whole.
pub fn is_big(path: &Path, max_pixels: u64) -> Result<bool> {
    let (w, h) = dimensions(path)?;
    Ok(u64::from(w) * u64::from(h) > max_pixels)
}

impl TiffWindows {
    /// Opens `path` and reads its first IFD; fails, naming the file and the reason, on what
    /// the windows cannot give: palette, CMYK, Lab, separate planes, bit depths other than
    /// u8 / u16 / f32, channel layouts other than grey, RGB (and their alpha).
    pub fn open(path: &Path) -> Result<Self> {
        let name = path.display();
        let file = File::open(path).with_context(|| format!("cannot open {name}"))?;
        let file_len = file
            .metadata()
            .with_context(|| format!("cannot read {name}"))?
            .len();
        let mut dec = Decoder::new(BufReader::new(file))
            .map_err(|e| anyhow!("{name}: not a readable TIFF: {e}"))?;
        let tag_err = |e: tiff::TiffError| anyhow!("{name}: unreadable TIFF tags: {e}");

        let planar = dec
            .find_tag_unsigned::<u16>(Tag::PlanarConfiguration)
            .map_err(tag_err)?
            .unwrap_or(1);
        if planar != 1 {
            bail!(
                "{name}: separate colour planes (PlanarConfiguration {planar}) are not supported; store the samples of each pixel together"
            );
        }
        let photometric = dec
            .find_tag_unsigned::<u16>(Tag::PhotometricInterpretation)
            .map_err(tag_err)?;
        match photometric {
            Some(3) => bail!(
                "{name}: palette (indexed colour) images are not supported; convert it to RGB"
            ),
            Some(5) => bail!("{name}: CMYK images are not supported; convert it to RGB"),
            Some(4) => bail!("{name}: transparency masks are not images"),
            Some(8..=10) => bail!("{name}: L*a*b* images are not supported; convert it to RGB"),
            _ => {}
        }
        let color = dec
            .colortype()
            .map_err(|e| anyhow!("{name}: unsupported TIFF colour layout: {e}"))?;
        let samples = dec
            .find_tag_unsigned::<u16>(Tag::SamplesPerPixel)
            .map_err(tag_err)?
            .unwrap_or(1);
        let (layout, bits, channels) = match color {
            ColorType::Gray(b) => (Layout::Grey, b, 1),
            // Grey with extra samples comes out as "multiband"; take the first as the grey.
            ColorType::Multiband {
                bit_depth,
                num_samples: 2,
            } => (Layout::Grey, bit_depth, 1),
            ColorType::RGB(b) | ColorType::RGBA(b) => (Layout::Rgb, b, 3),
            ColorType::YCbCr(8) => (Layout::YCbCr, 8, 3),
            ColorType::YCbCr(b) => bail!("{name}: {b}-bit YCbCr is not supported (8-bit only)"),
            other => bail!(
                "{name}: the colour layout {other:?} ({samples} samples per pixel) is not supported; grey, RGB and their alpha are"
            ),
        };
        let format = dec
            .find_tag_unsigned_vec::<u16>(Tag::SampleFormat)
            .map_err(tag_err)?
            .and_then(|v| v.first().copied())
            .unwrap_or(1);
        let sample_type = match (format, bits) {
            (1, 8) => SampleType::U8,
            (1, 16) => SampleType::U16,
            (3, 32) => SampleType::F32,
            (f, b) => {
                let kind = match f {
                    1 => "unsigned",
                    2 => "signed",
                    3 => "float",
                    _ => "unknown-format",
                };
                bail!(
                    "{name}: {b}-bit {kind} samples are not supported (8- or 16-bit unsigned, or 32-bit float)"
                )
            }
        };

        let chunk_type = dec.get_chunk_type();
        let tiled = chunk_type == ChunkType::Tile;
        let (width, height) = dec.dimensions().map_err(tag_err)?;
        if width == 0 || height == 0 {
            bail!("{name}: the image is empty ({width}x{height})");
        }
        let (chunk_width, chunk_height) = dec.chunk_dimensions();
        let (offsets_tag, counts_tag) = if tiled {
            (Tag::TileOffsets, Tag::TileByteCounts)
        } else {
            (Tag::StripOffsets, Tag::StripByteCounts)
        };
        let offsets = dec.get_tag_u64_vec(offsets_tag).map_err(tag_err)?;
        let counts = dec.get_tag_u64_vec(counts_tag).map_err(tag_err)?;
        let chunks_across = width.div_ceil(chunk_width);
        let chunks_down = height.div_ceil(chunk_height);
        let expected = u64::from(chunks_across) * u64::from(chunks_down);
        if offsets.len() as u64 != expected || counts.len() as u64 != expected {
            bail!(
                "{name}: the file lists {} chunks for {expected} ({chunks_across}x{chunks_down})",
                offsets.len()
            );
        }
        // One chunk is decoded whole: refuse files whose chunks alone would break the memory
        // bound (an uncompressed gigapixel scan stored as a single strip, say).
        let chunk_bytes = u64::from(chunk_width)
            * u64::from(chunk_height.min(height))
            * u64::from(samples.max(1))
            * sample_type.bytes() as u64;
        if chunk_bytes > MAX_CHUNK_BYTES {
            let what = if tiled { "tile" } else { "strip" };
            bail!(
                "{name}: one {what} is {} MiB decoded ({chunk_width}x{} pixels), more than the {} MiB a window may decode at once; store the image tiled (for example 512x512)",
                chunk_bytes >> 20,
                chunk_height.min(height),
                MAX_CHUNK_BYTES >> 20
            );
        }
        let chunk_ends = offsets
            .iter()
            .zip(&counts)
            .map(|(&o, &c)| o.saturating_add(c))
            .collect();

        Ok(TiffWindows {
            path: path.to_path_buf(),
            decoder: dec,
            width,
            height,
            channels,
            sample_type,
            layout,
            alpha_dropped: usize::from(samples) > channels,
            tiled,
            chunk_width,
            chunk_height,
            chunks_across,
            chunk_ends,
            file_len,
            cache: HashMap::new(),
            cache_bytes: 0,
            cache_limit: DEFAULT_CACHE_BYTES,
            clock: 0,
        })
    }

    /// Sets the decoded-chunk cache to at most `bytes` (it always keeps at least one chunk).
    pub fn with_cache_bytes(mut self, bytes: usize) -> Self {
        self.cache_limit = bytes;
        self.evict();
        self
    }

    /// Image width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Image height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Channels of the windows: 1 (grey) or 3 (RGB).
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Sample type of the windows.
    pub fn sample_type(&self) -> SampleType {
        self.sample_type
    }

    /// Whether the file has an alpha (or other extra) channel that the windows leave out.
    pub fn alpha_dropped(&self) -> bool {
        self.alpha_dropped
    }

    /// Whether the file holds YCbCr (converted to RGB in the windows).
    pub fn is_ycbcr(&self) -> bool {
        self.layout == Layout::YCbCr
    }

    /// Whether the file is tiled (else striped).
    pub fn is_tiled(&self) -> bool {
        self.tiled
    }

    /// The size of a chunk: the tile, or (image width, rows per strip); windows aligned to it
    /// decode no chunk twice.
    pub fn chunk_size(&self) -> (u32, u32) {
        (self.chunk_width, self.chunk_height)
    }

    /// Chunks now held by the cache.
    pub fn cached_chunks(&self) -> usize {
        self.cache.len()
    }

    /// Reads the `w` x `h` rectangle at `(x, y)`, which must lie inside the image.
    pub fn read_window(&mut self, x: u32, y: u32, w: u32, h: u32) -> Result<Window> {
        let inside = x.checked_add(w).is_some_and(|r| r <= self.width)
            && y.checked_add(h).is_some_and(|b| b <= self.height);
        if w == 0 || h == 0 || !inside {
            bail!(
                "{}: the window {w}x{h} at ({x}, {y}) is empty or not inside the {}x{} image",
                self.path.display(),
                self.width,
                self.height
            );
        }
        let ch = self.channels;
        let mut pixels = Pixels::zeros(self.sample_type, w as usize * h as usize * ch);
        let (cw, chh) = (self.chunk_width, self.chunk_height);
        // Column by column of chunks: see the module docs for why.
        for cx in x / cw..=(x + w - 1) / cw {
            for cy in y / chh..=(y + h - 1) / chh {
                let index = cy * self.chunks_across + cx;
                self.load(index)?;
                let Some(chunk) = self.cache.get(&index) else {
                    bail!(
                        "{}: chunk {index} vanished from the cache",
                        self.path.display()
                    );
                };
                // The overlap of the window and the chunk, in image coordinates.
                let (left, top) = (x.max(cx * cw), y.max(cy * chh));
                let right = (x + w).min(cx * cw + chunk.width);
                let bottom = (y + h).min(cy * chh + chunk.height);
                if right <= left || bottom <= top {
                    continue;
                }
                let run = (right - left) as usize * ch;
                for row in top..bottom {
                    let src = ((row - cy * chh) as usize * chunk.width as usize
                        + (left - cx * cw) as usize)
                        * ch;
                    let dst = ((row - y) as usize * w as usize + (left - x) as usize) * ch;
                    match (&mut pixels, &chunk.pixels) {
                        (Pixels::U8(d), Pixels::U8(s)) => {
                            d[dst..dst + run].copy_from_slice(&s[src..src + run])
                        }
                        (Pixels::U16(d), Pixels::U16(s)) => {
                            d[dst..dst + run].copy_from_slice(&s[src..src + run])
                        }
                        (Pixels::F32(d), Pixels::F32(s)) => {
                            d[dst..dst + run].copy_from_slice(&s[src..src + run])
                        }
                        _ => bail!(
                            "{}: chunk {index} decoded to another sample type than the image's",
                            self.path.display()
                        ),
                    }
                }
            }
        }
        Ok(Window {
            x,
            y,
            width: w,
            height: h,
            channels: ch,
            pixels,
        })
    }

    /// Makes sure chunk `index` is in the cache (decoding it if needed) and marks it used.
    fn load(&mut self, index: u32) -> Result<()> {
        self.clock += 1;
        if let Some(chunk) = self.cache.get_mut(&index) {
            chunk.last_used = self.clock;
            return Ok(());
        }
        let chunk = self.decode(index)?;
        self.cache_bytes += chunk.pixels.byte_len();
        self.cache.insert(index, chunk);
        self.evict();
        Ok(())
    }

    /// Drops the least recently used chunks until the cache fits (keeping the newest one).
    fn evict(&mut self) {
        while self.cache_bytes > self.cache_limit && self.cache.len() > 1 {
            let Some((&oldest, _)) = self.cache.iter().min_by_key(|(_, c)| c.last_used) else {
                break;
            };
            if let Some(c) = self.cache.remove(&oldest) {
                self.cache_bytes -= c.pixels.byte_len();
            }
        }
    }

    /// Decodes chunk `index` into the window's channels.
    fn decode(&mut self, index: u32) -> Result<Chunk> {
        let name = self.path.display();
        let what = if self.tiled { "tile" } else { "strip" };
        let end = self
            .chunk_ends
            .get(index as usize)
            .copied()
            .unwrap_or(u64::MAX);
        if end > self.file_len {
            bail!(
                "{name}: {what} {index} is truncated: it should end at byte {end}, but the file has {} bytes",
                self.file_len
            );
        }
        let (dw, dh) = self.decoder.chunk_data_dimensions(index);
        let raw = self
            .decoder
            .read_chunk(index)
            .map_err(|e| anyhow!("{name}: cannot decode {what} {index}: {e}"))?;
        let area = dw as usize * dh as usize;
        let (len, kind) = match &raw {
            DecodingResult::U8(v) => (v.len(), SampleType::U8),
            DecodingResult::U16(v) => (v.len(), SampleType::U16),
            DecodingResult::F32(v) => (v.len(), SampleType::F32),
            _ => bail!("{name}: {what} {index} decoded to an unsupported sample type"),
        };
        if kind != self.sample_type || area == 0 || len % area != 0 || len / area < self.channels {
            bail!(
                "{name}: {what} {index} decoded to {len} samples of {kind:?}, which does not fit {dw}x{dh} pixels of {} {:?} channels",
                self.channels,
                self.sample_type
            );
        }
        let stride = len / area;
        let pixels = match raw {
            DecodingResult::U8(v) => Pixels::U8(self.to_channels(v, stride)),
            DecodingResult::U16(v) => Pixels::U16(self.to_channels(v, stride)),
            DecodingResult::F32(v) => Pixels::F32(self.to_channels(v, stride)),
            _ => bail!("{name}: {what} {index} decoded to an unsupported sample type"),
        };
        Ok(Chunk {
            width: dw,
            height: dh,
            pixels,
            last_used: self.clock,
        })
    }

    /// Keeps the first `channels` of every `stride` samples (dropping alpha), converting
    /// YCbCr to RGB.
    fn to_channels<T: Sample>(&self, v: Vec<T>, stride: usize) -> Vec<T> {
        let ch = self.channels;
        let mut out = if stride == ch {
            v
        } else {
            v.chunks_exact(stride)
                .flat_map(|p| p[..ch].iter().copied())
                .collect()
        };
        if self.layout == Layout::YCbCr {
            for p in out.chunks_exact_mut(3) {
                T::ycbcr_to_rgb(p);
            }
        }
        out
    }
}

/// What the chunk conversion needs of a sample type.
trait Sample: Copy {
    /// Converts one YCbCr pixel to RGB in place (8-bit only; the others never are YCbCr).
    fn ycbcr_to_rgb(p: &mut [Self]);
}

impl Sample for u8 {
    /// The JFIF (full-range BT.601) conversion, as JPEG decoders do it.
    fn ycbcr_to_rgb(p: &mut [u8]) {
        let (y, cb, cr) = (
            f32::from(p[0]),
            f32::from(p[1]) - 128.0,
            f32::from(p[2]) - 128.0,
        );
        let q = |v: f32| v.round().clamp(0.0, 255.0) as u8;
        p[0] = q(y + 1.402 * cr);
        p[1] = q(y - 0.344_136 * cb - 0.714_136 * cr);
        p[2] = q(y + 1.772 * cb);
    }
}

impl Sample for u16 {
    fn ycbcr_to_rgb(_: &mut [u16]) {}
}

impl Sample for f32 {
    fn ycbcr_to_rgb(_: &mut [f32]) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::make_big_tiff::{TileCompression, write_tiled_rgb};
    use crate::tiled_tiff::{
        COMPRESSION_NONE, PHOTOMETRIC_BLACK_IS_ZERO, SAMPLE_FORMAT_UINT, TiledSpec, TiledTiffFile,
    };
    use std::io::Cursor;
    use tiff::encoder::{Compression, DeflateLevel, TiffEncoder, colortype};

    /// A busy RGB pattern: every pixel differs from its neighbours.
    fn rgb_at(x: u32, y: u32) -> [u8; 3] {
        [(x * 7 + y) as u8, (y * 5 + x / 3) as u8, (x ^ y) as u8]
    }

    /// A smooth pattern, for lossy JPEG.
    fn smooth_at(x: u32, y: u32) -> [u8; 3] {
        [
            (x / 2 % 256) as u8,
            (y / 2 % 256) as u8,
            ((x + y) / 4 % 256) as u8,
        ]
    }

    fn image_of<T>(w: u32, h: u32, f: impl Fn(u32, u32) -> Vec<T>) -> Vec<T> {
        let f = &f;
        (0..h)
            .flat_map(|y| (0..w).flat_map(move |x| f(x, y)))
            .collect()
    }

    /// Writes a striped TIFF (or BigTIFF) with the `tiff` crate's encoder.
    fn write_striped<C: colortype::ColorType>(
        path: &Path,
        w: u32,
        h: u32,
        rows_per_strip: u32,
        compression: Compression,
        big: bool,
        data: &[C::Inner],
    ) where
        [C::Inner]: tiff::encoder::TiffValue,
    {
        let mut bytes = Cursor::new(Vec::new());
        macro_rules! write_with {
            ($enc:expr) => {{
                let mut enc = $enc.unwrap().with_compression(compression);
                let mut img = enc.new_image::<C>(w, h).unwrap();
                img.rows_per_strip(rows_per_strip).unwrap();
                // `write_data`, not `write_strip` in a loop: in tiff 0.11 only `write_data`
                // switches the compressor on, `write_strip` alone stores the strips raw under
                // a compressed tag.
                img.write_data(data).unwrap();
            }};
        }
        if big {
            write_with!(TiffEncoder::new_big(&mut bytes));
        } else {
            write_with!(TiffEncoder::new(&mut bytes));
        }
        std::fs::write(path, bytes.into_inner()).unwrap();
    }

    /// Every sample of `win` against `want(x, y)`.
    fn check_u8(win: &Window, want: impl Fn(u32, u32) -> Vec<u8>, tolerance: u8) {
        let Pixels::U8(px) = &win.pixels else {
            panic!("u8 window expected, got {:?}", win.pixels)
        };
        assert_eq!(
            px.len(),
            win.width as usize * win.height as usize * win.channels
        );
        for j in 0..win.height {
            for i in 0..win.width {
                let at = (j * win.width + i) as usize * win.channels;
                let (x, y) = (win.x + i, win.y + j);
                let want = want(x, y);
                for c in 0..win.channels {
                    let d = px[at + c].abs_diff(want[c]);
                    assert!(
                        d <= tolerance,
                        "({x}, {y}) channel {c}: {} vs {}",
                        px[at + c],
                        want[c]
                    );
                }
            }
        }
    }

    /// Windows that cross chunk borders, touch the image edges, and cover it all.
    fn windows(w: u32, h: u32) -> Vec<(u32, u32, u32, u32)> {
        vec![
            (0, 0, w, h),
            (0, 0, 1, 1),
            (w - 1, h - 1, 1, 1),
            (5, 3, 70, 90),
            (w - 70, h - 33, 70, 33),
            (63, 63, 2, 2),
            (1, 100, w - 2, 17),
        ]
    }

    #[test]
    fn striped_files_in_every_compression_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let (w, h) = (300, 200);
        let data = image_of(w, h, |x, y| rgb_at(x, y).to_vec());
        let compressions = [
            Compression::Uncompressed,
            Compression::Lzw,
            Compression::Deflate(DeflateLevel::Fast),
            Compression::Packbits,
        ];
        for (k, compression) in compressions.into_iter().enumerate() {
            for big in [false, true] {
                let path = dir.path().join(format!("s{k}{big}.tif"));
                write_striped::<colortype::RGB8>(&path, w, h, 7, compression, big, &data);
                let mut r = TiffWindows::open(&path).unwrap();
                assert_eq!((r.width(), r.height(), r.channels()), (w, h, 3));
                assert_eq!(r.sample_type(), SampleType::U8);
                assert!(!r.is_tiled() && !r.alpha_dropped());
                assert_eq!(r.chunk_size(), (w, 7));
                for (x, y, ww, hh) in windows(w, h) {
                    let win = r.read_window(x, y, ww, hh).unwrap();
                    check_u8(&win, |x, y| rgb_at(x, y).to_vec(), 0);
                }
            }
        }
    }

    #[test]
    fn tiled_files_read_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let (w, h) = (300, 200);
        for compression in [TileCompression::None, TileCompression::Deflate] {
            let path = dir.path().join(format!("t{compression:?}.tif"));
            write_tiled_rgb(&path, w, h, 64, compression, 90, rgb_at).unwrap();
            let mut r = TiffWindows::open(&path).unwrap();
            assert!(r.is_tiled());
            assert_eq!((r.width(), r.height(), r.chunk_size()), (w, h, (64, 64)));
            for (x, y, ww, hh) in windows(w, h) {
                let win = r.read_window(x, y, ww, hh).unwrap();
                check_u8(&win, |x, y| rgb_at(x, y).to_vec(), 0);
            }
        }
    }

    #[test]
    fn jpeg_tiles_come_back_as_rgb() {
        let dir = tempfile::tempdir().unwrap();
        let (w, h) = (300, 200);
        let path = dir.path().join("j.tif");
        write_tiled_rgb(&path, w, h, 64, TileCompression::Jpeg, 95, smooth_at).unwrap();
        let mut r = TiffWindows::open(&path).unwrap();
        assert_eq!((r.channels(), r.sample_type()), (3, SampleType::U8));
        let win = r.read_window(0, 0, w, h).unwrap();
        // Lossy, but close everywhere: a wrong colour conversion would be off by far more.
        check_u8(&win, |x, y| smooth_at(x, y).to_vec(), 12);
        let Pixels::U8(px) = &win.pixels else {
            unreachable!()
        };
        let err: u64 = px
            .iter()
            .zip(image_of(w, h, |x, y| smooth_at(x, y).to_vec()))
            .map(|(&a, b)| u64::from(a.abs_diff(b)))
            .sum();
        assert!(
            err * 2 < px.len() as u64 * 3,
            "mean error {}",
            err as f64 / px.len() as f64
        );
    }

    #[test]
    fn u16_f32_and_alpha_samples() {
        let dir = tempfile::tempdir().unwrap();
        let (w, h) = (90, 70);

        let grey16 = image_of(w, h, |x, y| vec![(x * 700 + y) as u16]);
        let path = dir.path().join("g16.tif");
        write_striped::<colortype::Gray16>(&path, w, h, 16, Compression::Lzw, false, &grey16);
        let mut r = TiffWindows::open(&path).unwrap();
        assert_eq!((r.channels(), r.sample_type()), (1, SampleType::U16));
        let win = r.read_window(10, 12, 50, 40).unwrap();
        let want: Vec<u16> = image_of(50, 40, |x, y| vec![((x + 10) * 700 + y + 12) as u16]);
        assert_eq!(win.pixels, Pixels::U16(want));

        let rgb16 = image_of(w, h, |x, y| vec![x as u16 * 300, y as u16 * 900, 65535]);
        let path = dir.path().join("c16.tif");
        write_striped::<colortype::RGB16>(&path, w, h, 5, Compression::Uncompressed, true, &rgb16);
        let mut r = TiffWindows::open(&path).unwrap();
        assert_eq!((r.channels(), r.sample_type()), (3, SampleType::U16));
        let win = r.read_window(80, 60, 10, 10).unwrap();
        let want: Vec<u16> = image_of(10, 10, |x, y| {
            vec![(x + 80) as u16 * 300, (y + 60) as u16 * 900, 65535]
        });
        assert_eq!(win.pixels, Pixels::U16(want));

        let float = image_of(w, h, |x, y| vec![x as f32 * 0.5 - y as f32]);
        let path = dir.path().join("f.tif");
        write_striped::<colortype::Gray32Float>(
            &path,
            w,
            h,
            9,
            Compression::Deflate(DeflateLevel::Fast),
            false,
            &float,
        );
        let mut r = TiffWindows::open(&path).unwrap();
        assert_eq!(r.sample_type(), SampleType::F32);
        let win = r.read_window(0, 0, w, h).unwrap();
        assert_eq!(win.pixels, Pixels::F32(float));

        let rgba = image_of(w, h, |x, y| {
            let [r, g, b] = rgb_at(x, y);
            vec![r, g, b, 7]
        });
        let path = dir.path().join("a.tif");
        write_striped::<colortype::RGBA8>(&path, w, h, 3, Compression::Lzw, false, &rgba);
        let mut r = TiffWindows::open(&path).unwrap();
        assert_eq!(r.channels(), 3);
        assert!(r.alpha_dropped());
        let win = r.read_window(3, 4, 60, 50).unwrap();
        check_u8(&win, |x, y| rgb_at(x, y).to_vec(), 0);
    }

    #[test]
    fn neighbouring_windows_share_cached_chunks_within_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.tif");
        write_tiled_rgb(&path, 256, 256, 64, TileCompression::None, 90, rgb_at).unwrap();
        let chunk = 64 * 64 * 3;
        // Room for one column of a 100-high window's chunks (2), plus one.
        let mut r = TiffWindows::open(&path)
            .unwrap()
            .with_cache_bytes(3 * chunk);
        r.read_window(0, 0, 100, 100).unwrap();
        assert!(r.cached_chunks() <= 3);
        // The next window to the right starts in the column of chunks the last one ended in:
        // those are the most recently used, so they are still there.
        let before: Vec<u32> = r.cache.keys().copied().collect();
        assert!(before.contains(&1) && before.contains(&5), "{before:?}");
        let win = r.read_window(100, 0, 100, 100).unwrap();
        check_u8(&win, |x, y| rgb_at(x, y).to_vec(), 0);
        assert!(r.cached_chunks() <= 3);
        // A budget below one chunk still keeps (and reads through) one.
        let mut r = TiffWindows::open(&path).unwrap().with_cache_bytes(1);
        let win = r.read_window(0, 0, 256, 256).unwrap();
        check_u8(&win, |x, y| rgb_at(x, y).to_vec(), 0);
        assert_eq!(r.cached_chunks(), 1);
    }

    #[test]
    fn windows_outside_the_image_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.tif");
        write_tiled_rgb(&path, 100, 50, 16, TileCompression::None, 90, rgb_at).unwrap();
        let mut r = TiffWindows::open(&path).unwrap();
        for (x, y, w, h) in [
            (0, 0, 0, 5),
            (90, 0, 11, 5),
            (0, 49, 1, 2),
            (u32::MAX, 0, 2, 2),
        ] {
            let err = r.read_window(x, y, w, h).unwrap_err();
            let msg = format!("{err:#}");
            assert!(
                msg.contains("not inside the 100x50 image") && msg.contains("o.tif"),
                "{msg}"
            );
        }
    }

    /// Offset of the value (or inline value) of `tag` in a little-endian BigTIFF's first IFD.
    fn bigtiff_entry(bytes: &[u8], tag: u16) -> usize {
        let ifd = u64::from_le_bytes(bytes[8..16].try_into().unwrap()) as usize;
        let n = u64::from_le_bytes(bytes[ifd..ifd + 8].try_into().unwrap()) as usize;
        (0..n)
            .map(|i| ifd + 8 + i * 20)
            .find(|&e| u16::from_le_bytes([bytes[e], bytes[e + 1]]) == tag)
            .map(|e| e + 12)
            .expect("tag present")
    }

    fn grey_tiled(path: &Path, photometric: u16) {
        let spec = TiledSpec {
            width: 32,
            height: 16,
            tile: 16,
            samples_per_pixel: 1,
            bits_per_sample: 8,
            sample_format: SAMPLE_FORMAT_UINT,
            photometric,
            compression: COMPRESSION_NONE,
            ycbcr_subsampling: None,
        };
        let mut f = TiledTiffFile::create(path, spec).unwrap();
        f.write_tile(0, 0, &[9; 256]).unwrap();
        f.write_tile(1, 0, &[10; 256]).unwrap();
        f.finish().unwrap();
    }

    fn open_err(path: &Path) -> String {
        format!("{:#}", TiffWindows::open(path).unwrap_err())
    }

    #[test]
    fn unsupported_files_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();

        let path = dir.path().join("palette.tif");
        grey_tiled(&path, 3);
        let msg = open_err(&path);
        assert!(
            msg.contains("palette") && msg.contains("palette.tif"),
            "{msg}"
        );

        let path = dir.path().join("planar.tif");
        grey_tiled(&path, PHOTOMETRIC_BLACK_IS_ZERO);
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bigtiff_entry(&bytes, 284);
        bytes[at] = 2;
        std::fs::write(&path, bytes).unwrap();
        let msg = open_err(&path);
        assert!(
            msg.contains("separate colour planes") && msg.contains("planar.tif"),
            "{msg}"
        );

        let path = dir.path().join("signed.tif");
        let data = vec![-3i16; 20 * 10];
        write_striped::<colortype::GrayI16>(
            &path,
            20,
            10,
            4,
            Compression::Uncompressed,
            false,
            &data,
        );
        let msg = open_err(&path);
        assert!(
            msg.contains("16-bit signed samples are not supported"),
            "{msg}"
        );

        let path = dir.path().join("double.tif");
        let data = vec![0.5f64; 20 * 10];
        write_striped::<colortype::Gray64Float>(
            &path,
            20,
            10,
            4,
            Compression::Uncompressed,
            false,
            &data,
        );
        let msg = open_err(&path);
        assert!(msg.contains("64-bit float"), "{msg}");

        // A single 10000 x 10000 RGB tile (the payload is never read).
        let path = dir.path().join("hugetile.tif");
        let spec = TiledSpec {
            width: 10_000,
            height: 10_000,
            tile: 10_000,
            samples_per_pixel: 3,
            bits_per_sample: 8,
            sample_format: SAMPLE_FORMAT_UINT,
            photometric: crate::tiled_tiff::PHOTOMETRIC_RGB,
            compression: COMPRESSION_NONE,
            ycbcr_subsampling: None,
        };
        let mut f = TiledTiffFile::create(&path, spec).unwrap();
        f.write_tile(0, 0, &[0; 16]).unwrap();
        f.finish().unwrap();
        let msg = open_err(&path);
        assert!(
            msg.contains("one tile is 286 MiB decoded") && msg.contains("hugetile.tif"),
            "{msg}"
        );

        let path = dir.path().join("notatiff.tif");
        std::fs::write(&path, b"II*\0garbage").unwrap();
        let msg = open_err(&path);
        assert!(
            msg.contains("not a readable TIFF") && msg.contains("notatiff.tif"),
            "{msg}"
        );

        let msg = open_err(&dir.path().join("missing.tif"));
        assert!(
            msg.contains("cannot open") && msg.contains("missing.tif"),
            "{msg}"
        );
    }

    #[test]
    fn truncated_and_corrupt_chunks_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trunc.tif");
        grey_tiled(&path, PHOTOMETRIC_BLACK_IS_ZERO);
        let mut bytes = std::fs::read(&path).unwrap();
        // Tile 1 claims to run past the end of the file.
        let counts = bigtiff_entry(&bytes, 325);
        let table = u64::from_le_bytes(bytes[counts..counts + 8].try_into().unwrap()) as usize;
        bytes[table + 8..table + 16].copy_from_slice(&1_000_000u64.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let mut r = TiffWindows::open(&path).unwrap();
        let win = r.read_window(0, 0, 16, 16).unwrap();
        assert_eq!(
            win.pixels,
            Pixels::U8(vec![9; 256]),
            "the intact tile still reads"
        );
        let msg = format!("{:#}", r.read_window(10, 0, 10, 10).unwrap_err());
        assert!(
            msg.contains("tile 1 is truncated") && msg.contains("trunc.tif"),
            "{msg}"
        );

        let path = dir.path().join("corrupt.tif");
        write_tiled_rgb(&path, 32, 16, 16, TileCompression::Deflate, 90, rgb_at).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        // Garble the first tile's zlib stream (it starts right after the 16-byte header).
        for b in &mut bytes[16..40] {
            *b = 0xff;
        }
        std::fs::write(&path, &bytes).unwrap();
        let mut r = TiffWindows::open(&path).unwrap();
        let msg = format!("{:#}", r.read_window(0, 0, 4, 4).unwrap_err());
        assert!(
            msg.contains("cannot decode tile 0") && msg.contains("corrupt.tif"),
            "{msg}"
        );
    }

    #[test]
    fn dimensions_come_from_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.tif");
        write_tiled_rgb(&path, 320, 48, 16, TileCompression::None, 90, rgb_at).unwrap();
        assert_eq!(dimensions(&path).unwrap(), (320, 48));
        assert!(is_big(&path, 320 * 48 - 1).unwrap());
        assert!(!is_big(&path, 320 * 48).unwrap());
        let png = dir.path().join("d.png");
        image::RgbImage::new(7, 5).save(&png).unwrap();
        assert_eq!(dimensions(&png).unwrap(), (7, 5));
        let msg = format!(
            "{:#}",
            dimensions(&dir.path().join("nope.tif")).unwrap_err()
        );
        assert!(msg.contains("nope.tif"), "{msg}");
    }
}
