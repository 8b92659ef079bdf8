//! The seed grid, its search windows and the seeds' perturbation.

use super::*;

/// The seed grid: `ny x nx` cells of `cell_h x cell_w` pixels.
pub(super) struct Grid {
    pub(super) width: usize,
    pub(super) nx: usize,
    pub(super) ny: usize,
    pub(super) cell_w: f64,
    pub(super) cell_h: f64,
    /// Half-size of the search window, in pixels (rows, columns).
    pub(super) reach: (usize, usize),
}

impl Grid {
    pub(super) fn new(w: usize, h: usize, step: f64) -> Self {
        let ny = ((h as f64 / step).round() as usize).clamp(1, h);
        let nx = ((w as f64 / step).round() as usize).clamp(1, w);
        let cell_h = h as f64 / ny as f64;
        let cell_w = w as f64 / nx as f64;
        Grid {
            width: w,
            nx,
            ny,
            cell_w,
            cell_h,
            reach: (cell_h.ceil() as usize, cell_w.ceil() as usize),
        }
    }

    /// One centre per cell, at the cell's middle pixel; with a mask, at the mask pixel of the
    /// cell nearest to its middle, and none for a cell without mask pixels.
    pub(super) fn seeds<const C: usize>(
        &self,
        mask: Option<&[bool]>,
        planes: &[&[f32]; C],
        perturb: bool,
    ) -> Centres<C> {
        let width = self.width;
        let height = planes[0].len() / width;
        let mut centres = Centres::with_capacity(self.nx * self.ny);
        for i in 0..self.ny {
            for j in 0..self.nx {
                let cy = ((i as f64 + 0.5) * self.cell_h) as usize;
                let cx = ((j as f64 + 0.5) * self.cell_w) as usize;
                let seed = match mask {
                    None => Some((cy, cx)),
                    Some(m) if m[cy * width + cx] => Some((cy, cx)),
                    Some(m) => {
                        let (y0, y1) = self.span(i, self.cell_h);
                        let (x0, x1) = self.span(j, self.cell_w);
                        (y0..y1)
                            .flat_map(|y| (x0..x1).map(move |x| (y, x)))
                            .filter(|&(y, x)| m[y * width + x])
                            .min_by_key(|&(y, x)| y.abs_diff(cy).pow(2) + x.abs_diff(cx).pow(2))
                    }
                };
                if let Some((y, x)) = seed {
                    let (y, x) = if perturb {
                        lowest_gradient(planes, width, height, mask, y, x)
                    } else {
                        (y, x)
                    };
                    let p = y * width + x;
                    centres.push(y as f32, x as f32, std::array::from_fn(|c| planes[c][p]));
                }
            }
        }
        centres
    }

    /// The search window of a centre at `(cy, cx)`: rows within `reach.0` and columns within
    /// `reach.1` of its nearest pixel, clipped to the rows `y0..y1` and to the image width.
    /// Assignment and update must agree on it: a pixel can only be labelled by a centre whose
    /// window holds it.
    pub(super) fn window(
        &self,
        cy: f32,
        cx: f32,
        y0: usize,
        y1: usize,
    ) -> (Range<usize>, Range<usize>) {
        let (ry, rx) = (self.reach.0 as isize, self.reach.1 as isize);
        let (py, px) = (cy.round() as isize, cx.round() as isize);
        let wy0 = (py - ry).max(y0 as isize) as usize;
        let wy1 = ((py + ry + 1).max(0) as usize).min(y1);
        let wx0 = (px - rx).max(0) as usize;
        let wx1 = ((px + rx + 1).max(0) as usize).min(self.width);
        (wy0..wy1.max(wy0), wx0..wx1.max(wx0))
    }

    pub(super) fn span(&self, i: usize, cell: f64) -> (usize, usize) {
        (
            (i as f64 * cell).round() as usize,
            ((i + 1) as f64 * cell).round() as usize,
        )
    }
}

/// The pixel of the 3x3 neighbourhood of `(y, x)` with the smallest colour gradient
/// `|I(x+1) - I(x-1)|^2 + |I(y+1) - I(y-1)|^2` (Achanta et al.: seeds move off edges and
/// noisy pixels). Only pixels with all four neighbours inside the image (and the mask) are
/// candidates; ties keep the earlier pixel in raster order, the centre first.
pub(super) fn lowest_gradient<const C: usize>(
    planes: &[&[f32]; C],
    w: usize,
    h: usize,
    mask: Option<&[bool]>,
    y: usize,
    x: usize,
) -> (usize, usize) {
    let inside = |yy: usize, xx: usize| mask.is_none_or(|m| m[yy * w + xx]);
    let gradient = |yy: usize, xx: usize| -> Option<f32> {
        if yy == 0 || xx == 0 || yy + 1 >= h || xx + 1 >= w || !inside(yy, xx) {
            return None;
        }
        let p = yy * w + xx;
        let g = (0..C)
            .map(|c| {
                let dx = planes[c][p + 1] - planes[c][p - 1];
                let dy = planes[c][p + w] - planes[c][p - w];
                dx * dx + dy * dy
            })
            .sum();
        Some(g)
    };
    let mut best = (y, x);
    let Some(mut best_g) = gradient(y, x) else {
        return best;
    };
    for yy in y.saturating_sub(1)..=(y + 1).min(h - 1) {
        for xx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
            if let Some(g) = gradient(yy, xx)
                && g < best_g
            {
                best_g = g;
                best = (yy, xx);
            }
        }
    }
    best
}
