//! Connectivity enforcement in a tiled run, exact: the same regions, merges and numbers as
//! [`connect_with`] on the whole label map.
//!
//! Each tile's buffers hold its *frame*: the tile (its *core*) and a halo around it. A tile
//! finds the regions of its frame with [`components`], and reports the regions it *owns*
//! (those whose first pixel, in the whole image's raster order, lies in its core) with all
//! that the merge needs: size, fixed-point feature sums and, for the regions small enough to
//! be merged, their neighbours and border lengths. Regions are named by a [`RegionKey`], their
//! first pixel, which every tile that sees the region whole computes alike; sorting the keys
//! gives the whole-image numbering of [`components`]. [`stitch`] then runs [`merge_small`] on
//! the gathered graph and numbers the merged regions by their first pixel, as
//! [`connect_with`] does; each tile finally maps its core's pixels through their keys.
//!
//! A region has to be whole inside the frame of every tile that sees it in its core, and a
//! small owned region's neighbours too. The tiled runs choose halos that guarantee it (every
//! region lies within its label's search window); a region that breaks it (possible only when
//! pixels no window reached were given to a far centre) is reported as an error, never
//! guessed.

use super::*;

/// A region's name in a tiled run: the raster index (`y * width + x`) of its first pixel in
/// the whole image, with [`CUT`] set for a piece cut off a region above the size limit (which
/// [`components`] numbers after all the others). Keys sort in the whole-image numbering.
pub(crate) type RegionKey = u64;

/// The flag of a [`RegionKey`] for a cut-off piece.
pub(crate) const CUT: RegionKey = 1 << 63;

/// A rectangle of the image: columns `x0..x0 + w`, rows `y0..y0 + h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Area {
    pub(crate) x0: usize,
    pub(crate) y0: usize,
    pub(crate) w: usize,
    pub(crate) h: usize,
}

impl Area {
    fn holds(&self, x: usize, y: usize) -> bool {
        x >= self.x0 && x < self.x0 + self.w && y >= self.y0 && y < self.y0 + self.h
    }
}

/// What one tile reports of its frame's regions.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct TileRegions {
    /// The regions this tile owns, by key.
    pub(crate) owned: Vec<RegionKey>,
    /// Their sizes.
    pub(crate) sizes: Vec<u32>,
    /// The features per region summed (0 when the merge goes by border).
    pub(crate) channels: usize,
    /// Their feature sums, `channels` values each.
    pub(crate) sums: Vec<i128>,
    /// Owned region `i`'s neighbours are `neighbours[start[i]..start[i + 1]]`: (key, border
    /// length) pieces, listed only for regions below the merge size.
    pub(crate) start: Vec<usize>,
    /// See `start`.
    pub(crate) neighbours: Vec<(RegionKey, u32)>,
    /// The keys of the regions with pixels in the core.
    pub(crate) core_keys: Vec<RegionKey>,
    /// The core's pixels row after row as runs of (index into `core_keys`, length).
    pub(crate) core_runs: Vec<(u32, u32)>,
}

/// The regions of one tile's frame. `labels` (and each of `planes`, when the merge goes by
/// nearest mean) hold `frame` of an image `width` x `height`; `core` lies inside `frame`.
/// `min_size` and `max_size` as for [`connect_with`].
///
/// # Errors
/// A message when a region the tile needs whole touches the edge of the frame (inside the
/// image): the halo is too small for it.
pub(crate) fn tile_regions(
    image: (usize, usize),
    frame: Area,
    core: Area,
    labels: &[u32],
    planes: Option<&[&[f32]]>,
    min_size: usize,
    max_size: usize,
) -> std::result::Result<TileRegions, String> {
    let (width, height) = image;
    let merge = min_size > 1;
    let Components {
        runs,
        edges,
        sizes,
        cut_from,
    } = components(frame.w, frame.h, labels, max_size.max(1), merge);
    let n = sizes.len();
    let plain = n - cut_from.len();
    // First pixel (raster index in the image) and whether it touches an inner edge of the
    // frame, per region; the core slot of the regions with pixels in the core.
    let mut first = vec![RegionKey::MAX; n];
    let mut touches = vec![false; n];
    let (left, top) = (frame.x0 > 0, frame.y0 > 0);
    let (right, bottom) = (frame.x0 + frame.w < width, frame.y0 + frame.h < height);
    for y in 0..runs.rows() {
        let mut x0 = 0usize;
        for k in runs.row(y) {
            let run = runs.list[k];
            let x1 = run.end as usize;
            let id = run.id;
            if id != UNLABELLED {
                let id = id as usize;
                if first[id] == RegionKey::MAX {
                    first[id] = ((frame.y0 + y) * width + frame.x0 + x0) as RegionKey;
                }
                touches[id] |= (left && x0 == 0)
                    || (right && x1 == frame.w)
                    || (top && y == 0)
                    || (bottom && y + 1 == frame.h);
            }
            x0 = x1;
        }
    }
    // A region is whole when none of its pieces touches an inner edge.
    let mut whole: Vec<bool> = touches.iter().map(|&t| !t).collect();
    for (i, &from) in cut_from.iter().enumerate() {
        whole[from as usize] &= !touches[plain + i];
    }
    for (i, &from) in cut_from.iter().enumerate() {
        whole[plain + i] = whole[from as usize];
    }
    let key = |id: usize| first[id] | if id >= plain { CUT } else { 0 };
    let too_small = |what: &str, id: usize| {
        let p = first[id] & !CUT;
        format!(
            "a region {what} (first pixel at x {}, y {}) reaches beyond the tile's halo",
            p % width as u64,
            p / width as u64
        )
    };

    let mut out = TileRegions::default();
    // Owned regions, in key order.
    let mut owned: Vec<usize> = (0..n)
        .filter(|&id| {
            let p = first[id] as usize;
            core.holds(p % width, p / width)
        })
        .collect();
    owned.sort_unstable_by_key(|&id| key(id));
    if let Some(&id) = owned.iter().find(|&&id| !whole[id]) {
        return Err(too_small("of the tile", id));
    }
    let sums = match planes {
        Some(p) if merge => region_sums(&runs, n, p),
        _ => Vec::new(),
    };
    let channels = if sums.is_empty() {
        0
    } else {
        planes.map_or(0, |p| p.len())
    };
    out.channels = channels;
    let adjacency = merge.then(|| Borders::of(&runs, &edges, &sizes, min_size));
    out.start.push(0);
    for &id in &owned {
        out.owned.push(key(id));
        out.sizes.push(sizes[id]);
        if !sums.is_empty() {
            out.sums
                .extend_from_slice(&sums[id * channels..(id + 1) * channels]);
        }
        if let Some(adj) = &adjacency {
            for &(nb, len) in adj.of_region(id as u32) {
                if !whole[nb as usize] {
                    return Err(too_small("next to a small one of the tile", nb as usize));
                }
                out.neighbours.push((key(nb as usize), len));
            }
        }
        out.start.push(out.neighbours.len());
    }

    // The core's pixels, through the keys of their regions.
    let mut slot = vec![u32::MAX; n];
    let (cx0, cx1) = (core.x0 - frame.x0, core.x0 - frame.x0 + core.w);
    for y in core.y0 - frame.y0..core.y0 - frame.y0 + core.h {
        let mut x0 = 0usize;
        for k in runs.row(y) {
            let run = runs.list[k];
            let x1 = run.end as usize;
            let (s, e) = (x0.max(cx0), x1.min(cx1));
            x0 = x1;
            if s >= e {
                continue;
            }
            let id = run.id;
            let index = if id == UNLABELLED {
                u32::MAX
            } else {
                let id = id as usize;
                if !whole[id] {
                    return Err(too_small("in the tile", id));
                }
                if slot[id] == u32::MAX {
                    slot[id] = out.core_keys.len() as u32;
                    out.core_keys.push(key(id));
                }
                slot[id]
            };
            match out.core_runs.last_mut() {
                // Runs continue across rows when the same region ends one row and starts
                // the next: fewer runs to keep.
                Some((last, len)) if *last == index => *len += (e - s) as u32,
                _ => out.core_runs.push((index, (e - s) as u32)),
            }
        }
    }
    Ok(out)
}

/// The merged, numbered regions of a tiled run: each region's final label, by key.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Stitch {
    keys: Vec<RegionKey>,
    label: Vec<u32>,
    count: u32,
}

impl Stitch {
    /// The final label of the region `key`, if the run has such a region.
    pub(crate) fn label_of(&self, key: RegionKey) -> Option<u32> {
        self.keys.binary_search(&key).ok().map(|i| self.label[i])
    }

    /// The number of segments.
    pub(crate) fn count(&self) -> u32 {
        self.count
    }

    /// The final labels of a tile's core pixels, row after row.
    pub(crate) fn paint(&self, tile: &TileRegions) -> std::result::Result<Vec<u32>, String> {
        let labels: Vec<u32> = tile
            .core_keys
            .iter()
            .map(|&k| {
                self.label_of(k)
                    .ok_or_else(|| "a region of the tile is unknown to the run".to_string())
            })
            .collect::<std::result::Result<_, _>>()?;
        let mut out = Vec::with_capacity(tile.core_runs.iter().map(|r| r.1 as usize).sum());
        for &(index, len) in &tile.core_runs {
            let v = if index == u32::MAX {
                UNLABELLED
            } else {
                labels[index as usize]
            };
            out.extend(std::iter::repeat_n(v, len as usize));
        }
        Ok(out)
    }
}

/// Merges and numbers the regions the tiles own, as [`connect_with`] does on the whole map
/// (by nearest mean when the tiles summed features, else by longest border).
///
/// # Errors
/// A message when two tiles own the same region or a neighbour is owned by none.
pub(crate) fn stitch(
    tiles: &[&TileRegions],
    min_size: usize,
) -> std::result::Result<Stitch, String> {
    let channels = tiles.iter().map(|t| t.channels).max().unwrap_or(0);
    if tiles
        .iter()
        .any(|t| t.channels != channels && !t.owned.is_empty())
    {
        return Err("tiles summed different features".to_string());
    }
    // Every owned region, by key: its tile and its place there.
    let mut all: Vec<(RegionKey, u32, u32)> = tiles
        .iter()
        .enumerate()
        .flat_map(|(t, tile)| {
            tile.owned
                .iter()
                .enumerate()
                .map(move |(i, &k)| (k, t as u32, i as u32))
        })
        .collect();
    all.sort_unstable_by_key(|&(k, _, _)| k);
    if all.windows(2).any(|p| p[0].0 == p[1].0) {
        return Err("two tiles claim the same region".to_string());
    }
    let keys: Vec<RegionKey> = all.iter().map(|&(k, _, _)| k).collect();
    let n = keys.len();
    let merge = min_size > 1;
    if !merge || n < 2 {
        return Ok(Stitch {
            label: (0..n as u32).collect(),
            keys,
            count: n as u32,
        });
    }
    let number = |k: RegionKey| {
        keys.binary_search(&k)
            .map(|i| i as u32)
            .map_err(|_| "a neighbouring region is owned by no tile".to_string())
    };
    let mut sizes = Vec::with_capacity(n);
    let mut sums = Vec::with_capacity(n * channels);
    let mut start = Vec::with_capacity(n + 1);
    let mut entries = Vec::new();
    start.push(0);
    for &(_, t, i) in &all {
        let (tile, i) = (tiles[t as usize], i as usize);
        sizes.push(tile.sizes[i]);
        if channels > 0 {
            sums.extend_from_slice(&tile.sums[i * channels..(i + 1) * channels]);
        }
        for &(nb, len) in &tile.neighbours[tile.start[i]..tile.start[i + 1]] {
            entries.push((number(nb)?, len));
        }
        start.push(entries.len());
    }
    let order = smallest_first(&sizes, min_size);
    let adjacency = Borders::from_parts(start, entries);
    let features = (channels > 0).then_some((channels, sums));
    let mut parent = merge_small(&order, &adjacency, &sizes, features, min_size);
    drop(adjacency);
    // Merged regions are numbered in raster order of their first pixel: the earliest first
    // pixel of their members (a cut piece's first pixel is where its cut began).
    let root: Vec<u32> = (0..n as u32).map(|c| find(&mut parent, c)).collect();
    let mut earliest = vec![RegionKey::MAX; n];
    for (i, &r) in root.iter().enumerate() {
        let e = &mut earliest[r as usize];
        *e = (*e).min(keys[i] & !CUT);
    }
    let mut roots: Vec<u32> = (0..n as u32).filter(|&i| root[i as usize] == i).collect();
    roots.sort_unstable_by_key(|&r| earliest[r as usize]);
    let mut final_of = vec![0u32; n];
    for (f, &r) in roots.iter().enumerate() {
        final_of[r as usize] = f as u32;
    }
    Ok(Stitch {
        label: root.iter().map(|&r| final_of[r as usize]).collect(),
        keys,
        count: roots.len() as u32,
    })
}
