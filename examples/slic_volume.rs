//! SLIC on `.npy` volumes and many-channel images, and the phantom generator, for
//! `scripts/bench-volume.py` (until the CLI reads volumes).
//!
//! ```text
//! slic_volume phantom ct|small SEED PREFIX
//!     writes PREFIX.image.npy (f32, slices x rows x columns) and PREFIX.truth.npy (u32)
//! slic_volume segment IN.npy OUT.npy K COMPACTNESS [--spacing Z,Y,X] [--lab]
//!     [--no-connectivity] [--image] [--threads N] [--repeat N]
//!     IN holds f32 or f64 samples: (Z, Y, X) a grey volume, (Z, Y, X, C) a volume of C
//!     channels, or with --image (Y, X, C) a 2-D image of C channels. Writes the labels as
//!     u32 of the spatial shape, and prints one JSON line: the time of the SLIC call alone
//!     (with --repeat N, the fastest of N runs in the process), the supervoxel count, and
//!     the process' peak resident memory before and after it.
//! ```
//!
//! Without `--lab` the channels are rescaled jointly to 0..1 and clustered raw, as
//! scikit-image does for grey and for other than three channels.

use ndarray::{ArrayD, IxDyn};
use ndarray_npy::{read_npy, write_npy};
use std::path::Path;
use std::time::Instant;
use tessera::{Image, Slic, Superpixels};
use tessera_suite::phantom::{PhantomSpec, phantom};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&args) {
        eprintln!("slic_volume: {e}");
        std::process::exit(1);
    }
}

fn run(args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("phantom") if args.len() == 4 => {
            let seed: u64 = args[2].parse().map_err(|e| format!("seed {}: {e}", args[2]))?;
            let spec = match args[1].as_str() {
                "ct" => PhantomSpec::ct_like(seed),
                "small" => PhantomSpec::small(seed),
                other => return Err(format!("unknown phantom {other} (ct or small)")),
            };
            let p = phantom(&spec);
            let shape = IxDyn(&p.shape);
            let tessera::Samples::F32(v) = p.image.samples() else {
                return Err("the phantom is float".into());
            };
            let image = ArrayD::from_shape_vec(shape.clone(), v.clone()).map_err(|e| e.to_string())?;
            let truth = ArrayD::from_shape_vec(shape, p.truth).map_err(|e| e.to_string())?;
            let prefix = &args[3];
            write_npy(format!("{prefix}.image.npy"), &image).map_err(|e| e.to_string())?;
            write_npy(format!("{prefix}.truth.npy"), &truth).map_err(|e| e.to_string())?;
            println!(
                "{{\"shape\": {:?}, \"spacing\": {:?}}}",
                p.shape, p.spacing
            );
            Ok(())
        }
        Some("segment") if args.len() >= 5 => segment(args),
        _ => Err("usage: slic_volume phantom ct|small SEED PREFIX | slic_volume segment IN.npy OUT.npy K COMPACTNESS [--spacing Z,Y,X] [--lab] [--no-connectivity] [--image] [--threads N] [--repeat N]".into()),
    }
}

fn segment(args: &[String]) -> Result<(), String> {
    let (input, output) = (Path::new(&args[1]), Path::new(&args[2]));
    let k: u32 = args[3].parse().map_err(|e| format!("K {}: {e}", args[3]))?;
    let compactness: f32 = args[4]
        .parse()
        .map_err(|e| format!("COMPACTNESS {}: {e}", args[4]))?;
    let mut slic = Slic {
        n_segments: k,
        compactness,
        convert_to_lab: Some(false),
        ..Slic::default()
    };
    let (mut as_image, mut threads, mut repeat) = (false, 1usize, 1usize);
    let mut rest = args[5..].iter();
    while let Some(a) = rest.next() {
        match a.as_str() {
            "--spacing" => {
                let v = rest.next().ok_or("--spacing needs Z,Y,X")?;
                let parts: Vec<f32> = v
                    .split(',')
                    .map(|s| s.trim().parse::<f32>())
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("--spacing {v}: {e}"))?;
                slic.spacing = parts
                    .try_into()
                    .map_err(|_| format!("--spacing {v}: three values wanted"))?;
            }
            "--lab" => slic.convert_to_lab = None,
            "--no-connectivity" => slic.enforce_connectivity = false,
            "--image" => as_image = true,
            "--repeat" => {
                let v = rest.next().ok_or("--repeat needs a count")?;
                repeat = v.parse().map_err(|e| format!("--repeat {v}: {e}"))?;
                repeat = repeat.max(1);
            }
            "--threads" => {
                let v = rest.next().ok_or("--threads needs a count")?;
                threads = v.parse().map_err(|e| format!("--threads {v}: {e}"))?;
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    let array: ArrayD<f32> = match read_npy::<_, ArrayD<f32>>(input) {
        Ok(a) => a,
        Err(_) => read_npy::<_, ArrayD<f64>>(input)
            .map_err(|e| format!("{}: {e}", input.display()))?
            .mapv(|v| v as f32),
    };
    let dims = array.shape().to_vec();
    let (d, h, w, c, spatial) = match (dims.as_slice(), as_image) {
        (&[h, w, c], true) => (1, h, w, c, vec![h, w]),
        (&[d, h, w], false) => (d, h, w, 1, vec![d, h, w]),
        (&[d, h, w, c], false) => (d, h, w, c, vec![d, h, w]),
        _ => {
            return Err(format!(
                "{}: shape {dims:?} is not (Z, Y, X[, C]) or, with --image, (Y, X, C)",
                input.display()
            ));
        }
    };
    let samples: Vec<f32> = array.iter().copied().collect();
    drop(array);
    let to_u32 = |v: usize| u32::try_from(v).map_err(|_| format!("{v} is too large"));
    let channels = u16::try_from(c).map_err(|_| format!("{c} channels is too many"))?;
    let image = Image::new_volume(
        to_u32(d)?,
        to_u32(w)?,
        to_u32(h)?,
        channels,
        tessera::Samples::F32(samples),
    )
    .map_err(|e| format!("{}: {e}", input.display()))?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| e.to_string())?;
    let before = peak_memory_kib();
    // With --repeat, the fastest of the runs (wall and CPU time each): on a shared machine
    // the other runs measure the neighbours as much as the code.
    let (mut seconds, mut cpu, mut seg) = (f64::INFINITY, f64::INFINITY, None);
    for _ in 0..repeat {
        let cpu_before = cpu_ns();
        let start = Instant::now();
        let run = pool
            .install(|| slic.segment(&image))
            .map_err(|e| format!("{}: {e}", input.display()))?;
        seconds = seconds.min(start.elapsed().as_secs_f64());
        cpu = cpu.min(
            cpu_ns()
                .zip(cpu_before)
                .map_or(0.0, |(a, b)| a.saturating_sub(b) as f64 * 1e-9),
        );
        seg = Some(run);
    }
    let seg = seg.ok_or("no run")?;
    let after = peak_memory_kib();
    let count = seg.count();
    let labels =
        ArrayD::from_shape_vec(IxDyn(&spatial), seg.into_labels()).map_err(|e| e.to_string())?;
    write_npy(output, &labels).map_err(|e| format!("{}: {e}", output.display()))?;
    println!(
        "{{\"seconds\": {seconds:.6}, \"cpu_seconds\": {cpu:.6}, \"count\": {count}, \"peak_kib_before\": {}, \"peak_kib_after\": {}}}",
        before.unwrap_or(0),
        after.unwrap_or(0)
    );
    Ok(())
}

/// The time all the process' threads have run on a CPU so far (`/proc/self/task/*/schedstat`,
/// Linux), in nanoseconds: unlike the wall clock, it does not count the time other processes
/// had the cores.
fn cpu_ns() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// The process' peak resident set size so far (`VmHWM`, Linux), in KiB.
fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
