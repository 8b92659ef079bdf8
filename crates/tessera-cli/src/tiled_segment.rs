//! `tessera segment` on images too large for memory: SLIC tile by tile
//! (`tessera::tiled`), reading TIFFs window by window and writing every output as the tiles
//! come, so that memory stays bounded by `--memory` whatever the image's size.

use crate::output::temporary_beside;
use crate::overlay_tiff::OverlayTiffWriter;
use crate::preview::{DEFAULT_MAX_SIDE, PreviewBuilder};
use crate::tiff_stream::TiffStreamWriter;
use crate::tiff_window::{Pixels, TiffWindows};
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tessera::render::BoundaryStyle;
use tessera::tiled::{Rect, Seams, TilePlan, TileSource, TiledSlic};
use tessera::{Image, RegionTable, Samples, Slic};

/// Options of tiled runs.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Images larger than memory (SLIC)")]
pub struct TiledArgs {
    /// Segment in tiles of SIZE x SIZE pixels (at least 256), whatever the image's size.
    /// Without it, an image whose whole-image run would need more than --memory is tiled
    /// automatically (tiles of 2048, or smaller to fit --memory).
    #[arg(long, value_name = "SIZE", value_parser = clap::value_parser!(u32).range(256..))]
    pub tile: Option<u32>,

    /// Memory budget of one image's run, e.g. 1GiB, 512MiB, 2000MB (default: half of the
    /// machine's memory). Larger images are tiled; tiled runs keep within it.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub memory: Option<u64>,

    /// Tile seams: `exact` gives the whole-image run's label map whatever the tile size;
    /// `fast` clusters each tile alone with a halo and shares the last pass (three reads of
    /// the image instead of twelve; a few pixels near tile borders change segment).
    #[arg(long, value_enum, default_value_t = SeamsArg::Exact)]
    pub seams: SeamsArg,

    /// Halo of fast seams, in pixels (default: four grid steps).
    #[arg(long, value_name = "PIXELS")]
    pub halo: Option<u32>,
}

/// `--seams`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeamsArg {
    /// The whole-image result, exactly.
    Exact,
    /// One clustering pass per tile with a halo, then one shared labelling pass.
    Fast,
}

/// `1GiB`, `512MiB`, `2000MB`, `1.5G`, `100000000`: a number of bytes.
pub fn parse_bytes(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size such as 1GiB, 512MiB or 2000MB"))?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" => 1e12,
        "tib" => 1024f64.powi(4),
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{s}` (use B, KiB, MiB, GiB, KB, MB, GB)"
            ));
        }
    };
    let bytes = value * scale;
    if !(bytes.is_finite() && bytes >= 64.0 * 1024.0 * 1024.0) {
        return Err(format!("`{s}` is below the smallest budget, 64MiB"));
    }
    Ok(bytes as u64)
}

/// Half of the machine's memory (`MemTotal` of /proc/meminfo), else 4 GiB.
fn default_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(4 << 30, |kib| kib * 1024 / 2)
}

/// Bytes a whole-image SLIC run takes per pixel beyond the decoded image (features,
/// labels, distances, connectivity), measured (README, "Speed and quality").
const WHOLE_BYTES_PER_PIXEL: u64 = 28;
/// Bytes a tiled run takes per pixel of a frame in flight (features, labels, distances,
/// runs and regions of the last pass, the pixels read).
const FRAME_BYTES_PER_PIXEL: u64 = 40;

/// Bytes a tiled run keeps per superpixel: the centres, and what the stitch gathers (the
/// regions the tiles keep, and the fragments along tile borders). Measured: peak memory grew
/// by 274 bytes a superpixel from 22,733 to 884,551 superpixels (8,000 to 50,000 pixels a
/// side, 50-pixel superpixels, `examples/tiled_bench.rs`), with room to spare.
const SUPERPIXEL_BYTES: u64 = 400;

/// How one image is run: whole, or in tiles of this size with this much feature cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// In memory, as usual.
    Whole,
    /// Tiled.
    Tiled {
        /// Tile side.
        tile: u32,
        /// Bytes of features kept between passes.
        cache: u64,
    },
}

/// Decides how to run a `width x height` image of `channels` samples of `bytes` bytes with
/// `segments` superpixels on `threads` threads; `may_be_whole` false tiles it whatever its
/// size (an image beyond --max-pixels must not be decoded whole).
pub fn plan(
    args: &TiledArgs,
    (width, height): (u32, u32),
    sample_bytes: u64,
    segments: u32,
    threads: usize,
    may_be_whole: bool,
) -> Result<Plan> {
    let budget = args.memory.unwrap_or_else(default_memory);
    let pixels = u64::from(width) * u64::from(height);
    let whole = pixels * (WHOLE_BYTES_PER_PIXEL + sample_bytes);
    if may_be_whole && args.tile.is_none() && whole <= budget {
        return Ok(Plan::Whole);
    }
    // The last pass's halo is about four grid steps around a tile.
    let step = ((pixels as f64) / f64::from(segments.max(1))).sqrt().ceil() as u64;
    let halo = 4 * step + 2;
    let frame = |tile: u64| (tile + 2 * halo).pow(2) * FRAME_BYTES_PER_PIXEL * threads as u64;
    // What does not grow with the tiles: centres and the stitch, the writers' rows of tiles.
    let fixed = u64::from(segments) * SUPERPIXEL_BYTES + u64::from(width) * 256 * 8 + (16 << 20);
    let mut tile = u64::from(args.tile.unwrap_or(2048));
    if args.tile.is_none() {
        while tile > 256 && fixed + frame(tile) > budget {
            tile /= 2;
        }
    }
    if fixed + frame(tile) > budget {
        bail!(
            "--memory {} is too small for tiles of {tile} with {segments} superpixels on {threads} threads (about {} needed): raise --memory, lower --tile or -j",
            human(budget),
            human(fixed + frame(tile))
        );
    }
    Ok(Plan::Tiled {
        tile: tile as u32,
        cache: budget - fixed - frame(tile),
    })
}

fn human(bytes: u64) -> String {
    format!("{:.1}GiB", bytes as f64 / f64::from(1u32 << 30))
}

/// A TIFF read window by window: one reader (and chunk cache) per thread in flight.
pub struct TiffSource {
    path: PathBuf,
    readers: Vec<Mutex<TiffWindows>>,
    width: u32,
    height: u32,
    channels: usize,
}

impl TiffSource {
    /// Opens `path` with `readers` readers.
    pub fn open(path: &Path, readers: usize) -> Result<Self> {
        let first = TiffWindows::open(path)?;
        if first.alpha_dropped() {
            eprintln!("warning: {}: the alpha channel is ignored", path.display());
        }
        let (width, height, channels) = (first.width(), first.height(), first.channels());
        let mut all = vec![Mutex::new(first)];
        for _ in 1..readers.max(1) {
            all.push(Mutex::new(TiffWindows::open(path)?));
        }
        Ok(TiffSource {
            path: path.to_path_buf(),
            readers: all,
            width,
            height,
            channels,
        })
    }
}

impl TileSource for TiffSource {
    fn width(&self) -> u32 {
        self.width
    }
    fn height(&self) -> u32 {
        self.height
    }
    fn channels(&self) -> usize {
        self.channels
    }
    fn read(&self, r: Rect) -> tessera::Result<Image> {
        // A free reader if there is one, else wait for the first.
        let mut guard = self
            .readers
            .iter()
            .find_map(|m| m.try_lock().ok())
            .unwrap_or_else(|| self.readers[0].lock().unwrap_or_else(|e| e.into_inner()));
        let win = guard
            .read_window(r.x, r.y, r.width, r.height)
            .map_err(|e| tessera::Error::Tiling(format!("{e:#}")))?;
        drop(guard);
        let samples = match win.pixels {
            Pixels::U8(v) => Samples::U8(v),
            Pixels::U16(v) => Samples::U16(v),
            Pixels::F32(v) => Samples::F32(v),
        };
        Image::new(win.width, win.height, win.channels as u16, samples)
            .map_err(|e| tessera::Error::Tiling(format!("{}: {e}", self.path.display())))
    }
}

/// The files a tiled run writes.
pub struct TiledOutputs {
    /// The boundary preview (`<name>.overlay.png`).
    pub preview: Option<PathBuf>,
    /// The full-size boundary overlay (`<name>.overlay.tif`).
    pub overlay: Option<PathBuf>,
    /// The label map and its format.
    pub labels: Option<(PathBuf, LabelKind)>,
    /// The superpixel table and adjacency list.
    pub table: Option<[PathBuf; 2]>,
}

/// Label map formats a tiled run streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelKind {
    /// Tiled BigTIFF of u32, label + 1.
    Tiff,
    /// NumPy `.npy`, u32, label as is, (height, width).
    Npy,
}

/// What a tiled run reports.
pub struct TiledReport {
    /// Image size.
    pub width: u32,
    pub height: u32,
    /// Segments.
    pub segments: u32,
    /// Tile side and count, passes over the image.
    pub tile: u32,
    pub tiles: usize,
    pub passes: usize,
    /// Wall time of the segmentation and outputs, in milliseconds.
    pub segment_ms: f64,
}

/// Segments `source` with `slic` in tiles and writes `outputs`.
#[allow(clippy::too_many_arguments)] // the run's whole configuration
pub fn run(
    source: &dyn TileSource,
    name: &Path,
    slic: &Slic,
    seams: SeamsArg,
    halo: Option<u32>,
    (tile, cache): (u32, u64),
    style: &BoundaryStyle,
    outputs: &TiledOutputs,
) -> Result<TiledReport> {
    let start = std::time::Instant::now();
    let seams = match seams {
        SeamsArg::Exact => Seams::Exact,
        SeamsArg::Fast => Seams::Fast { halo },
    };
    let (w, h, c) = (source.width(), source.height(), source.channels());
    let steps = TilePlan::new(slic, w, h, c, tile, seams)
        .with_context(|| format!("{}: cannot tile", name.display()))?;
    let tiled = TiledSlic {
        slic: slic.clone(),
        tile,
        seams,
        tiles_at_once: None,
        cache_bytes: cache as usize,
    };
    let bar = ProgressBar::with_draw_target(
        Some((steps.tile_count() * TiledSlic::passes(&steps)) as u64),
        ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:40} {pos}/{len} tiles (all passes)  {elapsed_precise} (eta {eta})",
    ) {
        bar.set_style(style);
    }
    let mut labels_out = match &outputs.labels {
        Some((path, LabelKind::Tiff)) => Some(Labels::Tiff(TiffStreamWriter::labels(path, w, h)?)),
        Some((path, LabelKind::Npy)) => Some(Labels::Npy(NpyWriter::create(path, w, h)?)),
        None => None,
    };
    let mut preview = match &outputs.preview {
        Some(_) => Some(PreviewBuilder::new(
            w,
            h,
            DEFAULT_MAX_SIDE,
            style.color.0,
            style.mode,
        )?),
        None => None,
    };
    let mut overlay = match &outputs.overlay {
        Some(path) => Some(OverlayTiffWriter::create(path, w, h, style)?),
        None => None,
    };
    let mut table = outputs.table.as_ref().map(|_| RegionTable::new(c));
    let needs_pixels = preview.is_some() || overlay.is_some() || table.is_some();
    let mut failure: Option<anyhow::Error> = None;
    let count = tiled.run(source, &|p| bar.set_position(p.done as u64), &mut |part| {
        let r = part.rect;
        let mut step = || -> Result<()> {
            if let Some(out) = labels_out.as_mut() {
                out.block(r, part.labels)?;
            }
            if needs_pixels {
                let pixels = source.read(r)?;
                if preview.is_some() || overlay.is_some() {
                    let rgb = pixels.to_rgb8();
                    if let Some(p) = preview.as_mut() {
                        p.add_block(r.x, r.y, r.width, r.height, rgb.as_raw(), part.labels)?;
                    }
                    if let Some(o) = overlay.as_mut() {
                        o.add_block(r.x, r.y, r.width, r.height, rgb.as_raw(), part.labels)?;
                    }
                }
                if let Some(t) = table.as_mut() {
                    t.add_block(r.x, r.y, r.width, r.height, part.labels, &{
                        let n = (r.width * r.height) as usize * c;
                        let mut f = Vec::with_capacity(n);
                        pixels.samples().extend_scaled(0..n, &mut f);
                        f
                    })?;
                }
            }
            Ok(())
        };
        step().map_err(|e| {
            let msg = format!("{e:#}");
            failure = Some(e);
            tessera::Error::Tiling(msg)
        })
    });
    bar.finish_and_clear();
    let count = match (count, failure) {
        (Ok(n), _) => n,
        (Err(_), Some(e)) => return Err(e),
        (Err(e), None) => return Err(anyhow!(e)).with_context(|| format!("{}", name.display())),
    };
    if let Some(out) = labels_out {
        out.finish()?;
    }
    if let (Some(p), Some(path)) = (preview, &outputs.preview) {
        p.write_png(path)?;
    }
    if let Some(o) = overlay {
        o.finish()?;
    }
    if let (Some(t), Some([superpixels, adjacency])) = (table, &outputs.table) {
        crate::region_table_out::write_table(superpixels, adjacency, &t, c)?;
    }
    Ok(TiledReport {
        width: w,
        height: h,
        segments: count,
        tile,
        tiles: steps.tile_count(),
        passes: TiledSlic::passes(&steps),
        segment_ms: start.elapsed().as_secs_f64() * 1e3,
    })
}

/// The label map being written.
enum Labels {
    Tiff(TiffStreamWriter),
    Npy(NpyWriter),
}

impl Labels {
    fn block(&mut self, r: Rect, labels: &[u32]) -> Result<()> {
        match self {
            Labels::Tiff(t) => {
                // Label + 1 as in every label file tessera writes (0 = none).
                let shifted: Vec<u32> = labels
                    .iter()
                    .map(|&l| crate::labels_io::stored(l))
                    .collect();
                t.write_labels(r.x, r.y, r.width, r.height, &shifted)
            }
            Labels::Npy(n) => {
                let stored: Vec<u32> = labels
                    .iter()
                    .map(|&l| crate::labels_io::stored(l))
                    .collect();
                n.block(r, &stored)
            }
        }
    }

    fn finish(self) -> Result<()> {
        match self {
            Labels::Tiff(t) => t.finish(),
            Labels::Npy(n) => n.finish(),
        }
    }
}

/// A `(height, width)` u32 `.npy` (label + 1, 0 = none, as every `.labels.npy`) written block by block at its place in a temporary file
/// beside the target (no row of tiles is buffered), renamed into place when complete.
struct NpyWriter {
    file: tempfile::NamedTempFile,
    target: PathBuf,
    header: u64,
    width: u64,
}

impl NpyWriter {
    fn create(path: &Path, width: u32, height: u32) -> Result<Self> {
        let mut file = temporary_beside(path, ".npy")?;
        // NPY 1.0: magic, version, header length, a dict padded so the data starts at a
        // multiple of 64 bytes. Written by hand: `ndarray-npy` writes whole arrays only.
        let dict =
            format!("{{'descr': '<u4', 'fortran_order': False, 'shape': ({height}, {width}), }}");
        let unpadded = 10 + dict.len() + 1;
        let pad = unpadded.div_ceil(64) * 64 - unpadded;
        let header_len = (dict.len() + pad + 1) as u16;
        let mut head = Vec::with_capacity(unpadded + pad);
        head.extend_from_slice(b"\x93NUMPY\x01\x00");
        head.extend_from_slice(&header_len.to_le_bytes());
        head.extend_from_slice(dict.as_bytes());
        head.extend(std::iter::repeat_n(b' ', pad));
        head.push(b'\n');
        let f = file.as_file_mut();
        f.write_all(&head)
            .and_then(|_| f.set_len(head.len() as u64 + u64::from(width) * u64::from(height) * 4))
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(NpyWriter {
            file,
            target: path.to_path_buf(),
            header: head.len() as u64,
            width: u64::from(width),
        })
    }

    fn block(&mut self, r: Rect, labels: &[u32]) -> Result<()> {
        let f = self.file.as_file_mut();
        for (row, values) in labels.chunks(r.width as usize).enumerate() {
            let at =
                self.header + ((u64::from(r.y) + row as u64) * self.width + u64::from(r.x)) * 4;
            let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            f.seek(SeekFrom::Start(at))
                .and_then(|_| f.write_all(&bytes))
                .with_context(|| format!("cannot write {}", self.target.display()))?;
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        self.file
            .as_file()
            .sync_all()
            .with_context(|| format!("cannot write {}", self.target.display()))?;
        self.file
            .persist(&self.target)
            .map_err(|e| anyhow!("cannot write {}: {}", self.target.display(), e.error))?;
        Ok(())
    }
}
