//! `tessera learn --export-features`: the superpixel features as `.npy` arrays, so that other
//! tools (scikit-learn, PyStruct) can be run on exactly the same data.

use crate::learn::Loaded;
use crate::output::write_atomic;
use anyhow::Result;
use ndarray::{Array1, Array2};
use ndarray_npy::WriteNpyExt;
use std::path::Path;
use tessera::UNLABELLED;

/// Writes `<split>_X.npy` (float32, superpixels x features, not standardised),
/// `<split>_y.npy` (int64 majority class, -1 for void), `<split>_counts.npy` (int64,
/// superpixels x classes: ground-truth pixels of each class, void not counted; a pixel-level
/// confusion matrix follows from these and a prediction per superpixel) and
/// `<split>_image.npy` (int64 index of the image in the list), superpixels of the first
/// image first.
pub fn export(dir: &Path, split: &str, images: &[Loaded], n_classes: usize) -> Result<()> {
    let dim = images.first().map_or(0, |l| l.sample.features.dim());
    let n: usize = images.iter().map(|l| l.sample.features.len()).sum();
    let mut x = Vec::with_capacity(n * dim);
    let mut y = Vec::with_capacity(n);
    let mut counts = vec![0i64; n * n_classes];
    let mut image = Vec::with_capacity(n);
    let mut base = 0usize;
    for (k, l) in images.iter().enumerate() {
        let f = &l.sample.features;
        x.extend_from_slice(f.nodes());
        y.extend(l.sample.labels.iter().map(|&c| {
            if c == tessera_crf::learn::VOID {
                -1
            } else {
                i64::from(c)
            }
        }));
        image.extend(std::iter::repeat_n(k as i64, f.len()));
        for (&s, &t) in l.seg.labels().iter().zip(&l.truth) {
            if s != UNLABELLED && (t as usize) < n_classes {
                counts[(base + s as usize) * n_classes + t as usize] += 1;
            }
        }
        base += f.len();
    }
    let write = |name: &str, f: &dyn Fn(&mut dyn std::io::Write) -> Result<()>| {
        write_atomic(&dir.join(format!("{split}_{name}.npy")), |w| f(w))
    };
    let x = Array2::from_shape_vec((n, dim), x)?;
    write("X", &|w| Ok(x.write_npy(w)?))?;
    let y = Array1::from(y);
    write("y", &|w| Ok(y.write_npy(w)?))?;
    let counts = Array2::from_shape_vec((n, n_classes), counts)?;
    write("counts", &|w| Ok(counts.write_npy(w)?))?;
    let image = Array1::from(image);
    write("image", &|w| Ok(image.write_npy(w)?))?;
    Ok(())
}
