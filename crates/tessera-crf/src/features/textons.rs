//! Textons (Leung & Malik 2001; Winn, Criminisi & Minka 2005; Shotton et al. 2006): a 17-D
//! filter bank applied to the CIELAB planes, and a dictionary of cluster centres of its
//! responses (k-means), each pixel labelled with its nearest centre.
//!
//! The bank ([`BANK_LEN`] filters, in this order): Gaussians at `sigma` 1, 2, 4 on L, a and b
//! (L1 L2 L4 a1 a2 a4 b1 b2 b4); Laplacians of Gaussian at `sigma` 1, 2, 4, 8 on L; x and y
//! derivatives of Gaussian at `sigma` 2 and 4 on L (x2 y2 x4 y4). Kernels are sampled, cut at
//! `3 sigma` and applied separably; pixels outside the image repeat the nearest edge pixel.
//!
//! ```
//! use tessera_crf::features::textons::{self, Textons};
//! // A flat 8x8 image: all filters but the Gaussians answer 0.
//! let lab = [vec![50.0f32; 64], vec![0.0; 64], vec![0.0; 64]];
//! let r = textons::filter_bank(&lab, 8, 8);
//! assert_eq!(r.len(), 64 * textons::BANK_LEN);
//! assert!((r[0] - 50.0).abs() < 1e-3 && r[9].abs() < 1e-4);
//! let t = Textons::learn(&r, 1, 5, 0)?;
//! assert!(t.assign(&r).iter().all(|&c| c == 0));
//! # Ok::<(), tessera_crf::Error>(())
//! ```

use crate::error::{Error, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Number of filters in the bank.
pub const BANK_LEN: usize = 17;

/// Sampled 1-D Gaussian (order 0), its first (1) or second (2) derivative, radius `3 sigma`.
/// The order-0 kernel sums to 1; the derivatives are the analytic ones sampled, with the
/// second made zero-sum so a flat image answers exactly 0.
fn kernel(sigma: f32, order: u8) -> Vec<f32> {
    let r = (3.0 * sigma).ceil() as isize;
    let s2 = sigma * sigma;
    let g: Vec<f32> = (-r..=r)
        .map(|i| (-(i * i) as f32 / (2.0 * s2)).exp())
        .collect();
    let sum: f32 = g.iter().sum();
    let g: Vec<f32> = g.iter().map(|v| v / sum).collect();
    match order {
        0 => g,
        1 => (-r..=r)
            .zip(&g)
            .map(|(i, v)| -(i as f32) / s2 * v)
            .collect(),
        _ => {
            let mut k: Vec<f32> = (-r..=r)
                .zip(&g)
                .map(|(i, v)| ((i * i) as f32 / s2 - 1.0) / s2 * v)
                .collect();
            let mean = k.iter().sum::<f32>() / k.len() as f32;
            k.iter_mut().for_each(|v| *v -= mean);
            k
        }
    }
}

/// Convolves `src` (`w x h`) along x with `kx`, then along y with `ky`, into `out`; `tmp` is
/// scratch of the same size. Edges repeat.
fn separable(
    src: &[f32],
    w: usize,
    h: usize,
    kx: &[f32],
    ky: &[f32],
    tmp: &mut [f32],
    out: &mut [f32],
) {
    // Along x, each row is first copied with its end values repeated `rx` times on both
    // sides; then every tap is added to the whole row at once, as along y. Each pixel still
    // gets `0 + k[0] v[0] + k[1] v[1] + ...` in tap order, the bits of a per-pixel loop, but
    // the additions of neighbouring pixels no longer wait on one another.
    let rx = kx.len() / 2;
    let mut padded = vec![0.0f32; w + 2 * rx];
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        padded[..rx].fill(row[0]);
        padded[rx..rx + w].copy_from_slice(row);
        padded[rx + w..].fill(row[w - 1]);
        let t = &mut tmp[y * w..(y + 1) * w];
        t.fill(0.0);
        for (j, &k) in kx.iter().enumerate() {
            for (tv, &pv) in t.iter_mut().zip(&padded[j..j + w]) {
                *tv += k * pv;
            }
        }
    }
    let ry = (ky.len() / 2) as isize;
    for y in 0..h {
        let o = &mut out[y * w..(y + 1) * w];
        o.iter_mut().for_each(|v| *v = 0.0);
        for (j, &k) in ky.iter().enumerate() {
            let yy = (y as isize + j as isize - ry).clamp(0, h as isize - 1) as usize;
            let t = &tmp[yy * w..(yy + 1) * w];
            for (ov, &tv) in o.iter_mut().zip(t) {
                *ov += k * tv;
            }
        }
    }
}

/// The bank's responses at every pixel of the `w x h` CIELAB planes `lab` (L in 0..100):
/// `w * h * BANK_LEN` values, pixel after pixel (see the module documentation for the order).
pub fn filter_bank(lab: &[Vec<f32>; 3], w: usize, h: usize) -> Vec<f32> {
    let n = w * h;
    let mut out = vec![0.0f32; n * BANK_LEN];
    if n == 0 {
        return out;
    }
    let mut tmp = vec![0.0f32; n];
    let mut plane = vec![0.0f32; n];
    let mut plane2 = vec![0.0f32; n];
    let put = |f: usize, p: &[f32], out: &mut [f32]| {
        for (i, &v) in p.iter().enumerate() {
            out[i * BANK_LEN + f] = v;
        }
    };
    let mut f = 0;
    for ch in lab {
        for sigma in [1.0f32, 2.0, 4.0] {
            let g = kernel(sigma, 0);
            separable(ch, w, h, &g, &g, &mut tmp, &mut plane);
            put(f, &plane, &mut out);
            f += 1;
        }
    }
    let l = &lab[0];
    for sigma in [1.0f32, 2.0, 4.0, 8.0] {
        let (g, d2) = (kernel(sigma, 0), kernel(sigma, 2));
        separable(l, w, h, &d2, &g, &mut tmp, &mut plane);
        separable(l, w, h, &g, &d2, &mut tmp, &mut plane2);
        for (a, b) in plane.iter_mut().zip(&plane2) {
            *a += b;
        }
        put(f, &plane, &mut out);
        f += 1;
    }
    for sigma in [2.0f32, 4.0] {
        let (g, d1) = (kernel(sigma, 0), kernel(sigma, 1));
        separable(l, w, h, &d1, &g, &mut tmp, &mut plane);
        put(f, &plane, &mut out);
        separable(l, w, h, &g, &d1, &mut tmp, &mut plane);
        put(f + 1, &plane, &mut out);
        f += 2;
    }
    debug_assert_eq!(f, BANK_LEN);
    out
}

/// The responses of a regular subsample of pixels (every `stride`-th column and row, starting
/// at `stride / 2`), for learning a dictionary.
pub fn subsample(responses: &[f32], w: usize, h: usize, stride: usize) -> Vec<f32> {
    let s = stride.max(1);
    let mut out = Vec::new();
    for y in (s / 2..h).step_by(s) {
        for x in (s / 2..w).step_by(s) {
            let i = y * w + x;
            out.extend_from_slice(&responses[i * BANK_LEN..(i + 1) * BANK_LEN]);
        }
    }
    out
}

/// A texton dictionary: the responses are divided by `scale` (per filter) and each pixel
/// takes the nearest of the `centres` (Euclidean).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Textons {
    /// Per-filter divisor (the standard deviation over the learning sample, 1 when 0).
    pub scale: Vec<f32>,
    /// `k` centres of `BANK_LEN` values each, in scaled units.
    pub centres: Vec<f32>,
}

impl Textons {
    /// Number of textons.
    pub fn len(&self) -> usize {
        self.centres.len() / BANK_LEN
    }

    /// Whether the dictionary is empty.
    pub fn is_empty(&self) -> bool {
        self.centres.is_empty()
    }

    /// Checks the lengths and that every value is finite (scales > 0).
    ///
    /// # Errors
    /// [`Error::InvalidModel`].
    pub fn validate(&self) -> Result<()> {
        if self.scale.len() != BANK_LEN
            || self.centres.is_empty()
            || !self.centres.len().is_multiple_of(BANK_LEN)
            || self.centres.iter().any(|v| !v.is_finite())
            || self.scale.iter().any(|&s| !(s > 0.0 && s.is_finite()))
        {
            return Err(Error::InvalidModel(format!(
                "texton dictionary: {} scales, {} centre values (need {BANK_LEN} and a multiple of it)",
                self.scale.len(),
                self.centres.len()
            )));
        }
        Ok(())
    }

    /// k-means (Lloyd, `iterations` rounds, k-means++ seeding from `seed`) on `samples`
    /// (`BANK_LEN` values each) after scaling each filter by its standard deviation. The result
    /// depends only on the arguments, not on the number of threads.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `k` 0 or above 65535, or fewer samples than `k`.
    pub fn learn(samples: &[f32], k: usize, iterations: usize, seed: u64) -> Result<Textons> {
        let n = samples.len() / BANK_LEN;
        if k == 0 || k > 65535 {
            return Err(Error::param("textons", "must be in 1..=65535"));
        }
        if n < k {
            return Err(Error::param("textons", "more textons than sampled pixels"));
        }
        let mut mean = [0.0f64; BANK_LEN];
        let mut sq = [0.0f64; BANK_LEN];
        for p in samples.chunks_exact(BANK_LEN) {
            for c in 0..BANK_LEN {
                mean[c] += f64::from(p[c]);
                sq[c] += f64::from(p[c]) * f64::from(p[c]);
            }
        }
        let scale: Vec<f32> = (0..BANK_LEN)
            .map(|c| {
                let m = mean[c] / n as f64;
                let sd = (sq[c] / n as f64 - m * m).max(0.0).sqrt();
                if sd > 1e-9 { sd as f32 } else { 1.0 }
            })
            .collect();
        let x: Vec<f32> = samples
            .chunks_exact(BANK_LEN)
            .flat_map(|p| p.iter().zip(&scale).map(|(v, s)| v / s).collect::<Vec<_>>())
            .collect();
        // k-means++ seeding.
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut centres = Vec::with_capacity(k * BANK_LEN);
        let first = rng.random_range(0..n);
        centres.extend_from_slice(&x[first * BANK_LEN..(first + 1) * BANK_LEN]);
        let mut d2: Vec<f32> = x
            .par_chunks_exact(BANK_LEN)
            .map(|p| dist2(p, &centres[..BANK_LEN]))
            .collect();
        for _ in 1..k {
            let total: f64 = d2.iter().map(|&v| f64::from(v)).sum();
            let pick = if total > 0.0 {
                let mut t = rng.random::<f64>() * total;
                let mut idx = n - 1;
                for (i, &v) in d2.iter().enumerate() {
                    t -= f64::from(v);
                    if t <= 0.0 {
                        idx = i;
                        break;
                    }
                }
                idx
            } else {
                rng.random_range(0..n)
            };
            let c = x[pick * BANK_LEN..(pick + 1) * BANK_LEN].to_vec();
            d2.par_iter_mut()
                .zip(x.par_chunks_exact(BANK_LEN))
                .for_each(|(d, p)| *d = d.min(dist2(p, &c)));
            centres.extend_from_slice(&c);
        }
        let mut t = Textons { scale, centres };
        for _ in 0..iterations {
            let by_dim = ByDimension::of(&t.centres);
            let assign: Vec<u16> = x
                .par_chunks_exact(BANK_LEN)
                .map_init(|| vec![0.0f32; k], |d, p| by_dim.nearest(p, d).0)
                .collect();
            let mut sum = vec![0.0f64; k * BANK_LEN];
            let mut count = vec![0usize; k];
            for (p, &a) in x.chunks_exact(BANK_LEN).zip(&assign) {
                let a = a as usize;
                count[a] += 1;
                for c in 0..BANK_LEN {
                    sum[a * BANK_LEN + c] += f64::from(p[c]);
                }
            }
            let mut moved = false;
            for j in 0..k {
                if count[j] == 0 {
                    continue; // an empty cluster keeps its centre
                }
                for c in 0..BANK_LEN {
                    let v = (sum[j * BANK_LEN + c] / count[j] as f64) as f32;
                    moved |= v != t.centres[j * BANK_LEN + c];
                    t.centres[j * BANK_LEN + c] = v;
                }
            }
            if !moved {
                break;
            }
        }
        Ok(t)
    }

    /// The texton of each pixel of `responses` ([`filter_bank`]'s output): the nearest centre,
    /// the first on ties.
    pub fn assign(&self, responses: &[f32]) -> Vec<u16> {
        let inv: Vec<f32> = self.scale.iter().map(|s| 1.0 / s).collect();
        let by_dim = ByDimension::of(&self.centres);
        let mut p = [0.0f32; BANK_LEN];
        let mut d = vec![0.0f32; self.len()];
        responses
            .chunks_exact(BANK_LEN)
            .map(|r| {
                for c in 0..BANK_LEN {
                    p[c] = r[c] * inv[c];
                }
                by_dim.nearest(&p, &mut d).0
            })
            .collect()
    }
}

fn dist2(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Centres stored response by response (`values[c * k + j]` is centre `j`'s response `c`),
/// so that a pixel's squared distances to all `k` are summed many centres at a time.
struct ByDimension {
    k: usize,
    values: Vec<f32>,
}

impl ByDimension {
    fn of(centres: &[f32]) -> Self {
        let k = centres.len() / BANK_LEN;
        let mut values = vec![0.0f32; k * BANK_LEN];
        for (j, centre) in centres.chunks_exact(BANK_LEN).enumerate() {
            for (c, &v) in centre.iter().enumerate() {
                values[c * k + j] = v;
            }
        }
        ByDimension { k, values }
    }

    /// [`nearest`]'s answer, bit for bit: each centre's distance gets the squared
    /// differences in response order, as [`dist2`] adds them (its start, 0 or -0, changes
    /// no sum of squares), and the scan keeps the first on ties. `d` is scratch of `k`.
    fn nearest(&self, p: &[f32], d: &mut [f32]) -> (u16, f32) {
        let d = &mut d[..self.k];
        d.fill(0.0);
        for (&pc, row) in p.iter().zip(self.values.chunks_exact(self.k.max(1))) {
            for (dj, &cj) in d.iter_mut().zip(row) {
                let e = pc - cj;
                *dj += e * e;
            }
        }
        let mut best = (0u16, f32::INFINITY);
        for (j, &v) in d.iter().enumerate() {
            if v < best.1 {
                best = (j as u16, v);
            }
        }
        best
    }
}

/// The nearest centre to `p` and its squared distance (the first on ties).
#[cfg(test)]
fn nearest(p: &[f32], centres: &[f32]) -> (u16, f32) {
    let mut best = (0u16, f32::INFINITY);
    for (j, c) in centres.chunks_exact(BANK_LEN).enumerate() {
        let d = dist2(p, c);
        if d < best.1 {
            best = (j as u16, d);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The convolution as the definition gives it: per pixel, the taps in order, edges
    /// clamped.
    fn separable_reference(src: &[f32], w: usize, h: usize, kx: &[f32], ky: &[f32]) -> Vec<f32> {
        let at = |v: isize, n: usize| v.clamp(0, n as isize - 1) as usize;
        let (rx, ry) = ((kx.len() / 2) as isize, (ky.len() / 2) as isize);
        let mut tmp = vec![0.0f32; w * h];
        for y in 0..h {
            for x in 0..w {
                let mut acc = 0.0f32;
                for (j, &k) in kx.iter().enumerate() {
                    acc += k * src[y * w + at(x as isize + j as isize - rx, w)];
                }
                tmp[y * w + x] = acc;
            }
        }
        let mut out = vec![0.0f32; w * h];
        for y in 0..h {
            for x in 0..w {
                let mut acc = 0.0f32;
                for (j, &k) in ky.iter().enumerate() {
                    acc += k * tmp[at(y as isize + j as isize - ry, h) * w + x];
                }
                out[y * w + x] = acc;
            }
        }
        out
    }

    #[test]
    fn nearest_by_dimension_gives_the_bits_of_nearest() {
        let mut state = 0x9e37_79b9u32;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state % 2000) as f32 * 0.01 - 10.0
        };
        for k in [1usize, 2, 7, 8, 9, 200] {
            let mut centres: Vec<f32> = (0..k * BANK_LEN).map(|_| next()).collect();
            if k > 2 {
                // A tie: the first of two equal centres wins.
                let (a, b) = centres.split_at_mut(2 * BANK_LEN);
                b[..BANK_LEN].copy_from_slice(&a[BANK_LEN..2 * BANK_LEN]);
            }
            let by_dim = ByDimension::of(&centres);
            let mut d = vec![0.0f32; k];
            for i in 0..300 {
                let p: Vec<f32> = if i == 0 && k > 2 {
                    centres[BANK_LEN..2 * BANK_LEN].to_vec()
                } else {
                    (0..BANK_LEN).map(|_| next()).collect()
                };
                let (a, da) = nearest(&p, &centres);
                let (b, db) = by_dim.nearest(&p, &mut d);
                assert_eq!((a, da.to_bits()), (b, db.to_bits()), "k = {k}, pixel {i}");
            }
        }
    }

    #[test]
    fn separable_gives_the_bits_of_the_per_pixel_definition() {
        let mut state = 0x2545_f491u32;
        for (w, h) in [(1, 1), (1, 7), (9, 1), (5, 4), (31, 17), (64, 3)] {
            let src: Vec<f32> = (0..w * h)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    (state % 1000) as f32 * 0.173 - 40.0
                })
                .collect();
            for (kx, ky) in [
                (kernel(1.0, 0), kernel(2.0, 1)),
                (kernel(4.0, 2), kernel(1.0, 0)),
            ] {
                let (mut tmp, mut out) = (vec![0.0f32; w * h], vec![0.0f32; w * h]);
                separable(&src, w, h, &kx, &ky, &mut tmp, &mut out);
                let want = separable_reference(&src, w, h, &kx, &ky);
                assert!(
                    out.iter()
                        .zip(&want)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{w} x {h}, kernels of {} and {} taps",
                    kx.len(),
                    ky.len()
                );
            }
        }
    }

    #[test]
    fn kernels_have_the_right_moments() {
        let g = kernel(2.0, 0);
        assert_eq!(g.len(), 13);
        assert!((g.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        // First derivative applied to the ramp x gives -1 (sampled -x/s^2 G: sum -i^2/s^2 G).
        let d1 = kernel(2.0, 1);
        let r = (d1.len() / 2) as f32;
        let m1: f32 = d1.iter().enumerate().map(|(i, v)| (i as f32 - r) * v).sum();
        assert!((m1 + 1.0).abs() < 0.02, "{m1}");
        // Second derivative: zero sum; applied to x^2 gives about 2.
        let d2 = kernel(2.0, 2);
        assert!(d2.iter().sum::<f32>().abs() < 1e-6);
        let m2: f32 = d2
            .iter()
            .enumerate()
            .map(|(i, v)| (i as f32 - r).powi(2) * v)
            .sum();
        // Less than the analytic 2: the cut at 3 sigma drops the tails, where x^2 G'' is
        // largest (about 1.89 at sigma 2).
        assert!((m2 - 2.0).abs() < 0.15, "{m2}");
    }

    #[test]
    fn bank_on_a_horizontal_ramp() {
        // L = 2 x: Gaussians return L in the interior, LoG 0, d/dx = 2 * (-(-1)) sign
        // convention: the correlation of -x/s^2 G with the ramp is -2; d/dy = 0.
        let (w, h) = (40usize, 30usize);
        let l: Vec<f32> = (0..w * h).map(|i| 2.0 * (i % w) as f32).collect();
        let lab = [l, vec![3.0; w * h], vec![-4.0; w * h]];
        let r = filter_bank(&lab, w, h);
        let at = |x: usize, y: usize, f: usize| r[(y * w + x) * BANK_LEN + f];
        let (x, y) = (20, 15);
        for f in 0..3 {
            assert!(
                (at(x, y, f) - 40.0).abs() < 1e-3,
                "filter {f}: {}",
                at(x, y, f)
            );
        }
        for f in 3..6 {
            assert!((at(x, y, f) - 3.0).abs() < 1e-4);
        }
        for f in 6..9 {
            assert!((at(x, y, f) + 4.0).abs() < 1e-4);
        }
        for f in 9..12 {
            assert!(at(x, y, f).abs() < 1e-3, "LoG {f}: {}", at(x, y, f));
        }
        // The x derivatives (13, 15) answer minus the slope, the y ones (14, 16) nothing.
        assert!((at(x, y, 13) + 2.0).abs() < 0.05, "{}", at(x, y, 13));
        assert!((at(x, y, 15) + 2.0).abs() < 0.05, "{}", at(x, y, 15));
        assert!(at(x, y, 14).abs() < 1e-3 && at(x, y, 16).abs() < 1e-3);
    }

    #[test]
    fn log_answers_a_dark_spot() {
        // A single dark pixel in a bright field: the LoG (sigma 1) is positive at the spot.
        let (w, h) = (15usize, 15usize);
        let mut l = vec![100.0f32; w * h];
        l[7 * w + 7] = 0.0;
        let r = filter_bank(&[l, vec![0.0; w * h], vec![0.0; w * h]], w, h);
        assert!(r[(7 * w + 7) * BANK_LEN + 9] > 1.0);
        assert!(r[BANK_LEN + 9].abs() < 1e-3); // far away: flat
    }

    #[test]
    fn kmeans_finds_two_clusters_and_assigns() {
        // Two tight groups of responses: around 0 and around 10 on filters 0 and 1 (and a
        // little noise). Each filter is scaled to unit deviation first, so a filter that
        // varied independently of the groups would weigh as much as the groups do.
        let mut s = Vec::new();
        for i in 0..40 {
            let base = if i % 2 == 0 { 0.0 } else { 10.0 };
            let mut p = [0.0f32; BANK_LEN];
            p[0] = base + (i % 5) as f32 * 0.01;
            p[1] = 0.5 * base + (i % 3) as f32 * 0.01;
            s.extend_from_slice(&p);
        }
        let t = Textons::learn(&s, 2, 20, 7).unwrap();
        assert_eq!(t.len(), 2);
        let a = t.assign(&s);
        for i in 0..40 {
            assert_eq!(a[i], a[i % 2], "sample {i}");
        }
        assert_ne!(a[0], a[1]);
        // Same seed, same dictionary; the result does not depend on threads.
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        assert_eq!(one.install(|| Textons::learn(&s, 2, 20, 7).unwrap()), t);
        assert!(Textons::learn(&s, 41, 5, 0).is_err());
        assert!(Textons::learn(&s, 0, 5, 0).is_err());
    }

    #[test]
    fn subsample_takes_the_grid() {
        let (w, h) = (8usize, 4usize);
        let r: Vec<f32> = (0..w * h * BANK_LEN)
            .map(|i| (i / BANK_LEN) as f32)
            .collect();
        let s = subsample(&r, w, h, 4);
        let px: Vec<f32> = s.chunks(BANK_LEN).map(|p| p[0]).collect();
        assert_eq!(px, vec![(2 * 8 + 2) as f32, (2 * 8 + 6) as f32]);
    }
}
