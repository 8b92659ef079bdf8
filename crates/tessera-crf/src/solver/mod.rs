//! Energy minimisation: one module per algorithm, all behind the [`Solver`] trait.
//!
//! | solver | exact when | lower bound |
//! |---|---|---|
//! | [`Icm`] | never (local minimum) | no |
//! | [`BeliefPropagation`] | trees | no |
//! | [`Trws`] | trees, and often beyond | yes |
//! | [`Expansion`] | two labels, submodular costs (one cut) | for that case |

mod bp;
mod expansion;
mod icm;
mod trws;

pub use bp::BeliefPropagation;
pub use expansion::Expansion;
pub use icm::Icm;
pub use trws::Trws;

use crate::energy::Energy;
use crate::error::Result;

/// A labelling found by a solver.
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    /// One label per node.
    pub labels: Vec<u32>,
    /// The energy of `labels` (recomputed from the model, not estimated).
    pub energy: f64,
    /// A lower bound on the minimum energy, for solvers that give one.
    pub lower_bound: Option<f64>,
    /// Iterations (sweeps, cycles) the solver ran.
    pub iterations: u32,
}

/// An energy minimisation algorithm with its parameters.
///
/// Solvers are deterministic: the same energy gives the same solution.
pub trait Solver {
    /// Short lower-case name, as used on the command line (`"expansion"`).
    fn name(&self) -> &'static str;

    /// Minimises `energy`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) for bad parameters;
    /// [`Error::Unsupported`](crate::Error::Unsupported) for models the solver cannot handle.
    fn solve(&self, energy: &Energy) -> Result<Solution>;
}

/// Builds a [`Solution`] for `labels`, computing its energy.
pub(crate) fn solution(
    energy: &Energy,
    labels: Vec<u32>,
    lower_bound: Option<f64>,
    iterations: u32,
) -> Solution {
    Solution {
        energy: energy.energy_unchecked(&labels),
        labels,
        lower_bound,
        iterations,
    }
}

/// Checks a positive iteration count.
pub(crate) fn check_iterations(name: &'static str, n: u32) -> Result<()> {
    if n == 0 {
        return Err(crate::Error::param(name, "must be at least 1"));
    }
    Ok(())
}

/// Index of the smallest value and the value.
pub(crate) fn min_of(v: &[f64]) -> (usize, f64) {
    let k = crate::energy::argmin(v);
    (k, v[k])
}

/// Min-sum message through edge `e` from node `from` (whose label costs are `h`) to the other
/// end: `out[l] = min_k h[k] + cost(e, k, l)`, then shifted so that its minimum is 0. Returns the
/// shift.
pub(crate) fn min_sum_message(
    energy: &Energy,
    e: usize,
    from: u32,
    h: &[f64],
    out: &mut [f64],
) -> f64 {
    let w = energy.edges()[e].weight;
    if energy.is_potts() && w >= 0.0 {
        let (_, hmin) = min_of(h);
        for (o, &hk) in out.iter_mut().zip(h) {
            *o = hk.min(hmin + w);
        }
    } else {
        for (l, o) in out.iter_mut().enumerate() {
            *o = h
                .iter()
                .enumerate()
                .map(|(k, &hk)| hk + energy.pair_cost_from(e, from, k, l))
                .fold(f64::INFINITY, f64::min);
        }
    }
    let (_, m) = min_of(out);
    out.iter_mut().for_each(|o| *o -= m);
    m
}

#[cfg(test)]
pub(crate) mod testing {
    //! Random small models and exhaustive search.
    use crate::energy::{Edge, Energy, Pairwise};
    use proptest::prelude::*;

    /// The minimum energy over all labellings.
    pub fn brute_force(e: &Energy) -> f64 {
        let (n, l) = (e.n_nodes(), e.n_labels());
        let mut x = vec![0u32; n];
        let mut best = f64::INFINITY;
        loop {
            best = best.min(e.energy(&x).unwrap());
            let mut i = 0;
            loop {
                if i == n {
                    return best;
                }
                x[i] += 1;
                if (x[i] as usize) < l {
                    break;
                }
                x[i] = 0;
                i += 1;
            }
        }
    }

    /// Random model: up to 8 nodes, `labels` labels, non-negative unaries and weights.
    pub fn model(labels: std::ops::Range<usize>, potts: bool) -> impl Strategy<Value = Energy> {
        (1usize..=8, labels)
            .prop_flat_map(move |(n, l)| {
                (
                    Just(n),
                    Just(l),
                    proptest::collection::vec(0u8..20, n * l),
                    proptest::collection::vec((0..n, 0..n, 0u8..10), 0..16),
                    proptest::collection::vec(0u8..10, l * l),
                )
            })
            .prop_map(move |(n, l, u, es, m)| {
                let edges = es
                    .into_iter()
                    .filter(|&(a, b, _)| a != b)
                    .map(|(a, b, w)| Edge {
                        a: a as u32,
                        b: b as u32,
                        weight: f64::from(w) * 0.5,
                    })
                    .collect();
                let pairwise = if potts {
                    Pairwise::Potts
                } else {
                    Pairwise::Matrix(m.into_iter().map(f64::from).collect())
                };
                let _ = n;
                Energy::new(l, u.into_iter().map(f64::from).collect(), edges, pairwise).unwrap()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{brute_force, model};
    use super::*;
    use proptest::prelude::*;

    fn solvers() -> Vec<Box<dyn Solver>> {
        vec![
            Box::new(Icm::default()),
            Box::new(BeliefPropagation::default()),
            Box::new(Trws::default()),
            Box::new(Expansion::default()),
            Box::new(Expansion {
                swaps: true,
                ..Expansion::default()
            }),
        ]
    }

    proptest! {
        #[test]
        fn reported_energy_is_the_energy(e in model(1..5, false)) {
            for s in solvers() {
                let sol = s.solve(&e).unwrap();
                let recomputed = e.energy(&sol.labels).unwrap();
                prop_assert_eq!(sol.energy, recomputed, "{}", s.name());
                if let Some(lb) = sol.lower_bound {
                    prop_assert!(lb <= sol.energy + 1e-9, "{}: bound {} energy {}", s.name(), lb, sol.energy);
                }
            }
        }

        #[test]
        fn trws_bound_never_exceeds_the_optimum(e in model(1..5, false)) {
            let opt = brute_force(&e);
            let sol = Trws::default().solve(&e).unwrap();
            let lb = sol.lower_bound.unwrap();
            prop_assert!(lb <= opt + 1e-9, "bound {} optimum {}", lb, opt);
            prop_assert!(sol.energy >= opt - 1e-9);
        }

        #[test]
        fn trws_bound_on_potts(e in model(1..5, true)) {
            let opt = brute_force(&e);
            let sol = Trws::default().solve(&e).unwrap();
            prop_assert!(sol.lower_bound.unwrap() <= opt + 1e-9);
        }

        #[test]
        fn two_labels_submodular_are_exact(e in model(2..3, true)) {
            let opt = brute_force(&e);
            let sol = Expansion::default().solve(&e).unwrap();
            prop_assert!((sol.energy - opt).abs() < 1e-9, "expansion {} optimum {}", sol.energy, opt);
            prop_assert_eq!(sol.iterations, 1);
            prop_assert!((sol.lower_bound.unwrap() - opt).abs() < 1e-9);
        }

        #[test]
        fn unary_fusion_never_ends_higher(e in model(1..5, false)) {
            // Fusion runs only once expansion has stopped, and only takes moves that lower the
            // energy, so it can only end at or below where expansion alone ends.
            let plain = Expansion { unary_fusion: false, ..Expansion::default() }.solve(&e).unwrap();
            let fused = Expansion::default().solve(&e).unwrap();
            prop_assert!(fused.energy <= plain.energy, "fused {} plain {}", fused.energy, plain.energy);
        }

        #[test]
        fn expansion_within_factor_two_on_potts(e in model(1..5, true)) {
            let opt = brute_force(&e);
            for swaps in [false, true] {
                let sol = Expansion { swaps, ..Expansion::default() }.solve(&e).unwrap();
                prop_assert!(sol.energy <= 2.0 * opt + 1e-9, "expansion {} optimum {}", sol.energy, opt);
            }
        }

        #[test]
        fn expansion_within_factor_on_metric(
            e in model(1..5, true),
            costs in proptest::collection::vec(1u8..5, 4),
        ) {
            // Metric on labels: V(k, l) = |p_k - p_l| for points on a line (plus Potts-like
            // gaps), so max/min over k != l is bounded.
            let l = e.n_labels();
            let pos: Vec<f64> = (0..l).scan(0.0, |s, k| { *s += f64::from(costs[k % 4]); Some(*s) }).collect();
            let m: Vec<f64> = (0..l * l).map(|i| (pos[i / l] - pos[i % l]).abs()).collect();
            let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
            for k in 0..l { for j in 0..l { if k != j { lo = lo.min(m[k * l + j]); hi = hi.max(m[k * l + j]); } } }
            let metric = Energy::new(l, e.unaries().to_vec(), e.edges().to_vec(), crate::Pairwise::Matrix(m)).unwrap();
            let opt = brute_force(&metric);
            let sol = Expansion::default().solve(&metric).unwrap();
            let factor = if l > 1 { 2.0 * hi / lo } else { 1.0 };
            prop_assert!(sol.energy <= factor * opt + 1e-9, "expansion {} optimum {} factor {}", sol.energy, opt, factor);
        }

        #[test]
        fn exact_on_trees(e in model(1..5, false)) {
            // Keep a spanning forest and break ties in the unaries: BP and TRW-S find the
            // optimum there, and TRW-S's bound is tight.
            let mut parent: Vec<usize> = (0..e.n_nodes()).collect();
            fn root(p: &[usize], mut i: usize) -> usize { while p[i] != i { i = p[i]; } i }
            let mut keep = Vec::new();
            let mut tables = Vec::new();
            for (k, ed) in e.edges().iter().enumerate() {
                let (ra, rb) = (root(&parent, ed.a as usize), root(&parent, ed.b as usize));
                if ra != rb {
                    parent[ra] = rb;
                    keep.push(*ed);
                    for x in 0..e.n_labels() { for y in 0..e.n_labels() { tables.push(e.label_cost(k, x, y)); } }
                }
            }
            let unary: Vec<f64> = e.unaries().iter().enumerate().map(|(i, u)| u + 1e-3 * ((i + 2) as f64).sqrt()).collect();
            let tree = Energy::new(e.n_labels(), unary, keep, crate::Pairwise::PerEdge(tables)).unwrap();
            let opt = brute_force(&tree);
            let trws = Trws::default().solve(&tree).unwrap();
            // The bound converges asymptotically: tight up to the stopping tolerance.
            let lb = trws.lower_bound.unwrap();
            prop_assert!(lb <= opt + 1e-9 && opt - lb < 1e-4 * (1.0 + opt.abs()), "bound {} optimum {}", lb, opt);
            prop_assert!((trws.energy - opt).abs() < 1e-6, "trws {} optimum {}", trws.energy, opt);
            let bp = BeliefPropagation::default().solve(&tree).unwrap();
            prop_assert!((bp.energy - opt).abs() < 1e-6, "bp {} optimum {}", bp.energy, opt);
        }
    }

    #[test]
    fn all_solvers_on_a_chain() {
        // Five nodes in a chain; the middle ones are ambivalent, the ends strong.
        let unary = vec![0.0, 9.0, 1.0, 1.0, 1.0, 1.2, 1.0, 1.0, 9.0, 0.0];
        let edges = (0..4)
            .map(|i| crate::Edge {
                a: i,
                b: i + 1,
                weight: 0.6,
            })
            .collect();
        let e = Energy::new(2, unary, edges, crate::Pairwise::Potts).unwrap();
        let opt = brute_force(&e);
        for s in solvers() {
            let sol = s.solve(&e).unwrap();
            assert!(sol.energy >= opt - 1e-12);
            if s.name() != "icm" {
                assert!(
                    (sol.energy - opt).abs() < 1e-9,
                    "{} {} {}",
                    s.name(),
                    sol.energy,
                    opt
                );
            }
        }
    }
}
