//! `tessera make-big-tiff` (hidden): writes a huge tiled RGB BigTIFF for benchmarks and
//! tests of the tiled path, tile by tile, never holding the whole image.
//!
//! The picture is a mosaic of the source images (by default those in the repository's
//! `assets/`): horizontal bands, one per source in turn, each the source repeated across and
//! mirrored at every copy so that the content runs on without seams inside a band (a band is
//! the source and its upside-down mirror, so the vertical joins inside a band are seamless too).
//! Each tile is computed from the sources (which are small), compressed — JPEG per tile,
//! Deflate or none — and appended to a hand-written tiled container (`tiled_tiff`, which says
//! why the `tiff` crate's encoder is not used). A row of tiles is computed and compressed in
//! parallel, then written in order.

use crate::tiled_tiff::{
    COMPRESSION_DEFLATE, COMPRESSION_JPEG, COMPRESSION_NONE, PHOTOMETRIC_RGB, PHOTOMETRIC_YCBCR,
    SAMPLE_FORMAT_UINT, TiledSpec, TiledTiffFile,
};
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use image::{ExtendedColorType, ImageEncoder, RgbImage};
use rayon::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// How each tile is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TileCompression {
    /// One self-contained JPEG per tile (TIFF compression 7, YCbCr).
    Jpeg,
    /// Deflate (zlib), RGB.
    Deflate,
    /// Uncompressed RGB.
    None,
}

/// Arguments of `tessera make-big-tiff`.
#[derive(Debug, Args)]
pub struct MakeBigTiffArgs {
    /// Image size, WIDTHxHEIGHT (e.g. 50000x50000).
    #[arg(long, value_name = "WxH", value_parser = parse_side)]
    pub side: (u32, u32),

    /// Tile side in pixels (a multiple of 16).
    #[arg(long, default_value_t = 512)]
    pub tile: u32,

    /// Tile compression.
    #[arg(long, value_enum, default_value_t = TileCompression::Jpeg)]
    pub compression: TileCompression,

    /// JPEG quality (1-100).
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub quality: u8,

    /// Source images of the mosaic (repeatable); default: the images in the repository's
    /// assets/ folder.
    #[arg(long, value_name = "IMAGE")]
    pub source: Vec<PathBuf>,

    /// The TIFF file to write.
    pub output: PathBuf,
}

fn parse_side(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("`{s}` is not WIDTHxHEIGHT"))?;
    let parse = |v: &str| -> Result<u32, String> {
        v.trim()
            .parse::<u32>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("`{v}` is not a positive whole number of pixels"))
    };
    Ok((parse(w)?, parse(h)?))
}

/// Runs `tessera make-big-tiff`.
pub fn run(args: MakeBigTiffArgs) -> Result<ExitCode> {
    let sources = if args.source.is_empty() {
        default_sources()?
    } else {
        args.source.clone()
    };
    let mosaic = Mosaic::load(&sources)?;
    let (width, height) = args.side;
    write_tiled_rgb(
        &args.output,
        width,
        height,
        args.tile,
        args.compression,
        args.quality,
        |x, y| mosaic.pixel(x, y),
    )?;
    let bytes = std::fs::metadata(&args.output)
        .map(|m| m.len())
        .unwrap_or(0);
    eprintln!(
        "wrote {} ({width}x{height}, {}x{} tiles of {}, {:?}, {bytes} bytes)",
        args.output.display(),
        width.div_ceil(args.tile),
        height.div_ceil(args.tile),
        args.tile,
        args.compression
    );
    Ok(ExitCode::SUCCESS)
}

/// The images in the repository's assets/ folder (where this binary was built from).
fn default_sources() -> Result<Vec<PathBuf>> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets"));
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| {
            format!(
                "no --source given and the assets folder {} cannot be read",
                dir.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
        })
        .collect();
    found.sort();
    if found.is_empty() {
        bail!(
            "no --source given and {} holds no PNG or JPEG",
            dir.display()
        );
    }
    Ok(found)
}

/// The endless mirrored mosaic of the sources; see the module documentation.
pub struct Mosaic {
    sources: Vec<RgbImage>,
    /// Where each source's band starts within one period of bands.
    band_starts: Vec<u32>,
    period: u32,
}

/// Index into `0..n` of `i` on a line that repeats `0..n` forwards then backwards.
fn reflect(i: u32, n: u32) -> u32 {
    let t = i % (2 * n);
    if t < n { t } else { 2 * n - 1 - t }
}

impl Mosaic {
    /// Loads the source images.
    pub fn load(paths: &[PathBuf]) -> Result<Self> {
        let mut sources = Vec::with_capacity(paths.len());
        for p in paths {
            let img = image::open(p)
                .with_context(|| format!("cannot read the source image {}", p.display()))?
                .to_rgb8();
            sources.push(img);
        }
        Self::new(sources)
    }

    /// A mosaic of images already in memory.
    pub fn new(sources: Vec<RgbImage>) -> Result<Self> {
        if sources.is_empty() || sources.iter().any(|s| s.width() == 0 || s.height() == 0) {
            bail!("the mosaic needs at least one source image, none of them empty");
        }
        let mut band_starts = Vec::with_capacity(sources.len());
        let mut period = 0u32;
        for s in &sources {
            band_starts.push(period);
            period = period
                .checked_add(2 * s.height())
                .context("the source images are too tall")?;
        }
        Ok(Mosaic {
            sources,
            band_starts,
            period,
        })
    }

    /// The colour at `(x, y)` of the endless mosaic.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let t = y % self.period;
        let k = self.band_starts.partition_point(|&s| s <= t) - 1;
        let src = &self.sources[k];
        let sy = reflect(t - self.band_starts[k], src.height());
        let sx = reflect(x, src.width());
        src.get_pixel(sx, sy).0
    }
}

/// Writes a `width` x `height` tiled RGB BigTIFF at `path` whose pixel `(x, y)` is
/// `pixel(x, y)`, tile row by tile row.
pub fn write_tiled_rgb(
    path: &Path,
    width: u32,
    height: u32,
    tile: u32,
    compression: TileCompression,
    quality: u8,
    pixel: impl Fn(u32, u32) -> [u8; 3] + Sync,
) -> Result<()> {
    let (code, photometric, subsampling) = match compression {
        // `image`'s JPEG encoder writes JFIF (YCbCr) without chroma subsampling, so the TIFF
        // says YCbCr 1x1: readers then convert to RGB as for any JPEG.
        TileCompression::Jpeg => (COMPRESSION_JPEG, PHOTOMETRIC_YCBCR, Some([1, 1])),
        TileCompression::Deflate => (COMPRESSION_DEFLATE, PHOTOMETRIC_RGB, None),
        TileCompression::None => (COMPRESSION_NONE, PHOTOMETRIC_RGB, None),
    };
    if compression == TileCompression::Jpeg && tile > u32::from(u16::MAX) {
        bail!("JPEG tiles can be at most 65535 pixels wide");
    }
    let spec = TiledSpec {
        width,
        height,
        tile,
        samples_per_pixel: 3,
        bits_per_sample: 8,
        sample_format: SAMPLE_FORMAT_UINT,
        photometric,
        compression: code,
        ycbcr_subsampling: subsampling,
    };
    let mut file = TiledTiffFile::create(path, spec)?;
    let (across, down) = (file.spec().tiles_across(), file.spec().tiles_down());
    for ty in 0..down {
        let row: Vec<Result<Vec<u8>>> = (0..across)
            .into_par_iter()
            .map(|tx| {
                let mut rgb = Vec::with_capacity(tile as usize * tile as usize * 3);
                // Edge tiles are stored full size; their padding is simply more mosaic.
                for y in ty * tile..(ty + 1) * tile {
                    for x in tx * tile..(tx + 1) * tile {
                        rgb.extend_from_slice(&pixel(x, y));
                    }
                }
                encode_tile(&rgb, tile, compression, quality)
            })
            .collect();
        for (tx, bytes) in row.into_iter().enumerate() {
            let bytes = bytes.with_context(|| format!("cannot write {}", path.display()))?;
            file.write_tile(tx as u32, ty, &bytes)?;
        }
    }
    file.finish()
}

/// One tile's RGB samples, compressed.
fn encode_tile(
    rgb: &[u8],
    tile: u32,
    compression: TileCompression,
    quality: u8,
) -> Result<Vec<u8>> {
    Ok(match compression {
        TileCompression::None => rgb.to_vec(),
        TileCompression::Deflate => {
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            z.write_all(rgb)?;
            z.finish()?
        }
        TileCompression::Jpeg => {
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).write_image(
                rgb,
                tile,
                tile,
                ExtendedColorType::Rgb8,
            )?;
            out
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_parse() {
        assert_eq!(parse_side("50000x30000"), Ok((50000, 30000)));
        assert_eq!(parse_side("8X9"), Ok((8, 9)));
        assert!(parse_side("0x5").is_err());
        assert!(parse_side("12").is_err());
        assert!(parse_side("axb").is_err());
    }

    #[test]
    fn the_mosaic_mirrors_and_alternates_sources() {
        let a = RgbImage::from_fn(3, 2, |x, y| image::Rgb([x as u8, y as u8, 0]));
        let b = RgbImage::from_fn(2, 1, |x, _| image::Rgb([100 + x as u8, 0, 1]));
        let m = Mosaic::new(vec![a, b]).unwrap();
        // Band of `a`: rows 0..4 are a, a mirrored; columns mirror every 3.
        assert_eq!(m.pixel(0, 0), [0, 0, 0]);
        assert_eq!(m.pixel(2, 1), [2, 1, 0]);
        assert_eq!(
            m.pixel(3, 0),
            [2, 0, 0],
            "mirrored copy starts with the last column"
        );
        assert_eq!(m.pixel(5, 0), [0, 0, 0]);
        assert_eq!(
            m.pixel(6, 0),
            [0, 0, 0],
            "and the next copy runs forwards again"
        );
        assert_eq!(
            m.pixel(0, 2),
            [0, 1, 0],
            "the band's lower half is the mirror"
        );
        assert_eq!(m.pixel(0, 3), [0, 0, 0]);
        // Then `b`'s band (rows 4..6), then `a` again.
        assert_eq!(m.pixel(1, 4), [101, 0, 1]);
        assert_eq!(m.pixel(2, 5), [101, 0, 1]);
        assert_eq!(m.pixel(1, 6), [1, 0, 0]);
    }

    #[test]
    fn reflect_folds() {
        let got: Vec<u32> = (0..8).map(|i| reflect(i, 3)).collect();
        assert_eq!(got, [0, 1, 2, 2, 1, 0, 0, 1]);
    }
}
