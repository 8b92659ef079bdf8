//! ETPS superpixels: Yao, Boben, Fidler & Urtasun, "Real-Time Coarse-to-fine Topologically
//! Preserving Segmentation", CVPR 2015.
//!
//! How it runs: the image starts as a regular grid of `n_segments` rectangular superpixels
//! (cells); each cell is cut into blocks of at most `max_block_size` pixels a side. Blocks on
//! a superpixel boundary then move to the 4-neighbouring superpixel that lowers the energy
//! most (colour in CIELAB, position, boundary length and size terms, see [`energy`]), as long
//! as their own superpixel stays connected ([`moves`]); when no block moves any more (or
//! after `max_iterations` rounds), every block is halved ([`blocks`]) and the moves go on,
//! down to single pixels. Every superpixel is one 4-connected region at every step, so no
//! connectivity post-processing is needed, and the count is exactly the number of cells.
//!
//! Determinism: the moves are made one at a time in a fixed order, so the output does not
//! depend on the thread count; colour conversion and the block statistics of every level are
//! computed in parallel over fixed chunks.

mod blocks;
mod energy;
mod moves;

use crate::algorithm::Superpixels;
use crate::color;
use crate::error::{Error, Result};
use crate::image::Image;
use crate::segmentation::Segmentation;
use blocks::{Axis, Features, Level};
use energy::{Stats, Weights};

/// ETPS parameters. `Default` gives the weights tuned on BSDS500 train (100 images, K = 400
/// and 1600, scored by boundary recall and undersegmentation error): a light position term
/// (`compactness` 0.5), a light boundary term (0.1) and a soft size term (30) for
/// superpixels below half their cell. The paper's own BSD setting leaves out the position,
/// boundary and size terms (`compactness`, `boundary_weight` and `size_weight` 0).
///
/// ```
/// use tessera::{Etps, Image, Superpixels};
/// let img = image::open(concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/chelsea.png")).unwrap();
/// let img = Image::from_dynamic(&img).unwrap();
/// let seg = Etps { n_segments: 200, ..Etps::default() }.segment(&img).unwrap();
/// assert_eq!(seg.count(), 12 * 18); // the cells of the grid (step 26 px), none lost
/// assert_eq!(seg.disconnected_count(), 0); // connected by construction
///
/// // More compact, more regular superpixels; the same count.
/// let regular = Etps { n_segments: 200, compactness: 20.0, ..Etps::default() }.segment(&img).unwrap();
/// assert_eq!(regular.count(), seg.count());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Etps {
    /// The number of superpixels wanted (400), which sets the grid step
    /// `S = sqrt(width * height / n_segments)`. The grid has `ceil(height / S) x
    /// ceil(width / S)` evenly sized cells, none more than `S` a side (as the original ETPS
    /// grid: 425 cells for 400 on a 481 x 321 image, 1617 for 1600), never more than the
    /// pixels; no superpixel is ever lost, so that is exactly the output's count.
    pub n_segments: u32,
    /// `m`, the weight of position against colour, as SLIC's compactness: the position term
    /// is weighted `(m / S)²` for grid step `S`, in CIELAB units (ETPS's `regWeight`).
    /// Higher gives more regular shapes, lower follows edges more closely (0.5; SLIC's usual
    /// 10 gives SLIC-like shapes).
    pub compactness: f32,
    /// Weight of the boundary length, per 4-neighbour pixel pair with different labels, in
    /// CIELAB² units (ETPS's `lenWeight`; 0.1). Higher gives smoother boundaries.
    pub boundary_weight: f32,
    /// Weight of the size term, per pixel by which a superpixel falls short of
    /// `min_size_factor` of its cell, in CIELAB² units (ETPS's `sizeWeight`; 30).
    pub size_weight: f32,
    /// The fraction of its initial cell below which a superpixel pays the size term (0.5; the
    /// paper uses a quarter, which scored lower on BSDS500 train).
    pub min_size_factor: f32,
    /// Most rounds of boundary moves per level (each round visits every queued block once);
    /// a level also ends when no block moves (25, Stutz et al.'s BSDS500 setting).
    pub max_iterations: u32,
    /// Largest block side at the first level, in pixels (16, as the authors' code); each
    /// cell is cut into at least 2 x 2 blocks.
    pub max_block_size: u32,
}

impl Default for Etps {
    fn default() -> Self {
        Etps {
            n_segments: 400,
            compactness: 0.5,
            boundary_weight: 0.1,
            size_weight: 30.0,
            min_size_factor: 0.5,
            max_iterations: 25,
            max_block_size: 16,
        }
    }
}

impl Superpixels for Etps {
    fn name(&self) -> &'static str {
        "etps"
    }

    fn validate(&self) -> Result<()> {
        if self.n_segments == 0 {
            return Err(Error::param("n_segments", "must be at least 1"));
        }
        Error::check_non_negative("compactness", self.compactness)?;
        Error::check_non_negative("boundary_weight", self.boundary_weight)?;
        Error::check_non_negative("size_weight", self.size_weight)?;
        if !(self.min_size_factor.is_finite() && (0.0..=1.0).contains(&self.min_size_factor)) {
            return Err(Error::param(
                "min_size_factor",
                format!("must be in 0..=1, got {}", self.min_size_factor),
            ));
        }
        if self.max_iterations == 0 {
            return Err(Error::param("max_iterations", "must be at least 1"));
        }
        if self.max_block_size == 0 {
            return Err(Error::param("max_block_size", "must be at least 1"));
        }
        Ok(())
    }

    fn segment(&self, image: &Image) -> Result<Segmentation> {
        image.require_2d("ETPS")?;
        self.validate()?;
        let planes = features(image)?;
        let (w, h) = (image.width() as usize, image.height() as usize);
        Ok(match planes.len() {
            1 => self.solve::<3>(w, h, planes),
            2 => self.solve::<4>(w, h, planes),
            3 => self.solve::<5>(w, h, planes),
            4 => self.solve::<6>(w, h, planes),
            c => return Err(Error::UnsupportedFormat(format!("{c} channels"))),
        })
    }
}

/// The colour planes: CIELAB for grey and RGB; other channel counts (grey + alpha, RGBA)
/// keep their raw channels, rescaled jointly to 0..100 so that the weights mean about what
/// they mean in CIELAB.
fn features(image: &Image) -> Result<Vec<Vec<f32>>> {
    if let Some(lab) = color::lab_planes(image) {
        return Ok(lab);
    }
    let mut planes = image.to_planes();
    if planes.is_empty() || planes.len() > 4 {
        return Err(Error::UnsupportedFormat(format!(
            "{} channels",
            planes.len()
        )));
    }
    color::rescale_jointly(&mut planes, 100.0);
    Ok(planes)
}

/// The cell grid `(rows, columns)` for `k` cells asked of a `w x h` image: the grid step
/// `S = sqrt(w * h / k)`, and as many rows and columns as it takes for no cell to be more
/// than `S` a side: `ceil(h / S) x ceil(w / S)`, at most one per pixel.
fn grid_shape(w: usize, h: usize, k: usize) -> (usize, usize) {
    let k = k.clamp(1, w * h);
    let step = (w as f64 * h as f64 / k as f64).sqrt();
    // The tolerance keeps a side that is a whole number of steps (100 x 100 in 4 cells)
    // from gaining a row to rounding.
    let cells = |len: usize| ((len as f64 / step - 1e-9).ceil() as usize).clamp(1, len);
    (cells(h), cells(w))
}

impl Etps {
    fn solve<const D: usize>(&self, w: usize, h: usize, planes: Vec<Vec<f32>>) -> Segmentation {
        let (ny, nx) = grid_shape(w, h, self.n_segments as usize);
        let (cell_rows, cell_cols) = (Axis::even(h, ny), Axis::even(w, nx));
        let count = cell_rows.count() * cell_cols.count();
        let step = (w as f64 * h as f64 / count as f64).sqrt();
        let d = ((step / f64::from(self.max_block_size)).ceil() as usize).max(2);
        let features = Features::new(w, &planes, f64::from(self.compactness) / step);
        // The features hold the colours interleaved; the planes are not needed any more.
        drop(planes);
        let weights = Weights {
            boundary: f64::from(self.boundary_weight),
            size: f64::from(self.size_weight),
        };
        let mut level = Level::first(&cell_rows, &cell_cols, d);
        let mut blocks = features.blocks(&level);
        let bc = level.cols.count();
        let mut stats = Stats::new(
            count,
            level.labels.iter().enumerate().map(|(b, &l)| {
                let n = f64::from(level.area(b));
                (l, n, blocks.mean::<D>(b, b / bc, b % bc))
            }),
            f64::from(self.min_size_factor),
        );
        loop {
            moves::optimise(
                &mut level,
                &blocks,
                &mut stats,
                weights,
                self.max_iterations,
            );
            match level.split() {
                Some(next) => {
                    level = next;
                    blocks = features.blocks(&level);
                }
                None => break,
            }
        }
        debug_assert_eq!(level.labels.len(), w * h);
        Segmentation::from_parts(w as u32, h as u32, level.labels, count as u32)
    }
}

#[cfg(test)]
mod tests;
