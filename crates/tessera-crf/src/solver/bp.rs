//! Loopy belief propagation in its min-sum (max-product in the log domain) form: messages are
//! updated node by node in alternating forward and backward sweeps, damped, until the largest
//! change falls below a tolerance. The labelling is read off the beliefs after each sweep and
//! the best one seen is returned.

use super::{Solution, Solver, check_iterations, min_of, min_sum_message, solution};
use crate::energy::Energy;
use crate::error::{Error, Result};

/// Min-sum loopy belief propagation with damping.
///
/// ```
/// use tessera_crf::{Edge, Energy, Pairwise, Solver, solver::BeliefPropagation};
/// let e = Energy::new(2, vec![0.0, 1.0, 0.4, 0.0], vec![Edge { a: 0, b: 1, weight: 1.0 }], Pairwise::Potts)?;
/// assert_eq!(BeliefPropagation::default().solve(&e)?.labels, vec![0, 0]);
/// # Ok::<(), tessera_crf::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BeliefPropagation {
    /// Maximum number of sweeps. Default 100.
    pub max_iterations: u32,
    /// Weight of the old message in each update, in `0..1`. Default 0.5.
    pub damping: f64,
    /// Stop when no message changes by more than this. Default 1e-6.
    pub tolerance: f64,
}

impl Default for BeliefPropagation {
    fn default() -> Self {
        BeliefPropagation {
            max_iterations: 100,
            damping: 0.5,
            tolerance: 1e-6,
        }
    }
}

/// Messages of every edge in both directions: `[e][0]` from `a` to `b`, `[e][1]` from `b` to
/// `a`, each `n_labels` values indexed by the receiver's label.
pub(crate) struct Messages {
    pub(crate) m: Vec<f64>,
    l: usize,
}

impl Messages {
    pub(crate) fn new(energy: &Energy) -> Self {
        Messages {
            m: vec![0.0; energy.edges().len() * 2 * energy.n_labels()],
            l: energy.n_labels(),
        }
    }

    /// Range of the message on edge `e` sent to node `to`.
    #[inline]
    pub(crate) fn range_to(&self, energy: &Energy, e: usize, to: u32) -> std::ops::Range<usize> {
        let dir = usize::from(energy.edges()[e].a == to);
        let s = (2 * e + dir) * self.l;
        s..s + self.l
    }

    /// `out = unary(i) + all messages into i`.
    pub(crate) fn belief(&self, energy: &Energy, i: usize, out: &mut [f64]) {
        out.copy_from_slice(energy.unary(i));
        for nb in energy.neighbours(i) {
            let r = self.range_to(energy, nb.edge as usize, i as u32);
            for (o, &v) in out.iter_mut().zip(&self.m[r]) {
                *o += v;
            }
        }
    }
}

impl Solver for BeliefPropagation {
    fn name(&self) -> &'static str {
        "bp"
    }

    fn solve(&self, energy: &Energy) -> Result<Solution> {
        check_iterations("max_iterations", self.max_iterations)?;
        if !(0.0..1.0).contains(&self.damping) {
            return Err(Error::param(
                "damping",
                format!("{} is not in 0..1", self.damping),
            ));
        }
        if self.tolerance.is_nan() || self.tolerance < 0.0 {
            return Err(Error::param("tolerance", "must be >= 0"));
        }
        let (n, l) = (energy.n_nodes(), energy.n_labels());
        let mut msg = Messages::new(energy);
        let mut belief = vec![0.0; l];
        let mut h = vec![0.0; l];
        let mut out = vec![0.0; l];
        let mut best = energy.unary_argmin();
        let mut best_energy = energy.energy_unchecked(&best);
        let mut x = vec![0u32; n];
        let mut iterations = 0;
        while iterations < self.max_iterations {
            let forward = iterations % 2 == 0;
            iterations += 1;
            let mut change = 0.0f64;
            for step in 0..n {
                let i = if forward { step } else { n - 1 - step };
                msg.belief(energy, i, &mut belief);
                for nb in energy.neighbours(i) {
                    let e = nb.edge as usize;
                    let incoming = msg.range_to(energy, e, i as u32);
                    for ((hk, &bk), &mk) in h.iter_mut().zip(&belief).zip(&msg.m[incoming]) {
                        *hk = bk - mk;
                    }
                    min_sum_message(energy, e, i as u32, &h, &mut out);
                    let r = msg.range_to(energy, e, nb.node);
                    for (old, &new) in msg.m[r].iter_mut().zip(&out) {
                        let v = self.damping * *old + (1.0 - self.damping) * new;
                        change = change.max((v - *old).abs());
                        *old = v;
                    }
                }
            }
            for (i, xi) in x.iter_mut().enumerate() {
                msg.belief(energy, i, &mut belief);
                *xi = min_of(&belief).0 as u32;
            }
            let ex = energy.energy_unchecked(&x);
            if ex < best_energy {
                best_energy = ex;
                best.copy_from_slice(&x);
            }
            if change <= self.tolerance {
                break;
            }
        }
        Ok(solution(energy, best, None, iterations))
    }
}
