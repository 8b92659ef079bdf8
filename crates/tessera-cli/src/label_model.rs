//! `tessera label --model MODEL.json IMAGES...`: label images with a model learned by
//! `tessera learn` (the CRF, or with `--unary-only` its baseline).

use crate::class_maps::{class_overlay, pixel_classes};
use crate::inputs::discover;
use crate::label::LabelArgs;
use crate::output::write_png;
use crate::shard::{Shard, parse_shard};
use crate::threads::worker_pool;
use anyhow::{Context, Result};
use clap::Args;
use image::ExtendedColorType;
use rayon::prelude::*;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use tessera::Image;
use tessera_crf::learn;
use tessera_crf::model_file::ModelFile;

/// The options of `tessera label` for learned models.
#[derive(Debug, Args)]
#[command(next_help_heading = "Learned model")]
pub struct ModelArgs {
    /// A model written by `tessera learn`: label every image (or image in a folder) given with
    /// it; the class maps hold the ground truth's own class values. The model's superpixels
    /// are used (--algo and its options are ignored).
    #[arg(long, value_name = "MODEL.json", conflicts_with_all = ["scribbles", "probs"])]
    pub model: Option<PathBuf>,

    /// With --model: use the unary-only baseline instead of the CRF.
    #[arg(long, requires = "model")]
    pub unary_only: bool,

    /// With --model: worker threads (default: all cores).
    #[arg(short = 'j', long, requires = "model")]
    pub threads: Option<usize>,

    /// With --model: label only slice I of N of the images (I from 0 to N-1), the same
    /// balanced partition `segment --shard` uses; each image is in exactly one shard.
    #[arg(long, value_name = "I/N", value_parser = parse_shard, requires = "model")]
    pub shard: Option<Shard>,
}

/// Colours of the classes in the overlay (MSRC-21's colour table for its 21 classes, then
/// grey levels).
fn colour(c: u8) -> [u8; 3] {
    const MSRC: [[u8; 3]; 21] = [
        [128, 0, 0],
        [0, 128, 0],
        [128, 128, 0],
        [0, 0, 128],
        [0, 128, 128],
        [128, 128, 128],
        [192, 0, 0],
        [64, 128, 0],
        [192, 128, 0],
        [64, 0, 128],
        [192, 0, 128],
        [64, 128, 128],
        [192, 128, 128],
        [0, 64, 0],
        [128, 64, 0],
        [0, 192, 0],
        [128, 64, 128],
        [0, 192, 128],
        [128, 192, 128],
        [64, 64, 0],
        [192, 64, 0],
    ];
    MSRC.get(c as usize).copied().unwrap_or([c, c, c])
}

/// Runs `tessera label --model`.
pub fn run(args: &LabelArgs) -> Result<ExitCode> {
    let Some(model_path) = &args.model.model else {
        anyhow::bail!("--model is missing");
    };
    let file = ModelFile::read(model_path)?;
    let model = if args.model.unary_only {
        &file.unary_only
    } else {
        &file.crf
    };
    let Some(pool) = worker_pool(args.model.threads)? else {
        return Ok(ExitCode::from(2));
    };
    let mut inputs = vec![args.input.clone()];
    inputs.extend(args.more.iter().cloned());
    let mut found = discover(&inputs, false, Some(&args.out));
    if let Some(shard) = args.model.shard {
        let all = found.jobs.len();
        found.jobs = shard.jobs(found.jobs);
        found.problems = shard.problems(found.problems);
        eprintln!("shard {shard}: {} of {all} image(s)", found.jobs.len());
    }
    let mut failed = !found.problems.is_empty();
    for (p, why) in &found.problems {
        eprintln!("error: {}: {why}", p.display());
    }
    let results: Vec<Result<serde_json::Value>> = pool.install(|| {
        found
            .jobs
            .par_iter()
            .map(|job| {
                let start = Instant::now();
                let decoded = args
                    .load
                    .load(&job.input)
                    .with_context(|| format!("{}", job.input.display()))?;
                let image = Image::from_dynamic(&decoded)
                    .with_context(|| format!("{}", job.input.display()))?;
                let (seg, features) = file
                    .segmentation
                    .features(&image, &model.features, file.textons.as_ref())
                    .with_context(|| format!("{}", job.input.display()))?;
                let features_ms = start.elapsed().as_secs_f64() * 1e3;
                let t = Instant::now();
                let classes = learn::predict(model, &features)
                    .with_context(|| format!("{}", job.input.display()))?;
                let predict_ms = t.elapsed().as_secs_f64() * 1e3;
                let pixels = pixel_classes(&seg, &classes);
                let (w, h) = (image.width(), image.height());
                let out = |suffix: &str| {
                    let mut name = job.stem.clone().into_os_string();
                    name.push(suffix);
                    args.out.join(name)
                };
                let (classes_path, overlay_path) =
                    (out(".classes.png"), out(".classes-overlay.png"));
                write_png(&classes_path, &pixels, w, h, ExtendedColorType::L8)?;
                let overlay = class_overlay(&image.to_rgb8(), &pixels, &seg, colour)?;
                write_png(
                    &overlay_path,
                    overlay.as_raw(),
                    w,
                    h,
                    ExtendedColorType::Rgb8,
                )?;
                Ok(json!({
                    "input": job.input.to_string_lossy(),
                    "width": w,
                    "height": h,
                    "superpixels": seg.count(),
                    "model": if args.model.unary_only { "unary_only" } else { "crf" },
                    "outputs": [classes_path.to_string_lossy(), overlay_path.to_string_lossy()],
                    "times_ms": {
                        "segment_and_features": features_ms,
                        "predict": predict_ms,
                        "total": start.elapsed().as_secs_f64() * 1e3,
                    },
                }))
            })
            .collect()
    });
    for r in results {
        match r {
            Ok(record) => println!("{record}"),
            Err(e) => {
                eprintln!("error: {e:#}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
