//! `tessera compare`: two label maps compared as partitions (renumbering is no change), for
//! golden-image regression tests.

use crate::labels_io::read_segmentation;
use crate::output::write_png;
use anyhow::Result;
use clap::Args;
use image::ExtendedColorType;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use tessera::compare::compare;

/// Options of `tessera compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The reference label map (`.labels.png`/`.labels.npy` as `segment` writes them, or a
    /// plain label PNG/`.npy`).
    pub a: PathBuf,

    /// The label map to compare with it.
    pub b: PathBuf,

    /// Write a PNG of the changed pixels (red) over the unchanged ones (grey shades of the
    /// reference's segments).
    #[arg(long, value_name = "FILE")]
    pub diff: Option<PathBuf>,

    /// Largest fraction of changed pixels that still counts as equal (exit 0).
    #[arg(long, default_value_t = 0.0, value_name = "F")]
    pub tolerance: f64,

    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `tessera compare`: exit 0 within the tolerance, 1 beyond it, 2 when a map cannot be
/// read or the two differ in size.
pub fn run(args: CompareArgs) -> Result<ExitCode> {
    if !(0.0..=1.0).contains(&args.tolerance) {
        eprintln!("error: --tolerance must lie in 0..=1");
        return Ok(ExitCode::from(2));
    }
    // A map that cannot be read or compared is an error (exit 2), not a difference (exit 1).
    let read = || -> Result<_> {
        let a = read_segmentation(&args.a)?;
        let b = read_segmentation(&args.b)?;
        let c = compare(&a, &b)?;
        Ok((a, b, c))
    };
    let (a, b, c) = match read() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let within = c.changed_fraction <= args.tolerance;
    if args.json {
        println!(
            "{}",
            json!({
                "changed_pixels": c.changed_pixels,
                "changed_fraction": c.changed_fraction,
                "variation_of_information": c.variation_of_information,
                "adjusted_rand_index": c.adjusted_rand_index,
                "segments_a": a.count(),
                "segments_b": b.count(),
                "within_tolerance": within,
            })
        );
    } else {
        println!(
            "changed pixels            {} of {} ({:.4}%)",
            c.changed_pixels,
            c.changed.len(),
            c.changed_fraction * 100.0
        );
        println!(
            "variation of information  {:.6}",
            c.variation_of_information
        );
        println!("adjusted Rand index       {:.6}", c.adjusted_rand_index);
        println!("segments                  {} / {}", a.count(), b.count());
    }
    if let Some(path) = &args.diff {
        let mut rgb = Vec::with_capacity(c.changed.len() * 3);
        for (&changed, &l) in c.changed.iter().zip(a.labels()) {
            if changed {
                rgb.extend_from_slice(&[255, 0, 0]);
            } else {
                // Neighbouring segments in distinct light greys, so the layout stays legible.
                let g = 150 + (l.wrapping_mul(2_654_435_761) >> 27) as u8 * 3;
                rgb.extend_from_slice(&[g, g, g]);
            }
        }
        write_png(path, &rgb, a.width(), a.height(), ExtendedColorType::Rgb8)?;
    }
    Ok(if within {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
