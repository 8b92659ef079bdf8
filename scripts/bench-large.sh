#!/usr/bin/env bash
# Large-image speed next to fast-slic, in one run: N large images, K superpixels, tessera on 1
# and 2 threads (median of 3 runs of each image's `segment_ms`) and fast-slic AVX2 on 1 and 2
# threads (spbench, --repeat 3), on the same images.
#
#   scripts/bench-large.sh [WxH] [K] [N] [EXTRA_TESSERA_ARGS...]   (default 3840x2160 2000 3)
#
# The images are N BSDS500 val photos upscaled (bicubic) to WxH, which are smooth at that size;
# with MOSAIC=1, N mosaics of WxH tiled with the landscape BSDS500 val photos at their own size
# (481x321; a different run of photos for each mosaic), the textured case, where
# connectivity enforcement costs most:  MOSAIC=1 scripts/bench-large.sh 3840x2160 2000 3
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-3840x2160}; k=${2:-2000}; n=${3:-3}
shift $(( $# < 3 ? $# : 3 ))
data=../shared/data/bsds500/val/images
py=${SPBENCH_PYTHON:-$HOME/.spbench/bin/python}
cargo build --release -q -p tessera-cli
mosaic=${MOSAIC:-0}
dir=target/large/$size$( [ "$mosaic" = 1 ] && echo -mosaic || true ); rm -rf "$dir"; mkdir -p "$dir/in"
if [ "$mosaic" = 1 ]; then
"$py" - "$data" "$dir/in" "$size" "$n" <<'PY'
import os, sys
from PIL import Image
src, dst, size, n = sys.argv[1:]
w, h = map(int, size.split("x"))
# Landscape photos only (481x321), so that the rows of tiles leave no gaps.
photos = [f for f in sorted(os.listdir(src)) if f.endswith(".jpg")
          and Image.open(f"{src}/{f}").width > Image.open(f"{src}/{f}").height]
at = 0
for m in range(int(n)):
    canvas = Image.new("RGB", (w, h))
    y = 0
    while y < h:
        x = 0
        while x < w:
            tile = Image.open(f"{src}/{photos[at % len(photos)]}").convert("RGB")
            at += 1
            canvas.paste(tile, (x, y))
            x += tile.width
        y += tile.height
    canvas.save(f"{dst}/mosaic{m}.png")
PY
else
ids=$(ls "$data" | sort | head -n "$n")
"$py" - "$data" "$dir/in" "$size" $ids <<'PY'
import sys
from PIL import Image
src, dst, size, *ids = sys.argv[1:]
w, h = map(int, size.split("x"))
for f in ids:
    Image.open(f"{src}/{f}").convert("RGB").resize((w, h), Image.BICUBIC).save(f"{dst}/{f.rsplit('.', 1)[0]}.png")
PY
fi
for j in 1 2; do
  for rep in 1 2 3; do
    # One image per run, so that -j threads all work on that image.
    for img in "$dir"/in/*.png; do
      ./target/release/tessera segment "$img" -o "$dir/out" -k "$k" -j "$j" --overlay none \
          --labels none --report "$dir/one.jsonl" "$@" 2>/dev/null
      cat "$dir/one.jsonl" >> "$dir/report_j${j}_$rep.jsonl"
    done
  done
  python3 - "$dir" "$j" <<'PY'
import json, statistics, sys, glob
d, j = sys.argv[1:]
per = {}
for f in glob.glob(f"{d}/report_j{j}_*.jsonl"):
    for line in open(f):
        r = json.loads(line)
        per.setdefault(r["input"], []).append(r["segment_ms"])
meds = [statistics.median(v) for v in per.values()]
segs = [json.loads(l)["segments"] for l in open(f"{d}/report_j{j}_1.jsonl")]
print(f"tessera -j {j}: median over images of per-image medians {statistics.median(meds):.1f} ms, mean segments {sum(segs)/len(segs):.0f}")
PY
done
# The peers read the very images tessera did (the resize is then a no-op).
"$py" ../shared/tools/spbench.py --images "$dir/in" --algos fslic_avx2_1t,fslic_avx2 --k "$k" \
    --resize "$size" --no-metrics --repeat 3 --limit "$n" --quiet --md "$dir/peers.md" >/dev/null
cat "$dir/peers.md"
