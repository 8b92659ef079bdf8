//! SLIC supervoxels: the CT-like phantom (100 x 160 x 160 voxels at spacing 2.5 x 0.7 x 0.7,
//! about 2.5 million voxels) at 1000 and 4000 supervoxels, scikit-image's benchmark volume
//! (random 200 x 200 x 100, its default 100 supervoxels, no connectivity enforcement), and an 8-channel 481 x 321 image at 400
//! superpixels, on one thread and on two. Run: `cargo bench --bench slic3d`.

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use tessera::{Image, Samples, Slic};
use tessera_suite::phantom::{PhantomSpec, phantom};

/// Uniform noise in 0..1 (xorshift from `seed`).
fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect()
}

/// scikit-image's SLIC benchmark volume (its asv `SlicSegmentation`): uniform noise of shape
/// (200, 200, 100), plus 1 in `[:100, :100, :]` and 0.5 in `[150:, 150:, :]`.
fn skimage_volume() -> Vec<f32> {
    let mut v = noise(200 * 200 * 100, 7);
    for (i, x) in v.iter_mut().enumerate() {
        let (z, y) = (i / (200 * 100), i / 100 % 200);
        if z < 100 && y < 100 {
            *x += 1.0;
        }
        if z >= 150 && y >= 150 {
            *x += 0.5;
        }
    }
    v
}

fn bench(c: &mut Criterion) {
    let ct = phantom(&PhantomSpec::ct_like(1));
    let random =
        Image::new_volume(200, 100, 200, 1, Samples::F32(skimage_volume())).expect("sizes match");
    let eight = Image::new(481, 321, 8, Samples::F32(noise(481 * 321 * 8, 11))).expect("sizes");
    let mut group = c.benchmark_group("slic3d");
    group.sample_size(10);
    for k in [1000, 4000] {
        let slic = Slic {
            n_segments: k,
            compactness: 0.1,
            spacing: ct.spacing,
            convert_to_lab: Some(false),
            ..Slic::default()
        };
        common::on_1_and_2_threads(
            &mut group,
            &format!("phantom-100x160x160/k{k}"),
            &ct.image,
            &slic,
        );
    }
    // As scikit-image times it: `slic(image, enforce_connectivity=False)`, grey volume.
    let slic = Slic {
        n_segments: 100,
        compactness: 10.0,
        convert_to_lab: Some(false),
        enforce_connectivity: false,
        ..Slic::default()
    };
    common::on_1_and_2_threads(&mut group, "random-200x200x100/k100", &random, &slic);
    let slic = Slic {
        n_segments: 400,
        compactness: 0.1,
        ..Slic::default()
    };
    common::on_1_and_2_threads(&mut group, "8-channel-481x321/k400", &eight, &slic);
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
