//! k-means superpixels: Lloyd's algorithm over *all* pixels in the joint space of CIELAB
//! colour and weighted position, `(L, a, b, w·x, w·y)`.
//!
//! Unlike SLIC, which compares each pixel only with the centres whose `2S x 2S` window holds
//! it, every pixel here is assigned to its nearest centre among all of them. The squared distance is
//! `d_lab² + w² d_xy²` with the position weight `w = compactness / S`, where
//! `S = sqrt(pixels / n_segments)` is the nominal superpixel spacing: the same balance as
//! SLIC's `D² = d_lab² + (m / S)² d_xy²`, so `compactness` means what SLIC's `m` means.
//! With `compactness = 0` position is ignored and the algorithm is plain colour quantisation
//! into `n_segments` colours (turn `enforce_connectivity` off to keep one label per colour).
//!
//! Any channel count from 1 to [`KMeans::MAX_CHANNELS`]: grey and RGB images are clustered
//! in CIELAB (L\* for grey), other channel counts on the channels rescaled jointly to 0..1,
//! as scikit-image's `slic` does without CIELAB (so, as there, a `compactness` near 0.1 rather
//! than 10 balances them against position). The clustering is compiled for a set of channel
//! counts; other counts are padded up to the next one with zeros, which add exactly nothing to
//! any distance. 2-D images only.
//!
//! Centres start on a regular grid ([`KMeansInit::Grid`]) or by k-means++ seeding (Arthur &
//! Vassilvitskii 2007, [`KMeansInit::PlusPlus`]) drawn from a ChaCha8 generator seeded with
//! [`KMeans::seed`]. Lloyd iterations stop after `max_iterations` or once no centre moves by
//! more than `tolerance`. Finally, as in SLIC, regions are made 4-connected and small pieces
//! merged into a neighbour.
//!
//! Speed, all of it exact, so the result is Lloyd's: each pixel keeps Hamerly's bounds (an
//! upper bound on the distance to its centre, a lower bound on the distance to every other
//! centre, loosened each iteration by how far the centres moved) and Elkan's half-gap test (a
//! pixel closer to its centre than half the distance from that centre to the next one keeps
//! it); only the pixels whose bounds fail are searched. With a position term the search is
//! pruned in space: a centre further in weighted position alone than a pixel's bound cannot
//! be its nearest, so each 16 x 16 block of pixels compares its pixels only with the centres
//! near enough to its rectangle, taken from a grid of the centres by position, in a loop over
//! centres laid out by dimension that vectorises (recompiled for AVX2 where the CPU has it,
//! without fused multiply-add, so the results are the same). Without a position term
//! (colour quantisation) a k-d tree of the centres (`kiddo`) answers the searches. Fragments
//! left by the connectivity step join the neighbour of nearest mean colour, as SLIC's do.
//!
//! Determinism: pixels are assigned in fixed chunks in parallel (each pixel's query is
//! independent), centre sums are accumulated per fixed chunk and added in chunk order, and
//! the k-means++ draws walk fixed chunks in order; the output does not depend on the number
//! of threads.

use crate::algorithm::Superpixels;
use crate::color;
use crate::connectivity::{MergeInto, connect_with};
use crate::error::{Error, Result};
use crate::image::Image;
use crate::segmentation::{Segmentation, relabel_in_place};
use kiddo::SquaredEuclidean;
use kiddo::immutable::float::kdtree::ImmutableKdTree;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Pixels per parallel work item of the assignment step. Fixed, so that results do not
/// depend on the thread count.
const CHUNK: usize = 4096;
/// Pixels per partial sum of the update step (larger: each partial sum holds every centre).
const SUM_CHUNK: usize = 1 << 16;

/// The k-d tree of the centres: `f32` coordinates, `u32` centre numbers, leaves of 16 centres
/// (measured a little faster than kiddo's default of 32 on BSDS images at 400 centres).
type CentreTree<const D: usize> = ImmutableKdTree<f32, u32, D, 16>;

/// How [`KMeans`] places its first centres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KMeansInit {
    /// One centre at the middle pixel of each cell of a regular grid of spacing
    /// `S = sqrt(pixels / n_segments)`, as SLIC seeds. Deterministic without a seed.
    #[default]
    Grid,
    /// k-means++ seeding: the first centre is a pixel drawn uniformly, each next one a pixel
    /// drawn with probability proportional to its squared distance to the nearest centre so
    /// far. Uses [`KMeans::seed`]; costs `O(pixels x n_segments)`.
    PlusPlus,
}

/// k-means superpixel parameters: Lloyd's algorithm over every pixel in CIELAB (or the
/// channels rescaled to 0..1, for other than 1 or 3 channels) plus weighted position, then
/// connectivity enforcement.
///
/// ```
/// use tessera::{Image, KMeans, Superpixels};
/// let img = image::open(concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/chelsea.png")).unwrap();
/// let img = Image::from_dynamic(&img).unwrap();
/// let seg = KMeans { n_segments: 200, ..KMeans::default() }.segment(&img).unwrap();
/// assert!(seg.count() > 100 && seg.count() < 300);
/// assert_eq!(seg.disconnected_count(), 0);
/// ```
///
/// Colour quantisation: no position term, no connectivity enforcement.
///
/// ```
/// use tessera::{Image, KMeans, KMeansInit, Samples, Superpixels};
/// // Left half red, right half blue, with the colours interleaved in stripes.
/// let px: Vec<u8> = (0..8 * 4).flat_map(|i| if i % 3 == 0 { [200, 0, 0] } else { [0, 0, 200] }).collect();
/// let img = Image::new(8, 4, 3, Samples::U8(px)).unwrap();
/// let quantise = KMeans {
///     n_segments: 2,
///     compactness: 0.0,
///     init: KMeansInit::PlusPlus,
///     enforce_connectivity: false,
///     ..KMeans::default()
/// };
/// assert_eq!(quantise.segment(&img).unwrap().count(), 2);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    /// Number of centres (100). With grid seeding the grid has about this many cells; empty
    /// clusters and connectivity enforcement change the final count.
    pub n_segments: u32,
    /// `m`, the weight of position against colour (10, SLIC's default): position enters the
    /// feature vector scaled by `w = m / S`, so a shift of `S` pixels costs as much as a
    /// CIELAB difference of `m`. 0 gives colour quantisation.
    pub compactness: f32,
    /// Most Lloyd iterations (assignment then mean update) (10, as SLIC: the grid start is
    /// already near a local optimum, and later iterations move centres by fractions of a
    /// pixel).
    pub max_iterations: u32,
    /// Stop once no centre moved farther than this in feature space (CIELAB units; position
    /// in units of `w` times pixels) (0.1).
    pub tolerance: f32,
    /// Initial centres ([`KMeansInit::Grid`]).
    pub init: KMeansInit,
    /// Seed of the k-means++ draws (0). Unused with grid seeding.
    pub seed: u64,
    /// Make every superpixel one 4-connected region (true).
    pub enforce_connectivity: bool,
    /// With connectivity enforcement: pieces smaller than this fraction of the nominal size
    /// `pixels / centres` are merged into a neighbour (0.5, as SLIC).
    pub min_size_factor: f32,
    /// With connectivity enforcement: regions are cut when they exceed this multiple of the
    /// nominal size (3, as SLIC).
    pub max_size_factor: f32,
}

impl Default for KMeans {
    fn default() -> Self {
        KMeans {
            n_segments: 100,
            compactness: 10.0,
            max_iterations: 10,
            tolerance: 0.1,
            init: KMeansInit::Grid,
            seed: 0,
            enforce_connectivity: true,
            min_size_factor: 0.5,
            max_size_factor: 3.0,
        }
    }
}

impl Superpixels for KMeans {
    fn name(&self) -> &'static str {
        "kmeans"
    }

    fn validate(&self) -> Result<()> {
        if self.n_segments == 0 {
            return Err(Error::param("n_segments", "must be at least 1"));
        }
        Error::check_non_negative("compactness", self.compactness)?;
        if self.max_iterations == 0 {
            return Err(Error::param("max_iterations", "must be at least 1"));
        }
        Error::check_non_negative("tolerance", self.tolerance)?;
        Error::check_non_negative("min_size_factor", self.min_size_factor)?;
        Error::check_non_negative("max_size_factor", self.max_size_factor)?;
        if !(self.max_size_factor > 0.0 && self.max_size_factor >= self.min_size_factor) {
            return Err(Error::param(
                "max_size_factor",
                "must be > 0 and not smaller than min_size_factor",
            ));
        }
        Ok(())
    }

    fn segment(&self, image: &Image) -> Result<Segmentation> {
        image.require_2d("k-means")?;
        self.validate()?;
        let c = image.channels();
        if c > Self::MAX_CHANNELS {
            return Err(Error::UnsupportedFormat(format!(
                "k-means handles 1 to {} channels, the image has {c}",
                Self::MAX_CHANNELS
            )));
        }
        let planes = color::lab_planes(image).unwrap_or_else(|| {
            let mut planes = image.to_planes();
            color::rescale_jointly(&mut planes, 1.0);
            planes
        });
        let (w, h) = (image.width(), image.height());
        // Features: the colour planes (zeros after them up to the compiled count), x, y.
        Ok(match planes.len() {
            1 => self.cluster::<3>(w, h, &planes),
            2 => self.cluster::<4>(w, h, &planes),
            3 => self.cluster::<5>(w, h, &planes),
            4 => self.cluster::<6>(w, h, &planes),
            5..=6 => self.cluster::<8>(w, h, &planes),
            7..=8 => self.cluster::<10>(w, h, &planes),
            9..=12 => self.cluster::<14>(w, h, &planes),
            13..=16 => self.cluster::<18>(w, h, &planes),
            17..=24 => self.cluster::<26>(w, h, &planes),
            25..=32 => self.cluster::<34>(w, h, &planes),
            33..=48 => self.cluster::<50>(w, h, &planes),
            49..=64 => self.cluster::<66>(w, h, &planes),
            65..=96 => self.cluster::<98>(w, h, &planes),
            97..=128 => self.cluster::<130>(w, h, &planes),
            129..=192 => self.cluster::<194>(w, h, &planes),
            _ => self.cluster::<258>(w, h, &planes),
        })
    }
}

impl KMeans {
    /// The largest channel count accepted.
    pub const MAX_CHANNELS: usize = 256;

    /// Runs Lloyd's algorithm on features of `D` dimensions: `D - 2` colour planes, then x
    /// and y.
    fn cluster<const D: usize>(
        &self,
        width: u32,
        height: u32,
        planes: &[Vec<f32>],
    ) -> Segmentation {
        let (w, n) = (width as usize, width as usize * height as usize);
        let k = (self.n_segments as usize).min(n);
        let step = (n as f64 / k as f64).sqrt();
        let weight = (self.compactness as f64 / step) as f32;
        let points = features::<D>(w, n, planes, weight);
        let mut centres = match self.init {
            KMeansInit::Grid => grid_seeds(width as usize, height as usize, step, &points),
            KMeansInit::PlusPlus => plus_plus(&points, k, self.seed),
        };

        let mut labels = vec![0u32; n];
        let mut bounds = Bounds::new(n);
        let mut moves = vec![0.0f32; centres.len()];
        let h = height as usize;
        for iteration in 0..self.max_iterations {
            if weight > 0.0 {
                let local = Local {
                    width: w,
                    height: h,
                    weight,
                    cell: step,
                };
                local.assign(
                    &points,
                    &centres,
                    &moves,
                    iteration == 0,
                    &mut labels,
                    &mut bounds,
                );
            } else {
                assign(&points, &centres, &moves, &mut labels, &mut bounds);
            }
            update(&points, &labels, &mut centres, &mut moves);
            if moves.iter().all(|&m| m <= self.tolerance) {
                break;
            }
        }

        if self.enforce_connectivity {
            let nominal = n as f64 / centres.len() as f64;
            let min_size = (self.min_size_factor as f64 * nominal) as usize;
            let max_size = ((self.max_size_factor as f64 * nominal) as usize).max(1);
            // Fragments join the neighbour of the nearest mean colour, as SLIC's do.
            let colours: Vec<&[f32]> = planes.iter().map(|p| p.as_slice()).collect();
            connect_with(
                width,
                height,
                &labels,
                min_size,
                max_size,
                MergeInto::NearestMean(&colours),
            )
        } else {
            let count = relabel_in_place(&mut labels);
            Segmentation::from_parts(width, height, labels, count)
        }
    }
}

/// One feature vector per pixel: the colour planes (zeros after them, when there are fewer
/// than `D - 2`), then `weight * x` and `weight * y`.
fn features<const D: usize>(w: usize, n: usize, planes: &[Vec<f32>], weight: f32) -> Vec<[f32; D]> {
    let c = D - 2;
    let mut points = vec![[0.0f32; D]; n];
    points
        .par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(ci, chunk)| {
            for (i, p) in chunk.iter_mut().enumerate() {
                let idx = ci * CHUNK + i;
                for (j, plane) in planes.iter().enumerate().take(c) {
                    p[j] = plane[idx];
                }
                p[c] = weight * (idx % w) as f32;
                p[c + 1] = weight * (idx / w) as f32;
            }
        });
    points
}

/// One centre at the middle pixel of each cell of a grid of spacing about `step`, at most
/// `pixels / step²` cells.
fn grid_seeds<const D: usize>(w: usize, h: usize, step: f64, points: &[[f32; D]]) -> Vec<[f32; D]> {
    // At most `k` cells (`k` from `step = sqrt(w h / k)`), even for very thin images.
    let k = ((w * h) as f64 / (step * step)).round().max(1.0) as usize;
    let nx = ((w as f64 / step).round() as usize).clamp(1, w.min(k));
    let ny = (k / nx).clamp(1, h);
    let (cell_h, cell_w) = (h as f64 / ny as f64, w as f64 / nx as f64);
    (0..ny)
        .flat_map(|i| (0..nx).map(move |j| (i, j)))
        .map(|(i, j)| {
            let y = ((i as f64 + 0.5) * cell_h) as usize;
            let x = ((j as f64 + 0.5) * cell_w) as usize;
            points[y * w + x]
        })
        .collect()
}

fn squared_distance<const D: usize>(a: &[f32; D], b: &[f32; D]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// k-means++ seeding of up to `k` centres (fewer when the image has fewer distinct feature
/// vectors).
fn plus_plus<const D: usize>(points: &[[f32; D]], k: usize, seed: u64) -> Vec<[f32; D]> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = points.len();
    let mut centres = Vec::with_capacity(k);
    centres.push(points[rng.random_range(0..n)]);
    // Squared distance of each point to its nearest centre so far, and its sum per chunk.
    let mut nearest = vec![f32::INFINITY; n];
    let mut chunk_sums = vec![0.0f64; n.div_ceil(CHUNK)];
    while centres.len() < k {
        let last = centres[centres.len() - 1];
        nearest
            .par_chunks_mut(CHUNK)
            .zip(points.par_chunks(CHUNK))
            .zip(chunk_sums.par_iter_mut())
            .for_each(|((d, p), sum)| {
                let mut acc = 0.0f64;
                for (d, p) in d.iter_mut().zip(p) {
                    *d = d.min(squared_distance(p, &last));
                    acc += *d as f64;
                }
                *sum = acc;
            });
        let total: f64 = chunk_sums.iter().sum();
        if total <= 0.0 {
            break; // every point coincides with a centre
        }
        let target = rng.random::<f64>() * total;
        centres.push(points[draw(&nearest, &chunk_sums, target)]);
    }
    centres
}

/// The index of the point at cumulative weight `target`, walking fixed chunks in order; never
/// a point of weight 0.
fn draw(weights: &[f32], chunk_sums: &[f64], mut target: f64) -> usize {
    let mut chosen = None;
    for (ci, &sum) in chunk_sums.iter().enumerate() {
        if sum <= 0.0 {
            continue;
        }
        chosen = Some(ci);
        if target < sum {
            break;
        }
        target -= sum;
    }
    // `total > 0`, so some chunk has positive weight.
    let ci = chosen.unwrap_or(0);
    let base = ci * CHUNK;
    let mut pick = base;
    for (i, &d) in weights[base..(base + CHUNK).min(weights.len())]
        .iter()
        .enumerate()
    {
        if d > 0.0 {
            pick = base + i;
            if target < d as f64 {
                break;
            }
            target -= d as f64;
        }
    }
    pick
}

/// Slack on the bound test, in feature units: far above `f32` rounding of the distances, far
/// below any colour difference that matters.
const SLACK: f32 = 1e-3;

/// Per-point distance bounds of Hamerly's exact acceleration of Lloyd's algorithm: `upper`
/// bounds the distance to the point's centre from above, `lower` the distance to every other
/// centre from below. While `upper < lower` the assignment cannot change and the k-d tree is
/// not asked.
struct Bounds {
    upper: Vec<f32>,
    lower: Vec<f32>,
}

impl Bounds {
    /// Bounds that force a check of every point.
    fn new(n: usize) -> Self {
        Bounds {
            upper: vec![f32::INFINITY; n],
            lower: vec![f32::NEG_INFINITY; n],
        }
    }
}

/// Labels every point with its nearest centre. The k-d tree is searched only for the points
/// whose bounds (loosened by the centres' last `moves`) cannot vouch for their label; ties go
/// the tree's way, the same for every run.
fn assign<const D: usize>(
    points: &[[f32; D]],
    centres: &[[f32; D]],
    moves: &[f32],
    labels: &mut [u32],
    bounds: &mut Bounds,
) {
    let tree = CentreTree::<D>::new_from_slice(centres);
    // Half the distance from each centre to its nearest other centre: a point closer than
    // that to a centre has it as its unique nearest one (Elkan 2003, lemma 1), and
    // `2 half_gap[a] - d(p, c_a)` bounds from below p's distance to every centre but `a`.
    let two = std::num::NonZero::<usize>::MIN.saturating_add(1);
    let half_gap: Vec<f32> = centres
        .par_iter()
        .map(|c| {
            tree.nearest_n::<SquaredEuclidean>(c, two)
                .get(1)
                .map_or(f32::INFINITY, |nn| 0.5 * nn.distance.sqrt())
        })
        .collect();
    let max_move = moves.iter().copied().fold(0.0f32, f32::max);
    labels
        .par_chunks_mut(CHUNK)
        .zip(points.par_chunks(CHUNK))
        .zip(bounds.upper.par_chunks_mut(CHUNK))
        .zip(bounds.lower.par_chunks_mut(CHUNK))
        .for_each(|(((labels, points), upper), lower)| {
            for (((l, p), u), lo) in labels.iter_mut().zip(points).zip(upper).zip(lower) {
                let a = *l as usize;
                *u += moves[a];
                *lo -= max_move;
                if *u + SLACK < *lo {
                    continue;
                }
                *u = squared_distance(p, &centres[a]).sqrt();
                *lo = lo.max(2.0 * half_gap[a] - *u);
                if *u + SLACK < *lo {
                    continue;
                }
                let nearest = tree.nearest_one::<SquaredEuclidean>(p);
                let a = nearest.item as usize;
                *l = a as u32;
                *u = nearest.distance.sqrt();
                *lo = 2.0 * half_gap[a] - *u;
            }
        });
}

/// Side in pixels of the square blocks the spatially pruned assignment works on: one
/// candidate list of centres per block.
const BLOCK: usize = 16;

/// The assignment step with a position term (`weight > 0`), pruned in space and exact.
///
/// A pixel `p` whose bound `u` holds its distance to some centre has its nearest centre
/// among those whose *position* alone is within `u`: any centre `c` has
/// `d(p, c) >= weight * |xy(p) - xy(c)|`. So each `BLOCK x BLOCK` block of pixels takes the
/// largest `u` of its pixels still to be searched, gathers (from a grid of the centres by
/// position) the centres whose weighted spatial distance to the block's rectangle is within
/// it, and compares its pixels with those only. Every centre left out is further than that
/// `u` from every pixel of the block, which also bounds from below the distance to every
/// centre but the nearest. The result is the nearest centre among all of them: Lloyd's
/// assignment, ties to the lowest centre number.
struct Local {
    width: usize,
    height: usize,
    /// `w`, the position weight.
    weight: f32,
    /// Side in pixels of the cells of the grid of centres.
    cell: f64,
}

/// The centres bucketed by the grid cell of their position.
struct CentreGrid {
    cols: usize,
    rows: usize,
    cell: f32,
    /// Where each cell's centres start in `items` (one more entry than cells).
    start: Vec<u32>,
    /// Centre numbers, by cell, in increasing order within a cell.
    items: Vec<u32>,
}

impl CentreGrid {
    fn new<const D: usize>(centres: &[[f32; D]], local: &Local) -> Self {
        let cell = local.cell.max(1.0) as f32;
        let cols = ((local.width as f32 / cell).ceil() as usize).max(1);
        let rows = ((local.height as f32 / cell).ceil() as usize).max(1);
        let cell_of = |c: &[f32; D]| {
            let (x, y) = (c[D - 2] / local.weight, c[D - 1] / local.weight);
            let cx = ((x / cell).max(0.0) as usize).min(cols - 1);
            let cy = ((y / cell).max(0.0) as usize).min(rows - 1);
            cy * cols + cx
        };
        let mut start = vec![0u32; cols * rows + 1];
        for c in centres {
            start[cell_of(c) + 1] += 1;
        }
        for i in 1..start.len() {
            start[i] += start[i - 1];
        }
        let mut fill = start.clone();
        let mut items = vec![0u32; centres.len()];
        for (i, c) in centres.iter().enumerate() {
            let slot = &mut fill[cell_of(c)];
            items[*slot as usize] = i as u32;
            *slot += 1;
        }
        CentreGrid {
            cols,
            rows,
            cell,
            start,
            items,
        }
    }

    /// The cells holding every centre within `reach` pixels of the rectangle
    /// `[x0, x1] x [y0, y1]`: inclusive ranges of columns and of rows.
    fn cells_near(
        &self,
        (x0, x1): (f32, f32),
        (y0, y1): (f32, f32),
        reach: f32,
    ) -> ((usize, usize), (usize, usize)) {
        let span = |lo: f32, hi: f32, cells: usize| {
            let a = ((lo - reach) / self.cell).floor().max(0.0) as usize;
            let b = (((hi + reach) / self.cell).floor().max(0.0) as usize).min(cells - 1);
            (a.min(cells - 1), b)
        };
        (span(x0, x1, self.cols), span(y0, y1, self.rows))
    }
}

/// One block's candidate centres, coordinates stored by dimension so that the distance loop
/// over them vectorises.
struct Candidates<const D: usize> {
    /// Centre numbers, increasing.
    index: Vec<u32>,
    /// Their coordinates, padded to a multiple of [`LANES`] with far-away ones.
    coords: [Vec<f32>; D],
    /// Squared distances from the pixel in hand to each.
    distances: Vec<f32>,
}

impl<const D: usize> Candidates<D> {
    fn new() -> Self {
        Candidates {
            index: Vec::new(),
            coords: std::array::from_fn(|_| Vec::new()),
            distances: Vec::new(),
        }
    }

    /// Fills the list with the centres whose weighted spatial distance to the rectangle of
    /// pixels `[x0, x1] x [y0, y1]` is at most `radius`, in increasing centre number.
    #[allow(clippy::too_many_arguments)]
    fn gather(
        &mut self,
        centres: &[[f32; D]],
        grid: &CentreGrid,
        weight: f32,
        (x0, x1): (f32, f32),
        (y0, y1): (f32, f32),
        radius: f32,
    ) {
        self.index.clear();
        let reach = radius / weight;
        let ((cx0, cx1), (cy0, cy1)) = grid.cells_near((x0, x1), (y0, y1), reach);
        let r2 = radius * radius;
        for cy in cy0..=cy1 {
            let row = cy * grid.cols;
            let (a, b) = (grid.start[row + cx0], grid.start[row + cx1 + 1]);
            for &i in &grid.items[a as usize..b as usize] {
                let c = &centres[i as usize];
                let (x, y) = (c[D - 2], c[D - 1]);
                let dx = (x0 * weight - x).max(x - x1 * weight).max(0.0);
                let dy = (y0 * weight - y).max(y - y1 * weight).max(0.0);
                if dx * dx + dy * dy <= r2 {
                    self.index.push(i);
                }
            }
        }
        self.index.sort_unstable();
        let padded = self.index.len().next_multiple_of(LANES);
        for (d, coords) in self.coords.iter_mut().enumerate() {
            coords.clear();
            coords.extend(self.index.iter().map(|&i| centres[i as usize][d]));
            coords.resize(padded, PAD);
        }
        self.distances.resize(padded, 0.0);
    }

    /// The nearest candidate to `p` (ties: the lowest centre number), its squared distance,
    /// and the squared distance to the next nearest (infinite when there is none).
    ///
    /// Candidates go `LANES` at a time, each lane keeping its own nearest and next nearest,
    /// so that the loop vectorises; the lanes are reduced at the end.
    #[inline(always)]
    fn nearest(&mut self, p: &[f32; D]) -> (u32, f32, f32) {
        let m = self.coords[0].len();
        let dist = &mut self.distances[..m];
        dist.fill(0.0);
        for (coords, &v) in self.coords.iter().zip(p) {
            for (d, &c) in dist.iter_mut().zip(&coords[..m]) {
                let t = v - c;
                *d += t * t;
            }
        }
        let mut first = [f32::INFINITY; LANES];
        let mut second = [f32::INFINITY; LANES];
        let mut which = [0u32; LANES];
        for (g, group) in dist.chunks_exact(LANES).enumerate() {
            for l in 0..LANES {
                let d = group[l];
                let closer = d < first[l];
                second[l] = if closer { first[l] } else { second[l].min(d) };
                which[l] = if closer {
                    (g * LANES + l) as u32
                } else {
                    which[l]
                };
                first[l] = if closer { d } else { first[l] };
            }
        }
        let mut best = 0;
        for l in 1..LANES {
            if first[l] < first[best] || (first[l] == first[best] && which[l] < which[best]) {
                best = l;
            }
        }
        let mut next = second[best];
        for (l, &d) in first.iter().enumerate() {
            if l != best {
                next = next.min(d);
            }
        }
        let centre = self.index.get(which[best] as usize).copied().unwrap_or(0);
        (centre, first[best], next)
    }
}

/// Candidates per vector step of [`Candidates::nearest`].
const LANES: usize = 8;
/// The coordinate of the padding candidates: far from every pixel, yet its squared distance
/// stays finite.
const PAD: f32 = 1e15;

/// What every band of one assignment step reads.
struct Step<'a, const D: usize> {
    local: &'a Local,
    points: &'a [[f32; D]],
    centres: &'a [[f32; D]],
    moves: &'a [f32],
    /// A lower bound on half the distance from each centre to its nearest other centre.
    half_gap: &'a [f32],
    grid: &'a CentreGrid,
    first: bool,
}

/// How far around a block, in grid cells (nominal superpixel spacings), the centres count
/// as near for [`Step::loosening`]: further ones are at least this far in weighted position,
/// that is `NEAR x compactness` in feature units. 1.5 gave the fewest searches on BSDS500
/// (k = 400): nearer caps more bounds at `far`, further takes in more of the moving centres.
const NEAR: f32 = 1.5;

impl<const D: usize> Step<'_, D> {
    /// How the lower bounds of a block's pixels are loosened after the centres moved:
    /// `(near_move, far)`, a pixel's new lower bound being `min(lower - near_move, far)`.
    ///
    /// Hamerly loosens every bound by the largest move of any centre, which one centre
    /// jumping across the image sets for all pixels. Here the centres are split by their new
    /// position: those in the grid cells within [`NEAR`] cells of the block, whose distance
    /// to a pixel fell by at most their largest move `near_move`, and all others, which lie
    /// more than `NEAR` cells from the block in space, so further than `far` (that distance,
    /// weighted) from each of its pixels whatever their colour. Both bound the distance to
    /// every centre but the pixel's own from below.
    fn loosening(&self, (x0, x1): (f32, f32), (y0, y1): (f32, f32)) -> (f32, f32) {
        let grid = self.grid;
        let reach = NEAR * grid.cell;
        let ((cx0, cx1), (cy0, cy1)) = grid.cells_near((x0, x1), (y0, y1), reach);
        let mut near_move = 0.0f32;
        for cy in cy0..=cy1 {
            let row = cy * grid.cols;
            let (a, b) = (grid.start[row + cx0], grid.start[row + cx1 + 1]);
            for &i in &grid.items[a as usize..b as usize] {
                near_move = near_move.max(self.moves[i as usize]);
            }
        }
        // A little under the weighted distance, against rounding.
        let far = self.local.weight * reach * (1.0 - 1e-5);
        (near_move, far)
    }
}

/// One band's labels and bounds.
struct Band<'a> {
    y0: usize,
    labels: &'a mut [u32],
    upper: &'a mut [f32],
    lower: &'a mut [f32],
}

impl Local {
    /// Labels every point with its nearest centre, searching only the points whose bounds
    /// (loosened by the centres' last `moves`) cannot vouch for their label. On the `first`
    /// iteration the labels are not yet anyone's: each block starts from the centre nearest
    /// its middle in space.
    fn assign<const D: usize>(
        &self,
        points: &[[f32; D]],
        centres: &[[f32; D]],
        moves: &[f32],
        first: bool,
        labels: &mut [u32],
        bounds: &mut Bounds,
    ) {
        let grid = CentreGrid::new(centres, self);
        let half_gap = half_gaps(centres, &grid, self.weight);
        let step = Step {
            local: self,
            points,
            centres,
            moves,
            half_gap: &half_gap,
            grid: &grid,
            first,
        };
        let band = BLOCK * self.width;
        labels
            .par_chunks_mut(band)
            .zip(bounds.upper.par_chunks_mut(band))
            .zip(bounds.lower.par_chunks_mut(band))
            .enumerate()
            .for_each(|(bi, ((labels, upper), lower))| {
                let band = Band {
                    y0: bi * BLOCK,
                    labels,
                    upper,
                    lower,
                };
                assign_band(&step, band);
            });
    }
}

/// [`assign_band_portable`], on x86-64 CPUs with AVX2 compiled for it (wider vectors, no fused
/// multiply-add: every operation and its order are the same, so are the results).
fn assign_band<const D: usize>(step: &Step<'_, D>, band: Band<'_>) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, as just checked.
        return unsafe { assign_band_avx2(step, band) };
    }
    assign_band_portable(step, band);
}

/// [`assign_band_portable`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn assign_band_avx2<const D: usize>(step: &Step<'_, D>, band: Band<'_>) {
    assign_band_portable(step, band);
}

/// The assignment of one band of `BLOCK` rows, block by block.
#[inline(always)]
fn assign_band_portable<const D: usize>(step: &Step<'_, D>, band: Band<'_>) {
    let Band {
        y0,
        labels,
        upper,
        lower,
    } = band;
    let (w, h, weight) = (step.local.width, step.local.height, step.local.weight);
    let (centres, moves) = (step.centres, step.moves);
    let points = &step.points[y0 * w..y0 * w + labels.len()];
    let rows = labels.len() / w;
    let mut cands = Candidates::<D>::new();
    let mut todo: Vec<usize> = Vec::with_capacity(BLOCK * BLOCK);
    for x0 in (0..w).step_by(BLOCK) {
        let cols = BLOCK.min(w - x0);
        if step.first {
            let (mx, my) = ((x0 + cols / 2) as f32, (y0 + rows / 2) as f32);
            let guide = nearest_in_space(centres, weight, mx, my);
            for r in 0..rows {
                labels[r * w + x0..r * w + x0 + cols].fill(guide);
            }
        }
        let xs = (x0 as f32, (x0 + cols - 1) as f32);
        let ys = (y0 as f32, (y0 + rows - 1).min(h - 1) as f32);
        let (near_move, far) = step.loosening(xs, ys);
        // The pixels whose bounds fail, and the largest distance to their current centres.
        todo.clear();
        let mut radius = 0.0f32;
        for r in 0..rows {
            for i in r * w + x0..r * w + x0 + cols {
                let a = labels[i] as usize;
                let (u, lo) = (&mut upper[i], &mut lower[i]);
                *u += moves[a];
                *lo = (*lo - near_move).min(far);
                if *u + SLACK < *lo {
                    continue;
                }
                *u = squared_distance(&points[i], &centres[a]).sqrt();
                *lo = lo.max(2.0 * step.half_gap[a] - *u);
                if *u + SLACK < *lo {
                    continue;
                }
                radius = radius.max(*u);
                todo.push(i);
            }
        }
        if todo.is_empty() {
            continue;
        }
        // A little over the largest distance, so that rounding cannot leave out a centre at
        // exactly that distance.
        let radius = radius * (1.0 + 1e-5) + SLACK;
        cands.gather(centres, step.grid, weight, xs, ys, radius);
        for &i in &todo {
            let (a, d1, d2) = cands.nearest(&points[i]);
            labels[i] = a;
            upper[i] = d1.sqrt();
            lower[i] = d2.sqrt().min(radius);
        }
    }
}

/// For each centre, a lower bound on half the distance to its nearest other centre: the
/// nearest among the centres of the 3 x 3 grid cells around its own, or half the weighted
/// width of a cell (every centre outside those cells is at least a cell away in space),
/// whichever is smaller. A point closer than that to its centre has it as its unique
/// nearest one (Elkan 2003, lemma 1).
fn half_gaps<const D: usize>(centres: &[[f32; D]], grid: &CentreGrid, weight: f32) -> Vec<f32> {
    let outside = weight * grid.cell;
    centres
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let cx = ((c[D - 2] / weight / grid.cell).max(0.0) as usize).min(grid.cols - 1);
            let cy = ((c[D - 1] / weight / grid.cell).max(0.0) as usize).min(grid.rows - 1);
            let mut nearest = outside * outside;
            for y in cy.saturating_sub(1)..=(cy + 1).min(grid.rows - 1) {
                let row = y * grid.cols;
                let (x0, x1) = (cx.saturating_sub(1), (cx + 1).min(grid.cols - 1));
                let (a, b) = (grid.start[row + x0], grid.start[row + x1 + 1]);
                for &j in &grid.items[a as usize..b as usize] {
                    if j as usize != i {
                        nearest = nearest.min(squared_distance(c, &centres[j as usize]));
                    }
                }
            }
            0.5 * nearest.sqrt() * (1.0 - 1e-5)
        })
        .collect()
}

/// The centre whose position is nearest the pixel `(x, y)` (ties: the lowest number).
fn nearest_in_space<const D: usize>(centres: &[[f32; D]], weight: f32, x: f32, y: f32) -> u32 {
    let (x, y) = (x * weight, y * weight);
    let mut best = (f32::INFINITY, 0u32);
    for (i, c) in centres.iter().enumerate() {
        let d = (c[D - 2] - x) * (c[D - 2] - x) + (c[D - 1] - y) * (c[D - 1] - y);
        if d < best.0 {
            best = (d, i as u32);
        }
    }
    best.1
}

/// Moves each centre to the mean of its points (a centre without points stays) and writes
/// how far each moved to `moves`.
fn update<const D: usize>(
    points: &[[f32; D]],
    labels: &[u32],
    centres: &mut [[f32; D]],
    moves: &mut [f32],
) {
    let nc = centres.len();
    let stride = D + 1;
    let partial: Vec<Vec<f64>> = labels
        .par_chunks(SUM_CHUNK)
        .zip(points.par_chunks(SUM_CHUNK))
        .map(|(labels, points)| {
            let mut acc = vec![0.0f64; nc * stride];
            for (&l, p) in labels.iter().zip(points) {
                let s = &mut acc[l as usize * stride..(l as usize + 1) * stride];
                s[0] += 1.0;
                for (t, &v) in s[1..].iter_mut().zip(p) {
                    *t += v as f64;
                }
            }
            acc
        })
        .collect();
    let mut total = vec![0.0f64; nc * stride];
    for part in &partial {
        total.iter_mut().zip(part).for_each(|(t, v)| *t += v);
    }
    for ((centre, s), moved) in centres
        .iter_mut()
        .zip(total.chunks_exact(stride))
        .zip(moves)
    {
        *moved = 0.0;
        if s[0] > 0.0 {
            let mean: [f32; D] = std::array::from_fn(|d| (s[1 + d] / s[0]) as f32);
            *moved = squared_distance(&mean, centre).sqrt();
            *centre = mean;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Samples;
    use proptest::prelude::*;

    use crate::test_support::rgb;

    /// Uniform 8-bit RGB noise.
    fn noise(w: u32, h: u32, seed: u64) -> Image {
        crate::test_support::noise_image(w, h, 3, seed)
    }

    /// Blocks of 7x5 pixels of random colours, plus a little noise.
    fn blocks(w: u32, h: u32, seed: u64) -> Image {
        let base = noise(w, h, seed);
        let grain = noise(w, h, seed ^ 0x9e37);
        let (Samples::U8(b), Samples::U8(g)) = (base.samples(), grain.samples()) else {
            unreachable!()
        };
        rgb(w, h, |x, y| {
            let block = (((y / 5) * w + x / 7) * 3) as usize;
            let p = ((y * w + x) * 3) as usize;
            std::array::from_fn(|c| b[block + c].saturating_add(g[p + c] / 16))
        })
    }

    #[test]
    fn two_flat_regions_give_two_segments() {
        // Left third red, the rest blue; two centres on a 1x2 grid, one in each colour.
        let img = rgb(
            12,
            6,
            |x, _| if x < 4 { [220, 20, 20] } else { [20, 20, 220] },
        );
        let seg = KMeans {
            n_segments: 2,
            ..KMeans::default()
        }
        .segment(&img)
        .unwrap();
        assert_eq!(seg.count(), 2);
        for y in 0..6 {
            for x in 0..12 {
                assert_eq!(seg.label(x, y), Some(u32::from(x >= 4)));
            }
        }
    }

    #[test]
    fn quantises_two_colours_into_two_clusters() {
        // Scattered pixels of two colours: without position, two clusters, one per colour.
        let img = rgb(9, 7, |x, y| {
            if (x * 7 + y * 3) % 5 < 2 {
                [250, 200, 0]
            } else {
                [10, 60, 90]
            }
        });
        for init in [KMeansInit::Grid, KMeansInit::PlusPlus] {
            let seg = KMeans {
                n_segments: 2,
                compactness: 0.0,
                init,
                enforce_connectivity: false,
                ..KMeans::default()
            }
            .segment(&img)
            .unwrap();
            assert_eq!(seg.count(), 2, "{init:?}");
            let colour_of = |x: u32, y: u32| (x * 7 + y * 3) % 5 < 2;
            for y in 0..7 {
                for x in 0..9 {
                    let same = seg.label(x, y) == seg.label(0, 0);
                    assert_eq!(same, colour_of(x, y) == colour_of(0, 0));
                }
            }
        }
    }

    #[test]
    fn plus_plus_depends_on_the_seed_only() {
        let img = blocks(40, 30, 7);
        let run = |seed| {
            KMeans {
                n_segments: 30,
                init: KMeansInit::PlusPlus,
                seed,
                enforce_connectivity: false,
                ..KMeans::default()
            }
            .segment(&img)
            .unwrap()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn same_result_on_one_and_two_threads() {
        let img = blocks(150, 70, 3);
        for init in [KMeansInit::Grid, KMeansInit::PlusPlus] {
            let km = KMeans {
                n_segments: 60,
                init,
                seed: 5,
                ..KMeans::default()
            };
            let on = |threads| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| km.segment(&img).unwrap())
            };
            assert_eq!(on(1), on(2), "{init:?}");
        }
    }

    #[test]
    fn bounded_assignment_is_the_nearest_centre() {
        let img = blocks(60, 40, 9);
        let planes = color::lab_planes(&img).unwrap();
        let points = features::<5>(60, 2400, &planes, 0.7);
        let mut centres = plus_plus(&points, 25, 4);
        let mut labels = vec![0u32; points.len()];
        let mut bounds = Bounds::new(points.len());
        let mut moves = vec![0.0f32; centres.len()];
        for _ in 0..6 {
            assign(&points, &centres, &moves, &mut labels, &mut bounds);
            for (p, &l) in points.iter().zip(&labels) {
                let best = centres
                    .iter()
                    .map(|c| squared_distance(p, c))
                    .fold(f32::INFINITY, f32::min);
                let mine = squared_distance(p, &centres[l as usize]);
                assert!(mine <= best * (1.0 + 1e-5) + 1e-6, "{mine} > {best}");
            }
            update(&points, &labels, &mut centres, &mut moves);
        }
    }

    #[test]
    fn pruned_assignment_is_the_nearest_centre() {
        for (w, h, k, weight, seed) in [
            (60, 40, 25, 0.7, 9),
            (97, 31, 40, 0.2, 3),
            (33, 50, 12, 3.0, 5),
        ] {
            let img = blocks(w, h, seed);
            let planes = color::lab_planes(&img).unwrap();
            let n = (w * h) as usize;
            let points = features::<5>(w as usize, n, &planes, weight);
            let mut centres = plus_plus(&points, k, 4);
            let mut labels = vec![0u32; n];
            let mut bounds = Bounds::new(n);
            let mut moves = vec![0.0f32; centres.len()];
            let local = Local {
                width: w as usize,
                height: h as usize,
                weight,
                cell: (n as f64 / k as f64).sqrt(),
            };
            for it in 0..6 {
                local.assign(&points, &centres, &moves, it == 0, &mut labels, &mut bounds);
                for (p, &l) in points.iter().zip(&labels) {
                    let (best, at) = centres
                        .iter()
                        .enumerate()
                        .map(|(i, c)| (squared_distance(p, c), i))
                        .fold((f32::INFINITY, 0), |a, b| if b.0 < a.0 { b } else { a });
                    let mine = squared_distance(p, &centres[l as usize]);
                    assert!(
                        mine <= best * (1.0 + 1e-5) + 1e-6,
                        "{it}: {mine} > {best} ({l} vs {at})"
                    );
                }
                update(&points, &labels, &mut centres, &mut moves);
            }
        }
    }

    #[test]
    fn refuses_bad_parameters() {
        let bad = [
            KMeans {
                n_segments: 0,
                ..KMeans::default()
            },
            KMeans {
                compactness: -1.0,
                ..KMeans::default()
            },
            KMeans {
                tolerance: f32::NAN,
                ..KMeans::default()
            },
            KMeans {
                max_iterations: 0,
                ..KMeans::default()
            },
            KMeans {
                min_size_factor: 4.0,
                ..KMeans::default()
            },
        ];
        for km in bad {
            assert!(matches!(
                km.segment(&noise(4, 4, 1)),
                Err(Error::InvalidParameter { .. })
            ));
        }
    }

    #[test]
    fn many_channels_pad_exactly() {
        // Without CIELAB: 2 channels, and the same with 2, 3 or 5 constant channels more (4:
        // compiled; 5 and 7: padded to 6 and 8), inside the data's range so that the joint
        // rescaling is the same, give the same superpixels.
        let base = crate::test_support::noisy_image(41, 29, 2, 6);
        let Samples::U8(b) = base.samples() else {
            unreachable!()
        };
        let (lo, hi) = (*b.iter().min().unwrap(), *b.iter().max().unwrap());
        assert!(hi - lo > 100);
        let km = KMeans {
            n_segments: 30,
            compactness: 0.2,
            ..KMeans::default()
        };
        let want = km.segment(&base).unwrap();
        assert!(want.count() > 15, "{}", want.count());
        // 200 channels: padded to the widest compiled count, 256.
        for extra in [2usize, 3, 5, 198] {
            let s: Vec<u8> = b
                .chunks_exact(2)
                .flat_map(|px| {
                    px.iter()
                        .copied()
                        .chain((0..extra).map(|e| lo + (e % 8) as u8))
                })
                .collect();
            let img = Image::new(41, 29, (2 + extra) as u16, Samples::U8(s)).unwrap();
            assert_eq!(km.segment(&img).unwrap(), want, "{extra} extra channels");
        }
        // The channels are rescaled jointly: the same data as floats in 0..1000 gives the
        // same result.
        let f: Vec<f32> = b.iter().map(|&v| f32::from(v) * 4.0).collect();
        let floats = Image::new(41, 29, 2, Samples::F32(f)).unwrap();
        assert_eq!(km.segment(&floats).unwrap(), want);
        let c = KMeans::MAX_CHANNELS + 1;
        let wide = Image::new(2, 2, c as u16, Samples::U8(vec![0; 4 * c])).unwrap();
        assert!(matches!(
            km.segment(&wide),
            Err(Error::UnsupportedFormat(_))
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn guarantees_hold_for_any_channel_count(
            w in 1u32..20, h in 1u32..20, c in 1u8..=12, k in 1u32..30, m in 0.0f32..2.0,
            plus in any::<bool>(), connect in any::<bool>(), seed in any::<u64>(),
        ) {
            let img = crate::test_support::noisy_image(w, h, c, seed);
            let seg = KMeans {
                n_segments: k,
                compactness: m,
                init: if plus { KMeansInit::PlusPlus } else { KMeansInit::Grid },
                seed,
                enforce_connectivity: connect,
                ..KMeans::default()
            }.segment(&img).unwrap();
            prop_assert!(Segmentation::from_labels(w, h, seg.labels().to_vec()).is_ok());
            prop_assert_eq!(seg.unlabelled_count(), 0);
            if connect {
                prop_assert_eq!(seg.disconnected_count(), 0);
            } else {
                prop_assert!(seg.count() <= k);
            }
        }

        #[test]
        fn guarantees_hold(
            w in 1u32..24, h in 1u32..24, k in 1u32..40, m in 0.0f32..30.0,
            plus in any::<bool>(), connect in any::<bool>(), seed in any::<u64>(), grey in any::<bool>()
        ) {
            let img = blocks(w, h, seed);
            let img = if grey {
                let g = img.to_planes()[0].clone();
                Image::new(w, h, 1, Samples::F32(g)).unwrap()
            } else { img };
            let seg = KMeans {
                n_segments: k,
                compactness: m,
                init: if plus { KMeansInit::PlusPlus } else { KMeansInit::Grid },
                seed,
                enforce_connectivity: connect,
                ..KMeans::default()
            }.segment(&img).unwrap();
            prop_assert_eq!((seg.width(), seg.height()), (w, h));
            prop_assert!(seg.count() >= 1);
            prop_assert!(seg.sizes().iter().all(|&s| s > 0));
            prop_assert_eq!(seg.unlabelled_count(), 0);
            if connect {
                prop_assert_eq!(seg.disconnected_count(), 0);
            } else {
                prop_assert!(seg.count() <= k);
            }
        }
    }
}
