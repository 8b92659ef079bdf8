//! Streaming a raster too big for memory into a tiled, Deflate-compressed BigTIFF, block by
//! block as a tiled segmentation produces it: a label map (u32, one sample a pixel) or an
//! overlay picture (RGB, 8 bits a sample).
//!
//! The caller's blocks may have any size (256, 1000, 2048, ...) and need not line up with the
//! TIFF tiles. A TIFF tile is compressed and written the moment its last pixel arrives, and the
//! container (`tiled_tiff`) records tiles in whatever order they complete. So only the tiles a
//! block has touched but not finished are held: when blocks come in raster order of blocks,
//! those are one row of tiles' worth (the tiles straddling the top edge of the current row of
//! blocks, right of the current block, and those straddling its bottom edge, left of it) plus
//! the column straddling the current block's right edge — O(width x tile side + block height x
//! tile side) pixels, whatever the image height.

use crate::tiled_tiff::{
    COMPRESSION_DEFLATE, PHOTOMETRIC_BLACK_IS_ZERO, PHOTOMETRIC_RGB, SAMPLE_FORMAT_UINT, TiledSpec,
    TiledTiffFile,
};
use anyhow::{Context, Result, bail};
use rayon::prelude::*;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The TIFF tile side used by [`TiffStreamWriter::labels`] and [`TiffStreamWriter::rgb`]: 256
/// keeps the pending row of tiles small (1 KiB of labels per column of the image) while
/// compressing about as well as 512.
pub const DEFAULT_TILE: u32 = 256;

/// A tile some of whose pixels have arrived.
struct PendingTile {
    /// The tile's pixels as they are stored in the file (little-endian samples).
    bytes: Vec<u8>,
    /// One bit per pixel of the tile: already written (to refuse overlapping blocks).
    covered: Vec<u64>,
    /// Pixels written so far; the tile is complete at its data area.
    filled: usize,
}

/// A tiled BigTIFF being written; see the module documentation.
///
/// Writes take `&mut self`: one writer is fed by one thread at a time (the caller serialises
/// blocks coming from several workers); the compression of the tiles a block completes is
/// spread over rayon's threads.
pub struct TiffStreamWriter {
    file: TiledTiffFile,
    target: PathBuf,
    width: u32,
    height: u32,
    tile: u32,
    /// Bytes of one pixel in the file (4 for labels, 3 for RGB).
    pixel_bytes: usize,
    pending: HashMap<(u32, u32), PendingTile>,
}

impl TiffStreamWriter {
    /// Starts writing a `width` x `height` label map (u32) to `path`, in tiles of
    /// [`DEFAULT_TILE`].
    pub fn labels(path: &Path, width: u32, height: u32) -> Result<Self> {
        Self::create(path, width, height, 1, 32, DEFAULT_TILE)
    }

    /// Starts writing a `width` x `height` RGB picture (8 bits a sample) to `path`, in tiles of
    /// [`DEFAULT_TILE`].
    pub fn rgb(path: &Path, width: u32, height: u32) -> Result<Self> {
        Self::create(path, width, height, 3, 8, DEFAULT_TILE)
    }

    /// `samples` unsigned samples of `bits` bits a pixel, grey for one sample and RGB for
    /// three, in tiles of `tile` x `tile` (a multiple of 16).
    fn create(
        path: &Path,
        width: u32,
        height: u32,
        samples: u16,
        bits: u16,
        tile: u32,
    ) -> Result<Self> {
        let spec = TiledSpec {
            width,
            height,
            tile,
            samples_per_pixel: samples,
            bits_per_sample: bits,
            sample_format: SAMPLE_FORMAT_UINT,
            photometric: if samples == 3 {
                PHOTOMETRIC_RGB
            } else {
                PHOTOMETRIC_BLACK_IS_ZERO
            },
            compression: COMPRESSION_DEFLATE,
            ycbcr_subsampling: None,
        };
        Ok(TiffStreamWriter {
            file: TiledTiffFile::create(path, spec)?,
            target: path.to_path_buf(),
            width,
            height,
            tile,
            pixel_bytes: usize::from(samples) * usize::from(bits / 8),
            pending: HashMap::new(),
        })
    }

    /// Tiles started but not yet complete (what the writer holds in memory).
    pub fn pending_tiles(&self) -> usize {
        self.pending.len()
    }

    /// Takes the labels of the block at `(x0, y0)` of `w` x `h` pixels, row-major, for a
    /// writer made by [`Self::labels`]; see [`Self::write_block`].
    pub fn write_labels(&mut self, x0: u32, y0: u32, w: u32, h: u32, labels: &[u32]) -> Result<()> {
        let bytes: Vec<u8> = labels.iter().flat_map(|l| l.to_le_bytes()).collect();
        self.write_block(x0, y0, w, h, &bytes)
    }

    /// Takes the pixels of the block at `(x0, y0)` of `w` x `h` pixels, row-major, as the file
    /// stores them: little-endian u32 labels, or R, G, B bytes.
    ///
    /// Blocks must not overlap and must together cover the image by the time of
    /// [`Self::finish`]; any order works, raster order of blocks keeps memory lowest. After an
    /// error the writer should be dropped (which deletes the temporary file).
    pub fn write_block(&mut self, x0: u32, y0: u32, w: u32, h: u32, pixels: &[u8]) -> Result<()> {
        let name = self.target.display();
        let inside = x0.checked_add(w).is_some_and(|r| r <= self.width)
            && y0.checked_add(h).is_some_and(|b| b <= self.height);
        if w == 0 || h == 0 || !inside {
            bail!(
                "cannot write {name}: the block {w}x{h} at ({x0}, {y0}) is empty or not inside the {}x{} image",
                self.width,
                self.height
            );
        }
        let pb = self.pixel_bytes;
        let want = u64::from(w) * u64::from(h) * pb as u64;
        if pixels.len() as u64 != want {
            bail!(
                "cannot write {name}: the block {w}x{h} at ({x0}, {y0}) came with {} bytes, not {want}",
                pixels.len()
            );
        }
        let t = self.tile;
        let mut complete = Vec::new();
        for ty in y0 / t..=(y0 + h - 1) / t {
            for tx in x0 / t..=(x0 + w - 1) / t {
                if self.file.has_tile(tx, ty) {
                    bail!(
                        "cannot write {name}: the block {w}x{h} at ({x0}, {y0}) overlaps pixels already written"
                    );
                }
                let area = self.tile_area(tx, ty);
                let side = t as usize;
                let entry = self.pending.entry((tx, ty)).or_insert_with(|| PendingTile {
                    bytes: vec![0; side * side * pb],
                    covered: vec![0; (side * side).div_ceil(64)],
                    filled: 0,
                });
                // The part of the block inside this tile, in image coordinates.
                let (left, top) = ((tx * t).max(x0), (ty * t).max(y0));
                let (right, bottom) = (((tx + 1) * t).min(x0 + w), ((ty + 1) * t).min(y0 + h));
                let run = (right - left) as usize;
                for y in top..bottom {
                    let src = (y - y0) as usize * w as usize + (left - x0) as usize;
                    let dst = (y - ty * t) as usize * side + (left - tx * t) as usize;
                    for i in dst..dst + run {
                        let (word, bit) = (i / 64, 1u64 << (i % 64));
                        if entry.covered[word] & bit != 0 {
                            bail!(
                                "cannot write {name}: the block {w}x{h} at ({x0}, {y0}) overlaps pixels already written"
                            );
                        }
                        entry.covered[word] |= bit;
                    }
                    entry.bytes[dst * pb..(dst + run) * pb]
                        .copy_from_slice(&pixels[src * pb..(src + run) * pb]);
                }
                entry.filled += run * (bottom - top) as usize;
                if entry.filled == area
                    && let Some(done) = self.pending.remove(&(tx, ty))
                {
                    complete.push((tx, ty, done.bytes));
                }
            }
        }
        self.write_tiles(complete)
    }

    /// Pixels of tile `(tx, ty)` inside the image (edge tiles are partly padding).
    fn tile_area(&self, tx: u32, ty: u32) -> usize {
        let t = self.tile;
        let w = (self.width - tx * t).min(t) as usize;
        let h = (self.height - ty * t).min(t) as usize;
        w * h
    }

    /// Compresses finished tiles in parallel, then appends them in order.
    fn write_tiles(&mut self, tiles: Vec<(u32, u32, Vec<u8>)>) -> Result<()> {
        let compressed: Vec<(u32, u32, std::io::Result<Vec<u8>>)> = tiles
            .into_par_iter()
            .map(|(tx, ty, bytes)| (tx, ty, deflate(&bytes)))
            .collect();
        for (tx, ty, bytes) in compressed {
            let bytes = bytes
                .with_context(|| format!("cannot compress a tile of {}", self.target.display()))?;
            self.file.write_tile(tx, ty, &bytes)?;
        }
        Ok(())
    }

    /// Writes the directory and moves the finished file onto its path; fails (leaving nothing
    /// at the path) when some pixels were never written.
    pub fn finish(self) -> Result<()> {
        if !self.pending.is_empty() || self.file.missing_tiles() > 0 {
            let partial = self.pending.len();
            let missing = self.file.missing_tiles();
            bail!(
                "cannot finish {}: some pixels were never written ({missing} tiles incomplete, {partial} of them partly written)",
                self.target.display()
            );
        }
        self.file.finish()
    }
}

/// A zlib stream of a tile's bytes.
///
/// Level 1: label maps are long runs of one value, which the fastest level already squeezes
/// to a few percent; the higher levels cost several times the time for a little more (and
/// gain little on photographs).
fn deflate(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(bytes)?;
    z.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A label field with runs (like a segmentation) and values past u16.
    fn label_at(x: u32, y: u32) -> u32 {
        (y / 7) * 100_003 + x / 5 + 1
    }

    /// Feeds the image in blocks of `bw` x `bh`, in raster order of blocks; returns the most
    /// tiles pending at once.
    fn write_in_blocks(
        w: &mut TiffStreamWriter,
        width: u32,
        height: u32,
        bw: u32,
        bh: u32,
    ) -> usize {
        let mut most = 0;
        for y0 in (0..height).step_by(bh as usize) {
            for x0 in (0..width).step_by(bw as usize) {
                let (w_, h_) = (bw.min(width - x0), bh.min(height - y0));
                let block: Vec<u32> = (0..h_)
                    .flat_map(|y| (0..w_).map(move |x| label_at(x0 + x, y0 + y)))
                    .collect();
                w.write_labels(x0, y0, w_, h_, &block).unwrap();
                most = most.max(w.pending_tiles());
            }
        }
        most
    }

    fn read_back(path: &Path) -> (u32, u32, Vec<u32>) {
        let bytes = std::fs::read(path).unwrap();
        let mut dec = tiff::decoder::Decoder::new(Cursor::new(bytes)).unwrap();
        assert_eq!(dec.get_chunk_type(), tiff::decoder::ChunkType::Tile);
        assert_eq!(dec.colortype().unwrap(), tiff::ColorType::Gray(32));
        let (w, h) = dec.dimensions().unwrap();
        let tiff::decoder::DecodingResult::U32(px) = dec.read_image().unwrap() else {
            panic!("u32 samples expected")
        };
        (w, h, px)
    }

    #[test]
    fn odd_blocks_read_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        for (width, height, tile, bw, bh) in [
            (1000, 777, 256, 300, 170),
            (513, 300, 512, 1000, 1000),
            (700, 650, 256, 256, 256),
            (97, 61, 16, 13, 11),
        ] {
            let path = dir.path().join(format!("l{width}-{bw}.tif"));
            let mut w = TiffStreamWriter::create(&path, width, height, 1, 32, tile).unwrap();
            write_in_blocks(&mut w, width, height, bw, bh);
            w.finish().unwrap();
            let (rw, rh, px) = read_back(&path);
            assert_eq!((rw, rh), (width, height));
            for y in 0..height {
                for x in 0..width {
                    let got = px[(y * width + x) as usize];
                    assert_eq!(
                        got,
                        label_at(x, y),
                        "pixel ({x}, {y}) of {}",
                        path.display()
                    );
                }
            }
        }
        // Only the finished files remain: no temporaries.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 4);
    }

    #[test]
    fn memory_is_one_row_of_tiles_plus_one_column() {
        let dir = tempfile::tempdir().unwrap();
        let (width, height, tile, bw, bh) = (2000, 1500, 256, 300, 300);
        let mut w = TiffStreamWriter::create(&dir.path().join("m.tif"), width, height, 1, 32, tile)
            .unwrap();
        let most = write_in_blocks(&mut w, width, height, bw, bh);
        // Tiles across the image (8), plus the ones straddling a block's right edge (3 rows
        // of tiles are touched by a 300-high block).
        let bound = width.div_ceil(tile) as usize + 3;
        assert!(most <= bound, "{most} tiles pending, more than {bound}");
        assert!(
            most >= width.div_ceil(tile) as usize - 1,
            "{most}: the test does not stream"
        );
        w.finish().unwrap();
    }

    #[test]
    fn blocks_that_overlap_miss_or_mismatch_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.tif");
        let mut w = TiffStreamWriter::create(&path, 40, 40, 1, 32, 16).unwrap();
        let err = w.write_labels(0, 0, 10, 10, &[1; 99]).unwrap_err();
        assert!(
            format!("{err:#}").contains("came with 396 bytes, not 400"),
            "{err:#}"
        );
        let err = w.write_labels(35, 0, 10, 10, &[1; 100]).unwrap_err();
        assert!(
            format!("{err:#}").contains("not inside the 40x40 image"),
            "{err:#}"
        );
        let err = w.write_labels(u32::MAX, 0, 10, 10, &[1; 100]).unwrap_err();
        assert!(format!("{err:#}").contains("not inside"), "{err:#}");
        w.write_labels(0, 0, 10, 10, &[1; 100]).unwrap();
        let err = w.write_labels(9, 9, 2, 2, &[1; 4]).unwrap_err();
        assert!(format!("{err:#}").contains("overlaps"), "{err:#}");
        // Overlapping a tile that was already written out.
        w.write_labels(10, 0, 6, 16, &[1; 96]).unwrap();
        w.write_labels(0, 10, 10, 6, &[1; 60]).unwrap();
        let err = w.write_labels(15, 15, 1, 1, &[1]).unwrap_err();
        assert!(format!("{err:#}").contains("overlaps"), "{err:#}");
        let err = w.finish().unwrap_err();
        assert!(format!("{err:#}").contains("never written"), "{err:#}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "nothing left behind"
        );
    }

    #[test]
    fn runs_of_labels_compress() {
        let labels: Vec<u32> = (0..256 * 256).map(|i| label_at(i % 256, i / 256)).collect();
        let bytes: Vec<u8> = labels.iter().flat_map(|l| l.to_le_bytes()).collect();
        let z = deflate(&bytes).unwrap();
        assert!(z.len() * 10 < bytes.len(), "{} bytes", z.len());
    }
}
