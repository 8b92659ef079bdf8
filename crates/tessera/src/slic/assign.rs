//! Assignment: every pixel of a band of rows to the nearest centre whose window holds it.

#[cfg(target_arch = "x86_64")]
use super::x86::{window_avx2, window_avx512};
use super::*;

/// Lanes of the distance kernel: one AVX2 register of `f32`.
pub(super) const LANES: usize = 8;

/// Everything the assignment of one band needs besides its output slices.
pub(super) struct AssignCtx<'a> {
    pub(super) shape: Shape,
    /// The part of the image the planes, labels and distances hold.
    pub(super) frame: Frame,
    /// The centres whose window reaches each band.
    pub(super) by_band: &'a CentresByBand,
    pub(super) planes: &'a [&'a [f32]],
    pub(super) centres: &'a Centres,
    pub(super) grid: &'a Grid,
    /// Per-cluster weight of the squared colour distance.
    pub(super) colour_weight: &'a [f32],
    /// Weight of the squared spatial distance.
    pub(super) spatial_weight: f32,
    /// Spacing along slices, rows and columns.
    pub(super) spacing: [f32; 3],
    /// City-block distances (`SlicDistance::Manhattan`) instead of squared Euclidean ones.
    pub(super) manhattan: bool,
    /// The rows this pass assigns.
    pub(super) rows: Rows,
    /// Each centre's column terms.
    pub(super) columns: &'a ColumnTerms,
}

/// The weighted horizontal distance (squared unless city-block) of each column of each
/// centre's window: the same in every band and slice the window reaches, so computed once
/// an iteration rather than once a band.
pub(super) struct ColumnTerms {
    /// Centre `k`'s terms are `terms[k * stride..][..len[k]]`.
    stride: usize,
    len: Vec<usize>,
    terms: Vec<f32>,
}

impl ColumnTerms {
    pub(super) fn of(centres: &Centres, grid: &Grid, sx: f32, b: f32, manhattan: bool) -> Self {
        let stride = 2 * grid.reach[2] + 1;
        let nc = centres.len();
        let mut len = vec![0usize; nc];
        let mut terms = vec![0.0f32; nc * stride];
        for (k, (n, t)) in len.iter_mut().zip(terms.chunks_mut(stride)).enumerate() {
            let cx = centres.x[k];
            let (_, _, xs) = grid.window(centres.at(k), 0, 1);
            *n = xs.len().min(stride);
            for (i, t) in t[..*n].iter_mut().enumerate() {
                let dx = ((xs.start + i) as f32 - cx) * sx;
                *t = if manhattan { b * dx.abs() } else { b * dx * dx };
            }
        }
        ColumnTerms { stride, len, terms }
    }

    fn of_centre(&self, k: usize) -> &[f32] {
        &self.terms[k * self.stride..][..self.len[k]]
    }
}

/// For each band of [`BAND_ROWS`] rows of each slice (band `b` of slice `z` is band
/// `z * bands_per_slice + b`), the centres whose search window reaches it, in index order (so
/// a band visits them in the order it would visit all centres, and ties go the same way): a
/// band then skips the centres far from it without even computing their windows.
pub(super) struct CentresByBand {
    /// Band `b`'s centres are `list[start[b]..start[b + 1]]`.
    start: Vec<usize>,
    list: Vec<u32>,
}

impl CentresByBand {
    /// The lists for the bands of `frame` (band `b` of a slice holds the frame's rows
    /// `b * BAND_ROWS..`), of the centres whose window reaches into the frame.
    pub(super) fn of(centres: &Centres, grid: &Grid, shape: Shape, frame: Frame) -> Self {
        let bps = frame.bands_per_slice();
        let bands = shape.d * bps;
        // The slices `zs` and the bands `b0..=b1` of each slice that each centre's window
        // reaches, if any.
        let reach: Vec<Option<(Range<usize>, usize, usize)>> = (0..centres.len())
            .map(|k| {
                let (zs, ys, xs) = grid.window(centres.at(k), frame.y0, frame.y0 + frame.h);
                let xs = frame.clip_columns(&xs);
                (!zs.is_empty() && !ys.is_empty() && !xs.is_empty()).then(|| {
                    (
                        zs,
                        (ys.start - frame.y0) / BAND_ROWS,
                        (ys.end - 1 - frame.y0) / BAND_ROWS,
                    )
                })
            })
            .collect();
        let mut start = vec![0usize; bands + 1];
        for (zs, b0, b1) in reach.iter().flatten() {
            for z in zs.clone() {
                for b in *b0..=*b1 {
                    start[z * bps + b + 1] += 1;
                }
            }
        }
        for b in 1..start.len() {
            start[b] += start[b - 1];
        }
        let mut cursor = start.clone();
        let mut list = vec![0u32; start[bands]];
        for (k, span) in reach.iter().enumerate() {
            if let Some((zs, b0, b1)) = span {
                for z in zs.clone() {
                    for b in *b0..=*b1 {
                        let band = z * bps + b;
                        list[cursor[band]] = k as u32;
                        cursor[band] += 1;
                    }
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

/// Assigns the pixels of one band (band `band % bands_per_slice` of slice
/// `band / bands_per_slice`) to their nearest centre. `C` is the channel count, or 0 for any
/// count.
pub(super) fn assign_band<const C: usize>(
    ctx: &AssignCtx<'_>,
    band: usize,
    labels: &mut [u32],
    dist: &mut [f32],
) {
    if ctx.manhattan {
        assign_band_on_cpu::<C, true>(ctx, band, labels, dist);
    } else {
        assign_band_on_cpu::<C, false>(ctx, band, labels, dist);
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
    ctx: &AssignCtx<'_>,
    band: usize,
    labels: &mut [u32],
    dist: &mut [f32],
) {
    // Runtime dispatch by hand: `is_x86_feature_detected!` plus `#[target_feature]` is the
    // standard library's own mechanism (it caches the answer), and the kernels are all that
    // need it.
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU supports AVX-512F, checked just above.
        unsafe { assign_band_avx512::<C, L1>(ctx, band, labels, dist) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { assign_band_avx2::<C, L1>(ctx, band, labels, dist) };
        return;
    }
    assign_band_with::<C, PORTABLE, L1>(ctx, band, labels, dist);
}

/// The assignment loop; `KERNEL` selects the window kernel ([`PORTABLE`], [`AVX2`] or
/// [`AVX512`]; the vector ones only on a CPU that has them: only [`assign_band_avx2`] and
/// [`assign_band_avx512`] request them); `L1` selects city-block distances. With `C = 0`
/// (any channel count) every kernel is [`window_any`], compiled for the requested
/// instructions.
///
/// In a volume a window row's distance to the centre adds the slice term to the row term
/// (`dy`); in an image there is no slice term, and nothing is added.
#[inline(always)]
pub(super) fn assign_band_with<const C: usize, const KERNEL: u8, const L1: bool>(
    ctx: &AssignCtx<'_>,
    band: usize,
    labels: &mut [u32],
    dist: &mut [f32],
) {
    let frame = ctx.frame;
    let bps = frame.bands_per_slice();
    // The band's rows in image coordinates.
    let (z, y0) = (band / bps, frame.y0 + band % bps * BAND_ROWS);
    let volume = ctx.shape.is_volume();
    let w = frame.w;
    let rows = labels.len() / w;
    let y1 = y0 + rows;
    let rx = ctx.grid.reach[2];
    let [sz, sy, _] = ctx.spacing;
    let b = ctx.spatial_weight;
    let centres = ctx.centres;
    // Weighted vertical distance of each window row in the band.
    let mut dy = vec![0.0f32; rows];
    // The feature distances of one window row, for `window_any`.
    let mut scratch = vec![0.0f32; if C == 0 { 2 * rx + 1 } else { 0 }];
    for &k in ctx.by_band.of_band(band) {
        let k = k as usize;
        let at = centres.at(k);
        let [cz, cy, _] = at;
        let (zs, ys, whole_xs) = ctx.grid.window(at, y0, y1);
        let xs = frame.clip_columns(&whole_xs);
        let (wy0, wy1, wx0) = (ys.start, ys.end, xs.start);
        if ys.is_empty() || xs.is_empty() || !zs.contains(&z) {
            continue;
        }
        let zterm = {
            let d = (z as f32 - cz) * sz;
            if L1 { b * d.abs() } else { b * d * d }
        };
        let first = ctx.rows.first_from(wy0);
        let mut n = 0;
        for y in (first..wy1).step_by(ctx.rows.stride) {
            let d = (y as f32 - cy) * sy;
            let t = if L1 { b * d.abs() } else { b * d * d };
            dy[n] = if volume { t + zterm } else { t };
            n += 1;
        }
        if n == 0 {
            continue;
        }
        // The window's columns inside the frame (all of them unless the run is tiled).
        let skip = wx0 - whole_xs.start;
        let xterm = &ctx.columns.of_centre(k)[skip..skip + xs.len()];
        let win = Window {
            planes: ctx.planes,
            at: frame.index(z, first, wx0),
            band_at: (first - y0) * w + wx0 - frame.x0,
            step: ctx.rows.stride * w,
            dy: &dy[..n],
            xterm,
            col: centres.colour(k),
            a: ctx.colour_weight[k],
            label: k as u32,
        };
        if C == 0 {
            window_any::<L1>(&win, labels, dist, &mut scratch);
            continue;
        }
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
pub(super) struct Window<'a> {
    /// The whole image's feature planes.
    pub(super) planes: &'a [&'a [f32]],
    /// Offset of the window's first pixel in the planes.
    pub(super) at: usize,
    /// Offset of the same pixel in the band's labels and distances.
    pub(super) band_at: usize,
    /// Pixels from one window row to the next.
    pub(super) step: usize,
    /// Weighted distance of each window row from the centre (squared unless L1; in a volume
    /// the slice's distance included).
    pub(super) dy: &'a [f32],
    /// Weighted horizontal distance of each window column (squared unless L1); its length
    /// is the window's width.
    pub(super) xterm: &'a [f32],
    /// The centre's features, one a plane.
    pub(super) col: &'a [f32],
    /// Weight of the colour distance.
    pub(super) a: f32,
    pub(super) label: u32,
}

impl Window<'_> {
    /// Whether every row of the window lies inside the planes and inside band maps of
    /// `band_len` pixels, and the centre has a feature for each plane.
    pub(super) fn fits(&self, band_len: usize) -> bool {
        if self.col.len() != self.planes.len() {
            return false;
        }
        let Some(last) = self.dy.len().checked_sub(1) else {
            return true;
        };
        let span = last * self.step + self.xterm.len();
        self.band_at + span <= band_len && self.planes.iter().all(|p| self.at + span <= p.len())
    }

    /// The centre's features as an array of the `C` a fixed-channel kernel unrolls.
    pub(super) fn col_array<const C: usize>(&self) -> [f32; C] {
        std::array::from_fn(|c| self.col[c])
    }
}

/// The window row by row with the scalar [`row_kernel`].
pub(super) fn window_portable<const C: usize, const L1: bool>(
    win: &Window<'_>,
    labels: &mut [u32],
    dist: &mut [f32],
) {
    let len = win.xterm.len();
    let col = win.col_array::<C>();
    for (r, &dy2) in win.dy.iter().enumerate() {
        let (g, l) = (win.at + r * win.step, win.band_at + r * win.step);
        let feats: [&[f32]; C] = std::array::from_fn(|c| &win.planes[c][g..g + len]);
        let row = Row {
            feats: &feats,
            col: &col,
            a: win.a,
            dy2,
            xterm: win.xterm,
            label: win.label,
        };
        row_kernel::<C, L1>(&row, 0, &mut labels[l..l + len], &mut dist[l..l + len]);
    }
}

/// The window row by row for any number of channels: the row's feature distances are summed
/// plane after plane into `scratch` (at least the window's width), then combined with the
/// spatial terms and compared, pixel by pixel, with the same operations in the same order as
/// [`row_kernel`] (so a three-channel image gives the three-channel kernels' bits). Plain
/// loops over flat slices that the compiler vectorises for the instructions of the
/// [`assign_band_with`] it is inlined into.
#[inline(always)]
pub(super) fn window_any<const L1: bool>(
    win: &Window<'_>,
    labels: &mut [u32],
    dist: &mut [f32],
    scratch: &mut [f32],
) {
    let len = win.xterm.len();
    assert!(win.fits(labels.len().min(dist.len())) && scratch.len() >= len);
    let acc = &mut scratch[..len];
    for (r, &dy2) in win.dy.iter().enumerate() {
        let (g, l) = (win.at + r * win.step, win.band_at + r * win.step);
        acc.fill(0.0);
        for (plane, &c) in win.planes.iter().zip(win.col) {
            for (a, &f) in acc.iter_mut().zip(&plane[g..g + len]) {
                let t = f - c;
                *a += if L1 { t.abs() } else { t * t };
            }
        }
        let (lr, dr) = (&mut labels[l..l + len], &mut dist[l..l + len]);
        for (((lv, dv), &dc), &xt) in lr.iter_mut().zip(dr.iter_mut()).zip(&*acc).zip(win.xterm) {
            let d = (win.a * dc + xt + dy2).min(f32::MAX);
            let better = d < *dv;
            *dv = if better { d } else { *dv };
            *lv = if better { win.label } else { *lv };
        }
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
