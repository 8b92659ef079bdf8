//! The rayon pool every call runs on: one per process, owned by the binding, sized by
//! `set_num_threads(n)` or, before the first call, the `TESSERA_NUM_THREADS` environment
//! variable (default: all cores).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};
use std::sync::{Arc, RwLock};

static POOL: RwLock<Option<Arc<ThreadPool>>> = RwLock::new(None);

fn build(n: usize) -> Result<Arc<ThreadPool>, String> {
    ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("tessera-{i}"))
        .build()
        .map(Arc::new)
        .map_err(|e| format!("cannot start {n} threads: {e}"))
}

/// The thread count `TESSERA_NUM_THREADS` asks for (0 = rayon's default, all cores).
fn from_env() -> usize {
    std::env::var("TESSERA_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0)
}

/// The current pool, created on first use.
///
/// # Errors
/// When the operating system refuses to start the threads.
pub(crate) fn current() -> Result<Arc<ThreadPool>, String> {
    if let Some(p) = POOL.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        return Ok(Arc::clone(p));
    }
    let mut slot = POOL.write().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = slot.as_ref() {
        return Ok(Arc::clone(p));
    }
    let pool = build(from_env())?;
    *slot = Some(Arc::clone(&pool));
    Ok(pool)
}

/// Sets the number of threads tessera computes with (0: all cores). Calls already running
/// finish on the pool they started on.
#[pyfunction]
pub(crate) fn set_num_threads(n: i64) -> PyResult<()> {
    let n = usize::try_from(n)
        .map_err(|_| PyValueError::new_err(format!("n must be >= 0, got {n}")))?;
    let pool = build(n).map_err(PyValueError::new_err)?;
    *POOL.write().unwrap_or_else(|e| e.into_inner()) = Some(pool);
    Ok(())
}

/// The number of threads tessera computes with.
#[pyfunction]
pub(crate) fn get_num_threads() -> PyResult<usize> {
    Ok(current()
        .map_err(PyValueError::new_err)?
        .current_num_threads())
}
