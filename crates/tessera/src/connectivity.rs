//! Connected components of a label map, and SLIC's connectivity enforcement.
//!
//! Written here rather than taken from `imageproc::region_labelling`, which labels regions
//! of equal *pixel value* in an image of at most `u32` values but has neither a size cap nor
//! the merge of small regions into a neighbour that SLIC's post-processing needs; a single
//! breadth-first pass does both.

use crate::segmentation::{Segmentation, UNLABELLED};

/// Splits every label into its 4-connected pieces; each piece becomes a segment, numbered in
/// raster order of its first pixel. Unlabelled pixels stay unlabelled.
pub fn split_components(width: u32, height: u32, labels: &[u32]) -> Segmentation {
    enforce_connectivity(width, height, labels, 0, usize::MAX)
}

/// SLIC's post-processing (Achanta et al. 2012, as in scikit-image): walks the pixels in
/// raster order and grows each 4-connected region of equal label breadth-first, stopping a
/// region once it holds `max_size` pixels (the rest becomes regions of their own). A region
/// of fewer than `min_size` pixels is merged into an already numbered neighbouring region
/// (it has none only when it touches nothing numbered before it, and then it stays).
///
/// The result's segments are each one 4-connected region.
pub fn enforce_connectivity(
    width: u32,
    height: u32,
    labels: &[u32],
    min_size: usize,
    max_size: usize,
) -> Segmentation {
    let (w, h) = (width as usize, height as usize);
    let n = w * h;
    let max_size = max_size.max(1);
    let mut out = vec![UNLABELLED; n];
    let mut queue: Vec<u32> = Vec::with_capacity(1024);
    let mut next = 0u32;
    for start in 0..n {
        if out[start] != UNLABELLED || labels[start] == UNLABELLED {
            continue;
        }
        let label = labels[start];
        queue.clear();
        queue.push(start as u32);
        out[start] = next;
        let mut head = 0;
        while head < queue.len() && queue.len() < max_size {
            let p = queue[head] as usize;
            head += 1;
            let (x, y) = (p % w, p / w);
            let mut visit = |q: usize| {
                if out[q] == UNLABELLED && labels[q] == label && queue.len() < max_size {
                    out[q] = next;
                    queue.push(q as u32);
                }
            };
            if x > 0 {
                visit(p - 1);
            }
            if x + 1 < w {
                visit(p + 1);
            }
            if y > 0 {
                visit(p - w);
            }
            if y + 1 < h {
                visit(p + w);
            }
        }
        if queue.len() < min_size
            && let Some(adjacent) = numbered_neighbour(&queue, &out, next, w, h)
        {
            for &p in &queue {
                out[p as usize] = adjacent;
            }
            continue;
        }
        next += 1;
    }
    Segmentation::from_parts(width, height, out, next)
}

/// A neighbour of the region (pixels `region`, numbered `current`) that already has a final
/// number: the first one found, looking at the region's pixels in the order they were added.
fn numbered_neighbour(
    region: &[u32],
    out: &[u32],
    current: u32,
    w: usize,
    h: usize,
) -> Option<u32> {
    for &p in region {
        let p = p as usize;
        let (x, y) = (p % w, p / w);
        let candidates = [
            (y > 0).then(|| p - w),
            (x > 0).then(|| p - 1),
            (x + 1 < w).then(|| p + 1),
            (y + 1 < h).then(|| p + w),
        ];
        for q in candidates.into_iter().flatten() {
            let l = out[q];
            if l != UNLABELLED && l != current {
                return Some(l);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splits_a_label_in_two() {
        let s = split_components(3, 1, &[5, 6, 5]);
        assert_eq!(s.labels(), &[0, 1, 2]);
    }

    #[test]
    fn merges_small_regions() {
        // A single pixel of label 9 inside label 1 joins label 1's region.
        let labels = [1, 1, 1, 1, 9, 1, 1, 1, 1];
        let s = enforce_connectivity(3, 3, &labels, 2, usize::MAX);
        assert_eq!(s.count(), 1);
    }

    #[test]
    fn caps_region_size() {
        let s = enforce_connectivity(4, 1, &[0, 0, 0, 0], 0, 2);
        assert_eq!(s.labels(), &[0, 0, 1, 1]);
    }

    #[test]
    fn masked_pixels_stay_out() {
        let u = UNLABELLED;
        let s = enforce_connectivity(3, 1, &[0, u, 0], 5, usize::MAX);
        // Two separate regions, each too small but with no numbered neighbour to join.
        assert_eq!(s.labels(), &[0, u, 1]);
    }

    proptest! {
        #[test]
        fn every_segment_is_connected(
            w in 1u32..10, h in 1u32..10, min in 0usize..6, max in 1usize..40,
            seed in any::<u64>()
        ) {
            let mut x = seed | 1;
            let labels: Vec<u32> = (0..w * h).map(|_| {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17; (x % 4) as u32
            }).collect();
            let s = enforce_connectivity(w, h, &labels, min, max);
            prop_assert_eq!(s.disconnected_count(), 0);
            prop_assert!(s.sizes().iter().all(|&c| c > 0));
            prop_assert_eq!(s.unlabelled_count(), 0);
        }
    }
}
