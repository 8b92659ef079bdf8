//! The order in which a tiled run hands its blocks to the streaming outputs that need their
//! neighbours (the overlay preview, the full-size overlay): raster order of a grid. A row of
//! blocks shares its top and height, each block starts where the previous one ended, and the
//! next row starts at x = 0 below the last. Columns may split differently from row to row.
//! Blocks come without extra rows or columns, so the outputs keep the last column of the
//! previous block and the last row of the previous row of blocks; [`differing_pairs`] gives
//! the neighbours with other labels that a block completes, inside it and across its left and
//! top edges.

use anyhow::{Result, bail};

/// Checks that blocks come in raster order of a grid over a `width` x `height` image.
#[derive(Debug, Clone)]
pub struct GridOrder {
    width: u32,
    height: u32,
    /// Where the next block must start in the current row of blocks.
    next_x: u32,
    /// Top and height of the current row of blocks (height 0: no block yet).
    row_top: u32,
    row_height: u32,
}

impl GridOrder {
    /// The order over a `width` x `height` image; no block has come yet.
    pub fn new(width: u32, height: u32) -> Self {
        GridOrder {
            width,
            height,
            next_x: 0,
            row_top: 0,
            row_height: 0,
        }
    }

    /// Accepts the block at `(x0, y0)` of `w` x `h` pixels, with its `rgb` samples and
    /// `labels`, if it is the next one and they are `w * h * 3` and `w * h`; `what` names the
    /// output in the error.
    pub fn accept_block(
        &mut self,
        what: &str,
        (x0, y0, w, h): (u32, u32, u32, u32),
        rgb: &[u8],
        labels: &[u32],
    ) -> Result<()> {
        let n = w as usize * h as usize;
        if rgb.len() != n * 3 || labels.len() != n {
            bail!(
                "{what}: the block {w}x{h} at ({x0}, {y0}) came with {} colour samples and {} labels, not {} and {n}",
                rgb.len(),
                labels.len(),
                n * 3
            );
        }
        self.accept(what, x0, y0, w, h)
    }

    /// Accepts the block at `(x0, y0)` of `w` x `h` pixels if it is the next one; `what` names
    /// the output in the error.
    pub fn accept(&mut self, what: &str, x0: u32, y0: u32, w: u32, h: u32) -> Result<()> {
        let inside = x0.checked_add(w).is_some_and(|r| r <= self.width)
            && y0.checked_add(h).is_some_and(|b| b <= self.height);
        if w == 0 || h == 0 || !inside {
            bail!(
                "{what}: the block {w}x{h} at ({x0}, {y0}) is empty or not inside the {}x{} image",
                self.width,
                self.height
            );
        }
        let row_done = self.row_height == 0 || self.next_x == self.width;
        let (want_x, want_y) = if row_done {
            (0, self.row_top + self.row_height)
        } else {
            (self.next_x, self.row_top)
        };
        if (x0, y0) != (want_x, want_y) || (!row_done && h != self.row_height) {
            bail!(
                "{what}: blocks must come in raster order of a grid; expected the block at ({want_x}, {want_y}){}, got {w}x{h} at ({x0}, {y0})",
                if row_done {
                    String::new()
                } else {
                    format!(" of height {}", self.row_height)
                }
            );
        }
        if row_done {
            self.row_top = y0;
            self.row_height = h;
        }
        self.next_x = x0 + w;
        Ok(())
    }

    /// Whether every block has come.
    pub fn complete(&self) -> bool {
        self.row_height > 0
            && self.row_top + self.row_height == self.height
            && self.next_x == self.width
    }

    /// Where the blocks stopped, for an error about a missing one: (x, top of its row).
    pub fn stopped_at(&self) -> (u32, u32) {
        if self.next_x == self.width {
            (0, self.row_top + self.row_height)
        } else {
            (self.next_x, self.row_top)
        }
    }
}

/// Two 4-neighbours with different labels, the first left of or above the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pair {
    /// Pixels `i` and `j` of the block (row-major indices).
    Inside(usize, usize),
    /// Row `r` of the column left of the block, and the block's first pixel of that row.
    Left(usize),
    /// Column `c` of the row above the block, and the block's pixel below it.
    Above(usize),
}

/// Calls `f` for every pair of 4-neighbours with different labels that the block of `labels`
/// (`w` wide, row-major) completes: inside it, and with `left` (the labels of the column
/// left of it, one per row) and `above` (the labels of the row above it, one per column)
/// where those exist.
pub fn differing_pairs(
    labels: &[u32],
    w: usize,
    left: Option<&[u32]>,
    above: Option<&[u32]>,
    mut f: impl FnMut(Pair),
) {
    let h = labels.len() / w.max(1);
    for row in 0..h {
        for col in 0..w {
            let i = row * w + col;
            if col + 1 < w && labels[i + 1] != labels[i] {
                f(Pair::Inside(i, i + 1));
            }
            if row + 1 < h && labels[i + w] != labels[i] {
                f(Pair::Inside(i, i + w));
            }
        }
    }
    if let Some(left) = left {
        for (row, &l) in left.iter().enumerate().take(h) {
            if l != labels[row * w] {
                f(Pair::Left(row));
            }
        }
    }
    if let Some(above) = above {
        for (col, &l) in above.iter().enumerate().take(w) {
            if l != labels[col] {
                f(Pair::Above(col));
            }
        }
    }
}

/// Pictures and their blocks for the tests of the outputs that take blocks.
#[cfg(test)]
pub mod testing {
    /// One block: `(x0, y0, w, h, rgb, labels)`.
    pub type Block = (u32, u32, u32, u32, Vec<u8>, Vec<u32>);

    /// RGB samples and labels `0..n` (each used) of a `w` x `h` picture whose boundaries run
    /// in both directions and cross the edges of any blocks.
    pub fn picture(w: u32, h: u32) -> (Vec<u8>, Vec<u32>) {
        let rgb = (0..w * h)
            .flat_map(|i| {
                let (x, y) = (i % w, i / w);
                [
                    (x * 5 % 256) as u8,
                    (y * 11 % 256) as u8,
                    ((x * y) % 256) as u8,
                ]
            })
            .collect();
        let mut ids = std::collections::HashMap::new();
        let labels = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                let raw = (x + 2 * y) / 7 + (y / 5) * 1000 + (x / 11) * 7;
                let next = ids.len() as u32;
                *ids.entry(raw).or_insert(next)
            })
            .collect();
        (rgb, labels)
    }

    /// The picture cut into blocks of `bw` x `bh` (`bw + widen` on odd rows of blocks, so
    /// that columns split differently from row to row), in raster order of blocks.
    pub fn blocks(
        w: u32,
        h: u32,
        bw: u32,
        bh: u32,
        widen: u32,
        rgb: &[u8],
        labels: &[u32],
    ) -> Vec<Block> {
        let mut out = Vec::new();
        for (row, y0) in (0..h).step_by(bh as usize).enumerate() {
            let ch = bh.min(h - y0);
            let bw = if row % 2 == 1 { bw + widen } else { bw };
            for x0 in (0..w).step_by(bw as usize) {
                let cw = bw.min(w - x0);
                let (mut brgb, mut blab) = (Vec::new(), Vec::new());
                for y in y0..y0 + ch {
                    let s = (y * w + x0) as usize;
                    brgb.extend_from_slice(&rgb[s * 3..(s + cw as usize) * 3]);
                    blab.extend_from_slice(&labels[s..s + cw as usize]);
                }
                out.push((x0, y0, cw, ch, brgb, blab));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pairs_are_every_differing_neighbour_once() {
        // 3 x 2:  1 1 2
        //         3 1 2
        let labels = [1, 1, 2, 3, 1, 2];
        let mut got = Vec::new();
        differing_pairs(&labels, 3, Some(&[1, 4]), Some(&[1, 0, 2]), |p| got.push(p));
        assert_eq!(
            got,
            [
                Pair::Inside(0, 3),
                Pair::Inside(1, 2),
                Pair::Inside(3, 4),
                Pair::Inside(4, 5),
                Pair::Left(1),
                Pair::Above(1),
            ]
        );
    }

    #[test]
    fn a_grid_in_raster_order_is_accepted_and_anything_else_refused() {
        let mut g = GridOrder::new(20, 10);
        let err = g.accept("t", 5, 0, 5, 5).unwrap_err();
        assert!(
            format!("{err:#}").contains("expected the block at (0, 0)"),
            "{err:#}"
        );
        g.accept("t", 0, 0, 10, 5).unwrap();
        let err = g.accept("t", 10, 0, 10, 4).unwrap_err();
        assert!(format!("{err:#}").contains("of height 5"), "{err:#}");
        let err = g.accept("t", 10, 0, 11, 5).unwrap_err();
        assert!(
            format!("{err:#}").contains("not inside the 20x10"),
            "{err:#}"
        );
        g.accept("t", 10, 0, 10, 5).unwrap();
        assert!(!g.complete());
        assert_eq!(g.stopped_at(), (0, 5));
        // The next row may split its columns differently.
        g.accept("t", 0, 5, 3, 5).unwrap();
        assert_eq!(g.stopped_at(), (3, 5));
        g.accept("t", 3, 5, 17, 5).unwrap();
        assert!(g.complete());
        let err = g.accept("t", 0, 10, 1, 1).unwrap_err();
        assert!(format!("{err:#}").contains("not inside"), "{err:#}");
    }
}
