//! Alpha-expansion (Boykov, Veksler & Zabih, "Fast approximate energy minimization via graph
//! cuts", PAMI 2001) with the binary move energies built as in Kolmogorov & Zabih ("What
//! energy functions can be minimized via graph cuts?", PAMI 2004), cut by
//! [`FlowGraph`](crate::maxflow::FlowGraph).
//!
//! For a metric pairwise cost each move is solved exactly and the result is within
//! `2 * max V / min V` (2 for Potts) of the optimum. Non-metric costs make some move terms
//! non-submodular; those terms are truncated (the cost of moving only the second end to alpha is
//! raised until the term is submodular, after Rother et al., CVPR 2005) and a move is accepted only if it lowers the
//! true energy, so the energy never increases. With two labels and submodular costs the problem
//! is solved exactly by one cut.

use super::{Solution, Solver, check_iterations, solution};
use crate::energy::Energy;
use crate::error::Result;
use crate::maxflow::FlowGraph;

/// Alpha-expansion on graph cuts.
///
/// ```
/// use tessera_crf::{Edge, Energy, Pairwise, Solver, solver::Expansion};
/// let e = Energy::new(2, vec![0.0, 1.0, 0.4, 0.0], vec![Edge { a: 0, b: 1, weight: 1.0 }], Pairwise::Potts)?;
/// let s = Expansion::default().solve(&e)?;
/// assert_eq!(s.labels, vec![0, 0]);
/// assert_eq!(s.lower_bound, Some(s.energy)); // two labels, submodular: exact
/// # Ok::<(), tessera_crf::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expansion {
    /// Maximum number of cycles over all labels. Default 20.
    pub max_cycles: u32,
}

impl Default for Expansion {
    fn default() -> Self {
        Expansion { max_cycles: 20 }
    }
}

/// Relative slack allowed when testing submodularity.
const EPS: f64 = 1e-12;

impl Solver for Expansion {
    fn name(&self) -> &'static str {
        "expansion"
    }

    fn solve(&self, energy: &Energy) -> Result<Solution> {
        check_iterations("max_cycles", self.max_cycles)?;
        if energy.n_labels() == 2 && binary_submodular(energy) {
            let y = cut(
                energy,
                |i| (energy.unary(i)[0], energy.unary(i)[1]),
                |e| {
                    [
                        energy.pair_cost(e, 0, 0),
                        energy.pair_cost(e, 0, 1),
                        energy.pair_cost(e, 1, 0),
                        energy.pair_cost(e, 1, 1),
                    ]
                },
            );
            let labels: Vec<u32> = y.into_iter().map(u32::from).collect();
            let s = solution(energy, labels, None, 1);
            return Ok(Solution {
                lower_bound: Some(s.energy),
                ..s
            });
        }
        let mut x = energy.unary_argmin();
        let mut current = energy.energy_unchecked(&x);
        let mut candidate = x.clone();
        let mut cycles = 0;
        while cycles < self.max_cycles {
            cycles += 1;
            let mut improved = false;
            for alpha in 0..energy.n_labels() {
                let y = {
                    let x = &x;
                    cut(
                        energy,
                        |i| (energy.unary(i)[x[i] as usize], energy.unary(i)[alpha]),
                        |e| {
                            let edge = energy.edges()[e];
                            let (la, lb) =
                                (x[edge.a as usize] as usize, x[edge.b as usize] as usize);
                            [
                                energy.pair_cost(e, la, lb),
                                energy.pair_cost(e, la, alpha),
                                energy.pair_cost(e, alpha, lb),
                                energy.pair_cost(e, alpha, alpha),
                            ]
                        },
                    )
                };
                for ((c, &xi), yi) in candidate.iter_mut().zip(&x).zip(y) {
                    *c = if yi { alpha as u32 } else { xi };
                }
                let e = energy.energy_unchecked(&candidate);
                if e < current {
                    current = e;
                    x.copy_from_slice(&candidate);
                    improved = true;
                }
            }
            if !improved {
                break;
            }
        }
        Ok(solution(energy, x, None, cycles))
    }
}

/// Whether every edge of a two-label energy is submodular: `V(0,0) + V(1,1) <= V(0,1) + V(1,0)`.
fn binary_submodular(energy: &Energy) -> bool {
    (0..energy.edges().len()).all(|e| {
        let (a, b, c, d) = (
            energy.pair_cost(e, 0, 0),
            energy.pair_cost(e, 0, 1),
            energy.pair_cost(e, 1, 0),
            energy.pair_cost(e, 1, 1),
        );
        a + d <= b + c + EPS * (a.abs() + b.abs() + c.abs() + d.abs())
    })
}

/// Minimises a binary energy `sum_i U_i(y_i) + sum_e P_e(y_a, y_b)` by one minimum cut.
/// `unary(i)` gives `(U_i(0), U_i(1))`, `pair(e)` gives `[P(0,0), P(0,1), P(1,0), P(1,1)]`;
/// non-submodular pair terms are truncated. Returns `y` (`true` = 1).
fn cut(
    energy: &Energy,
    unary: impl Fn(usize) -> (f64, f64),
    pair: impl Fn(usize) -> [f64; 4],
) -> Vec<bool> {
    let n = energy.n_nodes();
    // Node on the sink side <=> y = 1: the arc source -> i carries the cost of y_i = 1.
    let mut lin = vec![0.0f64; n];
    for (i, l) in lin.iter_mut().enumerate() {
        let (u0, u1) = unary(i);
        *l = u1 - u0;
    }
    let mut g = FlowGraph::new(n);
    for (e, edge) in energy.edges().iter().enumerate() {
        let [a, b, c, d] = pair(e);
        let (i, j) = (edge.a as usize, edge.b as usize);
        // P = A + (C - A) y_i + (D - C) y_j + (B + C - A - D) (1 - y_i) y_j.
        lin[i] += c - a;
        lin[j] += d - c;
        let coupling = b + c - a - d;
        if coupling > 0.0 {
            g.add_edge(i, j, coupling, 0.0);
        }
    }
    for (i, &l) in lin.iter().enumerate() {
        if l > 0.0 {
            g.add_terminal_weights(i, l, 0.0);
        } else {
            g.add_terminal_weights(i, 0.0, -l);
        }
    }
    g.maxflow();
    (0..n).map(|i| !g.in_source_set(i)).collect()
}
