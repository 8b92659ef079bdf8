//! `tessera learn`: learn a superpixel CRF (and its unary-only baseline) from labelled images
//! with a structured SVM, choosing `C` on a validation split.

use crate::class_maps::pixel_classes;
use crate::eval::find_image;
use crate::load_args::LoadArgs;
use crate::threads::worker_pool;
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, ValueEnum};
use rayon::prelude::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use tessera::{Image, Segmentation};
use tessera_crf::features::{self, FeatureParams, HistogramMap, ImageFeatures, Textons};
use tessera_crf::learn::{self, Confusion, Inference, LearnParams, Model, Sample, SsvmParams};
use tessera_crf::model_file::{FORMAT, ModelFile, SegAlgorithm, SegmentationSpec, VERSION};

/// Options of `tessera learn`.
#[derive(Debug, Args)]
pub struct LearnArgs {
    /// Folder of the images (`<name>.jpg`, `.png`, ...).
    #[arg(long, value_name = "DIR")]
    pub images: PathBuf,

    /// Folder of the ground truths: `<name>.png`, 8-bit grey, one class index per pixel
    /// (`0..classes`); any larger value (255) is void.
    #[arg(long, value_name = "DIR")]
    pub gt: PathBuf,

    /// The training images' names, one a line.
    #[arg(long, value_name = "NAMES.txt")]
    pub list: PathBuf,

    /// Validation images' names: C is chosen on them (the best mean of global and average
    /// per-class pixel accuracy), and their scores are reported.
    #[arg(long, value_name = "NAMES.txt")]
    pub val: Option<PathBuf>,

    /// The model file to write.
    #[arg(short, long, value_name = "MODEL.json")]
    pub out: PathBuf,

    /// Number of classes.
    #[arg(long, default_value_t = 21)]
    pub classes: usize,

    /// SLIC superpixels per image.
    #[arg(short = 'k', long = "segments", default_value_t = 400)]
    pub segments: u32,

    /// SLIC compactness.
    #[arg(long, default_value_t = 10.0)]
    pub compactness: f32,

    /// Values of the structured SVM's C to try (comma-separated); without --val only the
    /// first is used. The default holds the best of both models on MSRC-21 val at the
    /// other defaults (0.003 for both, of 0.001 to 10), first.
    #[arg(long, value_delimiter = ',', default_value = "0.003,0.001,0.01")]
    pub c: Vec<f64>,

    /// Values of C for the unary-only model (default: the same as --c).
    #[arg(long, value_delimiter = ',')]
    pub unary_c: Vec<f64>,

    /// Size of the texton dictionary (k-means on the 17-D filter bank's responses of a
    /// regular subsample of training pixels); 0 for no texton features.
    #[arg(long, default_value_t = 200)]
    pub textons: usize,

    /// The texton dictionary is learned from every N-th pixel of every N-th row of the
    /// training images.
    #[arg(long, default_value_t = 8)]
    pub texton_stride: usize,

    /// Map of the texton histograms.
    #[arg(long, value_enum, default_value_t = MapName::Hellinger)]
    pub texton_map: MapName,

    /// Maximum passes of the solver over the training images.
    #[arg(long, default_value_t = SsvmParams::default().max_passes)]
    pub max_passes: u32,

    /// Stop when the duality gap is below this fraction of the primal objective.
    #[arg(long, default_value_t = SsvmParams::default().tolerance)]
    pub tolerance: f64,

    /// Exponent of the inverse class frequency in the loss weights (0: none, 1: balanced).
    #[arg(long, default_value_t = LearnParams::default().class_weight_power)]
    pub class_weight_power: f64,

    /// Multiply the edge features by this in training (the pairwise weights are then
    /// regularised this squared times less; the model's scores do not change).
    #[arg(long, default_value_t = 1.0)]
    pub pairwise_scale: f64,

    /// Loss-augmented inference solver (the model predicts with it too, with expansion for
    /// expansion-only).
    #[arg(long, value_enum, default_value_t = InferenceName::ExpansionOnly)]
    pub inference: InferenceName,

    /// Also write the features as .npy to this folder, for other tools (see the README):
    /// `<split>_X.npy` (superpixels x features, float32), `<split>_y.npy` (majority class, -1
    /// void, int64), `<split>_counts.npy` (ground-truth pixels of each class per superpixel,
    /// int64), `<split>_image.npy` (image index, int64), with split `train` and `val`.
    #[arg(long, value_name = "DIR")]
    pub export_features: Option<PathBuf>,

    /// Worker threads (default: all cores).
    #[arg(short = 'j', long)]
    pub threads: Option<usize>,

    /// Image loading: `--max-pixels`, `--allow-truncated`.
    #[command(flatten)]
    pub load: LoadArgs,
}

/// `--inference` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InferenceName {
    /// Alpha-expansion with fusion moves.
    Expansion,
    /// Alpha-expansion without fusion moves (faster with many classes).
    ExpansionOnly,
    /// TRW-S.
    Trws,
}

/// `--texton-map` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MapName {
    /// The L1-normalised histogram.
    Identity,
    /// Its square root.
    Hellinger,
    /// The additive chi-square map (three values per bin).
    Chi2,
}

/// One loaded image: its superpixels, features, per-superpixel classes and ground truth.
pub struct Loaded {
    /// Its superpixels.
    pub seg: Segmentation,
    /// Their features and majority classes.
    pub sample: Sample,
    /// The ground truth, one value per pixel.
    pub truth: Vec<u8>,
}

/// Runs `tessera learn`.
pub fn run(args: LearnArgs) -> Result<ExitCode> {
    let start = Instant::now();
    if args.classes < 2 || args.classes > 255 {
        eprintln!("error: --classes must be in 2..=255 (255 is void)");
        return Ok(ExitCode::from(2));
    }
    if args.c.is_empty() || args.c.iter().any(|c| !(*c > 0.0 && c.is_finite())) {
        eprintln!("error: --c must be numbers > 0");
        return Ok(ExitCode::from(2));
    }
    if args.unary_c.iter().any(|c| !(*c > 0.0 && c.is_finite())) {
        eprintln!("error: --unary-c must be numbers > 0");
        return Ok(ExitCode::from(2));
    }
    if args.segments == 0 || args.compactness.is_nan() || args.compactness <= 0.0 {
        eprintln!("error: --segments must be >= 1 and --compactness > 0");
        return Ok(ExitCode::from(2));
    }
    let Some(pool) = worker_pool(args.threads)? else {
        return Ok(ExitCode::from(2));
    };
    let spec = SegmentationSpec {
        algorithm: SegAlgorithm::Slic,
        n_segments: args.segments,
        compactness: args.compactness,
    };
    let fparams = FeatureParams {
        textons: args.textons,
        texton_map: match args.texton_map {
            MapName::Identity => HistogramMap::Identity,
            MapName::Hellinger => HistogramMap::Hellinger,
            MapName::Chi2 => HistogramMap::Chi2,
        },
        ..FeatureParams::default()
    };
    let train_names = read_list(&args.list)?;
    let val_names = match &args.val {
        Some(p) => read_list(p)?,
        None => Vec::new(),
    };
    let t = Instant::now();
    let dictionary = if args.textons > 0 {
        let d = pool.install(|| learn_textons(&args, &train_names))?;
        eprintln!(
            "textons: {} learned in {:.1} s",
            d.len(),
            t.elapsed().as_secs_f64()
        );
        Some(d)
    } else {
        None
    };
    let textons_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (train, val) = pool.install(|| -> Result<_> {
        let train = load_all(&args, &spec, &fparams, dictionary.as_ref(), &train_names)?;
        let val = load_all(&args, &spec, &fparams, dictionary.as_ref(), &val_names)?;
        Ok((train, val))
    })?;
    let features_s = t.elapsed().as_secs_f64();
    eprintln!(
        "features: {} train and {} val images in {features_s:.1} s ({:.3} s per image per thread)",
        train.len(),
        val.len(),
        features_s * pool.current_num_threads() as f64 / (train.len() + val.len()).max(1) as f64
    );
    let oracle = oracle_scores(&val, args.classes);
    if let Some(dir) = &args.export_features {
        crate::features_export::export(dir, "train", &train, args.classes)?;
        if !val.is_empty() {
            crate::features_export::export(dir, "val", &val, args.classes)?;
        }
    }
    let samples: Vec<Sample> = train.iter().map(|l| l.sample.clone()).collect();
    let inference = match args.inference {
        InferenceName::Expansion => Inference::Expansion,
        InferenceName::ExpansionOnly => Inference::ExpansionOnly,
        InferenceName::Trws => Inference::Trws,
    };
    let base = LearnParams {
        n_classes: args.classes,
        features: fparams,
        pairwise: true,
        class_weight_power: args.class_weight_power,
        pairwise_scale: args.pairwise_scale,
        ssvm: SsvmParams {
            max_passes: args.max_passes,
            tolerance: args.tolerance,
            inference,
            ..SsvmParams::default()
        },
    };
    let unary_cs = if args.unary_c.is_empty() {
        args.c.clone()
    } else {
        args.unary_c.clone()
    };
    let [(unary, unary_record), (crf, crf_record)] =
        pool.install(|| choose(&samples, &val, &base, [&unary_cs, &args.c]))?;
    let file = ModelFile {
        format: FORMAT.into(),
        version: VERSION,
        n_classes: args.classes,
        segmentation: spec,
        crf,
        unary_only: unary,
        textons: dictionary,
        training: json!({
            "train_images": train.len(),
            "val_images": val.len(),
            "textons_seconds": textons_s,
            "features_seconds": features_s,
            "unary_only": unary_record,
            "crf": crf_record,
        }),
    };
    crate::output::write_text(&args.out, &file.to_json()?)?;
    let record = json!({
        "model": args.out.to_string_lossy(),
        "train_images": train.len(),
        "val_images": val.len(),
        "superpixels": train.iter().map(|l| l.sample.labels.len()).sum::<usize>(),
        "features": node_dim_of(&train),
        "textons_seconds": textons_s,
        "features_seconds": features_s,
        "val_superpixel_oracle": oracle.map(|o| json!({"global": o.0, "average": o.1})),
        "unary_only": unary_record,
        "crf": crf_record,
        "total_seconds": start.elapsed().as_secs_f64(),
    });
    println!("{record}");
    Ok(ExitCode::SUCCESS)
}

/// Trains one unary-only model per C of `cs[0]` and one CRF per C of `cs[1]`, scores each on
/// `val`, and keeps the best of each kind (the first C without validation images).
///
/// The trainings are independent, each deterministic, so they run side by side on the pool
/// (each solver is sequential but for its primal evaluations): the models are those of one
/// training after another, in a fraction of the time. Their `train_seconds` are each
/// training's own wall time, while the others run.
fn choose(
    samples: &[Sample],
    val: &[Loaded],
    base: &LearnParams,
    cs: [&[f64]; 2],
) -> Result<[(Model, serde_json::Value); 2]> {
    let cs = cs.map(|c| {
        if val.is_empty() {
            &c[..c.len().min(1)]
        } else {
            c
        }
    });
    let jobs: Vec<(bool, f64)> = (cs[0].iter().map(|&c| (false, c)))
        .chain(cs[1].iter().map(|&c| (true, c)))
        .collect();
    let trained = jobs
        .par_iter()
        .map(|&(pairwise, c)| train_one(samples, val, base, pairwise, c))
        .collect::<Result<Vec<_>>>()?;
    let mut results = trained.into_iter();
    let mut pick = |n: usize| {
        let mut best: Option<(f64, Model, serde_json::Value)> = None;
        let mut tried = Vec::new();
        for (score, model, record) in results.by_ref().take(n) {
            if best.as_ref().is_none_or(|b| score > b.0) {
                best = Some((score, model, record.clone()));
            }
            tried.push(record);
        }
        let (_, model, chosen) = best.context("no C value to try")?;
        Ok::<_, anyhow::Error>((model, json!({ "chosen": chosen, "tried": tried })))
    };
    let unary = pick(cs[0].len())?;
    let crf = pick(cs[1].len())?;
    Ok([unary, crf])
}

/// One model trained at `c` and scored on `val`: its score (`(global + average) / 2` on
/// `val`, 0 without it), the model and its record.
fn train_one(
    samples: &[Sample],
    val: &[Loaded],
    base: &LearnParams,
    pairwise: bool,
    c: f64,
) -> Result<(f64, Model, serde_json::Value)> {
    let kind = if pairwise { "crf" } else { "unary-only" };
    let params = LearnParams {
        pairwise,
        ssvm: SsvmParams { c, ..base.ssvm },
        ..*base
    };
    let t = Instant::now();
    let progress = |r: &learn::PassRecord| {
        let primal = r.primal.map_or(String::new(), |p| {
            format!(" primal {p:.6} gap {:.6}", p - r.dual)
        });
        eprintln!(
            "{kind} C={c}: pass {} dual {:.6} gap estimate {:.6}{primal} ({:.1} s)",
            r.pass, r.dual, r.gap_estimate, r.seconds
        );
    };
    let (model, report) = learn::fit(samples, &params, Some(&progress))?;
    let train_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let scores = if val.is_empty() {
        None
    } else {
        Some(evaluate(&model, val)?)
    };
    let predict_s = t.elapsed().as_secs_f64();
    let record = json!({
        "c": c,
        "train_seconds": train_s,
        "passes": report.trace.len(),
        "primal": report.primal,
        "gap": report.gap,
        "converged": report.converged,
        "oracle_calls": report.oracle_calls,
        "val_global": scores.map(|s| s.0),
        "val_average": scores.map(|s| s.1),
        "val_predict_seconds_per_image": (!val.is_empty()).then(|| predict_s / val.len() as f64),
    });
    eprintln!("{kind} C={c}: {record}");
    let score = scores.map_or(0.0, |s| (s.0 + s.1) / 2.0);
    Ok((score, model, record))
}

/// Global and average per-class pixel accuracy of `model` on `images` (void ignored).
pub fn evaluate(model: &Model, images: &[Loaded]) -> Result<(f64, f64)> {
    let parts: Vec<Result<Confusion>> = images
        .par_iter()
        .map(|l| {
            let classes = learn::predict(model, &l.sample.features)?;
            let pixels = pixel_classes(&l.seg, &classes);
            let mut c = Confusion::new(model.n_classes);
            c.add(&l.truth, &pixels);
            Ok(c)
        })
        .collect();
    let mut total = Confusion::new(model.n_classes);
    for p in parts {
        total.merge(&p?);
    }
    Ok((total.global(), total.average()))
}

fn node_dim_of(images: &[Loaded]) -> usize {
    images.first().map_or(0, |l| l.sample.features.dim())
}

/// Global and average accuracy of the superpixel oracle (each superpixel its majority
/// ground-truth class; the labelled pixels of a superpixel that is mostly void count as wrong)
/// on `images`, or none without images.
fn oracle_scores(images: &[Loaded], n_classes: usize) -> Option<(f64, f64)> {
    if images.is_empty() {
        return None;
    }
    let mut right = vec![0u64; n_classes];
    let mut all = vec![0u64; n_classes];
    for l in images {
        for (&s, &t) in l.seg.labels().iter().zip(&l.truth) {
            let t = t as usize;
            if t >= n_classes {
                continue;
            }
            all[t] += 1;
            let p = l
                .sample
                .labels
                .get(s as usize)
                .copied()
                .unwrap_or(learn::VOID);
            if p as usize == t {
                right[t] += 1;
            }
        }
    }
    let total: u64 = all.iter().sum();
    let global = right.iter().sum::<u64>() as f64 / total.max(1) as f64;
    let recalls: Vec<f64> = (0..n_classes)
        .filter(|&k| all[k] > 0)
        .map(|k| right[k] as f64 / all[k] as f64)
        .collect();
    let average = recalls.iter().sum::<f64>() / recalls.len().max(1) as f64;
    Some((global, average))
}

/// Learns the texton dictionary from a regular subsample of the training images' pixels
/// (their ground truths are read and checked on the way; images in parallel, samples
/// concatenated in list order, so the result does not depend on the number of threads).
fn learn_textons(args: &LearnArgs, names: &[String]) -> Result<Textons> {
    let parts: Vec<Vec<f32>> = names
        .par_iter()
        .map(|name| -> Result<Vec<f32>> {
            let image = load_image(args, name)?;
            // The ground truth is checked here too, so that a bad one is reported before the
            // dictionary (which does not need it) is learned.
            read_truth(
                &args.gt.join(format!("{name}.png")),
                image.width(),
                image.height(),
            )?;
            Ok(features::texton_samples(&image, args.texton_stride)?)
        })
        .collect::<Result<_>>()?;
    let samples: Vec<f32> = parts.concat();
    Textons::learn(&samples, args.textons, 20, 0x7e550a)
        .context("learning the texton dictionary (try a smaller --texton-stride or --textons)")
}

fn load_image(args: &LearnArgs, name: &str) -> Result<Image> {
    let path = find_image(&args.images, name)
        .ok_or_else(|| anyhow!("no image file for {name} in {}", args.images.display()))?;
    let decoded = args
        .load
        .load(&path)
        .with_context(|| format!("{}", path.display()))?;
    Image::from_dynamic(&decoded).with_context(|| format!("{}", path.display()))
}

/// The names of a list file: one a line, blank lines and surrounding spaces ignored.
fn read_list(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the list {}", path.display()))?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if names.is_empty() {
        bail!("{}: no image name in the list", path.display());
    }
    Ok(names)
}

/// Loads, segments and describes every named image, in parallel (order kept).
fn load_all(
    args: &LearnArgs,
    spec: &SegmentationSpec,
    fparams: &FeatureParams,
    dictionary: Option<&Textons>,
    names: &[String],
) -> Result<Vec<Loaded>> {
    names
        .par_iter()
        .map(|name| load_one(args, spec, fparams, dictionary, name))
        .collect()
}

fn load_one(
    args: &LearnArgs,
    spec: &SegmentationSpec,
    fparams: &FeatureParams,
    dictionary: Option<&Textons>,
    name: &str,
) -> Result<Loaded> {
    let image = load_image(args, name)?;
    let gt_path = args.gt.join(format!("{name}.png"));
    let truth = read_truth(&gt_path, image.width(), image.height())?;
    let (seg, f): (Segmentation, ImageFeatures) = spec
        .features(&image, fparams, dictionary)
        .with_context(|| format!("image {name}"))?;
    let labels = learn::superpixel_labels(&seg, &truth, args.classes)?;
    Ok(Loaded {
        seg,
        sample: Sample {
            features: f,
            labels,
        },
        truth,
    })
}

/// Reads a class-index ground truth: an 8-bit grey PNG of the image's size.
fn read_truth(path: &Path, w: u32, h: u32) -> Result<Vec<u8>> {
    let img = image::open(path)
        .with_context(|| format!("cannot read the ground truth {}", path.display()))?;
    let image::DynamicImage::ImageLuma8(buf) = img else {
        bail!(
            "{}: {:?} pixels; a ground truth is 8-bit grey (class index per pixel)",
            path.display(),
            img.color()
        );
    };
    if (buf.width(), buf.height()) != (w, h) {
        bail!(
            "{}: the ground truth is {}x{}, the image {w}x{h}",
            path.display(),
            buf.width(),
            buf.height()
        );
    }
    Ok(buf.into_raw())
}
