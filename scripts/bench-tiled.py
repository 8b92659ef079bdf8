#!/usr/bin/env python3
"""Figures of tiled SLIC (issue 12): exactness against the whole-image run for several tile
sizes and thread counts, fast seams' changed pixels and seam index, peak memory and
throughput against image side, each run in a process of its own (peak memory is per process).

    cargo build --release --example tiled_bench
    python3 scripts/bench-tiled.py [--quick] [--sizes 8000x8000,16000x16000,...] > tiled.jsonl

Prints one JSON object per run (see examples/tiled_bench.rs) and a summary table on stderr.
The images are procedural (mirrored copies of assets/chelsea.png), superpixels about 50 px
a side unless --segments is given.
"""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "examples", "tiled_bench")


def run(*args: str) -> dict:
    out = subprocess.run([BIN, *args], check=True, capture_output=True, text=True)
    rec = json.loads(out.stdout)
    print(json.dumps(rec), flush=True)
    return rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small images only")
    ap.add_argument("--sizes", default="8000x8000,16000x16000,32000x32000,40000x30000,50000x50000")
    ap.add_argument("--exact-side", default="4000x3000")
    ap.add_argument("--threads", default="2")
    ap.add_argument("--skip", default="", help="comma list of: exact,fast,memory,throughput")
    a = ap.parse_args()
    if not os.path.exists(BIN):
        sys.exit(f"build first: cargo build --release --example tiled_bench ({BIN})")
    skip = set(filter(None, a.skip.split(",")))
    side = "1200x900" if a.quick else a.exact_side
    lines = []
    if "exact" not in skip:
        for threads in ("1", "2"):
            for tile in ("256", "512", "1000", "2048"):
                r = run("--side", side, "--tile", tile, "--threads", threads, "--compare")
                lines.append(
                    f"exact {side} tile {tile:>4} threads {threads}: "
                    f"{r['pixels_with_other_label']} pixels with another label, "
                    f"{r['segments']} segments"
                )
    if "fast" not in skip:
        for tile in ("512", "1000", "2048"):
            r = run("--side", side, "--tile", tile, "--seams", "fast", "--threads", a.threads, "--compare")
            lines.append(
                f"fast  {side} tile {tile:>4}: changed {100 * r['changed_fraction']:.3f}% of pixels, "
                f"seam index {r['seam_index']:.3f} (whole-image map on the same grid: "
                f"{r['seam_index_whole']:.3f})"
            )
    if "throughput" not in skip:
        fit = "2000x2000" if a.quick else "8000x8000"
        w = run("--side", fit, "--whole", "--threads", a.threads)
        t = run("--side", fit, "--threads", a.threads)
        lines.append(
            f"throughput {fit}: whole {w['whole_mpx_per_s']:.2f} Mpx/s "
            f"({w['whole_secs']:.1f} s, peak {w['peak_rss_mib']:.0f} MiB), tiled exact "
            f"{t['mpx_per_s']:.2f} Mpx/s ({t['secs']:.1f} s, peak {t['peak_rss_mib']:.0f} MiB): "
            f"ratio {t['mpx_per_s'] / w['whole_mpx_per_s']:.2f}"
        )
    if "memory" not in skip:
        sizes = ["2000x2000", "4000x4000"] if a.quick else a.sizes.split(",")
        for s in sizes:
            for seams in ("exact", "fast"):
                r = run("--side", s, "--seams", seams, "--threads", a.threads)
                lines.append(
                    f"memory {s:>11} {seams}: peak {r['peak_rss_mib']:.0f} MiB, "
                    f"{r['secs']:.1f} s, {r['mpx_per_s']:.2f} Mpx/s, {r['segments']} segments"
                )
    for line in lines:
        print(line, file=sys.stderr)


if __name__ == "__main__":
    main()
