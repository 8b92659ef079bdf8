//! SLIC speed at BSDS size (481x321, 400 segments) and at 1920x1080 (2000 segments), on one
//! thread and on all threads. Run: `cargo bench --bench slic`.

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use tessera::{Image, Slic};
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
        common::on_1_and_2_threads(&mut group, &format!("{name}/k{k}"), &img, &slic);
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
