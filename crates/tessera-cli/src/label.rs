//! `tessera label`: label the superpixels of one image with a CRF, from scribbles or from
//! per-pixel class probabilities.

use crate::algo::AlgoArgs;
use crate::class_maps::{class_overlay, pixel_classes};
use crate::load_args::LoadArgs;
use crate::model_export::{self, model_path};
use crate::output::write_png;
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use image::{DynamicImage, ExtendedColorType};
use ndarray::Array3;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use tessera::Image;
use tessera_crf::solver::{BeliefPropagation, Expansion, Icm, Trws};
use tessera_crf::unary::{self, ScribbleParams};
use tessera_crf::{Energy, PairwiseKind, PairwiseParams, RegionGraph, Solver};

/// Options of `tessera label`.
#[derive(Debug, Args)]
pub struct LabelArgs {
    /// The image to label.
    #[arg(value_name = "IMAGE")]
    pub input: PathBuf,

    /// With --model: more images or folders.
    #[arg(value_name = "IMAGES", requires = "model")]
    pub more: Vec<PathBuf>,

    #[command(flatten)]
    pub model: crate::label_model::ModelArgs,

    /// Scribble image of the same size: 0 (black or transparent) is "no scribble", every other
    /// value (grey level or RGB colour) is a class; classes are numbered from 0 in increasing
    /// order of value.
    #[arg(
        long,
        value_name = "PNG",
        required_unless_present_any = ["probs", "model"],
        conflicts_with = "probs"
    )]
    pub scribbles: Option<PathBuf>,

    /// Per-pixel class probabilities, `.npy` float32 of shape height x width x classes.
    #[arg(long, value_name = "NPY")]
    pub probs: Option<PathBuf>,

    /// Output folder for `<name>.classes.png` (8-bit class index per pixel) and
    /// `<name>.classes-overlay.png`.
    #[arg(short, long, default_value = "tessera-out")]
    pub out: PathBuf,

    #[command(flatten)]
    pub algo: AlgoArgs,

    /// The CRF solver.
    #[arg(long, value_enum, default_value_t = SolverName::Expansion)]
    pub solver: SolverName,

    /// Smoothness weight per boundary pixel pair (the Potts lambda).
    #[arg(long, default_value_t = PairwiseParams::default().lambda)]
    pub smoothness: f64,

    /// Pairwise term: contrast-sensitive Potts (GrabCut's) or plain Potts.
    #[arg(long, value_enum, default_value_t = PairwiseName::Contrast)]
    pub pairwise: PairwiseName,

    /// Do not fix scribbled superpixels to their scribble's class.
    #[arg(long)]
    pub no_fix_scribbled: bool,

    /// Also write the CRF model to this file, in the format its extension names: `.uai` (UAI
    /// MARKOV potentials, each factor shifted by its least energy) or `.npz` (the energies
    /// without loss in PyStruct's layout, with the labelling and the superpixel map).
    #[arg(long, value_name = "FILE.uai|FILE.npz", value_parser = model_path)]
    pub save_model: Option<PathBuf>,

    #[command(flatten)]
    pub load: LoadArgs,
}

/// `--solver` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SolverName {
    /// Alpha-expansion on graph cuts (exact for two classes).
    Expansion,
    /// Sequential tree-reweighted message passing, with a lower bound.
    Trws,
    /// Loopy min-sum belief propagation.
    Bp,
    /// Iterated conditional modes.
    Icm,
}

/// `--pairwise` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PairwiseName {
    /// Contrast-sensitive Potts.
    Contrast,
    /// Plain Potts.
    Potts,
}

fn solver(name: SolverName) -> Box<dyn Solver> {
    match name {
        SolverName::Expansion => Box::new(Expansion::default()),
        SolverName::Trws => Box::new(Trws::default()),
        SolverName::Bp => Box::new(BeliefPropagation::default()),
        SolverName::Icm => Box::new(Icm::default()),
    }
}

/// Class colours of the overlay (Tableau 10), repeated for more classes.
const PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

/// Runs `tessera label`.
pub fn run(args: LabelArgs) -> Result<ExitCode> {
    if args.model.model.is_some() {
        return crate::label_model::run(&args);
    }
    let start = Instant::now();
    if !(args.smoothness >= 0.0 && args.smoothness.is_finite()) {
        eprintln!("error: --smoothness must be a number >= 0");
        return Ok(ExitCode::from(2));
    }
    let algo = match args.algo.build(args.algo.algo, args.algo.segments) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let stem = args
        .input
        .file_stem()
        .context("the input has no file name")?
        .to_owned();
    let output = |suffix: &str| {
        let mut name = stem.clone();
        name.push(suffix);
        args.out.join(name)
    };
    let (classes_path, overlay_path) = (output(".classes.png"), output(".classes-overlay.png"));

    let decoded = args
        .load
        .load(&args.input)
        .with_context(|| format!("{}", args.input.display()))?;
    let image = Image::from_dynamic(&decoded)?;
    let (w, h) = (image.width(), image.height());
    let load_ms = start.elapsed().as_secs_f64() * 1e3;

    let t = Instant::now();
    let seg = algo.segment(&image)?;
    let graph = RegionGraph::build(&image, &seg, &Default::default())?;
    let segment_ms = t.elapsed().as_secs_f64() * 1e3;

    let t = Instant::now();
    let (unaries, n_classes, class_values) = if let Some(path) = &args.scribbles {
        let scribble_img = args
            .load
            .load(path)
            .with_context(|| format!("{}", path.display()))?;
        let (scribbles, values) =
            scribble_classes(&scribble_img, w, h).with_context(|| format!("{}", path.display()))?;
        let lab = tessera::cielab_planes(&image)?;
        let params = ScribbleParams {
            fix_scribbled: !args.no_fix_scribbled,
            ..ScribbleParams::default()
        };
        let (model, u) = unary::from_scribbles(&lab, &seg, &scribbles, &params)?;
        let hex: Vec<String> = values.iter().map(|v| format!("#{v:06x}")).collect();
        (u, model.n_labels(), Some(hex))
    } else if let Some(path) = &args.probs {
        let probs = read_probs(path).with_context(|| format!("{}", path.display()))?;
        let classes = probs.dim().2;
        if classes > 256 {
            bail!(
                "{}: {classes} classes do not fit an 8-bit class map",
                path.display()
            );
        }
        (
            unary::from_probabilities(probs.view(), &seg, 1e-6)?,
            classes,
            None,
        )
    } else {
        bail!("give --scribbles or --probs");
    };
    let pairwise = PairwiseParams {
        kind: match args.pairwise {
            PairwiseName::Contrast => PairwiseKind::ContrastPotts,
            PairwiseName::Potts => PairwiseKind::Potts,
        },
        lambda: args.smoothness,
        beta: None,
    };
    let energy = Energy::from_graph(&graph, n_classes, unaries, &pairwise)?;
    let unary_ms = t.elapsed().as_secs_f64() * 1e3;

    let t = Instant::now();
    let solver = solver(args.solver);
    let solution = solver.solve(&energy)?;
    let solve_ms = t.elapsed().as_secs_f64() * 1e3;

    let classes = pixel_classes(&seg, &solution.labels);
    if let Some(path) = &args.save_model {
        model_export::save(path, &energy, &solution.labels, &seg)?;
    }
    write_png(&classes_path, &classes, w, h, ExtendedColorType::L8)?;
    let overlay = class_overlay(&image.to_rgb8(), &classes, &seg, |c| {
        PALETTE[c as usize % PALETTE.len()]
    })?;
    write_png(
        &overlay_path,
        overlay.as_raw(),
        w,
        h,
        ExtendedColorType::Rgb8,
    )?;
    let record = json!({
        "input": args.input.to_string_lossy(),
        "width": w,
        "height": h,
        "superpixels": seg.count(),
        "edges": energy.edges().len(),
        "classes": n_classes,
        "class_values": class_values,
        "solver": solver.name(),
        "smoothness": args.smoothness,
        "energy": solution.energy,
        "lower_bound": solution.lower_bound,
        "iterations": solution.iterations,
        "outputs": [classes_path.to_string_lossy(), overlay_path.to_string_lossy()],
        "segmentation": args.algo.describe(args.algo.algo, args.algo.segments),
        "times_ms": {
            "load": load_ms,
            "segment": segment_ms,
            "unary": unary_ms,
            "solve": solve_ms,
            "total": start.elapsed().as_secs_f64() * 1e3,
        },
    });
    println!("{record}");
    Ok(ExitCode::SUCCESS)
}

/// Scribble classes: `0` for none, `1..=L` by increasing pixel value; and the values.
fn scribble_classes(img: &DynamicImage, w: u32, h: u32) -> Result<(Vec<u32>, Vec<u32>)> {
    if (img.width(), img.height()) != (w, h) {
        bail!(
            "the scribbles are {}x{}, the image {w}x{h}",
            img.width(),
            img.height()
        );
    }
    let rgba = img.to_rgba8();
    let value = |p: &image::Rgba<u8>| -> u32 {
        let [r, g, b, a] = p.0;
        if a == 0 {
            0
        } else {
            u32::from(r) << 16 | u32::from(g) << 8 | u32::from(b)
        }
    };
    let mut values: Vec<u32> = rgba.pixels().map(value).filter(|&v| v != 0).collect();
    values.sort_unstable();
    values.dedup();
    if values.is_empty() {
        bail!("no pixel is scribbled (every pixel is 0 or transparent)");
    }
    if values.len() > 256 {
        bail!(
            "{} scribble values; at most 256 classes fit an 8-bit class map",
            values.len()
        );
    }
    let scribbles = rgba
        .pixels()
        .map(|p| {
            let v = value(p);
            if v == 0 {
                0
            } else {
                values.binary_search(&v).map_or(0, |i| i as u32 + 1)
            }
        })
        .collect();
    Ok((scribbles, values))
}

fn read_probs(path: &Path) -> Result<Array3<f32>> {
    let file = std::fs::File::open(path).context("cannot open the file")?;
    let probs: Array3<f32> = ndarray_npy::ReadNpyExt::read_npy(std::io::BufReader::new(file))
        .context("not a float32 .npy array of shape height x width x classes")?;
    Ok(probs)
}
