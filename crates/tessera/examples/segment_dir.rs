//! Segments every image of a folder with one algorithm, on one thread, and writes the label
//! maps as 16-bit PNGs `OUT/<stem>.png` plus `OUT/timings.tsv` (`<stem>\t<seconds>` of the
//! algorithm alone, decoding excluded), the layout the benchmark harness scores.
//!
//! ```text
//! cargo run --release -p tessera --example segment_dir -- ALGO IMAGES OUT [NAME=VALUE ...]
//! ALGO: slic | felzenszwalb | quickshift
//! e.g.  ... felzenszwalb images/ out/ target=400
//!       ... quickshift images/ out/ kernel_size=4.5 max_dist=9
//! ```
//! Parameters are the fields of the algorithm's parameter struct (`target` is
//! Felzenszwalb's `target_segments`, `k` SLIC's `n_segments`). One line per image goes to
//! standard output: the stem, the segment count, and, for Felzenszwalb, the scale used.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tessera::{Felzenszwalb, Image, Quickshift, Segmentation, Slic, Superpixels};

type Res<T> = Result<T, Box<dyn Error>>;

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [algo, images, out, params @ ..] = args.as_slice() else {
        return Err("usage: segment_dir ALGO IMAGES OUT [NAME=VALUE ...]".into());
    };
    let params: Vec<(&str, &str)> = params
        .iter()
        .map(|p| p.split_once('=').ok_or(format!("`{p}` is not NAME=VALUE")))
        .collect::<Result<_, _>>()?;
    let run = algorithm(algo, &params)?;
    fs::create_dir_all(out)?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let mut paths: Vec<PathBuf> = fs::read_dir(images)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.retain(|p| p.extension().is_some_and(|e| e == "jpg" || e == "png"));
    paths.sort();
    let mut timings = String::new();
    for path in &paths {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or("bad file name")?;
        let img = Image::from_dynamic(&image::open(path)?)?;
        let start = Instant::now();
        let (seg, note) = pool.install(|| run(&img))?;
        let secs = start.elapsed().as_secs_f64();
        write_labels(&seg, &Path::new(out).join(format!("{stem}.png")))?;
        timings.push_str(&format!("{stem}\t{secs:.6}\n"));
        println!("{stem}\t{}\t{note}", seg.count());
    }
    fs::write(Path::new(out).join("timings.tsv"), timings)?;
    Ok(())
}

type Runner = Box<dyn Fn(&Image) -> tessera::Result<(Segmentation, String)> + Sync>;

fn algorithm(name: &str, params: &[(&str, &str)]) -> Res<Runner> {
    Ok(match name {
        "slic" => {
            let mut a = Slic::default();
            for &(k, v) in params {
                match k {
                    "k" | "n_segments" => a.n_segments = v.parse()?,
                    "compactness" => a.compactness = v.parse()?,
                    "sigma" => a.sigma = v.parse()?,
                    _ => return Err(format!("slic has no parameter `{k}`").into()),
                }
            }
            Box::new(move |img| a.segment(img).map(|s| (s, String::new())))
        }
        "felzenszwalb" => {
            let mut a = Felzenszwalb::default();
            for &(k, v) in params {
                match k {
                    "scale" => a.scale = v.parse()?,
                    "sigma" => a.sigma = v.parse()?,
                    "min_size" => a.min_size = v.parse()?,
                    "target" | "target_segments" => a.target_segments = Some(v.parse()?),
                    "enforce_connectivity" => a.enforce_connectivity = v.parse()?,
                    _ => return Err(format!("felzenszwalb has no parameter `{k}`").into()),
                }
            }
            Box::new(move |img| {
                a.segment_with_scale(img)
                    .map(|(s, scale)| (s, format!("scale={scale}")))
            })
        }
        "quickshift" => {
            let mut a = Quickshift::default();
            for &(k, v) in params {
                match k {
                    "ratio" => a.ratio = v.parse()?,
                    "kernel_size" => a.kernel_size = v.parse()?,
                    "max_dist" => a.max_dist = v.parse()?,
                    "sigma" => a.sigma = v.parse()?,
                    "convert_to_lab" => a.convert_to_lab = v.parse()?,
                    "seed" => a.seed = v.parse()?,
                    "min_size" => a.min_size = v.parse()?,
                    "enforce_connectivity" => a.enforce_connectivity = v.parse()?,
                    _ => return Err(format!("quickshift has no parameter `{k}`").into()),
                }
            }
            Box::new(move |img| a.segment(img).map(|s| (s, String::new())))
        }
        other => return Err(format!("unknown algorithm `{other}`").into()),
    })
}

fn write_labels(seg: &Segmentation, path: &Path) -> Res<()> {
    let labels: Vec<u16> = seg
        .labels()
        .iter()
        .map(|&l| u16::try_from(l))
        .collect::<Result<_, _>>()
        .map_err(|_| "more than 65535 segments do not fit a 16-bit PNG")?;
    let buf =
        image::ImageBuffer::<image::Luma<u16>, _>::from_raw(seg.width(), seg.height(), labels)
            .ok_or("label map size")?;
    buf.save(path)?;
    Ok(())
}
