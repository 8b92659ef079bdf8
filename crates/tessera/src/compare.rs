//! Two label maps of the same image compared as partitions: renumbering the segments is no
//! change. Meant for golden-image regression tests.
//!
//! ```
//! use tessera::{compare::compare, Segmentation};
//! let a = Segmentation::from_labels(4, 1, vec![0, 0, 1, 1])?;
//! let renumbered = Segmentation::from_labels(4, 1, vec![1, 1, 0, 0])?;
//! let c = compare(&a, &renumbered)?;
//! assert_eq!((c.changed_pixels, c.variation_of_information, c.adjusted_rand_index), (0, 0.0, 1.0));
//!
//! let moved = Segmentation::from_labels(4, 1, vec![0, 1, 1, 1])?;
//! let c = compare(&a, &moved)?;
//! assert_eq!(c.changed_pixels, 1);
//! assert_eq!(c.changed, vec![false, true, false, false]);
//! # Ok::<(), tessera::Error>(())
//! ```

use crate::contingency::{Contingency, dense_ids};
use crate::error::{Error, Result};
use crate::segmentation::Segmentation;

/// How far apart two partitions are.
///
/// [`UNLABELLED`](crate::UNLABELLED) pixels count as one more region in each map.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Number of changed pixels: those outside every matched pair of segments. The segments of
    /// the two maps are matched one to one, greedily by overlap: the pairs `(a, b)` are taken
    /// in decreasing order of `|a ∩ b|` (ties: the pair whose first pixel comes first in
    /// raster order), skipping a pair when `a` or `b` already has a partner. So a merge or a
    /// split of segments shows up as changed pixels (all but the largest piece), a
    /// renumbering as none, and swapping the two maps gives the same pixels.
    pub changed_pixels: usize,
    /// `changed_pixels / N`.
    pub changed_fraction: f64,
    /// Variation of information (Meilă 2007) in nats:
    /// `VI = H(A|B) + H(B|A) = -Σ_ij p_ij (ln(p_ij / p_i) + ln(p_ij / q_j))`,
    /// with `p_ij = |A_i ∩ B_j| / N`, `p_i = |A_i| / N`, `q_j = |B_j| / N`. 0 for the same
    /// partition.
    pub variation_of_information: f64,
    /// Adjusted Rand index (Hubert & Arabie 1985):
    /// `ARI = (Σ_ij C(n_ij) - E) / (½(Σ_i C(a_i) + Σ_j C(b_j)) - E)` with `C(x) = x(x-1)/2`,
    /// `E = Σ_i C(a_i) Σ_j C(b_j) / C(N)`. 1 for the same partition, about 0 for unrelated
    /// ones; 1 when the denominator is 0 (both maps a single segment, or both one segment
    /// per pixel).
    pub adjusted_rand_index: f64,
    /// One flag per pixel, row-major: was it changed?
    pub changed: Vec<bool>,
}

/// Compares two segmentations of the same image as partitions.
///
/// # Errors
/// [`Error::SizeMismatch`] when the two differ in size.
pub fn compare(a: &Segmentation, b: &Segmentation) -> Result<Comparison> {
    Error::check_sizes("first label map", a.shape(), "second", b.shape())?;
    let (ia, ka) = dense_ids(a);
    let (ib, kb) = dense_ids(b);
    let t = Contingency::new(&ia, ka, &ib, kb);
    let n = ia.len();

    // One-to-one matching, greedy by overlap: pairs are taken largest first (ties: the pair
    // met first in raster order), each segment joining at most one pair.
    let mut row_start = vec![0usize; ka as usize + 1];
    for &(i, _, _) in &t.cells {
        row_start[i as usize + 1] += 1;
    }
    for i in 0..ka as usize {
        row_start[i + 1] += row_start[i];
    }
    let cell_of = |i: u32, j: u32| {
        let row = &t.cells[row_start[i as usize]..row_start[i as usize + 1]];
        row_start[i as usize] + row.partition_point(|c| c.1 < j)
    };
    let mut first_pixel = vec![usize::MAX; t.cells.len()];
    for (p, (&i, &j)) in ia.iter().zip(ib.iter()).enumerate() {
        let c = cell_of(i, j);
        first_pixel[c] = first_pixel[c].min(p);
    }
    let mut order: Vec<usize> = (0..t.cells.len()).collect();
    order.sort_unstable_by_key(|&c| (std::cmp::Reverse(t.cells[c].2), first_pixel[c]));
    let mut partner_of_a = vec![u32::MAX; ka as usize];
    let mut b_taken = vec![false; kb as usize];
    for c in order {
        let (i, j, _) = t.cells[c];
        if partner_of_a[i as usize] == u32::MAX && !b_taken[j as usize] {
            partner_of_a[i as usize] = j;
            b_taken[j as usize] = true;
        }
    }
    let changed: Vec<bool> = ia
        .iter()
        .zip(ib.iter())
        .map(|(&i, &j)| partner_of_a[i as usize] != j)
        .collect();
    let changed_pixels = changed.iter().filter(|&&c| c).count();

    let nf = n as f64;
    let vi = -t
        .cells
        .iter()
        .map(|&(i, j, c)| {
            let c = c as f64;
            let (ai, bj) = (
                t.row_sizes[i as usize] as f64,
                t.col_sizes[j as usize] as f64,
            );
            c / nf * ((c / ai).ln() + (c / bj).ln())
        })
        .sum::<f64>();

    let pairs = |x: u64| x as u128 * x.saturating_sub(1) as u128 / 2;
    let index: u128 = t.cells.iter().map(|c| pairs(c.2)).sum();
    let sum_a: u128 = t.row_sizes.iter().map(|&x| pairs(x)).sum();
    let sum_b: u128 = t.col_sizes.iter().map(|&x| pairs(x)).sum();
    let total = pairs(n as u64);
    let expected = if total == 0 {
        0.0
    } else {
        sum_a as f64 * sum_b as f64 / total as f64
    };
    let max = (sum_a + sum_b) as f64 / 2.0;
    let ari = if max == expected {
        1.0
    } else {
        (index as f64 - expected) / (max - expected)
    };

    Ok(Comparison {
        changed_pixels,
        changed_fraction: changed_pixels as f64 / nf,
        // -0.0 and rounding residue for equal partitions: every term is exactly 0 then.
        variation_of_information: vi.max(0.0),
        adjusted_rand_index: ari,
        changed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segmentation::UNLABELLED;
    use proptest::prelude::*;

    fn seg(w: u32, h: u32, l: Vec<u32>) -> Segmentation {
        Segmentation::relabel_sequential(w, h, l).unwrap()
    }

    #[test]
    fn split_and_merge_are_changes() {
        let a = seg(6, 1, vec![0, 0, 0, 0, 1, 1]);
        // Split of segment 0 into 3 + 1: the smaller piece changed.
        let split = seg(6, 1, vec![0, 0, 0, 2, 1, 1]);
        let c = compare(&a, &split).unwrap();
        assert_eq!(c.changed, vec![false, false, false, true, false, false]);
        // The same seen from the other side (a merge) gives the same pixels.
        assert_eq!(compare(&split, &a).unwrap().changed, c.changed);
    }

    #[test]
    fn hand_worked_vi_and_ari() {
        // A = {0,1}{2,3}, B = {0,1,2,3}: H(A|B) = ln 2, H(B|A) = 0.
        let a = seg(4, 1, vec![0, 0, 1, 1]);
        let b = seg(4, 1, vec![0, 0, 0, 0]);
        let c = compare(&a, &b).unwrap();
        assert!((c.variation_of_information - 2f64.ln()).abs() < 1e-12);
        // index = C(2) + C(2) = 2, sum_a = 2, sum_b = C(4) = 6, E = 2 * 6 / 6 = 2,
        // max = 4: ARI = 0.
        assert_eq!(c.adjusted_rand_index, 0.0);
        assert_eq!(c.changed_pixels, 2);
        // A = {0,1}{2,3}{4,5}, B = {0,1,2}{3,4,5}: cells 2, 1, 1, 2, index = 1 + 0 + 0 + 1,
        // sum_a = 3, sum_b = 6, total = C(6) = 15, E = 1.2, max = 4.5: ARI = 0.8 / 3.3.
        let a = seg(6, 1, vec![0, 0, 1, 1, 2, 2]);
        let b = seg(6, 1, vec![0, 0, 0, 1, 1, 1]);
        let c = compare(&a, &b).unwrap();
        assert!((c.adjusted_rand_index - 0.8 / 3.3).abs() < 1e-12);
    }

    #[test]
    fn refuses_other_sizes() {
        let a = seg(2, 1, vec![0, 1]);
        let b = seg(1, 2, vec![0, 1]);
        assert!(matches!(compare(&a, &b), Err(Error::SizeMismatch(_))));
    }

    proptest! {
        #[test]
        fn renumbering_is_no_change(
            w in 1u32..10, h in 1u32..10, seed in any::<u64>(), k in 1u32..8, mult in 1u32..1000
        ) {
            let n = (w * h) as usize;
            let mut x = seed | 1;
            let labels: Vec<u32> = (0..n).map(|_| {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                if x % 13 == 0 { UNLABELLED } else { (x % k as u64) as u32 }
            }).collect();
            let renumbered: Vec<u32> = labels.iter()
                .map(|&l| if l == UNLABELLED { l } else { (k - 1 - l) * mult + 7 })
                .collect();
            let a = seg(w, h, labels);
            let b = seg(w, h, renumbered);
            let c = compare(&a, &b).unwrap();
            prop_assert_eq!(c.changed_pixels, 0);
            prop_assert_eq!(c.variation_of_information, 0.0);
            prop_assert_eq!(c.adjusted_rand_index, 1.0);
            prop_assert!(c.changed.iter().all(|&d| !d));
        }

        #[test]
        fn symmetric_and_bounded(w in 1u32..10, h in 1u32..10, s1 in any::<u64>(), s2 in any::<u64>()) {
            let n = (w * h) as usize;
            let random = |seed: u64| {
                let mut x = seed | 1;
                (0..n).map(|_| { x ^= x << 13; x ^= x >> 7; x ^= x << 17; (x % 5) as u32 }).collect::<Vec<_>>()
            };
            let a = seg(w, h, random(s1));
            let b = seg(w, h, random(s2));
            let ab = compare(&a, &b).unwrap();
            let ba = compare(&b, &a).unwrap();
            prop_assert_eq!(ab.changed_pixels, ba.changed_pixels);
            prop_assert!((ab.variation_of_information - ba.variation_of_information).abs() < 1e-12);
            prop_assert!((ab.adjusted_rand_index - ba.adjusted_rand_index).abs() < 1e-12);
            prop_assert!(ab.variation_of_information >= 0.0);
            prop_assert!(ab.adjusted_rand_index <= 1.0 + 1e-12);
            prop_assert!((0.0..=1.0).contains(&ab.changed_fraction));
        }
    }
}
