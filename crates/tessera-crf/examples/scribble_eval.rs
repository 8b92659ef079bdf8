//! Scribble labelling on BSDS500: for each image, scribbles are drawn from the first human
//! segmentation (a short horizontal stroke through the most interior point of each of its
//! largest segments), the image is over-segmented by SLIC, and the superpixels are labelled
//! by a contrast-sensitive Potts CRF with scribble colour models, with every solver. Pixel
//! accuracy is measured against the human segmentation on the pixels of the scribbled
//! segments, and compared with the per-pixel colour-model classifier without the CRF.
//!
//! Run: `cargo run --release -p tessera-crf --example scribble_eval -- [N_IMAGES] [LAMBDA]
//! [SPLIT] [N_SEGMENTS] [GMM_COMPONENTS] [GMM_REGULARIZATION]` (defaults 30, 50, val, 400, and
//! `GmmParams`' defaults). Reads `../shared/data/bsds500` beside
//! the workspace; prints a message and exits when it is absent.

use image::{GrayImage, Luma};
use imageproc::distance_transform::euclidean_squared_distance_transform;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tessera::{Image, Slic, Superpixels};
use tessera_crf::solver::{BeliefPropagation, Expansion, Icm, Trws};
use tessera_crf::unary::{GmmParams, ScribbleParams, from_scribbles};
use tessera_crf::{Energy, PairwiseParams, RegionGraph, Solver};

/// Segments that get a scribble: the largest ones, at most this many.
const SEGMENTS: usize = 4;
/// Half length of a stroke, in pixels.
const HALF_STROKE: i64 = 20;

fn bsds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/bsds500")
}

/// The scribble image (0 = none, `1..=k` labels) and the ground truth remapped to `0..k` for
/// the scribbled segments (`u32::MAX` elsewhere).
fn scribbles(gt: &[u16], w: u32, h: u32) -> (Vec<u32>, Vec<u32>, usize) {
    let max = gt.iter().copied().max().unwrap_or(0) as usize;
    let mut sizes = vec![0usize; max + 1];
    gt.iter().for_each(|&g| sizes[g as usize] += 1);
    let mut order: Vec<usize> = (0..=max).filter(|&s| sizes[s] > 0).collect();
    order.sort_by_key(|&s| (std::cmp::Reverse(sizes[s]), s));
    order.truncate(SEGMENTS);
    let mut scribble = vec![0u32; gt.len()];
    let mut truth = vec![u32::MAX; gt.len()];
    for (k, &s) in order.iter().enumerate() {
        for (t, &g) in truth.iter_mut().zip(gt) {
            if g as usize == s {
                *t = k as u32;
            }
        }
        // Distance of each segment pixel to the nearest pixel outside it (or the border).
        let outside = GrayImage::from_fn(w, h, |x, y| {
            let inside =
                gt[(y * w + x) as usize] as usize == s && x > 0 && y > 0 && x + 1 < w && y + 1 < h;
            Luma([if inside { 0 } else { 255 }])
        });
        let d2 = euclidean_squared_distance_transform(&outside);
        let (mut cx, mut cy, mut best) = (0u32, 0u32, -1.0f64);
        for (x, y, p) in d2.enumerate_pixels() {
            if p[0] > best {
                (cx, cy, best) = (x, y, p[0]);
            }
        }
        let r = best.sqrt();
        let margin = (r / 2.0).max(1.0);
        for dy in -1i64..=1 {
            for dx in -HALF_STROKE.min(r as i64)..=HALF_STROKE.min(r as i64) {
                let (x, y) = (cx as i64 + dx, cy as i64 + dy);
                if x < 0 || y < 0 || x >= w as i64 || y >= h as i64 {
                    continue;
                }
                if d2.get_pixel(x as u32, y as u32)[0].sqrt() >= margin {
                    scribble[(y as u32 * w + x as u32) as usize] = k as u32 + 1;
                }
            }
        }
    }
    (scribble, truth, order.len())
}

fn accuracy(pred: &[u32], truth: &[u32]) -> f64 {
    let (mut ok, mut n) = (0usize, 0usize);
    for (&p, &t) in pred.iter().zip(truth) {
        if t != u32::MAX {
            n += 1;
            ok += usize::from(p == t);
        }
    }
    ok as f64 / n.max(1) as f64
}

#[derive(Default, Clone)]
struct Tally {
    accuracy: f64,
    energy_excess: f64,
    ms: f64,
    iterations: f64,
    n: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n_images: usize = args.get(1).map_or(Ok(30), |s| s.parse())?;
    let lambda: f64 = args.get(2).map_or(Ok(50.0), |s| s.parse())?;
    let split = args.get(3).map_or("val", String::as_str);
    let n_segments: u32 = args.get(4).map_or(Ok(400), |s| s.parse())?;
    let defaults = GmmParams::default();
    let gmm = GmmParams {
        components: args.get(5).map_or(Ok(defaults.components), |s| s.parse())?,
        regularization: args
            .get(6)
            .map_or(Ok(defaults.regularization), |s| s.parse())?,
        ..defaults
    };
    let dir = bsds_dir().join(split);
    if !dir.is_dir() {
        println!("BSDS500 not found at {}: skipping", dir.display());
        return Ok(());
    }
    let mut ids: Vec<String> = std::fs::read_dir(dir.join("images"))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.path()
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .collect();
    ids.sort();
    ids.truncate(n_images);
    let solvers: Vec<Box<dyn Solver>> = vec![
        Box::new(Icm::default()),
        Box::new(BeliefPropagation::default()),
        Box::new(Trws::default()),
        Box::new(Expansion::default()),
    ];
    let mut tallies = vec![Tally::default(); solvers.len() + 1];
    let mut trws_gap = 0.0;
    for id in &ids {
        let photo = image::open(dir.join("images").join(format!("{id}.jpg")))?;
        let gt_img = image::open(dir.join("gt").join(format!("{id}_0.png")))?.to_luma16();
        let (w, h) = gt_img.dimensions();
        let (scrib, truth, k) = scribbles(gt_img.as_raw(), w, h);
        let img = Image::from_dynamic(&photo)?;
        let lab = tessera::cielab_planes(&img)?;
        let t = Instant::now();
        let seg = Slic {
            n_segments,
            ..Slic::default()
        }
        .segment(&img)?;
        let graph = RegionGraph::build(&img, &seg, &Default::default())?;
        let (model, unary) = from_scribbles(
            &lab,
            &seg,
            &scrib,
            &ScribbleParams {
                gmm,
                ..ScribbleParams::default()
            },
        )?;
        let energy = Energy::from_graph(
            &graph,
            k,
            unary,
            &PairwiseParams {
                lambda,
                ..PairwiseParams::default()
            },
        )?;
        let setup_ms = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let pixel = model.classify_pixels(&lab);
        let px = &mut tallies[solvers.len()];
        px.accuracy += accuracy(&pixel, &truth);
        px.ms += t.elapsed().as_secs_f64() * 1e3;
        px.n += 1;
        let mut results = Vec::new();
        for s in &solvers {
            let t = Instant::now();
            let sol = s.solve(&energy)?;
            let ms = t.elapsed().as_secs_f64() * 1e3;
            let pred: Vec<u32> = seg
                .labels()
                .iter()
                .map(|&l| sol.labels[l as usize])
                .collect();
            results.push((sol.clone(), ms, accuracy(&pred, &truth)));
        }
        let best = results
            .iter()
            .map(|r| r.0.energy)
            .fold(f64::INFINITY, f64::min);
        let mut line = format!(
            "{id} k={k} nodes={} setup={setup_ms:.0}ms pixel={:.3}",
            energy.n_nodes(),
            accuracy(&pixel, &truth)
        );
        for (i, (sol, ms, acc)) in results.iter().enumerate() {
            let t = &mut tallies[i];
            t.accuracy += acc;
            t.energy_excess += (sol.energy - best) / best.abs().max(1e-9);
            t.ms += ms;
            t.iterations += f64::from(sol.iterations);
            t.n += 1;
            line += &format!(" {}={acc:.3}/{:.1}", solvers[i].name(), sol.energy);
            if let Some(lb) = sol.lower_bound
                && solvers[i].name() == "trws"
            {
                trws_gap += (sol.energy - lb) / sol.energy.abs().max(1e-9);
            }
        }
        println!("{line}");
    }
    let n = ids.len().max(1) as f64;
    println!(
        "\n{} {split} images, SLIC {n_segments} segments, contrast Potts lambda {lambda}, GMM {} components, regularisation {}, scribbles on the {SEGMENTS} largest segments of annotator 0",
        ids.len(),
        gmm.components,
        gmm.regularization
    );
    println!("| method | pixel accuracy | energy above best (rel.) | time ms | iterations |");
    println!("|---|---|---|---|---|");
    for (i, s) in solvers.iter().enumerate() {
        let t = &tallies[i];
        println!(
            "| CRF {} | {:.4} | {:.2e} | {:.1} | {:.1} |",
            s.name(),
            t.accuracy / n,
            t.energy_excess / n,
            t.ms / n,
            t.iterations / n
        );
    }
    let px = &tallies[solvers.len()];
    println!(
        "| per-pixel colour model (no CRF) | {:.4} | - | {:.1} | - |",
        px.accuracy / n,
        px.ms / n
    );
    println!(
        "TRW-S mean relative gap (energy - bound) / energy: {:.2e}",
        trws_gap / n
    );
    Ok(())
}
