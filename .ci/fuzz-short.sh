#!/usr/bin/env bash
# The short fuzz run of CI: every cargo-fuzz target of `fuzz/` (SMTP) and
# `fuzz-extra/` (config, envelope files, IPC frames), built with the same
# coverage flags cargo-fuzz uses with `--sanitizer none` (so no nightly and
# no cargo-fuzz install), each run for FUZZ_SECONDS from its committed seeds
# and regression inputs. A crash fails CI and leaves its input in
# fuzz*/artifacts/. The long runs are documented in RELIABILITY.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-15}
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"

run_dir() {
    local dir=$1; shift
    (cd "$dir" && cargo build --release --quiet --target "$TRIPLE" --target-dir target/cov --bins)
    for t in "$@"; do
        local corpus="$dir/corpus/$t"
        mkdir -p "$corpus" "$dir/artifacts/$t"
        local inputs=("$corpus")
        for extra in "$dir/seeds/$t" "$dir/regressions/$t"; do
            [ -d "$extra" ] && inputs+=("$extra")
        done
        echo "fuzz: $t for ${SECONDS_EACH}s"
        # libFuzzer exits non-zero on a finding. Its status is taken
        # before any filtering: behind a pipe and `|| true` it was lost.
        local log status=0
        log=$(mktemp)
        "$dir/target/cov/$TRIPLE/release/$t" "${inputs[@]}" \
            -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 \
            -artifact_prefix="$dir/artifacts/$t/" -print_final_stats=1 >"$log" 2>&1 || status=$?
        grep -E 'stat::number_of_executed_units|ERROR|panicked|crash' "$log" || true
        rm -f "$log"
        if [ "$status" -ne 0 ]; then
            echo "fuzz: $t found a crash (exit $status; see $dir/artifacts/$t/)"; exit 1
        fi
    done
}

run_dir fuzz smtp_command smtp_data smtp_bdat smtp_reply
run_dir fuzz-extra config_parse envelope_decode ipc_frame
