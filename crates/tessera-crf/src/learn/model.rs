//! [`Model`]: the weights of a learned superpixel CRF (or of its unary-only baseline) and the
//! feature standardisation they were learned with.

use crate::energy::{Edge, Energy, Pairwise};
use crate::error::{Error, Result};
use crate::features::{EDGE_FEATURES, FeatureParams, ImageFeatures, node_dim};
use crate::solver::{Expansion, Solver, Trws};
use serde::{Deserialize, Serialize};

/// The solver used for (loss-augmented) inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Inference {
    /// Alpha-expansion with fusion moves ([`Expansion`]): exact for two labels with submodular
    /// costs; elsewhere a strong local minimum (moves that would raise the energy through a
    /// non-submodular term are truncated).
    #[default]
    Expansion,
    /// Alpha-expansion cycles only, without the fusion moves: several times faster with many
    /// labels (the pair proposals of the fusion moves are `L (L - 1) / 2` cuts), for
    /// loss-augmented inference during training, where the previous answer of each image is
    /// kept when it is more violating.
    #[serde(rename = "expansion-only")]
    ExpansionOnly,
    /// TRW-S ([`Trws`]): exact on trees (chains included), elsewhere the best labelling of its
    /// rounding, with a lower bound.
    Trws,
}

impl Inference {
    /// The solver with its default parameters.
    pub fn solver(self) -> Box<dyn Solver> {
        match self {
            Inference::Expansion => Box::new(Expansion::default()),
            Inference::ExpansionOnly => Box::new(Expansion {
                unary_fusion: false,
                ..Expansion::default()
            }),
            Inference::Trws => Box::new(Trws::default()),
        }
    }
}

/// A learned model: the score of a labelling `y` of an image's superpixels is
/// `sum_i u[y_i] . z_i + sum_(a,b) sum_f e_f(a, b) p_f[y_a][y_b]`, with `z_i` the standardised
/// features of superpixel `i` followed by a constant 1, and `e_f` the edge features
/// ([`crate::features`]); prediction maximises it (minimises its negation with the
/// [`Inference`] solver). A unary-only model has no `pairwise` weights: each superpixel takes
/// its best class on its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Number of classes.
    pub n_classes: usize,
    /// The feature parameters.
    pub features: FeatureParams,
    /// Mean of each node feature over the training superpixels.
    pub feature_mean: Vec<f64>,
    /// Scale (standard deviation, or 1 when that is 0) of each node feature.
    pub feature_scale: Vec<f64>,
    /// `n_classes` rows of `node_dim + 1` weights (the last is the class's bias).
    pub unary: Vec<f64>,
    /// `EDGE_FEATURES` matrices of `n_classes x n_classes` weights (row: the upper node's
    /// class), or none for a unary-only model.
    pub pairwise: Option<Vec<f64>>,
    /// The solver used for prediction.
    pub inference: Inference,
}

impl Model {
    /// Builds a model from a flat weight vector (unary then pairwise weights).
    pub(crate) fn from_weights(
        n_classes: usize,
        features: FeatureParams,
        standard: &Standardizer,
        w: &[f64],
        pairwise: bool,
        inference: Inference,
    ) -> Model {
        let nu = n_classes * (standard.mean.len() + 1);
        Model {
            n_classes,
            features,
            feature_mean: standard.mean.clone(),
            feature_scale: standard.scale.clone(),
            unary: w[..nu].to_vec(),
            pairwise: pairwise.then(|| w[nu..].to_vec()),
            inference,
        }
    }

    /// Checks that every length matches `n_classes` and the feature parameters and that every
    /// weight is finite (for models read from files).
    ///
    /// # Errors
    /// [`Error::InvalidModel`] naming the first problem.
    pub fn validate(&self) -> Result<()> {
        let dim = node_dim(&self.features);
        let bad = |what: &str, got: usize, want: usize| {
            Err(Error::InvalidModel(format!(
                "{what} holds {got} values, {want} are needed for {} classes and {dim} features",
                self.n_classes
            )))
        };
        if self.n_classes == 0 || self.n_classes > 256 {
            return Err(Error::InvalidModel(format!(
                "{} classes (1 to 256 are supported)",
                self.n_classes
            )));
        }
        if self.feature_mean.len() != dim {
            return bad("feature_mean", self.feature_mean.len(), dim);
        }
        if self.feature_scale.len() != dim {
            return bad("feature_scale", self.feature_scale.len(), dim);
        }
        if self.unary.len() != self.n_classes * (dim + 1) {
            return bad("unary", self.unary.len(), self.n_classes * (dim + 1));
        }
        if let Some(p) = &self.pairwise
            && p.len() != EDGE_FEATURES * self.n_classes * self.n_classes
        {
            return bad(
                "pairwise",
                p.len(),
                EDGE_FEATURES * self.n_classes * self.n_classes,
            );
        }
        let all = self
            .feature_mean
            .iter()
            .chain(&self.unary)
            .chain(self.pairwise.iter().flatten());
        if all.clone().any(|v| !v.is_finite())
            || self.feature_scale.iter().any(|&s| s.is_nan() || s <= 0.0)
        {
            return Err(Error::InvalidModel(
                "a weight is not finite, or a feature scale is not > 0".into(),
            ));
        }
        Ok(())
    }

    /// The unary-only model with the same unary weights (no pairwise term).
    pub fn unary_only(&self) -> Model {
        Model {
            pairwise: None,
            ..self.clone()
        }
    }

    /// The score of each class for each superpixel, `n * n_classes` values.
    ///
    /// # Errors
    /// [`Error::InvalidModel`] when the features do not have the model's dimension.
    pub fn unary_scores(&self, f: &ImageFeatures) -> Result<Vec<f64>> {
        let standard = Standardizer {
            mean: self.feature_mean.clone(),
            scale: self.feature_scale.clone(),
        };
        let z = standard.apply(f)?;
        Ok(unary_scores(&z, f.len(), &self.unary, self.n_classes))
    }

    /// The energy (negated score) of the model on an image's features.
    ///
    /// # Errors
    /// As [`Model::unary_scores`]; [`Energy::new`]'s errors.
    pub fn energy(&self, f: &ImageFeatures) -> Result<Energy> {
        let scores = self.unary_scores(f)?;
        energy(f, &scores, self.pairwise.as_deref(), self.n_classes, None)
    }

    /// The best class of each superpixel: the energy's minimum as found by the model's solver,
    /// or each superpixel's best-scoring class for a unary-only model.
    ///
    /// # Errors
    /// As [`Model::energy`]; the solver's errors.
    pub fn predict(&self, f: &ImageFeatures) -> Result<Vec<u32>> {
        let scores = self.unary_scores(f)?;
        match &self.pairwise {
            None => Ok(argmax_rows(&scores, self.n_classes)),
            Some(p) => {
                let e = energy(f, &scores, Some(p), self.n_classes, None)?;
                Ok(self.inference.solver().solve(&e)?.labels)
            }
        }
    }
}

/// Per-feature standardisation `z = (x - mean) / scale`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Standardizer {
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
}

impl Standardizer {
    /// Mean and standard deviation of every feature over all rows of `samples`.
    pub fn fit<'a>(dim: usize, samples: impl Iterator<Item = &'a ImageFeatures> + Clone) -> Self {
        let mut sum = vec![0.0f64; dim];
        let mut sq = vec![0.0f64; dim];
        let mut n = 0usize;
        for f in samples {
            for row in f.nodes().chunks(dim) {
                for (c, &v) in row.iter().enumerate() {
                    sum[c] += f64::from(v);
                    sq[c] += f64::from(v) * f64::from(v);
                }
                n += 1;
            }
        }
        let k = n.max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / k).collect();
        let scale = sq
            .iter()
            .zip(&mean)
            .map(|(q, m)| {
                let sd = (q / k - m * m).max(0.0).sqrt();
                if sd > 1e-9 { sd } else { 1.0 }
            })
            .collect();
        Standardizer { mean, scale }
    }

    /// The standardised rows of `f`, each followed by a constant 1: `n * (dim + 1)` values.
    pub fn apply(&self, f: &ImageFeatures) -> Result<Vec<f64>> {
        let dim = self.mean.len();
        if f.dim() != dim {
            return Err(Error::InvalidModel(format!(
                "the features have {} values per superpixel, the model {dim}",
                f.dim()
            )));
        }
        let mut z = Vec::with_capacity(f.len() * (dim + 1));
        for row in f.nodes().chunks(dim.max(1)).take(f.len()) {
            z.extend(
                row.iter()
                    .zip(self.mean.iter().zip(&self.scale))
                    .map(|(&v, (m, s))| (f64::from(v) - m) / s),
            );
            z.push(1.0);
        }
        Ok(z)
    }
}

/// `scores[i * L + k] = u_k . z_i`.
pub(crate) fn unary_scores(z: &[f64], n: usize, unary: &[f64], n_classes: usize) -> Vec<f64> {
    let d = unary.len() / n_classes.max(1);
    let mut out = vec![0.0; n * n_classes];
    for i in 0..n {
        let zi = &z[i * d..(i + 1) * d];
        for k in 0..n_classes {
            out[i * n_classes + k] = dot(zi, &unary[k * d..(k + 1) * d]);
        }
    }
    out
}

/// The energy `-score(y) - loss(y)`: unary costs `-scores - loss_weight * [k != truth]` (when
/// `loss` is given as `(truth, weights)`) and one `L x L` matrix per edge,
/// `-sum_f e_f p_f`.
pub(crate) fn energy(
    f: &ImageFeatures,
    scores: &[f64],
    pairwise: Option<&[f64]>,
    n_classes: usize,
    loss: Option<(&[u32], &[f64])>,
) -> Result<Energy> {
    let l = n_classes;
    let mut unary: Vec<f64> = scores.iter().map(|s| -s).collect();
    if let Some((truth, weight)) = loss {
        for (i, (&t, &w)) in truth.iter().zip(weight).enumerate() {
            for k in 0..l {
                if k as u32 != t {
                    unary[i * l + k] -= w;
                }
            }
        }
    }
    let edges: Vec<Edge> = f
        .edges()
        .iter()
        .map(|e| Edge {
            a: e[0],
            b: e[1],
            weight: 1.0,
        })
        .collect();
    let ll = l * l;
    let table = match pairwise {
        None => vec![0.0; ll * edges.len()],
        Some(p) => {
            let mut t = vec![0.0; ll * edges.len()];
            for (k, m) in t.chunks_mut(ll).enumerate() {
                for (ef, pf) in f.edge(k).iter().zip(p.chunks(ll)) {
                    let ef = f64::from(*ef);
                    if ef != 0.0 {
                        for (o, &v) in m.iter_mut().zip(pf) {
                            *o -= ef * v;
                        }
                    }
                }
            }
            t
        }
    };
    Energy::new(l, unary, edges, Pairwise::PerEdge(table))
}

/// The best class of each row of `scores` (the first on ties).
pub(crate) fn argmax_rows(scores: &[f64], n_classes: usize) -> Vec<u32> {
    scores
        .chunks(n_classes)
        .map(|row| {
            let mut best = 0;
            for (k, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = k;
                }
            }
            best as u32
        })
        .collect()
}

/// `a . b` over their common length. Element `j` goes into partial sum `j % 8` and the
/// eight sums are added pairwise at the end: the additions then do not wait on one another
/// (one running sum made the unary scores, the learner's inner loop, latency-bound), and the
/// order is fixed, so the result is the same bits on every machine and thread count.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    const WIDTH: usize = 8;
    let n = a.len().min(b.len());
    let (a, b) = (a[..n].chunks_exact(WIDTH), b[..n].chunks_exact(WIDTH));
    let (tail_a, tail_b) = (a.remainder(), b.remainder());
    let mut acc = [0.0f64; WIDTH];
    for (x, y) in a.zip(b) {
        for j in 0..WIDTH {
            acc[j] += x[j] * y[j];
        }
    }
    for (j, (x, y)) in tail_a.iter().zip(tail_b).enumerate() {
        acc[j] += x * y;
    }
    let half = [
        acc[0] + acc[4],
        acc[1] + acc[5],
        acc[2] + acc[6],
        acc[3] + acc[7],
    ];
    (half[0] + half[2]) + (half[1] + half[3])
}

#[cfg(test)]
mod tests {
    use super::dot;

    #[test]
    fn dot_is_the_sum_of_products_over_the_common_length() {
        for n in 0..40 {
            // Small integers: every order of the additions gives the exact sum.
            let a: Vec<f64> = (0..n).map(|i| f64::from(i % 7) - 3.0).collect();
            let b: Vec<f64> = (0..n + 3).map(|i| f64::from(i % 5) + 0.5).collect();
            let want: f64 = (0..n as usize).map(|i| a[i] * b[i]).sum();
            assert_eq!(dot(&a, &b), want, "length {n}");
            assert_eq!(dot(&b, &a), want, "length {n}, the longer first");
        }
    }

    #[test]
    fn dot_adds_its_partial_sums_in_a_fixed_order() {
        // Element j goes into sum j % 8; sums (0+4), (1+5), (2+6), (3+7), then pairwise:
        // 1e16 and -1e16 cancel inside sum 0 before the 1s are added.
        let mut a = vec![0.0f64; 16];
        a[0] = 1e16;
        a[8] = -1e16;
        a[1] = 1.0;
        a[9] = 1.0;
        let ones = vec![1.0f64; 16];
        assert_eq!(dot(&a, &ones), 2.0);
    }
}
