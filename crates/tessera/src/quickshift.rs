//! Quickshift superpixels (Vedaldi & Soatto, "Quick Shift and Kernel Methods for Mode
//! Seeking", ECCV 2008), under scikit-image's parameter names and defaults
//! (`skimage.segmentation.quickshift`).
//!
//! How it runs: every pixel is a point `(ratio * colour, y, x)` of a joint space (colour in
//! CIELAB by default, smoothed by a Gaussian of width `sigma` first when asked). Its Parzen
//! density is the sum, over the pixels of the square window of radius
//! `ceil(3 * kernel_size)` around it (itself included), of `exp(-d^2 / (2 kernel_size^2))`,
//! `d` the joint-space distance. Each pixel then links to the nearest pixel of higher density
//! in that window; links longer than `max_dist` are cut, and each tree of the remaining
//! forest is a segment.
//!
//! Any channel count from 1 to [`Quickshift::MAX_CHANNELS`]: without CIELAB the channels
//! are used as scikit-image's `img_as_float` gives them (integer samples scaled to 0..1,
//! float samples as they are; scikit-image's `quickshift` does not rescale them either). The
//! search is compiled for a set of channel counts; other counts are padded up to the next one
//! with planes of zeros, which add exactly nothing to any distance. 2-D images only.
//!
//! Differences from scikit-image, all deliberate:
//! - Equal densities are ordered by a hash of the pixel index and `seed` (scikit-image adds
//!   Gaussian noise of standard deviation 1e-5 from a generator seeded with `rng`): the same
//!   role, a strict order without cycles, exactly reproducible.
//! - The kernel is evaluated with a polynomial `exp` accurate to a few parts per million, in
//!   single precision.
//! - A tree whose pixels are not one 4-connected region (links may jump up to `max_dist`
//!   pixels, so scikit-image's segments are often scattered over hundreds of pieces, most of
//!   one or two pixels along image edges) is split into its 4-connected pieces. Every piece
//!   smaller than `min_size` pixels, a whole small tree included, then joins the
//!   4-neighbouring segment whose mean colour (in the features above) is nearest, smallest
//!   pieces first, the means updated as pieces join: the rule SLIC's connectivity uses. So
//!   every segment is one 4-connected region. The rule was chosen by measurement on BSDS500 val against merging along
//!   the cheapest pixel edge with each tree's largest piece kept: at the same segment count it
//!   gives higher boundary recall and lower undersegmentation error, because a fragment
//!   joins the side of the image edge it belongs to, and the small trees left at isolated
//!   density peaks (a fifth to a third of all trees on textured images) no longer count as
//!   segments. On the 100 val images with scikit-image's tuned parameters for 400 segments
//!   (kernel_size 4.48, max_dist 8.95), the old rule gave 661 segments at boundary recall
//!   0.879; this one gives 528 at 0.878 with `min_size` 10 and 282 at 0.859 with 100, the
//!   default: larger `min_size` was better at every matched count measured (10 to 100).
//!
//! Speed: each pair of pixels is visited once for the density (the kernel is symmetric), in
//! bands of rows processed in parallel whose partial sums are added band after band (the
//! output does not depend on the number of threads); the link search visits the window's
//! offsets nearest first and stops as soon as no farther pixel can be nearer in joint space.

use crate::algorithm::Superpixels;
use crate::color;
use crate::connectivity::{MergeInto, connect_with};
use crate::error::{Error, Result};
use crate::image::Image;
use crate::segmentation::{Segmentation, relabel_in_place};
use crate::smoothing::gaussian;
use rayon::prelude::*;

/// Rows per parallel band of the density pass. Fixed, so that the partial sums, and so the
/// results, do not depend on the number of threads.
const BAND_ROWS: usize = 32;

/// Quickshift parameters. `Default` gives scikit-image's defaults, plus `min_size` 100 (which
/// scikit-image does not have).
///
/// ```
/// use tessera::{Image, Quickshift, Superpixels};
/// let img = image::open(concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/chelsea.png")).unwrap();
/// let img = Image::from_dynamic(&img).unwrap();
/// let seg = Quickshift { kernel_size: 3.0, max_dist: 6.0, ..Quickshift::default() }
///     .segment(&img)
///     .unwrap();
/// assert!(seg.count() > 10);
/// assert_eq!(seg.disconnected_count(), 0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Quickshift {
    /// Weight of colour against position, in 0..1 (1.0): the colour coordinates are
    /// multiplied by it. Lower gives more compact segments.
    pub ratio: f32,
    /// Standard deviation, in pixels and joint-space units, of the Gaussian kernel of the
    /// density estimate (5). The density window has radius `ceil(3 * kernel_size)`.
    pub kernel_size: f32,
    /// Links longer than this (in joint-space units) are cut (10). Higher gives fewer
    /// segments.
    pub max_dist: f32,
    /// Standard deviation, in pixels, of a Gaussian smoothing of the colour planes before
    /// anything else (0: none).
    pub sigma: f32,
    /// Work in CIELAB (true), as scikit-image's `convert2lab`: 3-channel images become
    /// L\*a\*b\*, grey images L\* (scikit-image refuses grey images here); any other channel
    /// count is refused, as scikit-image does. With false, the channels are used as they are
    /// (integer samples scaled to 0..1).
    pub convert_to_lab: bool,
    /// Seed of the order given to pixels of equal density (42, scikit-image's `rng`).
    pub seed: u64,
    /// With connectivity enforced, 4-connected pieces smaller than this many pixels join the
    /// neighbour of nearest mean colour (see the module documentation) (100). 0 or 1 keeps
    /// every piece as a segment of its own.
    pub min_size: u32,
    /// Make every segment one 4-connected region (true), as the module documentation
    /// describes. With false, segments are scikit-image's: the trees, which need not be
    /// connected at all (a link may jump up to `max_dist` pixels).
    pub enforce_connectivity: bool,
}

impl Default for Quickshift {
    fn default() -> Self {
        Quickshift {
            ratio: 1.0,
            kernel_size: 5.0,
            max_dist: 10.0,
            sigma: 0.0,
            convert_to_lab: true,
            seed: 42,
            min_size: 100,
            enforce_connectivity: true,
        }
    }
}

/// The channel counts the link search is compiled for (see the module documentation).
const WIDTHS: [usize; 16] = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256];

/// `planes`, then `zeros` up to `C` planes.
fn padded<'a, const C: usize>(planes: &[&'a [f32]], zeros: &'a [f32]) -> [&'a [f32]; C] {
    std::array::from_fn(|i| planes.get(i).copied().unwrap_or(zeros))
}

impl Quickshift {
    /// The largest channel count accepted.
    pub const MAX_CHANNELS: usize = WIDTHS[WIDTHS.len() - 1];
}

impl Superpixels for Quickshift {
    fn name(&self) -> &'static str {
        "quickshift"
    }

    fn validate(&self) -> Result<()> {
        if !(self.ratio.is_finite() && self.ratio >= 0.0) {
            return Err(Error::param(
                "ratio",
                format!("must be finite and >= 0, got {}", self.ratio),
            ));
        }
        // A window radius of more than 3000 pixels is certainly a mistake (and would
        // overflow the offset arithmetic long before the time became unbearable).
        if !(self.kernel_size.is_finite() && (1.0..=1000.0).contains(&self.kernel_size)) {
            return Err(Error::param(
                "kernel_size",
                format!("must be in 1..=1000, got {}", self.kernel_size),
            ));
        }
        if !(self.max_dist.is_finite() && self.max_dist >= 0.0) {
            return Err(Error::param(
                "max_dist",
                format!("must be finite and >= 0, got {}", self.max_dist),
            ));
        }
        if !(self.sigma.is_finite() && self.sigma >= 0.0) {
            return Err(Error::param(
                "sigma",
                format!("must be finite and >= 0, got {}", self.sigma),
            ));
        }
        Ok(())
    }

    fn segment(&self, image: &Image) -> Result<Segmentation> {
        let (planes, parent) = self.planes_and_forest(image)?;
        let refs: Vec<&[f32]> = planes.iter().map(|p| p.as_slice()).collect();
        let mut roots = tree_roots(parent);
        let (width, height) = (image.width(), image.height());
        if !self.enforce_connectivity {
            let count = relabel_in_place(&mut roots);
            return Ok(Segmentation::from_parts(width, height, roots, count));
        }
        // Split into 4-connected pieces; merge those below `min_size` by nearest mean
        // colour (no merge at all for `min_size` 0 or 1).
        Ok(connect_with(
            width,
            height,
            &roots,
            self.min_size as usize,
            usize::MAX,
            MergeInto::NearestMean(&refs),
        ))
    }
}

impl Quickshift {
    /// The forest Quickshift builds, before any segment is formed: for every pixel
    /// (row-major), the row-major index of the pixel it links to, its own index for a root.
    /// Following the links from any pixel reaches its root; the pixels of one tree make
    /// one segment of [`Superpixels::segment`] with `enforce_connectivity: false`.
    /// scikit-image numbers its segments in the order of their roots' indices, which this
    /// gives a caller the means to reproduce.
    ///
    /// ```
    /// use tessera::{Image, Quickshift, Samples};
    /// let img = Image::new(4, 1, 1, Samples::U8(vec![0, 0, 255, 255]))?;
    /// let parent = Quickshift { kernel_size: 1.0, max_dist: 3.0, ..Quickshift::default() }
    ///     .forest(&img)?;
    /// assert_eq!(parent.len(), 4);
    /// assert!(parent.iter().all(|&p| (p as usize) < 4));
    /// # Ok::<(), tessera::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Superpixels::segment`].
    pub fn forest(&self, image: &Image) -> Result<Vec<u32>> {
        self.planes_and_forest(image).map(|(_, parent)| parent)
    }

    fn planes_and_forest(&self, image: &Image) -> Result<(Vec<Vec<f32>>, Vec<u32>)> {
        image.require_2d("quickshift")?;
        self.validate()?;
        let c = image.channels();
        if c > Self::MAX_CHANNELS {
            return Err(Error::UnsupportedFormat(format!(
                "quickshift handles 1 to {} channels, the image has {c}",
                Self::MAX_CHANNELS
            )));
        }
        let planes = self.features(image)?;
        let (w, h) = (image.width() as usize, image.height() as usize);
        let refs: Vec<&[f32]> = planes.iter().map(|p| p.as_slice()).collect();
        let zeros = if WIDTHS.contains(&refs.len()) {
            Vec::new()
        } else {
            vec![0.0f32; w * h]
        };
        let z = zeros.as_slice();
        let parent = match refs.len() {
            1 => self.link::<1>(w, h, padded(&refs, z)),
            2 => self.link::<2>(w, h, padded(&refs, z)),
            3 => self.link::<3>(w, h, padded(&refs, z)),
            4 => self.link::<4>(w, h, padded(&refs, z)),
            5..=6 => self.link::<6>(w, h, padded(&refs, z)),
            7..=8 => self.link::<8>(w, h, padded(&refs, z)),
            9..=12 => self.link::<12>(w, h, padded(&refs, z)),
            13..=16 => self.link::<16>(w, h, padded(&refs, z)),
            17..=24 => self.link::<24>(w, h, padded(&refs, z)),
            25..=32 => self.link::<32>(w, h, padded(&refs, z)),
            33..=48 => self.link::<48>(w, h, padded(&refs, z)),
            49..=64 => self.link::<64>(w, h, padded(&refs, z)),
            65..=96 => self.link::<96>(w, h, padded(&refs, z)),
            97..=128 => self.link::<128>(w, h, padded(&refs, z)),
            129..=192 => self.link::<192>(w, h, padded(&refs, z)),
            _ => self.link::<256>(w, h, padded(&refs, z)),
        };
        drop(zeros);
        Ok((planes, parent))
    }

    /// The colour planes, converted, smoothed and weighted.
    fn features(&self, image: &Image) -> Result<Vec<Vec<f32>>> {
        let c = image.channels();
        let mut planes = if self.convert_to_lab {
            color::lab_planes(image).ok_or_else(|| {
                Error::param(
                    "convert_to_lab",
                    format!(
                        "CIELAB needs 1 or 3 channels, the image has {c} (set convert_to_lab \
                         to false to use the channels as they are)"
                    ),
                )
            })?
        } else {
            image.to_planes()
        };
        let (w, h) = (image.width() as usize, image.height() as usize);
        for p in &mut planes {
            if self.sigma > 0.0 {
                gaussian(p, w, h, self.sigma, self.sigma);
            }
            if self.ratio != 1.0 {
                p.iter_mut().for_each(|v| *v *= self.ratio);
            }
        }
        Ok(planes)
    }

    /// Densities, then each pixel's parent (itself for a root).
    fn link<const C: usize>(&self, w: usize, h: usize, planes: [&[f32]; C]) -> Vec<u32> {
        let radius = (3.0 * self.kernel_size).ceil() as usize;
        let inv = 0.5 / (self.kernel_size * self.kernel_size);
        let density = densities(w, h, &planes, radius, inv);
        // Density, then the seeded hash: a strict order on pixels. Stored with the colour, so
        // that the link search finds both in one place.
        let nodes: Vec<Node<C>> = density
            .par_iter()
            .enumerate()
            .map(|(p, &d)| Node {
                key: (u64::from(d.to_bits()) << 32) | (mix(self.seed, p as u64) >> 32),
                colour: planes.map(|pl| pl[p]),
            })
            .collect();
        let max_d2 = self.max_dist * self.max_dist;
        let offsets = link_offsets(radius, max_d2, w);
        let r = radius;
        let mut parent = vec![0u32; w * h];
        parent.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
            let inner_y = y >= r && y + r < h;
            for (x, out) in row.iter_mut().enumerate() {
                let p = y * w + x;
                let found = if inner_y && x >= r && x + r < w {
                    nearest_higher::<C, false>(x, y, w, h, &nodes, &offsets)
                } else {
                    nearest_higher::<C, true>(x, y, w, h, &nodes, &offsets)
                };
                *out = found.filter(|&(_, d)| d <= max_d2).map_or(p, |(q, _)| q) as u32;
            }
        });
        parent
    }
}

/// A pixel for the link search: its place in the density order, and its colour.
#[derive(Debug, Clone, Copy)]
struct Node<const C: usize> {
    key: u64,
    colour: [f32; C],
}

/// A window offset for the link search.
#[derive(Debug, Clone, Copy)]
struct Offset {
    dx: isize,
    dy: isize,
    /// `dy * width + dx`.
    delta: isize,
    /// `dx^2 + dy^2`.
    d2: f32,
    /// Position in raster order within the window.
    rank: isize,
}

/// Window offsets that can hold a link no longer than `sqrt(max_d2)`, nearest first; on
/// equal distance in raster order, the order in which scikit-image meets them (it keeps the
/// first of equal distances).
fn link_offsets(radius: usize, max_d2: f32, width: usize) -> Vec<Offset> {
    let r = radius as isize;
    let mut offsets: Vec<Offset> = (-r..=r)
        .flat_map(|dy| (-r..=r).map(move |dx| (dx, dy)))
        .filter(|&(dx, dy)| (dx, dy) != (0, 0) && ((dx * dx + dy * dy) as f32) <= max_d2)
        .map(|(dx, dy)| Offset {
            dx,
            dy,
            delta: dy * width as isize + dx,
            d2: (dx * dx + dy * dy) as f32,
            rank: (dy + r) * (2 * r + 1) + dx + r,
        })
        .collect();
    offsets.sort_by(|a, b| a.d2.total_cmp(&b.d2).then(a.rank.cmp(&b.rank)));
    offsets
}

/// The nearest pixel of higher key in the window, with its squared joint-space distance.
/// `offsets` come nearest first, so the search stops once the spatial distance alone exceeds
/// the best distance found; equal distances go to the earlier offset in raster order. With
/// `CHECK` false the whole window must lie inside the image.
#[inline]
fn nearest_higher<const C: usize, const CHECK: bool>(
    x: usize,
    y: usize,
    w: usize,
    h: usize,
    nodes: &[Node<C>],
    offsets: &[Offset],
) -> Option<(usize, f32)> {
    let p = y * w + x;
    let Node {
        key: own_key,
        colour: own,
    } = nodes[p];
    let (mut best, mut best_d, mut best_rank) = (None, f32::INFINITY, isize::MAX);
    for o in offsets {
        if o.d2 > best_d {
            break;
        }
        if CHECK {
            let (qx, qy) = (x as isize + o.dx, y as isize + o.dy);
            if qx < 0 || qy < 0 || qx >= w as isize || qy >= h as isize {
                continue;
            }
        }
        let q = (p as isize + o.delta) as usize;
        let other = &nodes[q];
        if other.key <= own_key {
            continue;
        }
        let mut d = o.d2;
        for (a, b) in own.iter().zip(&other.colour) {
            d += (a - b) * (a - b);
        }
        if d < best_d || (d == best_d && o.rank < best_rank) {
            (best, best_d, best_rank) = (Some(q), d, o.rank);
        }
    }
    best.map(|q| (q, best_d))
}

/// The Parzen density of every pixel: the sum of `exp(-inv * d^2)` over the square window of
/// the given radius, itself included.
fn densities<const C: usize>(
    w: usize,
    h: usize,
    planes: &[&[f32]; C],
    radius: usize,
    inv: f32,
) -> Vec<f32> {
    let offsets = half_window(radius);
    let bands: Vec<Vec<f32>> = (0..h.div_ceil(BAND_ROWS))
        .into_par_iter()
        .map(|b| band_density(b * BAND_ROWS, w, h, planes, &offsets, radius, inv))
        .collect();
    // Each row adds the partial sums of the bands that reach it, in band order.
    let mut density = vec![1.0f32; w * h];
    density.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        let first = (y + 1).saturating_sub(BAND_ROWS + radius) / BAND_ROWS;
        for (b, band) in bands.iter().enumerate().take(y / BAND_ROWS + 1).skip(first) {
            let local = y - b * BAND_ROWS;
            if let Some(src) = band.get(local * w..(local + 1) * w) {
                row.iter_mut().zip(src).for_each(|(d, s)| *d += s);
            }
        }
    });
    density
}

/// Half the square window of the given radius, `(dy, dx, dx^2 + dy^2)` in raster order: the
/// offsets after the centre, so that each unordered pair of pixels is met once.
fn half_window(radius: usize) -> Vec<(usize, isize, f32)> {
    let r = radius as isize;
    (0..=r)
        .flat_map(|dy| (-r..=r).map(move |dx| (dy, dx)))
        .filter(|&(dy, dx)| dy > 0 || dx > 0)
        .map(|(dy, dx)| (dy as usize, dx, (dx * dx + dy * dy) as f32))
        .collect()
}

/// Kernel sums of the pairs whose first pixel lies in the band starting at row `y0`, for the
/// rows `y0 .. y0 + BAND_ROWS + radius` (clipped to the image) that they reach.
///
/// On x86-64 CPUs with AVX-512F or AVX2 the same code is compiled for those (wider vectors,
/// no fused multiply-add): every operation and its order are the same, so are the results.
fn band_density<const C: usize>(
    y0: usize,
    w: usize,
    h: usize,
    planes: &[&[f32]; C],
    offsets: &[(usize, isize, f32)],
    radius: usize,
    inv: f32,
) -> Vec<f32> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU supports AVX-512F, as just checked.
        return unsafe { band_density_avx512(y0, w, h, planes, offsets, radius, inv) };
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, as just checked.
        return unsafe { band_density_avx2(y0, w, h, planes, offsets, radius, inv) };
    }
    band_density_portable(y0, w, h, planes, offsets, radius, inv)
}

/// [`band_density_portable`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn band_density_avx2<const C: usize>(
    y0: usize,
    w: usize,
    h: usize,
    planes: &[&[f32]; C],
    offsets: &[(usize, isize, f32)],
    radius: usize,
    inv: f32,
) -> Vec<f32> {
    band_density_portable(y0, w, h, planes, offsets, radius, inv)
}

/// [`band_density_portable`] compiled for AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn band_density_avx512<const C: usize>(
    y0: usize,
    w: usize,
    h: usize,
    planes: &[&[f32]; C],
    offsets: &[(usize, isize, f32)],
    radius: usize,
    inv: f32,
) -> Vec<f32> {
    band_density_portable(y0, w, h, planes, offsets, radius, inv)
}

/// See [`band_density`].
#[inline(always)]
fn band_density_portable<const C: usize>(
    y0: usize,
    w: usize,
    h: usize,
    planes: &[&[f32]; C],
    offsets: &[(usize, isize, f32)],
    radius: usize,
    inv: f32,
) -> Vec<f32> {
    let y1 = (y0 + BAND_ROWS).min(h);
    let rows = (y1 + radius).min(h) - y0;
    let mut acc = vec![0.0f32; rows * w];
    let mut weights = vec![0.0f32; w];
    for y in y0..y1 {
        for &(dy, dx, ds2) in offsets {
            let y2 = y + dy;
            if y2 >= h || dx.unsigned_abs() >= w {
                continue;
            }
            // Pixels x of row y and x + dx of row y2, both inside the image.
            let (xa, xb) = if dx >= 0 {
                (0, dx as usize)
            } else {
                (dx.unsigned_abs(), 0)
            };
            let len = w - dx.unsigned_abs();
            let a = planes.map(|pl| &pl[y * w + xa..y * w + xa + len]);
            let b = planes.map(|pl| &pl[y2 * w + xb..y2 * w + xb + len]);
            let (base, base2) = ((y - y0) * w, (y2 - y0) * w);
            if dy == 0 {
                // Both ends in one row: their sums overlap, so the weights are made first.
                let out = &mut weights[..len];
                kernel_row(&a, &b, ds2, inv, out);
                add_into(&mut acc[base + xa..base + xa + len], out);
                add_into(&mut acc[base2 + xb..base2 + xb + len], out);
            } else {
                // Two rows: each weight goes straight into both sums (every sum receives the
                // same additions in the same order as above).
                let (top, bottom) = acc.split_at_mut(base2);
                kernel_add(
                    &a,
                    &b,
                    ds2,
                    inv,
                    &mut top[base + xa..base + xa + len],
                    &mut bottom[xb..xb + len],
                );
            }
        }
    }
    acc
}

/// `out[i] = exp(-inv * (ds2 + |a[i] - b[i]|^2))`.
#[inline(always)]
fn kernel_row<const C: usize>(
    a: &[&[f32]; C],
    b: &[&[f32]; C],
    ds2: f32,
    inv: f32,
    out: &mut [f32],
) {
    let n = out.len();
    let a = a.map(|s| &s[..n]);
    let b = b.map(|s| &s[..n]);
    for i in 0..n {
        let mut d = ds2;
        for c in 0..C {
            let t = a[c][i] - b[c][i];
            d += t * t;
        }
        out[i] = exp_neg(-inv * d);
    }
}

/// `k = exp(-inv * (ds2 + |a[i] - b[i]|^2))` added to both `sa[i]` and `sb[i]`.
#[inline(always)]
fn kernel_add<const C: usize>(
    a: &[&[f32]; C],
    b: &[&[f32]; C],
    ds2: f32,
    inv: f32,
    sa: &mut [f32],
    sb: &mut [f32],
) {
    let n = sa.len();
    let (a, b, sb) = (a.map(|s| &s[..n]), b.map(|s| &s[..n]), &mut sb[..n]);
    for i in 0..n {
        let mut d = ds2;
        for c in 0..C {
            let t = a[c][i] - b[c][i];
            d += t * t;
        }
        let k = exp_neg(-inv * d);
        sa[i] += k;
        sb[i] += k;
    }
}

#[inline(always)]
fn add_into(dst: &mut [f32], src: &[f32]) {
    dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
}

/// `e^x` for `x <= 0`, to a few parts per million (relative), in a form the compiler vectorises:
/// `2^t` with `t = x log2(e)` split into the nearest integer `n` (by the 1.5 * 2^23 rounding
/// trick) and `f` in [-1/2, 1/2]; `2^f` by a polynomial of degree 5 fitted for least maximum
/// relative error on that interval (1.1e-7, below the rounding of `t` for large `|x|`), `2^n`
/// built in the exponent bits. Arguments below -80 are taken as -80 (`e^-80` is about 2e-35),
/// which keeps the result a normal number.
#[inline(always)]
fn exp_neg(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0; // 1.5 * 2^23
    const ROUND_BITS: u32 = 0x4B40_0000;
    // The first coefficient is the fitted one, 0.6931471 (by its bits: written as a decimal it
    // reads as an approximation of ln 2, which it is not quite).
    const C: [f32; 5] = [
        f32::from_bits(0x3F31_7217),
        0.240_222_42,
        0.055_505_82,
        0.009_671_52,
        0.001_330_88,
    ];
    let x = if x < -80.0 { -80.0 } else { x };
    let t = x * std::f32::consts::LOG2_E;
    let k = t + ROUND;
    let n = k - ROUND;
    let f = t - n;
    let p = 1.0 + f * (C[0] + f * (C[1] + f * (C[2] + f * (C[3] + f * C[4]))));
    // k's bits are ROUND_BITS + n: shift n + 127 into the exponent field.
    let scale = f32::from_bits(k.to_bits().wrapping_sub(ROUND_BITS - 127) << 23);
    p * scale
}

/// A 64-bit mix of the seed and a pixel index (SplitMix64's finaliser).
fn mix(seed: u64, i: u64) -> u64 {
    let mut z = seed.wrapping_add(i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The root of every pixel's tree, following `parent` links (which lead to ever higher keys,
/// so there is no cycle), with path compression.
fn tree_roots(mut parent: Vec<u32>) -> Vec<u32> {
    let mut path = Vec::new();
    for p in 0..parent.len() {
        let mut r = p;
        while parent[r] as usize != r {
            path.push(r);
            r = parent[r] as usize;
        }
        for q in path.drain(..) {
            parent[q] = r as u32;
        }
    }
    parent
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Samples;
    use proptest::prelude::*;

    #[test]
    fn fast_exp_is_accurate() {
        for i in 0..=80_000 {
            let x = -(i as f32) / 1000.0;
            let (got, want) = (exp_neg(x), (x as f64).exp());
            assert!(
                ((got as f64 - want) / want).abs() < 5e-6,
                "{x}: {got} vs {want}"
            );
        }
        assert!(exp_neg(-1e6) > 0.0 && exp_neg(-1e6).is_normal());
    }

    #[test]
    fn densities_match_the_direct_sum() {
        // Several bands of rows, so that their partial sums are checked too.
        let (w, h, r, inv) = (13usize, 3 * BAND_ROWS + 5, 3usize, 0.5f32 / (1.2 * 1.2));
        let img = crate::test_support::noisy_image(w as u32, h as u32, 3, 5);
        let planes = img.to_planes();
        let refs = [&planes[0][..], &planes[1][..], &planes[2][..]];
        let fast = densities(w, h, &refs, r, inv);
        for y in 0..h {
            for x in 0..w {
                let mut want = 0.0f64;
                for y2 in y.saturating_sub(r)..(y + r + 1).min(h) {
                    for x2 in x.saturating_sub(r)..(x + r + 1).min(w) {
                        let mut d =
                            ((x as f64 - x2 as f64).powi(2)) + (y as f64 - y2 as f64).powi(2);
                        for pl in &refs {
                            d += (pl[y * w + x] as f64 - pl[y2 * w + x2] as f64).powi(2);
                        }
                        want += (-(inv as f64) * d).exp();
                    }
                }
                let got = fast[y * w + x] as f64;
                assert!(
                    (got - want).abs() < 1e-4 * want,
                    "({x},{y}): {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn vector_builds_match_the_portable_one() {
        let (w, h, r) = (37usize, 40usize, 4usize);
        let img = crate::test_support::noisy_image(w as u32, h as u32, 3, 9);
        let planes = img.to_planes();
        let refs = [&planes[0][..], &planes[1][..], &planes[2][..]];
        let offsets = half_window(r);
        let inv = 0.5 / 9.0;
        for y0 in [0, BAND_ROWS] {
            let dispatched = band_density(y0, w, h, &refs, &offsets, r, inv);
            let portable = band_density_portable(y0, w, h, &refs, &offsets, r, inv);
            assert_eq!(dispatched, portable);
        }
    }

    #[test]
    fn two_flat_regions_give_two_segments() {
        // 16x10: left half dark red, right half light blue. In CIELAB the two colours are
        // far more than max_dist apart, so no link crosses; each half is one tree (its
        // densest pixel, the root, is the centre of the half).
        let mut s = Vec::new();
        for _y in 0..10 {
            for x in 0..16 {
                s.extend_from_slice(if x < 8 {
                    &[120, 10, 10]
                } else {
                    &[20, 90, 220]
                });
            }
        }
        let img = Image::new(16, 10, 3, Samples::U8(s)).unwrap();
        let seg = Quickshift {
            kernel_size: 2.0,
            max_dist: 4.0,
            min_size: 10,
            ..Quickshift::default()
        }
        .segment(&img)
        .unwrap();
        assert_eq!(seg.count(), 2);
        for y in 0..10 {
            for x in 0..16 {
                assert_eq!(seg.label(x, y), Some(u32::from(x >= 8)));
            }
        }
    }

    #[test]
    fn small_pieces_join_the_nearest_mean_colour() {
        // 16x10 grey: left half 0, right half 100, and a 3-pixel column of 15 in the right
        // half against the border (x = 8, y = 4..7). The column is a tree of its own (15 is
        // beyond max_dist from both sides) and shares 3 pixel pairs with the left half and 5
        // with the right: it joins the left half, whose colour is nearest, not the right one
        // with the longer border.
        let mut v = vec![0.0f32; 160];
        for y in 0..10 {
            for x in 8..16 {
                v[y * 16 + x] = if x == 8 && (4..7).contains(&y) {
                    15.0
                } else {
                    100.0
                };
            }
        }
        let img = Image::new(16, 10, 1, Samples::F32(v)).unwrap();
        let qs = Quickshift {
            kernel_size: 2.0,
            max_dist: 4.0,
            convert_to_lab: false,
            min_size: 10,
            ..Quickshift::default()
        };
        let pieces = Quickshift {
            min_size: 0,
            ..qs.clone()
        }
        .segment(&img)
        .unwrap();
        assert_ne!(pieces.label(8, 5), pieces.label(7, 5));
        assert_ne!(pieces.label(8, 5), pieces.label(9, 5));
        let seg = qs.segment(&img).unwrap();
        assert_eq!(seg.label(8, 5), seg.label(0, 0));
        assert_ne!(seg.label(8, 5), seg.label(15, 9));
        assert_eq!(seg.disconnected_count(), 0);
    }

    #[test]
    fn links_go_uphill_to_the_nearest() {
        // A flat 5x1 row: the window is cut by the image's ends, so the density peaks in the
        // middle and every pixel links to its neighbour towards it: one segment. With
        // max_dist below the one-pixel step, no link: every pixel alone.
        let img = Image::new(5, 1, 1, Samples::F32(vec![0.0, 0.0, 0.0, 0.0, 0.0])).unwrap();
        let qs = Quickshift {
            kernel_size: 1.0,
            max_dist: 1.0,
            convert_to_lab: false,
            min_size: 0,
            ..Quickshift::default()
        };
        assert_eq!(qs.segment(&img).unwrap().count(), 1);
        let qs = Quickshift {
            max_dist: 0.9,
            ..qs
        };
        assert_eq!(qs.segment(&img).unwrap().count(), 5);
    }

    #[test]
    fn forest_trees_are_the_unconnected_segments() {
        let img = Image::new(
            6,
            2,
            1,
            Samples::U8(vec![0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255]),
        )
        .unwrap();
        let q = Quickshift {
            kernel_size: 1.0,
            max_dist: 2.0,
            convert_to_lab: false,
            enforce_connectivity: false,
            ..Quickshift::default()
        };
        let parent = q.forest(&img).unwrap();
        let roots = tree_roots(parent.clone());
        // Every root points to itself, and the trees are exactly the segments.
        assert!(roots.iter().all(|&r| parent[r as usize] == r));
        let seg = q.segment(&img).unwrap();
        for a in 0..12 {
            for b in 0..12 {
                assert_eq!(roots[a] == roots[b], seg.labels()[a] == seg.labels()[b]);
            }
        }
        assert_eq!(seg.count(), 2);
    }

    #[test]
    fn bad_parameters_are_refused() {
        let img = crate::test_support::noisy_image(8, 8, 3, 1);
        for q in [
            Quickshift {
                kernel_size: 0.5,
                ..Quickshift::default()
            },
            Quickshift {
                max_dist: f32::NAN,
                ..Quickshift::default()
            },
            Quickshift {
                ratio: -1.0,
                ..Quickshift::default()
            },
        ] {
            assert!(matches!(
                q.segment(&img),
                Err(Error::InvalidParameter { .. })
            ));
        }
        let two = Image::new(2, 2, 2, Samples::F32(vec![0.0; 8])).unwrap();
        assert!(Quickshift::default().segment(&two).is_err());
        let plain = Quickshift {
            convert_to_lab: false,
            ..Quickshift::default()
        };
        assert!(plain.segment(&two).is_ok());
    }

    #[test]
    fn same_result_on_one_and_two_threads() {
        let img = crate::test_support::noisy_image(90, 75, 3, 11);
        let qs = Quickshift {
            kernel_size: 3.0,
            max_dist: 6.0,
            ..Quickshift::default()
        };
        let runs = crate::test_support::on_1_and_2_threads(|| qs.segment(&img).unwrap());
        assert_eq!(runs.0, runs.1);
        let other_seed = Quickshift {
            seed: 7,
            ..qs.clone()
        }
        .segment(&img)
        .unwrap();
        assert_eq!(other_seed.width(), 90);
    }

    #[test]
    fn many_channels_pad_exactly() {
        // Constant extra channels add exactly nothing to any distance: 3 channels, and the same
        // with 1, 3 or 5 constant channels more (4: compiled; 6 and 8: 4 and 5 padded), give
        // the same segments.
        let base = crate::test_support::noisy_image(37, 23, 3, 4);
        let Samples::U8(b) = base.samples() else {
            unreachable!()
        };
        let qs = Quickshift {
            kernel_size: 2.0,
            max_dist: 6.0,
            convert_to_lab: false,
            min_size: 5,
            ..Quickshift::default()
        };
        let want = qs.segment(&base).unwrap();
        // 200 channels: padded to the widest compiled count, 256.
        for extra in [1usize, 3, 5, 197] {
            let s: Vec<u8> = b
                .chunks_exact(3)
                .flat_map(|px| {
                    px.iter()
                        .copied()
                        .chain((0..extra).map(|e| 40 * (e % 6) as u8))
                })
                .collect();
            let img = Image::new(37, 23, (3 + extra) as u16, Samples::U8(s)).unwrap();
            assert_eq!(qs.segment(&img).unwrap(), want, "{extra} extra channels");
        }
        // CIELAB needs 1 or 3 channels; more than MAX_CHANNELS are refused.
        let eight = crate::test_support::noisy_image(5, 4, 8, 1);
        let err = Quickshift::default().segment(&eight).unwrap_err();
        assert!(matches!(
            err,
            Error::InvalidParameter {
                name: "convert_to_lab",
                ..
            }
        ));
        let c = Quickshift::MAX_CHANNELS + 1;
        let wide = Image::new(2, 2, c as u16, Samples::U8(vec![0; 4 * c])).unwrap();
        assert!(matches!(
            qs.segment(&wide),
            Err(Error::UnsupportedFormat(_))
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn guarantees_hold(
            w in 1u32..20, h in 1u32..20, c in 1u8..=10, seed in any::<u64>(),
            ratio in 0.0f32..1.5, kernel_size in 1.0f32..4.0, max_dist in 0.0f32..20.0,
            sigma in 0.0f32..1.5, min_size in 0u32..12,
        ) {
            let img = crate::test_support::noisy_image(w, h, c, seed);
            let qs = Quickshift {
                ratio, kernel_size, max_dist, sigma, convert_to_lab: c == 1 || c == 3, seed, min_size,
                enforce_connectivity: true,
            };
            let seg = qs.segment(&img).unwrap();
            let trees = Quickshift { enforce_connectivity: false, ..qs.clone() }
                .segment(&img).unwrap();
            prop_assert!(Segmentation::from_labels(w, h, trees.labels().to_vec()).is_ok());
            prop_assert!(Segmentation::from_labels(w, h, seg.labels().to_vec()).is_ok());
            prop_assert_eq!(seg.unlabelled_count(), 0);
            prop_assert_eq!(seg.disconnected_count(), 0);
            // Segments are unions of whole pieces of trees.
            let split = Quickshift { min_size: 0, ..qs.clone() }.segment(&img).unwrap();
            let mut owner = vec![u32::MAX; split.count() as usize];
            for (&piece, &s) in split.labels().iter().zip(seg.labels()) {
                let o = &mut owner[piece as usize];
                prop_assert!(*o == u32::MAX || *o == s);
                *o = s;
            }
            // Merging cut-off pieces never adds segments.
            let pieces = Quickshift { min_size: 0, ..qs }.segment(&img).unwrap();
            prop_assert!(seg.count() <= pieces.count());
            prop_assert_eq!(pieces.disconnected_count(), 0);
        }
    }
}
