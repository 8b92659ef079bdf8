//! A tiled BigTIFF container written by hand: the header first, each compressed tile appended
//! as soon as its producer has it (in any order), the tile tables and the only IFD last.
//!
//! Why by hand: the `tiff` crate's encoder (0.11) writes strips only, and it wants each image's
//! data handed over in one piece or strip by strip in order, so it cannot write the tiles of a
//! gigapixel label map as they complete. The container is small (one IFD, a dozen tags), so it
//! is written here; the tile payloads are compressed by the callers (Deflate through `flate2`,
//! JPEG through `image`). The file is always BigTIFF (8-byte offsets, LONG8 tile tables) so that
//! outputs past 4 GiB need no second code path.
//!
//! The file is built under a temporary name beside the target (`output::temporary_beside`) and
//! renamed into place by [`TiledTiffFile::finish`]; dropping the writer before that deletes the
//! temporary, so no half-written file ever sits at the target path.

use crate::output::temporary_beside;
use anyhow::{Context, Result, bail};
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// TIFF compression codes written by the callers.
pub const COMPRESSION_NONE: u16 = 1;
/// JPEG, one self-contained JPEG stream per tile ("new-style" JPEG, code 7, no JPEGTables).
pub const COMPRESSION_JPEG: u16 = 7;
/// Deflate (zlib streams), the Adobe code 8.
pub const COMPRESSION_DEFLATE: u16 = 8;

/// Photometric interpretation: grey (or any single-sample data), 0 is black.
pub const PHOTOMETRIC_BLACK_IS_ZERO: u16 = 1;
/// Photometric interpretation: RGB.
pub const PHOTOMETRIC_RGB: u16 = 2;
/// Photometric interpretation: YCbCr (what a JFIF-style JPEG tile holds).
pub const PHOTOMETRIC_YCBCR: u16 = 6;

/// Sample format: unsigned integers.
pub const SAMPLE_FORMAT_UINT: u16 = 1;

/// What the IFD says about the image: everything but the tile tables.
#[derive(Debug, Clone)]
pub struct TiledSpec {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Tile side in pixels (tiles are square; TIFF wants a multiple of 16).
    pub tile: u32,
    /// Samples per pixel (1 grey or labels, 3 RGB).
    pub samples_per_pixel: u16,
    /// Bits of each sample (8, 16, 32).
    pub bits_per_sample: u16,
    /// `SAMPLE_FORMAT_*`.
    pub sample_format: u16,
    /// `PHOTOMETRIC_*`.
    pub photometric: u16,
    /// `COMPRESSION_*`.
    pub compression: u16,
    /// The YCbCrSubSampling tag, for YCbCr data (JPEG tiles); `None` writes no tag.
    pub ycbcr_subsampling: Option<[u16; 2]>,
}

impl TiledSpec {
    /// Tiles in one row of tiles.
    pub fn tiles_across(&self) -> u32 {
        self.width.div_ceil(self.tile)
    }

    /// Rows of tiles.
    pub fn tiles_down(&self) -> u32 {
        self.height.div_ceil(self.tile)
    }
}

/// A tiled BigTIFF being written; see the module documentation.
pub struct TiledTiffFile {
    target: PathBuf,
    spec: TiledSpec,
    tmp: tempfile::NamedTempFile,
    out: BufWriter<File>,
    /// Where the next byte goes (tracked rather than asked of the file, which is buffered).
    pos: u64,
    /// Offset of each tile, 0 while not yet written.
    offsets: Vec<u64>,
    byte_counts: Vec<u64>,
}

/// Bytes of the BigTIFF header: "II", 43, offset size 8, 0, first IFD offset (u64).
const HEADER_LEN: u64 = 16;

impl TiledTiffFile {
    /// Starts `target` (under a temporary name beside it) with room for `spec`'s tiles.
    pub fn create(target: &Path, spec: TiledSpec) -> Result<Self> {
        if spec.width == 0 || spec.height == 0 {
            bail!(
                "cannot write {}: the image is empty ({}x{})",
                target.display(),
                spec.width,
                spec.height
            );
        }
        if spec.tile == 0 || !spec.tile.is_multiple_of(16) {
            bail!(
                "cannot write {}: the tile side {} is not a positive multiple of 16, as TIFF requires",
                target.display(),
                spec.tile
            );
        }
        let tiles = spec.tiles_across() as usize * spec.tiles_down() as usize;
        let tmp = temporary_beside(target, ".tif.part")?;
        let file = tmp
            .as_file()
            .try_clone()
            .with_context(|| format!("cannot write {}", target.display()))?;
        let mut out = BufWriter::new(file);
        let mut header = Vec::with_capacity(HEADER_LEN as usize);
        header.extend_from_slice(b"II");
        header.extend_from_slice(&43u16.to_le_bytes());
        header.extend_from_slice(&8u16.to_le_bytes());
        header.extend_from_slice(&0u16.to_le_bytes());
        // The IFD offset is patched in by `finish`, once the IFD exists.
        header.extend_from_slice(&0u64.to_le_bytes());
        out.write_all(&header)
            .with_context(|| format!("cannot write {}", target.display()))?;
        Ok(TiledTiffFile {
            target: target.to_path_buf(),
            spec,
            tmp,
            out,
            pos: HEADER_LEN,
            offsets: vec![0; tiles],
            byte_counts: vec![0; tiles],
        })
    }

    /// The layout this file was created with.
    pub fn spec(&self) -> &TiledSpec {
        &self.spec
    }

    /// Appends the compressed bytes of tile `(tx, ty)` (column and row of tiles).
    pub fn write_tile(&mut self, tx: u32, ty: u32, data: &[u8]) -> Result<()> {
        if tx >= self.spec.tiles_across() || ty >= self.spec.tiles_down() {
            bail!(
                "cannot write {}: tile ({tx}, {ty}) is outside the {}x{} tiles",
                self.target.display(),
                self.spec.tiles_across(),
                self.spec.tiles_down()
            );
        }
        let index = ty as usize * self.spec.tiles_across() as usize + tx as usize;
        if self.offsets[index] != 0 {
            bail!(
                "cannot write {}: tile ({tx}, {ty}) was already written",
                self.target.display()
            );
        }
        if data.is_empty() {
            // A zero byte count reads as "tile missing" to some readers.
            bail!(
                "cannot write {}: tile ({tx}, {ty}) has no data",
                self.target.display()
            );
        }
        self.out
            .write_all(data)
            .with_context(|| format!("cannot write {}", self.target.display()))?;
        self.offsets[index] = self.pos;
        self.byte_counts[index] = data.len() as u64;
        self.pos += data.len() as u64;
        Ok(())
    }

    /// Whether tile `(tx, ty)` has been written (false outside the grid).
    pub fn has_tile(&self, tx: u32, ty: u32) -> bool {
        tx < self.spec.tiles_across()
            && ty < self.spec.tiles_down()
            && self.offsets[ty as usize * self.spec.tiles_across() as usize + tx as usize] != 0
    }

    /// Tiles not yet written.
    pub fn missing_tiles(&self) -> usize {
        self.offsets.iter().filter(|&&o| o == 0).count()
    }

    /// Writes the tile tables and the IFD, and renames the file onto its target.
    pub fn finish(mut self) -> Result<()> {
        let missing = self.missing_tiles();
        if missing > 0 {
            bail!(
                "cannot finish {}: {missing} of its {} tiles were never written",
                self.target.display(),
                self.offsets.len()
            );
        }
        let target = self.target.clone();
        let ctx = || format!("cannot write {}", target.display());
        let ifd = self.write_ifd().with_context(ctx)?;
        self.out.flush().with_context(ctx)?;
        let mut file = self
            .out
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(ctx)?;
        file.seek(SeekFrom::Start(8)).with_context(ctx)?;
        file.write_all(&ifd.to_le_bytes()).with_context(ctx)?;
        file.sync_all().with_context(ctx)?;
        self.tmp
            .persist(&target)
            .with_context(|| format!("cannot move the finished file to {}", target.display()))?;
        Ok(())
    }

    /// Writes the out-of-line values, then the IFD itself; returns the IFD's offset.
    fn write_ifd(&mut self) -> std::io::Result<u64> {
        const SHORT: u16 = 3;
        const LONG: u16 = 4;
        const LONG8: u16 = 16;
        let s = self.spec.clone();
        let samples = usize::from(s.samples_per_pixel);
        let shorts = |v: u16| -> Vec<u8> {
            std::iter::repeat_n(v, samples)
                .flat_map(u16::to_le_bytes)
                .collect()
        };
        let tables = |v: &[u64]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
        // (tag, type, count, value bytes), in ascending tag order as TIFF requires.
        let mut entries: Vec<(u16, u16, u64, Vec<u8>)> = vec![
            (256, LONG, 1, s.width.to_le_bytes().to_vec()),
            (257, LONG, 1, s.height.to_le_bytes().to_vec()),
            (258, SHORT, samples as u64, shorts(s.bits_per_sample)),
            (259, SHORT, 1, s.compression.to_le_bytes().to_vec()),
            (262, SHORT, 1, s.photometric.to_le_bytes().to_vec()),
            (277, SHORT, 1, s.samples_per_pixel.to_le_bytes().to_vec()),
            // PlanarConfiguration 1: the samples of a pixel are stored together.
            (284, SHORT, 1, 1u16.to_le_bytes().to_vec()),
            (322, LONG, 1, s.tile.to_le_bytes().to_vec()),
            (323, LONG, 1, s.tile.to_le_bytes().to_vec()),
            (324, LONG8, self.offsets.len() as u64, tables(&self.offsets)),
            (
                325,
                LONG8,
                self.byte_counts.len() as u64,
                tables(&self.byte_counts),
            ),
            (339, SHORT, samples as u64, shorts(s.sample_format)),
        ];
        if let Some([h, v]) = s.ycbcr_subsampling {
            let value = [h.to_le_bytes(), v.to_le_bytes()].concat();
            entries.push((530, SHORT, 2, value));
        }
        entries.sort_by_key(|e| e.0);

        // Values longer than 8 bytes live outside the IFD, each on an even offset.
        let mut fields = Vec::with_capacity(entries.len());
        for (tag, typ, count, value) in entries {
            if value.len() <= 8 {
                let mut inline = [0u8; 8];
                inline[..value.len()].copy_from_slice(&value);
                fields.push((tag, typ, count, inline));
            } else {
                self.pad_to_even()?;
                let at = self.pos;
                self.out.write_all(&value)?;
                self.pos += value.len() as u64;
                fields.push((tag, typ, count, at.to_le_bytes()));
            }
        }
        self.pad_to_even()?;
        let ifd = self.pos;
        let mut bytes = Vec::with_capacity(8 + fields.len() * 20 + 8);
        bytes.extend_from_slice(&(fields.len() as u64).to_le_bytes());
        for (tag, typ, count, value) in fields {
            bytes.extend_from_slice(&tag.to_le_bytes());
            bytes.extend_from_slice(&typ.to_le_bytes());
            bytes.extend_from_slice(&count.to_le_bytes());
            bytes.extend_from_slice(&value);
        }
        // No next IFD.
        bytes.extend_from_slice(&0u64.to_le_bytes());
        self.out.write_all(&bytes)?;
        self.pos += bytes.len() as u64;
        Ok(ifd)
    }

    fn pad_to_even(&mut self) -> std::io::Result<()> {
        if !self.pos.is_multiple_of(2) {
            self.out.write_all(&[0])?;
            self.pos += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn grey_spec(width: u32, height: u32) -> TiledSpec {
        TiledSpec {
            width,
            height,
            tile: 16,
            samples_per_pixel: 1,
            bits_per_sample: 8,
            sample_format: SAMPLE_FORMAT_UINT,
            photometric: PHOTOMETRIC_BLACK_IS_ZERO,
            compression: COMPRESSION_NONE,
            ycbcr_subsampling: None,
        }
    }

    #[test]
    fn uncompressed_tiles_in_any_order_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.tif");
        let spec = grey_spec(20, 17);
        let mut f = TiledTiffFile::create(&path, spec).unwrap();
        // Written bottom-right first: readers follow the offsets, not the file order.
        for (tx, ty) in [(1, 1), (0, 1), (1, 0), (0, 0)] {
            let tile: Vec<u8> = (0..256u32)
                .map(|i| (tx * 100 + ty * 50 + i % 16) as u8)
                .collect();
            f.write_tile(tx, ty, &tile).unwrap();
        }
        f.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..4], b"II\x2b\x00", "BigTIFF signature");
        let mut dec = tiff::decoder::Decoder::new(Cursor::new(bytes)).unwrap();
        assert_eq!(dec.dimensions().unwrap(), (20, 17));
        let tiff::decoder::DecodingResult::U8(px) = dec.read_image().unwrap() else {
            panic!("8-bit grey expected")
        };
        for y in 0..17u32 {
            for x in 0..20u32 {
                let (tx, ty) = (x / 16, y / 16);
                let want = (tx * 100 + ty * 50 + x % 16) as u8;
                assert_eq!(px[(y * 20 + x) as usize], want, "pixel ({x}, {y})");
            }
        }
    }

    #[test]
    fn unfinished_or_incomplete_files_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.tif");
        {
            let mut f = TiledTiffFile::create(&path, grey_spec(20, 17)).unwrap();
            f.write_tile(0, 0, &[1; 256]).unwrap();
            // Dropped without finish.
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let mut f = TiledTiffFile::create(&path, grey_spec(20, 17)).unwrap();
        f.write_tile(0, 0, &[1; 256]).unwrap();
        let again = f.write_tile(0, 0, &[1; 256]).unwrap_err();
        assert!(
            format!("{again:#}").contains("already written"),
            "{again:#}"
        );
        let outside = f.write_tile(2, 0, &[1; 256]).unwrap_err();
        assert!(format!("{outside:#}").contains("outside"), "{outside:#}");
        let err = f.finish().unwrap_err();
        assert!(format!("{err:#}").contains("3 of its 4 tiles"), "{err:#}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn bad_tile_sides_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = grey_spec(20, 17);
        spec.tile = 100;
        let err = TiledTiffFile::create(&dir.path().join("g.tif"), spec)
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains("multiple of 16"), "{err:#}");
    }
}
