//! Connected components of a label map, and SLIC's connectivity enforcement.
//!
//! Written here rather than taken from `imageproc::region_labelling`, which labels regions
//! of equal *pixel value* in an image of at most `u32` values but has neither a size cap nor
//! the merge of small regions into a neighbour that SLIC's post-processing needs; a single
//! breadth-first pass does both.

use crate::error::Result;
use crate::segmentation::{Segmentation, UNLABELLED, check_len, check_len_volume};

/// Splits every label into its 4-connected pieces; each piece becomes a segment, numbered in
/// raster order of its first pixel. Unlabelled pixels stay unlabelled.
///
/// ```
/// let seg = tessera::connectivity::split_components(3, 1, &[5, 6, 5])?;
/// assert_eq!(seg.labels(), &[0, 1, 2]);
/// # Ok::<(), tessera::Error>(())
/// ```
///
/// # Errors
/// [`Error::SizeMismatch`](crate::Error::SizeMismatch) when `labels` does not hold `width * height` labels, or is empty.
pub fn split_components(width: u32, height: u32, labels: &[u32]) -> Result<Segmentation> {
    enforce_connectivity(width, height, labels, 0, usize::MAX)
}

/// [`split_components`] for a volume of `depth` slices of `width x height` voxels (labels
/// slice after slice): every label is split into its 6-connected pieces.
///
/// ```
/// // Two 2x1 slices: each label touches itself across the slices.
/// let seg = tessera::connectivity::split_components_volume(2, 2, 1, &[5, 6, 5, 6])?;
/// assert_eq!(seg.labels(), &[0, 1, 0, 1]);
/// // Swapped in the second slice, no voxel touches its label's other voxel.
/// let seg = tessera::connectivity::split_components_volume(2, 2, 1, &[5, 6, 6, 5])?;
/// assert_eq!(seg.labels(), &[0, 1, 2, 3]);
/// let seg = tessera::connectivity::split_components_volume(2, 2, 1, &[5, 6, 5, 5])?;
/// assert_eq!(seg.count(), 2);
/// # Ok::<(), tessera::Error>(())
/// ```
///
/// # Errors
/// [`Error::SizeMismatch`](crate::Error::SizeMismatch) when `labels` does not hold
/// `depth * width * height` labels, or is empty.
pub fn split_components_volume(
    depth: u32,
    width: u32,
    height: u32,
    labels: &[u32],
) -> Result<Segmentation> {
    enforce_connectivity_volume(depth, width, height, labels, 0, usize::MAX)
}

/// [`split_components`] for a label map whose size is known to be right.
pub(crate) fn split_checked(seg: &Segmentation) -> Segmentation {
    connect(seg.width(), seg.height(), seg.labels(), 0, usize::MAX)
}

/// SLIC's post-processing (Achanta et al. 2012; scikit-image's `min_size_factor` and
/// `max_size_factor`): splits every label into 4-connected regions, cutting a region once it
/// holds `max_size` pixels (grown breadth-first from its first pixel in raster order), then
/// merges every region of fewer than `min_size` pixels into the neighbouring region with which
/// it shares the longest border. Small regions are merged smallest first; a region that has
/// no neighbour (an island inside a mask) stays as it is.
///
/// Unlike scikit-image, which merges a small region into whichever region was numbered next
/// to its first pixel, the longest-border rule keeps fragments with the superpixel that
/// surrounds them, so merges do not chain into sprawling regions.
///
/// The result's segments are each one 4-connected region, numbered in raster order.
///
/// # Errors
/// [`Error::SizeMismatch`](crate::Error::SizeMismatch) when `labels` does not hold `width * height` labels, or is empty.
pub fn enforce_connectivity(
    width: u32,
    height: u32,
    labels: &[u32],
    min_size: usize,
    max_size: usize,
) -> Result<Segmentation> {
    check_len(width, height, labels)?;
    Ok(connect(width, height, labels, min_size, max_size))
}

/// [`enforce_connectivity`] for a volume of `depth` slices of `width x height` voxels:
/// regions are 6-connected, borders are counted between face neighbours, and the result's
/// supervoxels are numbered in raster order (slice, row, column) of their first voxel.
///
/// # Errors
/// [`Error::SizeMismatch`](crate::Error::SizeMismatch) when `labels` does not hold
/// `depth * width * height` labels, or is empty.
pub fn enforce_connectivity_volume(
    depth: u32,
    width: u32,
    height: u32,
    labels: &[u32],
    min_size: usize,
    max_size: usize,
) -> Result<Segmentation> {
    check_len_volume(depth, width, height, labels)?;
    Ok(connect(width, height, labels, min_size, max_size))
}

/// The neighbour a region too small to keep is merged into.
#[derive(Debug, Clone, Copy)]
pub(crate) enum MergeInto<'a> {
    /// The one sharing the longest border (ties: the lower region number).
    LongestBorder,
    /// The one whose mean feature vector (over `planes`, one value per pixel each) is nearest
    /// in squared Euclidean distance (ties: the longest border, then the lower number). Means
    /// are updated as regions merge.
    NearestMean(&'a [&'a [f32]]),
}

/// [`enforce_connectivity`] once the size is checked.
pub(crate) fn connect(
    width: u32,
    height: u32,
    labels: &[u32],
    min_size: usize,
    max_size: usize,
) -> Segmentation {
    connect_with(
        width,
        height,
        labels,
        min_size,
        max_size,
        MergeInto::LongestBorder,
    )
}

/// [`connect`] with a choice of merge target. The planes of [`MergeInto::NearestMean`] must
/// hold one value per pixel. A map of several `width x height` slices is a volume, whose
/// regions are 6-connected.
///
/// Works on runs of equal region number rather than on pixels: the label map is read once
/// (to find the runs) and the result written once (a fill per run); everything in between,
/// including the borders of the small regions, is computed from the runs.
pub(crate) fn connect_with(
    width: u32,
    height: u32,
    labels: &[u32],
    min_size: usize,
    max_size: usize,
    rule: MergeInto<'_>,
) -> Segmentation {
    if labels.is_empty() {
        // The public entry points refuse an empty map; this keeps `Runs::of` off width 0.
        return Segmentation::from_parts(width, height, Vec::new(), 0);
    }
    let (w, h) = (width as usize, height as usize);
    let merge = min_size > 1;
    let Components {
        runs, edges, sizes, ..
    } = components(w, h, labels, max_size.max(1), merge);
    if !merge || sizes.len() < 2 {
        let count = sizes.len() as u32;
        return Segmentation::from_parts(width, height, runs.paint(|id| id), count);
    }
    let order = smallest_first(&sizes, min_size);
    let adjacency = Borders::of(&runs, &edges, &sizes, min_size);
    // Temporaries are freed as soon as they are done with, so that later allocations (the
    // output map above all) reuse their memory rather than grow the heap.
    drop(edges);
    // Feature sums per region, for the nearest-mean rule.
    let features = match rule {
        MergeInto::LongestBorder => None,
        MergeInto::NearestMean(planes) => {
            Some((planes.len(), region_sums(&runs, sizes.len(), planes)))
        }
    };
    let mut parent = merge_small(&order, &adjacency, &sizes, features, min_size);
    drop(adjacency);
    // Number the merged regions in raster order of their first pixel, which is the order in
    // which their first run comes (region numbers are not in that order once `cut_large`
    // has added pieces, so the runs are walked rather than the region numbers).
    let root: Vec<u32> = (0..sizes.len() as u32)
        .map(|c| find(&mut parent, c))
        .collect();
    let mut number = vec![UNLABELLED; sizes.len()];
    let mut next = 0u32;
    let out = runs.paint(|id| {
        let r = root[id as usize] as usize;
        if number[r] == UNLABELLED {
            number[r] = next;
            next += 1;
        }
        number[r]
    });
    Segmentation::from_parts(width, height, out, next)
}

/// Merges every region smaller than `min_size` pixels, taken in `order` (smallest first,
/// then by number), into the neighbouring region (its root, as merged so far) whose mean
/// feature vector is nearest (with `features`: the channel count and each region's
/// [`region_sums`]), or that shares the longest border (ties: the longest border, then the
/// lower number). Returns each region's parent: roots are the merged regions.
///
/// A small region's mean takes in what merged into it; a region that starts at `min_size`
/// or above keeps the mean of its own pixels (the fragments it takes in are a few pixels
/// against its thousands). So a large region is the same to every fragment that meets it,
/// whenever that comes, and a *group* of small regions touching one another merges the same
/// way whatever happens elsewhere in the image: a tiled run merges such groups inside the
/// tile that holds them, and only the groups cut by tile borders reach the stitch (see
/// `connectivity::tiles`).
///
/// This is the whole of the merge's logic, on the region graph alone, so that a tiled run
/// (which gathers the same sizes, sums and borders tile by tile) merges exactly as the
/// whole-image run does.
pub(crate) fn merge_small(
    order: &[u32],
    adjacency: &Borders,
    sizes: &[u32],
    features: Option<(usize, Vec<i128>)>,
    min_size: usize,
) -> Vec<u32> {
    let mut parent: Vec<u32> = (0..sizes.len() as u32).collect();
    let mut size: Vec<usize> = sizes.iter().map(|&s| s as usize).collect();
    // Border length with each neighbouring root, summed in `total` (zero when untouched,
    // as every piece has a length) over the roots listed in `touched`; the best root is the
    // one with the longest border, then the lowest number, whatever order the pieces come in.
    let mut total = vec![0u32; sizes.len()];
    let mut touched: Vec<u32> = Vec::new();
    let (channels, mut sums) = features.unwrap_or((0, Vec::new()));
    // The sums are fixed point (a power of two times the features); the distances are
    // compared, never reported, so the scale is left in. Each region's mean is kept beside
    // its sums (recomputed, by the same expression, when its sums change), so that a
    // distance costs no `i128` conversion.
    let mean_of = |sums: &[i128], size: &[usize], r: usize, ch: usize| -> f64 {
        as_f64(sums[r * channels + ch]) / size[r] as f64
    };
    let mut mean: Vec<f64> = (0..size.len())
        .flat_map(|r| (0..channels).map(move |ch| (r, ch)))
        .map(|(r, ch)| mean_of(&sums, &size, r, ch))
        .collect();
    let mean_distance = |mean: &[f64], a: u32, b: u32| -> f64 {
        let (a, b) = (
            &mean[a as usize * channels..][..channels],
            &mean[b as usize * channels..][..channels],
        );
        a.iter()
            .zip(b)
            .map(|(x, y)| {
                let t = x - y;
                t * t
            })
            .sum()
    };
    for &c in order {
        // `c` is still a root: a region's parent changes only when it is itself merged.
        if size[c as usize] >= min_size {
            continue;
        }
        for &(nb, len) in adjacency.of_region(c) {
            let r = find(&mut parent, nb);
            if r == c {
                continue;
            }
            if total[r as usize] == 0 {
                touched.push(r);
            }
            total[r as usize] += len;
        }
        let by_border = |a: u32, b: u32| {
            let (ta, tb) = (total[a as usize], total[b as usize]);
            ta.cmp(&tb).then(b.cmp(&a))
        };
        // Each candidate's mean distance once (0 for every one under the longest-border rule,
        // which then decides by border alone).
        let best = touched
            .iter()
            .map(|&r| (r, mean_distance(&mean, c, r)))
            .max_by(|&(a, da), &(b, db)| db.total_cmp(&da).then(by_border(a, b)))
            .map(|(r, _)| r);
        for &r in &touched {
            total[r as usize] = 0;
        }
        touched.clear();
        if let Some(target) = best {
            let t = target as usize;
            parent[c as usize] = target;
            size[t] += size[c as usize];
            if (sizes[t] as usize) < min_size {
                for ch in 0..channels {
                    let f = c as usize * channels + ch;
                    sums[t * channels + ch] = sums[t * channels + ch].wrapping_add(sums[f]);
                    mean[t * channels + ch] = mean_of(&sums, &size, t, ch);
                }
            }
        }
    }
    parent
}

/// `v as f64`, through the one-instruction `i64` conversion when `v` fits (the same
/// correctly rounded value; `i128` conversion is a library call).
#[inline(always)]
fn as_f64(v: i128) -> f64 {
    match i64::try_from(v) {
        Ok(x) => x as f64,
        Err(_) => v as f64,
    }
}

/// The fixed-point scale of [`region_sums`]: features are summed as integers in units of
/// `2^-32` (finer than an `f32` feature's resolution in the ranges merged), so that sums do
/// not depend on the order of the additions (a tiled run adds a region's pixels tile by tile,
/// and must get the whole-image run's sums).
const SUM_SCALE: f64 = 4_294_967_296.0;

/// A feature value in [`SUM_SCALE`] units (saturating beyond `±2^31`: the features merged by
/// mean are CIELAB or rescaled to `0..1`).
#[inline(always)]
pub(crate) fn fixed_point(v: f32) -> i64 {
    (f64::from(v) * SUM_SCALE) as i64
}

/// Per-region sums of each plane, `planes.len()` values per region, in [`SUM_SCALE`] fixed
/// point (integer sums, so exact and independent of the order of the additions; `i128`
/// wrapping, so that even absurd values give the same sums in any order), run by run.
pub(crate) fn region_sums(runs: &Runs, regions: usize, planes: &[&[f32]]) -> Vec<i128> {
    let channels = planes.len();
    let w = runs.w;
    let mut sums = vec![0i128; regions * channels];
    let mut prefix = vec![0i64; w + 1];
    // Below this magnitude a row's fixed-point values add up in `i64` without overflow
    // (`w` values of at most `2^62 / (w + 1)` each).
    let bound = (f64::from(1u32 << 30) / (w as f64 + 1.0)) as f32;
    for (ch, plane) in planes.iter().enumerate() {
        // A plane of modest values (every feature SLIC merges by: CIELAB, or 0..1) is
        // summed through `i64` prefix sums of each row, a run's sum being the difference of
        // two of them (no loop per run, whose exit mispredicts on runs of every length);
        // anything else (huge, infinite or NaN values) takes the saturating `i128` path.
        // Both give the exact integer sum, so the same bits. (A fold rather than `all`, so
        // that the test runs in vector lanes; NaN fails `<=`.)
        let modest = plane.iter().fold(true, |ok, v| ok & (v.abs() <= bound));
        for y in 0..runs.rows() {
            let row = &plane[y * w..][..w];
            if modest {
                let mut acc = 0i64;
                for (p, &v) in prefix[1..].iter_mut().zip(row) {
                    // SAFETY: `|v| <= bound < 2^30` (checked above), so `v * 2^32` is finite
                    // and in range of `i64`; the truncation is `fixed_point`'s.
                    acc += unsafe { (f64::from(v) * SUM_SCALE).to_int_unchecked::<i64>() };
                    *p = acc;
                }
            }
            let mut start = 0;
            for k in runs.row(y) {
                let run = runs.list[k];
                let end = run.end as usize;
                if run.id != UNLABELLED {
                    let s = if modest {
                        i128::from(prefix[end] - prefix[start])
                    } else {
                        row[start..end]
                            .iter()
                            .fold(0i128, |a, &v| a.wrapping_add(i128::from(fixed_point(v))))
                    };
                    let slot = &mut sums[run.id as usize * channels + ch];
                    *slot = slot.wrapping_add(s);
                }
                start = end;
            }
        }
    }
    sums
}

/// The regions of fewer than `min_size` pixels, by size and then by number.
pub(crate) fn smallest_first(sizes: &[u32], min_size: usize) -> Vec<u32> {
    let small = || (0..sizes.len() as u32).filter(|&c| (sizes[c as usize] as usize) < min_size);
    let (count, top) = small().fold((0, 0), |(n, top), c| (n + 1, top.max(sizes[c as usize])));
    let top = top as usize;
    if top > 4 * count + 1024 {
        // Few regions of very different sizes: counting would cost more than sorting.
        let mut order: Vec<u32> = small().collect();
        // The keys are distinct, so an unstable sort gives the one order there is.
        order.sort_unstable_by_key(|&c| (sizes[c as usize], c));
        return order;
    }
    // Counting sort by size (SLIC leaves thousands of small regions, and their sizes are
    // below `min_size`): stable, so equal sizes stay in increasing region number.
    let mut start = vec![0usize; top + 2];
    for c in small() {
        start[sizes[c as usize] as usize + 1] += 1;
    }
    for s in 1..start.len() {
        start[s] += start[s - 1];
    }
    let mut order = vec![0u32; count];
    for c in small() {
        let slot = &mut start[sizes[c as usize] as usize];
        order[*slot] = c;
        *slot += 1;
    }
    order
}

/// One run of equal values in a row; it starts where the previous run of its row ends, or
/// at column 0.
#[derive(Clone, Copy)]
pub(crate) struct Run {
    /// End column (exclusive).
    pub(crate) end: u32,
    /// A label, or a region number once regions are found.
    pub(crate) id: u32,
}

/// A label map as maximal runs of equal values, row by row.
pub(crate) struct Runs {
    pub(crate) w: usize,
    pub(crate) list: Vec<Run>,
    /// Row `y`'s runs are `row_start[y]..row_start[y + 1]`.
    pub(crate) row_start: Vec<usize>,
}

impl Runs {
    pub(crate) fn of(w: usize, h: usize, map: &[u32]) -> Self {
        // SLIC's raw labels average about four pixels per run.
        let mut list = Vec::with_capacity(map.len() / 4 + h);
        let mut row_start = Vec::with_capacity(h + 1);
        // One row's runs, with room for a run per column plus a block's spill: every column
        // is written as a run end and only the real ends are kept (the count advances by
        // whether it is one), which spares a branch per run end that would mispredict on
        // short runs.
        let mut row_runs = vec![Run { end: 0, id: 0 }; w + 8];
        for row in map.chunks_exact(w) {
            row_start.push(list.len());
            // A run ends after column x where row[x] != row[x + 1].
            let (mut x, mut n) = (0, 0);
            while x + 8 < w {
                let (a, b) = (&row[x..x + 8], &row[x + 1..x + 9]);
                let block = &mut row_runs[n..n + 8];
                let mut kept = 0;
                for k in 0..8 {
                    block[kept] = Run {
                        end: (x + k + 1) as u32,
                        id: a[k],
                    };
                    kept += usize::from(a[k] != b[k]);
                }
                n += kept;
                x += 8;
            }
            for x in x..w - 1 {
                row_runs[n] = Run {
                    end: x as u32 + 1,
                    id: row[x],
                };
                n += usize::from(row[x] != row[x + 1]);
            }
            row_runs[n] = Run {
                end: w as u32,
                id: row[w - 1],
            };
            list.extend_from_slice(&row_runs[..n + 1]);
        }
        row_start.push(list.len());
        Runs { w, list, row_start }
    }

    pub(crate) fn rows(&self) -> usize {
        self.row_start.len() - 1
    }

    fn len(&self) -> usize {
        self.list.len()
    }

    pub(crate) fn row(&self, y: usize) -> std::ops::Range<usize> {
        self.row_start[y]..self.row_start[y + 1]
    }

    /// Calls `visit(i, j, n)` for every run `i` of row `a` and run `j` of row `b` that share
    /// columns, `n` of them, left to right. Both rows cover all columns, so walking them in
    /// step, each pair met overlaps.
    fn overlaps(&self, a: usize, b: usize, mut visit: impl FnMut(usize, usize, u32)) {
        let (mut i, mut j) = (self.row_start[a], self.row_start[b]);
        let mut x = 0;
        while x < self.w as u32 {
            let (ei, ej) = (self.list[i].end, self.list[j].end);
            let e = ei.min(ej);
            visit(i, j, e - x);
            x = e;
            i += usize::from(ei == e);
            j += usize::from(ej == e);
        }
    }

    /// The pixel map, each run's pixels set to `value(id)` (unlabelled runs stay unlabelled);
    /// `value` is called once per labelled run, in raster order.
    pub(crate) fn paint(&self, mut value: impl FnMut(u32) -> u32) -> Vec<u32> {
        // Runs are short (a few pixels on average in SLIC's raw labels), so each is written
        // in blocks of `SPILL` that may run into the next run's pixels, which that run then
        // overwrites; the margin at the end takes the last run's spill.
        const SPILL: usize = 8;
        let n = self.w * self.rows();
        let mut out = vec![0u32; n + SPILL];
        for y in 0..self.rows() {
            let mut p = y * self.w;
            for k in self.row(y) {
                let id = self.list[k].id;
                let v = if id == UNLABELLED {
                    UNLABELLED
                } else {
                    value(id)
                };
                let end = y * self.w + self.list[k].end as usize;
                while p < end {
                    out[p..p + SPILL].fill(v);
                    p += SPILL;
                }
                p = end;
            }
        }
        out.truncate(n);
        out
    }
}

/// Runs `i` and `j`, in neighbouring rows, of different regions, that share `n` columns.
pub(crate) type Edge = (u32, u32, u32);

/// Calls `visit(a, b)` for every two neighbouring rows `a < b` of a map of `rows` rows of
/// which `h` make a slice: the row above in the same slice, and the same row of the slice
/// before (a 2-D map is one slice, so only the first kind). In increasing `b`.
fn neighbour_rows(rows: usize, h: usize, mut visit: impl FnMut(usize, usize)) {
    for b in 1..rows {
        if b % h != 0 {
            visit(b - 1, b);
        }
        if b >= h {
            visit(b - h, b);
        }
    }
}

/// The 4-connected (6-connected, when `labels` holds several `w x h` slices) regions of equal
/// label, each cut at `max_size` pixels: the map as runs of
/// region numbers (unlabelled pixels stay unlabelled), the region sizes and, if `borders`,
/// the [`Edge`]s between regions. Regions are numbered in raster order of their first pixel,
/// except the extra pieces of cut regions, which come after all others.
///
/// Regions are found on runs of equal labels (union-find of runs that touch the run above),
/// which is several times faster than a pixel flood fill on superpixel maps; the rare region
/// above `max_size` is then cut breadth-first from its first pixel, as scikit-image does.
/// What [`components`] finds.
pub(crate) struct Components {
    /// The map as runs of region numbers.
    pub(crate) runs: Runs,
    /// The borders between regions, if asked for.
    pub(crate) edges: Vec<Edge>,
    /// Each region's size.
    pub(crate) sizes: Vec<u32>,
    /// For each piece cut off a region larger than the limit (numbers from
    /// `sizes.len() - cut_from.len()` on), the region it was cut from.
    pub(crate) cut_from: Vec<u32>,
}

pub(crate) fn components(
    w: usize,
    h: usize,
    labels: &[u32],
    max_size: usize,
    borders: bool,
) -> Components {
    let mut runs = Runs::of(w, h, labels);
    // Union runs with the touching runs of the same label in the row below; the root is
    // always the earliest run. Touching runs of different labels are the vertical borders,
    // kept while the rows are at hand.
    let mut parent: Vec<u32> = (0..runs.len() as u32).collect();
    let mut edges: Vec<Edge> = Vec::new();
    neighbour_rows(runs.rows(), h, |ya, yb| {
        runs.overlaps(ya, yb, |i, j, n| {
            let (a, b) = (runs.list[i].id, runs.list[j].id);
            if a == b {
                if a != UNLABELLED {
                    let (ra, rb) = (find(&mut parent, i as u32), find(&mut parent, j as u32));
                    let (lo, hi) = (ra.min(rb), ra.max(rb));
                    parent[hi as usize] = lo;
                }
            } else if borders && a != UNLABELLED && b != UNLABELLED {
                edges.push((i as u32, j as u32, n));
            }
        });
    });
    // Relabel the runs with region numbers. Every run's parent is an earlier run of the same
    // region (unions and path halving only ever link to earlier runs), so it is relabelled
    // already; a run that is its own parent is the first run of a new region.
    let mut sizes: Vec<u32> = Vec::new();
    for y in 0..runs.rows() {
        let mut x0 = 0;
        for r in runs.row(y) {
            let x1 = runs.list[r].end;
            let len = x1 - x0;
            x0 = x1;
            if runs.list[r].id == UNLABELLED {
                continue;
            }
            let up = parent[r] as usize;
            let id = if up == r {
                sizes.push(0);
                sizes.len() as u32 - 1
            } else {
                runs.list[up].id
            };
            sizes[id as usize] += len;
            runs.list[r].id = id;
        }
    }
    let mut cut_from = Vec::new();
    if sizes.iter().any(|&s| s as usize > max_size) {
        let mut comp = runs.paint(|id| id);
        cut_large(w, h, &mut comp, &mut sizes, &mut cut_from, max_size);
        runs = Runs::of(w, h, &comp);
        edges.clear();
        if borders {
            neighbour_rows(runs.rows(), h, |ya, yb| {
                runs.overlaps(ya, yb, |i, j, n| {
                    let (a, b) = (runs.list[i].id, runs.list[j].id);
                    if a != b && a != UNLABELLED && b != UNLABELLED {
                        edges.push((i as u32, j as u32, n));
                    }
                });
            });
        }
    }
    Components {
        runs,
        edges,
        sizes,
        cut_from,
    }
}

/// Cuts every region larger than `max_size` into pieces grown breadth-first from the first
/// unassigned pixel in raster order, each of at most `max_size` pixels. The first piece keeps
/// the region's number; the others get new numbers, and `cut_from` gets the region each of
/// them was cut from.
fn cut_large(
    w: usize,
    h: usize,
    comp: &mut [u32],
    sizes: &mut Vec<u32>,
    cut_from: &mut Vec<u32>,
    max_size: usize,
) {
    let slice = w * h;
    let depth = comp.len() / slice;
    let large: Vec<bool> = sizes.iter().map(|&s| s as usize > max_size).collect();
    let mut done = vec![false; comp.len()];
    let mut queue: Vec<u32> = Vec::new();
    let mut first_piece = vec![true; sizes.len()];
    for start in 0..comp.len() {
        let c = comp[start];
        if done[start] || c == UNLABELLED || !large[c as usize] {
            continue;
        }
        let id = if std::mem::replace(&mut first_piece[c as usize], false) {
            c
        } else {
            sizes.push(0);
            cut_from.push(c);
            sizes.len() as u32 - 1
        };
        queue.clear();
        queue.push(start as u32);
        done[start] = true;
        let mut head = 0;
        while head < queue.len() && queue.len() < max_size {
            let p = queue[head] as usize;
            head += 1;
            let (x, y, z) = (p % w, p / w % h, p / slice);
            let neighbours = [
                (x > 0).then(|| p - 1),
                (x + 1 < w).then(|| p + 1),
                (y > 0).then(|| p - w),
                (y + 1 < h).then(|| p + w),
                (z > 0).then(|| p - slice),
                (z + 1 < depth).then(|| p + slice),
            ];
            for q in neighbours.into_iter().flatten() {
                if !done[q] && comp[q] == c && queue.len() < max_size {
                    done[q] = true;
                    queue.push(q as u32);
                }
            }
        }
        for &p in &queue {
            comp[p as usize] = id;
        }
        sizes[id as usize] = queue.len() as u32;
    }
}

/// Border lengths between regions: for each region smaller than a size, its neighbours and
/// the number of 4-neighbour pixel pairs they share, in pieces (a neighbour may be listed
/// more than once; its border length is the sum). Larger regions have none listed, as they
/// are never merged.
///
/// The pieces are neither sorted nor summed per neighbour: the merge sums them per root
/// anyway and picks the best root by a total order, so the order of the pieces cannot
/// change the outcome. (SLIC leaves thousands of fragments of a few pixels each, so sorting
/// here would cost more than the rest of the enforcement.)
pub(crate) struct Borders {
    pub(crate) start: Vec<usize>,
    pub(crate) entries: Vec<(u32, u32)>,
}

impl Borders {
    pub(crate) fn of(runs: &Runs, edges: &[Edge], sizes: &[u32], min_size: usize) -> Self {
        let small: Vec<bool> = sizes.iter().map(|&s| (s as usize) < min_size).collect();
        // Counting sort by the small region: count, place.
        let mut start = vec![0usize; sizes.len() + 1];
        for_each_border(runs, edges, |a, b, _| {
            start[a as usize + 1] += usize::from(small[a as usize]);
            start[b as usize + 1] += usize::from(small[b as usize]);
        });
        for r in 1..start.len() {
            start[r] += start[r - 1];
        }
        let mut cursor = start.clone();
        let mut entries = vec![(0u32, 0u32); start[sizes.len()]];
        for_each_border(runs, edges, |a, b, n| {
            for (a, b) in [(a, b), (b, a)] {
                if small[a as usize] {
                    entries[cursor[a as usize]] = (b, n);
                    cursor[a as usize] += 1;
                }
            }
        });
        Borders { start, entries }
    }

    /// Region `c`'s neighbours are `entries[start[c]..start[c + 1]]`.
    pub(crate) fn from_parts(start: Vec<usize>, entries: Vec<(u32, u32)>) -> Self {
        Borders { start, entries }
    }

    pub(crate) fn of_region(&self, c: u32) -> &[(u32, u32)] {
        &self.entries[self.start[c as usize]..self.start[c as usize + 1]]
    }
}

/// Calls `f(a, b, n)` for every two runs of different regions that share `n` 4-neighbour
/// pixel pairs: runs side by side in a row (one pair; runs are maximal, so neighbours in a
/// row differ) and the vertical `edges`. Each pixel pair is counted once.
fn for_each_border(runs: &Runs, edges: &[Edge], mut f: impl FnMut(u32, u32, u32)) {
    for y in 0..runs.rows() {
        for two in runs.list[runs.row(y)].windows(2) {
            let (a, b) = (two[0].id, two[1].id);
            if a != UNLABELLED && b != UNLABELLED {
                f(a, b, 1);
            }
        }
    }
    for &(i, j, n) in edges {
        f(runs.list[i as usize].id, runs.list[j as usize].id, n);
    }
}

pub(crate) fn find(parent: &mut [u32], mut x: u32) -> u32 {
    // Most lookups are of a root or of a child of a root: settle those without a loop,
    // whose exit would mispredict.
    let up = parent[x as usize];
    if parent[up as usize] == up {
        return up;
    }
    while parent[x as usize] != x {
        let grand = parent[parent[x as usize] as usize];
        parent[x as usize] = grand;
        x = grand;
    }
    x
}

pub(crate) mod tiles;

#[cfg(test)]
mod reference;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use crate::algorithm::Superpixels;
    use crate::image::Mask;
    use crate::slic::Slic;
    use crate::test_support::noisy_image;
    use proptest::prelude::*;

    /// `connect` against the reference implementation, labels and count.
    fn same_as_reference(w: u32, h: u32, labels: &[u32], min: usize, max: usize) {
        let new = connect(w, h, labels, min, max);
        let old = reference::connect(w, h, labels, min, max);
        assert_eq!(new.count(), old.count(), "{w}x{h} min {min} max {max}");
        assert_eq!(new.labels(), old.labels(), "{w}x{h} min {min} max {max}");
    }

    #[test]
    fn fast_conversion_rounds_as_i128_does() {
        let mut x = 3u64;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = (x as i64 as i128) >> (x % 64);
            assert_eq!(as_f64(v).to_bits(), (v as f64).to_bits(), "{v}");
        }
        for v in [
            0,
            -1,
            i128::from(i64::MAX),
            i128::from(i64::MIN),
            i128::MAX,
            i128::MIN,
        ] {
            assert_eq!(as_f64(v).to_bits(), (v as f64).to_bits(), "{v}");
        }
    }

    /// `region_sums` against a pixel-by-pixel `i128` sum of `fixed_point`, on planes of
    /// modest values (the `i64` prefix path) and of huge, infinite and NaN values (the
    /// saturating path), with unlabelled pixels.
    #[test]
    fn region_sums_are_the_exact_pixel_sums() {
        let (w, h) = (37usize, 23usize);
        let labels = random_labels(w * h, 5, 3, 11);
        let runs = Runs::of(w, h, &labels);
        let regions = 5;
        let mut x = 7u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        let modest: Vec<f32> = (0..w * h)
            .map(|_| (next() * 200.0 - 100.0) as f32)
            .collect();
        let mut wild: Vec<f32> = (0..w * h).map(|_| (next() * 8e9 - 4e9) as f32).collect();
        wild[3] = f32::INFINITY;
        wild[40] = f32::NEG_INFINITY;
        wild[77] = f32::NAN;
        wild[100] = 1e-12;
        for plane in [&modest, &wild] {
            let mut expected = vec![0i128; regions];
            for (&l, &v) in labels.iter().zip(plane.iter()) {
                if l != UNLABELLED {
                    let e = &mut expected[l as usize];
                    *e = e.wrapping_add(i128::from(fixed_point(v)));
                }
            }
            assert_eq!(region_sums(&runs, regions, &[plane.as_slice()]), expected);
        }
        // Two planes at once: each keeps its own path.
        let both = region_sums(&runs, regions, &[modest.as_slice(), wild.as_slice()]);
        let one = region_sums(&runs, regions, &[modest.as_slice()]);
        let two = region_sums(&runs, regions, &[wild.as_slice()]);
        for r in 0..regions {
            assert_eq!((both[2 * r], both[2 * r + 1]), (one[r], two[r]));
        }
    }

    /// Random label maps with few labels, so that fragments and small regions abound, and
    /// with unlabelled pixels at a rate of `holes` in 16.
    fn random_labels(n: usize, labels: u64, holes: u64, seed: u64) -> Vec<u32> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if (x >> 40) % 16 < holes {
                    UNLABELLED
                } else {
                    (x % labels) as u32
                }
            })
            .collect()
    }

    fn size_limit() -> impl Strategy<Value = usize> {
        prop_oneof![0usize..3, 0usize..40, Just(1000), Just(usize::MAX)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn matches_the_reference(
            w in 1u32..24, h in 1u32..24, labels in 1u64..6, holes in prop_oneof![Just(0u64), 0u64..8],
            min in size_limit(), max in size_limit(), seed in any::<u64>()
        ) {
            let map = random_labels((w * h) as usize, labels, holes, seed);
            same_as_reference(w, h, &map, min, max);
        }

        #[test]
        fn matches_the_reference_on_blocky_maps(
            w in 1u32..40, h in 1u32..40, labels in 1u64..8, holes in 0u64..3,
            min in size_limit(), max in size_limit(), seed in any::<u64>()
        ) {
            // Rectangles of random labels with sprinkled noise: long runs, as in superpixel
            // maps, plus fragments.
            let noise = random_labels((w * h) as usize, labels, holes, seed);
            let map: Vec<u32> = (0..(w * h) as usize)
                .map(|i| {
                    let (x, y) = (i as u32 % w, i as u32 / w);
                    if noise[i] == UNLABELLED || (seed >> (i % 61)) & 7 == 0 {
                        noise[i]
                    } else {
                        (x / 5 + 3 * (y / 4)) % labels as u32
                    }
                })
                .collect();
            same_as_reference(w, h, &map, min, max);
        }
    }

    #[test]
    fn matches_the_reference_on_slic_output() {
        for (seed, (w, h)) in [(1, (97, 61)), (2, (160, 120)), (3, (64, 200))] {
            let img = noisy_image(w, h, 3, seed);
            for k in [20, 150, 600] {
                let slic = Slic {
                    n_segments: k,
                    enforce_connectivity: false,
                    ..Slic::default()
                };
                let raw = slic.segment(&img).unwrap();
                // The inside of a disc, so that unlabelled pixels border the regions.
                let inside: Vec<bool> = (0..w * h)
                    .map(|i| {
                        let (x, y) = ((i % w) as i64 - w as i64 / 2, (i / w) as i64 - h as i64 / 2);
                        x * x + y * y < (w.min(h) as i64 / 2).pow(2)
                    })
                    .collect();
                let mask = Mask::new(w, h, inside).unwrap();
                let masked = slic.segment_masked(&img, &mask).unwrap();
                for seg in [&raw, &masked] {
                    let nominal = (w * h) as usize / k as usize;
                    for (min, max) in [
                        (nominal / 2, 3 * nominal),
                        (nominal / 4, nominal),
                        (nominal, usize::MAX),
                        (0, usize::MAX),
                        (2, 5),
                    ] {
                        same_as_reference(w, h, seg.labels(), min, max);
                    }
                }
            }
        }
    }

    /// Equality and timing on SLIC's raw labels (k = 400) of the images in the folder named by
    /// `TESSERA_BSDS_VAL` (BSDS500 val):
    /// `TESSERA_BSDS_VAL=dir cargo test -p tessera --lib bsds_timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn bsds_timing() {
        use std::hint::black_box;
        use std::time::Instant;
        let Some(dir) = std::env::var_os("TESSERA_BSDS_VAL") else {
            return;
        };
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
            .collect();
        paths.sort();
        let maps: Vec<_> = paths
            .iter()
            .map(|p| {
                let img = crate::image::Image::from_dynamic(&image::open(p).unwrap()).unwrap();
                let slic = Slic {
                    n_segments: 400,
                    enforce_connectivity: false,
                    ..Slic::default()
                };
                let raw = slic.segment(&img).unwrap();
                // Close to SLIC's own limits (its nominal size counts seeds, not clusters).
                let nominal = raw.labels().len() as f64 / raw.count() as f64;
                let (min, max) = ((0.5 * nominal) as usize, (3.0 * nominal) as usize);
                (raw, min, max.max(1))
            })
            .collect();
        for (raw, min, max) in &maps {
            same_as_reference(raw.width(), raw.height(), raw.labels(), *min, *max);
        }
        type Connect = fn(u32, u32, &[u32], usize, usize) -> Segmentation;
        let time = |f: Connect| {
            (0..5)
                .map(|_| {
                    let t = Instant::now();
                    for (raw, min, max) in &maps {
                        black_box(f(raw.width(), raw.height(), raw.labels(), *min, *max));
                    }
                    t.elapsed().as_secs_f64() * 1e3 / maps.len() as f64
                })
                .fold(f64::INFINITY, f64::min)
        };
        let (new, old) = (time(connect), time(reference::connect));
        eprintln!(
            "{} images: connect {new:.3} ms, reference {old:.3} ms per image (best of 5)",
            maps.len()
        );
    }

    #[test]
    fn splits_a_label_in_two() {
        let s = split_components(3, 1, &[5, 6, 5]).unwrap();
        assert_eq!(s.labels(), &[0, 1, 2]);
    }

    #[test]
    fn merges_small_regions() {
        // A single pixel of label 9 inside label 1 joins label 1's region.
        let labels = [1, 1, 1, 1, 9, 1, 1, 1, 1];
        let s = enforce_connectivity(3, 3, &labels, 2, usize::MAX).unwrap();
        assert_eq!(s.count(), 1);
    }

    #[test]
    fn nearest_mean_beats_longest_border() {
        // Label 7 (one pixel, value 9) touches label 1 (value 0) on three sides and label 2
        // (value 10) on one: the longest border says 1, the nearest mean says 2.
        //   1 1 2
        //   1 7 2
        //   1 1 2
        let labels = [1, 1, 2, 1, 7, 2, 1, 1, 2];
        let values = [0.0f32, 0.0, 10.0, 0.0, 9.0, 10.0, 0.0, 0.0, 10.0];
        let by_border = connect(3, 3, &labels, 2, usize::MAX);
        assert_eq!(by_border.labels(), &[0, 0, 1, 0, 0, 1, 0, 0, 1]);
        let planes: [&[f32]; 1] = [&values];
        let by_mean = connect_with(
            3,
            3,
            &labels,
            2,
            usize::MAX,
            MergeInto::NearestMean(&planes),
        );
        assert_eq!(by_mean.labels(), &[0, 0, 1, 0, 1, 1, 0, 0, 1]);
    }

    #[test]
    fn nearest_mean_compares_a_region_by_its_own_pixels() {
        // X (value 80) is enclosed by L (8 pixels of 0, large) and joins it first. Y (value
        // 14) touches L once and R (6 pixels of 20) three times: L is still compared by its
        // own pixels' mean, 0 (14 away), not by 80 / 9 with X (5.1 away), so Y joins R (6
        // away).
        //   L L L R R
        //   L X L Y R
        //   L L L R R
        let (l, r, x, y) = (1, 2, 3, 4);
        let labels = [l, l, l, r, r, l, x, l, y, r, l, l, l, r, r];
        let values = [
            0.0f32, 0.0, 0.0, 20.0, 20.0, 0.0, 80.0, 0.0, 14.0, 20.0, 0.0, 0.0, 0.0, 20.0, 20.0,
        ];
        let planes: [&[f32]; 1] = [&values];
        let s = connect_with(
            5,
            3,
            &labels,
            2,
            usize::MAX,
            MergeInto::NearestMean(&planes),
        );
        assert_eq!(s.labels(), &[0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1]);
    }

    #[test]
    fn a_small_region_is_compared_with_what_it_took_in() {
        // S1 (value 60) joins S2 (2 pixels of 40; B, 90, is farther); S2 then weighs
        // (2 * 40 + 60) / 3 = 46.7, nearer B (90) than A (0), though its own pixels are
        // nearer A.
        //   A A A A A S2 S2 S1
        //   B B B B B B  B  B
        let (a, b, s1, s2) = (1, 2, 3, 4);
        let mut labels = vec![a, a, a, a, a, s2, s2, s1];
        labels.extend([b; 8]);
        let mut values = vec![0.0f32, 0.0, 0.0, 0.0, 0.0, 40.0, 40.0, 60.0];
        values.extend([90.0f32; 8]);
        let planes: [&[f32]; 1] = [&values];
        let s = connect_with(
            8,
            2,
            &labels,
            4,
            usize::MAX,
            MergeInto::NearestMean(&planes),
        );
        assert_eq!(
            s.labels(),
            &[0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
        );
    }

    #[test]
    fn caps_region_size() {
        let s = enforce_connectivity(4, 1, &[0, 0, 0, 0], 0, 2).unwrap();
        assert_eq!(s.labels(), &[0, 0, 1, 1]);
    }

    #[test]
    fn masked_pixels_stay_out() {
        let u = UNLABELLED;
        let s = enforce_connectivity(3, 1, &[0, u, 0], 5, usize::MAX).unwrap();
        // Two separate regions, each too small but with no numbered neighbour to join.
        assert_eq!(s.labels(), &[0, u, 1]);
    }

    #[test]
    fn wrong_sizes_are_errors() {
        assert!(matches!(
            split_components(3, 2, &[0, 0, 0]),
            Err(Error::SizeMismatch(_))
        ));
        assert!(enforce_connectivity(u32::MAX, u32::MAX, &[0], 1, 1).is_err());
        assert!(enforce_connectivity(0, 0, &[], 1, 1).is_err());
    }

    /// 6-connected components by a plain flood fill, numbered in raster order of their
    /// first voxel: what `split_components_volume` must give.
    fn flood_fill_6(d: usize, w: usize, h: usize, labels: &[u32]) -> Vec<u32> {
        let mut out = vec![UNLABELLED; labels.len()];
        let mut next = 0;
        for start in 0..labels.len() {
            if out[start] != UNLABELLED || labels[start] == UNLABELLED {
                continue;
            }
            let mut stack = vec![start];
            out[start] = next;
            while let Some(p) = stack.pop() {
                let (x, y, z) = (p % w, p / w % h, p / (w * h));
                let near = [
                    (x > 0).then(|| p - 1),
                    (x + 1 < w).then(|| p + 1),
                    (y > 0).then(|| p - w),
                    (y + 1 < h).then(|| p + w),
                    (z > 0).then(|| p - w * h),
                    (z + 1 < d).then(|| p + w * h),
                ];
                for q in near.into_iter().flatten() {
                    if out[q] == UNLABELLED && labels[q] == labels[p] {
                        out[q] = next;
                        stack.push(q);
                    }
                }
            }
            next += 1;
        }
        out
    }

    proptest! {
        #[test]
        fn volumes_split_into_6_connected_pieces(
            d in 1u32..6, w in 1u32..7, h in 1u32..7, labels in 1u64..4,
            holes in prop_oneof![Just(0u64), 0u64..4], seed in any::<u64>()
        ) {
            let map = random_labels((d * w * h) as usize, labels, holes, seed);
            let seg = split_components_volume(d, w, h, &map).unwrap();
            let want = flood_fill_6(d as usize, w as usize, h as usize, &map);
            prop_assert_eq!(seg.labels(), &want[..]);
            prop_assert_eq!(seg.depth(), d);
            prop_assert_eq!(seg.disconnected_count(), 0);
        }

        #[test]
        fn volume_enforcement_keeps_the_guarantees(
            d in 1u32..5, w in 1u32..7, h in 1u32..7, min in 0usize..6, max in 1usize..40,
            seed in any::<u64>()
        ) {
            let map = random_labels((d * w * h) as usize, 4, 0, seed);
            let s = enforce_connectivity_volume(d, w, h, &map, min, max).unwrap();
            let pieces = flood_fill_6(d as usize, w as usize, h as usize, s.labels());
            // Each segment is one 6-connected piece, so the flood fill finds as many.
            prop_assert_eq!(pieces.iter().max().map_or(0, |&m| m + 1), s.count());
            prop_assert!(s.sizes().iter().all(|&c| c > 0));
            prop_assert_eq!(s.unlabelled_count(), 0);
        }

        #[test]
        fn every_segment_is_connected(
            w in 1u32..10, h in 1u32..10, min in 0usize..6, max in 1usize..40,
            seed in any::<u64>()
        ) {
            let mut x = seed | 1;
            let labels: Vec<u32> = (0..w * h).map(|_| {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17; (x % 4) as u32
            }).collect();
            let s = enforce_connectivity(w, h, &labels, min, max).unwrap();
            prop_assert_eq!(s.disconnected_count(), 0);
            prop_assert!(s.sizes().iter().all(|&c| c > 0));
            prop_assert_eq!(s.unlabelled_count(), 0);
        }
    }
}
