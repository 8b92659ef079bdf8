//! `tessera sweep`: runs algorithms over a range of segment counts on a folder of images,
//! scores every result against the ground truth, and writes a TSV and charts of the metrics
//! against the number of segments.

use crate::algo::{Algo, AlgoParams, Boxed};
use crate::chart::{Panel, Series, write_charts};
use crate::eval::{Conventions, METRICS, cell, find_image, metric_values};
use crate::ground_truth;
use crate::load_args::LoadArgs;
use crate::output::write_text;
use crate::threads::worker_pool;
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use tessera::Image;
use tessera::metrics::{EvalOptions, Scores, evaluate};

/// Options of `tessera sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Folder of images `<id>.<ext>`.
    #[arg(long, value_name = "DIR")]
    pub images: PathBuf,

    /// Folder of ground truths `<id>_<k>.png` (BSDS layout).
    #[arg(long, value_name = "DIR")]
    pub gt: PathBuf,

    /// Algorithms, comma-separated (default: every one the command line knows).
    #[arg(long = "algo", value_enum, value_delimiter = ',')]
    pub algos: Vec<Algo>,

    /// Segment counts asked for, comma-separated.
    #[arg(short = 'k', long = "segments", value_delimiter = ',', default_values_t = [100, 200, 400, 800, 1600])]
    pub segments: Vec<u32>,

    /// Output folder: `sweep.tsv` (one row per image and run), `summary.tsv`, and the charts
    /// `sweep.png` and `sweep.svg`.
    #[arg(short, long, value_name = "DIR")]
    pub out: PathBuf,

    /// Use only the first N images (sorted by id).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,

    /// Worker threads, one image each (default: all cores). Timings are cleanest with 1.
    #[arg(short = 'j', long)]
    pub threads: Option<usize>,

    #[command(flatten)]
    pub load: LoadArgs,

    /// TrueType font for the charts' text (default: a usual system font).
    #[arg(long, value_name = "FILE")]
    pub font: Option<PathBuf>,

    #[command(flatten)]
    pub conventions: Conventions,

    #[command(flatten)]
    pub params: AlgoParams,
}

/// One algorithm run on one image.
struct Row {
    algo: Algo,
    k: u32,
    id: String,
    ms: f64,
    scores: Scores,
}

/// Segments and scores one image with every (algorithm, count).
fn sweep_image(
    id: &str,
    gt_paths: Option<&Vec<PathBuf>>,
    args: &SweepArgs,
    runs: &[(Algo, u32, Boxed)],
    opts: &EvalOptions,
) -> Result<Vec<Row>> {
    let path = find_image(&args.images, id).with_context(|| format!("image {id} vanished"))?;
    let decoded = args
        .load
        .load(&path)
        .with_context(|| format!("cannot read the image {}", path.display()))?;
    let image = Image::from_dynamic(&decoded)?;
    let Some(gt_paths) = gt_paths else {
        bail!("no ground truth {}/{id}_<k>.png", args.gt.display());
    };
    let gts = ground_truth::load(gt_paths, image.width(), image.height(), opts)?;
    runs.iter()
        .map(|(algo, k, run)| {
            let t = Instant::now();
            let seg = run.segment(&image)?;
            let ms = t.elapsed().as_secs_f64() * 1e3;
            let scores = evaluate(&seg, Some(&image), &gts, opts)?;
            Ok(Row {
                algo: *algo,
                k: *k,
                id: id.to_string(),
                ms,
                scores,
            })
        })
        .collect()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Runs `tessera sweep`.
pub fn run(args: SweepArgs) -> Result<ExitCode> {
    let opts = args.conventions.options();
    let algos: Vec<Algo> = if args.algos.is_empty() {
        Algo::value_variants().to_vec()
    } else {
        args.algos.clone()
    };
    let mut runs = Vec::new();
    for &algo in &algos {
        for &k in &args.segments {
            match args.params.build(algo, k) {
                Ok(r) => runs.push((algo, k, r)),
                Err(e) => {
                    eprintln!("error: {} with {k} segments: {e:#}", algo.name());
                    return Ok(ExitCode::from(2));
                }
            }
        }
    }
    if let Err(e) = opts.validate() {
        eprintln!("error: {e}");
        return Ok(ExitCode::from(2));
    }
    let Some(pool) = worker_pool(args.threads)? else {
        return Ok(ExitCode::from(2));
    };

    let entries = std::fs::read_dir(&args.images)
        .with_context(|| format!("cannot list the image folder {}", args.images.display()))?;
    let mut ids: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            let stem = p.file_stem()?.to_string_lossy().into_owned();
            find_image(&args.images, &stem)
                .filter(|f| f == &p)
                .map(|_| stem)
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids.truncate(args.limit.unwrap_or(usize::MAX));
    if ids.is_empty() {
        bail!("no images in {}", args.images.display());
    }
    let gts = ground_truth::index(&args.gt)?;

    let results: Vec<Result<Vec<Row>>> = pool.install(|| {
        ids.par_iter()
            .map(|id| sweep_image(id, gts.get(id), &args, &runs, &opts))
            .collect()
    });
    let mut rows = Vec::new();
    let mut failures = 0usize;
    for (id, r) in ids.iter().zip(results) {
        match r {
            Ok(v) => rows.extend(v),
            Err(e) => {
                failures += 1;
                eprintln!("{id}: {e:#}");
            }
        }
    }
    if rows.is_empty() {
        bail!("no image could be processed");
    }

    let header = format!(
        "algo\tk\tid\tsegments\tdisconnected\tms\t{}\n",
        METRICS.join("\t")
    );
    let mut per_image = header.clone();
    for r in &rows {
        let cells: Vec<String> = metric_values(&r.scores).into_iter().map(cell).collect();
        per_image += &format!(
            "{}\t{}\t{}\t{}\t{}\t{:.3}\t{}\n",
            r.algo.name(),
            r.k,
            r.id,
            r.scores.segments,
            r.scores.disconnected,
            r.ms,
            cells.join("\t")
        );
    }
    write_text(&args.out.join("sweep.tsv"), &per_image)?;

    // Means over images per (algorithm, count), in the order asked for.
    let mut groups: BTreeMap<(usize, u32), (Vec<Scores>, Vec<f64>)> = BTreeMap::new();
    for r in &rows {
        let rank = algos.iter().position(|&a| a == r.algo).unwrap_or(0);
        let g = groups.entry((rank, r.k)).or_default();
        g.0.push(r.scores);
        g.1.push(r.ms);
    }
    let mut summary = format!(
        "algo\tk\timages\tsegments\tdisconnected\tms_median\t{}\n",
        METRICS.join("\t")
    );
    let mut lines: BTreeMap<usize, Vec<(f64, Scores, f64)>> = BTreeMap::new();
    println!(
        "{:<14} {:>6} {:>8} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9}",
        "algo", "k", "segments", "BR", "BP", "UE", "ASA", "EV", "CO", "ms"
    );
    for ((rank, k), (scores, mut ms)) in groups {
        let mean = Scores::mean(&scores);
        let med = median(&mut ms);
        let name = algos[rank].name();
        let cells: Vec<String> = metric_values(&mean).into_iter().map(cell).collect();
        summary += &format!(
            "{name}\t{k}\t{}\t{}\t{}\t{med:.3}\t{}\n",
            scores.len(),
            mean.segments,
            mean.disconnected,
            cells.join("\t")
        );
        let m = metric_values(&mean);
        println!(
            "{name:<14} {k:>6} {:>8.1} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {med:>9.2}",
            mean.segments, m[0], m[1], m[2], m[3], m[4], m[5]
        );
        lines
            .entry(rank)
            .or_default()
            .push((mean.segments, mean, med));
    }
    write_text(&args.out.join("summary.tsv"), &summary)?;

    let panel = |title: &str, y: &str, f: fn(&Scores, f64) -> f64| Panel {
        title: title.into(),
        y_label: y.into(),
        from_zero: y == "ms",
        series: lines
            .iter()
            .map(|(&rank, pts)| Series {
                name: algos[rank].name().into(),
                points: pts.iter().map(|(x, s, ms)| (*x, f(s, *ms))).collect(),
            })
            .collect(),
    };
    let panels = [
        panel("Boundary recall", "boundary recall", |s, _| {
            s.boundary_recall
        }),
        panel(
            "Undersegmentation error",
            "undersegmentation error",
            |s, _| s.undersegmentation_error,
        ),
        panel("Achievable segmentation accuracy", "ASA", |s, _| s.asa),
        panel("Time per image (median)", "ms", |_, ms| ms),
    ];
    write_charts(&args.out.join("sweep"), &panels, args.font.as_deref())?;
    eprintln!(
        "wrote {}/{{sweep.tsv,summary.tsv,sweep.png,sweep.svg}}",
        args.out.display()
    );
    if failures > 0 {
        eprintln!("{failures} image(s) failed");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
