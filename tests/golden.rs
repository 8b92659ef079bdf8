//! Golden-image regression tests: each algorithm on each bundled asset, compared with the
//! committed label maps and overlays in `tests/golden/` as partitions (a renumbering is no
//! change).
//!
//! After an intended change of output, bless new goldens with
//! `TESSERA_BLESS=1 cargo test --test golden`, look at the new overlays, and commit them.

use tessera::render::{BoundaryStyle, mark_boundaries};
use tessera::{Etps, Felzenszwalb, Image, KMeans, MeanShift, Quickshift, Slic, Superpixels};
use tessera_suite::{asset, check_golden};

/// The bundled assets.
const ASSETS: &[&str] = &[
    "astronaut.png",
    "camera.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
];

/// Largest fraction of pixels allowed to change. The algorithms are deterministic, so on one
/// machine the change is 0; the slack absorbs last-bit float differences between CPUs.
const TOLERANCE: f64 = 0.002;

/// The algorithm configurations under test, by golden name.
fn algorithms() -> Vec<(&'static str, Box<dyn Superpixels>)> {
    vec![
        (
            "slic",
            Box::new(Slic {
                n_segments: 400,
                ..Slic::default()
            }),
        ),
        (
            "slic-zero",
            Box::new(Slic {
                n_segments: 200,
                slic_zero: true,
                ..Slic::default()
            }),
        ),
        (
            "kmeans",
            Box::new(KMeans {
                n_segments: 400,
                ..KMeans::default()
            }),
        ),
        ("meanshift", Box::new(MeanShift::default())),
        (
            "felzenszwalb",
            Box::new(Felzenszwalb {
                scale: 100.0,
                ..Felzenszwalb::default()
            }),
        ),
        (
            "quickshift",
            Box::new(Quickshift {
                kernel_size: 4.5,
                max_dist: 9.0,
                ..Quickshift::default()
            }),
        ),
        (
            "etps",
            Box::new(Etps {
                n_segments: 400,
                ..Etps::default()
            }),
        ),
    ]
}

#[test]
fn goldens_match() {
    let mut failures = Vec::new();
    for file in ASSETS {
        let photo = asset(file);
        let img = Image::from_dynamic(&photo).expect("asset converts");
        let stem = file.split('.').next().unwrap_or(file);
        for (algo, segmenter) in algorithms() {
            let seg = segmenter
                .segment(&img)
                .expect("segmentation succeeds on an asset");
            // The guarantees hold on real images too.
            assert!(
                seg.sizes().iter().all(|&n| n > 0),
                "{algo} on {file}: empty label"
            );
            let overlay = mark_boundaries(&img.to_rgb8(), &seg, &BoundaryStyle::default())
                .expect("sizes match");
            if let Err(e) = check_golden(&format!("{stem}.{algo}"), &seg, &overlay, TOLERANCE) {
                failures.push(e);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatches:\n{}",
        failures.join("\n")
    );
}

#[test]
fn comparison_sees_changes_but_not_renumbering() {
    use tessera_suite::changed_fraction;
    assert_eq!(changed_fraction(&[1, 1, 2, 2], &[5, 5, 7, 7]), 0.0);
    assert_eq!(changed_fraction(&[1, 1, 2, 2], &[1, 1, 1, 2]), 0.25);
}

/// 3-D SLIC on a generated phantom (24 x 48 x 48 voxels, spacing 1.5 x 1 x 1): the volume's
/// slices, stacked top to bottom, are compared as one tall label map (a partition of the
/// voxels either way), and the overlay shows every slice with its supervoxel boundaries.
#[test]
fn volume_golden_matches() {
    use tessera::Segmentation;
    use tessera_suite::phantom::{PhantomSpec, phantom};
    let p = phantom(&PhantomSpec::small(3));
    let slic = Slic {
        n_segments: 60,
        spacing: [1.5, 1.0, 1.0],
        ..Slic::default()
    };
    let seg = slic.segment(&p.image).expect("SLIC segments the phantom");
    assert_eq!(seg.disconnected_count(), 0, "supervoxels are 6-connected");
    let [d, h, w] = p.shape.map(|v| v as u32);
    let stacked = Segmentation::from_labels(w, d * h, seg.labels().to_vec()).expect("sizes");
    let slices = Image::new(w, d * h, 1, p.image.samples().clone()).expect("sizes");
    let overlay =
        mark_boundaries(&slices.to_rgb8(), &stacked, &BoundaryStyle::default()).expect("sizes");
    if let Err(e) = check_golden("phantom.slic3d", &stacked, &overlay, TOLERANCE) {
        panic!("{e}");
    }
}
