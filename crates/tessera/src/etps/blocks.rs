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
use std::borrow::Cow;

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
    #[cfg(test)]
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

/// The per-pixel features the energy uses: the colour channels interleaved in four lanes
/// (lanes past the channel count hold 0), and the scale of the position features.
pub(super) struct Features {
    width: usize,
    pixels: Vec<[f32; 4]>,
    position_scale: f64,
}

/// The features of one level's blocks: the colour mean of every block, and the scaled mean
/// column (row) of every block column (row). At the pixel level the colours are the
/// pixels' own, borrowed.
pub(super) struct BlockFeatures<'a> {
    colour: Cow<'a, [[f32; 4]]>,
    x: Vec<f64>,
    y: Vec<f64>,
}

impl BlockFeatures<'_> {
    /// The feature mean `[colour..., x, y]` of block `b` at `(i, j)`.
    #[inline]
    pub(super) fn mean<const D: usize>(&self, b: usize, i: usize, j: usize) -> [f64; D] {
        let c = &self.colour[b];
        std::array::from_fn(|d| match d {
            _ if d + 2 < D => f64::from(c[d]),
            _ if d + 2 == D => self.x[j],
            _ => self.y[i],
        })
    }
}

impl Features {
    /// The features of a `width`-pixel-wide image from its colour planes (at most 4).
    pub(super) fn new(width: usize, planes: &[Vec<f32>], position_scale: f64) -> Features {
        debug_assert!((1..=4).contains(&planes.len()));
        let n = planes.first().map_or(0, Vec::len);
        let mut pixels = vec![[0.0f32; 4]; n];
        pixels
            .par_chunks_mut(width.max(1))
            .enumerate()
            .for_each(|(y, row)| {
                for (c, plane) in planes.iter().enumerate() {
                    let src = &plane[y * width..y * width + row.len()];
                    for (px, &v) in row.iter_mut().zip(src) {
                        px[c] = v;
                    }
                }
            });
        Features {
            width,
            pixels,
            position_scale,
        }
    }

    /// The block features of `level`. Each block row is summed by one task, pixels in raster
    /// order, so the means do not depend on the thread count.
    pub(super) fn blocks(&self, level: &Level) -> BlockFeatures<'_> {
        // Mean index of each piece, scaled: the pieces are runs of consecutive indices.
        let centres = |axis: &Axis| -> Vec<f64> {
            (0..axis.count())
                .map(|i| {
                    let (a, b) = (axis.starts[i], axis.starts[i + 1]);
                    0.5 * f64::from(a + b - 1) * self.position_scale
                })
                .collect()
        };
        let (x, y) = (centres(&level.cols), centres(&level.rows));
        if level.rows.is_finest() && level.cols.is_finest() {
            return BlockFeatures {
                colour: Cow::Borrowed(&self.pixels),
                x,
                y,
            };
        }
        let bc = level.cols.count();
        let mut colour = vec![[0.0f32; 4]; level.rows.count() * bc];
        colour.par_chunks_mut(bc).enumerate().for_each_init(
            || vec![[0.0f64; 4]; bc],
            |acc, (i, means)| {
                acc.fill([0.0; 4]);
                let y0 = level.rows.starts[i] as usize;
                for y in y0..y0 + level.rows.size(i) as usize {
                    let row = &self.pixels[y * self.width..(y + 1) * self.width];
                    for (j, s) in acc.iter_mut().enumerate() {
                        let (a, b) = (level.cols.starts[j], level.cols.starts[j + 1]);
                        for px in &row[a as usize..b as usize] {
                            for d in 0..4 {
                                s[d] += f64::from(px[d]);
                            }
                        }
                    }
                }
                for (j, (m, s)) in means.iter_mut().zip(acc.iter()).enumerate() {
                    let inv = 1.0 / f64::from(level.rows.size(i) * level.cols.size(j));
                    *m = s.map(|v| (v * inv) as f32);
                }
            },
        );
        BlockFeatures {
            colour: Cow::Owned(colour),
            x,
            y,
        }
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
    fn block_means_average_pixels() {
        let plane: Vec<f32> = (0..35).map(|i| i as f32).collect();
        let f = Features::new(7, &[plane], 0.5);
        let level = Level::first(&Axis::even(5, 2), &Axis::even(7, 2), 2);
        let blocks = f.blocks(&level);
        // Block (0, 0): rows 0..2 (cell rows 0..3 cut in two: 0..2, 2..3) times columns 0..2
        // (cell columns 0..4 cut in two).
        assert_eq!(level.area(0), 4);
        assert_eq!(blocks.mean::<3>(0, 0, 0), [4.0, 0.25, 0.25]);
        // Block (1, 2): row 2 (the second half of cell rows 0..3) times columns 4..6 (the
        // first half of cell columns 4..7): pixels 18 and 19.
        let b = level.cols.count() + 2;
        assert_eq!(level.area(b), 2);
        assert_eq!(blocks.mean::<3>(b, 1, 2), [18.5, 2.25, 1.0]);
        // The pixel level borrows the pixels.
        let mut l = level;
        while let Some(next) = l.split() {
            l = next;
        }
        let pixels = f.blocks(&l);
        assert_eq!(pixels.mean::<3>(13, 1, 6), [13.0, 3.0, 0.5]);
    }
}
