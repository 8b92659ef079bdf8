//! Assignment: every pixel of a band of rows to the nearest centre whose window holds it.

#[cfg(target_arch = "x86_64")]
use super::x86::{window_avx2, window_avx512};
use super::*;

/// Lanes of the distance kernel: one AVX2 register of `f32`.
pub(super) const LANES: usize = 8;

/// Everything the assignment of one band needs besides its output slices.
pub(super) struct AssignCtx<'a, const C: usize> {
    pub(super) w: usize,
    /// The centres whose window reaches each band.
    pub(super) by_band: &'a CentresByBand,
    pub(super) planes: &'a [&'a [f32]; C],
    pub(super) centres: &'a Centres<C>,
    pub(super) grid: &'a Grid,
    /// Per-cluster weight of the squared colour distance.
    pub(super) colour_weight: &'a [f32],
    /// Weight of the squared spatial distance.
    pub(super) spatial_weight: f32,
    /// Spacing along rows and columns.
    pub(super) spacing: [f32; 2],
    /// City-block distances (`SlicDistance::Manhattan`) instead of squared Euclidean ones.
    pub(super) manhattan: bool,
    /// The rows this pass assigns.
    pub(super) rows: Rows,
}

/// For each band of [`BAND_ROWS`] rows, the centres whose search window reaches it, in index
/// order (so a band visits them in the order it would visit all centres, and ties go the same
/// way): a band then skips the centres far from it without even computing their windows.
pub(super) struct CentresByBand {
    /// Band `b`'s centres are `list[start[b]..start[b + 1]]`.
    start: Vec<usize>,
    list: Vec<u32>,
}

impl CentresByBand {
    pub(super) fn of<const C: usize>(centres: &Centres<C>, grid: &Grid, h: usize) -> Self {
        let bands = h.div_ceil(BAND_ROWS);
        // The bands `b0..=b1` that each centre's window reaches, if any.
        let reach: Vec<Option<(usize, usize)>> = (0..centres.len())
            .map(|k| {
                let (ys, xs) = grid.window(centres.y[k], centres.x[k], 0, h);
                (!ys.is_empty() && !xs.is_empty())
                    .then(|| (ys.start / BAND_ROWS, (ys.end - 1) / BAND_ROWS))
            })
            .collect();
        let mut start = vec![0usize; bands + 1];
        for &(b0, b1) in reach.iter().flatten() {
            for b in b0..=b1 {
                start[b + 1] += 1;
            }
        }
        for b in 1..start.len() {
            start[b] += start[b - 1];
        }
        let mut cursor = start.clone();
        let mut list = vec![0u32; start[bands]];
        for (k, span) in reach.iter().enumerate() {
            if let Some((b0, b1)) = *span {
                for b in b0..=b1 {
                    list[cursor[b]] = k as u32;
                    cursor[b] += 1;
                }
            }
        }
        CentresByBand { start, list }
    }

    fn of_band(&self, band: usize) -> &[u32] {
        &self.list[self.start[band]..self.start[band + 1]]
    }
}

/// The rows one iteration works on: `y % stride == phase`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rows {
    pub(super) stride: usize,
    pub(super) phase: usize,
}

impl Rows {
    pub(super) fn takes(self, y: usize) -> bool {
        y % self.stride == self.phase
    }

    /// The first row at or after `y` that this pass takes.
    pub(super) fn first_from(self, y: usize) -> usize {
        y + (self.phase + self.stride - y % self.stride) % self.stride
    }
}

/// Assigns the pixels of one band (rows `y0..`) to their nearest centre.
pub(super) fn assign_band<const C: usize>(
    ctx: &AssignCtx<'_, C>,
    y0: usize,
    labels: &mut [u32],
    dist: &mut [f32],
) {
    if ctx.manhattan {
        assign_band_on_cpu::<C, true>(ctx, y0, labels, dist);
    } else {
        assign_band_on_cpu::<C, false>(ctx, y0, labels, dist);
    }
}

/// Which kernel runs the assignment.
pub(super) const PORTABLE: u8 = 0;
/// AVX2: eight lanes of `f32`.
pub(super) const AVX2: u8 = 1;
/// AVX-512F: sixteen lanes of `f32`, masked loads and stores for the last partial group.
pub(super) const AVX512: u8 = 2;

/// [`assign_band_with`] with the widest vector kernel the CPU has.
pub(super) fn assign_band_on_cpu<const C: usize, const L1: bool>(
    ctx: &AssignCtx<'_, C>,
    y0: usize,
    labels: &mut [u32],
    dist: &mut [f32],
) {
    // Runtime dispatch by hand: `is_x86_feature_detected!` plus `#[target_feature]` is the
    // standard library's own mechanism (it caches the answer), and the kernels are all that
    // need it.
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU supports AVX-512F, checked just above.
        unsafe { assign_band_avx512::<C, L1>(ctx, y0, labels, dist) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { assign_band_avx2::<C, L1>(ctx, y0, labels, dist) };
        return;
    }
    assign_band_with::<C, PORTABLE, L1>(ctx, y0, labels, dist);
}

/// The assignment loop; `KERNEL` selects the window kernel ([`PORTABLE`], [`AVX2`] or
/// [`AVX512`]; the vector ones only on a CPU that has them: only [`assign_band_avx2`] and
/// [`assign_band_avx512`] request them); `L1` selects city-block distances.
#[inline(always)]
pub(super) fn assign_band_with<const C: usize, const KERNEL: u8, const L1: bool>(
    ctx: &AssignCtx<'_, C>,
    y0: usize,
    labels: &mut [u32],
    dist: &mut [f32],
) {
    let w = ctx.w;
    let rows = labels.len() / w;
    let y1 = y0 + rows;
    let rx = ctx.grid.reach.1;
    let [sy, sx] = ctx.spacing;
    let b = ctx.spatial_weight;
    let centres = ctx.centres;
    // Squared, weighted horizontal distance of each window column, reused on every row.
    let mut xterm = vec![0.0f32; 2 * rx + 1 + LANES];
    // Weighted vertical distance of each window row in the band.
    let mut dy = vec![0.0f32; rows];
    for &k in ctx.by_band.of_band(y0 / BAND_ROWS) {
        let k = k as usize;
        let (cy, cx) = (centres.y[k], centres.x[k]);
        let (ys, xs) = ctx.grid.window(cy, cx, y0, y1);
        let (wy0, wy1, wx0) = (ys.start, ys.end, xs.start);
        if ys.is_empty() || xs.is_empty() {
            continue;
        }
        let first = ctx.rows.first_from(wy0);
        let mut n = 0;
        for y in (first..wy1).step_by(ctx.rows.stride) {
            let d = (y as f32 - cy) * sy;
            dy[n] = if L1 { b * d.abs() } else { b * d * d };
            n += 1;
        }
        if n == 0 {
            continue;
        }
        let len = xs.len();
        for (i, t) in xterm[..len].iter_mut().enumerate() {
            let dx = ((wx0 + i) as f32 - cx) * sx;
            *t = if L1 { b * dx.abs() } else { b * dx * dx };
        }
        let win = Window {
            planes: ctx.planes,
            at: first * w + wx0,
            band_at: (first - y0) * w + wx0,
            step: ctx.rows.stride * w,
            dy: &dy[..n],
            xterm: &xterm[..len],
            col: centres.colour[k],
            a: ctx.colour_weight[k],
            label: k as u32,
        };
        #[cfg(target_arch = "x86_64")]
        if KERNEL == AVX512 {
            // SAFETY: AVX-512F is only requested after the CPU was checked for it.
            unsafe { window_avx512::<C, L1>(&win, labels, dist) };
            continue;
        }
        #[cfg(target_arch = "x86_64")]
        if KERNEL == AVX2 {
            // SAFETY: AVX2 is only requested after the CPU was checked for it.
            unsafe { window_avx2::<C, L1>(&win, labels, dist) };
            continue;
        }
        window_portable::<C, L1>(&win, labels, dist);
    }
}

/// One centre's search window within a band: its rows (those the pass takes), its columns
/// and the constants of its distance.
pub(super) struct Window<'a, const C: usize> {
    /// The whole image's feature planes.
    pub(super) planes: &'a [&'a [f32]; C],
    /// Offset of the window's first pixel in the planes.
    pub(super) at: usize,
    /// Offset of the same pixel in the band's labels and distances.
    pub(super) band_at: usize,
    /// Pixels from one window row to the next.
    pub(super) step: usize,
    /// Weighted vertical distance of each window row (squared unless L1).
    pub(super) dy: &'a [f32],
    /// Weighted horizontal distance of each window column (squared unless L1); its length
    /// is the window's width.
    pub(super) xterm: &'a [f32],
    pub(super) col: [f32; C],
    /// Weight of the colour distance.
    pub(super) a: f32,
    pub(super) label: u32,
}

impl<const C: usize> Window<'_, C> {
    /// Whether every row of the window lies inside the planes and inside band maps of
    /// `band_len` pixels.
    pub(super) fn fits(&self, band_len: usize) -> bool {
        let Some(last) = self.dy.len().checked_sub(1) else {
            return true;
        };
        let span = last * self.step + self.xterm.len();
        self.band_at + span <= band_len && self.planes.iter().all(|p| self.at + span <= p.len())
    }
}

/// The window row by row with the scalar [`row_kernel`].
pub(super) fn window_portable<const C: usize, const L1: bool>(
    win: &Window<'_, C>,
    labels: &mut [u32],
    dist: &mut [f32],
) {
    let len = win.xterm.len();
    for (r, &dy2) in win.dy.iter().enumerate() {
        let (g, l) = (win.at + r * win.step, win.band_at + r * win.step);
        let feats: [&[f32]; C] = std::array::from_fn(|c| &win.planes[c][g..g + len]);
        let row = Row {
            feats: &feats,
            col: &win.col,
            a: win.a,
            dy2,
            xterm: win.xterm,
            label: win.label,
        };
        row_kernel::<C, L1>(&row, 0, &mut labels[l..l + len], &mut dist[l..l + len]);
    }
}

/// One window row of one centre.
pub(super) struct Row<'a, const C: usize> {
    pub(super) feats: &'a [&'a [f32]; C],
    pub(super) col: &'a [f32; C],
    /// Weight of the squared colour distance.
    pub(super) a: f32,
    /// Weighted vertical distance (squared unless L1).
    pub(super) dy2: f32,
    /// Weighted horizontal distance per column (squared unless L1).
    pub(super) xterm: &'a [f32],
    pub(super) label: u32,
}

/// The inner loop over one window row, from column `from` on, pixel by pixel:
/// `d = min(a * |f - col|^2 + xterm + dy2, f32::MAX)` (with `L1`, `|f - col|_1` instead of
/// the squared norm), keeping the first of equal distances.
/// The clamp (which also maps NaN to `f32::MAX`) makes every visited pixel take a label even
/// when extreme parameters or samples overflow the distance.
#[inline(always)]
pub(super) fn row_kernel<const C: usize, const L1: bool>(
    row: &Row<'_, C>,
    from: usize,
    lr: &mut [u32],
    dr: &mut [f32],
) {
    let len = lr.len().min(dr.len()).min(row.xterm.len());
    for i in from..len {
        let mut dc = 0.0f32;
        for c in 0..C {
            let t = row.feats[c][i] - row.col[c];
            dc += if L1 { t.abs() } else { t * t };
        }
        let d = (row.a * dc + row.xterm[i] + row.dy2).min(f32::MAX);
        if d < dr[i] {
            dr[i] = d;
            lr[i] = row.label;
        }
    }
}
