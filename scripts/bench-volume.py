#!/usr/bin/env python3
"""3-D and many-channel SLIC: tessera beside scikit-image (issue 10's figures).

    cargo build --release --example slic_volume
    ~/.spbench/bin/python scripts/bench-volume.py [--work DIR] [--quick] [--json OUT]

Three cases, each algorithm in a process of its own on one core:

1. The CT-like phantom of `tests/support/phantom.rs` (100 x 160 x 160 voxels at spacing
   2.5 x 0.7 x 0.7, random ellipsoids, blurred, noisy; ground truth from the generator):
   undersegmentation error (Neubert & Protzel, as `spbench.py` computes it in 2-D) at matched
   supervoxel counts (each side's `n_segments` adjusted until its count is within 4% of the
   target), for several compactness values, both clustering the intensities rescaled to 0..1.
2. scikit-image's own SLIC benchmark volume (its asv `SlicSegmentation`: uniform noise of
   shape (200, 200, 100), plus 1 in [:100, :100] and 0.5 in [150:, 150:]), with its call:
   `slic(image, enforce_connectivity=False, channel_axis=None)`.
3. An 8-channel 481 x 321 image (astronaut: RGB, RGB blurred, grey, grey gradient), 400
   superpixels, compactness 0.1 (raw channels, as scikit-image for 8 channels).

Times are CPU seconds of the SLIC call alone (tessera: the on-CPU time of its threads;
scikit-image: `time.process_time()`), so a busy machine disturbs them less than wall time;
both are printed. Peak memory is the process' peak resident set after the call, and its rise
during the call, per voxel.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "target", "release", "examples", "slic_volume")
CT_SPACING = (2.5, 0.7, 0.7)

# Runs scikit-image's slic on a .npy file in a fresh interpreter and prints one JSON line.
SKIMAGE_RUNNER = r"""
import json, resource, sys, time
import numpy as np
from skimage.segmentation import slic
src, out, k, m, spacing, connect, channel_axis = sys.argv[1:8]
img = np.load(src)
kw = dict(n_segments=int(k), compactness=float(m), start_label=0,
          enforce_connectivity=connect == "1",
          channel_axis=None if channel_axis == "none" else int(channel_axis))
if spacing != "none":
    kw["spacing"] = tuple(float(v) for v in spacing.split(","))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0, w0 = time.process_time(), time.perf_counter()
labels = slic(img, **kw)
cpu, wall = time.process_time() - t0, time.perf_counter() - w0
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
np.save(out, labels.astype(np.uint32))
print(json.dumps({"seconds": wall, "cpu_seconds": cpu, "count": int(len(np.unique(labels))),
                  "peak_kib_before": before, "peak_kib_after": after}))
"""

ONE_CORE = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run_json(cmd):
    env = dict(os.environ, **ONE_CORE)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def tessera(src, out, k, m, spacing=None, connect=True, image=False):
    cmd = [EXAMPLE, "segment", src, out, str(k), str(m), "--threads", "1"]
    if spacing:
        cmd += ["--spacing", ",".join(map(str, spacing))]
    if not connect:
        cmd.append("--no-connectivity")
    if image:
        cmd.append("--image")
    return run_json(cmd)


def skimage(src, out, k, m, spacing=None, connect=True, channel_axis=None):
    sp = ",".join(map(str, spacing)) if spacing else "none"
    ca = "none" if channel_axis is None else str(channel_axis)
    return run_json([sys.executable, "-c", SKIMAGE_RUNNER, src, out, str(k), str(m), sp,
                     "1" if connect else "0", ca])


def ue(labels, truth):
    """Undersegmentation error: (1/N) sum_G sum_{S meets G} min(|S & G|, |S - G|)."""
    s = np.unique(labels.ravel(), return_inverse=True)[1].astype(np.int64)
    g = np.unique(truth.ravel(), return_inverse=True)[1].astype(np.int64)
    ng = int(g.max()) + 1
    key, c = np.unique(s * ng + g, return_counts=True)
    sizes = np.bincount(s)
    return float(np.minimum(c, sizes[key // ng] - c).sum()) / s.size


def matched(run, target, tries=5, tol=0.04):
    """Runs `run(n_segments)` until its supervoxel count is within `tol` of `target`."""
    n, best = target, None
    for _ in range(tries):
        r = run(n)
        r["n_segments"] = n
        if best is None or abs(r["count"] - target) < abs(best["count"] - target):
            best = r
        if abs(r["count"] - target) <= tol * target:
            break
        n = max(1, int(round(n * target / max(r["count"], 1))))
    return best


def per_voxel(r, voxels):
    return (r["peak_kib_after"] * 1024 / voxels,
            (r["peak_kib_after"] - r["peak_kib_before"]) * 1024 / voxels)


def row(name, r, voxels, extra=""):
    peak, rise = per_voxel(r, voxels)
    return (f"| {name} | {r['count']} | {r['cpu_seconds']:.3f} | {r['seconds']:.3f} | "
            f"{peak:.1f} | {rise:.1f} |{extra}")


def phantom_case(work, targets, compactness, results):
    prefix = os.path.join(work, "ct")
    subprocess.run([EXAMPLE, "phantom", "ct", "1", prefix], check=True, capture_output=True)
    src, truth = prefix + ".image.npy", np.load(prefix + ".truth.npy")
    voxels = truth.size
    out = os.path.join(work, "labels.npy")
    print(f"\n## CT-like phantom {truth.shape}, spacing {CT_SPACING}, {voxels} voxels\n")
    print("| algorithm | compactness | target | supervoxels | UE | CPU s | wall s | "
          "peak B/voxel | rise B/voxel |")
    print("|---|---|---|---|---|---|---|---|---|")
    for m in compactness:
        for target in targets:
            line = {}
            for name, fn in (("tessera", tessera), ("scikit-image", skimage)):
                r = matched(lambda n: {**fn(src, out, n, m, spacing=CT_SPACING),
                                       "ue": ue(np.load(out), truth)}, target)
                peak, rise = per_voxel(r, voxels)
                print(f"| {name} | {m} | {target} | {r['count']} | {r['ue']:.4f} | "
                      f"{r['cpu_seconds']:.3f} | {r['seconds']:.3f} | {peak:.1f} | {rise:.1f} |",
                      flush=True)
                line[name] = r
            results.append({"case": "phantom", "compactness": m, "target": target, **line})
            t, s = line["tessera"], line["scikit-image"]
            print(f"|  | speed-up (CPU) | | | UE {t['ue'] - s['ue']:+.4f} | "
                  f"x{s['cpu_seconds'] / t['cpu_seconds']:.1f} | "
                  f"x{s['seconds'] / t['seconds']:.1f} | | |", flush=True)


def skimage_volume_case(work, results):
    rng = np.random.default_rng(0)
    img = rng.random((200, 200, 100))
    img[:100, :100, :] += 1
    img[150:, 150:, :] += 0.5
    src = os.path.join(work, "skimage-bench.npy")
    np.save(src, img)
    out = os.path.join(work, "labels.npy")
    print("\n## scikit-image's benchmark volume (200, 200, 100): "
          "slic(image, enforce_connectivity=False), 100 segments, compactness 10\n")
    print("| algorithm | supervoxels | CPU s | wall s | peak B/voxel | rise B/voxel |")
    print("|---|---|---|---|---|---|")
    t = tessera(src, out, 100, 10.0, connect=False)
    s = skimage(src, out, 100, 10.0, connect=False)
    print(row("tessera", t, img.size))
    print(row("scikit-image", s, img.size))
    print(f"\nspeed-up: x{s['cpu_seconds'] / t['cpu_seconds']:.1f} (CPU), "
          f"x{s['seconds'] / t['seconds']:.1f} (wall)")
    results.append({"case": "skimage-volume", "tessera": t, "scikit-image": s})


def eight_channel_case(work, results):
    from skimage import data, filters, transform
    rgb = transform.resize(data.astronaut(), (321, 481), anti_aliasing=True)
    blurred = np.stack([filters.gaussian(rgb[..., c], sigma=2) for c in range(3)], axis=-1)
    grey = rgb.mean(axis=-1)
    grad = filters.sobel(grey)
    img = np.concatenate([rgb, blurred, grey[..., None], grad[..., None]], axis=-1)
    src = os.path.join(work, "eight.npy")
    np.save(src, img.astype(np.float32))
    out = os.path.join(work, "labels.npy")
    print("\n## 8-channel image 481 x 321 (astronaut: RGB, blurred RGB, grey, gradient), "
          "400 superpixels, compactness 0.1\n")
    print("| algorithm | superpixels | CPU s | wall s | peak B/pixel | rise B/pixel |")
    print("|---|---|---|---|---|---|")
    t = tessera(src, out, 400, 0.1, image=True)
    s = skimage(src, out, 400, 0.1, channel_axis=-1)
    print(row("tessera", t, grey.size))
    print(row("scikit-image", s, grey.size))
    print(f"\nspeed-up: x{s['cpu_seconds'] / t['cpu_seconds']:.1f} (CPU), "
          f"x{s['seconds'] / t['seconds']:.1f} (wall)")
    results.append({"case": "8-channel", "tessera": t, "scikit-image": s})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", help="folder for the .npy files (default: a temporary one)")
    ap.add_argument("--quick", action="store_true", help="one compactness, two counts")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--cases", default="phantom,volume,eight",
                    help="comma-separated subset of phantom,volume,eight")
    args = ap.parse_args()
    if not os.path.exists(EXAMPLE):
        sys.exit(f"{EXAMPLE} is missing: cargo build --release --example slic_volume")
    cases = args.cases.split(",")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or tmp
        os.makedirs(work, exist_ok=True)
        if "phantom" in cases:
            if args.quick:
                phantom_case(work, [1000, 4000], [0.1], results)
            else:
                phantom_case(work, [500, 1000, 2000, 4000], [0.05, 0.1, 0.2], results)
        if "volume" in cases:
            skimage_volume_case(work, results)
        if "eight" in cases:
            eight_channel_case(work, results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
