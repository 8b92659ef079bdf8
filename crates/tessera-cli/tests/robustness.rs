//! Bad input, limits, full disks and interruption, through the real binary: every good image
//! is processed, every bad one is named with its reason, no output is ever half-written and
//! no temporary file is left behind.
//!
//! The corpus of bad files is made here rather than committed: truncated PNG, JPEG and TIFF
//! files, text with an image extension, an empty file, a dangling link, TIFF files in pixel
//! formats that cannot be segmented, and headers announcing decompression bombs. Folder walks
//! meet symbolic-link loops; `eval` and `sweep` load through the same loader as `segment`.

use assert_cmd::Command;
use image::{ImageFormat, Rgb, RgbImage};
use predicates::prelude::*;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn tessera() -> Command {
    Command::cargo_bin("tessera").expect("the binary is built")
}

/// A textured picture (noise, so that PNG cannot shrink it much).
fn photo(w: u32, h: u32, seed: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let v = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503) ^ seed)
            .wrapping_mul(0x9E37_79B9);
        let base = if x < w / 2 { 60 } else { 170 };
        Rgb([
            base + (v >> 27) as u8,
            base + (v >> 19 & 31) as u8,
            (v >> 11) as u8,
        ])
    })
}

fn encode(img: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encoded");
    out.into_inner()
}

/// CRC-32 of PNG chunks (ISO 3309), bit by bit: the corpus needs a handful.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A small valid PNG whose IHDR announces `w x h` (with a correct CRC), so that only the
/// size gives it away.
fn png_announcing(w: u32, h: u32) -> Vec<u8> {
    let mut png = encode(&photo(8, 8, 1), ImageFormat::Png);
    // Signature (8), IHDR length (4), "IHDR" (4), then width and height.
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

/// A small valid JPEG whose SOF0 header announces `w x h`.
fn jpeg_announcing(w: u16, h: u16) -> Vec<u8> {
    let mut jpg = encode(&photo(16, 16, 2), ImageFormat::Jpeg);
    let sof = jpg
        .windows(2)
        .position(|m| m == [0xFF, 0xC0])
        .expect("a baseline JPEG has SOF0");
    // Marker (2), length (2), precision (1), then height and width.
    jpg[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    jpg[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    jpg
}

/// A one-strip, uncompressed little-endian TIFF with `spp` samples of `bits` bits per pixel in
/// `sample_format` (1 unsigned, 3 float).
fn tiff(w: u32, h: u32, spp: u16, bits: u16, sample_format: u16, data: &[u8]) -> Vec<u8> {
    let entries = 10u32;
    let ifd_end = 8 + 2 + 12 * entries + 4;
    let (bits_at, format_at, data_at) = (ifd_end, ifd_end + 8, ifd_end + 16);
    let per_sample = |v: u16, at: u32| if spp <= 2 { v as u32 } else { at };
    let photometric = if spp >= 3 { 2 } else { 1 };
    let tags: [(u16, u16, u32, u32); 10] = [
        (256, 4, 1, w),
        (257, 4, 1, h),
        (258, 3, spp as u32, per_sample(bits, bits_at)),
        (259, 3, 1, 1),
        (262, 3, 1, photometric),
        (273, 4, 1, data_at),
        (277, 3, 1, spp as u32),
        (278, 4, 1, h),
        (279, 4, 1, data.len() as u32),
        (339, 3, spp as u32, per_sample(sample_format, format_at)),
    ];
    let mut out = b"II".to_vec();
    out.extend(42u16.to_le_bytes());
    out.extend(8u32.to_le_bytes());
    out.extend((entries as u16).to_le_bytes());
    for (tag, kind, count, value) in tags {
        out.extend(tag.to_le_bytes());
        out.extend(kind.to_le_bytes());
        out.extend(count.to_le_bytes());
        out.extend(value.to_le_bytes());
    }
    out.extend(0u32.to_le_bytes());
    for v in [bits, sample_format] {
        for i in 0..4u16 {
            out.extend((if i < spp { v } else { 0 }).to_le_bytes());
        }
    }
    out.extend_from_slice(data);
    out
}

/// One bad file of the corpus: its name, its bytes, and a word of the reason given for it.
struct Bad {
    name: &'static str,
    bytes: Vec<u8>,
    reason: &'static str,
}

/// The bad-input corpus.
/// A JPEG of `w x h` cut to `fraction` of its entropy-coded data.
fn truncated_jpeg(w: u32, h: u32, fraction: f64) -> Vec<u8> {
    let jpg = encode(&photo(w, h, 7), ImageFormat::Jpeg);
    let sos = jpg
        .windows(2)
        .position(|m| m == [0xFF, 0xDA])
        .expect("a JPEG has a scan");
    let keep = sos + ((jpg.len() - sos) as f64 * fraction) as usize;
    jpg[..keep].to_vec()
}

fn bad_files() -> Vec<Bad> {
    let png = encode(&photo(40, 30, 3), ImageFormat::Png);
    let tif = encode(&photo(40, 30, 8), ImageFormat::Tiff);
    let jpg = encode(&photo(64, 48, 4), ImageFormat::Jpeg);
    let sos = jpg
        .windows(2)
        .position(|m| m == [0xFF, 0xDA])
        .expect("a JPEG has a scan");
    let nan_rgb: Vec<u8> = [0.5f32, f32::NAN, 0.25, 0.1, 0.2, 0.3]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let f64_grey: Vec<u8> = [0.5f64, 0.25]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    vec![
        Bad {
            name: "cut_header.png",
            bytes: png[..20].to_vec(),
            reason: "the PNG file is truncated: it ends before its header is complete",
        },
        Bad {
            name: "truncated_data.png",
            bytes: png[..png.len() / 2].to_vec(),
            reason: "the PNG file is truncated: its data ends at row",
        },
        Bad {
            name: "truncated_photo.jpg",
            bytes: truncated_jpeg(160, 120, 0.4),
            reason: "the JPEG file is truncated: its data ends at row",
        },
        Bad {
            name: "truncated_strip.tif",
            bytes: tif[..tif.len() / 2].to_vec(),
            reason: "the TIFF file is truncated: it ends before its header is complete",
        },
        Bad {
            name: "cut_jpeg_header.jpg",
            bytes: jpg[..sos / 2].to_vec(),
            reason: "the JPEG file is truncated: it ends before its header is complete",
        },
        Bad {
            name: "text.png",
            bytes: b"hello, I am not a picture\n".to_vec(),
            reason: "Invalid PNG signature",
        },
        Bad {
            name: "zeros.jpg",
            bytes: vec![0; 4096],
            reason: "cannot decode",
        },
        Bad {
            name: "empty.png",
            bytes: Vec::new(),
            reason: "empty",
        },
        Bad {
            name: "bomb_png.png",
            bytes: png_announcing(100_000, 100_000),
            reason: "more than the limit",
        },
        Bad {
            name: "bomb_jpeg.jpg",
            bytes: jpeg_announcing(65_000, 65_000),
            reason: "more than the limit",
        },
        Bad {
            name: "zero_width.png",
            bytes: png_announcing(0, 10),
            reason: "cannot",
        },
        Bad {
            name: "nan_float.tif",
            bytes: tiff(2, 1, 3, 32, 3, &nan_rgb),
            reason: "NaN",
        },
        Bad {
            name: "grey_f64.tif",
            bytes: tiff(2, 1, 1, 64, 3, &f64_grey),
            reason: "cannot",
        },
        Bad {
            name: "short_strip.tif",
            bytes: tiff(50, 50, 3, 8, 1, &[7; 10]),
            reason: "the TIFF file is truncated: it ends before the pixel data",
        },
    ]
}

/// Good files of odd shapes: each must be segmented.
fn good_files(dir: &Path) -> Vec<&'static str> {
    let shapes = [
        ("one_pixel.png", 1, 1),
        ("one_row.png", 57, 1),
        ("one_column.png", 1, 33),
        ("two_by_two.png", 2, 2),
        ("plain.png", 48, 36),
    ];
    let mut names = Vec::new();
    for (name, w, h) in shapes {
        photo(w, h, 5).save(dir.join(name)).unwrap();
        names.push(name);
    }
    std::fs::write(
        dir.join("photo.jpg"),
        encode(&photo(40, 40, 6), ImageFormat::Jpeg),
    )
    .unwrap();
    names.push("photo.jpg");
    let grey16 = image::ImageBuffer::<image::Luma<u16>, _>::from_fn(20, 10, |x, y| {
        image::Luma([(x * 3000 + y * 100) as u16])
    });
    grey16.save(dir.join("grey16.png")).unwrap();
    names.push("grey16.png");
    let f32_rgb: Vec<u8> = (0..12 * 3)
        .flat_map(|i| (i as f32 / 36.0).to_le_bytes())
        .collect();
    std::fs::write(dir.join("float.tif"), tiff(4, 3, 3, 32, 3, &f32_rgb)).unwrap();
    names.push("float.tif");
    names
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.path().is_dir() {
                out.extend(files_under(&e.path()));
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

fn temporaries(dir: &Path) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            name.starts_with(".tessera-") || name.ends_with(".part")
        })
        .collect()
}

/// Every PNG under `dir` decodes completely.
fn all_pngs_whole(dir: &Path) -> bool {
    files_under(dir)
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .all(|p| image::open(p).is_ok())
}

#[test]
fn mixed_folder_processes_the_good_and_names_the_bad() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let good = good_files(&input);
    let bad = bad_files();
    for b in &bad {
        std::fs::write(input.join(b.name), &b.bytes).unwrap();
    }
    std::os::unix::fs::symlink(dir.path().join("nowhere.png"), input.join("dangling.png")).unwrap();
    let out = dir.path().join("out");
    let output = tessera()
        .args(["segment", "-k", "50", "--report"])
        .arg(dir.path().join("report.jsonl"))
        .arg("-o")
        .arg(&out)
        .arg(&input)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stderr}");
    assert_eq!(output.status.code(), Some(1));
    assert!(!stderr.contains("panicked"), "a panic: {stderr}");
    for name in &good {
        let stem = Path::new(name).file_stem().unwrap().to_string_lossy();
        for kind in ["overlay.png", "labels.png"] {
            assert!(
                out.join(format!("{stem}.{kind}")).is_file(),
                "{stem}.{kind} missing"
            );
        }
    }
    // Each bad file is named once in the summary, on a line that gives its reason.
    let summary = stderr.split("failed:").nth(1).expect("a list of failures");
    for b in &bad {
        let line = summary
            .lines()
            .find(|l| l.contains(b.name))
            .unwrap_or_else(|| panic!("{} not named in the summary", b.name));
        assert!(
            line.contains(b.reason),
            "{}: expected `{}` in `{line}`",
            b.name,
            b.reason
        );
        // Each cause is said once ("Invalid PNG signature.: Invalid PNG signature." no more).
        let parts: Vec<&str> = line.split(": ").map(|p| p.trim_end_matches('.')).collect();
        assert!(
            parts
                .windows(2)
                .all(|w| w[0] != w[1] && !w[0].ends_with(w[1])),
            "a cause repeated: `{line}`"
        );
    }
    assert!(
        summary
            .lines()
            .any(|l| l.contains("dangling.png") && l.contains("cannot read"))
    );
    assert!(stderr.contains(&format!("segmented {} image(s)", good.len())));
    assert!(stderr.contains(&format!("{} failed", bad.len() + 1)));
    let report = std::fs::read_to_string(dir.path().join("report.jsonl")).unwrap();
    assert_eq!(report.lines().count(), good.len());
    assert!(temporaries(&out).is_empty() && temporaries(&input).is_empty());
    // The one-pixel image has exactly one superpixel although 50 were asked for.
    let one = image::open(out.join("one_pixel.labels.png"))
        .unwrap()
        .into_luma16();
    assert_eq!(one.as_raw(), &vec![1]);
}

#[test]
fn allow_truncated_accepts_a_cut_jpeg_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let jpg = dir.path().join("cut.jpg");
    std::fs::write(&jpg, truncated_jpeg(160, 120, 0.5)).unwrap();
    let png = dir.path().join("cut.png");
    let whole = encode(&photo(40, 30, 3), ImageFormat::Png);
    std::fs::write(&png, &whole[..whole.len() / 2]).unwrap();
    let out = dir.path().join("out");
    // Refused by default: exit 1, the file and what is missing named, nothing written.
    tessera()
        .args(["segment", "-k", "20", "-o"])
        .arg(&out)
        .arg(&jpg)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "cut.jpg: the JPEG file is truncated",
        ))
        .stderr(predicate::str::contains("rows"))
        .stderr(predicate::str::contains("--allow-truncated accepts it"));
    assert!(!out.join("cut.overlay.png").exists());
    // Accepted with the option, with a warning naming the file.
    tessera()
        .args(["segment", "--allow-truncated", "-k", "20", "-o"])
        .arg(&out)
        .arg(&jpg)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "warning: ".to_string() + &jpg.display().to_string(),
        ))
        .stderr(predicate::str::contains("accepted (--allow-truncated)"));
    let labels = image::open(out.join("cut.labels.png")).unwrap();
    assert_eq!((labels.width(), labels.height()), (160, 120));
    // A PNG cut short: its rows before the cut are counted, and taken with the option.
    tessera()
        .args(["segment", "-o"])
        .arg(&out)
        .arg(&png)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "the PNG file is truncated: its data ends at row",
        ));
    tessera()
        .args(["segment", "--allow-truncated", "-o"])
        .arg(&out)
        .arg(&png)
        .assert()
        .success()
        .stderr(predicate::str::contains("accepted (--allow-truncated)"));
    // A TIFF strip cut short gives nothing to accept: still an error, saying why.
    let tif = dir.path().join("cut.tif");
    std::fs::write(&tif, tiff(50, 50, 3, 8, 1, &[7; 10])).unwrap();
    tessera()
        .args(["segment", "--allow-truncated", "-o"])
        .arg(&out)
        .arg(&tif)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("the TIFF file is truncated"))
        .stderr(predicate::str::contains("cannot accept it"));
    // `label` loads through the same loader.
    tessera()
        .arg("label")
        .arg(&jpg)
        .arg("--scribbles")
        .arg(&jpg)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "cut.jpg: the JPEG file is truncated",
        ));
}

/// `eval --images` and `sweep` refuse a truncated image as `segment` does, and take it with
/// `--allow-truncated`.
#[test]
fn eval_and_sweep_refuse_truncated_images() {
    let dir = tempfile::tempdir().unwrap();
    let (images, labels, gt) = (
        dir.path().join("images"),
        dir.path().join("labels"),
        dir.path().join("gt"),
    );
    for d in [&images, &labels, &gt] {
        std::fs::create_dir(d).unwrap();
    }
    std::fs::write(images.join("a.jpg"), truncated_jpeg(160, 120, 0.5)).unwrap();
    let halves = image::GrayImage::from_fn(160, 120, |x, _| image::Luma([u8::from(x >= 80)]));
    halves.save(labels.join("a.png")).unwrap();
    halves.save(gt.join("a_1.png")).unwrap();
    let eval = |extra: &[&str]| {
        let mut c = tessera();
        c.arg("eval")
            .arg("--labels")
            .arg(&labels)
            .arg("--gt")
            .arg(&gt)
            .arg("--images")
            .arg(&images)
            .args(extra);
        c
    };
    eval(&[])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("the JPEG file is truncated"));
    eval(&["--allow-truncated"])
        .assert()
        .success()
        .stderr(predicate::str::contains("accepted (--allow-truncated)"));
    let sweep = |extra: &[&str]| {
        let mut c = tessera();
        c.arg("sweep")
            .arg("--images")
            .arg(&images)
            .arg("--gt")
            .arg(&gt)
            .args(["--algo", "slic", "-k", "10", "-o"])
            .arg(dir.path().join("sweep"))
            .args(extra);
        c
    };
    sweep(&[])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("the JPEG file is truncated"));
    sweep(&["--allow-truncated"])
        .assert()
        .success()
        .stderr(predicate::str::contains("accepted (--allow-truncated)"));
}

/// A folder of 7 images with links back up the tree (two of them, which used to make the work
/// grow exponentially), a link to a sibling folder and a link to a file: each real image is
/// segmented once, each link not followed is reported once.
#[test]
fn link_loops_are_reported_once_and_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("in");
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    std::fs::create_dir_all(root.join("c")).unwrap();
    let names = [
        "1.png",
        "2.jpg",
        "a/3.png",
        "a/4.tif",
        "a/b/5.png",
        "c/6.png",
        "c/7.gif",
    ];
    for (i, n) in names.iter().enumerate() {
        photo(24, 18, i as u32).save(root.join(n)).unwrap();
    }
    use std::os::unix::fs::symlink;
    symlink("..", root.join("a/b/up")).unwrap();
    symlink("../..", root.join("a/b/top")).unwrap();
    symlink("../c", root.join("a/to_c")).unwrap();
    symlink("../1.png", root.join("c/same.png")).unwrap();
    let out = dir.path().join("out");
    let output = tessera()
        .args(["segment", "-r", "-k", "6", "-o"])
        .arg(&out)
        .arg(&root)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("segmented 7 image(s)"), "{stderr}");
    let labels: Vec<PathBuf> = files_under(&out)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".labels.png"))
        .collect();
    assert_eq!(labels.len(), 7, "{labels:?}");
    for n in names {
        let stem = Path::new(n).with_extension("");
        assert!(
            out.join(format!("{}.labels.png", stem.display())).is_file(),
            "{n} has no output under its real path"
        );
    }
    for (link, word) in [
        ("a/b/up", "a loop"),
        ("a/b/top", "a loop"),
        ("a/to_c", "walked already"),
        ("c/same.png", "the same file as"),
    ] {
        let path = root.join(link).display().to_string();
        let lines: Vec<&str> = stderr.lines().filter(|l| l.contains(&path)).collect();
        assert_eq!(lines.len(), 1, "{link} reported {} times", lines.len());
        assert!(
            lines[0].starts_with("warning: ") && lines[0].contains(word),
            "{}",
            lines[0]
        );
    }
    // Without -r nothing below the folder is walked, links included.
    tessera()
        .args(["segment", "-k", "6", "-o"])
        .arg(dir.path().join("flat"))
        .arg(&root)
        .assert()
        .success()
        .stderr(predicate::str::contains("segmented 2 image(s)"));
}

/// A GIF is read (its first frame), named directly or found in a folder.
#[test]
fn gif_input_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let gif = dir.path().join("anim.gif");
    let frames = [photo(30, 20, 1), photo(30, 20, 2)];
    {
        let file = std::fs::File::create(&gif).unwrap();
        let mut enc = image::codecs::gif::GifEncoder::new(file);
        for f in &frames {
            let rgba = image::DynamicImage::ImageRgb8(f.clone()).to_rgba8();
            enc.encode_frame(image::Frame::new(rgba)).unwrap();
        }
    }
    let out = dir.path().join("out");
    tessera()
        .args(["segment", "-k", "6", "--overlay", "mean", "-o"])
        .arg(&out)
        .arg(dir.path())
        .assert()
        .success()
        .stderr(predicate::str::contains("segmented 1 image(s)"));
    let labels = image::open(out.join("anim.labels.png")).unwrap();
    assert_eq!((labels.width(), labels.height()), (30, 20));
}

#[test]
fn max_pixels_refuses_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("p.png");
    photo(30, 20, 1).save(&img).unwrap();
    tessera()
        .args(["segment", "--max-pixels", "599", "-o"])
        .arg(dir.path().join("out"))
        .arg(&img)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "30x20 = 600 pixels, more than the limit of 599",
        ));
    tessera()
        .args(["segment", "--max-pixels", "600", "-o"])
        .arg(dir.path().join("out"))
        .arg(&img)
        .assert()
        .success();
}

/// More segments than pixels, and as many as a `u32` holds: one superpixel per pixel at most.
#[test]
fn more_segments_than_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("tiny.png");
    photo(5, 4, 2).save(&img).unwrap();
    for k in ["21", "4294967295"] {
        tessera()
            .args(["segment", "--no-connectivity", "-k", k, "-o"])
            .arg(dir.path().join("out"))
            .arg(&img)
            .assert()
            .success();
        let labels = image::open(dir.path().join("out/tiny.labels.png"))
            .unwrap()
            .into_luma16();
        assert_eq!(*labels.as_raw().iter().max().unwrap(), 20, "k = {k}");
    }
}

#[test]
fn bad_parameters_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("p.png");
    photo(10, 10, 1).save(&img).unwrap();
    let out = dir.path().join("out");
    let cases: &[(&[&str], &str)] = &[
        (&["-k", "0"], "n_segments"),
        (&["-k", "-5"], "-5"),
        (&["-k", "4294967296"], "segments"),
        (&["--compactness", "0"], "compactness"),
        (&["--compactness", "-3"], "compactness"),
        (&["--compactness", "NaN"], "compactness"),
        (&["--compactness", "inf"], "compactness"),
        (&["--sigma", "-1"], "sigma"),
        (&["--sigma", "nan"], "sigma"),
        (&["--sigma", "infinity"], "sigma"),
        (&["--iterations", "0"], "max_iterations"),
        (&["--iterations", "-1"], "-1"),
        (&["--min-size-factor", "-0.5"], "unexpected argument"),
        (&["--min-size-factor", "NaN"], "min_size_factor"),
        (&["--min-size-factor", "10"], "max_size_factor"),
        (&["--threads", "0"], "threads"),
        (&["--max-pixels", "-1"], "-1"),
        (&["--boundary-color", "12345"], "colour"),
    ];
    for (args, word) in cases {
        tessera()
            .arg("segment")
            .args(*args)
            .arg("-o")
            .arg(&out)
            .arg(&img)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(*word));
    }
    assert!(!out.exists(), "a refused run creates nothing");
}

#[test]
fn output_folder_that_cannot_be_created_or_written() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("p.png");
    photo(10, 10, 1).save(&img).unwrap();
    let file = dir.path().join("a_file");
    std::fs::write(&file, b"x").unwrap();
    for out in [
        file.join("out"),
        PathBuf::from("/proc/tessera-cannot-be-here"),
    ] {
        tessera()
            .args(["segment", "-o"])
            .arg(&out)
            .arg(&img)
            .assert()
            .code(1)
            .stderr(predicate::str::contains("cannot create the output folder"));
    }
    // A read-only folder: root writes there anyway, so the case is only checked for others.
    let ro = dir.path().join("read_only");
    std::fs::create_dir(&ro).unwrap();
    let mut perms = std::fs::metadata(&ro).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o555);
    std::fs::set_permissions(&ro, perms).unwrap();
    if std::fs::write(ro.join("probe"), b"").is_ok() {
        eprintln!("skipped the read-only folder case: this user (root?) can write in it anyway");
    } else {
        tessera()
            .args(["segment", "-o"])
            .arg(&ro)
            .arg(&img)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(
                "cannot write in the output folder",
            ));
    }
}

#[test]
fn output_folder_equal_to_input_folder_leaves_inputs_alone() {
    let dir = tempfile::tempdir().unwrap();
    for (i, name) in ["a.png", "b.jpg", "c.tif"].iter().enumerate() {
        photo(24, 16, i as u32).save(dir.path().join(name)).unwrap();
    }
    // An input named like another input's output is refused rather than overwritten.
    photo(8, 8, 9)
        .save(dir.path().join("a.overlay.png"))
        .unwrap();
    let before: Vec<(PathBuf, Vec<u8>)> = files_under(dir.path())
        .into_iter()
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();
    let run = || {
        let mut c = tessera();
        c.args(["segment", "-k", "6", "-o"])
            .arg(dir.path())
            .arg(dir.path());
        c
    };
    run().assert().success();
    // Named directly, the would-be victim is protected by the same-file check.
    tessera()
        .args(["segment", "-k", "6", "-o"])
        .arg(dir.path())
        .arg(dir.path().join("a.png"))
        .arg(dir.path().join("a.overlay.png"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("would overwrite the input"));
    run().assert().success();
    for (path, bytes) in before {
        if path.file_name().unwrap() == "a.overlay.png" {
            continue; // it is also a.png's overlay when segmented from the folder
        }
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{} changed",
            path.display()
        );
    }
    // Outputs are never taken as inputs from the folder: the 4 files put there, less
    // a.overlay.png (a.png's overlay, written over it by the folder run), two outputs for each
    // of the three images, and two for a.overlay.png when it was named directly.
    assert_eq!(files_under(dir.path()).len(), 3 + 2 * 3 + 2);
    assert!(temporaries(dir.path()).is_empty());
}

/// A tmpfs of 200 KiB as a disk that fills up: the run stops, names what failed, leaves only
/// whole outputs and no temporaries. Needs `mount` (root); skipped otherwise.
#[test]
fn full_disk_stops_the_run_and_leaves_whole_files() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    for i in 0..12 {
        photo(160, 120, i)
            .save(input.join(format!("p{i:02}.png")))
            .unwrap();
    }
    let mnt = dir.path().join("small_disk");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=200k", "tessera-test"])
        .arg(&mnt)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: cannot mount a small tmpfs here (needs root)");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    let output = tessera()
        .args(["segment", "-j", "1", "-k", "30", "-o"])
        .arg(&mnt)
        .arg(&input)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stderr}");
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(stderr.contains("stopped, the disk is full"), "{stderr}");
    assert!(stderr.contains("not started"), "{stderr}");
    assert!(temporaries(&mnt).is_empty(), "{:?}", temporaries(&mnt));
    assert!(all_pngs_whole(&mnt));
}

/// Ctrl-C stops after the images in flight with exit code 130 and a summary; `--skip-existing`
/// then finishes the job.
#[test]
fn interrupt_stops_cleanly_and_skip_existing_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let total = 120;
    for i in 0..total {
        photo(96, 72, i)
            .save(input.join(format!("p{i:03}.png")))
            .unwrap();
    }
    let out = dir.path().join("out");
    let args = |c: &mut std::process::Command| {
        c.args(["segment", "-j", "1", "-k", "40", "--iterations", "30", "-o"])
            .arg(&out)
            .arg(&input);
    };
    let bin = assert_cmd::cargo::cargo_bin("tessera");
    let mut cmd = std::process::Command::new(&bin);
    args(&mut cmd);
    let child = cmd.stderr(Stdio::piped()).spawn().unwrap();
    // Wait for the first outputs, then send SIGINT.
    let start = Instant::now();
    while files_under(&out)
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".labels.png"))
        .count()
        < 2
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no output appeared"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stderr}");
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted: segmented"), "{stderr}");
    assert!(stderr.contains("not started"), "{stderr}");
    assert!(temporaries(&out).is_empty());
    assert!(all_pngs_whole(&out));
    let done = files_under(&out)
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".labels.png"))
        .count();
    assert!(done >= 2 && done < total as usize, "{done} done");

    let mut resume = tessera();
    resume
        .args([
            "segment",
            "-j",
            "1",
            "-k",
            "40",
            "--iterations",
            "30",
            "--skip-existing",
            "-o",
        ])
        .arg(&out)
        .arg(&input);
    resume
        .assert()
        .success()
        .stderr(predicate::str::contains(format!(
            "skipped {done} already done"
        )));
    let finished = files_under(&out)
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".labels.png"))
        .count();
    assert_eq!(finished, total as usize);
    assert!(temporaries(&out).is_empty());
}
