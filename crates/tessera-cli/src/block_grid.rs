//! The order in which a tiled run hands its blocks to the streaming outputs that need their
//! neighbours (the overlay preview, the full-size overlay): raster order of a grid. A row of
//! blocks shares its top and height, each block starts where the previous one ended, and the
//! next row starts at x = 0 below the last. Columns may split differently from row to row.

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

#[cfg(test)]
mod tests {
    use super::*;

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
