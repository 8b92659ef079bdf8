//! Pictures of a segmentation: boundaries drawn over the image, mean-colour fill and
//! random-colour fill.

use crate::error::{Error, Result};
use crate::segmentation::{BoundaryMode, Segmentation, UNLABELLED};
use image::{Rgb, RgbImage};

/// How to draw boundaries over an image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundaryStyle {
    /// Line colour (default yellow, as scikit-image's `mark_boundaries`).
    pub color: Rgb<u8>,
    /// One-pixel lines ([`BoundaryMode::Thin`], the default) or two-pixel lines.
    pub mode: BoundaryMode,
}

impl Default for BoundaryStyle {
    fn default() -> Self {
        BoundaryStyle {
            color: Rgb([255, 255, 0]),
            mode: BoundaryMode::Thin,
        }
    }
}

fn check(image: &RgbImage, seg: &Segmentation) -> Result<()> {
    Error::check_sizes(
        "image",
        (image.width(), image.height(), 1),
        "segmentation",
        seg.shape(),
    )
}

/// The image with the segment boundaries drawn over it.
///
/// ```
/// use tessera::{render, Segmentation};
/// let img = image::RgbImage::new(4, 1);
/// let seg = Segmentation::from_labels(4, 1, vec![0, 0, 1, 1]).unwrap();
/// let out = render::mark_boundaries(&img, &seg, &render::BoundaryStyle::default()).unwrap();
/// assert_eq!(out.get_pixel(1, 0).0, [255, 255, 0]);
/// assert_eq!(out.get_pixel(0, 0).0, [0, 0, 0]);
/// ```
///
/// # Errors
/// [`Error::SizeMismatch`] when the image and the segmentation differ in size.
pub fn mark_boundaries(
    image: &RgbImage,
    seg: &Segmentation,
    style: &BoundaryStyle,
) -> Result<RgbImage> {
    check(image, seg)?;
    let mut out = image.clone();
    for (px, &b) in out.pixels_mut().zip(&seg.boundary_mask(style.mode)) {
        if b {
            *px = style.color;
        }
    }
    Ok(out)
}

/// Every segment filled with its mean colour; unlabelled pixels keep the image's colour.
///
/// # Errors
/// [`Error::SizeMismatch`] when the image and the segmentation differ in size.
pub fn fill_mean(image: &RgbImage, seg: &Segmentation) -> Result<RgbImage> {
    check(image, seg)?;
    let mut sums = vec![[0u64; 4]; seg.count() as usize];
    for (px, &l) in image.pixels().zip(seg.labels()) {
        if l != UNLABELLED {
            let s = &mut sums[l as usize];
            for (acc, &v) in s.iter_mut().zip(&px.0) {
                *acc += v as u64;
            }
            s[3] += 1;
        }
    }
    let means: Vec<Rgb<u8>> = sums
        .iter()
        .map(|s| {
            let n = s[3].max(1);
            Rgb(std::array::from_fn(|c| ((s[c] + n / 2) / n) as u8))
        })
        .collect();
    let mut out = image.clone();
    for (px, &l) in out.pixels_mut().zip(seg.labels()) {
        if l != UNLABELLED {
            *px = means[l as usize];
        }
    }
    Ok(out)
}

/// Every segment filled with a colour drawn from its label and `seed` (the same seed gives
/// the same colours); unlabelled pixels are black.
pub fn fill_random(seg: &Segmentation, seed: u64) -> RgbImage {
    let mut out = RgbImage::new(seg.width(), seg.height());
    for (px, &l) in out.pixels_mut().zip(seg.labels()) {
        if l != UNLABELLED {
            *px = random_colour(l, seed);
        }
    }
    out
}

/// A well-mixed bright colour for a label (splitmix64 of label and seed).
fn random_colour(label: u32, seed: u64) -> Rgb<u8> {
    let mut z = seed ^ (label as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    // Keep every channel above 40 so no segment disappears into a black background.
    Rgb(std::array::from_fn(|c| {
        40 + ((z >> (8 * c)) & 0xFF) as u8 % 216
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_fill_averages() {
        let img = RgbImage::from_raw(2, 1, vec![0, 0, 0, 100, 50, 10]).unwrap();
        let seg = Segmentation::from_labels(2, 1, vec![0, 0]).unwrap();
        let out = fill_mean(&img, &seg).unwrap();
        assert_eq!(out.get_pixel(0, 0).0, [50, 25, 5]);
    }

    #[test]
    fn random_fill_is_seeded() {
        let seg = Segmentation::from_labels(2, 1, vec![0, 1]).unwrap();
        assert_eq!(fill_random(&seg, 1), fill_random(&seg, 1));
        assert_ne!(fill_random(&seg, 1), fill_random(&seg, 2));
    }

    proptest::proptest! {
        /// Every renderer, on any size from 1x1 up (1xN and Nx1 included) and any labelling,
        /// gives a picture of the segmentation's size.
        #[test]
        fn renders_any_size(w in 1u32..9, h in 1u32..9, seed in proptest::prelude::any::<u64>()) {
            let mut x = seed | 1;
            let labels: Vec<u32> = (0..w * h).map(|_| {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                if x % 7 == 0 { UNLABELLED } else { (x % 5) as u32 }
            }).collect();
            let seg = Segmentation::relabel_sequential(w, h, labels).unwrap();
            let img = RgbImage::new(w, h);
            for mode in [BoundaryMode::Thin, BoundaryMode::Thick] {
                let out = mark_boundaries(&img, &seg, &BoundaryStyle { mode, ..Default::default() }).unwrap();
                proptest::prop_assert_eq!(out.dimensions(), (w, h));
            }
            proptest::prop_assert_eq!(fill_mean(&img, &seg).unwrap().dimensions(), (w, h));
            proptest::prop_assert_eq!(fill_random(&seg, seed).dimensions(), (w, h));
        }
    }

    #[test]
    fn size_mismatch_is_an_error() {
        let seg = Segmentation::from_labels(2, 1, vec![0, 1]).unwrap();
        assert!(mark_boundaries(&RgbImage::new(3, 1), &seg, &BoundaryStyle::default()).is_err());
    }
}
