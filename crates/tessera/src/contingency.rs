//! The intersection table of two partitions of the same pixels, shared by the superpixel
//! metrics and the partition comparison.

use crate::segmentation::{Segmentation, UNLABELLED};
use std::borrow::Cow;
use std::collections::HashMap;

/// Above this many `rows * cols` cells the table is built by sorting pixel keys instead of
/// counting into a dense array (16 MiB of `u32` counters).
const DENSE_CELLS: usize = 1 << 22;

/// A label map as dense ids `0..count`: the segmentation's labels, with every
/// [`UNLABELLED`] pixel given the extra id `seg.count()` (one region of its own, as a
/// benchmark that reads the map from a file sees it).
pub(crate) fn dense_ids(seg: &Segmentation) -> (Cow<'_, [u32]>, u32) {
    let labels = seg.labels();
    if labels.contains(&UNLABELLED) {
        let extra = seg.count();
        let ids = labels
            .iter()
            .map(|&l| if l == UNLABELLED { extra } else { l })
            .collect();
        (Cow::Owned(ids), extra + 1)
    } else {
        (Cow::Borrowed(labels), seg.count())
    }
}

/// Renumbers an arbitrary `u32` label map to `0..count` in order of first appearance, every
/// value (including `u32::MAX`) being a label. Returns the ids and `count`.
pub(crate) fn densify(labels: &[u32]) -> (Vec<u32>, u32) {
    let mut map: HashMap<u32, u32> = HashMap::new();
    let mut out = Vec::with_capacity(labels.len());
    let (mut last, mut last_id) = (None, 0u32);
    for &l in labels {
        // Runs of equal labels are the common case: skip the hash lookup for them.
        if last != Some(l) {
            let next = map.len() as u32;
            last_id = *map.entry(l).or_insert(next);
            last = Some(l);
        }
        out.push(last_id);
    }
    (out, map.len() as u32)
}

/// The non-empty cells `|A_i ∩ B_j|` of two dense label maps of the same length, with the
/// sizes of every `A_i` and `B_j`.
pub(crate) struct Contingency {
    /// `(i, j, |A_i ∩ B_j|)` for every non-empty intersection, sorted by `i`, then `j`.
    pub cells: Vec<(u32, u32, u64)>,
    /// `|A_i|` for `i` in `0..rows`.
    pub row_sizes: Vec<u64>,
    /// `|B_j|` for `j` in `0..cols`.
    pub col_sizes: Vec<u64>,
}

impl Contingency {
    /// Counts the intersections of `a` (ids `0..rows`) and `b` (ids `0..cols`).
    pub fn new(a: &[u32], rows: u32, b: &[u32], cols: u32) -> Self {
        debug_assert_eq!(a.len(), b.len());
        let (nr, nc) = (rows as usize, cols as usize);
        let mut row_sizes = vec![0u64; nr];
        let mut col_sizes = vec![0u64; nc];
        for (&i, &j) in a.iter().zip(b) {
            row_sizes[i as usize] += 1;
            col_sizes[j as usize] += 1;
        }
        let cells = if nr.saturating_mul(nc) <= DENSE_CELLS {
            let mut table = vec![0u32; nr * nc];
            for (&i, &j) in a.iter().zip(b) {
                table[i as usize * nc + j as usize] += 1;
            }
            table
                .iter()
                .enumerate()
                .filter(|&(_, &c)| c > 0)
                .map(|(k, &c)| ((k / nc) as u32, (k % nc) as u32, c as u64))
                .collect()
        } else {
            let mut keys: Vec<u64> = a
                .iter()
                .zip(b)
                .map(|(&i, &j)| (i as u64) << 32 | j as u64)
                .collect();
            keys.sort_unstable();
            let mut cells: Vec<(u32, u32, u64)> = Vec::new();
            for k in keys {
                let (i, j) = ((k >> 32) as u32, k as u32);
                match cells.last_mut() {
                    Some(last) if last.0 == i && last.1 == j => last.2 += 1,
                    _ => cells.push((i, j, 1)),
                }
            }
            cells
        };
        Contingency {
            cells,
            row_sizes,
            col_sizes,
        }
    }

    /// Number of pixels.
    pub fn total(&self) -> u64 {
        self.row_sizes.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_sorted_paths_agree() {
        let a = [0, 0, 1, 1, 2, 2, 2, 0];
        let b = [1, 0, 0, 0, 1, 1, 0, 1];
        let t = Contingency::new(&a, 3, &b, 2);
        let want = vec![(0, 0, 1), (0, 1, 2), (1, 0, 2), (2, 0, 1), (2, 1, 2)];
        assert_eq!(t.cells, want);
        assert_eq!(t.row_sizes, vec![3, 2, 3]);
        assert_eq!(t.col_sizes, vec![4, 4]);
        // Claim a huge id space so the sorting path runs.
        let t = Contingency::new(&a, 3, &b, 1 << 21);
        assert_eq!(t.cells, want);
        assert_eq!(t.total(), 8);
    }

    #[test]
    fn densify_numbers_in_order_of_appearance() {
        assert_eq!(densify(&[9, 9, u32::MAX, 3, 9]), (vec![0, 0, 1, 2, 0], 3));
    }

    #[test]
    fn unlabelled_pixels_become_one_extra_region() {
        let seg = Segmentation::from_labels(3, 1, vec![0, UNLABELLED, 0]).unwrap();
        let (ids, k) = dense_ids(&seg);
        assert_eq!((ids.as_ref(), k), (&[0, 1, 0][..], 2));
    }
}
