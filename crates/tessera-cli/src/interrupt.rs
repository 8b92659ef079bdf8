//! Stopping a run cleanly. The first Ctrl-C (SIGINT, or SIGTERM) asks the run to stop: the
//! images in flight are finished and written, no new image starts, and the command prints a
//! summary and exits with 130. A second Ctrl-C exits at once (outputs are written under
//! temporary names and renamed, so even then no half-written output is left under its final
//! name). A full disk also stops the run, since every image after it would fail too.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// Why the run stops early, or [`NONE`].
static STOP: AtomicU8 = AtomicU8::new(NONE);
const NONE: u8 = 0;
const INTERRUPTED: u8 = 1;
const DISK_FULL: u8 = 2;
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The exit code of an interrupted run (128 + SIGINT, the shell's convention).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Why a run stopped before its last image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// An output could not be written because the disk (or quota) is full.
    DiskFull,
}

/// Installs the Ctrl-C handler (once per process; later calls do nothing).
pub fn install() {
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    let installed = ctrlc::set_handler(|| {
        if STOP.swap(INTERRUPTED, Ordering::SeqCst) == INTERRUPTED {
            eprintln!("\ninterrupted again: stopping now");
            std::process::exit(EXIT_INTERRUPTED.into());
        }
        eprintln!(
            "\ninterrupted: finishing the images in flight (press Ctrl-C again to stop at once)"
        );
    });
    if let Err(e) = installed {
        eprintln!("warning: Ctrl-C will stop tessera at once: {e}");
    }
}

/// Asks the run to stop because the disk is full (an interruption takes precedence).
pub fn disk_full() {
    let _ = STOP.compare_exchange(NONE, DISK_FULL, Ordering::SeqCst, Ordering::SeqCst);
}

/// Whether, and why, the run must not start another image.
pub fn stop() -> Option<Stop> {
    match STOP.load(Ordering::SeqCst) {
        INTERRUPTED => Some(Stop::Interrupted),
        DISK_FULL => Some(Stop::DiskFull),
        _ => None,
    }
}

/// Whether an error comes from a full disk or an exceeded quota, anywhere in its chain.
pub fn is_disk_full(err: &anyhow::Error) -> bool {
    use std::io::ErrorKind::{QuotaExceeded, StorageFull};
    let full = |io: &std::io::Error| matches!(io.kind(), StorageFull | QuotaExceeded);
    err.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(full)
            || matches!(cause.downcast_ref::<image::ImageError>(), Some(image::ImageError::IoError(io)) if full(io))
    })
}
