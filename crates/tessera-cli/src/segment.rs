//! `tessera segment`: superpixels for image files and folders.

use crate::algo::{AlgoArgs, Boxed};
use crate::inputs::{Job, discover, discover_volumes};
use crate::interrupt::{self, EXIT_INTERRUPTED, Stop};
use crate::labels_io;
use crate::load_args::LoadArgs;
use crate::output::{write_atomic, write_png, write_text};
use crate::overlay_tiff;
use crate::region_table_out;
use crate::shard::{Shard, parse_shard};
use crate::threads::worker_pool;
use crate::tiled_segment::{self, LabelKind, TiffSource, TiledArgs, TiledOutputs};
use crate::volume_load::{self, SpacingSource, VolumeFormat};
use crate::volume_out;
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, ValueEnum};
use image::{ExtendedColorType, Rgb};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ndarray_npy::WriteNpyExt;
use rayon::prelude::*;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use tessera::render::{self, BoundaryStyle, MontageFill};
use tessera::{BoundaryMode, Image};

/// Options of `tessera segment`.
#[derive(Debug, Args)]
pub struct SegmentArgs {
    /// Image files, or folders of images (of volumes, with --volume).
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,

    /// Output folder; each output mirrors its input's path relative to the folder given.
    #[arg(short, long, default_value = "tessera-out")]
    pub out: PathBuf,

    /// Descend into subfolders of the folders given.
    #[arg(short, long)]
    pub recursive: bool,

    #[command(flatten)]
    pub algo: AlgoArgs,

    /// The picture written as `<name>.overlay.png` (for a volume, a montage: a grid of
    /// evenly spaced slices).
    #[arg(long, value_enum, default_value_t = Overlay::Boundaries)]
    pub overlay: Overlay,

    /// The label map written, each holding label+1 (0 = none): `<name>.labels.png` (16-bit;
    /// the default for images), `.labels.npy` (u32, the image's or volume's shape; the
    /// default for volumes), `.labels.tif` (u32, one page per slice) or `.labels.nii.gz`
    /// (u32, volumes only, with the input's NIfTI header; the default for NIfTI input).
    #[arg(long, value_enum)]
    pub labels: Option<LabelFormat>,

    /// Read each input as one volume: a multi-page TIFF (one page per slice), a NumPy .npy
    /// array (Z, Y, X) or (Z, Y, X, C), or NIfTI (.nii, .nii.gz). --max-pixels counts voxels.
    #[arg(long)]
    pub volume: bool,

    /// Voxel size (Z, Y, X) = slice distance, row height, column width (with --volume);
    /// default: the file's header (ImageJ TIFF calibration, NIfTI pixdim), else 1,1,1.
    #[arg(long, value_name = "Z,Y,X", value_parser = parse_spacing)]
    pub spacing: Option<[f32; 3]>,

    /// Most slices shown in a volume's overlay montage.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
    pub montage_slices: u32,

    /// Also write the full-size overlay as `<name>.overlay.tif`, a tiled RGB BigTIFF (Deflate)
    /// for pictures too big for a PNG viewer. An image segmented in tiles (--tile, --memory)
    /// otherwise gets only a preview as `.overlay.png`, at most 4096 pixels a side.
    #[arg(long)]
    pub overlay_tiff: bool,

    /// Boundary colour for `--overlay boundaries`, as hex RRGGBB.
    #[arg(long, default_value = "ffff00", value_parser = parse_hex_color)]
    pub boundary_color: Rgb<u8>,

    /// Draw two-pixel boundaries (one on each side) instead of one-pixel ones.
    #[arg(long)]
    pub thick: bool,

    /// Worker threads (default: all cores).
    #[arg(short = 'j', long)]
    pub threads: Option<usize>,

    /// Also write each image's superpixel table `<name>.superpixels.csv` (id, area, centroid,
    /// half-open bounding box x0..x1, y0..y1, mean colour on a 0..1 scale) and its region
    /// adjacency graph `<name>.adjacency.csv` (a, b, border length in pixel pairs). Ids are
    /// the label map files' values: label + 1, as in `.labels.png` and `.labels.npy`.
    #[arg(long)]
    pub table: bool,

    /// Skip images whose outputs all exist already (resume an interrupted run).
    #[arg(long)]
    pub skip_existing: bool,

    /// Write one JSON object per image to this file (input, size, segments, timings,
    /// algorithm and parameters).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Process only slice I of N of the inputs (I from 0 to N-1), e.g. a Slurm job array's
    /// $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT. Every shard computes the same balanced
    /// partition (by file size, then output name) without coordination; each input is in
    /// exactly one. --report FILE becomes FILE with `.shardI-of-N` before its extension.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,

    #[command(flatten)]
    pub load: LoadArgs,

    #[command(flatten)]
    pub tiled: TiledArgs,
}

/// What `--overlay` draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Overlay {
    /// Superpixel boundaries over the image.
    Boundaries,
    /// Each superpixel filled with its mean colour.
    Mean,
    /// Each superpixel filled with a random colour.
    Random,
    /// No overlay.
    None,
}

/// What `--labels` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LabelFormat {
    /// 16-bit grey PNG.
    Png,
    /// NumPy `.npy`, u32.
    Npy,
    /// TIFF, u32, one page per slice.
    Tiff,
    /// NIfTI-1 `.nii.gz`, u32 (volumes only).
    Nifti,
    /// No label map.
    None,
}

/// `Z,Y,X`: three positive voxel sizes.
fn parse_spacing(s: &str) -> std::result::Result<[f32; 3], String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let bad =
        || format!("`{s}` is not a spacing: give three positive numbers Z,Y,X, e.g. 2.5,0.7,0.7");
    let [z, y, x] = parts[..] else {
        return Err(bad());
    };
    let mut out = [0f32; 3];
    for (o, p) in out.iter_mut().zip([z, y, x]) {
        *o = p.parse::<f32>().map_err(|_| bad())?;
        if !(o.is_finite() && *o > 0.0) {
            return Err(bad());
        }
    }
    Ok(out)
}

fn parse_hex_color(s: &str) -> std::result::Result<Rgb<u8>, String> {
    let hex = s.trim_start_matches('#');
    if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "`{s}` is not a colour: use six hex digits, e.g. ff0000"
        ));
    }
    let v = u32::from_str_radix(hex, 16).map_err(|e| e.to_string())?;
    Ok(Rgb([(v >> 16) as u8, (v >> 8) as u8, v as u8]))
}

/// How one image went.
enum Outcome {
    Done(Value),
    Skipped,
    Failed(PathBuf, String),
    /// Not started because the run was stopping (Ctrl-C, full disk).
    NotStarted,
}

/// Runs `tessera segment`.
pub fn run(args: SegmentArgs) -> Result<ExitCode> {
    let usage = if args.spacing.is_some() && !args.volume {
        Some("--spacing is for volumes: add --volume")
    } else if args.labels == Some(LabelFormat::Nifti) && !args.volume {
        Some("--labels nifti is for volumes: add --volume (use png, npy or tiff for images)")
    } else if args.table && args.volume {
        Some("--table is for images, not volumes")
    } else if args.overlay_tiff && args.volume {
        Some("--overlay-tiff is for images, not volumes (a volume's overlay is a montage)")
    } else if args.overlay_tiff && args.overlay == Overlay::None {
        Some("--overlay-tiff writes the overlay, and --overlay none asks for none")
    } else if args.labels == Some(LabelFormat::Png) && args.volume {
        Some("a volume's labels do not fit a PNG: use --labels npy, tiff or nifti")
    } else {
        None
    };
    if let Some(problem) = usage {
        eprintln!("error: {problem}");
        return Ok(ExitCode::from(2));
    }
    let algo = match args.algo.build(args.algo.algo, args.algo.segments) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let Some(pool) = worker_pool(args.threads)? else {
        return Ok(ExitCode::from(2));
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the output folder {}", args.out.display()))?;
    // One clear error now rather than the same failure for every image.
    tempfile::Builder::new()
        .prefix(".tessera-probe-")
        .tempfile_in(&args.out)
        .with_context(|| format!("cannot write in the output folder {}", args.out.display()))?;
    interrupt::install();

    let mut found = if args.volume {
        discover_volumes(&args.inputs, args.recursive, Some(&args.out))
    } else {
        discover(&args.inputs, args.recursive, Some(&args.out))
    };
    if let Some(shard) = args.shard {
        let all = found.jobs.len();
        found.jobs = shard.jobs(found.jobs);
        found.problems = shard.problems(found.problems);
        eprintln!(
            "shard {shard}: {} of {all} {}(s)",
            found.jobs.len(),
            if args.volume { "volume" } else { "image" }
        );
    }
    for (path, note) in &found.notes {
        eprintln!("warning: {}: {note}", path.display());
    }
    let progress = progress_bar(found.jobs.len() as u64);
    let description = args.algo.describe(args.algo.algo, args.algo.segments);
    // No output may replace any input of the run (say `a.png` and `a.overlay.png` named
    // together with `-o` their folder).
    let inputs: HashSet<PathBuf> = found
        .jobs
        .iter()
        .filter_map(|j| j.input.canonicalize().ok())
        .collect();
    let outcomes: Vec<Outcome> = pool.install(|| {
        found
            .jobs
            .par_iter()
            .map(|job| {
                // Checked before each image: once stopping, no new image starts.
                if interrupt::stop().is_some() {
                    return Outcome::NotStarted;
                }
                // A panic would be a bug; it costs that image, not the rest of the run.
                let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    process(job, &args, &algo, &description, &inputs)
                }))
                .unwrap_or_else(|_| {
                    Err(anyhow!(
                        "internal error (a bug in tessera; please report it)"
                    ))
                });
                let outcome = match result {
                    Ok(Some((record, line))) => {
                        if let Some(line) = &line {
                            progress.suspend(|| eprintln!("{}: {line}", job.input.display()));
                        }
                        Outcome::Done(record)
                    }
                    Ok(None) => Outcome::Skipped,
                    Err(e) => {
                        if interrupt::is_disk_full(&e) {
                            interrupt::disk_full();
                        }
                        progress.suspend(|| eprintln!("{}: {e:#}", job.input.display()));
                        Outcome::Failed(job.input.clone(), format!("{e:#}"))
                    }
                };
                progress.inc(1);
                outcome
            })
            .collect()
    });
    progress.finish_and_clear();

    let mut failures: Vec<(PathBuf, String)> = found.problems;
    let (mut done, mut skipped, mut not_started) = (Vec::new(), 0usize, 0usize);
    for o in outcomes {
        match o {
            Outcome::Done(r) => done.push(r),
            Outcome::Skipped => skipped += 1,
            Outcome::Failed(p, m) => failures.push((p, m)),
            Outcome::NotStarted => not_started += 1,
        }
    }
    // A report that cannot be written is one more failure, not a reason to skip the summary.
    if let Some(report) = &args.report {
        // Shards given the same --report path each write their own file.
        let report = match args.shard {
            Some(shard) => shard.tag(report),
            None => report.clone(),
        };
        let text: String = done.iter().map(|r| format!("{r}\n")).collect();
        if let Err(e) = write_text(&report, &text) {
            failures.push((report, format!("{e:#}")));
        }
    }
    let stop = interrupt::stop();
    match stop {
        Some(Stop::Interrupted) => eprint!("interrupted: "),
        Some(Stop::DiskFull) => eprint!("stopped, the disk is full: "),
        None => {}
    }
    eprintln!(
        "segmented {} {}(s){}{}{}",
        done.len(),
        if args.volume { "volume" } else { "image" },
        if skipped > 0 {
            format!(", skipped {skipped} already done")
        } else {
            String::new()
        },
        if stop.is_some() {
            format!(", {not_started} not started")
        } else {
            String::new()
        },
        if failures.is_empty() {
            String::new()
        } else {
            format!(", {} failed:", failures.len())
        }
    );
    for (path, why) in &failures {
        eprintln!("  {}: {why}", path.display());
    }
    if stop.is_some() {
        eprintln!("run the same command with --skip-existing to resume");
    }
    Ok(if stop == Some(Stop::Interrupted) {
        ExitCode::from(EXIT_INTERRUPTED)
    } else if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn progress_bar(len: u64) -> ProgressBar {
    // Drawn only when stderr is a terminal; invisible in pipes, logs and CI.
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} images  {elapsed_precise} (eta {eta})")
    {
        bar.set_style(style);
    }
    bar
}

/// The output files of one job.
struct Outputs {
    overlay: Option<PathBuf>,
    /// `--overlay-tiff`: the same picture as a tiled TIFF.
    overlay_tiff: Option<PathBuf>,
    labels: Option<(PathBuf, LabelFormat)>,
    /// `--table`: the superpixel table and the adjacency list.
    table: Option<[PathBuf; 2]>,
}

impl Outputs {
    fn of(job: &Job, args: &SegmentArgs) -> Self {
        let base = args.out.join(&job.stem);
        let with = |suffix: &str| {
            let mut name = base.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        };
        let format = args.labels.unwrap_or(if !args.volume {
            LabelFormat::Png
        } else if VolumeFormat::of(&job.input) == Some(VolumeFormat::Nifti) {
            LabelFormat::Nifti
        } else {
            LabelFormat::Npy
        });
        let suffix = match format {
            LabelFormat::Png => Some(".labels.png"),
            LabelFormat::Npy => Some(".labels.npy"),
            LabelFormat::Tiff => Some(".labels.tif"),
            LabelFormat::Nifti => Some(".labels.nii.gz"),
            LabelFormat::None => None,
        };
        Outputs {
            overlay: (args.overlay != Overlay::None).then(|| with(".overlay.png")),
            overlay_tiff: args.overlay_tiff.then(|| with(".overlay.tif")),
            labels: suffix.map(|s| (with(s), format)),
            table: args
                .table
                .then(|| [with(".superpixels.csv"), with(".adjacency.csv")]),
        }
    }

    fn paths(&self) -> impl Iterator<Item = &PathBuf> {
        self.overlay
            .iter()
            .chain(self.overlay_tiff.iter())
            .chain(self.labels.as_ref().map(|(p, _)| p))
            .chain(self.table.iter().flatten())
    }

    fn all_exist(&self) -> bool {
        self.paths().all(|p| p.is_file())
    }
}

/// What one job gives back: its report record, and for a volume the line that describes it.
type Done = (Value, Option<String>);

/// Segments one image (volume) and writes its outputs; `None` when skipped.
fn process(
    job: &Job,
    args: &SegmentArgs,
    algo: &Boxed,
    description: &Value,
    inputs: &HashSet<PathBuf>,
) -> Result<Option<Done>> {
    let start = Instant::now();
    let outputs = Outputs::of(job, args);
    if args.skip_existing && outputs.all_exist() {
        return Ok(None);
    }
    for out in outputs.paths() {
        if out.canonicalize().is_ok_and(|c| inputs.contains(&c)) {
            return Err(anyhow!(
                "the output {} would overwrite the input",
                out.display()
            ));
        }
    }
    if args.volume {
        return process_volume(job, args, description, &outputs, start).map(Some);
    }
    match VolumeFormat::of(&job.input) {
        Some(f @ (VolumeFormat::Npy | VolumeFormat::Nifti)) => bail!(
            "a {} file holds a volume: segment it with --volume",
            f.name()
        ),
        Some(VolumeFormat::Tiff) => {
            if let Some(pages) = volume_load::tiff_page_count(&job.input).filter(|&n| n > 1) {
                eprintln!(
                    "warning: {}: a TIFF of {pages} pages; only its first page is segmented (--volume reads the pages as one volume)",
                    job.input.display()
                );
            }
        }
        None => {}
    }
    // Only now, once a volume file without --volume has been told apart.
    if let Some(tiled) = tiled_plan(job, args)? {
        return process_tiled(job, args, description, inputs, tiled, start);
    }
    // The decoded buffer is dropped as soon as it is converted.
    let image = Image::from_dynamic(&args.load.load(&job.input)?)?;
    let t = Instant::now();
    let (seg, chosen) = algo.segment_explained(&image)?;
    let segment_ms = t.elapsed().as_secs_f64() * 1e3;

    if let Some((path, format)) = &outputs.labels {
        match format {
            LabelFormat::Png => {
                let png = labels_io::to_png16(&seg)?;
                let bytes: Vec<u8> = png.as_raw().iter().flat_map(|v| v.to_ne_bytes()).collect();
                write_png(
                    path,
                    &bytes,
                    seg.width(),
                    seg.height(),
                    ExtendedColorType::L16,
                )?;
            }
            LabelFormat::Npy => {
                let arr = labels_io::to_array(&seg);
                write_atomic(path, |w| Ok(arr.write_npy(w)?))?;
            }
            LabelFormat::Tiff => volume_out::write_tiff(path, &seg, None, None)?,
            // Refused for images before the run starts.
            LabelFormat::Nifti | LabelFormat::None => {}
        }
    }
    if let Some([superpixels, adjacency]) = &outputs.table {
        region_table_out::write_tables(superpixels, adjacency, &seg, &image)?;
    }
    if let Some(path) = &outputs.overlay {
        let rgb = image.to_rgb8();
        let pic = match args.overlay {
            Overlay::Boundaries => render::mark_boundaries(&rgb, &seg, &boundary_style(args))?,
            Overlay::Mean => render::fill_mean(&rgb, &seg)?,
            Overlay::Random | Overlay::None => render::fill_random(&seg, 0),
        };
        write_rgb(path, &pic)?;
        if let Some(tif) = &outputs.overlay_tiff {
            overlay_tiff::write_picture(tif, &pic)?;
        }
    }
    let record = json!({
        "input": job.input.to_string_lossy(),
        "width": seg.width(),
        "height": seg.height(),
        "segments": seg.count(),
        "segment_ms": round3(segment_ms),
        "total_ms": round3(start.elapsed().as_secs_f64() * 1e3),
    });
    Ok(Some((with_description(record, description, chosen), None)))
}

/// Whether (and how) this image is segmented in tiles: with --tile, or when a SLIC run on the
/// whole image would need more than --memory.
fn tiled_plan(job: &Job, args: &SegmentArgs) -> Result<Option<(u32, u64)>> {
    let slic = args.algo.algo == crate::algo::Algo::Slic;
    if !slic {
        if args.tiled.tile.is_some() {
            bail!("only SLIC segments in tiles (--tile): use --algo slic");
        }
        return Ok(None);
    }
    // A header that cannot be read is left to the loader, whose messages say what is wrong
    // with the file.
    let Ok(size) = crate::tiff_window::dimensions(&job.input) else {
        return Ok(None);
    };
    // --max-pixels guards the decoding of whole images: a TIFF beyond it is read window by
    // window in tiles instead; another format is left to the loader, which refuses it.
    let beyond = u64::from(size.0) * u64::from(size.1) > args.load.max_pixels;
    if beyond && !crate::tiff_window::is_tiff(&job.input)? {
        return Ok(None);
    }
    // Decoded samples: 3 bytes a pixel for the usual 8-bit colour (16-bit or float TIFFs
    // take more, but are read window by window).
    let threads = rayon::current_num_threads();
    match tiled_segment::plan(&args.tiled, size, 3, args.algo.segments, threads, !beyond)? {
        tiled_segment::Plan::Whole => Ok(None),
        tiled_segment::Plan::Tiled { tile, cache } => Ok(Some((tile, cache))),
    }
}

/// Segments one image in tiles (`tessera::tiled`) and writes its outputs as the tiles come.
fn process_tiled(
    job: &Job,
    args: &SegmentArgs,
    description: &Value,
    inputs: &HashSet<PathBuf>,
    (tile, cache): (u32, u64),
    start: Instant,
) -> Result<Option<Done>> {
    let base = args.out.join(&job.stem);
    let with = |suffix: &str| {
        let mut name = base.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    let labels = match args.labels {
        None | Some(LabelFormat::Tiff) => Some((with(".labels.tif"), LabelKind::Tiff)),
        Some(LabelFormat::Npy) => Some((with(".labels.npy"), LabelKind::Npy)),
        Some(LabelFormat::None) => None,
        Some(LabelFormat::Png | LabelFormat::Nifti) => bail!(
            "a tiled run writes its labels as --labels tiff (the default: a tiled BigTIFF) or npy"
        ),
    };
    let preview = match args.overlay {
        Overlay::Boundaries => Some(with(".overlay.png")),
        Overlay::None => None,
        Overlay::Mean | Overlay::Random => bail!(
            "a tiled run draws --overlay boundaries (a preview at most 4096 pixels a side, and with --overlay-tiff the full-size picture) or none"
        ),
    };
    let outputs = TiledOutputs {
        preview,
        overlay: args.overlay_tiff.then(|| with(".overlay.tif")),
        labels,
        table: args
            .table
            .then(|| [with(".superpixels.csv"), with(".adjacency.csv")]),
    };
    let paths: Vec<&PathBuf> = outputs
        .preview
        .iter()
        .chain(outputs.overlay.iter())
        .chain(outputs.labels.as_ref().map(|(p, _)| p))
        .chain(outputs.table.iter().flatten())
        .collect();
    if args.skip_existing && paths.iter().all(|p| p.is_file()) {
        return Ok(None);
    }
    for out in &paths {
        if out.canonicalize().is_ok_and(|c| inputs.contains(&c)) {
            return Err(anyhow!(
                "the output {} would overwrite the input",
                out.display()
            ));
        }
    }
    let slic = args.algo.params.slic_params(args.algo.segments, [1.0; 3]);
    let style = boundary_style(args);
    let run = |source: &dyn tessera::tiled::TileSource| {
        tiled_segment::run(
            source,
            &job.input,
            &slic,
            args.tiled.seams,
            args.tiled.halo,
            (tile, cache),
            &style,
            &outputs,
        )
    };
    // TIFFs are read window by window; other formats are decoded whole (their decoders
    // cannot read a part), and the run's working memory is then the tiles'.
    let report = if crate::tiff_window::is_tiff(&job.input)? {
        run(&TiffSource::open(&job.input, rayon::current_num_threads())?)?
    } else {
        let image = Image::from_dynamic(&args.load.load(&job.input)?)?;
        run(&image)?
    };
    let record = json!({
        "input": job.input.to_string_lossy(),
        "width": report.width,
        "height": report.height,
        "segments": report.segments,
        "segment_ms": round3(report.segment_ms),
        "total_ms": round3(start.elapsed().as_secs_f64() * 1e3),
        "tiled": {
            "tile": report.tile,
            "tiles": report.tiles,
            "passes": report.passes,
            "seams": match args.tiled.seams {
                tiled_segment::SeamsArg::Exact => "exact",
                tiled_segment::SeamsArg::Fast => "fast",
            },
        },
    });
    Ok(Some((
        with_description(record, description, Vec::new()),
        None,
    )))
}

fn boundary_style(args: &SegmentArgs) -> BoundaryStyle {
    BoundaryStyle {
        color: args.boundary_color,
        mode: if args.thick {
            BoundaryMode::Thick
        } else {
            BoundaryMode::Thin
        },
    }
}

fn write_rgb(path: &std::path::Path, pic: &image::RgbImage) -> Result<()> {
    write_png(
        path,
        pic.as_raw(),
        pic.width(),
        pic.height(),
        ExtendedColorType::Rgb8,
    )
}

/// The record with the algorithm's name and parameters, and what it chose while running
/// (e.g. Felzenszwalb's scale for -k).
fn with_description(
    mut record: Value,
    description: &Value,
    chosen: Vec<(&'static str, f64)>,
) -> Value {
    if let (Some(obj), Some(desc)) = (record.as_object_mut(), description.as_object()) {
        obj.extend(desc.clone());
        if let Some(params) = obj.get_mut("parameters").and_then(Value::as_object_mut) {
            for (name, value) in chosen {
                params.insert(name.to_string(), json!(round3(value)));
            }
        }
    }
    record
}

/// Segments one volume and writes its outputs.
fn process_volume(
    job: &Job,
    args: &SegmentArgs,
    description: &Value,
    outputs: &Outputs,
    start: Instant,
) -> Result<Done> {
    let vol = volume_load::load_volume(&job.input, args.load.max_pixels)?;
    for note in &vol.notes {
        eprintln!("warning: {}: {note}", job.input.display());
    }
    let (spacing, source) = match (args.spacing, vol.spacing) {
        (Some(s), _) => (s, SpacingSource::Flag),
        (None, Some(s)) => (s, SpacingSource::Header),
        (None, None) => ([1.0; 3], SpacingSource::Default),
    };
    // The spacing is the volume's own, so the algorithm is configured for each volume.
    let algo = args
        .algo
        .build_for_volume(args.algo.algo, args.algo.segments, spacing)?;
    let image = &vol.image;
    let t = Instant::now();
    let (seg, chosen) = algo.segment_explained(image)?;
    let segment_ms = t.elapsed().as_secs_f64() * 1e3;

    let unit = vol.unit.as_deref();
    if let Some((path, format)) = &outputs.labels {
        match format {
            LabelFormat::Npy => volume_out::write_npy(path, &seg)?,
            LabelFormat::Tiff => volume_out::write_tiff(path, &seg, Some(spacing), unit)?,
            LabelFormat::Nifti => {
                let header =
                    volume_out::label_header(vol.nifti.as_deref(), spacing, unit, seg.count())?;
                volume_out::write_nifti(path, &seg, &header)?;
            }
            // Refused for volumes before the run starts.
            LabelFormat::Png | LabelFormat::None => {}
        }
    }
    if let Some(path) = &outputs.overlay {
        let fill = match args.overlay {
            Overlay::Boundaries => MontageFill::Boundaries(boundary_style(args)),
            Overlay::Mean => MontageFill::Mean,
            Overlay::Random | Overlay::None => MontageFill::Random(0),
        };
        write_rgb(
            path,
            &render::montage(image, &seg, fill, args.montage_slices)?,
        )?;
    }
    let (w, h, d) = (image.width(), image.height(), image.depth());
    let unit_text = unit.map(|u| format!(" {u}")).unwrap_or_default();
    let line = format!(
        "{w}x{h}x{d} voxels, {} channel(s), spacing (Z, Y, X) {}, {}, {}{unit_text} ({}), {} supervoxels",
        image.channels(),
        spacing[0],
        spacing[1],
        spacing[2],
        match source {
            SpacingSource::Flag => "from --spacing".to_string(),
            SpacingSource::Header => format!("from the {} header", vol.format.name()),
            SpacingSource::Default => "the file gives none".to_string(),
        },
        seg.count()
    );
    let record = json!({
        "input": job.input.to_string_lossy(),
        "width": w,
        "height": h,
        "depth": d,
        "channels": image.channels(),
        "spacing": spacing.map(|v| json!(num(v))),
        "spacing_from": source.name(),
        "unit": unit,
        "segments": seg.count(),
        "segment_ms": round3(segment_ms),
        "total_ms": round3(start.elapsed().as_secs_f64() * 1e3),
    });
    Ok((with_description(record, description, chosen), Some(line)))
}

/// An `f32` as the decimal it was written as (0.7, not 0.699999988079071).
fn num(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}
