//! SLIC superpixels: Simple Linear Iterative Clustering (Achanta et al., "SLIC Superpixels
//! Compared to State-of-the-Art Superpixel Methods", TPAMI 2012), with the SLIC-zero variant
//! (adaptive compactness) and the masked variant (maskSLIC, Irving 2016) that scikit-image
//! offers, under scikit-image's parameter names and defaults.
//!
//! How it runs: seeds on a regular grid of step `S = sqrt(pixels / n_segments)`; each
//! iteration assigns every pixel to the nearest centre among those whose `2S x 2S` window
//! holds it, under `D = d_lab^2 + (m / S)^2 d_xy^2`, then moves each centre to the mean of its
//! pixels. The image is cut into bands of a fixed number of rows that are processed in
//! parallel; each band visits the centres in index order and keeps the first of equal
//! distances, and partial sums are added band after band, so the output does not depend on
//! the number of threads.

use crate::algorithm::Superpixels;
use crate::color;
use crate::connectivity::{MergeInto, connect_with};
use crate::error::{Error, Result};
use crate::image::{Image, Mask};
use crate::segmentation::{Segmentation, UNLABELLED, relabel_in_place};
use crate::smoothing::gaussian;
use rayon::prelude::*;
use std::ops::Range;

mod assign;
mod grid;
mod update;
#[cfg(target_arch = "x86_64")]
mod x86;
mod zero;

use assign::{AssignCtx, CentresByBand, LANES, Rows, assign_band};
use grid::Grid;
#[cfg(test)]
use grid::lowest_gradient;
use update::update_centres;
#[cfg(target_arch = "x86_64")]
use x86::{assign_band_avx2, assign_band_avx512, group_avx2, group_avx512};
use zero::largest_colour_distance;

/// Rows per parallel band. Fixed, so that results do not depend on the thread count.
const BAND_ROWS: usize = 16;

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
#[derive(Debug, Clone, PartialEq)]
pub struct Slic {
    /// The approximate number of superpixels wanted (scikit-image: `n_segments`, 100). The
    /// seed grid has about this many cells; connectivity enforcement may change the final
    /// count a little. Values above the pixel count give one superpixel per pixel.
    pub n_segments: u32,
    /// `m`: the balance of colour proximity against space proximity (10). Higher is more
    /// regular. In CIELAB units, so it means the same for 8-bit, 16-bit and float input.
    pub compactness: f32,
    /// Iterations of assignment and update (scikit-image: `max_num_iter`, 10).
    pub max_iterations: u32,
    /// Standard deviation of a Gaussian pre-smoothing, in pixels, divided per axis by
    /// `spacing` (0: none).
    pub sigma: f32,
    /// Pixel spacing `[rows, columns]`, weighting the distance along each axis (`[1, 1]`).
    pub spacing: [f32; 2],
    /// Cluster in CIELAB. `None` (the default) converts 3-channel images to L*a*b* and grey
    /// images to L* (so that `compactness` means the same for grey and colour, unlike
    /// scikit-image, which leaves grey in 0..1); `Some(false)` clusters the raw channels,
    /// rescaled to 0..1 by their joint minimum and maximum, as scikit-image does.
    pub convert_to_lab: Option<bool>,
    /// Make every superpixel one 4-connected region (true).
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
    /// Move each seed to the lowest-gradient pixel of its 3x3 neighbourhood, as the SLIC paper
    /// does (false, as scikit-image: on BSDS500 val it lowered boundary recall slightly).
    pub perturb_seeds: bool,
    /// How colour and space distances are measured and combined (Euclidean, as the SLIC
    /// paper and scikit-image).
    pub distance: SlicDistance,
    /// Row subsampling (fast-slic's speed-up; 1 = exact SLIC, the default): iteration `t`
    /// assigns and averages only the rows `y` with `y % subsample == t % subsample`, and a
    /// last full assignment labels every pixel. 3 cuts the time about in half at a small cost
    /// in boundary adherence.
    pub subsample: u32,
}

impl Default for Slic {
    fn default() -> Self {
        Slic {
            n_segments: 100,
            compactness: 10.0,
            max_iterations: 10,
            sigma: 0.0,
            spacing: [1.0, 1.0],
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
/// distance, `d_s` the distance in the image plane (scaled by `spacing`), `m` the compactness
/// and `S` the grid step.
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
        if !(self.sigma.is_finite() && self.sigma >= 0.0) {
            return Err(Error::param(
                "sigma",
                format!("must be finite and >= 0, got {}", self.sigma),
            ));
        }
        Error::check_positive("spacing", self.spacing[0])?;
        Error::check_positive("spacing", self.spacing[1])?;
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
        self.run(image, None)
    }
}

impl Slic {
    /// Segments only the pixels inside `mask` (maskSLIC). Pixels outside get
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
        self.run(image, Some(mask.as_slice()))
    }

    fn run(&self, image: &Image, mask: Option<&[bool]>) -> Result<Segmentation> {
        self.validate()?;
        image.require_2d("SLIC")?;
        let planes = self.features(image)?;
        let (w, h) = (image.width() as usize, image.height() as usize);
        let refs: Vec<&[f32]> = planes.iter().map(|p| p.as_slice()).collect();
        match refs.len() {
            1 => self.cluster::<1>(w, h, [refs[0]], mask),
            2 => self.cluster::<2>(w, h, [refs[0], refs[1]], mask),
            3 => self.cluster::<3>(w, h, [refs[0], refs[1], refs[2]], mask),
            4 => self.cluster::<4>(w, h, [refs[0], refs[1], refs[2], refs[3]], mask),
            c => Err(Error::UnsupportedFormat(format!("{c} channels"))),
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
        if lab && self.sigma == 0.0 {
            return color::lab_planes(image)
                .ok_or_else(|| Error::UnsupportedFormat(format!("{c} channels")));
        }
        let mut planes = image.to_planes();
        if self.sigma > 0.0 {
            let (w, h) = (image.width() as usize, image.height() as usize);
            let (sy, sx) = (self.sigma / self.spacing[0], self.sigma / self.spacing[1]);
            planes.iter_mut().for_each(|p| gaussian(p, w, h, sy, sx));
        }
        if lab {
            return color::lab_planes_from_planes(&planes)
                .ok_or_else(|| Error::UnsupportedFormat(format!("{c} channels")));
        }
        color::rescale_jointly(&mut planes, 1.0);
        Ok(planes)
    }

    fn cluster<const C: usize>(
        &self,
        w: usize,
        h: usize,
        planes: [&[f32]; C],
        mask: Option<&[bool]>,
    ) -> Result<Segmentation> {
        let n = w * h;
        let active = mask.map_or(n, |m| m.iter().filter(|&&b| b).count());
        let k = (self.n_segments as usize).min(active).max(1);
        let step = (active as f64 / k as f64).sqrt();
        let grid = Grid::new(w, h, step);
        let mut centres = grid.seeds(mask, &planes, self.perturb_seeds);
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
        // The weight of d_s (Manhattan) or d_s^2 (Euclidean).
        let spatial_weight = match (self.slic_zero, manhattan) {
            (true, true) => 1.0 / step_f,
            (true, false) => 1.0 / (step_f * step_f),
            (false, true) => self.compactness / step_f,
            (false, false) => (self.compactness / step_f).powi(2),
        };
        let stride = self.subsample as usize;
        let full_pass = stride > 1;
        for it in 0..self.max_iterations as usize + usize::from(full_pass) {
            let last = it == self.max_iterations as usize;
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
                let floor = 1e-3 * self.compactness;
                for (wgt, &m) in colour_weight.iter_mut().zip(&max_colour) {
                    let m = m.max(floor);
                    *wgt = if manhattan { 1.0 / m } else { 1.0 / (m * m) };
                }
            }
            let by_band = CentresByBand::of(&centres, &grid, h);
            let ctx = AssignCtx {
                w,
                by_band: &by_band,
                planes: &planes,
                centres: &centres,
                grid: &grid,
                colour_weight: &colour_weight,
                spatial_weight,
                spacing: self.spacing,
                manhattan,
                rows,
            };
            labels
                .par_chunks_mut(BAND_ROWS * w)
                .zip(dist.par_chunks_mut(BAND_ROWS * w))
                .enumerate()
                .for_each(|(band, (lab, dis))| {
                    let y0 = band * BAND_ROWS;
                    for (r, d) in dis.chunks_mut(w).enumerate() {
                        let y = y0 + r;
                        if rows.takes(y) {
                            reset_distances(d, mask.map(|m| &m[y * w..(y + 1) * w]));
                        }
                    }
                    assign_band(&ctx, y0, lab, dis);
                });
            if last {
                break;
            }
            if self.slic_zero {
                max_colour =
                    largest_colour_distance(w, &planes, &centres, &labels, rows, manhattan)
                        .into_iter()
                        .zip(&max_colour)
                        .map(|(m, &old)| match (m > 0.0, manhattan) {
                            (false, _) => old,
                            (true, true) => m,
                            (true, false) => m.sqrt(),
                        })
                        .collect();
            }
            update_centres(w, &planes, &labels, &mut centres, &grid, rows);
        }

        label_leftovers(w, &centres, mask, &mut labels);
        let (width, height) = (w as u32, h as u32);
        if self.enforce_connectivity {
            let nominal = active as f64 / nc as f64;
            let min_size = (self.min_size_factor as f64 * nominal) as usize;
            let max_size = ((self.max_size_factor as f64 * nominal) as usize).max(1);
            // Fragments join the neighbour of the nearest mean colour: they are usually
            // pieces cut off across an edge, and joining them across the weakest colour
            // step keeps the edge (BSDS500 val, k = 400: boundary recall +0.03 to +0.05 and
            // lower undersegmentation error than joining along the longest border).
            Ok(connect_with(
                width,
                height,
                &labels,
                min_size,
                max_size,
                MergeInto::NearestMean(&planes),
            ))
        } else {
            let count = relabel_in_place(&mut labels);
            Ok(Segmentation::from_parts(width, height, labels, count))
        }
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
            col: [50.0, 0.0, 0.0],
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

/// Gives any pixel to segment that no window reached (possible only with extreme parameters,
/// e.g. distances that overflow) the spatially nearest centre, so that every pixel inside the
/// mask is labelled.
fn label_leftovers<const C: usize>(
    w: usize,
    centres: &Centres<C>,
    mask: Option<&[bool]>,
    labels: &mut [u32],
) {
    for (p, l) in labels.iter_mut().enumerate() {
        if *l != UNLABELLED || mask.is_some_and(|m| !m[p]) {
            continue;
        }
        let (y, x) = ((p / w) as f32, (p % w) as f32);
        let nearest = (0..centres.len()).min_by(|&a, &b| {
            let da = (centres.y[a] - y).powi(2) + (centres.x[a] - x).powi(2);
            let db = (centres.y[b] - y).powi(2) + (centres.x[b] - x).powi(2);
            da.total_cmp(&db)
        });
        if let Some(k) = nearest {
            *l = k as u32;
        }
    }
}

/// Cluster centres, structure of arrays.
struct Centres<const C: usize> {
    y: Vec<f32>,
    x: Vec<f32>,
    colour: Vec<[f32; C]>,
}

impl<const C: usize> Centres<C> {
    fn with_capacity(n: usize) -> Self {
        Centres {
            y: Vec::with_capacity(n),
            x: Vec::with_capacity(n),
            colour: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, y: f32, x: f32, colour: [f32; C]) {
        self.y.push(y);
        self.x.push(x);
        self.colour.push(colour);
    }

    fn len(&self) -> usize {
        self.y.len()
    }
}

fn reset_distances(dist: &mut [f32], mask: Option<&[bool]>) {
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

    /// Every label is one 4-connected region, checked by a flood fill of our own.
    fn each_label_connected(seg: &Segmentation) -> bool {
        let (w, h) = (seg.width() as usize, seg.height() as usize);
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
                let (x, y) = (p % w, p / w);
                let nb = [
                    (x > 0).then(|| p - 1),
                    (x + 1 < w).then(|| p + 1),
                    (y > 0).then(|| p - w),
                    (y + 1 < h).then(|| p + w),
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
        let moved = lowest_gradient(&refs, 10, 9, None, 4, 4);
        assert_eq!(moved, (3, 3));
        assert_eq!(lowest_gradient(&refs, 10, 9, None, 4, 2), (4, 2));
        // On the border there is no gradient to compare: the seed stays.
        assert_eq!(lowest_gradient(&refs, 10, 9, None, 0, 4), (0, 4));
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
                sigma: -0.5,
                ..Slic::default()
            },
            Slic {
                spacing: [0.0, 1.0],
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
                sigma: 1.0,
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
                spacing: [2.0, 1.0],
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
                n_segments: k, compactness, max_iterations: iterations, sigma,
                spacing: [spacing, 1.0], convert_to_lab: lab, enforce_connectivity: connect,
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
}
