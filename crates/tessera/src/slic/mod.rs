//! SLIC superpixels and supervoxels: Simple Linear Iterative Clustering (Achanta et al.,
//! "SLIC Superpixels Compared to State-of-the-Art Superpixel Methods", TPAMI 2012), with the
//! SLIC-zero variant (adaptive compactness) and the masked variant (maskSLIC, Irving 2016)
//! that scikit-image offers, under scikit-image's parameter names and defaults, on 2-D images
//! and 3-D volumes with any number of channels.
//!
//! How it runs: seeds on a regular grid whose cells are (close to) squares, or cubes in a
//! volume, of side `S = sqrt(area / n_segments)` (`cbrt(volume / n_segments)`), measured in
//! `spacing` units; each iteration assigns every pixel to the nearest centre among those
//! whose window of about `2S` along every axis holds it, under
//! `D = d_c^2 + (m / S)^2 d_s^2` (`d_c` the feature distance, `d_s` the spacing-scaled
//! spatial distance), then moves each centre to the mean of its pixels. Every slice is cut
//! into bands of a fixed number of rows that are processed in parallel; each band visits the
//! centres in index order and keeps the first of equal distances, and each centre's sums are
//! added in a fixed order, so the output does not depend on the number of threads.

use crate::algorithm::Superpixels;
use crate::color;
use crate::connectivity::{MergeInto, connect_with};
use crate::error::{Error, Result};
use crate::image::{Image, Mask};
use crate::segmentation::{Segmentation, UNLABELLED, relabel_in_place};
use crate::smoothing::gaussian_volume;
use rayon::prelude::*;
use std::ops::Range;

mod assign;
mod grid;
mod seeds;
pub(crate) mod tiles;
mod update;
#[cfg(target_arch = "x86_64")]
mod x86;
mod zero;

use assign::{AssignCtx, CentresByBand, ColumnTerms, LANES, Rows, assign_band};
use grid::Grid;
#[cfg(test)]
use grid::lowest_gradient;
pub use seeds::SlicSeeds;
use seeds::relabel_by_seed;
use update::update_centres;
#[cfg(target_arch = "x86_64")]
use x86::{assign_band_avx2, assign_band_avx512, group_avx2, group_avx512};
use zero::largest_colour_distance;

/// Rows per parallel band. Fixed, so that results do not depend on the thread count.
const BAND_ROWS: usize = 16;

/// The largest channel count with a kernel of its own (the channels unrolled); more channels
/// run the kernels that loop over any number of them.
const FIXED_CHANNELS: usize = 4;

/// SLIC parameters. `Default` gives scikit-image's defaults (`skimage.segmentation.slic`).
///
/// ```
/// use tessera::{Image, Slic, Superpixels};
/// let img = image::open(concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/chelsea.png")).unwrap();
/// let img = Image::from_dynamic(&img).unwrap();
/// let seg = Slic { n_segments: 200, ..Slic::default() }.segment(&img).unwrap();
/// assert!(seg.count() > 150 && seg.count() < 250);
/// assert_eq!(seg.disconnected_count(), 0); // connectivity is enforced by default
/// ```
///
/// Supervoxels of a volume with anisotropic voxels (slices 2.5 apart, pixels 0.7 wide), and
/// of an 8-channel image:
///
/// ```
/// use tessera::{Image, Samples, Slic, Superpixels};
/// let (d, h, w) = (12u32, 20u32, 20u32);
/// let voxels: Vec<f32> = (0..d * h * w).map(|i| if i % w < w / 2 { 0.2 } else { 0.8 }).collect();
/// let vol = Image::new_volume(d, w, h, 1, Samples::F32(voxels))?;
/// let slic = Slic { n_segments: 20, spacing: [2.5, 0.7, 0.7], ..Slic::default() };
/// let seg = slic.segment(&vol)?;
/// assert_eq!(seg.depth(), 12);
/// assert_eq!(seg.disconnected_count(), 0); // 6-connected supervoxels
///
/// let img = Image::new(30, 20, 8, Samples::F32((0..30 * 20 * 8).map(|i| (i % 7) as f32).collect()))?;
/// let seg = Slic { n_segments: 6, ..Slic::default() }.segment(&img)?;
/// assert!(seg.count() >= 1 && seg.unlabelled_count() == 0);
/// # Ok::<(), tessera::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Slic {
    /// The approximate number of superpixels wanted (scikit-image: `n_segments`, 100). The
    /// seed grid has about this many cells; connectivity enforcement may change the final
    /// count a little. Values above the pixel count give one superpixel per pixel.
    pub n_segments: u32,
    /// `m`: the balance of colour proximity against space proximity (10). Higher is more
    /// regular. In CIELAB units for colour and grey input, so it means the same for 8-bit,
    /// 16-bit and float input; for other channel counts, in units of the channels rescaled
    /// jointly to 0..1.
    pub compactness: f32,
    /// Iterations of assignment and update (scikit-image: `max_num_iter`, 10).
    pub max_iterations: u32,
    /// Standard deviations `[slices, rows, columns]` of a Gaussian pre-smoothing, in units of
    /// `spacing`: each is divided by the spacing along its axis, so `[s, s, s]` is
    /// scikit-image's scalar `sigma=s` (`[0, 0, 0]`: none; the slices entry is ignored for
    /// 2-D images).
    pub sigma: [f32; 3],
    /// Voxel spacing `[slices, rows, columns]` (`[1, 1, 1]`; the slices entry is ignored for
    /// 2-D images): it weights the distance along each axis and shapes the seed grid, whose
    /// cells are as close to cubes in these units as the volume allows (so with slices 2.5
    /// apart and pixels 0.7 wide a cell spans about 3.6 times fewer slices than rows).
    /// scikit-image weights distances by `spacing` the same way but lays its grid out in
    /// voxels.
    pub spacing: [f32; 3],
    /// Cluster in CIELAB. `None` (the default) converts 3-channel images to L*a*b* and grey
    /// images to L* (so that `compactness` means the same for grey and colour, unlike
    /// scikit-image, which leaves grey in 0..1), and clusters any other channel count raw,
    /// rescaled to 0..1 by the joint minimum and maximum of all channels, as scikit-image
    /// does; `Some(false)` clusters the raw rescaled channels whatever their count.
    pub convert_to_lab: Option<bool>,
    /// Make every superpixel one 4-connected region, every supervoxel one 6-connected
    /// region (true).
    pub enforce_connectivity: bool,
    /// Regions smaller than this fraction of the nominal superpixel size are merged into the
    /// neighbouring region whose mean colour (in the clustering space) is nearest (0.5).
    pub min_size_factor: f32,
    /// Regions are cut when they exceed this multiple of the nominal size (3).
    pub max_size_factor: f32,
    /// SLIC-zero / SLICO: each cluster's colour distance is normalised by the largest colour
    /// distance seen in it in the previous iteration, so `compactness` is only the start
    /// value (false).
    pub slic_zero: bool,
    /// Move each seed to the lowest-gradient pixel of its 3x3 (3x3x3) neighbourhood, as the
    /// SLIC paper does (false, as scikit-image: on BSDS500 val it lowered boundary recall
    /// slightly).
    pub perturb_seeds: bool,
    /// How colour and space distances are measured and combined (Euclidean, as the SLIC
    /// paper and scikit-image).
    pub distance: SlicDistance,
    /// Row subsampling (fast-slic's speed-up; 1 = exact SLIC, the default): iteration `t`
    /// assigns and averages only the rows `y` (of every slice) with
    /// `y % subsample == t % subsample`, and a last full assignment labels every pixel. 3
    /// cuts the time about in half at a small cost in boundary adherence.
    pub subsample: u32,
}

impl Default for Slic {
    fn default() -> Self {
        Slic {
            n_segments: 100,
            compactness: 10.0,
            max_iterations: 10,
            sigma: [0.0; 3],
            spacing: [1.0; 3],
            convert_to_lab: None,
            enforce_connectivity: true,
            min_size_factor: 0.5,
            max_size_factor: 3.0,
            slic_zero: false,
            perturb_seeds: false,
            distance: SlicDistance::Euclidean,
            subsample: 1,
        }
    }
}

/// The distance SLIC minimises between a pixel and a cluster centre, with `d_c` the colour
/// distance, `d_s` the spatial distance (scaled by `spacing`), `m` the compactness and `S`
/// the grid step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlicDistance {
    /// `d_c^2 + (m / S)^2 d_s^2` with Euclidean `d_c` and `d_s`: the SLIC paper's and
    /// scikit-image's measure (default).
    #[default]
    Euclidean,
    /// `d_c + (m / S) d_s` with city-block (L1) `d_c` and `d_s`, the measure fast-slic uses.
    /// The same `m` then gives less compact superpixels that follow edges more closely: on
    /// BSDS500 val it raised boundary recall and lowered undersegmentation error at the same
    /// segment count. With SLIC-zero, `d_c` is divided by each cluster's largest L1 colour
    /// distance instead.
    Manhattan,
}

impl Superpixels for Slic {
    fn name(&self) -> &'static str {
        "slic"
    }

    fn validate(&self) -> Result<()> {
        if self.n_segments == 0 {
            return Err(Error::param("n_segments", "must be at least 1"));
        }
        Error::check_positive("compactness", self.compactness)?;
        if self.subsample == 0 {
            return Err(Error::param("subsample", "must be at least 1"));
        }
        if self.max_iterations == 0 {
            return Err(Error::param("max_iterations", "must be at least 1"));
        }
        for s in self.sigma {
            if !(s.is_finite() && s >= 0.0) {
                return Err(Error::param(
                    "sigma",
                    format!("must be finite and >= 0, got {s}"),
                ));
            }
        }
        for s in self.spacing {
            Error::check_positive("spacing", s)?;
        }
        if !(self.min_size_factor.is_finite() && self.min_size_factor >= 0.0) {
            return Err(Error::param(
                "min_size_factor",
                format!("must be finite and >= 0, got {}", self.min_size_factor),
            ));
        }
        Error::check_positive("max_size_factor", self.max_size_factor)?;
        if self.max_size_factor < self.min_size_factor {
            return Err(Error::param(
                "max_size_factor",
                "must not be smaller than min_size_factor",
            ));
        }
        Ok(())
    }

    fn segment(&self, image: &Image) -> Result<Segmentation> {
        self.run(image, None, None)
    }
}

/// The shape of what is segmented: `d` slices of `h` rows of `w` pixels (`d = 1` for an
/// image). Planes, labels and distances hold the slices one after the other, each row-major.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    w: usize,
    h: usize,
    d: usize,
}

impl Shape {
    /// Pixels in one slice.
    fn slice(self) -> usize {
        self.w * self.h
    }

    /// Whether this is a volume (more than one slice).
    fn is_volume(self) -> bool {
        self.d > 1
    }
}

/// The rectangle of every slice that the working buffers (feature planes, labels,
/// distances) hold: columns `x0..x0 + w`, rows `y0..y0 + h`, slices one after the other,
/// each row-major. The whole image, except in tiled runs, where each tile's buffers hold its
/// frame (the tile and a halo) while positions, windows and distances stay in the whole
/// image's coordinates, so that a tile computes the whole-image run's bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) x0: usize,
    pub(crate) y0: usize,
    pub(crate) w: usize,
    pub(crate) h: usize,
}

impl Frame {
    /// The frame of a whole image or volume.
    fn whole(shape: Shape) -> Self {
        Frame {
            x0: 0,
            y0: 0,
            w: shape.w,
            h: shape.h,
        }
    }

    /// Pixels in one slice of the frame.
    fn slice(self) -> usize {
        self.w * self.h
    }

    /// Bands of [`BAND_ROWS`] rows in one slice of the frame.
    fn bands_per_slice(self) -> usize {
        self.h.div_ceil(BAND_ROWS)
    }

    /// The buffer offset of the pixel at slice `z`, row `y`, column `x` (image coordinates,
    /// inside the frame).
    fn index(self, z: usize, y: usize, x: usize) -> usize {
        (z * self.h + y - self.y0) * self.w + x - self.x0
    }

    /// The columns of `xs` inside the frame.
    fn clip_columns(self, xs: &Range<usize>) -> Range<usize> {
        let s = xs.start.max(self.x0);
        s..xs.end.min(self.x0 + self.w).max(s)
    }
}

impl Slic {
    /// Segments only the pixels (voxels) inside `mask` (maskSLIC). Pixels outside get
    /// [`UNLABELLED`]; seeds are placed on the grid cells that hold mask pixels, and
    /// `n_segments` counts superpixels inside the mask.
    ///
    /// # Errors
    /// As [`Superpixels::segment`], plus [`Error::SizeMismatch`] when the mask is not the
    /// image's size and [`Error::InvalidParameter`] when the mask is empty.
    pub fn segment_masked(&self, image: &Image, mask: &Mask) -> Result<Segmentation> {
        mask.check_size(image)?;
        if mask.count() == 0 {
            return Err(Error::param("mask", "selects no pixel"));
        }
        self.run(image, Some(mask.as_slice()), None)
    }

    /// SLIC from the centres `seeds` gives instead of the regular grid (optionally inside
    /// `mask`): the grid step `S` is the side of a cell holding `active / seeds` pixels, and
    /// without connectivity enforcement segment `i` is the `i`-th seed that kept pixels (with
    /// it, segments are numbered in raster order as usual). `n_segments` and `perturb_seeds`
    /// are not used. See [`SlicSeeds`] for an example.
    ///
    /// # Errors
    /// As [`Slic::segment_masked`], plus [`Error::InvalidParameter`] when there is no seed or
    /// a seed lies outside the image.
    pub fn segment_from_seeds(
        &self,
        image: &Image,
        mask: Option<&Mask>,
        seeds: &SlicSeeds,
    ) -> Result<Segmentation> {
        if let Some(mask) = mask {
            mask.check_size(image)?;
            if mask.count() == 0 {
                return Err(Error::param("mask", "selects no pixel"));
            }
        }
        self.run(image, mask.map(|m| m.as_slice()), Some(seeds))
    }

    fn run(
        &self,
        image: &Image,
        mask: Option<&[bool]>,
        seeds: Option<&SlicSeeds>,
    ) -> Result<Segmentation> {
        self.validate()?;
        let planes = self.features(image)?;
        let shape = Shape {
            w: image.width() as usize,
            h: image.height() as usize,
            d: image.depth() as usize,
        };
        let refs: Vec<&[f32]> = planes.iter().map(|p| p.as_slice()).collect();
        match refs.len() {
            1 => self.cluster::<1>(shape, &refs, mask, seeds),
            2 => self.cluster::<2>(shape, &refs, mask, seeds),
            3 => self.cluster::<3>(shape, &refs, mask, seeds),
            4 => self.cluster::<4>(shape, &refs, mask, seeds),
            _ => self.cluster::<0>(shape, &refs, mask, seeds),
        }
    }

    /// The feature planes SLIC clusters on.
    fn features(&self, image: &Image) -> Result<Vec<Vec<f32>>> {
        let c = image.channels();
        let lab = self.convert_to_lab.unwrap_or(c == 1 || c == 3);
        if lab && c != 1 && c != 3 {
            return Err(Error::param(
                "convert_to_lab",
                format!("CIELAB needs 1 or 3 channels, the image has {c}"),
            ));
        }
        let smooth = self.sigma.iter().any(|&s| s > 0.0);
        if lab && !smooth {
            return color::lab_planes(image)
                .ok_or_else(|| Error::UnsupportedFormat(format!("{c} channels")));
        }
        let mut planes = image.to_planes();
        if smooth {
            let (w, h, d) = (
                image.width() as usize,
                image.height() as usize,
                image.depth() as usize,
            );
            let sigma: [f32; 3] = std::array::from_fn(|a| self.sigma[a] / self.spacing[a]);
            planes
                .iter_mut()
                .for_each(|p| gaussian_volume(p, w, h, d, sigma));
        }
        if lab {
            return color::lab_planes_from_planes(&planes)
                .ok_or_else(|| Error::UnsupportedFormat(format!("{c} channels")));
        }
        color::rescale_jointly(&mut planes, 1.0);
        Ok(planes)
    }

    /// The grid step `S` in `spacing` units: the side of a square (cube) cell holding
    /// `active / k` pixels (voxels).
    fn step(&self, shape: Shape, active: usize, k: usize) -> f64 {
        let [sz, sy, sx] = self.spacing.map(f64::from);
        if shape.is_volume() {
            (active as f64 * (sz * sy * sx) / k as f64).cbrt()
        } else {
            (active as f64 * (sy * sx) / k as f64).sqrt()
        }
    }

    /// SLIC on `planes` (one value per pixel each). `C` is the channel count when it is at
    /// most [`FIXED_CHANNELS`] (kernels with the channels unrolled), 0 for any count. The
    /// centres start on the grid, or at `seeds`.
    fn cluster<const C: usize>(
        &self,
        shape: Shape,
        planes: &[&[f32]],
        mask: Option<&[bool]>,
        seeds: Option<&SlicSeeds>,
    ) -> Result<Segmentation> {
        debug_assert!(C == 0 || C == planes.len());
        let n = shape.slice() * shape.d;
        let active = mask.map_or(n, |m| m.iter().filter(|&&b| b).count());
        let asked = seeds.map_or(self.n_segments as usize, |s| s.positions.len());
        let k = asked.min(active).max(1);
        let step = self.step(shape, active, k);
        let grid = Grid::new(shape, step, self.spacing);
        let mut centres = match seeds {
            Some(s) => s.centres(shape, planes)?,
            None => grid.seeds(mask, planes, self.perturb_seeds),
        };
        let nc = centres.len();
        if nc == 0 {
            return Err(Error::param("mask", "selects no pixel"));
        }
        let step_f = step as f32;
        // SLIC-zero: per-cluster largest colour distance of the previous iteration.
        let mut max_colour = vec![self.compactness; nc];

        let mut labels = vec![UNLABELLED; n];
        let mut dist = vec![f32::INFINITY; n];
        // Standard SLIC: D = d_c^2 + (m/S)^2 d_s^2. SLIC-zero: D = d_c^2 / m_k^2 + d_s^2 / S^2,
        // with m_k each cluster's largest colour distance of the previous iteration.
        let mut colour_weight = vec![1.0f32; nc];
        let manhattan = self.distance == SlicDistance::Manhattan;
        let spatial_weight = self.spatial_weight(step_f);
        // Images start every pass with no labels, so that a pixel no window reaches goes to
        // the nearest centre at the end (`label_leftovers`), which a tiled run reproduces;
        // volumes (never tiled) keep such a voxel's label of the pass before, which keeps it
        // on its side of an edge better than the nearest centre in voxels does.
        let fresh = !shape.is_volume();
        // One assignment pass of every pixel of `rows` to the centres, under their colour
        // weights.
        let assign = |centres: &Centres,
                      colour_weight: &[f32],
                      rows: Rows,
                      labels: &mut [u32],
                      dist: &mut [f32]| {
            let pass = Pass {
                shape,
                grid: &grid,
                centres,
                colour_weight,
                spatial_weight,
                spacing: self.spacing,
                manhattan,
                rows,
            };
            assign_frame::<C>(
                &pass,
                Frame::whole(shape),
                planes,
                mask,
                (labels, dist),
                fresh,
            );
        };
        if seeds.is_some_and(|s| s.settle) {
            // The centres settle by position alone first (maskSLIC's step 2): the feature
            // distance weighs nothing, every pixel is visited.
            let spatial_only = vec![0.0f32; nc];
            let every = Rows {
                stride: 1,
                phase: 0,
            };
            for _ in 0..self.max_iterations {
                assign(&centres, &spatial_only, every, &mut labels, &mut dist);
                update_centres::<C>(shape, planes, &labels, &mut centres, &grid, every);
            }
        }
        let stride = self.subsample as usize;
        let full_pass = stride > 1;
        let w = shape.w;
        let passes = self.max_iterations as usize + usize::from(full_pass);
        for it in 0..passes {
            let last = it + 1 == passes;
            // Subsampled passes take every `stride`-th row; the last, full pass labels every
            // pixel (any pixel that no window reaches then is left to `label_leftovers`).
            let rows = if last {
                Rows {
                    stride: 1,
                    phase: 0,
                }
            } else {
                Rows {
                    stride,
                    phase: it % stride,
                }
            };
            if self.slic_zero {
                for (wgt, &m) in colour_weight.iter_mut().zip(&max_colour) {
                    *wgt = self.colour_weight(m);
                }
            }
            assign(&centres, &colour_weight, rows, &mut labels, &mut dist);
            if last {
                // The labels are final: centres moved now would label only the pixels no
                // window reached, and those go to the nearest of the centres that labelled
                // the rest (as in a tiled run, whose last pass has no update after it).
                break;
            }
            if self.slic_zero {
                max_colour = largest_colour_distance(
                    Frame::whole(shape),
                    planes,
                    &centres,
                    &labels,
                    rows,
                    manhattan,
                )
                .into_iter()
                .zip(&max_colour)
                .map(|(m, &old)| next_colour_scale(m, old, manhattan))
                .collect();
            }
            update_centres::<C>(shape, planes, &labels, &mut centres, &grid, rows);
        }

        label_leftovers(shape, Frame::whole(shape), &centres, mask, &mut labels);
        let (width, height) = (w as u32, shape.h as u32);
        if self.enforce_connectivity {
            let nominal = active as f64 / nc as f64;
            let min_size = (self.min_size_factor as f64 * nominal) as usize;
            let max_size = ((self.max_size_factor as f64 * nominal) as usize).max(1);
            // Fragments join the neighbour of the nearest mean colour: they are usually
            // pieces cut off across an edge, and joining them across the weakest colour
            // step keeps the edge (BSDS500 val, k = 400: boundary recall +0.03 to +0.05 and
            // lower undersegmentation error than joining along the longest border). In a
            // volume the regions are 6-connected.
            Ok(connect_with(
                width,
                height,
                &labels,
                min_size,
                max_size,
                MergeInto::NearestMean(planes),
            ))
        } else {
            let count = match seeds {
                Some(_) => relabel_by_seed(&mut labels, nc),
                None => relabel_in_place(&mut labels),
            };
            Ok(Segmentation::from_parts(width, height, labels, count))
        }
    }
}

impl Slic {
    /// The weight of `d_s` (Manhattan) or `d_s^2` (Euclidean) for the grid step `step`.
    fn spatial_weight(&self, step: f32) -> f32 {
        match (self.slic_zero, self.distance == SlicDistance::Manhattan) {
            (true, true) => 1.0 / step,
            (true, false) => 1.0 / (step * step),
            (false, true) => self.compactness / step,
            (false, false) => (self.compactness / step).powi(2),
        }
    }

    /// SLIC-zero: the weight of a cluster's colour distance from its colour scale `m` (its
    /// largest colour distance of the previous iteration), floored so flat clusters stay
    /// finite.
    fn colour_weight(&self, m: f32) -> f32 {
        let m = m.max(1e-3 * self.compactness);
        if self.distance == SlicDistance::Manhattan {
            1.0 / m
        } else {
            1.0 / (m * m)
        }
    }
}

/// SLIC-zero: a cluster's next colour scale from the largest colour distance `m` among its
/// pixels (squared unless `manhattan`); a cluster without pixels keeps `old`.
fn next_colour_scale(m: f32, old: f32, manhattan: bool) -> f32 {
    match (m > 0.0, manhattan) {
        (false, _) => old,
        (true, true) => m,
        (true, false) => m.sqrt(),
    }
}

impl Slic {
    /// Benchmark hook, not API (the distance micro-benchmark in `benches/slic.rs` times the
    /// assignment kernel alone with it): one pass of the kernel of `lanes` lanes (1: the
    /// portable loop, 8: AVX2, 16: AVX-512F) over a window of `width`
    /// columns and `dist.len() / stride` rows of three-channel planes (`stride` pixels a row),
    /// Euclidean distances, colour weight 1, as the default SLIC path runs it. Returns the
    /// number of distances computed, or `None` when there is no such kernel, the CPU lacks its instructions
    /// or the sizes do not fit.
    #[doc(hidden)]
    pub fn distance_kernel_probe(
        lanes: usize,
        planes: [&[f32]; 3],
        stride: usize,
        width: usize,
        labels: &mut [u32],
        dist: &mut [f32],
    ) -> Option<usize> {
        let rows = dist.len() / stride.max(1);
        if width > stride
            || labels.len() < dist.len()
            || planes.iter().any(|p| p.len() < dist.len())
        {
            return None;
        }
        let dy: Vec<f32> = (0..rows)
            .map(|r| (r as f32 - rows as f32 / 2.0).powi(2))
            .collect();
        let xterm: Vec<f32> = (0..width)
            .map(|i| (i as f32 - width as f32 / 2.0).powi(2))
            .collect();
        let win = assign::Window {
            planes: &planes,
            at: 0,
            band_at: 0,
            step: stride,
            dy: &dy,
            xterm: &xterm,
            col: &[50.0, 0.0, 0.0],
            a: 1.0,
            label: 7,
        };
        match lanes {
            1 => assign::window_portable::<3, false>(&win, labels, dist),
            #[cfg(target_arch = "x86_64")]
            8 if std::arch::is_x86_feature_detected!("avx2") => {
                // SAFETY: the CPU supports AVX2, checked just above.
                unsafe { x86::window_avx2::<3, false>(&win, labels, dist) }
            }
            #[cfg(target_arch = "x86_64")]
            16 if std::arch::is_x86_feature_detected!("avx512f") => {
                // SAFETY: the CPU supports AVX-512F, checked just above.
                unsafe { x86::window_avx512::<3, false>(&win, labels, dist) }
            }
            _ => return None,
        }
        Some(rows * width)
    }
}

/// What one assignment pass needs besides the buffers: the centres (all of them, or in a
/// tiled run those whose window reaches the tile's frame, in index order) and the weights of
/// the distance.
pub(crate) struct Pass<'a> {
    shape: Shape,
    grid: &'a Grid,
    centres: &'a Centres,
    /// Per-centre weight of the colour distance (SLIC-zero), else all 1.
    colour_weight: &'a [f32],
    spatial_weight: f32,
    spacing: [f32; 3],
    manhattan: bool,
    rows: Rows,
}

/// Assigns every pixel of `frame` in the rows `pass.rows` takes to its nearest centre,
/// `labels` and `dist` holding the frame (`mask` too, when given). Pixels that no window
/// reaches keep their label (with `fresh`, are left [`UNLABELLED`]). Slice after slice, band
/// after band, in parallel; a pixel's label depends only on its features and the centres,
/// never on the frame or the thread count.
fn assign_frame<const C: usize>(
    pass: &Pass<'_>,
    frame: Frame,
    planes: &[&[f32]],
    mask: Option<&[bool]>,
    (labels, dist): (&mut [u32], &mut [f32]),
    fresh: bool,
) {
    let by_band = CentresByBand::of(pass.centres, pass.grid, pass.shape, frame);
    let columns = ColumnTerms::of(
        pass.centres,
        pass.grid,
        pass.spacing[2],
        pass.spatial_weight,
        pass.manhattan,
    );
    let ctx = AssignCtx {
        shape: pass.shape,
        frame,
        by_band: &by_band,
        planes,
        centres: pass.centres,
        grid: pass.grid,
        colour_weight: pass.colour_weight,
        spatial_weight: pass.spatial_weight,
        spacing: pass.spacing,
        manhattan: pass.manhattan,
        rows: pass.rows,
        columns: &columns,
    };
    let (w, slice, bps, rows) = (frame.w, frame.slice(), frame.bands_per_slice(), pass.rows);
    // Slice after slice, band after band: each band's index names its slice and rows.
    labels
        .par_chunks_mut(slice)
        .zip(dist.par_chunks_mut(slice))
        .enumerate()
        .for_each(|(z, (lab, dis))| {
            lab.par_chunks_mut(BAND_ROWS * w)
                .zip(dis.par_chunks_mut(BAND_ROWS * w))
                .enumerate()
                .for_each(|(b, (lab, dis))| {
                    let y0 = b * BAND_ROWS;
                    for (r, (l, d)) in lab.chunks_mut(w).zip(dis.chunks_mut(w)).enumerate() {
                        let y = y0 + r;
                        if rows.takes(frame.y0 + y) {
                            let at = z * slice + y * w;
                            reset_row(l, d, mask.map(|m| &m[at..at + w]), fresh);
                        }
                    }
                    assign_band::<C>(&ctx, z * bps + b, lab, dis);
                });
        });
}

/// Gives any pixel to segment that no window reached (possible only with extreme parameters,
/// e.g. distances that overflow) the spatially nearest centre (in pixels), so that every
/// pixel inside the mask is labelled.
fn label_leftovers(
    shape: Shape,
    frame: Frame,
    centres: &Centres,
    mask: Option<&[bool]>,
    labels: &mut [u32],
) {
    // Almost always there is none: a branch-free scan finds that out fast.
    let missing = match mask {
        None => labels.iter().fold(false, |any, &l| any | (l == UNLABELLED)),
        Some(m) => labels.iter().zip(m).fold(false, |any, (&l, &inside)| {
            any | (inside & (l == UNLABELLED))
        }),
    };
    if !missing {
        return;
    }
    let (w, slice) = (frame.w, frame.slice());
    for (p, l) in labels.iter_mut().enumerate() {
        if *l != UNLABELLED || mask.is_some_and(|m| !m[p]) {
            continue;
        }
        let (z, y, x) = (
            (p / slice) as f32,
            (frame.y0 + p % slice / w) as f32,
            (frame.x0 + p % w) as f32,
        );
        let d2 = |k: usize| {
            let d = (centres.y[k] - y).powi(2) + (centres.x[k] - x).powi(2);
            if shape.is_volume() {
                d + (centres.z[k] - z).powi(2)
            } else {
                d
            }
        };
        let nearest = (0..centres.len()).min_by(|&a, &b| d2(a).total_cmp(&d2(b)));
        if let Some(k) = nearest {
            *l = k as u32;
        }
    }
}

/// Cluster centres, structure of arrays: position (slice, row, column, in pixels) and the
/// mean feature vector, `channels` values a centre.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct Centres {
    z: Vec<f32>,
    y: Vec<f32>,
    x: Vec<f32>,
    channels: usize,
    colour: Vec<f32>,
}

impl Centres {
    fn with_capacity(n: usize, channels: usize) -> Self {
        Centres {
            z: Vec::with_capacity(n),
            y: Vec::with_capacity(n),
            x: Vec::with_capacity(n),
            channels,
            colour: Vec::with_capacity(n * channels),
        }
    }

    fn push(&mut self, at: [f32; 3], colour: impl IntoIterator<Item = f32>) {
        self.z.push(at[0]);
        self.y.push(at[1]);
        self.x.push(at[2]);
        self.colour.extend(colour);
        debug_assert_eq!(self.colour.len(), self.z.len() * self.channels);
    }

    fn len(&self) -> usize {
        self.y.len()
    }

    /// Centre `k`'s position (slice, row, column).
    fn at(&self, k: usize) -> [f32; 3] {
        [self.z[k], self.y[k], self.x[k]]
    }

    /// Moves centre `k` to `at` (slice, row, column) and gives it the features `colour`.
    fn set(&mut self, k: usize, at: [f32; 3], colour: &[f32]) {
        [self.z[k], self.y[k], self.x[k]] = at;
        let ch = self.channels;
        self.colour[k * ch..(k + 1) * ch].copy_from_slice(colour);
    }

    /// Centre `k`'s feature vector.
    fn colour(&self, k: usize) -> &[f32] {
        &self.colour[k * self.channels..(k + 1) * self.channels]
    }

    /// The centres `ids`, in that order.
    fn subset(&self, ids: &[u32]) -> Centres {
        let mut out = Centres::with_capacity(ids.len(), self.channels);
        for &k in ids {
            out.push(self.at(k as usize), self.colour(k as usize).iter().copied());
        }
        out
    }
}

/// Readies one row for assignment: distance infinite (and with `fresh`, no label yet; else a
/// pixel no window reaches keeps the label of the pass before, as SLIC has it).
fn reset_row(labels: &mut [u32], dist: &mut [f32], mask: Option<&[bool]>, fresh: bool) {
    if fresh {
        labels.fill(UNLABELLED);
    }
    match mask {
        None => dist.fill(f32::INFINITY),
        // Masked-out pixels get a negative distance that no centre can beat.
        Some(m) => dist
            .iter_mut()
            .zip(m)
            .for_each(|(d, &inside)| *d = if inside { f32::INFINITY } else { -1.0 }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Samples;
    use proptest::prelude::*;

    use crate::test_support::noise_image as random_image;

    /// A smooth colour pattern (noise would fragment every cluster).
    fn smooth_image(w: u32, h: u32) -> Image {
        let samples = (0..w * h)
            .flat_map(|i| {
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                [
                    (128.0 + 100.0 * (x / 9.0).sin()) as u8,
                    (128.0 + 100.0 * (y / 13.0).cos()) as u8,
                    (128.0 + 90.0 * ((x + y) / 17.0).sin()) as u8,
                ]
            })
            .collect();
        Image::new(w, h, 3, Samples::U8(samples)).unwrap()
    }

    /// Every label is one 4-connected region (6-connected in a volume), checked by a flood
    /// fill of our own.
    fn each_label_connected(seg: &Segmentation) -> bool {
        let (w, h, d) = (
            seg.width() as usize,
            seg.height() as usize,
            seg.depth() as usize,
        );
        let slice = w * h;
        let l = seg.labels();
        let mut seen = vec![false; l.len()];
        let mut started = vec![false; seg.count() as usize];
        for s in 0..l.len() {
            if seen[s] || l[s] == UNLABELLED {
                continue;
            }
            if std::mem::replace(&mut started[l[s] as usize], true) {
                return false; // a second region of the same label
            }
            let mut stack = vec![s];
            seen[s] = true;
            while let Some(p) = stack.pop() {
                let (x, y, z) = (p % w, p % slice / w, p / slice);
                let nb = [
                    (x > 0).then(|| p - 1),
                    (x + 1 < w).then(|| p + 1),
                    (y > 0).then(|| p - w),
                    (y + 1 < h).then(|| p + w),
                    (z > 0).then(|| p - slice),
                    (z + 1 < d).then(|| p + slice),
                ];
                for q in nb.into_iter().flatten() {
                    if !seen[q] && l[q] == l[p] {
                        seen[q] = true;
                        stack.push(q);
                    }
                }
            }
        }
        true
    }

    /// A random volume of `channels` channels: `d` slices of uniform 8-bit noise.
    fn random_volume(d: u32, w: u32, h: u32, channels: u16, seed: u64) -> Image {
        let mut x = seed | 1;
        let samples = (0..d * w * h * u32::from(channels))
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        Image::new_volume(d, w, h, channels, Samples::U8(samples)).unwrap()
    }

    /// A smooth volume of `channels` channels (noise would fragment every cluster).
    fn smooth_volume(d: u32, w: u32, h: u32, channels: u16) -> Image {
        let samples = (0..d * h * w)
            .flat_map(|i| {
                let (x, y, z) = ((i % w) as f32, (i / w % h) as f32, (i / (w * h)) as f32);
                (0..channels).map(move |c| {
                    let f = 5.0 + 3.0 * c as f32;
                    0.5 + 0.4 * ((x + 2.0 * c as f32) / f).sin() * ((y - z) / (f + 4.0)).cos()
                })
            })
            .collect();
        Image::new_volume(d, w, h, channels, Samples::F32(samples)).unwrap()
    }

    #[test]
    fn two_flat_regions_give_two_segments() {
        // Left half black, right half white: with a low compactness and two seeds, SLIC finds
        // exactly the two halves.
        let (w, h) = (40u32, 20u32);
        let samples = (0..w * h)
            .map(|i| if i % w < w / 2 { 0 } else { 255 })
            .collect();
        let img = Image::new(w, h, 1, Samples::U8(samples)).unwrap();
        let seg = Slic {
            n_segments: 2,
            compactness: 1.0,
            ..Slic::default()
        }
        .segment(&img)
        .unwrap();
        assert_eq!(seg.count(), 2);
        for y in 0..h {
            for x in 0..w {
                assert_eq!(seg.label(x, y), Some(u32::from(x >= w / 2)));
            }
        }
    }

    #[test]
    fn segment_count_tracks_the_request() {
        let img = smooth_image(200, 150);
        for k in [10, 100, 400] {
            let seg = Slic {
                n_segments: k,
                compactness: 20.0,
                ..Slic::default()
            }
            .segment(&img)
            .unwrap();
            let n = seg.count() as f64;
            assert!(
                n > 0.6 * k as f64 && n < 1.4 * k as f64,
                "{k} asked, {n} made"
            );
        }
    }

    #[test]
    fn seeds_move_off_edges() {
        // A vertical edge between columns 4 and 5 of a 10x9 grey image; a seed at (4, 4) sits on
        // it and moves to the flat side, a seed in a flat area stays.
        let samples: Vec<u8> = (0..90).map(|i| if i % 10 < 5 { 20 } else { 220 }).collect();
        let plane: Vec<f32> = samples.iter().map(|&v| v as f32).collect();
        let refs: [&[f32]; 1] = [&plane];
        let shape = Shape { w: 10, h: 9, d: 1 };
        let moved = lowest_gradient(&refs, shape, None, [0, 4, 4]);
        assert_eq!(moved, [0, 3, 3]);
        assert_eq!(lowest_gradient(&refs, shape, None, [0, 4, 2]), [0, 4, 2]);
        // On the border there is no gradient to compare: the seed stays.
        assert_eq!(lowest_gradient(&refs, shape, None, [0, 0, 4]), [0, 0, 4]);
    }

    #[test]
    fn more_segments_than_pixels() {
        let img = random_image(5, 3, 3, 1);
        let seg = Slic {
            n_segments: 1000,
            enforce_connectivity: false,
            ..Slic::default()
        }
        .segment(&img)
        .unwrap();
        assert_eq!(seg.count(), 15);
    }

    #[test]
    fn bad_parameters_are_refused() {
        let img = random_image(8, 8, 3, 1);
        for bad in [
            Slic {
                n_segments: 0,
                ..Slic::default()
            },
            Slic {
                compactness: f32::NAN,
                ..Slic::default()
            },
            Slic {
                compactness: -1.0,
                ..Slic::default()
            },
            Slic {
                sigma: [0.0, -0.5, 0.0],
                ..Slic::default()
            },
            Slic {
                spacing: [1.0, 0.0, 1.0],
                ..Slic::default()
            },
            Slic {
                max_iterations: 0,
                ..Slic::default()
            },
            Slic {
                min_size_factor: 4.0,
                ..Slic::default()
            },
        ] {
            assert!(matches!(
                bad.segment(&img),
                Err(Error::InvalidParameter { .. })
            ));
        }
    }

    #[test]
    fn mask_leaves_outside_pixels_unlabelled() {
        let img = random_image(30, 20, 3, 3);
        let inside: Vec<bool> = (0..600).map(|i| (i % 30) >= 10).collect();
        let mask = Mask::new(30, 20, inside.clone()).unwrap();
        let seg = Slic {
            n_segments: 10,
            ..Slic::default()
        }
        .segment_masked(&img, &mask)
        .unwrap();
        for (l, m) in seg.labels().iter().zip(&inside) {
            assert_eq!(*l == UNLABELLED, !m);
        }
        assert!(seg.count() >= 1 && each_label_connected(&seg));
        let empty = Mask::new(30, 20, vec![false; 600]).unwrap();
        assert!(Slic::default().segment_masked(&img, &empty).is_err());
    }

    #[test]
    fn smoothing_and_raw_channels_run() {
        let img = random_image(40, 30, 3, 5);
        for slic in [
            Slic {
                sigma: [1.0; 3],
                n_segments: 12,
                ..Slic::default()
            },
            Slic {
                convert_to_lab: Some(false),
                n_segments: 12,
                compactness: 0.1,
                ..Slic::default()
            },
            Slic {
                spacing: [1.0, 2.0, 1.0],
                n_segments: 12,
                ..Slic::default()
            },
        ] {
            let seg = slic.segment(&img).unwrap();
            assert!(seg.sizes().iter().all(|&n| n > 0));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn guarantees_hold(
            w in 1u32..48, h in 1u32..48, channels in prop::sample::select(vec![1u8, 3]),
            k in 1u32..80, compactness in 0.01f32..100.0, iterations in 1u32..6,
            connect in any::<bool>(), zero in any::<bool>(), seed in any::<u64>(),
            subsample in 1u32..4, perturb in any::<bool>(), manhattan in any::<bool>()
        ) {
            let img = random_image(w, h, channels, seed);
            let distance = if manhattan { SlicDistance::Manhattan } else { SlicDistance::Euclidean };
            let slic = Slic {
                n_segments: k, compactness, max_iterations: iterations,
                enforce_connectivity: connect, slic_zero: zero, subsample,
                perturb_seeds: perturb, distance, ..Slic::default()
            };
            let seg = slic.segment(&img).unwrap();
            prop_assert_eq!(seg.labels().len(), (w * h) as usize);
            prop_assert_eq!(seg.unlabelled_count(), 0);
            prop_assert!(seg.sizes().iter().all(|&n| n > 0));
            prop_assert!(seg.count() >= 1 && seg.count() <= w * h);
            if connect {
                prop_assert!(each_label_connected(&seg));
            }
        }

        /// No panic, and either a typed parameter error or a valid segmentation, for degenerate
        /// sizes (1x1, 1xN, Nx1), any segment count up to `u32::MAX`, extreme (but valid)
        /// parameters and float samples anywhere in the finite range.
        #[test]
        fn extreme_inputs_never_panic(
            w in prop::sample::select(vec![1u32, 2, 3, 7, 17]),
            h in prop::sample::select(vec![1u32, 2, 5, 16, 33]),
            channels in prop::sample::select(vec![1u8, 2, 3, 4]),
            k in prop::sample::select(vec![1u32, 2, 5, 64, 1 << 20, u32::MAX]),
            compactness in prop::sample::select(
                vec![f32::MIN_POSITIVE, 1e-30, 0.01, 10.0, 1e20, f32::MAX, 0.0, -1.0, f32::NAN, f32::INFINITY]),
            sigma in prop::sample::select(vec![0.0f32, 1e-30, 0.5, 3.0, 1e30, f32::MAX, -1.0, f32::NAN]),
            spacing in prop::sample::select(vec![1e-30f32, 1.0, 3.0, 1e30, f32::MAX]),
            lab in prop::sample::select(vec![None, Some(false), Some(true)]),
            iterations in 1u32..4, connect in any::<bool>(), zero in any::<bool>(),
            min_size_factor in prop::sample::select(vec![0.0f32, 0.5, 3.0, f32::MAX]),
            huge_samples in any::<bool>(), seed in any::<u64>(),
            subsample in prop::sample::select(vec![0u32, 1, 2, 3, u32::MAX]), perturb in any::<bool>(),
            manhattan in any::<bool>()
        ) {
            let mut x = seed | 1;
            let n = (w * h * channels as u32) as usize;
            let samples: Vec<f32> = (0..n).map(|_| {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                let unit = (x >> 40) as f32 / (1u64 << 24) as f32;
                if huge_samples { (unit - 0.5) * 2.0 * f32::MAX } else { unit }
            }).collect();
            let img = Image::new(w, h, channels.into(), Samples::F32(samples)).unwrap();
            let slic = Slic {
                n_segments: k, compactness, max_iterations: iterations, sigma: [sigma; 3],
                spacing: [1.0, spacing, 1.0], convert_to_lab: lab, enforce_connectivity: connect,
                slic_zero: zero, min_size_factor, max_size_factor: f32::MAX,
                perturb_seeds: perturb, subsample,
                distance: if manhattan { SlicDistance::Manhattan } else { SlicDistance::Euclidean },
            };
            match slic.segment(&img) {
                Ok(seg) => {
                    prop_assert_eq!(seg.labels().len(), (w * h) as usize);
                    prop_assert_eq!(seg.unlabelled_count(), 0);
                    prop_assert!(seg.count() >= 1 && seg.count() <= w * h);
                    prop_assert!(seg.sizes().iter().all(|&c| c > 0));
                }
                Err(Error::InvalidParameter { .. }) => prop_assert!(slic.validate().is_err() || lab == Some(true)),
                Err(e) => prop_assert!(false, "unexpected error {e}"),
            }
        }

        #[test]
        fn every_masked_pixel_is_labelled(
            w in 2u32..24, h in 2u32..24, k in 1u32..10, subsample in 1u32..300,
            zero in any::<bool>(), perturb in any::<bool>(), mask_seed in any::<u64>(),
            compactness in prop::sample::select(vec![1e-30f32, 0.01, 10.0, 1e20])
        ) {
            let img = random_image(w, h, 1, mask_seed);
            let mut x = mask_seed | 1;
            let inside: Vec<bool> = (0..w * h).map(|_| { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x % 3 != 0 }).collect();
            prop_assume!(inside.iter().any(|&b| b));
            let mask = Mask::new(w, h, inside.clone()).unwrap();
            let slic = Slic {
                n_segments: k, compactness, slic_zero: zero, perturb_seeds: perturb, subsample,
                min_size_factor: 1e-6, max_size_factor: 1e-6, ..Slic::default()
            };
            let seg = slic.segment_masked(&img, &mask).unwrap();
            for (l, m) in seg.labels().iter().zip(&inside) {
                prop_assert_eq!(*l == UNLABELLED, !m);
            }
        }

        #[test]
        fn same_output_on_any_thread_count(w in 20u32..120, h in 20u32..120, k in 2u32..200, seed in any::<u64>()) {
            let img = random_image(w, h, 3, seed);
            let distance = if seed % 2 == 0 { SlicDistance::Manhattan } else { SlicDistance::Euclidean };
            let slic = Slic { n_segments: k, subsample: 1 + (seed % 3) as u32, distance, ..Slic::default() };
            let run = |threads| rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
                .install(|| slic.segment(&img).unwrap());
            prop_assert_eq!(run(1), run(3));
        }
    }
    #[test]
    fn two_flat_boxes_give_two_supervoxels() {
        // Two boxes side by side, black and white, 10 slices of 10 x 20 voxels: with a low
        // compactness and two seeds (the grid of step 10 has 1 x 1 x 2 cells), SLIC finds
        // exactly the two boxes, whatever the channel count (1: CIELAB; 5: raw channels).
        let (d, h, w) = (10u32, 10u32, 20u32);
        for channels in [1u16, 5] {
            let samples = (0..d * h * w)
                .flat_map(|i| {
                    let v = if i % w < w / 2 { 0 } else { 255 };
                    (0..channels).map(move |_| v)
                })
                .collect();
            let vol = Image::new_volume(d, w, h, channels, Samples::U8(samples)).unwrap();
            let seg = Slic {
                n_segments: 2,
                compactness: 0.1,
                ..Slic::default()
            }
            .segment(&vol)
            .unwrap();
            assert_eq!((seg.count(), seg.depth()), (2, d), "{channels} channels");
            for z in 0..d {
                for y in 0..h {
                    for x in 0..w {
                        assert_eq!(seg.label_at(x, y, z), Some(u32::from(x >= w / 2)));
                    }
                }
            }
        }
    }

    #[test]
    fn anisotropic_spacing_shapes_the_grid() {
        // 20 slices of 40 x 40 voxels, 32 supervoxels: with unit spacing the grid step is
        // cbrt(32000 / 32) = 10 voxels, 2 x 4 x 4 cells; with slices 2.5 apart the volume is
        // 50 units deep, the step cbrt(32000 * 2.5 / 32) = 13.6 units and the grid
        // round(50 / 13.6) x round(40 / 13.6)^2 = 4 x 3 x 3, cells of 5 slices and 13.3 rows.
        let shape = Shape {
            w: 40,
            h: 40,
            d: 20,
        };
        let slic = |spacing| Slic {
            n_segments: 32,
            spacing,
            ..Slic::default()
        };
        let iso = slic([1.0; 3]);
        let grid = Grid::new(shape, iso.step(shape, 32000, 32), iso.spacing);
        assert_eq!((grid.n, grid.reach), ([2, 4, 4], [10, 10, 10]));
        let aniso = slic([2.5, 1.0, 1.0]);
        let grid = Grid::new(shape, aniso.step(shape, 32000, 32), aniso.spacing);
        assert_eq!((grid.n, grid.reach), ([4, 3, 3], [5, 14, 14]));
        // The supervoxels follow: on a smooth volume, those of the anisotropic run span
        // fewer slices than rows, those of the isotropic run about as many.
        let vol = smooth_volume(20, 40, 40, 1);
        let extent = |seg: &Segmentation| {
            let (mut zs, mut ys) = (0usize, 0usize);
            for l in 0..seg.count() {
                let (mut z0, mut z1, mut y0, mut y1) = (u32::MAX, 0, u32::MAX, 0);
                for (p, _) in seg.labels().iter().enumerate().filter(|&(_, &v)| v == l) {
                    let (z, y) = (p as u32 / 1600, p as u32 % 1600 / 40);
                    (z0, z1, y0, y1) = (z0.min(z), z1.max(z), y0.min(y), y1.max(y));
                }
                zs += (z1 - z0 + 1) as usize;
                ys += (y1 - y0 + 1) as usize;
            }
            zs as f64 / ys as f64
        };
        let iso = extent(
            &Slic {
                compactness: 30.0,
                ..iso
            }
            .segment(&vol)
            .unwrap(),
        );
        let aniso = extent(
            &Slic {
                compactness: 30.0,
                ..aniso
            }
            .segment(&vol)
            .unwrap(),
        );
        assert!(aniso < 0.6 && iso > 0.7, "slices per row: {aniso} vs {iso}");
    }

    #[test]
    fn volume_segment_count_tracks_the_request() {
        let vol = smooth_volume(24, 48, 40, 2);
        for k in [8, 60, 300] {
            let seg = Slic {
                n_segments: k,
                compactness: 0.5,
                ..Slic::default()
            }
            .segment(&vol)
            .unwrap();
            let n = seg.count() as f64;
            assert!(
                n > 0.5 * k as f64 && n < 1.5 * k as f64,
                "{k} asked, {n} made"
            );
            assert!(each_label_connected(&seg));
        }
    }

    #[test]
    fn masks_in_3d_leave_outside_voxels_unlabelled() {
        // A ball inside a 16 x 24 x 24 volume.
        let (d, h, w) = (16u32, 24u32, 24u32);
        let inside: Vec<bool> = (0..d * h * w)
            .map(|i| {
                let (x, y, z) = ((i % w) as f32, (i / w % h) as f32, (i / (w * h)) as f32);
                (x - 11.5).powi(2) + (y - 11.5).powi(2) + ((z - 7.5) * 1.5).powi(2) < 100.0
            })
            .collect();
        let mask = Mask::new_volume(d, w, h, inside.clone()).unwrap();
        let vol = random_volume(d, w, h, 3, 7);
        for zero in [false, true] {
            let seg = Slic {
                n_segments: 20,
                slic_zero: zero,
                ..Slic::default()
            }
            .segment_masked(&vol, &mask)
            .unwrap();
            for (l, m) in seg.labels().iter().zip(&inside) {
                assert_eq!(*l == UNLABELLED, !m);
            }
            assert!(
                seg.count() >= 5 && each_label_connected(&seg),
                "{}",
                seg.count()
            );
        }
        let wrong = Mask::new_volume(d - 1, w, h, vec![true; ((d - 1) * h * w) as usize]).unwrap();
        assert!(matches!(
            Slic::default().segment_masked(&vol, &wrong),
            Err(Error::SizeMismatch(_))
        ));
    }

    #[test]
    fn smoothing_follows_the_spacing() {
        // sigma [2, 2, 2] on slices 2 apart smooths with [1, 2, 2] voxels: the same result as
        // sigma [1, 2, 2] on unit spacing, whose grid (here) is the same.
        let vol = random_volume(6, 12, 12, 1, 3);
        let run = |sigma, spacing| {
            Slic {
                n_segments: 8,
                sigma,
                spacing,
                compactness: 1e-3,
                enforce_connectivity: false,
                max_iterations: 1,
                ..Slic::default()
            }
            .features(&vol)
            .unwrap()
        };
        assert_eq!(
            run([2.0; 3], [2.0, 1.0, 1.0]),
            run([1.0, 2.0, 2.0], [1.0; 3])
        );
        assert_ne!(run([2.0; 3], [1.0; 3]), run([1.0, 2.0, 2.0], [1.0; 3]));
    }

    /// SLIC through the kernels for any channel count (`cluster::<0>`) and through the
    /// fixed-channel ones, on the same feature planes.
    fn any_and_fixed(slic: &Slic, img: &Image) -> (Segmentation, Segmentation) {
        let planes = slic.features(img).unwrap();
        let refs: Vec<&[f32]> = planes.iter().map(|p| p.as_slice()).collect();
        let shape = Shape {
            w: img.width() as usize,
            h: img.height() as usize,
            d: img.depth() as usize,
        };
        let fixed = match refs.len() {
            1 => slic.cluster::<1>(shape, &refs, None, None),
            2 => slic.cluster::<2>(shape, &refs, None, None),
            3 => slic.cluster::<3>(shape, &refs, None, None),
            _ => slic.cluster::<4>(shape, &refs, None, None),
        };
        (
            slic.cluster::<0>(shape, &refs, None, None).unwrap(),
            fixed.unwrap(),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(40))]
        #[test]
        fn volume_guarantees_hold(
            d in 1u32..7, w in 1u32..20, h in 1u32..20,
            channels in prop::sample::select(vec![1u16, 2, 3, 4, 5, 8]),
            k in 1u32..60, compactness in 0.01f32..50.0, iterations in 1u32..5,
            connect in any::<bool>(), zero in any::<bool>(), seed in any::<u64>(),
            subsample in 1u32..4, perturb in any::<bool>(), manhattan in any::<bool>(),
            sz in prop::sample::select(vec![0.3f32, 1.0, 2.5]), sigma in prop::sample::select(vec![0.0f32, 0.8])
        ) {
            let vol = random_volume(d, w, h, channels, seed);
            let distance = if manhattan { SlicDistance::Manhattan } else { SlicDistance::Euclidean };
            let slic = Slic {
                n_segments: k, compactness, max_iterations: iterations,
                enforce_connectivity: connect, slic_zero: zero, subsample,
                perturb_seeds: perturb, distance, spacing: [sz, 0.7, 1.0], sigma: [sigma; 3],
                ..Slic::default()
            };
            let seg = slic.segment(&vol).unwrap();
            prop_assert_eq!(seg.labels().len(), (d * w * h) as usize);
            prop_assert_eq!(seg.depth(), d);
            prop_assert_eq!(seg.unlabelled_count(), 0);
            prop_assert!(seg.sizes().iter().all(|&n| n > 0));
            prop_assert!(seg.count() >= 1 && seg.count() <= d * w * h);
            if connect {
                prop_assert!(each_label_connected(&seg));
                prop_assert_eq!(seg.disconnected_count(), 0);
            }
        }

        #[test]
        fn masked_volumes_label_exactly_the_mask(
            d in 2u32..6, w in 2u32..16, h in 2u32..16, k in 1u32..12, seed in any::<u64>(),
            channels in prop::sample::select(vec![1u16, 3, 6]), zero in any::<bool>()
        ) {
            let vol = random_volume(d, w, h, channels, seed);
            let mut x = seed | 1;
            let inside: Vec<bool> = (0..d * w * h).map(|_| { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x % 3 != 0 }).collect();
            prop_assume!(inside.iter().any(|&b| b));
            let mask = Mask::new_volume(d, w, h, inside.clone()).unwrap();
            let slic = Slic { n_segments: k, slic_zero: zero, ..Slic::default() };
            let seg = slic.segment_masked(&vol, &mask).unwrap();
            for (l, m) in seg.labels().iter().zip(&inside) {
                prop_assert_eq!(*l == UNLABELLED, !m);
            }
            prop_assert!(each_label_connected(&seg));
        }

        /// The kernels for any channel count give the fixed-channel kernels' bits on one to
        /// four channels, in 2-D and 3-D, with every option that changes the distance.
        #[test]
        fn any_channel_path_matches_the_fixed_one(
            d in 1u32..5, w in 3u32..30, h in 3u32..30, channels in 1u16..5, k in 1u32..40,
            seed in any::<u64>(), zero in any::<bool>(), manhattan in any::<bool>(),
            subsample in 1u32..3, perturb in any::<bool>()
        ) {
            let vol = random_volume(d, w, h, channels, seed);
            let slic = Slic {
                n_segments: k, slic_zero: zero, subsample, perturb_seeds: perturb,
                distance: if manhattan { SlicDistance::Manhattan } else { SlicDistance::Euclidean },
                spacing: [1.5, 1.0, 0.8], ..Slic::default()
            };
            let (any, fixed) = any_and_fixed(&slic, &vol);
            prop_assert_eq!(any, fixed);
        }

        #[test]
        fn volumes_give_the_same_output_on_any_thread_count(
            d in 2u32..8, w in 8u32..40, h in 8u32..40, k in 2u32..80, seed in any::<u64>(),
            channels in prop::sample::select(vec![1u16, 3, 7])
        ) {
            let vol = random_volume(d, w, h, channels, seed);
            let distance = if seed % 2 == 0 { SlicDistance::Manhattan } else { SlicDistance::Euclidean };
            let slic = Slic {
                n_segments: k, subsample: 1 + (seed % 3) as u32, distance,
                slic_zero: seed % 5 == 0, spacing: [2.0, 1.0, 1.0], ..Slic::default()
            };
            let run = |threads| rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
                .install(|| slic.segment(&vol).unwrap());
            prop_assert_eq!(run(1), run(3));
        }
    }
}
