#!/usr/bin/env bash
# Bounded fuzzing of Standin's parsers (not CI): every cargo-fuzz target for SECONDS each (default
# 60), seeded from fuzz/seeds/, then the stable replay runner over the grown corpus.
# Needs a nightly toolchain and cargo-fuzz:
#   rustup toolchain install nightly && cargo install cargo-fuzz
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-60}"
targets=(cookie basic oracle_sdm_login storware_login scenario)
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    echo "== $t: ${seconds}s"
    cargo +nightly fuzz run "$t" "corpus/$t" "seeds/$t" -- -max_total_time="$seconds" -rss_limit_mb=2048 2>&1 \
        | grep -E '^(#[0-9]+\s+DONE|Done|==[0-9]+==|SUMMARY|.*panicked)' || true
    if [ -n "$(ls -A "artifacts/$t" 2>/dev/null)" ]; then
        echo "$t: crash artifacts in fuzz/artifacts/$t" >&2
        exit 1
    fi
done
cargo run --release --quiet --bin replay -- --random 10000
