//! SLIC started from seeds the caller chooses instead of the regular grid.

use super::*;

/// Where a seeded SLIC run ([`Slic::segment_from_seeds`]) starts its centres.
///
/// ```
/// use tessera::{Image, Samples, Slic, SlicSeeds};
/// // Two flat halves; one seed in each.
/// let px: Vec<u8> = (0..40 * 20).map(|i| if i % 40 < 20 { 30 } else { 220 }).collect();
/// let img = Image::new(40, 20, 1, Samples::U8(px))?;
/// let seeds = SlicSeeds::new(vec![[0.0, 10.0, 30.0], [0.0, 10.0, 10.0]]);
/// let slic = Slic { enforce_connectivity: false, ..Slic::default() };
/// let seg = slic.segment_from_seeds(&img, None, &seeds)?;
/// // Without connectivity enforcement, segments are numbered in the order of the seeds.
/// assert_eq!((seg.label_at(35, 5, 0), seg.label_at(5, 5, 0)), (Some(0), Some(1)));
/// # Ok::<(), tessera::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SlicSeeds {
    /// The centres' first positions, `[slice, row, column]` in pixels (slice 0 for an image);
    /// fractional positions are allowed. A centre's first features are those of the pixel
    /// nearest to its position.
    pub positions: Vec<[f32; 3]>,
    /// Whether the centres first settle by position alone: `max_iterations` passes of SLIC
    /// with the feature distance left out, as maskSLIC's step 2 (Irving 2016) and
    /// scikit-image's masked `slic` do with their random seeds. `false` by default.
    pub settle: bool,
}

impl SlicSeeds {
    /// Seeds at `positions`, not settled first.
    pub fn new(positions: Vec<[f32; 3]>) -> Self {
        SlicSeeds {
            positions,
            settle: false,
        }
    }

    /// `rounds` rounds of Lloyd's k-means on `points` from `centroids` (both `[slice, row,
    /// column]`), exactly as scipy's `kmeans2` runs from a given code book: each point to
    /// its nearest centroid (squared distances summed axis by axis, the first of equal
    /// distances), then each centroid to the mean of its points, summed in point order; a
    /// centroid that gets no point stays where it was. Returns whether that happened. This
    /// is how scikit-image spreads its masked SLIC seeds over the mask.
    ///
    /// ```
    /// use tessera::SlicSeeds;
    /// let points = [[0.0, 0.0, 0.0], [0.0, 0.0, 2.0], [0.0, 0.0, 10.0], [0.0, 0.0, 12.0]];
    /// let mut centroids = [[0.0, 0.0, 1.0], [0.0, 0.0, 3.0]];
    /// let empty = SlicSeeds::lloyd_rounds(&points, &mut centroids, 5);
    /// assert_eq!((centroids, empty), ([[0.0, 0.0, 1.0], [0.0, 0.0, 11.0]], false));
    /// ```
    pub fn lloyd_rounds(points: &[[f64; 3]], centroids: &mut [[f64; 3]], rounds: usize) -> bool {
        let k = centroids.len();
        if k == 0 {
            return false;
        }
        let mut nearest = vec![0u32; points.len()];
        let mut empty = false;
        for _ in 0..rounds {
            let c: &[[f64; 3]] = centroids;
            nearest
                .par_chunks_mut(4096)
                .zip(points.par_chunks(4096))
                .for_each(|(out, pts)| {
                    for (o, p) in out.iter_mut().zip(pts) {
                        let (mut best, mut best_d) = (0u32, f64::INFINITY);
                        for (j, q) in c.iter().enumerate() {
                            let d0 = p[0] - q[0];
                            let d1 = p[1] - q[1];
                            let d2 = p[2] - q[2];
                            let d = d0 * d0 + d1 * d1 + d2 * d2;
                            if d < best_d {
                                (best, best_d) = (j as u32, d);
                            }
                        }
                        *o = best;
                    }
                });
            let mut sums = vec![[0.0f64; 3]; k];
            let mut counts = vec![0usize; k];
            for (p, &j) in points.iter().zip(&nearest) {
                let s = &mut sums[j as usize];
                (0..3).for_each(|a| s[a] += p[a]);
                counts[j as usize] += 1;
            }
            for ((c, s), &n) in centroids.iter_mut().zip(&sums).zip(&counts) {
                if n == 0 {
                    empty = true;
                } else {
                    *c = s.map(|v| v / n as f64);
                }
            }
        }
        empty
    }

    /// Checks the seeds against the shape: at least one, each inside the image.
    fn check(&self, shape: Shape) -> Result<()> {
        if self.positions.is_empty() {
            return Err(Error::param("seeds", "needs at least one seed"));
        }
        let extent = [shape.d, shape.h, shape.w];
        for (i, p) in self.positions.iter().enumerate() {
            let inside =
                (0..3).all(|a| p[a].is_finite() && p[a] > -0.5 && p[a] < extent[a] as f32 - 0.5);
            if !inside {
                return Err(Error::param(
                    "seeds",
                    format!(
                        "seed {i} at (slice {}, row {}, column {}) lies outside the {}x{}x{} (slices x rows x columns) image",
                        p[0], p[1], p[2], shape.d, shape.h, shape.w
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The centres: each seed's position with the features of its nearest pixel.
    pub(super) fn centres(&self, shape: Shape, planes: &[&[f32]]) -> Result<Centres> {
        self.check(shape)?;
        let mut centres = Centres::with_capacity(self.positions.len(), planes.len());
        for p in &self.positions {
            let [z, y, x] = p.map(|v| v.round().max(0.0) as usize);
            let at = (z * shape.h + y) * shape.w + x;
            centres.push(*p, planes.iter().map(|pl| pl[at]));
        }
        Ok(centres)
    }
}

/// Numbers a seeded run's clusters in the order of their seeds, leaving out those that kept
/// no pixel; returns the number of segments.
pub(super) fn relabel_by_seed(labels: &mut [u32], seeds: usize) -> u32 {
    let mut used = vec![false; seeds];
    for &l in labels.iter().filter(|&&l| l != UNLABELLED) {
        used[l as usize] = true;
    }
    let mut next = 0u32;
    let map: Vec<u32> = used
        .iter()
        .map(|&u| {
            let m = next;
            next += u32::from(u);
            m
        })
        .collect();
    for l in labels.iter_mut().filter(|l| **l != UNLABELLED) {
        *l = map[*l as usize];
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{noise_image, on_1_and_2_threads};
    use proptest::prelude::*;

    /// Four flat quadrants of distinct colours.
    fn quadrants(w: u32, h: u32) -> Image {
        crate::test_support::rgb(w, h, |x, y| match (x < w / 2, y < h / 2) {
            (true, true) => [250, 10, 10],
            (false, true) => [10, 10, 10],
            (true, false) => [10, 250, 10],
            (false, false) => [10, 10, 250],
        })
    }

    #[test]
    fn segments_follow_the_seed_order_without_connectivity() {
        let img = quadrants(20, 20);
        // Bottom right, top left, bottom left, top right.
        let seeds = SlicSeeds::new(vec![
            [0.0, 15.0, 15.0],
            [0.0, 4.0, 4.0],
            [0.0, 15.0, 4.0],
            [0.0, 4.0, 15.0],
        ]);
        let slic = Slic {
            enforce_connectivity: false,
            ..Slic::default()
        };
        let seg = slic.segment_from_seeds(&img, None, &seeds).unwrap();
        let at = |x, y| seg.label_at(x, y, 0).unwrap();
        assert_eq!((at(17, 17), at(2, 2), at(2, 17), at(17, 2)), (0, 1, 2, 3));
        assert_eq!(seg.count(), 4);
        // With connectivity enforced, the usual raster-order numbering.
        let seg = Slic::default()
            .segment_from_seeds(&img, None, &seeds)
            .unwrap();
        let at = |x, y| seg.label_at(x, y, 0).unwrap();
        assert_eq!((at(2, 2), at(17, 2), at(2, 17), at(17, 17)), (0, 1, 2, 3));
    }

    #[test]
    fn settling_moves_bunched_seeds_apart() {
        let img = quadrants(40, 40);
        // All four seeds in the top-left corner: by colour alone they would stay there.
        let mut seeds = SlicSeeds::new(vec![
            [0.0, 1.0, 1.0],
            [0.0, 1.0, 3.0],
            [0.0, 3.0, 1.0],
            [0.0, 3.0, 3.0],
        ]);
        seeds.settle = true;
        let slic = Slic {
            enforce_connectivity: false,
            ..Slic::default()
        };
        let seg = slic.segment_from_seeds(&img, None, &seeds).unwrap();
        assert_eq!(seg.count(), 4);
        assert_eq!(seg.unlabelled_count(), 0);
    }

    #[test]
    fn a_masked_seeded_run_labels_only_the_mask() {
        let img = quadrants(20, 20);
        let inside: Vec<bool> = (0..400).map(|i| (i % 20) >= 2 && (i / 20) >= 2).collect();
        let mask = Mask::new(20, 20, inside.clone()).unwrap();
        let seeds = SlicSeeds::new(vec![[0.0, 6.0, 6.0], [0.0, 15.0, 15.0]]);
        let seg = Slic::default()
            .segment_from_seeds(&img, Some(&mask), &seeds)
            .unwrap();
        for (i, &l) in seg.labels().iter().enumerate() {
            assert_eq!(l == UNLABELLED, !inside[i], "pixel {i}");
        }
    }

    #[test]
    fn lloyd_rounds_without_centroids_do_nothing() {
        let mut none: [[f64; 3]; 0] = [];
        assert!(!SlicSeeds::lloyd_rounds(&[[0.0, 1.0, 2.0]], &mut none, 5));
    }

    #[test]
    fn bad_seeds_are_errors_naming_them() {
        let img = quadrants(10, 8);
        let slic = Slic::default();
        let none = slic.segment_from_seeds(&img, None, &SlicSeeds::new(Vec::new()));
        assert!(matches!(none, Err(Error::InvalidParameter { .. })));
        for p in [
            [0.0, 8.0, 1.0],
            [0.0, 1.0, -0.6],
            [1.0, 1.0, 1.0],
            [0.0, f32::NAN, 1.0],
        ] {
            let err = slic
                .segment_from_seeds(&img, None, &SlicSeeds::new(vec![p]))
                .unwrap_err()
                .to_string();
            assert!(err.contains("seed 0"), "{err}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn seeded_guarantees_hold_on_any_thread_count(
            w in 2u32..40, h in 2u32..40, seed in any::<u64>(),
            points in prop::collection::vec((0.0f32..1.0, 0.0f32..1.0), 1..30),
            connect in any::<bool>(), settle in any::<bool>(), zero in any::<bool>()
        ) {
            let img = noise_image(w, h, 3, seed);
            let positions = points
                .iter()
                .map(|&(fy, fx)| [0.0, fy * (h - 1) as f32, fx * (w - 1) as f32])
                .collect();
            let seeds = SlicSeeds { positions, settle };
            let slic = Slic { enforce_connectivity: connect, slic_zero: zero, ..Slic::default() };
            let (a, b) = on_1_and_2_threads(|| slic.segment_from_seeds(&img, None, &seeds).unwrap());
            prop_assert_eq!(a.labels(), b.labels());
            prop_assert_eq!(a.unlabelled_count(), 0);
            prop_assert!(a.sizes().iter().all(|&n| n > 0));
            prop_assert!(a.count() as usize <= points.len().max(1) || connect);
            if connect {
                prop_assert_eq!(a.disconnected_count(), 0);
            }
        }
    }
}
