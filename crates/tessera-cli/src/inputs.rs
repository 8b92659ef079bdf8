//! Finding the images to process: files named on the command line, and image files inside
//! folders (with `--recursive`, in subfolders too), each with the output stem that mirrors
//! its path relative to the folder it was found in.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// File extensions taken from folders (case-insensitive). Files named on the command line are
/// read whatever their extension.
const IMAGE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "tif", "tiff", "bmp", "webp", "pnm", "ppm", "pgm", "pbm",
];

/// Names of tessera's own outputs, which are never taken as inputs from a folder.
const OUTPUT_SUFFIXES: &[&str] = &[".overlay.png", ".labels.png", ".classes.png"];

/// One image to process.
#[derive(Debug, Clone)]
pub struct Job {
    /// The image file.
    pub input: PathBuf,
    /// Its path relative to the folder it was found in (its file name when named directly),
    /// without the extension: outputs are `<out>/<stem>.<kind>.<ext>`.
    pub stem: PathBuf,
}

/// What [`discover`] found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// The images, sorted by input path within each command-line argument.
    pub jobs: Vec<Job>,
    /// Inputs that cannot be processed, with the reason.
    pub problems: Vec<(PathBuf, String)>,
}

/// Expands the command-line inputs. `skip_dir` (the output folder) is never descended into.
pub fn discover(inputs: &[PathBuf], recursive: bool, skip_dir: Option<&Path>) -> Discovery {
    let mut found = Discovery::default();
    let skip = skip_dir.and_then(|d| d.canonicalize().ok());
    for input in inputs {
        match std::fs::metadata(input) {
            Err(e) => found
                .problems
                .push((input.clone(), format!("cannot read: {e}"))),
            Ok(meta) if meta.is_dir() => {
                let mut files = Vec::new();
                walk(
                    input,
                    recursive,
                    skip.as_deref(),
                    &mut files,
                    &mut found.problems,
                );
                files.sort();
                for f in files {
                    let rel = f.strip_prefix(input).unwrap_or(&f).to_path_buf();
                    found.jobs.push(Job {
                        stem: rel.with_extension(""),
                        input: f,
                    });
                }
            }
            Ok(_) => {
                let name = input.file_name().map(PathBuf::from).unwrap_or_default();
                found.jobs.push(Job {
                    stem: name.with_extension(""),
                    input: input.clone(),
                });
            }
        }
    }
    drop_collisions(&mut found);
    found
}

fn walk(
    dir: &Path,
    recursive: bool,
    skip: Option<&Path>,
    files: &mut Vec<PathBuf>,
    problems: &mut Vec<(PathBuf, String)>,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push((dir.to_path_buf(), format!("cannot list folder: {e}")));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() || (kind.is_symlink() && path.is_dir()) {
            let is_skipped = skip.is_some_and(|s| path.canonicalize().is_ok_and(|p| p == s));
            if recursive && !is_skipped {
                walk(&path, recursive, skip, files, problems);
            }
        } else if is_image_name(&path) {
            files.push(path);
        }
    }
}

/// Has an image extension and is not one of tessera's outputs.
fn is_image_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let ext_ok = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str()));
    ext_ok && !OUTPUT_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Two inputs whose outputs would have the same name: the later one is refused.
fn drop_collisions(found: &mut Discovery) {
    let mut first: HashMap<PathBuf, PathBuf> = HashMap::new();
    let mut kept = Vec::with_capacity(found.jobs.len());
    for job in found.jobs.drain(..) {
        match first.get(&job.stem) {
            Some(other) if other != &job.input => found.problems.push((
                job.input.clone(),
                format!(
                    "its outputs would overwrite those of {} (same name); rename one or segment them separately",
                    other.display()
                ),
            )),
            Some(_) => {} // the same file named twice: process it once
            None => {
                first.insert(job.stem.clone(), job.input.clone());
                kept.push(job);
            }
        }
    }
    found.jobs = kept;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_stems_mirror_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        for f in [
            "a.png",
            "sub/a.JPG",
            "notes.txt",
            "x.overlay.png",
            ".DS_Store",
        ] {
            std::fs::write(dir.path().join(f), b"").unwrap();
        }
        let flat = discover(&[dir.path().to_path_buf()], false, None);
        assert_eq!(flat.jobs.len(), 1);
        let deep = discover(&[dir.path().to_path_buf()], true, None);
        let stems: Vec<_> = deep.jobs.iter().map(|j| j.stem.clone()).collect();
        assert_eq!(stems, vec![PathBuf::from("a"), PathBuf::from("sub/a")]);
        assert!(deep.problems.is_empty());
    }

    #[test]
    fn collisions_and_missing_files_are_problems() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["a.png", "a.jpg"] {
            std::fs::write(dir.path().join(f), b"").unwrap();
        }
        let found = discover(
            &[dir.path().to_path_buf(), dir.path().join("missing.png")],
            false,
            None,
        );
        assert_eq!(found.jobs.len(), 1);
        assert_eq!(found.problems.len(), 2);
    }
}
