//! `tessera`: superpixels for images and folders of images, from the shell.
//!
//! Exit codes: 0 success; 1 when any input failed (each is named on stderr); 2 for usage
//! errors (clap's convention); 130 when interrupted by Ctrl-C (after the images in flight).

/// mimalloc rather than the system allocator: glibc hands a worker thread's freed buffers
/// back to the kernel after nearly every image and then page-faults them in again for the next
/// one, which cost SLIC about 1.5 ms per BSDS500 image (95k page faults over 100 images).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod algo;
mod block_grid;
mod chart;
mod class_maps;
mod compare;
mod eval;
mod features_export;
mod ground_truth;
mod inputs;
mod interrupt;
mod label;
mod label_model;
mod labels_io;
mod learn;
mod load;
mod load_args;
mod make_big_tiff;
mod model_export;
mod output;
mod overlay_tiff;
// A few accessors are for the tests only (sizes, caches, pending tiles).
#[allow(dead_code)]
mod preview;
mod region_table_out;
mod segment;
mod shard;
mod sweep;
mod threads;
// A few accessors are for the tests only (sizes, caches, pending tiles).
#[allow(dead_code)]
mod tiff_window;
// A few accessors are for the tests only (sizes, caches, pending tiles).
#[allow(dead_code)]
mod tiff_stream;
mod tiled_segment;
mod tiled_tiff;
mod volume_load;
mod volume_out;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Superpixel over-segmentation: fast, deterministic, scriptable.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Segment image files and folders into superpixels; write overlays and label maps.
    Segment(segment::SegmentArgs),
    /// Score label maps against human ground truth (BSDS layout).
    Eval(eval::EvalArgs),
    /// Compare two label maps as partitions; exit 1 when they differ beyond --tolerance.
    Compare(compare::CompareArgs),
    /// Run algorithms over segment counts, score them against ground truth, chart the curves.
    Sweep(sweep::SweepArgs),
    /// Label the superpixels of an image with a CRF, from scribbles or class probabilities.
    Label(label::LabelArgs),
    /// Learn a superpixel CRF from labelled images (structured SVM); use it with `label --model`.
    Learn(learn::LearnArgs),
    /// Write a huge tiled RGB BigTIFF, tile by tile, from mirrored copies of images (for
    /// benchmarks and tests of the tiled path).
    #[command(hide = true)]
    MakeBigTiff(make_big_tiff::MakeBigTiffArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Segment(args) => segment::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Label(args) => label::run(args),
        Command::Learn(args) => learn::run(args),
        Command::MakeBigTiff(args) => make_big_tiff::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}
