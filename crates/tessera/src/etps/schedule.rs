//! The order of the boundary moves of one level, and which of them run in parallel.
//!
//! **Tiles and colours.** The block grid is cut into tiles of about `tile_px` pixels a side,
//! and the tiles are coloured by the parity of their row and column, four colours. A move
//! of block `p` reads the labels of `p`'s 8 neighbours and changes only `p`'s; the
//! neighbours are in `p`'s tile or in one of the 8 tiles around it, and those all have
//! other colours. So while the tiles of one colour run, no tile reads a label another one
//! writes: they run in parallel, and the labels come out as if they had run one after
//! another, in any order. The topology test stays exact for the same reason: two blocks
//! that leave a superpixel in different tiles are not in each other's ring, so each stays
//! a simple point after the other's move, and every superpixel stays 4-connected.
//!
//! **Statistics.** Each tile sees the superpixel statistics as they were when its colour
//! pass began, plus its own moves ([`Overlay`]); after the pass, the tiles' changes are
//! added to the shared statistics in tile order. Nothing depends on which thread ran which
//! tile, so the result is the same on any thread count. With tiles of twice the grid step,
//! a superpixel rarely reaches into two tiles of one colour, so a tile seldom misses
//! another's change to a superpixel it uses.
//!
//! **Order.** A level starts with every boundary block queued in its tile, in raster order.
//! A round runs the four colours one after another; each tile tries its queued blocks in
//! order. A block that moved queues itself and its 4 neighbours (in their own tiles) for
//! the next round, each once, in the order of the tiles and the moves. Rounds stop when no
//! block is queued or after `rounds`.

use rayon::prelude::*;

use super::blocks::Level;
use super::energy::{Overlay, OverlayBuf, Stats, Weights};
use super::moves::Padded;

/// Below this many queued blocks a colour pass runs on the calling thread: the tiles do
/// the same work either way, and a handful of moves is not worth waking other threads.
const PARALLEL_MIN_BLOCKS: usize = 256;

/// The tiles of one level's block grid, numbered colour by colour (all tiles of colour 0
/// in raster order, then colour 1...), so that each colour's tiles are one slice.
struct Tiles {
    /// The tile row of every block row, and the tile column of every block column.
    tile_row: Vec<u32>,
    tile_col: Vec<u32>,
    /// The number of every tile, by tile row and column (`index[r * cols + c]`).
    index: Vec<u32>,
    cols: usize,
    /// Where each colour's tiles start, and the end.
    colour_starts: [usize; 5],
}

impl Tiles {
    /// Tiles of about `tile_px` pixels a side over `level`'s blocks, at least one block.
    fn new(level: &Level, tile_px: usize) -> Tiles {
        let axis = |count: usize, len: usize| -> (Vec<u32>, usize) {
            let per = ((tile_px * count + len / 2) / len.max(1)).max(1);
            (
                (0..count).map(|b| (b / per) as u32).collect(),
                count.div_ceil(per),
            )
        };
        let (tile_row, rows) = axis(level.rows.count(), level.rows.len());
        let (tile_col, cols) = axis(level.cols.count(), level.cols.len());
        let colour = |r: usize, c: usize| (r % 2) * 2 + c % 2;
        let mut index = vec![0; rows * cols];
        let mut colour_starts = [0; 5];
        let mut n = 0;
        for (k, start) in colour_starts.iter_mut().take(4).enumerate() {
            *start = n;
            for r in 0..rows {
                for c in 0..cols {
                    if colour(r, c) == k {
                        index[r * cols + c] = n as u32;
                        n += 1;
                    }
                }
            }
        }
        colour_starts[4] = n;
        Tiles {
            tile_row,
            tile_col,
            index,
            cols,
            colour_starts,
        }
    }

    fn count(&self) -> usize {
        self.colour_starts[4]
    }

    /// The tile of block `(i, j)`.
    #[inline]
    fn of(&self, i: usize, j: usize) -> usize {
        self.index[self.tile_row[i] as usize * self.cols + self.tile_col[j] as usize] as usize
    }
}

/// One tile's work: the blocks to try this round, those queued for the next, the blocks
/// that moved in this pass and the changes they made to the statistics.
struct Tile<const D: usize> {
    queue: Vec<u32>,
    next: Vec<u32>,
    moved: Vec<u32>,
    changes: OverlayBuf<D>,
}

/// Runs the boundary moves of one level; `sums` are the blocks' feature sums, `tile_px` the
/// tile side in pixels. Returns the number of moves made.
pub(super) fn optimise<const D: usize>(
    level: &mut Level,
    sums: &[[f64; D]],
    stats: &mut Stats<D>,
    weights: Weights,
    rounds: u32,
    tile_px: usize,
) -> usize {
    let grid = Padded::new(level);
    let (br, bc) = (grid.rows, grid.cols);
    let tiling = Tiles::new(level, tile_px);
    let mut tiles: Vec<Tile<D>> = (0..tiling.count())
        .map(|_| Tile {
            queue: Vec::new(),
            next: Vec::new(),
            moved: Vec::new(),
            changes: OverlayBuf::default(),
        })
        .collect();
    for i in 0..br {
        for j in 0..bc {
            if grid.on_boundary(i, j) {
                tiles[tiling.of(i, j)].queue.push((i * bc + j) as u32);
            }
        }
    }
    // `queued[b] == r` when `b` is already in round `r + 1`'s queue.
    let mut queued = vec![u32::MAX; br * bc];
    let mut moves = 0;
    for round in 0..rounds {
        if tiles.iter().all(|t| t.queue.is_empty()) {
            break;
        }
        for colour in 0..4 {
            let range = tiling.colour_starts[colour]..tiling.colour_starts[colour + 1];
            let run = |tile: &mut Tile<D>| {
                let mut overlay = Overlay::new(stats, &mut tile.changes);
                for &b in &tile.queue {
                    let (i, j) = (b as usize / bc, b as usize % bc);
                    if grid.try_move(level, sums, &mut overlay, weights, i, j) {
                        tile.moved.push(b);
                    }
                }
            };
            let colour_tiles = &mut tiles[range.clone()];
            let queued_blocks: usize = colour_tiles.iter().map(|t| t.queue.len()).sum();
            if queued_blocks < PARALLEL_MIN_BLOCKS {
                colour_tiles.iter_mut().for_each(run);
            } else {
                colour_tiles.par_iter_mut().for_each(run);
            }
            for t in range {
                for (k, delta) in tiles[t].changes.drain() {
                    stats.apply(k as usize, &delta);
                }
                let mut moved = std::mem::take(&mut tiles[t].moved);
                moves += moved.len();
                for &b in &moved {
                    let (i, j) = (b as usize / bc, b as usize % bc);
                    let mut push = |i: usize, j: usize| {
                        let n = i * bc + j;
                        if queued[n] != round {
                            queued[n] = round;
                            tiles[tiling.of(i, j)].next.push(n as u32);
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
                moved.clear();
                tiles[t].moved = moved;
            }
        }
        for tile in &mut tiles {
            std::mem::swap(&mut tile.queue, &mut tile.next);
            tile.next.clear();
        }
    }
    grid.write_back(level);
    moves
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::etps::blocks::Axis;

    /// The premise of the parallel passes: two blocks that are 8-neighbours are in one tile
    /// or in tiles of different colours.
    #[test]
    fn tiles_of_one_colour_never_touch() {
        for (h, w, cells, d, tile_px) in [
            (321, 481, (17, 24), 2, 40),
            (40, 33, (3, 2), 4, 5),
            (9, 7, (2, 3), 2, 1),
        ] {
            let mut level = Level::first(&Axis::even(h, cells.0), &Axis::even(w, cells.1), d);
            loop {
                let tiles = Tiles::new(&level, tile_px);
                let colour = |t: usize| {
                    (0..4)
                        .find(|&c| {
                            (tiles.colour_starts[c]..tiles.colour_starts[c + 1]).contains(&t)
                        })
                        .unwrap()
                };
                let (br, bc) = (level.rows.count(), level.cols.count());
                let mut seen = vec![false; tiles.count()];
                for i in 0..br {
                    for j in 0..bc {
                        let t = tiles.of(i, j);
                        seen[t] = true;
                        for (di, dj) in [(0, 1), (1, -1), (1, 0), (1, 1)] {
                            let (ni, nj) = (i + di as usize, j.wrapping_add_signed(dj));
                            if ni < br && nj < bc {
                                let u = tiles.of(ni, nj);
                                assert!(t == u || colour(t) != colour(u), "{t} and {u}");
                            }
                        }
                    }
                }
                assert!(seen.iter().all(|&s| s), "every tile holds a block");
                match level.split() {
                    Some(next) => level = next,
                    None => break,
                }
            }
        }
    }
}
