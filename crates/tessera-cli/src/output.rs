//! Writing output files atomically: each file is written under a temporary name in its
//! destination folder and renamed into place, so an interrupted run never leaves a
//! half-written file behind.

use anyhow::{Context, Result};
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};
use std::io::{BufWriter, Write};
use std::path::Path;

/// A temporary file in `path`'s folder (created if missing), named `.tessera-*<suffix>`, to be
/// renamed onto `path` once complete.
pub fn temporary_beside(path: &Path, suffix: &str) -> Result<tempfile::NamedTempFile> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the folder {}", dir.display()))?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".tessera-").suffix(suffix);
    // Outputs are ordinary files (0666 less the umask), not tempfile's private 0600.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    builder
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))
}

/// Writes `path` through `fill`, atomically.
pub fn write_atomic(path: &Path, fill: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let tmp = temporary_beside(path, ".part")?;
    {
        let mut w = BufWriter::new(tmp.as_file());
        fill(&mut w).with_context(|| format!("cannot write {}", path.display()))?;
        w.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot move the finished file to {}", path.display()))?;
    Ok(())
}

/// Writes `path` atomically through a writer that takes a file name rather than a stream
/// (the NIfTI writer): `fill` writes the temporary file it is given, whose name ends with
/// `suffix` (writers that pick compression by extension see the right one).
pub fn write_atomic_named(
    path: &Path,
    suffix: &str,
    fill: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    let tmp = temporary_beside(path, suffix)?;
    fill(tmp.path()).with_context(|| format!("cannot write {}", path.display()))?;
    // The writer opened the file by name: sync what it wrote through the same inode.
    std::fs::File::open(tmp.path())
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot move the finished file to {}", path.display()))?;
    Ok(())
}

/// Writes a PNG atomically. `color` says how `data` is laid out (8-bit RGB, 16-bit grey, ...;
/// 16-bit samples in native order, as `image` buffers hold them).
pub fn write_png(path: &Path, data: &[u8], w: u32, h: u32, color: ExtendedColorType) -> Result<()> {
    write_atomic(path, |out| {
        PngEncoder::new_with_quality(out, CompressionType::Fast, FilterType::Adaptive)
            .write_image(data, w, h, color)?;
        Ok(())
    })
}

/// Writes a small text file atomically.
pub fn write_text(path: &Path, text: &str) -> Result<()> {
    write_atomic(path, |out| Ok(out.write_all(text.as_bytes())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_writes_are_atomic_too() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.nii.gz");
        let res = write_atomic_named(&target, ".nii.gz", |p| {
            std::fs::write(p, b"half")?;
            anyhow::bail!("boom")
        });
        assert!(res.is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        write_atomic_named(&target, ".nii.gz", |p| {
            assert!(p.to_string_lossy().ends_with(".nii.gz"));
            Ok(std::fs::write(p, b"whole")?)
        })
        .unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"whole");
    }

    #[test]
    fn failed_writes_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.txt");
        let res = write_atomic(&target, |_| anyhow::bail!("boom"));
        assert!(res.is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        write_text(&target, "hello").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "hello");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&target).unwrap().permissions().mode();
            assert_eq!(
                mode & 0o044,
                0o044,
                "outputs are readable by others: {mode:o}"
            );
        }
    }
}
