#!/bin/sh
# run.sh TARGET [SECONDS] [extra cargo-fuzz args] — fuzz one target of
# fuzz-extra on the stable toolchain (no sanitizer), starting from the
# committed seeds. Run from anywhere; needs `cargo install cargo-fuzz`.
#   fuzz-extra/run.sh envelope_decode 60      (CI's short run)
#   fuzz-extra/run.sh ipc_frame 3600          (the long run)
#   fuzz-extra/run.sh config_parse 600
#   fuzz-extra/run.sh envelope_decode replay   (run regressions/TARGET/* once)
# Crashes land in fuzz-extra/artifacts/TARGET/; each becomes a regression
# test in the crate it hit, and its input goes to regressions/TARGET/.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
T=${1:?target: config_parse | envelope_decode | ipc_frame}
S=${2:-60}
shift; [ $# -gt 0 ] && shift
mkdir -p "$HERE/corpus/$T" "$HERE/seeds/$T" "$HERE/regressions/$T"
cd "$HERE/.."
if [ "$S" = replay ]; then
    exec cargo fuzz run --fuzz-dir fuzz-extra --sanitizer none -O "$@" "$T" \
        "fuzz-extra/regressions/$T" -- -runs=0
fi
exec cargo fuzz run --fuzz-dir fuzz-extra --sanitizer none -O "$@" "$T" \
    "fuzz-extra/corpus/$T" "fuzz-extra/seeds/$T" -- -max_total_time="$S" -rss_limit_mb=2048
