//! Connected components of a label map, and SLIC's connectivity enforcement.
//!
//! Written here rather than taken from `imageproc::region_labelling`, which labels regions
//! of equal *pixel value* in an image of at most `u32` values but has neither a size cap nor
//! the merge of small regions into a neighbour that SLIC's post-processing needs; a single
//! breadth-first pass does both.

use crate::error::Result;
use crate::segmentation::{Segmentation, UNLABELLED, check_len};

/// Splits every label into its 4-connected pieces; each piece becomes a segment, numbered in
/// raster order of its first pixel. Unlabelled pixels stay unlabelled.
///
/// ```
/// let seg = tessera::connectivity::split_components(3, 1, &[5, 6, 5])?;
/// assert_eq!(seg.labels(), &[0, 1, 2]);
/// # Ok::<(), tessera::Error>(())
/// ```
///
/// # Errors
/// [`Error::SizeMismatch`](crate::Error::SizeMismatch) when `labels` does not hold `width * height` labels, or is empty.
pub fn split_components(width: u32, height: u32, labels: &[u32]) -> Result<Segmentation> {
    enforce_connectivity(width, height, labels, 0, usize::MAX)
}

/// [`split_components`] for a label map whose size is known to be right.
pub(crate) fn split_checked(seg: &Segmentation) -> Segmentation {
    connect(seg.width(), seg.height(), seg.labels(), 0, usize::MAX)
}

/// SLIC's post-processing (Achanta et al. 2012; scikit-image's `min_size_factor` and
/// `max_size_factor`): splits every label into 4-connected regions, cutting a region once it
/// holds `max_size` pixels (grown breadth-first from its first pixel in raster order), then
/// merges every region of fewer than `min_size` pixels into the neighbouring region with which
/// it shares the longest border. Small regions are merged smallest first; a region that has
/// no neighbour (an island inside a mask) stays as it is.
///
/// Unlike scikit-image, which merges a small region into whichever region was numbered next
/// to its first pixel, the longest-border rule keeps fragments with the superpixel that
/// surrounds them, so merges do not chain into sprawling regions.
///
/// The result's segments are each one 4-connected region, numbered in raster order.
///
/// # Errors
/// [`Error::SizeMismatch`](crate::Error::SizeMismatch) when `labels` does not hold `width * height` labels, or is empty.
pub fn enforce_connectivity(
    width: u32,
    height: u32,
    labels: &[u32],
    min_size: usize,
    max_size: usize,
) -> Result<Segmentation> {
    check_len(width, height, labels)?;
    Ok(connect(width, height, labels, min_size, max_size))
}

/// [`enforce_connectivity`] once the size is checked.
pub(crate) fn connect(
    width: u32,
    height: u32,
    labels: &[u32],
    min_size: usize,
    max_size: usize,
) -> Segmentation {
    let (w, h) = (width as usize, height as usize);
    let (comp, sizes) = components(w, h, labels, max_size.max(1));
    if min_size <= 1 || sizes.len() < 2 {
        let count = sizes.len() as u32;
        return Segmentation::from_parts(width, height, comp, count);
    }
    let adjacency = Borders::of(w, h, &comp, &sizes, min_size);
    let mut parent: Vec<u32> = (0..sizes.len() as u32).collect();
    let mut size: Vec<usize> = sizes.iter().map(|&s| s as usize).collect();
    let mut order: Vec<u32> = (0..sizes.len() as u32)
        .filter(|&c| (sizes[c as usize] as usize) < min_size)
        .collect();
    order.sort_by_key(|&c| (sizes[c as usize], c));
    let mut score: Vec<(u32, u32)> = Vec::new();
    for c in order {
        // `c` is still a root: a region's parent changes only when it is itself merged.
        if size[c as usize] >= min_size {
            continue;
        }
        score.clear();
        for &(nb, len) in adjacency.of_region(c) {
            let r = find(&mut parent, nb);
            if r == c {
                continue;
            }
            match score.iter_mut().find(|(root, _)| *root == r) {
                Some(entry) => entry.1 += len,
                None => score.push((r, len)),
            }
        }
        let best = score
            .iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|&(r, _)| r);
        if let Some(target) = best {
            parent[c as usize] = target;
            size[target as usize] += size[c as usize];
        }
    }
    // Number the merged regions in raster order of their first pixel.
    let mut number = vec![UNLABELLED; sizes.len()];
    let mut next = 0u32;
    let mut out = comp;
    for v in out.iter_mut() {
        if *v == UNLABELLED {
            continue;
        }
        let r = find(&mut parent, *v) as usize;
        if number[r] == UNLABELLED {
            number[r] = next;
            next += 1;
        }
        *v = number[r];
    }
    Segmentation::from_parts(width, height, out, next)
}

/// The 4-connected regions of equal label, each cut at `max_size` pixels: one region number
/// per pixel (unlabelled pixels stay unlabelled) and the sizes.
///
/// Regions are found on runs of equal labels (union-find of runs that touch the run above),
/// which is several times faster than a pixel flood fill on superpixel maps; the rare region
/// above `max_size` is then cut breadth-first from its first pixel, as scikit-image does.
fn components(w: usize, h: usize, labels: &[u32], max_size: usize) -> (Vec<u32>, Vec<u32>) {
    // Runs of equal labels, row by row.
    let mut runs: Vec<(u32, u32, u32)> = Vec::new(); // (x0, x1, label), x1 exclusive
    let mut row_start = Vec::with_capacity(h + 1);
    for y in 0..h {
        row_start.push(runs.len());
        let row = &labels[y * w..(y + 1) * w];
        let mut x = 0;
        while x < w {
            let l = row[x];
            let x0 = x;
            while x < w && row[x] == l {
                x += 1;
            }
            runs.push((x0 as u32, x as u32, l));
        }
    }
    row_start.push(runs.len());
    // Union runs with the touching runs of the same label in the row above; the root is
    // always the earliest run, so regions come out in raster order of their first pixel.
    let mut parent: Vec<u32> = (0..runs.len() as u32).collect();
    for y in 1..h {
        let (mut i, i_end) = (row_start[y - 1], row_start[y]);
        let (mut j, j_end) = (row_start[y], row_start[y + 1]);
        while i < i_end && j < j_end {
            let (a0, a1, la) = runs[i];
            let (b0, b1, lb) = runs[j];
            if a0 < b1 && b0 < a1 && la == lb && la != UNLABELLED {
                let (ra, rb) = (find(&mut parent, i as u32), find(&mut parent, j as u32));
                let (lo, hi) = (ra.min(rb), ra.max(rb));
                parent[hi as usize] = lo;
            }
            if a1 <= b1 {
                i += 1;
            } else {
                j += 1;
            }
        }
    }
    let mut id_of_root = vec![UNLABELLED; runs.len()];
    let mut sizes: Vec<u32> = Vec::new();
    let mut out = vec![UNLABELLED; w * h];
    for y in 0..h {
        for (r, &(x0, x1, l)) in runs
            .iter()
            .enumerate()
            .take(row_start[y + 1])
            .skip(row_start[y])
        {
            if l == UNLABELLED {
                continue;
            }
            let root = find(&mut parent, r as u32) as usize;
            if id_of_root[root] == UNLABELLED {
                id_of_root[root] = sizes.len() as u32;
                sizes.push(0);
            }
            let id = id_of_root[root];
            sizes[id as usize] += x1 - x0;
            out[y * w + x0 as usize..y * w + x1 as usize].fill(id);
        }
    }
    if sizes.iter().any(|&s| s as usize > max_size) {
        cut_large(w, h, &mut out, &mut sizes, max_size);
    }
    (out, sizes)
}

/// Cuts every region larger than `max_size` into pieces grown breadth-first from the first
/// unassigned pixel in raster order, each of at most `max_size` pixels. The first piece keeps
/// the region's number; the others get new numbers.
fn cut_large(w: usize, h: usize, comp: &mut [u32], sizes: &mut Vec<u32>, max_size: usize) {
    let large: Vec<bool> = sizes.iter().map(|&s| s as usize > max_size).collect();
    let mut done = vec![false; comp.len()];
    let mut queue: Vec<u32> = Vec::new();
    let mut first_piece = vec![true; sizes.len()];
    for start in 0..comp.len() {
        let c = comp[start];
        if done[start] || c == UNLABELLED || !large[c as usize] {
            continue;
        }
        let id = if std::mem::replace(&mut first_piece[c as usize], false) {
            c
        } else {
            sizes.push(0);
            sizes.len() as u32 - 1
        };
        queue.clear();
        queue.push(start as u32);
        done[start] = true;
        let mut head = 0;
        while head < queue.len() && queue.len() < max_size {
            let p = queue[head] as usize;
            head += 1;
            let (x, y) = (p % w, p / w);
            let neighbours = [
                (x > 0).then(|| p - 1),
                (x + 1 < w).then(|| p + 1),
                (y > 0).then(|| p - w),
                (y + 1 < h).then(|| p + w),
            ];
            for q in neighbours.into_iter().flatten() {
                if !done[q] && comp[q] == c && queue.len() < max_size {
                    done[q] = true;
                    queue.push(q as u32);
                }
            }
        }
        for &p in &queue {
            comp[p as usize] = id;
        }
        sizes[id as usize] = queue.len() as u32;
    }
}

/// Border lengths between regions: for each region smaller than a size, its neighbours and
/// the number of 4-neighbour pixel pairs they share (compressed rows; larger regions have
/// none listed, as they are never merged).
struct Borders {
    start: Vec<usize>,
    entries: Vec<(u32, u32)>,
}

impl Borders {
    fn of(w: usize, h: usize, comp: &[u32], sizes: &[u32], min_size: usize) -> Self {
        let regions = sizes.len();
        let small = |c: u32| (sizes[c as usize] as usize) < min_size;
        // Calls `f(a, b)` for every 4-neighbour pixel pair of different regions, in both
        // directions, where the first region is small.
        let for_each_pair = |f: &mut dyn FnMut(u32, u32)| {
            for y in 0..h {
                let row = &comp[y * w..(y + 1) * w];
                let below = (y + 1 < h).then(|| &comp[(y + 1) * w..(y + 2) * w]);
                for x in 0..w {
                    let a = row[x];
                    let mut pair = |b: u32| {
                        if a != b && a != UNLABELLED && b != UNLABELLED {
                            if small(a) {
                                f(a, b);
                            }
                            if small(b) {
                                f(b, a);
                            }
                        }
                    };
                    if x + 1 < w {
                        pair(row[x + 1]);
                    }
                    if let Some(below) = below {
                        pair(below[x]);
                    }
                }
            }
        };
        // Counting sort by the first region: count, place, then total each region's list.
        let mut start = vec![0usize; regions + 1];
        for_each_pair(&mut |a, _| start[a as usize + 1] += 1);
        for i in 1..=regions {
            start[i] += start[i - 1];
        }
        let mut cursor = start.clone();
        let mut neighbours = vec![0u32; start[regions]];
        for_each_pair(&mut |a, b| {
            neighbours[cursor[a as usize]] = b;
            cursor[a as usize] += 1;
        });
        let mut entries = Vec::new();
        let mut out_start = vec![0usize; regions + 1];
        for r in 0..regions {
            out_start[r] = entries.len();
            let list = &mut neighbours[start[r]..start[r + 1]];
            list.sort_unstable();
            for run in list.chunk_by(|x, y| x == y) {
                entries.push((run[0], run.len() as u32));
            }
        }
        out_start[regions] = entries.len();
        Borders {
            start: out_start,
            entries,
        }
    }

    fn of_region(&self, c: u32) -> &[(u32, u32)] {
        &self.entries[self.start[c as usize]..self.start[c as usize + 1]]
    }
}

fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let grand = parent[parent[x as usize] as usize];
        parent[x as usize] = grand;
        x = grand;
    }
    x
}

#[cfg(test)]
mod reference;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use crate::algorithm::Superpixels;
    use crate::image::Mask;
    use crate::slic::Slic;
    use crate::test_support::noisy_image;
    use proptest::prelude::*;

    /// `connect` against the reference implementation, labels and count.
    fn same_as_reference(w: u32, h: u32, labels: &[u32], min: usize, max: usize) {
        let new = connect(w, h, labels, min, max);
        let old = reference::connect(w, h, labels, min, max);
        assert_eq!(new.count(), old.count(), "{w}x{h} min {min} max {max}");
        assert_eq!(new.labels(), old.labels(), "{w}x{h} min {min} max {max}");
    }

    /// Random label maps with few labels, so that fragments and small regions abound, and
    /// with unlabelled pixels at a rate of `holes` in 16.
    fn random_labels(n: usize, labels: u64, holes: u64, seed: u64) -> Vec<u32> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if (x >> 40) % 16 < holes {
                    UNLABELLED
                } else {
                    (x % labels) as u32
                }
            })
            .collect()
    }

    fn size_limit() -> impl Strategy<Value = usize> {
        prop_oneof![0usize..3, 0usize..40, Just(1000), Just(usize::MAX)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn matches_the_reference(
            w in 1u32..24, h in 1u32..24, labels in 1u64..6, holes in prop_oneof![Just(0u64), 0u64..8],
            min in size_limit(), max in size_limit(), seed in any::<u64>()
        ) {
            let map = random_labels((w * h) as usize, labels, holes, seed);
            same_as_reference(w, h, &map, min, max);
        }

        #[test]
        fn matches_the_reference_on_blocky_maps(
            w in 1u32..40, h in 1u32..40, labels in 1u64..8, holes in 0u64..3,
            min in size_limit(), max in size_limit(), seed in any::<u64>()
        ) {
            // Rectangles of random labels with sprinkled noise: long runs, as in superpixel
            // maps, plus fragments.
            let noise = random_labels((w * h) as usize, labels, holes, seed);
            let map: Vec<u32> = (0..(w * h) as usize)
                .map(|i| {
                    let (x, y) = (i as u32 % w, i as u32 / w);
                    if noise[i] == UNLABELLED || (seed >> (i % 61)) & 7 == 0 {
                        noise[i]
                    } else {
                        (x / 5 + 3 * (y / 4)) % labels as u32
                    }
                })
                .collect();
            same_as_reference(w, h, &map, min, max);
        }
    }

    #[test]
    fn matches_the_reference_on_slic_output() {
        for (seed, (w, h)) in [(1, (97, 61)), (2, (160, 120)), (3, (64, 200))] {
            let img = noisy_image(w, h, 3, seed);
            for k in [20, 150, 600] {
                let slic = Slic {
                    n_segments: k,
                    enforce_connectivity: false,
                    ..Slic::default()
                };
                let raw = slic.segment(&img).unwrap();
                // The inside of a disc, so that unlabelled pixels border the regions.
                let inside: Vec<bool> = (0..w * h)
                    .map(|i| {
                        let (x, y) = ((i % w) as i64 - w as i64 / 2, (i / w) as i64 - h as i64 / 2);
                        x * x + y * y < (w.min(h) as i64 / 2).pow(2)
                    })
                    .collect();
                let mask = Mask::new(w, h, inside).unwrap();
                let masked = slic.segment_masked(&img, &mask).unwrap();
                for seg in [&raw, &masked] {
                    let nominal = (w * h) as usize / k as usize;
                    for (min, max) in [
                        (nominal / 2, 3 * nominal),
                        (nominal / 4, nominal),
                        (nominal, usize::MAX),
                        (0, usize::MAX),
                        (2, 5),
                    ] {
                        same_as_reference(w, h, seg.labels(), min, max);
                    }
                }
            }
        }
    }

    #[test]
    fn splits_a_label_in_two() {
        let s = split_components(3, 1, &[5, 6, 5]).unwrap();
        assert_eq!(s.labels(), &[0, 1, 2]);
    }

    #[test]
    fn merges_small_regions() {
        // A single pixel of label 9 inside label 1 joins label 1's region.
        let labels = [1, 1, 1, 1, 9, 1, 1, 1, 1];
        let s = enforce_connectivity(3, 3, &labels, 2, usize::MAX).unwrap();
        assert_eq!(s.count(), 1);
    }

    #[test]
    fn caps_region_size() {
        let s = enforce_connectivity(4, 1, &[0, 0, 0, 0], 0, 2).unwrap();
        assert_eq!(s.labels(), &[0, 0, 1, 1]);
    }

    #[test]
    fn masked_pixels_stay_out() {
        let u = UNLABELLED;
        let s = enforce_connectivity(3, 1, &[0, u, 0], 5, usize::MAX).unwrap();
        // Two separate regions, each too small but with no numbered neighbour to join.
        assert_eq!(s.labels(), &[0, u, 1]);
    }

    #[test]
    fn wrong_sizes_are_errors() {
        assert!(matches!(
            split_components(3, 2, &[0, 0, 0]),
            Err(Error::SizeMismatch(_))
        ));
        assert!(enforce_connectivity(u32::MAX, u32::MAX, &[0], 1, 1).is_err());
        assert!(enforce_connectivity(0, 0, &[], 1, 1).is_err());
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
            let s = enforce_connectivity(w, h, &labels, min, max).unwrap();
            prop_assert_eq!(s.disconnected_count(), 0);
            prop_assert!(s.sizes().iter().all(|&c| c > 0));
            prop_assert_eq!(s.unlabelled_count(), 0);
        }
    }
}
