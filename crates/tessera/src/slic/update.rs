//! The centre update: each centre moves to the mean of its pixels.

use super::*;

/// Moves every centre to the mean position and colour of its pixels; a centre with no pixel
/// stays where it is.
///
/// Each centre sums its own pixels by scanning its search window for its label (a pixel
/// only ever takes the label of a centre whose window holds it), eight lanes at a time. This
/// visits each pixel about four times but without branches or a chain of dependent additions,
/// and is several times faster than one pass that adds each pixel (or run of equal labels) to
/// its centre's sums. Centres are independent, so the result does not depend on the thread
/// count.
pub(super) fn update_centres<const C: usize>(
    w: usize,
    planes: &[&[f32]; C],
    labels: &[u32],
    centres: &mut Centres<C>,
    grid: &Grid,
    rows: Rows,
) {
    let h = labels.len() / w;
    let means: Vec<Option<(f32, f32, [f32; C])>> = (0..centres.len())
        .into_par_iter()
        .with_min_len(16)
        .map(|k| {
            let (ys, xs) = grid.window(centres.y[k], centres.x[k], 0, h);
            if ys.is_empty() || xs.is_empty() {
                return None;
            }
            let sums = window_sums(w, planes, labels, k as u32, ys, xs.clone(), rows);
            (sums.count > 0).then(|| {
                let n = sums.count as f64;
                (
                    (sums.y as f64 / n) as f32,
                    ((sums.x as f64 + n * xs.start as f64) / n) as f32,
                    std::array::from_fn(|c| (sums.colour[c] / n) as f32),
                )
            })
        })
        .collect();
    for (k, mean) in means.into_iter().enumerate() {
        if let Some((y, x, colour)) = mean {
            centres.y[k] = y;
            centres.x[k] = x;
            centres.colour[k] = colour;
        }
    }
}

/// What [`window_sums`] adds up for one centre.
pub(super) struct WindowSums<const C: usize> {
    /// Pixels with the label.
    pub(super) count: u64,
    /// Sum of their rows.
    pub(super) y: u64,
    /// Sum of their columns, counted from the window's first column.
    pub(super) x: u64,
    /// Sums of their features.
    pub(super) colour: [f64; C],
}

/// Per-lane partial sums over a group of window rows: lane `j` holds the columns `j, j + 8,
/// ...` of the window. The group is small enough that the `u32` sums cannot overflow and the
/// `f32` sums lose nothing that matters; groups are totalled in `u64` and `f64`.
pub(super) struct Lanes<const C: usize> {
    pub(super) count: [u32; LANES],
    pub(super) y: [u32; LANES],
    pub(super) x: [u32; LANES],
    pub(super) colour: [[f32; LANES]; C],
}

impl<const C: usize> Lanes<C> {
    pub(super) fn new() -> Self {
        Lanes {
            count: [0; LANES],
            y: [0; LANES],
            x: [0; LANES],
            colour: [[0.0; LANES]; C],
        }
    }

    /// Adds the lanes into the window totals.
    pub(super) fn total_into(&self, out: &mut WindowSums<C>) {
        let sum = |v: &[u32; LANES]| v.iter().map(|&x| u64::from(x)).sum::<u64>();
        out.count += sum(&self.count);
        out.y += sum(&self.y);
        out.x += sum(&self.x);
        for (o, lanes) in out.colour.iter_mut().zip(&self.colour) {
            *o += lanes.iter().map(|&v| f64::from(v)).sum::<f64>();
        }
    }
}

/// One group of window rows for [`window_sums`]: the rows' start offsets, the window width,
/// and the label looked for.
pub(super) struct RowGroup<'a> {
    pub(super) starts: &'a [(usize, u32)],
    pub(super) len: usize,
    pub(super) label: u32,
}

/// Sums over the pixels labelled `label` in rows `ys` (those `rows` takes) and columns `xs`.
///
/// The AVX2 and AVX-512 kernels and the portable loop add the same values (a pixel with another label adds
/// zero) in the same lanes and order, so they give the same sums.
pub(super) fn window_sums<const C: usize>(
    w: usize,
    planes: &[&[f32]; C],
    labels: &[u32],
    label: u32,
    ys: Range<usize>,
    xs: Range<usize>,
    rows: Rows,
) -> WindowSums<C> {
    let mut out = WindowSums {
        count: 0,
        y: 0,
        x: 0,
        colour: [0.0; C],
    };
    let len = xs.len();
    let h = labels.len() / w;
    // Rows per group: at most 16, and few enough that a lane's sum of rows, columns or hits
    // (at most rows * ceil(len / 8) values below max(h, len)) stays below 2^31.
    let per_lane = len.div_ceil(LANES).max(1) * h.max(len).max(1);
    let group = (i32::MAX as usize / per_lane).clamp(1, 16);
    #[cfg(target_arch = "x86_64")]
    let (avx2, avx512) = (
        std::arch::is_x86_feature_detected!("avx2"),
        std::arch::is_x86_feature_detected!("avx512f"),
    );
    let mut starts = [(0usize, 0u32); 16];
    let mut taken = (rows.first_from(ys.start)..ys.end)
        .step_by(rows.stride)
        .peekable();
    while taken.peek().is_some() {
        let mut n = 0;
        for y in taken.by_ref().take(group) {
            starts[n] = (y * w + xs.start, y as u32);
            n += 1;
        }
        let g = RowGroup {
            starts: &starts[..n],
            len,
            label,
        };
        let mut lanes = Lanes::new();
        #[cfg(target_arch = "x86_64")]
        if avx512 {
            // SAFETY: the CPU supports AVX-512F, checked above.
            unsafe { group_avx512(&g, labels, planes, &mut lanes) };
            lanes.total_into(&mut out);
            continue;
        }
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: the CPU supports AVX2, checked above.
            unsafe { group_avx2(&g, labels, planes, &mut lanes) };
            lanes.total_into(&mut out);
            continue;
        }
        group_portable(&g, labels, planes, &mut lanes);
        lanes.total_into(&mut out);
    }
    out
}

/// A group of window rows pixel by pixel, each into lane `column % 8`.
#[allow(clippy::needless_range_loop)] // channels index two arrays in step
pub(super) fn group_portable<const C: usize>(
    g: &RowGroup<'_>,
    labels: &[u32],
    planes: &[&[f32]; C],
    lanes: &mut Lanes<C>,
) {
    for &(at, y) in g.starts {
        for i in 0..g.len {
            let j = i % LANES;
            let hit = labels[at + i] == g.label;
            lanes.count[j] += u32::from(hit);
            lanes.y[j] += if hit { y } else { 0 };
            lanes.x[j] += if hit { i as u32 } else { 0 };
            for c in 0..C {
                lanes.colour[c][j] += if hit { planes[c][at + i] } else { 0.0 };
            }
        }
    }
}
