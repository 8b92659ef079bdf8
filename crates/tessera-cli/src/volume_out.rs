//! Writing a volume's supervoxel labels: a `(Z, Y, X)` `u32` `.npy`, a multi-page `u32` TIFF
//! (one page per slice, with ImageJ's voxel size tags), or NIfTI-1 (`.nii.gz`) that keeps the
//! input's header (affine, pixdim, qform/sform, units) so that the labels overlay the input
//! in ITK-SNAP, 3D Slicer or napari. Every format stores `label + 1`, 0 meaning "no
//! supervoxel" (masked out), as the 2-D label maps do; every file is written atomically.

use crate::labels_io::stored;
use crate::output::{write_atomic, write_atomic_named};
use anyhow::{Result, anyhow};
use ndarray::Array3;
use ndarray_npy::WriteNpyExt;
use nifti::NiftiHeader;
use nifti::writer::WriterOptions;
use std::io::Cursor;
use std::path::Path;
use tessera::Segmentation;
use tiff::encoder::{Rational, TiffEncoder, colortype};
use tiff::tags::{ResolutionUnit, Tag};

/// NIfTI's intent code for a label volume (NIFTI_INTENT_LABEL).
const NIFTI_INTENT_LABEL: i16 = 1002;

/// The stored labels as a `(slices, rows, columns)` array.
pub fn label_volume(seg: &Segmentation) -> Array3<u32> {
    seg.to_volume_array().mapv(stored)
}

/// Writes the labels as a `(Z, Y, X)` `u32` `.npy` file.
pub fn write_npy(path: &Path, seg: &Segmentation) -> Result<()> {
    let arr = label_volume(seg);
    write_atomic(path, |w| Ok(arr.write_npy(w)?))
}

/// `1 / size` as a TIFF rational (pixels per unit), `None` for a size that has none.
fn per_unit(size: f32) -> Option<Rational> {
    let v = 1.0 / f64::from(size);
    if !(v.is_finite() && v > 0.0) {
        return None;
    }
    // Six significant decimals where they fit in 32 bits.
    let d: u32 = if v < 4000.0 { 1_000_000 } else { 1 };
    let n = (v * f64::from(d)).round();
    (n >= 1.0 && n <= f64::from(u32::MAX)).then_some(Rational { n: n as u32, d })
}

/// Writes the labels as a multi-page `u32` TIFF, one page per slice. With a spacing, the
/// pages carry ImageJ's calibration (XResolution / YResolution as pixels per unit, and
/// `spacing=` and `unit=` in the first page's ImageDescription), which Fiji and tifffile read
/// and [`crate::volume_load`] reads back.
pub fn write_tiff(
    path: &Path,
    seg: &Segmentation,
    spacing: Option<[f32; 3]>,
    unit: Option<&str>,
) -> Result<()> {
    let labels = label_volume(seg);
    let (d, h, w) = labels.dim();
    let mut bytes = Cursor::new(Vec::new());
    {
        let mut enc = TiffEncoder::new(&mut bytes)?;
        let mut description = format!("ImageJ=1.11a\nimages={d}\nslices={d}\n");
        if let Some(u) = unit {
            description.push_str(&format!("unit={u}\n"));
        }
        if let Some([z, _, _]) = spacing {
            description.push_str(&format!("spacing={z}\n"));
        }
        description.push_str("loop=false\n");
        for (z, slice) in labels.outer_iter().enumerate() {
            let data: Vec<u32> = slice.iter().copied().collect();
            let mut page = enc.new_image::<colortype::Gray32>(w as u32, h as u32)?;
            if z == 0 {
                page.encoder()
                    .write_tag(Tag::ImageDescription, description.as_str())?;
            }
            if let Some([_, y, x]) = spacing
                && let (Some(rx), Some(ry)) = (per_unit(x), per_unit(y))
            {
                page.resolution_unit(ResolutionUnit::None);
                page.x_resolution(rx);
                page.y_resolution(ry);
            }
            page.write_data(&data)?;
        }
    }
    let bytes = bytes.into_inner();
    write_atomic(path, |w| Ok(w.write_all(&bytes)?))
}

/// The header the NIfTI labels are written with: the input's, when it was NIfTI, so that
/// every geometric field (pixdim, qform, sform, units, byte order) is the same; otherwise
/// one whose voxel size is `spacing` (Z, Y, X) and whose affine scales by it. The intent
/// says "labels", and the display range covers them.
pub fn label_header(
    reference: Option<&NiftiHeader>,
    spacing: [f32; 3],
    unit: Option<&str>,
    count: u32,
) -> Result<NiftiHeader> {
    let [z, y, x] = spacing;
    let mut header = match reference {
        Some(h) => h.clone(),
        None => {
            let space_unit = match unit {
                Some("m") => 1,
                Some("mm") => 2,
                Some("micron") => 3,
                _ => 0,
            };
            NiftiHeader {
                pixdim: [1.0, x, y, z, 1.0, 1.0, 1.0, 1.0],
                xyzt_units: space_unit,
                qform_code: 0,
                sform_code: 2,
                srow_x: [x, 0.0, 0.0, 0.0],
                srow_y: [0.0, y, 0.0, 0.0],
                srow_z: [0.0, 0.0, z, 0.0],
                ..NiftiHeader::default()
            }
        }
    };
    header.intent_code = NIFTI_INTENT_LABEL;
    header.intent_p1 = 0.0;
    header.intent_p2 = 0.0;
    header.intent_p3 = 0.0;
    header.intent_name = [0; 16];
    header.cal_min = 0.0;
    header.cal_max = count as f32;
    header.glmin = 0;
    header.glmax = i32::try_from(count).unwrap_or(i32::MAX);
    header
        .set_description(b"tessera supervoxels: label + 1, 0 = none".to_vec())
        .map_err(|e| anyhow!("{e}"))?;
    Ok(header)
}

/// Writes the labels as a gzip-compressed NIfTI-1 file with `header` (see [`label_header`]);
/// the datatype is `uint32` and the dimensions the volume's, whatever the header said.
pub fn write_nifti(path: &Path, seg: &Segmentation, header: &NiftiHeader) -> Result<()> {
    let labels = label_volume(seg);
    write_atomic_named(path, ".nii.gz", |tmp| {
        // The writer takes (X, Y, Z) and writes X fastest: our (Z, Y, X) array transposed.
        WriterOptions::new(tmp)
            .reference_header(header)
            .compress(true)
            .write_nifti(&labels.t())
            .map_err(|e| anyhow!("{e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume_load::load_volume;
    use nifti::{IntoNdArray, NiftiObject, ReaderOptions};

    fn two_boxes() -> Segmentation {
        // 3 slices of 4x2: the first slice label 0, the rest label 1.
        let labels: Vec<u32> = (0..24).map(|i| u32::from(i >= 8)).collect();
        Segmentation::from_volume_labels(3, 4, 2, labels).unwrap()
    }

    #[test]
    fn tiff_labels_round_trip_with_their_spacing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.labels.tif");
        write_tiff(&p, &two_boxes(), Some([2.5, 0.5, 0.25]), Some("micron")).unwrap();
        let v = load_volume(&p, 1000).unwrap();
        assert_eq!(
            (v.image.depth(), v.image.height(), v.image.width()),
            (3, 2, 4)
        );
        assert_eq!(v.spacing, Some([2.5, 0.5, 0.25]));
        assert_eq!(v.unit.as_deref(), Some("micron"));
        let values = v.image.to_planes().concat();
        assert_eq!(values[0], 1.0);
        assert_eq!(values[23], 2.0);
    }

    #[test]
    fn nifti_labels_keep_the_reference_geometry() {
        let dir = tempfile::tempdir().unwrap();
        let mut reference = NiftiHeader {
            pixdim: [-1.0, 0.7, 0.8, 2.5, 1.0, 1.0, 1.0, 1.0],
            xyzt_units: 2,
            qform_code: 1,
            sform_code: 1,
            quatern_b: 0.0,
            quatern_c: 1.0,
            quatern_d: 0.0,
            quatern_x: 10.0,
            srow_x: [-0.7, 0.0, 0.0, 10.0],
            srow_y: [0.0, 0.8, 0.0, -20.0],
            srow_z: [0.0, 0.0, 2.5, 30.0],
            cal_max: 3000.0,
            ..NiftiHeader::default()
        };
        reference.dim = [3, 4, 2, 3, 1, 1, 1, 1];
        let header = label_header(Some(&reference), [2.5, 0.8, 0.7], None, 2).unwrap();
        let p = dir.path().join("a.labels.nii.gz");
        write_nifti(&p, &two_boxes(), &header).unwrap();
        let obj = ReaderOptions::new().read_file(&p).unwrap();
        let h = obj.header();
        assert_eq!(h.pixdim, reference.pixdim);
        assert_eq!(
            (h.srow_x, h.srow_y, h.srow_z),
            (reference.srow_x, reference.srow_y, reference.srow_z)
        );
        assert_eq!(
            (h.qform_code, h.sform_code, h.quatern_c, h.quatern_x),
            (1, 1, 1.0, 10.0)
        );
        assert_eq!(h.intent_code, NIFTI_INTENT_LABEL);
        assert_eq!(h.cal_max, 2.0);
        assert_eq!(&h.dim[..4], &[3, 4, 2, 3]);
        let arr = obj.into_volume().into_ndarray::<u32>().unwrap();
        // (X, Y, Z) indexing: slice 0 is label 1, the others 2.
        assert_eq!(arr[[3, 1, 0]], 1);
        assert_eq!(arr[[0, 0, 1]], 2);
        // And back through our reader, as (Z, Y, X).
        let v = load_volume(&p, 1000).unwrap();
        assert_eq!(v.spacing, Some([2.5, 0.8, 0.7]));
        assert_eq!(v.unit.as_deref(), Some("mm"));
    }

    #[test]
    fn npy_labels_have_the_volume_shape() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.labels.npy");
        write_npy(&p, &two_boxes()).unwrap();
        let a: Array3<u32> = ndarray_npy::read_npy(&p).unwrap();
        assert_eq!(a.dim(), (3, 2, 4));
        assert_eq!((a[[0, 1, 3]], a[[2, 0, 0]]), (1, 2));
    }
}
