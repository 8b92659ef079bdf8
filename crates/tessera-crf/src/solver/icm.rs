//! Iterated conditional modes (Besag 1986): from the unary minimum, give each node in turn the
//! label that is best given its neighbours, until a sweep changes nothing.

use super::{Solution, Solver, check_iterations, min_of, solution};
use crate::energy::Energy;
use crate::error::Result;

/// ICM: fast, reaches a local minimum of single-node changes.
///
/// ```
/// use tessera_crf::{Edge, Energy, Pairwise, Solver, solver::Icm};
/// let e = Energy::new(2, vec![0.0, 1.0, 0.4, 0.0], vec![Edge { a: 0, b: 1, weight: 1.0 }], Pairwise::Potts)?;
/// assert_eq!(Icm::default().solve(&e)?.labels, vec![0, 0]);
/// # Ok::<(), tessera_crf::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Icm {
    /// Maximum number of sweeps over the nodes. Default 100.
    pub max_iterations: u32,
}

impl Default for Icm {
    fn default() -> Self {
        Icm {
            max_iterations: 100,
        }
    }
}

impl Solver for Icm {
    fn name(&self) -> &'static str {
        "icm"
    }

    fn solve(&self, energy: &Energy) -> Result<Solution> {
        check_iterations("max_iterations", self.max_iterations)?;
        let mut x = energy.unary_argmin();
        let mut cost = vec![0.0; energy.n_labels()];
        let mut iterations = 0;
        while iterations < self.max_iterations {
            iterations += 1;
            let mut changed = false;
            for i in 0..energy.n_nodes() {
                cost.copy_from_slice(energy.unary(i));
                for nb in energy.neighbours(i) {
                    let l = x[nb.node as usize] as usize;
                    for (k, c) in cost.iter_mut().enumerate() {
                        *c += energy.pair_cost_from(nb.edge as usize, i as u32, k, l);
                    }
                }
                let (best, v) = min_of(&cost);
                // Move only on a strict improvement, so that sweeps terminate.
                if best as u32 != x[i] && v < cost[x[i] as usize] {
                    x[i] = best as u32;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        Ok(solution(energy, x, None, iterations))
    }
}
