//! End-to-end tests of `tessera eval`, `compare` and `sweep` through the real binary, on the
//! bundled assets with synthetic ground truth.

use assert_cmd::Command;
use image::{ImageBuffer, Luma};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn asset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets")
        .join(name)
}

fn tessera() -> Command {
    Command::cargo_bin("tessera").unwrap()
}

/// Writes a 16-bit label PNG of `w x h` whose value at (x, y) is `f(x, y)`.
fn write_labels(path: &Path, w: u32, h: u32, f: impl Fn(u32, u32) -> u16) {
    ImageBuffer::<Luma<u16>, Vec<u16>>::from_fn(w, h, |x, y| Luma([f(x, y)]))
        .save(path)
        .unwrap();
}

/// An image folder with chelsea (RGB) and camera (grey), and a BSDS-style ground-truth
/// folder with two annotations each: quadrants, and three vertical bands.
fn dataset(root: &Path) -> (PathBuf, PathBuf) {
    let (images, gt) = (root.join("images"), root.join("gt"));
    std::fs::create_dir_all(&images).unwrap();
    std::fs::create_dir_all(&gt).unwrap();
    for name in ["chelsea", "camera"] {
        let src = asset(&format!("{name}.png"));
        std::fs::copy(&src, images.join(format!("{name}.png"))).unwrap();
        let (w, h) = image::image_dimensions(&src).unwrap();
        write_labels(&gt.join(format!("{name}_0.png")), w, h, |x, y| {
            1 + u16::from(x >= w / 2) + 2 * u16::from(y >= h / 2)
        });
        write_labels(&gt.join(format!("{name}_1.png")), w, h, |x, _| {
            1 + (3 * x / w) as u16
        });
    }
    (images, gt)
}

fn json_of(out: &[u8]) -> Value {
    serde_json::from_slice(out).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(out)))
}

#[test]
fn eval_scores_segment_output_and_ground_truth_itself() {
    let dir = tempfile::tempdir().unwrap();
    let (images, gt) = dataset(dir.path());
    let seg = dir.path().join("seg");
    tessera()
        .args(["segment", "-k", "200", "--overlay", "none", "-o"])
        .arg(&seg)
        .arg(&images)
        .assert()
        .success();
    let tsv = dir.path().join("per_image.tsv");
    let out = tessera()
        .args(["eval", "--format", "json", "--labels"])
        .arg(&seg)
        .arg("--gt")
        .arg(&gt)
        .arg("--images")
        .arg(&images)
        .arg("--tsv")
        .arg(&tsv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out.stdout);
    assert_eq!(v["images"], 2);
    for key in [
        "boundary_recall",
        "boundary_precision",
        "undersegmentation_error",
        "asa",
        "explained_variation",
        "compactness",
    ] {
        let x = v[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} missing: {v}"));
        assert!((0.0..=1.0).contains(&x), "{key} = {x}");
    }
    let segments = v["segments"].as_f64().unwrap();
    assert!((50.0..400.0).contains(&segments), "{segments}");
    let text = std::fs::read_to_string(&tsv).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.starts_with("id\tground_truths\tsegments"));
    assert!(text.contains("\ncamera\t2\t") && text.contains("\nchelsea\t2\t"));

    // The second annotation as the label map (a plain PNG): perfect against itself, which
    // `--aggregate best` picks.
    let same = dir.path().join("same");
    std::fs::create_dir_all(&same).unwrap();
    for name in ["chelsea", "camera"] {
        std::fs::copy(
            gt.join(format!("{name}_1.png")),
            same.join(format!("{name}.png")),
        )
        .unwrap();
    }
    let out = tessera()
        .args([
            "eval",
            "--format",
            "json",
            "--aggregate",
            "best",
            "--labels",
        ])
        .arg(&same)
        .arg("--gt")
        .arg(&gt)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v = json_of(&out.stdout);
    assert_eq!(v["boundary_recall"], 1.0);
    assert_eq!(v["undersegmentation_error"], 0.0);
    assert_eq!(v["asa"], 1.0);
    assert_eq!(v["explained_variation"], Value::Null); // no --images
    assert_eq!(v["segments"], 3.0);
}

#[test]
fn eval_names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, gt) = dataset(dir.path());
    let labels = dir.path().join("labels");
    std::fs::create_dir_all(&labels).unwrap();
    std::fs::copy(gt.join("camera_0.png"), labels.join("camera.png")).unwrap();
    write_labels(&labels.join("nogt.png"), 4, 4, |x, _| x as u16);
    let out = tessera()
        .args(["eval", "--labels"])
        .arg(&labels)
        .arg("--gt")
        .arg(&gt)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nogt.png") && err.contains("no ground truth"),
        "{err}"
    );
    // The image that could be scored is still summarised.
    assert!(String::from_utf8_lossy(&out.stdout).contains("boundary_recall"));
}

#[test]
fn compare_ignores_renumbering_and_flags_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (40, 30);
    let a = dir.path().join("a.png");
    let renumbered = dir.path().join("b.png");
    let moved = dir.path().join("c.png");
    write_labels(&a, w, h, |x, y| (x / 10 + 4 * (y / 10)) as u16);
    write_labels(&renumbered, w, h, |x, y| {
        500 - (x / 10 + 4 * (y / 10)) as u16
    });
    // One column of 30 pixels moved from one segment to its neighbour: 30 / 1200 = 2.5%.
    write_labels(&moved, w, h, |x, y| {
        let x = if x == 9 { 10 } else { x };
        (x / 10 + 4 * (y / 10)) as u16
    });

    tessera()
        .arg("compare")
        .arg(&a)
        .arg(&renumbered)
        .assert()
        .success();
    let out = tessera()
        .args(["compare", "--json"])
        .arg(&a)
        .arg(&moved)
        .arg("--diff")
        .arg(dir.path().join("diff.png"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json_of(&out.stdout);
    assert_eq!(v["changed_pixels"], 30);
    assert!(v["adjusted_rand_index"].as_f64().unwrap() < 1.0);
    let diff = image::open(dir.path().join("diff.png")).unwrap().to_rgb8();
    assert_eq!(diff.get_pixel(9, 0).0, [255, 0, 0]);
    assert_ne!(diff.get_pixel(8, 0).0, [255, 0, 0]);
    tessera()
        .args(["compare", "--tolerance", "0.03"])
        .arg(&a)
        .arg(&moved)
        .assert()
        .success();
    // A map of another size is an error, not a difference.
    let small = dir.path().join("small.png");
    write_labels(&small, 4, 4, |_, _| 0);
    tessera()
        .arg("compare")
        .arg(&a)
        .arg(&small)
        .assert()
        .code(2);
}

#[test]
fn sweep_writes_tables_and_charts() {
    let dir = tempfile::tempdir().unwrap();
    let (images, gt) = dataset(dir.path());
    let out_dir = dir.path().join("sweep");
    let out = tessera()
        .args([
            "sweep", "--algo", "slic", "-k", "50,150", "-j", "1", "--images",
        ])
        .arg(&images)
        .arg("--gt")
        .arg(&gt)
        .arg("-o")
        .arg(&out_dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("no TrueType font") {
        eprintln!("skipping the chart check: no system font on this machine");
        return;
    }
    assert!(out.status.success(), "{stderr}");
    let rows = std::fs::read_to_string(out_dir.join("sweep.tsv")).unwrap();
    assert_eq!(rows.lines().count(), 1 + 2 * 2, "{rows}");
    let summary = std::fs::read_to_string(out_dir.join("summary.tsv")).unwrap();
    let lines: Vec<&str> = summary.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[1].starts_with("slic\t50\t2\t") && lines[2].starts_with("slic\t150\t2\t"));
    let png = image::open(out_dir.join("sweep.png")).unwrap();
    assert!(png.width() >= 800);
    let svg = std::fs::read_to_string(out_dir.join("sweep.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("Boundary recall"));
}
