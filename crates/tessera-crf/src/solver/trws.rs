//! Sequential tree-reweighted message passing, TRW-S (Kolmogorov, "Convergent tree-reweighted
//! message passing for energy minimization", PAMI 2006).
//!
//! Nodes are processed in index order, forward then backward. A node with `n_in` earlier and
//! `n_out` later neighbours has weight `gamma = 1 / max(n_in, n_out)`; it sends
//! `m_ij(x_j) = min_xi gamma * theta_i(x_i) - m_ji(x_i) + theta_ij(x_i, x_j)`, with `theta_i` the
//! unary plus all incoming messages, to its later neighbours in the forward pass and to its
//! earlier ones in the backward pass.
//!
//! Lower bound: the messages reparametrise the energy exactly,
//! `E(x) = sum_j theta_j(x_j) + sum_ij [theta_ij - m_ij - m_ji](x_i, x_j)`. After a backward pass
//! each node `j` keeps `1 - n_in * gamma_j` of `theta_j` and lends `gamma_j * theta_j` to each edge
//! to an earlier neighbour; the sum of the minima of these parts bounds `min E` from below (each
//! part is minimised on its own). At a fixed point it is Kolmogorov's bound.
//!
//! The labelling is chosen in each forward pass node by node given the earlier nodes' labels
//! (Kolmogorov's sequential rounding); the best one seen is returned.

use super::bp::Messages;
use super::{Solution, Solver, check_iterations, min_of, min_sum_message, solution};
use crate::energy::Energy;
use crate::error::{Error, Result};

/// TRW-S, with its lower bound.
///
/// ```
/// use tessera_crf::{Edge, Energy, Pairwise, Solver, solver::Trws};
/// let e = Energy::new(2, vec![0.0, 1.0, 0.4, 0.0], vec![Edge { a: 0, b: 1, weight: 1.0 }], Pairwise::Potts)?;
/// let s = Trws::default().solve(&e)?;
/// assert_eq!(s.labels, vec![0, 0]);
/// assert!((s.lower_bound.unwrap() - s.energy).abs() < 1e-9); // a tree: the bound is tight
/// # Ok::<(), tessera_crf::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trws {
    /// Maximum number of forward-backward iterations. Default 100.
    pub max_iterations: u32,
    /// Stop when the bound improves by less than this (relative to `|bound| + 1`) in two
    /// iterations in a row, or when the gap between energy and bound is below it. Default 1e-7.
    pub tolerance: f64,
}

impl Default for Trws {
    fn default() -> Self {
        Trws {
            max_iterations: 100,
            tolerance: 1e-7,
        }
    }
}

impl Solver for Trws {
    fn name(&self) -> &'static str {
        "trws"
    }

    fn solve(&self, energy: &Energy) -> Result<Solution> {
        check_iterations("max_iterations", self.max_iterations)?;
        if self.tolerance.is_nan() || self.tolerance < 0.0 {
            return Err(Error::param("tolerance", "must be >= 0"));
        }
        let (n, l) = (energy.n_nodes(), energy.n_labels());
        let mut n_in = vec![0u32; n];
        let mut gamma = vec![1.0f64; n];
        for i in 0..n {
            let before = energy
                .neighbours(i)
                .iter()
                .filter(|nb| (nb.node as usize) < i)
                .count();
            let after = energy.neighbours(i).len() - before;
            n_in[i] = before as u32;
            let m = before.max(after);
            if m > 0 {
                gamma[i] = 1.0 / m as f64;
            }
        }
        let mut msg = Messages::new(energy);
        let mut theta = vec![0.0; l];
        let mut h = vec![0.0; l];
        let mut out = vec![0.0; l];
        let mut x = vec![0u32; n];
        let mut best = energy.unary_argmin();
        let mut best_energy = energy.energy_unchecked(&best);
        let mut bound = f64::NEG_INFINITY;
        let mut iterations = 0;
        let mut stalls = 0;
        while iterations < self.max_iterations {
            iterations += 1;
            // Forward pass, with sequential rounding.
            for i in 0..n {
                msg.belief(energy, i, &mut theta);
                for (k, hk) in h.iter_mut().enumerate() {
                    *hk = energy.unary(i)[k];
                }
                for nb in energy.neighbours(i) {
                    let e = nb.edge as usize;
                    let j = nb.node as usize;
                    if j < i {
                        let lj = x[j] as usize;
                        for (k, hk) in h.iter_mut().enumerate() {
                            *hk += energy.pair_cost_from(e, i as u32, k, lj);
                        }
                    } else {
                        let r = msg.range_to(energy, e, i as u32);
                        for (hk, &m) in h.iter_mut().zip(&msg.m[r]) {
                            *hk += m;
                        }
                    }
                }
                x[i] = min_of(&h).0 as u32;
                self.send(
                    energy, &mut msg, i, &theta, gamma[i], true, &mut h, &mut out,
                );
            }
            let ex = energy.energy_unchecked(&x);
            if ex < best_energy {
                best_energy = ex;
                best.copy_from_slice(&x);
            }
            // Backward pass.
            for i in (0..n).rev() {
                msg.belief(energy, i, &mut theta);
                self.send(
                    energy, &mut msg, i, &theta, gamma[i], false, &mut h, &mut out,
                );
            }
            let b = lower_bound(energy, &msg, &gamma, &n_in);
            let improved = b - bound;
            bound = bound.max(b);
            let scale = bound.abs() + 1.0;
            stalls = if improved <= self.tolerance * scale {
                stalls + 1
            } else {
                0
            };
            if stalls >= 2 || best_energy - bound <= self.tolerance * scale {
                break;
            }
        }
        Ok(solution(energy, best, Some(bound), iterations))
    }
}

impl Trws {
    /// Sends node `i`'s messages to its later (`forward`) or earlier neighbours.
    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        energy: &Energy,
        msg: &mut Messages,
        i: usize,
        theta: &[f64],
        gamma: f64,
        forward: bool,
        h: &mut [f64],
        out: &mut [f64],
    ) {
        for nb in energy.neighbours(i) {
            let j = nb.node as usize;
            if (j > i) != forward {
                continue;
            }
            let e = nb.edge as usize;
            let incoming = msg.range_to(energy, e, i as u32);
            for ((hk, &t), &m) in h.iter_mut().zip(theta).zip(&msg.m[incoming]) {
                *hk = gamma * t - m;
            }
            min_sum_message(energy, e, i as u32, h, out);
            let r = msg.range_to(energy, e, nb.node);
            msg.m[r].copy_from_slice(out);
        }
    }
}

/// The lower bound of the current reparametrisation (see the module documentation).
fn lower_bound(energy: &Energy, msg: &Messages, gamma: &[f64], n_in: &[u32]) -> f64 {
    let l = energy.n_labels();
    let mut theta = vec![0.0; energy.n_nodes() * l];
    for (i, t) in theta.chunks_mut(l).enumerate() {
        msg.belief(energy, i, t);
    }
    let mut total = 0.0;
    for (j, t) in theta.chunks(l).enumerate() {
        let keep = 1.0 - f64::from(n_in[j]) * gamma[j];
        if keep > 0.0 {
            total += keep * min_of(t).1;
        }
    }
    let mut a_part = vec![0.0; l];
    let mut b_part = vec![0.0; l];
    for (e, edge) in energy.edges().iter().enumerate() {
        // `j` the later node, lending gamma_j * theta_j; `i` the earlier.
        let (i, j) = if edge.a < edge.b {
            (edge.a, edge.b)
        } else {
            (edge.b, edge.a)
        };
        let ju = j as usize;
        let to_j = msg.range_to(energy, e, j);
        let to_i = msg.range_to(energy, e, i);
        for k in 0..l {
            a_part[k] = gamma[ju] * theta[ju * l + k] - msg.m[to_j.start + k];
            b_part[k] = -msg.m[to_i.start + k];
        }
        let w = edge.weight;
        let m = if energy.is_potts() && w >= 0.0 {
            let same = (0..l)
                .map(|k| a_part[k] + b_part[k])
                .fold(f64::INFINITY, f64::min);
            same.min(w + min_of(&a_part).1 + min_of(&b_part).1)
        } else {
            let mut m = f64::INFINITY;
            for (ki, &bk) in b_part.iter().enumerate() {
                for (kj, &ak) in a_part.iter().enumerate() {
                    m = m.min(ak + bk + energy.pair_cost_from(e, i, ki, kj));
                }
            }
            m
        };
        total += m;
    }
    total
}
