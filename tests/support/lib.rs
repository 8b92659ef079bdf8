//! Shared helpers for the workspace-level golden tests and benchmarks.

use image::DynamicImage;

pub mod phantom;
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

/// Environment variable that turns golden comparisons into golden updates.
pub const BLESS_VAR: &str = "TESSERA_BLESS";

/// Whether this run blesses (rewrites) the goldens instead of checking them.
pub fn blessing() -> bool {
    std::env::var_os(BLESS_VAR).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Folder of the committed goldens.
pub fn golden_dir() -> PathBuf {
    root().join("tests").join("golden")
}

/// Reads a 16-bit label PNG written by [`save_labels`] (value = label + 1).
pub fn load_labels(path: &Path) -> Option<(u32, u32, Vec<u32>)> {
    let img = image::open(path).ok()?.into_luma16();
    let (w, h) = img.dimensions();
    Some((w, h, img.into_raw().into_iter().map(u32::from).collect()))
}

/// Writes labels as a 16-bit PNG of label + 1 (0 for unlabelled).
pub fn save_labels(path: &Path, seg: &tessera::Segmentation) {
    let data: Vec<u16> = seg
        .labels()
        .iter()
        .map(|&l| {
            if l == tessera::UNLABELLED {
                0
            } else {
                (l + 1) as u16
            }
        })
        .collect();
    let img: image::ImageBuffer<image::Luma<u16>, Vec<u16>> =
        image::ImageBuffer::from_raw(seg.width(), seg.height(), data).expect("label map size");
    img.save(path)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// Fraction of pixels whose segment changed between two label maps compared as partitions
/// ([`tessera::compare::compare`]: a renumbering changes nothing; merged or split segments
/// count all but their largest piece).
pub fn changed_fraction(old: &[u32], new: &[u32]) -> f64 {
    assert_eq!(old.len(), new.len(), "label maps differ in size");
    // The comparison is purely set-based, so one row of pixels stands for the image.
    let as_seg = |l: &[u32]| {
        tessera::Segmentation::relabel_sequential(l.len() as u32, 1, l.to_vec())
            .expect("a non-empty label map")
    };
    tessera::compare::compare(&as_seg(old), &as_seg(new))
        .expect("same size")
        .changed_fraction
}

/// Checks a segmentation and its overlay against the goldens `<name>.labels.png` and
/// `<name>.overlay.png`, or rewrites them when blessing. Returns a description of what
/// failed, if anything.
pub fn check_golden(
    name: &str,
    seg: &tessera::Segmentation,
    overlay: &image::RgbImage,
    tolerance: f64,
) -> Result<(), String> {
    let dir = golden_dir();
    let labels_path = dir.join(format!("{name}.labels.png"));
    let overlay_path = dir.join(format!("{name}.overlay.png"));
    if blessing() {
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        save_labels(&labels_path, seg);
        overlay
            .save(&overlay_path)
            .map_err(|e| format!("cannot write {}: {e}", overlay_path.display()))?;
        return Ok(());
    }
    let hint = format!("(bless new goldens with {BLESS_VAR}=1 cargo test --test golden)");
    let (w, h, golden) = load_labels(&labels_path)
        .ok_or_else(|| format!("missing golden {} {hint}", labels_path.display()))?;
    if (w, h) != (seg.width(), seg.height()) {
        return Err(format!(
            "{name}: golden is {w}x{h}, result {}x{} {hint}",
            seg.width(),
            seg.height()
        ));
    }
    let new: Vec<u32> = seg.labels().iter().map(|&l| l.wrapping_add(1)).collect();
    let changed = changed_fraction(&golden, &new);
    if changed > tolerance {
        return Err(format!(
            "{name}: {:.3}% of pixels changed segment (tolerance {:.3}%) {hint}",
            changed * 100.0,
            tolerance * 100.0
        ));
    }
    let golden_overlay = image::open(&overlay_path)
        .map_err(|e| format!("missing golden {}: {e} {hint}", overlay_path.display()))?
        .into_rgb8();
    if golden_overlay.dimensions() != overlay.dimensions() {
        return Err(format!(
            "{name}: overlay size differs from the golden {hint}"
        ));
    }
    let differing = golden_overlay
        .pixels()
        .zip(overlay.pixels())
        .filter(|(a, b)| a != b)
        .count();
    let frac = differing as f64 / (overlay.width() as f64 * overlay.height() as f64);
    if frac > tolerance {
        return Err(format!(
            "{name}: {:.3}% of overlay pixels differ (tolerance {:.3}%) {hint}",
            frac * 100.0,
            tolerance * 100.0
        ));
    }
    Ok(())
}
