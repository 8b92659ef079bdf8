#!/usr/bin/env bash
# The figure docs/etps-compactness.png: ETPS on the chelsea sample at four compactness values
# (400 superpixels asked), boundaries drawn, side by side with their labels.
#
#   scripts/etps-compactness.sh            (needs Python 3 with Pillow: e.g. ~/.spbench/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-$HOME/.spbench/bin/python}
cargo build --release -q -p tessera-cli
out=target/etps-compactness; rm -rf "$out"; mkdir -p "$out"
values=(0.5 1 4 16)
for m in "${values[@]}"; do
  ./target/release/tessera segment assets/chelsea.png -o "$out/m$m" -k 400 --algo etps \
      --etps-compactness "$m" --labels none >/dev/null
done
"$py" - "$out" "${values[@]}" <<'PY'
import sys
from PIL import Image, ImageDraw
out, values = sys.argv[1], sys.argv[2:]
tiles = [Image.open(f"{out}/m{m}/chelsea.overlay.png").convert("RGB") for m in values]
w, h = tiles[0].size
pad = 24
sheet = Image.new("RGB", (w * len(tiles), h + pad), "white")
draw = ImageDraw.Draw(sheet)
for i, (m, t) in enumerate(zip(values, tiles)):
    sheet.paste(t, (i * w, pad))
    draw.text((i * w + 6, 6), f"--etps-compactness {m}", fill="black")
sheet.save("docs/etps-compactness.png", optimize=True)
PY
echo "wrote docs/etps-compactness.png"
