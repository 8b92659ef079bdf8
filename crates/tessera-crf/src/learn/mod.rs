//! Learning superpixel CRFs from labelled images with a structured SVM.
//!
//! - [`features`](crate::features::features) turns an image and its superpixels into
//!   [`ImageFeatures`];
//! - [`superpixel_labels`] gives each superpixel the majority class of its ground-truth
//!   pixels;
//! - [`fit`] learns a [`Model`]: per-class unary weights on the node features and, for a CRF,
//!   per-class-pair weights on each edge feature, by block-coordinate Frank-Wolfe
//!   ([`ssvm`]), with a Hamming loss weighted by superpixel size and class ([`loss`]);
//! - [`predict`] labels the superpixels of a new image.
//!
//! The unary-only model (`LearnParams::pairwise = false`) is the same structured SVM without
//! edges: a multi-class linear SVM on the superpixels (Crammer & Singer's, with the
//! size- and class-weighted loss), the baseline a CRF is measured against.
//!
//! ```
//! use tessera_crf::features::{EDGE_FEATURES, ImageFeatures};
//! use tessera_crf::learn::{self, LearnParams, Sample};
//! // Two chains of two nodes with one feature: the sign of the feature is the class.
//! let chain = |x: f32, y: u32| Sample {
//!     features: ImageFeatures::new(1, vec![x, x], vec![1, 1], vec![[0, 1]],
//!         vec![1.0; EDGE_FEATURES]).unwrap(),
//!     labels: vec![y, y],
//! };
//! let data = vec![chain(-1.0, 0), chain(1.0, 1)];
//! let params = LearnParams { n_classes: 2, ..LearnParams::default() };
//! let (model, report) = learn::fit(&data, &params, None)?;
//! assert_eq!(learn::predict(&model, &data[1].features)?, vec![1, 1]);
//! assert!(report.primal >= report.trace.last().unwrap().dual - 1e-9);
//! # Ok::<(), tessera_crf::Error>(())
//! ```

pub mod loss;
mod model;
pub mod ssvm;

pub use loss::VOID;
pub use model::{Inference, Model};
pub use ssvm::{FitReport, PassRecord, SsvmParams};

use crate::error::{Error, Result};
use crate::features::{FeatureParams, ImageFeatures};
use model::Standardizer;
use rayon::prelude::*;
use ssvm::{Layout, Prepared};
use tessera::{Segmentation, UNLABELLED};

/// One training image: its superpixels' features and their classes ([`VOID`] for none).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The features.
    pub features: ImageFeatures,
    /// The class of each superpixel, `0..n_classes` or [`VOID`].
    pub labels: Vec<u32>,
}

/// Parameters of [`fit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LearnParams {
    /// Number of classes. Default 21 (MSRC-21).
    pub n_classes: usize,
    /// The feature parameters the samples were computed with (recorded in the model).
    pub features: FeatureParams,
    /// Learn pairwise weights (a CRF); false gives the unary-only model. Default true.
    pub pairwise: bool,
    /// Exponent of the inverse class frequency in the loss's class weights
    /// ([`loss::class_weights`]): 0 for none, 1 for balanced classes. Default 0.5: on
    /// MSRC-21 val (default features, each power's best C) 0.25, 0.5, 0.75 and 1 gave the
    /// CRF 78.6 / 68.0, 78.0 / 69.0, 76.6 / 69.1 and 75.3 / 69.8 (global / average pixel
    /// accuracy); 0.5 has the best mean, what `tessera learn` chooses C by.
    pub class_weight_power: f64,
    /// Edge features are multiplied by this during training (and the learned pairwise
    /// weights by it afterwards, so the model's scores are unchanged): the pairwise weights
    /// are then regularised `pairwise_scale^2` times less than the unary ones. Default 1.
    pub pairwise_scale: f64,
    /// The structured-SVM solver's parameters.
    pub ssvm: SsvmParams,
}

impl Default for LearnParams {
    fn default() -> Self {
        LearnParams {
            n_classes: 21,
            features: FeatureParams::default(),
            pairwise: true,
            class_weight_power: 0.5,
            pairwise_scale: 1.0,
            ssvm: SsvmParams::default(),
        }
    }
}

/// The class of each superpixel of `seg`: the most frequent value of `truth` (one per pixel)
/// among its pixels, smallest on ties; [`VOID`] when values `>= n_classes` (void) are the most
/// frequent.
///
/// # Errors
/// [`Error::InvalidModel`] when `truth` does not have one value per pixel.
pub fn superpixel_labels(seg: &Segmentation, truth: &[u8], n_classes: usize) -> Result<Vec<u32>> {
    if truth.len() != seg.labels().len() {
        return Err(Error::InvalidModel(format!(
            "{} ground-truth values for {} pixels",
            truth.len(),
            seg.labels().len()
        )));
    }
    let m = n_classes + 1;
    let mut counts = vec![0u32; seg.count() as usize * m];
    for (&s, &t) in seg.labels().iter().zip(truth) {
        if s != UNLABELLED {
            counts[s as usize * m + (t as usize).min(n_classes)] += 1;
        }
    }
    Ok(counts
        .chunks(m)
        .map(|c| {
            let mut best = 0;
            for (k, &v) in c.iter().enumerate() {
                if v > c[best] {
                    best = k;
                }
            }
            if best == n_classes { VOID } else { best as u32 }
        })
        .collect())
}

/// Learns a model from `samples` (see the module documentation). Void superpixels are
/// dropped from the graphs. `progress` is called after every pass. The model predicts with
/// the training solver, except that [`Inference::ExpansionOnly`] becomes
/// [`Inference::Expansion`].
///
/// # Errors
/// [`Error::InvalidParameter`] for bad parameters; [`Error::InvalidModel`] for no samples, no
/// labelled superpixel, features of different dimensions, or labels out of range.
pub fn fit(
    samples: &[Sample],
    params: &LearnParams,
    progress: Option<&(dyn Fn(&PassRecord) + Sync)>,
) -> Result<(Model, FitReport)> {
    params.ssvm.validate()?;
    if params.n_classes < 2 || params.n_classes > 256 {
        return Err(Error::param("n_classes", "must be in 2..=256"));
    }
    if !(params.class_weight_power >= 0.0 && params.class_weight_power.is_finite()) {
        return Err(Error::param("class_weight_power", "must be >= 0"));
    }
    let scale = params.pairwise_scale;
    if !(scale > 0.0 && scale.is_finite()) {
        return Err(Error::param(
            "pairwise_scale",
            "must be a finite number > 0",
        ));
    }
    let dim = samples
        .first()
        .map(|s| s.features.dim())
        .ok_or_else(|| Error::InvalidModel("no training image".into()))?;
    for (i, s) in samples.iter().enumerate() {
        if s.features.dim() != dim || s.labels.len() != s.features.len() {
            return Err(Error::InvalidModel(format!(
                "sample {i}: {} labels, {} superpixels of {} features (sample 0 has {dim})",
                s.labels.len(),
                s.features.len(),
                s.features.dim()
            )));
        }
        if let Some(&y) = s
            .labels
            .iter()
            .find(|&&y| y != VOID && y as usize >= params.n_classes)
        {
            return Err(Error::InvalidModel(format!(
                "sample {i}: class {y} of {} classes",
                params.n_classes
            )));
        }
    }
    let kept: Vec<(ImageFeatures, Vec<u32>)> = samples
        .iter()
        .map(|s| {
            let keep: Vec<bool> = s.labels.iter().map(|&y| y != VOID).collect();
            let labels = s.labels.iter().copied().filter(|&y| y != VOID).collect();
            let f = s.features.subgraph(&keep);
            let f = if scale == 1.0 {
                f
            } else {
                let ef = f
                    .edge_features()
                    .iter()
                    .map(|&v| v * scale as f32)
                    .collect();
                ImageFeatures::new(
                    f.dim(),
                    f.nodes().to_vec(),
                    f.sizes().to_vec(),
                    f.edges().to_vec(),
                    ef,
                )?
            };
            Ok((f, labels))
        })
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .filter(|(f, _)| !f.is_empty())
        .collect();
    if kept.is_empty() {
        return Err(Error::InvalidModel("no labelled superpixel".into()));
    }
    let standard = Standardizer::fit(dim, kept.iter().map(|(f, _)| f));
    let cw = loss::class_weights(
        kept.iter().map(|(f, y)| (y.as_slice(), f.sizes())),
        params.n_classes,
        params.class_weight_power,
    );
    let data: Vec<Prepared> = kept
        .into_par_iter()
        .map(|(features, truth)| {
            let z = standard.apply(&features)?;
            let weight = loss::node_weights(&truth, features.sizes(), &cw);
            Ok(Prepared {
                features,
                z,
                truth,
                weight,
            })
        })
        .collect::<Result<_>>()?;
    let layout = Layout {
        n_classes: params.n_classes,
        d: dim + 1,
        pairwise: params.pairwise,
    };
    let (mut w, report) = ssvm::bcfw(&layout, &data, &params.ssvm, progress)?;
    let nu = params.n_classes * (dim + 1);
    w[nu..]
        .iter_mut()
        .for_each(|v| *v *= f64::from(scale as f32));
    let model = Model::from_weights(
        params.n_classes,
        params.features,
        &standard,
        &w,
        params.pairwise,
        // Prediction always gets the full solver: expansion-only is a training speed-up.
        match params.ssvm.inference {
            Inference::ExpansionOnly => Inference::Expansion,
            other => other,
        },
    );
    Ok((model, report))
}

/// The class of each superpixel of an image under `model` ([`Model::predict`]).
///
/// # Errors
/// As [`Model::predict`].
pub fn predict(model: &Model, features: &ImageFeatures) -> Result<Vec<u32>> {
    model.predict(features)
}

/// A confusion matrix over pixels, for the standard semantic-segmentation scores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confusion {
    n: usize,
    counts: Vec<u64>,
}

impl Confusion {
    /// An empty matrix for `n_classes` classes.
    pub fn new(n_classes: usize) -> Self {
        Confusion {
            n: n_classes,
            counts: vec![0; n_classes * n_classes],
        }
    }

    /// Counts each pixel's `(truth, predicted)` pair; truth values `>= n_classes` (void) are
    /// skipped, as are predicted values out of range.
    pub fn add(&mut self, truth: &[u8], predicted: &[u8]) {
        for (&t, &p) in truth.iter().zip(predicted) {
            let (t, p) = (t as usize, p as usize);
            if t < self.n && p < self.n {
                self.counts[t * self.n + p] += 1;
            }
        }
    }

    /// Adds another matrix.
    pub fn merge(&mut self, other: &Confusion) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    /// Global pixel accuracy: correct over counted pixels (0 when none).
    pub fn global(&self) -> f64 {
        let total: u64 = self.counts.iter().sum();
        let right: u64 = (0..self.n).map(|k| self.counts[k * self.n + k]).sum();
        if total == 0 {
            0.0
        } else {
            right as f64 / total as f64
        }
    }

    /// Recall of each class (`None` for a class with no pixel in the truth).
    pub fn recalls(&self) -> Vec<Option<f64>> {
        (0..self.n)
            .map(|k| {
                let row = &self.counts[k * self.n..(k + 1) * self.n];
                let total: u64 = row.iter().sum();
                (total > 0).then(|| row[k] as f64 / total as f64)
            })
            .collect()
    }

    /// Average per-class accuracy: the mean recall over the classes present in the truth.
    pub fn average(&self) -> f64 {
        let r: Vec<f64> = self.recalls().into_iter().flatten().collect();
        if r.is_empty() {
            0.0
        } else {
            r.iter().sum::<f64>() / r.len() as f64
        }
    }
}

#[cfg(test)]
mod tests;
