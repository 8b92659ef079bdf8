//! The CLI's image loading (the very file the `tessera` binary compiles, included by path)
//! on arbitrary bytes, then the conversion to a `tessera::Image`: errors, never panics, and
//! no allocation beyond the limits (libFuzzer's `-rss_limit_mb` catches a bomb that gets
//! through).
#![no_main]

#[path = "../../crates/tessera-cli/src/load.rs"]
#[allow(dead_code)]
mod load;
// What `load.rs` reads JPEG-compressed (YCbCr) TIFFs with.
#[path = "../../crates/tessera-cli/src/tiff_window.rs"]
#[allow(dead_code)]
mod tiff_window;

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Four megapixels: enough for any header trick to matter, small enough to fuzz fast.
const MAX_PIXELS: u64 = 4 << 20;

fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("tessera-fuzz-load-{}", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    if std::fs::write(path, data).is_err() {
        return;
    }
    // Damaged files accepted too, so that the lenient JPEG path is fuzzed as well.
    let opts = load::LoadOptions {
        max_pixels: MAX_PIXELS,
        allow_truncated: true,
    };
    if let Ok(load::Loaded { image: decoded, .. }) = load::load_image(path, &opts) {
        assert!(decoded.width() as u64 * decoded.height() as u64 <= MAX_PIXELS);
        let _ = tessera::Image::from_dynamic(&decoded);
    }
});
