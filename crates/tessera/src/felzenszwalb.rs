//! Felzenszwalb & Huttenlocher's graph-based segmentation ("Efficient Graph-Based Image
//! Segmentation", IJCV 2004), under scikit-image's parameter names, defaults and scales
//! (`skimage.segmentation.felzenszwalb`), plus a search for the `scale` that gives a wanted
//! number of segments.
//!
//! How it runs: the channels (integer samples scaled to 0..1) are smoothed with a Gaussian of
//! standard deviation `sigma`, one channel at a time; every pixel is joined to its 8
//! neighbours by an edge weighted by the Euclidean distance between their colours (all
//! channels jointly); the edges are sorted by weight (a stable radix sort: ties keep
//! row-major order); then, edge by edge, two components `C1`, `C2` are merged when
//! `w <= min(Int(C1) + k / |C1|, Int(C2) + k / |C2|)`, where `Int(C)` is the largest weight
//! in `C`'s minimum spanning tree and `k = scale / 255` (so that `scale` means what it means
//! for 8-bit images in the authors' code and in scikit-image). A second pass over the sorted
//! edges merges components smaller than `min_size`.
//!
//! Unlike scikit-image's, whose segments may be joined only diagonally, every segment here
//! is one 4-connected region: each segment is split into its 4-connected pieces and pieces
//! smaller than `min_size` are merged along the cheapest 4-neighbour edges, as in the
//! `min_size` pass.

use crate::algorithm::Superpixels;
use crate::error::{Error, Result};
use crate::graph::{Edge, Forest, Neighbourhood, connected_regions, merge_small, sorted_edges};
use crate::image::Image;
use crate::segmentation::{Segmentation, relabel_in_place};
use crate::smoothing::gaussian;

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
#[derive(Debug, Clone, PartialEq)]
pub struct Felzenszwalb {
    /// `k`, the observation scale (1). Higher gives fewer, larger segments. In the units of
    /// 8-bit colour differences: the merge threshold is `scale / 255 / |C|` on colours scaled
    /// to 0..1. Ignored when `target_segments` is set.
    pub scale: f32,
    /// Standard deviation, in pixels, of the Gaussian pre-smoothing (0.8; 0: none).
    pub sigma: f32,
    /// Segments smaller than this many pixels are merged into a neighbour (20).
    pub min_size: u32,
    /// When set, `scale` is searched (bisection on a log scale, between 1e-3 and 1e7) for
    /// the segment count nearest this one; [`Felzenszwalb::segment_with_scale`] tells which
    /// scale was chosen (None).
    pub target_segments: Option<u32>,
    /// Make every segment one 4-connected region (true): split segments joined only
    /// diagonally and merge pieces smaller than `min_size`. With false, segments are
    /// scikit-image's: 8-connected, possibly joined through a diagonal step only.
    pub enforce_connectivity: bool,
}

impl Default for Felzenszwalb {
    fn default() -> Self {
        Felzenszwalb {
            scale: 1.0,
            sigma: 0.8,
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
        let (w, h) = (image.width() as usize, image.height() as usize);
        let mut planes = image.to_planes();
        if self.sigma > 0.0 {
            planes
                .iter_mut()
                .for_each(|p| gaussian(p, w, h, self.sigma, self.sigma));
        }
        let refs: Vec<&[f32]> = planes.iter().map(|p| p.as_slice()).collect();
        let edges = sorted_edges(&refs, w, h, Neighbourhood::Eight)?;
        let (width, height) = (image.width(), image.height());
        let Some(target) = self.target_segments else {
            return Ok((
                self.segment_graph(width, height, &edges, self.scale),
                self.scale,
            ));
        };
        Ok(self.search(width, height, &edges, target))
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
    fn search(&self, width: u32, height: u32, edges: &[Edge], target: u32) -> (Segmentation, f32) {
        let (w, n) = (width as usize, width as usize * height as usize);
        let mut search = ScaleSearch {
            edges,
            width: w,
            pixels: n,
            min_size: self.min_size,
            trials: Vec::new(),
        };
        let connect = self.enforce_connectivity;
        let mut goal = f64::from(target) * if connect { CONNECTIVITY_LOSS } else { 1.0 };
        let mut best: Option<(Segmentation, f32)> = None;
        for _ in 0..SEARCH_ROUNDS {
            let scale = search.nearest(goal.max(1.0), f64::from(target) * SEARCH_TOLERANCE);
            if best.as_ref().is_some_and(|b| b.1 == scale) {
                break;
            }
            let seg = self.segment_graph(width, height, edges, scale);
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
        best.unwrap_or_else(|| (self.segment_graph(width, height, edges, 1.0), 1.0))
    }
}

/// The counted trials of the scale search, kept from one goal to the next.
struct ScaleSearch<'a> {
    edges: &'a [Edge],
    width: usize,
    pixels: usize,
    min_size: u32,
    /// `(ln scale, ln count, count)` of every trial so far.
    trials: Vec<(f64, f64, f64)>,
}

impl ScaleSearch<'_> {
    /// The count of the trial at `ln scale = x`.
    fn trial(&mut self, x: f64) -> f64 {
        let k = x.exp() as f32 / 255.0;
        let count = count_segments(self.edges, self.width, self.pixels, k, self.min_size);
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
fn merge_pass(edges: &[Edge], width: usize, n: usize, k: f32) -> (Forest, Vec<Edge>, u32) {
    let mut forest = Forest::new(n);
    // `Int(C) + k / |C|` of each component, at its root (the same `f32` sum as if it were
    // made for every edge, since neither term changes but by a merge).
    let mut threshold = vec![k; n];
    let mut rejected = Vec::new();
    let mut count = n as u32;
    for &e in edges {
        let (p, q) = e.ends(width);
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
fn count_segments(edges: &[Edge], width: usize, n: usize, k: f32, min_size: u32) -> u32 {
    let (mut forest, rejected, mut count) = merge_pass(edges, width, n, k);
    if min_size > 1 {
        for e in rejected {
            let (p, q) = e.ends(width);
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
        if self.target_segments == Some(0) {
            return Err(Error::param("target_segments", "must be at least 1"));
        }
        Ok(())
    }

    fn segment(&self, image: &Image) -> Result<Segmentation> {
        image.require_2d("Felzenszwalb")?;
        self.segment_with_scale(image).map(|(seg, _)| seg)
    }

    fn segment_explained(&self, image: &Image) -> Result<(Segmentation, Vec<(&'static str, f64)>)> {
        image.require_2d("Felzenszwalb")?;
        let (seg, scale) = self.segment_with_scale(image)?;
        Ok((seg, vec![("chosen_scale", f64::from(scale))]))
    }
}

impl Felzenszwalb {
    /// The algorithm proper on sorted edges, then the `min_size` pass and, when asked, the
    /// split into 4-connected regions.
    fn segment_graph(&self, width: u32, height: u32, edges: &[Edge], scale: f32) -> Segmentation {
        let min_size = self.min_size;
        let (w, n) = (width as usize, width as usize * height as usize);
        let (mut forest, rejected, _) = merge_pass(edges, w, n, scale / 255.0);
        let mut regions = forest.roots();
        let count = relabel_in_place(&mut regions);
        let (regions, count) = merge_small(&regions, count, &rejected, w, min_size, false, &[]);
        if !self.enforce_connectivity {
            return Segmentation::from_parts(width, height, regions, count);
        }
        // Two 4-neighbours in different 4-connected pieces lie in different regions, so their
        // edge is among the rejected ones too.
        connected_regions(width, height, &regions, &rejected, min_size, false)
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
            let edges = sorted_edges(&refs, wu, hu, Neighbourhood::Eight).unwrap();
            let count = count_segments(&edges, wu, wu * hu, scale / 255.0, min_size);
            prop_assert_eq!(count, seg.count());
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
