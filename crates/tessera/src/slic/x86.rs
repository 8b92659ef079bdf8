//! The AVX2 kernels of the assignment and the update, tested bit for bit against the
//! portable loops.

use super::assign::{Row, assign_band_with, row_kernel};
#[cfg(test)]
use super::update::group_portable;
use super::update::{Lanes, RowGroup};
use super::*;

/// [`assign_band_with`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) fn assign_band_avx2<const C: usize, const L1: bool>(
    ctx: &AssignCtx<'_, C>,
    y0: usize,
    labels: &mut [u32],
    dist: &mut [f32],
) {
    assign_band_with::<C, true, L1>(ctx, y0, labels, dist);
}

/// [`row_kernel`] eight pixels at a time with AVX2, the same operations in the same order
/// (no fused multiply-add), then the remainder with the scalar loop.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::needless_range_loop)] // channels index three arrays in step
pub(super) fn row_kernel_avx2<const C: usize, const L1: bool>(
    row: &Row<'_, C>,
    lr: &mut [u32],
    dr: &mut [f32],
) {
    use std::arch::x86_64::*;
    let len = lr.len().min(dr.len()).min(row.xterm.len());
    assert!(row.feats.iter().all(|f| f.len() >= len));
    if len < LANES {
        row_kernel::<C, L1>(row, 0, lr, dr);
        return;
    }
    let full = len - len % LANES;
    let va = _mm256_set1_ps(row.a);
    let unit = row.a == 1.0;
    let vdy = _mm256_set1_ps(row.dy2);
    let vmax = _mm256_set1_ps(f32::MAX);
    // `abs` clears the sign bit, as `f32::abs` does.
    let sign = _mm256_set1_ps(-0.0);
    let vlabel = _mm256_castsi256_ps(_mm256_set1_epi32(row.label as i32));
    let vcol: [__m256; C] = std::array::from_fn(|c| _mm256_set1_ps(row.col[c]));
    // The new distances and labels of the eight pixels from `i`.
    // SAFETY (of each call): i + 8 <= len, and every slice read holds at least len elements
    // (asserted above); unaligned loads throughout.
    let group = |i: usize, dr: &[f32], lr: &[u32]| unsafe {
        let mut dc = _mm256_setzero_ps();
        for c in 0..C {
            let t = _mm256_sub_ps(_mm256_loadu_ps(row.feats[c].as_ptr().add(i)), vcol[c]);
            let term = if L1 {
                _mm256_andnot_ps(sign, t)
            } else {
                _mm256_mul_ps(t, t)
            };
            dc = _mm256_add_ps(dc, term);
        }
        // Standard SLIC weighs colour by 1: skipping the product gives the same bits.
        let weighted = if unit { dc } else { _mm256_mul_ps(va, dc) };
        let d = _mm256_add_ps(
            _mm256_add_ps(weighted, _mm256_loadu_ps(row.xterm.as_ptr().add(i))),
            vdy,
        );
        // Like `f32::min`, `minps` returns its second operand when the first is NaN.
        let d = _mm256_min_ps(d, vmax);
        let old = _mm256_loadu_ps(dr.as_ptr().add(i));
        let better = _mm256_cmp_ps::<_CMP_LT_OQ>(d, old);
        let mut dist = _mm256_blendv_ps(old, d, better);
        let old_labels = _mm256_loadu_ps(lr.as_ptr().add(i) as *const f32);
        let mut labels = _mm256_blendv_ps(old_labels, vlabel, better);
        // LLVM turns "load, blend, store back" into a masked store (`vmaskmovps`), which AMD
        // cores run many times slower than a blend and a plain store: it took over half of
        // SLIC's time. An empty asm statement makes the blended values opaque.
        std::arch::asm!("/* {0} {1} */", inout(ymm_reg) dist, inout(ymm_reg) labels,
            options(pure, nomem, nostack, preserves_flags));
        (dist, labels)
    };
    // SAFETY (of each call): as for `group`; the stores write the same eight pixels.
    let store = |i: usize, (dist, labels): (__m256, __m256), dr: &mut [f32], lr: &mut [u32]| unsafe {
        _mm256_storeu_ps(dr.as_mut_ptr().add(i), dist);
        _mm256_storeu_ps(lr.as_mut_ptr().add(i) as *mut f32, labels);
    };
    // Whole groups of eight but the last; then the last whole group together with, when the
    // row is not a multiple of eight long, a group ending at the row's end that overlaps it.
    // Both are loaded before either is stored (a load overlapping a store still in flight
    // stalls), and where they overlap both compute the same values from the same inputs, so
    // no scalar tail is left and the result is the scalar kernel's.
    let mut i = 0;
    while i + LANES < full {
        let v = group(i, dr, lr);
        store(i, v, dr, lr);
        i += LANES;
    }
    let last = group(i, dr, lr);
    if full < len {
        let end = group(len - LANES, dr, lr);
        store(i, last, dr, lr);
        store(len - LANES, end, dr, lr);
    } else {
        store(i, last, dr, lr);
    }
}

/// [`group_portable`] eight columns at a time with AVX2; the last, partial group of columns
/// of a row is read with masked loads.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::needless_range_loop)] // channels index two arrays in step
pub(super) fn group_avx2<const C: usize>(
    g: &RowGroup<'_>,
    labels: &[u32],
    planes: &[&[f32]; C],
    lanes: &mut Lanes<C>,
) {
    use std::arch::x86_64::*;
    let len = g.len;
    assert!(
        g.starts
            .iter()
            .all(|&(at, _)| at + len <= labels.len() && planes.iter().all(|p| at + len <= p.len()))
    );
    let vlabel = _mm256_set1_epi32(g.label as i32);
    let eight = _mm256_set1_epi32(LANES as i32);
    let vlen = _mm256_set1_epi32(len as i32);
    let mut count = _mm256_setzero_si256();
    let mut ysum = _mm256_setzero_si256();
    let mut xsum = _mm256_setzero_si256();
    let mut colour = [_mm256_setzero_ps(); C];
    for &(at, y) in g.starts {
        let vy = _mm256_set1_epi32(y as i32);
        let mut index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let mut i = 0;
        while i < len {
            // SAFETY: rows hold `len` values from `at` (asserted above). A whole group of
            // eight is read with plain loads; a partial one with masked loads, which touch
            // only the lanes below `len`.
            unsafe {
                let (lab, valid) = if i + LANES <= len {
                    let p = labels.as_ptr().add(at + i) as *const __m256i;
                    (_mm256_loadu_si256(p), _mm256_set1_epi32(-1))
                } else {
                    let valid = _mm256_cmpgt_epi32(vlen, index);
                    let p = labels.as_ptr().add(at + i) as *const i32;
                    (_mm256_maskload_epi32(p, valid), valid)
                };
                let hit = _mm256_and_si256(_mm256_cmpeq_epi32(lab, vlabel), valid);
                // A hit lane is all ones, -1: subtracting it counts one.
                count = _mm256_sub_epi32(count, hit);
                ysum = _mm256_add_epi32(ysum, _mm256_and_si256(vy, hit));
                xsum = _mm256_add_epi32(xsum, _mm256_and_si256(index, hit));
                let keep = _mm256_castsi256_ps(hit);
                for c in 0..C {
                    let p = planes[c].as_ptr().add(at + i);
                    let f = if i + LANES <= len {
                        _mm256_loadu_ps(p)
                    } else {
                        _mm256_maskload_ps(p, valid)
                    };
                    colour[c] = _mm256_add_ps(colour[c], _mm256_and_ps(f, keep));
                }
            }
            index = _mm256_add_epi32(index, eight);
            i += LANES;
        }
    }
    // SAFETY: each destination is an array of LANES (8) 32-bit values.
    unsafe {
        _mm256_storeu_si256(lanes.count.as_mut_ptr() as *mut __m256i, count);
        _mm256_storeu_si256(lanes.y.as_mut_ptr() as *mut __m256i, ysum);
        _mm256_storeu_si256(lanes.x.as_mut_ptr() as *mut __m256i, xsum);
        for c in 0..C {
            _mm256_storeu_ps(lanes.colour[c].as_mut_ptr(), colour[c]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "x86_64")]
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn vector_and_scalar_window_sums_agree_bit_for_bit() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            eprintln!("skipped: this CPU has no AVX2");
            return;
        }
        let mut x = 987654321u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x >> 40
        };
        let (w, h) = (53usize, 37usize);
        let labels: Vec<u32> = (0..w * h).map(|_| (next() % 3) as u32).collect();
        let planes: Vec<Vec<f32>> = (0..3)
            .map(|_| (0..w * h).map(|_| next() as f32 / 1000.0).collect())
            .collect();
        let refs: [&[f32]; 3] = [&planes[0], &planes[1], &planes[2]];
        let mut hits = 0;
        for (x0, len) in [(0usize, 1usize), (3, 7), (5, 8), (0, 9), (10, 41), (0, 53)] {
            for rows in [(0usize, 1usize), (1, 5), (0, 16), (2, 17), (0, 37)] {
                let starts: Vec<(usize, u32)> =
                    (rows.0..rows.1).map(|y| (y * w + x0, y as u32)).collect();
                let g = RowGroup {
                    starts: &starts,
                    len,
                    label: 1,
                };
                let (mut a, mut b) = (Lanes::<3>::new(), Lanes::<3>::new());
                group_portable(&g, &labels, &refs, &mut a);
                // SAFETY: AVX2 was detected above.
                unsafe { group_avx2(&g, &labels, &refs, &mut b) };
                assert_eq!((a.count, a.y, a.x), (b.count, b.y, b.x));
                let bits = |l: &Lanes<3>| l.colour.map(|c| c.map(f32::to_bits));
                assert_eq!(bits(&a), bits(&b), "x0 {x0} len {len} rows {rows:?}");
                hits += a.count.iter().sum::<u32>();
            }
        }
        assert!(hits > 1000, "the test windows hold the label: {hits}");
    }

    #[test]
    fn vector_and_scalar_kernels_agree_bit_for_bit() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            eprintln!("skipped: this CPU has no AVX2");
            return;
        }
        let mut x = 12345u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / 1000.0
        };
        for (len, a) in [1usize, 7, 8, 9, 41, 64]
            .into_iter()
            .flat_map(|l| [(l, 0.7f32), (l, 1.0)])
        {
            let feats: Vec<Vec<f32>> = (0..3).map(|_| (0..len).map(|_| next()).collect()).collect();
            let xterm: Vec<f32> = (0..len).map(|_| next()).collect();
            let refs: [&[f32]; 3] = [&feats[0], &feats[1], &feats[2]];
            let row = Row {
                feats: &refs,
                col: &[5.0, 6.0, 7.0],
                a,
                dy2: 3.0,
                xterm: &xterm,
                label: 9,
            };
            let start: Vec<f32> = (0..len).map(|_| next() * 20.0).collect();
            for manhattan in [false, true] {
                let (mut l1, mut d1) = (vec![1u32; len], start.clone());
                let (mut l2, mut d2) = (vec![1u32; len], start.clone());
                if manhattan {
                    row_kernel::<3, true>(&row, 0, &mut l1, &mut d1);
                    // SAFETY: AVX2 was detected above.
                    unsafe { row_kernel_avx2::<3, true>(&row, &mut l2, &mut d2) };
                } else {
                    row_kernel::<3, false>(&row, 0, &mut l1, &mut d1);
                    // SAFETY: AVX2 was detected above.
                    unsafe { row_kernel_avx2::<3, false>(&row, &mut l2, &mut d2) };
                }
                assert_eq!(l1, l2);
                assert_eq!(
                    d1.iter().map(|d| d.to_bits()).collect::<Vec<_>>(),
                    d2.iter().map(|d| d.to_bits()).collect::<Vec<_>>()
                );
            }
        }
    }
}
