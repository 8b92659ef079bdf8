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
use crate::connectivity::enforce_connectivity;
use crate::error::{Error, Result};
use crate::image::{Image, Mask};
use crate::segmentation::{Segmentation, UNLABELLED, relabel_in_place};
use crate::smoothing::gaussian;
use rayon::prelude::*;

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
    /// Regions smaller than this fraction of the nominal superpixel size are merged into a
    /// neighbour (0.5).
    pub min_size_factor: f32,
    /// Regions are cut when they exceed this multiple of the nominal size (3).
    pub max_size_factor: f32,
    /// SLIC-zero / SLICO: each cluster's colour distance is normalised by the largest colour
    /// distance seen in it in the previous iteration, so `compactness` is only the start
    /// value (false).
    pub slic_zero: bool,
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
        }
    }
}

impl Superpixels for Slic {
    fn name(&self) -> &'static str {
        "slic"
    }

    fn validate(&self) -> Result<()> {
        if self.n_segments == 0 {
            return Err(Error::param("n_segments", "must be at least 1"));
        }
        positive("compactness", self.compactness)?;
        if self.max_iterations == 0 {
            return Err(Error::param("max_iterations", "must be at least 1"));
        }
        if !(self.sigma.is_finite() && self.sigma >= 0.0) {
            return Err(Error::param(
                "sigma",
                format!("must be finite and >= 0, got {}", self.sigma),
            ));
        }
        positive("spacing", self.spacing[0])?;
        positive("spacing", self.spacing[1])?;
        if !(self.min_size_factor.is_finite() && self.min_size_factor >= 0.0) {
            return Err(Error::param(
                "min_size_factor",
                format!("must be finite and >= 0, got {}", self.min_size_factor),
            ));
        }
        positive("max_size_factor", self.max_size_factor)?;
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
        let (lo, hi) = planes
            .iter()
            .flatten()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        if hi > lo {
            let s = 1.0 / (hi - lo);
            planes.iter_mut().flatten().for_each(|v| *v = (*v - lo) * s);
        }
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
        let mut centres = grid.seeds(mask, &planes);
        let nc = centres.len();
        if nc == 0 {
            return Err(Error::param("mask", "selects no pixel"));
        }
        let weights = Weights {
            spatial: [self.spacing[0], self.spacing[1]],
            step: step as f32,
        };
        // SLIC-zero: per-cluster largest colour distance of the previous iteration.
        let mut max_colour = vec![self.compactness; nc];

        let mut labels = vec![UNLABELLED; n];
        let mut dist = vec![f32::INFINITY; n];
        for _ in 0..self.max_iterations {
            let colour_weight: Vec<f32> = if self.slic_zero {
                max_colour
                    .iter()
                    .map(|&m| 1.0 / (m * m).max(1e-6 * self.compactness * self.compactness))
                    .collect()
            } else {
                vec![1.0; nc]
            };
            let spatial_weight = if self.slic_zero {
                1.0 / (weights.step * weights.step)
            } else {
                (self.compactness / weights.step).powi(2)
            };
            labels
                .par_chunks_mut(BAND_ROWS * w)
                .zip(dist.par_chunks_mut(BAND_ROWS * w))
                .enumerate()
                .for_each(|(band, (lab, dis))| {
                    let y0 = band * BAND_ROWS;
                    reset_distances(dis, mask.map(|m| &m[y0 * w..y0 * w + dis.len()]));
                    assign_band(
                        y0,
                        w,
                        &planes,
                        &centres,
                        &grid,
                        &colour_weight,
                        spatial_weight,
                        &weights,
                        lab,
                        dis,
                    );
                });
            if self.slic_zero {
                max_colour = largest_colour_distance(w, &planes, &centres, &labels)
                    .into_iter()
                    .zip(&max_colour)
                    .map(|(m, &old)| if m > 0.0 { m.sqrt() } else { old })
                    .collect();
            }
            update_centres(w, &planes, &labels, &mut centres);
        }

        let (width, height) = (w as u32, h as u32);
        if self.enforce_connectivity {
            let nominal = active as f64 / nc as f64;
            let min_size = (self.min_size_factor as f64 * nominal) as usize;
            let max_size = ((self.max_size_factor as f64 * nominal) as usize).max(1);
            Ok(enforce_connectivity(
                width, height, &labels, min_size, max_size,
            ))
        } else {
            let count = relabel_in_place(&mut labels);
            Ok(Segmentation::from_parts(width, height, labels, count))
        }
    }
}

fn positive(name: &'static str, v: f32) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(Error::param(
            name,
            format!("must be finite and > 0, got {v}"),
        ))
    }
}

/// The seed grid: `ny x nx` cells of `cell_h x cell_w` pixels.
struct Grid {
    width: usize,
    nx: usize,
    ny: usize,
    cell_w: f64,
    cell_h: f64,
    /// Half-size of the search window, in pixels (rows, columns).
    reach: (usize, usize),
}

impl Grid {
    fn new(w: usize, h: usize, step: f64) -> Self {
        let ny = ((h as f64 / step).round() as usize).clamp(1, h);
        let nx = ((w as f64 / step).round() as usize).clamp(1, w);
        let cell_h = h as f64 / ny as f64;
        let cell_w = w as f64 / nx as f64;
        Grid {
            width: w,
            nx,
            ny,
            cell_w,
            cell_h,
            reach: (cell_h.ceil() as usize, cell_w.ceil() as usize),
        }
    }

    /// One centre per cell, at the cell's middle pixel; with a mask, at the mask pixel of the
    /// cell nearest to its middle, and none for a cell without mask pixels.
    fn seeds<const C: usize>(&self, mask: Option<&[bool]>, planes: &[&[f32]; C]) -> Centres<C> {
        let width = self.width;
        let mut centres = Centres::with_capacity(self.nx * self.ny);
        for i in 0..self.ny {
            for j in 0..self.nx {
                let cy = ((i as f64 + 0.5) * self.cell_h) as usize;
                let cx = ((j as f64 + 0.5) * self.cell_w) as usize;
                let seed = match mask {
                    None => Some((cy, cx)),
                    Some(m) if m[cy * width + cx] => Some((cy, cx)),
                    Some(m) => {
                        let (y0, y1) = self.span(i, self.cell_h);
                        let (x0, x1) = self.span(j, self.cell_w);
                        (y0..y1)
                            .flat_map(|y| (x0..x1).map(move |x| (y, x)))
                            .filter(|&(y, x)| m[y * width + x])
                            .min_by_key(|&(y, x)| y.abs_diff(cy).pow(2) + x.abs_diff(cx).pow(2))
                    }
                };
                if let Some((y, x)) = seed {
                    let p = y * width + x;
                    centres.push(y as f32, x as f32, std::array::from_fn(|c| planes[c][p]));
                }
            }
        }
        centres
    }

    fn span(&self, i: usize, cell: f64) -> (usize, usize) {
        (
            (i as f64 * cell).round() as usize,
            ((i + 1) as f64 * cell).round() as usize,
        )
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

struct Weights {
    /// Spacing along rows and columns.
    spatial: [f32; 2],
    /// The grid step `S`.
    step: f32,
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

/// Assigns the pixels of one band (rows `y0..`) to their nearest centre.
#[allow(clippy::too_many_arguments)]
fn assign_band<const C: usize>(
    y0: usize,
    w: usize,
    planes: &[&[f32]; C],
    centres: &Centres<C>,
    grid: &Grid,
    colour_weight: &[f32],
    spatial_weight: f32,
    weights: &Weights,
    labels: &mut [u32],
    dist: &mut [f32],
) {
    let rows = labels.len() / w;
    let y1 = y0 + rows;
    let (ry, rx) = grid.reach;
    let [sy, sx] = weights.spatial;
    for k in 0..centres.len() {
        let (cy, cx) = (centres.y[k], centres.x[k]);
        let (py, px) = (cy.round() as isize, cx.round() as isize);
        let wy0 = (py - ry as isize).max(y0 as isize) as usize;
        let wy1 = ((py + ry as isize + 1).max(0) as usize).min(y1);
        if wy0 >= wy1 {
            continue;
        }
        let wx0 = (px - rx as isize).max(0) as usize;
        let wx1 = ((px + rx as isize + 1).max(0) as usize).min(w);
        if wx0 >= wx1 {
            continue;
        }
        let col = centres.colour[k];
        let a = colour_weight[k];
        let b = spatial_weight;
        let label = k as u32;
        for y in wy0..wy1 {
            let dy = (y as f32 - cy) * sy;
            let dy2 = b * dy * dy;
            let g = y * w;
            let l = (y - y0) * w;
            let lr = &mut labels[l + wx0..l + wx1];
            let dr = &mut dist[l + wx0..l + wx1];
            let feats: [&[f32]; C] = std::array::from_fn(|c| &planes[c][g + wx0..g + wx1]);
            row_kernel::<C>(
                &feats,
                &col,
                a,
                b,
                dy2,
                (wx0 as f32 - cx) * sx,
                sx,
                label,
                lr,
                dr,
            );
        }
    }
}

/// The inner loop, kept branch-free so that it vectorises.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn row_kernel<const C: usize>(
    feats: &[&[f32]; C],
    col: &[f32; C],
    a: f32,
    b: f32,
    dy2: f32,
    dx0: f32,
    sx: f32,
    label: u32,
    lr: &mut [u32],
    dr: &mut [f32],
) {
    let len = lr.len().min(dr.len());
    let feats: [&[f32]; C] = std::array::from_fn(|c| &feats[c][..len]);
    let (lr, dr) = (&mut lr[..len], &mut dr[..len]);
    for i in 0..len {
        let mut dc = 0.0;
        for c in 0..C {
            let t = feats[c][i] - col[c];
            dc += t * t;
        }
        let dx = dx0 + i as f32 * sx;
        let d = a * dc + b * dx * dx + dy2;
        let better = d < dr[i];
        dr[i] = if better { d } else { dr[i] };
        lr[i] = if better { label } else { lr[i] };
    }
}

/// Moves every centre to the mean position and colour of its pixels; a centre with no pixel
/// stays where it is.
fn update_centres<const C: usize>(
    w: usize,
    planes: &[&[f32]; C],
    labels: &[u32],
    centres: &mut Centres<C>,
) {
    let nc = centres.len();
    let stride = 3 + C;
    let partial: Vec<Vec<f64>> = labels
        .par_chunks(BAND_ROWS * w)
        .enumerate()
        .map(|(band, lab)| {
            let mut acc = vec![0.0f64; nc * stride];
            let base = band * BAND_ROWS * w;
            for (i, &l) in lab.iter().enumerate() {
                if l == UNLABELLED {
                    continue;
                }
                let p = base + i;
                let s = &mut acc[l as usize * stride..(l as usize + 1) * stride];
                s[0] += 1.0;
                s[1] += (p / w) as f64;
                s[2] += (p % w) as f64;
                for c in 0..C {
                    s[3 + c] += planes[c][p] as f64;
                }
            }
            acc
        })
        .collect();
    let mut total = vec![0.0f64; nc * stride];
    for band in &partial {
        for (t, v) in total.iter_mut().zip(band) {
            *t += v;
        }
    }
    for k in 0..nc {
        let s = &total[k * stride..(k + 1) * stride];
        if s[0] > 0.0 {
            centres.y[k] = (s[1] / s[0]) as f32;
            centres.x[k] = (s[2] / s[0]) as f32;
            centres.colour[k] = std::array::from_fn(|c| (s[3 + c] / s[0]) as f32);
        }
    }
}

/// The largest squared colour distance between each centre and its pixels.
fn largest_colour_distance<const C: usize>(
    w: usize,
    planes: &[&[f32]; C],
    centres: &Centres<C>,
    labels: &[u32],
) -> Vec<f32> {
    let nc = centres.len();
    let partial: Vec<Vec<f32>> = labels
        .par_chunks(BAND_ROWS * w)
        .enumerate()
        .map(|(band, lab)| {
            let mut m = vec![0.0f32; nc];
            let base = band * BAND_ROWS * w;
            for (i, &l) in lab.iter().enumerate() {
                if l == UNLABELLED {
                    continue;
                }
                let col = &centres.colour[l as usize];
                let d: f32 = (0..C).map(|c| (planes[c][base + i] - col[c]).powi(2)).sum();
                let slot = &mut m[l as usize];
                *slot = slot.max(d);
            }
            m
        })
        .collect();
    let mut out = vec![0.0f32; nc];
    for band in &partial {
        for (o, &v) in out.iter_mut().zip(band) {
            *o = o.max(v);
        }
    }
    out
}
