//! Block-coordinate Frank-Wolfe for the structured SVM (Lacoste-Julien, Jaggi, Schmidt &
//! Pletscher, "Block-coordinate Frank-Wolfe optimization for structural SVMs", ICML 2013,
//! algorithm 3 with line search).
//!
//! The problem, over `n` images `(x_i, y_i)` with joint features `psi` and loss `Delta`:
//!
//! `min_w  P(w) = lambda / 2 |w|^2 + 1/n sum_i H_i(w)`,
//! `H_i(w) = max_y Delta_i(y) + w . psi_i(y) - w . psi_i(y_i)`, `lambda = 1 / (C n)`.
//!
//! Each step takes one image, finds the most violating labelling `y*` (loss-augmented
//! inference: the minimum of `-w . psi_i(y) - Delta_i(y)` by the [`Inference`] solver, or
//! per superpixel for a unary-only model, which is exact), and moves that image's block of the
//! dual towards the corner `y*` by the step that maximises the dual objective
//! `D = -lambda / 2 |w|^2 + l`, exactly. So **the dual objective never decreases**, and the
//! step's duality-gap term `g_i >= 0` (summed over a pass, a cheap estimate of the gap) is
//! reported. Every `eval_every` passes, and at the end, the primal objective `P(w)` is computed
//! with `w` fixed (one oracle call per image, in parallel), giving the duality gap `P - D`;
//! training stops when it is below `tolerance * P`, and the weights with the lowest primal
//! objective seen are returned.
//!
//! With an exact oracle (unary-only models, trees with TRW-S, two labels with submodular
//! costs) this is the algorithm of the paper, with its `O(1 / epsilon)` convergence. With an
//! approximate one (alpha-expansion on a loopy graph with many labels) `y*` may not be the most
//! violating labelling: the step is then still a valid dual ascent step (the dual stays
//! feasible and never decreases), but the reported primal objective and gap are lower bounds of
//! the true ones. Each oracle answer is compared with the image's previous answer and with the
//! ground truth, and the most violating of the three is used, so a weak oracle answer never
//! produces a negative gap.

use super::model::{Inference, argmax_rows, dot, energy, unary_scores};
use crate::error::{Error, Result};
use crate::features::{EDGE_FEATURES, ImageFeatures};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Parameters of the structured-SVM solver.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SsvmParams {
    /// The regularisation constant `C` (`lambda = 1 / (C n)`). Default 0.1; choose it on a
    /// validation split.
    pub c: f64,
    /// Maximum passes over the training images. Default 60.
    pub max_passes: u32,
    /// Stop when the duality gap is below this fraction of the primal objective. Default 0.01.
    pub tolerance: f64,
    /// Compute the primal objective and the duality gap every this many passes. Default 5.
    pub eval_every: u32,
    /// Seed of the order in which each pass visits the images. Default 0.
    pub seed: u64,
    /// The loss-augmented inference solver. Default alpha-expansion.
    pub inference: Inference,
}

impl Default for SsvmParams {
    fn default() -> Self {
        SsvmParams {
            c: 0.1,
            max_passes: 60,
            tolerance: 0.01,
            eval_every: 5,
            seed: 0,
            inference: Inference::Expansion,
        }
    }
}

impl SsvmParams {
    pub(crate) fn validate(&self) -> Result<()> {
        if !(self.c > 0.0 && self.c.is_finite()) {
            return Err(Error::param("c", "must be a finite number > 0"));
        }
        if self.max_passes == 0 {
            return Err(Error::param("max_passes", "must be at least 1"));
        }
        if self.eval_every == 0 {
            return Err(Error::param("eval_every", "must be at least 1"));
        }
        if self.tolerance.is_nan() || self.tolerance < 0.0 {
            return Err(Error::param("tolerance", "must be >= 0"));
        }
        Ok(())
    }
}

/// The solver's state after one pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PassRecord {
    /// Passes done (1-based).
    pub pass: u32,
    /// The dual objective `D` after the pass.
    pub dual: f64,
    /// The sum of the steps' gap terms over the pass (an estimate of the duality gap).
    pub gap_estimate: f64,
    /// The primal objective `P(w)` after the pass, on evaluation passes.
    pub primal: Option<f64>,
    /// Seconds since training started.
    pub seconds: f64,
}

/// What training did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// One record per pass.
    pub trace: Vec<PassRecord>,
    /// The primal objective of the returned weights.
    pub primal: f64,
    /// Its duality gap `P - D` (with the dual at the time the weights were taken).
    pub gap: f64,
    /// Whether the gap fell below the tolerance.
    pub converged: bool,
    /// Loss-augmented inference calls.
    pub oracle_calls: u64,
}

/// One training image, prepared: standardised features with the bias, truth and loss weights.
pub(crate) struct Prepared {
    pub features: ImageFeatures,
    pub z: Vec<f64>,
    pub truth: Vec<u32>,
    pub weight: Vec<f64>,
}

/// The layout of the weight vector.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    pub n_classes: usize,
    /// Node features plus the bias.
    pub d: usize,
    pub pairwise: bool,
}

impl Layout {
    fn unary_len(&self) -> usize {
        self.n_classes * self.d
    }

    pub fn len(&self) -> usize {
        self.unary_len()
            + if self.pairwise {
                EDGE_FEATURES * self.n_classes * self.n_classes
            } else {
                0
            }
    }

    /// `out += coef * psi(y)`.
    fn add_psi(&self, p: &Prepared, y: &[u32], coef: f64, out: &mut [f64]) {
        let d = self.d;
        for (i, &k) in y.iter().enumerate() {
            let o = &mut out[k as usize * d..(k as usize + 1) * d];
            for (o, z) in o.iter_mut().zip(&p.z[i * d..(i + 1) * d]) {
                *o += coef * z;
            }
        }
        if self.pairwise {
            let (nu, l) = (self.unary_len(), self.n_classes);
            for (e, ab) in p.features.edges().iter().enumerate() {
                let cell = y[ab[0] as usize] as usize * l + y[ab[1] as usize] as usize;
                for (f, &v) in p.features.edge(e).iter().enumerate() {
                    out[nu + f * l * l + cell] += coef * f64::from(v);
                }
            }
        }
    }

    /// `w . psi(y)`, from the unary scores.
    fn score(&self, p: &Prepared, scores: &[f64], w: &[f64], y: &[u32]) -> f64 {
        let l = self.n_classes;
        let mut s: f64 = y
            .iter()
            .enumerate()
            .map(|(i, &k)| scores[i * l + k as usize])
            .sum();
        if self.pairwise {
            let nu = self.unary_len();
            for (e, ab) in p.features.edges().iter().enumerate() {
                let cell = y[ab[0] as usize] as usize * l + y[ab[1] as usize] as usize;
                for (f, &v) in p.features.edge(e).iter().enumerate() {
                    s += f64::from(v) * w[nu + f * l * l + cell];
                }
            }
        }
        s
    }
}

/// The most violating labelling found for image `p` under `w`, among the oracle's answer,
/// `previous` (if any) and the truth, with its `H = Delta + w.psi(y) - w.psi(truth) >= 0`.
pub(crate) fn oracle(
    layout: &Layout,
    p: &Prepared,
    w: &[f64],
    previous: Option<&[u32]>,
    inference: Inference,
) -> Result<(Vec<u32>, f64)> {
    let l = layout.n_classes;
    let n = p.truth.len();
    let scores = unary_scores(&p.z, n, &w[..layout.unary_len()], l);
    let found = if layout.pairwise {
        let e = energy(
            &p.features,
            &scores,
            Some(&w[layout.unary_len()..]),
            l,
            Some((&p.truth, &p.weight)),
        )?;
        inference.solver().solve(&e)?.labels
    } else {
        let mut augmented = scores.clone();
        for (i, (&t, &wt)) in p.truth.iter().zip(&p.weight).enumerate() {
            for k in 0..l {
                if k as u32 != t {
                    augmented[i * l + k] += wt;
                }
            }
        }
        argmax_rows(&augmented, l)
    };
    let truth_score = layout.score(p, &scores, w, &p.truth);
    let h = |y: &[u32]| {
        super::loss::hamming(&p.truth, y, &p.weight) + layout.score(p, &scores, w, y) - truth_score
    };
    let mut best = (p.truth.clone(), 0.0);
    for cand in [Some(found.as_slice()), previous].into_iter().flatten() {
        let v = h(cand);
        if v > best.1 {
            best = (cand.to_vec(), v);
        }
    }
    Ok(best)
}

/// Runs BCFW. Returns the weights with the lowest primal objective seen and the report.
pub(crate) fn bcfw(
    layout: &Layout,
    data: &[Prepared],
    params: &SsvmParams,
    progress: Option<&(dyn Fn(&PassRecord) + Sync)>,
) -> Result<(Vec<f64>, FitReport)> {
    params.validate()?;
    let n = data.len();
    if n == 0 {
        return Err(Error::InvalidModel("no training image".into()));
    }
    let start = Instant::now();
    let lambda = 1.0 / (params.c * n as f64);
    let len = layout.len();
    let mut w = vec![0.0f64; len];
    let mut ell = 0.0f64;
    let mut w_block = vec![vec![0.0f64; len]; n];
    let mut ell_block = vec![0.0f64; n];
    let mut cache: Vec<Option<Vec<u32>>> = vec![None; n];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(params.seed);
    let mut order: Vec<usize> = (0..n).collect();
    let mut trace = Vec::new();
    let mut calls = 0u64;
    let mut best: Option<(Vec<f64>, f64, f64)> = None;
    let mut converged = false;
    let mut w_s = vec![0.0f64; len];
    for pass in 1..=params.max_passes {
        order.shuffle(&mut rng);
        let mut gap_sum = 0.0;
        for &i in &order {
            let p = &data[i];
            let (y, _) = oracle(layout, p, &w, cache[i].as_deref(), params.inference)?;
            calls += 1;
            // The corner: w_s = (psi(y_i) - psi(y*)) / (lambda n), l_s = Delta(y*) / n.
            w_s.iter_mut().for_each(|v| *v = 0.0);
            let scale = 1.0 / (lambda * n as f64);
            layout.add_psi(p, &p.truth, scale, &mut w_s);
            layout.add_psi(p, &y, -scale, &mut w_s);
            let ell_s = super::loss::hamming(&p.truth, &y, &p.weight) / n as f64;
            let wi = &mut w_block[i];
            let mut num = 0.0;
            let mut den = 0.0;
            for k in 0..len {
                let diff = wi[k] - w_s[k];
                num += diff * w[k];
                den += diff * diff;
            }
            let gap = lambda * num - ell_block[i] + ell_s;
            gap_sum += gap;
            let gamma = if den > 0.0 {
                (gap / (lambda * den)).clamp(0.0, 1.0)
            } else {
                0.0
            };
            if gamma > 0.0 {
                for k in 0..len {
                    let new = (1.0 - gamma) * wi[k] + gamma * w_s[k];
                    w[k] += new - wi[k];
                    wi[k] = new;
                }
                let new_ell = (1.0 - gamma) * ell_block[i] + gamma * ell_s;
                ell += new_ell - ell_block[i];
                ell_block[i] = new_ell;
            }
            cache[i] = Some(y);
        }
        let norm2 = dot(&w, &w);
        let dual = ell - lambda / 2.0 * norm2;
        let last = pass == params.max_passes;
        let primal = if pass % params.eval_every == 0 || last {
            let hs: Vec<Result<(Vec<u32>, f64)>> = data
                .par_iter()
                .zip(&cache)
                .map(|(p, c)| oracle(layout, p, &w, c.as_deref(), params.inference))
                .collect();
            calls += n as u64;
            let mut total = 0.0;
            for h in hs {
                total += h?.1;
            }
            Some(lambda / 2.0 * norm2 + total / n as f64)
        } else {
            None
        };
        let record = PassRecord {
            pass,
            dual,
            gap_estimate: gap_sum,
            primal,
            seconds: start.elapsed().as_secs_f64(),
        };
        if let Some(f) = progress {
            f(&record);
        }
        trace.push(record);
        if let Some(pv) = primal {
            if best.as_ref().is_none_or(|b| pv < b.1) {
                best = Some((w.clone(), pv, dual));
            }
            if pv - dual <= params.tolerance * pv.abs() {
                converged = true;
                break;
            }
        }
    }
    let (w_best, primal, dual) = best.unwrap_or((w, f64::NAN, f64::NAN));
    Ok((
        w_best,
        FitReport {
            trace,
            primal,
            gap: primal - dual,
            converged,
            oracle_calls: calls,
        },
    ))
}
