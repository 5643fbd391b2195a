#!/usr/bin/env bash
# Builds the fuzz targets of crates/push-engine/fuzz (cargo-fuzz on the
# stable toolchain: no sanitizer, debug assertions on) and runs each for
# FUZZ_SECONDS (default 10) from its committed seeds; fails on the first
# crash, whose input cargo-fuzz keeps in crates/push-engine/fuzz/artifacts/.
# Longer runs: docs/testing.md, "Fuzzing".
source "$(dirname "$0")/lib.sh"
seconds="${FUZZ_SECONDS:-10}"
apt_need g++
if ! command -v cargo-fuzz >/dev/null; then
    say "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
cd "$ROOT/crates/push-engine/fuzz"
say "cargo fuzz build"
cargo fuzz build --sanitizer none --debug-assertions
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for target in $(cargo fuzz list); do
    mkdir -p "$work/$target"
    # The first directory collects what this run finds (thrown away); the
    # seeds are only read.
    if ! cargo fuzz run --sanitizer none --debug-assertions "$target" "$work/$target" "seeds/$target" \
        -- -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 >"$work/$target.log" 2>&1; then
        tail -n 40 "$work/$target.log" >&2
        say "fuzz $target: FAILED (the input is in crates/push-engine/fuzz/artifacts/$target/)"
        exit 1
    fi
    say "fuzz $target: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$work/$target.log" | tail -n 1)"
done
