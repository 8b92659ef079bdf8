//! End-to-end tests of `tessera segment --algo etps` through the real binary.

mod common;

use common::{tessera, write_photo};
use predicates::prelude::*;

/// Runs `tessera segment` on a 48x32 two-tone picture with `args`; returns the report record
/// and the label map.
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
