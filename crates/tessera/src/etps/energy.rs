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

/// What a try reads of one superpixel, kept together: a try reads it for the block's own
/// superpixel and each neighbouring one, and in separate arrays every field was a cache line
/// of its own. With at most 4 colour lanes (`D <= 6`) it is one 64-byte line.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Region<const D: usize> {
    count: f64,
    /// `m_k`: the size below which the size term starts.
    min_size: f64,
    mean: [f64; D],
}

/// What is known of every superpixel: pixel count, size floor and feature mean (read by every
/// try), and feature sums (updated by a move).
pub(super) struct Stats<const D: usize> {
    regions: Vec<Region<D>>,
    sum: Vec<[f64; D]>,
}

impl<const D: usize> Stats<D> {
    /// Statistics of `k` superpixels from their blocks: `(superpixel, pixel count, feature
    /// mean)` of every block, added in block order. `min_size_factor` of each initial size
    /// gives `m_k`.
    pub(super) fn new(
        k: usize,
        blocks: impl Iterator<Item = (u32, f64, [f64; D])>,
        min_size_factor: f64,
    ) -> Self {
        let mut count = vec![0.0; k];
        let mut sum = vec![[0.0; D]; k];
        for (l, n, mu) in blocks {
            count[l as usize] += n;
            add_scaled(&mut sum[l as usize], n, &mu);
        }
        let regions = count
            .iter()
            .zip(&sum)
            .map(|(&n, s)| Region {
                count: n,
                min_size: n * min_size_factor,
                mean: mean_of(s, n),
            })
            .collect();
        Stats { regions, sum }
    }

    /// Pixel count of superpixel `k`.
    #[inline]
    pub(super) fn count(&self, k: usize) -> f64 {
        self.regions[k].count
    }

    /// The energy change, feature and (weighted by `w_size`) size terms, of a block of
    /// `n_b` pixels with feature mean `mu_b` leaving `a` (see the module docs); `a` must
    /// keep at least a pixel. A move's change is this plus [`Self::join`] of its target.
    #[inline]
    pub(super) fn leave(&self, w_size: f64, n_b: f64, mu_b: &[f64; D], a: usize) -> f64 {
        self.change(w_size, -n_b, mu_b, a)
    }

    /// The energy change of the same block joining `b`.
    #[inline]
    pub(super) fn join(&self, w_size: f64, n_b: f64, mu_b: &[f64; D], b: usize) -> f64 {
        self.change(w_size, n_b, mu_b, b)
    }

    /// The energy change when superpixel `k` gains `dn` pixels of feature mean `mu_b` (loses
    /// them when `dn < 0`): `dn · n / (n + dn) · |μ_k − μ_b|²` and the size term's change.
    #[inline]
    fn change(&self, w_size: f64, dn: f64, mu_b: &[f64; D], k: usize) -> f64 {
        let r = &self.regions[k];
        let feature = dn * r.count / (r.count + dn) * dist2(&r.mean, mu_b);
        feature + shortfall_change(w_size, r.min_size, r.count, dn)
    }

    /// Moves a block of `n_b` pixels with feature mean `mu_b` from `a` to `b`.
    pub(super) fn apply(&mut self, n_b: f64, mu_b: &[f64; D], a: usize, b: usize) {
        for (k, dn) in [(a, -n_b), (b, n_b)] {
            let (r, s) = (&mut self.regions[k], &mut self.sum[k]);
            r.count += dn;
            add_scaled(s, dn, mu_b);
            r.mean = mean_of(s, r.count);
        }
    }
}

/// The weighted size term's change when a superpixel of `n` pixels and size floor `min_size`
/// gains `dn`.
#[inline]
fn shortfall_change(w_size: f64, min_size: f64, n: f64, dn: f64) -> f64 {
    if w_size == 0.0 {
        return 0.0;
    }
    let short = |n: f64| (min_size - n).max(0.0);
    w_size * (short(n + dn) - short(n))
}

#[inline]
fn add_scaled<const D: usize>(acc: &mut [f64; D], n: f64, mu: &[f64; D]) {
    for d in 0..D {
        acc[d] += n * mu[d];
    }
}

#[inline]
fn mean_of<const D: usize>(s: &[f64; D], n: f64) -> [f64; D] {
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
    fn leave_and_join_are_the_change_of_the_sum_of_squares() {
        // Superpixel 0 holds blocks {1, 2} and {9}; superpixel 1 holds {7, 8}.
        let blocks: [(Vec<f64>, u32); 3] =
            [(vec![1.0, 2.0], 0), (vec![9.0], 0), (vec![7.0, 8.0], 1)];
        let stats = Stats::<1>::new(
            2,
            blocks.iter().map(|(v, l)| {
                let n = v.len() as f64;
                (*l, n, [v.iter().sum::<f64>() / n])
            }),
            0.25,
        );
        let before = sse(&[vec![1.0, 2.0, 9.0], vec![7.0, 8.0]]);
        let after = sse(&[vec![1.0, 2.0], vec![9.0, 7.0, 8.0]]);
        let delta = stats.leave(0.0, 1.0, &[9.0], 0) + stats.join(0.0, 1.0, &[9.0], 1);
        assert!(
            (delta - (after - before)).abs() < 1e-9,
            "{delta} vs {}",
            after - before
        );
        assert!(delta < 0.0);
    }

    #[test]
    fn apply_updates_counts_and_means() {
        let blocks = [(0, 2.0, [1.0, 2.0]), (1, 2.0, [3.0, 0.0])];
        let mut stats = Stats::<2>::new(2, blocks.into_iter(), 0.5);
        assert_eq!(
            [stats.regions[0].min_size, stats.regions[1].min_size],
            [1.0, 1.0]
        );
        stats.apply(2.0, &[1.0, 2.0], 0, 1);
        assert_eq!([stats.count(0), stats.count(1)], [0.0, 4.0]);
        assert_eq!(stats.regions[1].mean, [2.0, 1.0]);
    }

    #[test]
    fn leave_and_join_count_the_shortfall() {
        let blocks = [(0, 8.0, [0.0]), (1, 8.0, [0.0])];
        let stats = Stats::<1>::new(2, blocks.into_iter(), 0.5);
        // With every colour equal, only the size term changes. 0 falls from 8 to 2 pixels:
        // 2 short of its minimum of 4; 1 grows and owes nothing.
        let mu = [0.0];
        assert_eq!(stats.leave(3.0, 6.0, &mu, 0), 6.0);
        assert_eq!(stats.join(3.0, 6.0, &mu, 1), 0.0);
        assert_eq!(stats.leave(3.0, 4.0, &mu, 0), 0.0);
        assert_eq!(stats.leave(0.0, 6.0, &mu, 0), 0.0);
    }
}
