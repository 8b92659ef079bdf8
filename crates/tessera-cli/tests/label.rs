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

/// `--save-model` in both formats on a model whose energies are in the thousands: the energy
/// of tessera's labelling recomputed from either file equals the reported one.
#[test]
fn saved_models_give_back_the_reported_energy() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (64u32, 48u32);
    write_photo(&dir.path().join("photo.png"), w, h);
    // Confident probabilities (one pixel in five contradicts its half): large superpixels
    // sum -ln(0.001) over hundreds of pixels.
    let probs = ndarray::Array3::from_shape_fn((h as usize, w as usize, 3), |(y, x, c)| {
        let mut class = if x >= w as usize / 2 { 1 } else { 0 };
        if (x * 7 + y * 3) % 5 == 0 {
            class = 2;
        }
        if c == class { 0.998f32 } else { 0.001 }
    });
    let npy = dir.path().join("p.npy");
    ndarray_npy::write_npy(&npy, &probs).unwrap();
    let run = |model: &Path| -> f64 {
        let assert = tessera()
            .arg("label")
            .arg(dir.path().join("photo.png"))
            .arg("--probs")
            .arg(&npy)
            .args(["-k", "6", "--smoothness", "40", "-o"])
            .arg(dir.path().join("out"))
            .arg("--save-model")
            .arg(model)
            .assert()
            .success();
        let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
        let record: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        record["energy"].as_f64().unwrap()
    };
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(1.0);

    // .npz: the energy recomputed by hand from the arrays.
    let npz_path = dir.path().join("model.npz");
    let reported = run(&npz_path);
    assert!(reported > 1000.0, "energies in the thousands: {reported}");
    let mut npz = ndarray_npy::NpzReader::new(std::fs::File::open(&npz_path).unwrap()).unwrap();
    let unary: ndarray::Array2<f64> = npz.by_name("unary").unwrap();
    let edges: ndarray::Array2<i64> = npz.by_name("edges").unwrap();
    let pairwise: ndarray::Array3<f64> = npz.by_name("pairwise").unwrap();
    let x: ndarray::Array1<i64> = npz.by_name("labelling").unwrap();
    let map: ndarray::Array2<i64> = npz.by_name("superpixels").unwrap();
    assert_eq!(unary.dim(), (x.len(), 3));
    assert_eq!(edges.ncols(), 2);
    assert_eq!(pairwise.dim(), (edges.nrows(), 3, 3));
    assert_eq!(map.dim(), (h as usize, w as usize));
    let mut energy: f64 = x
        .iter()
        .enumerate()
        .map(|(i, &l)| unary[[i, l as usize]])
        .sum();
    for (e, row) in edges.rows().into_iter().enumerate() {
        let (a, b) = (x[row[0] as usize] as usize, x[row[1] as usize] as usize);
        energy += pairwise[[e, a, b]];
    }
    assert!(close(energy, reported), "{energy} vs {reported}");
    // The class map is the labelling seen through the superpixel map.
    let classes = image::open(dir.path().join("out/photo.classes.png"))
        .unwrap()
        .to_luma8();
    for ((yy, xx), &node) in map.indexed_iter() {
        assert_eq!(
            i64::from(classes.get_pixel(xx as u32, yy as u32)[0]),
            x[node as usize]
        );
    }
    let model = tessera_crf::npz::read(std::fs::File::open(&npz_path).unwrap()).unwrap();
    let labels: Vec<u32> = x.iter().map(|&v| v as u32).collect();
    assert!(close(model.energy.energy(&labels).unwrap(), reported));

    // .uai: read back (the shifts in the comments added again) gives the same energy, and no
    // potential of a soft energy is 0.
    let uai_path = dir.path().join("model.uai");
    assert!(close(run(&uai_path), reported));
    let text = std::fs::read_to_string(&uai_path).unwrap();
    assert!(text.contains("c total shift "));
    let back = tessera_crf::uai::read(text.as_bytes()).unwrap();
    assert!(
        close(back.energy(&labels).unwrap(), reported),
        "{} vs {reported}",
        back.energy(&labels).unwrap()
    );
    // Table rows are the indented lines.
    let tables = text.lines().filter(|l| l.starts_with(' '));
    let potentials: Vec<&str> = tables.flat_map(|l| l.split_whitespace()).collect();
    assert!(!potentials.is_empty() && potentials.iter().all(|&t| t != "0"));

    // Any other extension is a usage error.
    tessera()
        .arg("label")
        .arg(dir.path().join("photo.png"))
        .arg("--probs")
        .arg(&npy)
        .arg("--save-model")
        .arg(dir.path().join("model.txt"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(".uai or .npz"));
}
