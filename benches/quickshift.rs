//! Quickshift speed at BSDS size (481x321, kernel_size 4.48 and max_dist 8.95: scikit-image's
//! parameters for about 400 segments) and at 1920x1080 (kernel_size 5.48, max_dist 10.97:
//! for about 2000), the other parameters the defaults, on one thread and on all threads; and on
//! an 8-channel 481x321 image (the channels as they are, kernel_size 4.48).
//! Run: `cargo bench --bench quickshift`.

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use tessera::{Image, Quickshift};
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
        common::on_1_and_2_threads(&mut group, name, &img, &qs);
    }
    let eight = common::eight_channels(&resized(&photo, 481, 321));
    let qs = Quickshift {
        kernel_size: 4.48,
        max_dist: 8.96,
        convert_to_lab: false,
        ..Quickshift::default()
    };
    common::on_1_and_2_threads(&mut group, "481x321x8/ks4.48", &eight, &qs);
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
