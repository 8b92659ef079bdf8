//! Connectivity enforcement in a tiled run, exact: the same regions, merges and numbers as
//! [`connect_with`] on the whole label map.
//!
//! Each tile's buffers hold its *frame*: the tile (its *core*) and a halo around it. A tile
//! finds the regions of its frame with [`components`]. Regions are named by a [`RegionKey`],
//! their first pixel, which every tile that sees the region whole computes alike; sorting the
//! keys gives the whole-image numbering of [`components`].
//!
//! Most small regions are merged by the tile itself: [`merge_small`] compares a fragment with
//! the large regions around it by their own pixels' means, so a *group* of touching small
//! regions that lies in the core, with every neighbour whole in the frame, merges exactly as
//! in the whole image, whatever the rest of the image does ([`merge_locally`]). The tile then
//! reports the regions it *owns* (first pixel in its core) that are still regions of their
//! own: size and fixed-point feature sums, and, for the small ones of groups its core's edge
//! cuts, their neighbours and border lengths; and, for the regions that took in a group, the
//! group's earliest pixel (the numbering's key). So the stitch holds about the large regions
//! and the fragments along tile borders, not every fragment of the image; and [`reduce`]
//! does for a block of tiles' parts what a tile does for its regions (merges the groups
//! whose members and neighbours are all among them, and makes their regions aliases), so
//! that a run which reduces blocks as they are done keeps only the fragments along the
//! blocks' borders. [`stitch`] runs
//! [`merge_small`] on the gathered graph and numbers the merged regions by their first
//! pixel, as [`connect_with`] does; each tile finally maps its core's pixels through the keys
//! of the regions they end in.
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
    /// Owned region `i`'s neighbours are `neighbours[start[i]..start[i + 1]]`, each once, in
    /// key order, listed only for regions below the merge size.
    pub(crate) start: Vec<u32>,
    /// See `start`.
    pub(crate) neighbours: Vec<RegionKey>,
    /// The length of the border with each of `neighbours`, in pixel pairs.
    pub(crate) border: Vec<u32>,
    /// (A region's key, the earliest first pixel of the regions the tile merged into it),
    /// where that pixel comes before the region's own.
    pub(crate) earliest: Vec<(RegionKey, RegionKey)>,
    /// (The key of a region [`reduce`] merged, the key of the region it ended in): empty in
    /// a tile's own part.
    pub(crate) aliases: Vec<(RegionKey, RegionKey)>,
    /// The keys of the regions with pixels in the core.
    pub(crate) core_keys: Vec<RegionKey>,
    /// The core's pixels row after row as runs of (index into `core_keys`, length).
    pub(crate) core_runs: Vec<(u32, u32)>,
}

impl TileRegions {
    /// A copy of all but the core's keys and runs: what the stitch reads.
    pub(crate) fn without_core(&self) -> TileRegions {
        TileRegions {
            owned: self.owned.clone(),
            sizes: self.sizes.clone(),
            channels: self.channels,
            sums: self.sums.clone(),
            start: self.start.clone(),
            neighbours: self.neighbours.clone(),
            border: self.border.clone(),
            earliest: self.earliest.clone(),
            aliases: self.aliases.clone(),
            core_keys: Vec::new(),
            core_runs: Vec::new(),
        }
    }
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
    // Whether all of a region's pixels lie in the core.
    let mut in_core = vec![true; n];
    let (left, top) = (frame.x0 > 0, frame.y0 > 0);
    let (right, bottom) = (frame.x0 + frame.w < width, frame.y0 + frame.h < height);
    let (cx0, cx1) = (core.x0 - frame.x0, core.x0 - frame.x0 + core.w);
    let (cy0, cy1) = (core.y0 - frame.y0, core.y0 - frame.y0 + core.h);
    for y in 0..runs.rows() {
        let mut x0 = 0usize;
        let core_row = y >= cy0 && y < cy1;
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
                in_core[id] &= core_row && x0 >= cx0 && x1 <= cx1;
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
    // The merge inside the tile: the region each region's pixels end in (itself unless it is
    // merged here), and the earliest first pixel of what merged into a region.
    let local = match &adjacency {
        Some(adj) => {
            let regions = Regions {
                sizes: &sizes,
                sums: &sums,
                channels,
                in_core: &in_core,
                whole: &whole,
            };
            merge_locally(adj, &regions, min_size, key)
        }
        None => Local::none(&sizes),
    };
    out.start.push(0);
    // A small region's border comes in pieces (one per pair of runs that touch), many to each
    // neighbour: the stitch gets each neighbour once with the pieces' total, which is all the
    // merge reads of them (it sums a neighbour's pieces) and a fraction of the memory.
    let mut pieces: Vec<(RegionKey, u32)> = Vec::new();
    for &id in &owned {
        if local.into[id] as usize != id {
            // Merged inside the tile: the stitch never hears of it.
            continue;
        }
        out.owned.push(key(id));
        // Its own size (the merge reads a region's own pixels' mean), even when it took in a
        // group here: a region the tile keeps is either large or has nothing left to join.
        out.sizes.push(sizes[id]);
        if !sums.is_empty() {
            out.sums
                .extend_from_slice(&sums[id * channels..(id + 1) * channels]);
        }
        if let Some(adj) = adjacency.as_ref().filter(|_| !local.merged_here[id]) {
            pieces.clear();
            for &(nb, len) in adj.of_region(id as u32) {
                if !whole[nb as usize] {
                    return Err(too_small("next to a small one of the tile", nb as usize));
                }
                pieces.push((key(nb as usize), len));
            }
            pieces.sort_unstable_by_key(|p| p.0);
            let from = out.neighbours.len();
            for &(nb, len) in &pieces {
                if out.neighbours.len() > from && out.neighbours.last() == Some(&nb) {
                    if let Some(total) = out.border.last_mut() {
                        *total += len;
                    }
                } else {
                    out.neighbours.push(nb);
                    out.border.push(len);
                }
            }
        }
        out.start.push(out.neighbours.len() as u32);
    }
    out.earliest = local.earliest;

    // The core's pixels, through the keys of the regions they end in.
    let mut slot = vec![u32::MAX; n];
    for y in cy0..cy1 {
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
                let into = local.into[id] as usize;
                if slot[into] == u32::MAX {
                    slot[into] = out.core_keys.len() as u32;
                    out.core_keys.push(key(into));
                }
                slot[into]
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

/// What [`merge_locally`] settles.
struct Local {
    /// The region each region's pixels end in (itself when it is not merged in the tile).
    into: Vec<u32>,
    /// Whether a region's group of small regions was merged in the tile.
    merged_here: Vec<bool>,
    /// (Key of a region, earliest first pixel of the regions merged into it in the tile),
    /// where that pixel comes before the region's own.
    earliest: Vec<(RegionKey, RegionKey)>,
}

impl Local {
    fn none(sizes: &[u32]) -> Self {
        Local {
            into: (0..sizes.len() as u32).collect(),
            merged_here: vec![false; sizes.len()],
            earliest: Vec::new(),
        }
    }
}

/// What [`merge_locally`] reads of a frame's regions.
struct Regions<'a> {
    sizes: &'a [u32],
    /// As [`region_sums`] (empty for the longest-border rule).
    sums: &'a [i128],
    channels: usize,
    /// Whether all of a region's pixels lie in the core.
    in_core: &'a [bool],
    /// Whether a region lies whole in the frame.
    whole: &'a [bool],
}

/// Merges, inside a tile, the small regions whose whole *group* (the small regions that touch
/// one another, transitively) lies in the tile's core with every neighbour whole in its frame.
/// Such a group is merged exactly as the whole image merges it: a region's mean is its own
/// pixels' (see [`merge_small`]), so the group's merges read nothing but the group, the
/// large regions around it and their order, all of which the tile sees whole. Groups that
/// cross the core's edge are left to the stitch. `key(id)` is region `id`'s key.
fn merge_locally(
    adj: &Borders,
    regions: &Regions<'_>,
    min_size: usize,
    key: impl Fn(usize) -> RegionKey,
) -> Local {
    let Regions {
        sizes,
        sums,
        channels,
        in_core,
        whole,
    } = *regions;
    let n = sizes.len();
    let small = |id: usize| (sizes[id] as usize) < min_size;
    // The groups, by union of touching small regions; a group is local when every member
    // is in the core and whole with whole neighbours. A region whole in the frame has all its
    // borders listed, so a group of whole regions is found whole.
    let mut group: Vec<u32> = (0..n as u32).collect();
    for id in (0..n).filter(|&id| small(id)) {
        for &(nb, _) in adj.of_region(id as u32) {
            if small(nb as usize) {
                let (a, b) = (find(&mut group, id as u32), find(&mut group, nb));
                group[a.max(b) as usize] = a.min(b);
            }
        }
    }
    let mut ok = vec![true; n];
    for id in (0..n).filter(|&id| small(id)) {
        let g = find(&mut group, id as u32) as usize;
        let whole_around = adj
            .of_region(id as u32)
            .iter()
            .all(|&(nb, _)| whole[nb as usize]);
        ok[g] &= in_core[id] && whole[id] && whole_around;
    }
    let mut merged_here = vec![false; n];
    for id in (0..n).filter(|&id| small(id)) {
        merged_here[id] = ok[find(&mut group, id as u32) as usize];
    }
    // The local groups' graph: their regions and the large regions they touch, in key order
    // (the whole image's order of region numbers, which breaks the merge's ties).
    let mut in_graph = merged_here.clone();
    for id in (0..n).filter(|&id| merged_here[id]) {
        for &(nb, _) in adj.of_region(id as u32) {
            in_graph[nb as usize] = true;
        }
    }
    let mut nodes: Vec<usize> = (0..n).filter(|&id| in_graph[id]).collect();
    nodes.sort_unstable_by_key(|&id| key(id));
    let mut node_of = vec![u32::MAX; n];
    for (i, &id) in nodes.iter().enumerate() {
        node_of[id] = i as u32;
    }
    let mut start = Vec::with_capacity(nodes.len() + 1);
    let mut entries = Vec::new();
    start.push(0);
    for &id in &nodes {
        if merged_here[id] {
            entries.extend(
                adj.of_region(id as u32)
                    .iter()
                    .map(|&(nb, len)| (node_of[nb as usize], len)),
            );
        }
        start.push(entries.len());
    }
    let node_sizes: Vec<u32> = nodes.iter().map(|&id| sizes[id]).collect();
    let features = (channels > 0).then(|| {
        let s = nodes
            .iter()
            .flat_map(|&id| sums[id * channels..(id + 1) * channels].iter().copied())
            .collect();
        (channels, s)
    });
    let order = smallest_first(&node_sizes, min_size);
    let mut parent = merge_small(
        &order,
        &Borders::from_parts(start, entries),
        &node_sizes,
        features,
        min_size,
    );
    let mut into: Vec<u32> = (0..n as u32).collect();
    let mut earliest = vec![RegionKey::MAX; nodes.len()];
    for (i, &id) in nodes.iter().enumerate() {
        let r = find(&mut parent, i as u32) as usize;
        if r != i {
            into[id] = nodes[r] as u32;
            let e = &mut earliest[r];
            *e = (*e).min(key(id) & !CUT);
        }
    }
    let earliest = nodes
        .iter()
        .zip(earliest)
        .filter_map(|(&id, e)| {
            let own = key(id);
            (e < (own & !CUT)).then_some((own, e))
        })
        .collect();
    Local {
        into,
        merged_here,
        earliest,
    }
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

/// The feature count of the parts' sums (all alike, or none).
fn channels_of(parts: &[&TileRegions]) -> std::result::Result<usize, String> {
    let channels = parts.iter().map(|t| t.channels).max().unwrap_or(0);
    if parts
        .iter()
        .any(|t| t.channels != channels && !t.owned.is_empty())
    {
        return Err("tiles summed different features".to_string());
    }
    Ok(channels)
}

/// Every region the parts own, by key: (key, part, place in the part).
fn by_key(parts: &[&TileRegions]) -> std::result::Result<Vec<(RegionKey, u32, u32)>, String> {
    let mut all: Vec<(RegionKey, u32, u32)> = parts
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
    Ok(all)
}

/// Stitches several tiles' parts as far as they can be stitched on their own, into one part
/// for [`stitch`] (or for another `reduce`). A group of small regions (see
/// [`merge_locally`]) whose members' neighbours are all among the parts' regions is merged
/// here, exactly as [`stitch`] would merge it: groups are independent of one another and of
/// the order in which they are merged (see [`merge_small`]). Its regions become *aliases*
/// of the region they end in; the rest is handed on unchanged. A run that reduces each block
/// of tiles as soon as its tiles are done so holds, until the stitch, the large regions and
/// the fragments along the blocks' borders, not those along every tile's.
///
/// # Errors
/// As [`stitch`], but a neighbour owned by none of the parts only leaves its group to the
/// stitch.
pub(crate) fn reduce(
    tiles: Vec<TileRegions>,
    min_size: usize,
) -> std::result::Result<TileRegions, String> {
    let parts: Vec<&TileRegions> = tiles.iter().collect();
    let channels = channels_of(&parts)?;
    let all = by_key(&parts)?;
    let n = all.len();
    let keys: Vec<RegionKey> = all.iter().map(|&(k, _, _)| k).collect();
    let at = |k: RegionKey| keys.binary_search(&k).ok();
    let record = |i: usize| {
        let (_, t, j) = all[i];
        (parts[t as usize], j as usize)
    };
    // A region still open to the merge: a small one with its neighbours listed (a tile
    // lists them for the small regions it did not merge, and only for those).
    let neighbours = |i: usize| {
        let (tile, j) = record(i);
        let (from, to) = (tile.start[j] as usize, tile.start[j + 1] as usize);
        (&tile.neighbours[from..to], &tile.border[from..to])
    };
    let open = |i: usize| !neighbours(i).0.is_empty();
    // The groups of open regions; a group is closed when every neighbour of every member
    // is here.
    let mut group: Vec<u32> = (0..n as u32).collect();
    let mut missing = vec![false; n];
    for i in (0..n).filter(|&i| open(i)) {
        for &nb in neighbours(i).0 {
            match at(nb) {
                Some(j) if open(j) => {
                    let (a, b) = (find(&mut group, i as u32), find(&mut group, j as u32));
                    group[a.max(b) as usize] = a.min(b);
                }
                Some(_) => {}
                None => missing[i] = true,
            }
        }
    }
    let mut closed = vec![true; n];
    for i in (0..n).filter(|&i| open(i)) {
        let g = find(&mut group, i as u32) as usize;
        closed[g] &= !missing[i];
    }
    let member: Vec<bool> = (0..n)
        .map(|i| open(i) && closed[find(&mut group, i as u32) as usize])
        .collect();
    drop(group);
    // The closed groups' graph: their members and the regions they touch, in key order.
    let mut in_graph = member.clone();
    for i in (0..n).filter(|&i| member[i]) {
        for &nb in neighbours(i).0 {
            if let Some(j) = at(nb) {
                in_graph[j] = true;
            }
        }
    }
    let nodes: Vec<usize> = (0..n).filter(|&i| in_graph[i]).collect();
    drop(in_graph);
    let mut node_of = vec![u32::MAX; n];
    for (v, &i) in nodes.iter().enumerate() {
        node_of[i] = v as u32;
    }
    let mut start = Vec::with_capacity(nodes.len() + 1);
    let mut entries = Vec::new();
    start.push(0);
    for &i in &nodes {
        if member[i] {
            let (nbs, lens) = neighbours(i);
            for (&nb, &len) in nbs.iter().zip(lens) {
                if let Some(j) = at(nb) {
                    entries.push((node_of[j], len));
                }
            }
        }
        start.push(entries.len());
    }
    let node_sizes: Vec<u32> = nodes
        .iter()
        .map(|&i| {
            let (tile, j) = record(i);
            tile.sizes[j]
        })
        .collect();
    let features = (channels > 0).then(|| {
        let sums = nodes
            .iter()
            .flat_map(|&i| {
                let (tile, j) = record(i);
                tile.sums[j * channels..(j + 1) * channels].iter().copied()
            })
            .collect();
        (channels, sums)
    });
    let order = smallest_first(&node_sizes, min_size);
    let mut parent = merge_small(
        &order,
        &Borders::from_parts(start, entries),
        &node_sizes,
        features,
        min_size,
    );
    // The region each region ends in (itself unless merged here), and the earliest first
    // pixel of what ends in it (tiles' earliest pixels of regions elsewhere pass through).
    let mut into: Vec<u32> = (0..n as u32).collect();
    for (v, &i) in nodes.iter().enumerate() {
        into[i] = nodes[find(&mut parent, v as u32) as usize] as u32;
    }
    let mut earliest: Vec<RegionKey> = keys.iter().map(|&k| k & !CUT).collect();
    let mut out = TileRegions {
        channels,
        ..TileRegions::default()
    };
    for tile in &parts {
        for &(k, e) in &tile.earliest {
            match at(k) {
                Some(i) => earliest[i] = earliest[i].min(e),
                None => out.earliest.push((k, e)),
            }
        }
        out.aliases.extend_from_slice(&tile.aliases);
    }
    for i in 0..n {
        let r = into[i] as usize;
        if r != i {
            earliest[r] = earliest[r].min(earliest[i]);
            out.aliases.push((keys[i], keys[r]));
        }
    }
    out.start.push(0);
    for i in (0..n).filter(|&i| into[i] as usize == i) {
        let (tile, j) = record(i);
        out.owned.push(keys[i]);
        out.sizes.push(tile.sizes[j]);
        out.sums
            .extend_from_slice(&tile.sums[j * channels..(j + 1) * channels]);
        if !member[i] {
            let (nbs, lens) = neighbours(i);
            out.neighbours.extend_from_slice(nbs);
            out.border.extend_from_slice(lens);
        }
        out.start.push(out.neighbours.len() as u32);
        if earliest[i] < keys[i] & !CUT {
            out.earliest.push((keys[i], earliest[i]));
        }
    }
    Ok(out)
}

/// Merges and numbers the regions the tiles own, as [`connect_with`] does on the whole map
/// (by nearest mean when the tiles summed features, else by longest border). `regions(p)` is
/// tile part `p`'s regions (`None` for a part of another kind of run); a part may be a
/// [`reduce`]d one, whose aliases take their region's number.
///
/// The parts are taken by value so that, once their regions are copied into the merge's
/// graph, they are dropped before the merge runs (owned parts free their memory there);
/// borrowed parts work as well.
///
/// # Errors
/// A message when a part is of another kind, two tiles own the same region or a neighbour
/// is owned by none.
pub(crate) fn stitch<P>(
    tiles: Vec<P>,
    regions: impl Fn(&P) -> Option<&TileRegions>,
    min_size: usize,
) -> std::result::Result<Stitch, String> {
    let parts: Vec<&TileRegions> = tiles
        .iter()
        .map(&regions)
        .collect::<Option<_>>()
        .ok_or_else(|| "parts of two kinds of run".to_string())?;
    let channels = channels_of(&parts)?;
    let all = by_key(&parts)?;
    let keys: Vec<RegionKey> = all.iter().map(|&(k, _, _)| k).collect();
    let n = keys.len();
    let number = |k: RegionKey| {
        keys.binary_search(&k)
            .map(|i| i as u32)
            .map_err(|_| "a neighbouring region is owned by no tile".to_string())
    };
    let aliases: Vec<(RegionKey, RegionKey)> = parts
        .iter()
        .flat_map(|t| t.aliases.iter().copied())
        .collect();
    let label: Vec<u32> = if min_size <= 1 || n < 2 {
        drop(all);
        drop(parts);
        drop(tiles);
        (0..n as u32).collect()
    } else {
        // Merged regions are numbered in raster order of their first pixel: the earliest
        // first pixel of their members (a cut piece's first pixel is where its cut began; a
        // region's own earliest is its first, or that of a region merged into it before).
        let mut own: Vec<RegionKey> = keys.iter().map(|&k| k & !CUT).collect();
        for tile in &parts {
            for &(k, e) in &tile.earliest {
                let i = number(k)? as usize;
                own[i] = own[i].min(e);
            }
        }
        // The merge's graph, in key order, in buffers of the exact size (a grown buffer
        // would hold up to twice its entries, and both copies while it moves).
        let mut sizes = Vec::with_capacity(n);
        let mut sums = Vec::with_capacity(n * channels);
        let mut start = Vec::with_capacity(n + 1);
        let mut entries = Vec::with_capacity(parts.iter().map(|t| t.neighbours.len()).sum());
        start.push(0);
        for &(_, t, i) in &all {
            let (tile, i) = (parts[t as usize], i as usize);
            sizes.push(tile.sizes[i]);
            if channels > 0 {
                sums.extend_from_slice(&tile.sums[i * channels..(i + 1) * channels]);
            }
            let (from, to) = (tile.start[i] as usize, tile.start[i + 1] as usize);
            for (&nb, &len) in tile.neighbours[from..to].iter().zip(&tile.border[from..to]) {
                entries.push((number(nb)?, len));
            }
            start.push(entries.len());
        }
        drop(all);
        drop(parts);
        drop(tiles);
        let order = smallest_first(&sizes, min_size);
        let adjacency = Borders::from_parts(start, entries);
        let features = (channels > 0).then_some((channels, sums));
        let mut parent = merge_small(&order, &adjacency, &sizes, features, min_size);
        drop(adjacency);
        let root: Vec<u32> = (0..n as u32).map(|c| find(&mut parent, c)).collect();
        let mut earliest = vec![RegionKey::MAX; n];
        for (i, &r) in root.iter().enumerate() {
            let e = &mut earliest[r as usize];
            *e = (*e).min(own[i]);
        }
        let mut roots: Vec<u32> = (0..n as u32).filter(|&i| root[i as usize] == i).collect();
        roots.sort_unstable_by_key(|&r| earliest[r as usize]);
        let mut final_of = vec![0u32; n];
        for (f, &r) in roots.iter().enumerate() {
            final_of[r as usize] = f as u32;
        }
        root.iter().map(|&r| final_of[r as usize]).collect()
    };
    let count = label.iter().map(|&l| l + 1).max().unwrap_or(0);
    if aliases.is_empty() {
        return Ok(Stitch { keys, label, count });
    }
    // Regions merged by a reduce take the number of the region they ended in.
    let mut named: Vec<(RegionKey, u32)> =
        keys.iter().copied().zip(label.iter().copied()).collect();
    for &(k, into) in &aliases {
        let i = number(into)
            .map_err(|_| "a region merged before the stitch ended in no region".to_string())?;
        named.push((k, label[i as usize]));
    }
    drop((keys, label, aliases));
    named.sort_unstable_by_key(|&(k, _)| k);
    if named.windows(2).any(|p| p[0].0 == p[1].0) {
        return Err("two tiles claim the same region".to_string());
    }
    Ok(Stitch {
        keys: named.iter().map(|&(k, _)| k).collect(),
        label: named.iter().map(|&(_, l)| l).collect(),
        count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithm::Superpixels;
    use crate::slic::Slic;
    use crate::test_support::noisy_image;

    /// Raw SLIC labels (many small fragments) and one feature plane of a noisy image.
    fn fragments(w: u32, h: u32) -> (Vec<u32>, Vec<f32>) {
        let img = noisy_image(w, h, 3, 5);
        let slic = Slic {
            n_segments: 60,
            compactness: 1.0,
            enforce_connectivity: false,
            ..Slic::default()
        };
        let labels = slic.segment(&img).unwrap().labels().to_vec();
        let plane = (0..(w * h) as usize)
            .map(|i| ((i * 7919) % 101) as f32 + (labels[i] % 5) as f32 * 30.0)
            .collect();
        (labels, plane)
    }

    #[test]
    fn tiles_merge_the_groups_they_hold_and_hand_on_the_rest() {
        let (w, h) = (90usize, 70usize);
        let (labels, plane) = fragments(w as u32, h as u32);
        let planes: [&[f32]; 1] = [&plane];
        let (min_size, max_size) = (50, 400);
        let whole = connect_with(
            w as u32,
            h as u32,
            &labels,
            min_size,
            max_size,
            MergeInto::NearestMean(&planes),
        );
        let frame = Area { x0: 0, y0: 0, w, h };
        let regions = components(w, h, &labels, max_size, true).sizes;
        let small = regions.iter().filter(|&&s| (s as usize) < min_size).count();
        assert!(small > 20, "the test needs fragments: {small}");
        for cores in [
            vec![frame],
            vec![
                Area { w: 40, ..frame },
                Area {
                    x0: 40,
                    w: 50,
                    ..frame
                },
            ],
        ] {
            let tiles: Vec<TileRegions> = cores
                .iter()
                .map(|&core| {
                    tile_regions(
                        (w, h),
                        frame,
                        core,
                        &labels,
                        Some(&planes),
                        min_size,
                        max_size,
                    )
                    .unwrap()
                })
                .collect();
            let kept: usize = tiles.iter().map(|t| t.owned.len()).sum();
            let listed: usize = tiles.iter().map(|t| t.start.len() - 1).sum();
            assert_eq!(kept, listed);
            // Only groups cut by a core's edge reach the stitch with their borders.
            let with_borders: usize = tiles
                .iter()
                .map(|t| t.start.windows(2).filter(|p| p[1] > p[0]).count())
                .sum();
            if cores.len() == 1 {
                assert_eq!(with_borders, 0);
            }
            assert!(
                kept < regions.len() - small / 2,
                "{kept} of {}",
                regions.len()
            );
            let refs: Vec<&TileRegions> = tiles.iter().collect();
            let numbering = stitch(refs, |t| Some(*t), min_size).unwrap();
            assert_eq!(numbering.count(), whole.count());
            let mut painted = vec![UNLABELLED; w * h];
            for (core, tile) in cores.iter().zip(&tiles) {
                let labels = numbering.paint(tile).unwrap();
                for (row, src) in labels.chunks(core.w).enumerate() {
                    let at = row * w + core.x0;
                    painted[at..at + core.w].copy_from_slice(src);
                }
            }
            assert_eq!(painted, whole.labels(), "{} tiles", cores.len());
        }
    }

    #[test]
    fn reduced_blocks_stitch_as_their_tiles_do() {
        let (w, h) = (90usize, 70usize);
        let (labels, plane) = fragments(w as u32, h as u32);
        let planes: [&[f32]; 1] = [&plane];
        let (min_size, max_size) = (50, 400);
        let whole = connect_with(
            w as u32,
            h as u32,
            &labels,
            min_size,
            max_size,
            MergeInto::NearestMean(&planes),
        );
        let frame = Area { x0: 0, y0: 0, w, h };
        // Six cores, two rows of three.
        let cores: Vec<Area> = (0..6)
            .map(|t| {
                let (tx, ty) = (t % 3, t / 3);
                Area {
                    x0: tx * 30,
                    y0: ty * 35,
                    w: 30,
                    h: 35,
                }
            })
            .collect();
        let tiles: Vec<TileRegions> = cores
            .iter()
            .map(|&core| {
                tile_regions(
                    (w, h),
                    frame,
                    core,
                    &labels,
                    Some(&planes),
                    min_size,
                    max_size,
                )
                .unwrap()
            })
            .collect();
        let open = |t: &TileRegions| t.start.windows(2).filter(|p| p[1] > p[0]).count();
        let before: usize = tiles.iter().map(open).sum();
        // Blocks: each tile alone, the two rows, columns of two, everything; and reduced
        // blocks reduced again.
        let blockings: Vec<Vec<Vec<usize>>> = vec![
            (0..6).map(|t| vec![t]).collect(),
            vec![vec![0, 1, 2], vec![3, 4, 5]],
            vec![vec![0, 3], vec![1, 4], vec![2, 5]],
            vec![(0..6).collect()],
        ];
        for (b, blocks) in blockings.iter().enumerate() {
            let reduced: Vec<TileRegions> = blocks
                .iter()
                .map(|block| {
                    let parts = block.iter().map(|&t| tiles[t].without_core()).collect();
                    reduce(parts, min_size).unwrap()
                })
                .collect();
            let after: usize = reduced.iter().map(open).sum();
            let aliases: usize = reduced.iter().map(|r| r.aliases.len()).sum();
            if blocks.len() == 1 {
                assert_eq!(after, 0, "everything closes in one block");
            }
            if blocks.len() < 6 {
                assert!(after < before && aliases > 0, "{b}: {after} of {before}");
            }
            let numbering = if b == 2 {
                // Reduce the reduced columns once more, in two blocks.
                let mut r = reduced.into_iter();
                let first = reduce(vec![r.next().unwrap(), r.next().unwrap()], min_size).unwrap();
                let rest: Vec<TileRegions> = std::iter::once(first).chain(r).collect();
                stitch(rest, |t| Some(t), min_size).unwrap()
            } else {
                stitch(reduced, |t| Some(t), min_size).unwrap()
            };
            assert_eq!(numbering.count(), whole.count());
            let mut painted = vec![UNLABELLED; w * h];
            for (core, tile) in cores.iter().zip(&tiles) {
                let labels = numbering.paint(tile).unwrap();
                for (row, src) in labels.chunks(core.w).enumerate() {
                    let at = row * w + core.x0;
                    painted[at + core.y0 * w..at + core.y0 * w + core.w].copy_from_slice(src);
                }
            }
            assert_eq!(painted, whole.labels(), "blocking {b}");
        }
    }
}
