//! End-to-end tests of `tessera segment --volume` through the real binary, on a TIFF stack, a
//! `.npy` array and NIfTI files that the tests write themselves: two flat boxes, one on top
//! of the other (slices 0..Z/2 dark, the rest bright), with a little texture.

mod common;

use common::tessera;
use ndarray::{Array3, Array4};
use nifti::writer::WriterOptions;
use nifti::{IntoNdArray, NiftiHeader, NiftiObject, NiftiType, ReaderOptions};
use serde_json::Value;
use std::fs::File;
use std::io::{BufReader, Cursor};
use std::path::{Path, PathBuf};
use tiff::decoder::{Decoder, DecodingResult};
use tiff::encoder::{Rational, TiffEncoder, colortype};
use tiff::tags::{ResolutionUnit, Tag};

/// Slices, rows, columns of the test volumes.
const SHAPE: (usize, usize, usize) = (8, 20, 24);

/// The two boxes: voxel value at (z, y, x), 0..=255.
fn two_boxes(z: usize, y: usize, x: usize) -> u8 {
    let base = if z < SHAPE.0 / 2 { 40 } else { 200 };
    base + ((x * 7 + y * 3 + z) % 5) as u8
}

fn boxes_u8() -> Array3<u8> {
    Array3::from_shape_fn(SHAPE, |(z, y, x)| two_boxes(z, y, x))
}

/// A multi-page 8-bit TIFF with ImageJ's calibration: 2.5 micron slices of 0.5 micron pixels.
fn write_tiff_stack(path: &Path) {
    let vol = boxes_u8();
    let mut bytes = Cursor::new(Vec::new());
    {
        let mut enc = TiffEncoder::new(&mut bytes).unwrap();
        let description = format!(
            "ImageJ=1.54f\nimages={0}\nslices={0}\nunit=micron\nspacing=2.5\nloop=false\n",
            SHAPE.0
        );
        for (z, slice) in vol.outer_iter().enumerate() {
            let data: Vec<u8> = slice.iter().copied().collect();
            let mut page = enc
                .new_image::<colortype::Gray8>(SHAPE.2 as u32, SHAPE.1 as u32)
                .unwrap();
            if z == 0 {
                page.encoder()
                    .write_tag(Tag::ImageDescription, description.as_str())
                    .unwrap();
            }
            page.resolution(ResolutionUnit::None, Rational { n: 2, d: 1 });
            page.write_data(&data).unwrap();
        }
    }
    std::fs::write(path, bytes.into_inner()).unwrap();
}

/// A NIfTI file of the boxes as `int16`, with an oblique-free but shifted and flipped affine.
fn nifti_reference() -> NiftiHeader {
    NiftiHeader {
        pixdim: [-1.0, 0.7, 0.8, 2.5, 1.0, 1.0, 1.0, 1.0],
        xyzt_units: 2, // mm
        qform_code: 1,
        sform_code: 1,
        quatern_b: 0.0,
        quatern_c: 1.0,
        quatern_d: 0.0,
        quatern_x: 12.0,
        quatern_y: -30.0,
        quatern_z: 40.0,
        srow_x: [-0.7, 0.0, 0.0, 12.0],
        srow_y: [0.0, 0.8, 0.0, -30.0],
        srow_z: [0.0, 0.0, 2.5, 40.0],
        ..NiftiHeader::default()
    }
}

fn write_nifti(path: &Path) {
    let vol = boxes_u8().mapv(|v| v as i16 - 1000);
    let header = nifti_reference();
    // The writer takes (X, Y, Z).
    WriterOptions::new(path)
        .reference_header(&header)
        .write_nifti(&vol.t())
        .unwrap();
}

fn read_labels_npy(path: &Path) -> Array3<u32> {
    ndarray_npy::read_npy(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Labels are label + 1: 1..=n, every one used, no 0 (nothing masked).
fn assert_labels_are_one_to_n(values: impl Iterator<Item = u32>) -> usize {
    let mut used = Vec::new();
    for v in values {
        assert!(v >= 1, "label value 0 (no supervoxel) without a mask");
        let i = v as usize - 1;
        if used.len() <= i {
            used.resize(i + 1, false);
        }
        used[i] = true;
    }
    assert!(used.iter().all(|&u| u), "every label 1..=n is used");
    used.len()
}

/// Each supervoxel lies inside one box.
fn assert_boxes_kept_apart(labels: &Array3<u32>) {
    let n = labels.iter().copied().max().unwrap() as usize;
    let mut side = vec![None; n + 1];
    for ((z, _, _), &l) in labels.indexed_iter() {
        let s = z < SHAPE.0 / 2;
        match side[l as usize] {
            None => side[l as usize] = Some(s),
            Some(t) => assert_eq!(s, t, "supervoxel {l} crosses between the boxes"),
        }
    }
}

fn report(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `segment --volume` with enough supervoxels for a seed grid of two layers of cells across
/// the slices, so that each box has seeds of its own.
fn segment_volume(input: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    tessera()
        .args(["segment", "--volume", "-k", "40"])
        .arg(input)
        .arg("-o")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn no_panic(err: &str) {
    assert!(
        !err.contains("panicked") && !err.contains("internal error"),
        "{err}"
    );
}

#[test]
fn tiff_stack_gives_labels_overlay_and_the_header_spacing() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("stack.tif");
    write_tiff_stack(&input);
    let out = dir.path().join("out");
    let rep = dir.path().join("r.jsonl");
    let run = segment_volume(&input, &out, &["--report", rep.to_str().unwrap()]);
    let err = stderr_of(&run);
    assert!(run.status.success(), "{err}");
    assert!(
        err.contains("spacing (Z, Y, X) 2.5, 0.5, 0.5 micron (from the TIFF header)"),
        "{err}"
    );
    assert!(err.contains("segmented 1 volume(s)"), "{err}");
    let labels = read_labels_npy(&out.join("stack.labels.npy"));
    assert_eq!(labels.dim(), SHAPE);
    let n = assert_labels_are_one_to_n(labels.iter().copied());
    assert!(n >= 2, "{n} supervoxels");
    assert_boxes_kept_apart(&labels);
    let overlay = image::open(out.join("stack.overlay.png")).unwrap();
    // 8 slices in a 3x3 grid, each 24x20 enlarged 5 times, 2-pixel gaps.
    assert_eq!(
        (overlay.width(), overlay.height()),
        (3 * 120 + 4, 3 * 100 + 4)
    );
    let r = &report(&rep)[0];
    assert_eq!(r["depth"], 8);
    assert_eq!(r["spacing"], serde_json::json!([2.5, 0.5, 0.5]));
    assert_eq!(r["spacing_from"], "header");
    assert_eq!(r["segments"], n);
}

#[test]
fn spacing_flag_overrides_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("stack.tif");
    write_tiff_stack(&input);
    let rep = dir.path().join("r.jsonl");
    let run = segment_volume(
        &input,
        &dir.path().join("out"),
        &[
            "--spacing",
            "1,0.5,0.25",
            "--report",
            rep.to_str().unwrap(),
            "--overlay",
            "none",
        ],
    );
    let err = stderr_of(&run);
    assert!(run.status.success(), "{err}");
    assert!(
        err.contains("1, 0.5, 0.25 micron (from --spacing)"),
        "{err}"
    );
    let r = &report(&rep)[0];
    assert_eq!(r["spacing"], serde_json::json!([1.0, 0.5, 0.25]));
    assert_eq!(r["spacing_from"], "flag");
    // The spacing reaches SLIC: its seed grid, and so its supervoxels, follow it.
    let header = dir.path().join("header");
    let run = segment_volume(&input, &header, &["--overlay", "none"]);
    assert!(run.status.success(), "{}", stderr_of(&run));
    assert_ne!(
        read_labels_npy(&dir.path().join("out/stack.labels.npy")),
        read_labels_npy(&header.join("stack.labels.npy"))
    );
}

#[test]
fn felzenszwalb_segments_volumes_too() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("boxes.npy");
    ndarray_npy::write_npy(&input, &boxes_u8()).unwrap();
    let out = dir.path().join("out");
    let rep = dir.path().join("r.jsonl");
    let run = tessera()
        .args([
            "segment",
            "--volume",
            "--algo",
            "felzenszwalb",
            "--fh-scale",
            "500",
        ])
        .args([
            "--spacing",
            "2,1,1",
            "--report",
            rep.to_str().unwrap(),
            "-o",
        ])
        .arg(&out)
        .arg(&input)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr_of(&run));
    let labels = read_labels_npy(&out.join("boxes.labels.npy"));
    assert_eq!(labels.dim(), SHAPE);
    assert_labels_are_one_to_n(labels.iter().copied());
    assert_boxes_kept_apart(&labels);
    let r = &report(&rep)[0];
    assert_eq!(r["algorithm"], "felzenszwalb");
    assert_eq!(r["spacing"], serde_json::json!([2.0, 1.0, 1.0]));
}

#[test]
fn npy_volume_gives_npy_and_tiff_labels() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("boxes.npy");
    ndarray_npy::write_npy(&input, &boxes_u8().mapv(|v| v as f32 / 255.0)).unwrap();
    let out = dir.path().join("out");
    let run = segment_volume(&input, &out, &[]);
    let err = stderr_of(&run);
    assert!(run.status.success(), "{err}");
    assert!(err.contains("1, 1, 1 (the file gives none)"), "{err}");
    let npy = read_labels_npy(&out.join("boxes.labels.npy"));
    assert_eq!(npy.dim(), SHAPE);
    assert_boxes_kept_apart(&npy);

    let again = segment_volume(&input, &out, &["--skip-existing"]);
    assert!(
        stderr_of(&again).contains("segmented 0 volume(s), skipped 1 already done"),
        "{}",
        stderr_of(&again)
    );

    let run = segment_volume(&input, &out, &["--labels", "tiff", "--overlay", "mean"]);
    assert!(run.status.success(), "{}", stderr_of(&run));
    let mut dec = Decoder::new(BufReader::new(
        File::open(out.join("boxes.labels.tif")).unwrap(),
    ))
    .unwrap();
    let mut pages = Vec::new();
    loop {
        assert_eq!(dec.dimensions().unwrap(), (SHAPE.2 as u32, SHAPE.1 as u32));
        match dec.read_image().unwrap() {
            DecodingResult::U32(v) => pages.extend(v),
            _ => panic!("the TIFF labels are u32"),
        }
        if !dec.more_images() {
            break;
        }
        dec.next_image().unwrap();
    }
    assert_eq!(
        pages.len(),
        SHAPE.0 * SHAPE.1 * SHAPE.2,
        "one page per slice"
    );
    assert_eq!(
        pages,
        npy.iter().copied().collect::<Vec<_>>(),
        "same labels"
    );
}

#[test]
fn multichannel_npy_volume() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("two.npy");
    let vol = Array4::from_shape_fn((SHAPE.0, SHAPE.1, SHAPE.2, 2), |(z, y, x, c)| {
        let v = two_boxes(z, y, x);
        if c == 0 { v } else { 255 - v }
    });
    ndarray_npy::write_npy(&input, &vol).unwrap();
    let out = dir.path().join("out");
    let run = segment_volume(&input, &out, &[]);
    let err = stderr_of(&run);
    assert!(run.status.success(), "{err}");
    assert!(err.contains("2 channel(s)"), "{err}");
    let labels = read_labels_npy(&out.join("two.labels.npy"));
    assert_eq!(labels.dim(), SHAPE);
    assert_labels_are_one_to_n(labels.iter().copied());
}

#[test]
fn nifti_labels_keep_the_input_header() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["brain.nii.gz", "plain.nii"] {
        let input = dir.path().join(name);
        write_nifti(&input);
        let out = dir.path().join("out");
        let run = segment_volume(&input, &out, &[]);
        let err = stderr_of(&run);
        assert!(run.status.success(), "{err}");
        assert!(
            err.contains("spacing (Z, Y, X) 2.5, 0.8, 0.7 mm (from the NIfTI header)"),
            "{err}"
        );
        let stem = name.split('.').next().unwrap();
        let path = out.join(format!("{stem}.labels.nii.gz"));
        let obj = ReaderOptions::new().read_file(&path).unwrap();
        let (h, r) = (obj.header().clone(), nifti_reference());
        assert_eq!(h.pixdim, r.pixdim);
        assert_eq!(
            (h.qform_code, h.sform_code, h.xyzt_units),
            (r.qform_code, r.sform_code, r.xyzt_units)
        );
        assert_eq!(
            (h.quatern_b, h.quatern_c, h.quatern_d),
            (r.quatern_b, r.quatern_c, r.quatern_d)
        );
        assert_eq!(
            (h.quatern_x, h.quatern_y, h.quatern_z),
            (r.quatern_x, r.quatern_y, r.quatern_z)
        );
        assert_eq!(
            (h.srow_x, h.srow_y, h.srow_z),
            (r.srow_x, r.srow_y, r.srow_z)
        );
        assert_eq!(h.data_type().unwrap(), NiftiType::Uint32);
        assert_eq!(
            &h.dim[..4],
            &[3, SHAPE.2 as u16, SHAPE.1 as u16, SHAPE.0 as u16]
        );
        // (X, Y, Z) from the NIfTI reader, back to (Z, Y, X).
        let arr = obj.into_volume().into_ndarray::<u32>().unwrap();
        let zyx: Vec<u32> = arr.t().iter().copied().collect();
        let labels = Array3::from_shape_vec(SHAPE, zyx).unwrap();
        assert_labels_are_one_to_n(labels.iter().copied());
        assert_boxes_kept_apart(&labels);
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    write_tiff_stack(&inputs.join("a.tif"));
    ndarray_npy::write_npy(inputs.join("b.npy"), &boxes_u8()).unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    for (out, j) in [(&one, "1"), (&two, "2")] {
        let run = segment_volume(&inputs, out, &["-j", j]);
        assert!(run.status.success(), "{}", stderr_of(&run));
    }
    for name in ["a.labels.npy", "b.labels.npy"] {
        assert_eq!(
            read_labels_npy(&one.join(name)),
            read_labels_npy(&two.join(name))
        );
    }
}

#[test]
fn a_bad_file_in_a_folder_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    ndarray_npy::write_npy(inputs.join("good.npy"), &boxes_u8()).unwrap();
    std::fs::write(
        inputs.join("bad.npy"),
        b"\x93NUMPY\x01\x00\x10\x00{'descr': junk}\n",
    )
    .unwrap();
    std::fs::write(inputs.join("notes.txt"), b"not a volume").unwrap();
    let out = dir.path().join("out");
    let run = segment_volume(&inputs, &out, &[]);
    let err = stderr_of(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(err.contains("segmented 1 volume(s), 1 failed"), "{err}");
    assert!(err.contains("bad.npy: not a valid .npy file"), "{err}");
    assert!(out.join("good.labels.npy").is_file());
    assert!(!out.join("bad.labels.npy").exists());
    no_panic(&err);
}

/// Runs `segment --volume` on `input` and returns its stderr, which must be a clean failure
/// naming the file.
fn clean_failure(input: &Path, extra: &[&str]) -> String {
    let out = input.with_extension("out");
    let run = segment_volume(input, &out, extra);
    let err = stderr_of(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    let name = input.file_name().unwrap().to_string_lossy().into_owned();
    assert!(err.contains(&name), "the error names the file: {err}");
    no_panic(&err);
    // Nothing half-written.
    if out.is_dir() {
        let left: Vec<PathBuf> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
    err
}

#[test]
fn damaged_tiff_stacks_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.tif");
    write_tiff_stack(&good);
    let bytes = std::fs::read(&good).unwrap();
    // Cut inside the pixel data of the pages.
    let cut = dir.path().join("cut.tif");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let err = clean_failure(&cut, &[]);
    assert!(err.contains("page") || err.contains("truncated"), "{err}");

    // Pages of different sizes.
    let mixed = dir.path().join("mixed.tif");
    let mut buf = Cursor::new(Vec::new());
    {
        let mut enc = TiffEncoder::new(&mut buf).unwrap();
        enc.write_image::<colortype::Gray8>(4, 3, &[0; 12]).unwrap();
        enc.write_image::<colortype::Gray8>(4, 3, &[0; 12]).unwrap();
        enc.write_image::<colortype::Gray16>(4, 3, &[0; 12])
            .unwrap();
    }
    std::fs::write(&mixed, buf.into_inner()).unwrap();
    let err = clean_failure(&mixed, &[]);
    assert!(
        err.contains("page 3 is 4x3 16-bit grey, page 1 is 4x3 8-bit grey"),
        "{err}"
    );

    // One page: a 2-D image.
    let single = dir.path().join("single.tif");
    let mut buf = Cursor::new(Vec::new());
    TiffEncoder::new(&mut buf)
        .unwrap()
        .write_image::<colortype::Gray8>(4, 3, &[0; 12])
        .unwrap();
    std::fs::write(&single, buf.into_inner()).unwrap();
    let err = clean_failure(&single, &[]);
    assert!(err.contains("one page: it is a 2-D image"), "{err}");
}

#[test]
fn bad_npy_and_nifti_files_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    // A header that does not parse.
    let junk = dir.path().join("junk.npy");
    std::fs::write(&junk, b"\x93NUMPY\x01\x00\x08\x00{junk}\n").unwrap();
    assert!(clean_failure(&junk, &[]).contains("not a valid .npy file"));
    // Data cut short.
    let short = dir.path().join("short.npy");
    ndarray_npy::write_npy(&short, &boxes_u8()).unwrap();
    let bytes = std::fs::read(&short).unwrap();
    std::fs::write(&short, &bytes[..bytes.len() - 100]).unwrap();
    assert!(clean_failure(&short, &[]).contains("truncated"));
    // A shape that is not a volume, and a dtype that is not real-valued.
    let flat = dir.path().join("flat.npy");
    ndarray_npy::write_npy(&flat, &ndarray::Array2::<u8>::zeros((4, 4))).unwrap();
    assert!(clean_failure(&flat, &[]).contains("a 2-D image, not a volume"));
    let five = dir.path().join("five.npy");
    ndarray_npy::write_npy(&five, &ndarray::ArrayD::<u8>::zeros(vec![2; 5])).unwrap();
    assert!(clean_failure(&five, &[]).contains("(Z, Y, X) or (Z, Y, X, C)"));
    let complex = dir.path().join("complex.npy");
    let mut raw = b"\x93NUMPY\x01\x00".to_vec();
    let dict = "{'descr': '<c8', 'fortran_order': False, 'shape': (2, 2, 2), }";
    let header = format!("{dict:<117}\n");
    raw.extend_from_slice(&(header.len() as u16).to_le_bytes());
    raw.extend_from_slice(header.as_bytes());
    raw.extend_from_slice(&[0u8; 64]);
    std::fs::write(&complex, raw).unwrap();
    assert!(clean_failure(&complex, &[]).contains("dtype <c8 is not supported"));
    // NIfTI: an unsupported datatype, and a file cut short.
    let cplx = dir.path().join("cplx.nii");
    WriterOptions::new(&cplx)
        .write_nifti_with_type(&Array3::<u64>::zeros((4, 4, 4)), NiftiType::Complex64)
        .unwrap();
    assert!(
        clean_failure(&cplx, &[]).contains("NIfTI datatype complex64 is not supported"),
        "complex NIfTI"
    );
    let cut = dir.path().join("cut.nii");
    write_nifti(&cut);
    let bytes = std::fs::read(&cut).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() - 200]).unwrap();
    let err = clean_failure(&cut, &[]);
    assert!(err.contains("truncated") || err.contains("NIfTI"), "{err}");
    let not = dir.path().join("not.nii.gz");
    std::fs::write(&not, b"not gzip at all").unwrap();
    clean_failure(&not, &[]);
}

#[test]
fn max_pixels_counts_voxels() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("v.npy");
    ndarray_npy::write_npy(&input, &boxes_u8()).unwrap();
    let voxels = SHAPE.0 * SHAPE.1 * SHAPE.2;
    let err = clean_failure(&input, &["--max-pixels", &(voxels - 1).to_string()]);
    assert!(
        err.contains(&format!("{voxels} voxels, more than the limit")),
        "{err}"
    );
}

#[test]
fn volumes_and_images_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // A volume file without --volume.
    let npy = dir.path().join("v.npy");
    ndarray_npy::write_npy(&npy, &boxes_u8()).unwrap();
    let run = tessera()
        .args(["segment", "-o"])
        .arg(&out)
        .arg(&npy)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    assert!(stderr_of(&run).contains("segment it with --volume"));
    // A multi-page TIFF without --volume: its first page, with a warning.
    let stack = dir.path().join("stack.tif");
    write_tiff_stack(&stack);
    let run = tessera()
        .args(["segment", "-k", "20", "-o"])
        .arg(&out)
        .arg(&stack)
        .output()
        .unwrap();
    let err = stderr_of(&run);
    assert!(run.status.success(), "{err}");
    assert!(
        err.contains("a TIFF of 8 pages; only its first page is segmented (--volume reads"),
        "{err}"
    );
    assert!(out.join("stack.labels.png").is_file());
    // An image with --volume.
    let png = dir.path().join("photo.png");
    common::write_photo(&png, 30, 20);
    let err = clean_failure(&png, &[]);
    assert!(err.contains("not a volume format tessera reads"), "{err}");
    // Options that need --volume, and PNG labels for a volume: usage errors.
    for args in [
        &["--spacing", "1,1,1"][..],
        &["--labels", "nifti"][..],
        &["--volume", "--labels", "png"][..],
        &["--volume", "--spacing", "0,1,1"][..],
    ] {
        let run = tessera()
            .arg("segment")
            .args(args)
            .arg(&npy)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", stderr_of(&run));
    }
}
