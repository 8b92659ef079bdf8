//! [`RegionGraph`]: the region adjacency graph of a segmentation, with colour statistics.

use crate::error::{Error, Result};
use tessera::{Image, Segmentation, UNLABELLED};

/// Parameters of [`RegionGraph::build`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphParams {
    /// Bins per CIELAB channel of each node's joint colour histogram (`bins^3` bins for colour
    /// images, `bins` for grey). Default 4.
    pub histogram_bins: usize,
}

impl Default for GraphParams {
    fn default() -> Self {
        GraphParams { histogram_bins: 4 }
    }
}

/// A node of the graph: one superpixel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Node {
    /// Pixels in the superpixel.
    pub size: u32,
    /// Mean CIELAB colour (`a = b = 0` for grey images).
    pub mean_lab: [f32; 3],
    /// Mean pixel position `(x, y)`.
    pub centroid: [f32; 2],
}

/// An edge of the graph: two 4-adjacent superpixels `a < b`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionEdge {
    /// Smaller node index.
    pub a: u32,
    /// Larger node index.
    pub b: u32,
    /// Number of 4-neighbour pixel pairs with one pixel in each.
    pub boundary: u32,
    /// Squared CIELAB distance of the two mean colours.
    pub contrast: f64,
}

/// The region adjacency graph of a [`Segmentation`] of an [`Image`].
///
/// ```
/// use tessera::{Image, Samples, Segmentation};
/// use tessera_crf::RegionGraph;
/// let img = Image::new(3, 1, 1, Samples::U8(vec![0, 0, 255]))?;
/// let seg = Segmentation::from_labels(3, 1, vec![0, 0, 1])?;
/// let g = RegionGraph::build(&img, &seg, &Default::default())?;
/// assert_eq!(g.len(), 2);
/// assert_eq!(g.nodes()[0].size, 2);
/// assert_eq!(g.edges()[0].boundary, 1);
/// assert!((g.edges()[0].contrast - 100.0f64.powi(2)).abs() < 0.1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RegionGraph {
    nodes: Vec<Node>,
    edges: Vec<RegionEdge>,
    bins: usize,
    histograms: Vec<f32>,
}

/// CIELAB channel ranges used for the histograms; values outside are clamped.
const RANGES: [(f32, f32); 3] = [(0.0, 100.0), (-100.0, 100.0), (-100.0, 100.0)];

impl RegionGraph {
    /// Builds the graph. Unlabelled (masked) pixels belong to no node.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for zero histogram bins; a size mismatch between image and
    /// segmentation; an image that is neither grey nor RGB.
    pub fn build(image: &Image, seg: &Segmentation, params: &GraphParams) -> Result<Self> {
        if params.histogram_bins == 0 || params.histogram_bins > 64 {
            return Err(Error::param("histogram_bins", "must be in 1..=64"));
        }
        if (image.width(), image.height()) != (seg.width(), seg.height()) {
            return Err(tessera::Error::SizeMismatch(format!(
                "image {}x{}, segmentation {}x{}",
                image.width(),
                image.height(),
                seg.width(),
                seg.height()
            ))
            .into());
        }
        if image.is_volume() || seg.is_volume() {
            return Err(tessera::Error::UnsupportedFormat(format!(
                "the region graph is built on 2-D images; this is a volume of {} slices",
                image.depth().max(seg.depth())
            ))
            .into());
        }
        let lab = tessera::cielab_planes(image)?;
        let (w, h) = (seg.width() as usize, seg.height() as usize);
        let n = seg.count() as usize;
        let labels = seg.labels();
        let bins = params.histogram_bins;
        let hist_len = bins.pow(lab.len() as u32);
        let mut sums = vec![[0.0f64; 5]; n];
        let mut sizes = vec![0u32; n];
        let mut histograms = vec![0.0f32; n * hist_len];
        let bin = |c: usize, v: f32| -> usize {
            let (lo, hi) = RANGES[c];
            let t = ((v - lo) / (hi - lo) * bins as f32).floor();
            (t.max(0.0) as usize).min(bins - 1)
        };
        for (p, &l) in labels.iter().enumerate() {
            if l == UNLABELLED {
                continue;
            }
            let l = l as usize;
            sizes[l] += 1;
            let s = &mut sums[l];
            s[0] += (p % w) as f64;
            s[1] += (p / w) as f64;
            let mut hb = 0;
            for (c, plane) in lab.iter().enumerate() {
                s[2 + c] += f64::from(plane[p]);
                hb = hb * bins + bin(c, plane[p]);
            }
            histograms[l * hist_len + hb] += 1.0;
        }
        let nodes: Vec<Node> = sums
            .iter()
            .zip(&sizes)
            .map(|(s, &size)| {
                let k = f64::from(size.max(1));
                Node {
                    size,
                    mean_lab: [(s[2] / k) as f32, (s[3] / k) as f32, (s[4] / k) as f32],
                    centroid: [(s[0] / k) as f32, (s[1] / k) as f32],
                }
            })
            .collect();
        for (hist, &size) in histograms.chunks_mut(hist_len).zip(&sizes) {
            let k = size.max(1) as f32;
            hist.iter_mut().for_each(|v| *v /= k);
        }
        // Boundary pixel pairs, then run-length counts of the sorted pairs.
        let mut pairs = Vec::new();
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                let mut add = |j: usize| {
                    let (a, b) = (labels[i], labels[j]);
                    if a != b && a != UNLABELLED && b != UNLABELLED {
                        pairs.push((a.min(b), a.max(b)));
                    }
                };
                if x + 1 < w {
                    add(i + 1);
                }
                if y + 1 < h {
                    add(i + w);
                }
            }
        }
        pairs.sort_unstable();
        let mut edges: Vec<RegionEdge> = Vec::new();
        for (a, b) in pairs {
            match edges.last_mut() {
                Some(e) if (e.a, e.b) == (a, b) => e.boundary += 1,
                _ => {
                    let (ma, mb) = (nodes[a as usize].mean_lab, nodes[b as usize].mean_lab);
                    let contrast = (0..3).map(|c| f64::from(ma[c] - mb[c]).powi(2)).sum();
                    edges.push(RegionEdge {
                        a,
                        b,
                        boundary: 1,
                        contrast,
                    });
                }
            }
        }
        Ok(RegionGraph {
            nodes,
            edges,
            bins,
            histograms,
        })
    }

    /// Number of nodes (the segmentation's `count`).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The nodes, indexed by segment label.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The edges, sorted by `(a, b)`.
    pub fn edges(&self) -> &[RegionEdge] {
        &self.edges
    }

    /// Bins per channel of the histograms.
    pub fn histogram_bins(&self) -> usize {
        self.bins
    }

    /// The normalised joint CIELAB histogram of node `i` (sums to 1), `L` the slowest index.
    pub fn histogram(&self, i: usize) -> &[f32] {
        let len = self.histograms.len() / self.nodes.len().max(1);
        &self.histograms[i * len..(i + 1) * len]
    }

    /// GrabCut's contrast scale `1 / (2 <d^2>)`, the mean squared colour distance over the
    /// edges; 0 when there are no edges or no contrast.
    pub fn grabcut_beta(&self) -> f64 {
        let total: f64 = self.edges.iter().map(|e| e.contrast).sum();
        if total > 0.0 {
            self.edges.len() as f64 / (2.0 * total)
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tessera::Samples;

    #[test]
    fn statistics_of_a_small_image() {
        // 3x2, labels: 0 0 1 / 2 2 1.
        let img = Image::new(3, 2, 3, Samples::U8(vec![255; 18])).unwrap();
        let seg = Segmentation::from_labels(3, 2, vec![0, 0, 1, 2, 2, 1]).unwrap();
        let g = RegionGraph::build(&img, &seg, &GraphParams::default()).unwrap();
        assert_eq!(g.nodes()[1].centroid, [2.0, 0.5]);
        assert_eq!(g.nodes()[2].size, 2);
        let e: Vec<_> = g.edges().iter().map(|e| (e.a, e.b, e.boundary)).collect();
        assert_eq!(e, vec![(0, 1, 1), (0, 2, 2), (1, 2, 1)]);
        assert_eq!(g.grabcut_beta(), 0.0);
        assert!((g.histogram(0).iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(g.histogram(0).len(), 64);
    }

    #[test]
    fn refuses_mismatched_sizes() {
        let img = Image::new(2, 1, 1, Samples::U8(vec![0, 0])).unwrap();
        let seg = Segmentation::from_labels(1, 2, vec![0, 0]).unwrap();
        assert!(RegionGraph::build(&img, &seg, &GraphParams::default()).is_err());
    }

    proptest! {
        #[test]
        fn boundaries_count_every_pair(w in 1u32..10, h in 1u32..10, seed in any::<u64>()) {
            let n = (w * h) as usize;
            let mut x = seed | 1;
            let raw: Vec<u32> = (0..n).map(|_| { x ^= x << 13; x ^= x >> 7; x ^= x << 17; (x % 5) as u32 }).collect();
            let seg = Segmentation::relabel_sequential(w, h, raw).unwrap();
            let img = Image::new(w, h, 1, Samples::U8(vec![7; n])).unwrap();
            let g = RegionGraph::build(&img, &seg, &GraphParams::default()).unwrap();
            let l = seg.labels();
            let (wu, hu) = (w as usize, h as usize);
            let mut differing = 0u32;
            for y in 0..hu { for xx in 0..wu {
                let i = y * wu + xx;
                if xx + 1 < wu && l[i] != l[i + 1] { differing += 1; }
                if y + 1 < hu && l[i] != l[i + wu] { differing += 1; }
            }}
            prop_assert_eq!(g.edges().iter().map(|e| e.boundary).sum::<u32>(), differing);
            let pairs: Vec<_> = g.edges().iter().map(|e| (e.a, e.b)).collect();
            prop_assert_eq!(pairs, seg.adjacency());
            prop_assert_eq!(g.nodes().iter().map(|n| n.size as usize).sum::<usize>(), n);
        }
    }
}
