#!/bin/sh
# selftest.sh — check that crash_test.py tells a crash-safe server from a
# lossy one: against toy_server.py (fsync before 250) it must exit 0,
# against toy_server.py --lazy (250 first, write later) it must exit 1.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/crash-selftest.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
PORT=${PORT:-2599}
run() {  # run NAME EXTRA-SERVER-FLAGS
    python3 "$HERE/crash_test.py" --port "$PORT" --label "toy$2" -q \
        --start-cmd "exec python3 '$HERE/toy_server.py' --port $PORT --maildir '$WORK/$1' $2" \
        --maildir "$WORK/$1" --recipients 1 --messages 400 --concurrency 4 \
        --crashes 5 --drain-crashes 0 --interval 0.2:0.5 --settle 1 --drain-timeout 20 \
        > "$WORK/$1.json"
    echo $?
}
safe=$(run safe "")
lazy=$(run lazy --lazy)
lost() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d.get("lost"), "of", d.get("acknowledged"), "acknowledged,", d.get("crashes_injected"), "crashes")' "$WORK/$1.json"; }
echo "safe server: exit $safe, lost $(lost safe)"
echo "lazy server: exit $lazy, lost $(lost lazy)"
if [ "$safe" = 0 ] && [ "$lazy" = 1 ]; then echo "selftest: ok"; else echo "selftest: FAILED"; exit 1; fi
