#!/usr/bin/env bash
# Soak (not CI): clients that log in on every request and never log out, against the release
# binary; RSS must stay flat once the idle timeout has passed, with zero errors.
#   scripts/soak.sh [SECONDS=600] [IDLE_SECONDS=30] [CLIENTS=4]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin standin
cargo run --release --quiet --example soak -- --seconds "${1:-600}" --idle "${2:-30}" --clients "${3:-4}"
