#!/usr/bin/env bash
# Scores tessera against the peers on BSDS500 with the reference harness, in one run.
#
#   scripts/bench-bsds.sh [SPLIT] [KS] [PEERS] [EXTRA_TESSERA_ARGS...]
#   e.g. scripts/bench-bsds.sh val 200,400,800 slic_sk,fslic_avx2_1t --algo slic
#
# Needs ../shared (BSDS500 and spbench; set up once with ../shared/tools/setup.sh).
# tessera runs on one thread (-j 1); its per-image `segment_ms` goes to spbench as timings.
# Results: target/bsds/<split>/summary.md and summary.tsv.
# SPBENCH_EXTRA: more spbench options, e.g. SPBENCH_EXTRA=--split-disconnected.
set -euo pipefail
cd "$(dirname "$0")/.."
split=${1:-val}; ks=${2:-400}; peers=${3:-slic_sk,fslic_avx2_1t}
shift $(( $# < 3 ? $# : 3 ))
data=../shared/data/bsds500/$split
py=${SPBENCH_PYTHON:-$HOME/.spbench/bin/python}
[ -d "$data" ] || { echo "no BSDS500 at $data" >&2; exit 1; }
[ -x "$py" ] || { echo "spbench not set up: run ../shared/tools/setup.sh" >&2; exit 1; }
cargo build --release -q -p tessera-cli
out=target/bsds/$split
labels_args=()
IFS=, read -ra klist <<< "$ks"
for k in "${klist[@]}"; do
  dir=$out/tessera_k$k
  rm -rf "$dir"; mkdir -p "$dir/raw"
  ./target/release/tessera segment "$data/images" -o "$dir/raw" -k "$k" -j 1 \
      --overlay none --report "$dir/report.jsonl" "$@" 2>/dev/null
  python3 - "$dir" <<'PY'
import json, os, sys
d = sys.argv[1]
with open(os.path.join(d, "timings.tsv"), "w") as t:
    for line in open(os.path.join(d, "report.jsonl")):
        r = json.loads(line)
        i = os.path.splitext(os.path.basename(r["input"]))[0]
        os.symlink(os.path.abspath(os.path.join(d, "raw", i + ".labels.png")), os.path.join(d, i + ".png"))
        t.write(f"{i}\t{r['segment_ms'] / 1000:.6f}\n")
PY
  labels_args+=(--labels "tessera=$dir@$k")
done
"$py" ../shared/tools/spbench.py ${SPBENCH_EXTRA:-} --images "$data/images" --gt "$data/gt" \
    --algos "$peers" --k "$ks" "${labels_args[@]}" \
    --out "$out/summary.tsv" --md "$out/summary.md"
cat "$out/summary.md"
