//! The coarse-to-fine block hierarchy.
//!
//! At every level the image is cut into a *product grid* of blocks: the rows are cut into
//! consecutive pieces, the columns too, and a block is one row piece times one column piece.
//! Two blocks whose pixels touch along an edge are then neighbours in the block grid, so a
//! superpixel that is 4-connected on the block grid is 4-connected in pixels, and the
//! topology test of [`super::moves`] on blocks is a test on pixels. The superpixel grid
//! itself is the coarsest product grid (cells), each cell is cut into `d x d` blocks, and
//! every later level halves each piece longer than one pixel, until blocks are pixels.

use rayon::prelude::*;

/// One axis of a product grid: pieces `i` covering `starts[i]..starts[i + 1]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Axis {
    starts: Vec<u32>,
}

impl Axis {
    /// `n` pieces of nearly equal length (`1 <= n <= len`), cut at `round(i * len / n)`.
    pub(super) fn even(len: usize, n: usize) -> Axis {
        let n = n.clamp(1, len.max(1));
        let starts = (0..=n)
            .map(|i| ((i * len + n / 2) / n) as u32)
            .collect::<Vec<_>>();
        Axis { starts }
    }

    /// Number of pieces.
    pub(super) fn count(&self) -> usize {
        self.starts.len() - 1
    }

    /// Length of piece `i`, in pixels.
    #[inline]
    pub(super) fn size(&self, i: usize) -> u32 {
        self.starts[i + 1] - self.starts[i]
    }

    /// Total length in pixels.
    pub(super) fn len(&self) -> usize {
        self.starts[self.count()] as usize
    }

    /// True when every piece is one pixel.
    pub(super) fn is_finest(&self) -> bool {
        self.count() == self.len()
    }

    /// Each piece cut into `min(d, length)` nearly equal pieces; also returns, for every new
    /// piece, the index of the piece it came from.
    pub(super) fn subdivide(&self, d: usize) -> (Axis, Vec<u32>) {
        let mut starts = vec![0];
        let mut parent = Vec::new();
        for i in 0..self.count() {
            let (s, len) = (self.starts[i] as usize, self.size(i) as usize);
            let n = d.clamp(1, len);
            for k in 1..=n {
                starts.push((s + (k * len + n / 2) / n) as u32);
                parent.push(i as u32);
            }
        }
        (Axis { starts }, parent)
    }

    /// For every pixel along the axis, the piece holding it.
    pub(super) fn piece_of_pixel(&self) -> Vec<u32> {
        let mut map = Vec::with_capacity(self.len());
        for i in 0..self.count() {
            map.extend(std::iter::repeat_n(i as u32, self.size(i) as usize));
        }
        map
    }
}

/// One level: the block grid and each block's superpixel.
#[derive(Debug, Clone)]
pub(super) struct Level {
    /// Row pieces (block rows).
    pub(super) rows: Axis,
    /// Column pieces (block columns).
    pub(super) cols: Axis,
    /// Superpixel of block `(i, j)` at `i * cols.count() + j`.
    pub(super) labels: Vec<u32>,
}

impl Level {
    /// The first level: `cell_rows x cell_cols` superpixel cells (labelled in raster order),
    /// each cut into `d x d` blocks.
    pub(super) fn first(cell_rows: &Axis, cell_cols: &Axis, d: usize) -> Level {
        let (rows, row_parent) = cell_rows.subdivide(d);
        let (cols, col_parent) = cell_cols.subdivide(d);
        let nc = cell_cols.count() as u32;
        let labels = row_parent
            .iter()
            .flat_map(|&r| col_parent.iter().map(move |&c| r * nc + c))
            .collect();
        Level { rows, cols, labels }
    }

    /// The next level: every piece longer than a pixel halved, blocks keeping their
    /// superpixel. `None` at the pixel level.
    pub(super) fn split(&self) -> Option<Level> {
        if self.rows.is_finest() && self.cols.is_finest() {
            return None;
        }
        let (rows, row_parent) = self.rows.subdivide(2);
        let (cols, col_parent) = self.cols.subdivide(2);
        let bc = self.cols.count();
        let labels = row_parent
            .iter()
            .flat_map(|&r| {
                col_parent
                    .iter()
                    .map(move |&c| self.labels[r as usize * bc + c as usize])
            })
            .collect();
        Some(Level { rows, cols, labels })
    }

    /// Number of pixels in block `b`.
    #[inline]
    pub(super) fn area(&self, b: usize) -> u32 {
        let bc = self.cols.count();
        self.rows.size(b / bc) * self.cols.size(b % bc)
    }
}

/// The per-pixel features the energy sums: the colour planes, then column and row scaled by
/// `position_scale`.
pub(super) struct Features<'a> {
    pub(super) width: usize,
    pub(super) colour: &'a [Vec<f32>],
    pub(super) position_scale: f64,
}

impl Features<'_> {
    /// The feature sums `[colour..., x, y]` (scaled) of every block of `level`, in block
    /// order. Each block row is summed by one task, pixels in raster order, so the sums do
    /// not depend on the thread count. The position sums are exact sums of integers.
    pub(super) fn block_sums<const D: usize>(&self, level: &Level) -> Vec<[f64; D]> {
        let bc = level.cols.count();
        let col_of = level.cols.piece_of_pixel();
        let channels = D - 2;
        debug_assert!(self.colour.len() == channels && channels <= 4);
        // Sum of the column (row) indices of each piece.
        let index_sum = |axis: &Axis, i: usize| -> f64 {
            let (a, b) = (u64::from(axis.starts[i]), u64::from(axis.starts[i + 1]));
            ((b * (b - 1) - a * a.saturating_sub(1)) / 2) as f64
        };
        let col_sums: Vec<f64> = (0..bc).map(|j| index_sum(&level.cols, j)).collect();
        let mut sums = vec![[0.0f64; D]; level.rows.count() * bc];
        sums.par_chunks_mut(bc)
            .enumerate()
            .for_each(|(i, row_sums)| {
                let y0 = level.rows.starts[i] as usize;
                let h = level.rows.size(i);
                for y in y0..y0 + h as usize {
                    let row = y * self.width..(y + 1) * self.width;
                    let mut planes: [&[f32]; 4] = [&[]; 4];
                    for (dst, plane) in planes.iter_mut().zip(self.colour) {
                        *dst = &plane[row.clone()];
                    }
                    for (x, &j) in col_of.iter().enumerate() {
                        let s = &mut row_sums[j as usize];
                        for c in 0..channels {
                            s[c] += f64::from(planes[c][x]);
                        }
                    }
                }
                let y_sum = index_sum(&level.rows, i);
                for (j, s) in row_sums.iter_mut().enumerate() {
                    s[channels] = col_sums[j] * f64::from(h) * self.position_scale;
                    s[channels + 1] = y_sum * f64::from(level.cols.size(j)) * self.position_scale;
                }
            });
        sums
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_pieces_cover_the_axis() {
        let a = Axis::even(321, 16);
        assert_eq!(a.count(), 16);
        assert_eq!(a.len(), 321);
        assert!((0..16).all(|i| a.size(i) == 20 || a.size(i) == 21));
        // More pieces than pixels: one per pixel.
        let b = Axis::even(3, 10);
        assert_eq!(b.count(), 3);
        assert!(b.is_finest());
    }

    #[test]
    fn halving_reaches_pixels() {
        let mut a = Axis::even(21, 2).subdivide(2).0;
        assert_eq!(a.count(), 4);
        let mut levels = 1;
        while !a.is_finest() {
            a = a.subdivide(2).0;
            levels += 1;
        }
        assert_eq!(a.count(), 21);
        assert_eq!(levels, 4); // 6/5 -> 3/2 -> 2/1 -> 1
    }

    #[test]
    fn split_keeps_labels_of_every_pixel() {
        let level = Level::first(&Axis::even(9, 2), &Axis::even(7, 3), 2);
        assert_eq!(level.labels.iter().max(), Some(&5));
        let pixel_labels = |l: &Level| {
            let (rm, cm) = (l.rows.piece_of_pixel(), l.cols.piece_of_pixel());
            let bc = l.cols.count();
            rm.iter()
                .flat_map(|&r| {
                    cm.iter()
                        .map(move |&c| l.labels[r as usize * bc + c as usize])
                })
                .collect::<Vec<_>>()
        };
        let before = pixel_labels(&level);
        let mut l = level;
        while let Some(next) = l.split() {
            assert_eq!(pixel_labels(&next), before);
            l = next;
        }
        assert_eq!(l.labels, before);
        assert_eq!((0..l.labels.len()).map(|b| l.area(b)).sum::<u32>(), 63);
    }

    #[test]
    fn block_sums_add_up_pixels() {
        let plane: Vec<f32> = (0..35).map(|i| i as f32).collect();
        let colour = vec![plane];
        let f = Features {
            width: 7,
            colour: &colour,
            position_scale: 0.5,
        };
        let level = Level::first(&Axis::even(5, 2), &Axis::even(7, 2), 2);
        let sums = f.block_sums::<3>(&level);
        let total: f64 = sums.iter().map(|s| s[0]).sum();
        assert_eq!(total, (0..35).sum::<i32>() as f64);
        let x_total: f64 = sums.iter().map(|s| s[1]).sum();
        assert_eq!(x_total, 0.5 * 5.0 * (0..7).sum::<i32>() as f64);
        // Block (0, 0): rows 0..2 (cell rows 0..3 cut in two: 0..2, 2..3) times columns 0..2
        // (cell columns 0..4 cut in two).
        assert_eq!(level.area(0), 4);
        assert_eq!(sums[0][0], 0.0 + 1.0 + 7.0 + 8.0);
    }
}
