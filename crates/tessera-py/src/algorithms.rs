//! The superpixel algorithms. Every parameter left as `None` takes the library's default
//! (`Slic::default()` and so on), so the Python side never repeats a default.

use crate::compute;
use crate::convert::{PyImage, labels_to_py, to_mask};
use numpy::{PyArray2, PyArrayDyn, PyReadonlyArray2, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use tessera::{
    Etps, Felzenszwalb, KMeans, KMeansInit, MeanShift, Neighbourhood, Quickshift, Segmentation,
    Slic, SlicDistance, SlicSeeds, Superpixels,
};

/// Runs `algo` on `image` (optionally inside `mask`) and hands the label map back.
fn run<'py>(
    py: Python<'py>,
    image: &PyImage<'py>,
    segment: impl FnOnce(&tessera::Image) -> tessera::Result<Segmentation> + Send,
) -> PyResult<Bound<'py, PyArrayDyn<u32>>> {
    let view = image.view();
    let seg = compute(py, move || {
        let img = view.to_image()?;
        segment(&img).map_err(|e| e.to_string())
    })?;
    labels_to_py(py, seg)
}

fn distance(name: Option<&str>) -> PyResult<SlicDistance> {
    match name {
        None | Some("euclidean") => Ok(SlicDistance::Euclidean),
        Some("manhattan") => Ok(SlicDistance::Manhattan),
        Some(other) => Err(PyValueError::new_err(format!(
            "distance must be 'euclidean' or 'manhattan', got {other:?}"
        ))),
    }
}

/// SLIC's keywords as Python gives them, `None` for the library's default: shared by
/// [`slic`] and the tiled plan (`tiles.rs`), which must build the very same [`Slic`].
#[derive(Debug, Clone, Default)]
pub(crate) struct SlicArgs {
    pub(crate) n_segments: Option<u32>,
    pub(crate) compactness: Option<f32>,
    pub(crate) max_iterations: Option<u32>,
    pub(crate) sigma: Option<[f32; 3]>,
    pub(crate) spacing: Option<[f32; 3]>,
    pub(crate) convert_to_lab: Option<bool>,
    pub(crate) enforce_connectivity: Option<bool>,
    pub(crate) min_size_factor: Option<f32>,
    pub(crate) max_size_factor: Option<f32>,
    pub(crate) slic_zero: Option<bool>,
    pub(crate) perturb_seeds: Option<bool>,
    pub(crate) distance: Option<String>,
    pub(crate) subsample: Option<u32>,
}

impl SlicArgs {
    /// The library's parameters (`ValueError` for an unknown distance; the library
    /// validates the rest when it runs).
    pub(crate) fn build(&self) -> PyResult<Slic> {
        let d = Slic::default();
        Ok(Slic {
            n_segments: self.n_segments.unwrap_or(d.n_segments),
            compactness: self.compactness.unwrap_or(d.compactness),
            max_iterations: self.max_iterations.unwrap_or(d.max_iterations),
            sigma: self.sigma.unwrap_or(d.sigma),
            spacing: self.spacing.unwrap_or(d.spacing),
            convert_to_lab: self.convert_to_lab,
            enforce_connectivity: self.enforce_connectivity.unwrap_or(d.enforce_connectivity),
            min_size_factor: self.min_size_factor.unwrap_or(d.min_size_factor),
            max_size_factor: self.max_size_factor.unwrap_or(d.max_size_factor),
            slic_zero: self.slic_zero.unwrap_or(d.slic_zero),
            perturb_seeds: self.perturb_seeds.unwrap_or(d.perturb_seeds),
            distance: distance(self.distance.as_deref())?,
            subsample: self.subsample.unwrap_or(d.subsample),
        })
    }
}

/// SLIC on an image or a volume. `sigma` and `spacing` are `[slices, rows, columns]` (the
/// first entry is ignored for images); `convert_to_lab`: `None` = the library's choice
/// (CIELAB for 1 or 3 channels). `seeds`: the centres' first positions, one `(slice, row,
/// column)` row each, instead of the grid (`settle_seeds`: they settle by position first).
#[pyfunction]
#[pyo3(signature = (image, *, n_segments=None, compactness=None, max_iterations=None,
    sigma=None, spacing=None, convert_to_lab=None, enforce_connectivity=None,
    min_size_factor=None, max_size_factor=None, slic_zero=None, perturb_seeds=None,
    distance=None, subsample=None, mask=None, seeds=None, settle_seeds=false))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn slic<'py>(
    py: Python<'py>,
    image: PyImage<'py>,
    n_segments: Option<u32>,
    compactness: Option<f32>,
    max_iterations: Option<u32>,
    sigma: Option<[f32; 3]>,
    spacing: Option<[f32; 3]>,
    convert_to_lab: Option<bool>,
    enforce_connectivity: Option<bool>,
    min_size_factor: Option<f32>,
    max_size_factor: Option<f32>,
    slic_zero: Option<bool>,
    perturb_seeds: Option<bool>,
    distance: Option<&str>,
    subsample: Option<u32>,
    mask: Option<PyReadonlyArrayDyn<'py, bool>>,
    seeds: Option<PyReadonlyArray2<'py, f64>>,
    settle_seeds: bool,
) -> PyResult<Bound<'py, PyArrayDyn<u32>>> {
    let seeds = seeds
        .map(|s| seed_positions(&s, settle_seeds))
        .transpose()?;
    let algo = SlicArgs {
        n_segments,
        compactness,
        max_iterations,
        sigma,
        spacing,
        convert_to_lab,
        enforce_connectivity,
        min_size_factor,
        max_size_factor,
        slic_zero,
        perturb_seeds,
        distance: distance.map(str::to_owned),
        subsample,
    }
    .build()?;
    match (mask, seeds) {
        (None, None) => run(py, &image, move |img| algo.segment(img)),
        (None, Some(seeds)) => run(py, &image, move |img| {
            algo.segment_from_seeds(img, None, &seeds)
        }),
        (Some(m), seeds) => {
            if m.shape() != image.spatial().as_slice() {
                return Err(PyValueError::new_err(format!(
                    "mask has shape {:?}, the image {:?}",
                    m.shape(),
                    image.spatial()
                )));
            }
            let mview = m.as_array();
            run(py, &image, move |img| {
                let mask = to_mask(mview).map_err(tessera::Error::SizeMismatch)?;
                match &seeds {
                    None => algo.segment_masked(img, &mask),
                    Some(seeds) => algo.segment_from_seeds(img, Some(&mask), seeds),
                }
            })
        }
    }
}

/// SLIC's seeds from an `(n, 3)` array of `(slice, row, column)` positions.
fn seed_positions(seeds: &PyReadonlyArray2<'_, f64>, settle: bool) -> PyResult<SlicSeeds> {
    let positions = triples(seeds, "seeds")?
        .into_iter()
        .map(|p| p.map(|v| v as f32))
        .collect();
    Ok(SlicSeeds { positions, settle })
}

/// The rows of an `(n, 3)` array of `(slice, row, column)` positions named `what`.
fn triples(a: &PyReadonlyArray2<'_, f64>, what: &str) -> PyResult<Vec<[f64; 3]>> {
    let v = a.as_array();
    if v.ncols() != 3 {
        return Err(PyValueError::new_err(format!(
            "{what} must have shape (n, 3) (slice, row, column), got {:?}",
            v.shape()
        )));
    }
    Ok(v.rows().into_iter().map(|r| [r[0], r[1], r[2]]).collect())
}

/// k-means superpixels.
#[pyfunction]
#[pyo3(signature = (image, *, n_segments=None, compactness=None, max_iterations=None,
    tolerance=None, init=None, seed=None, enforce_connectivity=None, min_size_factor=None,
    max_size_factor=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn kmeans<'py>(
    py: Python<'py>,
    image: PyImage<'py>,
    n_segments: Option<u32>,
    compactness: Option<f32>,
    max_iterations: Option<u32>,
    tolerance: Option<f32>,
    init: Option<&str>,
    seed: Option<u64>,
    enforce_connectivity: Option<bool>,
    min_size_factor: Option<f32>,
    max_size_factor: Option<f32>,
) -> PyResult<Bound<'py, PyArrayDyn<u32>>> {
    let d = KMeans::default();
    let init = match init {
        None => d.init,
        Some("grid") => KMeansInit::Grid,
        Some("k-means++") | Some("plusplus") => KMeansInit::PlusPlus,
        Some(other) => {
            return Err(PyValueError::new_err(format!(
                "init must be 'grid' or 'k-means++', got {other:?}"
            )));
        }
    };
    let algo = KMeans {
        n_segments: n_segments.unwrap_or(d.n_segments),
        compactness: compactness.unwrap_or(d.compactness),
        max_iterations: max_iterations.unwrap_or(d.max_iterations),
        tolerance: tolerance.unwrap_or(d.tolerance),
        init,
        seed: seed.unwrap_or(d.seed),
        enforce_connectivity: enforce_connectivity.unwrap_or(d.enforce_connectivity),
        min_size_factor: min_size_factor.unwrap_or(d.min_size_factor),
        max_size_factor: max_size_factor.unwrap_or(d.max_size_factor),
    };
    run(py, &image, move |img| algo.segment(img))
}

/// Mean-shift segmentation.
#[pyfunction]
#[pyo3(signature = (image, *, hs=None, hr=None, min_size=None, max_iterations=None,
    tolerance=None, basin_speedup=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn meanshift<'py>(
    py: Python<'py>,
    image: PyImage<'py>,
    hs: Option<f32>,
    hr: Option<f32>,
    min_size: Option<u32>,
    max_iterations: Option<u32>,
    tolerance: Option<f32>,
    basin_speedup: Option<bool>,
) -> PyResult<Bound<'py, PyArrayDyn<u32>>> {
    let d = MeanShift::default();
    let algo = MeanShift {
        hs: hs.unwrap_or(d.hs),
        hr: hr.unwrap_or(d.hr),
        min_size: min_size.unwrap_or(d.min_size),
        max_iterations: max_iterations.unwrap_or(d.max_iterations),
        tolerance: tolerance.unwrap_or(d.tolerance),
        basin_speedup: basin_speedup.unwrap_or(d.basin_speedup),
    };
    run(py, &image, move |img| algo.segment(img))
}

/// Felzenszwalb-Huttenlocher graph segmentation; with `n_segments` the scale is searched
/// for that count. Returns the labels and the scale used.
#[pyfunction]
#[pyo3(signature = (image, *, scale=None, sigma=None, spacing=None, faces_only=None,
    min_size=None, n_segments=None, enforce_connectivity=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn felzenszwalb<'py>(
    py: Python<'py>,
    image: PyImage<'py>,
    scale: Option<f32>,
    sigma: Option<f32>,
    spacing: Option<[f32; 3]>,
    faces_only: Option<bool>,
    min_size: Option<u32>,
    n_segments: Option<u32>,
    enforce_connectivity: Option<bool>,
) -> PyResult<(Bound<'py, PyArrayDyn<u32>>, f32)> {
    let d = Felzenszwalb::default();
    let algo = Felzenszwalb {
        scale: scale.unwrap_or(d.scale),
        sigma: sigma.unwrap_or(d.sigma),
        spacing: spacing.unwrap_or(d.spacing),
        neighbourhood: match faces_only {
            Some(true) => Neighbourhood::Faces,
            Some(false) => Neighbourhood::All,
            None => d.neighbourhood,
        },
        min_size: min_size.unwrap_or(d.min_size),
        target_segments: n_segments,
        enforce_connectivity: enforce_connectivity.unwrap_or(d.enforce_connectivity),
    };
    let view = image.view();
    let (seg, used) = compute(py, move || {
        let img = view.to_image()?;
        algo.segment_with_scale(&img).map_err(|e| e.to_string())
    })?;
    Ok((labels_to_py(py, seg)?, used))
}

/// Quickshift.
#[pyfunction]
#[pyo3(signature = (image, *, ratio=None, kernel_size=None, max_dist=None, sigma=None,
    convert_to_lab=None, seed=None, min_size=None, enforce_connectivity=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn quickshift<'py>(
    py: Python<'py>,
    image: PyImage<'py>,
    ratio: Option<f32>,
    kernel_size: Option<f32>,
    max_dist: Option<f32>,
    sigma: Option<f32>,
    convert_to_lab: Option<bool>,
    seed: Option<u64>,
    min_size: Option<u32>,
    enforce_connectivity: Option<bool>,
) -> PyResult<Bound<'py, PyArrayDyn<u32>>> {
    let d = Quickshift::default();
    let algo = Quickshift {
        ratio: ratio.unwrap_or(d.ratio),
        kernel_size: kernel_size.unwrap_or(d.kernel_size),
        max_dist: max_dist.unwrap_or(d.max_dist),
        sigma: sigma.unwrap_or(d.sigma),
        convert_to_lab: convert_to_lab.unwrap_or(d.convert_to_lab),
        seed: seed.unwrap_or(d.seed),
        min_size: min_size.unwrap_or(d.min_size),
        enforce_connectivity: enforce_connectivity.unwrap_or(d.enforce_connectivity),
    };
    run(py, &image, move |img| algo.segment(img))
}

/// ETPS (Extended Topology Preserving Segmentation).
#[pyfunction]
#[pyo3(signature = (image, *, n_segments=None, compactness=None, boundary_weight=None,
    size_weight=None, min_size_factor=None, max_iterations=None, max_block_size=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn etps<'py>(
    py: Python<'py>,
    image: PyImage<'py>,
    n_segments: Option<u32>,
    compactness: Option<f32>,
    boundary_weight: Option<f32>,
    size_weight: Option<f32>,
    min_size_factor: Option<f32>,
    max_iterations: Option<u32>,
    max_block_size: Option<u32>,
) -> PyResult<Bound<'py, PyArrayDyn<u32>>> {
    let d = Etps::default();
    let algo = Etps {
        n_segments: n_segments.unwrap_or(d.n_segments),
        compactness: compactness.unwrap_or(d.compactness),
        boundary_weight: boundary_weight.unwrap_or(d.boundary_weight),
        size_weight: size_weight.unwrap_or(d.size_weight),
        min_size_factor: min_size_factor.unwrap_or(d.min_size_factor),
        max_iterations: max_iterations.unwrap_or(d.max_iterations),
        max_block_size: max_block_size.unwrap_or(d.max_block_size),
    };
    run(py, &image, move |img| algo.segment(img))
}

/// Panics inside the computation, to test that a panic reaches Python as an exception.
#[pyfunction]
pub(crate) fn panic_for_tests(py: Python<'_>) -> PyResult<()> {
    compute(py, || -> Result<(), String> {
        panic!("deliberate test panic")
    })
}

/// Quickshift's forest: the parent of every pixel (row-major index; a root is its own
/// parent), as [`Quickshift::forest`] gives it.
#[pyfunction]
#[pyo3(signature = (image, *, ratio=None, kernel_size=None, max_dist=None, sigma=None,
    convert_to_lab=None, seed=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn quickshift_forest<'py>(
    py: Python<'py>,
    image: PyImage<'py>,
    ratio: Option<f32>,
    kernel_size: Option<f32>,
    max_dist: Option<f32>,
    sigma: Option<f32>,
    convert_to_lab: Option<bool>,
    seed: Option<u64>,
) -> PyResult<Bound<'py, numpy::PyArray1<u32>>> {
    let d = Quickshift::default();
    let algo = Quickshift {
        ratio: ratio.unwrap_or(d.ratio),
        kernel_size: kernel_size.unwrap_or(d.kernel_size),
        max_dist: max_dist.unwrap_or(d.max_dist),
        sigma: sigma.unwrap_or(d.sigma),
        convert_to_lab: convert_to_lab.unwrap_or(d.convert_to_lab),
        seed: seed.unwrap_or(d.seed),
        ..d
    };
    let view = image.view();
    let parent = compute(py, move || {
        let img = view.to_image()?;
        algo.forest(&img).map_err(|e| e.to_string())
    })?;
    Ok(numpy::PyArray1::from_vec(py, parent))
}

/// `rounds` rounds of Lloyd's k-means on the `(n, 3)` points from the `(k, 3)` centroids,
/// as scipy's `kmeans2` from a code book ([`SlicSeeds::lloyd_rounds`]): the centroids, and
/// whether one of them got no point.
#[pyfunction]
pub(crate) fn lloyd_rounds<'py>(
    py: Python<'py>,
    points: PyReadonlyArray2<'py, f64>,
    centroids: PyReadonlyArray2<'py, f64>,
    rounds: usize,
) -> PyResult<(Bound<'py, PyArray2<f64>>, bool)> {
    let points = triples(&points, "points")?;
    let mut centres = triples(&centroids, "centroids")?;
    let (centres, empty) = crate::compute(py, move || {
        let empty = SlicSeeds::lloyd_rounds(&points, &mut centres, rounds);
        Ok((centres, empty))
    })?;
    let flat: Vec<f64> = centres.iter().flatten().copied().collect();
    let array = numpy::ndarray::Array2::from_shape_vec((centres.len(), 3), flat)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok((PyArray2::from_owned_array(py, array), empty))
}
