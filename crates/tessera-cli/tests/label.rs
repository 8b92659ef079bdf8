//! End-to-end tests of `tessera label` through the real binary.

mod common;

use common::{tessera, write_photo};
use image::{GrayImage, Luma};
use predicates::prelude::*;
use std::path::Path;

/// One stroke in each half: value 200 on the left, 100 on the right (so class 0 is right).
fn write_scribbles(path: &Path, w: u32, h: u32) {
    let img = GrayImage::from_fn(w, h, |x, y| {
        let v = if y == h / 2 && (4..12).contains(&x) {
            200
        } else if y == h / 2 && (w - 12..w - 4).contains(&x) {
            100
        } else {
            0
        };
        Luma([v])
    });
    img.save(path).expect("scribbles written");
}

#[test]
fn scribbles_label_both_halves_with_every_solver() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (64u32, 48u32);
    write_photo(&dir.path().join("photo.png"), w, h);
    write_scribbles(&dir.path().join("s.png"), w, h);
    for solver in ["expansion", "trws", "bp", "icm"] {
        let out = dir.path().join(format!("out-{solver}"));
        let model = dir.path().join(format!("{solver}.uai"));
        let assert = tessera()
            .arg("label")
            .arg(dir.path().join("photo.png"))
            .arg("--scribbles")
            .arg(dir.path().join("s.png"))
            .args(["-k", "30", "--solver", solver, "--smoothness", "5", "-o"])
            .arg(&out)
            .arg("--save-model")
            .arg(&model)
            .assert()
            .success();
        let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
        let record: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        assert_eq!(record["classes"], 2);
        assert_eq!(
            record["class_values"],
            serde_json::json!(["#646464", "#c8c8c8"])
        );
        assert_eq!(record["solver"], solver);
        assert!(record["energy"].as_f64().unwrap().is_finite());
        assert_eq!(
            record["lower_bound"].is_null(),
            solver == "bp" || solver == "icm"
        );
        let classes = image::open(out.join("photo.classes.png"))
            .unwrap()
            .to_luma8();
        assert_eq!(classes.dimensions(), (w, h));
        // Class 0 is the smaller scribble value (100, right half).
        assert_eq!(classes.get_pixel(5, 5)[0], 1, "{solver}");
        assert_eq!(classes.get_pixel(w - 5, h - 5)[0], 0, "{solver}");
        let overlay = image::open(out.join("photo.classes-overlay.png")).unwrap();
        assert_eq!((overlay.width(), overlay.height()), (w, h));
        let text = std::fs::read_to_string(&model).unwrap();
        assert!(text.starts_with("MARKOV"));
    }
}

#[test]
fn probabilities_from_npy() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (40u32, 30u32);
    write_photo(&dir.path().join("photo.png"), w, h);
    // Noisy probabilities that favour the correct half on 3 pixels out of 4.
    let probs = ndarray::Array3::from_shape_fn((h as usize, w as usize, 2), |(y, x, c)| {
        let right = x >= w as usize / 2;
        let noisy = (x * 7 + y * 3) % 4 == 0;
        let p = if right != noisy { 0.8f32 } else { 0.2 };
        if c == 1 { p } else { 1.0 - p }
    });
    let npy = dir.path().join("p.npy");
    ndarray_npy::write_npy(&npy, &probs).unwrap();
    let out = dir.path().join("out");
    tessera()
        .arg("label")
        .arg(dir.path().join("photo.png"))
        .arg("--probs")
        .arg(&npy)
        .args(["-k", "20", "--solver", "trws", "-o"])
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("\"lower_bound\""));
    let classes = image::open(out.join("photo.classes.png"))
        .unwrap()
        .to_luma8();
    assert_eq!(classes.get_pixel(2, 2)[0], 0);
    assert_eq!(classes.get_pixel(w - 3, h - 3)[0], 1);
}

#[test]
fn bad_inputs_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    write_photo(&dir.path().join("photo.png"), 32, 32);
    write_scribbles(&dir.path().join("small.png"), 16, 16);
    let blank = GrayImage::new(32, 32);
    blank.save(dir.path().join("blank.png")).unwrap();
    let out = dir.path().join("out");
    tessera()
        .arg("label")
        .arg(dir.path().join("photo.png"))
        .arg("--scribbles")
        .arg(dir.path().join("small.png"))
        .arg("-o")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("16x16"));
    tessera()
        .arg("label")
        .arg(dir.path().join("photo.png"))
        .arg("--scribbles")
        .arg(dir.path().join("blank.png"))
        .arg("-o")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no pixel is scribbled"));
    // Neither --scribbles nor --probs: a usage error.
    tessera()
        .arg("label")
        .arg(dir.path().join("photo.png"))
        .assert()
        .code(2);
    assert!(!out.join("photo.classes.png").exists());
}
