//! The model file of `tessera learn` / `tessera label --model`: JSON, versioned.
//!
//! ```text
//! {
//!   "format": "tessera-crf-model",   // always this string
//!   "version": 2,                    // bumped on any incompatible change (2: textons)
//!   "n_classes": 21,                 // predicted values are 0..n_classes (the ground truth's)
//!   "segmentation": { "algorithm": "slic", "n_segments": 400, "compactness": 10.0 },
//!   "crf": { ... },                  // tessera_crf::learn::Model, with pairwise weights
//!   "unary_only": { ... },           // the baseline: the same features, no pairwise term
//!   "textons": { "scale": [17], "centres": [k x 17] } // or null: the texton dictionary
//!   "training": { ... }              // how it was trained (C, scores on val, times); informative
//! }
//! ```
//! A `Model` holds `n_classes`, the feature parameters, `feature_mean` / `feature_scale` (the
//! standardisation), `unary` (`n_classes` rows of `features + 1` weights, the last the bias),
//! `pairwise` (6 edge features x `n_classes` x `n_classes`, row = class of the upper
//! superpixel, or null) and `inference` (`"expansion"` or `"trws"`); see the rustdoc of
//! `tessera_crf::learn::Model` and `tessera_crf::features`.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tessera::{Image, Segmentation, Slic, Superpixels};
use tessera_crf::features::{self, ImageFeatures, Textons};
use tessera_crf::learn::Model;

/// The `format` field.
pub const FORMAT: &str = "tessera-crf-model";
/// The `version` this build reads and writes.
pub const VERSION: u32 = 2;

/// How images are cut into superpixels before their features are computed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SegmentationSpec {
    /// Always `"slic"` in version 1.
    pub algorithm: SegAlgorithm,
    /// SLIC's target number of superpixels.
    pub n_segments: u32,
    /// SLIC's compactness.
    pub compactness: f32,
}

/// Superpixel algorithms a model can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SegAlgorithm {
    /// tessera's SLIC with its defaults apart from `n_segments` and `compactness`.
    Slic,
}

impl SegmentationSpec {
    /// The superpixels of `image`.
    pub fn segment(&self, image: &Image) -> Result<Segmentation> {
        let slic = Slic {
            n_segments: self.n_segments,
            compactness: self.compactness,
            ..Slic::default()
        };
        Ok(slic.segment(image)?)
    }

    /// The superpixels and their features (with the texton blocks of `textons` when the
    /// parameters ask for them).
    pub fn features(
        &self,
        image: &Image,
        params: &features::FeatureParams,
        textons: Option<&Textons>,
    ) -> Result<(Segmentation, ImageFeatures)> {
        let seg = self.segment(image)?;
        let f = features::features_with_textons(image, &seg, params, textons)?;
        Ok((seg, f))
    }
}

/// The whole model file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelFile {
    /// [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// Number of classes.
    pub n_classes: usize,
    /// The superpixels the models work on.
    pub segmentation: SegmentationSpec,
    /// The CRF.
    pub crf: Model,
    /// The unary-only baseline.
    pub unary_only: Model,
    /// The texton dictionary (when the feature parameters use textons).
    pub textons: Option<Textons>,
    /// Training record (not read back).
    #[serde(default)]
    pub training: serde_json::Value,
}

impl ModelFile {
    /// Reads and checks a model file.
    pub fn read(path: &Path) -> Result<ModelFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the model {}", path.display()))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
        let format = value.get("format").and_then(|v| v.as_str());
        if format != Some(FORMAT) {
            bail!(
                "{}: not a tessera model (\"format\" is {:?}, not \"{FORMAT}\")",
                path.display(),
                format
            );
        }
        let version = value.get("version").and_then(|v| v.as_u64());
        if version != Some(u64::from(VERSION)) {
            let why = match version {
                Some(1) => " (written before texton features: learn it again with `tessera learn`)",
                _ => "",
            };
            bail!(
                "{}: model version {}{why}; this tessera reads version {VERSION}",
                path.display(),
                version.map_or("missing".to_string(), |v| v.to_string()),
            );
        }
        let file: ModelFile = serde_json::from_value(value)
            .with_context(|| format!("{}: malformed model", path.display()))?;
        for (name, m) in [("crf", &file.crf), ("unary_only", &file.unary_only)] {
            m.validate()
                .with_context(|| format!("{}: the {name} model", path.display()))?;
            if m.n_classes != file.n_classes {
                bail!(
                    "{}: the {name} model has {} classes, the file says {}",
                    path.display(),
                    m.n_classes,
                    file.n_classes
                );
            }
        }
        if file.crf.pairwise.is_none() || file.unary_only.pairwise.is_some() {
            bail!(
                "{}: \"crf\" needs pairwise weights and \"unary_only\" none",
                path.display()
            );
        }
        for (name, m) in [("crf", &file.crf), ("unary_only", &file.unary_only)] {
            let k = m.features.textons;
            match &file.textons {
                None if k > 0 => bail!(
                    "{}: the {name} model uses {k} textons but the file has no dictionary",
                    path.display()
                ),
                Some(t) => {
                    t.validate()
                        .with_context(|| format!("{}: textons", path.display()))?;
                    if t.len() != k {
                        bail!(
                            "{}: the {name} model uses {k} textons, the dictionary has {}",
                            path.display(),
                            t.len()
                        );
                    }
                }
                None => {}
            }
        }
        let c = file.segmentation.compactness;
        if file.segmentation.n_segments == 0 || c.is_nan() || c <= 0.0 {
            bail!("{}: bad segmentation parameters", path.display());
        }
        Ok(file)
    }

    /// Writes the file atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        crate::output::write_text(path, &(text + "\n"))
    }
}
