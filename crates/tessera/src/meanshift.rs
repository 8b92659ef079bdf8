//! Mean-shift segmentation (Comaniciu & Meer, "Mean Shift: A Robust Approach Toward Feature
//! Space Analysis", TPAMI 2002, section 4), in the joint spatial–range domain of pixel
//! position and CIELAB colour, with the EDISON system's defaults (`hs = 7`, `hr = 6.5`,
//! minimum region 20 pixels).
//!
//! 1. **Filtering.** From each pixel's point `(x, y, L, a, b)` the mean shift climbs to a mode
//!    of the joint density: each step moves to the mean of the pixels within `hs` pixels
//!    (Euclidean) *and* within `hr` in CIELAB of the current point (the product of two flat
//!    kernels, the paper's eq. 35 with uniform profiles), until the step is shorter than
//!    `tolerance` (in bandwidth units: `|Δs|²/hs² + |Δr|²/hr²` below `tolerance²`) or after
//!    `max_iterations` steps. The spatial neighbours are read straight from the image: the
//!    window is the `(2⌈hs⌉+1)²` pixels around the current point.
//! 2. **Mode grouping.** 4-adjacent pixels whose modes lie within `hs` of each other in space
//!    and `hr / 4` in range join one region (union-find); then, as EDISON's transitive
//!    closure, adjacent regions whose mean modes lie within `hr / 2` fuse, pass after pass
//!    (at most 5). Thresholds below the paper's `hr` keep regions from chaining across
//!    smooth colour ramps, where neighbouring modes differ little but the ends differ a lot.
//! 3. **Pruning.** Regions of fewer than `min_size` pixels are merged into the adjacent region
//!    of the closest mean mode colour, repeatedly, until none is left.
//!
//! Speed-up (`basin_speedup`, on by default): as in EDISON, pixels that lie within half the
//! bandwidth (`|Δs|²/hs² + |Δr|²/hr² < 1/4`) of a point of a trajectory are taken to share
//! its basin of attraction and adopt its mode without a trajectory of their own. To keep the
//! result independent of the thread count, the image is cut into fixed bands of rows, each
//! band is processed in raster order by one thread, and only pixels of the trajectory's own
//! band adopt its mode. Off, every pixel climbs on its own (slower, exact filtering).
//!
//! There is no target segment count: the number of regions follows from `hr` (more colour
//! tolerance, fewer regions), `hs` and `min_size` (every region has at least `min_size`
//! pixels unless the image is smaller).

use crate::algorithm::Superpixels;
use crate::color;
use crate::error::{Error, Result};
use crate::image::Image;
use crate::segmentation::Segmentation;
use rayon::prelude::*;

/// Rows per band of the filtering step. Fixed, so that results do not depend on the thread
/// count.
const BAND_ROWS: usize = 32;

/// Mean-shift segmentation parameters. `Default` gives the EDISON system's defaults.
///
/// ```
/// use tessera::{Image, MeanShift, Superpixels};
/// let img = image::open(concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/chelsea.png")).unwrap();
/// let img = Image::from_dynamic(&img).unwrap();
/// let seg = MeanShift { min_size: 100, ..MeanShift::default() }.segment(&img).unwrap();
/// assert!(seg.count() > 1);
/// assert!(seg.sizes().iter().all(|&n| n >= 100));
/// assert_eq!(seg.disconnected_count(), 0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MeanShift {
    /// Spatial bandwidth `hs`, in pixels (7).
    pub hs: f32,
    /// Range bandwidth `hr`, in CIELAB units (6.5).
    pub hr: f32,
    /// Regions smaller than this many pixels are merged into their most similar neighbour
    /// (20).
    pub min_size: u32,
    /// Most mean-shift steps per trajectory (100, as EDISON).
    pub max_iterations: u32,
    /// A trajectory stops once its step, in bandwidth units, is shorter than this (0.1, as
    /// EDISON's 0.01 on the squared step).
    pub tolerance: f32,
    /// EDISON's basin-of-attraction speed-up, within fixed bands of rows (true).
    pub basin_speedup: bool,
}

impl Default for MeanShift {
    fn default() -> Self {
        MeanShift {
            hs: 7.0,
            hr: 6.5,
            min_size: 20,
            max_iterations: 100,
            tolerance: 0.1,
            basin_speedup: true,
        }
    }
}

impl Superpixels for MeanShift {
    fn name(&self) -> &'static str {
        "meanshift"
    }

    fn validate(&self) -> Result<()> {
        for (name, v) in [("hs", self.hs), ("hr", self.hr)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::param(
                    name,
                    format!("must be finite and > 0, got {v}"),
                ));
            }
        }
        if self.hs > 1000.0 {
            return Err(Error::param(
                "hs",
                format!("must be at most 1000, got {}", self.hs),
            ));
        }
        if self.max_iterations == 0 {
            return Err(Error::param("max_iterations", "must be at least 1"));
        }
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0) {
            return Err(Error::param(
                "tolerance",
                format!("must be finite and >= 0, got {}", self.tolerance),
            ));
        }
        Ok(())
    }

    fn segment(&self, image: &Image) -> Result<Segmentation> {
        image.require_2d("mean shift")?;
        self.validate()?;
        let c = image.channels();
        let planes = color::lab_planes(image).ok_or_else(|| {
            Error::UnsupportedFormat(format!("mean shift needs 1 or 3 channels, got {c}"))
        })?;
        let (w, h) = (image.width(), image.height());
        Ok(match planes.len() {
            1 => self.run::<1>(w, h, &planes),
            _ => self.run::<3>(w, h, &planes),
        })
    }
}

/// A point of the joint domain: position `(y, x)` and colour.
#[derive(Debug, Clone, Copy)]
struct Point<const C: usize> {
    y: f32,
    x: f32,
    colour: [f32; C],
}

impl MeanShift {
    fn run<const C: usize>(&self, width: u32, height: u32, planes: &[Vec<f32>]) -> Segmentation {
        let (w, h) = (width as usize, height as usize);
        let colours: Vec<[f32; C]> = (0..w * h)
            .map(|p| std::array::from_fn(|c| planes[c][p]))
            .collect();
        let modes = self.filter(w, h, &colours);
        let mut labels = self.group(w, h, &modes);
        fuse(w, h, &modes, &mut labels, self.hr);
        prune(w, h, &modes, &mut labels, self.min_size as usize);
        let count = labels.iter().max().map_or(0, |&m| m + 1);
        Segmentation::from_parts(width, height, labels, count)
    }

    /// Mean-shift filtering: the mode reached from every pixel.
    fn filter<const C: usize>(&self, w: usize, h: usize, colours: &[[f32; C]]) -> Vec<Point<C>> {
        let blank = Point {
            y: 0.0,
            x: 0.0,
            colour: [0.0; C],
        };
        let mut modes = vec![blank; w * h];
        modes
            .par_chunks_mut(BAND_ROWS * w)
            .enumerate()
            .for_each(|(band, out)| {
                let mut climber = Climber::new(self, w, h, colours, band * BAND_ROWS, out.len());
                climber.run(out);
            });
        modes
    }

    /// Regions of 4-adjacent pixels whose modes are within `hs` in space and `hr / 4` in
    /// colour, numbered from 0 in raster order.
    fn group<const C: usize>(&self, w: usize, h: usize, modes: &[Point<C>]) -> Vec<u32> {
        let hs2 = self.hs * self.hs;
        let hr2 = (PIXEL_JOIN * self.hr).powi(2);
        let close = |a: &Point<C>, b: &Point<C>| {
            let ds = (a.y - b.y).powi(2) + (a.x - b.x).powi(2);
            ds <= hs2 && colour_distance(&a.colour, &b.colour) < hr2
        };
        let mut sets = DisjointSets::new(w * h);
        for y in 0..h {
            for x in 0..w {
                let p = y * w + x;
                if x + 1 < w && close(&modes[p], &modes[p + 1]) {
                    sets.union(p, p + 1);
                }
                if y + 1 < h && close(&modes[p], &modes[p + w]) {
                    sets.union(p, p + w);
                }
            }
        }
        sets.labels()
    }
}

/// Pixels join when their modes are closer than this fraction of `hr` in colour.
const PIXEL_JOIN: f32 = 0.25;
/// Adjacent regions fuse when their mean modes are closer than this fraction of `hr` (EDISON's
/// transitive closure: a normalised distance below 0.5).
const REGION_FUSE: f32 = 0.5;
/// Most passes of region fusion (each pass recomputes the regions' mean modes).
const FUSION_PASSES: usize = 5;

/// Sizes and mean mode colours of the regions `0..count` of `labels`.
fn region_stats<const C: usize>(labels: &[u32], modes: &[Point<C>]) -> (Vec<usize>, Vec<[f32; C]>) {
    let count = labels.iter().max().map_or(0, |&m| m as usize + 1);
    let mut size = vec![0usize; count];
    let mut sum = vec![[0.0f64; C]; count];
    for (&l, m) in labels.iter().zip(modes) {
        size[l as usize] += 1;
        for (s, &v) in sum[l as usize].iter_mut().zip(&m.colour) {
            *s += v as f64;
        }
    }
    let mean = sum
        .iter()
        .zip(&size)
        .map(|(s, &n)| s.map(|v| (v / n.max(1) as f64) as f32))
        .collect();
    (size, mean)
}

/// Calls `f(a, b)` for the labels of every pair of 4-adjacent pixels with different labels.
fn for_each_border(w: usize, h: usize, labels: &[u32], mut f: impl FnMut(u32, u32)) {
    for y in 0..h {
        for x in 0..w {
            let p = y * w + x;
            if x + 1 < w && labels[p] != labels[p + 1] {
                f(labels[p], labels[p + 1]);
            }
            if y + 1 < h && labels[p] != labels[p + w] {
                f(labels[p], labels[p + w]);
            }
        }
    }
}

/// Replaces each region label by its set's number. Sets are numbered by their smallest
/// region, and regions in raster order of their first pixel, so the result is in raster
/// order too.
fn apply(labels: &mut [u32], sets: &mut DisjointSets) {
    let merged = sets.labels();
    for l in labels.iter_mut() {
        *l = merged[*l as usize];
    }
}

/// EDISON's region fusion: adjacent regions whose mean modes are within `REGION_FUSE * hr`
/// join (transitively), pass after pass until none does or after `FUSION_PASSES` passes.
fn fuse<const C: usize>(w: usize, h: usize, modes: &[Point<C>], labels: &mut [u32], hr: f32) {
    let t2 = (REGION_FUSE * hr).powi(2);
    for _ in 0..FUSION_PASSES {
        let (size, mean) = region_stats(labels, modes);
        let mut sets = DisjointSets::new(size.len());
        let mut joined = false;
        for_each_border(w, h, labels, |a, b| {
            if colour_distance(&mean[a as usize], &mean[b as usize]) < t2 {
                sets.union(a as usize, b as usize);
                joined = true;
            }
        });
        if !joined {
            return;
        }
        apply(labels, &mut sets);
    }
}

fn colour_distance<const C: usize>(a: &[f32; C], b: &[f32; C]) -> f32 {
    a.iter().zip(b).map(|(u, v)| (u - v) * (u - v)).sum()
}

/// The mean-shift climbs of one band of rows.
struct Climber<'a, const C: usize> {
    w: usize,
    h: usize,
    colours: &'a [[f32; C]],
    /// First pixel of the band and its number of pixels.
    start: usize,
    len: usize,
    /// Window half-size in pixels.
    reach: isize,
    hs2: f32,
    hr2: f32,
    inv_hs2: f32,
    inv_hr2: f32,
    tol2: f32,
    max_iterations: u32,
    speedup: bool,
    /// Band pixels with a mode already.
    done: Vec<bool>,
    /// Band pixels adopting the current trajectory's mode.
    basin: Vec<usize>,
}

impl<'a, const C: usize> Climber<'a, C> {
    fn new(
        p: &MeanShift,
        w: usize,
        h: usize,
        colours: &'a [[f32; C]],
        y0: usize,
        len: usize,
    ) -> Self {
        Climber {
            w,
            h,
            colours,
            start: y0 * w,
            len,
            reach: p.hs.ceil() as isize,
            hs2: p.hs * p.hs,
            hr2: p.hr * p.hr,
            inv_hs2: 1.0 / (p.hs * p.hs),
            inv_hr2: 1.0 / (p.hr * p.hr),
            tol2: p.tolerance * p.tolerance,
            max_iterations: p.max_iterations,
            speedup: p.basin_speedup,
            done: vec![false; len],
            basin: Vec::new(),
        }
    }

    fn run(&mut self, out: &mut [Point<C>]) {
        for i in 0..self.len {
            if self.done[i] {
                continue;
            }
            let p = self.start + i;
            let start = Point {
                y: (p / self.w) as f32,
                x: (p % self.w) as f32,
                colour: self.colours[p],
            };
            self.basin.clear();
            let mode = self.climb(start);
            out[i] = mode;
            self.done[i] = true;
            for &q in &self.basin {
                out[q] = mode;
                self.done[q] = true;
            }
        }
    }

    /// Follows the mean shift from `point` to its mode, collecting the band's undone pixels
    /// near the trajectory in `self.basin` when the speed-up is on.
    fn climb(&mut self, mut point: Point<C>) -> Point<C> {
        let (w, h) = (self.w as isize, self.h as isize);
        for _ in 0..self.max_iterations {
            let (cy, cx) = (point.y.round() as isize, point.x.round() as isize);
            let (y0, y1) = ((cy - self.reach).max(0), (cy + self.reach).min(h - 1));
            let (x0, x1) = ((cx - self.reach).max(0), (cx + self.reach).min(w - 1));
            let (mut n, mut sy, mut sx) = (0u32, 0.0f32, 0.0f32);
            let mut sc = [0.0f32; C];
            for qy in y0..=y1 {
                let dy = qy as f32 - point.y;
                let row = qy as usize * self.w;
                for qx in x0..=x1 {
                    let dx = qx as f32 - point.x;
                    let ds = dy * dy + dx * dx;
                    if ds > self.hs2 {
                        continue;
                    }
                    let q = row + qx as usize;
                    let col = &self.colours[q];
                    let dr = colour_distance(col, &point.colour);
                    if dr > self.hr2 {
                        continue;
                    }
                    n += 1;
                    sy += qy as f32;
                    sx += qx as f32;
                    for c in 0..C {
                        sc[c] += col[c];
                    }
                    if self.speedup && ds * self.inv_hs2 + dr * self.inv_hr2 < 0.25 {
                        self.adopt(q);
                    }
                }
            }
            if n == 0 {
                break;
            }
            let inv = 1.0 / n as f32;
            let next = Point {
                y: sy * inv,
                x: sx * inv,
                colour: sc.map(|s| s * inv),
            };
            let step = ((next.y - point.y).powi(2) + (next.x - point.x).powi(2)) * self.inv_hs2
                + colour_distance(&next.colour, &point.colour) * self.inv_hr2;
            point = next;
            if step < self.tol2 {
                break;
            }
        }
        point
    }

    /// Marks pixel `q` (global index) to take the current trajectory's mode, if it is in the
    /// band and has no mode yet.
    fn adopt(&mut self, q: usize) {
        if let Some(i) = q.checked_sub(self.start).filter(|&i| i < self.len)
            && !self.done[i]
        {
            self.done[i] = true;
            self.basin.push(i);
        }
    }
}

/// Union-find with path halving and union by size.
struct DisjointSets {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl DisjointSets {
    fn new(n: usize) -> Self {
        DisjointSets {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }

    fn find(&mut self, mut a: usize) -> usize {
        while self.parent[a] as usize != a {
            let up = self.parent[self.parent[a] as usize];
            self.parent[a] = up;
            a = up as usize;
        }
        a
    }

    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        let (big, small) = if self.size[a] >= self.size[b] {
            (a, b)
        } else {
            (b, a)
        };
        self.parent[small] = big as u32;
        self.size[big] += self.size[small];
    }

    /// The set of each element, numbered from 0 in order of first element.
    fn labels(&mut self) -> Vec<u32> {
        let n = self.parent.len();
        let mut number = vec![u32::MAX; n];
        let mut next = 0;
        (0..n)
            .map(|i| {
                let r = self.find(i);
                if number[r] == u32::MAX {
                    number[r] = next;
                    next += 1;
                }
                number[r]
            })
            .collect()
    }
}

/// Merges every region of fewer than `min_size` pixels into the adjacent region whose mean
/// mode colour is closest (ties: the lower label), pass after pass until none is left or one
/// region remains. Regions stay 4-connected and numbered in raster order.
fn prune<const C: usize>(
    w: usize,
    h: usize,
    modes: &[Point<C>],
    labels: &mut [u32],
    min_size: usize,
) {
    loop {
        let (size, mean) = region_stats(labels, modes);
        if size.len() <= 1 || size.iter().all(|&s| s >= min_size) {
            return;
        }
        // The best neighbour of each small region: (distance, label).
        let mut best = vec![(f32::INFINITY, u32::MAX); size.len()];
        for_each_border(w, h, labels, |a, b| {
            for (r, q) in [(a, b), (b, a)] {
                if size[r as usize] < min_size {
                    let d = colour_distance(&mean[r as usize], &mean[q as usize]);
                    let slot = &mut best[r as usize];
                    if (d, q) < *slot {
                        *slot = (d, q);
                    }
                }
            }
        });
        let mut sets = DisjointSets::new(size.len());
        for (r, &(_, q)) in best.iter().enumerate() {
            if q != u32::MAX {
                sets.union(r, q as usize);
            }
        }
        apply(labels, &mut sets);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use crate::test_support::rgb;

    /// Blocks of 6x4 pixels of random colours, plus noise of up to `grain` levels.
    fn blocks(w: u32, h: u32, seed: u64, grain: u8) -> Image {
        let mut s = seed | 1;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        };
        let table: Vec<u8> = (0..w * h * 3).map(|_| next()).collect();
        let noise: Vec<u8> = (0..w * h * 3).map(|_| next() % grain.max(1)).collect();
        rgb(w, h, |x, y| {
            let b = (((y / 4) * w + x / 6) * 3) as usize;
            let p = ((y * w + x) * 3) as usize;
            std::array::from_fn(|c| table[b + c].saturating_add(noise[p + c]))
        })
    }

    #[test]
    fn two_flat_regions_give_two_segments() {
        let img = rgb(30, 20, |x, y| {
            if x + y < 22 {
                [200, 40, 40]
            } else {
                [40, 40, 200]
            }
        });
        for basin_speedup in [true, false] {
            let seg = MeanShift {
                basin_speedup,
                ..MeanShift::default()
            }
            .segment(&img)
            .unwrap();
            assert_eq!(seg.count(), 2);
            for y in 0..20 {
                for x in 0..30 {
                    assert_eq!(seg.label(x, y), Some(u32::from(x + y >= 22)));
                }
            }
        }
    }

    #[test]
    fn small_regions_are_merged_into_the_closest_colour() {
        // A 2x2 dark-red patch inside the red half, next to the blue half: it joins red.
        let img = rgb(20, 10, |x, y| {
            if (9..11).contains(&x) && (4..6).contains(&y) {
                [120, 20, 20]
            } else if x < 11 {
                [220, 30, 30]
            } else {
                [30, 30, 220]
            }
        });
        let seg = MeanShift {
            hr: 4.0,
            min_size: 5,
            ..MeanShift::default()
        }
        .segment(&img)
        .unwrap();
        assert_eq!(seg.count(), 2);
        assert_eq!(seg.label(9, 4), seg.label(0, 0));
    }

    #[test]
    fn same_result_on_one_and_two_threads() {
        let img = blocks(90, 80, 11, 12);
        let ms = MeanShift::default();
        let on = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| ms.segment(&img).unwrap())
        };
        assert_eq!(on(1), on(2));
    }

    #[test]
    fn refuses_bad_parameters() {
        let img = blocks(5, 5, 1, 1);
        for ms in [
            MeanShift {
                hs: 0.0,
                ..MeanShift::default()
            },
            MeanShift {
                hr: f32::INFINITY,
                ..MeanShift::default()
            },
            MeanShift {
                max_iterations: 0,
                ..MeanShift::default()
            },
            MeanShift {
                tolerance: -1.0,
                ..MeanShift::default()
            },
        ] {
            assert!(matches!(
                ms.segment(&img),
                Err(Error::InvalidParameter { .. })
            ));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn guarantees_hold(
            w in 1u32..24, h in 1u32..24, hs in 0.5f32..9.0, hr in 0.5f32..30.0,
            min_size in 0u32..30, speedup in any::<bool>(), seed in any::<u64>(), grain in 1u8..60
        ) {
            let img = blocks(w, h, seed, grain);
            let seg = MeanShift { hs, hr, min_size, basin_speedup: speedup, ..MeanShift::default() }
                .segment(&img).unwrap();
            prop_assert_eq!((seg.width(), seg.height()), (w, h));
            prop_assert!(seg.count() >= 1);
            prop_assert_eq!(seg.unlabelled_count(), 0);
            prop_assert_eq!(seg.disconnected_count(), 0);
            let sizes = seg.sizes();
            prop_assert!(sizes.iter().all(|&s| s > 0));
            if seg.count() > 1 {
                prop_assert!(sizes.iter().all(|&s| s >= min_size));
            }
            prop_assert!(Segmentation::from_labels(w, h, seg.labels().to_vec()).is_ok());
        }
    }
}
