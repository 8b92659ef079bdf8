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
//! **Order.** Every level starts with the boundary blocks in raster order. In each round
//! the queued blocks are visited in order (a move is seen at once by the blocks after it);
//! a block that moved queues itself and its 4 neighbours for the next round, each once, in
//! the order of the moves. Rounds stop when the queue is empty or after `rounds`. The
//! visit order is fixed, so the result is the same on any thread count.

use super::blocks::{BlockFeatures, Level};
use super::energy::{Stats, Weights};

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
const NONE: u32 = u32::MAX;

/// Moves below this energy change (in CIELAB² units) are not worth it; it also keeps
/// rounding noise from flipping a block back and forth.
const MIN_GAIN: f64 = 1e-6;

/// Runs the boundary moves of one level; `blocks` are the level's block features. Returns
/// the number of moves made.
pub(super) fn optimise<const D: usize>(
    level: &mut Level,
    blocks: &BlockFeatures,
    stats: &mut Stats<D>,
    weights: Weights,
    rounds: u32,
) -> usize {
    let mut grid = Padded::new(level);
    let (br, bc) = (grid.rows, grid.cols);
    // Blocks as `(row, column)`, so that no visit divides.
    let mut queue: Vec<(u32, u32)> = (0..br)
        .flat_map(|i| (0..bc).map(move |j| (i, j)))
        .filter(|&(i, j)| grid.on_boundary(i, j))
        .map(|(i, j)| (i as u32, j as u32))
        .collect();
    // `queued[b] == r` when `b` is already in round `r`'s queue.
    let mut queued = vec![u32::MAX; br * bc];
    let mut next = Vec::new();
    let mut moves = 0;
    for round in 0..rounds {
        if queue.is_empty() {
            break;
        }
        for &(i, j) in &queue {
            let (i, j) = (i as usize, j as usize);
            if grid.try_move(level, blocks, stats, weights, i, j) {
                moves += 1;
                let mut push = |i: usize, j: usize| {
                    let n = i * bc + j;
                    if queued[n] != round {
                        queued[n] = round;
                        next.push((i as u32, j as u32));
                    }
                };
                push(i, j);
                if i > 0 {
                    push(i - 1, j);
                }
                if j + 1 < bc {
                    push(i, j + 1);
                }
                if i + 1 < br {
                    push(i + 1, j);
                }
                if j > 0 {
                    push(i, j - 1);
                }
            }
        }
        std::mem::swap(&mut queue, &mut next);
        next.clear();
    }
    grid.write_back(level);
    moves
}

/// The block labels with a border of [`NONE`], so that the 8 neighbours of every block are
/// read without bounds tests.
struct Padded {
    rows: usize,
    cols: usize,
    stride: usize,
    labels: Vec<u32>,
    /// Offsets of the ring positions ([`RING`]) in `labels`.
    ring: [isize; 8],
}

impl Padded {
    fn new(level: &Level) -> Self {
        let (rows, cols) = (level.rows.count(), level.cols.count());
        let stride = cols + 2;
        let mut labels = vec![NONE; (rows + 2) * stride];
        for (dst, src) in labels
            .chunks_exact_mut(stride)
            .skip(1)
            .zip(level.labels.chunks_exact(cols))
        {
            dst[1..=cols].copy_from_slice(src);
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

    fn write_back(&self, level: &mut Level) {
        for (src, dst) in self
            .labels
            .chunks_exact(self.stride)
            .skip(1)
            .zip(level.labels.chunks_exact_mut(self.cols))
        {
            dst.copy_from_slice(&src[1..=self.cols]);
        }
    }

    #[inline]
    fn at(&self, i: usize, j: usize) -> usize {
        (i + 1) * self.stride + j + 1
    }

    fn on_boundary(&self, i: usize, j: usize) -> bool {
        let p = self.at(i, j);
        let a = self.labels[p];
        [1, 3, 5, 7].iter().any(|&k| {
            let l = self.labels[p.wrapping_add_signed(self.ring[k])];
            l != a && l != NONE
        })
    }

    /// Tries to move block `(i, j)`; true if it moved.
    fn try_move<const D: usize>(
        &mut self,
        level: &Level,
        blocks: &BlockFeatures,
        stats: &mut Stats<D>,
        weights: Weights,
        i: usize,
        j: usize,
    ) -> bool {
        let p = self.at(i, j);
        let a = self.labels[p];
        let ring: [u32; 8] =
            std::array::from_fn(|k| self.labels[p.wrapping_add_signed(self.ring[k])]);
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
        let a_idx = a as usize;
        if stats.count(a_idx) <= area {
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
        let mu = blocks.mean::<D>(b, i, j);
        let leave = stats.leave(weights.size, area, &mu, a_idx) + weights.boundary * edge_with_a;
        let mut best = (-MIN_GAIN, NONE);
        for k in 0..4 {
            let c = sides[k].0;
            if !other(c) || sides[..k].iter().any(|&(l, _)| l == c) {
                continue;
            }
            let delta = leave + stats.join(weights.size, area, &mu, c as usize)
                - weights.boundary * edge_with(c);
            if delta < best.0 {
                best = (delta, c);
            }
        }
        if best.1 == NONE {
            return false;
        }
        stats.apply(area, &mu, a_idx, best.1 as usize);
        self.labels[p] = best.1;
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
