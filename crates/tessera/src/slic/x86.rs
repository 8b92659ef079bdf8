//! The AVX2 kernels of the assignment and the update, tested bit for bit against the
//! portable loops.

use super::assign::{AVX2, AVX512, Window, assign_band_with, window_portable};
#[cfg(test)]
use super::update::group_portable;
use super::update::{Lanes, RowGroup};
use super::*;

/// [`assign_band_with`] compiled for AVX2.
#[target_feature(enable = "avx2")]
pub(super) fn assign_band_avx2<const C: usize, const L1: bool>(
    ctx: &AssignCtx<'_>,
    band: usize,
    labels: &mut [u32],
    dist: &mut [f32],
) {
    assign_band_with::<C, AVX2, L1>(ctx, band, labels, dist);
}

/// [`assign_band_with`] compiled for AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) fn assign_band_avx512<const C: usize, const L1: bool>(
    ctx: &AssignCtx<'_>,
    band: usize,
    labels: &mut [u32],
    dist: &mut [f32],
) {
    assign_band_with::<C, AVX512, L1>(ctx, band, labels, dist);
}

/// [`window_portable`] eight pixels at a time with AVX2, the same operations in the same
/// order (no fused multiply-add), so the same bits. The constants are broadcast once per
/// window, the bounds checked once per window.
#[target_feature(enable = "avx2")]
#[allow(clippy::needless_range_loop)] // channels index three arrays in step
pub(super) fn window_avx2<const C: usize, const L1: bool>(
    win: &Window<'_>,
    labels: &mut [u32],
    dist: &mut [f32],
) {
    use std::arch::x86_64::*;
    let len = win.xterm.len();
    if len < LANES {
        window_portable::<C, L1>(win, labels, dist);
        return;
    }
    assert!(win.fits(labels.len().min(dist.len())));
    let full = len - len % LANES;
    let va = _mm256_set1_ps(win.a);
    let unit = win.a == 1.0;
    let vmax = _mm256_set1_ps(f32::MAX);
    // `abs` clears the sign bit, as `f32::abs` does.
    let sign = _mm256_set1_ps(-0.0);
    let vlabel = _mm256_castsi256_ps(_mm256_set1_epi32(win.label as i32));
    let col = win.col_array::<C>();
    let vcol: [__m256; C] = std::array::from_fn(|c| _mm256_set1_ps(col[c]));
    let xt = win.xterm.as_ptr();
    for (r, &dy2) in win.dy.iter().enumerate() {
        let vdy = _mm256_set1_ps(dy2);
        let (g, l) = (win.at + r * win.step, win.band_at + r * win.step);
        // SAFETY: the row's `len` pixels from `g` (planes) and `l` (band maps) lie inside
        // the slices (`fits`, asserted above).
        let feats: [*const f32; C] =
            std::array::from_fn(|c| unsafe { win.planes[c].as_ptr().add(g) });
        // SAFETY: as above.
        let (dp, lp) = unsafe {
            (
                dist.as_mut_ptr().add(l),
                labels.as_mut_ptr().add(l) as *mut f32,
            )
        };
        // The new distances and labels of the eight pixels from `i`.
        // SAFETY (of each call): i + 8 <= len, and the row's `len` values lie inside every
        // slice read (above); unaligned loads throughout.
        let group = |i: usize| unsafe {
            let mut dc = _mm256_setzero_ps();
            for c in 0..C {
                let t = _mm256_sub_ps(_mm256_loadu_ps(feats[c].add(i)), vcol[c]);
                let term = if L1 {
                    _mm256_andnot_ps(sign, t)
                } else {
                    _mm256_mul_ps(t, t)
                };
                dc = _mm256_add_ps(dc, term);
            }
            // Standard SLIC weighs colour by 1: skipping the product gives the same bits.
            let weighted = if unit { dc } else { _mm256_mul_ps(va, dc) };
            let d = _mm256_add_ps(_mm256_add_ps(weighted, _mm256_loadu_ps(xt.add(i))), vdy);
            // Like `f32::min`, `minps` returns its second operand when the first is NaN.
            let d = _mm256_min_ps(d, vmax);
            let old = _mm256_loadu_ps(dp.add(i));
            let better = _mm256_cmp_ps::<_CMP_LT_OQ>(d, old);
            let mut dist = _mm256_blendv_ps(old, d, better);
            let old_labels = _mm256_loadu_ps(lp.add(i));
            let mut labels = _mm256_blendv_ps(old_labels, vlabel, better);
            // LLVM turns "load, blend, store back" into a masked store (`vmaskmovps`), which
            // AMD cores run many times slower than a blend and a plain store: it took over
            // half of SLIC's time. An empty asm statement makes the blended values opaque.
            std::arch::asm!("/* {0} {1} */", inout(ymm_reg) dist, inout(ymm_reg) labels,
                options(pure, nomem, nostack, preserves_flags));
            (dist, labels)
        };
        // SAFETY (of each call): as for `group`; the stores write the same eight pixels.
        let store = |i: usize, (dist, labels): (__m256, __m256)| unsafe {
            _mm256_storeu_ps(dp.add(i), dist);
            _mm256_storeu_ps(lp.add(i), labels);
        };
        // Whole groups of eight but the last; then the last whole group together with, when
        // the row is not a multiple of eight long, a group ending at the row's end that
        // overlaps it. Both are loaded before either is stored (a load overlapping a store
        // still in flight stalls), and where they overlap both compute the same values from
        // the same inputs, so no scalar tail is left and the result is the scalar kernel's.
        let mut i = 0;
        while i + LANES < full {
            store(i, group(i));
            i += LANES;
        }
        let last = group(i);
        if full < len {
            let end = group(len - LANES);
            store(i, last);
            store(len - LANES, end);
        } else {
            store(i, last);
        }
    }
}

/// [`window_portable`] sixteen pixels at a time with AVX-512F, the same operations in the
/// same order, so the same bits. The last, partial group of a row is read and written with
/// masks (no overlap and no scalar tail), and the distances and labels are written with the
/// comparison's mask: Intel cores run masked AVX-512 stores at full speed, unlike AVX2's
/// `vmaskmovps` on AMD.
#[target_feature(enable = "avx512f")]
#[allow(clippy::needless_range_loop)] // channels index three arrays in step
pub(super) fn window_avx512<const C: usize, const L1: bool>(
    win: &Window<'_>,
    labels: &mut [u32],
    dist: &mut [f32],
) {
    use std::arch::x86_64::*;
    const WIDE: usize = 16;
    let len = win.xterm.len();
    assert!(win.fits(labels.len().min(dist.len())));
    let va = _mm512_set1_ps(win.a);
    let unit = win.a == 1.0;
    let vmax = _mm512_set1_ps(f32::MAX);
    let vlabel = _mm512_set1_epi32(win.label as i32);
    let col = win.col_array::<C>();
    let vcol: [__m512; C] = std::array::from_fn(|c| _mm512_set1_ps(col[c]));
    let xt = win.xterm.as_ptr();
    for (r, &dy2) in win.dy.iter().enumerate() {
        let vdy = _mm512_set1_ps(dy2);
        let (g, l) = (win.at + r * win.step, win.band_at + r * win.step);
        // SAFETY: the row's `len` pixels from `g` (planes) and `l` (band maps) lie inside
        // the slices (`fits`, asserted above).
        let feats: [*const f32; C] =
            std::array::from_fn(|c| unsafe { win.planes[c].as_ptr().add(g) });
        // SAFETY: as above.
        let (dp, lp) = unsafe {
            (
                dist.as_mut_ptr().add(l),
                labels.as_mut_ptr().add(l) as *mut i32,
            )
        };
        let mut i = 0;
        while i < len {
            let left = len - i;
            let m: __mmask16 = if left >= WIDE { !0 } else { (1u16 << left) - 1 };
            // SAFETY: the lanes of `m` are pixels `i..len` of the row, inside every slice
            // (above); masked-off lanes are neither read nor written.
            unsafe {
                let mut dc = _mm512_setzero_ps();
                for c in 0..C {
                    let t = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, feats[c].add(i)), vcol[c]);
                    let term = if L1 {
                        _mm512_abs_ps(t)
                    } else {
                        _mm512_mul_ps(t, t)
                    };
                    dc = _mm512_add_ps(dc, term);
                }
                let weighted = if unit { dc } else { _mm512_mul_ps(va, dc) };
                let d = _mm512_add_ps(
                    _mm512_add_ps(weighted, _mm512_maskz_loadu_ps(m, xt.add(i))),
                    vdy,
                );
                // As `minps`: the second operand when the first is NaN, like `f32::min`.
                let d = _mm512_min_ps(d, vmax);
                let old = _mm512_maskz_loadu_ps(m, dp.add(i));
                let better = _mm512_mask_cmp_ps_mask::<_CMP_LT_OQ>(m, d, old);
                _mm512_mask_storeu_ps(dp.add(i), better, d);
                _mm512_mask_storeu_epi32(lp.add(i), better, vlabel);
            }
            i += WIDE;
        }
    }
}

/// [`group_portable`] eight columns at a time with AVX2; the last, partial group of columns
/// of a row is read with masked loads.
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

/// [`group_portable`] sixteen columns at a time with AVX-512F, the same sums in the same
/// lanes and order: the label test and the integer sums (exact, so in any lane layout) run
/// on sixteen lanes, folded into eight at the end; the colour sums stay in the eight lanes of
/// the portable loop, adding the low eight columns and then the high eight, as AVX2 does
/// group after group, so the `f32` sums are the same bits. Pixels of other labels are not
/// even loaded (masked loads).
#[target_feature(enable = "avx512f")]
#[allow(clippy::needless_range_loop)] // channels index two arrays in step
pub(super) fn group_avx512<const C: usize>(
    g: &RowGroup<'_>,
    labels: &[u32],
    planes: &[&[f32]; C],
    lanes: &mut Lanes<C>,
) {
    use std::arch::x86_64::*;
    const WIDE: usize = 16;
    let len = g.len;
    assert!(
        g.starts
            .iter()
            .all(|&(at, _)| at + len <= labels.len() && planes.iter().all(|p| at + len <= p.len()))
    );
    let vlabel = _mm512_set1_epi32(g.label as i32);
    let one = _mm512_set1_epi32(1);
    let sixteen = _mm512_set1_epi32(WIDE as i32);
    let mut count = _mm512_setzero_si512();
    let mut ysum = _mm512_setzero_si512();
    let mut xsum = _mm512_setzero_si512();
    let mut colour = [_mm256_setzero_ps(); C];
    for &(at, y) in g.starts {
        let vy = _mm512_set1_epi32(y as i32);
        let mut index = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let mut i = 0;
        while i < len {
            let left = len - i;
            let valid: __mmask16 = if left >= WIDE { !0 } else { (1u16 << left) - 1 };
            // SAFETY: rows hold `len` values from `at` (asserted above); the masked loads
            // touch only the lanes below `len` (and, for the features, only the hits).
            unsafe {
                let lab =
                    _mm512_maskz_loadu_epi32(valid, labels.as_ptr().add(at + i) as *const i32);
                let hit = _mm512_mask_cmpeq_epi32_mask(valid, lab, vlabel);
                count = _mm512_mask_add_epi32(count, hit, count, one);
                ysum = _mm512_mask_add_epi32(ysum, hit, ysum, vy);
                xsum = _mm512_mask_add_epi32(xsum, hit, xsum, index);
                for c in 0..C {
                    let f = _mm512_maskz_loadu_ps(hit, planes[c].as_ptr().add(at + i));
                    colour[c] = _mm256_add_ps(colour[c], _mm512_castps512_ps256(f));
                    if left > LANES {
                        let high = _mm512_extractf64x4_pd::<1>(_mm512_castps_pd(f));
                        colour[c] = _mm256_add_ps(colour[c], _mm256_castpd_ps(high));
                    }
                }
            }
            index = _mm512_add_epi32(index, sixteen);
            i += WIDE;
        }
    }
    let fold = |v: __m512i| {
        let (lo, hi) = (_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64::<1>(v));
        _mm256_add_epi32(lo, hi)
    };
    // SAFETY: each destination is an array of LANES (8) 32-bit values.
    unsafe {
        _mm256_storeu_si256(lanes.count.as_mut_ptr() as *mut __m256i, fold(count));
        _mm256_storeu_si256(lanes.y.as_mut_ptr() as *mut __m256i, fold(ysum));
        _mm256_storeu_si256(lanes.x.as_mut_ptr() as *mut __m256i, fold(xsum));
        for c in 0..C {
            _mm256_storeu_ps(lanes.colour[c].as_mut_ptr(), colour[c]);
        }
    }
}

/// [`window_any`](super::assign::window_any) compiled for AVX2 (the assignment for any
/// channel count inlines it so), for the bit-for-bit test.
#[cfg(test)]
#[target_feature(enable = "avx2")]
fn window_any_avx2<const L1: bool>(
    win: &Window<'_>,
    labels: &mut [u32],
    dist: &mut [f32],
    scratch: &mut [f32],
) {
    super::assign::window_any::<L1>(win, labels, dist, scratch);
}

/// [`window_any`](super::assign::window_any) compiled for AVX-512F.
#[cfg(test)]
#[target_feature(enable = "avx512f")]
fn window_any_avx512<const L1: bool>(
    win: &Window<'_>,
    labels: &mut [u32],
    dist: &mut [f32],
    scratch: &mut [f32],
) {
    super::assign::window_any::<L1>(win, labels, dist, scratch);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slic::assign::window_any;

    #[test]
    fn any_channel_kernels_agree_bit_for_bit() {
        // The kernel for any channel count, compiled for AVX2 and for AVX-512F, against its
        // portable build and, on three channels, against the fixed three-channel kernel; on
        // 1, 3, 6 and 11 channels, with huge values (distances clamped to f32::MAX) and NaNs.
        let avx2 = std::arch::is_x86_feature_detected!("avx2");
        let avx512 = std::arch::is_x86_feature_detected!("avx512f");
        let mut x = 777u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / 1000.0
        };
        let (w, h) = (70usize, 9usize);
        let (mut checked, mut taken) = (0, 0);
        for channels in [1usize, 3, 6, 11] {
            let planes: Vec<Vec<f32>> = (0..channels)
                .map(|_| {
                    (0..w * h)
                        .map(|i| match i % 89 {
                            7 => 3e30,
                            40 => f32::NAN,
                            _ => next() / 100.0,
                        })
                        .collect()
                })
                .collect();
            let refs: Vec<&[f32]> = planes.iter().map(|p| p.as_slice()).collect();
            let col: Vec<f32> = (0..channels).map(|c| c as f32 * 3.0).collect();
            for len in [1usize, 8, 15, 17, 41, 70] {
                for (a, manhattan) in [(1.0f32, false), (0.3, false), (1.0, true)] {
                    let x0 = (w - len) / 2;
                    let dy: Vec<f32> = (0..4).map(|_| next()).collect();
                    let xterm: Vec<f32> = (0..len).map(|_| next()).collect();
                    let win = Window {
                        planes: &refs,
                        at: w + x0,
                        band_at: x0,
                        step: 2 * w,
                        dy: &dy,
                        xterm: &xterm,
                        col: &col,
                        a,
                        label: 4,
                    };
                    let start = (
                        vec![1u32; w * h],
                        (0..w * h)
                            .map(|i| {
                                if i % 13 == 0 {
                                    0.0
                                } else {
                                    next() * 40.0 * channels as f32
                                }
                            })
                            .collect::<Vec<f32>>(),
                    );
                    let mut scratch = vec![0.0f32; len];
                    let mut run = |kernel: &dyn Fn(&mut [u32], &mut [f32], &mut [f32])| {
                        let (mut l, mut d) = start.clone();
                        kernel(&mut l, &mut d, &mut scratch);
                        (l, d.iter().map(|v| v.to_bits()).collect::<Vec<u32>>())
                    };
                    let expect = if manhattan {
                        run(&|l, d, s| window_any::<true>(&win, l, d, s))
                    } else {
                        run(&|l, d, s| window_any::<false>(&win, l, d, s))
                    };
                    if channels == 3 {
                        let fixed = if manhattan {
                            run(&|l, d, _| {
                                super::super::assign::window_portable::<3, true>(&win, l, d)
                            })
                        } else {
                            run(&|l, d, _| {
                                super::super::assign::window_portable::<3, false>(&win, l, d)
                            })
                        };
                        assert_eq!(fixed, expect, "fixed 3 len {len} a {a} L1 {manhattan}");
                    }
                    // SAFETY (of each call): run only when the CPU has the feature.
                    let vector: [(bool, &dyn Fn(&mut [u32], &mut [f32], &mut [f32])); 4] = [
                        (avx2 && !manhattan, &|l, d, s| unsafe {
                            window_any_avx2::<false>(&win, l, d, s)
                        }),
                        (avx2 && manhattan, &|l, d, s| unsafe {
                            window_any_avx2::<true>(&win, l, d, s)
                        }),
                        (avx512 && !manhattan, &|l, d, s| unsafe {
                            window_any_avx512::<false>(&win, l, d, s)
                        }),
                        (avx512 && manhattan, &|l, d, s| unsafe {
                            window_any_avx512::<true>(&win, l, d, s)
                        }),
                    ];
                    for (on, kernel) in vector {
                        if on {
                            assert_eq!(
                                run(kernel),
                                expect,
                                "{channels} channels len {len} a {a} L1 {manhattan}"
                            );
                            checked += 1;
                        }
                    }
                    taken += expect.0.iter().filter(|&&l| l == 4).count();
                }
            }
        }
        if avx2 || avx512 {
            assert!(checked >= 72, "{checked} kernels checked");
        }
        assert!(taken > 1000, "the windows take {taken} pixels");
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn vector_and_scalar_window_sums_agree_bit_for_bit() {
        let avx2 = std::arch::is_x86_feature_detected!("avx2");
        let avx512 = std::arch::is_x86_feature_detected!("avx512f");
        if !avx2 && !avx512 {
            eprintln!("skipped: this CPU has neither AVX2 nor AVX-512F");
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
        for (x0, len) in [
            (0usize, 1usize),
            (3, 7),
            (5, 8),
            (0, 9),
            (2, 15),
            (1, 16),
            (0, 17),
            (4, 24),
            (10, 41),
            (0, 53),
        ] {
            for rows in [(0usize, 1usize), (1, 5), (0, 16), (2, 17), (0, 37)] {
                let starts: Vec<(usize, u32)> =
                    (rows.0..rows.1).map(|y| (y * w + x0, y as u32)).collect();
                let g = RowGroup {
                    starts: &starts,
                    len,
                    label: 1,
                };
                let mut a = Lanes::<3>::new();
                group_portable(&g, &labels, &refs, &mut a);
                let bits = |l: &Lanes<3>| l.colour.map(|c| c.map(f32::to_bits));
                for (run, wide) in [(avx2, false), (avx512, true)] {
                    if !run {
                        continue;
                    }
                    let mut b = Lanes::<3>::new();
                    // SAFETY: run only when the CPU has the feature (detected above).
                    unsafe {
                        if wide {
                            group_avx512(&g, &labels, &refs, &mut b);
                        } else {
                            group_avx2(&g, &labels, &refs, &mut b);
                        }
                    }
                    assert_eq!((a.count, a.y, a.x), (b.count, b.y, b.x));
                    assert_eq!(bits(&a), bits(&b), "x0 {x0} len {len} rows {rows:?} {wide}");
                }
                hits += a.count.iter().sum::<u32>();
            }
        }
        assert!(hits > 1000, "the test windows hold the label: {hits}");
    }

    /// A window kernel.
    type Kernel = fn(&Window<'_>, &mut [u32], &mut [f32]);

    /// Runs `kernel` on a copy of the starting maps, returns the labels and distance bits.
    fn run_window(
        kernel: impl Fn(&Window<'_>, &mut [u32], &mut [f32]),
        win: &Window<'_>,
        start: &(Vec<u32>, Vec<f32>),
    ) -> (Vec<u32>, Vec<u32>) {
        let (mut l, mut d) = start.clone();
        kernel(win, &mut l, &mut d);
        (l, d.iter().map(|v| v.to_bits()).collect())
    }

    #[test]
    fn vector_and_scalar_kernels_agree_bit_for_bit() {
        let avx2 = std::arch::is_x86_feature_detected!("avx2");
        let avx512 = std::arch::is_x86_feature_detected!("avx512f");
        if !avx2 && !avx512 {
            eprintln!("skipped: this CPU has neither AVX2 nor AVX-512F");
            return;
        }
        let mut x = 12345u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / 1000.0
        };
        let (w, h) = (70usize, 12usize);
        // Features with a few huge values, whose distances overflow to infinity and are
        // clamped to f32::MAX, and a few NaNs.
        let planes: Vec<Vec<f32>> = (0..3)
            .map(|_| {
                (0..w * h)
                    .map(|i| match i % 97 {
                        5 => 3e30,
                        50 => f32::NAN,
                        _ => next() / 100.0,
                    })
                    .collect()
            })
            .collect();
        let refs: [&[f32]; 3] = [&planes[0], &planes[1], &planes[2]];
        let (mut checked, mut taken) = (0, 0);
        for len in [1usize, 7, 8, 9, 15, 16, 17, 33, 41, 64, 70] {
            for (rows, stride) in [(1usize, 1usize), (4, 1), (3, 2), (12, 1)] {
                for (a, manhattan) in [(1.0f32, false), (0.7, false), (1.0, true), (0.03, true)] {
                    let x0 = (w - len) / 2;
                    let dy: Vec<f32> = (0..rows).map(|_| next()).collect();
                    let xterm: Vec<f32> = (0..len).map(|_| next()).collect();
                    let win = Window {
                        planes: &refs,
                        at: w + x0,
                        band_at: x0,
                        step: stride * w,
                        dy: &dy[..rows.min((h - 1) / stride)],
                        xterm: &xterm,
                        col: &[5.0, 6.0, 7.0],
                        a,
                        label: 9,
                    };
                    // Starting distances around the new ones, some equal (ties keep the old
                    // label), so that about half of the pixels change.
                    let start = (
                        vec![1u32; w * h],
                        (0..w * h)
                            .map(|i| if i % 11 == 0 { 0.0 } else { next() * 60.0 })
                            .collect::<Vec<f32>>(),
                    );
                    let expect = if manhattan {
                        run_window(window_portable::<3, true>, &win, &start)
                    } else {
                        run_window(window_portable::<3, false>, &win, &start)
                    };
                    let kernels: [(bool, Kernel); 4] = [
                        // SAFETY (of each): run only when the CPU has the feature.
                        (avx2 && !manhattan, |w, l, d| unsafe {
                            window_avx2::<3, false>(w, l, d)
                        }),
                        (avx2 && manhattan, |w, l, d| unsafe {
                            window_avx2::<3, true>(w, l, d)
                        }),
                        (avx512 && !manhattan, |w, l, d| unsafe {
                            window_avx512::<3, false>(w, l, d)
                        }),
                        (avx512 && manhattan, |w, l, d| unsafe {
                            window_avx512::<3, true>(w, l, d)
                        }),
                    ];
                    for (run, kernel) in kernels {
                        if run {
                            assert_eq!(
                                run_window(kernel, &win, &start),
                                expect,
                                "len {len} rows {rows} stride {stride} a {a} L1 {manhattan}"
                            );
                            checked += 1;
                        }
                    }
                    taken += expect.0.iter().filter(|&&l| l == 9).count();
                }
            }
        }
        assert!(checked >= 176, "{checked} kernels checked");
        assert!(taken > 5000, "the windows take {taken} pixels");
    }
}
