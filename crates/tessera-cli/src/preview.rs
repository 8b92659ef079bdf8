//! A downsampled boundary-overlay preview of a segmentation too big for memory, built from
//! blocks of (RGB pixels, labels) as a tiled segmentation produces them, and written as a PNG.
//!
//! The preview shrinks the image by a whole factor `f` (the smallest that brings the longer
//! side to at most `max_side`); each preview pixel is the mean colour of its `f` x `f` source
//! pixels, or the boundary colour if any of them is a boundary pixel. A boundary pixel is one
//! whose right or lower neighbour has another label — the library's thin boundaries
//! (`Segmentation::boundary_mask`), so at `f = 1` the preview is exactly the full overlay.
//!
//! Blocks come in raster order of a grid: a row of blocks shares its top and height, each
//! block starts where the previous one ended, and the next row starts at x = 0 below. The
//! caller sends no extra row or column: the builder keeps the last row of labels of the
//! previous row of blocks (one label per image column) and the last column of the previous
//! block, and marks the pixels above and left of a block's edge when they differ.
//!
//! Memory: the preview itself (at most `max_side`² x 3 bytes) and one bit per preview pixel,
//! colour sums for the preview rows the current row of blocks touches, and one label per
//! image column and per block row — never the image.

use crate::block_grid::{GridOrder, Pair, differing_pairs};
use crate::output::write_png;
use anyhow::{Result, bail};
use image::ExtendedColorType;
use std::collections::BTreeMap;
use std::path::Path;
use tessera::BoundaryMode;

/// The default longest side of a preview, in pixels.
pub const DEFAULT_MAX_SIDE: u32 = 4096;

/// A preview being built; see the module documentation.
pub struct PreviewBuilder {
    width: u32,
    height: u32,
    factor: u32,
    pw: u32,
    ph: u32,
    color: [u8; 3],
    /// Thick boundaries: both pixels of a pair with different labels are marked.
    thick: bool,
    /// The finished preview rows, RGB.
    rgb: Vec<u8>,
    /// One bit per preview pixel: some source pixel in it is a boundary.
    boundary: Vec<u64>,
    /// Colour sums (R, G, B per preview column) of preview rows not yet complete.
    sums: BTreeMap<u32, Vec<u64>>,
    /// Labels of the last image row of the previous row of blocks.
    last_row: Vec<u32>,
    /// Labels of the last column of the previous block in the current row of blocks.
    last_col: Vec<u32>,
    order: GridOrder,
}

impl PreviewBuilder {
    /// A preview of a `width` x `height` image at most `max_side` pixels on its longer side,
    /// boundaries drawn in `color`, thin or thick.
    pub fn new(
        width: u32,
        height: u32,
        max_side: u32,
        color: [u8; 3],
        mode: BoundaryMode,
    ) -> Result<Self> {
        if width == 0 || height == 0 || max_side == 0 {
            bail!("cannot preview a {width}x{height} image in at most {max_side} pixels");
        }
        let factor = width.max(height).div_ceil(max_side);
        let (pw, ph) = (width.div_ceil(factor), height.div_ceil(factor));
        let cells = pw as usize * ph as usize;
        Ok(PreviewBuilder {
            width,
            height,
            factor,
            pw,
            ph,
            color,
            thick: mode == BoundaryMode::Thick,
            rgb: vec![0; cells * 3],
            boundary: vec![0; cells.div_ceil(64)],
            sums: BTreeMap::new(),
            last_row: vec![0; width as usize],
            last_col: Vec::new(),
            order: GridOrder::new(width, height),
        })
    }

    /// Size of the preview, (width, height).
    pub fn size(&self) -> (u32, u32) {
        (self.pw, self.ph)
    }

    /// The shrink factor: each preview pixel stands for `factor` x `factor` image pixels.
    pub fn factor(&self) -> u32 {
        self.factor
    }

    /// Takes the block at `(x0, y0)` of `w` x `h` pixels: `rgb` holds `w * h * 3` samples and
    /// `labels` `w * h` labels, both row-major. See the module docs for the order required.
    pub fn add_block(
        &mut self,
        x0: u32,
        y0: u32,
        w: u32,
        h: u32,
        rgb: &[u8],
        labels: &[u32],
    ) -> Result<()> {
        self.order
            .accept_block("preview", (x0, y0, w, h), rgb, labels)?;
        let f = self.factor;
        let (wu, hu) = (w as usize, h as usize);
        for row in 0..hu {
            let sums = self
                .sums
                .entry((y0 + row as u32) / f)
                .or_insert_with(|| vec![0; self.pw as usize * 3]);
            for col in 0..wu {
                let i = row * wu + col;
                let p = ((x0 as usize + col) / f as usize) * 3;
                for c in 0..3 {
                    sums[p + c] += u64::from(rgb[i * 3 + c]);
                }
            }
        }
        // Both are replaced below; the pixels just left of and above the block have their
        // right or lower neighbour in it.
        let left = std::mem::take(&mut self.last_col);
        let above = self.last_row[x0 as usize..x0 as usize + wu].to_vec();
        let at = |i: usize| (x0 + (i % wu) as u32, y0 + (i / wu) as u32);
        differing_pairs(
            labels,
            wu,
            (x0 > 0).then_some(&left[..]),
            (y0 > 0).then_some(&above[..]),
            |pair| {
                let ((xa, ya), (xb, yb)) = match pair {
                    Pair::Inside(i, j) => (at(i), at(j)),
                    Pair::Left(r) => ((x0 - 1, y0 + r as u32), (x0, y0 + r as u32)),
                    Pair::Above(c) => ((x0 + c as u32, y0 - 1), (x0 + c as u32, y0)),
                };
                self.mark(xa, ya);
                if self.thick {
                    self.mark(xb, yb);
                }
            },
        );
        self.last_col = (0..hu).map(|row| labels[row * wu + wu - 1]).collect();
        self.last_row[x0 as usize..x0 as usize + wu].copy_from_slice(&labels[(hu - 1) * wu..]);
        if x0 + w == self.width {
            self.finish_rows(y0 + h);
        }
        Ok(())
    }

    fn mark(&mut self, x: u32, y: u32) {
        let i = (y / self.factor) as usize * self.pw as usize + (x / self.factor) as usize;
        self.boundary[i / 64] |= 1 << (i % 64);
    }

    /// Turns the sums of the preview rows whose source rows all lie above `done_to` into
    /// colours.
    fn finish_rows(&mut self, done_to: u32) {
        let f = self.factor;
        while let Some((&py, _)) = self.sums.first_key_value() {
            let end = ((py + 1) * f).min(self.height);
            if end > done_to {
                break;
            }
            let Some((_, sums)) = self.sums.pop_first() else {
                break;
            };
            let rows = u64::from(end - py * f);
            for px in 0..self.pw {
                let cols = u64::from(((px + 1) * f).min(self.width) - px * f);
                let count = rows * cols;
                for c in 0..3 {
                    let s = sums[px as usize * 3 + c];
                    let at = (py as usize * self.pw as usize + px as usize) * 3 + c;
                    self.rgb[at] = ((s + count / 2) / count) as u8;
                }
            }
        }
    }

    /// The preview as RGB samples (`size()` pixels); fails unless every block has come.
    pub fn into_rgb(mut self) -> Result<Vec<u8>> {
        if !self.order.complete() {
            let (x, y) = self.order.stopped_at();
            bail!(
                "preview: the blocks stopped at ({x}, {y}) of the {}x{} image",
                self.width,
                self.height
            );
        }
        for i in 0..self.pw as usize * self.ph as usize {
            if self.boundary[i / 64] >> (i % 64) & 1 == 1 {
                self.rgb[i * 3..i * 3 + 3].copy_from_slice(&self.color);
            }
        }
        Ok(self.rgb)
    }

    /// Writes the preview to `path` as a PNG, atomically.
    pub fn write_png(self, path: &Path) -> Result<()> {
        let (w, h) = self.size();
        let rgb = self.into_rgb()?;
        write_png(path, &rgb, w, h, ExtendedColorType::Rgb8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block_grid::testing::{blocks, picture};
    use image::RgbImage;
    use tessera::Segmentation;
    use tessera::render::{BoundaryStyle, mark_boundaries};

    fn feed(p: &mut PreviewBuilder, w: u32, h: u32, bw: u32, bh: u32, rgb: &[u8], labels: &[u32]) {
        for (x0, y0, cw, ch, brgb, blab) in blocks(w, h, bw, bh, 0, rgb, labels) {
            p.add_block(x0, y0, cw, ch, &brgb, &blab).unwrap();
        }
    }

    #[test]
    fn at_full_size_it_is_the_librarys_overlay() {
        let (w, h) = (61, 47);
        let (rgb, labels) = picture(w, h);
        for mode in [BoundaryMode::Thin, BoundaryMode::Thick] {
            let mut p = PreviewBuilder::new(w, h, 100, [255, 255, 0], mode).unwrap();
            assert_eq!((p.factor(), p.size()), (1, (w, h)));
            feed(&mut p, w, h, 16, 10, &rgb, &labels);
            let got = p.into_rgb().unwrap();
            let img = RgbImage::from_raw(w, h, rgb.clone()).unwrap();
            let seg = Segmentation::from_labels(w, h, labels.clone()).unwrap();
            let style = BoundaryStyle {
                mode,
                ..BoundaryStyle::default()
            };
            let want = mark_boundaries(&img, &seg, &style).unwrap();
            assert_eq!(got, want.into_raw(), "{mode:?}");
        }
    }

    #[test]
    fn shrunk_previews_average_and_keep_every_boundary() {
        let (w, h) = (103, 58);
        let (rgb, labels) = picture(w, h);
        let mut p = PreviewBuilder::new(w, h, 40, [1, 2, 3], BoundaryMode::Thin).unwrap();
        // 103 / 40 rounds up to 3: 35 x 20.
        assert_eq!((p.factor(), p.size()), (3, (35, 20)));
        feed(&mut p, w, h, 25, 17, &rgb, &labels);
        let got = p.into_rgb().unwrap();
        let seg = Segmentation::from_labels(w, h, labels).unwrap();
        let mask = seg.boundary_mask(BoundaryMode::Thin);
        for py in 0..20u32 {
            for px in 0..35u32 {
                let (mut any, mut sum, mut n) = (false, [0u32; 3], 0);
                for y in py * 3..((py + 1) * 3).min(h) {
                    for x in px * 3..((px + 1) * 3).min(w) {
                        let i = (y * w + x) as usize;
                        any |= mask[i];
                        for c in 0..3 {
                            sum[c] += u32::from(rgb[i * 3 + c]);
                        }
                        n += 1;
                    }
                }
                let want: [u8; 3] = if any {
                    [1, 2, 3]
                } else {
                    sum.map(|s| ((s + n / 2) / n) as u8)
                };
                let at = ((py * 35 + px) * 3) as usize;
                assert_eq!(got[at..at + 3], want, "preview pixel ({px}, {py})");
            }
        }
    }

    #[test]
    fn blocks_out_of_order_or_missing_are_errors() {
        let mut p = PreviewBuilder::new(20, 10, 100, [0; 3], BoundaryMode::Thin).unwrap();
        let err = p.add_block(5, 0, 5, 5, &[0; 75], &[0; 25]).unwrap_err();
        assert!(
            format!("{err:#}").contains("expected the block at (0, 0)"),
            "{err:#}"
        );
        p.add_block(0, 0, 10, 5, &[0; 150], &[0; 50]).unwrap();
        let err = p.add_block(10, 0, 10, 4, &[0; 120], &[0; 40]).unwrap_err();
        assert!(format!("{err:#}").contains("of height 5"), "{err:#}");
        let err = p.add_block(10, 0, 10, 5, &[0; 3], &[0; 50]).unwrap_err();
        assert!(format!("{err:#}").contains("colour samples"), "{err:#}");
        p.add_block(10, 0, 10, 5, &[0; 150], &[0; 50]).unwrap();
        let err = p.into_rgb().unwrap_err();
        assert!(format!("{err:#}").contains("stopped"), "{err:#}");
    }

    #[test]
    fn the_png_is_written_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let (w, h) = (30, 20);
        let (rgb, labels) = picture(w, h);
        let mut p = PreviewBuilder::new(w, h, 15, [255, 0, 0], BoundaryMode::Thin).unwrap();
        feed(&mut p, w, h, 30, 7, &rgb, &labels);
        let path = dir.path().join("p.png");
        p.write_png(&path).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (15, 10));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
