//! Weighted pixel (voxel) graphs for the graph-based algorithms: the edges between
//! neighbouring pixels of an image or voxels of a volume, weighted by the Euclidean distance
//! between their feature vectors and sorted by weight, a union-find forest over the pixels,
//! and the merge of small regions along the cheapest edges that turns a partition into one of
//! 4-connected (6-connected, in a volume) regions.

use crate::connectivity::connect;
use crate::error::{Error, Result};
use crate::segmentation::{Segmentation, relabel_in_place};
use rayon::prelude::*;

/// An edge between two neighbouring pixels. In an image `id` is `pixel * 4 + direction`, where
/// the direction is 0 (right), 1 (down), 2 (down-right) or 3 (down-left) from `pixel`; in a
/// volume it is `voxel * 16 + direction`, the direction one of [`VOLUME_STEPS`]. The
/// [`Lattice`] the edges were made on reads them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Edge {
    /// Euclidean distance between the two pixels' features.
    pub weight: f32,
    id: u32,
}

impl Edge {
    /// The two pixels the edge joins, for an image `width` pixels wide.
    #[inline]
    pub fn ends(self, width: usize) -> (usize, usize) {
        let p = (self.id >> 2) as usize;
        let q = match self.id & 3 {
            0 => p + 1,
            1 => p + width,
            2 => p + width + 1,
            _ => p + width - 1,
        };
        (p, q)
    }

    /// Whether the edge joins 4-neighbours (rather than diagonal neighbours).
    #[inline]
    pub fn is_axial(self) -> bool {
        self.id & 3 < 2
    }
}

/// How to read the ends of the edges of one graph: an image's or a volume's.
pub(crate) trait Lattice: Copy + Send + Sync {
    /// The two pixels (voxels) the edge joins, the first before the second in raster order.
    fn ends(self, e: Edge) -> (usize, usize);
    /// Whether the edge joins face neighbours (4-neighbours in an image, 6-neighbours in a
    /// volume) rather than diagonal ones.
    fn is_axial(self, e: Edge) -> bool;
}

/// The edges of a `width`-pixel-wide image (see [`Edge`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plane {
    pub width: usize,
}

impl Lattice for Plane {
    #[inline]
    fn ends(self, e: Edge) -> (usize, usize) {
        e.ends(self.width)
    }

    #[inline]
    fn is_axial(self, e: Edge) -> bool {
        e.is_axial()
    }
}

/// The forward half of a voxel's 26 neighbours, as `(dx, dy, dz)` steps: the three face
/// neighbours first (the 6-neighbour graph uses only these), then the two diagonals in the
/// slice (as the image's down-right and down-left), then the eight neighbours in the next
/// slice off the straight one, row by row.
pub(crate) const VOLUME_STEPS: [(i8, i8, i8); 13] = [
    (1, 0, 0),
    (0, 1, 0),
    (0, 0, 1),
    (1, 1, 0),
    (-1, 1, 0),
    (-1, -1, 1),
    (0, -1, 1),
    (1, -1, 1),
    (-1, 0, 1),
    (1, 0, 1),
    (-1, 1, 1),
    (0, 1, 1),
    (1, 1, 1),
];

/// Face steps at the start of [`VOLUME_STEPS`].
const VOLUME_FACES: u32 = 3;

/// The edges of a volume (see [`Edge`]): the index offset of each of [`VOLUME_STEPS`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Volume {
    offsets: [u32; 13],
}

impl Volume {
    /// The lattice of a volume of `width x height` slices. Every step of [`VOLUME_STEPS`]
    /// goes forward in raster order, so its offset is positive; the caller checks that the
    /// volume is small enough for the offsets to fit.
    fn new(width: usize, height: usize) -> Self {
        let (w, slice) = (width as i64, (width * height) as i64);
        Volume {
            offsets: VOLUME_STEPS.map(|(dx, dy, dz)| {
                (i64::from(dz) * slice + i64::from(dy) * w + i64::from(dx)).max(0) as u32
            }),
        }
    }
}

impl Lattice for Volume {
    #[inline]
    fn ends(self, e: Edge) -> (usize, usize) {
        let p = (e.id >> 4) as usize;
        (p, p + self.offsets[(e.id & 15) as usize] as usize)
    }

    #[inline]
    fn is_axial(self, e: Edge) -> bool {
        e.id & 15 < VOLUME_FACES
    }
}

/// Which neighbours are joined by edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Neighbourhood {
    /// Face neighbours only: left, right, up, down (and the slices before and after, in a
    /// volume).
    Four,
    /// The four and the diagonals (all 26 neighbours, in a volume).
    Eight,
}

/// The edges of the `width x height` pixel graph, weighted by the Euclidean distance between
/// the feature planes' values, sorted by weight. Edges of equal weight keep the order in which
/// they are made (by direction: right, down, down-right, down-left; then row-major by their
/// first pixel, as scikit-image lists them), so the order is fully determined.
///
/// # Errors
/// [`Error::InvalidImage`] when the image has too many pixels to number its edges in `u32`.
pub(crate) fn sorted_edges(
    planes: &[&[f32]],
    width: usize,
    height: usize,
    neighbourhood: Neighbourhood,
) -> Result<Vec<Edge>> {
    let n = width * height;
    if n > (u32::MAX >> 2) as usize {
        return Err(Error::InvalidImage(format!(
            "{width}x{height} has too many pixels for the pixel graph"
        )));
    }
    let dirs: &[u32] = match neighbourhood {
        Neighbourhood::Four => &[0, 1],
        Neighbourhood::Eight => &[0, 1, 2, 3],
    };
    let mut edges: Vec<Edge> = Vec::with_capacity(n * dirs.len());
    for &d in dirs {
        // First column, columns and rows of the pixels that have a neighbour that way.
        let (x0, cols, rows) = match d {
            0 => (0, width.saturating_sub(1), height),
            1 => (0, width, height - 1),
            2 => (0, width.saturating_sub(1), height - 1),
            _ => (1, width.saturating_sub(1), height - 1),
        };
        if cols == 0 || rows == 0 {
            continue;
        }
        let start = edges.len();
        edges.resize(start + cols * rows, Edge { weight: 0.0, id: 0 });
        edges[start..]
            .par_chunks_mut(cols)
            .enumerate()
            .for_each(|(y, out)| {
                let first = y * width + x0;
                let q_first = Edge {
                    weight: 0.0,
                    id: (first as u32) << 2 | d,
                }
                .ends(width)
                .1;
                for (i, e) in out.iter_mut().enumerate() {
                    e.id = ((first + i) as u32) << 2 | d;
                }
                edge_weights(planes, first, q_first, out);
            });
    }
    // Stable LSD radix sort on the (non-negative, finite) weights.
    radsort::sort_by_key(&mut edges, |e| e.weight);
    Ok(edges)
}

/// Fills the weights of a run of edges from pixels `p0 + i` to pixels `q0 + i`.
fn edge_weights(planes: &[&[f32]], p0: usize, q0: usize, out: &mut [Edge]) {
    let len = out.len();
    match planes {
        [a] => weights_of(&[&a[p0..p0 + len]], &[&a[q0..q0 + len]], out),
        [a, b] => weights_of(
            &[&a[p0..p0 + len], &b[p0..p0 + len]],
            &[&a[q0..q0 + len], &b[q0..q0 + len]],
            out,
        ),
        [a, b, c] => weights_of(
            &[&a[p0..p0 + len], &b[p0..p0 + len], &c[p0..p0 + len]],
            &[&a[q0..q0 + len], &b[q0..q0 + len], &c[q0..q0 + len]],
            out,
        ),
        _ => {
            for (i, e) in out.iter_mut().enumerate() {
                let d2: f32 = planes
                    .iter()
                    .map(|pl| (pl[p0 + i] - pl[q0 + i]) * (pl[p0 + i] - pl[q0 + i]))
                    .sum();
                e.weight = d2.sqrt();
            }
        }
    }
}

/// The edges of the `width x height x depth` voxel graph (face neighbours, or all 26 with
/// [`Neighbourhood::Eight`]), weighted by the Euclidean distance between the feature planes'
/// values (one value per voxel, slice after slice), sorted by weight, and the lattice that
/// reads them. Edges of equal weight keep the order in which they are made: by step of
/// [`VOLUME_STEPS`], then in raster order of their first voxel.
///
/// # Errors
/// [`Error::InvalidImage`] when the volume has too many voxels to number its edges in `u32`.
pub(crate) fn sorted_volume_edges(
    planes: &[&[f32]],
    width: usize,
    height: usize,
    depth: usize,
    neighbourhood: Neighbourhood,
) -> Result<(Vec<Edge>, Volume)> {
    let n = width * height * depth;
    if n > (u32::MAX >> 4) as usize {
        return Err(Error::InvalidImage(format!(
            "{width}x{height}x{depth} has too many voxels for the voxel graph"
        )));
    }
    let lattice = Volume::new(width, height);
    let steps = match neighbourhood {
        Neighbourhood::Four => &VOLUME_STEPS[..VOLUME_FACES as usize],
        Neighbourhood::Eight => &VOLUME_STEPS[..],
    };
    // Every voxel has at most one edge per step: reserve for all of them.
    let mut edges: Vec<Edge> = Vec::with_capacity(n * steps.len());
    for (d, &(dx, dy, dz)) in steps.iter().enumerate() {
        // The voxels that have a neighbour along this step: columns x0..x1 of rows y0..y1 of
        // slices 0..z1.
        let (x0, x1) = match dx {
            1 => (0, width.saturating_sub(1)),
            0 => (0, width),
            _ => (1, width),
        };
        let (y0, y1) = match dy {
            1 => (0, height.saturating_sub(1)),
            0 => (0, height),
            _ => (1, height),
        };
        let z1 = depth.saturating_sub(dz as usize);
        let (cols, rows) = (x1.saturating_sub(x0), y1.saturating_sub(y0));
        if cols == 0 || rows == 0 || z1 == 0 {
            continue;
        }
        let offset = lattice.offsets[d] as usize;
        let start = edges.len();
        edges.resize(start + cols * rows * z1, Edge { weight: 0.0, id: 0 });
        edges[start..]
            .par_chunks_mut(cols)
            .enumerate()
            .for_each(|(r, out)| {
                let (z, y) = (r / rows, y0 + r % rows);
                let first = (z * height + y) * width + x0;
                for (i, e) in out.iter_mut().enumerate() {
                    e.id = ((first + i) as u32) << 4 | d as u32;
                }
                edge_weights(planes, first, first + offset, out);
            });
    }
    radsort::sort_by_key(&mut edges, |e| e.weight);
    Ok((edges, lattice))
}

#[inline]
fn weights_of<const C: usize>(p: &[&[f32]; C], q: &[&[f32]; C], out: &mut [Edge]) {
    for (i, e) in out.iter_mut().enumerate() {
        let mut d2 = 0.0f32;
        for c in 0..C {
            let t = p[c][i] - q[c][i];
            d2 += t * t;
        }
        e.weight = d2.sqrt();
    }
}

/// A union-find forest over pixels, with the size of each tree at its root.
#[derive(Debug, Clone)]
pub(crate) struct Forest {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl Forest {
    /// Every pixel its own tree.
    pub fn new(n: usize) -> Self {
        Forest {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }

    /// The root of `p`'s tree (with path halving).
    #[inline]
    pub fn find(&mut self, mut p: usize) -> usize {
        while self.parent[p] as usize != p {
            let gp = self.parent[self.parent[p] as usize];
            self.parent[p] = gp;
            p = gp as usize;
        }
        p
    }

    /// Pixels in the tree whose root is `root`.
    #[inline]
    pub fn size(&self, root: usize) -> u32 {
        self.size[root]
    }

    /// Joins two distinct roots; the larger tree's root (on equal sizes the smaller index)
    /// becomes the root of both, and is returned.
    #[inline]
    pub fn union(&mut self, a: usize, b: usize) -> usize {
        let (keep, child) =
            if self.size[a] > self.size[b] || (self.size[a] == self.size[b] && a < b) {
                (a, b)
            } else {
                (b, a)
            };
        self.parent[child] = keep as u32;
        self.size[keep] += self.size[child];
        keep
    }

    /// The root of every element's tree (not yet numbered `0..count`).
    pub fn roots(&mut self) -> Vec<u32> {
        (0..self.parent.len())
            .map(|p| self.find(p) as u32)
            .collect()
    }
}

/// Felzenszwalb & Huttenlocher's post-processing on a partition given as one region number per
/// pixel (`0..count`): walking the edges in their order, joins the regions of the two ends
/// when they differ and either holds fewer than `min_size` pixels (with `axial_only`,
/// diagonal edges are skipped). A region flagged in `protected` (empty: none), and any region
/// merged with it, never counts as small. Returns the merged partition, numbered `0..count` in
/// order of first appearance, and its count.
///
/// The union-find forest runs over regions, not pixels, so it stays small and cache-resident.
pub(crate) fn merge_small<L: Lattice>(
    regions: &[u32],
    count: u32,
    edges: &[Edge],
    lattice: L,
    min_size: u32,
    axial_only: bool,
    protected: &[bool],
) -> (Vec<u32>, u32) {
    let mut protected = protected.to_vec();
    protected.resize(count as usize, false);
    let mut sizes = vec![0u32; count as usize];
    for &r in regions {
        sizes[r as usize] += 1;
    }
    let mut forest = Forest {
        parent: (0..count).collect(),
        size: sizes,
    };
    if min_size > 1 {
        for &e in edges {
            if axial_only && !lattice.is_axial(e) {
                continue;
            }
            let (p, q) = lattice.ends(e);
            let (rp, rq) = (regions[p], regions[q]);
            if rp == rq {
                continue;
            }
            let (a, b) = (forest.find(rp as usize), forest.find(rq as usize));
            let small = |r: usize| forest.size[r] < min_size && !protected[r];
            if a != b && (small(a) || small(b)) {
                let either = protected[a] || protected[b];
                let root = forest.union(a, b);
                protected[root] = either;
            }
        }
    }
    let roots = forest.roots();
    let mut out: Vec<u32> = regions.iter().map(|&r| roots[r as usize]).collect();
    let count = relabel_in_place(&mut out);
    (out, count)
}

/// Splits each label of a (fully labelled) map into its 4-connected pieces (6-connected, for a
/// map of several `width x height` slices: a volume), then merges every piece smaller than
/// `min_size` pixels into a 4-adjacent (6-adjacent) one along the cheapest edges first (in
/// the order of `edges`, skipping diagonal ones), as [`merge_small`] does. With
/// `keep_largest`, the largest piece of each label (the first in raster order among equals)
/// is never merged for being small, whatever its size: only the pieces cut off from a label
/// are.
///
/// Every segment of the result is one 4-connected (6-connected) region; without `keep_largest`, a segment
/// is smaller than `min_size` only when the whole image is.
pub(crate) fn connected_regions<L: Lattice>(
    width: u32,
    height: u32,
    labels: &[u32],
    edges: &[Edge],
    lattice: L,
    min_size: u32,
    keep_largest: bool,
) -> Segmentation {
    let pieces = connect(width, height, labels, 0, usize::MAX);
    let protected = if keep_largest {
        largest_pieces(labels, &pieces)
    } else {
        Vec::new()
    };
    let (out, count) = merge_small(
        pieces.labels(),
        pieces.count(),
        edges,
        lattice,
        min_size,
        true,
        &protected,
    );
    Segmentation::from_parts(width, height, out, count)
}

/// One flag per piece of `pieces` (a split of `labels`): is it its label's largest piece?
fn largest_pieces(labels: &[u32], pieces: &Segmentation) -> Vec<bool> {
    let sizes = pieces.sizes();
    // For each label, (size, piece) of its largest piece so far.
    let mut best: std::collections::HashMap<u32, (u32, u32)> = std::collections::HashMap::new();
    let mut seen = vec![false; sizes.len()];
    for (&l, &piece) in labels.iter().zip(pieces.labels()) {
        if std::mem::replace(&mut seen[piece as usize], true) {
            continue;
        }
        let size = sizes[piece as usize];
        let entry = best.entry(l).or_insert((size, piece));
        if size > entry.0 {
            *entry = (size, piece);
        }
    }
    let mut flags = vec![false; sizes.len()];
    for &(_, piece) in best.values() {
        flags[piece as usize] = true;
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_are_sorted_and_complete() {
        // 3x2 image, one channel.
        let plane = [0.0, 1.0, 3.0, 0.5, 0.5, 0.5];
        let e4 = sorted_edges(&[&plane], 3, 2, Neighbourhood::Four).unwrap();
        assert_eq!(e4.len(), 2 * 2 + 3);
        let e8 = sorted_edges(&[&plane], 3, 2, Neighbourhood::Eight).unwrap();
        assert_eq!(e8.len(), 7 + 2 * 2);
        assert!(e8.windows(2).all(|w| w[0].weight <= w[1].weight));
        for e in &e8 {
            let (p, q) = e.ends(3);
            assert!((e.weight - (plane[p] - plane[q]).abs()).abs() < 1e-6);
            let (px, py, qx, qy) = (p % 3, p / 3, q % 3, q / 3);
            assert!(px.abs_diff(qx) <= 1 && py.abs_diff(qy) <= 1 && p != q);
            assert_eq!(e.is_axial(), px == qx || py == qy);
        }
        // The three zero-weight edges among the bottom row come first, in row-major order.
        assert_eq!(e8[0].weight, 0.0);
    }

    #[test]
    fn volume_edges_join_the_26_neighbours() {
        // 3x2x2 volume, one channel, every voxel a different value.
        let (w, h, d) = (3usize, 2usize, 2usize);
        let plane: Vec<f32> = (0..12).map(|i| (i * i) as f32 * 0.1).collect();
        let at = |i: usize| (i % w, i / w % h, i / (w * h));
        let (e26, lattice) = sorted_volume_edges(&[&plane], w, h, d, Neighbourhood::Eight).unwrap();
        // Every pair of distinct voxels at Chebyshev distance 1, each once.
        let mut pairs: Vec<(usize, usize)> = e26.iter().map(|&e| lattice.ends(e)).collect();
        pairs.sort_unstable();
        let mut expected = Vec::new();
        for p in 0..12 {
            for q in p + 1..12 {
                let ((px, py, pz), (qx, qy, qz)) = (at(p), at(q));
                if px.abs_diff(qx) <= 1 && py.abs_diff(qy) <= 1 && pz.abs_diff(qz) <= 1 {
                    expected.push((p, q));
                }
            }
        }
        assert_eq!(pairs, expected);
        assert!(e26.windows(2).all(|w| w[0].weight <= w[1].weight));
        for &e in &e26 {
            let (p, q) = lattice.ends(e);
            assert!((e.weight - (plane[p] - plane[q]).abs()).abs() < 1e-6);
            let ((px, py, pz), (qx, qy, qz)) = (at(p), at(q));
            let moved = usize::from(px != qx) + usize::from(py != qy) + usize::from(pz != qz);
            assert_eq!(lattice.is_axial(e), moved == 1);
        }
        // The 6-neighbour graph: the face pairs only.
        let (e6, lattice) = sorted_volume_edges(&[&plane], w, h, d, Neighbourhood::Four).unwrap();
        assert_eq!(e6.len(), 2 * 2 * 2 + 3 * 2 + 6);
        assert!(e6.iter().all(|&e| lattice.is_axial(e)));
    }

    #[test]
    fn forest_unions_track_sizes() {
        let mut f = Forest::new(4);
        let r = f.union(0, 1);
        assert_eq!((r, f.size(r)), (0, 2));
        let r2 = f.union(3, r);
        assert_eq!(r2, 0);
        assert_eq!(f.roots(), vec![0, 0, 2, 0]);
    }

    #[test]
    fn diagonal_pieces_are_split_and_merged() {
        // Both labels lie on a diagonal: four 4-connected pieces of one pixel each.
        let labels = [0, 1, 1, 0];
        let plane = [0.0, 1.0, 1.0, 0.0];
        let edges = sorted_edges(&[&plane], 2, 2, Neighbourhood::Eight).unwrap();
        let plane2 = Plane { width: 2 };
        let seg = connected_regions(2, 2, &labels, &edges, plane2, 1, false);
        assert_eq!(seg.count(), 4);
        // Keeping each label's largest piece (the first, on equal sizes): the top row stays,
        // the two bottom pieces are small and meet first along the bottom edge.
        let seg = connected_regions(2, 2, &labels, &edges, plane2, 2, true);
        assert_eq!(seg.labels(), &[0, 1, 2, 2]);
        let seg = connected_regions(2, 2, &labels, &edges, plane2, 2, false);
        assert_eq!(seg.disconnected_count(), 0);
        assert!(seg.sizes().iter().all(|&s| s >= 2));
    }
}
