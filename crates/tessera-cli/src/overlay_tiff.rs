//! The full-size boundary overlay of a segmentation too big for memory, streamed into a tiled
//! RGB BigTIFF (`<name>.overlay.tif`) from blocks of (RGB pixels, labels) as a tiled
//! segmentation produces them.
//!
//! A pixel is drawn in the boundary colour when its right or lower neighbour has another
//! label (thin) or any of its four neighbours has (thick): the library's
//! `render::mark_boundaries`, pixel for pixel. Blocks come in raster order of a grid
//! (`block_grid`), without extra rows or columns, so a block's last column waits for the next
//! block (its right neighbours) and its last row for the next row of blocks (its lower ones):
//! each block writes its own pixels but those, the column of the block before it, and the
//! row above it. The writer keeps that row (label, colour and mark per image column) and
//! that column; the TIFF tiles (`tiff_stream`) go to the file as they fill.

use crate::block_grid::{GridOrder, Pair, differing_pairs};
use crate::tiff_stream::TiffStreamWriter;
use anyhow::{Result, bail};
use image::RgbImage;
use std::path::Path;
use tessera::BoundaryMode;
use tessera::render::BoundaryStyle;

/// Pixels held back for a neighbour that has not come yet.
#[derive(Default)]
struct Deferred {
    labels: Vec<u32>,
    rgb: Vec<u8>,
    marked: Vec<bool>,
}

impl Deferred {
    fn with_len(n: usize) -> Self {
        Deferred {
            labels: vec![0; n],
            rgb: vec![0; n * 3],
            marked: vec![false; n],
        }
    }
}

/// A full-size overlay being written; see the module documentation.
pub struct OverlayTiffWriter {
    out: TiffStreamWriter,
    order: GridOrder,
    width: u32,
    height: u32,
    color: [u8; 3],
    thick: bool,
    /// The last row of the previous row of blocks, one entry per image column.
    last_row: Deferred,
    /// The last column of the previous block of the current row of blocks.
    last_col: Deferred,
}

impl OverlayTiffWriter {
    /// Starts the `width` x `height` overlay at `path`, boundaries drawn as `style` says.
    pub fn create(path: &Path, width: u32, height: u32, style: &BoundaryStyle) -> Result<Self> {
        Ok(OverlayTiffWriter {
            out: TiffStreamWriter::rgb(path, width, height)?,
            order: GridOrder::new(width, height),
            width,
            height,
            color: style.color.0,
            thick: style.mode == BoundaryMode::Thick,
            last_row: Deferred::with_len(width as usize),
            last_col: Deferred::default(),
        })
    }

    /// Takes the block at `(x0, y0)` of `w` x `h` pixels: `rgb` holds `w * h * 3` samples and
    /// `labels` `w * h` labels, both row-major, in the order the module docs give.
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
            .accept_block("overlay", (x0, y0, w, h), rgb, labels)?;
        let (wu, hu, x0u) = (w as usize, h as usize, x0 as usize);
        let right_edge = x0 + w == self.width;
        let bottom = y0 + h == self.height;
        let thick = self.thick;

        // Marks from the pairs of neighbours this block completes: inside it, across its
        // left edge and across its top edge.
        let mut marked = vec![false; wu * hu];
        let (last_col, last_row) = (&mut self.last_col, &mut self.last_row);
        differing_pairs(
            labels,
            wu,
            (x0 > 0).then_some(&last_col.labels[..]),
            (y0 > 0).then_some(&last_row.labels[x0u..x0u + wu]),
            |pair| match pair {
                Pair::Inside(i, j) => {
                    marked[i] = true;
                    marked[j] |= thick;
                }
                Pair::Left(r) => {
                    last_col.marked[r] = true;
                    marked[r * wu] |= thick;
                }
                Pair::Above(c) => {
                    last_row.marked[x0u + c] = true;
                    marked[c] |= thick;
                }
            },
        );

        // The row above this block is complete now: its lower neighbours have come.
        if y0 > 0 {
            let rows = &self.last_row;
            let px = self.paint(
                (x0u..x0u + wu).map(|x| (&rows.rgb[x * 3..x * 3 + 3], rows.marked[x])),
                wu,
            );
            self.out.write_block(x0, y0 - 1, w, 1, &px)?;
        }
        // So is the column left of it, but for its last row, which waits for the row below
        // (at the image's bottom it does not).
        if x0 > 0 {
            let down = if bottom { hu } else { hu - 1 };
            if !bottom {
                self.last_row.marked[x0u - 1] |= self.last_col.marked[hu - 1];
            }
            if down > 0 {
                let col = &self.last_col;
                let px = self.paint(
                    (0..down).map(|r| (&col.rgb[r * 3..r * 3 + 3], col.marked[r])),
                    down,
                );
                self.out.write_block(x0 - 1, y0, 1, down as u32, &px)?;
            }
        }
        // This block but its last column and last row (unless they lie on the image's edge).
        let iw = if right_edge { wu } else { wu - 1 };
        let ih = if bottom { hu } else { hu - 1 };
        if iw > 0 && ih > 0 {
            let px = self.paint(
                (0..ih)
                    .flat_map(|r| (0..iw).map(move |c| r * wu + c))
                    .map(|i| (&rgb[i * 3..i * 3 + 3], marked[i])),
                iw * ih,
            );
            self.out.write_block(x0, y0, iw as u32, ih as u32, &px)?;
        }

        // Hold back what waits for the next block and the next row of blocks.
        if !right_edge {
            let last = |r: usize| r * wu + wu - 1;
            self.last_col = Deferred {
                labels: (0..hu).map(|r| labels[last(r)]).collect(),
                rgb: (0..hu)
                    .flat_map(|r| rgb[last(r) * 3..last(r) * 3 + 3].iter().copied())
                    .collect(),
                marked: (0..hu).map(|r| marked[last(r)]).collect(),
            };
        }
        if !bottom {
            let first = (hu - 1) * wu;
            self.last_row.labels[x0u..x0u + wu].copy_from_slice(&labels[first..]);
            self.last_row.rgb[x0u * 3..(x0u + wu) * 3].copy_from_slice(&rgb[first * 3..]);
            self.last_row.marked[x0u..x0u + wu].copy_from_slice(&marked[first..]);
        }
        Ok(())
    }

    /// The file's bytes for `n` pixels given as (colour, marked).
    fn paint<'a>(&self, pixels: impl Iterator<Item = (&'a [u8], bool)>, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n * 3);
        for (rgb, marked) in pixels {
            out.extend_from_slice(if marked { &self.color } else { rgb });
        }
        out
    }

    /// Writes the directory and moves the file onto its path; fails (leaving nothing there)
    /// unless every block has come.
    pub fn finish(self) -> Result<()> {
        if !self.order.complete() {
            let (x, y) = self.order.stopped_at();
            bail!(
                "overlay: the blocks stopped at ({x}, {y}) of the {}x{} image",
                self.width,
                self.height
            );
        }
        self.out.finish()
    }
}

/// Writes a picture already in memory (a whole-image run's overlay) as a tiled RGB BigTIFF.
pub fn write_picture(path: &Path, pic: &RgbImage) -> Result<()> {
    let mut out = TiffStreamWriter::rgb(path, pic.width(), pic.height())?;
    out.write_block(0, 0, pic.width(), pic.height(), pic.as_raw())?;
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block_grid::testing::{blocks, picture};
    use std::io::Cursor;
    use tessera::Segmentation;
    use tessera::render::mark_boundaries;

    fn read_rgb(path: &Path) -> (u32, u32, Vec<u8>) {
        let mut dec =
            tiff::decoder::Decoder::new(Cursor::new(std::fs::read(path).unwrap())).unwrap();
        assert_eq!(dec.get_chunk_type(), tiff::decoder::ChunkType::Tile);
        assert_eq!(dec.colortype().unwrap(), tiff::ColorType::RGB(8));
        let (w, h) = dec.dimensions().unwrap();
        let tiff::decoder::DecodingResult::U8(px) = dec.read_image().unwrap() else {
            panic!("8-bit samples expected")
        };
        (w, h, px)
    }

    fn feed(
        o: &mut OverlayTiffWriter,
        w: u32,
        h: u32,
        bw: u32,
        bh: u32,
        rgb: &[u8],
        labels: &[u32],
    ) {
        for (x0, y0, cw, ch, brgb, blab) in blocks(w, h, bw, bh, 3, rgb, labels) {
            o.add_block(x0, y0, cw, ch, &brgb, &blab).unwrap();
        }
    }

    #[test]
    fn blocks_of_any_size_give_the_librarys_overlay() {
        let dir = tempfile::tempdir().unwrap();
        for (w, h, bw, bh) in [
            (300, 270, 64, 50),
            (61, 47, 1, 1),
            (61, 47, 2, 3),
            (90, 33, 90, 33),
            (100, 80, 17, 1),
        ] {
            let (rgb, labels) = picture(w, h);
            let img = RgbImage::from_raw(w, h, rgb.clone()).unwrap();
            let seg = Segmentation::from_labels(w, h, labels.clone()).unwrap();
            for mode in [BoundaryMode::Thin, BoundaryMode::Thick] {
                let style = BoundaryStyle {
                    mode,
                    ..BoundaryStyle::default()
                };
                let path = dir.path().join(format!("o-{w}-{bw}-{bh}-{mode:?}.tif"));
                let mut o = OverlayTiffWriter::create(&path, w, h, &style).unwrap();
                feed(&mut o, w, h, bw, bh, &rgb, &labels);
                o.finish().unwrap();
                let want = mark_boundaries(&img, &seg, &style).unwrap();
                let (rw, rh, got) = read_rgb(&path);
                assert_eq!((rw, rh), (w, h));
                let first = got.iter().zip(want.as_raw()).position(|(a, b)| a != b);
                assert!(
                    first.is_none(),
                    "{w}x{h} in blocks of {bw}x{bh}, {mode:?}: pixel {} differs",
                    first.unwrap_or(0) / 3
                );
            }
        }
    }

    #[test]
    fn a_whole_picture_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let (rgb, _) = picture(300, 200);
        let pic = RgbImage::from_raw(300, 200, rgb).unwrap();
        let path = dir.path().join("p.tif");
        write_picture(&path, &pic).unwrap();
        assert_eq!(read_rgb(&path), (300, 200, pic.into_raw()));
    }

    #[test]
    fn missing_or_misordered_blocks_are_errors_and_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.tif");
        let mut o = OverlayTiffWriter::create(&path, 20, 10, &BoundaryStyle::default()).unwrap();
        let err = o.add_block(0, 0, 10, 5, &[0; 3], &[0; 50]).unwrap_err();
        assert!(format!("{err:#}").contains("colour samples"), "{err:#}");
        let err = o.add_block(10, 0, 10, 5, &[0; 150], &[0; 50]).unwrap_err();
        assert!(format!("{err:#}").contains("raster order"), "{err:#}");
        o.add_block(0, 0, 10, 5, &[0; 150], &[0; 50]).unwrap();
        let err = o.finish().unwrap_err();
        assert!(format!("{err:#}").contains("stopped at (10, 0)"), "{err:#}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "nothing left behind"
        );
    }
}
