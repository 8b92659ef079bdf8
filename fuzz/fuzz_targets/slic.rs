//! SLIC on arbitrary small images with arbitrary parameters (iterations capped at 4 to keep
//! each run short; any count is legal, only slower): the result is either a typed error or a
//! segmentation that holds its invariants. Also masked SLIC and the renderers on its output.
#![no_main]

mod common;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tessera::{Mask, Slic, SlicDistance, Superpixels, UNLABELLED, render};

#[derive(Debug, Arbitrary)]
struct Input {
    image: common::SmallImage,
    n_segments: u32,
    compactness: f32,
    iterations: u8,
    sigma: [f32; 3],
    spacing: [f32; 3],
    convert_to_lab: Option<bool>,
    enforce_connectivity: bool,
    min_size_factor: f32,
    max_size_factor: f32,
    slic_zero: bool,
    perturb_seeds: bool,
    manhattan: bool,
    subsample: u8,
    mask: Option<Vec<bool>>,
}

fuzz_target!(|input: Input| {
    let Some(img) = input.image.build() else {
        return;
    };
    let slic = Slic {
        n_segments: input.n_segments,
        compactness: input.compactness,
        max_iterations: 1 + input.iterations as u32 % 4,
        sigma: input.sigma,
        spacing: input.spacing,
        convert_to_lab: input.convert_to_lab,
        enforce_connectivity: input.enforce_connectivity,
        min_size_factor: input.min_size_factor,
        max_size_factor: input.max_size_factor,
        slic_zero: input.slic_zero,
        perturb_seeds: input.perturb_seeds,
        distance: if input.manhattan {
            SlicDistance::Manhattan
        } else {
            SlicDistance::Euclidean
        },
        subsample: input.subsample as u32,
    };
    let n = img.pixel_count();
    let (result, inside) = match &input.mask {
        None => (slic.segment(&img), vec![true; n]),
        Some(flags) if !flags.is_empty() => {
            let inside: Vec<bool> = (0..n).map(|i| flags[i % flags.len()]).collect();
            let Ok(mask) = Mask::new(img.width(), img.height(), inside.clone()) else {
                panic!("a mask of the right size is refused");
            };
            (slic.segment_masked(&img, &mask), inside)
        }
        Some(_) => return,
    };
    let Ok(seg) = result else {
        return;
    };
    assert_eq!(seg.labels().len(), n);
    assert!(seg.count() as usize <= n);
    for (&l, &m) in seg.labels().iter().zip(&inside) {
        assert_eq!(l == UNLABELLED, !m, "unlabelled exactly outside the mask");
        assert!(l == UNLABELLED || l < seg.count());
    }
    assert!(seg.sizes().iter().all(|&s| s > 0));
    if slic.enforce_connectivity {
        assert_eq!(seg.disconnected_count(), 0);
    }
    let rgb = img.to_rgb8();
    assert!(render::mark_boundaries(&rgb, &seg, &Default::default()).is_ok());
    assert!(render::fill_mean(&rgb, &seg).is_ok());
    let _ = render::fill_random(&seg, 7);
});
