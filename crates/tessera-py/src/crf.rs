//! The region adjacency graph and CRF labelling of superpixels (`tessera-crf`), as the CLI's
//! `label` subcommand runs them.

use crate::compute;
use crate::convert::{PyImage, check_dims, dims2, segmentation_of};
use numpy::{PyArray1, PyArray2, PyReadonlyArray2, PyReadonlyArray3, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tessera::UNLABELLED;
use tessera_crf::solver::{BeliefPropagation, Expansion, Icm, Trws};
use tessera_crf::unary::{self, ScribbleParams};
use tessera_crf::{Energy, PairwiseKind, PairwiseParams, RegionGraph, Solver};

/// The region adjacency graph of `labels` over `image`, as numpy arrays.
#[pyfunction]
pub(crate) fn rag<'py>(
    py: Python<'py>,
    image: PyImage<'py>,
    labels: PyReadonlyArray2<'py, u32>,
) -> PyResult<Bound<'py, PyDict>> {
    check_dims("labels", dims2(&labels), image.dims())?;
    let (view, lab) = (image.view(), labels.as_array());
    let (g, seg_labels) = compute(py, move || {
        let seg = segmentation_of(lab)?;
        let img = view.to_image()?;
        let g = RegionGraph::build(&img, &seg, &Default::default()).map_err(|e| e.to_string())?;
        Ok((g, seg.into_labels()))
    })?;
    let n = g.len();
    let e = g.edges().len();
    let edges: Vec<u32> = g.edges().iter().flat_map(|x| [x.a, x.b]).collect();
    let lens: Vec<u32> = g.edges().iter().map(|x| x.boundary).collect();
    let contrast: Vec<f64> = g.edges().iter().map(|x| x.contrast).collect();
    let sizes: Vec<u32> = g.nodes().iter().map(|x| x.size).collect();
    // Centroids as (row, column), numpy's axis order.
    let centroids: Vec<f32> = g
        .nodes()
        .iter()
        .flat_map(|x| [x.centroid[1], x.centroid[0]])
        .collect();
    let colours: Vec<f32> = g.nodes().iter().flat_map(|x| x.mean_lab).collect();
    let shape = |v: Vec<u32>, cols: usize| {
        ndarray::Array2::from_shape_vec((v.len() / cols.max(1), cols), v)
            .map_err(|err| PyValueError::new_err(err.to_string()))
    };
    let d = PyDict::new(py);
    d.set_item("edges", PyArray2::from_owned_array(py, shape(edges, 2)?))?;
    d.set_item("boundary_lengths", PyArray1::from_vec(py, lens))?;
    d.set_item("contrast", PyArray1::from_vec(py, contrast))?;
    d.set_item("sizes", PyArray1::from_vec(py, sizes))?;
    let c = ndarray::Array2::from_shape_vec((n, 2), centroids)
        .map_err(|err| PyValueError::new_err(err.to_string()))?;
    d.set_item("centroids", PyArray2::from_owned_array(py, c))?;
    let m = ndarray::Array2::from_shape_vec((n, 3), colours)
        .map_err(|err| PyValueError::new_err(err.to_string()))?;
    d.set_item("mean_colours", PyArray2::from_owned_array(py, m))?;
    let (h, w) = dims2(&labels);
    let l = ndarray::Array2::from_shape_vec((h, w), seg_labels)
        .map_err(|err| PyValueError::new_err(err.to_string()))?;
    d.set_item("labels", PyArray2::from_owned_array(py, l))?;
    let _ = e;
    Ok(d)
}

fn solver(name: &str) -> PyResult<Box<dyn Solver + Send>> {
    Ok(match name {
        "expansion" => Box::new(Expansion::default()),
        "trws" => Box::new(Trws::default()),
        "bp" => Box::new(BeliefPropagation::default()),
        "icm" => Box::new(Icm::default()),
        other => {
            return Err(PyValueError::new_err(format!(
                "solver must be 'expansion', 'trws', 'bp' or 'icm', got {other:?}"
            )));
        }
    })
}

/// Labels the superpixels of `labels` with classes, from scribbles (a `(rows, columns)` map,
/// class + 1 where scribbled, 0 elsewhere) or per-pixel class probabilities
/// `(rows, columns, classes)`. Returns `(pixel classes, superpixel classes, energy, bound)`.
#[pyfunction]
#[pyo3(signature = (image, labels, *, scribbles=None, probs=None, solver="expansion",
    smoothness=None, pairwise="contrast"))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub(crate) fn label<'py>(
    py: Python<'py>,
    image: PyImage<'py>,
    labels: PyReadonlyArray2<'py, u32>,
    scribbles: Option<PyReadonlyArray2<'py, u32>>,
    probs: Option<PyReadonlyArray3<'py, f32>>,
    solver: &str,
    smoothness: Option<f64>,
    pairwise: &str,
) -> PyResult<(
    Bound<'py, PyArray2<i64>>,
    Bound<'py, PyArray1<u32>>,
    f64,
    Option<f64>,
)> {
    let dims = image.dims();
    check_dims("labels", dims2(&labels), dims)?;
    let kind = match pairwise {
        "contrast" => PairwiseKind::ContrastPotts,
        "potts" => PairwiseKind::Potts,
        other => {
            return Err(PyValueError::new_err(format!(
                "pairwise must be 'contrast' or 'potts', got {other:?}"
            )));
        }
    };
    let lambda = smoothness.unwrap_or(PairwiseParams::default().lambda);
    if !(lambda.is_finite() && lambda >= 0.0) {
        return Err(PyValueError::new_err(format!(
            "smoothness must be a finite number >= 0, got {lambda}"
        )));
    }
    let solver = self::solver(solver)?;
    let params = PairwiseParams {
        kind,
        lambda,
        beta: None,
    };
    let scrib = match &scribbles {
        Some(s) => {
            check_dims("scribbles", dims2(s), dims)?;
            Some(s.as_array())
        }
        None => None,
    };
    let pr = match &probs {
        Some(p) => {
            let s = p.shape();
            check_dims("probs", (s[0], s[1]), dims)?;
            Some(p.as_array())
        }
        None => None,
    };
    let (view, lab) = (image.view(), labels.as_array());
    let (pixels, classes, energy, bound) = compute(py, move || {
        let seg = segmentation_of(lab)?;
        let img = view.to_image()?;
        let graph =
            RegionGraph::build(&img, &seg, &Default::default()).map_err(|e| e.to_string())?;
        let (unaries, n_classes) = match (scrib, pr) {
            (Some(s), None) => {
                let s = crate::convert::labels_of(s);
                if s.iter().all(|&v| v == 0) {
                    return Err("scribbles: no pixel is scribbled".to_string());
                }
                let lab_planes = tessera::cielab_planes(&img).map_err(|e| e.to_string())?;
                let (model, u) =
                    unary::from_scribbles(&lab_planes, &seg, &s, &ScribbleParams::default())
                        .map_err(|e| e.to_string())?;
                (u, model.n_labels())
            }
            (None, Some(p)) => (
                unary::from_probabilities(p, &seg, 1e-6).map_err(|e| e.to_string())?,
                p.dim().2,
            ),
            _ => return Err("give exactly one of scribbles and probs".to_string()),
        };
        let energy =
            Energy::from_graph(&graph, n_classes, unaries, &params).map_err(|e| e.to_string())?;
        let sol = solver.solve(&energy).map_err(|e| e.to_string())?;
        let pixels: Vec<i64> = seg
            .labels()
            .iter()
            .map(|&l| {
                if l == UNLABELLED {
                    -1
                } else {
                    sol.labels.get(l as usize).map_or(-1, |&c| i64::from(c))
                }
            })
            .collect();
        Ok((pixels, sol.labels, sol.energy, sol.lower_bound))
    })?;
    let p = ndarray::Array2::from_shape_vec(dims, pixels)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok((
        PyArray2::from_owned_array(py, p),
        PyArray1::from_vec(py, classes),
        energy,
        bound,
    ))
}
