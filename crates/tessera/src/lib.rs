//! # tessera
//!
//! Superpixel over-segmentation, fast and deterministic.
//!
//! Every algorithm implements [`Superpixels`]: give it an [`Image`] (from any `image`
//! buffer or an `ndarray` view) and get a [`Segmentation`], a label map whose labels are
//! `0..count`, each used, one per pixel.
//!
//! ```
//! use tessera::{Image, Slic, Superpixels, render};
//!
//! let photo = image::open(concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/coffee.png"))?;
//! let img = Image::from_dynamic(&photo)?;
//! let seg = Slic { n_segments: 400, ..Slic::default() }.segment(&img)?;
//! let overlay = render::mark_boundaries(&photo.to_rgb8(), &seg, &Default::default())?;
//! assert_eq!(overlay.dimensions(), photo.to_rgb8().dimensions());
//! assert!(seg.sizes().iter().all(|&n| n > 0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod algorithm;
mod color;
pub mod compare;
pub mod connectivity;
mod contingency;
mod error;
mod etps;
mod felzenszwalb;
mod graph;
mod image;
mod kmeans;
mod meanshift;
pub mod metrics;
mod quickshift;
mod region_table;
pub mod render;
mod segmentation;
mod slic;
mod smoothing;
#[cfg(test)]
mod test_support;
pub mod tiled;

pub use crate::algorithm::Superpixels;
pub use crate::color::cielab_planes;
pub use crate::error::{Error, Result};
pub use crate::etps::Etps;
pub use crate::felzenszwalb::{Felzenszwalb, Neighbourhood};
pub use crate::image::{Image, Mask, Samples};
pub use crate::kmeans::{KMeans, KMeansInit};
pub use crate::meanshift::MeanShift;
pub use crate::quickshift::Quickshift;
pub use crate::region_table::{Border, Region, RegionTable};
pub use crate::segmentation::{BoundaryMode, Segmentation, UNLABELLED};
pub use crate::slic::{Slic, SlicDistance, SlicSeeds};

/// The README's Rust examples, compiled and run as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
