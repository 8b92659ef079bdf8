//! Superpixel quality against human ground truth, as the literature measures it (Stutz,
//! Hermans & Leibe, "Superpixels: An Evaluation of the State-of-the-Art", CVIU 2018).
//!
//! Notation: `S = {S_j}` the superpixels, `G = {G_i}` one human segmentation of the same
//! image, `N` the number of pixels, `|X|` a pixel count.
//!
//! The conventions are those of the reference harness `spbench.py`, whose numbers these agree
//! with to 1e-6:
//! - every distinct ground-truth value is one segment (0 is a label like any other);
//! - the [`UNLABELLED`](crate::UNLABELLED) pixels of a segmentation, if any, form one more
//!   region (the `0` of a `.labels.png` file scored as a plain label map);
//! - a boundary pixel is one whose right or bottom neighbour has another label
//!   ([`BoundaryMode::Thin`]; [`BoundaryMode::Thick`]: any 4-neighbour, as Stutz's code);
//! - a boundary pixel is matched when the other map has a boundary pixel in the
//!   `(2r+1) x (2r+1)` window centred on it, clipped at the image border (`r` =
//!   [`EvalOptions::tolerance`], default 2);
//! - an image's score is the mean over its ground truths ([`Aggregation`]), the dataset's the
//!   mean over images ([`Scores::mean`]); undefined values (NaN) are skipped by both.
//!
//! Volumes (supervoxels against a 3-D ground truth, [`GroundTruth::new_volume`]): the same
//! metrics voxel for voxel. A boundary voxel is one whose right, bottom or next-slice
//! neighbour has another label (thick: any of its 6 face neighbours), and the tolerance is a
//! 3-D Chebyshev distance: a match may lie anywhere in the `(2r+1) x (2r+1) x (2r+1)` cube
//! centred on the voxel, clipped at the volume's faces, with `r` counted in voxels along
//! every axis (whatever the voxel spacing). Compactness becomes its 3-D counterpart (see
//! [`compactness`]).
//!
//! ```
//! use tessera::metrics::{evaluate, EvalOptions, GroundTruth};
//! use tessera::Segmentation;
//!
//! // 4x1 image; the human drew one boundary, between columns 1 and 2.
//! let opts = EvalOptions { tolerance: 0, ..EvalOptions::default() };
//! let gt = GroundTruth::new(4, 1, &[1, 1, 2, 2], &opts)?;
//! // Superpixels: {0}, {1, 2}, {3}.
//! let seg = Segmentation::from_labels(4, 1, vec![0, 1, 1, 2])?;
//! let s = evaluate(&seg, None, &[gt], &opts)?;
//! assert_eq!(s.boundary_recall, 0.0); // the GT boundary pixel (column 1) is not matched
//! assert_eq!(s.boundary_precision, 0.0);
//! assert_eq!(s.undersegmentation_error, 0.5); // {1, 2} straddles: min(1, 1) for each side
//! assert_eq!(s.asa, 0.75);
//! assert_eq!(s.segments, 3.0);
//! # Ok::<(), tessera::Error>(())
//! ```

use crate::contingency::{Contingency, dense_ids, densify};
use crate::error::{Error, Result};
use crate::image::{Image, Samples};
use crate::segmentation::{BoundaryMode, Segmentation};
use image::GrayImage;
use imageproc::distance_transform::Norm;

/// How an image's several ground truths are combined into one score per metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Aggregation {
    /// The mean over the ground truths (the default, as `spbench.py`).
    #[default]
    Mean,
    /// The least favourable ground truth per metric: the minimum of recall, precision and
    /// ASA, the maximum of the undersegmentation error (as Stutz et al. report).
    Worst,
    /// The most favourable ground truth per metric.
    Best,
}

/// The evaluation conventions. The defaults are those of `spbench.py`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalOptions {
    /// Which pixels are boundary pixels (default [`BoundaryMode::Thin`]: the right or bottom
    /// neighbour differs).
    pub boundary: BoundaryMode,
    /// Boundary tolerance `r` in pixels: a match may lie anywhere in the `(2r+1) x (2r+1)`
    /// window (the `(2r+1)^3` cube of voxels, in a volume) (default 2, at most 254).
    pub tolerance: u32,
    /// How an image's ground truths are combined (default [`Aggregation::Mean`]).
    pub aggregation: Aggregation,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            boundary: BoundaryMode::Thin,
            tolerance: 2,
            aggregation: Aggregation::Mean,
        }
    }
}

impl EvalOptions {
    /// The largest accepted [`EvalOptions::tolerance`].
    pub const MAX_TOLERANCE: u32 = 254;

    /// Checks the options.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when the tolerance exceeds [`Self::MAX_TOLERANCE`].
    pub fn validate(&self) -> Result<()> {
        if self.tolerance > Self::MAX_TOLERANCE {
            return Err(Error::param(
                "tolerance",
                format!(
                    "{} px is more than the supported {}",
                    self.tolerance,
                    Self::MAX_TOLERANCE
                ),
            ));
        }
        Ok(())
    }
}

/// One human segmentation of an image, with its boundary maps computed once (they are reused
/// for every segmentation scored against it).
///
/// ```
/// use tessera::metrics::{EvalOptions, GroundTruth};
/// // BSDS label maps number their segments from 1; any u32 values work.
/// let gt = GroundTruth::new(3, 1, &[1, 1, 7], &EvalOptions::default())?;
/// assert_eq!(gt.segment_count(), 2);
/// # Ok::<(), tessera::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct GroundTruth {
    seg: Segmentation,
    boundary: Vec<bool>,
    near_boundary: Vec<bool>,
    boundary_mode: BoundaryMode,
    tolerance: u32,
}

impl GroundTruth {
    /// Builds a ground truth from a `width x height` row-major label map in which every
    /// distinct value is one segment, for scoring with `options`' boundary mode and tolerance.
    ///
    /// # Errors
    /// [`Error::SizeMismatch`] when `labels` does not hold `width * height` values,
    /// [`Error::InvalidParameter`] for invalid options.
    pub fn new(width: u32, height: u32, labels: &[u32], options: &EvalOptions) -> Result<Self> {
        Self::new_volume(1, width, height, labels, options)
    }

    /// [`GroundTruth::new`] for a volume of `depth` slices of `width x height` voxels, the
    /// labels slice after slice, each row-major. A depth of 1 is an image.
    ///
    /// ```
    /// use tessera::metrics::{EvalOptions, GroundTruth, evaluate};
    /// use tessera::Segmentation;
    /// // Two slices of 2x1 voxels; the ground truth splits the slices, the supervoxels the
    /// // columns.
    /// let opts = EvalOptions { tolerance: 0, ..EvalOptions::default() };
    /// let gt = GroundTruth::new_volume(2, 2, 1, &[1, 1, 2, 2], &opts)?;
    /// let seg = Segmentation::from_volume_labels(2, 2, 1, vec![0, 1, 0, 1])?;
    /// let s = evaluate(&seg, None, &[gt], &opts)?;
    /// assert_eq!((s.asa, s.undersegmentation_error), (0.5, 1.0));
    /// // GT boundary voxels: the first slice's two (their next-slice neighbour differs); only
    /// // the left one is a supervoxel boundary voxel (its right neighbour differs).
    /// assert_eq!(s.boundary_recall, 0.5);
    /// # Ok::<(), tessera::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`GroundTruth::new`].
    pub fn new_volume(
        depth: u32,
        width: u32,
        height: u32,
        labels: &[u32],
        options: &EvalOptions,
    ) -> Result<Self> {
        options.validate()?;
        let n = width as usize * height as usize * depth as usize;
        if labels.len() != n || n == 0 {
            return Err(Error::SizeMismatch(format!(
                "a {} ground truth needs {n} labels, got {}",
                crate::image::shape_text(depth, width, height),
                labels.len()
            )));
        }
        let (ids, count) = densify(labels);
        let seg = Segmentation::from_parts(width, height, ids, count);
        let boundary = seg.boundary_mask(options.boundary);
        let near_boundary = dilate(seg.shape(), &boundary, options.tolerance);
        Ok(GroundTruth {
            seg,
            boundary,
            near_boundary,
            boundary_mode: options.boundary,
            tolerance: options.tolerance,
        })
    }

    /// Number of segments of the ground truth.
    pub fn segment_count(&self) -> u32 {
        self.seg.count()
    }

    /// The ground truth as a segmentation (labels renumbered `0..count`).
    pub fn segmentation(&self) -> &Segmentation {
        &self.seg
    }

    fn check(&self, seg: &Segmentation) -> Result<()> {
        Error::check_sizes(
            "ground truth",
            self.seg.shape(),
            "segmentation",
            seg.shape(),
        )
    }
}

/// The scores of one segmentation (or, from [`Scores::mean`], the means over a dataset).
///
/// Undefined values are NaN: recall against a ground truth without boundaries, precision of a
/// segmentation without boundaries, every ground-truth metric when there is no ground truth,
/// explained variation without an image or of a constant image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    /// See [`boundary_recall`].
    pub boundary_recall: f64,
    /// See [`boundary_precision`].
    pub boundary_precision: f64,
    /// See [`undersegmentation_error`].
    pub undersegmentation_error: f64,
    /// See [`achievable_segmentation_accuracy`].
    pub asa: f64,
    /// See [`explained_variation`].
    pub explained_variation: f64,
    /// See [`compactness`].
    pub compactness: f64,
    /// Number of segments ([`Segmentation::count`]; unlabelled pixels are not a segment here).
    pub segments: f64,
    /// Number of segments that are not 4-connected (6-connected, in a volume)
    /// ([`Segmentation::disconnected_count`]).
    pub disconnected: f64,
}

impl Scores {
    /// The field-wise mean, skipping NaN values (all NaN, or no scores at all, gives NaN).
    ///
    /// ```
    /// use tessera::metrics::Scores;
    /// let a = Scores { asa: 0.5, ..Scores::nan() };
    /// let b = Scores { asa: 1.0, ..Scores::nan() };
    /// let m = Scores::mean(&[a, b]);
    /// assert_eq!(m.asa, 0.75);
    /// assert!(m.compactness.is_nan());
    /// ```
    pub fn mean(scores: &[Scores]) -> Scores {
        let m = |f: fn(&Scores) -> f64| nan_mean(scores.iter().map(f));
        Scores {
            boundary_recall: m(|s| s.boundary_recall),
            boundary_precision: m(|s| s.boundary_precision),
            undersegmentation_error: m(|s| s.undersegmentation_error),
            asa: m(|s| s.asa),
            explained_variation: m(|s| s.explained_variation),
            compactness: m(|s| s.compactness),
            segments: m(|s| s.segments),
            disconnected: m(|s| s.disconnected),
        }
    }

    /// Every field NaN.
    pub fn nan() -> Scores {
        Scores {
            boundary_recall: f64::NAN,
            boundary_precision: f64::NAN,
            undersegmentation_error: f64::NAN,
            asa: f64::NAN,
            explained_variation: f64::NAN,
            compactness: f64::NAN,
            segments: f64::NAN,
            disconnected: f64::NAN,
        }
    }
}

fn nan_mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values
        .filter(|v| !v.is_nan())
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

/// Combines one metric's per-ground-truth values; `higher_is_better` says which end is
/// "best".
fn aggregate(values: &[f64], how: Aggregation, higher_is_better: bool) -> f64 {
    let defined = values.iter().copied().filter(|v| !v.is_nan());
    let pick_max = match how {
        Aggregation::Mean => return nan_mean(defined),
        Aggregation::Best => higher_is_better,
        Aggregation::Worst => !higher_is_better,
    };
    defined
        .reduce(if pick_max { f64::max } else { f64::min })
        .unwrap_or(f64::NAN)
}

/// Scores `seg` against every ground truth of its image, combined per
/// [`EvalOptions::aggregation`]; `image` (for explained variation) may be omitted.
///
/// # Errors
/// [`Error::SizeMismatch`] when the image or a ground truth differs in size from `seg`;
/// [`Error::InvalidParameter`] when a ground truth was built with another boundary mode or
/// tolerance than `options`, or the options are invalid.
pub fn evaluate(
    seg: &Segmentation,
    image: Option<&Image>,
    gts: &[GroundTruth],
    options: &EvalOptions,
) -> Result<Scores> {
    options.validate()?;
    for gt in gts {
        gt.check(seg)?;
        if gt.boundary_mode != options.boundary || gt.tolerance != options.tolerance {
            return Err(Error::param(
                "ground truth",
                "built with another boundary mode or tolerance than the options",
            ));
        }
    }
    let (ids, k) = dense_ids(seg);
    let n = ids.len() as f64;
    let boundary = seg.boundary_mask(options.boundary);
    let near = dilate(seg.shape(), &boundary, options.tolerance);
    let mut per_gt = [const { Vec::new() }; 4];
    for gt in gts {
        let table = Contingency::new(&ids, k, gt.seg.labels(), gt.seg.count());
        per_gt[0].push(matched_fraction(&gt.boundary, &near));
        per_gt[1].push(matched_fraction(&boundary, &gt.near_boundary));
        per_gt[2].push(ue_sum(&table) as f64 / n);
        per_gt[3].push(asa_sum(&table) as f64 / n);
    }
    let agg = |v: &[f64], higher: bool| {
        if gts.is_empty() {
            f64::NAN
        } else {
            aggregate(v, options.aggregation, higher)
        }
    };
    Ok(Scores {
        boundary_recall: agg(&per_gt[0], true),
        boundary_precision: agg(&per_gt[1], true),
        undersegmentation_error: agg(&per_gt[2], false),
        asa: agg(&per_gt[3], true),
        explained_variation: match image {
            Some(img) => explained_variation(seg, img)?,
            None => f64::NAN,
        },
        compactness: compactness_of(&ids, k, seg.shape()),
        segments: seg.count() as f64,
        disconnected: seg.disconnected_count() as f64,
    })
}

/// `|{p : from[p] and near[p]}| / |{p : from[p]}|`, NaN when `from` is empty.
fn matched_fraction(from: &[bool], near: &[bool]) -> f64 {
    let total = from.iter().filter(|&&b| b).count();
    let hit = from.iter().zip(near).filter(|&(&b, &d)| b && d).count();
    if total == 0 {
        f64::NAN
    } else {
        hit as f64 / total as f64
    }
}

/// Square (Chebyshev) dilation: `true` where some `true` lies in the `(2r+1)^2` window (the
/// `(2r+1)^3` cube, for a `(width, height, depth)` volume of more than one slice).
fn dilate(shape: (u32, u32, u32), mask: &[bool], r: u32) -> Vec<bool> {
    let (width, height, depth) = shape;
    if r == 0 || !mask.contains(&true) {
        // (imageproc's distance saturates at width + height: an empty mask must stay empty.)
        return mask.to_vec();
    }
    if depth > 1 {
        return dilate_volume(
            [width as usize, height as usize, depth as usize],
            mask,
            r as usize,
        );
    }
    let raw = mask.iter().map(|&b| if b { 255 } else { 0 }).collect();
    let Some(img) = GrayImage::from_raw(width, height, raw) else {
        unreachable!("the mask has one value per pixel")
    };
    let r = u8::try_from(r).unwrap_or(u8::MAX);
    let out = imageproc::morphology::dilate(&img, Norm::LInf, r);
    out.as_raw().iter().map(|&v| v > 0).collect()
}

/// [`dilate`] in a volume of `[width, height, depth]` voxels: the cube is the product of three
/// intervals, so three passes along lines (x, then y, then z) each mark what has a `true`
/// within `r` steps along the line. Hand-written: imageproc dilates 2-D images only.
fn dilate_volume(dims: [usize; 3], mask: &[bool], r: usize) -> Vec<bool> {
    let [w, h, d] = dims;
    let strides = [1, w, w * h];
    let mut cur = mask.to_vec();
    let mut next = vec![false; mask.len()];
    for axis in 0..3 {
        let (stride, len) = (strides[axis], dims[axis]);
        // The first voxel of every line along `axis`.
        let starts = (0..mask.len()).filter(|&i| (i / stride) % len == 0);
        for start in starts {
            // Forward: steps since the last `true` (at most r + 1 matters); backward likewise.
            let mut since = r + 1;
            for k in 0..len {
                let i = start + k * stride;
                since = if cur[i] { 0 } else { (since + 1).min(r + 1) };
                next[i] = since <= r;
            }
            let mut until = r + 1;
            for k in (0..len).rev() {
                let i = start + k * stride;
                until = if cur[i] { 0 } else { (until + 1).min(r + 1) };
                next[i] |= until <= r;
            }
        }
        std::mem::swap(&mut cur, &mut next);
    }
    debug_assert_eq!(cur.len(), w * h * d);
    cur
}

/// Boundary recall (Martin et al. 2004), the fraction of ground-truth boundary pixels matched
/// by a superpixel boundary pixel:
///
/// `BR = TP / (TP + FN) = |{p in B(G) : B(S) ∩ W_r(p) != ∅}| / |B(G)|`
///
/// with `B(X)` the boundary pixels of `X` and `W_r(p)` the `(2r+1) x (2r+1)` window centred
/// on `p`. 1 is perfect; NaN when the ground truth has no boundary. Boundary mode and `r` are
/// those the ground truth was built with.
///
/// ```
/// use tessera::metrics::{boundary_recall, EvalOptions, GroundTruth};
/// use tessera::Segmentation;
/// let gt = GroundTruth::new(4, 1, &[1, 1, 2, 2], &EvalOptions::default())?;
/// // One segment per pixel: every pixel is a boundary pixel.
/// let seg = Segmentation::from_labels(4, 1, vec![0, 1, 2, 3])?;
/// assert_eq!(boundary_recall(&seg, &gt)?, 1.0);
/// # Ok::<(), tessera::Error>(())
/// ```
///
/// # Errors
/// [`Error::SizeMismatch`] when the sizes differ.
pub fn boundary_recall(seg: &Segmentation, gt: &GroundTruth) -> Result<f64> {
    gt.check(seg)?;
    let near = dilate(
        seg.shape(),
        &seg.boundary_mask(gt.boundary_mode),
        gt.tolerance,
    );
    Ok(matched_fraction(&gt.boundary, &near))
}

/// Boundary precision, the fraction of superpixel boundary pixels that match a ground-truth
/// boundary pixel:
///
/// `BP = TP / (TP + FP) = |{p in B(S) : B(G) ∩ W_r(p) != ∅}| / |B(S)|`
///
/// (both counts on superpixel pixels; Stutz's C++ mixes the two directions). NaN when the
/// segmentation has no boundary.
///
/// ```
/// use tessera::metrics::{boundary_precision, EvalOptions, GroundTruth};
/// use tessera::Segmentation;
/// let opts = EvalOptions { tolerance: 0, ..EvalOptions::default() };
/// let gt = GroundTruth::new(4, 1, &[1, 1, 2, 2], &opts)?;
/// // Boundary pixels at columns 0 and 1; only column 1 is a GT boundary pixel.
/// let seg = Segmentation::from_labels(4, 1, vec![0, 1, 2, 2])?;
/// assert_eq!(boundary_precision(&seg, &gt)?, 0.5);
/// # Ok::<(), tessera::Error>(())
/// ```
///
/// # Errors
/// [`Error::SizeMismatch`] when the sizes differ.
pub fn boundary_precision(seg: &Segmentation, gt: &GroundTruth) -> Result<f64> {
    gt.check(seg)?;
    Ok(matched_fraction(
        &seg.boundary_mask(gt.boundary_mode),
        &gt.near_boundary,
    ))
}

/// `Σ_i Σ_{j : S_j ∩ G_i != ∅} min(|S_j ∩ G_i|, |S_j| - |S_j ∩ G_i|)` from the table rows
/// = superpixels.
fn ue_sum(t: &Contingency) -> u64 {
    t.cells
        .iter()
        .map(|&(s, _, c)| c.min(t.row_sizes[s as usize] - c))
        .sum()
}

/// `Σ_j max_i |S_j ∩ G_i|` (cells are sorted by superpixel).
fn asa_sum(t: &Contingency) -> u64 {
    let mut total = 0;
    let mut row = (u32::MAX, 0u64);
    for &(s, _, c) in &t.cells {
        if s != row.0 {
            total += row.1;
            row = (s, 0);
        }
        row.1 = row.1.max(c);
    }
    total + row.1
}

fn table(seg: &Segmentation, gt: &GroundTruth) -> Result<Contingency> {
    gt.check(seg)?;
    let (ids, k) = dense_ids(seg);
    Ok(Contingency::new(&ids, k, gt.seg.labels(), gt.seg.count()))
}

/// Corrected undersegmentation error (Neubert & Protzel 2012; Stutz et al. 2018, eq. 2):
///
/// `UE = (1/N) Σ_{G_i} Σ_{S_j : S_j ∩ G_i != ∅} min(|S_j ∩ G_i|, |S_j - G_i|)`
///
/// 0 is perfect (every superpixel inside one ground-truth segment). A superpixel split between
/// several segments is charged once per segment it touches.
///
/// ```
/// use tessera::metrics::{undersegmentation_error, EvalOptions, GroundTruth};
/// use tessera::Segmentation;
/// let gt = GroundTruth::new(4, 1, &[1, 1, 1, 2], &EvalOptions::default())?;
/// // One superpixel over everything: min(3, 1) for G_1 plus min(1, 3) for G_2.
/// let seg = Segmentation::from_labels(4, 1, vec![0, 0, 0, 0])?;
/// assert_eq!(undersegmentation_error(&seg, &gt)?, 0.5);
/// # Ok::<(), tessera::Error>(())
/// ```
///
/// # Errors
/// [`Error::SizeMismatch`] when the sizes differ.
pub fn undersegmentation_error(seg: &Segmentation, gt: &GroundTruth) -> Result<f64> {
    let t = table(seg, gt)?;
    Ok(ue_sum(&t) as f64 / t.total() as f64)
}

/// Achievable segmentation accuracy (Liu et al. 2011), the accuracy of the best labelling that
/// assigns each superpixel wholesale to one ground-truth segment:
///
/// `ASA = (1/N) Σ_{S_j} max_{G_i} |S_j ∩ G_i|`
///
/// 1 is perfect.
///
/// ```
/// use tessera::metrics::{achievable_segmentation_accuracy, EvalOptions, GroundTruth};
/// use tessera::Segmentation;
/// let gt = GroundTruth::new(4, 1, &[1, 1, 1, 2], &EvalOptions::default())?;
/// let seg = Segmentation::from_labels(4, 1, vec![0, 0, 0, 0])?;
/// assert_eq!(achievable_segmentation_accuracy(&seg, &gt)?, 0.75);
/// # Ok::<(), tessera::Error>(())
/// ```
///
/// # Errors
/// [`Error::SizeMismatch`] when the sizes differ.
pub fn achievable_segmentation_accuracy(seg: &Segmentation, gt: &GroundTruth) -> Result<f64> {
    let t = table(seg, gt)?;
    Ok(asa_sum(&t) as f64 / t.total() as f64)
}

/// Explained variation (Moore et al. 2008), the share of the image's colour variance that the
/// superpixel means explain:
///
/// `EV = Σ_{S_j} |S_j| ‖μ(S_j) - μ(I)‖² / Σ_p ‖I(p) - μ(I)‖²`
///
/// with `μ` mean colours over RGB in 0..=255 (8-bit data as it is; other data through
/// [`Image::to_rgb8`], grey replicated — the ratio is the same). 1 is perfect; NaN for a
/// constant image. For a volume, every channel of every voxel counts, integer samples
/// scaled to 0..1 and float samples as they are ([`Image::to_planes`]).
///
/// ```
/// use tessera::{Image, Samples, Segmentation};
/// use tessera::metrics::explained_variation;
/// let img = Image::new(4, 1, 1, Samples::U8(vec![0, 0, 10, 30]))?;
/// // Means 0 and 20 explain 2 * 10² + 2 * 10² = 400 of the 2 * 10² + 0² + 20² = 600.
/// let seg = Segmentation::from_labels(4, 1, vec![0, 0, 1, 1])?;
/// assert!((explained_variation(&seg, &img)? - 400.0 / 600.0).abs() < 1e-12);
/// # Ok::<(), tessera::Error>(())
/// ```
///
/// # Errors
/// [`Error::SizeMismatch`] when the image and the segmentation differ in size.
pub fn explained_variation(seg: &Segmentation, image: &Image) -> Result<f64> {
    Error::check_sizes(
        "image",
        (image.width(), image.height(), image.depth()),
        "segmentation",
        seg.shape(),
    )?;
    if image.is_volume() {
        return Ok(explained_variation_of_planes(seg, &image.to_planes()));
    }
    let rgb;
    let (data, c): (&[u8], usize) = match image.samples() {
        Samples::U8(v) if image.channels() != 2 && image.channels() != 4 => (v, image.channels()),
        _ => {
            rgb = image.to_rgb8();
            (rgb.as_raw(), 3)
        }
    };
    let (ids, k) = dense_ids(seg);
    let k = k as usize;
    // Exact integer sums per segment and channel.
    let mut sums = vec![0u64; k * c];
    let mut counts = vec![0u64; k];
    for (&id, px) in ids.iter().zip(data.chunks_exact(c)) {
        let id = id as usize;
        counts[id] += 1;
        for (s, &v) in sums[id * c..id * c + c].iter_mut().zip(px) {
            *s += v as u64;
        }
    }
    let n = ids.len() as f64;
    let mut explained = 0.0;
    let mut total = 0.0;
    for ch in 0..c {
        let image_sum: u64 = (0..k).map(|j| sums[j * c + ch]).sum();
        let mu = image_sum as f64 / n;
        for j in 0..k {
            let d = sums[j * c + ch] as f64 / counts[j] as f64 - mu;
            explained += counts[j] as f64 * d * d;
        }
        total += data
            .iter()
            .skip(ch)
            .step_by(c)
            .map(|&v| (v as f64 - mu).powi(2))
            .sum::<f64>();
    }
    Ok(if total > 0.0 {
        explained / total
    } else {
        f64::NAN
    })
}

/// [`explained_variation`] on float planes (one value per pixel each), in `f64`.
fn explained_variation_of_planes(seg: &Segmentation, planes: &[Vec<f32>]) -> f64 {
    let (ids, k) = dense_ids(seg);
    let k = k as usize;
    let mut counts = vec![0u64; k];
    for &id in ids.iter() {
        counts[id as usize] += 1;
    }
    let n = ids.len() as f64;
    let (mut explained, mut total) = (0.0, 0.0);
    let mut sums = vec![0.0f64; k];
    for plane in planes {
        sums.fill(0.0);
        for (&id, &v) in ids.iter().zip(plane) {
            sums[id as usize] += f64::from(v);
        }
        let mu = sums.iter().sum::<f64>() / n;
        for (&s, &c) in sums.iter().zip(&counts) {
            let t = s / c as f64 - mu;
            explained += c as f64 * t * t;
        }
        total += plane
            .iter()
            .map(|&v| (f64::from(v) - mu).powi(2))
            .sum::<f64>();
    }
    if total > 0.0 {
        explained / total
    } else {
        f64::NAN
    }
}

/// Compactness (Schick et al. 2012, as in Stutz et al.), the area-weighted isoperimetric
/// quotient:
///
/// `CO = Σ_{S_j} (|S_j| / N) · 4π |S_j| / P(S_j)²`
///
/// with `P(S_j)` the number of pixel sides between a pixel of `S_j` and a pixel outside it or
/// the image border (a lone pixel has perimeter 4). A tiling by squares gives π/4, the
/// largest value under this perimeter.
///
/// For a volume, its 3-D counterpart, the area-weighted isoperimetric quotient of solids
/// (sphericity cubed; 1 for a ball):
///
/// `CO = Σ_{S_j} (|S_j| / N) · 36π |S_j|² / A(S_j)³`
///
/// with `|S_j|` in voxels and `A(S_j)` the number of voxel faces between a voxel of `S_j`
/// and one outside it or the volume's border (a lone voxel has area 6). A tiling by cubes
/// gives π/6, the largest value under this area.
///
/// ```
/// use tessera::{metrics::compactness, Segmentation};
/// let seg = Segmentation::from_labels(2, 2, vec![0; 4])?;
/// assert!((compactness(&seg) - std::f64::consts::FRAC_PI_4).abs() < 1e-12);
/// # Ok::<(), tessera::Error>(())
/// ```
pub fn compactness(seg: &Segmentation) -> f64 {
    let (ids, k) = dense_ids(seg);
    compactness_of(&ids, k, seg.shape())
}

/// [`compactness`] of dense ids `0..k` of the given `(width, height, depth)`.
fn compactness_of(ids: &[u32], k: u32, shape: (u32, u32, u32)) -> f64 {
    let (w, h, d) = (shape.0 as usize, shape.1 as usize, shape.2 as usize);
    if d > 1 {
        return compactness_of_volume(ids, k as usize, [w, h, d]);
    }
    let k = k as usize;
    let mut area = vec![0u64; k];
    let mut perimeter = vec![0u64; k];
    let h = ids.len() / w;
    for y in 0..h {
        let row = &ids[y * w..(y + 1) * w];
        for (x, &l) in row.iter().enumerate() {
            let l = l as usize;
            area[l] += 1;
            let outside = |other: Option<u32>| other.is_none_or(|o| o as usize != l) as u64;
            perimeter[l] += outside(x.checked_sub(1).map(|xl| row[xl]))
                + outside(row.get(x + 1).copied())
                + outside(y.checked_sub(1).map(|yu| ids[yu * w + x]))
                + outside((y + 1 < h).then(|| ids[(y + 1) * w + x]));
        }
    }
    let n = ids.len() as f64;
    area.iter()
        .zip(&perimeter)
        .map(|(&a, &p)| {
            let a = a as f64;
            a / n * 4.0 * std::f64::consts::PI * a / (p as f64 * p as f64)
        })
        .sum()
}

/// The volume case of [`compactness_of`]: volumes and face counts per supervoxel.
fn compactness_of_volume(ids: &[u32], k: usize, [w, h, d]: [usize; 3]) -> f64 {
    let mut volume = vec![0u64; k];
    // Every voxel starts with its 6 faces; each face it shares with a voxel of the same
    // label is taken off on both sides.
    let mut area = vec![0u64; k];
    let slice = w * h;
    for (i, &l) in ids.iter().enumerate() {
        let l = l as usize;
        volume[l] += 1;
        area[l] += 6;
        let (x, y, z) = (i % w, i / w % h, i / slice);
        for (has, j) in [
            (x + 1 < w, i + 1),
            (y + 1 < h, i + w),
            (z + 1 < d, i + slice),
        ] {
            if has && ids[j] as usize == l {
                area[l] -= 2;
            }
        }
    }
    let n = ids.len() as f64;
    volume
        .iter()
        .zip(&area)
        .map(|(&v, &a)| {
            let (v, a) = (v as f64, a as f64);
            v / n * 36.0 * std::f64::consts::PI * v * v / (a * a * a)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segmentation::UNLABELLED;
    use std::f64::consts::PI;

    fn gt(w: u32, h: u32, labels: &[u32], r: u32) -> GroundTruth {
        let opts = EvalOptions {
            tolerance: r,
            ..EvalOptions::default()
        };
        GroundTruth::new(w, h, labels, &opts).unwrap()
    }

    fn opts(r: u32) -> EvalOptions {
        EvalOptions {
            tolerance: r,
            ..EvalOptions::default()
        }
    }

    /// A 6x4 ground truth: left half label 1, right half label 2, bottom-right 2x2 block label 3.
    fn halves() -> Vec<u32> {
        let mut v = Vec::new();
        for y in 0..4 {
            for x in 0..6 {
                v.push(if x < 3 {
                    1
                } else if y >= 2 && x >= 4 {
                    3
                } else {
                    2
                });
            }
        }
        v
    }

    #[test]
    fn hand_worked_example() {
        // GT (6x4):        SP:
        //   1 1 1 2 2 2     0 0 1 1 1 1
        //   1 1 1 2 2 2     0 0 1 1 1 1
        //   1 1 1 2 3 3     0 0 1 1 1 1
        //   1 1 1 2 3 3     0 0 1 1 1 1
        let g = gt(6, 4, &halves(), 0);
        let sp: Vec<u32> = (0..24).map(|i| u32::from(i % 6 >= 2)).collect();
        let seg = Segmentation::from_labels(6, 4, sp).unwrap();
        // GT thin boundary pixels: column x=2 (4 px, right is 2); x=4,5 of row 1 (bottom is
        // 3): 2 px; x=3 of rows 2, 3 (right is 3): 2 px. Total 8.
        // SP boundary: column 1, 4 px. With r=0 none coincide: BR = 0, BP = 0.
        assert_eq!(boundary_recall(&seg, &g).unwrap(), 0.0);
        assert_eq!(boundary_precision(&seg, &g).unwrap(), 0.0);
        // With r = 1 the SP column 1 matches GT column 2 (4 of 8 GT px); all 4 SP px match.
        let g1 = gt(6, 4, &halves(), 1);
        assert_eq!(boundary_recall(&seg, &g1).unwrap(), 0.5);
        assert_eq!(boundary_precision(&seg, &g1).unwrap(), 1.0);
        // Contingency: S0 (8 px) ⊂ G1. S1 (16 px): 4 in G1, 8 in G2, 4 in G3.
        // UE = [min(8,0) + min(4,12) + min(8,8) + min(4,12)] / 24 = 16/24.
        assert!((undersegmentation_error(&seg, &g).unwrap() - 16.0 / 24.0).abs() < 1e-15);
        // ASA = (8 + 8) / 24.
        assert!((achievable_segmentation_accuracy(&seg, &g).unwrap() - 16.0 / 24.0).abs() < 1e-15);
        // CO: S0 is 2x4, perimeter 12, S1 4x4, perimeter 16:
        // (8/24) 4π 8/144 + (16/24) 4π 16/256.
        let co = 8.0 / 24.0 * 4.0 * PI * 8.0 / 144.0 + 16.0 / 24.0 * 4.0 * PI * 16.0 / 256.0;
        assert!((compactness(&seg) - co).abs() < 1e-12);
    }

    #[test]
    fn thick_boundaries_match_more() {
        // 4x1, GT boundary between x=1 and x=2; SP boundary between x=2 and x=3.
        let o = EvalOptions {
            tolerance: 0,
            boundary: BoundaryMode::Thick,
            ..EvalOptions::default()
        };
        let g = GroundTruth::new(4, 1, &[5, 5, 6, 6], &o).unwrap();
        let seg = Segmentation::from_labels(4, 1, vec![0, 0, 0, 1]).unwrap();
        // Thick: GT {1, 2}, SP {2, 3}: recall 1/2, precision 1/2. Thin would give 0.
        let s = evaluate(&seg, None, std::slice::from_ref(&g), &o).unwrap();
        assert_eq!((s.boundary_recall, s.boundary_precision), (0.5, 0.5));
        let s = evaluate(&seg, None, &[gt(4, 1, &[5, 5, 6, 6], 0)], &opts(0)).unwrap();
        assert_eq!((s.boundary_recall, s.boundary_precision), (0.0, 0.0));
    }

    #[test]
    fn tolerance_window_is_square_and_clipped() {
        // 5x5 GT: one segment, and the corner pixel (4, 4) on its own.
        let mut g = vec![1u32; 25];
        g[24] = 2;
        // Thin GT boundary pixels: (3,4) [right is 2] and (4,3) [bottom is 2].
        let mut sp = vec![0u32; 25];
        sp[0] = 1; // the only thin SP boundary pixel is (0, 0)
        let seg = Segmentation::relabel_sequential(5, 5, sp).unwrap();
        // (0,0) is 3 columns / 4 rows from (3,4): Chebyshev distance 4 (and 4 from (4,3)).
        for (r, want) in [(3, 0.0), (4, 1.0)] {
            let s = evaluate(&seg, None, &[gt(5, 5, &g, r)], &opts(r)).unwrap();
            assert_eq!(s.boundary_recall, want, "r = {r}");
        }
    }

    #[test]
    fn identities() {
        let labels = halves();
        let g = gt(6, 4, &labels, 2);
        let same = Segmentation::relabel_sequential(6, 4, labels).unwrap();
        let s = evaluate(&same, None, std::slice::from_ref(&g), &opts(2)).unwrap();
        assert_eq!(
            (
                s.boundary_recall,
                s.boundary_precision,
                s.undersegmentation_error,
                s.asa
            ),
            (1.0, 1.0, 0.0, 1.0)
        );
        let pixels = Segmentation::from_labels(6, 4, (0..24).collect()).unwrap();
        let s = evaluate(&pixels, None, &[g], &opts(2)).unwrap();
        assert_eq!(
            (s.boundary_recall, s.undersegmentation_error, s.asa),
            (1.0, 0.0, 1.0)
        );
        assert!((s.compactness - PI / 4.0).abs() < 1e-12);
        assert_eq!(s.segments, 24.0);
    }

    #[test]
    fn no_ground_truth_or_boundary_gives_nan() {
        let one = Segmentation::from_labels(3, 2, vec![0; 6]).unwrap();
        let s = evaluate(&one, None, &[], &EvalOptions::default()).unwrap();
        assert!(s.boundary_recall.is_nan() && s.asa.is_nan() && s.explained_variation.is_nan());
        let g = gt(3, 2, &[1, 1, 1, 2, 2, 2], 2);
        assert!(boundary_precision(&one, &g).unwrap().is_nan());
        assert_eq!(boundary_recall(&one, &g).unwrap(), 0.0);
        let flat = gt(3, 2, &[4; 6], 2);
        assert!(boundary_recall(&one, &flat).unwrap().is_nan());
    }

    #[test]
    fn aggregation_mean_worst_best() {
        // Two GTs: `a` equal to the segmentation (UE 0, ASA 1) and a worse one.
        let seg = Segmentation::from_labels(4, 1, vec![0, 0, 1, 1]).unwrap();
        let a = [0, 0, 1, 1];
        let b = [0, 1, 1, 1]; // ASA 3/4, UE (min(1,1) + min(1,1)) / 4 = 1/2
        let mk = |l: &[u32], agg| {
            let o = EvalOptions {
                aggregation: agg,
                ..EvalOptions::default()
            };
            let gts = [
                GroundTruth::new(4, 1, &a, &o).unwrap(),
                GroundTruth::new(4, 1, l, &o).unwrap(),
            ];
            evaluate(&seg, None, &gts, &o).unwrap()
        };
        let m = mk(&b, Aggregation::Mean);
        assert_eq!((m.asa, m.undersegmentation_error), (0.875, 0.25));
        let w = mk(&b, Aggregation::Worst);
        assert_eq!((w.asa, w.undersegmentation_error), (0.75, 0.5));
        let bst = mk(&b, Aggregation::Best);
        assert_eq!((bst.asa, bst.undersegmentation_error), (1.0, 0.0));
        // A GT without boundary gives NaN recall, skipped by every aggregation.
        let flat = mk(&[3, 3, 3, 3], Aggregation::Mean);
        assert_eq!(flat.boundary_recall, 1.0);
    }

    #[test]
    fn explained_variation_cases() {
        let img = Image::new(
            2,
            2,
            3,
            Samples::U8(vec![0, 0, 0, 10, 20, 30, 0, 0, 0, 10, 20, 30]),
        )
        .unwrap();
        let cols = Segmentation::from_labels(2, 2, vec![0, 1, 0, 1]).unwrap();
        assert!((explained_variation(&cols, &img).unwrap() - 1.0).abs() < 1e-12);
        let rows = Segmentation::from_labels(2, 2, vec![0, 0, 1, 1]).unwrap();
        assert_eq!(explained_variation(&rows, &img).unwrap(), 0.0);
        // Grey and the same grey as RGB agree; a constant image gives NaN.
        let grey = Image::new(2, 2, 1, Samples::U8(vec![3, 9, 4, 9])).unwrap();
        let rgb = Image::new(
            2,
            2,
            3,
            Samples::U8(vec![3, 3, 3, 9, 9, 9, 4, 4, 4, 9, 9, 9]),
        )
        .unwrap();
        let a = explained_variation(&rows, &grey).unwrap();
        assert!((a - explained_variation(&rows, &rgb).unwrap()).abs() < 1e-12);
        let flat = Image::new(2, 2, 1, Samples::U8(vec![7; 4])).unwrap();
        assert!(explained_variation(&rows, &flat).unwrap().is_nan());
    }

    #[test]
    fn unlabelled_pixels_form_one_region() {
        // Scoring a map with unlabelled pixels equals scoring the map where they carry a label
        // of their own.
        let masked = Segmentation::from_labels(4, 1, vec![0, UNLABELLED, UNLABELLED, 1]).unwrap();
        let plain = Segmentation::from_labels(4, 1, vec![0, 2, 2, 1]).unwrap();
        let g = gt(4, 1, &[1, 1, 2, 2], 1);
        let a = evaluate(&masked, None, std::slice::from_ref(&g), &opts(1)).unwrap();
        let b = evaluate(&plain, None, &[g], &opts(1)).unwrap();
        assert_eq!(a.asa, b.asa);
        assert_eq!(a.undersegmentation_error, b.undersegmentation_error);
        assert_eq!(a.compactness, b.compactness);
        assert_eq!(a.boundary_recall, b.boundary_recall);
        assert_eq!((a.segments, b.segments), (2.0, 3.0));
    }

    #[test]
    fn hand_worked_volume() {
        // 2x2x2: the ground truth splits the two slices (label 1, then 2), the supervoxels
        // the two columns (x = 0, x = 1), through both slices. Voxel (x, y, z) is at
        // (z * 2 + y) * 2 + x.
        let gt_labels: Vec<u32> = (0..8).map(|i| 1 + i / 4).collect();
        let sp: Vec<u32> = (0..8).map(|i| i % 2).collect();
        let seg = Segmentation::from_volume_labels(2, 2, 2, sp).unwrap();
        let vol_gt = |r| GroundTruth::new_volume(2, 2, 2, &gt_labels, &opts(r)).unwrap();
        let g = vol_gt(0);
        assert_eq!(g.segmentation().depth(), 2);
        // Each supervoxel: 2 voxels in each segment. ASA = (2 + 2) / 8; UE = 4 min(2, 2) / 8.
        let s = evaluate(&seg, None, std::slice::from_ref(&g), &opts(0)).unwrap();
        assert_eq!((s.asa, s.undersegmentation_error), (0.5, 1.0));
        // Thin boundaries: GT, the first slice (4 voxels, next slice differs); supervoxels,
        // column x = 0 (4 voxels, right differs). Both hold (0, 0, 0) and (0, 1, 0): recall
        // 2/4, precision 2/4. With r = 1 the cube around every voxel holds the whole volume.
        assert_eq!((s.boundary_recall, s.boundary_precision), (0.5, 0.5));
        let s1 = evaluate(&seg, None, &[vol_gt(1)], &opts(1)).unwrap();
        assert_eq!((s1.boundary_recall, s1.boundary_precision), (1.0, 1.0));
        // Compactness, 3-D: each supervoxel is a 1x2x2 box of 4 voxels and 16 faces.
        let co = 2.0 * 0.5 * 36.0 * PI * 16.0 / 4096.0;
        assert!((s.compactness - co).abs() < 1e-12, "{}", s.compactness);
        assert_eq!((s.segments, s.disconnected), (2.0, 0.0));
        // One voxel per supervoxel: cubes, π/6.
        let voxels = Segmentation::from_volume_labels(2, 2, 2, (0..8).collect()).unwrap();
        assert!((compactness(&voxels) - PI / 6.0).abs() < 1e-12);
        // Explained variation: grey 10 + 20 x is explained by the columns, not by the slices.
        let img = Image::new_volume(
            2,
            2,
            2,
            1,
            Samples::U8((0..8).map(|i| 10 + 20 * (i % 2) as u8).collect()),
        )
        .unwrap();
        assert!((explained_variation(&seg, &img).unwrap() - 1.0).abs() < 1e-12);
        let slices = Segmentation::from_volume_labels(2, 2, 2, (0..8).map(|i| i / 4).collect());
        assert_eq!(explained_variation(&slices.unwrap(), &img).unwrap(), 0.0);
        // A 2-D ground truth does not score a volume.
        let flat = gt(2, 2, &[1, 1, 2, 2], 0);
        assert!(matches!(
            evaluate(&seg, None, &[flat], &opts(0)),
            Err(Error::SizeMismatch(_))
        ));
        assert!(GroundTruth::new_volume(3, 2, 2, &gt_labels, &opts(0)).is_err());
    }

    #[test]
    fn volume_tolerance_is_a_cube_of_voxels() {
        // 1x1x9 ground truth: a boundary only at slice 0 (its next-slice neighbour differs);
        // one supervoxel boundary at slice 4 (4 slices away along z).
        let gt_labels: Vec<u32> = (0..9).map(|i| u32::from(i > 0)).collect();
        let sp: Vec<u32> = (0..9).map(|i| u32::from(i > 4)).collect();
        let seg = Segmentation::from_volume_labels(9, 1, 1, sp).unwrap();
        for (r, want) in [(3, 0.0), (4, 1.0)] {
            let g = GroundTruth::new_volume(9, 1, 1, &gt_labels, &opts(r)).unwrap();
            assert_eq!(boundary_recall(&seg, &g).unwrap(), want, "r = {r}");
        }
    }

    proptest::proptest! {
        #[test]
        fn volume_dilation_is_the_chebyshev_cube(
            w in 1usize..7, h in 1usize..7, d in 2usize..6, r in 0u32..4, seed in proptest::prelude::any::<u64>(),
        ) {
            let mut x = seed | 1;
            let mask: Vec<bool> = (0..w * h * d).map(|_| {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                x % 7 == 0
            }).collect();
            let got = dilate((w as u32, h as u32, d as u32), &mask, r);
            let r = r as usize;
            for (i, &g) in got.iter().enumerate() {
                let (px, py, pz) = (i % w, i / w % h, i / (w * h));
                let want = mask.iter().enumerate().any(|(j, &m)| {
                    let (qx, qy, qz) = (j % w, j / w % h, j / (w * h));
                    m && px.abs_diff(qx) <= r && py.abs_diff(qy) <= r && pz.abs_diff(qz) <= r
                });
                proptest::prop_assert_eq!(g, want, "voxel {}", i);
            }
        }
    }

    #[test]
    fn refuses_mismatches() {
        let seg = Segmentation::from_labels(2, 1, vec![0, 1]).unwrap();
        let g = gt(1, 2, &[1, 2], 2);
        assert!(matches!(
            boundary_recall(&seg, &g),
            Err(Error::SizeMismatch(_))
        ));
        let g = gt(2, 1, &[1, 2], 2);
        assert!(evaluate(&seg, None, &[g], &opts(1)).is_err());
        assert!(GroundTruth::new(2, 2, &[1], &opts(1)).is_err());
        assert!(GroundTruth::new(2, 1, &[1, 1], &opts(255)).is_err());
    }
}
