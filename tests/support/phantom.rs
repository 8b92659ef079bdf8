//! A synthetic volume with ground truth, for the 3-D benchmarks, the golden test and the
//! figures script: random ellipsoids of random intensity in a box, blurred, with Gaussian
//! noise, and the label of the ellipsoid each voxel belongs to. Deterministic from a seed.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tessera::{Image, Samples};

/// What to generate. Sizes and spacing are `[slices, rows, columns]`; lengths (semi-axes,
/// blur) are in spacing units (e.g. millimetres), so an anisotropic phantom holds round
/// bodies.
#[derive(Debug, Clone, PartialEq)]
pub struct PhantomSpec {
    /// Voxels along slices, rows and columns.
    pub shape: [usize; 3],
    /// Voxel spacing along slices, rows and columns.
    pub spacing: [f32; 3],
    /// How many ellipsoids (later ones occlude earlier ones).
    pub ellipsoids: usize,
    /// Smallest and largest semi-axis, in spacing units.
    pub semi_axes: (f32, f32),
    /// Standard deviation of the Gaussian blur, in spacing units (0: none).
    pub blur: f32,
    /// Standard deviation of the additive Gaussian noise (intensities lie in 0..1).
    pub noise: f32,
    pub seed: u64,
}

impl PhantomSpec {
    /// About 2.5 million voxels of anisotropic CT-like spacing: 100 slices 2.5 apart of
    /// 160 x 160 pixels 0.7 wide (250 x 112 x 112 units), 60 ellipsoids.
    pub fn ct_like(seed: u64) -> Self {
        PhantomSpec {
            shape: [100, 160, 160],
            spacing: [2.5, 0.7, 0.7],
            ellipsoids: 60,
            semi_axes: (6.0, 30.0),
            blur: 1.0,
            noise: 0.05,
            seed,
        }
    }

    /// A small isotropic phantom (24 x 48 x 48 voxels) for tests.
    pub fn small(seed: u64) -> Self {
        PhantomSpec {
            shape: [24, 48, 48],
            spacing: [1.0; 3],
            ellipsoids: 12,
            semi_axes: (4.0, 14.0),
            blur: 0.8,
            noise: 0.04,
            seed,
        }
    }
}

/// The phantom: its intensities (one float channel) and its ground-truth labels (0 for the
/// background, `i + 1` for the `i`-th ellipsoid where it is not occluded), one per voxel,
/// slice after slice, each row-major.
pub struct Phantom {
    pub image: Image,
    pub truth: Vec<u32>,
    pub shape: [usize; 3],
    pub spacing: [f32; 3],
}

/// Generates the phantom of `spec`.
pub fn phantom(spec: &PhantomSpec) -> Phantom {
    let [d, h, w] = spec.shape;
    let sp = spec.spacing;
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let background = 0.15f32;
    let mut value = vec![background; d * h * w];
    let mut truth = vec![0u32; d * h * w];
    let extent = [d as f32 * sp[0], h as f32 * sp[1], w as f32 * sp[2]];
    for e in 0..spec.ellipsoids {
        let centre: [f32; 3] = std::array::from_fn(|a| rng.random_range(0.0..extent[a]));
        let axes: [f32; 3] =
            std::array::from_fn(|_| rng.random_range(spec.semi_axes.0..=spec.semi_axes.1));
        let rot = random_rotation(&mut rng);
        let intensity = rng.random_range(0.0f32..1.0);
        // The voxels of the bounding box of the enclosing ball.
        let r = axes.iter().fold(0.0f32, |m, &v| m.max(v));
        let span = |a: usize, n: usize| {
            let lo = ((centre[a] - r) / sp[a]).floor().max(0.0) as usize;
            let hi = (((centre[a] + r) / sp[a]).ceil().max(0.0) as usize).min(n);
            lo..hi
        };
        for z in span(0, d) {
            for y in span(1, h) {
                for x in span(2, w) {
                    // Voxel centre relative to the ellipsoid's, rotated into its axes.
                    let p = [
                        (z as f32 + 0.5) * sp[0] - centre[0],
                        (y as f32 + 0.5) * sp[1] - centre[1],
                        (x as f32 + 0.5) * sp[2] - centre[2],
                    ];
                    let inside: f32 = (0..3)
                        .map(|i| {
                            let q = rot[i][0] * p[0] + rot[i][1] * p[1] + rot[i][2] * p[2];
                            (q / axes[i]).powi(2)
                        })
                        .sum();
                    if inside <= 1.0 {
                        let v = (z * h + y) * w + x;
                        value[v] = intensity;
                        truth[v] = e as u32 + 1;
                    }
                }
            }
        }
    }
    if spec.blur > 0.0 {
        blur(&mut value, spec.shape, sp.map(|s| spec.blur / s));
    }
    if spec.noise > 0.0 {
        for v in &mut value {
            *v += spec.noise * normal(&mut rng);
        }
    }
    let image = Image::new_volume(d as u32, w as u32, h as u32, 1, Samples::F32(value))
        .expect("the phantom's sizes match");
    Phantom {
        image,
        truth,
        shape: spec.shape,
        spacing: sp,
    }
}

/// A uniformly random rotation matrix (from a random unit quaternion).
fn random_rotation(rng: &mut ChaCha8Rng) -> [[f32; 3]; 3] {
    let q: [f32; 4] = loop {
        let q: [f32; 4] = std::array::from_fn(|_| normal(rng));
        let n = q.iter().map(|v| v * v).sum::<f32>().sqrt();
        if n > 1e-6 {
            break q.map(|v| v / n);
        }
    };
    let [a, b, c, d] = q;
    [
        [
            a * a + b * b - c * c - d * d,
            2.0 * (b * c - a * d),
            2.0 * (b * d + a * c),
        ],
        [
            2.0 * (b * c + a * d),
            a * a - b * b + c * c - d * d,
            2.0 * (c * d - a * b),
        ],
        [
            2.0 * (b * d - a * c),
            2.0 * (c * d + a * b),
            a * a - b * b - c * c + d * d,
        ],
    ]
}

/// A standard normal sample (Box-Muller; `rand` without `rand_distr` has no normal law).
fn normal(rng: &mut ChaCha8Rng) -> f32 {
    let u1: f32 = rng.random_range(f32::EPSILON..1.0);
    let u2: f32 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

/// Separable Gaussian blur of a `[d, h, w]` volume with standard deviations `sigma` voxels
/// along each axis (4-sigma taps, the border voxel repeated). tessera's own filter is
/// internal to the library; this one only has to make test data.
fn blur(v: &mut [f32], shape: [usize; 3], sigma: [f32; 3]) {
    let [d, h, w] = shape;
    let strides = [h * w, w, 1];
    for axis in 0..3 {
        let (n, stride) = (shape[axis], strides[axis]);
        let s = sigma[axis];
        let radius = ((4.0 * s + 0.5) as usize).min(n.saturating_sub(1));
        if radius == 0 {
            continue;
        }
        let mut taps: Vec<f32> = (0..=2 * radius)
            .map(|i| {
                let t = i as f32 - radius as f32;
                (-0.5 * t * t / (s * s)).exp()
            })
            .collect();
        let total: f32 = taps.iter().sum();
        taps.iter_mut().for_each(|t| *t /= total);
        let src = v.to_vec();
        for start in 0..d * h * w {
            // Visit each line along `axis` once, from its first voxel.
            if (start / stride) % n != 0 {
                continue;
            }
            for i in 0..n {
                let acc: f32 = taps
                    .iter()
                    .enumerate()
                    .map(|(j, &t)| {
                        let k = (i + j).saturating_sub(radius).min(n - 1);
                        t * src[start + k * stride]
                    })
                    .sum();
                v[start + i * stride] = acc;
            }
        }
    }
}

/// Undersegmentation error (Neubert and Protzel 2012) of `labels` against `truth` (both one
/// label per voxel; every label counts, the background too): for each ground-truth region,
/// the superpixels overlapping it each add the smaller of their parts inside and outside it;
/// the total is divided by the voxel count.
pub fn undersegmentation_error(labels: &[u32], truth: &[u32]) -> f64 {
    assert_eq!(labels.len(), truth.len(), "label maps differ in size");
    let mut overlap = std::collections::HashMap::<(u32, u32), u64>::new();
    let mut size = std::collections::HashMap::<u32, u64>::new();
    for (&s, &g) in labels.iter().zip(truth) {
        *overlap.entry((s, g)).or_default() += 1;
        *size.entry(s).or_default() += 1;
    }
    let sum: u64 = overlap
        .iter()
        .map(|(&(s, _), &inside)| inside.min(size[&s] - inside))
        .sum();
    sum as f64 / labels.len() as f64
}
