//! Conversion of image samples to CIELAB (D65), the feature space of SLIC and friends.
//!
//! The sRGB decoding is `palette`'s (tabulated for 8- and 16-bit samples). The linear RGB to
//! L*a*b* step is written out here, on blocks of pixels with a Newton cube root, because
//! `palette` converts one pixel at a time through libm's `cbrtf`, which made colour conversion
//! a third of SLIC's time; the tests check this path against `palette` to 1e-3. Chunks of pixels
//! are converted in parallel; the result does not depend on the thread count.

use crate::error::{Error, Result};
use crate::image::{Image, Samples};
use palette::{LinSrgb, Srgb};
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

/// Pixels converted together, so that the arithmetic vectorises.
const BLOCK: usize = 16;

/// sRGB (D65) linear RGB to XYZ, rows scaled by the reference white, so that the results are
/// `X/Xn, Y/Yn, Z/Zn`.
const RGB_TO_XYZN: [[f32; 3]; 3] = [
    [
        0.412_456_4 / 0.950_47,
        0.357_576_1 / 0.950_47,
        0.180_437_5 / 0.950_47,
    ],
    [0.212_672_9, 0.715_152_2, 0.072_175],
    [
        0.019_333_9 / 1.088_83,
        0.119_192 / 1.088_83,
        0.950_304_1 / 1.088_83,
    ],
];

/// CIE's `f(t)`: the cube root above `(6/29)^3`, a line below it.
#[inline(always)]
fn lab_f(t: f32) -> f32 {
    const EPS: f32 = 216.0 / 24389.0;
    const KAPPA: f32 = 24389.0 / 27.0;
    let linear = (KAPPA * t + 16.0) / 116.0;
    // Cube root: an exponent-splitting first guess (within about 3%), then two Newton steps
    // (relative error about 1e-6, far below the 1e-3 the tests allow against `palette`).
    let guess = f32::from_bits(t.max(EPS).to_bits() / 3 + 709_921_077);
    let mut y = guess;
    for _ in 0..2 {
        y = (2.0 * y + t.max(EPS) / (y * y)) * (1.0 / 3.0);
    }
    if t > EPS { y } else { linear }
}

/// Converts linear RGB (`rgb[c][i]` for `BLOCK` pixels) to `[L, a, b]` per pixel.
#[inline(always)]
fn lab_block(rgb: &[[f32; BLOCK]; 3], out: &mut [[f32; BLOCK]; 3]) {
    let m = RGB_TO_XYZN;
    let mut f = [[0.0f32; BLOCK]; 3];
    for (row, fr) in m.iter().zip(f.iter_mut()) {
        for i in 0..BLOCK {
            fr[i] = lab_f(row[0] * rgb[0][i] + row[1] * rgb[1][i] + row[2] * rgb[2][i]);
        }
    }
    for i in 0..BLOCK {
        out[0][i] = 116.0 * f[1][i] - 16.0;
        out[1][i] = 500.0 * (f[0][i] - f[1][i]);
        out[2][i] = 200.0 * (f[1][i] - f[2][i]);
    }
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
    // One monomorphic conversion per sample type, so the inner loop does not branch on it.
    Some(match image.samples() {
        Samples::U8(v) => {
            let lut = lut8();
            convert(n, c, |i| lut[v[i] as usize])
        }
        Samples::U16(v) => {
            let lut = lut16();
            convert(n, c, |i| lut[v[i] as usize])
        }
        Samples::F32(v) => {
            let linear = decode_all(v);
            convert(n, c, |i| linear[i])
        }
    })
}

/// [`decode`] of every sample, remembered in a small table per chunk: float images made from
/// integer ones (scikit-image's rescaled 8- and 16-bit images above all) hold few distinct
/// values, and decoding each only once spares a `powf` per sample; a value not in the table
/// is decoded and takes its slot, so any image gets exactly `decode`'s values.
fn decode_all(samples: &[f32]) -> Vec<f32> {
    const SLOTS: usize = 1 << 10;
    let mut out = vec![0.0f32; samples.len()];
    out.par_chunks_mut(3 * CHUNK)
        .zip(samples.par_chunks(3 * CHUNK))
        .for_each(|(out, samples)| {
            // Every slot starts as 0.0 and its value, so a hit is always right.
            let mut keys = [0u32; SLOTS];
            let mut values = [decode(0.0); SLOTS];
            for (o, &x) in out.iter_mut().zip(samples) {
                let bits = x.to_bits();
                let slot = (bits.wrapping_mul(0x9E37_79B1) >> 22) as usize;
                if keys[slot] != bits {
                    keys[slot] = bits;
                    values[slot] = decode(x);
                }
                *o = values[slot];
            }
        });
    out
}

/// Converts a grey or RGB image to CIELAB (D65) planes: `[L, a, b]` for colour input, `[L]`
/// for grey. Each plane holds one value per pixel, row-major.
///
/// ```
/// use tessera::{Image, Samples, cielab_planes};
/// let white = Image::new(1, 1, 3, Samples::U8(vec![255, 255, 255]))?;
/// let lab = cielab_planes(&white)?;
/// assert!((lab[0][0] - 100.0).abs() < 0.01);
/// # Ok::<(), tessera::Error>(())
/// ```
///
/// # Errors
/// [`Error::UnsupportedFormat`] for images with other than 1 or 3 channels.
pub fn cielab_planes(image: &Image) -> Result<Vec<Vec<f32>>> {
    lab_planes(image).ok_or_else(|| {
        Error::UnsupportedFormat(format!(
            "CIELAB needs 1 or 3 channels, the image has {}",
            image.channels()
        ))
    })
}

/// Rescales all `planes` jointly (one minimum and maximum over every value) to `0..top`, as
/// scikit-image rescales channels that are not converted to CIELAB, so that a compactness
/// keeps its meaning; flat data is left as it is.
pub(crate) fn rescale_jointly(planes: &mut [Vec<f32>], top: f32) {
    let (lo, hi) = joint_range(planes);
    rescale_with(planes, lo, hi, top);
}

/// The smallest and largest value of all the planes together.
pub(crate) fn joint_range(planes: &[Vec<f32>]) -> (f32, f32) {
    planes
        .iter()
        .flatten()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        })
}

/// [`rescale_jointly`] with the range `lo..=hi` given (a tiled run finds it over all tiles).
pub(crate) fn rescale_with(planes: &mut [Vec<f32>], lo: f32, hi: f32, top: f32) {
    if hi > lo {
        let s = top / (hi - lo);
        planes.iter_mut().flatten().for_each(|v| *v = (*v - lo) * s);
    }
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
    // Each plane zeroed by its own allocation (`vec![vec![..]; c]` would copy the first).
    let mut out: Vec<Vec<f32>> = (0..c).map(|_| vec![0.0f32; n]).collect();
    let linear = &linear;
    if c == 3 {
        let [l, a, b] = &mut out[..] else {
            unreachable!("three planes were allocated")
        };
        l.par_chunks_mut(CHUNK)
            .zip(a.par_chunks_mut(CHUNK))
            .zip(b.par_chunks_mut(CHUNK))
            .enumerate()
            .for_each(|(ci, ((l, a), b))| convert_chunk(c, linear, ci * CHUNK, &mut [l, a, b]));
    } else {
        out[0]
            .par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(ci, l)| convert_chunk(c, linear, ci * CHUNK, &mut [l]));
    }
    out
}

/// Converts the pixels from `base` on into `planes`, with 8-lane AVX2 arithmetic where the CPU
/// has it (the same operations in the same order, so the same results as the baseline 4-lane
/// build).
fn convert_chunk<F: Fn(usize) -> f32>(
    c: usize,
    linear: &F,
    base: usize,
    planes: &mut [&mut [f32]],
) {
    // Runtime dispatch by hand, as for SLIC's distance kernel: the standard library's
    // `is_x86_feature_detected!` and `#[target_feature]`.
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { convert_chunk_avx2(c, linear, base, planes) };
        return;
    }
    convert_chunk_portable(c, linear, base, planes);
}

/// [`convert_chunk_portable`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn convert_chunk_avx2<F: Fn(usize) -> f32>(
    c: usize,
    linear: &F,
    base: usize,
    planes: &mut [&mut [f32]],
) {
    convert_chunk_portable(c, linear, base, planes);
}

/// See [`convert_chunk`].
#[inline(always)]
fn convert_chunk_portable<F: Fn(usize) -> f32>(
    c: usize,
    linear: &F,
    base: usize,
    planes: &mut [&mut [f32]],
) {
    let len = planes[0].len();
    let mut rgb = [[0.0f32; BLOCK]; 3];
    let mut lab = [[0.0f32; BLOCK]; 3];
    for start in (0..len).step_by(BLOCK) {
        let m = BLOCK.min(len - start);
        for j in 0..m {
            let p = base + start + j;
            for (ch, plane) in rgb.iter_mut().enumerate() {
                plane[j] = if c == 3 {
                    linear(p * 3 + ch)
                } else {
                    linear(p)
                };
            }
        }
        lab_block(&rgb, &mut lab);
        for (plane, values) in planes.iter_mut().zip(&lab) {
            plane[start..start + m].copy_from_slice(&values[..m]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palette::{FromColor, Lab, white_point::D65};

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
    fn agrees_with_palette() {
        let mut samples = Vec::new();
        for r in (0..=255u32).step_by(5) {
            for g in (0..=255u32).step_by(5) {
                for b in (0..=255u32).step_by(5) {
                    samples.extend([r as u8, g as u8, b as u8]);
                }
            }
        }
        let n = samples.len() / 3;
        let im = Image::new(n as u32, 1, 3, Samples::U8(samples.clone())).unwrap();
        let p = lab_planes(&im).unwrap();
        for i in 0..n {
            let px = &samples[i * 3..i * 3 + 3];
            let lin: LinSrgb<f32> = Srgb::new(px[0], px[1], px[2])
                .into_format::<f32>()
                .into_linear();
            let lab: Lab<D65, f32> = Lab::from_color(lin);
            assert!((p[0][i] - lab.l).abs() < 1e-3, "L of {px:?}");
            assert!((p[1][i] - lab.a).abs() < 1e-3, "a of {px:?}");
            assert!((p[2][i] - lab.b).abs() < 1e-3, "b of {px:?}");
        }
    }

    #[test]
    fn remembered_decoding_is_decoding() {
        // Repeated levels (as a rescaled 8-bit image has), distinct values, slot collisions,
        // signed zeros, values out of range and NaN: each gets `decode`'s bits.
        let mut samples: Vec<f32> = (0..50_000).map(|i| (i % 256) as f32 / 255.0).collect();
        samples.extend((0..20_000).map(|i| i as f32 * 1.37e-4 - 0.3));
        samples.extend([0.0, -0.0, 1.5, -2.0, f32::NAN, f32::INFINITY, 1e-30]);
        let decoded = decode_all(&samples);
        for (&x, &d) in samples.iter().zip(&decoded) {
            assert_eq!(d.to_bits(), decode(x).to_bits(), "{x}");
        }
    }

    #[test]
    fn grey_is_lightness() {
        let g = Image::new(1, 1, 1, Samples::U8(vec![119])).unwrap();
        let rgb = Image::new(1, 1, 3, Samples::U8(vec![119, 119, 119])).unwrap();
        assert!((lab_planes(&g).unwrap()[0][0] - lab_planes(&rgb).unwrap()[0][0]).abs() < 1e-4);
    }
}
