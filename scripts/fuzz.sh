#!/usr/bin/env bash
# Runs every `cargo fuzz` target in fuzz/ for SECONDS each (default 60), one after the other,
# and prints libFuzzer's last status line per target. Crashes land in fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh 300            # five minutes per target
#   SANITIZER=none scripts/fuzz.sh  # without AddressSanitizer (faster; still catches panics)
#
# Needs a nightly toolchain (`rustup toolchain install nightly`) and cargo-fuzz
# (`cargo install cargo-fuzz`). Extra libFuzzer flags can go in FUZZ_FLAGS.
set -euo pipefail
seconds="${1:-60}"
sanitizer="${SANITIZER:-address}"
cd "$(dirname "$0")/../fuzz"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"
status=0
for target in $(cargo +nightly fuzz list); do
    log="$(mktemp)"
    echo "== $target: ${seconds}s (sanitizer: $sanitizer)"
    # -rss_limit_mb: an allocation that gets past the decoder limits is a finding;
    # -timeout: so is a single input that takes more than 10 s.
    if cargo +nightly fuzz run --sanitizer "$sanitizer" "$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        ${FUZZ_FLAGS:-} >"$log" 2>&1; then
        grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || tail -3 "$log"
    else
        status=1
        echo "!! $target failed; the end of its log:"
        tail -40 "$log"
    fi
    rm -f "$log"
done
exit "$status"
