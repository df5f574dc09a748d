#!/bin/bash
# profile.sh — where a server spends its CPU under a short load: the top symbols.
#
# usage: bench/profile.sh [options]
#
#   -s SERVER     ours | opensmtpd | postfix                          [ours]
#   -t TOOL       auto | perf | callgrind                             [auto]
#   -w WORKLOAD   maildir | relay | accept                            [maildir]
#   -c N          concurrent sessions                                 [20]
#   -m N          messages (4 KiB, one session each)    [2000; callgrind 200]
#   --top N       symbols to print                                    [40]
#   -o DIR        results directory [bench/results/YYYYmmdd-HHMMSS-profile]
#   --no-build    do not run `cargo build --release -p smtpd`
#
# Tools.  auto picks perf when `perf record` works.  With a hardware PMU
# (`perf stat -e instructions true` counts) perf samples cycles; in a VM
# without one (this machine: "<not supported>") it samples the cpu-clock
# software timer, which still shows where the time goes.  Without perf it
# falls back to valgrind --tool=callgrind, which counts instructions exactly
# (slow, ~50x: fewer messages).
#
# How the server is profiled.  Ours is started under the profiler, so every
# process it re-executes (the privilege-separated roles) is followed.  Under
# callgrind it runs --unprivileged: its chrooted children could not write
# their callgrind files.  The peers are started by the shared scripts, so perf
# records the whole machine (-a) and the report keeps only the server's
# processes (their PIDs are sampled during the load); callgrind cannot attach
# to them.  The load is one run of the shared bench.sh.  The profile data stay
# in DIR for `perf report -i DIR/perf.data` or kcachegrind.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

SERVER=ours
TOOL=auto
WORKLOAD=maildir
CONC=20
MSGS=''
TOP=40
OUT=''
BUILD=1
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
    case $1 in
    -s) SERVER=$2; shift ;;
    -t) TOOL=$2; shift ;;
    -w) WORKLOAD=$2; shift ;;
    -c) CONC=$2; shift ;;
    -m) MSGS=$2; shift ;;
    --top) TOP=$2; shift ;;
    -o) OUT=$2; shift ;;
    --no-build) BUILD=0 ;;
    -h | --help) usage 0 ;;
    *) echo "unknown option $1" >&2; usage 2 ;;
    esac
    shift
done
[ "$(id -u)" = 0 ] || die "run as root"
case $SERVER in ours | opensmtpd | postfix) ;; *) die "unknown server $SERVER" ;; esac
case $WORKLOAD in maildir | relay | accept) ;; *) die "unknown workload $WORKLOAD" ;; esac

# ---------------------------------------------------------------- the tool
PERF_EVENT=cycles
perf_works() { perf record -q -e "$1" -o /dev/null -- true >/dev/null 2>&1; }
if [ "$TOOL" = auto ] || [ "$TOOL" = perf ]; then
    if command -v perf >/dev/null && perf stat -e instructions true 2>&1 | grep -q 'not supported'; then
        PERF_EVENT=cpu-clock
    fi
    if command -v perf >/dev/null && perf_works "$PERF_EVENT"; then
        TOOL=perf
    elif [ "$TOOL" = perf ]; then
        die "perf record does not work here"
    else
        TOOL=callgrind
    fi
fi
case $TOOL in perf | callgrind) ;; *) die "unknown tool $TOOL" ;; esac
if [ "$TOOL" = callgrind ]; then
    [ "$SERVER" = ours ] || die "callgrind can only profile our server (it cannot attach to a running peer)"
    command -v valgrind >/dev/null || die "neither perf nor valgrind is usable"
fi
: "${MSGS:=$([ "$TOOL" = callgrind ] && echo 200 || echo 2000)}"

RES=${OUT:-$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)-profile}
mkdir -p "$RES"
RES=$(cd "$RES" && pwd)
log "results in $RES; tool: $TOOL$([ "$TOOL" = perf ] && echo " ($PERF_EVENT)")"

SYSWIDE_PERF_PID=
BENCH_PID=
cleanup() {
    if [ -n "$BENCH_PID" ] && kill -0 "$BENCH_PID" 2>/dev/null; then kill_tree "$BENCH_PID"; fi
    server_stop "$SERVER"
    if [ -n "$SYSWIDE_PERF_PID" ] && kill -0 "$SYSWIDE_PERF_PID" 2>/dev/null; then
        kill -TERM "$SYSWIDE_PERF_PID"
        wait_gone "$SYSWIDE_PERF_PID" 30 || true
    fi
    BENCH_PID='' SYSWIDE_PERF_PID=''
}
trap 'trap - INT TERM; cleanup; exit 130' INT TERM
trap cleanup EXIT

# ---------------------------------------------------------------- the server
ensure_netns
if [ "$SERVER" = ours ]; then
    if [ "$BUILD" = 1 ] && [ "$SMTPD_BIN" = "$REPO/target/release/smtpd" ]; then
        log "building our server (log $RES/build.log)"
        (cd "$REPO" && cargo build --release -p smtpd) >"$RES/build.log" 2>&1 ||
            { tail -20 "$RES/build.log" >&2; die "build failed"; }
    fi
    ensure_users
    if [ "$TOOL" = perf ]; then
        # DWARF unwinding: release builds have no frame pointers.  999 Hz keeps
        # the 8 KiB stack copies per sample to a manageable file.
        ours_start "$RES/server.log" perf record -e "$PERF_EVENT" -F 999 --call-graph dwarf,8192 \
            -o "$RES/perf.data" -- || die "our server did not start under perf (see $RES/server.log)"
        # perf forks the server: its child is the server's root process.
        ROOT=$(pgrep -P "$OURS_PID" | head -1)
    else
        OURS_EXTRA_ARGS="$OURS_EXTRA_ARGS --unprivileged" OURS_START_TIMEOUT=300 \
            ours_start "$RES/server.log" valgrind --tool=callgrind --trace-children=yes \
            --callgrind-out-file="$RES/callgrind.out.%p" -- ||
            die "our server did not start under callgrind (see $RES/server.log)"
        ROOT=$OURS_PID
    fi
else
    "$SHARED_BENCH/install-peers.sh" >"$RES/install.log" 2>&1 || die "install-peers.sh failed"
    server_start "$SERVER" "$RES/server.log" || die "$SERVER did not start (see $RES/server.log)"
    ROOT=$(server_pid "$SERVER")
    # Everything the machine runs is recorded; the report keeps the server's
    # process tree, rebuilt from the fork events in the data (the peers fork
    # short-lived workers: mail.maildir, local, cleanup ...).
    perf record -a -e "$PERF_EVENT" -F 999 -g -o "$RES/perf.data" >"$RES/perf.log" 2>&1 &
    SYSWIDE_PERF_PID=$!
    sleep 1
fi
log "server root pid $ROOT"

# ---------------------------------------------------------------- the load
case $WORKLOAD in
maildir) target=maildir:$(server_maildir "$SERVER") ;;
relay) target=relay:$SINK_ADDR ;;
accept) target=accept ;;
esac
mkdir -p "$RSBENCH_STATE/work-profile"
log "load: $MSGS messages, $CONC sessions, $WORKLOAD"
BENCH_WORKDIR=$RSBENCH_STATE/work-profile "$SHARED_BENCH/bench.sh" "127.0.0.1:$(server_port "$SERVER")" \
    "$target" -c "$CONC" -m "$MSGS" -r 1 --warmup 0 --timeout 1800 --pid "$ROOT" \
    >"$RES/load.jsonl" 2>"$RES/load.log" &
BENCH_PID=$!
wait "$BENCH_PID" || log "bench.sh failed (see $RES/load.log)"
BENCH_PID=''
grep -h '\[bench\] c=' "$RES/load.log" >&2 || true

# Stopping the server ends the profile: perf and valgrind write their data
# when the processes they follow exit.
cleanup
trap - EXIT

# ---------------------------------------------------------------- the report
if [ "$TOOL" = perf ]; then
    filter=()
    if [ "$SERVER" != ours ]; then
        # PERF_RECORD_FORK(pid:tid):(ppid:ptid) -> the PIDs below ROOT.
        pids=$(perf script -i "$RES/perf.data" --show-task-events -F comm,pid 2>/dev/null | python3 -c '
import re, sys
kids = {}
for m in re.finditer(r"PERF_RECORD_FORK\((\d+):\d+\):\((\d+):\d+\)", sys.stdin.read()):
    if m[1] != m[2]:
        kids.setdefault(m[2], set()).add(m[1])
todo, seen = [sys.argv[1]], set()
while todo:
    p = todo.pop()
    if p not in seen:
        seen.add(p)
        todo.extend(kids.get(p, ()))
print(",".join(sorted(seen, key=int)))' "$ROOT")
        echo "$pids" | tr , '\n' >"$RES/pids"
        # Percentages of the server's samples, not of the whole machine's.
        filter=(--pid "$pids" --percentage relative)
    fi
    {
        echo "## $SERVER: CPU by process name, % of the server's samples (perf, $PERF_EVENT)"
        # Summed from the per-PID view: perf's own `--sort comm` loses the
        # processes that existed before the recording began when --pid filters.
        perf report -i "$RES/perf.data" "${filter[@]}" --stdio --no-children -g none --sort pid \
            2>/dev/null | awk '$1 ~ /%$/ { sub(/%/, "", $1); n = $2; sub(/^[0-9]+:/, "", n);
                pct[n] += $1; procs[n]++; total += $1 }
            END { for (n in pct) printf "%7.2f%%  %-20s (%d processes)\n", pct[n] * 100 / total, n, procs[n] }' |
            sort -rn || true
        echo
        echo "## $SERVER: top $TOP symbols by self time"
        perf report -i "$RES/perf.data" "${filter[@]}" --stdio --no-children -g none \
            --sort comm,dso,sym 2>/dev/null | grep -v '^#' | grep -v '^$' | head -n "$TOP" || true
    } | tee "$RES/top.txt"
else
    {
        echo "## $SERVER: instructions (Ir) by process (callgrind)"
        for f in "$RES"/callgrind.out.*; do
            ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$f" | head -1)
            cmd=$(sed -n 's/^cmd: *//p' "$f" | head -1)
            echo "${ir:-0} ${f##*/} $cmd"
        done | sort -rn >"$RES/by-process.txt"
        head -15 "$RES/by-process.txt"
        for f in $(sort -rn "$RES/by-process.txt" | head -3 | awk '{print $2}'); do
            echo
            echo "## top $TOP functions of $f (self instructions)"
            callgrind_annotate --inclusive=no "$RES/$f" 2>/dev/null | sed -n '/^ *Ir/,$p' | head -n "$((TOP + 2))"
        done
    } | tee "$RES/top.txt"
fi
log "profile data in $RES"
