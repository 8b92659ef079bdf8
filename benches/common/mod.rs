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

/// An 8-channel 8-bit image made from an RGB photo, for the many-channel cases: R, G, B,
/// grey, the inverses of R and G, and the means of R and B and of G and B.
#[allow(dead_code)] // not every benchmark has a many-channel case
pub fn eight_channels(photo: &image::DynamicImage) -> Image {
    let rgb = photo.to_rgb8();
    let samples = rgb
        .pixels()
        .flat_map(|p| {
            let [r, g, b] = p.0.map(u16::from);
            [
                r,
                g,
                b,
                (r * 3 + g * 6 + b) / 10,
                255 - r,
                255 - g,
                (r + b) / 2,
                (g + b) / 2,
            ]
            .map(|v| v as u8)
        })
        .collect();
    Image::new(rgb.width(), rgb.height(), 8, tessera::Samples::U8(samples)).expect("sizes match")
}
