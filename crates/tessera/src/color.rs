//! Conversion of image samples to CIELAB (D65), the feature space of SLIC and friends.
//!
//! The colour science is `palette`'s; this module only adds lookup tables for the sRGB decoding
//! of 8- and 16-bit samples and runs the conversion in parallel over fixed-size pixel chunks
//! (the result does not depend on the thread count).

use crate::image::{Image, Samples};
use palette::{FromColor, Lab, LinSrgb, Srgb, white_point::D65};
use rayon::prelude::*;
use std::sync::OnceLock;

/// Pixels per parallel work item.
const CHUNK: usize = 8192;

fn decode(x: f32) -> f32 {
    let lin: LinSrgb<f32> = Srgb::new(x, x, x).into_linear();
    lin.red
}

fn lut8() -> &'static [f32; 256] {
    static LUT: OnceLock<[f32; 256]> = OnceLock::new();
    LUT.get_or_init(|| std::array::from_fn(|i| decode(i as f32 / 255.0)))
}

fn lut16() -> &'static [f32] {
    static LUT: OnceLock<Vec<f32>> = OnceLock::new();
    LUT.get_or_init(|| (0..=u16::MAX).map(|i| decode(i as f32 / 65535.0)).collect())
}

#[inline]
fn lab_of_linear(r: f32, g: f32, b: f32) -> [f32; 3] {
    let lab: Lab<D65, f32> = Lab::from_color(LinSrgb::new(r, g, b));
    [lab.l, lab.a, lab.b]
}

/// Converts a 1- or 3-channel image to CIELAB planes: `[L, a, b]` for colour input, `[L]` for
/// grey (grey is sRGB-encoded luminance, so its lightness is that of the matching grey colour).
///
/// Returns `None` for other channel counts.
pub(crate) fn lab_planes(image: &Image) -> Option<Vec<Vec<f32>>> {
    let c = image.channels();
    if c != 1 && c != 3 {
        return None;
    }
    let n = image.pixel_count();
    let linear = |i: usize| -> f32 {
        match image.samples() {
            Samples::U8(v) => lut8()[v[i] as usize],
            Samples::U16(v) => lut16()[v[i] as usize],
            Samples::F32(v) => decode(v[i]),
        }
    };
    Some(convert(n, c, linear))
}

/// Converts float planes holding sRGB values in 0..=1 (1 or 3 planes) to CIELAB planes, as
/// [`lab_planes`] does for an image.
pub(crate) fn lab_planes_from_planes(planes: &[Vec<f32>]) -> Option<Vec<Vec<f32>>> {
    let c = planes.len();
    if c != 1 && c != 3 {
        return None;
    }
    let n = planes[0].len();
    Some(convert(n, c, |i| decode(planes[i % c][i / c])))
}

/// `linear(p * c + ch)` gives the linear value of channel `ch` of pixel `p`.
fn convert(n: usize, c: usize, linear: impl Fn(usize) -> f32 + Sync) -> Vec<Vec<f32>> {
    let mut out = vec![vec![0.0f32; n]; c];
    if c == 3 {
        let [l, a, b] = &mut out[..] else {
            unreachable!("three planes were allocated")
        };
        l.par_chunks_mut(CHUNK)
            .zip(a.par_chunks_mut(CHUNK))
            .zip(b.par_chunks_mut(CHUNK))
            .enumerate()
            .for_each(|(ci, ((l, a), b))| {
                let base = ci * CHUNK;
                for j in 0..l.len() {
                    let p = (base + j) * 3;
                    let lab = lab_of_linear(linear(p), linear(p + 1), linear(p + 2));
                    l[j] = lab[0];
                    a[j] = lab[1];
                    b[j] = lab[2];
                }
            });
    } else {
        out[0]
            .par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(ci, l)| {
                let base = ci * CHUNK;
                for (j, v) in l.iter_mut().enumerate() {
                    let y = linear(base + j);
                    *v = lab_of_linear(y, y, y)[0];
                }
            });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_lab_values() {
        let im = Image::new(
            3,
            1,
            3,
            Samples::U8(vec![255, 255, 255, 255, 0, 0, 0, 0, 0]),
        )
        .unwrap();
        let p = lab_planes(&im).unwrap();
        // White: L=100, a=b=0. sRGB red: L≈53.24, a≈80.09, b≈67.20. Black: 0.
        assert!((p[0][0] - 100.0).abs() < 0.01 && p[1][0].abs() < 0.01);
        assert!((p[0][1] - 53.24).abs() < 0.05);
        assert!((p[1][1] - 80.09).abs() < 0.1);
        assert!((p[2][1] - 67.20).abs() < 0.1);
        assert!(p[0][2].abs() < 1e-4);
    }

    #[test]
    fn sample_types_agree() {
        let a = Image::new(1, 1, 3, Samples::U8(vec![10, 128, 250])).unwrap();
        let b = Image::new(1, 1, 3, Samples::U16(vec![10 * 257, 128 * 257, 250 * 257])).unwrap();
        let c = Image::new(
            1,
            1,
            3,
            Samples::F32(vec![10.0 / 255.0, 128.0 / 255.0, 250.0 / 255.0]),
        )
        .unwrap();
        let (pa, pb, pc) = (
            lab_planes(&a).unwrap(),
            lab_planes(&b).unwrap(),
            lab_planes(&c).unwrap(),
        );
        for ch in 0..3 {
            assert!((pa[ch][0] - pb[ch][0]).abs() < 1e-3);
            assert!((pa[ch][0] - pc[ch][0]).abs() < 1e-3);
        }
        let planes = c.to_planes();
        let pd = lab_planes_from_planes(&planes).unwrap();
        assert!((pd[1][0] - pc[1][0]).abs() < 1e-5);
    }

    #[test]
    fn grey_is_lightness() {
        let g = Image::new(1, 1, 1, Samples::U8(vec![119])).unwrap();
        let rgb = Image::new(1, 1, 3, Samples::U8(vec![119, 119, 119])).unwrap();
        assert!((lab_planes(&g).unwrap()[0][0] - lab_planes(&rgb).unwrap()[0][0]).abs() < 1e-4);
    }
}
