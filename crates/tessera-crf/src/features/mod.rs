//! Features of superpixels and of the edges between them, for learned CRFs
//! ([`crate::learn`]).
//!
//! Each superpixel gets one row of [`node_dim`] numbers, in four blocks:
//! 1. **appearance** of the superpixel itself: per-channel CIELAB histograms (`l_bins`, then
//!    `ab_bins` for a and for b), the mean and standard deviation of L, a, b; the
//!    `LBP^riu2` histogram (10 codes) of the lightness, the magnitude-weighted histogram of
//!    gradient orientations (`orientation_bins` over `[0, pi)`) and the mean gradient magnitude.
//!    Histograms are normalised and square-rooted (Hellinger map).
//! 2. **position and shape**: centroid `x, y`, `sqrt(area)`, bounding-box width and height (all
//!    relative to the image), fill (area over bounding-box area), and a triangular encoding of
//!    the centroid's row (5 knots) and column (3 knots).
//! 3. **neighbour context** (when `context`): the boundary-weighted mean of the neighbours'
//!    appearance blocks (zeros for a superpixel without neighbours).
//! 4. **image context** (when `context`): the area-weighted mean of all superpixels'
//!    appearance blocks.
//!
//! Each edge of the region adjacency graph (4-connectivity) is oriented from the upper node to
//! the lower one (the smaller centroid `y`, then `x`, then index, is `a`), so that a learned
//! label-pair cost can tell "sky above grass" from "grass above sky", and gets
//! [`EDGE_FEATURES`] numbers ([`EDGE_FEATURE_NAMES`]): a constant 1; the contrast
//! `exp(-beta |mean_a - mean_b|^2)` with GrabCut's `beta` of the image; the shared boundary over
//! `4 sqrt(size)` of the smaller node (at most 1); the verticality `|dy| / |d|` of the
//! centroid offset; the Bhattacharyya coefficient of the colour histograms (mean over the
//! three channels) and of the LBP histograms.
//!
//! Everything is computed in a fixed order, so the result does not depend on threads; callers
//! run images in parallel.
//!
//! ```
//! use tessera::{Image, Samples, Segmentation};
//! use tessera_crf::features::{self, FeatureParams};
//! // 4x2 grey image, left half dark, right half bright, two superpixels.
//! let img = Image::new(4, 2, 1, Samples::U8(vec![0, 0, 255, 255, 0, 0, 255, 255]))?;
//! let seg = Segmentation::from_labels(4, 2, vec![0, 0, 1, 1, 0, 0, 1, 1])?;
//! let f = features::features(&img, &seg, &FeatureParams::default())?;
//! assert_eq!(f.len(), 2);
//! assert_eq!(f.node(0).len(), features::node_dim(&FeatureParams::default()));
//! assert_eq!(f.edges(), &[[0, 1]]);
//! assert_eq!(f.edge(0)[0], 1.0); // the constant
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod colour;
mod edges;
mod histogram_map;
mod shape;
mod texton_blocks;
pub mod textons;
mod texture;

pub use edges::{EDGE_FEATURE_NAMES, EDGE_FEATURES};
pub use histogram_map::HistogramMap;
pub use textons::Textons;

use crate::error::{Error, Result};
use crate::graph::{GraphParams, RegionGraph};
use serde::{Deserialize, Serialize};
use tessera::{Image, Segmentation};

/// Parameters of [`features`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureParams {
    /// Bins of the CIELAB L histogram. Default 8.
    pub l_bins: usize,
    /// Bins of each of the a and b histograms. Default 8.
    pub ab_bins: usize,
    /// Bins of the gradient-orientation histogram over `[0, pi)`. Default 8 (HOG uses 9).
    pub orientation_bins: usize,
    /// Add the neighbour and image context blocks. Default true.
    pub context: bool,
    /// Size of the texton dictionary ([`textons`]); 0 (the default) for no texton blocks.
    /// With `k > 0` three blocks follow: the superpixel's texton histogram, that of its
    /// 1-ring (itself and its neighbours, pixels pooled) and the image's bag of textons,
    /// each L1-normalised and mapped by `texton_map`.
    #[serde(default)]
    pub textons: usize,
    /// The map of the texton histograms. Default Hellinger.
    #[serde(default)]
    pub texton_map: HistogramMap,
}

impl Default for FeatureParams {
    fn default() -> Self {
        FeatureParams {
            l_bins: 8,
            ab_bins: 8,
            orientation_bins: 8,
            context: true,
            textons: 0,
            texton_map: HistogramMap::Hellinger,
        }
    }
}

impl FeatureParams {
    fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("l_bins", self.l_bins),
            ("ab_bins", self.ab_bins),
            ("orientation_bins", self.orientation_bins),
        ] {
            if !(1..=64).contains(&v) {
                return Err(Error::param(name, "must be in 1..=64"));
            }
        }
        if self.textons > 65535 {
            return Err(Error::param("textons", "must be in 0..=65535"));
        }
        Ok(())
    }
}

/// Length of the appearance block.
fn appearance_len(p: &FeatureParams) -> usize {
    colour::len(p.l_bins, p.ab_bins) + texture::len(p.orientation_bins)
}

/// Number of features per superpixel for `params`.
pub fn node_dim(params: &FeatureParams) -> usize {
    let a = appearance_len(params);
    a + shape::LEN + if params.context { 2 * a } else { 0 } + texton_blocks::len(params)
}

/// The names of the node features, in order (for exports and model files).
pub fn node_feature_names(params: &FeatureParams) -> Vec<String> {
    let mut names = Vec::new();
    let mut appearance = Vec::new();
    for (ch, bins) in [
        ("L", params.l_bins),
        ("a", params.ab_bins),
        ("b", params.ab_bins),
    ] {
        appearance.extend((0..bins).map(|k| format!("hist_{ch}_{k}")));
    }
    for ch in ["L", "a", "b"] {
        appearance.push(format!("mean_{ch}"));
    }
    for ch in ["L", "a", "b"] {
        appearance.push(format!("std_{ch}"));
    }
    appearance.extend((0..texture::LBP_CODES).map(|k| format!("lbp_{k}")));
    appearance.extend((0..params.orientation_bins).map(|k| format!("orientation_{k}")));
    appearance.push("gradient_magnitude".into());
    names.extend(appearance.iter().cloned());
    for s in ["x", "y", "sqrt_area", "width", "height", "fill"] {
        names.push(s.into());
    }
    names.extend((0..5).map(|k| format!("row_knot_{k}")));
    names.extend((0..3).map(|k| format!("column_knot_{k}")));
    if params.context {
        names.extend(appearance.iter().map(|a| format!("neighbours_{a}")));
        names.extend(appearance.iter().map(|a| format!("image_{a}")));
    }
    let m = params.texton_map.width();
    for block in ["texton", "ring_texton", "image_texton"] {
        for k in 0..params.textons {
            names.extend((0..m).map(|j| format!("{block}_{k}_{j}")));
        }
    }
    names
}

/// The features of one segmented image: a row per superpixel, and the oriented edges with
/// their features.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageFeatures {
    dim: usize,
    nodes: Vec<f32>,
    sizes: Vec<u32>,
    edges: Vec<[u32; 2]>,
    edge_features: Vec<f32>,
}

impl ImageFeatures {
    /// Builds features from parts: `nodes` holds `sizes.len()` rows of `dim` values, and
    /// `edge_features` [`EDGE_FEATURES`] values per edge.
    ///
    /// # Errors
    /// [`Error::InvalidModel`] when the lengths do not match, a value is not finite, or an
    /// edge joins a node to itself or to a node out of range.
    pub fn new(
        dim: usize,
        nodes: Vec<f32>,
        sizes: Vec<u32>,
        edges: Vec<[u32; 2]>,
        edge_features: Vec<f32>,
    ) -> Result<Self> {
        let n = sizes.len();
        if nodes.len() != n * dim || edge_features.len() != edges.len() * EDGE_FEATURES {
            return Err(Error::InvalidModel(format!(
                "{} node features for {n} nodes of {dim}, {} edge features for {} edges",
                nodes.len(),
                edge_features.len(),
                edges.len()
            )));
        }
        if nodes.iter().chain(&edge_features).any(|v| !v.is_finite()) {
            return Err(Error::InvalidModel("a feature is not finite".into()));
        }
        if let Some(e) = edges
            .iter()
            .find(|e| e[0] == e[1] || e[0] as usize >= n || e[1] as usize >= n)
        {
            return Err(Error::InvalidModel(format!(
                "edge {}-{} in a graph of {n} nodes",
                e[0], e[1]
            )));
        }
        Ok(ImageFeatures {
            dim,
            nodes,
            sizes,
            edges,
            edge_features,
        })
    }

    /// Number of superpixels.
    pub fn len(&self) -> usize {
        self.sizes.len()
    }

    /// Whether there are no superpixels.
    pub fn is_empty(&self) -> bool {
        self.sizes.is_empty()
    }

    /// Features per superpixel.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The feature row of superpixel `i`.
    pub fn node(&self, i: usize) -> &[f32] {
        &self.nodes[i * self.dim..(i + 1) * self.dim]
    }

    /// All rows, superpixel after superpixel.
    pub fn nodes(&self) -> &[f32] {
        &self.nodes
    }

    /// Pixels per superpixel.
    pub fn sizes(&self) -> &[u32] {
        &self.sizes
    }

    /// The oriented edges `[a, b]` (`a` the upper node).
    pub fn edges(&self) -> &[[u32; 2]] {
        &self.edges
    }

    /// The features of edge `e`.
    pub fn edge(&self, e: usize) -> &[f32] {
        &self.edge_features[e * EDGE_FEATURES..(e + 1) * EDGE_FEATURES]
    }

    /// All edge features, edge after edge.
    pub fn edge_features(&self) -> &[f32] {
        &self.edge_features
    }

    /// Keeps the nodes where `keep` is true (renumbered in order) and the edges between two
    /// kept nodes.
    pub fn subgraph(&self, keep: &[bool]) -> ImageFeatures {
        let mut index = vec![u32::MAX; self.len()];
        let mut next = 0u32;
        let mut nodes = Vec::new();
        let mut sizes = Vec::new();
        for (i, slot) in index.iter_mut().enumerate() {
            if keep.get(i).copied().unwrap_or(false) {
                *slot = next;
                next += 1;
                nodes.extend_from_slice(self.node(i));
                sizes.push(self.sizes[i]);
            }
        }
        let mut edges = Vec::new();
        let mut edge_features = Vec::new();
        for (k, e) in self.edges.iter().enumerate() {
            let (a, b) = (index[e[0] as usize], index[e[1] as usize]);
            if a != u32::MAX && b != u32::MAX {
                edges.push([a, b]);
                edge_features.extend_from_slice(self.edge(k));
            }
        }
        ImageFeatures {
            dim: self.dim,
            nodes,
            sizes,
            edges,
            edge_features,
        }
    }
}

/// Computes the features of every superpixel of `seg` and of every edge between two of them
/// (see the module documentation). Unlabelled pixels belong to no superpixel.
///
/// # Errors
/// [`Error::InvalidParameter`] for bins outside `1..=64` or `params.textons > 0` (use
/// [`features_with_textons`]); a size mismatch between image and segmentation; an image that
/// is neither grey nor RGB.
pub fn features(
    image: &Image,
    seg: &Segmentation,
    params: &FeatureParams,
) -> Result<ImageFeatures> {
    features_with_textons(image, seg, params, None)
}

/// The texton filter bank's responses of `image` ([`textons::filter_bank`] on its CIELAB
/// planes; a and b are 0 for a grey image).
///
/// # Errors
/// An image that is neither grey nor RGB.
pub fn filter_responses(image: &Image) -> Result<Vec<f32>> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    Ok(textons::filter_bank(&lab_planes(image)?, w, h))
}

/// One image's part of a texton dictionary's learning sample: the [`filter_responses`] of
/// every `stride`-th pixel of every `stride`-th row ([`textons::subsample`]), `BANK_LEN`
/// values a pixel. `tessera learn` and the Python `learn_textons` concatenate these over the
/// training images, in order, and hand them to [`Textons::learn`].
///
/// ```
/// use tessera::{Image, Samples};
/// use tessera_crf::features::{texton_samples, textons::BANK_LEN};
/// let img = Image::new(16, 8, 3, Samples::U8(vec![128; 16 * 8 * 3]))?;
/// // Columns 2, 6, 10, 14 of rows 2 and 6.
/// assert_eq!(texton_samples(&img, 4)?.len(), 8 * BANK_LEN);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`filter_responses`].
pub fn texton_samples(image: &Image, stride: usize) -> Result<Vec<f32>> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    Ok(textons::subsample(&filter_responses(image)?, w, h, stride))
}

fn lab_planes(image: &Image) -> Result<[Vec<f32>; 3]> {
    let planes = tessera::cielab_planes(image)?;
    let n = image.width() as usize * image.height() as usize;
    Ok(match planes.len() {
        3 => {
            let mut it = planes.into_iter();
            [
                it.next().unwrap_or_default(),
                it.next().unwrap_or_default(),
                it.next().unwrap_or_default(),
            ]
        }
        _ => {
            let l = planes.into_iter().next().unwrap_or_default();
            [l, vec![0.0; n], vec![0.0; n]]
        }
    })
}

/// [`features`] with the texton blocks of `textons` when `params.textons > 0`.
///
/// # Errors
/// As [`features`]; [`Error::InvalidParameter`] when `params.textons > 0` and `textons` is
/// missing or of another size.
pub fn features_with_textons(
    image: &Image,
    seg: &Segmentation,
    params: &FeatureParams,
    textons: Option<&Textons>,
) -> Result<ImageFeatures> {
    params.validate()?;
    if params.textons > 0 && textons.is_none_or(|t| t.len() != params.textons) {
        return Err(Error::param(
            "textons",
            "texton blocks need a dictionary of params.textons centres",
        ));
    }
    let graph = RegionGraph::build(image, seg, &GraphParams { histogram_bins: 1 })?;
    let (w, h) = (seg.width() as usize, seg.height() as usize);
    let lab = lab_planes(image)?;
    let labels = seg.labels();
    let sizes: Vec<u32> = graph.nodes().iter().map(|n| n.size).collect();
    let n = sizes.len();
    let dim = node_dim(params);
    let alen = appearance_len(params);
    let clen = colour::len(params.l_bins, params.ab_bins);
    let mut rows = vec![0.0f32; n * dim];
    colour::fill(
        &lab,
        labels,
        &sizes,
        params.l_bins,
        params.ab_bins,
        &mut rows,
        dim,
        0,
    );
    texture::fill(
        &lab[0],
        w,
        h,
        labels,
        &sizes,
        params.orientation_bins,
        &mut rows,
        dim,
        clen,
    );
    shape::fill(w, h, labels, &sizes, &mut rows, dim, alen);

    // Oriented edges and their features.
    let nodes = graph.nodes();
    let upper = |a: usize, b: usize| {
        let (ca, cb) = (nodes[a].centroid, nodes[b].centroid);
        (ca[1], ca[0], a)
            .partial_cmp(&(cb[1], cb[0], b))
            .is_none_or(|o| o.is_le())
    };
    let beta = graph.grabcut_beta();
    let hl = params.l_bins + 2 * params.ab_bins;
    let mut edges = Vec::with_capacity(graph.edges().len());
    let mut edge_features = Vec::with_capacity(graph.edges().len() * EDGE_FEATURES);
    for e in graph.edges() {
        let (mut a, mut b) = (e.a as usize, e.b as usize);
        if !upper(a, b) {
            std::mem::swap(&mut a, &mut b);
        }
        let (ra, rb) = (&rows[a * dim..(a + 1) * dim], &rows[b * dim..(b + 1) * dim]);
        let input = edges::EdgeInput {
            mean_a: nodes[a].mean_lab,
            mean_b: nodes[b].mean_lab,
            centroid_a: nodes[a].centroid,
            centroid_b: nodes[b].centroid,
            size_a: nodes[a].size,
            size_b: nodes[b].size,
            boundary: e.boundary,
            colour_a: &ra[..hl],
            colour_b: &rb[..hl],
            texture_a: &ra[clen..clen + texture::LBP_CODES],
            texture_b: &rb[clen..clen + texture::LBP_CODES],
        };
        edges.push([a as u32, b as u32]);
        edge_features.extend_from_slice(&edges::edge_features(&input, beta));
    }

    if params.context {
        // Neighbour context: boundary-weighted mean of the neighbours' appearance.
        let mut acc = vec![0.0f64; n * alen];
        let mut weight = vec![0.0f64; n];
        for e in graph.edges() {
            let (a, b, wgt) = (e.a as usize, e.b as usize, f64::from(e.boundary));
            for (from, to) in [(a, b), (b, a)] {
                weight[to] += wgt;
                for c in 0..alen {
                    acc[to * alen + c] += wgt * f64::from(rows[from * dim + c]);
                }
            }
        }
        // Image context: area-weighted mean of every superpixel's appearance.
        let mut image = vec![0.0f64; alen];
        let total: f64 = sizes.iter().map(|&s| f64::from(s)).sum();
        for i in 0..n {
            for (c, v) in image.iter_mut().enumerate() {
                *v += f64::from(sizes[i]) * f64::from(rows[i * dim + c]);
            }
        }
        let off = alen + shape::LEN;
        for i in 0..n {
            let row = &mut rows[i * dim..(i + 1) * dim];
            for c in 0..alen {
                if weight[i] > 0.0 {
                    row[off + c] = (acc[i * alen + c] / weight[i]) as f32;
                }
                if total > 0.0 {
                    row[off + alen + c] = (image[c] / total) as f32;
                }
            }
        }
    }
    if let Some(t) = textons.filter(|_| params.textons > 0) {
        let codes = t.assign(&textons::filter_bank(&lab, w, h));
        let ring: Vec<[u32; 2]> = graph.edges().iter().map(|e| [e.a, e.b]).collect();
        let off = dim - texton_blocks::len(params);
        texton_blocks::fill(&codes, labels, &ring, params, &mut rows, dim, off);
    }
    ImageFeatures::new(dim, rows, sizes, edges, edge_features)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera::Samples;

    fn names_index(p: &FeatureParams, name: &str) -> usize {
        node_feature_names(p)
            .iter()
            .position(|n| n == name)
            .unwrap()
    }

    #[test]
    fn names_match_the_dimension() {
        for context in [false, true] {
            let p = FeatureParams {
                context,
                ..FeatureParams::default()
            };
            assert_eq!(node_feature_names(&p).len(), node_dim(&p));
        }
    }

    /// An 8x4 image: the top two rows pure red, the bottom two a vertical black/white stripe
    /// pattern (two columns black, two white); superpixels: top, bottom-left, bottom-right (4 columns each).
    fn hand_made() -> (Image, Segmentation) {
        let (w, h) = (8usize, 4usize);
        let mut px = Vec::new();
        for y in 0..h {
            for x in 0..w {
                let v: [u8; 3] = if y < 2 {
                    [255, 0, 0]
                } else if x % 4 < 2 {
                    [0, 0, 0]
                } else {
                    [255, 255, 255]
                };
                px.extend_from_slice(&v);
            }
        }
        let labels: Vec<u32> = (0..w * h)
            .map(|p| {
                let (x, y) = (p % w, p / w);
                if y < 2 {
                    0
                } else if x < 4 {
                    1
                } else {
                    2
                }
            })
            .collect();
        (
            Image::new(8, 4, 3, Samples::U8(px)).unwrap(),
            Segmentation::from_labels(8, 4, labels).unwrap(),
        )
    }

    #[test]
    fn known_answers_on_a_hand_made_image() {
        let (img, seg) = hand_made();
        let p = FeatureParams::default();
        let f = features(&img, &seg, &p).unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!(f.sizes(), &[16, 8, 8]);
        let at = |i: usize, name: &str| f.node(i)[names_index(&p, name)];
        // Pure red: L = 53.24, a = 80.09, b = 67.20 (CIE D65), no spread.
        assert!((at(0, "mean_L") - 0.5324).abs() < 1e-3);
        assert!((at(0, "mean_a") - 0.8009).abs() < 1e-3);
        assert!(at(0, "std_L").abs() < 1e-4);
        // All of the red node's L histogram in bin 4 of 8 ([50, 62.5)); sqrt(1) = 1.
        assert!((at(0, "hist_L_4") - 1.0).abs() < 1e-6);
        // The stripes: half black (L 0), half white (L 100): mean 50, deviation 50.
        assert!((at(1, "mean_L") - 0.5).abs() < 1e-3);
        assert!((at(1, "std_L") - 1.0).abs() < 1e-3);
        assert!((at(1, "hist_L_0") - 0.5f32.sqrt()).abs() < 1e-6);
        // Orientation histograms are normalised: their squares (before the root) sum to 1;
        // the flat red node has no gradient at all inside (only along its border rows).
        let ori: Vec<f32> = (0..8).map(|k| at(1, &format!("orientation_{k}"))).collect();
        assert!((ori.iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(at(1, "gradient_magnitude") > at(0, "gradient_magnitude"));
        // Shape: the top node spans the full width and half the height, filled.
        assert!((at(0, "width") - 1.0).abs() < 1e-6);
        assert!((at(0, "height") - 0.5).abs() < 1e-6);
        assert!((at(0, "fill") - 1.0).abs() < 1e-6);
        assert!((at(0, "x") - 0.5).abs() < 1e-6);
        assert!((at(0, "y") - 0.25).abs() < 1e-6);
        assert!((at(1, "x") - 0.25).abs() < 1e-6);
        // Image context: the area-weighted mean L of all nodes, the same for every node.
        let mean_l = (16.0 * 0.53241 + 8.0 * 0.5 + 8.0 * 0.5) / 32.0;
        for i in 0..3 {
            assert!((at(i, "image_mean_L") - mean_l).abs() < 1e-3);
        }
        // Neighbour context of node 1: node 0 (boundary 4) and node 2 (boundary 2).
        let nb = (4.0 * at(0, "mean_L") + 2.0 * at(2, "mean_L")) / 6.0;
        assert!((at(1, "neighbours_mean_L") - nb).abs() < 1e-5);
        // Edges, oriented top to bottom: 0 -> 1, 0 -> 2, and 1 -> 2 (same row, left first).
        assert_eq!(f.edges(), &[[0, 1], [0, 2], [1, 2]]);
        // Edge 0-1 runs at 45 degrees (centroids (3.5, 0.5), (1.5, 2.5)), 1-2 horizontally;
        // identical stripes have a texture similarity near 1.
        assert!((f.edge(0)[3] - 0.5f32.sqrt()).abs() < 1e-6);
        assert!(f.edge(2)[3].abs() < 1e-6);
        assert!(f.edge(2)[5] > 0.8 && f.edge(2)[5] <= 1.0 + 1e-6);
        assert!((f.edge(2)[1] - 1.0).abs() < 1e-6); // equal mean colours
        assert!(f.edge(0)[1] < 1.0);
        // Boundary: 4 pixel pairs over 4 sqrt(8) of the smaller node.
        assert!((f.edge(0)[2] - 4.0 / (4.0 * 8f32.sqrt())).abs() < 1e-5);
    }

    #[test]
    fn deterministic_and_subgraph() {
        let (img, seg) = hand_made();
        let p = FeatureParams::default();
        let a = features(&img, &seg, &p).unwrap();
        assert_eq!(a, features(&img, &seg, &p).unwrap());
        let s = a.subgraph(&[false, true, true]);
        assert_eq!(s.len(), 2);
        assert_eq!(s.edges(), &[[0, 1]]);
        assert_eq!(s.node(0), a.node(1));
        assert_eq!(s.edge(0), a.edge(2));
    }

    #[test]
    fn refuses_bad_bins() {
        let (img, seg) = hand_made();
        let p = FeatureParams {
            l_bins: 0,
            ..FeatureParams::default()
        };
        assert!(features(&img, &seg, &p).is_err());
    }
}
