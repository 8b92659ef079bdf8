//! Felzenszwalb–Huttenlocher speed at BSDS size (481x321, scale 160: about 400 segments) and
//! at 1920x1080 (scale 205: about 2000 segments), on one thread and on all threads, plus the
//! search for a target count (400 segments at 481x321). Run: `cargo bench --bench felzenszwalb`.

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use tessera::{Felzenszwalb, Image};
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

criterion_group!(benches, bench);
criterion_main!(benches);
