//! End-to-end tests of `tessera learn` and `tessera label --model` through the real binary,
//! on tiny images the tests make.

mod common;

use common::{tessera, write_photo};
use image::{GrayImage, Luma, Rgb, RgbImage};
use predicates::prelude::*;
use std::path::Path;

/// A 40x30 picture: blue "sky" (class 0) above a boundary row, green "grass" (class 1) below,
/// with a small deterministic texture; the ground truth has a void (255) band on the boundary.
fn write_scene(dir: &Path, name: &str, boundary: u32) {
    let (w, h) = (40u32, 30u32);
    let img = RgbImage::from_fn(w, h, |x, y| {
        let n = ((x * 7 + y * 13 + boundary * 3) % 11) as u8 * 3;
        if y < boundary {
            Rgb([40 + n, 90 + n, 220 - n])
        } else {
            Rgb([50 + n, 160 - n, 40 + n])
        }
    });
    img.save(dir.join("images").join(format!("{name}.png")))
        .unwrap();
    let gt = GrayImage::from_fn(w, h, |_, y| {
        Luma([if y + 1 == boundary {
            255
        } else if y < boundary {
            0
        } else {
            1
        }])
    });
    gt.save(dir.join("gt").join(format!("{name}.png"))).unwrap();
}

/// Four training and two validation scenes; returns the folder.
fn dataset() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("images")).unwrap();
    std::fs::create_dir(dir.path().join("gt")).unwrap();
    for (i, b) in [10, 14, 18, 22, 12, 20].into_iter().enumerate() {
        write_scene(dir.path(), &format!("s{i}"), b);
    }
    std::fs::write(dir.path().join("train.txt"), "s0\ns1\ns2\ns3\n").unwrap();
    std::fs::write(dir.path().join("val.txt"), "s4\n\ns5\n").unwrap();
    dir
}

/// `tessera learn` on the scene folder `dir`: its images and ground truths, training on the
/// names in `dir/<list>`.
fn learn_cmd(dir: &Path, list: &str) -> assert_cmd::Command {
    let mut cmd = tessera();
    cmd.arg("learn")
        .arg("--images")
        .arg(dir.join("images"))
        .arg("--gt")
        .arg(dir.join("gt"))
        .arg("--list")
        .arg(dir.join(list));
    cmd
}

fn learn(dir: &Path, model: &Path) -> serde_json::Value {
    learn_with_threads(dir, model, "2")
}

fn learn_with_threads(dir: &Path, model: &Path, threads: &str) -> serde_json::Value {
    let assert = learn_cmd(dir, "train.txt")
        .arg("--val")
        .arg(dir.join("val.txt"))
        .args([
            "--classes",
            "2",
            "-k",
            "24",
            "--c",
            "0.1,1",
            "--max-passes",
            "30",
            "--textons",
            "6",
            "--texton-stride",
            "3",
        ])
        .arg("--export-features")
        .arg(dir.join("npy"))
        .arg("-o")
        .arg(model)
        .args(["-j", threads])
        .assert()
        .success()
        .stderr(predicate::str::contains("gap"));
    let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    serde_json::from_str(stdout.trim()).unwrap()
}

#[test]
fn learn_then_label_end_to_end() {
    let data = dataset();
    let dir = data.path();
    let model = dir.join("model.json");
    let record = learn(dir, &model);
    assert_eq!(record["train_images"], 4);
    assert_eq!(record["val_images"], 2);
    for kind in ["crf", "unary_only"] {
        let chosen = &record[kind]["chosen"];
        assert!(chosen["val_global"].as_f64().unwrap() > 0.9, "{record}");
        assert_eq!(record[kind]["tried"].as_array().unwrap().len(), 2);
    }
    // The model file: versioned, both models, and read back by `label`.
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(file["format"], "tessera-crf-model");
    assert_eq!(file["version"], 2);
    assert_eq!(file["textons"]["centres"].as_array().unwrap().len(), 6 * 17);
    assert!(record["val_superpixel_oracle"]["global"].as_f64().unwrap() > 0.9);
    assert!(file["crf"]["pairwise"].is_array());
    assert!(file["unary_only"]["pairwise"].is_null());
    // The trainings run side by side on the threads: one thread learns the same models and
    // chooses the same C values.
    let one = dir.join("model-1.json");
    let record1 = learn_with_threads(dir, &one, "1");
    let file1: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&one).unwrap()).unwrap();
    for part in ["crf", "unary_only", "textons", "segmentation"] {
        assert_eq!(file1[part], file[part], "{part}");
    }
    for kind in ["crf", "unary_only"] {
        assert_eq!(record1[kind]["chosen"]["c"], record[kind]["chosen"]["c"]);
        assert_eq!(
            record1[kind]["chosen"]["primal"],
            record[kind]["chosen"]["primal"]
        );
    }
    // The exported features.
    for f in ["train_X", "train_y", "train_counts", "train_image", "val_X"] {
        assert!(dir.join("npy").join(format!("{f}.npy")).is_file(), "{f}");
    }
    let x: ndarray::Array2<f32> =
        ndarray_npy::read_npy(dir.join("npy").join("train_X.npy")).unwrap();
    let y: ndarray::Array1<i64> =
        ndarray_npy::read_npy(dir.join("npy").join("train_y.npy")).unwrap();
    assert_eq!(x.nrows(), y.len());

    // Label a folder, a file in it (taken once) and another picture, with the CRF and the
    // baseline.
    write_photo(&dir.join("photo.png"), 64, 48);
    for (flag, out) in [(None, "out-crf"), (Some("--unary-only"), "out-unary")] {
        let out = dir.join(out);
        let mut cmd = tessera();
        cmd.arg("label")
            .arg("--model")
            .arg(&model)
            .arg(dir.join("images").join("s4.png"))
            .arg(dir.join("images"))
            .arg(dir.join("photo.png"))
            .arg("-o")
            .arg(&out)
            .args(["-j", "2"]);
        if let Some(f) = flag {
            cmd.arg(f);
        }
        let assert = cmd.assert().success();
        let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
        assert_eq!(stdout.lines().count(), 7); // the six scenes and the photo
        assert!(out.join("photo.classes.png").is_file());
        for i in 0..6 {
            let classes = image::open(out.join(format!("s{i}.classes.png")))
                .unwrap()
                .to_luma8();
            let gt = image::open(dir.join("gt").join(format!("s{i}.png")))
                .unwrap()
                .to_luma8();
            let (mut right, mut counted) = (0, 0);
            for (c, t) in classes.pixels().zip(gt.pixels()) {
                assert!(c[0] <= 1, "class values are the ground truth's");
                if t[0] != 255 {
                    counted += 1;
                    right += usize::from(c[0] == t[0]);
                }
            }
            assert!(right * 10 >= counted * 9, "s{i}: {right}/{counted}");
            assert!(out.join(format!("s{i}.classes-overlay.png")).is_file());
        }
    }

    // Two shards label the same seven images between them, each image once.
    let mut labelled = Vec::new();
    for index in 0..2 {
        let assert = tessera()
            .arg("label")
            .arg("--model")
            .arg(&model)
            .arg(dir.join("images"))
            .arg(dir.join("photo.png"))
            .arg("-o")
            .arg(dir.join("out-shards"))
            .args(["-j", "1", "--shard", &format!("{index}/2")])
            .assert()
            .success()
            .stderr(predicate::str::contains(format!("shard {index}/2: ")));
        let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
        let inputs: Vec<String> = stdout
            .lines()
            .map(|l| {
                let record: serde_json::Value = serde_json::from_str(l).unwrap();
                record["input"].as_str().unwrap().to_string()
            })
            .collect();
        assert!(!inputs.is_empty(), "shard {index} has work: {stdout}");
        labelled.extend(inputs);
    }
    labelled.sort();
    let before = labelled.len();
    labelled.dedup();
    assert_eq!((before, labelled.len()), (7, 7), "{labelled:?}");
}

#[test]
fn bad_inputs_are_named() {
    let data = dataset();
    let dir = data.path();
    // A ground truth of the wrong size.
    GrayImage::new(5, 5)
        .save(dir.join("gt").join("s2.png"))
        .unwrap();
    learn_cmd(dir, "train.txt")
        .args(["--classes", "2", "-o"])
        .arg(dir.join("m.json"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("s2.png").and(predicate::str::contains("5x5")));
    assert!(!dir.join("m.json").exists());
    // A missing image.
    std::fs::write(dir.join("list.txt"), "nope\n").unwrap();
    learn_cmd(dir, "list.txt")
        .arg("-o")
        .arg(dir.join("m.json"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no image file for nope"));
    // Not a model file, and a model of another version.
    std::fs::write(dir.join("bad.json"), "{\"format\": \"something\"}").unwrap();
    tessera()
        .arg("label")
        .arg("--model")
        .arg(dir.join("bad.json"))
        .arg(dir.join("images"))
        .arg("-o")
        .arg(dir.join("o"))
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("bad.json")
                .and(predicate::str::contains("not a tessera model")),
        );
    std::fs::write(
        dir.join("v9.json"),
        "{\"format\": \"tessera-crf-model\", \"version\": 9}",
    )
    .unwrap();
    tessera()
        .arg("label")
        .arg("--model")
        .arg(dir.join("v9.json"))
        .arg(dir.join("images"))
        .arg("-o")
        .arg(dir.join("o"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("version"));
    std::fs::write(
        dir.join("v1.json"),
        "{\"format\": \"tessera-crf-model\", \"version\": 1}",
    )
    .unwrap();
    tessera()
        .arg("label")
        .arg("--model")
        .arg(dir.join("v1.json"))
        .arg(dir.join("images"))
        .arg("-o")
        .arg(dir.join("o"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("learn it again"));
    // --unary-only needs --model.
    tessera()
        .arg("label")
        .arg(dir.join("images").join("s0.png"))
        .arg("--unary-only")
        .assert()
        .code(2);
}
