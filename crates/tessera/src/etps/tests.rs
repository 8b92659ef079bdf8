use super::*;
use crate::image::Samples;
use crate::test_support::{noise_image, noisy_image, on_1_and_2_threads, rgb};
use proptest::prelude::*;

/// The energy of a pixel labelling, computed from scratch (the module docs' formula).
fn energy(etps: &Etps, img: &Image, labels: &[u32], count: usize) -> f64 {
    let planes = features(img).unwrap();
    let (w, h) = (img.width() as usize, img.height() as usize);
    let step = (w as f64 * h as f64 / count as f64).sqrt();
    let ps = f64::from(etps.compactness) / step;
    let dims = planes.len() + 2;
    let feature = |i: usize, d: usize| -> f64 {
        match d {
            d if d < planes.len() => f64::from(planes[d][i]),
            d if d == planes.len() => (i % w) as f64 * ps,
            _ => (i / w) as f64 * ps,
        }
    };
    let mut n = vec![0.0; count];
    let mut mean = vec![vec![0.0; dims]; count];
    for (i, &l) in labels.iter().enumerate() {
        n[l as usize] += 1.0;
        for (d, m) in mean[l as usize].iter_mut().enumerate() {
            *m += feature(i, d);
        }
    }
    for (m, &c) in mean.iter_mut().zip(&n) {
        m.iter_mut().for_each(|v| *v /= c);
    }
    let mut e = 0.0;
    for (i, &l) in labels.iter().enumerate() {
        for (d, m) in mean[l as usize].iter().enumerate() {
            e += (feature(i, d) - m).powi(2);
        }
    }
    let mut edges = 0usize;
    for y in 0..h {
        for x in 0..w {
            let l = labels[y * w + x];
            edges += usize::from(x + 1 < w && labels[y * w + x + 1] != l);
            edges += usize::from(y + 1 < h && labels[(y + 1) * w + x] != l);
        }
    }
    e + f64::from(etps.boundary_weight) * edges as f64
}

/// The initial grid labelling ETPS starts from.
fn grid_labels(w: usize, h: usize, k: u32) -> (Vec<u32>, usize) {
    let (ny, nx) = grid_shape(w, h, k as usize);
    let (rows, cols) = (Axis::even(h, ny), Axis::even(w, nx));
    let (rm, cm) = (rows.piece_of_pixel(), cols.piece_of_pixel());
    let labels = rm
        .iter()
        .flat_map(|&r| cm.iter().map(move |&c| r * nx as u32 + c))
        .collect();
    (labels, ny * nx)
}

#[test]
fn two_flat_regions_give_two_superpixels_that_follow_the_edge() {
    // Red left of column 13, blue from it on; the grid cut is at column 20.
    let img = rgb(
        40,
        20,
        |x, _| if x < 13 { [200, 30, 30] } else { [30, 30, 200] },
    );
    let seg = Etps {
        n_segments: 2,
        ..Etps::default()
    }
    .segment(&img)
    .unwrap();
    assert_eq!(seg.count(), 2);
    for y in 0..20 {
        for x in 0..40 {
            let expect = u32::from(x >= 13);
            assert_eq!(seg.label(x, y), Some(expect), "pixel ({x}, {y})");
        }
    }
}

#[test]
fn a_slanted_edge_is_followed_to_the_pixel() {
    // Two flat colours split by the line x = 10 + y / 2, on a grid of 2 x 3 cells (the step
    // is 19.6 px).
    let edge = |x: u32, y: u32| x >= 10 + y / 2;
    let img = rgb(48, 32, |x, y| {
        if edge(x, y) {
            [40, 160, 40]
        } else {
            [220, 220, 30]
        }
    });
    let seg = Etps {
        n_segments: 4,
        ..Etps::default()
    }
    .segment(&img)
    .unwrap();
    assert_eq!(seg.count(), 6);
    assert_eq!(seg.disconnected_count(), 0);
    // No superpixel straddles the edge.
    let mut side = [None; 6];
    for y in 0..32 {
        for x in 0..48 {
            let l = seg.label(x, y).unwrap() as usize;
            let s = edge(x, y);
            assert_eq!(
                *side[l].get_or_insert(s),
                s,
                "label {l} crosses at ({x}, {y})"
            );
        }
    }
}

#[test]
fn lowers_the_energy_of_the_grid() {
    let img = noisy_image(90, 60, 3, 7);
    let etps = Etps {
        n_segments: 24,
        ..Etps::default()
    };
    let seg = etps.segment(&img).unwrap();
    let (grid, count) = grid_labels(90, 60, 24);
    assert_eq!(seg.count() as usize, count);
    let (before, after) = (
        energy(&etps, &img, &grid, count),
        energy(&etps, &img, seg.labels(), count),
    );
    assert!(after < 0.8 * before, "energy {before} -> {after}");
}

#[test]
fn compactness_gives_more_regular_shapes() {
    let img = noise_image(80, 60, 3, 3);
    let boundary = |m: f32| {
        let seg = Etps {
            n_segments: 48,
            compactness: m,
            ..Etps::default()
        }
        .segment(&img)
        .unwrap();
        seg.boundary_mask(crate::BoundaryMode::Thin)
            .iter()
            .filter(|&&b| b)
            .count()
    };
    let (loose, tight) = (boundary(0.0), boundary(60.0));
    assert!(
        tight < loose,
        "boundary pixels {loose} at m = 0, {tight} at m = 60"
    );
}

#[test]
fn size_term_keeps_superpixels_above_their_minimum() {
    let img = noise_image(60, 40, 3, 11);
    let seg = Etps {
        n_segments: 24,
        compactness: 0.0,
        boundary_weight: 0.0,
        size_weight: 1e9,
        min_size_factor: 0.5,
        ..Etps::default()
    }
    .segment(&img)
    .unwrap();
    // The cells are 10 x 10 pixels: no superpixel below 50.
    assert_eq!(seg.count(), 24);
    assert!(seg.sizes().iter().all(|&s| s >= 50), "{:?}", seg.sizes());
}

#[test]
fn count_follows_the_request() {
    let img = noisy_image(481, 321, 3, 1);
    // No cell more than the step a side: 25 x 17 cells for 400 (the original ETPS's count on
    // BSDS500), 49 x 33 for 1600, 13 x 9 for 100, and 2 x 1 for one (the step, 393 px, is
    // less than the width).
    for (k, expect) in [(400, 425), (1600, 1617), (100, 117), (1, 2)] {
        let seg = Etps {
            n_segments: k,
            max_iterations: 2,
            ..Etps::default()
        }
        .segment(&img)
        .unwrap();
        assert_eq!(seg.count(), expect, "k = {k}");
    }
    // More than the pixels: one superpixel per pixel.
    let small = noisy_image(5, 3, 3, 1);
    let seg = Etps {
        n_segments: 1000,
        ..Etps::default()
    }
    .segment(&small)
    .unwrap();
    assert_eq!(seg.count(), 15);
}

#[test]
fn same_output_on_one_and_two_threads_on_an_asset() {
    let photo = image::open(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../assets/coffee.png"
    ))
    .unwrap();
    let img = Image::from_dynamic(&photo).unwrap();
    let (a, b) = on_1_and_2_threads(|| Etps::default().segment(&img).unwrap());
    assert_eq!(a, b);
}

#[test]
fn refuses_bad_parameters() {
    let bad = [
        Etps {
            n_segments: 0,
            ..Etps::default()
        },
        Etps {
            compactness: -1.0,
            ..Etps::default()
        },
        Etps {
            boundary_weight: f32::NAN,
            ..Etps::default()
        },
        Etps {
            size_weight: f32::INFINITY,
            ..Etps::default()
        },
        Etps {
            min_size_factor: 1.5,
            ..Etps::default()
        },
        Etps {
            max_iterations: 0,
            ..Etps::default()
        },
        Etps {
            max_block_size: 0,
            ..Etps::default()
        },
    ];
    let img = noisy_image(8, 8, 3, 0);
    for etps in bad {
        assert!(matches!(
            etps.segment(&img),
            Err(Error::InvalidParameter { .. })
        ));
    }
    assert!(Etps::default().validate().is_ok());
}

#[test]
fn float_and_two_channel_images_work() {
    let f = Image::new(
        12,
        9,
        1,
        Samples::F32((0..108).map(|i| (i % 12) as f32 / 12.0).collect()),
    )
    .unwrap();
    let seg = Etps {
        n_segments: 6,
        ..Etps::default()
    }
    .segment(&f)
    .unwrap();
    assert_eq!(seg.count(), 9); // 3 x 3 cells of at most the 4.2 px step
    assert_eq!(seg.disconnected_count(), 0);
    let two = noisy_image(20, 10, 2, 5);
    let seg = Etps {
        n_segments: 8,
        ..Etps::default()
    }
    .segment(&two)
    .unwrap();
    assert_eq!(seg.disconnected_count(), 0);
}

fn random_image(w: u32, h: u32, channels: u8, seed: u64) -> Image {
    if seed.is_multiple_of(2) {
        noisy_image(w, h, channels, seed)
    } else {
        noise_image(w, h, channels, seed)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn guarantees_hold(
        w in 1u32..40, h in 1u32..40, channels in 1u8..=4, k in 1u32..90,
        compactness in 0.0f32..40.0, boundary_weight in 0.0f32..50.0,
        size_weight in prop::sample::select(vec![0.0f32, 1.0, 1e6]),
        min_size_factor in 0.0f32..=1.0, max_iterations in 1u32..6,
        max_block_size in 1u32..20, seed in any::<u64>()
    ) {
        let img = random_image(w, h, channels, seed);
        let etps = Etps {
            n_segments: k, compactness, boundary_weight, size_weight, min_size_factor,
            max_iterations, max_block_size,
        };
        let seg = etps.segment(&img).unwrap();
        let (ny, nx) = grid_shape(w as usize, h as usize, k as usize);
        prop_assert_eq!(seg.count() as usize, ny * nx);
        prop_assert!(seg.count() <= w * h);
        prop_assert!(seg.labels().iter().all(|&l| l < seg.count()));
        prop_assert!(seg.sizes().iter().all(|&n| n > 0));
        prop_assert_eq!(seg.disconnected_count(), 0);
    }

    #[test]
    fn same_output_on_any_thread_count(
        w in 20u32..120, h in 20u32..120, k in 2u32..200, seed in any::<u64>()
    ) {
        let img = random_image(w, h, 3, seed);
        let etps = Etps { n_segments: k, ..Etps::default() };
        let run = |threads| rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
            .install(|| etps.segment(&img).unwrap());
        prop_assert_eq!(run(1), run(3));
    }
}
