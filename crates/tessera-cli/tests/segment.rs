//! End-to-end tests of `tessera segment` through the real binary.

mod common;

use common::{tessera, write_photo};
use predicates::prelude::*;
use std::path::Path;

fn no_temporaries(dir: &Path) -> bool {
    walk(dir).iter().all(|p| {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        !name.starts_with(".tessera-") && !name.ends_with(".part")
    })
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn folder_with_a_broken_file_goes_on_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(input.join("sub")).unwrap();
    write_photo(&input.join("a.png"), 64, 48);
    write_photo(&input.join("sub/b.png"), 40, 40);
    std::fs::write(input.join("broken.jpg"), b"this is not a jpeg").unwrap();
    std::fs::write(input.join("empty.png"), b"").unwrap();
    std::fs::write(input.join(".DS_Store"), b"\0\0junk").unwrap();
    let out = dir.path().join("out");
    tessera()
        .args(["segment", "-r", "-k", "20", "-o"])
        .arg(&out)
        .arg(&input)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("broken.jpg"))
        .stderr(predicate::str::contains("empty.png"))
        .stderr(predicate::str::contains("2 failed"));
    for f in [
        "a.overlay.png",
        "a.labels.png",
        "sub/b.overlay.png",
        "sub/b.labels.png",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    assert!(!out.join("broken.overlay.png").exists());
    assert!(no_temporaries(&out));
}

#[test]
fn label_map_png_holds_label_plus_one() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("p.png");
    write_photo(&photo, 60, 40);
    let out = dir.path().join("out");
    let report = dir.path().join("report.jsonl");
    tessera()
        .args(["segment", "-k", "12", "--overlay", "mean", "--report"])
        .arg(&report)
        .arg("-o")
        .arg(&out)
        .arg(&photo)
        .assert()
        .success();
    let labels = image::open(out.join("p.labels.png")).unwrap();
    assert!(matches!(labels, image::DynamicImage::ImageLuma16(_)));
    let values = labels.into_luma16().into_raw();
    let max = *values.iter().max().unwrap() as usize;
    assert!(
        values.iter().all(|&v| v >= 1),
        "every pixel has a superpixel"
    );
    let mut used = vec![false; max + 1];
    values.iter().for_each(|&v| used[v as usize] = true);
    assert!(used[1..].iter().all(|&u| u), "labels 1..=n are all used");

    let line = std::fs::read_to_string(&report).unwrap();
    let rec: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(rec["width"], 60);
    assert_eq!(rec["segments"].as_u64().unwrap() as usize, max);
    assert_eq!(rec["algorithm"], "slic");
    assert!(rec["segment_ms"].as_f64().unwrap() >= 0.0);
    assert!(rec["total_ms"].as_f64().unwrap() >= rec["segment_ms"].as_f64().unwrap());
}

#[test]
fn too_many_segments_for_png_fail_unless_npy() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("big.png");
    write_photo(&photo, 300, 230); // 69,000 pixels
    let out = dir.path().join("out");
    let base = || {
        let mut c = tessera();
        c.args([
            "segment",
            "-k",
            "69000",
            "--no-connectivity",
            "--iterations",
            "1",
            "-o",
        ])
        .arg(&out)
        .arg(&photo);
        c
    };
    base()
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--labels npy"));
    base().args(["--labels", "npy"]).assert().success();
    let arr: ndarray::Array2<u32> = ndarray_npy::read_npy(out.join("big.labels.npy")).unwrap();
    assert_eq!(arr.dim(), (230, 300));
    assert!(*arr.iter().max().unwrap() > 65534);
}

#[test]
fn skip_existing_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("p.png");
    write_photo(&photo, 30, 30);
    let out = dir.path().join("out");
    let run = || {
        let mut c = tessera();
        c.args(["segment", "-k", "4", "--skip-existing", "-o"])
            .arg(&out)
            .arg(&photo);
        c
    };
    run().assert().success();
    run()
        .assert()
        .success()
        .stderr(predicate::str::contains("skipped 1"));
}

#[test]
fn usage_errors_exit_2() {
    tessera().args(["segment"]).assert().code(2);
    tessera()
        .args(["segment", "--compactness", "-1", "x.png"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("compactness"));
    tessera()
        .args(["segment", "--boundary-color", "yellow", "x.png"])
        .assert()
        .code(2);
}

#[test]
fn missing_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    tessera()
        .args(["segment", "-o"])
        .arg(dir.path())
        .arg(dir.path().join("nope.png"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("nope.png"));
}

/// Runs `tessera segment` on a small picture with `args`; returns the report record and the
/// label map.
fn segment_with(args: &[&str]) -> (serde_json::Value, Vec<u16>) {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("p.png");
    write_photo(&photo, 48, 32);
    let out = dir.path().join("out");
    let report = dir.path().join("report.jsonl");
    tessera()
        .arg("segment")
        .args(args)
        .arg("--report")
        .arg(&report)
        .arg("-o")
        .arg(&out)
        .arg(&photo)
        .assert()
        .success();
    let line = std::fs::read_to_string(&report).unwrap();
    let labels = image::open(out.join("p.labels.png")).unwrap();
    (
        serde_json::from_str(line.trim()).unwrap(),
        labels.into_luma16().into_raw(),
    )
}

#[test]
fn kmeans_reports_its_parameters_and_follows_the_seed() {
    let args = [
        "--algo",
        "kmeans",
        "-k",
        "6",
        "--kmeans-init",
        "plusplus",
        "--seed",
        "3",
    ];
    let (rec, labels) = segment_with(&args);
    assert_eq!(rec["algorithm"], "kmeans");
    assert_eq!(rec["parameters"]["segments"], 6);
    assert_eq!(rec["parameters"]["init"], "plusplus");
    assert_eq!(rec["parameters"]["seed"], 3);
    assert_eq!(rec["parameters"]["compactness"], 10.0);
    let (_, again) = segment_with(&args);
    assert_eq!(labels, again, "same seed, same labels");
}

/// No segment of `segment_with`'s 48-pixel-wide picture crosses the border of its two tones.
fn assert_halves_apart(labels: &[u16]) {
    for row in labels.chunks(48) {
        assert!(row[..24].iter().all(|l| !row[24..].contains(l)));
    }
}

#[test]
fn meanshift_splits_the_two_tones() {
    let (rec, labels) = segment_with(&["--algo", "meanshift", "--hr", "8"]);
    assert_eq!(rec["algorithm"], "meanshift");
    assert_eq!(rec["parameters"]["hs"], 7.0);
    assert_eq!(rec["parameters"]["hr"], 8.0);
    assert_eq!(rec["parameters"]["min_size"], 20);
    // The picture's two halves differ far more than hr: no region crosses the middle.
    assert_halves_apart(&labels);
}

#[test]
fn slic_reports_and_applies_the_fast_slic_options() {
    let (rec, labels) = segment_with(&[
        "-k",
        "12",
        "--distance",
        "manhattan",
        "--subsample",
        "3",
        "--min-size-factor",
        "0.25",
    ]);
    assert_eq!(rec["algorithm"], "slic");
    assert_eq!(rec["parameters"]["distance"], "manhattan");
    assert_eq!(rec["parameters"]["subsample"], 3);
    assert_eq!(rec["parameters"]["min_size_factor"], 0.25);
    assert_halves_apart(&labels);
    let (rec, _) = segment_with(&["-k", "12"]);
    assert_eq!(rec["parameters"]["distance"], "euclidean");
}

#[test]
fn felzenszwalb_searches_the_scale_for_k_or_takes_one() {
    let (rec, labels) = segment_with(&["--algo", "felzenszwalb", "-k", "8"]);
    assert_eq!(rec["algorithm"], "felzenszwalb");
    assert_eq!(rec["parameters"]["target_segments"], 8);
    assert_eq!(rec["parameters"]["sigma"], 0.8);
    assert_eq!(rec["parameters"]["min_size"], 20);
    assert!(rec["parameters"]["chosen_scale"].as_f64().unwrap() > 0.0);
    let count = *labels.iter().max().unwrap();
    assert!(count >= 2, "the two tones are separate segments");
    let (rec, _) = segment_with(&["--algo", "felzenszwalb", "--fh-scale", "300"]);
    assert_eq!(rec["parameters"]["scale"], 300.0);
    assert!(rec["parameters"]["target_segments"].is_null());
}

#[test]
fn quickshift_reports_its_parameters_and_splits_the_two_tones() {
    let (rec, labels) = segment_with(&["--algo", "quickshift", "--qs-kernel-size", "3"]);
    assert_eq!(rec["algorithm"], "quickshift");
    assert_eq!(rec["parameters"]["kernel_size"], 3.0);
    assert_eq!(rec["parameters"]["max_dist"], 10.0);
    assert_eq!(rec["parameters"]["seed"], 42);
    assert_halves_apart(&labels);
}

#[test]
fn etps_reports_its_parameters_and_splits_the_two_tones() {
    let (rec, labels) = segment_with(&[
        "--algo",
        "etps",
        "-k",
        "6",
        "--etps-compactness",
        "3",
        "--etps-boundary-weight",
        "0.5",
        "--etps-iterations",
        "4",
    ]);
    assert_eq!(rec["algorithm"], "etps");
    let p = &rec["parameters"];
    assert_eq!(p["segments"], 6);
    assert_eq!(p["compactness"], 3.0);
    assert_eq!(p["boundary_weight"], 0.5);
    assert_eq!(p["iterations"], 4);
    assert_eq!(p["max_block_size"], 16);
    // A 3 x 2 grid of cells: exactly 6 superpixels, none crossing the two tones' border.
    let mut used = labels.clone();
    used.sort_unstable();
    used.dedup();
    assert_eq!(used.len(), 6);
    for row in labels.chunks(48) {
        assert!(row[..24].iter().all(|l| !row[24..].contains(l)));
    }
}

#[test]
fn etps_refuses_a_bad_option_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("p.png");
    write_photo(&photo, 16, 16);
    tessera()
        .args([
            "segment",
            "--algo",
            "etps",
            "--etps-compactness",
            "-1",
            "-o",
        ])
        .arg(dir.path().join("out"))
        .arg(&photo)
        .assert()
        .failure()
        .stderr(predicate::str::contains("compactness"));
}

#[test]
fn table_describes_the_label_map_it_sits_beside() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("p.png");
    write_photo(&photo, 50, 30);
    let out = dir.path().join("out");
    tessera()
        .args(["segment", "-k", "10", "--table", "--labels", "npy", "-o"])
        .arg(&out)
        .arg(&photo)
        .assert()
        .success();
    let labels: ndarray::Array2<u32> = ndarray_npy::read_npy(out.join("p.labels.npy")).unwrap();
    let (h, w) = labels.dim();
    // The superpixel table: one row per value of the label file, the same value as id.
    let text = std::fs::read_to_string(out.join("p.superpixels.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("id,area,centroid_x,centroid_y,x0,y0,x1,y1,mean_r,mean_g,mean_b")
    );
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    let max = *labels.iter().max().unwrap() as usize;
    assert_eq!(rows.len(), max);
    for row in &rows {
        let id = row[0] as u32;
        let pixels: Vec<(usize, usize)> = labels
            .indexed_iter()
            .filter(|&(_, &v)| v == id)
            .map(|(p, _)| p)
            .collect();
        assert_eq!(row[1] as usize, pixels.len(), "area of {id}");
        let cx = pixels.iter().map(|p| p.1 as f64).sum::<f64>() / pixels.len() as f64;
        assert!((row[2] - cx).abs() < 1e-3, "centroid of {id}");
        let x0 = pixels.iter().map(|p| p.1).min().unwrap();
        let y1 = pixels.iter().map(|p| p.0).max().unwrap() + 1;
        assert_eq!((row[4] as usize, row[7] as usize), (x0, y1), "box of {id}");
        assert!(row[8..].iter().all(|&m| (0.0..=1.0).contains(&m)));
    }
    // The adjacency list: every pair of different neighbouring values, with its border.
    let mut expected = std::collections::BTreeMap::new();
    for y in 0..h {
        for x in 0..w {
            for (ny, nx) in [(y, x + 1), (y + 1, x)] {
                if ny < h && nx < w && labels[[y, x]] != labels[[ny, nx]] {
                    let (a, b) = (labels[[y, x]], labels[[ny, nx]]);
                    *expected.entry((a.min(b), a.max(b))).or_insert(0u64) += 1;
                }
            }
        }
    }
    let text = std::fs::read_to_string(out.join("p.adjacency.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("a,b,border"));
    let got: Vec<(u32, u32, u64)> = lines
        .map(|l| {
            let v: Vec<&str> = l.split(',').collect();
            (
                v[0].parse().unwrap(),
                v[1].parse().unwrap(),
                v[2].parse().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(u32, u32, u64)> =
        expected.into_iter().map(|((a, b), n)| (a, b, n)).collect();
    assert!(!expected.is_empty());
    assert_eq!(got, expected);
    // With --skip-existing the tables count as outputs: a missing one is redone.
    std::fs::remove_file(out.join("p.adjacency.csv")).unwrap();
    tessera()
        .args([
            "segment",
            "-k",
            "10",
            "--table",
            "--labels",
            "npy",
            "--skip-existing",
            "-o",
        ])
        .arg(&out)
        .arg(&photo)
        .assert()
        .success()
        .stderr(predicate::str::contains("segmented 1 image"));
    assert!(out.join("p.adjacency.csv").is_file());
    // Volumes have no table.
    tessera()
        .args(["segment", "--volume", "--table", "-o"])
        .arg(&out)
        .arg(&photo)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--table is for images"));
    // Nor a full-size overlay TIFF: theirs is a montage.
    tessera()
        .args(["segment", "--volume", "--overlay-tiff", "-o"])
        .arg(&out)
        .arg(&photo)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--overlay-tiff is for images"));
}
