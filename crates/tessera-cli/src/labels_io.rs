//! Label maps on disk: 16-bit grey PNG or `u32` `.npy`, both holding `label + 1` so that 0
//! means "no superpixel" (scikit-image's `start_label=1` convention).
//!
//! Reading also takes plain label maps (any other `.png`/`.npy`/... name: 8- or 16-bit grey
//! PNG, RGB PNG read as `R + 256 G + 65536 B`, integer `.npy`), in which every value is a
//! label, 0 included, as `spbench.py` reads them.

use anyhow::{Context, Result, bail};
use image::{DynamicImage, ImageBuffer, Luma};
use ndarray::Array2;
use ndarray_npy::ReadNpyExt;
use std::path::Path;
use tessera::{Segmentation, UNLABELLED};

/// The largest number of superpixels a 16-bit PNG label map can hold.
pub const PNG_MAX_SEGMENTS: u32 = u16::MAX as u32 - 1;

/// The segmentation as a 16-bit grey image of `label + 1`.
pub fn to_png16(seg: &Segmentation) -> Result<ImageBuffer<Luma<u16>, Vec<u16>>> {
    if seg.count() > PNG_MAX_SEGMENTS {
        bail!(
            "{} superpixels do not fit a 16-bit PNG label map (at most {PNG_MAX_SEGMENTS}); use --labels npy",
            seg.count()
        );
    }
    let data: Vec<u16> = seg.labels().iter().map(|&l| stored(l) as u16).collect();
    ImageBuffer::from_raw(seg.width(), seg.height(), data)
        .ok_or_else(|| anyhow::anyhow!("label map size mismatch"))
}

/// The segmentation as a `(rows, columns)` array of `label + 1`.
pub fn to_array(seg: &Segmentation) -> Array2<u32> {
    seg.to_array().mapv(stored)
}

/// The value a label map file stores for label `l`: `l + 1`, 0 for no superpixel.
pub fn stored(l: u32) -> u32 {
    if l == UNLABELLED { 0 } else { l + 1 }
}

/// A label map read from disk: `width x height` values, row-major.
pub struct RawLabels {
    pub width: u32,
    pub height: u32,
    pub values: Vec<u32>,
}

/// Is this file name one of `segment`'s label maps (`label + 1`, 0 = none)?
pub fn is_shifted(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase());
    name.is_some_and(|n| n.ends_with(".labels.png") || n.ends_with(".labels.npy"))
}

/// Reads a label map file as it is stored (see the module docs for the formats).
pub fn read_raw(path: &Path) -> Result<RawLabels> {
    let is_npy = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    let raw = if is_npy {
        read_npy(path)
    } else {
        read_picture(path)
    };
    raw.with_context(|| format!("cannot read the label map {}", path.display()))
}

fn read_picture(path: &Path) -> Result<RawLabels> {
    let img = image::open(path)?;
    let (width, height) = (img.width(), img.height());
    let values: Vec<u32> = match img {
        DynamicImage::ImageLuma8(b) => b.into_raw().into_iter().map(u32::from).collect(),
        DynamicImage::ImageLuma16(b) => b.into_raw().into_iter().map(u32::from).collect(),
        DynamicImage::ImageRgb8(b) => b
            .pixels()
            .map(|p| p[0] as u32 | (p[1] as u32) << 8 | (p[2] as u32) << 16)
            .collect(),
        other => bail!(
            "{:?} pixels are not a label map (use 8- or 16-bit grey, or 8-bit RGB)",
            other.color()
        ),
    };
    Ok(RawLabels {
        width,
        height,
        values,
    })
}

fn read_npy(path: &Path) -> Result<RawLabels> {
    let bytes = std::fs::read(path)?;
    let arr: Array2<i64> = if let Ok(a) = Array2::<u32>::read_npy(&bytes[..]) {
        a.mapv(i64::from)
    } else if let Ok(a) = Array2::<i64>::read_npy(&bytes[..]) {
        a
    } else if let Ok(a) = Array2::<i32>::read_npy(&bytes[..]) {
        a.mapv(i64::from)
    } else if let Ok(a) = Array2::<u16>::read_npy(&bytes[..]) {
        a.mapv(i64::from)
    } else {
        Array2::<u8>::read_npy(&bytes[..])
            .context("not a 2-D integer array (u8, u16, u32, i32 or i64)")?
            .mapv(i64::from)
    };
    let (h, w) = arr.dim();
    let values: Vec<i64> = arr.iter().copied().collect();
    let values = if values.iter().all(|&v| (0..u32::MAX as i64).contains(&v)) {
        values.into_iter().map(|v| v as u32).collect()
    } else {
        // Negative or huge labels: every distinct value is still one label.
        let mut distinct = values.clone();
        distinct.sort_unstable();
        distinct.dedup();
        values
            .iter()
            .map(|v| distinct.partition_point(|d| d < v) as u32)
            .collect()
    };
    Ok(RawLabels {
        width: u32::try_from(w)?,
        height: u32::try_from(h)?,
        values,
    })
}

/// Reads a superpixel label map: `segment`'s files (`*.labels.png`, `*.labels.npy`) as
/// `label + 1` with 0 = no superpixel, any other file as a plain label map.
pub fn read_segmentation(path: &Path) -> Result<Segmentation> {
    let raw = read_raw(path)?;
    let labels = if is_shifted(path) {
        raw.values
            .into_iter()
            .map(|v| v.checked_sub(1).unwrap_or(UNLABELLED))
            .collect()
    } else {
        raw.values
    };
    Segmentation::relabel_sequential(raw.width, raw.height, labels)
        .with_context(|| format!("invalid label map {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_maps_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let seg = Segmentation::from_labels(3, 1, vec![1, UNLABELLED, 0]).unwrap();
        let shifted = dir.path().join("a.labels.png");
        to_png16(&seg).unwrap().save(&shifted).unwrap();
        let back = read_segmentation(&shifted).unwrap();
        assert_eq!(back.labels(), &[0, UNLABELLED, 1]); // renumbered, same partition
        // The same file under a plain name: 0 is a label like the others.
        let plain = dir.path().join("a.png");
        std::fs::copy(&shifted, &plain).unwrap();
        assert_eq!(read_segmentation(&plain).unwrap().labels(), &[0, 1, 2]);
        let npy = dir.path().join("b.npy");
        let arr = ndarray::arr2(&[[-5i64, 7], [7, -5]]);
        ndarray_npy::write_npy(&npy, &arr).unwrap();
        assert_eq!(read_raw(&npy).unwrap().values, vec![0, 1, 1, 0]);
        std::fs::write(dir.path().join("c.npy"), b"junk").unwrap();
        let err = read_raw(&dir.path().join("c.npy")).err().unwrap();
        assert!(format!("{err:#}").contains("c.npy"));
    }

    #[test]
    fn labels_are_shifted_by_one() {
        let seg = Segmentation::from_labels(3, 1, vec![0, UNLABELLED, 1]).unwrap();
        assert_eq!(to_png16(&seg).unwrap().as_raw(), &vec![1, 0, 2]);
        assert_eq!(to_array(&seg).as_slice().unwrap(), &[1, 0, 2]);
    }
}
