//! Separable Gaussian smoothing of float planes.
//!
//! Hand-written rather than `imageproc::filter::gaussian_blur_f32` because SLIC needs a
//! different sigma per axis (sigma divided by the pixel spacing, as scikit-image does) and
//! scikit-image's edge handling (`nearest`: the border pixel repeats) and truncation (4 sigma),
//! so that results can be compared with it.

use rayon::prelude::*;

/// The Gaussian taps, truncated at 4 sigma or at `max_radius` (the plane's extent along the
/// axis: taps further out would all read the border pixel), whichever is smaller, so that a
/// huge sigma cannot allocate a huge kernel. A sigma too small to spread (radius 0, where
/// `sigma * sigma` may underflow to 0) gives the identity.
fn kernel(sigma: f32, max_radius: usize) -> Vec<f32> {
    let radius = ((4.0 * sigma + 0.5) as usize).min(max_radius);
    if radius == 0 {
        return vec![1.0];
    }
    let mut k: Vec<f32> = (0..=2 * radius)
        .map(|i| {
            let d = i as f32 - radius as f32;
            (-0.5 * d * d / (sigma * sigma)).exp()
        })
        .collect();
    let sum: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= sum);
    k
}

/// Smooths one `width x height` plane in place with a Gaussian of standard deviation
/// `sigma_y` along columns and `sigma_x` along rows (in pixels; 0 skips that axis).
pub(crate) fn gaussian(plane: &mut [f32], width: usize, height: usize, sigma_y: f32, sigma_x: f32) {
    gaussian_in(plane, width, height, sigma_y, sigma_x, (width, height));
}

/// The radius (columns, rows) of the kernels [`gaussian`] uses on a `width x height` image.
pub(crate) fn radius(sigma_y: f32, sigma_x: f32, width: usize, height: usize) -> (usize, usize) {
    let r = |s: f32, n: usize| if s > 0.0 { kernel(s, n).len() / 2 } else { 0 };
    (r(sigma_x, width), r(sigma_y, height))
}

/// [`gaussian`] on a part of an image of `extent = (width, height)` pixels: the kernels are the
/// whole image's, so the part's pixels further than [`radius`] from its edges, and all of
/// them along an edge it shares with the image, get the bits the whole image's would.
pub(crate) fn gaussian_in(
    plane: &mut [f32],
    width: usize,
    height: usize,
    sigma_y: f32,
    sigma_x: f32,
    extent: (usize, usize),
) {
    if sigma_x > 0.0 {
        let k = kernel(sigma_x, extent.0);
        let r = k.len() / 2;
        plane.par_chunks_mut(width).for_each(|row| {
            let src = row.to_vec();
            for (x, out) in row.iter_mut().enumerate() {
                let mut acc = 0.0;
                for (j, &kv) in k.iter().enumerate() {
                    let xi = (x + j).saturating_sub(r).min(width - 1);
                    acc += kv * src[xi];
                }
                *out = acc;
            }
        });
    }
    if sigma_y > 0.0 {
        let k = kernel(sigma_y, extent.1);
        let r = k.len() / 2;
        let src = plane.to_vec();
        plane
            .par_chunks_mut(width)
            .enumerate()
            .for_each(|(y, row)| {
                for (x, out) in row.iter_mut().enumerate() {
                    let mut acc = 0.0;
                    for (j, &kv) in k.iter().enumerate() {
                        let yi = (y + j).saturating_sub(r).min(height - 1);
                        acc += kv * src[yi * width + x];
                    }
                    *out = acc;
                }
            });
    }
}

/// Smooths a volume of `depth` slices of `width x height` voxels (slice after slice) in place,
/// with standard deviations `sigma = [slices, rows, columns]` in voxels (0 skips that axis).
/// A depth of 1 is [`gaussian`] on the one slice.
pub(crate) fn gaussian_volume(
    plane: &mut [f32],
    width: usize,
    height: usize,
    depth: usize,
    sigma: [f32; 3],
) {
    let slice = width * height;
    debug_assert_eq!(plane.len(), slice * depth);
    if sigma[1] > 0.0 || sigma[2] > 0.0 {
        for s in plane.chunks_mut(slice) {
            gaussian(s, width, height, sigma[1], sigma[2]);
        }
    }
    if sigma[0] > 0.0 && depth > 1 {
        let k = kernel(sigma[0], depth);
        let r = k.len() / 2;
        let src = plane.to_vec();
        plane
            .par_chunks_mut(slice)
            .enumerate()
            .for_each(|(z, out)| {
                out.fill(0.0);
                for (j, &kv) in k.iter().enumerate() {
                    let zi = (z + j).saturating_sub(r).min(depth - 1);
                    let from = &src[zi * slice..(zi + 1) * slice];
                    for (o, &v) in out.iter_mut().zip(from) {
                        *o += kv * v;
                    }
                }
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preserves_constants_and_mass() {
        let mut p = vec![2.0f32; 35];
        gaussian(&mut p, 7, 5, 1.5, 0.7);
        assert!(p.iter().all(|v| (v - 2.0).abs() < 1e-5));
        let mut impulse = vec![0.0f32; 21 * 21];
        impulse[10 * 21 + 10] = 1.0;
        gaussian(&mut impulse, 21, 21, 1.0, 1.0);
        let s: f32 = impulse.iter().sum();
        assert!((s - 1.0).abs() < 1e-4);
        assert!(impulse[10 * 21 + 10] > impulse[10 * 21 + 11]);
    }

    #[test]
    fn volumes_smooth_along_every_axis() {
        // An impulse in the middle of a 9x7x11 volume (far enough from the borders for no
        // tap to be clamped) keeps its mass and spreads along z.
        let (w, h, d) = (9, 7, 11);
        let mut v = vec![0.0f32; w * h * d];
        let centre = (5 * h + 3) * w + 4;
        v[centre] = 1.0;
        gaussian_volume(&mut v, w, h, d, [1.0, 0.8, 0.6]);
        let s: f32 = v.iter().sum();
        assert!((s - 1.0).abs() < 1e-4, "{s}");
        assert!(v[centre] > v[centre + w * h] && v[centre + w * h] > 0.0);
        assert!((v[centre + w * h] - v[centre - w * h]).abs() < 1e-7);
        // Depth 1 is the 2-D filter.
        let mut a: Vec<f32> = (0..35).map(|i| (i * 7 % 11) as f32).collect();
        let mut b = a.clone();
        gaussian_volume(&mut a, 7, 5, 1, [3.0, 1.5, 0.7]);
        gaussian(&mut b, 7, 5, 1.5, 0.7);
        assert_eq!(a, b);
    }

    #[test]
    fn extreme_sigmas_stay_finite_and_small() {
        for sigma in [1e-30f32, 1e-20, 1e6, 1e30, f32::MAX] {
            let k = kernel(sigma, 9);
            assert!(k.len() <= 19 && k.iter().all(|v| v.is_finite()), "{sigma}");
            let mut p: Vec<f32> = (0..12).map(|i| i as f32).collect();
            gaussian(&mut p, 4, 3, sigma, sigma);
            assert!(p.iter().all(|v| v.is_finite()), "{sigma}: {p:?}");
        }
    }
}
