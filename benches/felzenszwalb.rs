//! Felzenszwalb–Huttenlocher speed at BSDS size (481x321, scale 160: about 400 segments) and
//! at 1920x1080 (scale 205: about 2000 segments), on one thread and on all threads, plus the
//! search for a target count (400 segments at 481x321); and on a 3-D phantom of 100 x 160 x
//! 160 voxels (random ellipsoids, blurred, noisy) in the 26- and 6-neighbour graphs, one
//! thread, at the scale that gives about 2000 supervoxels (min_size 100), printing the
//! supervoxel count, undersegmentation error, ASA and boundary recall against the phantom's
//! labels first. Run: `cargo bench --bench felzenszwalb`.

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tessera::metrics::{EvalOptions, GroundTruth, evaluate};
use tessera::{Felzenszwalb, Image, Neighbourhood, Samples, Superpixels};
use tessera_suite::{asset, resized};

fn bench(c: &mut Criterion) {
    let photo = asset("chelsea.png");
    let small = Image::from_dynamic(&resized(&photo, 481, 321)).expect("asset converts");
    let large = Image::from_dynamic(&resized(&photo, 1920, 1080)).expect("asset converts");
    let with_scale = |scale| Felzenszwalb {
        scale,
        ..Felzenszwalb::default()
    };
    let cases = [
        ("481x321/scale160", &small, with_scale(160.0)),
        ("481x321/target400", &small, Felzenszwalb::with_target(400)),
        ("1920x1080/scale205", &large, with_scale(205.0)),
    ];
    let mut group = c.benchmark_group("felzenszwalb");
    group.sample_size(20);
    for (name, img, fh) in cases {
        common::on_1_and_2_threads(&mut group, name, img, &fh);
    }
    group.finish();
}

/// A phantom volume of `depth` slices of `width x height` voxels of size `spacing` (slices,
/// rows, columns): 40 ellipsoids of random centre, radii (4 to 20 units) and grey level
/// (0.1 to 0.9) on a background of 0.5, later ones over earlier ones, blurred by a [1 2 1] / 4
/// filter along each axis, plus uniform noise of +-0.05; and its ground truth (which
/// ellipsoid, 0 for the background). Deterministic (xorshift from a fixed seed).
fn phantom(depth: usize, height: usize, width: usize, spacing: [f64; 3]) -> (Image, Vec<u32>) {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let extent = [
        depth as f64 * spacing[0],
        height as f64 * spacing[1],
        width as f64 * spacing[2],
    ];
    let blobs: Vec<([f64; 3], [f64; 3], f32)> = (0..40)
        .map(|_| {
            let c = extent.map(|e| uniform() * e);
            let r = [0; 3].map(|_| 4.0 + 16.0 * uniform());
            (c, r, (0.1 + 0.8 * uniform()) as f32)
        })
        .collect();
    let n = depth * height * width;
    let (mut v, mut gt) = (vec![0.5f32; n], vec![0u32; n]);
    for z in 0..depth {
        for y in 0..height {
            for x in 0..width {
                let p = [
                    z as f64 * spacing[0],
                    y as f64 * spacing[1],
                    x as f64 * spacing[2],
                ];
                let i = (z * height + y) * width + x;
                for (k, (c, r, level)) in blobs.iter().enumerate() {
                    if (0..3).map(|a| ((p[a] - c[a]) / r[a]).powi(2)).sum::<f64>() <= 1.0 {
                        (v[i], gt[i]) = (*level, k as u32 + 1);
                    }
                }
            }
        }
    }
    for (stride, len) in [(1, width), (width, height), (width * height, depth)] {
        let src = v.clone();
        for (i, out) in v.iter_mut().enumerate() {
            let k = i / stride % len;
            let prev = if k > 0 { src[i - stride] } else { src[i] };
            let next = if k + 1 < len { src[i + stride] } else { src[i] };
            *out = 0.25 * prev + 0.5 * src[i] + 0.25 * next;
        }
    }
    v.iter_mut()
        .for_each(|s| *s += (0.1 * uniform() - 0.05) as f32);
    let img = Image::new_volume(
        depth as u32,
        width as u32,
        height as u32,
        1,
        Samples::F32(v),
    )
    .expect("sizes match");
    (img, gt)
}

fn bench_volume(c: &mut Criterion) {
    let (vol, gt) = phantom(100, 160, 160, [2.5, 0.7, 0.7]);
    let opts = EvalOptions::default();
    let truth = GroundTruth::new_volume(100, 160, 160, &gt, &opts).expect("sizes match");
    let mut group = c.benchmark_group("felzenszwalb3d");
    group.sample_size(10);
    for (name, neighbourhood) in [("26", Neighbourhood::All), ("6", Neighbourhood::Faces)] {
        // The scale for about 2000 supervoxels, searched once; the timed runs use it.
        let search = Felzenszwalb {
            min_size: 100,
            spacing: [2.5, 0.7, 0.7],
            neighbourhood,
            ..Felzenszwalb::with_target(2000)
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("thread pool");
        let (seg, scale) = pool.install(|| {
            search
                .segment_with_scale(&vol)
                .expect("segmentation succeeds")
        });
        let fh = Felzenszwalb {
            scale,
            target_segments: None,
            ..search
        };
        let s = evaluate(&seg, None, std::slice::from_ref(&truth), &opts).expect("sizes match");
        eprintln!(
            "phantom 160x160x100, {name} neighbours, scale {scale}: {} supervoxels, UE {:.4}, \
             ASA {:.4}, BR {:.4}",
            seg.count(),
            s.undersegmentation_error,
            s.asa,
            s.boundary_recall
        );
        group.bench_function(format!("phantom160x160x100/{name}/1t"), |b| {
            b.iter(|| pool.install(|| fh.segment(black_box(&vol)).expect("segmentation succeeds")))
        });
    }
    group.finish();
}

criterion_group!(benches, bench, bench_volume);
criterion_main!(benches);
