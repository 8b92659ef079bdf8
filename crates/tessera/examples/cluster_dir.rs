//! Segments every `*.jpg`/`*.png` of a folder with one algorithm on one thread and writes
//! the label maps as 16-bit PNGs `OUT/<id>.png` and the algorithm's time per image to
//! `OUT/timings.tsv` (`<id>\t<seconds>`), for scoring with an external benchmark harness.
//!
//! The time is the CPU time of the thread that segments (Linux: `/proc/thread-self/schedstat`),
//! which on a one-thread run equals the wall time of an unloaded machine and does not grow
//! when other work shares the cores; elsewhere it falls back to wall time.
//!
//! ```text
//! cargo run --release -p tessera --example cluster_dir -- ALGO IMAGES OUT [name=value ...]
//! ALGO: slic | kmeans | meanshift
//! slic:      n_segments, compactness
//! kmeans:    n_segments, compactness, max_iterations, tolerance, init (grid|plusplus), seed
//! meanshift: hs, hr, min_size, max_iterations, basin_speedup
//! ```

use std::error::Error;
use std::io::Write;
use std::path::Path;
use std::time::Instant;
use tessera::{Image, KMeans, KMeansInit, MeanShift, Slic, Superpixels};

type Res<T> = Result<T, Box<dyn Error>>;

fn value<T: std::str::FromStr>(name: &str, v: &str) -> Res<T> {
    v.parse()
        .map_err(|_| format!("cannot read {name}={v}").into())
}

fn algorithm(algo: &str, params: &[String]) -> Res<Box<dyn Superpixels + Sync>> {
    let mut pairs = Vec::new();
    for p in params {
        let (k, v) = p
            .split_once('=')
            .ok_or(format!("expected name=value, got {p}"))?;
        pairs.push((k.to_string(), v.to_string()));
    }
    match algo {
        "slic" => {
            let mut a = Slic::default();
            for (k, v) in &pairs {
                match k.as_str() {
                    "n_segments" => a.n_segments = value(k, v)?,
                    "compactness" => a.compactness = value(k, v)?,
                    _ => return Err(format!("unknown slic parameter {k}").into()),
                }
            }
            Ok(Box::new(a))
        }
        "kmeans" => {
            let mut a = KMeans::default();
            for (k, v) in &pairs {
                match k.as_str() {
                    "n_segments" => a.n_segments = value(k, v)?,
                    "compactness" => a.compactness = value(k, v)?,
                    "max_iterations" => a.max_iterations = value(k, v)?,
                    "tolerance" => a.tolerance = value(k, v)?,
                    "seed" => a.seed = value(k, v)?,
                    "init" => {
                        a.init = match v.as_str() {
                            "grid" => KMeansInit::Grid,
                            "plusplus" => KMeansInit::PlusPlus,
                            _ => return Err(format!("unknown init {v}").into()),
                        }
                    }
                    _ => return Err(format!("unknown kmeans parameter {k}").into()),
                }
            }
            Ok(Box::new(a))
        }
        "meanshift" => {
            let mut a = MeanShift::default();
            for (k, v) in &pairs {
                match k.as_str() {
                    "hs" => a.hs = value(k, v)?,
                    "hr" => a.hr = value(k, v)?,
                    "min_size" => a.min_size = value(k, v)?,
                    "max_iterations" => a.max_iterations = value(k, v)?,
                    "basin_speedup" => a.basin_speedup = value(k, v)?,
                    _ => return Err(format!("unknown meanshift parameter {k}").into()),
                }
            }
            Ok(Box::new(a))
        }
        _ => Err(format!("unknown algorithm {algo}").into()),
    }
}

/// Nanoseconds this thread has run on a CPU, if the system says.
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// Runs `f`, returning its result and its duration in seconds: thread CPU time when
/// available, else wall time.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let (cpu, wall) = (thread_cpu_ns(), Instant::now());
    let out = f();
    let secs = match (cpu, thread_cpu_ns()) {
        (Some(a), Some(b)) => (b - a) as f64 * 1e-9,
        _ => wall.elapsed().as_secs_f64(),
    };
    (out, secs)
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        return Err("usage: cluster_dir ALGO IMAGES OUT [name=value ...]".into());
    }
    let algo = algorithm(&args[0], &args[3..])?;
    algo.validate()?;
    let (input, out) = (Path::new(&args[1]), Path::new(&args[2]));
    std::fs::create_dir_all(out)?;
    let mut files: Vec<_> = std::fs::read_dir(input)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("jpg" | "png")))
        .collect();
    files.sort();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let mut timings = std::fs::File::create(out.join("timings.tsv"))?;
    let (mut total, mut segments) = (0.0, 0u64);
    for path in &files {
        let id = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or("bad file name")?;
        let img = Image::from_dynamic(&image::open(path)?)?;
        let (seg, secs) = pool.install(|| timed(|| algo.segment(&img)));
        let seg = seg?;
        total += secs;
        segments += u64::from(seg.count());
        writeln!(timings, "{id}\t{secs:.6}")?;
        let labels: Vec<u16> = seg
            .labels()
            .iter()
            .map(|&l| u16::try_from(l))
            .collect::<Result<_, _>>()?;
        image::ImageBuffer::<image::Luma<u16>, _>::from_raw(seg.width(), seg.height(), labels)
            .ok_or("label buffer size")?
            .save(out.join(format!("{id}.png")))?;
    }
    let n = files.len().max(1) as f64;
    eprintln!(
        "{}: {} images, {:.1} segments and {:.1} ms per image",
        args[0],
        files.len(),
        segments as f64 / n,
        1000.0 * total / n
    );
    Ok(())
}
