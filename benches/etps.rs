//! ETPS speed at BSDS size (481x321, 400 segments) and at 1920x1080 (2000 segments), on one
//! thread and on two. Run: `cargo bench --bench etps`.

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use tessera::{Etps, Image};
use tessera_suite::{asset, resized};

fn bench(c: &mut Criterion) {
    let photo = asset("chelsea.png");
    let cases = [
        ("481x321", resized(&photo, 481, 321), 400),
        ("1920x1080", resized(&photo, 1920, 1080), 2000),
    ];
    let mut group = c.benchmark_group("etps");
    group.sample_size(10);
    for (name, img, k) in cases {
        let img = Image::from_dynamic(&img).expect("asset converts");
        let etps = Etps {
            n_segments: k,
            ..Etps::default()
        };
        common::on_1_and_2_threads(&mut group, &format!("{name}/k{k}"), &img, &etps);
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
