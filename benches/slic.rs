//! SLIC speed at BSDS size (481x321, 400 and 1600 segments) and at 1920x1080 (2000 segments),
//! on one thread and on all threads; and the assignment's distance kernel alone, in
//! distances per second. Run: `cargo bench --bench slic`.

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tessera::{Image, Slic};
use tessera_suite::{asset, resized};

fn bench(c: &mut Criterion) {
    let photo = asset("chelsea.png");
    let cases = [
        ("481x321", resized(&photo, 481, 321), 400),
        ("481x321", resized(&photo, 481, 321), 1600),
        ("1920x1080", resized(&photo, 1920, 1080), 2000),
    ];
    let mut group = c.benchmark_group("slic");
    group.sample_size(20);
    for (name, img, k) in cases {
        let img = Image::from_dynamic(&img).expect("asset converts");
        let slic = Slic {
            n_segments: k,
            ..Slic::default()
        };
        common::on_1_and_2_threads(&mut group, &format!("{name}/k{k}"), &img, &slic);
    }
    group.finish();
}

/// The distance kernel alone: one centre's window over 16 rows of a 481-pixel-wide image,
/// 41 columns wide (the window at BSDS size and 400 segments) and 2000 columns wide (the
/// arithmetic with no per-row cost), three channels, Euclidean distances, data in cache.
/// Criterion's throughput is distances per second.
fn distance_kernel(c: &mut Criterion) {
    let mut group = c.benchmark_group("slic_distance");
    for (stride, width) in [(481usize, 41usize), (2000, 2000)] {
        let rows = 16;
        let n = stride * rows;
        let plane = |s: f32| -> Vec<f32> { (0..n).map(|i| (i as f32 * s).sin() * 40.0).collect() };
        let planes = [plane(0.37), plane(0.11), plane(0.05)];
        let refs = [&planes[0][..], &planes[1][..], &planes[2][..]];
        let mut labels = vec![0u32; n];
        let mut dist = vec![f32::MAX; n];
        group.throughput(Throughput::Elements((rows * width) as u64));
        for (lanes, name) in [(1usize, "portable"), (8, "avx2"), (16, "avx512")] {
            if Slic::distance_kernel_probe(lanes, refs, stride, width, &mut labels, &mut dist)
                .is_none()
            {
                continue;
            }
            group.bench_function(format!("{name}/{width}x{rows}"), |b| {
                // After the first pass no distance improves: every pass computes and compares
                // all of them (the arithmetic), and AVX-512's masked stores then write nothing.
                b.iter(|| {
                    Slic::distance_kernel_probe(
                        lanes,
                        refs,
                        stride,
                        width,
                        black_box(&mut labels),
                        black_box(&mut dist),
                    )
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench, distance_kernel);
criterion_main!(benches);
