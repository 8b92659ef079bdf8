//! Human ground truths in the BSDS layout: `<gt>/<id>_<k>.png` (or `.npy`), one file per
//! annotation, every value a segment label.

use crate::labels_io::read_raw;
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tessera::metrics::{EvalOptions, GroundTruth};

/// The annotation files of every image id in `dir`, each list sorted by `k`.
pub fn index(dir: &Path) -> Result<BTreeMap<String, Vec<PathBuf>>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list the ground-truth folder {}", dir.display()))?;
    let mut found: BTreeMap<String, Vec<(u64, PathBuf)>> = BTreeMap::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let (Some(stem), Some(ext)) = (path.file_stem(), path.extension()) else {
            continue;
        };
        let ext = ext.to_string_lossy().to_lowercase();
        if !["png", "npy", "tif", "tiff", "pgm"].contains(&ext.as_str()) {
            continue;
        }
        let stem = stem.to_string_lossy();
        let Some((id, k)) = stem.rsplit_once('_') else {
            continue;
        };
        let Ok(k) = k.parse::<u64>() else { continue };
        found.entry(id.to_string()).or_default().push((k, path));
    }
    Ok(found
        .into_iter()
        .map(|(id, mut v)| {
            v.sort();
            (id, v.into_iter().map(|(_, p)| p).collect())
        })
        .collect())
}

/// Loads the annotations of one image, checking they are `width x height`.
pub fn load(
    paths: &[PathBuf],
    width: u32,
    height: u32,
    opts: &EvalOptions,
) -> Result<Vec<GroundTruth>> {
    paths
        .iter()
        .map(|p| {
            let raw = read_raw(p)?;
            if (raw.width, raw.height) != (width, height) {
                bail!(
                    "the ground truth {} is {}x{}, the label map {width}x{height}",
                    p.display(),
                    raw.width,
                    raw.height
                );
            }
            GroundTruth::new(width, height, &raw.values, opts)
                .with_context(|| format!("invalid ground truth {}", p.display()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_are_grouped_and_sorted() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "12_10.png",
            "12_2.png",
            "7_0.npy",
            "notes.txt",
            "x.png",
            "a_b.png",
        ] {
            std::fs::write(dir.path().join(f), b"").unwrap();
        }
        let idx = index(dir.path()).unwrap();
        assert_eq!(idx.keys().collect::<Vec<_>>(), vec!["12", "7"]);
        let names: Vec<_> = idx["12"]
            .iter()
            .map(|p| p.file_name().unwrap().to_owned())
            .collect();
        assert_eq!(names, vec!["12_2.png", "12_10.png"]);
    }
}
