//! [`Energy`]: a pairwise energy over a graph, `E(x) = sum_i U_i(x_i) + sum_(i,j) w_ij V_ij(x_i, x_j)`.

use crate::error::{Error, Result};
use crate::graph::RegionGraph;

/// An edge of the energy's graph, between nodes `a` and `b` (`a != b`), with a weight that
/// multiplies its pairwise cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Edge {
    /// First node.
    pub a: u32,
    /// Second node.
    pub b: u32,
    /// Non-negative for Potts models; any finite value otherwise.
    pub weight: f64,
}

/// The label-pair cost `V(x_a, x_b)` of the edges, before the edge weight.
#[derive(Debug, Clone, PartialEq)]
pub enum Pairwise {
    /// `V(k, l) = [k != l]`.
    Potts,
    /// One `n_labels x n_labels` matrix for every edge, row-major (row = label of `a`).
    Matrix(Vec<f64>),
    /// One `n_labels x n_labels` matrix per edge, edge after edge (as read from UAI files).
    PerEdge(Vec<f64>),
}

/// Which pairwise term [`Energy::from_graph`] builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PairwiseKind {
    /// `w_ij = lambda * boundary_ij`.
    Potts,
    /// `w_ij = lambda * boundary_ij * exp(-beta * d_ij^2)`, `d_ij` the CIELAB distance of the
    /// node means (Boykov & Jolly 2001; Rother et al., GrabCut, 2004).
    #[default]
    ContrastPotts,
}

/// Parameters of the pairwise term built from a [`RegionGraph`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairwiseParams {
    /// Potts or contrast-sensitive Potts.
    pub kind: PairwiseKind,
    /// Smoothness weight per boundary pixel pair. Default 50, GrabCut's `gamma`.
    pub lambda: f64,
    /// Contrast scale; `None` (default) uses GrabCut's `1 / (2 <d^2>)`, the mean over edges.
    pub beta: Option<f64>,
}

impl Default for PairwiseParams {
    fn default() -> Self {
        PairwiseParams {
            kind: PairwiseKind::ContrastPotts,
            lambda: 50.0,
            beta: None,
        }
    }
}

/// A neighbour of a node in the energy's graph: the other node and the edge index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Neighbour {
    /// The node at the other end.
    pub node: u32,
    /// Index into [`Energy::edges`].
    pub edge: u32,
}

/// A pairwise energy over `n_nodes` discrete variables with `n_labels` labels each:
/// `E(x) = sum_i unary[i][x_i] + sum_e weight_e * V_e(x_a, x_b)`.
///
/// ```
/// use tessera_crf::{Edge, Energy, Pairwise};
/// // Two nodes, two labels, Potts edge of weight 3.
/// let e = Energy::new(2, vec![0.0, 1.0, 2.0, 0.0], vec![Edge { a: 0, b: 1, weight: 3.0 }], Pairwise::Potts)?;
/// assert_eq!(e.energy(&[0, 1])?, 3.0);
/// assert_eq!(e.energy(&[0, 0])?, 2.0);
/// # Ok::<(), tessera_crf::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Energy {
    n_labels: usize,
    unary: Vec<f64>,
    edges: Vec<Edge>,
    pairwise: Pairwise,
    /// Compressed adjacency: neighbours of node `i` are `nbrs[start[i]..start[i + 1]]`.
    start: Vec<usize>,
    nbrs: Vec<Neighbour>,
}

impl Energy {
    /// Builds an energy from `unary` (`n_nodes * n_labels` costs, node after node), edges and
    /// the pairwise cost.
    ///
    /// # Errors
    /// [`Error::InvalidModel`] for mismatched sizes, non-finite costs, self-loops, edge ends
    /// out of range, or negative weights with [`Pairwise::Potts`].
    pub fn new(
        n_labels: usize,
        unary: Vec<f64>,
        edges: Vec<Edge>,
        pairwise: Pairwise,
    ) -> Result<Self> {
        if n_labels == 0 {
            return Err(Error::InvalidModel("no labels".into()));
        }
        if !unary.len().is_multiple_of(n_labels) {
            return Err(Error::InvalidModel(format!(
                "{} unary costs is not a multiple of {n_labels} labels",
                unary.len()
            )));
        }
        if let Some(i) = unary.iter().position(|u| !u.is_finite()) {
            return Err(Error::InvalidModel(format!(
                "unary cost {} of node {} is not finite",
                unary[i],
                i / n_labels
            )));
        }
        let n = unary.len() / n_labels;
        if n > u32::MAX as usize {
            return Err(Error::InvalidModel(format!("{n} nodes is too many")));
        }
        for (k, e) in edges.iter().enumerate() {
            if e.a as usize >= n || e.b as usize >= n || e.a == e.b {
                return Err(Error::InvalidModel(format!(
                    "edge {k} joins {} and {} in a model of {n} nodes",
                    e.a, e.b
                )));
            }
            if !e.weight.is_finite() {
                return Err(Error::InvalidModel(format!(
                    "edge {k} has weight {}",
                    e.weight
                )));
            }
            if matches!(pairwise, Pairwise::Potts) && e.weight < 0.0 {
                return Err(Error::InvalidModel(format!(
                    "edge {k} has negative Potts weight {}",
                    e.weight
                )));
            }
        }
        let ll = n_labels * n_labels;
        let table = match &pairwise {
            Pairwise::Potts => None,
            Pairwise::Matrix(m) => Some((m, ll)),
            Pairwise::PerEdge(m) => Some((m, ll * edges.len())),
        };
        if let Some((m, len)) = table {
            if m.len() != len {
                return Err(Error::InvalidModel(format!(
                    "pairwise table holds {} costs, {len} are needed",
                    m.len()
                )));
            }
            if m.iter().any(|v| !v.is_finite()) {
                return Err(Error::InvalidModel("pairwise cost is not finite".into()));
            }
        }
        let mut degree = vec![0usize; n + 1];
        for e in &edges {
            degree[e.a as usize + 1] += 1;
            degree[e.b as usize + 1] += 1;
        }
        for i in 0..n {
            degree[i + 1] += degree[i];
        }
        let start = degree;
        let mut fill = start.clone();
        let mut nbrs = vec![Neighbour { node: 0, edge: 0 }; start[n]];
        for (k, e) in edges.iter().enumerate() {
            nbrs[fill[e.a as usize]] = Neighbour {
                node: e.b,
                edge: k as u32,
            };
            fill[e.a as usize] += 1;
            nbrs[fill[e.b as usize]] = Neighbour {
                node: e.a,
                edge: k as u32,
            };
            fill[e.b as usize] += 1;
        }
        Ok(Energy {
            n_labels,
            unary,
            edges,
            pairwise,
            start,
            nbrs,
        })
    }

    /// Builds the energy of a region graph: the graph's edges with Potts or contrast-sensitive
    /// Potts weights (see [`PairwiseParams`]) and the given unaries (`graph.len() * n_labels`).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a negative or non-finite `lambda` or `beta`; the errors of
    /// [`Energy::new`].
    pub fn from_graph(
        graph: &RegionGraph,
        n_labels: usize,
        unary: Vec<f64>,
        params: &PairwiseParams,
    ) -> Result<Self> {
        if !(params.lambda >= 0.0 && params.lambda.is_finite()) {
            return Err(Error::param(
                "lambda",
                format!("{} is not >= 0", params.lambda),
            ));
        }
        if let Some(b) = params.beta
            && !(b >= 0.0 && b.is_finite())
        {
            return Err(Error::param("beta", format!("{b} is not >= 0")));
        }
        let beta = params.beta.unwrap_or_else(|| graph.grabcut_beta());
        let edges = graph
            .edges()
            .iter()
            .map(|e| {
                let contrast = match params.kind {
                    PairwiseKind::Potts => 1.0,
                    PairwiseKind::ContrastPotts => (-beta * e.contrast).exp(),
                };
                Edge {
                    a: e.a,
                    b: e.b,
                    weight: params.lambda * e.boundary as f64 * contrast,
                }
            })
            .collect();
        if unary.len() != graph.len() * n_labels {
            return Err(Error::InvalidModel(format!(
                "{} unary costs for {} nodes and {n_labels} labels",
                unary.len(),
                graph.len()
            )));
        }
        Energy::new(n_labels, unary, edges, Pairwise::Potts)
    }

    /// Number of variables.
    pub fn n_nodes(&self) -> usize {
        self.start.len() - 1
    }

    /// Number of labels of every variable.
    pub fn n_labels(&self) -> usize {
        self.n_labels
    }

    /// The unary costs of node `i`, one per label.
    pub fn unary(&self, i: usize) -> &[f64] {
        &self.unary[i * self.n_labels..(i + 1) * self.n_labels]
    }

    /// All unary costs, node after node.
    pub fn unaries(&self) -> &[f64] {
        &self.unary
    }

    /// The edges.
    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    /// The pairwise cost kind.
    pub fn pairwise(&self) -> &Pairwise {
        &self.pairwise
    }

    /// The neighbours of node `i`.
    pub fn neighbours(&self, i: usize) -> &[Neighbour] {
        &self.nbrs[self.start[i]..self.start[i + 1]]
    }

    /// `V_e(k, l)` before the weight, `k` the label of the edge's `a`.
    #[inline]
    pub fn label_cost(&self, e: usize, k: usize, l: usize) -> f64 {
        let n = self.n_labels;
        match &self.pairwise {
            Pairwise::Potts => f64::from(u8::from(k != l)),
            Pairwise::Matrix(m) => m[k * n + l],
            Pairwise::PerEdge(m) => m[(e * n + k) * n + l],
        }
    }

    /// The weighted pairwise cost of edge `e` when its `a` has label `k` and its `b` label `l`.
    #[inline]
    pub fn pair_cost(&self, e: usize, k: usize, l: usize) -> f64 {
        self.edges[e].weight * self.label_cost(e, k, l)
    }

    /// The pairwise cost of edge `e` seen from node `from`: `from` has label `k`, the other end
    /// label `l`.
    #[inline]
    pub fn pair_cost_from(&self, e: usize, from: u32, k: usize, l: usize) -> f64 {
        if self.edges[e].a == from {
            self.pair_cost(e, k, l)
        } else {
            self.pair_cost(e, l, k)
        }
    }

    /// Whether the pairwise cost is [`Pairwise::Potts`] (weights are then `>= 0`).
    pub fn is_potts(&self) -> bool {
        matches!(self.pairwise, Pairwise::Potts)
    }

    /// The energy of a labelling.
    ///
    /// # Errors
    /// [`Error::InvalidModel`] when `labels` has the wrong length or a label out of range.
    pub fn energy(&self, labels: &[u32]) -> Result<f64> {
        self.check_labels(labels)?;
        Ok(self.energy_unchecked(labels))
    }

    pub(crate) fn check_labels(&self, labels: &[u32]) -> Result<()> {
        if labels.len() != self.n_nodes() {
            return Err(Error::InvalidModel(format!(
                "{} labels for {} nodes",
                labels.len(),
                self.n_nodes()
            )));
        }
        if let Some(l) = labels.iter().find(|&&l| l as usize >= self.n_labels) {
            return Err(Error::InvalidModel(format!(
                "label {l} with {} labels",
                self.n_labels
            )));
        }
        Ok(())
    }

    /// The energy of a labelling known to be valid.
    pub(crate) fn energy_unchecked(&self, labels: &[u32]) -> f64 {
        let u: f64 = labels
            .iter()
            .enumerate()
            .map(|(i, &l)| self.unary[i * self.n_labels + l as usize])
            .sum();
        let p: f64 = self
            .edges
            .iter()
            .enumerate()
            .map(|(k, e)| {
                self.pair_cost(
                    k,
                    labels[e.a as usize] as usize,
                    labels[e.b as usize] as usize,
                )
            })
            .sum();
        u + p
    }

    /// The labelling that minimises each node's unary cost alone (ties to the lower label).
    pub fn unary_argmin(&self) -> Vec<u32> {
        (0..self.n_nodes())
            .map(|i| argmin(self.unary(i)) as u32)
            .collect()
    }
}

/// Index of the smallest value (the first one on ties).
pub(crate) fn argmin(v: &[f64]) -> usize {
    let mut best = 0;
    for (k, &x) in v.iter().enumerate() {
        if x < v[best] {
            best = k;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_models() {
        let e = |a, b| vec![Edge { a, b, weight: 1.0 }];
        assert!(Energy::new(2, vec![0.0; 3], vec![], Pairwise::Potts).is_err());
        assert!(Energy::new(2, vec![0.0; 4], e(0, 0), Pairwise::Potts).is_err());
        assert!(Energy::new(2, vec![0.0; 4], e(0, 2), Pairwise::Potts).is_err());
        assert!(Energy::new(2, vec![f64::NAN; 4], vec![], Pairwise::Potts).is_err());
        assert!(Energy::new(2, vec![0.0; 4], e(0, 1), Pairwise::Matrix(vec![0.0; 3])).is_err());
        let neg = vec![Edge {
            a: 0,
            b: 1,
            weight: -1.0,
        }];
        assert!(Energy::new(2, vec![0.0; 4], neg.clone(), Pairwise::Potts).is_err());
        assert!(
            Energy::new(
                2,
                vec![0.0; 4],
                neg,
                Pairwise::Matrix(vec![0.0, 1.0, 1.0, 0.0])
            )
            .is_ok()
        );
        let ok = Energy::new(2, vec![0.0; 4], e(0, 1), Pairwise::Potts).unwrap();
        assert!(ok.energy(&[0]).is_err());
        assert!(ok.energy(&[0, 2]).is_err());
    }

    #[test]
    fn energy_and_neighbours() {
        let m = Pairwise::Matrix(vec![0.0, 1.0, 4.0, 0.5]);
        let edges = vec![
            Edge {
                a: 1,
                b: 0,
                weight: 2.0,
            },
            Edge {
                a: 1,
                b: 2,
                weight: 1.0,
            },
        ];
        let e = Energy::new(2, vec![1.0, 0.0, 0.0, 3.0, 0.0, 0.0], edges, m).unwrap();
        // x = (0, 1, 0): unary 1 + 3 + 0; edge 0: V(1, 0) = 4, x2 -> 8; edge 1: V(1, 0) = 4.
        assert_eq!(e.energy(&[0, 1, 0]).unwrap(), 16.0);
        assert_eq!(e.neighbours(1).len(), 2);
        assert_eq!(e.neighbours(0), &[Neighbour { node: 1, edge: 0 }]);
        assert_eq!(e.pair_cost_from(0, 0, 0, 1), 8.0);
    }
}
