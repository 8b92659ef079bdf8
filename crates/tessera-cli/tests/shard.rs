//! End-to-end tests of `tessera segment --shard I/N` through the real binary: N shards run
//! one after the other on the same inputs and output folder, as a job array would.

mod common;

use common::{tessera, write_photo};
use predicates::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A folder of eight images of different sizes (one in a subfolder) and a broken file.
fn inputs(root: &Path) -> PathBuf {
    let input = root.join("in");
    std::fs::create_dir_all(input.join("sub")).unwrap();
    for (i, (w, h)) in [
        (30, 20),
        (64, 48),
        (40, 40),
        (90, 60),
        (24, 24),
        (50, 30),
        (70, 20),
    ]
    .into_iter()
    .enumerate()
    {
        write_photo(&input.join(format!("p{i}.png")), w, h);
    }
    write_photo(&input.join("sub/deep.png"), 36, 28);
    std::fs::write(input.join("broken.png"), b"not a png").unwrap();
    input
}

/// Runs shard `index` of `count`; returns its exit code and the inputs its report lists.
fn run_shard(input: &Path, out: &Path, index: usize, count: usize) -> (i32, Vec<String>) {
    let output = tessera()
        .args([
            "segment",
            "-r",
            "-k",
            "8",
            "-j",
            "1",
            "--overlay",
            "none",
            "-o",
        ])
        .arg(out)
        .arg("--report")
        .arg(out.join("report.jsonl"))
        .arg("--shard")
        .arg(format!("{index}/{count}"))
        .arg(input)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("shard {index}/{count}: ")),
        "{stderr}"
    );
    let report = out.join(format!("report.shard{index}-of-{count}.jsonl"));
    let text = std::fs::read_to_string(&report)
        .unwrap_or_else(|e| panic!("{}: {e}; {stderr}", report.display()));
    let listed = text
        .lines()
        .map(|l| {
            let record: serde_json::Value = serde_json::from_str(l).unwrap();
            record["input"].as_str().unwrap().to_string()
        })
        .collect();
    (output.status.code().unwrap(), listed)
}

#[test]
fn shards_together_segment_every_input_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let input = inputs(dir.path());
    for count in [1, 3, 12] {
        let out = dir.path().join(format!("out{count}"));
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut failed = Vec::new();
        for index in 0..count {
            let (code, listed) = run_shard(&input, &out, index, count);
            // Only the shard the broken file was dealt to fails; a shard with nothing to do
            // succeeds.
            match code {
                0 => {}
                1 => failed.push(index),
                other => panic!("shard {index}/{count} exited {other}"),
            }
            for name in listed {
                *seen.entry(name).or_default() += 1;
            }
        }
        assert_eq!(failed.len(), 1, "{count} shards: failing {failed:?}");
        assert_eq!(seen.len(), 8, "{count} shards: {seen:?}");
        assert!(seen.values().all(|&n| n == 1), "{count} shards: {seen:?}");
        assert!(!out.join("report.jsonl").exists(), "shards tag the report");
        for i in 0..7 {
            assert!(out.join(format!("p{i}.labels.png")).is_file());
        }
        assert!(out.join("sub/deep.labels.png").is_file());
    }
}

#[test]
fn the_partition_is_the_same_every_time_and_balanced_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let input = inputs(dir.path());
    let (_, first) = run_shard(&input, &dir.path().join("a"), 1, 3);
    let (_, again) = run_shard(&input, &dir.path().join("b"), 1, 3);
    assert_eq!(first, again);
    // Largest file first into the lightest shard: the shards' bytes differ by at most the
    // largest file (plus the broken one, which no report lists).
    let size = |p: &str| std::fs::metadata(p).unwrap().len();
    let mut bytes = Vec::new();
    let mut largest = 0;
    for index in 0..3 {
        let (_, listed) = run_shard(&input, &dir.path().join("c"), index, 3);
        largest = listed
            .iter()
            .map(|p| size(p))
            .max()
            .unwrap_or(0)
            .max(largest);
        bytes.push(listed.iter().map(|p| size(p)).sum::<u64>());
    }
    let slack = std::fs::metadata(input.join("broken.png")).unwrap().len();
    let (lo, hi) = (bytes.iter().min().unwrap(), bytes.iter().max().unwrap());
    assert!(hi - lo <= largest + slack, "{bytes:?}, largest {largest}");
}

#[test]
fn bad_shard_values_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("p.png");
    write_photo(&photo, 20, 20);
    let out = dir.path().join("out");
    for bad in ["3/3", "1/0", "x/2", "2", "-1/2", "1/2/3", "1.5/2"] {
        tessera()
            .args(["segment", "-o"])
            .arg(&out)
            .arg(format!("--shard={bad}"))
            .arg(&photo)
            .assert()
            .code(2)
            .stderr(
                predicate::str::contains("--shard").and(predicate::str::contains("0 <= I < N")),
            );
    }
    tessera()
        .args(["segment", "-o"])
        .arg(&out)
        .args(["--shard", "10/10"])
        .arg(&photo)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("numbered 0 to 9"));
    assert!(!out.exists(), "nothing written for a refused command");
}
