//! End-to-end tests of the hidden `tessera make-big-tiff` through the real binary: the tiled
//! BigTIFF it writes is read back with the `tiff` crate and checked against the mirrored
//! mosaic of a source image the test writes itself.

mod common;

use common::tessera;
use image::RgbImage;
use std::io::Cursor;
use std::path::Path;
use tiff::decoder::{ChunkType, Decoder, DecodingResult};

/// A 40 x 30 source image, and its path.
fn source(dir: &Path) -> (RgbImage, std::path::PathBuf) {
    let path = dir.join("src.png");
    common::write_photo(&path, 40, 30);
    (image::open(&path).unwrap().to_rgb8(), path)
}

fn make(dir: &Path, src: &Path, compression: &str) -> std::path::PathBuf {
    let out = dir.join(format!("big-{compression}.tif"));
    tessera()
        .args([
            "make-big-tiff",
            "--side",
            "150x100",
            "--tile",
            "64",
            "--compression",
        ])
        .arg(compression)
        .arg("--source")
        .arg(src)
        .arg(&out)
        .assert()
        .success();
    out
}

fn decode(path: &Path) -> (Decoder<Cursor<Vec<u8>>>, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..4], b"II\x2b\x00", "a BigTIFF");
    let mut dec = Decoder::new(Cursor::new(bytes)).unwrap();
    assert_eq!(dec.dimensions().unwrap(), (150, 100));
    assert_eq!(dec.get_chunk_type(), ChunkType::Tile);
    assert_eq!(dec.chunk_dimensions(), (64, 64));
    let DecodingResult::U8(px) = dec.read_image().unwrap() else {
        panic!("8-bit samples expected")
    };
    (dec, px)
}

/// Index into `0..n` of `i` on a line that runs `0..n` forwards, then backwards, and so on.
fn mirror(i: u32, n: u32) -> u32 {
    let t = i % (2 * n);
    if t < n { t } else { 2 * n - 1 - t }
}

#[test]
fn uncompressed_and_deflate_tiles_hold_the_mirrored_mosaic() {
    let dir = tempfile::tempdir().unwrap();
    let (img, src) = source(dir.path());
    for compression in ["none", "deflate"] {
        let out = make(dir.path(), &src, compression);
        let (mut dec, px) = decode(&out);
        assert_eq!(dec.colortype().unwrap(), tiff::ColorType::RGB(8));
        for y in 0..100u32 {
            for x in 0..150u32 {
                let want = img.get_pixel(mirror(x, 40), mirror(y, 30)).0;
                let at = ((y * 150 + x) * 3) as usize;
                assert_eq!(px[at..at + 3], want, "{compression}: pixel ({x}, {y})");
            }
        }
    }
    // Only the outputs and the source: no temporaries left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
}

#[test]
fn jpeg_tiles_are_ycbcr_and_decode() {
    let dir = tempfile::tempdir().unwrap();
    let (_, src) = source(dir.path());
    let out = make(dir.path(), &src, "jpeg");
    let (mut dec, px) = decode(&out);
    // The `tiff` crate hands JPEG tiles over as YCbCr; `tiff_window` converts them (its unit
    // tests check the colours).
    assert_eq!(dec.colortype().unwrap(), tiff::ColorType::YCbCr(8));
    assert_eq!(px.len(), 150 * 100 * 3);
}

#[test]
fn bad_arguments_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, src) = source(dir.path());
    let out = dir.path().join("x.tif");
    tessera()
        .args([
            "make-big-tiff",
            "--side",
            "10x10",
            "--tile",
            "50",
            "--source",
        ])
        .arg(&src)
        .arg(&out)
        .assert()
        .failure()
        .stderr(predicates::str::contains("multiple of 16"));
    tessera()
        .args(["make-big-tiff", "--side", "10x10", "--source"])
        .arg(dir.path().join("missing.png"))
        .arg(&out)
        .assert()
        .failure()
        .stderr(predicates::str::contains("missing.png"));
    assert!(!out.exists());
}
