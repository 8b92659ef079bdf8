//! Texture features of a superpixel, from the CIELAB lightness: a histogram of rotation
//! invariant uniform local binary patterns (Ojala, Pietikäinen & Mäenpää, PAMI 2002, `LBP^riu2`
//! with 8 neighbours at radius 1: 10 codes) and a HOG-like histogram of gradient orientations
//! weighted by gradient magnitude (Dalal & Triggs, CVPR 2005), plus the mean gradient
//! magnitude.
//!
//! Written here rather than taken from imageproc: its LBP gives the raw 256 codes per pixel and
//! its HOG works on fixed cells, while these histograms pool over arbitrary superpixels.

/// Number of `LBP^riu2` codes with 8 neighbours.
pub(crate) const LBP_CODES: usize = 10;

/// Length of the texture block: LBP histogram, orientation histogram, mean magnitude.
pub(crate) fn len(orientation_bins: usize) -> usize {
    LBP_CODES + orientation_bins + 1
}

/// The `LBP^riu2` code of each pixel of the `w x h` plane `l`: the number of neighbours at
/// least as bright as the centre when the circular pattern has at most two 0/1 transitions,
/// 9 otherwise. Pixels outside the image repeat the nearest edge pixel.
pub(crate) fn lbp_riu2(l: &[f32], w: usize, h: usize) -> Vec<u8> {
    const RING: [(isize, isize); 8] = [
        (-1, -1),
        (0, -1),
        (1, -1),
        (1, 0),
        (1, 1),
        (0, 1),
        (-1, 1),
        (-1, 0),
    ];
    let mut out = vec![0u8; w * h];
    for y in 0..h {
        for x in 0..w {
            let c = l[y * w + x];
            let mut bits = [false; 8];
            for (b, (dx, dy)) in bits.iter_mut().zip(RING) {
                let xx = (x as isize + dx).clamp(0, w as isize - 1) as usize;
                let yy = (y as isize + dy).clamp(0, h as isize - 1) as usize;
                *b = l[yy * w + xx] >= c;
            }
            let transitions = (0..8).filter(|&i| bits[i] != bits[(i + 1) % 8]).count();
            out[y * w + x] = if transitions <= 2 {
                bits.iter().filter(|&&b| b).count() as u8
            } else {
                9
            };
        }
    }
    out
}

/// The gradient of `l` by central differences (one-sided at the border): magnitude and the
/// unsigned orientation bin (`0..bins` over `[0, pi)`), per pixel.
pub(crate) fn gradients(l: &[f32], w: usize, h: usize, bins: usize) -> (Vec<f32>, Vec<u16>) {
    let mut mag = vec![0.0f32; w * h];
    let mut ori = vec![0u16; w * h];
    for y in 0..h {
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(1), (x + 1).min(w - 1));
            let (y0, y1) = (y.saturating_sub(1), (y + 1).min(h - 1));
            let gx = (l[y * w + x1] - l[y * w + x0]) / (x1 - x0).max(1) as f32;
            let gy = (l[y1 * w + x] - l[y0 * w + x]) / (y1 - y0).max(1) as f32;
            let i = y * w + x;
            mag[i] = (gx * gx + gy * gy).sqrt();
            let mut a = gy.atan2(gx);
            if a < 0.0 {
                a += std::f32::consts::PI;
            }
            let b = (a / std::f32::consts::PI * bins as f32) as usize;
            ori[i] = b.min(bins - 1) as u16;
        }
    }
    (mag, ori)
}

/// Adds the texture block of every superpixel to `out` (see [`super::colour::fill`] for the
/// layout). Histograms are normalised (the LBP one by pixel count, the orientation one by total
/// magnitude) and square-rooted; the mean magnitude is divided by 10 (CIELAB L units per pixel).
#[allow(clippy::too_many_arguments)]
pub(crate) fn fill(
    l: &[f32],
    w: usize,
    h: usize,
    labels: &[u32],
    sizes: &[u32],
    orientation_bins: usize,
    out: &mut [f32],
    stride: usize,
    offset: usize,
) {
    let n = sizes.len();
    let codes = lbp_riu2(l, w, h);
    let (mag, ori) = gradients(l, w, h, orientation_bins);
    let blen = len(orientation_bins);
    let mut acc = vec![0.0f64; n * blen];
    for (p, &s) in labels.iter().enumerate() {
        if s == u32::MAX {
            continue;
        }
        let a = &mut acc[s as usize * blen..(s as usize + 1) * blen];
        a[codes[p] as usize] += 1.0;
        a[LBP_CODES + ori[p] as usize] += f64::from(mag[p]);
        a[blen - 1] += f64::from(mag[p]);
    }
    for s in 0..n {
        let a = &acc[s * blen..(s + 1) * blen];
        let k = f64::from(sizes[s].max(1));
        let total_mag = a[blen - 1];
        let row = &mut out[s * stride + offset..s * stride + offset + blen];
        for c in 0..LBP_CODES {
            row[c] = (a[c] / k).sqrt() as f32;
        }
        for c in 0..orientation_bins {
            let v = if total_mag > 0.0 {
                a[LBP_CODES + c] / total_mag
            } else {
                0.0
            };
            row[LBP_CODES + c] = v.sqrt() as f32;
        }
        row[blen - 1] = (total_mag / k / 10.0) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lbp_of_flat_and_spot_images() {
        // Flat: every neighbour >= centre, 8 ones, no transition.
        assert!(lbp_riu2(&[5.0; 9], 3, 3).iter().all(|&c| c == 8));
        // A bright spot in the middle: its neighbours are all darker (code 0).
        let mut spot = [0.0f32; 9];
        spot[4] = 9.0;
        assert_eq!(lbp_riu2(&spot, 3, 3)[4], 0);
        // A checkerboard centre has 8 transitions: non-uniform, code 9.
        let check = [1.0, 0.0, 1.0, 0.0, 0.5, 0.0, 1.0, 0.0, 1.0];
        assert_eq!(lbp_riu2(&check, 3, 3)[4], 9);
    }

    #[test]
    fn gradient_of_a_ramp() {
        // L rises by 2 per column: magnitude 2, orientation 0 (horizontal).
        let l: Vec<f32> = (0..12).map(|i| 2.0 * (i % 4) as f32).collect();
        let (mag, ori) = gradients(&l, 4, 3, 8);
        assert!(mag.iter().all(|&m| (m - 2.0).abs() < 1e-6));
        assert!(ori.iter().all(|&o| o == 0));
        // Vertical ramp: orientation pi/2, bin 4 of 8.
        let l: Vec<f32> = (0..12).map(|i| 3.0 * (i / 4) as f32).collect();
        let (_, ori) = gradients(&l, 4, 3, 8);
        assert!(ori.iter().all(|&o| o == 4));
    }
}
