//! The centre update: each centre moves to the mean of its pixels.

use super::*;

/// Moves every centre to the mean position and colour of its pixels; a centre with no pixel
/// stays where it is.
///
/// Each centre sums its own pixels by scanning its search window for its label (a pixel
/// only ever takes the label of a centre whose window holds it), eight lanes at a time. This
/// visits each pixel about four times but without branches or a chain of dependent additions,
/// and is several times faster than one pass that adds each pixel (or run of equal labels) to
/// its centre's sums. Centres are independent, and each sums its window slice after slice,
/// so the result does not depend on the thread count.
///
/// `C` is the channel count, or 0 for any count: the channels are then summed in blocks of
/// up to four with the fixed-channel kernels (a channel's sums do not depend on the other
/// channels of its block, so they are the bits a fixed-channel run gives).
pub(super) fn update_centres<const C: usize>(
    shape: Shape,
    planes: &[&[f32]],
    labels: &[u32],
    centres: &mut Centres,
    grid: &Grid,
    rows: Rows,
) {
    let all: Vec<u32> = (0..centres.len() as u32).collect();
    let means = centre_means::<C>(
        shape,
        Frame::whole(shape),
        planes,
        labels,
        centres,
        grid,
        rows,
        &all,
    );
    means.for_each(|i, at, colour| centres.set(i, at, colour));
}

/// The new position and features of the centres `ks`: the means of their pixels, `None` for
/// a centre without any. `planes` and `labels` hold `frame`, which must hold the centres'
/// whole windows (a tiled run passes the centres its tile owns).
#[allow(clippy::too_many_arguments)] // the buffers and their geometry, all needed
pub(super) fn centre_means<const C: usize>(
    shape: Shape,
    frame: Frame,
    planes: &[&[f32]],
    labels: &[u32],
    centres: &Centres,
    grid: &Grid,
    rows: Rows,
    ks: &[u32],
) -> Means<C> {
    let window = |k: usize| {
        let (zs, ys, xs) = grid.window(centres.at(k), 0, shape.h);
        debug_assert!(
            ys.start >= frame.y0 && ys.end <= frame.y0 + frame.h,
            "the frame holds the window"
        );
        debug_assert!(xs.start >= frame.x0 && xs.end <= frame.x0 + frame.w);
        (!zs.is_empty() && !ys.is_empty() && !xs.is_empty()).then_some(SumWindow {
            shape,
            frame,
            labels,
            label: k as u32,
            zs,
            ys,
            xs,
            rows,
        })
    };
    if C > 0 {
        Means::Fixed(
            ks.par_iter()
                .with_min_len(16)
                .map(|&k| {
                    let win = window(k as usize)?;
                    let s = win.sums::<C>(planes);
                    let n = s.count as f64;
                    (s.count > 0).then(|| {
                        (
                            win.mean_position(s.count, s.y, s.x, s.z),
                            std::array::from_fn(|c| (s.colour[c] / n) as f32),
                        )
                    })
                })
                .collect(),
        )
    } else {
        Means::Any(
            ks.par_iter()
                .with_min_len(16)
                .map(|&k| {
                    let win = window(k as usize)?;
                    let mut colour = vec![0.0f32; planes.len()];
                    let mut first = None;
                    for (b, block) in planes.chunks(FIXED_CHANNELS).enumerate() {
                        let out = &mut colour[b * FIXED_CHANNELS..][..block.len()];
                        let sums = match block.len() {
                            1 => win.block::<1>(block, out),
                            2 => win.block::<2>(block, out),
                            3 => win.block::<3>(block, out),
                            _ => win.block::<4>(block, out),
                        };
                        first.get_or_insert(sums);
                    }
                    let (count, y, x, z) = first?;
                    (count > 0).then(|| (win.mean_position(count, y, x, z), colour))
                })
                .collect(),
        )
    }
}

/// The centre means [`centre_means`] found, one per centre asked for, in its order.
pub(super) enum Means<const C: usize> {
    /// With the channels unrolled.
    Fixed(Vec<Option<([f32; 3], [f32; C])>>),
    /// Any channel count.
    Any(Vec<Option<([f32; 3], Vec<f32>)>>),
}

impl<const C: usize> Means<C> {
    /// Calls `f(i, position, features)` for the `i`-th centre asked for, if it has pixels.
    pub(super) fn for_each(self, mut f: impl FnMut(usize, [f32; 3], &[f32])) {
        match self {
            Means::Fixed(v) => v
                .into_iter()
                .enumerate()
                .for_each(|(i, m)| m.into_iter().for_each(|(at, c)| f(i, at, &c))),
            Means::Any(v) => v
                .into_iter()
                .enumerate()
                .for_each(|(i, m)| m.into_iter().for_each(|(at, c)| f(i, at, &c))),
        }
    }
}

/// The means of a centre's features from their sums over `count` pixels (none: unchanged).
fn write_means(out: &mut [f32], sums: &[f64], count: u64) {
    if count > 0 {
        let n = count as f64;
        for (o, &s) in out.iter_mut().zip(sums) {
            *o = (s / n) as f32;
        }
    }
}

/// One centre's search window, to sum over.
struct SumWindow<'a> {
    shape: Shape,
    /// The part of the image `labels` (and the planes) hold.
    frame: Frame,
    labels: &'a [u32],
    label: u32,
    zs: Range<usize>,
    ys: Range<usize>,
    xs: Range<usize>,
    rows: Rows,
}

impl SumWindow<'_> {
    /// The window's sums over the `C` planes (see [`window_sums`]).
    fn sums<const C: usize>(&self, planes: &[&[f32]]) -> WindowSums<C> {
        let pl: [&[f32]; C] = std::array::from_fn(|c| planes[c]);
        window_sums(self, &pl)
    }

    /// [`SumWindow::sums`] over one block of `B` planes, writing their means into `out`;
    /// returns the count and the row, column and slice sums.
    fn block<const B: usize>(&self, planes: &[&[f32]], out: &mut [f32]) -> (u64, u64, u64, u64) {
        let s = self.sums::<B>(planes);
        write_means(out, &s.colour, s.count);
        (s.count, s.y, s.x, s.z)
    }

    /// The mean position (slice, row, column) of `count > 0` pixels from the sums of their
    /// slices, rows and columns (counted from the window's first column).
    fn mean_position(&self, count: u64, y: u64, x: u64, z: u64) -> [f32; 3] {
        let n = count as f64;
        [
            (z as f64 / n) as f32,
            (y as f64 / n) as f32,
            ((x as f64 + n * self.xs.start as f64) / n) as f32,
        ]
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
    /// Sum of their slices.
    pub(super) z: u64,
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

/// The sums over the pixels labelled `label` in the window (the rows `rows` takes),
/// slice after slice.
///
/// The AVX2 and AVX-512 kernels and the portable loop add the same values (a pixel with
/// another label adds zero) in the same lanes and order, so they give the same sums.
fn window_sums<const C: usize>(win: &SumWindow<'_>, planes: &[&[f32]; C]) -> WindowSums<C> {
    let mut out = WindowSums {
        count: 0,
        y: 0,
        x: 0,
        z: 0,
        colour: [0.0; C],
    };
    let (ys, xs, rows, label, labels) = (&win.ys, &win.xs, win.rows, win.label, win.labels);
    let h = win.shape.h;
    let len = xs.len();
    // Rows per group: at most 16, and few enough that a lane's sum of rows, columns or hits
    // (at most rows * ceil(len / 8) values below max(h, len)) stays below 2^31.
    let per_lane = len.div_ceil(LANES).max(1) * h.max(len).max(1);
    let group = (i32::MAX as usize / per_lane).clamp(1, 16);
    #[cfg(target_arch = "x86_64")]
    let (avx2, avx512) = (
        std::arch::is_x86_feature_detected!("avx2"),
        std::arch::is_x86_feature_detected!("avx512f"),
    );
    for z in win.zs.clone() {
        let before = out.count;
        let mut starts = [(0usize, 0u32); 16];
        let mut taken = (rows.first_from(ys.start)..ys.end)
            .step_by(rows.stride)
            .peekable();
        while taken.peek().is_some() {
            let mut n = 0;
            for y in taken.by_ref().take(group) {
                starts[n] = (win.frame.index(z, y, xs.start), y as u32);
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
        out.z += z as u64 * (out.count - before);
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
