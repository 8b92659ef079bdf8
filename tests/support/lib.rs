//! Shared helpers for the workspace-level golden tests and benchmarks.

use image::DynamicImage;
use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Path of a bundled asset.
pub fn asset_path(name: &str) -> PathBuf {
    root().join("assets").join(name)
}

/// Loads a bundled asset; panics with the path if it cannot (test and bench code only).
pub fn asset(name: &str) -> DynamicImage {
    let p = asset_path(name);
    image::open(&p).unwrap_or_else(|e| panic!("cannot open {}: {e}", p.display()))
}

/// The image resized to `w x h` (Catmull-Rom), for benchmarks at fixed sizes.
pub fn resized(img: &DynamicImage, w: u32, h: u32) -> DynamicImage {
    img.resize_exact(w, h, image::imageops::FilterType::CatmullRom)
}

/// The shared BSDS500 folder, if this checkout sits beside `shared/`.
pub fn bsds_dir() -> Option<PathBuf> {
    let p = root().join("../shared/data/bsds500");
    Path::new(&p).is_dir().then_some(p)
}
