# shellcheck shell=bash
# common.sh — shared by run.sh, idle-sessions.sh and profile.sh (sourced, not run).
#
# Holds what every benchmark script must agree on, so that our server and the
# peers always run under the same conditions: the network namespace, the
# ports, where each server delivers, and how a server is started and stopped
# (always by the PID we recorded, never by name).
#
# The peers are run with the shared harness (../shared/bench: install-peers.sh,
# opensmtpd-run.sh, postfix-run.sh, bench.sh); we call it, we do not copy it.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)

# The shared harness lives beside the main checkout (../shared/bench from the
# repository root).  A git worktree elsewhere has no such sibling, so fall back
# to the machine's copy; SHARED_BENCH overrides both.
if [ -z "${SHARED_BENCH:-}" ]; then
    for d in "$REPO/../shared/bench" /work/shared/bench; do
        if [ -f "$d/bench.sh" ]; then SHARED_BENCH=$(cd "$d" && pwd); break; fi
    done
fi
if [ -z "${SHARED_BENCH:-}" ] || [ ! -f "$SHARED_BENCH/bench.sh" ]; then
    echo "error: shared bench harness not found (set SHARED_BENCH=/path/to/shared/bench)" >&2
    exit 1
fi
export SHARED_BENCH
# PEERS_OPT, PEERS_STATE, pfx_version, wait_port, wait_gone, die.
# shellcheck source=/dev/null
. "$SHARED_BENCH/lib.sh"

# Every server, the load generator and the relay sink run inside this private
# network namespace (only `lo` up): no port can collide with the tests other
# engineers run on 127.0.0.1, and no packet can leave the machine.  It is a
# different namespace from run-matrix.sh's "pbench", so both can coexist.
NETNS=${NETNS:-rsbench}
export NETNS

# Our server's files: its Maildir (owned by the bench user), spool, control
# socket, config and logs.  On the same filesystem as the peers' spools and
# Maildirs ($PEERS_STATE, /var/tmp), so every server pays the same fsync cost.
RSBENCH_STATE=${RSBENCH_STATE:-/var/tmp/rsbench}
RSBENCH_USER=${RSBENCH_USER:-rsbench}
OURS_MAILDIR=$RSBENCH_STATE/Maildir
SMTPD_BIN=$(realpath -m "${SMTPD_BIN:-$REPO/target/release/smtpd}")
# Extra flags for our server, e.g. "--unprivileged" or "-v".
OURS_EXTRA_ARGS=${OURS_EXTRA_ARGS:-}

OURS_PORT=2527
OPENSMTPD_PORT=2525 # fixed by opensmtpd-run.sh
POSTFIX_PORT=2526   # fixed by postfix-run.sh
SINK_ADDR=127.0.0.1:2600

# OpenSMTPD 6.8 is run "tuned", as run-matrix.sh does: its hard-coded
# listen() backlog of 5 makes the kernel drop connection attempts at 20+
# sessions, and its stock relay pacing caps relaying near 12 msg/s.  Both are
# lifted so that we compare against its pipeline, not against those limits.
OPENSMTPD_BACKLOG=1024
OPENSMTPD_MTA_LIMITS="max-conn-per-route 20 max-conn-per-host 20 conn-delay-route 0 conn-delay-relay 0 reconn-delay-route 0 task-hiwat 1000 task-lowat 500 task-release 500"

log() { echo "[${0##*/}] $*" >&2; }

nsexec() { ip netns exec "$NETNS" "$@"; }

ensure_netns() {
    ip netns list | grep -qw "$NETNS" || ip netns add "$NETNS"
    ip -n "$NETNS" link set lo up
}

# The system users our server needs: _smtpd/_smtpq for its privilege-separated
# processes (created by the project's .ci/setup-machine.sh) and the bench user
# whose Maildir receives the local workload.
ensure_users() {
    if ! getent passwd _smtpd >/dev/null || ! getent passwd _smtpq >/dev/null; then
        "$REPO/.ci/setup-machine.sh"
    fi
    getent passwd "$RSBENCH_USER" >/dev/null || useradd --system --user-group \
        --home-dir "$RSBENCH_STATE" --no-create-home --shell /usr/sbin/nologin "$RSBENCH_USER"
    mkdir -p "$RSBENCH_STATE" "$OURS_MAILDIR"/{new,cur,tmp}
    chown -R "$RSBENCH_USER:" "$OURS_MAILDIR"
    chmod 700 "$OURS_MAILDIR"
}

server_port() {
    case $1 in
    ours) echo "$OURS_PORT" ;;
    opensmtpd) echo "$OPENSMTPD_PORT" ;;
    postfix) echo "$POSTFIX_PORT" ;;
    *) die "unknown server $1" ;;
    esac
}

# The Maildir each server delivers user@local.test to.
server_maildir() {
    case $1 in
    ours) echo "$OURS_MAILDIR" ;;
    opensmtpd) echo "$(getent passwd osbench | cut -d: -f6)/Maildir" ;;
    postfix) echo "$(getent passwd pfbench | cut -d: -f6)/Maildir" ;;
    *) die "unknown server $1" ;;
    esac
}

# ---------------------------------------------------------------- processes
# descendants PID -> PID's descendants, deepest first (so they can be stopped
# before their parent re-spawns or reaps them).
descendants() {
    local c
    for c in $(pgrep -P "$1" || true); do
        descendants "$c"
        echo "$c"
    done
}

# kill_tree PID: SIGTERM PID's descendants and then PID itself; SIGKILL what
# is still there after 10 s.  Only PIDs found below a PID we started.
kill_tree() {
    local pids p
    pids="$(descendants "$1") $1"
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    for p in $pids; do
        wait_gone "$p" 10 || kill -KILL "$p" 2>/dev/null || true
    done
}

# ---------------------------------------------------------------- our server
OURS_PID=
OURS_CONF=$RSBENCH_STATE/smtpd.conf

write_ours_conf() {
    mkdir -p "$RSBENCH_STATE"
    cat >"$OURS_CONF" <<EOF
# generated by bench/common.sh: the same work as the peers' configs
listen on 127.0.0.1 port $OURS_PORT
table vusers { "user@local.test" = "$RSBENCH_USER" }
action "local" maildir "$OURS_MAILDIR" virtual <vusers>
action "relay" relay host smtp://$SINK_ADDR
match from any for domain "local.test" action "local"
match from any for any action "relay"
EOF
}

# ours_start LOG [WRAPPER...]: start our server in the netns with an empty
# spool, wait for its "smtpd ready" line, set OURS_PID.  WRAPPER (e.g.
# `valgrind --tool=callgrind ...`) is put in front of the command; it must
# exec the server in place so that OURS_PID is the server's root process.
ours_start() {
    local logf=$1 i
    shift
    [ -x "$SMTPD_BIN" ] || { log "our server binary $SMTPD_BIN is missing"; return 1; }
    write_ours_conf
    if ! "$SMTPD_BIN" -n -f "$OURS_CONF" >>"$logf" 2>&1; then
        log "our server rejects $OURS_CONF (see $logf)"
        return 1
    fi
    # Every start begins with an empty queue, as CLEAN_SPOOL=1 does for the peers.
    rm -rf "${RSBENCH_STATE:?}/spool" "$RSBENCH_STATE/run"
    mkdir -p "$RSBENCH_STATE/spool" "$RSBENCH_STATE/run"
    chmod 711 "$RSBENCH_STATE/spool"
    # setsid: Ctrl-C on the terminal must not reach the server directly; the
    # scripts' traps stop it in order.  ip netns exec and setsid both exec, so
    # $! is the server (or the wrapper that execs it).
    # shellcheck disable=SC2086
    setsid ip netns exec "$NETNS" "$@" "$SMTPD_BIN" -d -f "$OURS_CONF" \
        --spool "$RSBENCH_STATE/spool" --socket "$RSBENCH_STATE/run/smtpd.sock" \
        --user _smtpd --queue-user _smtpq $OURS_EXTRA_ARGS \
        </dev/null >>"$logf" 2>&1 &
    OURS_PID=$!
    echo "$OURS_PID" >"$RSBENCH_STATE/ours.pid"
    # OURS_START_TIMEOUT (s): wrapped in valgrind the server starts ~50x slower.
    for ((i = 0; i < ${OURS_START_TIMEOUT:-30} * 10; i++)); do
        if grep -q 'smtpd ready' "$logf" 2>/dev/null; then break; fi
        if ! kill -0 "$OURS_PID" 2>/dev/null; then
            log "our server exited during start-up (see $logf)"
            OURS_PID=
            return 1
        fi
        sleep 0.1
    done
    if ! nsexec bash -c ". '$SHARED_BENCH/lib.sh'; wait_port 127.0.0.1 $OURS_PORT 5"; then
        log "our server does not answer on 127.0.0.1:$OURS_PORT (see $logf)"
        ours_stop
        return 1
    fi
}

# Stop our server by its recorded PID (and any child still alive after it).
ours_stop() {
    local pid=${OURS_PID:-}
    [ -z "$pid" ] && [ -f "$RSBENCH_STATE/ours.pid" ] && pid=$(cat "$RSBENCH_STATE/ours.pid")
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then kill_tree "$pid"; fi
    rm -f "$RSBENCH_STATE/ours.pid"
    OURS_PID=
}

# ---------------------------------------------------------------- any server
# server_start NAME LOG: start one server in the netns with an empty queue.
server_start() {
    case $1 in
    ours) ours_start "$2" ;;
    opensmtpd)
        # opensmtpd-run.sh bind-mounts its spool over /var/spool/smtpd, which
        # Debian's package does not ship (smtpd creates it on first start).
        [ -d /var/spool/smtpd ] || install -d -m 711 /var/spool/smtpd
        CLEAN_SPOOL=1 BACKLOG_SHIM=$OPENSMTPD_BACKLOG MTA_LIMITS=$OPENSMTPD_MTA_LIMITS \
            "$SHARED_BENCH/opensmtpd-run.sh" start >>"$2" 2>&1 ;;
    postfix)
        CLEAN_SPOOL=1 "$SHARED_BENCH/postfix-run.sh" start >>"$2" 2>&1 ;;
    esac
}

# server_stop NAME: the shared scripts stop the instance they recorded.
server_stop() {
    case $1 in
    ours) ours_stop ;;
    opensmtpd) "$SHARED_BENCH/opensmtpd-run.sh" stop >/dev/null 2>&1 || true ;;
    postfix) "$SHARED_BENCH/postfix-run.sh" stop >/dev/null 2>&1 || true ;;
    esac
}

# The root PID of a running server's process tree (for PSS/CPU sums).
server_pid() {
    case $1 in
    ours) echo "${OURS_PID:-}" ;;
    opensmtpd) cat "$PEERS_STATE/opensmtpd-$NETNS/smtpd.pid" 2>/dev/null || true ;;
    postfix) tr -d ' \n' <"$PEERS_STATE/postfix-$NETNS/spool/pid/master.pid" 2>/dev/null || true ;;
    esac
}

stop_all_servers() {
    local s
    for s in ours opensmtpd postfix; do server_stop "$s"; done
}
