//! Mean-shift segmentation speed with EDISON's defaults (`hs = 7`, `hr = 6.5`, minimum region
//! 20) at BSDS size (481x321) and at 1920x1080 (fewer samples), on one thread and on all
//! threads. Run: `cargo bench --bench meanshift`.

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use tessera::{Image, MeanShift};
use tessera_suite::{asset, resized};

fn bench(c: &mut Criterion) {
    let photo = asset("chelsea.png");
    let cases = [
        ("481x321", resized(&photo, 481, 321), 20),
        ("1920x1080", resized(&photo, 1920, 1080), 10),
    ];
    let mut group = c.benchmark_group("meanshift");
    let meanshift = MeanShift::default();
    for (name, img, samples) in cases {
        group.sample_size(samples);
        let img = Image::from_dynamic(&img).expect("asset converts");
        common::on_1_and_2_threads(&mut group, name, &img, &meanshift);
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
