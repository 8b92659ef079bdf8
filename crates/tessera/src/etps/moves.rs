//! Boundary moves: a block on a superpixel's boundary joins the 4-neighbouring superpixel
//! that lowers the energy most, if any does and if its own superpixel stays connected.
//!
//! **Topology.** Superpixel `A` stays 4-connected without block `p` exactly when removing `p`
//! cuts no path, and every path through `p` enters and leaves it through `p`'s 4-neighbours
//! in `A`. These are connected to each other without `p` if they are connected inside the
//! ring of `p`'s 8 neighbours (the ring is a cycle in which consecutive cells are
//! 4-adjacent); if they are not connected in the ring, a move could cut `A`, and it is
//! refused (a conservative, local test, as in ETPS and in digital topology's simple points).
//! The answer depends only on which ring cells are in `A`, 2⁸ patterns, tabulated at compile
//! time. The superpixel the block joins touches it, so it stays connected too; and a block
//! never leaves a superpixel it is all of, so no superpixel vanishes.
//!
//! The order in which blocks are tried, and which run in parallel, is [`super::schedule`]'s.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use super::blocks::Level;
use super::energy::{Overlay, Weights, feature_delta, mean_of, size_delta};

/// Positions in the ring of 8 neighbours, clockwise from the top-left: `(row, column)`
/// offsets. Odd positions are the 4-neighbours (N, E, S, W).
const RING: [(isize, isize); 8] = [
    (-1, -1),
    (-1, 0),
    (-1, 1),
    (0, 1),
    (1, 1),
    (1, 0),
    (1, -1),
    (0, -1),
];

/// Whether a block may leave its superpixel when the ring cells in that superpixel are the
/// set bits of the index (bit `k` for `RING[k]`).
static SIMPLE: [bool; 256] = simple_table();

const fn simple_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut p = 0;
    while p < 256 {
        t[p] = is_simple(p as u8);
        p += 1;
    }
    t
}

/// True when the set 4-neighbour bits (odd positions) of `p` are all in one cyclic run of
/// set bits, and there is at least one.
const fn is_simple(p: u8) -> bool {
    if p & 0b1010_1010 == 0 {
        return false;
    }
    if p == 0xFF {
        return true;
    }
    // Start the walk on a clear bit, so that every run closes within the walk.
    let mut start = 0;
    while (p >> start) & 1 == 1 {
        start += 1;
    }
    let mut runs_with_neighbour = 0;
    let (mut in_run, mut has_neighbour) = (false, false);
    let mut t = 1;
    while t <= 8 {
        let k = (start + t) % 8;
        if (p >> k) & 1 == 1 {
            if !in_run {
                in_run = true;
                has_neighbour = false;
            }
            if k % 2 == 1 {
                has_neighbour = true;
            }
        } else if in_run {
            if has_neighbour {
                runs_with_neighbour += 1;
            }
            in_run = false;
        }
        t += 1;
    }
    runs_with_neighbour == 1
}

/// No label: outside the image.
pub(super) const NONE: u32 = u32::MAX;

/// Moves below this energy change (in CIELAB² units) are not worth it; it also keeps
/// rounding noise from flipping a block back and forth.
const MIN_GAIN: f64 = 1e-6;

/// The block labels with a border of [`NONE`], so that the 8 neighbours of every block are
/// read without bounds tests. The labels are atomics so that the tiles of one colour
/// ([`super::schedule`]) can move their own blocks at the same time while reading their
/// neighbours' labels, which no tile of that colour changes; relaxed loads and stores are
/// plain moves on the usual targets.
pub(super) struct Padded {
    pub(super) rows: usize,
    pub(super) cols: usize,
    stride: usize,
    labels: Vec<AtomicU32>,
    /// Offsets of the ring positions ([`RING`]) in `labels`.
    ring: [isize; 8],
}

impl Padded {
    pub(super) fn new(level: &Level) -> Self {
        let (rows, cols) = (level.rows.count(), level.cols.count());
        let stride = cols + 2;
        let mut labels: Vec<AtomicU32> = (0..(rows + 2) * stride)
            .map(|_| AtomicU32::new(NONE))
            .collect();
        for (dst, src) in labels
            .chunks_exact_mut(stride)
            .skip(1)
            .zip(level.labels.chunks_exact(cols))
        {
            for (d, &s) in dst[1..=cols].iter_mut().zip(src) {
                *d.get_mut() = s;
            }
        }
        let ring = RING.map(|(di, dj)| di * stride as isize + dj);
        Padded {
            rows,
            cols,
            stride,
            labels,
            ring,
        }
    }

    pub(super) fn write_back(&self, level: &mut Level) {
        for (i, dst) in level.labels.chunks_exact_mut(self.cols).enumerate() {
            for (j, d) in dst.iter_mut().enumerate() {
                *d = self.get(self.at(i, j));
            }
        }
    }

    #[inline]
    fn at(&self, i: usize, j: usize) -> usize {
        (i + 1) * self.stride + j + 1
    }

    #[inline]
    fn get(&self, p: usize) -> u32 {
        self.labels[p].load(Relaxed)
    }

    pub(super) fn on_boundary(&self, i: usize, j: usize) -> bool {
        let p = self.at(i, j);
        let a = self.get(p);
        [1, 3, 5, 7].iter().any(|&k| {
            let l = self.get(p.wrapping_add_signed(self.ring[k]));
            l != a && l != NONE
        })
    }

    /// Tries to move block `(i, j)`, seeing the statistics through the tile's `stats`;
    /// true if it moved. Only block `(i, j)`'s label changes.
    pub(super) fn try_move<const D: usize>(
        &self,
        level: &Level,
        sums: &[[f64; D]],
        stats: &mut Overlay<'_, D>,
        weights: Weights,
        i: usize,
        j: usize,
    ) -> bool {
        let p = self.at(i, j);
        let a = self.get(p);
        let ring: [u32; 8] = std::array::from_fn(|k| self.get(p.wrapping_add_signed(self.ring[k])));
        let [_, n, _, e, _, s, _, w] = ring;
        let other = |l: u32| l != a && l != NONE;
        if !(other(n) || other(e) || other(s) || other(w)) {
            return false;
        }
        let mut pattern = 0usize;
        for (k, &l) in ring.iter().enumerate() {
            pattern |= usize::from(l == a) << k;
        }
        if !SIMPLE[pattern] {
            return false;
        }
        let (h, wd) = (level.rows.size(i), level.cols.size(j));
        let area = f64::from(h * wd);
        let region_a = *stats.region(a);
        if region_a.count <= area {
            return false;
        }
        // Edge lengths shared with N, E, S, W.
        let (h, wd) = (f64::from(h), f64::from(wd));
        let sides = [(n, wd), (e, h), (s, wd), (w, h)];
        let edge_with = |c: u32| -> f64 {
            let mut len = 0.0;
            for &(l, side) in &sides {
                if l == c {
                    len += side;
                }
            }
            len
        };
        let edge_with_a = edge_with(a);
        let b = i * self.cols + j;
        let mu = mean_of(&sums[b], area);
        let mut best = (-MIN_GAIN, NONE);
        for k in 0..4 {
            let c = sides[k].0;
            if !other(c) || sides[..k].iter().any(|&(l, _)| l == c) {
                continue;
            }
            let region_c = stats.region(c);
            let delta = feature_delta(area, &mu, &region_a, region_c)
                + weights.boundary * (edge_with_a - edge_with(c))
                + size_delta(weights.size, area, &region_a, region_c);
            if delta < best.0 {
                best = (delta, c);
            }
        }
        if best.1 == NONE {
            return false;
        }
        stats.apply(area, &sums[b], a, best.1);
        self.labels[p].store(best.1, Relaxed);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_patterns() {
        let bit = |ks: &[usize]| ks.iter().fold(0u8, |p, &k| p | (1 << k));
        // Only N in A: an end of a line, removable.
        assert!(is_simple(bit(&[1])));
        // N and S only: p joins them, not removable.
        assert!(!is_simple(bit(&[1, 5])));
        // N and E joined through NE: removable.
        assert!(is_simple(bit(&[1, 2, 3])));
        // N and E without NE: not removable.
        assert!(!is_simple(bit(&[1, 3])));
        // Only diagonal cells: not a 4-neighbour of anything in A.
        assert!(!is_simple(bit(&[0, 2])));
        // Everything: interior, removable (a hole, but connected).
        assert!(is_simple(0xFF));
        // The top row and the left column through NW: removable.
        assert!(is_simple(bit(&[7, 0, 1, 2])));
        // Top row and bottom row, both touching: not removable.
        assert!(!is_simple(bit(&[0, 1, 2, 4, 5, 6])));
    }

    /// Brute-force check of the table: on a 3x3 window, removing the centre keeps the ring
    /// cells of A that are 4-neighbours of the centre connected through ring cells of A.
    #[test]
    fn table_matches_a_flood_fill_on_the_window() {
        for p in 0u16..256 {
            let in_a = |k: usize| (p >> k) & 1 == 1;
            let cell = |k: usize| (1 + RING[k].0, 1 + RING[k].1);
            let four: Vec<usize> = [1, 3, 5, 7].into_iter().filter(|&k| in_a(k)).collect();
            let expect = if four.is_empty() {
                false
            } else {
                // Flood fill from the first 4-neighbour over ring cells of A.
                let mut seen = [false; 8];
                let mut stack = vec![four[0]];
                seen[four[0]] = true;
                while let Some(k) = stack.pop() {
                    for (m, seen_m) in seen.iter_mut().enumerate() {
                        let (a, b) = (cell(k), cell(m));
                        let adjacent = (a.0 - b.0).abs() + (a.1 - b.1).abs() == 1;
                        if in_a(m) && !*seen_m && adjacent {
                            *seen_m = true;
                            stack.push(m);
                        }
                    }
                }
                four.iter().all(|&k| seen[k])
            };
            assert_eq!(SIMPLE[p as usize], expect, "pattern {p:08b}");
        }
    }
}
