//! Finding the images to process: files named on the command line, and image files inside
//! folders (with `--recursive`, in subfolders too), each with the output stem that mirrors
//! its path relative to the folder it was found in.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

/// File extensions taken from folders (case-insensitive). Files named on the command line are
/// read whatever their extension.
const IMAGE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "tif", "tiff", "gif", "bmp", "webp", "pnm", "ppm", "pgm", "pbm",
];

/// File extensions taken from folders with `segment --volume` (`.nii.gz` too).
const VOLUME_EXTENSIONS: &[&str] = &["tif", "tiff", "npy", "nii"];

/// Names of tessera's own outputs, which are never taken as inputs from a folder.
const OUTPUT_SUFFIXES: &[&str] = &[
    ".overlay.png",
    ".labels.png",
    ".classes.png",
    ".labels.npy",
    ".labels.tif",
    ".labels.nii.gz",
];

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
    /// Symbolic links not followed (loops, folders walked already) and files reached a second
    /// time through a link, with what was done: warnings, not failures.
    pub notes: Vec<(PathBuf, String)>,
}

/// What identifies a file or folder whatever the path it is reached by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FileId {
    #[cfg(unix)]
    Inode(u64, u64),
    #[cfg(not(unix))]
    Path(PathBuf),
}

/// The identity of what `path` leads to (links followed).
fn file_id(path: &Path) -> Option<FileId> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).ok()?;
        Some(FileId::Inode(meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        path.canonicalize().ok().map(FileId::Path)
    }
}

/// Expands the command-line inputs. `skip_dir` (the output folder) is never descended into.
/// Each real file is taken once, under the first path that reaches it without a link when
/// there is one.
pub fn discover(inputs: &[PathBuf], recursive: bool, skip_dir: Option<&Path>) -> Discovery {
    discover_files(inputs, recursive, skip_dir, false)
}

/// [`discover`], taking from folders the volume files `segment --volume` reads (multi-page
/// TIFF, `.npy`, `.nii`, `.nii.gz`) instead of images.
pub fn discover_volumes(inputs: &[PathBuf], recursive: bool, skip_dir: Option<&Path>) -> Discovery {
    discover_files(inputs, recursive, skip_dir, true)
}

fn discover_files(
    inputs: &[PathBuf],
    recursive: bool,
    skip_dir: Option<&Path>,
    volumes: bool,
) -> Discovery {
    let mut found = Discovery::default();
    let skip = skip_dir.and_then(file_id);
    let mut seen: HashMap<FileId, PathBuf> = HashMap::new();
    let mut take = |found: &mut Discovery, input: PathBuf, stem: PathBuf| {
        if let Some(id) = file_id(&input) {
            match seen.get(&id) {
                Some(first) if first == &input => return, // named twice: processed once
                Some(first) => {
                    found.notes.push((
                        input,
                        format!("the same file as {}; processed once", first.display()),
                    ));
                    return;
                }
                None => {
                    seen.insert(id, input.clone());
                }
            }
        }
        found.jobs.push(Job { input, stem });
    };
    for input in inputs {
        match std::fs::metadata(input) {
            Err(e) => found
                .problems
                .push((input.clone(), format!("cannot read: {e}"))),
            Ok(meta) if meta.is_dir() => {
                let mut walk = Walk {
                    recursive,
                    volumes,
                    skip: skip.clone(),
                    ..Walk::default()
                };
                walk.run(input);
                found.problems.append(&mut walk.problems);
                found.notes.append(&mut walk.notes);
                // Files reached without a link first, so that a file keeps its real path.
                walk.files.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
                let mut files = Vec::new();
                for (f, _) in walk.files {
                    let rel = without_extension(f.strip_prefix(input).unwrap_or(&f));
                    files.push((f, rel));
                }
                let before = found.jobs.len();
                for (f, stem) in files {
                    take(&mut found, f, stem);
                }
                found.jobs[before..].sort_by(|a, b| a.input.cmp(&b.input));
            }
            Ok(_) => {
                let name = input.file_name().map(PathBuf::from).unwrap_or_default();
                take(&mut found, input.clone(), without_extension(&name));
            }
        }
    }
    drop_collisions(&mut found);
    found
}

/// A folder walk that follows symbolic links to folders but walks each folder once, so that a
/// link back up the tree (or to any folder walked already) is reported once and not followed.
/// Written here rather than taken from `walkdir`, whose loop check covers a folder's ancestors
/// only: two links to the same sibling folder would walk it twice, and a chain of such links
/// exponentially often. Real subfolders are walked before any link is followed, so files keep
/// the paths that reach them without a link.
#[derive(Default)]
struct Walk {
    recursive: bool,
    /// Take volume files rather than images.
    volumes: bool,
    skip: Option<FileId>,
    /// Every folder walked, by identity, with the path it was walked as.
    walked: HashMap<FileId, PathBuf>,
    /// Links to folders, to follow once the real folders are walked.
    links: VecDeque<PathBuf>,
    /// Image files found, and whether a link led to them.
    files: Vec<(PathBuf, bool)>,
    problems: Vec<(PathBuf, String)>,
    notes: Vec<(PathBuf, String)>,
}

impl Walk {
    fn run(&mut self, root: &Path) {
        // The output folder is skipped below the folder given, not when it is that folder.
        let skip = self.skip.take();
        if file_id(root) != skip {
            self.skip = skip;
        }
        self.folder(root, false);
        while let Some(link) = self.links.pop_front() {
            self.folder(&link, true);
        }
    }

    /// Walks `dir` and its real subfolders; `via_link` when a link led there.
    fn folder(&mut self, dir: &Path, via_link: bool) {
        let Some(id) = file_id(dir) else {
            self.problems
                .push((dir.to_path_buf(), "cannot read the folder".into()));
            return;
        };
        if self.skip.as_ref() == Some(&id) {
            return;
        }
        if let Some(first) = self.walked.get(&id) {
            let why = if dir.starts_with(first) {
                format!(
                    "a link back to {}, a folder it is inside (a loop); not followed",
                    first.display()
                )
            } else {
                format!(
                    "a link to {}, walked already; not followed",
                    first.display()
                )
            };
            self.notes.push((dir.to_path_buf(), why));
            return;
        }
        self.walked.insert(id, dir.to_path_buf());
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                self.problems
                    .push((dir.to_path_buf(), format!("cannot list folder: {e}")));
                return;
            }
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if self.recursive {
                    self.folder(&path, via_link);
                }
            } else if kind.is_symlink() && path.is_dir() {
                if self.recursive {
                    self.links.push_back(path);
                }
            } else if is_input_name(&path, self.volumes) {
                self.files.push((path, via_link || kind.is_symlink()));
            }
        }
    }
}

/// Has an image (volume) extension and is not one of tessera's outputs.
fn is_input_name(path: &Path, volumes: bool) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let (extensions, base) = if volumes {
        (VOLUME_EXTENSIONS, name.trim_end_matches(".gz"))
    } else {
        (IMAGE_EXTENSIONS, name.as_str())
    };
    let ext_ok = Path::new(base)
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .is_some_and(|e| extensions.contains(&e.as_str()));
    ext_ok && !OUTPUT_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// The path without its extension, and without `.nii` too for a `.nii.gz` file.
fn without_extension(path: &Path) -> PathBuf {
    let stem = path.with_extension("");
    let lower = path.to_string_lossy().to_lowercase();
    if lower.ends_with(".nii.gz") {
        stem.with_extension("")
    } else {
        stem
    }
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

    #[cfg(unix)]
    #[test]
    fn links_lead_to_each_folder_and_file_once() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        for f in ["x.png", "a/y.png", "a/b/z.png"] {
            std::fs::write(root.join(f), b"").unwrap();
        }
        symlink("../..", root.join("a/b/loop")).unwrap();
        symlink("..", root.join("a/b/loop2")).unwrap();
        symlink("a", root.join("0link")).unwrap(); // sorts before the real `a`
        symlink("x.png", root.join("same.png")).unwrap();
        let found = discover(&[root.to_path_buf()], true, None);
        let stems: Vec<_> = found.jobs.iter().map(|j| j.stem.clone()).collect();
        assert_eq!(
            stems,
            ["a/b/z", "a/y", "x"].map(PathBuf::from).to_vec(),
            "real paths win over links"
        );
        assert_eq!(found.notes.len(), 4, "{:?}", found.notes);
        assert!(found.problems.is_empty());
    }

    #[test]
    fn volume_folders_take_volume_files() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "a.tif",
            "b.npy",
            "c.nii.gz",
            "d.NII",
            "e.png",
            "x.labels.npy",
            "x.labels.nii.gz",
            "y.gz",
        ] {
            std::fs::write(dir.path().join(f), b"").unwrap();
        }
        let found = discover_volumes(&[dir.path().to_path_buf()], false, None);
        let stems: Vec<_> = found.jobs.iter().map(|j| j.stem.clone()).collect();
        assert_eq!(stems, ["a", "b", "c", "d"].map(PathBuf::from).to_vec());
        let images = discover(&[dir.path().to_path_buf()], false, None);
        assert_eq!(images.jobs.len(), 2, "a.tif and e.png");
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
