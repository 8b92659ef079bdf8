//! What `tessera label` writes of a labelling, on both of its paths (a CRF solved here, and a
//! model learned by `tessera learn`): the class of every pixel, and the classes over the image.

use anyhow::Result;
use image::{Rgb, RgbImage};
use tessera::render::{self, BoundaryStyle};
use tessera::{Segmentation, UNLABELLED};

/// The class of every pixel from the class of every superpixel (0 for unlabelled pixels).
pub fn pixel_classes(seg: &Segmentation, classes: &[u32]) -> Vec<u8> {
    seg.labels()
        .iter()
        .map(|&l| {
            if l == UNLABELLED {
                0
            } else {
                classes.get(l as usize).map_or(0, |&c| c as u8)
            }
        })
        .collect()
}

/// The image half-blended with each pixel's class colour (`colour(class)`), with the
/// superpixel boundaries drawn in yellow.
pub fn class_overlay(
    rgb: &RgbImage,
    classes: &[u8],
    seg: &Segmentation,
    colour: impl Fn(u8) -> [u8; 3],
) -> Result<RgbImage> {
    let mut out = rgb.clone();
    for (px, &c) in out.pixels_mut().zip(classes) {
        for (v, k) in px.0.iter_mut().zip(colour(c)) {
            *v = ((u16::from(*v) + u16::from(k)) / 2) as u8;
        }
    }
    Ok(render::mark_boundaries(
        &out,
        seg,
        &BoundaryStyle {
            color: Rgb([255, 255, 0]),
            ..BoundaryStyle::default()
        },
    )?)
}
