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

/// A small generated volume for the 3-D goldens: 48 x 40 voxels, 12 slices, one channel;
/// five ellipsoids of different grey levels on a darker background, plus uniform noise of
/// +-6 grey levels (xorshift, fixed seed).
fn phantom_volume() -> Image {
    let (w, h, d) = (48usize, 40usize, 12usize);
    // Centre (x, y, z), radii (x, y, z), grey level.
    let blobs = [
        ([12.0, 10.0, 4.0], [9.0, 7.0, 4.0], 180u8),
        ([33.0, 12.0, 6.0], [11.0, 8.0, 5.0], 120),
        ([20.0, 28.0, 7.0], [13.0, 8.0, 4.0], 220),
        ([38.0, 31.0, 3.0], [7.0, 6.0, 3.0], 90),
        ([26.0, 20.0, 9.0], [5.0, 5.0, 3.0], 150),
    ];
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut samples = Vec::with_capacity(w * h * d);
    for z in 0..d {
        for y in 0..h {
            for x in 0..w {
                let mut v = 40i32;
                for (c, r, level) in &blobs {
                    let t = [x as f64 - c[0], y as f64 - c[1], z as f64 - c[2]];
                    if (0..3).map(|i| (t[i] / r[i]).powi(2)).sum::<f64>() <= 1.0 {
                        v = i32::from(*level);
                    }
                }
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                v += (state % 13) as i32 - 6;
                samples.push(v.clamp(0, 255) as u8);
            }
        }
    }
    Image::new_volume(
        d as u32,
        w as u32,
        h as u32,
        1,
        tessera::Samples::U8(samples),
    )
    .expect("sizes match")
}

/// Felzenszwalb on the generated volume, in both neighbourhoods. The label maps and overlays
/// are stored with the slices stacked top to bottom (so a boundary also runs between slices).
#[test]
fn volume_goldens_match() {
    let vol = phantom_volume();
    let mut failures = Vec::new();
    for (name, neighbourhood) in [
        ("phantom.felzenszwalb3d", tessera::Neighbourhood::All),
        (
            "phantom.felzenszwalb3d-faces",
            tessera::Neighbourhood::Faces,
        ),
    ] {
        let seg = Felzenszwalb {
            scale: 300.0,
            neighbourhood,
            ..Felzenszwalb::default()
        }
        .segment(&vol)
        .expect("segmentation succeeds on the phantom");
        assert_eq!((seg.depth(), seg.disconnected_count()), (vol.depth(), 0));
        let (w, h) = (vol.width(), vol.height() * vol.depth());
        let stacked = tessera::Segmentation::from_labels(w, h, seg.into_labels())
            .expect("a volume's labels are a valid stacked map");
        let slices = Image::new(w, h, 1, vol.samples().clone()).expect("sizes match");
        let overlay = mark_boundaries(&slices.to_rgb8(), &stacked, &BoundaryStyle::default())
            .expect("sizes match");
        if let Err(e) = check_golden(name, &stacked, &overlay, TOLERANCE) {
            failures.push(e);
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
