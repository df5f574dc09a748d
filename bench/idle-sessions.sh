#!/bin/bash
# idle-sessions.sh — N idle SMTP sessions held by each server, and a client still served.
#
# usage: bench/idle-sessions.sh [options] [-- idle-sessions.py options]
#
#   -n N          idle sessions to open                           [10000]
#   -s LIST       servers: ours,opensmtpd,postfix                 [all three]
#   -o DIR        results directory   [bench/results/YYYYmmdd-HHMMSS-idle]
#   --no-build    do not run `cargo build --release -p smtpd`
#   after --: passed to idle-sessions.py, e.g. --hold 30 --probes 5
#
# Each server is started alone in the private netns (as in run.sh, OpenSMTPD
# with its listen backlog raised), with a file descriptor limit that allows
# N sessions, then idle-sessions.py opens N sessions from 127.0.0.1, sums the
# PSS of the server's processes, and times full SMTP transactions from
# 127.0.0.2 while the sessions are held.  The issue's goal: 10,000 sessions
# in < 256 MB PSS, the probe still served promptly.  JSON lines go to
# DIR/idle.jsonl, the table to DIR/idle.md.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

SESSIONS=10000
SERVERS=ours,opensmtpd,postfix
OUT=''
BUILD=1
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
    case $1 in
    -n) SESSIONS=$2; shift ;;
    -s) SERVERS=$2; shift ;;
    -o) OUT=$2; shift ;;
    --no-build) BUILD=0 ;;
    -h | --help) usage 0 ;;
    --) shift; break ;;
    *) echo "unknown option $1" >&2; usage 2 ;;
    esac
    shift
done
[ "$(id -u)" = 0 ] || die "run as root"

RES=${OUT:-$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)-idle}
mkdir -p "$RES"
RES=$(cd "$RES" && pwd)
log "results in $RES"

trap 'trap - INT TERM; stop_all_servers; exit 130' INT TERM
trap stop_all_servers EXIT

# Servers inherit this limit: every idle session costs the server at least
# one descriptor (OpenSMTPD sizes its session table from the limit).
# Raising the hard limit needs CAP_SYS_RESOURCE, which a container's root may
# lack: then the soft limit goes up to the hard one, and a server that needs
# more shows it by refusing sessions.
nofile=$((SESSIONS * 2 + 4096))
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$nofile" ]; then
    ulimit -Hn "$nofile" 2>/dev/null || log "cannot raise the hard descriptor limit to $nofile; using $(ulimit -Hn)"
fi
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$nofile" ]; then nofile=$(ulimit -Hn); fi
if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$nofile" ]; then ulimit -Sn "$nofile"; fi

if [[ ",$SERVERS," == *",ours,"* ]]; then
    if [ "$BUILD" = 1 ] && [ "$SMTPD_BIN" = "$REPO/target/release/smtpd" ]; then
        log "building our server (log $RES/build.log)"
        (cd "$REPO" && cargo build --release -p smtpd) >"$RES/build.log" 2>&1 ||
            log "BUILD FAILED (see $RES/build.log)"
    fi
    ensure_users
fi
if [[ ",$SERVERS," == *",opensmtpd,"* || ",$SERVERS," == *",postfix,"* ]]; then
    "$SHARED_BENCH/install-peers.sh" >"$RES/install.log" 2>&1 ||
        { tail -20 "$RES/install.log" >&2; die "install-peers.sh failed"; }
fi
ensure_netns

for server in ${SERVERS//,/ }; do
    log "=== $server: $SESSIONS idle sessions"
    server_stop "$server"
    if ! server_start "$server" "$RES/$server.server.log"; then
        log "$server did not start (see $RES/$server.server.log)"
        printf '{"type":"idle","label":"%s","error":"start failed"}\n' "$server" >>"$RES/idle.jsonl"
        continue
    fi
    nsexec python3 "$BENCH_DIR/idle-sessions.py" "127.0.0.1:$(server_port "$server")" \
        -n "$SESSIONS" --pid "$(server_pid "$server")" --label "$server" --json "$@" \
        >>"$RES/idle.jsonl" 2> >(tee -a "$RES/$server.idle.log" >&2) ||
        log "idle-sessions.py failed for $server"
    server_stop "$server"
done

python3 - "$RES/idle.jsonl" <<'EOF' | tee "$RES/idle.md"
import json, sys
print("| server | open / requested | greeted by the server | refused | closed by server | never connected | PSS before -> peak MB "
      "| kB per greeted session | procs | probe alone ms | probe while held ms (ok/all) |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o.get("error"):
        print(f"| {o['label']} | {o['error']} | | | | | | | | | |")
        continue
    never = o["connect_failed"] + o["connect_timed_out"] + o["not_attempted"]
    probes = ", ".join(str(round(t)) for t in o["probe_ms"])
    print(f"| {o['label']} | {o['held_open_at_end']} / {o['sessions_requested']} | {o['greeted']} | {o['refused']} "
          f"| {o['closed_by_server']} | {never} | {o['pss_before_kb'] / 1024:.1f} -> {o['pss_peak_kb'] / 1024:.1f} "
          f"| {o['pss_per_idle_session_kb']} | {o['procs_peak']} | {o['probe_alone_ms']:.0f} "
          f"| {probes} ({o['probe_ok']}/{o['probes']}) |")
EOF
