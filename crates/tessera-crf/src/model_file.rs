//! The model file of `tessera learn` / `tessera label --model`: JSON, versioned.
//!
//! ```text
//! {
//!   "format": "tessera-crf-model",   // always this string
//!   "version": 2,                    // bumped on any incompatible change (2: textons)
//!   "n_classes": 21,                 // predicted values are 0..n_classes (the ground truth's)
//!   "segmentation": { "algorithm": "slic", "n_segments": 400, "compactness": 10.0 },
//!   "crf": { ... },                  // learn::Model, with pairwise weights
//!   "unary_only": { ... },           // the baseline: the same features, no pairwise term
//!   "textons": { "scale": [17], "centres": [k x 17] } // or null: the texton dictionary
//!   "training": { ... }              // how it was trained (C, scores on val, times); informative
//! }
//! ```
//! A [`Model`] holds `n_classes`, the feature parameters, `feature_mean` / `feature_scale`
//! (the standardisation), `unary` (`n_classes` rows of `features + 1` weights, the last the
//! bias), `pairwise` (6 edge features x `n_classes` x `n_classes`, row = class of the upper
//! superpixel, or null) and `inference` (`"expansion"` or `"trws"`); see [`Model`] and
//! [`crate::features`].
//!
//! ```
//! use tessera::{Image, Samples};
//! use tessera_crf::learn::{self, LearnParams, Sample};
//! use tessera_crf::model_file::{ModelFile, SegAlgorithm, SegmentationSpec};
//!
//! // Two 8x8 images, dark on the left (class 0) and bright on the right (class 1).
//! let spec = SegmentationSpec { algorithm: SegAlgorithm::Slic, n_segments: 4, compactness: 10.0 };
//! let params = LearnParams { n_classes: 2, ..LearnParams::default() };
//! let image = Image::new(8, 8, 1, Samples::U8((0..64).map(|i| if i % 8 < 4 { 20 } else { 230 }).collect()))?;
//! let truth: Vec<u8> = (0..64).map(|i| u8::from(i % 8 >= 4)).collect();
//! let (seg, features) = spec.features(&image, &params.features, None)?;
//! let labels = learn::superpixel_labels(&seg, &truth, 2)?;
//! let samples = vec![Sample { features, labels }];
//! let (crf, _) = learn::fit(&samples, &params, None)?;
//! let (unary, _) = learn::fit(&samples, &LearnParams { pairwise: false, ..params }, None)?;
//! let file = ModelFile::new(spec, crf, unary, None)?;
//!
//! let back = ModelFile::from_json(&file.to_json()?, "in memory")?;
//! assert_eq!(back, file);
//! let (seg, classes) = back.label(&image, false)?;
//! let pixel = |i: usize| classes[seg.labels()[i] as usize];
//! assert_eq!((pixel(0), pixel(7)), (0, 1));
//! # Ok::<(), tessera_crf::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::features::{self, FeatureParams, ImageFeatures, Textons};
use crate::learn::Model;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;
use tessera::{Image, Segmentation, Slic, Superpixels};

/// The `format` field.
pub const FORMAT: &str = "tessera-crf-model";
/// The `version` this build reads and writes.
pub const VERSION: u32 = 2;

/// How images are cut into superpixels before their features are computed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SegmentationSpec {
    /// Always `"slic"` in versions 1 and 2.
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
    /// Checks `n_segments >= 1` and `compactness > 0`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the parameter.
    pub fn validate(&self) -> Result<()> {
        if self.n_segments == 0 {
            return Err(Error::param("n_segments", "must be at least 1"));
        }
        let c = self.compactness;
        if !(c.is_finite() && c > 0.0) {
            return Err(Error::param("compactness", "must be a finite number > 0"));
        }
        Ok(())
    }

    /// The superpixels of `image`.
    ///
    /// # Errors
    /// Bad parameters ([`SegmentationSpec::validate`]); SLIC's errors.
    pub fn segment(&self, image: &Image) -> Result<Segmentation> {
        self.validate()?;
        let slic = Slic {
            n_segments: self.n_segments,
            compactness: self.compactness,
            ..Slic::default()
        };
        Ok(slic.segment(image)?)
    }

    /// The superpixels and their features (with the texton blocks of `textons` when the
    /// parameters ask for them).
    ///
    /// # Errors
    /// As [`SegmentationSpec::segment`] and [`features::features_with_textons`].
    pub fn features(
        &self,
        image: &Image,
        params: &FeatureParams,
        textons: Option<&Textons>,
    ) -> Result<(Segmentation, ImageFeatures)> {
        let seg = self.segment(image)?;
        let f = features::features_with_textons(image, &seg, params, textons)?;
        Ok((seg, f))
    }
}

/// The whole model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

fn bad(origin: &str, what: impl std::fmt::Display) -> Error {
    Error::ModelFile(format!("{origin}: {what}"))
}

impl ModelFile {
    /// A checked model file of this [`VERSION`] with an empty training record.
    ///
    /// # Errors
    /// As [`ModelFile::validate`].
    pub fn new(
        segmentation: SegmentationSpec,
        crf: Model,
        unary_only: Model,
        textons: Option<Textons>,
    ) -> Result<ModelFile> {
        let file = ModelFile {
            format: FORMAT.into(),
            version: VERSION,
            n_classes: crf.n_classes,
            segmentation,
            crf,
            unary_only,
            textons,
            training: serde_json::Value::Null,
        };
        file.validate("model")?;
        Ok(file)
    }

    /// Reads and checks a model file.
    ///
    /// # Errors
    /// [`Error::Io`]-like failures to read and every problem of [`ModelFile::from_json`], as
    /// [`Error::ModelFile`] messages that start with the path.
    pub fn read(path: &Path) -> Result<ModelFile> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::ModelFile(format!("cannot read the model {}: {e}", path.display()))
        })?;
        ModelFile::from_json(&text, &path.display().to_string())
    }

    /// Parses and checks the JSON text of a model file; `origin` (a path, say) starts every
    /// error message.
    ///
    /// # Errors
    /// [`Error::ModelFile`] for text that is not JSON, another `format`, another `version`
    /// (with advice for version 1), a malformed or inconsistent model
    /// ([`ModelFile::validate`]).
    pub fn from_json(text: &str, origin: &str) -> Result<ModelFile> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(origin, format!("not JSON ({e})")))?;
        let format = value.get("format").and_then(|v| v.as_str());
        if format != Some(FORMAT) {
            return Err(bad(
                origin,
                format!("not a tessera model (\"format\" is {format:?}, not \"{FORMAT}\")"),
            ));
        }
        let version = value.get("version").and_then(|v| v.as_u64());
        if version != Some(u64::from(VERSION)) {
            let why = match version {
                Some(1) => " (written before texton features: learn it again with `tessera learn`)",
                _ => "",
            };
            return Err(bad(
                origin,
                format!(
                    "model version {}{why}; this tessera reads version {VERSION}",
                    version.map_or("missing".to_string(), |v| v.to_string()),
                ),
            ));
        }
        let file: ModelFile = serde_json::from_value(value)
            .map_err(|e| bad(origin, format!("malformed model: {e}")))?;
        file.validate(origin)?;
        Ok(file)
    }

    /// Checks that the parts agree: both models valid and of `n_classes`, pairwise weights
    /// in `crf` and none in `unary_only`, a texton dictionary of the models' size when they
    /// use textons, sane segmentation parameters. `origin` starts the error messages.
    ///
    /// # Errors
    /// [`Error::ModelFile`] naming the first problem.
    pub fn validate(&self, origin: &str) -> Result<()> {
        for (name, m) in [("crf", &self.crf), ("unary_only", &self.unary_only)] {
            m.validate()
                .map_err(|e| bad(origin, format!("the {name} model: {e}")))?;
            if m.n_classes != self.n_classes {
                return Err(bad(
                    origin,
                    format!(
                        "the {name} model has {} classes, the file says {}",
                        m.n_classes, self.n_classes
                    ),
                ));
            }
        }
        if self.crf.pairwise.is_none() || self.unary_only.pairwise.is_some() {
            return Err(bad(
                origin,
                "\"crf\" needs pairwise weights and \"unary_only\" none",
            ));
        }
        for (name, m) in [("crf", &self.crf), ("unary_only", &self.unary_only)] {
            let k = m.features.textons;
            match &self.textons {
                None if k > 0 => {
                    return Err(bad(
                        origin,
                        format!("the {name} model uses {k} textons but the file has no dictionary"),
                    ));
                }
                Some(t) => {
                    t.validate()
                        .map_err(|e| bad(origin, format!("textons: {e}")))?;
                    if t.len() != k {
                        return Err(bad(
                            origin,
                            format!(
                                "the {name} model uses {k} textons, the dictionary has {}",
                                t.len()
                            ),
                        ));
                    }
                }
                None => {}
            }
        }
        self.segmentation
            .validate()
            .map_err(|e| bad(origin, format!("bad segmentation parameters ({e})")))?;
        Ok(())
    }

    /// The file's JSON text (pretty-printed, ending with a newline).
    ///
    /// # Errors
    /// [`Error::ModelFile`] if serialisation fails (it does not for checked files).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map(|t| t + "\n")
            .map_err(|e| Error::ModelFile(format!("cannot encode the model: {e}")))
    }

    /// Checks the file and writes it atomically: to a temporary file beside `path`, then
    /// renamed over it (readers never see a partial file).
    ///
    /// # Errors
    /// As [`ModelFile::validate`]; [`Error::Io`] when writing or renaming fails.
    pub fn write(&self, path: &Path) -> Result<()> {
        self.validate(&path.display().to_string())?;
        let text = self.to_json()?;
        let name = path
            .file_name()
            .ok_or_else(|| Error::ModelFile(format!("{}: not a file name", path.display())))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.part", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let written = (|| -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        Ok(written?)
    }

    /// Segments `image` with the file's [`SegmentationSpec`], computes its features and
    /// predicts the class of every superpixel with the CRF (or with the unary-only baseline).
    ///
    /// # Errors
    /// As [`SegmentationSpec::features`] and [`Model::predict`].
    pub fn label(&self, image: &Image, unary_only: bool) -> Result<(Segmentation, Vec<u32>)> {
        let model = if unary_only {
            &self.unary_only
        } else {
            &self.crf
        };
        let (seg, f) = self
            .segmentation
            .features(image, &model.features, self.textons.as_ref())?;
        let classes = model.predict(&f)?;
        Ok((seg, classes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::EDGE_FEATURES;
    use crate::learn::{self, LearnParams, Sample};

    /// A small checked file: two chains of two one-feature nodes.
    fn small() -> ModelFile {
        let chain = |x: f32, y: u32| Sample {
            features: ImageFeatures::new(
                features::node_dim(&FeatureParams::default()),
                vec![x; 2 * features::node_dim(&FeatureParams::default())],
                vec![1, 1],
                vec![[0, 1]],
                vec![1.0; EDGE_FEATURES],
            )
            .unwrap(),
            labels: vec![y, y],
        };
        let data = vec![chain(-1.0, 0), chain(1.0, 1)];
        let params = LearnParams {
            n_classes: 2,
            ..LearnParams::default()
        };
        let (crf, _) = learn::fit(&data, &params, None).unwrap();
        let unary = LearnParams {
            pairwise: false,
            ..params
        };
        let (unary, _) = learn::fit(&data, &unary, None).unwrap();
        let spec = SegmentationSpec {
            algorithm: SegAlgorithm::Slic,
            n_segments: 10,
            compactness: 10.0,
        };
        ModelFile::new(spec, crf, unary, None).unwrap()
    }

    fn edited(edit: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut v = serde_json::to_value(small()).unwrap();
        edit(&mut v);
        v.to_string()
    }

    fn message(r: Result<ModelFile>) -> String {
        match r {
            Err(Error::ModelFile(m)) => m,
            other => panic!("expected a model-file error, got {other:?}"),
        }
    }

    #[test]
    fn json_and_file_round_trips_are_exact() {
        let file = small();
        assert_eq!(
            ModelFile::from_json(&file.to_json().unwrap(), "x").unwrap(),
            file
        );
        let dir = std::env::temp_dir().join(format!("tessera-model-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.json");
        file.write(&path).unwrap();
        file.write(&path).unwrap(); // over an existing file
        assert_eq!(ModelFile::read(&path).unwrap(), file);
        // Only the model is left: no temporary file.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn another_format_or_version_is_named() {
        let m = message(ModelFile::from_json(
            &edited(|v| v["format"] = "pystruct".into()),
            "a.json",
        ));
        assert!(m.starts_with("a.json: not a tessera model"), "{m}");
        assert!(m.contains("pystruct"), "{m}");
        let m = message(ModelFile::from_json(
            &edited(|v| v["version"] = 1.into()),
            "a.json",
        ));
        assert!(
            m.contains("version 1") && m.contains("learn it again"),
            "{m}"
        );
        let m = message(ModelFile::from_json(
            &edited(|v| v["version"] = 3.into()),
            "a.json",
        ));
        assert!(
            m.contains("version 3") && m.contains("reads version 2"),
            "{m}"
        );
        let m = message(ModelFile::from_json(
            &edited(|v| {
                v.as_object_mut().unwrap().remove("version");
            }),
            "a.json",
        ));
        assert!(m.contains("version missing"), "{m}");
        let m = message(ModelFile::from_json("{ nope", "a.json"));
        assert!(m.contains("not JSON"), "{m}");
    }

    #[test]
    fn inconsistent_files_are_refused() {
        type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;
        let cases: [(&str, Edit); 5] = [
            ("malformed", Box::new(|v| v["crf"]["unary"] = "x".into())),
            (
                "needs pairwise",
                Box::new(|v| v["crf"]["pairwise"] = serde_json::Value::Null),
            ),
            ("classes", Box::new(|v| v["n_classes"] = 3.into())),
            (
                "dictionary has 3",
                Box::new(|v| {
                    v["textons"] = serde_json::json!({
                        "scale": vec![1.0; 17],
                        "centres": vec![0.5; 3 * 17],
                    })
                }),
            ),
            (
                "segmentation",
                Box::new(|v| v["segmentation"]["n_segments"] = 0.into()),
            ),
        ];
        for (want, edit) in cases {
            let m = message(ModelFile::from_json(&edited(edit), "a.json"));
            assert!(m.contains(want), "{want}: {m}");
        }
        let mut file = small();
        file.unary_only = file.crf.clone();
        assert!(file.write(Path::new("never-written.json")).is_err());
        assert!(!Path::new("never-written.json").exists());
    }

    #[test]
    fn label_segments_with_the_spec() {
        let file = small();
        let image = Image::new(
            6,
            4,
            3,
            tessera::Samples::U8((0..72).map(|i| (i * 3) as u8).collect()),
        )
        .unwrap();
        let (seg, classes) = file.label(&image, true).unwrap();
        assert_eq!(classes.len(), seg.count() as usize);
        assert!(classes.iter().all(|&c| c < 2));
    }
}
