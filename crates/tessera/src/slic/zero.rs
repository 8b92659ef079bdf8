//! SLIC-zero: the largest colour distance of each cluster.

use super::*;

/// The largest colour distance between each centre and its pixels: squared Euclidean, or
/// city-block with `manhattan`. `planes` and `labels` hold `frame`.
pub(super) fn largest_colour_distance(
    frame: Frame,
    planes: &[&[f32]],
    centres: &Centres,
    labels: &[u32],
    rows: Rows,
    manhattan: bool,
) -> Vec<f32> {
    let nc = centres.len();
    let w = frame.w;
    let partial: Vec<Vec<f32>> = labels
        .par_chunks(BAND_ROWS * w)
        .enumerate()
        .map(|(band, lab)| {
            let mut m = vec![0.0f32; nc];
            let base = band * BAND_ROWS * w;
            for (r, row) in lab.chunks(w).enumerate() {
                // The row's place in its slice decides whether this pass took it.
                let start = base + r * w;
                if !rows.takes(frame.y0 + start / w % frame.h) {
                    continue;
                }
                for (i, &l) in row.iter().enumerate() {
                    if l == UNLABELLED {
                        continue;
                    }
                    let col = centres.colour(l as usize);
                    let d: f32 = planes
                        .iter()
                        .zip(col)
                        .map(|(p, &c)| {
                            let t = p[start + i] - c;
                            if manhattan { t.abs() } else { t * t }
                        })
                        .sum();
                    let slot = &mut m[l as usize];
                    *slot = slot.max(d);
                }
            }
            m
        })
        .collect();
    let mut out = vec![0.0f32; nc];
    for band in &partial {
        for (o, &v) in out.iter_mut().zip(band) {
            *o = o.max(v);
        }
    }
    out
}
