//! Position and shape features of a superpixel: centroid, area, bounding-box extent and fill,
//! and a soft encoding of the centroid's position.

/// Length of the shape block.
pub(crate) const LEN: usize = 6 + POSITION_KNOTS_Y + POSITION_KNOTS_X;

/// Knots of the triangular (linear-interpolation) encoding of the centroid's row and column,
/// evenly spaced over the image: a linear classifier on them can prefer the middle of the
/// image, which it cannot on the centroid alone.
const POSITION_KNOTS_Y: usize = 5;
const POSITION_KNOTS_X: usize = 3;

/// Per superpixel: `[x, y, sqrt(area), width, height, fill]` with `x, y` the centroid and
/// `width, height` the bounding box, all relative to the image (`x / w`, `sqrt(area / (w h))`,
/// ...), `fill` the area over the bounding-box area; then the row and column encodings.
pub(crate) fn fill(
    w: usize,
    h: usize,
    labels: &[u32],
    sizes: &[u32],
    out: &mut [f32],
    stride: usize,
    offset: usize,
) {
    let n = sizes.len();
    let mut sums = vec![[0.0f64; 2]; n];
    let mut bbox = vec![[usize::MAX, usize::MAX, 0, 0]; n];
    for (p, &s) in labels.iter().enumerate() {
        if s == u32::MAX {
            continue;
        }
        let (x, y) = (p % w, p / w);
        let s = s as usize;
        sums[s][0] += x as f64;
        sums[s][1] += y as f64;
        let b = &mut bbox[s];
        b[0] = b[0].min(x);
        b[1] = b[1].min(y);
        b[2] = b[2].max(x);
        b[3] = b[3].max(y);
    }
    let (wf, hf) = (w as f64, h as f64);
    for s in 0..n {
        let k = f64::from(sizes[s].max(1));
        let row = &mut out[s * stride + offset..s * stride + offset + LEN];
        let (cx, cy) = ((sums[s][0] / k + 0.5) / wf, (sums[s][1] / k + 0.5) / hf);
        let b = bbox[s];
        let (bw, bh) = if sizes[s] == 0 {
            (0.0, 0.0)
        } else {
            ((b[2] - b[0] + 1) as f64, (b[3] - b[1] + 1) as f64)
        };
        let fill = if sizes[s] == 0 { 0.0 } else { k / (bw * bh) };
        let head = [cx, cy, (k / (wf * hf)).sqrt(), bw / wf, bh / hf, fill];
        for (o, v) in row.iter_mut().zip(head) {
            *o = v as f32;
        }
        triangles(cy, &mut row[6..6 + POSITION_KNOTS_Y]);
        triangles(cx, &mut row[6 + POSITION_KNOTS_Y..]);
    }
}

/// Linear interpolation weights of `t` in `[0, 1]` over `out.len()` evenly spaced knots.
fn triangles(t: f64, out: &mut [f32]) {
    let k = out.len();
    let u = t.clamp(0.0, 1.0) * (k - 1) as f64;
    let i = (u.floor() as usize).min(k - 2);
    let f = u - i as f64;
    out.iter_mut().for_each(|o| *o = 0.0);
    out[i] = (1.0 - f) as f32;
    out[i + 1] = f as f32;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triangles_interpolate() {
        let mut o = [0.0f32; 5];
        triangles(0.0, &mut o);
        assert_eq!(o, [1.0, 0.0, 0.0, 0.0, 0.0]);
        triangles(1.0, &mut o);
        assert_eq!(o, [0.0, 0.0, 0.0, 0.0, 1.0]);
        triangles(0.375, &mut o);
        assert_eq!(o, [0.0, 0.5, 0.5, 0.0, 0.0]);
    }
}
