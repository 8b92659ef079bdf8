//! `tessera eval`: scores folders of label maps against human ground truth (boundary recall
//! and precision, undersegmentation error, ASA, explained variation, compactness).

use crate::ground_truth;
use crate::labels_io::read_segmentation;
use crate::load_args::LoadArgs;
use crate::output::write_text;
use crate::threads::worker_pool;
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use rayon::prelude::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tessera::metrics::{Aggregation, EvalOptions, Scores, evaluate};
use tessera::{BoundaryMode, Image};

/// Options of `tessera eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Folder of label maps: `<id>.labels.png` / `<id>.labels.npy` as `segment` writes them
    /// (label + 1, 0 = no superpixel), or plain `<id>.png` / `<id>.npy` (every value a label).
    #[arg(long, value_name = "DIR")]
    pub labels: PathBuf,

    /// Folder of ground truths `<id>_<k>.png` (BSDS layout, every value a segment).
    #[arg(long, value_name = "DIR")]
    pub gt: PathBuf,

    /// Folder of the images `<id>.<ext>`, for explained variation (omitted: no EV).
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,

    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Write one row per image to this TSV file.
    #[arg(long, value_name = "FILE")]
    pub tsv: Option<PathBuf>,

    #[command(flatten)]
    pub conventions: Conventions,

    /// Worker threads (default: all cores).
    #[arg(short = 'j', long)]
    pub threads: Option<usize>,

    #[command(flatten)]
    pub load: LoadArgs,
}

/// The scoring conventions, shared with `sweep`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Scoring conventions")]
pub struct Conventions {
    /// Boundary tolerance in pixels (a (2r+1)x(2r+1) window).
    #[arg(long, default_value_t = 2)]
    pub tolerance: u32,

    /// Boundary pixels: `thin` (right or bottom neighbour differs) or `thick` (any
    /// 4-neighbour, as Stutz's code).
    #[arg(long, value_enum, default_value_t = Boundary::Thin)]
    pub boundary: Boundary,

    /// How an image's ground truths are combined.
    #[arg(long, value_enum, default_value_t = Aggregate::Mean)]
    pub aggregate: Aggregate,
}

/// `--boundary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Boundary {
    /// Right or bottom neighbour differs.
    Thin,
    /// Any 4-neighbour differs.
    Thick,
}

/// `--aggregate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Aggregate {
    /// Mean over the ground truths.
    Mean,
    /// Least favourable ground truth per metric (as Stutz et al. report).
    Worst,
    /// Most favourable ground truth per metric.
    Best,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A summary table.
    Table,
    /// One JSON object.
    Json,
}

impl Conventions {
    /// The library options.
    pub fn options(&self) -> EvalOptions {
        EvalOptions {
            boundary: match self.boundary {
                Boundary::Thin => BoundaryMode::Thin,
                Boundary::Thick => BoundaryMode::Thick,
            },
            tolerance: self.tolerance,
            aggregation: match self.aggregate {
                Aggregate::Mean => Aggregation::Mean,
                Aggregate::Worst => Aggregation::Worst,
                Aggregate::Best => Aggregation::Best,
            },
        }
    }

    fn describe(&self) -> Value {
        json!({
            "tolerance": self.tolerance,
            "boundary": format!("{:?}", self.boundary).to_lowercase(),
            "aggregate": format!("{:?}", self.aggregate).to_lowercase(),
        })
    }
}

/// The metric columns, in table, TSV and JSON order.
pub const METRICS: [&str; 6] = [
    "boundary_recall",
    "boundary_precision",
    "undersegmentation_error",
    "asa",
    "explained_variation",
    "compactness",
];

/// The metric values in [`METRICS`] order.
pub fn metric_values(s: &Scores) -> [f64; 6] {
    [
        s.boundary_recall,
        s.boundary_precision,
        s.undersegmentation_error,
        s.asa,
        s.explained_variation,
        s.compactness,
    ]
}

/// A TSV cell: the shortest exact decimal, `nan` for undefined values.
pub fn cell(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else {
        format!("{v}")
    }
}

/// The summary as a JSON object: `images`, the [`METRICS`], `segments`, `disconnected`.
pub fn summary_json(mean: &Scores, images: usize) -> serde_json::Map<String, Value> {
    let mut obj = serde_json::Map::new();
    obj.insert("images".into(), json!(images));
    for (k, v) in METRICS.iter().zip(metric_values(mean)) {
        obj.insert((*k).into(), json!(v));
    }
    obj.insert("segments".into(), json!(mean.segments));
    obj.insert("disconnected".into(), json!(mean.disconnected));
    obj
}

/// Label maps in `dir` by image id; `segment`'s `.labels.*` files win over plain ones.
fn label_files(dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list the label folder {}", dir.display()))?;
    let mut plain = BTreeMap::new();
    let mut shifted = BTreeMap::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let lower = name.to_lowercase();
        if let Some(id) = [".labels.png", ".labels.npy"]
            .iter()
            .find_map(|s| lower.ends_with(s).then(|| &name[..name.len() - s.len()]))
        {
            shifted.insert(id.to_string(), path);
        } else if [".overlay.png", ".classes.png"]
            .iter()
            .any(|s| lower.ends_with(s))
        {
            continue;
        } else if let Some((id, ext)) = name.rsplit_once('.')
            && ["png", "npy", "tif", "tiff", "pgm"].contains(&ext.to_lowercase().as_str())
        {
            plain.insert(id.to_string(), path);
        }
    }
    plain.extend(shifted);
    Ok(plain)
}

/// The image `<id>.<ext>` in `dir`, if there is one.
pub fn find_image(dir: &Path, id: &str) -> Option<PathBuf> {
    [
        "jpg", "jpeg", "png", "bmp", "tif", "tiff", "ppm", "webp", "gif",
    ]
    .iter()
    .map(|ext| dir.join(format!("{id}.{ext}")))
    .find(|p| p.is_file())
}

/// Scores one label map file.
fn score_file(
    id: &str,
    labels: &Path,
    gt_paths: Option<&Vec<PathBuf>>,
    args: &EvalArgs,
    opts: &EvalOptions,
) -> Result<(usize, Scores)> {
    let seg = read_segmentation(labels)?;
    let Some(gt_paths) = gt_paths else {
        bail!("no ground truth {}/{id}_<k>.png", args.gt.display());
    };
    let gts = ground_truth::load(gt_paths, seg.width(), seg.height(), opts)?;
    let image = match &args.images {
        Some(dir) => {
            let Some(path) = find_image(dir, id) else {
                bail!("no image {}/{id}.<ext>", dir.display());
            };
            let decoded = args
                .load
                .load(&path)
                .with_context(|| format!("cannot read the image {}", path.display()))?;
            Some(Image::from_dynamic(&decoded)?)
        }
        None => None,
    };
    let scores = evaluate(&seg, image.as_ref(), &gts, opts)
        .with_context(|| format!("cannot score {}", labels.display()))?;
    Ok((gts.len(), scores))
}

/// Runs `tessera eval`.
pub fn run(args: EvalArgs) -> Result<ExitCode> {
    let opts = args.conventions.options();
    if let Err(e) = opts.validate() {
        eprintln!("error: {e}");
        return Ok(ExitCode::from(2));
    }
    let Some(pool) = worker_pool(args.threads)? else {
        return Ok(ExitCode::from(2));
    };
    let files = label_files(&args.labels)?;
    if files.is_empty() {
        bail!("no label maps in {}", args.labels.display());
    }
    let gts = ground_truth::index(&args.gt)?;
    let jobs: Vec<(&String, &PathBuf)> = files.iter().collect();
    let results: Vec<Result<(usize, Scores)>> = pool.install(|| {
        jobs.par_iter()
            .map(|(id, path)| score_file(id, path, gts.get(*id), &args, &opts))
            .collect()
    });

    let mut rows = Vec::new();
    let mut failures = 0usize;
    for ((id, path), r) in jobs.iter().zip(results) {
        match r {
            Ok((n_gt, s)) => rows.push((id.as_str(), n_gt, s)),
            Err(e) => {
                failures += 1;
                eprintln!("{}: {e:#}", path.display());
            }
        }
    }
    if rows.is_empty() {
        bail!("no label map could be scored");
    }
    if let Some(tsv) = &args.tsv {
        let mut text = format!(
            "id\tground_truths\tsegments\tdisconnected\t{}\n",
            METRICS.join("\t")
        );
        for (id, n_gt, s) in &rows {
            let cells: Vec<String> = metric_values(s).into_iter().map(cell).collect();
            text += &format!(
                "{id}\t{n_gt}\t{}\t{}\t{}\n",
                s.segments,
                s.disconnected,
                cells.join("\t")
            );
        }
        write_text(tsv, &text)?;
    }
    let scores: Vec<Scores> = rows.iter().map(|r| r.2).collect();
    let mean = Scores::mean(&scores);
    match args.format {
        Format::Json => {
            let mut obj = summary_json(&mean, rows.len());
            obj.insert("conventions".into(), args.conventions.describe());
            println!("{}", Value::Object(obj));
        }
        Format::Table => {
            println!("{:<24} {:>10}", "images", rows.len());
            for (k, v) in METRICS.iter().zip(metric_values(&mean)) {
                println!("{k:<24} {v:>10.4}");
            }
            println!("{:<24} {:>10.1}", "segments", mean.segments);
            println!("{:<24} {:>10.1}", "disconnected", mean.disconnected);
        }
    }
    if failures > 0 {
        eprintln!("{failures} label map(s) could not be scored");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
