//! End-to-end tests of tiled segmentation (`tessera segment --tile`, `--memory`, `--seams`)
//! through the real binary: the tiled run writes the whole-image run's label map, reads
//! tiled TIFFs window by window, tiles on its own when an image exceeds --memory, and
//! refuses what it cannot do with a clear message.

mod common;

use common::tessera;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use tiff::decoder::{Decoder, DecodingResult};

/// A tiled Deflate BigTIFF of `side` from mirrored copies of a photo the test writes.
fn big_tiff(dir: &Path, side: &str) -> PathBuf {
    big_tiff_as(dir, side, "deflate")
}

/// The same, compressed as `compression` says.
fn big_tiff_as(dir: &Path, side: &str, compression: &str) -> PathBuf {
    let src = dir.join("src.png");
    common::write_photo(&src, 90, 70);
    let out = dir.join("big.tif");
    tessera()
        .args(["make-big-tiff", "--side", side, "--tile", "128"])
        .args(["--compression", compression, "--source"])
        .arg(&src)
        .arg(&out)
        .assert()
        .success();
    out
}

fn npy_labels(path: &Path) -> Vec<u32> {
    let bytes = std::fs::read(path).unwrap();
    let header = u16::from_le_bytes([bytes[8], bytes[9]]) as usize + 10;
    bytes[header..]
        .chunks(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn tiff_pixels(path: &Path) -> DecodingResult {
    let mut dec = Decoder::new(Cursor::new(std::fs::read(path).unwrap())).unwrap();
    dec.read_image().unwrap()
}

fn tiff_labels(path: &Path) -> Vec<u32> {
    let DecodingResult::U32(v) = tiff_pixels(path) else {
        panic!("u32 labels expected")
    };
    v
}

#[test]
fn tiles_give_the_whole_image_labels() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("photo.png");
    common::write_photo(&img, 300, 220);
    let whole = dir.path().join("whole");
    tessera()
        .args(["segment", "-k", "150", "--labels", "npy", "-o"])
        .arg(&whole)
        .arg(&img)
        .assert()
        .success();
    let want = npy_labels(&whole.join("photo.labels.npy"));
    for tile in ["256", "300"] {
        let out = dir.path().join(format!("tiled-{tile}"));
        tessera()
            .args([
                "segment", "-k", "150", "--labels", "npy", "--tile", tile, "-o",
            ])
            .arg(&out)
            .arg(&img)
            .assert()
            .success();
        assert_eq!(
            npy_labels(&out.join("photo.labels.npy")),
            want,
            "tile {tile}"
        );
        assert!(out.join("photo.overlay.png").is_file());
    }
}

fn tiff_rgb(path: &Path) -> Vec<u8> {
    let DecodingResult::U8(v) = tiff_pixels(path) else {
        panic!("8-bit RGB expected")
    };
    v
}

#[test]
fn the_full_size_overlay_is_the_whole_image_runs_picture() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("photo.png");
    common::write_photo(&img, 530, 300);
    for thick in [false, true] {
        let run = |name: &str, tile: Option<&str>| {
            let out = dir.path().join(format!("{name}-{thick}"));
            let mut cmd = tessera();
            cmd.args(["segment", "-k", "150", "--overlay-tiff", "-o"])
                .arg(&out)
                .arg(&img);
            if let Some(t) = tile {
                cmd.args(["--tile", t]);
            }
            if thick {
                cmd.arg("--thick");
            }
            cmd.assert().success();
            out
        };
        let whole = run("whole", None);
        let png = image::open(whole.join("photo.overlay.png"))
            .unwrap()
            .to_rgb8();
        assert_eq!(
            tiff_rgb(&whole.join("photo.overlay.tif")),
            png.as_raw().clone()
        );
        for tile in ["256", "320"] {
            let tiled = run(&format!("tiled{tile}"), Some(tile));
            assert_eq!(
                tiff_rgb(&tiled.join("photo.overlay.tif")),
                png.as_raw().clone(),
                "tile {tile}, thick {thick}"
            );
            // The preview of a picture under 4096 pixels a side is the picture itself.
            let preview = image::open(tiled.join("photo.overlay.png"))
                .unwrap()
                .to_rgb8();
            assert_eq!(preview, png, "tile {tile}, thick {thick}");
        }
    }
}

#[test]
fn tiled_tiffs_are_read_in_windows_and_written_as_bigtiff() {
    let dir = tempfile::tempdir().unwrap();
    let tif = big_tiff(dir.path(), "700x500");
    let whole = dir.path().join("whole");
    tessera()
        .args(["segment", "-k", "200", "--labels", "npy", "-o"])
        .arg(&whole)
        .arg(&tif)
        .assert()
        .success();
    let want = npy_labels(&whole.join("big.labels.npy"));
    let out = dir.path().join("tiled");
    let report = dir.path().join("report.jsonl");
    tessera()
        .args([
            "segment", "-k", "200", "--tile", "256", "--table", "--report",
        ])
        .arg(&report)
        .arg("-o")
        .arg(&out)
        .arg(&tif)
        .assert()
        .success();
    // The tiled BigTIFF holds label + 1, as the .npy does.
    assert_eq!(tiff_labels(&out.join("big.labels.tif")), want);
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.contains("\"tiles\":6"), "{text}");
    let table = std::fs::read_to_string(out.join("big.superpixels.csv")).unwrap();
    let max = want.iter().max().copied().unwrap_or(0) as usize;
    assert_eq!(
        table.lines().count(),
        max + 1,
        "a header and a row a superpixel"
    );
    assert!(out.join("big.adjacency.csv").is_file());
}

#[test]
fn images_beyond_the_memory_budget_are_tiled_automatically() {
    let dir = tempfile::tempdir().unwrap();
    let tif = big_tiff(dir.path(), "2400x1800");
    let out = dir.path().join("out");
    let report = dir.path().join("report.jsonl");
    tessera()
        .args(["segment", "-k", "1500", "--memory", "120MiB", "--report"])
        .arg(&report)
        .arg("-o")
        .arg(&out)
        .arg(&tif)
        .assert()
        .success();
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.contains("\"tiled\""), "{text}");
    let labels = tiff_labels(&out.join("big.labels.tif"));
    assert_eq!(labels.len(), 2400 * 1800);
    assert!(labels.iter().all(|&l| l > 0), "every pixel labelled");
}

#[test]
fn jpeg_tiffs_are_read_whole_or_tiled_beyond_max_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let tif = big_tiff_as(dir.path(), "700x500", "jpeg");
    // Whole: `image` cannot convert YCbCr, the windowed reader does.
    let whole = dir.path().join("whole");
    tessera()
        .args(["segment", "-k", "200", "--labels", "npy", "-o"])
        .arg(&whole)
        .arg(&tif)
        .assert()
        .success();
    let want = npy_labels(&whole.join("big.labels.npy"));
    tessera()
        .args([
            "segment",
            "--algo",
            "felzenszwalb",
            "--labels",
            "none",
            "-o",
        ])
        .arg(dir.path().join("fh"))
        .arg(&tif)
        .assert()
        .success();
    // Beyond --max-pixels a TIFF is not decoded whole but tiled, with the same labels.
    let out = dir.path().join("tiled");
    let report = dir.path().join("report.jsonl");
    tessera()
        .args([
            "segment",
            "-k",
            "200",
            "--labels",
            "npy",
            "--max-pixels",
            "300000",
        ])
        .arg("--report")
        .arg(&report)
        .arg("-o")
        .arg(&out)
        .arg(&tif)
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(&report)
            .unwrap()
            .contains("\"tiled\"")
    );
    assert_eq!(npy_labels(&out.join("big.labels.npy")), want);
    // Other algorithms cannot tile: the limit refuses the image.
    let assert = tessera()
        .args([
            "segment",
            "--algo",
            "felzenszwalb",
            "--max-pixels",
            "300000",
            "-o",
        ])
        .arg(dir.path().join("fh2"))
        .arg(&tif)
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(err.contains("more than the limit of 300000"), "{err}");
}

#[test]
fn fast_seams_label_every_pixel() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("photo.png");
    common::write_photo(&img, 400, 300);
    let out = dir.path().join("out");
    tessera()
        .args(["segment", "-k", "200", "--tile", "256", "--seams", "fast"])
        .args(["--labels", "npy", "-o"])
        .arg(&out)
        .arg(&img)
        .assert()
        .success();
    let labels = npy_labels(&out.join("photo.labels.npy"));
    assert_eq!(labels.len(), 400 * 300);
    let max = *labels.iter().max().unwrap();
    let mut seen = vec![false; max as usize + 1];
    labels.iter().for_each(|&l| seen[l as usize] = true);
    assert!(
        seen[1..].iter().all(|&s| s) && !seen[0],
        "labels 1..=n, each used"
    );
}

#[test]
fn what_tiles_cannot_do_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("photo.png");
    common::write_photo(&img, 120, 90);
    let out = dir.path().join("out");
    let fail = |args: &[&str], says: &str| {
        let assert = tessera()
            .arg("segment")
            .args(args)
            .arg("-o")
            .arg(&out)
            .arg(&img)
            .assert()
            .failure();
        let err = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
        assert!(err.contains(says), "{args:?}: {err}");
    };
    fail(&["--tile", "256", "--algo", "felzenszwalb"], "only SLIC");
    fail(&["--tile", "256", "--labels", "png"], "--labels tiff");
    fail(
        &["--tile", "256", "--overlay", "mean"],
        "--overlay boundaries",
    );
    fail(&["--tile", "100"], "256");
    fail(
        &["--tile", "256", "--overlay", "random", "--overlay-tiff"],
        "--overlay boundaries",
    );
    fail(&["--overlay", "none", "--overlay-tiff"], "--overlay none");
    fail(&["--memory", "lots"], "not a size");
    fail(&["--memory", "1MiB"], "64MiB");
    assert!(
        !out.exists()
            || std::fs::read_dir(&out).unwrap().all(|e| {
                let name = e.unwrap().file_name();
                !name.to_string_lossy().starts_with(".tessera-")
            }),
        "no temporary file left behind"
    );
}
