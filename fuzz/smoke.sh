#!/usr/bin/env bash
# Bounded fuzz smoke run for CI: builds the cargo-afl targets and runs
# each for a few seconds from its committed seeds. Fails if a target
# crashes (or cannot run). Needs cargo-afl (see fuzz/README.md).
#   fuzz/smoke.sh [SECONDS_PER_TARGET]   (default 8)
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-8}"
targets=(ballot entry note tile manifest registry_csv amendment dkg trustee record http)
if ! cargo afl --version >/dev/null 2>&1; then
    echo "fuzz/smoke.sh: cargo-afl is missing: cargo install cargo-afl --locked && cargo afl config --build" >&2
    exit 1
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo afl build --release -j 2 2>&1 | tail -2
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 \
    AFL_BENCH_UNTIL_CRASH=1 AFL_NO_AFFINITY=1 AFL_QUIET=1
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=0
passed=0
for t in "${targets[@]}"; do
    out="$work/$t"
    cargo afl fuzz -V "$secs" -i "seeds/$t" -o "$out" "$CARGO_TARGET_DIR/release/$t" \
        >"$work/$t.log" 2>&1 || true
    crashes=$(find "$out/default/crashes" -type f -name 'id:*' 2>/dev/null | wc -l)
    execs=$(sed -n 's/^execs_done *: *//p' "$out/default/fuzzer_stats" 2>/dev/null || echo 0)
    if [ ! -f "$out/default/fuzzer_stats" ]; then
        echo "fuzz $t: did not run"; tail -5 "$work/$t.log"; failed=$((failed + 1))
    elif [ "$crashes" -gt 0 ]; then
        echo "fuzz $t: $crashes crash(es) in $execs executions:"
        find "$out/default/crashes" -type f -name 'id:*' | head -3
        failed=$((failed + 1))
    else
        echo "fuzz $t: ok, $execs executions in ${secs}s"; passed=$((passed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
