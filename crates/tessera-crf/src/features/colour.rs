//! Colour features of a superpixel: per-channel CIELAB histograms and the mean and standard
//! deviation of each channel.

/// CIELAB channel ranges used for binning; values outside are clamped to the end bins.
const RANGES: [(f32, f32); 3] = [(0.0, 100.0), (-80.0, 80.0), (-80.0, 80.0)];

/// The bin of value `v` of channel `c` among `bins`.
pub(crate) fn bin(c: usize, v: f32, bins: usize) -> usize {
    let (lo, hi) = RANGES[c];
    let t = ((v - lo) / (hi - lo) * bins as f32).floor();
    (t.max(0.0) as usize).min(bins - 1)
}

/// Length of the colour block for `l_bins` and `ab_bins`: the three histograms, then the
/// three means and the three standard deviations.
pub(crate) fn len(l_bins: usize, ab_bins: usize) -> usize {
    l_bins + 2 * ab_bins + 6
}

/// Adds the colour block of every superpixel to `out` (`n * stride` values, the block at
/// `offset` in each row). `lab` holds 3 planes (grey images: `a = b = 0`), `labels` the
/// superpixel of each pixel (`u32::MAX` for none), `sizes` the pixel counts.
///
/// Histograms are normalised to sum 1 and then square-rooted (the Hellinger map, which makes
/// a linear classifier on them act like a Bhattacharyya-kernel one); means are divided by 100
/// and deviations by 50, so that every value is of order 1.
#[allow(clippy::too_many_arguments)]
pub(crate) fn fill(
    lab: &[Vec<f32>; 3],
    labels: &[u32],
    sizes: &[u32],
    l_bins: usize,
    ab_bins: usize,
    out: &mut [f32],
    stride: usize,
    offset: usize,
) {
    let n = sizes.len();
    let blen = len(l_bins, ab_bins);
    let mut hist = vec![0.0f64; n * (l_bins + 2 * ab_bins)];
    let mut sums = vec![[0.0f64; 6]; n];
    let hl = l_bins + 2 * ab_bins;
    for (p, &s) in labels.iter().enumerate() {
        if s == u32::MAX {
            continue;
        }
        let s = s as usize;
        let (l, a, b) = (lab[0][p], lab[1][p], lab[2][p]);
        let h = &mut hist[s * hl..(s + 1) * hl];
        h[bin(0, l, l_bins)] += 1.0;
        h[l_bins + bin(1, a, ab_bins)] += 1.0;
        h[l_bins + ab_bins + bin(2, b, ab_bins)] += 1.0;
        let m = &mut sums[s];
        for (c, v) in [l, a, b].into_iter().enumerate() {
            let v = f64::from(v);
            m[c] += v;
            m[3 + c] += v * v;
        }
    }
    for s in 0..n {
        let k = f64::from(sizes[s].max(1));
        let row = &mut out[s * stride + offset..s * stride + offset + blen];
        for (o, &h) in row[..hl].iter_mut().zip(&hist[s * hl..(s + 1) * hl]) {
            *o = (h / k).sqrt() as f32;
        }
        for c in 0..3 {
            let mean = sums[s][c] / k;
            let var = (sums[s][3 + c] / k - mean * mean).max(0.0);
            row[hl + c] = (mean / 100.0) as f32;
            row[hl + 3 + c] = (var.sqrt() / 50.0) as f32;
        }
    }
}
