//! Metrics and comparison of label maps, as `tessera eval` and `tessera compare` compute
//! them.

use crate::compute;
use crate::convert::{PyImage, check_dims, dims2, segmentation_of};
use numpy::{PyArray2, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tessera::metrics::{self, Aggregation, EvalOptions, GroundTruth};
use tessera::{BoundaryMode, compare as cmp};

fn options(boundary: &str, tolerance: u32, aggregation: &str) -> PyResult<EvalOptions> {
    let boundary = match boundary {
        "thin" => BoundaryMode::Thin,
        "thick" => BoundaryMode::Thick,
        other => {
            return Err(PyValueError::new_err(format!(
                "boundary must be 'thin' or 'thick', got {other:?}"
            )));
        }
    };
    let aggregation = match aggregation {
        "mean" => Aggregation::Mean,
        "worst" => Aggregation::Worst,
        "best" => Aggregation::Best,
        other => {
            return Err(PyValueError::new_err(format!(
                "aggregation must be 'mean', 'worst' or 'best', got {other:?}"
            )));
        }
    };
    let o = EvalOptions {
        boundary,
        tolerance,
        aggregation,
    };
    o.validate()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(o)
}

/// Every score of `labels` against `ground_truths` (and `image`, for explained variation).
#[pyfunction]
#[pyo3(signature = (labels, ground_truths, image=None, *, boundary="thin", tolerance=2,
    aggregation="mean"))]
pub(crate) fn evaluate<'py>(
    py: Python<'py>,
    labels: PyReadonlyArray2<'py, u32>,
    ground_truths: Vec<PyReadonlyArray2<'py, u32>>,
    image: Option<PyImage<'py>>,
    boundary: &str,
    tolerance: u32,
    aggregation: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let opts = options(boundary, tolerance, aggregation)?;
    let dims = dims2(&labels);
    for (i, g) in ground_truths.iter().enumerate() {
        check_dims(&format!("ground_truths[{i}]"), dims2(g), dims)?;
    }
    if let Some(img) = &image {
        check_dims("image", img.dims(), dims)?;
    }
    let lab = labels.as_array();
    let gts: Vec<_> = ground_truths.iter().map(|g| g.as_array()).collect();
    let view = image.as_ref().map(|i| i.view());
    let s = compute(py, move || {
        let seg = segmentation_of(lab)?;
        let gts = gts
            .iter()
            .map(|g| {
                let v = crate::convert::labels_of(*g);
                GroundTruth::new(seg.width(), seg.height(), &v, &opts)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let img = view.map(|v| v.to_image()).transpose()?;
        metrics::evaluate(&seg, img.as_ref(), &gts, &opts).map_err(|e| e.to_string())
    })?;
    let d = PyDict::new(py);
    d.set_item("boundary_recall", s.boundary_recall)?;
    d.set_item("boundary_precision", s.boundary_precision)?;
    d.set_item("undersegmentation_error", s.undersegmentation_error)?;
    d.set_item("asa", s.asa)?;
    d.set_item("explained_variation", s.explained_variation)?;
    d.set_item("compactness", s.compactness)?;
    d.set_item("segments", s.segments)?;
    d.set_item("disconnected", s.disconnected)?;
    Ok(d)
}

/// Explained variation of `labels` over `image`.
#[pyfunction]
pub(crate) fn explained_variation<'py>(
    py: Python<'py>,
    labels: PyReadonlyArray2<'py, u32>,
    image: PyImage<'py>,
) -> PyResult<f64> {
    check_dims("image", image.dims(), dims2(&labels))?;
    let (lab, view) = (labels.as_array(), image.view());
    compute(py, move || {
        let seg = segmentation_of(lab)?;
        metrics::explained_variation(&seg, &view.to_image()?).map_err(|e| e.to_string())
    })
}

/// Compactness (Schick et al.) of `labels`.
#[pyfunction]
pub(crate) fn compactness<'py>(
    py: Python<'py>,
    labels: PyReadonlyArray2<'py, u32>,
) -> PyResult<f64> {
    let lab = labels.as_array();
    compute(py, move || Ok(metrics::compactness(&segmentation_of(lab)?)))
}

/// How far apart two label maps are: changed pixels, variation of information, adjusted
/// Rand index, and the changed-pixel mask.
#[pyfunction]
pub(crate) fn compare<'py>(
    py: Python<'py>,
    a: PyReadonlyArray2<'py, u32>,
    b: PyReadonlyArray2<'py, u32>,
) -> PyResult<Bound<'py, PyDict>> {
    let dims = dims2(&a);
    check_dims("b", dims2(&b), dims)?;
    let (va, vb) = (a.as_array(), b.as_array());
    let c = compute(py, move || {
        let (sa, sb) = (segmentation_of(va)?, segmentation_of(vb)?);
        cmp::compare(&sa, &sb).map_err(|e| e.to_string())
    })?;
    let changed = ndarray::Array2::from_shape_vec(dims, c.changed)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let d = PyDict::new(py);
    d.set_item("changed_pixels", c.changed_pixels)?;
    d.set_item("changed_fraction", c.changed_fraction)?;
    d.set_item("variation_of_information", c.variation_of_information)?;
    d.set_item("adjusted_rand_index", c.adjusted_rand_index)?;
    d.set_item("changed", PyArray2::from_owned_array(py, changed))?;
    Ok(d)
}
