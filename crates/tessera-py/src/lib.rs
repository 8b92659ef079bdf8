//! The Python extension module `tessera._tessera`: numpy arrays in, numpy arrays out.
//!
//! Binding code only: every algorithm lives in the `tessera` and `tessera-crf` crates. The
//! Python package (`python/tessera/`) checks arguments the way scikit-image does and calls
//! the functions here with plain, already validated values. Each call releases the GIL while
//! it computes and runs on a rayon pool owned by this module (see [`pool`]), and a panic
//! inside the library becomes a Python `RuntimeError` instead of aborting the interpreter.

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};

mod algorithms;
mod convert;
mod crf;
mod eval;
mod learn;
mod pool;
mod tiles;

/// Runs `f` without the GIL on the binding's thread pool, turning a library error into
/// `ValueError` and a panic into `RuntimeError`.
pub(crate) fn compute<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Result<T, String> + Send,
{
    let pool = pool::current().map_err(PyRuntimeError::new_err)?;
    let out = py.detach(|| pool.install(|| catch_unwind(AssertUnwindSafe(f))));
    match out {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(msg)) => Err(PyValueError::new_err(msg)),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(PyRuntimeError::new_err(format!(
                "tessera panicked (this is a bug, please report it): {msg}"
            )))
        }
    }
}

#[pymodule]
fn _tessera(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("UNLABELLED", tessera::UNLABELLED)?;
    m.add_function(wrap_pyfunction!(pool::set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(pool::get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(algorithms::slic, m)?)?;
    m.add_function(wrap_pyfunction!(algorithms::lloyd_rounds, m)?)?;
    m.add_function(wrap_pyfunction!(algorithms::kmeans, m)?)?;
    m.add_function(wrap_pyfunction!(algorithms::meanshift, m)?)?;
    m.add_function(wrap_pyfunction!(algorithms::felzenszwalb, m)?)?;
    m.add_function(wrap_pyfunction!(algorithms::quickshift, m)?)?;
    m.add_function(wrap_pyfunction!(algorithms::quickshift_forest, m)?)?;
    m.add_function(wrap_pyfunction!(algorithms::etps, m)?)?;
    m.add_function(wrap_pyfunction!(algorithms::panic_for_tests, m)?)?;
    m.add_function(wrap_pyfunction!(eval::evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(eval::compare, m)?)?;
    m.add_function(wrap_pyfunction!(eval::compactness, m)?)?;
    m.add_function(wrap_pyfunction!(eval::explained_variation, m)?)?;
    m.add_function(wrap_pyfunction!(crf::rag, m)?)?;
    m.add_function(wrap_pyfunction!(crf::label, m)?)?;
    m.add_function(wrap_pyfunction!(learn::image_features, m)?)?;
    m.add_function(wrap_pyfunction!(learn::learn_textons, m)?)?;
    m.add_function(wrap_pyfunction!(learn::fit, m)?)?;
    m.add_class::<learn::FeaturesPy>()?;
    m.add_class::<learn::TextonsPy>()?;
    m.add_class::<learn::ModelPy>()?;
    m.add_class::<tiles::TilePlanPy>()?;
    m.add_class::<tiles::SeedPartPy>()?;
    m.add_class::<tiles::MovePartPy>()?;
    m.add_class::<tiles::TileStatePy>()?;
    m.add_class::<tiles::FinalPartPy>()?;
    m.add_class::<tiles::FinalNumberingPy>()?;
    Ok(())
}
