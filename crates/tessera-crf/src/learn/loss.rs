//! The structured SVM's loss: a Hamming loss over superpixels, weighted by superpixel size and
//! by class (so that rare classes count more).

/// The label of a superpixel with no ground-truth class (void); such nodes are left out of
/// training.
pub const VOID: u32 = u32::MAX;

/// Class weights `(1 / f_k)^power`, with `f_k` the share of the ground-truth pixels (of
/// non-void superpixels) in class `k`, normalised so that the pixel-weighted mean weight is 1.
/// `power = 0` gives every class weight 1; `power = 1` weights each class as if all classes
/// were equally frequent (scikit-learn's `class_weight="balanced"`). Classes absent from the
/// data get weight 0.
pub fn class_weights<'a>(
    samples: impl IntoIterator<Item = (&'a [u32], &'a [u32])>,
    n_classes: usize,
    power: f64,
) -> Vec<f64> {
    let mut pixels = vec![0.0f64; n_classes];
    for (labels, sizes) in samples {
        for (&y, &s) in labels.iter().zip(sizes) {
            if (y as usize) < n_classes {
                pixels[y as usize] += f64::from(s);
            }
        }
    }
    let total: f64 = pixels.iter().sum();
    if total == 0.0 {
        return vec![1.0; n_classes];
    }
    let raw: Vec<f64> = pixels
        .iter()
        .map(|&p| {
            if p > 0.0 {
                (total / p).powf(power)
            } else {
                0.0
            }
        })
        .collect();
    let mean: f64 = raw.iter().zip(&pixels).map(|(w, p)| w * p).sum::<f64>() / total;
    raw.iter().map(|w| w / mean).collect()
}

/// The loss weight of each node: `class_weight[y] * size / mean size`, so that a wrong label on
/// an average superpixel of an average class costs 1.
pub fn node_weights(labels: &[u32], sizes: &[u32], class_weight: &[f64]) -> Vec<f64> {
    let n = sizes.len().max(1) as f64;
    let mean = sizes.iter().map(|&s| f64::from(s)).sum::<f64>() / n;
    labels
        .iter()
        .zip(sizes)
        .map(|(&y, &s)| {
            let cw = class_weight.get(y as usize).copied().unwrap_or(0.0);
            if mean > 0.0 {
                cw * f64::from(s) / mean
            } else {
                0.0
            }
        })
        .collect()
}

/// `sum_j weight_j [truth_j != guess_j]`.
pub fn hamming(truth: &[u32], guess: &[u32], weight: &[f64]) -> f64 {
    truth
        .iter()
        .zip(guess)
        .zip(weight)
        .filter(|((t, g), _)| t != g)
        .map(|(_, w)| w)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_weights() {
        let labels = [0u32, 1, 1, 1];
        let sizes = [10u32, 10, 10, 10];
        let w = class_weights([(&labels[..], &sizes[..])], 3, 1.0);
        // Class 0 has 1/4 of the pixels, class 1 3/4: raw 4 and 4/3, mean 2, so 2 and 2/3.
        assert!((w[0] - 2.0).abs() < 1e-12 && (w[1] - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(w[2], 0.0);
        let flat = class_weights([(&labels[..], &sizes[..])], 2, 0.0);
        assert_eq!(flat, vec![1.0, 1.0]);
        let nw = node_weights(&labels, &[5, 15, 10, 10], &w);
        assert!((nw[0] - 1.0).abs() < 1e-12 && (nw[1] - 1.0).abs() < 1e-12);
        assert!((hamming(&labels, &[1, 1, 0, 1], &nw) - (nw[0] + nw[2])).abs() < 1e-12);
    }
}
