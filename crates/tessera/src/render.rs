//! Pictures of a segmentation: boundaries drawn over the image, mean-colour fill and
//! random-colour fill; for a volume, a [`montage`] of its slices.

use crate::error::{Error, Result};
use crate::image::{Image, Samples};
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

/// What the tiles of a [`montage`] show.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MontageFill {
    /// The slice, with the boundaries between supervoxels within the slice drawn over it.
    Boundaries(BoundaryStyle),
    /// Each supervoxel filled with its mean colour over the whole volume.
    Mean,
    /// Each supervoxel filled with a colour drawn from its label and this seed, the same in
    /// every slice (as [`fill_random`]).
    Random(u64),
}

/// Gap between the tiles of a [`montage`], in pixels.
const MONTAGE_GAP: u32 = 2;
/// Colour of the gaps and of the empty cells of a [`montage`]: a slate blue that no grey
/// slice shares.
const MONTAGE_BACKGROUND: Rgb<u8> = Rgb([90, 110, 140]);

/// A picture of a volume's segmentation for a person to look at: `tiles` slices evenly
/// spaced from the first to the last (every slice when there are no more), row by row in a
/// grid of `ceil(sqrt(n))` columns separated by 2-pixel slate-blue gaps. Slices are rendered as
/// [`Image::to_rgb8`] renders an image, float data stretched over the whole volume's range so
/// that every tile has the same grey scale; tiles under 128 pixels are enlarged by a whole
/// factor (nearest neighbour, at most 8) so that small volumes can be seen. A 2-D image gives
/// one tile.
///
/// ```
/// use tessera::{Image, Samples, Segmentation, render};
/// // Two flat boxes: slices 0-1 and 2-3 of a 4-slice 6x5 volume.
/// let (d, w, h) = (4, 6, 5);
/// let vol = Image::new_volume(d, w, h, 1, Samples::U8(vec![100; (d * w * h) as usize]))?;
/// let labels = (0..d * w * h).map(|i| u32::from(i >= 2 * w * h)).collect();
/// let seg = Segmentation::from_volume_labels(d, w, h, labels)?;
/// let fill = render::MontageFill::Random(0);
/// let pic = render::montage(&vol, &seg, fill, 16)?;
/// // 4 tiles in 2 columns, each 6x5 enlarged 8 times, 2-pixel gaps.
/// assert_eq!(pic.dimensions(), (2 * 48 + 2, 2 * 40 + 2));
/// # Ok::<(), tessera::Error>(())
/// ```
///
/// # Errors
/// [`Error::SizeMismatch`] when the image and the segmentation differ in size,
/// [`Error::InvalidParameter`] when `tiles` is 0.
pub fn montage(
    image: &Image,
    seg: &Segmentation,
    fill: MontageFill,
    tiles: u32,
) -> Result<RgbImage> {
    Error::check_sizes(
        "image",
        (image.width(), image.height(), image.depth()),
        "segmentation",
        (seg.width(), seg.height(), seg.depth()),
    )?;
    if tiles == 0 {
        return Err(Error::param("tiles", "a montage needs at least one tile"));
    }
    let (w, h, d) = (image.width(), image.height(), image.depth());
    let n = tiles.min(d);
    let slices: Vec<u32> = if n == 1 {
        vec![0]
    } else {
        (0..n)
            .map(|i| {
                ((u64::from(i) * u64::from(d - 1) + u64::from(n - 1) / 2) / u64::from(n - 1)) as u32
            })
            .collect()
    };
    let range = float_range(image);
    let area = w as usize * h as usize;
    let slice_labels = |z: u32| &seg.labels()[z as usize * area..(z as usize + 1) * area];
    let means = if fill == MontageFill::Mean {
        let mut sums = vec![[0u64; 4]; seg.count() as usize];
        for z in 0..d {
            let rgb = slice_rgb(image, z, range)?;
            for (px, &l) in rgb.pixels().zip(slice_labels(z)) {
                if l != UNLABELLED {
                    let s = &mut sums[l as usize];
                    for (acc, &v) in s.iter_mut().zip(&px.0) {
                        *acc += u64::from(v);
                    }
                    s[3] += 1;
                }
            }
        }
        sums.iter()
            .map(|s| {
                let n = s[3].max(1);
                Rgb(std::array::from_fn(|c| ((s[c] + n / 2) / n) as u8))
            })
            .collect()
    } else {
        Vec::new()
    };
    let scale = (128 / w.max(h)).clamp(1, 8);
    let (tw, th) = (w * scale, h * scale);
    let cols = (1..=n).find(|c| c * c >= n).unwrap_or(n);
    let rows = n.div_ceil(cols);
    let mut out = RgbImage::from_pixel(
        cols * tw + (cols - 1) * MONTAGE_GAP,
        rows * th + (rows - 1) * MONTAGE_GAP,
        MONTAGE_BACKGROUND,
    );
    for (i, &z) in slices.iter().enumerate() {
        let labels = slice_labels(z);
        let tile = match fill {
            MontageFill::Boundaries(style) => {
                let slice_seg = Segmentation::relabel_sequential(w, h, labels.to_vec())?;
                mark_boundaries(&slice_rgb(image, z, range)?, &slice_seg, &style)?
            }
            MontageFill::Mean => {
                let mut tile = slice_rgb(image, z, range)?;
                for (px, &l) in tile.pixels_mut().zip(labels) {
                    if l != UNLABELLED {
                        *px = means[l as usize];
                    }
                }
                tile
            }
            MontageFill::Random(seed) => {
                let mut tile = RgbImage::new(w, h);
                for (px, &l) in tile.pixels_mut().zip(labels) {
                    if l != UNLABELLED {
                        *px = random_colour(l, seed);
                    }
                }
                tile
            }
        };
        let (cx, cy) = (i as u32 % cols, i as u32 / cols);
        let (ox, oy) = (cx * (tw + MONTAGE_GAP), cy * (th + MONTAGE_GAP));
        for (x, y, px) in tile.enumerate_pixels() {
            for dy in 0..scale {
                for dx in 0..scale {
                    out.put_pixel(ox + x * scale + dx, oy + y * scale + dy, *px);
                }
            }
        }
    }
    Ok(out)
}

/// For float samples outside 0..=1, the whole volume's `(min, max)`, over which every slice is
/// stretched; `None` when slices render as they are.
fn float_range(image: &Image) -> Option<(f32, f32)> {
    let Samples::F32(v) = image.samples() else {
        return None;
    };
    let (lo, hi) = v
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &s| {
            (a.min(s), b.max(s))
        });
    (lo < 0.0 || hi > 1.0).then_some((lo, hi))
}

/// Slice `z` in 8-bit RGB, float samples stretched over `range` when given.
fn slice_rgb(image: &Image, z: u32, range: Option<(f32, f32)>) -> Result<RgbImage> {
    let slice = image.slice(z)?;
    let (Some((lo, hi)), Samples::F32(v)) = (range, slice.samples()) else {
        return Ok(slice.to_rgb8());
    };
    let scale = if hi > lo { 1.0 / (hi - lo) } else { 0.0 };
    let stretched = v.iter().map(|&s| (s - lo) * scale).collect();
    Ok(Image::new(
        slice.width(),
        slice.height(),
        slice.channels() as u16,
        Samples::F32(stretched),
    )?
    .to_rgb8())
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

    #[test]
    fn montage_tiles_show_the_chosen_slices() {
        // 10 slices of 3x2, slice z filled with grey 20 z; one supervoxel per pair of slices.
        let (d, w, h) = (10u32, 3u32, 2u32);
        let samples: Vec<u8> = (0..d * w * h).map(|i| (i / (w * h) * 20) as u8).collect();
        let vol = Image::new_volume(d, w, h, 1, Samples::U8(samples)).unwrap();
        let labels: Vec<u32> = (0..d * w * h).map(|i| i / (w * h) / 2).collect();
        let seg = Segmentation::from_volume_labels(d, w, h, labels).unwrap();
        // 4 tiles of 10 slices: slices 0, 3, 6, 9, in 2 columns, enlarged 8 times (24x16).
        let pic = montage(&vol, &seg, MontageFill::Mean, 4).unwrap();
        assert_eq!(pic.dimensions(), (2 * 24 + 2, 2 * 16 + 2));
        // Mean fill: supervoxel 0 (slices 0-1) is grey 10, supervoxel 4 (slices 8-9) 170.
        assert_eq!(pic.get_pixel(0, 0).0, [10; 3]);
        assert_eq!(pic.get_pixel(26, 18).0, [170; 3]);
        assert_eq!(pic.get_pixel(24, 0).0, MONTAGE_BACKGROUND.0, "the gap");
        // Boundaries inside a slice only: each slice is one supervoxel, so none are drawn.
        let style = BoundaryStyle::default();
        let pic = montage(&vol, &seg, MontageFill::Boundaries(style), 4).unwrap();
        assert_eq!(pic.get_pixel(26, 0).0, [60; 3], "slice 3 as it is");
        // Random fill: one colour per supervoxel in every slice.
        let pic = montage(&vol, &seg, MontageFill::Random(3), 10).unwrap();
        assert_eq!(pic.get_pixel(0, 0), pic.get_pixel(26, 0)); // slices 0 and 1
        assert_ne!(pic.get_pixel(0, 0), pic.get_pixel(52, 0)); // slices 0 and 2
        assert!(montage(&vol, &seg, MontageFill::Mean, 0).is_err());
        let other = Segmentation::from_volume_labels(1, w, h, vec![0; 6]).unwrap();
        assert!(montage(&vol, &other, MontageFill::Mean, 4).is_err());
    }

    #[test]
    fn montage_boundaries_follow_each_slice() {
        // 2 slices of 4x1: left half 0, right half 1; float samples outside 0..1.
        let vol = Image::new_volume(
            2,
            4,
            1,
            1,
            Samples::F32(vec![-5.0, 0.0, 5.0, 15.0, 15.0, 15.0, 15.0, -5.0]),
        )
        .unwrap();
        let seg = Segmentation::from_volume_labels(2, 4, 1, vec![0, 0, 1, 1, 0, 0, 1, 1]).unwrap();
        let style = BoundaryStyle::default();
        let pic = montage(&vol, &seg, MontageFill::Boundaries(style), 2).unwrap();
        // 2 tiles side by side, each 4x1 enlarged 8 times.
        assert_eq!(pic.dimensions(), (2 * 32 + 2, 8));
        assert_eq!(pic.get_pixel(8, 0).0, [255, 255, 0], "boundary at x = 1");
        assert_eq!(pic.get_pixel(0, 0).0, [0; 3], "-5 is the volume's minimum");
        assert_eq!(
            pic.get_pixel(34, 0).0,
            [255; 3],
            "15 is its maximum, in slice 1 too"
        );
    }
}
