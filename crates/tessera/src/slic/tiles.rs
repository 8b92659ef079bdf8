//! SLIC tile by tile: the engine behind [`crate::tiled`].
//!
//! Exact mode is bulk-synchronous SLIC. The seed grid is the whole image's. Each iteration,
//! every tile assigns the pixels of its *frame* (the tile, its *core*, and a halo of one
//! search-window reach) to the centres whose windows reach it, with the whole image's
//! coordinates and kernels, so that each pixel gets the label the whole-image run gives it;
//! then it computes the new position and features of the centres it *owns* (those whose
//! nearest pixel lies in its core, so whose whole window lies in its frame) with the
//! whole-image update, window by window, bit for bit. The run gathers the owned centres and
//! starts the next iteration. The last pass assigns frames with a halo of four reaches, finds
//! the regions there and hands them to the exact tiled connectivity enforcement
//! ([`crate::connectivity::tiles`]). Memory holds one frame per tile in flight, the centres
//! and the region graph: never the image.
//!
//! Fast mode runs the iterations of each tile alone, on a frame with a halo of its own, with
//! the seeds that fall inside; each tile keeps the final state of the centres seeded in its
//! core; then the last pass is exact mode's, so the partition has no seams, and only centres
//! near tile borders can differ from the whole-image run's. It reads the image three times
//! (the last pass runs twice, once for the stitch and once to paint) instead of
//! `max_iterations + 2` times.

use super::*;
use crate::color;
use crate::connectivity::tiles::{Area, Stitch, TileRegions, reduce, stitch, tile_regions};
use crate::smoothing::{gaussian_in, radius};
use std::borrow::Borrow;

/// The geometry and constants of one tiled run.
pub(crate) struct Plan {
    pub(crate) slic: Slic,
    shape: Shape,
    grid: Grid,
    step: f32,
    /// Tile side.
    tile: usize,
    /// Tiles across and down.
    across: usize,
    down: usize,
    channels: usize,
    lab: bool,
    /// Smoothing (columns, rows sigma in pixels) and kernel radius, if any.
    smooth: Option<([f32; 2], (usize, usize))>,
    /// Halo (columns, rows) of the iteration passes and of the last pass.
    halo: (usize, usize),
    final_halo: (usize, usize),
}

/// A rectangle to read: image columns `x0..x0 + w`, rows `y0..y0 + h`.
pub(crate) type Window = Area;

impl Plan {
    /// The plan for `slic` on a `width x height` image of `channels` channels in tiles of
    /// `tile` pixels a side.
    pub(crate) fn new(
        slic: &Slic,
        width: usize,
        height: usize,
        channels: usize,
        tile: usize,
    ) -> Result<Self> {
        slic.validate()?;
        if tile < 16 {
            return Err(Error::param(
                "tile",
                format!("must be at least 16, got {tile}"),
            ));
        }
        if width == 0 || height == 0 {
            return Err(Error::InvalidImage("no pixels".into()));
        }
        let lab = slic
            .convert_to_lab
            .unwrap_or(channels == 1 || channels == 3);
        if lab && channels != 1 && channels != 3 {
            return Err(Error::param(
                "convert_to_lab",
                format!("CIELAB needs 1 or 3 channels, the image has {channels}"),
            ));
        }
        let shape = Shape {
            w: width,
            h: height,
            d: 1,
        };
        let n = width * height;
        let k = (slic.n_segments as usize).min(n).max(1);
        let step = slic.step(shape, n, k);
        let grid = Grid::new(shape, step, slic.spacing);
        let [_, ry, rx] = grid.reach;
        let sigma = [
            slic.sigma[2] / slic.spacing[2],
            slic.sigma[1] / slic.spacing[1],
        ];
        let smooth = (sigma[0] > 0.0 || sigma[1] > 0.0)
            .then(|| (sigma, radius(sigma[1], sigma[0], width, height)));
        // Seeds look two pixels around (perturbation); a region lies within its label's
        // window, so with a pixel in the core within two reaches of it, and a neighbour of
        // such a region within four reaches and one pixel (one more to see it whole).
        let halo = (rx.max(2), ry.max(2));
        let final_halo = (4 * rx + 2, 4 * ry + 2);
        Ok(Plan {
            slic: slic.clone(),
            shape,
            grid,
            step: step as f32,
            tile,
            across: width.div_ceil(tile),
            down: height.div_ceil(tile),
            channels,
            lab,
            smooth,
            halo,
            final_halo,
        })
    }

    /// Fast mode's halo unless one is given: four search reaches (about four grid steps).
    /// Measured on a 2000 x 1500 photo in tiles of 512 (`examples/tiled_bench.rs`): two
    /// reaches change 3.5% of pixels against the whole-image run, four 0.49%, eight 0.002%.
    pub(crate) fn default_fast_halo(&self) -> usize {
        4 * self.grid.reach[1].max(self.grid.reach[2])
    }

    /// The number of tiles.
    pub(crate) fn tiles(&self) -> usize {
        self.across * self.down
    }

    /// Tile `t`'s core, in raster order of tiles.
    pub(crate) fn core(&self, t: usize) -> Area {
        let (tx, ty) = (t % self.across, t / self.across);
        let (x0, y0) = (tx * self.tile, ty * self.tile);
        Area {
            x0,
            y0,
            w: self.tile.min(self.shape.w - x0),
            h: self.tile.min(self.shape.h - y0),
        }
    }

    /// `area` grown by `(dx, dy)`, clipped to the image.
    fn grow(&self, area: Area, (dx, dy): (usize, usize)) -> Area {
        let (x0, y0) = (area.x0.saturating_sub(dx), area.y0.saturating_sub(dy));
        let x1 = (area.x0 + area.w + dx).min(self.shape.w);
        let y1 = (area.y0 + area.h + dy).min(self.shape.h);
        Area {
            x0,
            y0,
            w: x1 - x0,
            h: y1 - y0,
        }
    }

    /// Tile `t`'s frame for a pass with the halo `halo`.
    fn frame_of(&self, t: usize, halo: (usize, usize)) -> Area {
        self.grow(self.core(t), halo)
    }

    /// What to read for a frame: the frame, and the smoothing kernel's radius around it.
    fn read_for(&self, frame: Area) -> Window {
        match self.smooth {
            Some((_, r)) => self.grow(frame, r),
            None => frame,
        }
    }

    /// The feature planes of `frame`, from the pixels of `read` (see [`Plan::read_for`]),
    /// rescaled by `range` unless CIELAB: the bits the whole image's planes hold there.
    fn features(
        &self,
        frame: Area,
        read: Window,
        pixels: &Image,
        range: (f32, f32),
    ) -> Result<Vec<Vec<f32>>> {
        if pixels.width() as usize != read.w
            || pixels.height() as usize != read.h
            || pixels.channels() != self.channels
            || pixels.is_volume()
        {
            return Err(Error::Tiling(format!(
                "the source gave {}x{} pixels of {} channels for a {}x{} window of {} channels",
                pixels.width(),
                pixels.height(),
                pixels.channels(),
                read.w,
                read.h,
                self.channels
            )));
        }
        if self.lab && self.smooth.is_none() {
            return color::lab_planes(pixels)
                .ok_or_else(|| Error::UnsupportedFormat(format!("{} channels", self.channels)));
        }
        let mut planes = pixels.to_planes();
        if let Some((sigma, _)) = self.smooth {
            let extent = (self.shape.w, self.shape.h);
            for p in &mut planes {
                gaussian_in(p, read.w, read.h, sigma[1], sigma[0], extent);
            }
            let (dx, dy) = (frame.x0 - read.x0, frame.y0 - read.y0);
            for p in &mut planes {
                *p = (0..frame.h)
                    .flat_map(|y| {
                        let at = (y + dy) * read.w + dx;
                        p[at..at + frame.w].iter().copied()
                    })
                    .collect();
            }
        }
        if self.lab {
            return color::lab_planes_from_planes(&planes)
                .ok_or_else(|| Error::UnsupportedFormat(format!("{} channels", self.channels)));
        }
        color::rescale_with(&mut planes, range.0, range.1, 1.0);
        Ok(planes)
    }

    /// Tile `t`'s feature planes for `pass`, from the pixels of its window.
    pub(crate) fn pass_features(
        &self,
        t: usize,
        pass: PassKind,
        pixels: &Image,
        range: (f32, f32),
    ) -> Result<Vec<Vec<f32>>> {
        let (frame, read) = self.frame(t, pass);
        self.features(frame, read, pixels, range)
    }

    /// Refuses planes that are not a frame's features.
    fn check_planes(&self, frame: Area, planes: &[Vec<f32>]) -> Result<()> {
        if planes.is_empty() || planes.iter().any(|p| p.len() != frame.w * frame.h) {
            return Err(Error::Tiling(
                "feature planes of another size than the tile's frame".into(),
            ));
        }
        Ok(())
    }

    /// Whether the features need the joint range of all channels over the image first.
    pub(crate) fn needs_range(&self) -> bool {
        !self.lab
    }

    /// The frame and window a range pass reads for tile `t`.
    pub(crate) fn range_read(&self, t: usize) -> (Area, Window) {
        let core = self.core(t);
        (core, self.read_for(core))
    }

    /// The joint range of tile `t`'s core features (before the rescale).
    pub(crate) fn tile_range(&self, t: usize, pixels: &Image) -> Result<(f32, f32)> {
        let (core, read) = self.range_read(t);
        // The identity range leaves the planes as they are.
        let planes = self.features(core, read, pixels, (0.0, 0.0))?;
        Ok(color::joint_range(&planes))
    }

    /// The halo of iteration passes (exact mode) and of the last pass.
    pub(crate) fn frame(&self, t: usize, pass: PassKind) -> (Area, Window) {
        let frame = match pass {
            PassKind::Seeds | PassKind::Iterate => self.frame_of(t, self.halo),
            PassKind::Fast(halo) => {
                self.frame_of(t, (halo.max(self.halo.0), halo.max(self.halo.1)))
            }
            PassKind::Last => self.frame_of(t, self.final_halo),
        };
        (frame, self.read_for(frame))
    }

    /// The number of centres.
    fn centre_count(&self) -> usize {
        self.grid.n[1] * self.grid.n[2]
    }

    /// The seeds of the grid cells whose middle pixel lies in tile `t`'s core: (index,
    /// position, features), as [`Grid::seeds`] places them.
    pub(crate) fn seeds(&self, t: usize, planes: &[Vec<f32>]) -> Result<Vec<Seed>> {
        let (frame, _) = self.frame(t, PassKind::Seeds);
        self.check_planes(frame, planes)?;
        let refs: Vec<&[f32]> = planes.iter().map(|p| p.as_slice()).collect();
        Ok(self.seeds_in_frame(t, frame, &refs))
    }

    /// [`lowest_gradient`] around `p`, on the 5x5 pixels around it (clipped to the image, as
    /// the whole image clips them): all the gradient of the 3x3 candidates reads.
    fn perturbed(&self, frame: Area, planes: &[&[f32]], p: [usize; 3]) -> [usize; 3] {
        let area = self.grow(
            Area {
                x0: p[2],
                y0: p[1],
                w: 1,
                h: 1,
            },
            (2, 2),
        );
        let mini: Vec<Vec<f32>> = planes
            .iter()
            .map(|pl| {
                (area.y0..area.y0 + area.h)
                    .flat_map(|y| {
                        let at = (y - frame.y0) * frame.w + area.x0 - frame.x0;
                        pl[at..at + area.w].iter().copied()
                    })
                    .collect()
            })
            .collect();
        let refs: Vec<&[f32]> = mini.iter().map(|p| p.as_slice()).collect();
        let shape = Shape {
            w: area.w,
            h: area.h,
            d: 1,
        };
        let q = grid::lowest_gradient(&refs, shape, None, [0, p[1] - area.y0, p[2] - area.x0]);
        [0, q[1] + area.y0, q[2] + area.x0]
    }

    /// The run's first state from every tile's seeds.
    pub(crate) fn start(&self, seeds: Vec<Vec<Seed>>) -> Result<State> {
        let m = self.slic.compactness;
        let moved = seeds.into_iter().flatten().map(|s| Moved {
            index: s.index,
            at: s.at,
            colour: s.colour,
            max_colour: m,
        });
        self.state_of(moved.collect(), 0, "seeds")
    }

    /// The state at `iteration` from every centre, each given once by some tile.
    fn state_of(&self, mut all: Vec<Moved>, iteration: usize, what: &str) -> Result<State> {
        let nc = self.centre_count();
        all.sort_unstable_by_key(|m| m.index);
        if all.len() != nc || all.iter().enumerate().any(|(i, m)| m.index as usize != i) {
            return Err(Error::Tiling(format!(
                "the tiles gave {} {what} for a grid of {nc}",
                all.len()
            )));
        }
        let mut centres = Centres::with_capacity(nc, self.channels);
        let mut max_colour = Vec::with_capacity(nc);
        for m in all {
            centres.push(m.at, m.colour);
            max_colour.push(m.max_colour);
        }
        Ok(State {
            owners: self.owners(&centres),
            centres,
            max_colour,
            iteration,
        })
    }

    /// Update passes before the last one: the whole-image run's last assignment is that of
    /// iteration `max_iterations - 1` (or, subsampled, an extra full pass after them all).
    pub(crate) fn update_passes(&self) -> usize {
        let t = self.slic.max_iterations as usize;
        if self.slic.subsample > 1 { t } else { t - 1 }
    }

    fn rows(&self, iteration: usize) -> Rows {
        Rows {
            stride: self.slic.subsample as usize,
            phase: iteration % self.slic.subsample as usize,
        }
    }

    fn manhattan(&self) -> bool {
        self.slic.distance == SlicDistance::Manhattan
    }

    /// The colour weights of the centres `ids`, from their SLIC-zero colour scales.
    fn colour_weights(&self, ids: impl Iterator<Item = usize>, max_colour: &[f32]) -> Vec<f32> {
        ids.map(|k| {
            if self.slic.slic_zero {
                self.slic.colour_weight(max_colour[k])
            } else {
                1.0
            }
        })
        .collect()
    }

    /// Assigns `frame` (whose `planes` are given) with the centres whose windows reach it,
    /// as the whole image does: the candidates (in index order), them as centres, and the
    /// frame's labels (candidate numbers).
    fn assign_tile<const C: usize>(
        &self,
        state: &State,
        owners: &Owners,
        frame: Area,
        planes: &[&[f32]],
        rows: Rows,
    ) -> Result<(Vec<u32>, Centres, Vec<u32>)> {
        let ids = self.candidates(state, owners, frame);
        let local = state.centres.subset(&ids);
        let weights = self.colour_weights(ids.iter().map(|&k| k as usize), &state.max_colour);
        let pass = Pass {
            shape: self.shape,
            grid: &self.grid,
            centres: &local,
            colour_weight: &weights,
            spatial_weight: self.slic.spatial_weight(self.step),
            spacing: self.slic.spacing,
            manhattan: self.manhattan(),
            rows,
        };
        let n = frame.w * frame.h;
        let mut labels = vec![UNLABELLED; n];
        let mut dist = vec![f32::INFINITY; n];
        assign_frame::<C>(
            &pass,
            frame_of(frame),
            planes,
            None,
            (&mut labels, &mut dist),
            true,
        );
        Ok((ids, local, labels))
    }

    /// The tile whose core holds the nearest pixel of a centre at `at`.
    fn tile_of(&self, at: [f32; 3]) -> usize {
        let p = |v: f32, n: usize| (v.round().max(0.0) as usize).min(n - 1);
        let (x, y) = (p(at[2], self.shape.w), p(at[1], self.shape.h));
        (y / self.tile) * self.across + x / self.tile
    }

    /// The centres by the tile that owns them, each list in index order.
    fn owners(&self, centres: &Centres) -> Owners {
        let mut start = vec![0usize; self.tiles() + 1];
        let tile: Vec<usize> = (0..centres.len())
            .map(|k| self.tile_of(centres.at(k)))
            .collect();
        for &t in &tile {
            start[t + 1] += 1;
        }
        for t in 1..start.len() {
            start[t] += start[t - 1];
        }
        let mut cursor = start.clone();
        let mut ids = vec![0u32; tile.len()];
        for (k, &t) in tile.iter().enumerate() {
            ids[cursor[t]] = k as u32;
            cursor[t] += 1;
        }
        Owners { start, ids }
    }

    /// The centres whose window reaches into `frame`, in index order.
    fn candidates(&self, state: &State, owners: &Owners, frame: Area) -> Vec<u32> {
        let [_, ry, rx] = self.grid.reach;
        // A window reaching the frame has its centre's nearest pixel within a reach of it.
        let near = self.grow(frame, (rx, ry));
        let (tx0, tx1) = (near.x0 / self.tile, (near.x0 + near.w - 1) / self.tile);
        let (ty0, ty1) = (near.y0 / self.tile, (near.y0 + near.h - 1) / self.tile);
        let f = frame_of(frame);
        let mut out: Vec<u32> = (ty0..=ty1)
            .flat_map(|ty| (tx0..=tx1).map(move |tx| ty * self.across + tx))
            .flat_map(|t| owners.of(t).iter().copied())
            .filter(|&k| {
                let (_, ys, xs) = self
                    .grid
                    .window(state.centres.at(k as usize), f.y0, f.y0 + f.h);
                !ys.is_empty() && !f.clip_columns(&xs).is_empty()
            })
            .collect();
        out.sort_unstable();
        out
    }

    /// One update pass of exact mode on tile `t`: the new state of the centres it owns.
    pub(crate) fn iterate(
        &self,
        state: &State,
        t: usize,
        planes: &[Vec<f32>],
    ) -> Result<Vec<Moved>> {
        let owners = &state.owners;
        let (frame, _) = self.frame(t, PassKind::Iterate);
        self.check_planes(frame, planes)?;
        let refs: Vec<&[f32]> = planes.iter().map(|p| p.as_slice()).collect();
        Ok(match refs.len() {
            1 => self.iterate_with::<1>(state, owners, t, frame, &refs)?,
            2 => self.iterate_with::<2>(state, owners, t, frame, &refs)?,
            3 => self.iterate_with::<3>(state, owners, t, frame, &refs)?,
            4 => self.iterate_with::<4>(state, owners, t, frame, &refs)?,
            _ => self.iterate_with::<0>(state, owners, t, frame, &refs)?,
        })
    }

    fn iterate_with<const C: usize>(
        &self,
        state: &State,
        owners: &Owners,
        t: usize,
        frame: Area,
        planes: &[&[f32]],
    ) -> Result<Vec<Moved>> {
        let rows = self.rows(state.iteration);
        let (ids, local, labels) = self.assign_tile::<C>(state, owners, frame, planes, rows)?;
        let f = frame_of(frame);
        // The owned centres' places among the candidates (both lists are in index order).
        let owned: Vec<u32> = owners
            .of(t)
            .iter()
            .map(|k| ids.binary_search(k).map(|i| i as u32).unwrap_or(u32::MAX))
            .collect();
        debug_assert!(
            owned.iter().all(|&i| i != u32::MAX),
            "an owned centre's window reaches its frame"
        );
        let owned: Vec<u32> = owned.into_iter().filter(|&i| i != u32::MAX).collect();
        let largest = self
            .slic
            .slic_zero
            .then(|| largest_colour_distance(f, planes, &local, &labels, rows, self.manhattan()));
        let mut moved: Vec<Moved> = owned
            .iter()
            .map(|&i| {
                let k = ids[i as usize] as usize;
                let old = state.max_colour[k];
                let max_colour = largest.as_ref().map_or(old, |m| {
                    next_colour_scale(m[i as usize], old, self.manhattan())
                });
                Moved {
                    index: k as u32,
                    at: state.centres.at(k),
                    colour: state.centres.colour(k).to_vec(),
                    max_colour,
                }
            })
            .collect();
        let means = update::centre_means::<C>(
            self.shape, f, planes, &labels, &local, &self.grid, rows, &owned,
        );
        means.for_each(|i, at, colour| {
            moved[i].at = at;
            moved[i].colour.copy_from_slice(colour);
        });
        Ok(moved)
    }

    /// Applies every tile's moved centres: the state of the next iteration.
    pub(crate) fn advance(&self, state: &mut State, moved: Vec<Vec<Moved>>) -> Result<()> {
        let mut seen = 0usize;
        for m in moved.into_iter().flatten() {
            let k = m.index as usize;
            if k >= state.centres.len() || m.colour.len() != self.channels {
                return Err(Error::Tiling(
                    "a tile moved a centre the run does not have".into(),
                ));
            }
            state.centres.set(k, m.at, &m.colour);
            state.max_colour[k] = m.max_colour;
            seen += 1;
        }
        if seen != state.centres.len() {
            return Err(Error::Tiling(format!(
                "the tiles moved {seen} of {} centres",
                state.centres.len()
            )));
        }
        state.iteration += 1;
        state.owners = self.owners(&state.centres);
        Ok(())
    }

    /// Fast mode's one clustering pass on tile `t`: the seeds in its frame iterated there
    /// alone; returns the final state of those seeded in its core.
    pub(crate) fn fast(&self, t: usize, halo: usize, planes: &[Vec<f32>]) -> Result<Vec<Moved>> {
        let (frame, _) = self.frame(t, PassKind::Fast(halo));
        self.check_planes(frame, planes)?;
        let refs: Vec<&[f32]> = planes.iter().map(|p| p.as_slice()).collect();
        Ok(match refs.len() {
            1 => self.fast_with::<1>(t, frame, &refs),
            2 => self.fast_with::<2>(t, frame, &refs),
            3 => self.fast_with::<3>(t, frame, &refs),
            4 => self.fast_with::<4>(t, frame, &refs),
            _ => self.fast_with::<0>(t, frame, &refs),
        })
    }

    fn fast_with<const C: usize>(&self, t: usize, frame: Area, planes: &[&[f32]]) -> Vec<Moved> {
        // The seeds of every tile the frame overlaps, those inside the frame, in index order.
        let (tx0, tx1) = (frame.x0 / self.tile, (frame.x0 + frame.w - 1) / self.tile);
        let (ty0, ty1) = (frame.y0 / self.tile, (frame.y0 + frame.h - 1) / self.tile);
        let mut seeds: Vec<(Seed, bool)> = (ty0..=ty1)
            .flat_map(|ty| (tx0..=tx1).map(move |tx| ty * self.across + tx))
            .flat_map(|u| {
                self.seeds_in_frame(u, frame, planes)
                    .into_iter()
                    .map(move |s| (s, u == t))
            })
            .collect();
        seeds.sort_unstable_by_key(|s| s.0.index);
        let (seeds, owned): (Vec<Seed>, Vec<bool>) = seeds.into_iter().unzip();
        // The frame as an image of its own: the same grid cells and reach, positions shifted.
        let shape = Shape {
            w: frame.w,
            h: frame.h,
            d: 1,
        };
        let grid = Grid {
            shape,
            n: self.grid.n,
            cell: self.grid.cell,
            reach: self.grid.reach,
        };
        let (ox, oy) = (frame.x0 as f32, frame.y0 as f32);
        let mut centres = Centres::with_capacity(seeds.len(), self.channels);
        for s in &seeds {
            centres.push([0.0, s.at[1] - oy, s.at[2] - ox], s.colour.iter().copied());
        }
        let nc = centres.len();
        let mut max_colour = vec![self.slic.compactness; nc];
        let whole = Frame::whole(shape);
        let n = frame.w * frame.h;
        let mut labels = vec![UNLABELLED; n];
        let mut dist = vec![f32::INFINITY; n];
        let manhattan = self.manhattan();
        for it in 0..self.update_passes() {
            let rows = self.rows(it);
            let weights = self.colour_weights(0..nc, &max_colour);
            let pass = Pass {
                shape,
                grid: &grid,
                centres: &centres,
                colour_weight: &weights,
                spatial_weight: self.slic.spatial_weight(self.step),
                spacing: self.slic.spacing,
                manhattan,
                rows,
            };
            assign_frame::<C>(&pass, whole, planes, None, (&mut labels, &mut dist), true);
            if self.slic.slic_zero {
                max_colour =
                    largest_colour_distance(whole, planes, &centres, &labels, rows, manhattan)
                        .into_iter()
                        .zip(&max_colour)
                        .map(|(m, &old)| next_colour_scale(m, old, manhattan))
                        .collect();
            }
            update_centres::<C>(shape, planes, &labels, &mut centres, &grid, rows);
        }
        (0..nc)
            .filter(|&i| owned[i])
            .map(|i| {
                let [z, y, x] = centres.at(i);
                Moved {
                    index: seeds[i].index,
                    at: [z, y + oy, x + ox],
                    colour: centres.colour(i).to_vec(),
                    max_colour: max_colour[i],
                }
            })
            .collect()
    }

    /// The seeds of tile `u`'s cells that lie inside `frame` (whose planes are given), as
    /// [`Grid::seeds`] places them; with perturbation, only those at least two pixels from
    /// the frame's edges inside the image (the gradient reads that far).
    fn seeds_in_frame(&self, u: usize, frame: Area, planes: &[&[f32]]) -> Vec<Seed> {
        let core = self.core(u);
        let margin = if self.slic.perturb_seeds { 2 } else { 0 };
        let fits = |v: usize, lo: usize, len: usize, total: usize| {
            v >= lo
                && v < lo + len
                && (lo == 0 || v >= lo + margin)
                && (lo + len == total || v + margin < lo + len)
        };
        let g = &self.grid;
        let mid = |i: usize, a: usize| ((i as f64 + 0.5) * g.cell[a]) as usize;
        let mut out = Vec::new();
        for j in 0..g.n[1] {
            let y = mid(j, 1);
            if y < core.y0 || y >= core.y0 + core.h || !fits(y, frame.y0, frame.h, self.shape.h) {
                continue;
            }
            for l in 0..g.n[2] {
                let x = mid(l, 2);
                if x < core.x0 || x >= core.x0 + core.w || !fits(x, frame.x0, frame.w, self.shape.w)
                {
                    continue;
                }
                let [_, y, x] = if self.slic.perturb_seeds {
                    self.perturbed(frame, planes, [0, y, x])
                } else {
                    [0, y, x]
                };
                let at = (y - frame.y0) * frame.w + x - frame.x0;
                out.push(Seed {
                    index: (j * g.n[2] + l) as u32,
                    at: [0.0, y as f32, x as f32],
                    colour: planes.iter().map(|p| p[at]).collect(),
                });
            }
        }
        out
    }

    /// Fast mode's state from every tile's clustered centres.
    pub(crate) fn start_fast(&self, moved: Vec<Vec<Moved>>) -> Result<State> {
        let all = moved.into_iter().flatten().collect();
        self.state_of(all, self.update_passes(), "centres")
    }

    /// The size limits of connectivity enforcement, as the whole-image run sets them.
    fn size_limits(&self) -> (usize, usize) {
        let nominal = (self.shape.w * self.shape.h) as f64 / self.centre_count() as f64;
        let min_size = (self.slic.min_size_factor as f64 * nominal) as usize;
        let max_size = ((self.slic.max_size_factor as f64 * nominal) as usize).max(1);
        (min_size, max_size)
    }

    /// The last pass on tile `t`: the final assignment of its frame, and what the stitch
    /// needs of it.
    pub(crate) fn last(&self, state: &State, t: usize, planes: &[Vec<f32>]) -> Result<LastPart> {
        let owners = &state.owners;
        let (frame, _) = self.frame(t, PassKind::Last);
        self.check_planes(frame, planes)?;
        let refs: Vec<&[f32]> = planes.iter().map(|p| p.as_slice()).collect();
        let labels = match refs.len() {
            1 => self.last_labels::<1>(state, owners, frame, &refs)?,
            2 => self.last_labels::<2>(state, owners, frame, &refs)?,
            3 => self.last_labels::<3>(state, owners, frame, &refs)?,
            4 => self.last_labels::<4>(state, owners, frame, &refs)?,
            _ => self.last_labels::<0>(state, owners, frame, &refs)?,
        };
        let core = self.core(t);
        if !self.slic.enforce_connectivity {
            return Ok(LastPart::Raw(raw_part(frame, core, self.shape.w, &labels)));
        }
        let (min_size, max_size) = self.size_limits();
        let image = (self.shape.w, self.shape.h);
        tile_regions(image, frame, core, &labels, Some(&refs), min_size, max_size)
            .map(LastPart::Regions)
            .map_err(|why| {
                Error::Tiling(format!(
                    "{why}; use larger tiles (the halo is {} pixels)",
                    self.final_halo.0.max(self.final_halo.1)
                ))
            })
    }

    fn last_labels<const C: usize>(
        &self,
        state: &State,
        owners: &Owners,
        frame: Area,
        planes: &[&[f32]],
    ) -> Result<Vec<u32>> {
        let full = Rows {
            stride: 1,
            phase: 0,
        };
        let (ids, _, mut labels) = self.assign_tile::<C>(state, owners, frame, planes, full)?;
        // Candidate numbers to centre numbers; what no window reached goes to the nearest
        // centre of all, as in the whole image.
        labels
            .iter_mut()
            .filter(|l| **l != UNLABELLED)
            .for_each(|l| *l = ids[*l as usize]);
        label_leftovers(
            self.shape,
            frame_of(frame),
            &state.centres,
            None,
            &mut labels,
        );
        Ok(labels)
    }

    /// The tiles of block `(bx, by)` of `side` x `side` tiles (the last blocks of a row or a
    /// column may be smaller), in raster order of tiles; blocks are numbered in raster order,
    /// `b = by * blocks_across + bx`, and [`Plan::blocks`] lists them all.
    pub(crate) fn blocks(&self, side: usize) -> Vec<Vec<usize>> {
        let side = side.max(1);
        let (bx, by) = (self.across.div_ceil(side), self.down.div_ceil(side));
        let mut out = Vec::with_capacity(bx * by);
        for b in 0..bx * by {
            let (x0, y0) = ((b % bx) * side, (b / bx) * side);
            let mut tiles = Vec::with_capacity(side * side);
            for ty in y0..(y0 + side).min(self.down) {
                for tx in x0..(x0 + side).min(self.across) {
                    tiles.push(ty * self.across + tx);
                }
            }
            out.push(tiles);
        }
        out
    }

    /// Several tiles' last parts (or summaries) as one summary, stitched as far as they can
    /// be on their own (see [`reduce`]); [`Plan::stitch`] takes it as it takes a tile's.
    pub(crate) fn reduce(&self, parts: Vec<LastPart>) -> Result<LastPart> {
        if !self.slic.enforce_connectivity {
            let mut first: Vec<(u32, u64)> = Vec::new();
            for part in parts {
                match part {
                    LastPart::Raw(r) => first.extend(r.first),
                    LastPart::Regions(_) => {
                        return Err(Error::Tiling("parts of two kinds of run".into()));
                    }
                }
            }
            first.sort_unstable();
            first.dedup_by_key(|e| e.0);
            return Ok(LastPart::Raw(RawPart {
                first,
                runs: Vec::new(),
            }));
        }
        let regions = parts
            .into_iter()
            .map(|p| match p {
                LastPart::Regions(r) => Ok(r),
                LastPart::Raw(_) => Err(Error::Tiling("parts of two kinds of run".into())),
            })
            .collect::<Result<Vec<_>>>()?;
        let (min_size, _) = self.size_limits();
        reduce(regions, min_size)
            .map(LastPart::Regions)
            .map_err(Error::Tiling)
    }

    /// The final numbering from every tile's last part (owned parts are dropped before the
    /// merge, see [`stitch`]).
    pub(crate) fn stitch<P: Borrow<LastPart>>(&self, parts: Vec<P>) -> Result<Numbering> {
        if !self.slic.enforce_connectivity {
            let mut first: Vec<(u32, u64)> = parts
                .iter()
                .flat_map(|p| match p.borrow() {
                    LastPart::Raw(r) => r.first.clone(),
                    LastPart::Regions(_) => Vec::new(),
                })
                .collect();
            // Each label's first pixel over all tiles, then labels in that order.
            first.sort_unstable_by_key(|&(l, at)| (l, at));
            first.dedup_by_key(|e| e.0);
            first.sort_unstable_by_key(|&(_, at)| at);
            let mut number = vec![UNLABELLED; self.centre_count()];
            for (i, &(l, _)) in first.iter().enumerate() {
                number[l as usize] = i as u32;
            }
            return Ok(Numbering::Raw {
                count: first.len() as u32,
                number,
            });
        }
        let (min_size, _) = self.size_limits();
        fn regions<P: Borrow<LastPart>>(p: &P) -> Option<&TileRegions> {
            match p.borrow() {
                LastPart::Regions(r) => Some(r),
                LastPart::Raw(_) => None,
            }
        }
        stitch(parts, regions, min_size)
            .map(Numbering::Regions)
            .map_err(Error::Tiling)
    }

    /// Tile `t`'s final labels (its core, row-major) from its last part.
    pub(crate) fn paint(&self, numbering: &Numbering, part: &LastPart) -> Result<Vec<u32>> {
        match (numbering, part) {
            (Numbering::Regions(s), LastPart::Regions(r)) => s.paint(r).map_err(Error::Tiling),
            (Numbering::Raw { number, .. }, LastPart::Raw(r)) => {
                let mut out = Vec::with_capacity(r.runs.iter().map(|x| x.1 as usize).sum());
                for &(l, len) in &r.runs {
                    let v = if l == UNLABELLED {
                        UNLABELLED
                    } else {
                        number.get(l as usize).copied().unwrap_or(UNLABELLED)
                    };
                    out.extend(std::iter::repeat_n(v, len as usize));
                }
                Ok(out)
            }
            _ => Err(Error::Tiling("parts of two kinds of run".into())),
        }
    }
}

/// The slic kernels' frame of an area.
fn frame_of(a: Area) -> Frame {
    Frame {
        x0: a.x0,
        y0: a.y0,
        w: a.w,
        h: a.h,
    }
}

/// Which pass a frame is read for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PassKind {
    /// Seeds (exact mode).
    Seeds,
    /// An update pass (exact mode).
    Iterate,
    /// Fast mode's clustering pass, with this halo.
    Fast(usize),
    /// The last pass: assignment and regions.
    Last,
}

/// A seed a tile places.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Seed {
    index: u32,
    at: [f32; 3],
    colour: Vec<f32>,
}

/// A centre's state after a pass, from the tile that owns it.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Moved {
    index: u32,
    at: [f32; 3],
    colour: Vec<f32>,
    max_colour: f32,
}

/// The state of a run between passes: the centres and their SLIC-zero colour scales.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct State {
    centres: Centres,
    max_colour: Vec<f32>,
    iteration: usize,
    /// The centres by owning tile, for the positions above.
    owners: Owners,
}

/// The centres by owning tile.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Owners {
    start: Vec<usize>,
    ids: Vec<u32>,
}

impl Owners {
    fn of(&self, t: usize) -> &[u32] {
        &self.ids[self.start[t]..self.start[t + 1]]
    }
}

/// What a tile's last pass hands to the stitch.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) enum LastPart {
    /// With connectivity enforced: the regions.
    Regions(TileRegions),
    /// Without: the raw labels.
    Raw(RawPart),
}

impl LastPart {
    /// The part without the core's labels: what the stitch needs (copies without spare
    /// capacity, as a run holds every tile's summary until the stitch).
    pub(crate) fn summary(&self) -> LastPart {
        match self {
            LastPart::Regions(r) => LastPart::Regions(r.without_core()),
            LastPart::Raw(r) => LastPart::Raw(RawPart {
                first: r.first.clone(),
                runs: Vec::new(),
            }),
        }
    }
}

/// A tile's raw labels: each label's first pixel in the core, and the core as runs.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct RawPart {
    first: Vec<(u32, u64)>,
    runs: Vec<(u32, u32)>,
}

fn raw_part(frame: Area, core: Area, width: usize, labels: &[u32]) -> RawPart {
    let mut first: Vec<(u32, u64)> = Vec::new();
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for y in core.y0..core.y0 + core.h {
        let row = &labels[(y - frame.y0) * frame.w + core.x0 - frame.x0..][..core.w];
        for (i, &l) in row.iter().enumerate() {
            match runs.last_mut() {
                Some((last, len)) if *last == l => *len += 1,
                _ => {
                    runs.push((l, 1));
                    if l != UNLABELLED {
                        first.push((l, (y * width + core.x0 + i) as u64));
                    }
                }
            }
        }
    }
    first.sort_unstable();
    first.dedup_by_key(|e| e.0);
    RawPart { first, runs }
}

/// The final numbering of a run.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) enum Numbering {
    /// Connected regions.
    Regions(Stitch),
    /// Raw labels by first appearance.
    Raw { count: u32, number: Vec<u32> },
}

impl Numbering {
    /// The number of segments.
    pub(crate) fn count(&self) -> u32 {
        match self {
            Numbering::Regions(s) => s.count(),
            Numbering::Raw { count, .. } => *count,
        }
    }
}
