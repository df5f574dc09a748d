#!/bin/bash
# cpu-by-process.sh — where our server's CPU and context switches go, per
# process and thread, for one load.
#
# usage: bench/cpu-by-process.sh [options]        (as root)
#
#   -w WORKLOAD   maildir | relay                                 [maildir]
#   -c N          concurrent sessions                             [20]
#   -m N          messages (4 KiB, one session each)              [3000]
#   --no-build    do not run `cargo build --release -p smtpd`
#
# Starts our server as run.sh does (privilege-separated, in the bench netns),
# warms it up with 300 messages, then reads utime+stime and the voluntary and
# involuntary context switches of every thread of every process of the tree
# from /proc before and after the measured load (one run of the shared
# bench.sh), and prints them per message: one line per role (sync threads of
# the queue and delivery workers summed), then the total.  Cheap enough to run
# after every change, and steadier than throughput for A/B comparisons: the
# counts per message do not depend on how busy the rest of the machine is.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

WORKLOAD=maildir CONC=20 MSGS=3000 BUILD=1
while [ $# -gt 0 ]; do
    case $1 in
    -w) WORKLOAD=$2; shift ;;
    -c) CONC=$2; shift ;;
    -m) MSGS=$2; shift ;;
    --no-build) BUILD=0 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1" ;;
    esac
    shift
done
case $WORKLOAD in
maildir) target=maildir:$OURS_MAILDIR ;;
relay) target=relay:$SINK_ADDR ;;
*) die "unknown workload $WORKLOAD" ;;
esac
[ "$(id -u)" = 0 ] || die "run as root"
if [ "$BUILD" = 1 ]; then
    (cd "$REPO" && cargo build --release -p smtpd) >&2
fi
ensure_users
ensure_netns
mkdir -p "$RSBENCH_STATE/work-ours"
OUT=$(mktemp -d /tmp/cpu-by-process.XXXXXX)
trap 'ours_stop; rm -rf "$OUT"' EXIT
ours_start "$OUT/server.log" || die "our server did not start (see $OUT/server.log)"

# One line per thread: "ROLE/THREAD voluntary involuntary cpu_ticks".
snapshot() {
    local p task role
    for p in $OURS_PID $(descendants "$OURS_PID"); do
        role=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -o -- '-x [a-z]*' | cut -c4- || true)
        role=${role:-parent}
        for task in /proc/"$p"/task/*; do
            awk -v k="$role/$(tr ' ' _ <"$task/comm" 2>/dev/null)" \
                '/^voluntary_ctxt/{v=$2} /^nonvoluntary_ctxt/{n=$2} END{printf "%s %d %d ", k, v, n}' \
                "$task/status" 2>/dev/null || continue
            awk '{print $14 + $15}' "$task/stat" 2>/dev/null || echo 0
        done
    done
}

load() { # MSGS WARMUP
    BENCH_WORKDIR=$RSBENCH_STATE/work-ours "$SHARED_BENCH/bench.sh" "127.0.0.1:$OURS_PORT" "$target" \
        -c "$CONC" -m "$1" -r 1 --warmup "$2" --pid "$OURS_PID" >"$OUT/load.jsonl" 2>"$OUT/load.log"
}

load 300 0
snapshot >"$OUT/before"
load "$MSGS" 0
snapshot >"$OUT/after"
hz=$(getconf CLK_TCK)
echo "our server, $WORKLOAD, $CONC sessions, $MSGS messages ($(git -C "$REPO" rev-parse --short HEAD)):"
python3 - "$OUT/before" "$OUT/after" "$MSGS" "$hz" "$OUT/load.jsonl" <<'EOF'
import json, re, sys
def read(path):
    out = {}
    for line in open(path):
        k, v, n, c = line.split()
        # Threads that ended between the snapshots drop out; numbered
        # threads of one kind are summed.
        k = re.sub(r"queue-sync-\d+", "queue-sync-*", k)
        k = re.sub(r"^worker/.*", "worker/(delivery workers)", k)
        a = out.setdefault(k, [0, 0, 0])
        a[0] += int(v); a[1] += int(n); a[2] += int(c)
    return out
before, after, msgs, hz = read(sys.argv[1]), read(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rows, total = [], [0.0, 0.0, 0.0]
for k, (v, n, c) in after.items():
    b = before.get(k, [0, 0, 0])
    d = [(v - b[0]) / msgs, (n - b[1]) / msgs, (c - b[2]) * 1000 / hz / msgs]
    if d[2] <= 0 and d[0] <= 0:
        continue
    rows.append((d[2], k, d))
    total = [t + x for t, x in zip(total, d)]
print(f"{'process/thread':<34} {'CPU ms/msg':>10} {'vol. cs/msg':>12} {'invol. cs/msg':>14}")
for _, k, d in sorted(rows, reverse=True):
    print(f"{k:<34} {d[2]:>10.3f} {d[0]:>12.2f} {d[1]:>14.2f}")
print(f"{'total':<34} {total[2]:>10.3f} {total[0]:>12.2f} {total[1]:>14.2f}")
for line in open(sys.argv[5]):
    o = json.loads(line) if line.startswith("{") else {}
    if o.get("type") == "summary":
        print(f"delivered {o['deliver_mps_median']} msg/s; bench.sh's server CPU {o['server_cpu_ms_per_msg_median']} ms/msg")
EOF
