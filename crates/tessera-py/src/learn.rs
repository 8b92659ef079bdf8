//! Learned superpixel CRFs (`tessera_crf::learn`, `tessera_crf::model_file`): features,
//! texton dictionaries, structured-SVM fitting, prediction and the `tessera learn` model file.

use crate::compute;
use crate::convert::{PyImage, check_dims, dims2, segmentation_of};
use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyType};
use std::path::PathBuf;
use std::sync::Arc;
use tessera::{Segmentation, UNLABELLED};
use tessera_crf::features::{
    self, EDGE_FEATURES, FeatureParams, HistogramMap, ImageFeatures, Textons, textons,
};
use tessera_crf::learn::{
    self, FitReport, Inference, LearnParams, Model, Sample, SsvmParams, VOID,
};
use tessera_crf::model_file::{ModelFile, SegAlgorithm, SegmentationSpec};

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A texton dictionary; `Textons(bytes(t))` rebuilds it and it pickles.
#[pyclass(module = "tessera._tessera", name = "Textons", frozen)]
pub(crate) struct TextonsPy(pub(crate) Arc<Textons>);

impl TextonsPy {
    fn encode<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = postcard::to_allocvec(self.0.as_ref())
            .map_err(|e| value_error(format!("cannot encode the textons: {e}")))?;
        Ok(PyBytes::new(py, &bytes))
    }
}

#[pymethods]
impl TextonsPy {
    #[new]
    fn new(data: &Bound<'_, PyBytes>) -> PyResult<Self> {
        let t: Textons = postcard::from_bytes(data.as_bytes())
            .map_err(|e| value_error(format!("data is not a texton dictionary: {e}")))?;
        t.validate().map_err(value_error)?;
        Ok(TextonsPy(Arc::new(t)))
    }

    fn __bytes__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.encode(py)
    }

    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyType>, (Bound<'py, PyBytes>,))> {
        let py = slf.py();
        Ok((py.get_type::<Self>(), (slf.get().encode(py)?,)))
    }

    fn __len__(&self) -> usize {
        self.0.len()
    }

    /// `(k, 17)` float32: the centres, in standardised filter-response units.
    #[getter]
    fn centres<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let a = ndarray::Array2::from_shape_vec(
            (self.0.len(), textons::BANK_LEN),
            self.0.centres.clone(),
        )
        .map_err(value_error)?;
        Ok(PyArray2::from_owned_array(py, a))
    }

    /// `(17,)` float32: the scale of each filter response.
    #[getter]
    fn scale<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        PyArray1::from_vec(py, self.0.scale.clone())
    }
}

/// Learns a texton dictionary of `k` centres from every `stride`-th pixel of every
/// `stride`-th row of the filter responses of `images`.
#[pyfunction]
#[pyo3(signature = (images, k, stride, seed, iterations))]
pub(crate) fn learn_textons<'py>(
    py: Python<'py>,
    images: Vec<PyImage<'py>>,
    k: usize,
    stride: usize,
    seed: u64,
    iterations: usize,
) -> PyResult<TextonsPy> {
    let views: Vec<_> = images.iter().map(|i| i.view()).collect();
    let t = compute(py, move || {
        let mut samples = Vec::new();
        for v in &views {
            let image = v.to_image()?;
            samples.extend(features::texton_samples(&image, stride).map_err(err)?);
        }
        Textons::learn(&samples, k, iterations, seed).map_err(err)
    })?;
    Ok(TextonsPy(Arc::new(t)))
}

/// The features of one image's superpixels.
#[pyclass(module = "tessera._tessera", name = "Features", frozen)]
pub(crate) struct FeaturesPy {
    features: ImageFeatures,
    params: FeatureParams,
    textons: Option<Arc<Textons>>,
    seg: Segmentation,
    spec: Option<SegmentationSpec>,
}

fn rows<'py, T: numpy::Element + Clone>(
    py: Python<'py>,
    v: &[T],
    cols: usize,
) -> PyResult<Bound<'py, PyArray2<T>>> {
    let a = ndarray::Array2::from_shape_vec((v.len() / cols.max(1), cols), v.to_vec())
        .map_err(value_error)?;
    Ok(PyArray2::from_owned_array(py, a))
}

/// What `__reduce__` gives pickle: a function to call and its arguments.
type Reduced<'py> = (Bound<'py, PyAny>, (Bound<'py, PyBytes>,));

/// pickle's `__reduce__` for a class that its static method `_from_state(state)` rebuilds.
fn reduce_by_state<'py, T: pyo3::PyClass>(
    slf: &Bound<'py, T>,
    state: Vec<u8>,
) -> PyResult<Reduced<'py>> {
    let py = slf.py();
    let rebuild = py.get_type::<T>().getattr("_from_state")?;
    Ok((rebuild, (PyBytes::new(py, &state),)))
}

/// The version of the pickled state of a [`FeaturesPy`] ([`FeaturesPy::state`]).
const FEATURES_STATE_VERSION: u32 = 1;

/// What a pickled [`FeaturesPy`] holds, in order: the version, the node feature count, the
/// node features, sizes, edges and edge features, the feature parameters, the textons, the
/// segmentation's width, height and labels, and the SLIC parameters that made it.
type FeaturesState = (
    u32,
    usize,
    Vec<f32>,
    Vec<u32>,
    Vec<[u32; 2]>,
    Vec<f32>,
    FeatureParams,
    Option<Textons>,
    u32,
    u32,
    Vec<u32>,
    Option<SegmentationSpec>,
);

impl FeaturesPy {
    /// Everything the features hold, as compact bytes (pickle's state).
    fn state(&self) -> PyResult<Vec<u8>> {
        let f = &self.features;
        let state = (
            FEATURES_STATE_VERSION,
            f.dim(),
            f.nodes(),
            f.sizes(),
            f.edges(),
            f.edge_features(),
            &self.params,
            self.textons.as_deref(),
            self.seg.width(),
            self.seg.height(),
            self.seg.labels(),
            &self.spec,
        );
        postcard::to_allocvec(&state)
            .map_err(|e| value_error(format!("cannot encode the features: {e}")))
    }

    /// The features [`FeaturesPy::state`] encoded, checked as when they were computed.
    fn from_state(data: &[u8]) -> PyResult<FeaturesPy> {
        let bad =
            |what: String| value_error(format!("data is not pickled tessera Features: {what}"));
        // postcard writes a u32 below 128 as that one byte: the version is read before the
        // rest, whose layout it names.
        let version = data.first().copied();
        if version != Some(FEATURES_STATE_VERSION as u8) {
            return Err(bad(format!(
                "version {version:?}, this tessera reads version {FEATURES_STATE_VERSION}"
            )));
        }
        let (_, dim, nodes, sizes, edges, edge_features, params, textons, w, h, labels, spec): FeaturesState =
            postcard::from_bytes(data).map_err(|e| bad(e.to_string()))?;
        if dim != features::node_dim(&params) {
            return Err(bad(format!(
                "{dim} node features where the parameters give {}",
                features::node_dim(&params)
            )));
        }
        if textons.as_ref().map_or(0, Textons::len) != params.textons {
            return Err(bad(
                "the texton dictionary does not match the parameters".into()
            ));
        }
        if let Some(t) = &textons {
            t.validate().map_err(|e| bad(format!("textons: {e}")))?;
        }
        if let Some(s) = &spec {
            s.validate()
                .map_err(|e| bad(format!("segmentation: {e}")))?;
        }
        let features = ImageFeatures::new(dim, nodes, sizes, edges, edge_features)
            .map_err(|e| bad(e.to_string()))?;
        let seg = Segmentation::from_labels(w, h, labels).map_err(|e| bad(e.to_string()))?;
        if seg.count() as usize != features.len() {
            return Err(bad(format!(
                "{} superpixels in the labels, {} feature rows",
                seg.count(),
                features.len()
            )));
        }
        Ok(FeaturesPy {
            features,
            params,
            textons: textons.map(Arc::new),
            seg,
            spec,
        })
    }
}

#[pymethods]
impl FeaturesPy {
    /// Rebuilds features from their pickled state (what `pickle` calls).
    #[staticmethod]
    fn _from_state(data: &Bound<'_, PyBytes>) -> PyResult<FeaturesPy> {
        FeaturesPy::from_state(data.as_bytes())
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Reduced<'py>> {
        reduce_by_state(slf, slf.get().state()?)
    }

    fn __len__(&self) -> usize {
        self.features.len()
    }

    /// `(n, d)` float32: one row per superpixel.
    #[getter]
    fn nodes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        rows(py, self.features.nodes(), self.features.dim())
    }

    /// `(n,)` uint32: pixels per superpixel.
    #[getter]
    fn sizes<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u32>> {
        PyArray1::from_slice(py, self.features.sizes())
    }

    /// `(m, 2)` uint32: the edges `[a, b]`, `a` the upper superpixel.
    #[getter]
    fn edges<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<u32>>> {
        let flat: Vec<u32> = self.features.edges().iter().flatten().copied().collect();
        rows(py, &flat, 2)
    }

    /// `(m, 6)` float32: the features of each edge.
    #[getter]
    fn edge_features<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        rows(py, self.features.edge_features(), EDGE_FEATURES)
    }

    /// `(M, N)` uint32: the superpixels the features describe (renumbered `0..n`).
    #[getter]
    fn labels<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<u32>>> {
        let (w, h) = (self.seg.width() as usize, self.seg.height() as usize);
        let a = ndarray::Array2::from_shape_vec((h, w), self.seg.labels().to_vec())
            .map_err(value_error)?;
        Ok(PyArray2::from_owned_array(py, a))
    }

    /// The names of the node features, one per column of `nodes`.
    #[getter]
    fn feature_names(&self) -> Vec<String> {
        features::node_feature_names(&self.params)
    }

    /// The texton dictionary the features were computed with, or None.
    #[getter]
    fn textons(&self) -> Option<TextonsPy> {
        self.textons.clone().map(TextonsPy)
    }

    /// `{"n_segments": ..., "compactness": ...}` when the features' superpixels are SLIC's
    /// (no `labels` given), else None.
    #[getter]
    fn segmentation<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.spec.map(|s| spec_dict(py, &s)).transpose()
    }
}

fn spec_dict<'py>(py: Python<'py>, s: &SegmentationSpec) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("algorithm", "slic")?;
    d.set_item("n_segments", s.n_segments)?;
    d.set_item("compactness", s.compactness)?;
    Ok(d)
}

fn texton_map(name: &str) -> PyResult<HistogramMap> {
    Ok(match name {
        "identity" => HistogramMap::Identity,
        "hellinger" => HistogramMap::Hellinger,
        "chi2" => HistogramMap::Chi2,
        other => {
            return Err(PyValueError::new_err(format!(
                "texton_map must be 'identity', 'hellinger' or 'chi2', got {other:?}"
            )));
        }
    })
}

/// The features of the superpixels `labels` of `image`, or of SLIC's superpixels
/// (`n_segments`, `compactness`) when `labels` is None.
#[pyfunction]
#[pyo3(name = "features", signature = (image, labels, *, textons, n_segments, compactness,
    l_bins, ab_bins, orientation_bins, context, texton_map))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn image_features<'py>(
    py: Python<'py>,
    image: PyImage<'py>,
    labels: Option<PyReadonlyArray2<'py, u32>>,
    textons: Option<PyRef<'py, TextonsPy>>,
    n_segments: u32,
    compactness: f32,
    l_bins: usize,
    ab_bins: usize,
    orientation_bins: usize,
    context: bool,
    texton_map: &str,
) -> PyResult<FeaturesPy> {
    let dictionary = textons.map(|t| t.0.clone());
    let params = FeatureParams {
        l_bins,
        ab_bins,
        orientation_bins,
        context,
        textons: dictionary.as_ref().map_or(0, |t| t.len()),
        texton_map: self::texton_map(texton_map)?,
    };
    if let Some(l) = &labels {
        check_dims("labels", dims2(l), image.dims())?;
    }
    let spec = labels.is_none().then_some(SegmentationSpec {
        algorithm: SegAlgorithm::Slic,
        n_segments,
        compactness,
    });
    let lab = labels.as_ref().map(|l| l.as_array());
    let view = image.view();
    let dict = dictionary.clone();
    let (seg, f) = compute(py, move || {
        let img = view.to_image()?;
        let t = dict.as_deref();
        match (lab, spec) {
            (Some(lab), _) => {
                let seg = segmentation_of(lab)?;
                let f = features::features_with_textons(&img, &seg, &params, t).map_err(err)?;
                Ok((seg, f))
            }
            (None, Some(spec)) => spec.features(&img, &params, t).map_err(err),
            (None, None) => Err("labels or a segmentation are needed".into()),
        }
    })?;
    Ok(FeaturesPy {
        features: f,
        params,
        textons: dictionary,
        seg,
        spec,
    })
}

/// A learned model (a CRF or a unary-only model), with what it needs to label images.
#[pyclass(module = "tessera._tessera", name = "Model", frozen)]
pub(crate) struct ModelPy {
    model: Model,
    /// The separately trained unary-only baseline, when there is one.
    baseline: Option<Model>,
    spec: Option<SegmentationSpec>,
    textons: Option<Arc<Textons>>,
    report: Option<FitReport>,
    baseline_report: Option<FitReport>,
    training: serde_json::Value,
}

fn inference(name: &str) -> PyResult<Inference> {
    Ok(match name {
        "expansion" => Inference::Expansion,
        "expansion-only" => Inference::ExpansionOnly,
        "trws" => Inference::Trws,
        other => {
            return Err(PyValueError::new_err(format!(
                "inference must be 'expansion', 'expansion-only' or 'trws', got {other:?}"
            )));
        }
    })
}

fn inference_name(i: Inference) -> &'static str {
    match i {
        Inference::Expansion => "expansion",
        Inference::ExpansionOnly => "expansion-only",
        Inference::Trws => "trws",
    }
}

fn report_json(r: &FitReport) -> serde_json::Value {
    serde_json::json!({
        "passes": r.trace.len(),
        "primal": r.primal,
        "dual": r.trace.last().map(|p| p.dual),
        "gap": r.gap,
        "converged": r.converged,
        "oracle_calls": r.oracle_calls,
    })
}

fn report_dict<'py>(py: Python<'py>, r: &FitReport) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("passes", r.trace.len())?;
    d.set_item("primal", r.primal)?;
    d.set_item("dual", r.trace.last().map(|p| p.dual))?;
    d.set_item("gap", r.gap)?;
    d.set_item("converged", r.converged)?;
    d.set_item("oracle_calls", r.oracle_calls)?;
    let trace = PyList::empty(py);
    for p in &r.trace {
        let t = PyDict::new(py);
        t.set_item("pass", p.pass)?;
        t.set_item("dual", p.dual)?;
        t.set_item("gap_estimate", p.gap_estimate)?;
        t.set_item("primal", p.primal)?;
        t.set_item("seconds", p.seconds)?;
        trace.append(t)?;
    }
    d.set_item("trace", trace)?;
    Ok(d)
}

/// The per-superpixel classes of one sample: `(n,)` classes (outside `0..n_classes`: void)
/// or `(M, N)` pixel ground truth (outside `0..n_classes`: void; majority per superpixel).
fn sample_labels(
    f: &FeaturesPy,
    classes: &Bound<'_, PyAny>,
    n_classes: usize,
    index: usize,
) -> PyResult<Vec<u32>> {
    let class_of = |v: i64| -> u32 {
        if v >= 0 && (v as u64) < n_classes as u64 {
            v as u32
        } else {
            VOID
        }
    };
    if let Ok(a) = classes.extract::<PyReadonlyArray1<'_, i64>>() {
        let a = a.as_array();
        if a.len() != f.features.len() {
            return Err(PyValueError::new_err(format!(
                "sample {index}: {} classes for {} superpixels",
                a.len(),
                f.features.len()
            )));
        }
        return Ok(a.iter().map(|&v| class_of(v)).collect());
    }
    if let Ok(a) = classes.extract::<PyReadonlyArray2<'_, i64>>() {
        let (w, h) = (f.seg.width() as usize, f.seg.height() as usize);
        if dims2(&a) != (h, w) {
            return Err(PyValueError::new_err(format!(
                "sample {index}: ground truth of shape {:?}, the image is ({h}, {w})",
                a.shape()
            )));
        }
        let truth: Vec<u8> = a
            .as_array()
            .iter()
            .map(|&v| {
                let c = class_of(v);
                if c == VOID { u8::MAX } else { c as u8 }
            })
            .collect();
        // u8::MAX is void only below 256 classes.
        let n = n_classes.min(255);
        return learn::superpixel_labels(&f.seg, &truth, n).map_err(value_error);
    }
    Err(PyTypeError::new_err(format!(
        "sample {index}: classes must be a 1-D (superpixels) or 2-D (pixels) int64 array"
    )))
}

/// Learns a model from `(features, classes)` samples (see `tessera.crf.fit`).
#[pyfunction]
#[pyo3(signature = (samples, *, n_classes, c, unary_c, pairwise, class_weight_power,
    pairwise_scale, max_passes, tolerance, eval_every, seed, inference))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn fit<'py>(
    py: Python<'py>,
    samples: Vec<(PyRef<'py, FeaturesPy>, Bound<'py, PyAny>)>,
    n_classes: usize,
    c: f64,
    unary_c: Option<f64>,
    pairwise: bool,
    class_weight_power: f64,
    pairwise_scale: f64,
    max_passes: u32,
    tolerance: f64,
    eval_every: u32,
    seed: u64,
    inference: &str,
) -> PyResult<ModelPy> {
    let inference = self::inference(inference)?;
    let Some((first, _)) = samples.first() else {
        return Err(PyValueError::new_err("samples is empty"));
    };
    let (params, dictionary) = (first.params, first.textons.clone());
    let mut spec = first.spec;
    let mut data = Vec::with_capacity(samples.len());
    for (i, (f, classes)) in samples.iter().enumerate() {
        if f.params != params || f.textons.as_deref() != dictionary.as_deref() {
            return Err(PyValueError::new_err(format!(
                "sample {i}: its features were computed with other parameters or textons \
                 than sample 0's"
            )));
        }
        if f.spec != spec {
            spec = None;
        }
        data.push(Sample {
            features: f.features.clone(),
            labels: sample_labels(f, classes, n_classes, i)?,
        });
    }
    let base = LearnParams {
        n_classes,
        features: params,
        pairwise,
        class_weight_power,
        pairwise_scale,
        ssvm: SsvmParams {
            c,
            max_passes,
            tolerance,
            eval_every,
            seed,
            inference,
        },
    };
    let ((model, report), baseline) = compute(py, move || {
        let main = learn::fit(&data, &base, None).map_err(err)?;
        let baseline = match unary_c {
            Some(uc) if pairwise => {
                let p = LearnParams {
                    pairwise: false,
                    ssvm: SsvmParams { c: uc, ..base.ssvm },
                    ..base
                };
                Some(learn::fit(&data, &p, None).map_err(err)?)
            }
            _ => None,
        };
        Ok((main, baseline))
    })?;
    let (baseline, baseline_report) = baseline.unzip();
    Ok(ModelPy {
        model,
        baseline,
        spec,
        textons: dictionary,
        report: Some(report),
        baseline_report,
        training: serde_json::Value::Null,
    })
}

impl ModelPy {
    fn check_features(&self, f: &FeaturesPy) -> PyResult<()> {
        if f.params != self.model.features {
            return Err(PyValueError::new_err(format!(
                "the features were computed with {:?}, the model needs {:?}",
                f.params, self.model.features
            )));
        }
        if let (Some(a), Some(b)) = (&f.textons, &self.textons)
            && a != b
        {
            return Err(PyValueError::new_err(
                "the features were computed with another texton dictionary than the model's",
            ));
        }
        Ok(())
    }
}

/// The version of the pickled state of a [`ModelPy`] ([`ModelPy::state`]).
const MODEL_STATE_VERSION: u64 = 1;

impl ModelPy {
    /// Everything the model holds, as JSON bytes (pickle's state): the library's own serde
    /// forms of its parts, so that it round-trips bit for bit (`float_roundtrip`).
    fn state(&self) -> PyResult<Vec<u8>> {
        let encode = |e: serde_json::Error| value_error(format!("cannot encode the model: {e}"));
        let state = serde_json::json!({
            "version": MODEL_STATE_VERSION,
            "model": serde_json::to_value(&self.model).map_err(encode)?,
            "baseline": serde_json::to_value(&self.baseline).map_err(encode)?,
            "spec": serde_json::to_value(self.spec).map_err(encode)?,
            "textons": serde_json::to_value(self.textons.as_deref()).map_err(encode)?,
            "report": serde_json::to_value(&self.report).map_err(encode)?,
            "baseline_report": serde_json::to_value(&self.baseline_report).map_err(encode)?,
            "training": self.training,
        });
        serde_json::to_vec(&state).map_err(encode)
    }

    /// The model [`ModelPy::state`] encoded, its parts checked as a model file's are.
    fn from_state(data: &[u8]) -> PyResult<ModelPy> {
        fn field<T: serde::de::DeserializeOwned>(
            state: &mut serde_json::Map<String, serde_json::Value>,
            name: &str,
        ) -> PyResult<T> {
            let v = state.remove(name).unwrap_or(serde_json::Value::Null);
            serde_json::from_value(v).map_err(|e| bad_state(format!("{name}: {e}")))
        }
        let mut state: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(data).map_err(|e| bad_state(format!("not JSON: {e}")))?;
        let version = state.get("version").and_then(serde_json::Value::as_u64);
        if version != Some(MODEL_STATE_VERSION) {
            return Err(bad_state(format!(
                "version {version:?}, this tessera reads version {MODEL_STATE_VERSION}"
            )));
        }
        let model: Model = field(&mut state, "model")?;
        let baseline: Option<Model> = field(&mut state, "baseline")?;
        let spec: Option<SegmentationSpec> = field(&mut state, "spec")?;
        let textons: Option<Textons> = field(&mut state, "textons")?;
        for m in std::iter::once(&model).chain(&baseline) {
            m.validate().map_err(|e| bad_state(format!("model: {e}")))?;
        }
        if let Some(s) = &spec {
            s.validate().map_err(|e| bad_state(format!("spec: {e}")))?;
        }
        if let Some(t) = &textons {
            t.validate()
                .map_err(|e| bad_state(format!("textons: {e}")))?;
        }
        Ok(ModelPy {
            model,
            baseline,
            spec,
            textons: textons.map(Arc::new),
            report: field(&mut state, "report")?,
            baseline_report: field(&mut state, "baseline_report")?,
            training: state.remove("training").unwrap_or(serde_json::Value::Null),
        })
    }
}

/// The error for bytes that are not a pickled model's state.
fn bad_state(what: String) -> PyErr {
    value_error(format!("data is not a pickled tessera Model: {what}"))
}

#[pymethods]
impl ModelPy {
    /// Rebuilds a model from its pickled state (what `pickle` calls).
    #[staticmethod]
    fn _from_state(data: &Bound<'_, PyBytes>) -> PyResult<ModelPy> {
        ModelPy::from_state(data.as_bytes())
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Reduced<'py>> {
        reduce_by_state(slf, slf.get().state()?)
    }

    /// Reads a model file written by `tessera learn` (or `Model.save`).
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<ModelPy> {
        let file = compute(py, move || ModelFile::read(&path).map_err(err))?;
        Ok(ModelPy {
            model: file.crf,
            baseline: Some(file.unary_only),
            spec: Some(file.segmentation),
            textons: file.textons.map(Arc::new),
            report: None,
            baseline_report: None,
            training: file.training,
        })
    }

    /// Writes the model file (atomically: a temporary file, then renamed).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        if self.model.pairwise.is_none() {
            return Err(PyValueError::new_err(
                "a unary-only model cannot be saved alone: a model file holds a CRF \
                 (fit with pairwise=True)",
            ));
        }
        let Some(spec) = self.spec else {
            return Err(PyValueError::new_err(
                "the model does not know its superpixels: fit it on features(image) \
                 computed without labels (SLIC) to save it",
            ));
        };
        let (unary, unary_note) = match &self.baseline {
            Some(b) => (b.clone(), None),
            None => (
                self.model.unary_only(),
                Some("no baseline trained (unary_c=None): the CRF's unary weights"),
            ),
        };
        let training = if self.training.is_null() {
            serde_json::json!({
                "by": "tessera.crf.fit",
                "crf": self.report.as_ref().map(report_json),
                "unary_only": self.baseline_report.as_ref().map(report_json),
                "unary_only_note": unary_note,
            })
        } else {
            self.training.clone()
        };
        let mut file = ModelFile::new(
            spec,
            self.model.clone(),
            unary,
            self.textons.as_deref().cloned(),
        )
        .map_err(value_error)?;
        file.training = training;
        compute(py, move || file.write(&path).map_err(err))
    }

    /// The class of every superpixel of `features`.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        features: PyRef<'py, FeaturesPy>,
    ) -> PyResult<Bound<'py, PyArray1<u32>>> {
        self.check_features(&features)?;
        let (model, f) = (&self.model, &features.features);
        let classes = compute(py, move || model.predict(f).map_err(err))?;
        Ok(PyArray1::from_vec(py, classes))
    }

    /// Segments `image` with the model's superpixels and returns the `(M, N)` class map
    /// (int64).
    fn predict_image<'py>(
        &self,
        py: Python<'py>,
        image: PyImage<'py>,
    ) -> PyResult<Bound<'py, PyArray2<i64>>> {
        let Some(spec) = self.spec else {
            return Err(PyValueError::new_err(
                "the model does not know its superpixels (it was fit on features of given \
                 labels): use predict(features(image, labels))",
            ));
        };
        let dims = image.dims();
        let view = image.view();
        let (model, textons) = (&self.model, self.textons.as_deref());
        let pixels = compute(py, move || {
            let img = view.to_image()?;
            let (seg, f) = spec.features(&img, &model.features, textons).map_err(err)?;
            let classes = model.predict(&f).map_err(err)?;
            Ok(seg
                .labels()
                .iter()
                .map(|&l| {
                    if l == UNLABELLED {
                        -1
                    } else {
                        classes.get(l as usize).map_or(-1, |&c| i64::from(c))
                    }
                })
                .collect::<Vec<i64>>())
        })?;
        let a = ndarray::Array2::from_shape_vec(dims, pixels).map_err(value_error)?;
        Ok(PyArray2::from_owned_array(py, a))
    }

    /// The unary-only model: the separately trained baseline when there is one (model files,
    /// `fit(..., unary_c=...)`), else this model without its pairwise weights.
    fn unary_only(&self) -> ModelPy {
        let (model, report) = match &self.baseline {
            Some(b) => (b.clone(), self.baseline_report.clone()),
            None => (self.model.unary_only(), None),
        };
        ModelPy {
            model,
            baseline: None,
            spec: self.spec,
            textons: self.textons.clone(),
            report,
            baseline_report: None,
            training: serde_json::Value::Null,
        }
    }

    /// Number of classes.
    #[getter]
    fn n_classes(&self) -> usize {
        self.model.n_classes
    }

    /// Whether the model has pairwise weights (a CRF).
    #[getter]
    fn pairwise(&self) -> bool {
        self.model.pairwise.is_some()
    }

    /// The inference solver's name.
    #[getter]
    fn inference(&self) -> &'static str {
        inference_name(self.model.inference)
    }

    /// The fit report (passes, primal, dual, gap, converged, oracle_calls, trace), or None
    /// for a model read from a file.
    #[getter]
    fn report<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.report.as_ref().map(|r| report_dict(py, r)).transpose()
    }

    /// The superpixel parameters, or None.
    #[getter]
    fn segmentation<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.spec.map(|s| spec_dict(py, &s)).transpose()
    }

    /// The texton dictionary, or None.
    #[getter]
    fn textons(&self) -> Option<TextonsPy> {
        self.textons.clone().map(TextonsPy)
    }

    /// The feature parameters (a dict).
    #[getter]
    fn feature_params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let p = &self.model.features;
        let d = PyDict::new(py);
        d.set_item("l_bins", p.l_bins)?;
        d.set_item("ab_bins", p.ab_bins)?;
        d.set_item("orientation_bins", p.orientation_bins)?;
        d.set_item("context", p.context)?;
        d.set_item("textons", p.textons)?;
        d.set_item(
            "texton_map",
            match p.texton_map {
                HistogramMap::Identity => "identity",
                HistogramMap::Hellinger => "hellinger",
                HistogramMap::Chi2 => "chi2",
            },
        )?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "Model(n_classes={}, pairwise={}, features={})",
            self.model.n_classes,
            self.model.pairwise.is_some(),
            features::node_dim(&self.model.features)
        )
    }
}
