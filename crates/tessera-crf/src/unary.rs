//! Unary costs of superpixels: from scribbles through a colour model per label, or from
//! per-pixel class probabilities.
//!
//! Scribbles are a label image where 0 means "no scribble" and `1..=L` are the labels
//! (label `k` of the image is label `k - 1` of the energy). Each label gets a Gaussian mixture
//! in CIELAB ([`Gmm`], fitted by EM from a seeded k-means++ start, as GrabCut's colour models);
//! a superpixel's cost for a label is the sum of its pixels' negative log-likelihoods.

use crate::error::{Error, Result};
use ndarray::ArrayView3;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use tessera::{Segmentation, UNLABELLED};

/// The unary cost given to the labels a scribbled superpixel is not allowed to take. Equal to
/// [`uai::HARD_COST`](crate::uai::HARD_COST), so that fixed nodes survive a UAI round trip.
pub const FIXED_COST: f64 = crate::uai::HARD_COST;

/// The largest number of mixture components.
pub const MAX_COMPONENTS: usize = 16;

/// Parameters of the Gaussian mixtures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GmmParams {
    /// Components per label, at most [`MAX_COMPONENTS`]. Default 5 (GrabCut).
    pub components: usize,
    /// EM iterations at most. Default 50.
    pub max_iterations: u32,
    /// Stop when the mean log-likelihood improves by less than this. Default 1e-4.
    pub tolerance: f64,
    /// Added to the covariance diagonals (CIELAB units squared): keeps them invertible and
    /// stops a mixture fitted to a short scribble from being too narrow. Default 25 (a standard
    /// deviation of at least 5 CIELAB units), chosen on 30 BSDS500 train images with the
    /// `scribble_eval` example (1, 25 and 100 were tried).
    pub regularization: f64,
    /// At most this many pixels per label are used for fitting (an even stride through
    /// them). Default 20000.
    pub max_samples: usize,
    /// Seed of the k-means++ initialisation. Default 0.
    pub seed: u64,
}

impl Default for GmmParams {
    fn default() -> Self {
        GmmParams {
            components: 5,
            max_iterations: 50,
            tolerance: 1e-4,
            regularization: 25.0,
            max_samples: 20_000,
            seed: 0,
        }
    }
}

impl GmmParams {
    fn validate(&self) -> Result<()> {
        if self.components == 0 || self.components > MAX_COMPONENTS {
            return Err(Error::param(
                "components",
                format!("must be in 1..={MAX_COMPONENTS}"),
            ));
        }
        if self.max_iterations == 0 {
            return Err(Error::param("max_iterations", "must be at least 1"));
        }
        if !(self.regularization > 0.0 && self.regularization.is_finite()) {
            return Err(Error::param("regularization", "must be > 0"));
        }
        if self.tolerance.is_nan() || self.tolerance < 0.0 {
            return Err(Error::param("tolerance", "must be >= 0"));
        }
        if self.max_samples == 0 {
            return Err(Error::param("max_samples", "must be at least 1"));
        }
        Ok(())
    }
}

/// One Gaussian component: weight, mean, the Cholesky factor of its inverse covariance's
/// precision form and its log normaliser.
#[derive(Debug, Clone, PartialEq)]
struct Component {
    log_weight: f64,
    mean: Vec<f64>,
    /// Lower-triangular Cholesky factor `L` of the covariance, row-major `d x d`.
    chol: Vec<f64>,
    /// `-0.5 * (d * ln(2 pi) + ln det Sigma)`.
    log_norm: f64,
}

/// A Gaussian mixture with full covariances over `d`-dimensional samples (`d` = 1 or 3 here).
///
/// ```
/// use tessera_crf::unary::{Gmm, GmmParams};
/// // Two clusters on a line.
/// let samples: Vec<f64> = (0..100).map(|i| if i % 2 == 0 { 0.0 } else { 50.0 } + (i % 7) as f64).collect();
/// let gmm = Gmm::fit(&samples, 1, &GmmParams { components: 2, ..Default::default() })?;
/// assert!(gmm.neg_log_likelihood(&[3.0]) < gmm.neg_log_likelihood(&[25.0]));
/// # Ok::<(), tessera_crf::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Gmm {
    dim: usize,
    components: Vec<Component>,
}

impl Gmm {
    /// Fits a mixture to `samples` (`dim` values per sample, sample after sample) by EM from a
    /// k-means++ start seeded with `params.seed`. Uses fewer components when there are fewer
    /// samples.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for bad parameters, no samples, or a `dim` that does not
    /// divide the sample buffer.
    pub fn fit(samples: &[f64], dim: usize, params: &GmmParams) -> Result<Self> {
        params.validate()?;
        if dim == 0 || !samples.len().is_multiple_of(dim) {
            return Err(Error::param(
                "dim",
                format!("{dim} does not divide {} values", samples.len()),
            ));
        }
        let all = samples.len() / dim;
        if all == 0 {
            return Err(Error::param("samples", "no samples to fit"));
        }
        // Even stride subsample.
        let n = all.min(params.max_samples);
        let data: Vec<f64> = (0..n)
            .flat_map(|s| {
                let i = s * all / n;
                samples[i * dim..(i + 1) * dim].iter().copied()
            })
            .collect();
        let k = params.components.min(n);
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        let means = kmeans_pp(&data, dim, k, &mut rng);
        // Hard assignment to the nearest seed for the first M step.
        let mut resp = vec![0.0f64; n * k];
        for s in 0..n {
            let x = &data[s * dim..(s + 1) * dim];
            let best = (0..k)
                .map(|c| sq_dist(x, &means[c * dim..(c + 1) * dim]))
                .enumerate()
                .fold(
                    (0, f64::INFINITY),
                    |b, (c, d)| if d < b.1 { (c, d) } else { b },
                );
            resp[s * k + best.0] = 1.0;
        }
        let mut gmm = Gmm {
            dim,
            components: Vec::new(),
        };
        let mut prev = f64::NEG_INFINITY;
        for _ in 0..params.max_iterations {
            gmm.m_step(&data, &resp, k, params.regularization);
            let ll = gmm.e_step(&data, &mut resp, k);
            if ll - prev < params.tolerance {
                break;
            }
            prev = ll;
        }
        gmm.m_step(&data, &resp, k, params.regularization);
        gmm.components.retain(|c| c.log_weight > f64::NEG_INFINITY);
        Ok(gmm)
    }

    /// Dimension of the samples.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of components with non-zero weight.
    pub fn len(&self) -> usize {
        self.components.len()
    }

    /// Whether the mixture has no components (never, after [`Gmm::fit`]).
    pub fn is_empty(&self) -> bool {
        self.components.is_empty()
    }

    /// `-ln p(x)` of one sample of `dim` values.
    pub fn neg_log_likelihood(&self, x: &[f64]) -> f64 {
        let mut buf = [0.0f64; MAX_COMPONENTS];
        let logs = &mut buf[..self.components.len()];
        for (l, c) in logs.iter_mut().zip(&self.components) {
            *l = c.log_weight + c.log_density(x, self.dim);
        }
        -log_sum_exp(logs)
    }

    fn m_step(&mut self, data: &[f64], resp: &[f64], k: usize, reg: f64) {
        let d = self.dim;
        let n = data.len() / d;
        let mut comps = Vec::with_capacity(k);
        for c in 0..k {
            let nk: f64 = (0..n).map(|s| resp[s * k + c]).sum();
            let mut mean = vec![0.0; d];
            let mut cov = vec![0.0; d * d];
            if nk > 1e-9 {
                for s in 0..n {
                    let r = resp[s * k + c];
                    for (m, &x) in mean.iter_mut().zip(&data[s * d..(s + 1) * d]) {
                        *m += r * x;
                    }
                }
                mean.iter_mut().for_each(|m| *m /= nk);
                for s in 0..n {
                    let r = resp[s * k + c];
                    let x = &data[s * d..(s + 1) * d];
                    for p in 0..d {
                        for q in 0..=p {
                            cov[p * d + q] += r * (x[p] - mean[p]) * (x[q] - mean[q]);
                        }
                    }
                }
            }
            for p in 0..d {
                for q in 0..=p {
                    let v = if nk > 1e-9 { cov[p * d + q] / nk } else { 0.0 };
                    cov[p * d + q] = v;
                    cov[q * d + p] = v;
                }
                cov[p * d + p] += reg;
            }
            let chol = cholesky(&cov, d);
            let log_det: f64 = (0..d).map(|p| 2.0 * chol[p * d + p].ln()).sum();
            comps.push(Component {
                log_weight: if nk > 1e-9 {
                    (nk / n as f64).ln()
                } else {
                    f64::NEG_INFINITY
                },
                mean,
                chol,
                log_norm: -0.5 * (d as f64 * (2.0 * std::f64::consts::PI).ln() + log_det),
            });
        }
        self.components = comps;
    }

    /// Fills the responsibilities; returns the mean log-likelihood.
    fn e_step(&self, data: &[f64], resp: &mut [f64], k: usize) -> f64 {
        let d = self.dim;
        let n = data.len() / d;
        let mut total = 0.0;
        for s in 0..n {
            let x = &data[s * d..(s + 1) * d];
            let r = &mut resp[s * k..(s + 1) * k];
            for (rc, c) in r.iter_mut().zip(&self.components) {
                *rc = c.log_weight + c.log_density(x, d);
            }
            let lse = log_sum_exp(r);
            total += lse;
            r.iter_mut().for_each(|v| *v = (*v - lse).exp());
        }
        total / n as f64
    }
}

impl Component {
    fn log_density(&self, x: &[f64], d: usize) -> f64 {
        if self.log_weight == f64::NEG_INFINITY {
            return 0.0;
        }
        // Solve L z = x - mean; the Mahalanobis distance is |z|^2.
        let mut z = [0.0f64; 4];
        let mut m = 0.0;
        for p in 0..d {
            let row = &self.chol[p * d..p * d + p];
            let v = x[p] - self.mean[p] - row.iter().zip(&z).map(|(c, zq)| c * zq).sum::<f64>();
            z[p] = v / self.chol[p * d + p];
            m += z[p] * z[p];
        }
        self.log_norm - 0.5 * m
    }
}

fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// Cholesky factor of a symmetric positive definite `d x d` matrix (regularised, so the
/// diagonal stays positive).
fn cholesky(a: &[f64], d: usize) -> Vec<f64> {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * d + k] * l[j * d + k]).sum();
            if i == j {
                l[i * d + i] = (a[i * d + i] - s).max(1e-12).sqrt();
            } else {
                l[i * d + j] = (a[i * d + j] - s) / l[j * d + j];
            }
        }
    }
    l
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// k-means++ seeding (Arthur & Vassilvitskii 2007): `k` centres, `dim` values each.
fn kmeans_pp(data: &[f64], dim: usize, k: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let n = data.len() / dim;
    let mut centres = Vec::with_capacity(k * dim);
    let first = rng.random_range(0..n);
    centres.extend_from_slice(&data[first * dim..(first + 1) * dim]);
    let mut d2: Vec<f64> = (0..n)
        .map(|s| sq_dist(&data[s * dim..(s + 1) * dim], &centres[..dim]))
        .collect();
    for _ in 1..k {
        let total: f64 = d2.iter().sum();
        let pick = if total > 0.0 {
            let mut t = rng.random::<f64>() * total;
            let mut pick = n - 1;
            for (s, &v) in d2.iter().enumerate() {
                if t < v {
                    pick = s;
                    break;
                }
                t -= v;
            }
            pick
        } else {
            rng.random_range(0..n)
        };
        let c = &data[pick * dim..(pick + 1) * dim];
        centres.extend_from_slice(c);
        for (s, v) in d2.iter_mut().enumerate() {
            *v = v.min(sq_dist(&data[s * dim..(s + 1) * dim], c));
        }
    }
    centres
}

/// One colour model per scribble label.
///
/// ```
/// use tessera_crf::unary::{ColourModel, GmmParams};
/// // A 4x1 grey image: dark, dark, bright, bright; scribbles on the first and last pixel.
/// let lab = vec![vec![10.0f32, 12.0, 90.0, 88.0]];
/// let model = ColourModel::fit(&lab, &[1, 0, 0, 2], &GmmParams::default())?;
/// assert_eq!(model.n_labels(), 2);
/// assert_eq!(model.classify_pixels(&lab), vec![0, 0, 1, 1]);
/// # Ok::<(), tessera_crf::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ColourModel {
    models: Vec<Gmm>,
}

impl ColourModel {
    /// Fits a [`Gmm`] per label `1..=L` (`L` the largest scribble value) to the CIELAB colours
    /// (`lab`, one plane per channel as from [`tessera::cielab_planes`]) of its scribbled pixels.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `scribbles` does not match the planes, holds no
    /// scribble, or a label in `1..=L` has no pixel; bad [`GmmParams`].
    pub fn fit(lab: &[Vec<f32>], scribbles: &[u32], params: &GmmParams) -> Result<Self> {
        let n = check_planes(lab, scribbles.len())?;
        let l = scribbles.iter().copied().max().unwrap_or(0) as usize;
        if l == 0 {
            return Err(Error::param("scribbles", "no pixel is scribbled"));
        }
        let d = lab.len();
        let mut samples = vec![Vec::new(); l];
        for p in 0..n {
            let s = scribbles[p] as usize;
            if s > 0 {
                samples[s - 1].extend(lab.iter().map(|plane| f64::from(plane[p])));
            }
        }
        let models = samples
            .iter()
            .enumerate()
            .map(|(k, s)| {
                if s.is_empty() {
                    return Err(Error::param(
                        "scribbles",
                        format!(
                            "label {} has no scribbled pixel (labels must be 1..={l})",
                            k + 1
                        ),
                    ));
                }
                Gmm::fit(s, d, params)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ColourModel { models })
    }

    /// Number of labels.
    pub fn n_labels(&self) -> usize {
        self.models.len()
    }

    /// The mixture of each label.
    pub fn models(&self) -> &[Gmm] {
        &self.models
    }

    /// `-ln p_l(colour)` of every pixel for every label: `n_pixels * n_labels` values, pixel
    /// after pixel. Computed in parallel; the result does not depend on the thread count.
    pub fn pixel_costs(&self, lab: &[Vec<f32>]) -> Vec<f64> {
        let l = self.n_labels();
        let n = lab.first().map_or(0, Vec::len);
        let mut out = vec![0.0; n * l];
        out.par_chunks_mut(l * 4096)
            .enumerate()
            .for_each(|(ci, chunk)| {
                let mut x = [0.0f64; 3];
                for (j, costs) in chunk.chunks_mut(l).enumerate() {
                    let p = ci * 4096 + j;
                    for (xc, plane) in x.iter_mut().zip(lab) {
                        *xc = f64::from(plane[p]);
                    }
                    for (c, m) in costs.iter_mut().zip(&self.models) {
                        *c = m.neg_log_likelihood(&x[..lab.len()]);
                    }
                }
            });
        out
    }

    /// The per-pixel classifier without a CRF: each pixel's most likely label (0-based).
    pub fn classify_pixels(&self, lab: &[Vec<f32>]) -> Vec<u32> {
        self.pixel_costs(lab)
            .chunks(self.n_labels())
            .map(|c| crate::energy::argmin(c) as u32)
            .collect()
    }
}

fn check_planes(lab: &[Vec<f32>], n: usize) -> Result<usize> {
    if lab.is_empty() || lab.len() > 3 || lab.iter().any(|p| p.len() != n) {
        return Err(Error::param(
            "lab",
            format!("1 to 3 planes of {n} values are needed (one value per pixel)"),
        ));
    }
    Ok(n)
}

/// Sums per-pixel costs (`n_pixels * n_labels`) over each superpixel; unlabelled pixels are
/// skipped. Returns `seg.count() * n_labels` unary costs.
///
/// # Errors
/// [`Error::InvalidParameter`] when the sizes do not match.
pub fn superpixel_sums(
    seg: &Segmentation,
    pixel_costs: &[f64],
    n_labels: usize,
) -> Result<Vec<f64>> {
    if n_labels == 0 || pixel_costs.len() != seg.labels().len() * n_labels {
        return Err(Error::param(
            "pixel_costs",
            format!(
                "{} costs for {} pixels and {n_labels} labels",
                pixel_costs.len(),
                seg.labels().len()
            ),
        ));
    }
    let mut unary = vec![0.0; seg.count() as usize * n_labels];
    for (&s, costs) in seg.labels().iter().zip(pixel_costs.chunks(n_labels)) {
        if s != UNLABELLED {
            let u = &mut unary[s as usize * n_labels..(s as usize + 1) * n_labels];
            u.iter_mut().zip(costs).for_each(|(u, c)| *u += c);
        }
    }
    Ok(unary)
}

/// Fixes each scribbled superpixel to its scribble label: the label scribbled on most of its
/// pixels (the lower one on ties) keeps its cost, every other label gets [`FIXED_COST`].
///
/// # Errors
/// [`Error::InvalidParameter`] when the sizes do not match or a scribble exceeds `n_labels`.
pub fn fix_scribbled(
    seg: &Segmentation,
    scribbles: &[u32],
    n_labels: usize,
    unary: &mut [f64],
) -> Result<()> {
    if scribbles.len() != seg.labels().len() || unary.len() != seg.count() as usize * n_labels {
        return Err(Error::param(
            "scribbles",
            "sizes of scribbles, segmentation and unaries differ",
        ));
    }
    if let Some(&s) = scribbles.iter().find(|&&s| s as usize > n_labels) {
        return Err(Error::param(
            "scribbles",
            format!("value {s} with {n_labels} labels"),
        ));
    }
    let mut votes = vec![0u32; seg.count() as usize * n_labels];
    for (&s, &k) in seg.labels().iter().zip(scribbles) {
        if s != UNLABELLED && k > 0 {
            votes[s as usize * n_labels + k as usize - 1] += 1;
        }
    }
    for (u, v) in unary.chunks_mut(n_labels).zip(votes.chunks(n_labels)) {
        let (best, &count) = v
            .iter()
            .enumerate()
            .fold((0, &0), |b, (k, c)| if *c > *b.1 { (k, c) } else { b });
        if count > 0 {
            for (k, uk) in u.iter_mut().enumerate() {
                if k != best {
                    *uk = FIXED_COST;
                }
            }
        }
    }
    Ok(())
}

/// Parameters of [`from_scribbles`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScribbleParams {
    /// The colour mixtures.
    pub gmm: GmmParams,
    /// Fix scribbled superpixels to their label. Default true.
    pub fix_scribbled: bool,
}

impl Default for ScribbleParams {
    fn default() -> Self {
        ScribbleParams {
            gmm: GmmParams::default(),
            fix_scribbled: true,
        }
    }
}

/// Scribble unaries: fits a [`ColourModel`], sums its pixel costs over each superpixel and
/// optionally fixes scribbled superpixels. Returns the model and `seg.count() * L` costs.
///
/// ```
/// use tessera::Segmentation;
/// use tessera_crf::unary::{from_scribbles, ScribbleParams};
/// let lab = vec![vec![10.0f32, 12.0, 90.0, 88.0]];
/// let seg = Segmentation::from_labels(4, 1, vec![0, 0, 1, 1])?;
/// let (model, unary) = from_scribbles(&lab, &seg, &[1, 0, 0, 2], &ScribbleParams::default())?;
/// assert_eq!(model.n_labels(), 2);
/// assert!(unary[0] < unary[1] && unary[3] < unary[2]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`ColourModel::fit`], and a segmentation whose size differs from the planes'.
pub fn from_scribbles(
    lab: &[Vec<f32>],
    seg: &Segmentation,
    scribbles: &[u32],
    params: &ScribbleParams,
) -> Result<(ColourModel, Vec<f64>)> {
    check_planes(lab, seg.labels().len())?;
    let model = ColourModel::fit(lab, scribbles, &params.gmm)?;
    let l = model.n_labels();
    let mut unary = superpixel_sums(seg, &model.pixel_costs(lab), l)?;
    if params.fix_scribbled {
        fix_scribbled(seg, scribbles, l, &mut unary)?;
    }
    Ok((model, unary))
}

/// Unaries from per-pixel class probabilities (`height x width x L`): each superpixel's cost
/// for a class is `sum -ln(p + eps)` over its pixels.
///
/// ```
/// use ndarray::Array3;
/// use tessera::Segmentation;
/// let seg = Segmentation::from_labels(2, 1, vec![0, 1])?;
/// let probs = Array3::from_shape_vec((1, 2, 2), vec![0.9f32, 0.1, 0.2, 0.8])?;
/// let u = tessera_crf::unary::from_probabilities(probs.view(), &seg, 1e-6)?;
/// assert!(u[0] < u[1] && u[3] < u[2]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`Error::InvalidParameter`] for a shape that does not match the segmentation, no classes,
/// negative or non-finite probabilities, or `eps` not > 0.
pub fn from_probabilities(
    probs: ArrayView3<f32>,
    seg: &Segmentation,
    eps: f64,
) -> Result<Vec<f64>> {
    let (h, w, l) = probs.dim();
    if (h, w) != (seg.height() as usize, seg.width() as usize) || l == 0 {
        return Err(Error::param(
            "probs",
            format!(
                "shape {h}x{w}x{l}, the segmentation is {}x{} (height x width x classes)",
                seg.height(),
                seg.width()
            ),
        ));
    }
    if !(eps > 0.0 && eps.is_finite()) {
        return Err(Error::param("eps", "must be > 0"));
    }
    if let Some(p) = probs.iter().find(|p| !(p.is_finite() && **p >= 0.0)) {
        return Err(Error::param(
            "probs",
            format!("probability {p} is not finite and >= 0"),
        ));
    }
    let mut costs = Vec::with_capacity(h * w * l);
    for p in probs.iter() {
        costs.push(-(f64::from(*p) + eps).ln());
    }
    superpixel_sums(seg, &costs, l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn gmm_is_deterministic_and_finds_clusters() {
        let mut s = Vec::new();
        for i in 0..300 {
            let c = [[20.0, 5.0, 5.0], [70.0, -30.0, 40.0]][i % 2];
            let j = (i % 13) as f64 * 0.3;
            s.extend([c[0] + j, c[1] - j, c[2] + j]);
        }
        let p = GmmParams {
            components: 2,
            ..Default::default()
        };
        let a = Gmm::fit(&s, 3, &p).unwrap();
        let b = Gmm::fit(&s, 3, &p).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 2);
        let near = a.neg_log_likelihood(&[20.0, 5.0, 5.0]);
        let far = a.neg_log_likelihood(&[45.0, -10.0, 20.0]);
        assert!(near < far);
    }

    #[test]
    fn refuses_bad_input() {
        let lab = vec![vec![1.0f32; 4]];
        assert!(ColourModel::fit(&lab, &[0, 0, 0, 0], &GmmParams::default()).is_err());
        assert!(ColourModel::fit(&lab, &[2, 0, 0, 0], &GmmParams::default()).is_err());
        assert!(ColourModel::fit(&lab, &[1, 0, 0], &GmmParams::default()).is_err());
        let seg = Segmentation::from_labels(2, 1, vec![0, 1]).unwrap();
        let bad = ndarray::Array3::from_elem((1, 2, 2), -1.0f32);
        assert!(from_probabilities(bad.view(), &seg, 1e-6).is_err());
        let wrong = ndarray::Array3::from_elem((2, 2, 2), 0.5f32);
        assert!(from_probabilities(wrong.view(), &seg, 1e-6).is_err());
    }

    #[test]
    fn fixing_keeps_the_majority_label() {
        let seg = Segmentation::from_labels(3, 1, vec![0, 0, 1]).unwrap();
        let mut u = vec![1.0; 4];
        fix_scribbled(&seg, &[2, 2, 0], 2, &mut u).unwrap();
        assert_eq!(u, vec![FIXED_COST, 1.0, 1.0, 1.0]);
    }

    proptest! {
        #[test]
        fn probability_unaries_sum_pixels(w in 1usize..6, h in 1usize..6, l in 1usize..4, seed in any::<u64>()) {
            let mut x = seed | 1;
            let mut rnd = || { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x };
            let labels: Vec<u32> = (0..w * h).map(|_| (rnd() % 3) as u32).collect();
            let seg = Segmentation::relabel_sequential(w as u32, h as u32, labels).unwrap();
            let probs = ndarray::Array3::from_shape_fn((h, w, l), |_| (rnd() % 1000) as f32 / 1000.0);
            let u = from_probabilities(probs.view(), &seg, 1e-3).unwrap();
            prop_assert_eq!(u.len(), seg.count() as usize * l);
            let total: f64 = u.iter().sum();
            let direct: f64 = probs.iter().map(|&p| -(f64::from(p) + 1e-3).ln()).sum();
            prop_assert!((total - direct).abs() < 1e-6 * (1.0 + direct.abs()));
        }
    }
}
