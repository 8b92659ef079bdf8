//! The worker pool behind every subcommand's `-j/--threads`.

use anyhow::{Context, Result};

/// A pool of `threads` workers (`None`: one per core). `Ok(None)` when `threads` is 0, after
/// saying so on stderr: the caller exits with the usage-error code.
pub fn worker_pool(threads: Option<usize>) -> Result<Option<rayon::ThreadPool>> {
    if threads == Some(0) {
        eprintln!("error: --threads must be at least 1");
        return Ok(None);
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .context("cannot start the worker threads")?;
    Ok(Some(pool))
}
