//! The seed grid, its search windows and the seeds' perturbation.

use super::*;

/// The seed grid: `n[0] x n[1] x n[2]` cells (slices, rows, columns) of `cell` pixels along
/// each axis (one cell along the slices of a 2-D image).
pub(super) struct Grid {
    pub(super) shape: Shape,
    pub(super) n: [usize; 3],
    pub(super) cell: [f64; 3],
    /// Half-size of the search window, in pixels (slices, rows, columns).
    pub(super) reach: [usize; 3],
}

impl Grid {
    /// The grid of step `step` in `spacing` units: along each axis, the whole number of
    /// cells nearest to the axis' extent (in `spacing` units) over the step, at least one and
    /// at most one a pixel.
    pub(super) fn new(shape: Shape, step: f64, spacing: [f32; 3]) -> Self {
        let extent = [shape.d, shape.h, shape.w];
        let n: [usize; 3] = std::array::from_fn(|a| {
            if a == 0 && !shape.is_volume() {
                return 1;
            }
            let cells = extent[a] as f64 * f64::from(spacing[a]) / step;
            // `as` saturates: a NaN or huge quotient still gives a count in range.
            (cells.round() as usize).clamp(1, extent[a])
        });
        let cell: [f64; 3] = std::array::from_fn(|a| extent[a] as f64 / n[a] as f64);
        Grid {
            shape,
            n,
            cell,
            reach: cell.map(|c| c.ceil() as usize),
        }
    }

    /// One centre per cell, at the cell's middle pixel; with a mask, at the mask pixel of the
    /// cell nearest to its middle, and none for a cell without mask pixels.
    pub(super) fn seeds(&self, mask: Option<&[bool]>, planes: &[&[f32]], perturb: bool) -> Centres {
        let Shape { w, h, .. } = self.shape;
        let index = |[z, y, x]: [usize; 3]| (z * h + y) * w + x;
        let mut centres = Centres::with_capacity(self.n.iter().product(), planes.len());
        for i in 0..self.n[0] {
            for j in 0..self.n[1] {
                for l in 0..self.n[2] {
                    let cell = [i, j, l];
                    let mid: [usize; 3] =
                        std::array::from_fn(|a| ((cell[a] as f64 + 0.5) * self.cell[a]) as usize);
                    let seed = match mask {
                        None => Some(mid),
                        Some(m) if m[index(mid)] => Some(mid),
                        Some(m) => {
                            let [(z0, z1), (y0, y1), (x0, x1)] =
                                std::array::from_fn(|a| self.span(cell[a], self.cell[a]));
                            (z0..z1)
                                .flat_map(|z| {
                                    (y0..y1).flat_map(move |y| (x0..x1).map(move |x| [z, y, x]))
                                })
                                .filter(|&p| m[index(p)])
                                .min_by_key(|p| {
                                    (0..3).map(|a| p[a].abs_diff(mid[a]).pow(2)).sum::<usize>()
                                })
                        }
                    };
                    if let Some(p) = seed {
                        let p = if perturb {
                            lowest_gradient(planes, self.shape, mask, p)
                        } else {
                            p
                        };
                        let at = index(p);
                        centres.push(p.map(|v| v as f32), planes.iter().map(|pl| pl[at]));
                    }
                }
            }
        }
        centres
    }

    /// The search window of a centre at `c` (slice, row, column): the pixels within `reach`
    /// of its nearest pixel along each axis, clipped to the volume and to the rows `y0..y1`.
    /// Assignment and update must agree on it: a pixel can only be labelled by a centre whose
    /// window holds it.
    pub(super) fn window(
        &self,
        c: [f32; 3],
        y0: usize,
        y1: usize,
    ) -> (Range<usize>, Range<usize>, Range<usize>) {
        let clip = |a: usize, lo: usize, hi: usize| {
            let (r, p) = (self.reach[a] as isize, c[a].round() as isize);
            let s = (p - r).max(lo as isize) as usize;
            let e = ((p + r + 1).max(0) as usize).min(hi);
            s..e.max(s)
        };
        // An image's one slice needs no clipping (and the 2-D path no extra work).
        let zs = if self.shape.is_volume() {
            clip(0, 0, self.shape.d)
        } else {
            0..1
        };
        (zs, clip(1, y0, y1), clip(2, 0, self.shape.w))
    }

    pub(super) fn span(&self, i: usize, cell: f64) -> (usize, usize) {
        (
            (i as f64 * cell).round() as usize,
            ((i + 1) as f64 * cell).round() as usize,
        )
    }
}

/// The pixel of the 3x3 neighbourhood (3x3x3 in a volume) of `p` (slice, row, column) with
/// the smallest colour gradient `|I(x+1) - I(x-1)|^2 + |I(y+1) - I(y-1)|^2` (plus
/// `|I(z+1) - I(z-1)|^2` in a volume) (Achanta et al.: seeds move off edges and noisy
/// pixels). Only pixels with all their face neighbours inside the image (and the mask) are
/// candidates; ties keep the earlier pixel in raster order, the centre first.
pub(super) fn lowest_gradient(
    planes: &[&[f32]],
    shape: Shape,
    mask: Option<&[bool]>,
    p: [usize; 3],
) -> [usize; 3] {
    let Shape { w, h, d } = shape;
    let volume = shape.is_volume();
    let slice = w * h;
    let index = |[z, y, x]: [usize; 3]| (z * h + y) * w + x;
    let inside = |q: [usize; 3]| mask.is_none_or(|m| m[index(q)]);
    let gradient = |q: [usize; 3]| -> Option<f32> {
        let [z, y, x] = q;
        let border = y == 0 || x == 0 || y + 1 >= h || x + 1 >= w;
        if border || (volume && (z == 0 || z + 1 >= d)) || !inside(q) {
            return None;
        }
        let i = index(q);
        let g = planes
            .iter()
            .map(|pl| {
                let dx = pl[i + 1] - pl[i - 1];
                let dy = pl[i + w] - pl[i - w];
                let g = dx * dx + dy * dy;
                if volume {
                    let dz = pl[i + slice] - pl[i - slice];
                    g + dz * dz
                } else {
                    g
                }
            })
            .sum();
        Some(g)
    };
    let mut best = p;
    let Some(mut best_g) = gradient(p) else {
        return best;
    };
    let around = |v: usize, n: usize| v.saturating_sub(1)..=(v + 1).min(n - 1);
    for z in around(p[0], d) {
        for y in around(p[1], h) {
            for x in around(p[2], w) {
                if let Some(g) = gradient([z, y, x])
                    && g < best_g
                {
                    best_g = g;
                    best = [z, y, x];
                }
            }
        }
    }
    best
}
