//! The label-map constructors, connectivity and rendering on arbitrary label maps of
//! arbitrary (possibly wrong) sizes: errors, never panics or huge allocations.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tessera::connectivity::{enforce_connectivity, split_components};
use tessera::{BoundaryMode, Segmentation, render};

#[derive(Debug, Arbitrary)]
struct Input {
    width: u32,
    height: u32,
    labels: Vec<u32>,
    min_size: u16,
    max_size: u16,
}

fuzz_target!(|input: Input| {
    let Input {
        width,
        height,
        labels,
        min_size,
        max_size,
    } = input;
    let _ = split_components(width, height, &labels);
    let _ = enforce_connectivity(width, height, &labels, min_size as usize, max_size as usize);
    if let Ok(seg) = Segmentation::from_labels(width, height, labels.clone()) {
        assert_eq!(seg.labels(), &labels[..]);
        assert!(seg.sizes().iter().all(|&s| s > 0));
    }
    if let Ok(seg) = Segmentation::relabel_sequential(width, height, labels) {
        assert!(Segmentation::from_labels(width, height, seg.labels().to_vec()).is_ok());
        let _ = seg.adjacency();
        let _ = seg.disconnected_count();
        let _ = seg.boundary_mask(BoundaryMode::Thick);
        let rgb = image::RgbImage::new(seg.width(), seg.height());
        assert!(render::mark_boundaries(&rgb, &seg, &Default::default()).is_ok());
        assert!(render::fill_mean(&rgb, &seg).is_ok());
        let _ = render::fill_random(&seg, 1);
        let wrong = image::RgbImage::new(seg.width() + 1, seg.height());
        assert!(render::fill_mean(&wrong, &seg).is_err());
    }
});
