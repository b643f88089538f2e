#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 600), one after another:
#   bash fuzz/run.sh [SECONDS]
# Needs cargo-fuzz (cargo install cargo-fuzz). cargo-fuzz wants a nightly
# compiler for its sanitizer flags; on a stable toolchain RUSTC_BOOTSTRAP=1
# lets stable rustc accept them (the sanitizer runtimes ship with stable).
# Crashes land in fuzz/artifacts/TARGET/; the corpus grows in fuzz/corpus/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
secs=${1:-600}
export RUSTC_BOOTSTRAP=1
for target in bridge commands route_json stanza; do
    echo "=== $target: ${secs}s"
    cargo fuzz run -O "$target" -- -max_total_time="$secs" -print_final_stats=1
done
