//! Felzenszwalb & Huttenlocher's graph-based segmentation ("Efficient Graph-Based Image
//! Segmentation", IJCV 2004), under scikit-image's parameter names, defaults and scales
//! (`skimage.segmentation.felzenszwalb`), plus a search for the `scale` that gives a wanted
//! number of segments.
//!
//! How it runs: the channels (integer samples scaled to 0..1, float samples as they are, as
//! scikit-image's `img_as_float`; any number of channels) are smoothed with a Gaussian of
//! standard deviation `sigma`, one channel at a time; every pixel is joined to its 8
//! neighbours (or its 4, with [`Neighbourhood::Faces`]) by an edge weighted by the Euclidean
//! distance between their values over all channels jointly; the edges are sorted by weight (a
//! stable radix sort: ties keep row-major order); then, edge by edge, two components `C1`, `C2` are merged when
//! `w <= min(Int(C1) + k / |C1|, Int(C2) + k / |C2|)`, where `Int(C)` is the largest weight
//! in `C`'s minimum spanning tree and `k = scale / 255` (so that `scale` means what it means
//! for 8-bit images in the authors' code and in scikit-image). A second pass over the sorted
//! edges merges components smaller than `min_size`.
//!
//! Unlike scikit-image's, whose segments may be joined only diagonally, every segment here
//! is one 4-connected region: each segment is split into its 4-connected pieces and pieces
//! smaller than `min_size` are merged along the cheapest 4-neighbour edges, as in the
//! `min_size` pass.
//!
//! Volumes (scikit-image's `felzenszwalb` is 2-D only): the same algorithm on the graph of
//! the voxels, each joined to its 26 neighbours (face, edge and corner: the 3-D counterpart
//! of the 8 in 2-D) or to its 6 face neighbours; the smoothing runs along the three axes
//! ([`Felzenszwalb::spacing`] makes it anisotropic), and connectivity enforcement gives
//! 6-connected supervoxels. The edge weights stay colour differences: the original has no
//! geometric term, and none is added for anisotropic voxels (a neighbour further away is not
//! made less similar), so `spacing` acts through the smoothing only.

use crate::algorithm::Superpixels;
use crate::error::{Error, Result};
use crate::graph::{self, Edge, Forest, Lattice, Plane, connected_regions, merge_small};
use crate::image::Image;
use crate::segmentation::{Segmentation, relabel_in_place};
use crate::smoothing::{gaussian, gaussian_volume};

/// Most counted trials of the `scale` search for a target segment count.
const SEARCH_TRIALS: usize = 24;
/// Most labelled runs of the search.
const SEARCH_ROUNDS: usize = 3;
/// A labelled run further than this fraction off the target (5%) sends the search on.
const SEARCH_RECHECK: f64 = 0.05;
/// Counted segments per segment after the 4-connectivity split: the mean over BSDS500 train
/// at 400 segments (1.023).
const CONNECTIVITY_LOSS: f64 = 1.023;
/// The `scale` search runs between these values.
const SEARCH_RANGE: (f64, f64) = (1e-3, 1e7);
/// The search stops at a count within this fraction of the target (1%).
const SEARCH_TOLERANCE: f64 = 0.01;
/// ... or once its bracket is this narrow in `ln scale`.
const SEARCH_RESOLUTION: f64 = 1e-4;
/// The first trial's scale, per pixel per wanted segment and per unit of the mean edge
/// weight: `ln scale` against `ln(pixels / segments * mean weight)` over BSDS500 train at 400
/// segments has this mean offset (10.45) and a spread of 0.19, a third of the spread without
/// the mean weight.
const GUESS_SCALE: f64 = 10.45;
/// `d ln count / d ln scale` assumed before two trials measure it (about BSDS500's near 400
/// segments).
const GUESS_SLOPE: f64 = -0.8;

/// Which neighbours [`Felzenszwalb`]'s graph joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Neighbourhood {
    /// Face neighbours only: 4 in an image, 6 in a volume. Every segment is then connected
    /// along face neighbours by construction.
    Faces,
    /// Face, edge and corner neighbours: 8 in an image (the original's and scikit-image's
    /// graph), 26 in a volume (default).
    #[default]
    All,
}

/// Felzenszwalb–Huttenlocher parameters. `Default` gives scikit-image's defaults.
///
/// ```
/// use tessera::{Felzenszwalb, Image, Superpixels};
/// let img = image::open(concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/chelsea.png")).unwrap();
/// let img = Image::from_dynamic(&img).unwrap();
/// let seg = Felzenszwalb { scale: 100.0, ..Felzenszwalb::default() }.segment(&img).unwrap();
/// assert_eq!(seg.disconnected_count(), 0);
/// assert!(seg.sizes().iter().all(|&s| s >= 20)); // min_size
///
/// // Ask for about 300 segments and learn which scale gives them.
/// let (seg, scale) = Felzenszwalb::with_target(300).segment_with_scale(&img).unwrap();
/// assert!(seg.count() > 240 && seg.count() < 360, "{}", seg.count());
/// assert!(scale > 0.0);
/// ```
///
/// Volumes: two flat boxes give two supervoxels.
///
/// ```
/// use tessera::{Felzenszwalb, Image, Samples, Superpixels};
/// // 4 slices of 5x3 voxels: the first two dark, the last two bright.
/// let v: Vec<u8> = (0..4 * 5 * 3).map(|i| if i < 2 * 5 * 3 { 20 } else { 200 }).collect();
/// let vol = Image::new_volume(4, 5, 3, 1, Samples::U8(v))?;
/// let seg = Felzenszwalb { scale: 10.0, ..Felzenszwalb::default() }.segment(&vol)?;
/// assert_eq!((seg.depth(), seg.count()), (4, 2));
/// assert_eq!((seg.label_at(4, 2, 1), seg.label_at(0, 0, 2)), (Some(0), Some(1)));
/// # Ok::<(), tessera::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Felzenszwalb {
    /// `k`, the observation scale (1). Higher gives fewer, larger segments. In the units of
    /// 8-bit colour differences: the merge threshold is `scale / 255 / |C|` on colours scaled
    /// to 0..1. Ignored when `target_segments` is set.
    pub scale: f32,
    /// Standard deviation of the Gaussian pre-smoothing (0.8; 0: none), in pixels, or in
    /// the units of `spacing`: along each axis it is `sigma / spacing` pixels.
    pub sigma: f32,
    /// The size of a pixel (voxel) along each axis, `[slices, rows, columns]` (`[1, 1, 1]`;
    /// the slices entry is ignored for a 2-D image). Used only to scale `sigma` per axis,
    /// as scikit-image's `slic` does: the merge criterion has no geometric term.
    pub spacing: [f32; 3],
    /// The graph's neighbours: all 8 (26 in a volume) or the 4 (6) face neighbours
    /// ([`Neighbourhood::All`]).
    pub neighbourhood: Neighbourhood,
    /// Segments smaller than this many pixels (voxels) are merged into a neighbour (20).
    pub min_size: u32,
    /// When set, `scale` is searched (bisection on a log scale, between 1e-3 and 1e7) for
    /// the segment count nearest this one; [`Felzenszwalb::segment_with_scale`] tells which
    /// scale was chosen (None).
    pub target_segments: Option<u32>,
    /// Make every segment one 4-connected region (6-connected, in a volume) (true): split
    /// segments joined only diagonally and merge pieces smaller than `min_size`. With false,
    /// segments are scikit-image's: 8-connected (26-connected), possibly joined through a
    /// diagonal step only. Nothing to do with [`Neighbourhood::Faces`].
    pub enforce_connectivity: bool,
}

impl Default for Felzenszwalb {
    fn default() -> Self {
        Felzenszwalb {
            scale: 1.0,
            sigma: 0.8,
            spacing: [1.0, 1.0, 1.0],
            neighbourhood: Neighbourhood::All,
            min_size: 20,
            target_segments: None,
            enforce_connectivity: true,
        }
    }
}

impl Felzenszwalb {
    /// Default parameters, with a target of `segments` segments instead of a fixed scale.
    pub fn with_target(segments: u32) -> Self {
        Felzenszwalb {
            target_segments: Some(segments),
            ..Felzenszwalb::default()
        }
    }

    /// Segments `image` and returns the scale used: `scale` itself, or the one the search
    /// chose when `target_segments` is set.
    ///
    /// # Errors
    /// As [`Superpixels::segment`].
    pub fn segment_with_scale(&self, image: &Image) -> Result<(Segmentation, f32)> {
        self.validate()?;
        let (w, h, d) = (
            image.width() as usize,
            image.height() as usize,
            image.depth() as usize,
        );
        let mut planes = image.to_planes();
        let sigma = self.spacing.map(|s| self.sigma / s);
        let neighbourhood = match self.neighbourhood {
            Neighbourhood::Faces => graph::Neighbourhood::Four,
            Neighbourhood::All => graph::Neighbourhood::Eight,
        };
        let shape = Shape {
            width: image.width(),
            height: image.height(),
            pixels: image.pixel_count(),
        };
        if image.is_volume() {
            if self.sigma > 0.0 {
                planes
                    .iter_mut()
                    .for_each(|p| gaussian_volume(p, w, h, d, sigma));
            }
            let refs: Vec<&[f32]> = planes.iter().map(|p| p.as_slice()).collect();
            let (edges, lattice) = graph::sorted_volume_edges(&refs, w, h, d, neighbourhood)?;
            drop(planes);
            return Ok(self.run(shape, &edges, lattice));
        }
        if self.sigma > 0.0 {
            planes
                .iter_mut()
                .for_each(|p| gaussian(p, w, h, sigma[1], sigma[2]));
        }
        let refs: Vec<&[f32]> = planes.iter().map(|p| p.as_slice()).collect();
        let edges = graph::sorted_edges(&refs, w, h, neighbourhood)?;
        drop(planes);
        Ok(self.run(shape, &edges, Plane { width: w }))
    }

    /// The segmentation at `scale`, or the search for `target_segments`, on sorted edges.
    fn run<L: Lattice>(&self, shape: Shape, edges: &[Edge], lattice: L) -> (Segmentation, f32) {
        match self.target_segments {
            None => (
                self.segment_graph(shape, edges, lattice, self.scale),
                self.scale,
            ),
            Some(target) => self.search(shape, edges, lattice, target),
        }
    }

    /// The segmentation, and its scale, whose count comes nearest `target`.
    ///
    /// Smoothing, edges and sorting are shared by every trial: only the merge passes run
    /// again. The trials are counted, not labelled: the merge and `min_size` passes only
    /// ([`count_segments`]), which leave out the 4-connectivity split. That split usually
    /// lowers the count by about 2% (pieces joined only diagonally that are too small to stand
    /// alone dissolve into their neighbours), so the counted trials aim at
    /// [`CONNECTIVITY_LOSS`] times the target, and one labelled run at the chosen scale gives
    /// the result. Should that run land more than [`SEARCH_RECHECK`] off the target, the
    /// counted goal is shifted by the miss and the search goes on from the trials it has (at
    /// most [`SEARCH_ROUNDS`] labelled runs); the nearest labelled run is returned.
    fn search<L: Lattice>(
        &self,
        shape: Shape,
        edges: &[Edge],
        lattice: L,
        target: u32,
    ) -> (Segmentation, f32) {
        let mut search = ScaleSearch {
            edges,
            lattice,
            pixels: shape.pixels,
            min_size: self.min_size,
            trials: Vec::new(),
        };
        // With face neighbours only, segments are connected already: nothing is lost.
        let connect = self.enforce_connectivity && self.neighbourhood == Neighbourhood::All;
        let mut goal = f64::from(target) * if connect { CONNECTIVITY_LOSS } else { 1.0 };
        let mut best: Option<(Segmentation, f32)> = None;
        for _ in 0..SEARCH_ROUNDS {
            let scale = search.nearest(goal.max(1.0), f64::from(target) * SEARCH_TOLERANCE);
            if best.as_ref().is_some_and(|b| b.1 == scale) {
                break;
            }
            let seg = self.segment_graph(shape, edges, lattice, scale);
            let miss = f64::from(seg.count()) - f64::from(target);
            if best
                .as_ref()
                .is_none_or(|b| b.0.count().abs_diff(target) > seg.count().abs_diff(target))
            {
                best = Some((seg, scale));
            }
            if !connect || miss.abs() <= f64::from(target) * SEARCH_RECHECK {
                break;
            }
            goal -= miss;
        }
        // At least one round ran.
        best.unwrap_or_else(|| (self.segment_graph(shape, edges, lattice, 1.0), 1.0))
    }
}

/// The size of the image or volume being segmented.
#[derive(Debug, Clone, Copy)]
struct Shape {
    width: u32,
    height: u32,
    /// Pixels (voxels) in all.
    pixels: usize,
}

/// The counted trials of the scale search, kept from one goal to the next.
struct ScaleSearch<'a, L> {
    edges: &'a [Edge],
    lattice: L,
    pixels: usize,
    min_size: u32,
    /// `(ln scale, ln count, count)` of every trial so far.
    trials: Vec<(f64, f64, f64)>,
}

impl<L: Lattice> ScaleSearch<'_, L> {
    /// The count of the trial at `ln scale = x`.
    fn trial(&mut self, x: f64) -> f64 {
        let k = x.exp() as f32 / 255.0;
        let count = count_segments(self.edges, self.lattice, self.pixels, k, self.min_size);
        let count = f64::from(count.max(1));
        self.trials.push((x, count.ln(), count));
        count
    }

    /// The scale of the trial whose count comes nearest `goal` (the first on equal distance),
    /// found by a secant search on `(ln scale, ln count)` (the count falls roughly as a power
    /// of the scale) from a guess proportional to the pixels per segment and the mean edge weight, bracketing the goal
    /// as soon as it can and interpolating inside the bracket. Stops within `tolerance` of the
    /// goal, on a bracket too narrow to split, at the end of the range, or after
    /// [`SEARCH_TRIALS`] trials in all.
    fn nearest(&mut self, goal: f64, tolerance: f64) -> f32 {
        let ln_goal = goal.ln();
        let (min_x, max_x) = (SEARCH_RANGE.0.ln(), SEARCH_RANGE.1.ln());
        if self.trials.is_empty() {
            let total: f64 = self.edges.iter().map(|e| f64::from(e.weight)).sum();
            let mean = total / self.edges.len().max(1) as f64;
            let x = (GUESS_SCALE * self.pixels as f64 / goal * mean).ln();
            self.trial(x.clamp(min_x, max_x));
        }
        let near = |t: &(f64, f64, f64)| (t.2 - goal).abs() <= tolerance;
        while !self.trials.iter().any(near) && self.trials.len() < SEARCH_TRIALS {
            // The tightest bracket so far: the largest scale above the goal and the smallest
            // below it.
            let above = (self.trials.iter())
                .filter(|t| t.1 > ln_goal)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            let below = (self.trials.iter())
                .filter(|t| t.1 < ln_goal)
                .min_by(|a, b| a.0.total_cmp(&b.0));
            let x = match (above, below) {
                (Some(lo), Some(hi)) if lo.0 < hi.0 => {
                    if hi.0 - lo.0 < SEARCH_RESOLUTION {
                        break;
                    }
                    // Interpolate, kept off the ends so that a curved stretch cannot stall.
                    let t = ((lo.1 - ln_goal) / (lo.1 - hi.1)).clamp(0.1, 0.9);
                    lo.0 + t * (hi.0 - lo.0)
                }
                (Some(lo), Some(hi)) => {
                    if (hi.0 - lo.0).abs() < SEARCH_RESOLUTION {
                        break;
                    }
                    0.5 * (lo.0 + hi.0) // not monotone here: bisect
                }
                (Some(end), None) | (None, Some(end)) => {
                    // Extrapolate from the end of the trials on the goal's side, along the
                    // slope to its nearest other trial, or the usual one.
                    let other = (self.trials.iter())
                        .filter(|t| t.0 != end.0)
                        .min_by(|a, b| (a.0 - end.0).abs().total_cmp(&(b.0 - end.0).abs()));
                    let slope = other
                        .map(|o| (end.1 - o.1) / (end.0 - o.0))
                        .filter(|s| s.is_finite())
                        .map_or(GUESS_SLOPE, |s| s.clamp(-3.0, -0.3));
                    let step = ((ln_goal - end.1) / slope).clamp(-4.0, 4.0);
                    let next = (end.0 + step).clamp(min_x, max_x);
                    if next == end.0 {
                        break; // at the end of the range
                    }
                    next
                }
                (None, None) => break, // every trial is on the goal: unreachable
            };
            self.trial(x);
        }
        let mut best = self.trials[0];
        for &t in &self.trials[1..] {
            if (t.2 - goal).abs() < (best.2 - goal).abs() {
                best = t;
            }
        }
        best.0.exp() as f32
    }
}

/// The merge pass of Felzenszwalb & Huttenlocher's algorithm over `n` pixels at
/// `k = scale / 255`: the forest of the components, the edges between components that were
/// not merged (in order: only these can join components later, the others lie inside one
/// already, so the `min_size` passes need no other), and the number of components.
fn merge_pass<L: Lattice>(
    edges: &[Edge],
    lattice: L,
    n: usize,
    k: f32,
) -> (Forest, Vec<Edge>, u32) {
    let mut forest = Forest::new(n);
    // `Int(C) + k / |C|` of each component, at its root (the same `f32` sum as if it were
    // made for every edge, since neither term changes but by a merge).
    let mut threshold = vec![k; n];
    let mut rejected = Vec::new();
    let mut count = n as u32;
    for &e in edges {
        let (p, q) = lattice.ends(e);
        let (a, b) = (forest.find(p), forest.find(q));
        if a == b {
            continue;
        }
        if e.weight <= threshold[a].min(threshold[b]) {
            let root = forest.union(a, b);
            // Edges come in increasing weight, so this one is the largest of the new tree.
            threshold[root] = e.weight + k / forest.size(root) as f32;
            count -= 1;
        } else {
            rejected.push(e);
        }
    }
    (forest, rejected, count)
}

/// The number of segments of the merge pass and the `min_size` pass at `k`, without labelling
/// them: what one trial of the scale search needs. The same as the count of
/// [`Felzenszwalb::segment_graph`] without connectivity enforcement.
fn count_segments<L: Lattice>(edges: &[Edge], lattice: L, n: usize, k: f32, min_size: u32) -> u32 {
    let (mut forest, rejected, mut count) = merge_pass(edges, lattice, n, k);
    if min_size > 1 {
        for e in rejected {
            let (p, q) = lattice.ends(e);
            let (a, b) = (forest.find(p), forest.find(q));
            if a != b && (forest.size(a) < min_size || forest.size(b) < min_size) {
                forest.union(a, b);
                count -= 1;
            }
        }
    }
    count
}

impl Superpixels for Felzenszwalb {
    fn name(&self) -> &'static str {
        "felzenszwalb"
    }

    fn validate(&self) -> Result<()> {
        if !(self.scale.is_finite() && self.scale >= 0.0) {
            return Err(Error::param(
                "scale",
                format!("must be finite and >= 0, got {}", self.scale),
            ));
        }
        if !(self.sigma.is_finite() && self.sigma >= 0.0) {
            return Err(Error::param(
                "sigma",
                format!("must be finite and >= 0, got {}", self.sigma),
            ));
        }
        for &s in &self.spacing {
            Error::check_positive("spacing", s)?;
        }
        if self.target_segments == Some(0) {
            return Err(Error::param("target_segments", "must be at least 1"));
        }
        Ok(())
    }

    fn segment(&self, image: &Image) -> Result<Segmentation> {
        self.segment_with_scale(image).map(|(seg, _)| seg)
    }

    fn segment_explained(&self, image: &Image) -> Result<(Segmentation, Vec<(&'static str, f64)>)> {
        let (seg, scale) = self.segment_with_scale(image)?;
        Ok((seg, vec![("chosen_scale", f64::from(scale))]))
    }
}

impl Felzenszwalb {
    /// The algorithm proper on sorted edges, then the `min_size` pass and, when asked, the
    /// split into 4-connected (6-connected) regions.
    fn segment_graph<L: Lattice>(
        &self,
        shape: Shape,
        edges: &[Edge],
        lattice: L,
        scale: f32,
    ) -> Segmentation {
        let min_size = self.min_size;
        let Shape { width, height, .. } = shape;
        let (mut forest, rejected, _) = merge_pass(edges, lattice, shape.pixels, scale / 255.0);
        let mut regions = forest.roots();
        drop(forest);
        let count = relabel_in_place(&mut regions);
        let (regions, count) =
            merge_small(&regions, count, &rejected, lattice, min_size, false, &[]);
        // Along face-neighbour edges only, every segment is connected already.
        if !self.enforce_connectivity || self.neighbourhood == Neighbourhood::Faces {
            return Segmentation::from_parts(width, height, regions, count);
        }
        // Two face neighbours in different connected pieces lie in different regions, so their
        // edge is among the rejected ones too.
        connected_regions(width, height, &regions, &rejected, lattice, min_size, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Samples;
    use proptest::prelude::*;

    fn two_regions() -> Image {
        // 12x8: left half dark red, right half light blue.
        let mut s = Vec::new();
        for _y in 0..8 {
            for x in 0..12 {
                s.extend_from_slice(if x < 6 {
                    &[120, 10, 10]
                } else {
                    &[20, 90, 220]
                });
            }
        }
        Image::new(12, 8, 3, Samples::U8(s)).unwrap()
    }

    #[test]
    fn two_flat_regions_give_two_segments() {
        let seg = Felzenszwalb {
            scale: 10.0,
            ..Felzenszwalb::default()
        }
        .segment(&two_regions())
        .unwrap();
        assert_eq!(seg.count(), 2);
        for y in 0..8 {
            for x in 0..12 {
                assert_eq!(seg.label(x, y), Some(u32::from(x >= 6)));
            }
        }
    }

    #[test]
    fn hand_worked_merge_criterion() {
        // A 3x1 grey image 0, 0, 10/255 without smoothing: the zero edge merges first (w = 0
        // <= 0 + k). The 10/255 edge merges iff 10/255 <= min(0 + k/2, 0 + k/1), i.e.
        // scale >= 20.
        let img = Image::new(3, 1, 1, Samples::U8(vec![0, 0, 10])).unwrap();
        let fh = |scale| Felzenszwalb {
            scale,
            sigma: 0.0,
            min_size: 0,
            ..Felzenszwalb::default()
        };
        assert_eq!(fh(19.9).segment(&img).unwrap().count(), 2);
        assert_eq!(fh(20.0).segment(&img).unwrap().count(), 1);
        // min_size merges the lone pixel whatever the scale.
        let f = Felzenszwalb {
            min_size: 2,
            ..fh(0.1)
        };
        assert_eq!(f.segment(&img).unwrap().count(), 1);
    }

    #[test]
    fn bad_parameters_are_refused() {
        let img = two_regions();
        for f in [
            Felzenszwalb {
                scale: -1.0,
                ..Felzenszwalb::default()
            },
            Felzenszwalb {
                sigma: f32::NAN,
                ..Felzenszwalb::default()
            },
            Felzenszwalb::with_target(0),
        ] {
            assert!(matches!(
                f.segment(&img),
                Err(Error::InvalidParameter { .. })
            ));
        }
    }

    #[test]
    fn target_search_reports_its_scale() {
        let img = crate::test_support::noisy_image(64, 48, 3, 7);
        let fh = Felzenszwalb::with_target(40);
        let (seg, scale) = fh.segment_with_scale(&img).unwrap();
        let again = Felzenszwalb {
            scale,
            ..Felzenszwalb::default()
        }
        .segment(&img)
        .unwrap();
        assert_eq!(seg, again);
        assert!(seg.count().abs_diff(40) <= 10, "{}", seg.count());
    }

    #[test]
    fn same_result_on_one_and_two_threads() {
        let img = crate::test_support::noisy_image(97, 61, 3, 3);
        let fh = Felzenszwalb {
            scale: 50.0,
            ..Felzenszwalb::default()
        };
        let runs = crate::test_support::on_1_and_2_threads(|| fh.segment(&img).unwrap());
        assert_eq!(runs.0, runs.1);
    }

    /// A volume of `depth` slices of `width x height` voxels with structure: the samples of
    /// a `width x (height * depth)` test image (blocks of flat colour plus noise).
    fn noisy_volume(width: u32, height: u32, depth: u32, channels: u8, seed: u64) -> Image {
        let flat = crate::test_support::noisy_image(width, height * depth, channels, seed);
        Image::new_volume(
            depth,
            width,
            height,
            channels.into(),
            flat.samples().clone(),
        )
        .unwrap()
    }

    /// Connected pieces of each label, found by a flood fill over face neighbours (or all 26
    /// with `full`) written for the test: independent of `connectivity` and `graph`.
    fn pieces_per_label(seg: &Segmentation, full: bool) -> Vec<u32> {
        let (w, h, d) = (seg.width() as i64, seg.height() as i64, seg.depth() as i64);
        let labels = seg.labels();
        let mut seen = vec![false; labels.len()];
        let mut pieces = vec![0u32; seg.count() as usize];
        let mut stack = Vec::new();
        for start in 0..labels.len() {
            if seen[start] {
                continue;
            }
            pieces[labels[start] as usize] += 1;
            seen[start] = true;
            stack.push(start);
            while let Some(i) = stack.pop() {
                let (x, y, z) = (i as i64 % w, i as i64 / w % h, i as i64 / (w * h));
                for dz in -1..=1i64 {
                    for dy in -1..=1i64 {
                        for dx in -1..=1i64 {
                            let steps = dx.abs() + dy.abs() + dz.abs();
                            if steps == 0 || (!full && steps > 1) {
                                continue;
                            }
                            let (nx, ny, nz) = (x + dx, y + dy, z + dz);
                            if nx < 0 || ny < 0 || nz < 0 || nx >= w || ny >= h || nz >= d {
                                continue;
                            }
                            let j = ((nz * h + ny) * w + nx) as usize;
                            if !seen[j] && labels[j] == labels[i] {
                                seen[j] = true;
                                stack.push(j);
                            }
                        }
                    }
                }
            }
        }
        pieces
    }

    #[test]
    fn two_flat_boxes_give_two_supervoxels() {
        // 6x4x4: the left three columns dark green, the rest light grey, in every slice.
        // The smoothing makes each column of 16 voxels a piece of its own, smaller than
        // min_size: they merge along the cheapest edges, on either side of the step.
        let (w, h, d) = (6u32, 4u32, 4u32);
        let s: Vec<u8> = (0..w * h * d)
            .flat_map(|i| {
                if i % w < 3 {
                    [10, 120, 10]
                } else {
                    [200, 200, 200]
                }
            })
            .collect();
        let vol = Image::new_volume(d, w, h, 3, Samples::U8(s)).unwrap();
        for neighbourhood in [Neighbourhood::All, Neighbourhood::Faces] {
            let seg = Felzenszwalb {
                scale: 10.0,
                neighbourhood,
                ..Felzenszwalb::default()
            }
            .segment(&vol)
            .unwrap();
            assert_eq!((seg.depth(), seg.count()), (d, 2), "{neighbourhood:?}");
            for z in 0..d {
                for y in 0..h {
                    for x in 0..w {
                        assert_eq!(seg.label_at(x, y, z), Some(u32::from(x >= 3)));
                    }
                }
            }
        }
    }

    #[test]
    fn hand_worked_merge_criterion_across_slices() {
        // A 1x1x3 volume 0, 0, 10/255 without smoothing: as the 3x1 image, along z.
        let vol = Image::new_volume(3, 1, 1, 1, Samples::U8(vec![0, 0, 10])).unwrap();
        let fh = |scale| Felzenszwalb {
            scale,
            sigma: 0.0,
            min_size: 0,
            ..Felzenszwalb::default()
        };
        assert_eq!(fh(19.9).segment(&vol).unwrap().labels(), &[0, 0, 1]);
        assert_eq!(fh(20.0).segment(&vol).unwrap().count(), 1);
        // Corner neighbours join only in the 26-neighbour graph: two voxels of one colour at
        // opposite corners of a 2x2x2 cube, the other six of another, no smoothing, min_size 0,
        // no connectivity enforcement.
        let mut v = vec![200u8; 8];
        v[0] = 0;
        v[7] = 0;
        let cube = Image::new_volume(2, 2, 2, 1, Samples::U8(v)).unwrap();
        let run = |neighbourhood| {
            Felzenszwalb {
                enforce_connectivity: false,
                neighbourhood,
                ..fh(1.0)
            }
            .segment(&cube)
            .unwrap()
        };
        assert_eq!(run(Neighbourhood::All).labels(), &[0, 1, 1, 1, 1, 1, 1, 0]);
        assert_eq!(
            run(Neighbourhood::Faces).labels(),
            &[0, 1, 1, 1, 1, 1, 1, 2]
        );
        // With connectivity enforced, the corners split apart in the 26-neighbour graph too.
        let connected = Felzenszwalb {
            neighbourhood: Neighbourhood::All,
            ..fh(1.0)
        };
        assert_eq!(connected.segment(&cube).unwrap().count(), 3);
    }

    #[test]
    fn spacing_scales_the_smoothing_per_axis() {
        // A step along z only: with a large spacing along z (so little smoothing across
        // slices) the step stays sharp and splits the volume; with spacing 1 and a wide sigma,
        // the ramp merges.
        let (w, h, d) = (4u32, 4u32, 8u32);
        let s: Vec<u8> = (0..w * h * d)
            .map(|i| if i < w * h * 4 { 60 } else { 90 })
            .collect();
        let vol = Image::new_volume(d, w, h, 1, Samples::U8(s)).unwrap();
        let fh = |spacing| Felzenszwalb {
            scale: 200.0,
            sigma: 3.0,
            spacing,
            min_size: 0,
            ..Felzenszwalb::default()
        };
        assert_eq!(fh([100.0, 1.0, 1.0]).segment(&vol).unwrap().count(), 2);
        assert_eq!(fh([1.0, 1.0, 1.0]).segment(&vol).unwrap().count(), 1);
        let bad = fh([1.0, 0.0, 1.0]);
        assert!(matches!(
            bad.segment(&vol),
            Err(Error::InvalidParameter {
                name: "spacing",
                ..
            })
        ));
    }

    #[test]
    fn every_channel_counts() {
        // 8 channels: seven constant ones (each its own value) and the grey of a test image
        // in channel 5 segment exactly as the grey image alone (the constant channels add
        // exactly 0 to every squared distance, smoothed or not).
        let grey = crate::test_support::noisy_image(30, 20, 1, 11);
        let Samples::U8(g) = grey.samples() else {
            unreachable!()
        };
        let wide: Vec<u8> = g
            .iter()
            .flat_map(|&v| {
                std::array::from_fn::<u8, 8, _>(|c| if c == 5 { v } else { 30 * c as u8 })
            })
            .collect();
        let wide = Image::new(30, 20, 8, Samples::U8(wide)).unwrap();
        let fh = Felzenszwalb {
            scale: 50.0,
            ..Felzenszwalb::default()
        };
        assert_eq!(fh.segment(&wide).unwrap(), fh.segment(&grey).unwrap());
        // Two halves that differ in the last of 2 or 8 channels only are two segments.
        for c in [2u16, 8] {
            let s: Vec<f32> = (0..12 * 8)
                .flat_map(|i| {
                    (0..c).map(move |ch| if ch + 1 == c && i % 12 >= 6 { 0.9 } else { 0.2 })
                })
                .collect();
            let img = Image::new(12, 8, c, Samples::F32(s)).unwrap();
            let seg = Felzenszwalb {
                scale: 10.0,
                ..Felzenszwalb::default()
            }
            .segment(&img)
            .unwrap();
            assert_eq!(seg.count(), 2, "{c} channels");
            assert_eq!((seg.label(5, 3), seg.label(6, 3)), (Some(0), Some(1)));
        }
    }

    #[test]
    fn volume_target_search_reports_its_scale() {
        let vol = noisy_volume(20, 16, 10, 2, 5);
        for neighbourhood in [Neighbourhood::All, Neighbourhood::Faces] {
            let fh = Felzenszwalb {
                neighbourhood,
                ..Felzenszwalb::with_target(60)
            };
            let (seg, scale) = fh.segment_with_scale(&vol).unwrap();
            let again = Felzenszwalb {
                scale,
                target_segments: None,
                ..fh
            };
            assert_eq!(seg, again.segment(&vol).unwrap());
            assert!(
                seg.count().abs_diff(60) <= 12,
                "{neighbourhood:?}: {}",
                seg.count()
            );
        }
    }

    #[test]
    fn volumes_same_result_on_one_and_three_threads() {
        let vol = noisy_volume(33, 21, 9, 3, 8);
        let pool = |n| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .unwrap()
        };
        for fh in [
            Felzenszwalb::with_target(50),
            Felzenszwalb {
                scale: 80.0,
                neighbourhood: Neighbourhood::Faces,
                ..Felzenszwalb::default()
            },
        ] {
            let one = pool(1).install(|| fh.segment(&vol).unwrap());
            let three = pool(3).install(|| fh.segment(&vol).unwrap());
            assert_eq!(one, three);
        }
    }

    proptest! {
        #[test]
        fn trial_count_is_the_8_connected_count(
            w in 1u32..40, h in 1u32..40, seed in any::<u64>(),
            scale in 0.0f32..2000.0, min_size in 0u32..40,
        ) {
            let img = crate::test_support::noisy_image(w, h, 3, seed);
            let fh = Felzenszwalb { scale, min_size, enforce_connectivity: false, ..Felzenszwalb::default() };
            let seg = fh.segment(&img).unwrap();
            let mut planes = img.to_planes();
            let (wu, hu) = (w as usize, h as usize);
            planes.iter_mut().for_each(|p| gaussian(p, wu, hu, fh.sigma, fh.sigma));
            let refs: Vec<&[f32]> = planes.iter().map(|p| p.as_slice()).collect();
            let edges = graph::sorted_edges(&refs, wu, hu, graph::Neighbourhood::Eight).unwrap();
            let count = count_segments(&edges, Plane { width: wu }, wu * hu, scale / 255.0, min_size);
            prop_assert_eq!(count, seg.count());
        }

        #[test]
        fn volume_guarantees_hold(
            w in 1u32..9, h in 1u32..9, d in 2u32..7, c in 1u8..=5, seed in any::<u64>(),
            scale in 0.0f32..2000.0, sigma in 0.0f32..2.0, min_size in 0u32..30,
            faces in any::<bool>(), connect in any::<bool>(),
        ) {
            let vol = noisy_volume(w, h, d, c, seed);
            let neighbourhood = if faces { Neighbourhood::Faces } else { Neighbourhood::All };
            let fh = Felzenszwalb {
                scale, sigma, min_size, neighbourhood, enforce_connectivity: connect,
                ..Felzenszwalb::default()
            };
            let seg = fh.segment(&vol).unwrap();
            prop_assert_eq!((seg.width(), seg.height(), seg.depth()), (w, h, d));
            // Every voxel labelled, labels 0..n, each used.
            prop_assert!(Segmentation::from_volume_labels(d, w, h, seg.labels().to_vec()).is_ok());
            prop_assert_eq!(seg.unlabelled_count(), 0);
            let n = w * h * d;
            let smallest = seg.sizes().into_iter().min().unwrap_or(0);
            prop_assert!(smallest >= min_size.min(n));
            // One face-connected piece per label when enforced or along faces only; one
            // 26-connected piece otherwise.
            let face_connected = connect || faces;
            let pieces = pieces_per_label(&seg, !face_connected);
            prop_assert!(pieces.iter().all(|&p| p == 1), "{:?}", pieces);
            prop_assert_eq!(seg.disconnected_count() == 0, face_connected || pieces_per_label(&seg, false).iter().all(|&p| p == 1));
        }

        #[test]
        fn guarantees_hold(
            w in 1u32..24, h in 1u32..24, c in 1u8..=3, seed in any::<u64>(),
            scale in 0.0f32..2000.0, sigma in 0.0f32..2.0, min_size in 0u32..40,
        ) {
            let img = crate::test_support::noisy_image(w, h, c, seed);
            let fh = Felzenszwalb { scale, sigma, min_size, ..Felzenszwalb::default() };
            let seg = fh.segment(&img).unwrap();
            // scikit-image's segments: valid labels, each at least min_size.
            let eight = Felzenszwalb { enforce_connectivity: false, ..fh }.segment(&img).unwrap();
            prop_assert!(Segmentation::from_labels(w, h, eight.labels().to_vec()).is_ok());
            let smallest8 = eight.sizes().into_iter().min().unwrap_or(0);
            prop_assert!(smallest8 >= min_size.min(w * h));
            prop_assert!(Segmentation::from_labels(w, h, seg.labels().to_vec()).is_ok());
            prop_assert_eq!(seg.unlabelled_count(), 0);
            prop_assert_eq!(seg.disconnected_count(), 0);
            let smallest = seg.sizes().into_iter().min().unwrap_or(0);
            prop_assert!(smallest >= min_size.min(w * h));
        }
    }
}
