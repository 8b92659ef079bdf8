//! `--shard I/N`: the I-th of N deterministic slices of a run's inputs, so that N processes
//! (a Slurm job array, a Kubernetes indexed job) share one folder of images without talking
//! to each other and without two of them writing the same file.
//!
//! The rule, computed the same way by every shard from the inputs alone:
//! 1. the jobs are ordered by their output stem (their path relative to the folder given),
//!    which is unique within a run because inputs whose outputs would collide are refused;
//! 2. taken largest file first (file size in bytes, the proxy for the work; equal sizes in
//!    stem order), each job goes to the shard with the fewest bytes so far, ties to the one
//!    with the fewest jobs, then to the lowest index.
//!
//! Equal-sized files are so dealt round-robin in stem order; one huge file among small ones
//! gets a shard to itself. Inputs that cannot be processed at all (missing, unreadable
//! folders, colliding names) are dealt round-robin too, in path order, so that each is
//! reported, and fails the exit code, in exactly one shard.

use crate::inputs::Job;
use std::path::{Path, PathBuf};

/// One slice of N: `index` is 0-based, `0 <= index < count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which slice, from 0.
    pub index: usize,
    /// How many slices.
    pub count: usize,
}

/// Parses `I/N` (clap's value parser for `--shard`): two whole numbers, `N >= 1` and
/// `0 <= I < N`.
pub fn parse_shard(s: &str) -> Result<Shard, String> {
    let explain = "give I/N with 0 <= I < N, I counted from 0 (e.g. 0/4 ... 3/4); with a Slurm \
                   array numbered from 1, pass $((SLURM_ARRAY_TASK_ID - 1))/$SLURM_ARRAY_TASK_COUNT";
    let Some((i, n)) = s.split_once('/') else {
        return Err(format!("`{s}` is not a shard: {explain}"));
    };
    let number = |part: &str, what: &str| {
        part.trim()
            .parse::<usize>()
            .map_err(|_| format!("`{s}`: {what} `{part}` is not a whole number >= 0; {explain}"))
    };
    let (index, count) = (number(i, "I")?, number(n, "N")?);
    if count == 0 {
        return Err(format!("`{s}`: N must be at least 1; {explain}"));
    }
    if index >= count {
        return Err(format!(
            "`{s}`: I must be below N (shards are numbered 0 to {}); {explain}",
            count - 1
        ));
    }
    Ok(Shard { index, count })
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// This shard's jobs, in their discovery order. Every shard computes the same partition.
    pub fn jobs(&self, jobs: Vec<Job>) -> Vec<Job> {
        // An unreadable file weighs nothing here; it fails in its shard like any other input.
        let items: Vec<(&Path, u64)> = jobs
            .iter()
            .map(|j| {
                let size = std::fs::metadata(&j.input).map_or(0, |m| m.len());
                (j.stem.as_path(), size)
            })
            .collect();
        let owners = partition(&items, self.count);
        jobs.into_iter()
            .zip(owners)
            .filter(|(_, owner)| *owner == self.index)
            .map(|(job, _)| job)
            .collect()
    }

    /// This shard's share of the inputs that cannot be processed: round-robin in path order.
    pub fn problems(&self, mut problems: Vec<(PathBuf, String)>) -> Vec<(PathBuf, String)> {
        problems.sort();
        problems
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % self.count == self.index)
            .map(|(_, p)| p)
            .collect()
    }

    /// `path` with `.shardI-of-N` before its extension (`report.jsonl` becomes
    /// `report.shard2-of-8.jsonl`), for files a whole run writes once, so that shards given
    /// the same path never write the same file.
    pub fn tag(&self, path: &Path) -> PathBuf {
        let tag = format!("shard{}-of-{}", self.index, self.count);
        let name = match (path.file_stem(), path.extension()) {
            (Some(stem), Some(ext)) => {
                let mut n = stem.to_os_string();
                n.push(format!(".{tag}."));
                n.push(ext);
                n
            }
            _ => {
                let mut n = path
                    .file_name()
                    .map(|n| n.to_os_string())
                    .unwrap_or_default();
                n.push(format!(".{tag}"));
                n
            }
        };
        path.with_file_name(name)
    }
}

/// The shard (0..count) of each item `(key, size)`; keys are distinct. Greedy "largest first
/// into the lightest shard", which keeps the heaviest shard within one item of the lightest
/// (and within 4/3 of the best possible); written here because it is a dozen lines.
fn partition(items: &[(&Path, u64)], count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| {
        let (ka, sa) = items[a];
        let (kb, sb) = items[b];
        sb.cmp(&sa).then_with(|| ka.cmp(kb))
    });
    // (bytes, jobs) per shard; the minimum by (bytes, jobs, index) takes the next item.
    let mut load = vec![(0u64, 0usize); count];
    let mut owner = vec![0usize; items.len()];
    for i in order {
        let lightest = (0..count).min_by_key(|&s| (load[s], s)).unwrap_or(0);
        load[lightest].0 = load[lightest].0.saturating_add(items[i].1);
        load[lightest].1 += 1;
        owner[i] = lightest;
    }
    owner
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_zero_based_shards_and_refuses_the_rest() {
        assert_eq!(parse_shard("0/1"), Ok(Shard { index: 0, count: 1 }));
        assert_eq!(
            parse_shard("9/10"),
            Ok(Shard {
                index: 9,
                count: 10
            })
        );
        for bad in [
            "10/10", "1/0", "0/0", "-1/4", "a/4", "1", "1/2/3", "", "/4", "2/",
        ] {
            let e = parse_shard(bad).unwrap_err();
            assert!(e.contains("0 <= I < N"), "{bad}: {e}");
        }
        assert!(parse_shard("4/4").unwrap_err().contains("numbered 0 to 3"));
    }

    #[test]
    fn equal_sizes_are_dealt_round_robin_in_key_order() {
        let keys: Vec<PathBuf> = ["e", "a", "d", "b", "c"].map(PathBuf::from).to_vec();
        let items: Vec<(&Path, u64)> = keys.iter().map(|k| (k.as_path(), 7)).collect();
        // a b c d e -> 0 1 0 1 0
        assert_eq!(partition(&items, 2), vec![0, 0, 1, 1, 0]);
    }

    #[test]
    fn a_huge_file_gets_a_shard_to_itself() {
        let keys: Vec<PathBuf> = (0..7).map(|i| PathBuf::from(format!("f{i}"))).collect();
        let mut items: Vec<(&Path, u64)> = keys.iter().map(|k| (k.as_path(), 10)).collect();
        items[3].1 = 1000;
        let owners = partition(&items, 3);
        let with_big: Vec<usize> = (0..7).filter(|&i| owners[i] == owners[3]).collect();
        assert_eq!(with_big, vec![3]);
        // The six small ones split three and three over the other two shards.
        for s in (0..3).filter(|&s| s != owners[3]) {
            assert_eq!(owners.iter().filter(|&&o| o == s).count(), 3);
        }
    }

    #[test]
    fn every_item_has_exactly_one_shard_and_loads_stay_close() {
        let keys: Vec<PathBuf> = (0..50).map(|i| PathBuf::from(format!("k{i:02}"))).collect();
        let items: Vec<(&Path, u64)> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.as_path(), (i as u64 * 7919) % 101 + 1))
            .collect();
        for count in [1, 2, 3, 7, 50, 64] {
            let owners = partition(&items, count);
            assert!(owners.iter().all(|&o| o < count));
            let mut bytes = vec![0u64; count];
            for (i, &o) in owners.iter().enumerate() {
                bytes[o] += items[i].1;
            }
            let (lo, hi) = (bytes.iter().min().unwrap(), bytes.iter().max().unwrap());
            // Greedy LPT: the heaviest shard exceeds the lightest by at most the largest item.
            assert!(hi - lo <= 101, "{count}: {bytes:?}");
            // The same partition whatever order the items come in.
            let mut reversed = items.clone();
            reversed.reverse();
            let mut again = partition(&reversed, count);
            again.reverse();
            assert_eq!(owners, again);
        }
    }

    #[test]
    fn problems_are_dealt_round_robin_in_path_order() {
        let problems: Vec<(PathBuf, String)> = ["c", "a", "b"]
            .map(|p| (PathBuf::from(p), "why".to_string()))
            .to_vec();
        let shard = |index| Shard { index, count: 2 };
        let first: Vec<PathBuf> = shard(0)
            .problems(problems.clone())
            .into_iter()
            .map(|p| p.0)
            .collect();
        let second: Vec<PathBuf> = shard(1)
            .problems(problems)
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(first, ["a", "c"].map(PathBuf::from).to_vec());
        assert_eq!(second, [PathBuf::from("b")].to_vec());
    }

    #[test]
    fn tags_go_before_the_extension() {
        let s = Shard { index: 2, count: 8 };
        assert_eq!(
            s.tag(Path::new("out/report.jsonl")),
            PathBuf::from("out/report.shard2-of-8.jsonl")
        );
        assert_eq!(
            s.tag(Path::new("report")),
            PathBuf::from("report.shard2-of-8")
        );
    }
}
