//! Quickshift speed at BSDS size (481x321, kernel_size 4.48 and max_dist 8.95: about 400
//! segments) and at 1920x1080 (kernel_size 5.48, max_dist 10.97: about 2000 segments), on one
//! thread and on all threads. Run: `cargo bench --bench quickshift`.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tessera::{Image, Quickshift, Superpixels};
use tessera_suite::{asset, resized};

fn bench(c: &mut Criterion) {
    let photo = asset("chelsea.png");
    let cases = [
        ("481x321/ks4.48", resized(&photo, 481, 321), 4.48f32),
        ("1920x1080/ks5.48", resized(&photo, 1920, 1080), 5.48),
    ];
    let mut group = c.benchmark_group("quickshift");
    group.sample_size(10);
    for (name, img, kernel_size) in cases {
        let img = Image::from_dynamic(&img).expect("asset converts");
        let qs = Quickshift {
            kernel_size,
            max_dist: 2.0 * kernel_size,
            ..Quickshift::default()
        };
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("thread pool");
            group.bench_with_input(
                BenchmarkId::new(name, format!("{threads}t")),
                &img,
                |b, img| {
                    b.iter(|| pool.install(|| qs.segment(black_box(img)).expect("quickshift")))
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
