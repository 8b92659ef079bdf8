//! The ETPS energy and the change a block move makes to it, in O(1) from sufficient
//! statistics.
//!
//! For a labelling `s` the energy is, in CIELAB² units per pixel,
//!
//! `E(s) = Σ_k [ SSE_colour(k) + w_pos · SSE_position(k) ] + w_len · L(s) + w_size · Σ_k max(0, m_k − |k|)`
//!
//! - `SSE_colour(k)` is the sum over the pixels of superpixel `k` of the squared CIELAB
//!   distance to `k`'s mean colour (the appearance term, weight 1);
//! - `SSE_position(k)` the same for the pixel positions around `k`'s centroid, with
//!   `w_pos = (compactness / S)²` for grid step `S`, as in SLIC, so that the sum of both is
//!   SLIC's k-means objective;
//! - `L(s)` the boundary length: the number of 4-neighbour pixel pairs with different labels;
//! - the size term penalises every pixel by which a superpixel falls short of `m_k`, a
//!   fraction of its initial cell.
//!
//! Both SSE terms are computed with the position scaled by `√w_pos` as extra feature
//! dimensions, so one squared distance in `D` dimensions covers both. Moving a block `b`
//! (`n_b` pixels, feature mean `μ_b`) from superpixel `A` to `B` changes the summed SSE by
//!
//! `ΔSSE = n_b · [ n_B / (n_B + n_b) · |μ_B − μ_b|² − n_A / (n_A − n_b) · |μ_A − μ_b|² ]`
//!
//! (the textbook update of a sum of squares when one group joins or leaves a set), so no
//! sum of squares needs to be kept.

/// The energy's weights, in the units above.
#[derive(Debug, Clone, Copy)]
pub(super) struct Weights {
    /// `w_len`, per pixel edge of boundary.
    pub(super) boundary: f64,
    /// `w_size`, per pixel of shortfall.
    pub(super) size: f64,
}

/// What is known of every superpixel: pixel count, feature sums and means.
pub(super) struct Stats<const D: usize> {
    /// Count, mean and minimum size of every superpixel, together: a move reads them all.
    regions: Vec<Region<D>>,
    sum: Vec<[f64; D]>,
}

/// One superpixel as a move sees it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Region<const D: usize> {
    pub(super) count: f64,
    pub(super) mean: [f64; D],
    /// `m_k`: the size below which the size term starts.
    pub(super) min_size: f64,
}

/// The change that moves make to one superpixel's pixel count and feature sums.
#[derive(Debug, Clone, Copy)]
pub(super) struct Delta<const D: usize> {
    count: f64,
    sum: [f64; D],
}

impl<const D: usize> Stats<D> {
    /// Statistics of `k` superpixels from the blocks' `labels`, `areas` and feature `sums`
    /// (added in block order). `min_size_factor` of each initial size gives `m_k`.
    pub(super) fn new(
        k: usize,
        labels: &[u32],
        areas: impl Iterator<Item = u32>,
        sums: &[[f64; D]],
        min_size_factor: f64,
    ) -> Self {
        let mut count = vec![0.0; k];
        let mut sum = vec![[0.0; D]; k];
        for ((&l, a), s) in labels.iter().zip(areas).zip(sums) {
            count[l as usize] += f64::from(a);
            add(&mut sum[l as usize], s);
        }
        let regions = count
            .iter()
            .zip(&sum)
            .map(|(&n, s)| Region {
                count: n,
                mean: mean_of(s, n),
                min_size: n * min_size_factor,
            })
            .collect();
        Stats { regions, sum }
    }

    /// Superpixel `k`.
    #[inline]
    pub(super) fn region(&self, k: usize) -> &Region<D> {
        &self.regions[k]
    }

    /// Adds the change `delta` to superpixel `k`.
    pub(super) fn apply(&mut self, k: usize, delta: &Delta<D>) {
        let r = &mut self.regions[k];
        r.count += delta.count;
        add(&mut self.sum[k], &delta.sum);
        r.mean = mean_of(&self.sum[k], r.count);
    }
}

/// The feature part of the energy change when a block of `n_b` pixels with feature mean
/// `mu_b` moves from `a` to `b` (see the module docs). `a` must keep at least a pixel.
#[inline]
pub(super) fn feature_delta<const D: usize>(
    n_b: f64,
    mu_b: &[f64; D],
    a: &Region<D>,
    b: &Region<D>,
) -> f64 {
    let gain = a.count / (a.count - n_b) * dist2(&a.mean, mu_b);
    let cost = b.count / (b.count + n_b) * dist2(&b.mean, mu_b);
    n_b * (cost - gain)
}

/// The size-term change of the same move, weighted by `w`.
#[inline]
pub(super) fn size_delta<const D: usize>(w: f64, n_b: f64, a: &Region<D>, b: &Region<D>) -> f64 {
    if w == 0.0 {
        return 0.0;
    }
    let short = |r: &Region<D>, n: f64| (r.min_size - n).max(0.0);
    w * (short(a, a.count - n_b) - short(a, a.count) + short(b, b.count + n_b) - short(b, b.count))
}

/// One tile's view of the statistics while its moves run: the shared statistics as they
/// were when the colour pass began, plus the changes of the tile's own moves, kept in an
/// [`OverlayBuf`]. Moves in the other tiles of the pass are not seen until the changes are
/// handed back ([`OverlayBuf::drain`]) and applied, in tile order.
pub(super) struct Overlay<'a, const D: usize> {
    base: &'a Stats<D>,
    buf: &'a mut OverlayBuf<D>,
}

/// The changes one tile has made, superpixel by superpixel, in the order first changed.
/// A tile touches a handful of superpixels, so a linear search beats hashing; the buffers
/// are kept from pass to pass.
#[derive(Debug, Default)]
pub(super) struct OverlayBuf<const D: usize> {
    ids: Vec<u32>,
    deltas: Vec<Delta<D>>,
    regions: Vec<Region<D>>,
}

impl<const D: usize> OverlayBuf<D> {
    /// The changes made, which leave the buffer empty.
    pub(super) fn drain(&mut self) -> impl Iterator<Item = (u32, Delta<D>)> + '_ {
        self.regions.clear();
        self.ids.drain(..).zip(self.deltas.drain(..))
    }
}

impl<'a, const D: usize> Overlay<'a, D> {
    /// A view of `base` through the changes in `buf`.
    pub(super) fn new(base: &'a Stats<D>, buf: &'a mut OverlayBuf<D>) -> Self {
        Overlay { base, buf }
    }

    /// Superpixel `k` as the tile sees it.
    #[inline]
    pub(super) fn region(&self, k: u32) -> &Region<D> {
        match self.buf.ids.iter().position(|&id| id == k) {
            Some(i) => &self.buf.regions[i],
            None => self.base.region(k as usize),
        }
    }

    /// Moves a block of `n_b` pixels with feature sums `s_b` from `a` to `b`.
    pub(super) fn apply(&mut self, n_b: f64, s_b: &[f64; D], a: u32, b: u32) {
        let buf = &mut *self.buf;
        for (k, sign) in [(a, -1.0), (b, 1.0)] {
            let i = match buf.ids.iter().position(|&id| id == k) {
                Some(i) => i,
                None => {
                    buf.ids.push(k);
                    buf.deltas.push(Delta {
                        count: 0.0,
                        sum: [0.0; D],
                    });
                    buf.regions.push(*self.base.region(k as usize));
                    buf.ids.len() - 1
                }
            };
            let delta = &mut buf.deltas[i];
            delta.count += sign * n_b;
            for (d, &v) in delta.sum.iter_mut().zip(s_b) {
                *d += sign * v;
            }
            let k = k as usize;
            let count = self.base.regions[k].count + delta.count;
            let sum: [f64; D] = std::array::from_fn(|d| self.base.sum[k][d] + delta.sum[d]);
            buf.regions[i].count = count;
            buf.regions[i].mean = mean_of(&sum, count);
        }
    }
}

#[inline]
fn add<const D: usize>(acc: &mut [f64; D], s: &[f64; D]) {
    for d in 0..D {
        acc[d] += s[d];
    }
}

#[inline]
pub(super) fn mean_of<const D: usize>(s: &[f64; D], n: f64) -> [f64; D] {
    let inv = if n > 0.0 { 1.0 / n } else { 0.0 };
    std::array::from_fn(|d| s[d] * inv)
}

#[inline]
fn dist2<const D: usize>(a: &[f64; D], b: &[f64; D]) -> f64 {
    let mut acc = 0.0;
    for d in 0..D {
        let t = a[d] - b[d];
        acc += t * t;
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The summed SSE of groups of 1-D values.
    fn sse(groups: &[Vec<f64>]) -> f64 {
        groups
            .iter()
            .map(|g| {
                let m = g.iter().sum::<f64>() / g.len() as f64;
                g.iter().map(|v| (v - m) * (v - m)).sum::<f64>()
            })
            .sum()
    }

    #[test]
    fn feature_delta_is_the_change_of_the_sum_of_squares() {
        // Superpixel 0 holds blocks {1, 2} and {9}; superpixel 1 holds {7, 8}.
        let blocks: [(Vec<f64>, u32); 3] =
            [(vec![1.0, 2.0], 0), (vec![9.0], 0), (vec![7.0, 8.0], 1)];
        let sums: Vec<[f64; 1]> = blocks.iter().map(|(v, _)| [v.iter().sum()]).collect();
        let labels: Vec<u32> = blocks.iter().map(|b| b.1).collect();
        let stats = Stats::<1>::new(
            2,
            &labels,
            blocks.iter().map(|b| b.0.len() as u32),
            &sums,
            0.25,
        );
        let before = sse(&[vec![1.0, 2.0, 9.0], vec![7.0, 8.0]]);
        let after = sse(&[vec![1.0, 2.0], vec![9.0, 7.0, 8.0]]);
        let delta = feature_delta(1.0, &[9.0], stats.region(0), stats.region(1));
        assert!(
            (delta - (after - before)).abs() < 1e-9,
            "{delta} vs {}",
            after - before
        );
        assert!(delta < 0.0);
    }

    #[test]
    fn overlay_sees_its_own_moves_and_hands_them_back() {
        let sums = [[2.0, 4.0], [6.0, 0.0], [1.0, 1.0]];
        let mut stats = Stats::<2>::new(3, &[0, 1, 2], [2, 2, 1].into_iter(), &sums, 0.5);
        let min_size: Vec<f64> = stats.regions.iter().map(|r| r.min_size).collect();
        assert_eq!(min_size, [1.0, 1.0, 0.5]);
        let mut buf = OverlayBuf::default();
        let mut overlay = Overlay::new(&stats, &mut buf);
        overlay.apply(2.0, &[2.0, 4.0], 0, 1);
        assert_eq!(overlay.region(0).count, 0.0);
        assert_eq!(overlay.region(1).count, 4.0);
        assert_eq!(overlay.region(1).mean, [2.0, 1.0]);
        // Untouched superpixels read through to the shared statistics.
        assert_eq!(overlay.region(2).mean, [1.0, 1.0]);
        let deltas: Vec<_> = buf.drain().collect();
        assert_eq!(deltas.iter().map(|d| d.0).collect::<Vec<_>>(), [0, 1]);
        for (k, d) in &deltas {
            stats.apply(*k as usize, d);
        }
        assert!(buf.drain().next().is_none());
        let count: Vec<f64> = stats.regions.iter().map(|r| r.count).collect();
        assert_eq!(count, [0.0, 4.0, 1.0]);
        assert_eq!(stats.region(1).mean, [2.0, 1.0]);
    }

    #[test]
    fn size_delta_counts_the_shortfall() {
        let sums = [[0.0], [0.0]];
        let stats = Stats::<1>::new(2, &[0, 1], [8, 8].into_iter(), &sums, 0.5);
        // 0 falls from 8 to 2 pixels: 2 short of its minimum of 4.
        let (a, b) = (stats.region(0), stats.region(1));
        assert_eq!(size_delta(3.0, 6.0, a, b), 6.0);
        assert_eq!(size_delta(3.0, 4.0, a, b), 0.0);
        assert_eq!(size_delta(0.0, 6.0, a, b), 0.0);
    }
}
