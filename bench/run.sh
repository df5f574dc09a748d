#!/bin/bash
# run.sh — our server, OpenSMTPD and Postfix on identical work, in one run.
#
# usage: bench/run.sh [options]          (as root, from anywhere)
#
#   -r N          runs per concurrency (the median is reported)      [3]
#   -m N          messages per run (4 KiB, one SMTP session each)   [5000]
#   -c LIST       concurrent sessions, comma list                   [1,20,100]
#   -w LIST       workloads: maildir (local delivery), relay (to an
#                 smtp-sink on 127.0.0.1:2600)                      [maildir]
#   -s LIST       servers: ours,opensmtpd,postfix                   [all three]
#   -q, --quick   smoke test: -m 300 -r 1 --warmup 20 --stall 20
#   -o DIR        results directory          [bench/results/YYYYmmdd-HHMMSS]
#   --no-build    do not run `cargo build --release -p smtpd`
#   --no-install  do not run ../shared/bench/install-peers.sh
#   --warmup N    messages sent once before each block's runs       [200]
#   --stall S     give up on a block when no message was delivered
#                 for S seconds (a server that does not deliver)    [60]
#   --timeout S   per-run limit passed to bench.sh                  [900]
#
# Environment: SMTPD_BIN (our binary, default target/release/smtpd),
#   OURS_EXTRA_ARGS (more flags for it), NETNS [rsbench], SHARED_BENCH.
#
# What it does: installs the peers if missing, builds our release binary,
# creates the bench user, then for every workload x concurrency runs each
# server in turn — started fresh with an empty queue inside the private netns,
# measured with the shared bench.sh (Postfix's smtp-source as the client),
# stopped — so that the servers see the same conditions and a burst of other
# load on this shared machine hits all of them rather than one.  The raw JSON
# lines, logs and the environment go into the results directory; the table
# (report.py) is printed and saved as table.md there.
#
# Every server it started is stopped by its recorded PID on exit, error or
# Ctrl-C.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

RUNS='' MSGS='' WARMUP='' STALL='' OUT=''
QUICK=0
CONCS=1,20,100
WORKLOADS=maildir
SERVERS=ours,opensmtpd,postfix
TIMEOUT=900
BUILD=1
INSTALL=1
ARGS="$*"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
    case $1 in
    -r) RUNS=$2; shift ;;
    -m) MSGS=$2; shift ;;
    -c) CONCS=$2; shift ;;
    -w) WORKLOADS=$2; shift ;;
    -s) SERVERS=$2; shift ;;
    -o) OUT=$2; shift ;;
    -q | --quick) QUICK=1 ;;
    --no-build) BUILD=0 ;;
    --no-install) INSTALL=0 ;;
    --warmup) WARMUP=$2; shift ;;
    --stall) STALL=$2; shift ;;
    --timeout) TIMEOUT=$2; shift ;;
    -h | --help) usage 0 ;;
    *) echo "unknown option $1" >&2; usage 2 ;;
    esac
    shift
done
# Quick mode only changes what was not given explicitly.
if [ "$QUICK" = 1 ]; then
    : "${RUNS:=1}" "${MSGS:=300}" "${WARMUP:=20}" "${STALL:=20}"
fi
: "${RUNS:=3}" "${MSGS:=5000}" "${WARMUP:=200}" "${STALL:=60}"

[ "$(id -u)" = 0 ] || die "run as root (servers run privilege-separated, in a netns)"
for s in ${SERVERS//,/ }; do
    case $s in ours | opensmtpd | postfix) ;; *) die "unknown server $s" ;; esac
done
for w in ${WORKLOADS//,/ }; do
    case $w in maildir | relay) ;; *) die "unknown workload $w" ;; esac
done

suffix=''
[ "$QUICK" = 1 ] && suffix=-quick
RES=${OUT:-$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)$suffix}
mkdir -p "$RES"
RES=$(cd "$RES" && pwd)
STATUS=$RES/status.tsv
: >"$STATUS"
log "results in $RES"

has_server() { [[ ",$SERVERS," == *",$1,"* ]]; }

# ---------------------------------------------------------------- cleanup
BENCH_PID=
cleanup() {
    if [ -n "$BENCH_PID" ] && kill -0 "$BENCH_PID" 2>/dev/null; then kill_tree "$BENCH_PID"; fi
    BENCH_PID=
    stop_all_servers
}
on_signal() {
    trap - INT TERM
    log "interrupted: stopping the load and every server started here"
    cleanup
    exit 130
}
trap on_signal INT TERM
trap cleanup EXIT

# ---------------------------------------------------------------- setup
OURS_OK=1
if [ "$INSTALL" = 1 ]; then
    # Idempotent: apt only runs when a package is missing.  --bench-only
    # (smtp-source/smtp-sink) is enough when no peer is measured.
    flag=--bench-only
    if has_server opensmtpd || has_server postfix; then flag=; fi
    log "checking the peers (install-peers.sh $flag)"
    "$SHARED_BENCH/install-peers.sh" ${flag:+"$flag"} >"$RES/install.log" 2>&1 ||
        { tail -20 "$RES/install.log" >&2; die "install-peers.sh failed"; }
fi
if has_server ours; then
    if [ "$BUILD" = 1 ] && [ "$SMTPD_BIN" = "$REPO/target/release/smtpd" ]; then
        log "building our server (cargo build --release -p smtpd; log $RES/build.log)"
        if ! (cd "$REPO" && cargo build --release -p smtpd) >"$RES/build.log" 2>&1; then
            tail -20 "$RES/build.log" >&2
            log "BUILD FAILED: our server is skipped, the peers are still measured"
            OURS_OK=0
        fi
    fi
    [ -x "$SMTPD_BIN" ] || { log "no binary $SMTPD_BIN: our server is skipped"; OURS_OK=0; }
    ensure_users
fi
ensure_netns
mkdir -p "$RSBENCH_STATE"

{
    echo "command: bench/run.sh $ARGS"
    echo "date: $(date -u +%FT%TZ)"
    echo "repo: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet HEAD 2>/dev/null || echo ' (uncommitted changes)')"
    echo "our binary: $SMTPD_BIN"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "kernel: $(uname -r)  cpus: $(nproc)  mem: $(free -m | awk '/Mem:/{print $2}') MiB"
    echo "fs of $RSBENCH_STATE and $PEERS_STATE: $(df -T "$RSBENCH_STATE" | awk 'NR==2{print $2, $1}'), $(df -T "$PEERS_STATE" | awk 'NR==2{print $2, $1}')"
    echo "opensmtpd $(dpkg-query -W -f='${Version}' opensmtpd 2>/dev/null || echo '?') (tuned: listen backlog $OPENSMTPD_BACKLOG, mta limit $OPENSMTPD_MTA_LIMITS)"
    echo "postfix $(pfx_version) (unpacked, stock)"
    echo "work: $MSGS msgs x 4096 B, one session per message, sessions $CONCS, $RUNS runs, warmup $WARMUP"
    python3 "$BENCH_DIR/fsync-cost.py" -n 200 "$RSBENCH_STATE"
} >"$RES/environment.txt" 2>&1
cat "$RES/environment.txt" >&2

# ---------------------------------------------------------------- one block
# How many messages have arrived so far (Maildir files, or the "mesg=N"
# counter of the smtp-sink that bench.py starts in its workdir).
delivered_so_far() { # SERVER WORKLOAD
    local d
    if [ "$2" = maildir ]; then
        d=$(server_maildir "$1")
        find "$d/new" "$d/cur" -maxdepth 1 -type f 2>/dev/null | wc -l
    else
        tail -c 256 "$RSBENCH_STATE/work-$1/bench-sink.out" 2>/dev/null | tr '\r' '\n' |
            sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -1 | grep . || echo 0
    fi
}

record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$STATUS"; }

# run_block SERVER WORKLOAD CONC: fresh server, bench.sh for one concurrency.
run_block() {
    local server=$1 wl=$2 conc=$3 target pid last n since status=ok rc=0
    local base=$RES/$server-$wl
    log "=== $server, $wl, $conc sessions: $RUNS x $MSGS messages"
    if [ "$server" = ours ] && [ "$OURS_OK" = 0 ]; then
        record "$server" "$wl" "$conc" "not built"
        return
    fi
    server_stop "$server"
    if ! server_start "$server" "$base.server.log"; then
        log "$server did not start (see $base.server.log)"
        record "$server" "$wl" "$conc" "start failed"
        server_stop "$server"
        return
    fi
    pid=$(server_pid "$server")
    case $wl in
    maildir) target=maildir:$(server_maildir "$server") ;;
    relay) target=relay:$SINK_ADDR ;;
    esac
    mkdir -p "$RSBENCH_STATE/work-$server"
    # In the background so that this shell can watch for a server that
    # accepts but never delivers (bench.py would wait --timeout per run).
    BENCH_WORKDIR=$RSBENCH_STATE/work-$server "$SHARED_BENCH/bench.sh" "127.0.0.1:$(server_port "$server")" \
        "$target" -c "$conc" -m "$MSGS" -r "$RUNS" --warmup "$WARMUP" --timeout "$TIMEOUT" \
        ${pid:+--pid "$pid"} >>"$base.jsonl" 2>>"$base.bench.log" &
    BENCH_PID=$!
    last=-1
    since=$SECONDS
    while kill -0 "$BENCH_PID" 2>/dev/null; do
        sleep 2
        n=$(delivered_so_far "$server" "$wl")
        if [ "$n" != "$last" ]; then
            last=$n
            since=$SECONDS
        elif ((SECONDS - since >= STALL)); then
            log "$server: no message delivered for ${STALL}s (stuck at $n): giving up on this block"
            kill_tree "$BENCH_PID"
            status="stalled: no delivery for ${STALL}s"
            break
        fi
    done
    wait "$BENCH_PID" || rc=$?
    BENCH_PID=
    if [ "$status" = ok ] && [ "$rc" != 0 ]; then
        status="bench.sh exit $rc"
        tail -5 "$base.bench.log" >&2
    fi
    server_stop "$server"
    record "$server" "$wl" "$conc" "$status"
    python3 - "$base.jsonl" "$conc" <<'EOF' >&2 || true
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
s = [o for o in s if o["type"] == "summary" and o["concurrency"] == int(sys.argv[2])]
if s:
    o = s[-1]
    print(f"    delivered {o['deliver_mps_median']} msg/s median (runs {o['deliver_mps_min']}-{o['deliver_mps_max']}), "
          f"cpu {o['server_cpu_ms_per_msg_median']} ms/msg, peak PSS {o['peak_pss_kb_max'] / 1024:.0f} MB, "
          f"all delivered: {o['all_delivered']}")
EOF
}

# ---------------------------------------------------------------- the matrix
for wl in ${WORKLOADS//,/ }; do
    for conc in ${CONCS//,/ }; do
        for server in ${SERVERS//,/ }; do
            run_block "$server" "$wl" "$conc"
        done
    done
done

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RES/environment.txt"
{
    echo "# bench/run.sh $ARGS"
    echo
    echo "$(date -u +%FT%TZ), repo $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'); raw data and environment in $RES"
    echo
    python3 "$BENCH_DIR/report.py" "$RES"
} | tee "$RES/table.md"
