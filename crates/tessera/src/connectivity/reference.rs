//! The connectivity enforcement as it was before it worked on runs, kept verbatim for the
//! tests: the faster version must give bit-identical segmentations. `cut_large` and `find`
//! did not change and are shared with it.

use super::{cut_large, find};
use crate::segmentation::{Segmentation, UNLABELLED};

/// `enforce_connectivity` once the size is checked.
pub(super) fn connect(
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
        cut_large(w, h, &mut out, &mut sizes, &mut Vec::new(), max_size);
    }
    (out, sizes)
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
