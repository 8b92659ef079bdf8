//! Tiled segmentation: images too large for memory, segmented tile by tile, with the
//! whole-image result.
//!
//! [`TiledSlic`] reads its image through a [`TileSource`] one rectangle at a time (a tiled
//! TIFF on disk, a zarr array, an [`Image`] in memory) and hands the label map back tile by
//! tile, in raster order of tiles. Memory holds a few tiles and their halos, the cluster
//! centres, a bounded feature cache and, until the final numbering, a few hundred bytes a
//! superpixel: each tile merges the small fragments that lie in it, each block of 4 x 4
//! tiles those that lie in the block, and only the regions kept and the fragments cut by the
//! blocks' borders go on to the stitch; the last pass is run again to paint the labels
//! rather than holding them. Memory is bounded by the tile size
//! and the number of superpixels, not by the image (under 1 GiB for 50,000 x 50,000 pixels
//! and a million superpixels with the defaults; the README has the figures).
//!
//! [`Seams::Exact`] (the default) gives *the same partition, with the same numbers*, as
//! [`Slic::segment`] on the whole image, whatever the tile size and the thread count: seeds,
//! iterations, the merge of small fragments and the numbering are all the whole image's (see
//! the engine's notes in the source, `slic/tiles.rs`). It reads every pixel
//! `max_iterations + 2` times (once more for channels that are rescaled rather than
//! converted to CIELAB; the feature cache spares some of the reads). [`Seams::Fast`] clusters
//! each tile alone, with a halo, and only the last labelling pass (run twice, as in exact
//! mode) is shared: the image is read three times, the partition has no seams,
//! and a small fraction of pixels, near tile borders, changes segment.
//!
//! What tiling does to the other algorithms: k-means superpixels could be run exactly the
//! same way (a global Lloyd iteration with per-tile sums) but are not tiled yet;
//! quickshift and mean-shift are exact with a halo of their kernel's reach, Felzenszwalb's
//! merge predicate is not local (see the README); tessera tiles SLIC only.
//!
//! ```
//! use tessera::tiled::{Seams, TiledSlic};
//! use tessera::{Image, Slic, Superpixels};
//! let photo = image::open(concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/chelsea.png")).unwrap();
//! let img = Image::from_dynamic(&photo)?;
//! let slic = Slic { n_segments: 300, ..Slic::default() };
//! let tiled = TiledSlic { slic: slic.clone(), tile: 128, ..TiledSlic::default() };
//! assert_eq!(tiled.segment(&img)?, slic.segment(&img)?); // the same, pixel for pixel
//! # Ok::<(), tessera::Error>(())
//! ```

use crate::connectivity::tiles::Area;
use crate::error::{Error, Result};
use crate::image::Image;
use crate::segmentation::Segmentation;
use crate::slic::Slic;
use crate::slic::tiles::{LastPart, Moved, Numbering, PassKind, Plan, Seed, State};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A rectangle of an image: `width x height` pixels from column `x`, row `y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rect {
    /// First column.
    pub x: u32,
    /// First row.
    pub y: u32,
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
}

/// Where a tiled run reads its image from, one rectangle at a time. Reads come from several
/// threads at once (one per tile in flight).
pub trait TileSource: Sync {
    /// Width of the whole image, in pixels.
    fn width(&self) -> u32;
    /// Height of the whole image, in pixels.
    fn height(&self) -> u32;
    /// Channels per pixel.
    fn channels(&self) -> usize;
    /// The pixels of `rect`, which lies inside the image, as a 2-D image of that size with
    /// [`TileSource::channels`] channels (any sample type; the same for every call).
    ///
    /// # Errors
    /// Whatever keeps the source from reading: [`Error::Tiling`] with a message naming the
    /// file and the problem is the convention.
    fn read(&self, rect: Rect) -> Result<Image>;
}

/// An image in memory is a source too (for tests, and to bound a run's working memory).
impl TileSource for Image {
    fn width(&self) -> u32 {
        Image::width(self)
    }
    fn height(&self) -> u32 {
        Image::height(self)
    }
    fn channels(&self) -> usize {
        Image::channels(self)
    }
    fn read(&self, rect: Rect) -> Result<Image> {
        self.crop(rect.x, rect.y, rect.width, rect.height)
    }
}

/// How tile borders are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Seams {
    /// The whole-image partition and numbers, exactly (default).
    #[default]
    Exact,
    /// Each tile clustered alone with a halo of `halo` pixels (`None`: four grid steps),
    /// then one shared labelling pass: no seams, three reads of the image, a few pixels near
    /// tile borders in other segments than the whole-image run puts them.
    Fast {
        /// Halo around each tile for its clustering, in pixels.
        halo: Option<u32>,
    },
}

/// SLIC on a [`TileSource`], tile by tile.
#[derive(Debug, Clone, PartialEq)]
pub struct TiledSlic {
    /// The SLIC parameters, as for a whole image. Masks and volumes are not tiled.
    pub slic: Slic,
    /// Tile side in pixels (2048). Any size from 16 gives the same result in exact mode;
    /// larger tiles read less halo (a tile reads about 4 grid steps around itself in the
    /// last pass, one step in the others) and take more memory (about 28 bytes a pixel of
    /// tile and halo, per tile in flight).
    pub tile: u32,
    /// Exact or fast seams.
    pub seams: Seams,
    /// Tiles processed at once (`None`: the thread count of the current rayon pool). Each
    /// tile's work is parallel too; more tiles at once only helps with small tiles.
    pub tiles_at_once: Option<usize>,
    /// Bytes of tile features kept between the passes of exact mode (256 MiB), so that the
    /// later passes neither read nor convert the tiles that fit (an image whose features fit
    /// is read and converted three times in all, instead of once a pass). About 12 bytes a
    /// pixel of tile and halo for colour images. 0 keeps none. (On 8,000 x 8,000 pixels, two
    /// threads: 512 MiB ran about 15% faster than 256 and took 200-280 MiB more.)
    pub cache_bytes: usize,
}

impl Default for TiledSlic {
    fn default() -> Self {
        TiledSlic {
            slic: Slic::default(),
            tile: 2048,
            seams: Seams::Exact,
            tiles_at_once: None,
            cache_bytes: 256 << 20,
        }
    }
}

/// Where a run is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Tiles done, over all passes.
    pub done: usize,
    /// Tiles to do, over all passes.
    pub total: usize,
}

/// One tile of the final label map, for [`TiledSlic::run`].
#[derive(Debug, Clone, Copy)]
pub struct TileLabels<'a> {
    /// Where it lies.
    pub rect: Rect,
    /// Its labels, row-major, `rect.width * rect.height` of them, in `0..count` of the
    /// whole run.
    pub labels: &'a [u32],
}

impl TiledSlic {
    /// Segments the source, holding the whole label map in memory.
    ///
    /// # Errors
    /// As [`TiledSlic::run`].
    pub fn segment(&self, source: &dyn TileSource) -> Result<Segmentation> {
        let (w, h) = (source.width() as usize, source.height() as usize);
        let mut labels = vec![0u32; w * h];
        let count = self.run(source, &|_| {}, &mut |tile| {
            let r = tile.rect;
            for (row, src) in tile.labels.chunks(r.width as usize).enumerate() {
                let at = (r.y as usize + row) * w + r.x as usize;
                labels[at..at + src.len()].copy_from_slice(src);
            }
            Ok(())
        })?;
        Ok(Segmentation::from_parts(w as u32, h as u32, labels, count))
    }

    /// Segments the source and gives `sink` each tile of the label map, in raster order of
    /// tiles, once every tile is done; `progress` hears after every tile of every pass.
    /// Returns the number of segments.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for bad parameters (as [`Slic`], and a tile below 16),
    /// [`Error::InvalidImage`] for an empty source, whatever the source's reads and the sink
    /// return, and [`Error::Tiling`] when a region is too large for the tiles' halos (only
    /// with extreme parameters: use larger tiles).
    pub fn run(
        &self,
        source: &dyn TileSource,
        progress: &(dyn Fn(Progress) + Sync),
        sink: &mut dyn FnMut(TileLabels<'_>) -> Result<()>,
    ) -> Result<u32> {
        let plan = TilePlan::new(
            &self.slic,
            source.width(),
            source.height(),
            source.channels(),
            self.tile,
            self.seams,
        )?;
        let tiles = plan.tile_count();
        let at_once = self
            .tiles_at_once
            .unwrap_or_else(rayon::current_num_threads)
            .max(1);
        let total = tiles * Self::passes(&plan);
        let done = std::sync::atomic::AtomicUsize::new(0);
        let tick = || {
            let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress(Progress { done: d, total });
        };
        let read = |t: usize, pass: TilePass| source.read(plan.window(t, pass));
        let chunks = Chunks {
            tiles,
            at_once,
            tick: &tick,
        };

        let range = if plan.needs_range() {
            chunks
                .run(|t| plan.range(t, &read(t, TilePass::Range)?))?
                .into_iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), (lo, hi)| {
                    (a.min(lo), b.max(hi))
                })
        } else {
            (0.0, 0.0)
        };
        // The features of the update passes' frames (the seeds' too), kept between passes
        // while they fit the budget: the later passes then neither read nor convert them.
        let cache = FeatureCache::new(self.cache_bytes);
        let features = |t: usize| -> Result<Features> {
            if let Some(f) = cache.get(t) {
                return Ok(f);
            }
            let pixels = read(t, TilePass::Iterate)?;
            let f = plan
                .plan
                .pass_features(t, PassKind::Iterate, &pixels, range)?;
            Ok(cache.keep(t, f))
        };
        let state = match self.seams {
            Seams::Exact => {
                let seeds = chunks.run(|t| plan.plan.seeds(t, &features(t)?).map(SeedPart))?;
                let mut state = plan.start(seeds)?;
                for _ in 0..plan.update_passes() {
                    let moved = chunks.run(|t| {
                        plan.plan
                            .iterate(&state.state, t, &features(t)?)
                            .map(MovePart)
                    })?;
                    plan.advance(&mut state, moved)?;
                }
                state
            }
            Seams::Fast { .. } => {
                let moved = chunks.run(|t| plan.fast(t, &read(t, TilePass::Fast)?, range))?;
                plan.start_fast(moved)?
            }
        };
        drop(cache);
        let last = |t: usize| plan.last(&state, t, &read(t, TilePass::Last)?, range);
        // What the stitch needs of each tile (its regions on the tiles' borders and the
        // regions it keeps), not the tile's labels: those are computed again, the same, once
        // the numbering is known.
        // Each block of tiles is stitched as far as it can be on its own as soon as its tiles
        // are done: what waits for the stitch is what crosses the blocks' borders.
        let mut parts: Vec<LastPart> = Vec::new();
        for block in plan.plan.blocks(REDUCE_BLOCK) {
            let done = chunks.run_on(&block, |t| last(t).map(|p| p.0.summary()))?;
            parts.push(plan.plan.reduce(done)?);
        }
        let numbering = FinalNumbering(plan.plan.stitch(parts)?);
        chunks.each(
            |t| plan.paint(&numbering, &last(t)?),
            |t, labels| {
                sink(TileLabels {
                    rect: plan.core(t),
                    labels: &labels,
                })
            },
        )?;
        Ok(numbering.count())
    }

    /// Passes over the image that [`TiledSlic::run`] makes with `plan`: the plan's, and the
    /// last once more (once for the stitch, once to paint, so that no tile's labels are held
    /// while the others are done).
    pub fn passes(plan: &TilePlan) -> usize {
        plan.passes() + 1
    }
}

/// The passes of a tiled run, for [`TilePlan::window`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TilePass {
    /// The joint range of the channels (only when they are rescaled, not CIELAB).
    Range,
    /// The seeds (exact mode).
    Seeds,
    /// An update pass (exact mode).
    Iterate,
    /// The one clustering pass of fast mode.
    Fast,
    /// The last pass: labels and regions.
    Last,
}

/// The steps of a tiled run, for schedulers of their own (Dask, a job queue): what to read
/// for each tile of each pass, the work on one tile, and the small reductions between
/// passes. [`TiledSlic::run`] is these steps in order:
///
/// 1. if [`TilePlan::needs_range`], [`TilePlan::range`] of every tile, folded to the
///    smallest minimum and the largest maximum (else the range is `(0.0, 0.0)`);
/// 2. exact mode: [`TilePlan::seeds`] of every tile, [`TilePlan::start`], then
///    [`TilePlan::update_passes`] times [`TilePlan::iterate`] of every tile and
///    [`TilePlan::advance`]; fast mode: [`TilePlan::fast`] of every tile and
///    [`TilePlan::start_fast`];
/// 3. [`TilePlan::last`] of every tile, [`TilePlan::stitch`] of their
///    [`FinalPart::summary`]s, and [`TilePlan::paint`] of each tile.
///
/// Each step on a tile takes the pixels of [`TilePlan::window`] for its pass, and depends
/// only on its inputs, so tiles may run anywhere, in any order. With the `serde` feature the
/// parts and states serialise, to travel between processes.
///
/// ```
/// use tessera::tiled::{Seams, TilePass, TilePlan, TileSource};
/// use tessera::{Image, Slic, Superpixels};
/// let img = Image::from_dynamic(&image::open(concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/chelsea.png")).unwrap())?;
/// let slic = Slic { n_segments: 100, ..Slic::default() };
/// let plan = TilePlan::new(&slic, img.width(), img.height(), img.channels(), 200, Seams::Exact)?;
/// let read = |t, pass| img.read(plan.window(t, pass));
/// let tiles = 0..plan.tile_count();
/// let seeds = tiles.clone().map(|t| plan.seeds(t, &read(t, TilePass::Seeds)?, (0.0, 0.0))).collect::<Result<_, _>>()?;
/// let mut state = plan.start(seeds)?;
/// for _ in 0..plan.update_passes() {
///     let moved = tiles.clone().map(|t| plan.iterate(&state, t, &read(t, TilePass::Iterate)?, (0.0, 0.0))).collect::<Result<_, _>>()?;
///     plan.advance(&mut state, moved)?;
/// }
/// let parts: Vec<_> = tiles.clone().map(|t| plan.last(&state, t, &read(t, TilePass::Last)?, (0.0, 0.0))).collect::<Result<_, _>>()?;
/// let summaries: Vec<_> = parts.iter().map(|p| p.summary()).collect();
/// let numbering = plan.stitch(&summaries.iter().collect::<Vec<_>>())?;
/// let whole = slic.segment(&img)?;
/// for (t, part) in parts.iter().enumerate() {
///     let r = plan.core(t);
///     let labels = plan.paint(&numbering, part)?;
///     assert_eq!(Some(labels[0]), whole.label(r.x, r.y)); // the whole image's labels
/// }
/// assert_eq!(numbering.count(), whole.count());
/// # Ok::<(), tessera::Error>(())
/// ```
pub struct TilePlan {
    plan: Plan,
    seams: Seams,
}

/// The centres between two passes of a tiled run.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TileState {
    state: State,
}

/// The seeds one tile places ([`TilePlan::seeds`]).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SeedPart(Vec<Seed>);

/// The centres one tile moved ([`TilePlan::iterate`], [`TilePlan::fast`]).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MovePart(Vec<Moved>);

/// One tile's last pass ([`TilePlan::last`]): its regions and its core's labels before the
/// final numbering.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FinalPart(LastPart);

impl FinalPart {
    /// What [`TilePlan::stitch`] needs of the part, without the core's labels (small: a
    /// scheduler gathers these, and leaves the parts where they are until
    /// [`TilePlan::paint`]).
    pub fn summary(&self) -> FinalPart {
        FinalPart(self.0.summary())
    }
}

/// The final numbering of a tiled run ([`TilePlan::stitch`]).
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FinalNumbering(Numbering);

impl FinalNumbering {
    /// The number of segments.
    pub fn count(&self) -> u32 {
        self.0.count()
    }
}

impl TilePlan {
    /// The plan for `slic` on a `width x height` image of `channels` channels, in tiles of
    /// `tile` pixels a side.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for bad parameters or a tile below 16 pixels,
    /// [`Error::InvalidImage`] for an empty image.
    pub fn new(
        slic: &Slic,
        width: u32,
        height: u32,
        channels: usize,
        tile: u32,
        seams: Seams,
    ) -> Result<Self> {
        let plan = Plan::new(
            slic,
            width as usize,
            height as usize,
            channels,
            tile as usize,
        )?;
        Ok(TilePlan { plan, seams })
    }

    /// The number of tiles.
    pub fn tile_count(&self) -> usize {
        self.plan.tiles()
    }

    /// Tile `t`'s own pixels (tiles in raster order).
    pub fn core(&self, t: usize) -> Rect {
        rect(self.plan.core(t))
    }

    /// What tile `t` reads for `pass`: its core, a halo and, when the image is smoothed,
    /// the kernel's reach.
    pub fn window(&self, t: usize, pass: TilePass) -> Rect {
        let (_, window) = match pass {
            TilePass::Range => self.plan.range_read(t),
            TilePass::Seeds => self.plan.frame(t, PassKind::Seeds),
            TilePass::Iterate => self.plan.frame(t, PassKind::Iterate),
            TilePass::Fast => self.plan.frame(t, PassKind::Fast(self.fast_halo())),
            TilePass::Last => self.plan.frame(t, PassKind::Last),
        };
        rect(window)
    }

    fn fast_halo(&self) -> usize {
        match self.seams {
            Seams::Fast { halo: Some(h) } => h as usize,
            _ => self.plan.default_fast_halo(),
        }
    }

    /// Passes over the image (range included when needed).
    pub fn passes(&self) -> usize {
        usize::from(self.needs_range())
            + match self.seams {
                Seams::Exact => self.plan.update_passes() + 2,
                Seams::Fast { .. } => 2,
            }
    }

    /// Whether the run first needs the channels' joint range ([`TilePlan::range`]).
    pub fn needs_range(&self) -> bool {
        self.plan.needs_range()
    }

    /// Tile `t`'s part of the joint range of the channels (smoothed, when they are).
    ///
    /// # Errors
    /// [`Error::Tiling`] when `pixels` is not the window's size or channel count.
    pub fn range(&self, t: usize, pixels: &Image) -> Result<(f32, f32)> {
        self.plan.tile_range(t, pixels)
    }

    /// Update passes of exact mode.
    pub fn update_passes(&self) -> usize {
        self.plan.update_passes()
    }

    /// Tile `t`'s seeds.
    ///
    /// # Errors
    /// As [`TilePlan::range`].
    pub fn seeds(&self, t: usize, pixels: &Image, range: (f32, f32)) -> Result<SeedPart> {
        let planes = self.plan.pass_features(t, PassKind::Seeds, pixels, range)?;
        self.plan.seeds(t, &planes).map(SeedPart)
    }

    /// The first state, from every tile's seeds.
    ///
    /// # Errors
    /// [`Error::Tiling`] when the parts are not one of each tile's.
    pub fn start(&self, parts: Vec<SeedPart>) -> Result<TileState> {
        let state = self.plan.start(parts.into_iter().map(|p| p.0).collect())?;
        Ok(TileState { state })
    }

    /// One update pass on tile `t`.
    ///
    /// # Errors
    /// As [`TilePlan::range`].
    pub fn iterate(
        &self,
        state: &TileState,
        t: usize,
        pixels: &Image,
        range: (f32, f32),
    ) -> Result<MovePart> {
        let planes = self
            .plan
            .pass_features(t, PassKind::Iterate, pixels, range)?;
        self.plan.iterate(&state.state, t, &planes).map(MovePart)
    }

    /// The next state, from every tile's moved centres.
    ///
    /// # Errors
    /// [`Error::Tiling`] when the parts are not one of each tile's.
    pub fn advance(&self, state: &mut TileState, parts: Vec<MovePart>) -> Result<()> {
        self.plan
            .advance(&mut state.state, parts.into_iter().map(|p| p.0).collect())
    }

    /// Fast mode's clustering of tile `t`.
    ///
    /// # Errors
    /// As [`TilePlan::range`].
    pub fn fast(&self, t: usize, pixels: &Image, range: (f32, f32)) -> Result<MovePart> {
        let halo = self.fast_halo();
        let planes = self
            .plan
            .pass_features(t, PassKind::Fast(halo), pixels, range)?;
        self.plan.fast(t, halo, &planes).map(MovePart)
    }

    /// Fast mode's state, from every tile's clustered centres.
    ///
    /// # Errors
    /// As [`TilePlan::start`].
    pub fn start_fast(&self, parts: Vec<MovePart>) -> Result<TileState> {
        let state = self
            .plan
            .start_fast(parts.into_iter().map(|p| p.0).collect())?;
        Ok(TileState { state })
    }

    /// The last pass on tile `t`.
    ///
    /// # Errors
    /// As [`TilePlan::range`], and [`Error::Tiling`] when a region is too large for the
    /// halo.
    pub fn last(
        &self,
        state: &TileState,
        t: usize,
        pixels: &Image,
        range: (f32, f32),
    ) -> Result<FinalPart> {
        let planes = self.plan.pass_features(t, PassKind::Last, pixels, range)?;
        self.plan.last(&state.state, t, &planes).map(FinalPart)
    }

    /// The final numbering from every tile's last part (or its summary).
    ///
    /// # Errors
    /// [`Error::Tiling`] when the parts are not one of each tile's.
    pub fn stitch(&self, parts: &[&FinalPart]) -> Result<FinalNumbering> {
        if parts.len() != self.tile_count() {
            return Err(Error::Tiling(format!(
                "{} last parts for {} tiles",
                parts.len(),
                self.tile_count()
            )));
        }
        let inner: Vec<&LastPart> = parts.iter().map(|p| &p.0).collect();
        self.plan.stitch(inner).map(FinalNumbering)
    }

    /// A tile's final labels (its core, row-major) from its last part.
    ///
    /// # Errors
    /// [`Error::Tiling`] for a summary, or a part of another run.
    pub fn paint(&self, numbering: &FinalNumbering, part: &FinalPart) -> Result<Vec<u32>> {
        self.plan.paint(&numbering.0, &part.0)
    }
}

fn rect(a: Area) -> Rect {
    Rect {
        x: a.x0 as u32,
        y: a.y0 as u32,
        width: a.w as u32,
        height: a.h as u32,
    }
}

/// Tile features kept between passes, up to a number of bytes: the first tiles to come while
/// there is room stay (no eviction: every pass visits the tiles in the same order, so what is
/// kept is what the next pass wants).
struct FeatureCache {
    budget: usize,
    /// Bytes kept, and the features by tile.
    kept: Mutex<(usize, HashMap<usize, Features>)>,
}

/// One tile's feature planes, shared between the cache and the pass using them.
type Features = Arc<Vec<Vec<f32>>>;

impl FeatureCache {
    fn new(budget: usize) -> Self {
        FeatureCache {
            budget,
            kept: Mutex::new((0, HashMap::new())),
        }
    }

    fn get(&self, t: usize) -> Option<Features> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.1.get(&t).cloned()
    }

    /// The features, kept if they fit.
    fn keep(&self, t: usize, features: Vec<Vec<f32>>) -> Features {
        let f = Arc::new(features);
        let bytes: usize = f.iter().map(|p| p.len() * 4).sum();
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.0 + bytes <= self.budget {
            kept.0 += bytes;
            kept.1.insert(t, f.clone());
        }
        f
    }
}

/// The side, in tiles, of the blocks whose last parts [`TiledSlic::run`] stitches as far as
/// they can be on their own as soon as they are done (see `connectivity::tiles::reduce`):
/// the fragments that wait for the stitch are then those along the blocks' borders, a
/// quarter of those along every tile's. (Smaller blocks leave more; larger ones hold more
/// tiles' parts at once, each a few MiB at most.)
const REDUCE_BLOCK: usize = 4;

/// The tiles of a run, processed `at_once` at a time in order, each group in parallel, so
/// that memory holds no more than `at_once` frames.
struct Chunks<'a> {
    tiles: usize,
    at_once: usize,
    tick: &'a (dyn Fn() + Sync),
}

impl Chunks<'_> {
    /// `f` on every tile: results in tile order; the first error stops the run.
    fn run<T: Send>(&self, f: impl Fn(usize) -> Result<T> + Sync) -> Result<Vec<T>> {
        let mut out = Vec::with_capacity(self.tiles);
        self.each(f, |_, r| {
            out.push(r);
            Ok(())
        })?;
        Ok(out)
    }

    /// `f` on the tiles `order`: results in that order; the first error stops the run.
    fn run_on<T: Send>(
        &self,
        order: &[usize],
        f: impl Fn(usize) -> Result<T> + Sync,
    ) -> Result<Vec<T>> {
        let mut out = Vec::with_capacity(order.len());
        self.each_of(order, f, |_, r| {
            out.push(r);
            Ok(())
        })?;
        Ok(out)
    }

    /// `f` on every tile, `at_once` tiles at a time, each result handed to `then` (with its
    /// tile) in tile order as soon as its chunk is done; the first error stops the run.
    fn each<T: Send>(
        &self,
        f: impl Fn(usize) -> Result<T> + Sync,
        then: impl FnMut(usize, T) -> Result<()>,
    ) -> Result<()> {
        let order: Vec<usize> = (0..self.tiles).collect();
        self.each_of(&order, f, then)
    }

    /// As [`Chunks::each`], on the tiles `order`, in that order.
    fn each_of<T: Send>(
        &self,
        order: &[usize],
        f: impl Fn(usize) -> Result<T> + Sync,
        mut then: impl FnMut(usize, T) -> Result<()>,
    ) -> Result<()> {
        for chunk in order.chunks(self.at_once) {
            let part: Vec<T> = chunk
                .par_iter()
                .map(|&t| {
                    let r = f(t);
                    (self.tick)();
                    r
                })
                .collect::<Result<_>>()?;
            for (&t, r) in chunk.iter().zip(part) {
                then(t, r)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithm::Superpixels;
    use crate::image::Samples;
    use crate::slic::SlicDistance;
    use crate::test_support::{noise_image, noisy_image};
    use proptest::prelude::*;

    fn tiled(slic: &Slic, tile: u32) -> TiledSlic {
        TiledSlic {
            slic: slic.clone(),
            tile,
            ..TiledSlic::default()
        }
    }

    fn assert_same(slic: &Slic, img: &Image, tile: u32) {
        let whole = slic.segment(img).unwrap();
        let parts = tiled(slic, tile).segment(img).unwrap();
        let differ = whole
            .labels()
            .iter()
            .zip(parts.labels())
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(differ, 0, "{differ} pixels differ, tile {tile}, {slic:?}");
        assert_eq!(whole.count(), parts.count());
    }

    #[test]
    fn exact_mode_is_the_whole_image_run() {
        let img = noisy_image(150, 110, 3, 7);
        let slic = Slic {
            n_segments: 120,
            ..Slic::default()
        };
        for tile in [16, 37, 64, 100, 150, 1000] {
            assert_same(&slic, &img, tile);
        }
    }

    #[test]
    fn many_blocks_of_tiles_change_nothing() {
        // 19 x 14 tiles: blocks of 4 x 4 tiles, the last ones cut, with and without the
        // merge of fragments (and so with and without regions to reduce).
        let img = noisy_image(300, 220, 3, 11);
        for enforce_connectivity in [true, false] {
            let slic = Slic {
                n_segments: 400,
                compactness: 5.0,
                enforce_connectivity,
                ..Slic::default()
            };
            assert_same(&slic, &img, 16);
        }
    }

    #[test]
    fn exact_mode_covers_the_options() {
        let img = noisy_image(120, 90, 3, 3);
        let base = Slic {
            n_segments: 80,
            ..Slic::default()
        };
        let variants = [
            Slic {
                slic_zero: true,
                ..base.clone()
            },
            Slic {
                subsample: 3,
                ..base.clone()
            },
            Slic {
                distance: SlicDistance::Manhattan,
                compactness: 20.0,
                ..base.clone()
            },
            Slic {
                perturb_seeds: true,
                ..base.clone()
            },
            Slic {
                sigma: [0.0, 1.5, 1.0],
                ..base.clone()
            },
            Slic {
                enforce_connectivity: false,
                ..base.clone()
            },
            Slic {
                max_iterations: 1,
                ..base.clone()
            },
            Slic {
                convert_to_lab: Some(false),
                compactness: 0.1,
                ..base.clone()
            },
            Slic {
                min_size_factor: 0.0,
                ..base.clone()
            },
            Slic {
                max_size_factor: 0.6,
                min_size_factor: 0.2,
                ..base.clone()
            },
        ];
        for slic in &variants {
            for tile in [23, 50] {
                assert_same(slic, &img, tile);
            }
        }
    }

    #[test]
    fn any_channel_count_tiles_exactly() {
        for c in [1u8, 2, 4, 5] {
            let img = noisy_image(90, 70, c, u64::from(c));
            let slic = Slic {
                n_segments: 50,
                compactness: if c == 1 { 10.0 } else { 0.1 },
                ..Slic::default()
            };
            assert_same(&slic, &img, 32);
        }
    }

    #[test]
    fn fast_mode_has_every_guarantee_and_little_change() {
        let img = noisy_image(200, 160, 3, 11);
        let slic = Slic {
            n_segments: 200,
            ..Slic::default()
        };
        let whole = slic.segment(&img).unwrap();
        let fast = TiledSlic {
            seams: Seams::Fast { halo: None },
            ..tiled(&slic, 64)
        }
        .segment(&img)
        .unwrap();
        assert_eq!(fast.unlabelled_count(), 0);
        assert_eq!(fast.disconnected_count(), 0);
        assert!(fast.sizes().iter().all(|&s| s > 0));
        let changed = crate::compare::compare(&whole, &fast)
            .map(|c| c.changed_fraction)
            .unwrap_or(1.0);
        assert!(changed < 0.2, "{changed}");
    }

    #[test]
    fn a_partly_kept_cache_changes_nothing() {
        let img = noisy_image(130, 100, 3, 9);
        let slic = Slic {
            n_segments: 90,
            ..Slic::default()
        };
        // Room for some tiles' features but not all.
        let some = TiledSlic {
            cache_bytes: 60_000,
            ..tiled(&slic, 40)
        };
        assert_eq!(some.segment(&img).unwrap(), slic.segment(&img).unwrap());
    }

    #[test]
    fn thread_count_and_tiles_at_once_change_nothing() {
        let img = noise_image(100, 80, 3, 5);
        let slic = Slic {
            n_segments: 60,
            ..Slic::default()
        };
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| tiled(&slic, 30).segment(&img).unwrap());
        let many = TiledSlic {
            tiles_at_once: Some(5),
            cache_bytes: 0,
            ..tiled(&slic, 30)
        }
        .segment(&img)
        .unwrap();
        assert_eq!(one, many);
        assert_eq!(one, slic.segment(&img).unwrap());
    }

    #[test]
    fn bad_sources_and_parameters_are_errors() {
        struct Liar(Image);
        impl TileSource for Liar {
            fn width(&self) -> u32 {
                self.0.width()
            }
            fn height(&self) -> u32 {
                self.0.height()
            }
            fn channels(&self) -> usize {
                3
            }
            fn read(&self, _: Rect) -> Result<Image> {
                Image::new(2, 2, 3, Samples::U8(vec![0; 12]))
            }
        }
        let img = noisy_image(60, 40, 3, 1);
        let slic = Slic::default();
        assert!(matches!(
            tiled(&slic, 20).segment(&Liar(img.clone())),
            Err(Error::Tiling(_))
        ));
        assert!(matches!(
            tiled(&slic, 8).segment(&img),
            Err(Error::InvalidParameter { .. })
        ));
        let bad = Slic {
            n_segments: 0,
            ..Slic::default()
        };
        assert!(tiled(&bad, 32).segment(&img).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        #[test]
        fn exact_on_random_images(
            w in 20u32..110,
            h in 20u32..110,
            k in 1u32..150,
            tile in 16u32..80,
            m in prop_oneof![Just(1.0f32), Just(10.0), Just(40.0)],
            zero in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let img = if seed % 2 == 0 { noise_image(w, h, 3, seed) } else { noisy_image(w, h, 3, seed) };
            let slic = Slic { n_segments: k, compactness: m, slic_zero: zero, ..Slic::default() };
            let whole = slic.segment(&img).unwrap();
            let parts = tiled(&slic, tile).segment(&img).unwrap();
            prop_assert_eq!(whole, parts);
        }
    }
}
