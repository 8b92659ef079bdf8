//! k-means superpixel speed at BSDS size (481x321, 400 segments) and at 1920x1080 (2000
//! segments), grid seeding, on one thread and on all threads. Run: `cargo bench --bench kmeans`.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tessera::{Image, KMeans, Superpixels};
use tessera_suite::{asset, resized};

fn bench(c: &mut Criterion) {
    let photo = asset("chelsea.png");
    let cases = [
        ("481x321", resized(&photo, 481, 321), 400, 20),
        ("1920x1080", resized(&photo, 1920, 1080), 2000, 10),
    ];
    let mut group = c.benchmark_group("kmeans");
    for (name, img, k, samples) in cases {
        group.sample_size(samples);
        let img = Image::from_dynamic(&img).expect("asset converts");
        let kmeans = KMeans {
            n_segments: k,
            ..KMeans::default()
        };
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("thread pool");
            group.bench_with_input(
                BenchmarkId::new(format!("{name}/k{k}"), format!("{threads}t")),
                &img,
                |b, img| {
                    b.iter(|| pool.install(|| kmeans.segment(black_box(img)).expect("kmeans")))
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
