//! Features of the edges of the region adjacency graph.

/// Number of edge features.
pub const EDGE_FEATURES: usize = 6;

/// Names of the edge features, in order.
pub const EDGE_FEATURE_NAMES: [&str; EDGE_FEATURES] = [
    "constant",
    "colour_contrast",
    "boundary",
    "verticality",
    "colour_similarity",
    "texture_similarity",
];

/// One edge's inputs: the two nodes' mean CIELAB colours, centroids `(x, y)`, sizes, shared
/// boundary, and the (square-rooted) colour and LBP histograms.
pub(crate) struct EdgeInput<'a> {
    pub mean_a: [f32; 3],
    pub mean_b: [f32; 3],
    pub centroid_a: [f32; 2],
    pub centroid_b: [f32; 2],
    pub size_a: u32,
    pub size_b: u32,
    pub boundary: u32,
    pub colour_a: &'a [f32],
    pub colour_b: &'a [f32],
    pub texture_a: &'a [f32],
    pub texture_b: &'a [f32],
}

/// The edge features (see [`crate::features`]); `beta` is the image's GrabCut contrast scale.
pub(crate) fn edge_features(e: &EdgeInput<'_>, beta: f64) -> [f32; EDGE_FEATURES] {
    let d2: f64 = (0..3)
        .map(|c| f64::from(e.mean_a[c] - e.mean_b[c]).powi(2))
        .sum();
    let dx = f64::from(e.centroid_b[0] - e.centroid_a[0]);
    let dy = f64::from(e.centroid_b[1] - e.centroid_a[1]);
    let dist = (dx * dx + dy * dy).sqrt();
    let vertical = if dist > 0.0 { dy.abs() / dist } else { 0.0 };
    let perimeter = 2.0 * f64::from(e.size_a.min(e.size_b)).sqrt() * 2.0;
    let boundary = (f64::from(e.boundary) / perimeter.max(1.0)).min(1.0);
    [
        1.0,
        (-beta * d2).exp() as f32,
        boundary as f32,
        vertical as f32,
        bhattacharyya(e.colour_a, e.colour_b) / 3.0,
        bhattacharyya(e.texture_a, e.texture_b),
    ]
}

/// `sum_k sqrt(p_k q_k)` for square-rooted histograms `a = sqrt(p)`, `b = sqrt(q)`.
fn bhattacharyya(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
