//! Tiled SLIC on images of any size, for `scripts/bench-tiled.py`: wall time, throughput and
//! peak memory of one run, and, for images that fit, how it compares with the whole-image
//! run (changed pixels; for fast seams the seam index too).
//!
//! The image is procedural: mirrored, repeated copies of a bundled photo, computed for each
//! rectangle a tile reads, so a 50,000 x 50,000 run needs no 7.5 GB file and its memory is
//! the run's own.
//!
//! ```text
//! cargo run --release --example tiled_bench -- --side 8000x8000 --tile 2048 --seams exact \
//!     --segments 25600 [--compare] [--whole] [--threads 2] [--cache-mib 512]
//! ```
//! prints one JSON object.

use std::time::Instant;

/// The CLI's allocator, so that peak memory is what `tessera segment` would take.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tessera::tiled::{Rect, Seams, TileSource, TiledSlic};
use tessera::{Image, Samples, Segmentation, Slic, Superpixels};

/// Mirrored copies of a photo, tiled over the plane.
struct Mirrored {
    photo: image::RgbImage,
    width: u32,
    height: u32,
}

impl Mirrored {
    fn sample(&self, x: u32, y: u32) -> [u8; 3] {
        let fold = |v: u32, n: u32| {
            let m = v % (2 * n);
            if m < n { m } else { 2 * n - 1 - m }
        };
        let (pw, ph) = self.photo.dimensions();
        self.photo.get_pixel(fold(x, pw), fold(y, ph)).0
    }
}

impl TileSource for Mirrored {
    fn width(&self) -> u32 {
        self.width
    }
    fn height(&self) -> u32 {
        self.height
    }
    fn channels(&self) -> usize {
        3
    }
    fn read(&self, r: Rect) -> tessera::Result<Image> {
        let mut s = Vec::with_capacity(r.width as usize * r.height as usize * 3);
        for y in r.y..r.y + r.height {
            for x in r.x..r.x + r.width {
                s.extend_from_slice(&self.sample(x, y));
            }
        }
        Image::new(r.width, r.height, 3, Samples::U8(s))
    }
}

/// Peak resident memory of this process so far, in MiB (Linux `VmHWM`).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Boundary pixels (right or lower neighbour in another segment) within 2 px of a tile
/// border, over their density elsewhere.
fn seam_index(seg: &Segmentation, tile: u32) -> f64 {
    let (w, h) = (seg.width(), seg.height());
    let labels = seg.labels();
    let near = |v: u32, n: u32| {
        let m = v % tile;
        (m < 2 || m >= tile - 2) && v >= 2 && v + 2 < n
    };
    let (mut bn, mut nn, mut bf, mut nf) = (0u64, 0u64, 0u64, 0u64);
    for y in 0..h - 1 {
        for x in 0..w - 1 {
            let i = (y * w + x) as usize;
            let b = labels[i] != labels[i + 1] || labels[i] != labels[i + w as usize];
            if near(x, w) || near(y, h) {
                nn += 1;
                bn += u64::from(b);
            } else {
                nf += 1;
                bf += u64::from(b);
            }
        }
    }
    (bn as f64 / nn.max(1) as f64) / (bf as f64 / nf.max(1) as f64)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let flag = |name: &str| args.iter().any(|a| a == name);
    let side = value("--side").unwrap_or_else(|| "4000x3000".into());
    let (width, height) = side
        .split_once('x')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .expect("--side WxH");
    let tile: u32 = value("--tile").map_or(2048, |v| v.parse().expect("--tile N"));
    let seams = match value("--seams").as_deref() {
        Some("fast") => Seams::Fast {
            halo: value("--halo").map(|v| v.parse().expect("--halo N")),
        },
        _ => Seams::Exact,
    };
    // Default: superpixels of about 50 px a side, the size slide users work with.
    let segments: u32 = value("--segments").map_or_else(
        || ((width as u64 * height as u64) / 2500).max(1) as u32,
        |v| v.parse().expect("--segments N"),
    );
    let threads: usize = value("--threads").map_or(2, |v| v.parse().expect("--threads N"));
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .expect("one global pool");
    let photo = image::open(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/chelsea.png"))
        .expect("assets/chelsea.png")
        .to_rgb8();
    let source = Mirrored {
        photo,
        width,
        height,
    };
    let slic = Slic {
        n_segments: segments,
        ..Slic::default()
    };
    let mpx = width as f64 * height as f64 / 1e6;
    let mut out = serde_json::json!({
        "width": width, "height": height, "tile": tile, "threads": threads,
        "seams": if matches!(seams, Seams::Exact) { "exact" } else { "fast" },
        "segments_asked": segments,
    });
    if flag("--whole") {
        // The whole-image run alone (its own process, so its own peak memory), timed with
        // its read of the image, as the tiled run's reads are timed.
        let t = Instant::now();
        let img = source
            .read(Rect {
                x: 0,
                y: 0,
                width,
                height,
            })
            .expect("image");
        let seg = slic.segment(&img).expect("whole-image run");
        let secs = t.elapsed().as_secs_f64();
        out["whole_secs"] = secs.into();
        out["whole_mpx_per_s"] = (mpx / secs).into();
        out["segments"] = seg.count().into();
        out["peak_rss_mib"] = peak_rss_mib().into();
        println!("{out}");
        return;
    }
    let defaults = TiledSlic::default();
    let tiled = TiledSlic {
        slic: slic.clone(),
        tile,
        seams,
        cache_bytes: value("--cache-mib").map_or(defaults.cache_bytes, |v| {
            v.parse::<usize>().expect("--cache-mib N") << 20
        }),
        ..defaults
    };
    let compare = flag("--compare");
    let mut labels = if compare {
        vec![0u32; width as usize * height as usize]
    } else {
        Vec::new()
    };
    let t = Instant::now();
    let count = tiled
        .run(&source, &|_| {}, &mut |part| {
            if compare {
                let r = part.rect;
                for (row, src) in part.labels.chunks(r.width as usize).enumerate() {
                    let at = (r.y as usize + row) * width as usize + r.x as usize;
                    labels[at..at + src.len()].copy_from_slice(src);
                }
            }
            Ok(())
        })
        .expect("tiled run");
    let secs = t.elapsed().as_secs_f64();
    out["secs"] = secs.into();
    out["mpx_per_s"] = (mpx / secs).into();
    out["segments"] = count.into();
    out["peak_rss_mib"] = peak_rss_mib().into();
    if compare {
        let img = source
            .read(Rect {
                x: 0,
                y: 0,
                width,
                height,
            })
            .expect("image");
        let t = Instant::now();
        let whole = slic.segment(&img).expect("whole-image run");
        out["whole_secs"] = t.elapsed().as_secs_f64().into();
        let parts = Segmentation::from_labels(width, height, labels).expect("a label map");
        let same = whole
            .labels()
            .iter()
            .zip(parts.labels())
            .filter(|(a, b)| a != b)
            .count();
        out["pixels_with_other_label"] = same.into();
        let c = tessera::compare::compare(&whole, &parts).expect("same size");
        out["changed_fraction"] = c.changed_fraction.into();
        out["seam_index"] = seam_index(&parts, tile).into();
        out["seam_index_whole"] = seam_index(&whole, tile).into();
    }
    println!("{out}");
}
