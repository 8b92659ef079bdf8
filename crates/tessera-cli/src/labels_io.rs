//! Label maps on disk: 16-bit grey PNG or `u32` `.npy`, both holding `label + 1` so that 0
//! means "no superpixel" (scikit-image's `start_label=1` convention).

use anyhow::{Result, bail};
use image::{ImageBuffer, Luma};
use ndarray::Array2;
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

fn stored(l: u32) -> u32 {
    if l == UNLABELLED { 0 } else { l + 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_shifted_by_one() {
        let seg = Segmentation::from_labels(3, 1, vec![0, UNLABELLED, 1]).unwrap();
        assert_eq!(to_png16(&seg).unwrap().as_raw(), &vec![1, 0, 2]);
        assert_eq!(to_array(&seg).as_slice().unwrap(), &[1, 0, 2]);
    }
}
