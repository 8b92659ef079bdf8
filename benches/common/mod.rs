//! What every superpixel benchmark shares: an algorithm timed on one image on 1 and 2 threads.

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId};
use std::hint::black_box;
use tessera::{Image, Superpixels};

/// Times `algo` on `image` in rayon pools of 1 and 2 threads, as `<name>/<threads>t`.
pub fn on_1_and_2_threads(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    image: &Image,
    algo: &(dyn Superpixels + Sync),
) {
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        group.bench_with_input(
            BenchmarkId::new(name, format!("{threads}t")),
            image,
            |b, img| {
                b.iter(|| {
                    pool.install(|| algo.segment(black_box(img)).expect("segmentation succeeds"))
                })
            },
        );
    }
}
