//! SLIC speed at BSDS size (481x321, 400 segments) and at 1920x1080 (2000 segments), on one
//! thread and on all threads. Run: `cargo bench --bench slic`.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tessera::{Image, Slic, Superpixels};
use tessera_suite::{asset, resized};

fn bench(c: &mut Criterion) {
    let photo = asset("chelsea.png");
    let cases = [
        ("481x321", resized(&photo, 481, 321), 400),
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
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("thread pool");
            group.bench_with_input(
                BenchmarkId::new(format!("{name}/k{k}"), format!("{threads}t")),
                &img,
                |b, img| b.iter(|| pool.install(|| slic.segment(black_box(img)).expect("slic"))),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
