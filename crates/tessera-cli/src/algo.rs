//! The algorithms the command line knows, their options, and how they are described in
//! reports. Adding an algorithm: a variant of [`Algo`], an options struct flattened into
//! [`AlgoParams`], and a branch in [`AlgoParams::build`] and [`AlgoParams::describe`].

use anyhow::Result;
use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use tessera::{
    Etps, Felzenszwalb, KMeans, KMeansInit, MeanShift, Neighbourhood, Quickshift, Slic,
    SlicDistance, Superpixels,
};

/// A superpixel algorithm, boxed, ready to run on any thread.
pub type Boxed = Box<dyn Superpixels + Send + Sync>;

/// The algorithms, by command-line name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Algo {
    /// SLIC (Achanta et al. 2012): k-means in CIELAB + position within local windows.
    Slic,
    /// k-means (Lloyd) over all pixels in CIELAB + weighted position, k-d tree search.
    Kmeans,
    /// Mean shift (Comaniciu & Meer 2002) in the joint space-colour domain; ignores -k.
    Meanshift,
    /// Felzenszwalb & Huttenlocher (2004) graph-based regions; -k searches the scale that
    /// gives about that many segments unless --fh-scale is given.
    Felzenszwalb,
    /// Quickshift (Vedaldi & Soatto 2008), mode seeking in colour + position; ignores -k.
    Quickshift,
    /// ETPS (Yao et al. 2015): coarse-to-fine topology-preserving boundary moves on a
    /// CIELAB, position, boundary-length and size energy; connected by construction.
    Etps,
}

impl Algo {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Algo::Slic => "slic",
            Algo::Kmeans => "kmeans",
            Algo::Meanshift => "meanshift",
            Algo::Felzenszwalb => "felzenszwalb",
            Algo::Quickshift => "quickshift",
            Algo::Etps => "etps",
        }
    }
}

/// Algorithm choice and parameters, shared by every subcommand that segments.
#[derive(Debug, Clone, Args)]
pub struct AlgoArgs {
    /// The superpixel algorithm.
    #[arg(long, value_enum, default_value_t = Algo::Slic)]
    pub algo: Algo,

    /// Approximate number of superpixels wanted (not used by meanshift, whose count follows
    /// from its bandwidths and minimum region size).
    #[arg(short = 'k', long = "segments", default_value_t = 400)]
    pub segments: u32,

    #[command(flatten)]
    pub params: AlgoParams,
}

/// Every algorithm's own options (shared by `segment` and `sweep`, which picks algorithms and
/// counts its own way).
#[derive(Debug, Clone, Args)]
pub struct AlgoParams {
    /// Seed of the randomised algorithms (kmeans with --kmeans-init plusplus: 0; quickshift's
    /// tie-breaking: 42, as scikit-image).
    #[arg(long)]
    pub seed: Option<u64>,

    #[command(flatten)]
    pub slic: SlicArgs,

    #[command(flatten)]
    pub kmeans: KMeansArgs,

    #[command(flatten)]
    pub meanshift: MeanShiftArgs,

    #[command(flatten)]
    pub felzenszwalb: FelzenszwalbArgs,

    #[command(flatten)]
    pub quickshift: QuickshiftArgs,

    #[command(flatten)]
    pub etps: EtpsArgs,
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
    /// Distance between pixel and centre.
    #[arg(long, value_enum, default_value_t = DistanceArg::Euclidean)]
    pub distance: DistanceArg,
}

/// SLIC's distance (`tessera::SlicDistance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DistanceArg {
    /// d_c^2 + (m/S)^2 d_s^2, Euclidean: the SLIC paper's and scikit-image's.
    Euclidean,
    /// d_c + (m/S) d_s, city-block, as fast-slic: less compact, closer to edges.
    Manhattan,
}

impl DistanceArg {
    fn name(self) -> &'static str {
        match self {
            DistanceArg::Euclidean => "euclidean",
            DistanceArg::Manhattan => "manhattan",
        }
    }
}

/// How k-means places its first centres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InitArg {
    /// One centre per cell of a regular grid (deterministic).
    Grid,
    /// k-means++ seeding, drawn with --seed.
    Plusplus,
}

/// k-means's options.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "k-means options")]
pub struct KMeansArgs {
    /// Weight of position against colour, as SLIC's compactness (position is scaled by
    /// compactness / grid step); 0 clusters on colour alone (colour quantisation).
    #[arg(long, default_value_t = 10.0)]
    pub kmeans_compactness: f32,
    /// Most Lloyd iterations.
    #[arg(long, default_value_t = 10)]
    pub kmeans_iterations: u32,
    /// Stop once no centre moves farther than this (CIELAB units).
    #[arg(long, default_value_t = 0.1)]
    pub kmeans_tolerance: f32,
    /// Initial centres.
    #[arg(long, value_enum, default_value_t = InitArg::Grid)]
    pub kmeans_init: InitArg,
    /// Do not make each superpixel one connected region (for colour quantisation).
    #[arg(long)]
    pub kmeans_no_connectivity: bool,
}

/// Mean shift's options.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Mean-shift options")]
pub struct MeanShiftArgs {
    /// Spatial bandwidth, in pixels.
    #[arg(long, default_value_t = 7.0)]
    pub hs: f32,
    /// Range (colour) bandwidth, in CIELAB units; larger gives fewer regions.
    #[arg(long, default_value_t = 6.5)]
    pub hr: f32,
    /// Regions smaller than this many pixels are merged into their most similar neighbour;
    /// larger gives fewer regions.
    #[arg(long, default_value_t = 20)]
    pub meanshift_min_size: u32,
    /// Most mean-shift steps per pixel.
    #[arg(long, default_value_t = 100)]
    pub meanshift_iterations: u32,
    /// Let every pixel climb on its own (slower) instead of adopting the mode of a nearby
    /// trajectory.
    #[arg(long)]
    pub meanshift_exact: bool,
}

/// Felzenszwalb's options.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Felzenszwalb options")]
pub struct FelzenszwalbArgs {
    /// The scale k of the merge criterion (higher: larger segments). Without it, the scale is
    /// searched so that about -k segments come out.
    #[arg(long)]
    pub fh_scale: Option<f32>,
    /// Gaussian pre-smoothing, in pixels.
    #[arg(long, default_value_t = 0.8)]
    pub fh_sigma: f32,
    /// Segments smaller than this many pixels are merged into a neighbour.
    #[arg(long, default_value_t = 20)]
    pub fh_min_size: u32,
    /// Keep scikit-image's 8-connected segments instead of 4-connected superpixels.
    #[arg(long)]
    pub fh_8_connected: bool,
    /// Join face neighbours only in the graph (4 in an image, 6 in a volume) instead of all
    /// (8, or 26 in a volume).
    #[arg(long)]
    pub fh_faces_only: bool,
}

/// Quickshift's options.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Quickshift options")]
pub struct QuickshiftArgs {
    /// Balance of colour against space, 0..1 (higher: colour counts more).
    #[arg(long, default_value_t = 1.0)]
    pub qs_ratio: f32,
    /// Width of the Gaussian density kernel, in pixels (higher: fewer segments).
    #[arg(long, default_value_t = 5.0)]
    pub qs_kernel_size: f32,
    /// Links longer than this (in the joint space) are cut (higher: fewer segments).
    #[arg(long, default_value_t = 10.0)]
    pub qs_max_dist: f32,
    /// Gaussian pre-smoothing, in pixels.
    #[arg(long, default_value_t = 0.0)]
    pub qs_sigma: f32,
    /// Pieces smaller than this many pixels join the neighbour of nearest mean colour.
    #[arg(long, default_value_t = Quickshift::default().min_size)]
    pub qs_min_size: u32,
    /// Keep the raw trees (scikit-image's segments, not always connected).
    #[arg(long)]
    pub qs_raw_trees: bool,
}

/// ETPS's options (defaults: `tessera::Etps::default()`, tuned on BSDS500 train).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "ETPS options")]
pub struct EtpsArgs {
    /// Weight of position against colour, as SLIC's compactness (CIELAB units); higher gives
    /// more regular shapes, lower follows edges more closely.
    #[arg(long, default_value_t = Etps::default().compactness, allow_negative_numbers = true)]
    pub etps_compactness: f32,
    /// Weight of the boundary length, per pixel edge between superpixels; higher gives
    /// smoother boundaries.
    #[arg(long, default_value_t = Etps::default().boundary_weight, allow_negative_numbers = true)]
    pub etps_boundary_weight: f32,
    /// Weight of the size term, per pixel a superpixel falls short of --etps-min-size-factor
    /// of its grid cell.
    #[arg(long, default_value_t = Etps::default().size_weight, allow_negative_numbers = true)]
    pub etps_size_weight: f32,
    /// Fraction of its grid cell below which a superpixel pays the size term.
    #[arg(long, default_value_t = Etps::default().min_size_factor, allow_negative_numbers = true)]
    pub etps_min_size_factor: f32,
    /// Most rounds of boundary moves per level of the block hierarchy.
    #[arg(long, default_value_t = Etps::default().max_iterations)]
    pub etps_iterations: u32,
    /// Largest block side at the coarsest level, in pixels.
    #[arg(long, default_value_t = Etps::default().max_block_size)]
    pub etps_max_block: u32,
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

    /// The configured algorithm for a volume whose voxels measure `spacing` (Z, Y, X): SLIC
    /// weights its distances and shapes its seed grid by it, Felzenszwalb scales its
    /// smoothing by it; the other algorithms segment 2-D images only.
    pub fn build_for_volume(&self, algo: Algo, segments: u32, spacing: [f32; 3]) -> Result<Boxed> {
        self.params.build_with_spacing(algo, segments, spacing)
    }
}

impl AlgoParams {
    /// SLIC as configured, asking for `segments` superpixels of voxels `spacing` (Z, Y, X)
    /// (the tiled path needs the concrete parameters).
    pub fn slic_params(&self, segments: u32, spacing: [f32; 3]) -> Slic {
        Slic {
            n_segments: segments,
            compactness: self.slic.compactness,
            max_iterations: self.slic.iterations,
            sigma: [self.slic.sigma; 3],
            spacing,
            slic_zero: self.slic.slic_zero,
            enforce_connectivity: !self.slic.no_connectivity,
            convert_to_lab: self.slic.no_lab.then_some(false),
            min_size_factor: self.slic.min_size_factor,
            perturb_seeds: self.slic.perturb_seeds,
            subsample: self.slic.subsample,
            distance: match self.slic.distance {
                DistanceArg::Euclidean => SlicDistance::Euclidean,
                DistanceArg::Manhattan => SlicDistance::Manhattan,
            },
            ..Slic::default()
        }
    }

    /// The configured algorithm, asking for `segments` superpixels.
    pub fn build(&self, algo: Algo, segments: u32) -> Result<Boxed> {
        self.build_with_spacing(algo, segments, [1.0; 3])
    }

    /// [`AlgoParams::build`] for voxels of size `spacing` (Z, Y, X).
    fn build_with_spacing(&self, algo: Algo, segments: u32, spacing: [f32; 3]) -> Result<Boxed> {
        let boxed: Boxed = match algo {
            Algo::Slic => Box::new(self.slic_params(segments, spacing)),
            Algo::Kmeans => Box::new(self.kmeans_params(segments)),
            Algo::Meanshift => Box::new(self.meanshift_params()),
            Algo::Felzenszwalb => Box::new(Felzenszwalb {
                spacing,
                ..self.felzenszwalb_params(segments)
            }),
            Algo::Quickshift => Box::new(self.quickshift_params()),
            Algo::Etps => Box::new(self.etps_params(segments)),
        };
        boxed.validate()?;
        Ok(boxed)
    }

    /// The algorithm's name and parameters, for reports.
    pub fn describe(&self, algo: Algo, segments: u32) -> Value {
        let params = match algo {
            Algo::Slic => json!({
                "segments": segments,
                "compactness": num(self.slic.compactness),
                "iterations": self.slic.iterations,
                "sigma": num(self.slic.sigma),
                "slic_zero": self.slic.slic_zero,
                "enforce_connectivity": !self.slic.no_connectivity,
                "lab": !self.slic.no_lab,
                "min_size_factor": num(self.slic.min_size_factor),
                "perturb_seeds": self.slic.perturb_seeds,
                "subsample": self.slic.subsample,
                "distance": self.slic.distance.name(),
            }),
            Algo::Kmeans => {
                let k = self.kmeans_params(segments);
                json!({
                    "segments": k.n_segments,
                    "compactness": num(k.compactness),
                    "iterations": k.max_iterations,
                    "tolerance": num(k.tolerance),
                    "init": match k.init {
                        KMeansInit::PlusPlus => "plusplus",
                        _ => "grid",
                    },
                    "seed": k.seed,
                    "enforce_connectivity": k.enforce_connectivity,
                })
            }
            Algo::Meanshift => {
                let m = self.meanshift_params();
                json!({
                    "hs": num(m.hs),
                    "hr": num(m.hr),
                    "min_size": m.min_size,
                    "iterations": m.max_iterations,
                    "basin_speedup": m.basin_speedup,
                })
            }
            Algo::Felzenszwalb => {
                let f = self.felzenszwalb_params(segments);
                json!({
                    "scale": f.target_segments.is_none().then(|| num(f.scale)),
                    "target_segments": f.target_segments,
                    "sigma": num(f.sigma),
                    "min_size": f.min_size,
                    "enforce_connectivity": f.enforce_connectivity,
                })
            }
            Algo::Quickshift => {
                let q = self.quickshift_params();
                json!({
                    "ratio": num(q.ratio),
                    "kernel_size": num(q.kernel_size),
                    "max_dist": num(q.max_dist),
                    "sigma": num(q.sigma),
                    "min_size": q.min_size,
                    "seed": q.seed,
                    "enforce_connectivity": q.enforce_connectivity,
                })
            }
            Algo::Etps => {
                let e = self.etps_params(segments);
                json!({
                    "segments": e.n_segments,
                    "compactness": num(e.compactness),
                    "boundary_weight": num(e.boundary_weight),
                    "size_weight": num(e.size_weight),
                    "min_size_factor": num(e.min_size_factor),
                    "iterations": e.max_iterations,
                    "max_block_size": e.max_block_size,
                })
            }
        };
        json!({ "algorithm": algo.name(), "parameters": params })
    }

    fn kmeans_params(&self, segments: u32) -> KMeans {
        KMeans {
            n_segments: segments,
            compactness: self.kmeans.kmeans_compactness,
            max_iterations: self.kmeans.kmeans_iterations,
            tolerance: self.kmeans.kmeans_tolerance,
            init: match self.kmeans.kmeans_init {
                InitArg::Grid => KMeansInit::Grid,
                InitArg::Plusplus => KMeansInit::PlusPlus,
            },
            seed: self.seed.unwrap_or(KMeans::default().seed),
            enforce_connectivity: !self.kmeans.kmeans_no_connectivity,
            ..KMeans::default()
        }
    }

    fn meanshift_params(&self) -> MeanShift {
        MeanShift {
            hs: self.meanshift.hs,
            hr: self.meanshift.hr,
            min_size: self.meanshift.meanshift_min_size,
            max_iterations: self.meanshift.meanshift_iterations,
            basin_speedup: !self.meanshift.meanshift_exact,
            ..MeanShift::default()
        }
    }

    fn felzenszwalb_params(&self, segments: u32) -> Felzenszwalb {
        let f = &self.felzenszwalb;
        Felzenszwalb {
            scale: f.fh_scale.unwrap_or(Felzenszwalb::default().scale),
            target_segments: f.fh_scale.is_none().then_some(segments),
            sigma: f.fh_sigma,
            min_size: f.fh_min_size,
            enforce_connectivity: !f.fh_8_connected,
            neighbourhood: if f.fh_faces_only {
                Neighbourhood::Faces
            } else {
                Neighbourhood::All
            },
            ..Felzenszwalb::default()
        }
    }

    fn etps_params(&self, segments: u32) -> Etps {
        let e = &self.etps;
        Etps {
            n_segments: segments,
            compactness: e.etps_compactness,
            boundary_weight: e.etps_boundary_weight,
            size_weight: e.etps_size_weight,
            min_size_factor: e.etps_min_size_factor,
            max_iterations: e.etps_iterations,
            max_block_size: e.etps_max_block,
        }
    }

    fn quickshift_params(&self) -> Quickshift {
        let q = &self.quickshift;
        Quickshift {
            ratio: q.qs_ratio,
            kernel_size: q.qs_kernel_size,
            max_dist: q.qs_max_dist,
            sigma: q.qs_sigma,
            min_size: q.qs_min_size,
            enforce_connectivity: !q.qs_raw_trees,
            seed: self.seed.unwrap_or(Quickshift::default().seed),
            ..Quickshift::default()
        }
    }
}

/// An `f32` parameter as the decimal a user typed (0.8, not 0.800000011920929).
fn num(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}
