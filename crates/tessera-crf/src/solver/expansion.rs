//! Alpha-expansion (Boykov, Veksler & Zabih, "Fast approximate energy minimization via graph
//! cuts", PAMI 2001) with the binary move energies built as in Kolmogorov & Zabih ("What
//! energy functions can be minimized via graph cuts?", PAMI 2004), cut by
//! [`FlowGraph`](crate::maxflow::FlowGraph).
//!
//! For a metric pairwise cost each move is solved exactly and the result is within
//! `2 * max V / min V` (2 for Potts) of the optimum. Non-metric costs make some move terms
//! non-submodular; those terms are truncated (the cost of moving only the second end to alpha
//! is raised until the term is submodular, after Rother et al., CVPR 2005) and a move is
//! accepted only if it lowers the true energy, so the energy never increases. With two labels
//! and submodular costs the problem is solved exactly by one cut.
//!
//! An expansion move changes a set of nodes to one label, so a local minimum can still hold a
//! region that would be better split between two other labels at once. When a cycle of
//! expansions lowers nothing, [`Expansion::unary_fusion`] tries fusion moves (Lempitsky, Rother,
//! Roth & Blake, "Fusion moves for Markov random field optimization", PAMI 2010) with
//! proposals built from the unaries alone: each node's cheapest label; for each label `d`, each
//! node's cheapest label other than `d`; and, if none of those helps, for each pair of labels,
//! each node's cheaper label of the two. A fusion may take any subset of a proposal, so a
//! region can move to a mix of labels in one cut; expansion cycles resume after any accepted
//! fusion.

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
    /// When a cycle of expansions no longer lowers the energy, try alpha-beta swap moves
    /// (Boykov, Veksler & Zabih) before stopping. Default false: on the benchmark graphs they
    /// cost 2-3x the time and lowered no energy.
    pub swaps: bool,
    /// When expansions (and swaps) no longer lower the energy, try fusion moves with the
    /// unary proposals (see the module documentation) before stopping. Default true: on the
    /// benchmark graphs with 5 and 21 labels they took the energy to or below loopy BP's,
    /// where expansion alone stopped above it; the `L (L - 1) / 2` pair proposals make a
    /// 21-label solve several times slower (on 10,000 nodes, slower than BP).
    pub unary_fusion: bool,
}

impl Default for Expansion {
    fn default() -> Self {
        Expansion {
            max_cycles: 20,
            swaps: false,
            unary_fusion: true,
        }
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
        let n = energy.n_nodes();
        if energy.n_labels() == 2 && binary_submodular(energy) {
            let y = fuse(energy, &vec![0; n], &vec![1; n]);
            let labels: Vec<u32> = y.into_iter().map(u32::from).collect();
            let s = solution(energy, labels, None, 1);
            return Ok(Solution {
                lower_bound: Some(s.energy),
                ..s
            });
        }
        let mut x = energy.unary_argmin();
        let mut current = energy.energy_unchecked(&x);
        let mut moves = Moves {
            energy,
            current: &mut current,
            candidate: vec![0; n],
            proposal: vec![0; n],
        };
        // The unary proposals depend on the unaries alone: ranked once, when first needed.
        let mut ranks: Option<UnaryRanks> = None;
        let mut cycles = 0;
        while cycles < self.max_cycles {
            cycles += 1;
            let mut improved = false;
            for alpha in 0..energy.n_labels() as u32 {
                moves.proposal.iter_mut().for_each(|p| *p = alpha);
                improved |= moves.try_fusion(&mut x, None);
            }
            if !improved && self.swaps {
                for alpha in 0..energy.n_labels() as u32 {
                    for beta in alpha + 1..energy.n_labels() as u32 {
                        if x.iter().any(|&l| l == alpha || l == beta) {
                            improved |= moves.try_fusion(&mut x, Some((alpha, beta)));
                        }
                    }
                }
            }
            if !improved && self.unary_fusion {
                let ranks = ranks.get_or_insert_with(|| UnaryRanks::of(energy));
                for excluded in 0..=energy.n_labels() {
                    ranks.proposal(excluded, &mut moves.proposal);
                    improved |= moves.try_fusion(&mut x, None);
                }
            }
            if !improved && self.unary_fusion {
                // Then a proposal per label pair: each node's cheaper label of the two.
                let labels = energy.n_labels() as u32;
                for a in 0..labels {
                    for b in a + 1..labels {
                        cheaper_of(energy, a, b, &mut moves.proposal);
                        improved |= moves.try_fusion(&mut x, None);
                    }
                }
            }
            if !improved {
                break;
            }
        }
        Ok(solution(energy, x, None, cycles))
    }
}

/// The moves of one run: fusion of the current labelling with a proposal.
struct Moves<'a> {
    energy: &'a Energy,
    current: &'a mut f64,
    candidate: Vec<u32>,
    proposal: Vec<u32>,
}

impl Moves<'_> {
    /// Fuses `x` with `self.proposal` (an expansion), or, for `swap = Some((a, b))`, the
    /// labelling with `a` and `b` all made `a` with the one with them all made `b`. Keeps the
    /// result if it lowers the energy; returns whether it did.
    fn try_fusion(&mut self, x: &mut [u32], swap: Option<(u32, u32)>) -> bool {
        let x0: Vec<u32> = match swap {
            None => x.to_vec(),
            Some((a, b)) => {
                let is = |l: u32| l == a || l == b;
                self.proposal
                    .iter_mut()
                    .zip(x.iter())
                    .for_each(|(p, &l)| *p = if is(l) { b } else { l });
                x.iter().map(|&l| if is(l) { a } else { l }).collect()
            }
        };
        let y = fuse(self.energy, &x0, &self.proposal);
        self.candidate
            .iter_mut()
            .zip(y.iter().zip(x0.iter().zip(&self.proposal)))
            .for_each(|(c, (&yi, (&l0, &l1)))| *c = if yi { l1 } else { l0 });
        self.accept(x)
    }

    fn accept(&mut self, x: &mut [u32]) -> bool {
        let e = self.energy.energy_unchecked(&self.candidate);
        if e < *self.current {
            *self.current = e;
            x.copy_from_slice(&self.candidate);
            true
        } else {
            false
        }
    }
}

/// Each node's cheapest and second-cheapest label by its unary alone (ties go to the lower
/// label; a single-label energy has label 0 as both).
struct UnaryRanks {
    best: Vec<u32>,
    second: Vec<u32>,
}

impl UnaryRanks {
    fn of(energy: &Energy) -> Self {
        let best = energy.unary_argmin();
        let second = best
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                let u = energy.unary(i);
                (0..u.len())
                    .filter(|&l| l != b as usize)
                    .reduce(|m, l| if u[l] < u[m] { l } else { m })
                    .map_or(0, |l| l as u32)
            })
            .collect();
        UnaryRanks { best, second }
    }

    /// Writes to `proposal` each node's cheapest label leaving out label `excluded` (no label
    /// is left out when `excluded >= n_labels`): the cheapest, or the second when the
    /// cheapest is the one left out.
    fn proposal(&self, excluded: usize, proposal: &mut [u32]) {
        for ((p, &b), &s) in proposal.iter_mut().zip(&self.best).zip(&self.second) {
            *p = if b as usize == excluded { s } else { b };
        }
    }
}

/// Writes to `proposal` each node's cheaper label of `a` and `b` by its unary (`a` on a tie).
fn cheaper_of(energy: &Energy, a: u32, b: u32, proposal: &mut [u32]) {
    for (i, p) in proposal.iter_mut().enumerate() {
        let u = energy.unary(i);
        *p = if u[b as usize] < u[a as usize] { b } else { a };
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

/// The fusion move of Lempitsky et al. (PAMI 2010): for every node, keep `x0[i]` (`false`)
/// or take `x1[i]` (`true`), minimising the energy by one minimum cut. Non-submodular pair terms
/// are truncated. Expansion fuses with a constant labelling, swap with the labelling whose
/// `alpha` and `beta` are exchanged.
fn fuse(energy: &Energy, x0: &[u32], x1: &[u32]) -> Vec<bool> {
    let n = energy.n_nodes();
    // Node on the sink side <=> y = 1: the arc source -> i carries the cost of y_i = 1.
    let mut lin: Vec<f64> = (0..n)
        .map(|i| energy.unary(i)[x1[i] as usize] - energy.unary(i)[x0[i] as usize])
        .collect();
    let mut g = FlowGraph::new(n);
    for (e, edge) in energy.edges().iter().enumerate() {
        let (i, j) = (edge.a as usize, edge.b as usize);
        let (i0, i1, j0, j1) = (
            x0[i] as usize,
            x1[i] as usize,
            x0[j] as usize,
            x1[j] as usize,
        );
        let a = energy.pair_cost(e, i0, j0);
        let b = energy.pair_cost(e, i0, j1);
        let c = energy.pair_cost(e, i1, j0);
        let d = energy.pair_cost(e, i1, j1);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::energy::{Edge, Pairwise};

    /// A chain where expansion alone stops at "all 0" (energy 20): every single-label move
    /// from there costs more, but moving the chain to 1 and its end to 2 at once reaches the
    /// optimum, 19 (checked by hand: 6 + 2 + 3 + 3 for the unaries, 5 for the one cut edge).
    #[test]
    fn unary_fusion_leaves_an_expansion_local_minimum() {
        let unary = vec![5., 6., 6., 5., 2., 6., 6., 3., 8., 4., 9., 3.];
        let edges = [(0, 1, 6.0), (1, 2, 4.0), (2, 3, 5.0)]
            .map(|(a, b, weight)| Edge { a, b, weight })
            .to_vec();
        let e = Energy::new(3, unary, edges, Pairwise::Potts).unwrap();
        let plain = Expansion {
            unary_fusion: false,
            ..Expansion::default()
        }
        .solve(&e)
        .unwrap();
        assert_eq!((plain.labels, plain.energy), (vec![0, 0, 0, 0], 20.0));
        let fused = Expansion::default().solve(&e).unwrap();
        assert_eq!((fused.labels, fused.energy), (vec![1, 1, 1, 2], 19.0));
    }

    #[test]
    fn pair_proposal_takes_the_cheaper_of_two() {
        let e = Energy::new(
            3,
            vec![1., 0., 2., 0., 5., 4., 3., 7., 3.],
            vec![],
            Pairwise::Potts,
        )
        .unwrap();
        let mut p = vec![9; 3];
        cheaper_of(&e, 0, 2, &mut p);
        assert_eq!(p, [0, 0, 0]);
        cheaper_of(&e, 1, 2, &mut p);
        assert_eq!(p, [1, 2, 2]);
    }

    #[test]
    fn unary_proposal_leaves_out_one_label() {
        let e = Energy::new(3, vec![1., 0., 2., 0., 5., 4.], vec![], Pairwise::Potts).unwrap();
        let mut p = vec![9; 2];
        let ranks = UnaryRanks::of(&e);
        ranks.proposal(3, &mut p);
        assert_eq!(p, [1, 0]);
        ranks.proposal(1, &mut p);
        assert_eq!(p, [0, 0]);
        ranks.proposal(0, &mut p);
        assert_eq!(p, [1, 2]);
    }
}
