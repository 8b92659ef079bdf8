//! k-means superpixel speed at BSDS size (481x321, 400 segments) and at 1920x1080 (2000
//! segments), grid seeding, on one thread and on all threads; and on an 8-channel 481x321
//! image (its channels rescaled to 0..1, compactness 0.1). Run: `cargo bench --bench kmeans`.

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use tessera::{Image, KMeans};
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
        common::on_1_and_2_threads(&mut group, &format!("{name}/k{k}"), &img, &kmeans);
    }
    group.sample_size(20);
    let eight = common::eight_channels(&resized(&photo, 481, 321));
    let kmeans = KMeans {
        n_segments: 400,
        compactness: 0.1,
        ..KMeans::default()
    };
    common::on_1_and_2_threads(&mut group, "481x321x8/k400", &eight, &kmeans);
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
