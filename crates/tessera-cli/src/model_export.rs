//! `label --save-model`: the CRF model in the format the file extension names, `.uai` or
//! `.npz`, written atomically.

use crate::output::write_atomic;
use anyhow::{Result, bail};
use std::path::{Path, PathBuf};
use tessera::{Segmentation, UNLABELLED};
use tessera_crf::{Energy, npz, uai};

/// How many unrepresentable factors the warning lists by name.
const LISTED: usize = 10;

/// The model formats, by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Uai,
    Npz,
}

fn format_of(path: &Path) -> Option<Format> {
    let ext = path.extension()?.to_string_lossy().to_lowercase();
    match ext.as_str() {
        "uai" => Some(Format::Uai),
        "npz" => Some(Format::Npz),
        _ => None,
    }
}

/// Parses `--save-model`: a path ending in `.uai` or `.npz`.
pub fn model_path(s: &str) -> std::result::Result<PathBuf, String> {
    let path = PathBuf::from(s);
    match format_of(&path) {
        Some(_) => Ok(path),
        None => Err(format!(
            "`{s}`: the model format is chosen by the extension, .uai or .npz"
        )),
    }
}

/// Writes the model of `energy` (and, in `.npz`, the solver's `labels` per node and the
/// pixel-to-node map of `seg`) to `path`; warns on stderr about UAI factors whose energy range
/// a potential cannot hold.
pub fn save(path: &Path, energy: &Energy, labels: &[u32], seg: &Segmentation) -> Result<()> {
    match format_of(path) {
        Some(Format::Uai) => {
            let mut written = None;
            write_atomic(path, |out| {
                written = Some(uai::write(energy, out)?);
                Ok(())
            })?;
            if let Some(w) = written.filter(|w| !w.clipped.is_empty()) {
                let names: Vec<String> = w
                    .clipped
                    .iter()
                    .take(LISTED)
                    .map(|c| format!("{} (range {:.1})", c.factor, c.range))
                    .collect();
                let more = w.clipped.len().saturating_sub(LISTED);
                eprintln!(
                    "warning: {}: {} factor(s) have energies more than {:.1} above their least one, whose potentials are below the smallest double (written exactly in decimal, but a reader that parses doubles takes them as 0, an impossible state): {}{}; the .npz format holds the energies themselves",
                    path.display(),
                    w.clipped.len(),
                    uai::MAX_RANGE,
                    names.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                );
            }
            Ok(())
        }
        Some(Format::Npz) => {
            let map = seg
                .to_array()
                .mapv(|l| if l == UNLABELLED { u32::MAX } else { l });
            // The zip writer seeks: the archive is built in memory, then written atomically.
            let mut buf = std::io::Cursor::new(Vec::new());
            npz::write(energy, Some(labels), Some(map.view()), &mut buf)?;
            write_atomic(path, |out| Ok(out.write_all(buf.get_ref())?))
        }
        None => bail!(
            "{}: the model format is chosen by the extension, .uai or .npz",
            path.display()
        ),
    }
}
