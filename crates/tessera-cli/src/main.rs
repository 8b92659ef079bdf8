//! `tessera`: superpixels for images and folders of images, from the shell.
//!
//! Exit codes: 0 success; 1 when any input failed (each is named on stderr); 2 for usage
//! errors (clap's convention).

mod algo;
mod inputs;
mod labels_io;
mod load;
mod output;
mod segment;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Segment(args) => segment::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}
