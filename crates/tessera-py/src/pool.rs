//! The rayon pools calls run on, owned by the binding: `set_num_threads(n)` (or, before the
//! first call, the `TESSERA_NUM_THREADS` environment variable; default all cores) sets how
//! many threads one call computes with.
//!
//! Each Python thread that calls tessera gets a pool of its own, built on its first call (and
//! again after `set_num_threads`): calls from several Python threads then run side by side
//! instead of queueing for one shared pool, so two Python threads with one tessera thread
//! each compute on two cores. Results never depend on the thread count.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};
use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Threads per call; `usize::MAX` = not set yet (read the environment).
static THREADS: AtomicUsize = AtomicUsize::new(usize::MAX);
/// Bumped by every `set_num_threads`, so that each thread rebuilds its pool.
static GENERATION: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static LOCAL: RefCell<Option<(usize, Arc<ThreadPool>)>> = const { RefCell::new(None) };
}

fn build(n: usize) -> Result<Arc<ThreadPool>, String> {
    ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("tessera-{i}"))
        .build()
        .map(Arc::new)
        .map_err(|e| format!("cannot start {n} threads: {e}"))
}

/// The thread count `TESSERA_NUM_THREADS` asks for (0 = all cores).
fn from_env() -> usize {
    std::env::var("TESSERA_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0)
}

fn threads() -> usize {
    match THREADS.load(Ordering::Acquire) {
        usize::MAX => {
            let n = from_env();
            // Only the first reader sets it; a racing `set_num_threads` wins.
            let _ = THREADS.compare_exchange(usize::MAX, n, Ordering::AcqRel, Ordering::Acquire);
            THREADS.load(Ordering::Acquire)
        }
        n => n,
    }
}

/// The calling thread's pool, built on first use.
///
/// # Errors
/// When the operating system refuses to start the threads.
pub(crate) fn current() -> Result<Arc<ThreadPool>, String> {
    let generation = GENERATION.load(Ordering::Acquire);
    LOCAL.with(|cell| {
        let mut slot = cell.borrow_mut();
        if let Some((g, pool)) = slot.as_ref()
            && *g == generation
        {
            return Ok(Arc::clone(pool));
        }
        let pool = build(threads())?;
        *slot = Some((generation, Arc::clone(&pool)));
        Ok(pool)
    })
}

/// Sets the number of threads one call computes with (0: all cores). Calls already running
/// finish with the threads they started with.
#[pyfunction]
pub(crate) fn set_num_threads(n: i64) -> PyResult<()> {
    let n = usize::try_from(n)
        .map_err(|_| PyValueError::new_err(format!("n must be >= 0, got {n}")))?;
    THREADS.store(n, Ordering::Release);
    GENERATION.fetch_add(1, Ordering::AcqRel);
    Ok(())
}

/// The number of threads one call computes with.
#[pyfunction]
pub(crate) fn get_num_threads() -> PyResult<usize> {
    Ok(current()
        .map_err(PyValueError::new_err)?
        .current_num_threads())
}
