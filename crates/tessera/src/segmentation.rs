//! [`Segmentation`]: a label map whose guarantees hold by construction.

use crate::error::{Error, Result};
use crate::image::shape_text;
use ndarray::{Array2, Array3};

/// The label of a pixel that belongs to no segment (outside a mask).
pub const UNLABELLED: u32 = u32::MAX;

/// Which pixels count as boundary pixels. In a volume, the neighbour in the next slice counts
/// as a third direction beside the right and bottom ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BoundaryMode {
    /// A pixel whose right or bottom neighbour has another label: one-pixel-wide boundaries,
    /// the convention of the BSDS benchmark tools.
    #[default]
    Thin,
    /// A pixel any of whose four neighbours has another label: two-pixel-wide boundaries, one
    /// pixel on each side (Stutz et al.'s convention, and `mark_boundaries(mode="thick")`).
    Thick,
}

/// An over-segmentation of a `width x height` image, or of a volume of `depth` such slices
/// (supervoxels; neighbours are then the six face neighbours).
///
/// Invariants, checked by every constructor:
/// - there is one label per pixel, row-major (a volume's slices one after the other);
/// - labels are `0..count()`, and every one of them labels at least one pixel;
/// - the only other value is [`UNLABELLED`], for pixels that were masked out.
///
/// ```
/// use tessera::Segmentation;
/// // 3x2 image, two segments: the left column and the rest.
/// let seg = Segmentation::from_labels(3, 2, vec![0, 1, 1, 0, 1, 1]).unwrap();
/// assert_eq!(seg.count(), 2);
/// assert_eq!(seg.sizes(), vec![2, 4]);
/// assert_eq!(seg.adjacency(), vec![(0, 1)]);
/// // Any numbering can be made sequential:
/// let seg = Segmentation::relabel_sequential(3, 1, vec![7, 7, 42]).unwrap();
/// assert_eq!(seg.labels(), &[0, 0, 1]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segmentation {
    depth: u32,
    width: u32,
    height: u32,
    labels: Vec<u32>,
    count: u32,
}

impl Segmentation {
    /// Wraps a label map that must already satisfy the invariants.
    ///
    /// # Errors
    /// [`Error::SizeMismatch`] when the map does not hold `width * height` labels,
    /// [`Error::InvalidLabels`] when the labels are not `0..count` with every label used.
    pub fn from_labels(width: u32, height: u32, labels: Vec<u32>) -> Result<Self> {
        Self::from_volume_labels(1, width, height, labels)
    }

    /// [`Segmentation::from_labels`] for a volume of `depth` slices of `width x height`
    /// voxels, the labels slice after slice.
    ///
    /// ```
    /// // Two 2x1 slices; the second slice is its own supervoxel.
    /// let seg = tessera::Segmentation::from_volume_labels(2, 2, 1, vec![0, 0, 1, 1])?;
    /// assert_eq!((seg.depth(), seg.count()), (2, 2));
    /// assert_eq!(seg.adjacency(), vec![(0, 1)]);
    /// assert_eq!(seg.label_at(1, 0, 1), Some(1));
    /// # Ok::<(), tessera::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Segmentation::from_labels`].
    pub fn from_volume_labels(
        depth: u32,
        width: u32,
        height: u32,
        labels: Vec<u32>,
    ) -> Result<Self> {
        check_len_volume(depth, width, height, &labels)?;
        let max = labels.iter().copied().filter(|&l| l != UNLABELLED).max();
        let count = max.map_or(0, |m| m + 1);
        // Every label must be used, so there are never more labels than pixels: checked before
        // the table below is allocated, so that a stray huge label cannot exhaust memory.
        if count as usize > labels.len() {
            return Err(Error::InvalidLabels(format!(
                "label {} is larger than the number of pixels allows ({})",
                count - 1,
                labels.len()
            )));
        }
        let mut used = vec![false; count as usize];
        for &l in &labels {
            if l != UNLABELLED {
                used[l as usize] = true;
            }
        }
        if let Some(missing) = used.iter().position(|&u| !u) {
            return Err(Error::InvalidLabels(format!(
                "label {missing} is unused although {} is the largest label",
                count - 1
            )));
        }
        Ok(Segmentation {
            depth,
            width,
            height,
            labels,
            count,
        })
    }

    /// Renumbers any label map to `0..count` in order of first appearance (row-major), keeping
    /// [`UNLABELLED`] pixels as they are.
    ///
    /// # Errors
    /// [`Error::SizeMismatch`] when the map does not hold `width * height` labels.
    pub fn relabel_sequential(width: u32, height: u32, labels: Vec<u32>) -> Result<Self> {
        Self::relabel_sequential_volume(1, width, height, labels)
    }

    /// [`Segmentation::relabel_sequential`] for a volume (slices in order, each row-major).
    ///
    /// # Errors
    /// [`Error::SizeMismatch`] when the map does not hold `depth * width * height` labels.
    pub fn relabel_sequential_volume(
        depth: u32,
        width: u32,
        height: u32,
        mut labels: Vec<u32>,
    ) -> Result<Self> {
        check_len_volume(depth, width, height, &labels)?;
        let count = relabel_in_place(&mut labels);
        Ok(Segmentation {
            depth,
            width,
            height,
            labels,
            count,
        })
    }

    /// For the algorithms, whose output holds the invariants by construction. The depth is
    /// the number of `width x height` slices the labels fill (1 for an image).
    pub(crate) fn from_parts(width: u32, height: u32, labels: Vec<u32>, count: u32) -> Self {
        let slice = (width as usize * height as usize).max(1);
        debug_assert_eq!(labels.len() % slice, 0);
        debug_assert!(labels.iter().all(|&l| l == UNLABELLED || l < count));
        Segmentation {
            depth: (labels.len() / slice).max(1) as u32,
            width,
            height,
            labels,
            count,
        }
    }

    /// Width of the labelled image.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height of the labelled image.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Number of slices: 1 for an image.
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// Whether this labels a volume of more than one slice.
    pub fn is_volume(&self) -> bool {
        self.depth > 1
    }

    /// `(width, height, depth)`.
    pub(crate) fn shape(&self) -> (u32, u32, u32) {
        (self.width, self.height, self.depth)
    }

    /// Number of segments.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// One label per pixel, row-major (a volume's slices one after the other).
    pub fn labels(&self) -> &[u32] {
        &self.labels
    }

    /// The label at column `x`, row `y` (of the first slice, for a volume), or `None` outside
    /// the image.
    pub fn label(&self, x: u32, y: u32) -> Option<u32> {
        self.label_at(x, y, 0)
    }

    /// The label at column `x`, row `y` of slice `z`, or `None` outside the volume.
    pub fn label_at(&self, x: u32, y: u32, z: u32) -> Option<u32> {
        (x < self.width && y < self.height && z < self.depth).then(|| {
            let (w, h) = (self.width as usize, self.height as usize);
            self.labels[(z as usize * h + y as usize) * w + x as usize]
        })
    }

    /// Gives up the label map.
    pub fn into_labels(self) -> Vec<u32> {
        self.labels
    }

    /// The label map as a `(rows, columns)` array; a volume's slices are stacked, giving
    /// `depth * height` rows (see [`Segmentation::to_volume_array`]).
    pub fn to_array(&self) -> Array2<u32> {
        Array2::from_shape_vec(
            (
                self.depth as usize * self.height as usize,
                self.width as usize,
            ),
            self.labels.clone(),
        )
        .unwrap_or_else(|_| unreachable!("the length is checked on construction"))
    }

    /// The label map as a `(slices, rows, columns)` array (one slice for an image).
    pub fn to_volume_array(&self) -> Array3<u32> {
        Array3::from_shape_vec(
            (
                self.depth as usize,
                self.height as usize,
                self.width as usize,
            ),
            self.labels.clone(),
        )
        .unwrap_or_else(|_| unreachable!("the length is checked on construction"))
    }

    /// Number of pixels that belong to no segment.
    pub fn unlabelled_count(&self) -> usize {
        self.labels.iter().filter(|&&l| l == UNLABELLED).count()
    }

    /// Pixels per segment, indexed by label.
    pub fn sizes(&self) -> Vec<u32> {
        let mut sizes = vec![0u32; self.count as usize];
        for &l in &self.labels {
            if l != UNLABELLED {
                sizes[l as usize] += 1;
            }
        }
        sizes
    }

    /// One flag per pixel: is it on a boundary between two labels (an unlabelled pixel counts
    /// as a label of its own)? See [`BoundaryMode`].
    pub fn boundary_mask(&self, mode: BoundaryMode) -> Vec<bool> {
        let l = &self.labels;
        let mut out = vec![false; l.len()];
        self.for_each_neighbour_pair(|i, j| {
            if l[i] != l[j] {
                out[i] = true;
                if mode == BoundaryMode::Thick {
                    out[j] = true;
                }
            }
        });
        out
    }

    /// Pairs of 4-adjacent (6-adjacent, in a volume) segments `(a, b)` with `a < b`, sorted,
    /// each once.
    pub fn adjacency(&self) -> Vec<(u32, u32)> {
        let l = &self.labels;
        let mut pairs = Vec::new();
        self.for_each_neighbour_pair(|i, j| {
            let (a, b) = (l[i], l[j]);
            if a != b && a != UNLABELLED && b != UNLABELLED {
                pairs.push((a.min(b), a.max(b)));
            }
        });
        pairs.sort_unstable();
        pairs.dedup();
        pairs
    }

    /// Calls `f(i, j)` for every pixel `i` and its right, bottom and (in a volume) next-slice
    /// neighbour `j`: each 4- (6-) neighbour pair once, in raster order of `i`.
    fn for_each_neighbour_pair(&self, mut f: impl FnMut(usize, usize)) {
        let (w, h, d) = (
            self.width as usize,
            self.height as usize,
            self.depth as usize,
        );
        let slice = w * h;
        for z in 0..d {
            for y in 0..h {
                for x in 0..w {
                    let i = (z * h + y) * w + x;
                    if x + 1 < w {
                        f(i, i + 1);
                    }
                    if y + 1 < h {
                        f(i, i + w);
                    }
                    if z + 1 < d {
                        f(i, i + slice);
                    }
                }
            }
        }
    }

    /// Number of segments that are not one 4-connected (6-connected, in a volume) region.
    pub fn disconnected_count(&self) -> u32 {
        let comps = crate::connectivity::split_checked(self);
        // Each component lies inside one label; count the components of each label.
        let mut components_per_label = vec![0u32; self.count as usize];
        let mut comp_seen = vec![false; comps.count() as usize];
        for (&c, &l) in comps.labels().iter().zip(&self.labels) {
            if c != UNLABELLED && !comp_seen[c as usize] {
                comp_seen[c as usize] = true;
                components_per_label[l as usize] += 1;
            }
        }
        components_per_label.iter().filter(|&&n| n > 1).count() as u32
    }
}

/// Refuses a label map that does not hold `width * height` labels, or is empty.
pub(crate) fn check_len(width: u32, height: u32, labels: &[u32]) -> Result<()> {
    check_len_volume(1, width, height, labels)
}

/// Refuses a label map that does not hold `depth * width * height` labels, or is empty.
pub(crate) fn check_len_volume(depth: u32, width: u32, height: u32, labels: &[u32]) -> Result<()> {
    let n = depth as usize * width as usize * height as usize;
    if labels.len() != n || n == 0 {
        return Err(Error::SizeMismatch(format!(
            "a {} label map needs {n} labels, got {}",
            shape_text(depth, width, height),
            labels.len()
        )));
    }
    Ok(())
}

/// Renumbers labels to `0..count` in order of first appearance; returns `count`.
pub(crate) fn relabel_in_place(labels: &mut [u32]) -> u32 {
    let mut next = 0u32;
    let max = labels
        .iter()
        .copied()
        .filter(|&l| l != UNLABELLED)
        .max()
        .unwrap_or(0) as usize;
    // Labels no larger than the map (pixel indices, say): a table beats hashing.
    if max < labels.len().max(1 << 16) {
        let mut map = vec![UNLABELLED; max + 1];
        for l in labels.iter_mut().filter(|l| **l != UNLABELLED) {
            let m = &mut map[*l as usize];
            if *m == UNLABELLED {
                *m = next;
                next += 1;
            }
            *l = *m;
        }
        return next;
    }
    let mut map = std::collections::HashMap::new();
    for l in labels.iter_mut() {
        if *l == UNLABELLED {
            continue;
        }
        *l = *map.entry(*l).or_insert_with(|| {
            next += 1;
            next - 1
        });
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn refuses_gaps_and_bad_sizes() {
        assert!(Segmentation::from_labels(2, 1, vec![0, 2]).is_err());
        assert!(Segmentation::from_labels(2, 2, vec![0, 1]).is_err());
        // A huge label is refused without allocating a table of that size.
        assert!(matches!(
            Segmentation::from_labels(1, 1, vec![UNLABELLED - 1]),
            Err(Error::InvalidLabels(_))
        ));
        let s = Segmentation::from_labels(2, 1, vec![0, UNLABELLED]).unwrap();
        assert_eq!((s.count(), s.unlabelled_count()), (1, 1));
    }

    #[test]
    fn boundaries_thin_and_thick() {
        let s = Segmentation::from_labels(3, 1, vec![0, 0, 1]).unwrap();
        assert_eq!(
            s.boundary_mask(BoundaryMode::Thin),
            vec![false, true, false]
        );
        assert_eq!(
            s.boundary_mask(BoundaryMode::Thick),
            vec![false, true, true]
        );
    }

    #[test]
    fn disconnected_segments_are_counted() {
        // Label 0 appears in two separate places.
        let s = Segmentation::from_labels(3, 1, vec![0, 1, 0]).unwrap();
        assert_eq!(s.disconnected_count(), 1);
        let s = Segmentation::from_labels(3, 1, vec![0, 0, 1]).unwrap();
        assert_eq!(s.disconnected_count(), 0);
    }

    #[test]
    fn volumes_have_six_neighbours() {
        // 1x1x3: three slices, the middle one a label of its own.
        let s = Segmentation::from_volume_labels(3, 1, 1, vec![0, 1, 0]).unwrap();
        assert_eq!(s.adjacency(), vec![(0, 1)]);
        assert_eq!(s.disconnected_count(), 1);
        assert_eq!(s.boundary_mask(BoundaryMode::Thin), vec![true, true, false]);
        assert_eq!(s.to_volume_array().dim(), (3, 1, 1));
        assert_eq!(s.label_at(0, 0, 2), Some(0));
        assert_eq!(s.label_at(0, 0, 3), None);
        // Same labels in the same places of two slices are one connected supervoxel.
        let s = Segmentation::from_volume_labels(2, 2, 1, vec![0, 1, 0, 1]).unwrap();
        assert_eq!(s.disconnected_count(), 0);
        assert!(Segmentation::from_volume_labels(2, 2, 1, vec![0, 1, 0]).is_err());
    }

    proptest! {
        #[test]
        fn relabel_gives_the_invariants(w in 1u32..12, h in 1u32..12, seed in any::<u64>()) {
            let n = (w * h) as usize;
            let mut x = seed | 1;
            let labels: Vec<u32> = (0..n).map(|_| {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                if x % 11 == 0 { UNLABELLED } else { (x % 1000) as u32 * 3 }
            }).collect();
            let s = Segmentation::relabel_sequential(w, h, labels.clone()).unwrap();
            let sizes = s.sizes();
            prop_assert!(sizes.iter().all(|&c| c > 0));
            prop_assert_eq!(sizes.iter().map(|&c| c as usize).sum::<usize>() + s.unlabelled_count(), n);
            // Same partition: equal input labels <=> equal output labels.
            for i in 0..n { for j in 0..n {
                prop_assert_eq!(labels[i] == labels[j], s.labels()[i] == s.labels()[j]);
            }}
            prop_assert!(Segmentation::from_labels(w, h, s.labels().to_vec()).is_ok());
            for (a, b) in s.adjacency() { prop_assert!(a < b && b < s.count()); }
        }
    }
}
