//! The texton blocks of a superpixel's feature row: its own texton histogram, the histogram
//! of its 1-ring (itself and its neighbours, pixels pooled) and the image's bag of textons,
//! each L1-normalised and mapped by the parameters' [`HistogramMap`].

use super::{FeatureParams, HistogramMap};

/// Length of the three blocks.
pub(crate) fn len(p: &FeatureParams) -> usize {
    3 * p.textons * p.texton_map.width()
}

/// Writes the blocks at `offset` of each row of `out` (stride `stride`): `codes` is the
/// texton of each pixel, `labels` its superpixel (`u32::MAX` none), `edges` the pairs of
/// neighbouring superpixels.
pub(crate) fn fill(
    codes: &[u16],
    labels: &[u32],
    edges: &[[u32; 2]],
    p: &FeatureParams,
    out: &mut [f32],
    stride: usize,
    offset: usize,
) {
    let k = p.textons;
    let n = out.len().checked_div(stride).unwrap_or(0);
    let mut own = vec![0u32; n * k];
    let mut image = vec![0u64; k];
    for (&c, &s) in codes.iter().zip(labels) {
        if s != u32::MAX {
            own[s as usize * k + c as usize] += 1;
            image[c as usize] += 1;
        }
    }
    let mut ring: Vec<u64> = own.iter().map(|&v| u64::from(v)).collect();
    for e in edges {
        let (a, b) = (e[0] as usize, e[1] as usize);
        for j in 0..k {
            ring[a * k + j] += u64::from(own[b * k + j]);
            ring[b * k + j] += u64::from(own[a * k + j]);
        }
    }
    let m = p.texton_map.width();
    let map = p.texton_map;
    let put =
        |hist: &mut dyn Iterator<Item = u64>, dst: &mut [f32], total: u64, map: HistogramMap| {
            let t = total.max(1) as f64;
            for (j, v) in hist.enumerate() {
                map.apply(v as f64 / t, &mut dst[j * m..(j + 1) * m]);
            }
        };
    let image_total: u64 = image.iter().sum();
    let mut image_row = vec![0.0f32; k * m];
    put(&mut image.iter().copied(), &mut image_row, image_total, map);
    for s in 0..n {
        let row = &mut out[s * stride + offset..s * stride + offset + 3 * k * m];
        let h = &own[s * k..(s + 1) * k];
        let total: u64 = h.iter().map(|&v| u64::from(v)).sum();
        put(
            &mut h.iter().map(|&v| u64::from(v)),
            &mut row[..k * m],
            total,
            map,
        );
        let r = &ring[s * k..(s + 1) * k];
        let total: u64 = r.iter().sum();
        put(
            &mut r.iter().copied(),
            &mut row[k * m..2 * k * m],
            total,
            map,
        );
        row[2 * k * m..].copy_from_slice(&image_row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_of_a_hand_made_labelling() {
        // 6 pixels, 3 superpixels in a chain 0-1-2, 2 textons.
        let codes = [0u16, 0, 1, 1, 1, 0];
        let labels = [0u32, 0, 1, 1, 2, u32::MAX];
        let p = FeatureParams {
            textons: 2,
            texton_map: HistogramMap::Identity,
            ..FeatureParams::default()
        };
        let mut out = vec![0.0f32; 3 * 6];
        fill(&codes, &labels, &[[0, 1], [1, 2]], &p, &mut out, 6, 0);
        // Own: [1, 0], [0, 1], [0, 1]; rings: 0+1 = [2,2] -> [.5,.5], 0+1+2 = [2,3], 1+2 = [0,3];
        // image: [2, 3] (the unlabelled pixel does not count).
        assert_eq!(&out[0..6], &[1.0, 0.0, 0.5, 0.5, 0.4, 0.6]);
        assert_eq!(&out[6..12], &[0.0, 1.0, 0.4, 0.6, 0.4, 0.6]);
        assert_eq!(&out[12..18], &[0.0, 1.0, 0.0, 1.0, 0.4, 0.6]);
    }
}
