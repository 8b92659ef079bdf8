//! The algorithms the command line knows, their options, and how they are described in
//! reports. Adding an algorithm: a variant of [`Algo`], an options struct flattened into
//! [`AlgoParams`], and a branch in [`AlgoParams::build`] and [`AlgoParams::describe`].

use anyhow::Result;
use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use tessera::{Slic, Superpixels};

/// A superpixel algorithm, boxed, ready to run on any thread.
pub type Boxed = Box<dyn Superpixels + Send + Sync>;

/// The algorithms, by command-line name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Algo {
    /// SLIC (Achanta et al. 2012): k-means in CIELAB + position within local windows.
    Slic,
}

impl Algo {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Algo::Slic => "slic",
        }
    }
}

/// Algorithm choice and parameters, shared by every subcommand that segments.
#[derive(Debug, Clone, Args)]
pub struct AlgoArgs {
    /// The superpixel algorithm.
    #[arg(long, value_enum, default_value_t = Algo::Slic)]
    pub algo: Algo,

    /// Approximate number of superpixels wanted.
    #[arg(short = 'k', long = "segments", default_value_t = 400)]
    pub segments: u32,

    #[command(flatten)]
    pub params: AlgoParams,
}

/// Every algorithm's own options (shared by `segment` and `sweep`, which picks algorithms and
/// counts its own way).
#[derive(Debug, Clone, Args)]
pub struct AlgoParams {
    #[command(flatten)]
    pub slic: SlicArgs,
}

/// SLIC's options.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "SLIC options")]
pub struct SlicArgs {
    /// Balance of colour against space (CIELAB units); higher gives more regular shapes.
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    pub compactness: f32,
    /// Assignment/update iterations.
    #[arg(long, default_value_t = 10)]
    pub iterations: u32,
    /// Gaussian pre-smoothing, in pixels (0: none).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub sigma: f32,
    /// SLIC-zero: adapt the compactness of each superpixel to its colour spread.
    #[arg(long)]
    pub slic_zero: bool,
    /// Do not make each superpixel one connected region.
    #[arg(long)]
    pub no_connectivity: bool,
    /// Cluster the raw channels (rescaled to 0..1) instead of CIELAB.
    #[arg(long)]
    pub no_lab: bool,
    /// Move each seed to the lowest-gradient pixel of its 3x3 neighbourhood (SLIC paper).
    #[arg(long)]
    pub perturb_seeds: bool,
    /// Row subsampling (fast-slic's speed-up): each iteration works on every Nth row, then a
    /// last pass assigns every pixel. 1 is exact SLIC.
    #[arg(long, default_value_t = 1)]
    pub subsample: u32,
    /// Merge regions smaller than this fraction of the nominal superpixel size.
    #[arg(long, default_value_t = 0.5)]
    pub min_size_factor: f32,
}

impl AlgoArgs {
    /// The configured algorithm, asking for `segments` superpixels.
    pub fn build(&self, algo: Algo, segments: u32) -> Result<Boxed> {
        self.params.build(algo, segments)
    }

    /// The algorithm's name and parameters, for reports.
    pub fn describe(&self, algo: Algo, segments: u32) -> Value {
        self.params.describe(algo, segments)
    }
}

impl AlgoParams {
    /// The configured algorithm, asking for `segments` superpixels.
    pub fn build(&self, algo: Algo, segments: u32) -> Result<Boxed> {
        let boxed: Boxed = match algo {
            Algo::Slic => Box::new(Slic {
                n_segments: segments,
                compactness: self.slic.compactness,
                max_iterations: self.slic.iterations,
                sigma: self.slic.sigma,
                slic_zero: self.slic.slic_zero,
                enforce_connectivity: !self.slic.no_connectivity,
                convert_to_lab: self.slic.no_lab.then_some(false),
                min_size_factor: self.slic.min_size_factor,
                perturb_seeds: self.slic.perturb_seeds,
                subsample: self.slic.subsample,
                ..Slic::default()
            }),
        };
        boxed.validate()?;
        Ok(boxed)
    }

    /// The algorithm's name and parameters, for reports.
    pub fn describe(&self, algo: Algo, segments: u32) -> Value {
        let params = match algo {
            Algo::Slic => json!({
                "segments": segments,
                "compactness": self.slic.compactness,
                "iterations": self.slic.iterations,
                "sigma": self.slic.sigma,
                "slic_zero": self.slic.slic_zero,
                "enforce_connectivity": !self.slic.no_connectivity,
                "lab": !self.slic.no_lab,
                "min_size_factor": self.slic.min_size_factor,
                "perturb_seeds": self.slic.perturb_seeds,
                "subsample": self.slic.subsample,
            }),
        };
        json!({ "algorithm": algo.name(), "parameters": params })
    }
}
