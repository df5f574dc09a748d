#!/usr/bin/env python3
"""idle-sessions.py HOST:PORT — many idle SMTP sessions, and one client that wants service.

Issue 7's goal: "10,000 concurrent idle sessions held in < 256 MB, with a
well-behaved client still served promptly".  Against any SMTP server:

 1. baseline: PSS of the server's process tree and the time of one full SMTP
    transaction (EHLO, MAIL, RCPT, DATA 4 KiB, QUIT) from --probe-from;
 2. opens N TCP sessions from --idle-from, at most --window handshakes in
    flight at a time (a flood of SYNs measures the listen backlog, not the
    server), reads their greetings, then sends nothing: idle clients;
 3. while they are held: samples the server tree's PSS every second (peak)
    and times --probes full transactions from --probe-from, one after the
    other, each limited to --probe-timeout;
 4. reports, as text and (--json) one JSON object: sessions established,
    greeted (220), refused (4xx/5xx greeting), closed by the server, never
    connected; PSS before and at peak, per idle session; probe times.

PSS is summed over the server's process tree exactly as the shared bench.py
does it (its functions are imported from $SHARED_BENCH), so these figures and
the throughput runs' "peak PSS" mean the same thing.  Run it where the server
runs (`ip netns exec NS ...`); the file descriptor limit is raised as needed.
"""
import argparse
import errno
import json
import os
import resource
import selectors
import smtplib
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.environ.get("SHARED_BENCH", "/work/shared/bench"))
import bench as shared  # noqa: E402  (shared/bench/bench.py: tree, pss_kb, rss_kb, find_root)


def log(*a):
    print("[idle]", *a, file=sys.stderr, flush=True)


def raise_nofile(need):
    """Soft limit up to `need`; as root also the hard limit (up to fs.nr_open)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return soft
    if hard < need and os.geteuid() == 0:
        with open("/proc/sys/fs/nr_open") as f:
            hard = min(need, int(f.read()))
    new = min(need, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (new, max(new, hard)))
    return new


def tree_mem(root):
    pids = shared.tree(root)
    return sum(shared.pss_kb(p) for p in pids), sum(shared.rss_kb(p) for p in pids), len(pids)


def kernel_tcp_mem_kb():
    """TCP socket buffer memory of the whole kernel (sockstat 'mem', in pages)."""
    try:
        for line in open("/proc/net/sockstat"):
            if line.startswith("TCP:"):
                f = line.split()
                return int(f[f.index("mem") + 1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError):
        pass
    return None


def probe(host, port, source, rcpt, timeout):
    """One full transaction; (seconds, None) or (seconds, error text)."""
    body = ("Subject: probe\r\n\r\n" + ("x" * 76 + "\r\n") * 52).encode()
    t0 = time.monotonic()
    try:
        with smtplib.SMTP(host, port, timeout=timeout, source_address=(source, 0)) as s:
            s.ehlo("probe.client.test")
            s.sendmail("probe@x.test", [rcpt], body)
            s.quit()
        return time.monotonic() - t0, None
    except (OSError, smtplib.SMTPException) as e:
        return time.monotonic() - t0, f"{type(e).__name__}: {e}"


class IdleSessions:
    """N non-blocking sockets driven by one selector: connect, read the greeting, idle."""

    def __init__(self, host, port, source):
        self.addr, self.source = (host, port), source
        self.sel = selectors.DefaultSelector()
        self.socks = []
        self.connecting = {}  # sock -> start time
        self.counts = dict(established=0, greeted=0, refused=0, closed_by_server=0,
                           connect_failed=0, connect_timed_out=0)
        self.errors = {}

    def start_one(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((self.source, 0))
        rc = s.connect_ex(self.addr)
        if rc not in (0, errno.EINPROGRESS):
            self._failed(s, rc)
            return
        self.connecting[s] = time.monotonic()
        self.sel.register(s, selectors.EVENT_WRITE, "connect")
        self.socks.append(s)

    def _failed(self, s, err):
        self.counts["connect_failed"] += 1
        name = errno.errorcode.get(err, str(err))
        self.errors[name] = self.errors.get(name, 0) + 1
        s.close()

    def poll(self, timeout, connect_timeout):
        """Handle ready sockets; True if some connect finished (either way)."""
        progress = False
        for key, _ in self.sel.select(timeout):
            s = key.fileobj
            if key.data == "connect":
                del self.connecting[s]
                self.sel.unregister(s)
                progress = True
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    self._failed(s, err)
                    continue
                self.counts["established"] += 1
                self.sel.register(s, selectors.EVENT_READ, "greeting")
            else:
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    self.counts["closed_by_server"] += 1
                    self.sel.unregister(s)
                    continue
                if key.data == "greeting":
                    self.counts["greeted" if data.startswith(b"220") else "refused"] += 1
                    self.sel.modify(s, selectors.EVENT_READ, "idle")
        now = time.monotonic()
        for s, t in list(self.connecting.items()):
            if now - t > connect_timeout:
                del self.connecting[s]
                self.sel.unregister(s)
                self.counts["connect_timed_out"] += 1
        return progress

    def close(self):
        for s in self.socks:
            s.close()
        self.sel.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("target", help="HOST:PORT of the server")
    ap.add_argument("-n", "--sessions", type=int, default=10000)
    ap.add_argument("--pid", type=int, help="root of the server's process tree (default: owner of the socket)")
    ap.add_argument("--idle-from", default="127.0.0.1", help="source address of the idle sessions")
    ap.add_argument("--probe-from", default="127.0.0.2", help="source address of the well-behaved client")
    ap.add_argument("--rcpt", default="user@local.test")
    ap.add_argument("--window", type=int, default=200, help="handshakes in flight at once")
    ap.add_argument("--connect-timeout", type=float, default=15, help="give up on one connect after this")
    ap.add_argument("--stall", type=float, default=10,
                    help="stop opening sessions when no handshake completed for this long "
                         "(the server stopped accepting; waiting out every connect would take hours)")
    ap.add_argument("--hold", type=float, default=10, help="seconds to hold the sessions (at least)")
    ap.add_argument("--probes", type=int, default=3)
    ap.add_argument("--probe-timeout", type=float, default=30)
    ap.add_argument("--label", default="")
    ap.add_argument("--json", action="store_true", help="also print one JSON object on stdout")
    a = ap.parse_args()

    host, port = a.target.rsplit(":", 1)
    port = int(port)
    limit = raise_nofile(a.sessions + 256)
    if limit < a.sessions + 64:
        sys.exit(f"file descriptor limit {limit} is too low for {a.sessions} sessions")
    root = a.pid or shared.find_root(port)
    if not root:
        sys.exit(f"no server process owns a socket on port {port} (pass --pid)")

    pss0, rss0, procs0 = tree_mem(root)
    tcp0 = kernel_tcp_mem_kb()
    base_t, base_err = probe(host, port, a.probe_from, a.rcpt, a.probe_timeout)
    log(f"server pid {root}: {procs0} processes, PSS {pss0 / 1024:.1f} MB; "
        f"probe alone {base_t * 1000:.1f} ms{' (' + base_err + ')' if base_err else ''}")

    idle = IdleSessions(host, port, a.idle_from)
    t_open = time.monotonic()
    peak_pss = peak_rss = peak_procs = 0
    last_sample = 0.0

    def sample():
        nonlocal peak_pss, peak_rss, peak_procs, last_sample
        last_sample = time.monotonic()
        p, r, n = tree_mem(root)
        peak_pss, peak_rss, peak_procs = max(peak_pss, p), max(peak_rss, r), max(peak_procs, n)

    started, last_progress, stalled = 0, time.monotonic(), False
    while (started < a.sessions and not stalled) or idle.connecting:
        while started < a.sessions and not stalled and len(idle.connecting) < a.window:
            idle.start_one()
            started += 1
        if idle.poll(0.2, a.connect_timeout):
            last_progress = time.monotonic()
        elif time.monotonic() - last_progress > a.stall and not stalled:
            stalled = True
            log(f"no handshake completed for {a.stall:.0f}s after {started} attempts: "
                f"the server stopped accepting; not opening more")
        if time.monotonic() - last_sample >= 1:
            sample()
    open_s = time.monotonic() - t_open
    log(f"opened in {open_s:.1f}s: {idle.counts}")

    # Probes run in a thread while this one keeps reading greetings and
    # noticing sessions the server closes.
    probe_results = []

    def run_probes():
        for _ in range(a.probes):
            probe_results.append(probe(host, port, a.probe_from, a.rcpt, a.probe_timeout))
            time.sleep(0.5)

    th = threading.Thread(target=run_probes, daemon=True)
    th.start()
    t_hold = time.monotonic()
    while th.is_alive() or time.monotonic() - t_hold < a.hold:
        idle.poll(0.2, a.connect_timeout)
        if time.monotonic() - last_sample >= 1:
            sample()
    sample()
    tcp1 = kernel_tcp_mem_kb()
    counts = dict(idle.counts)
    held = counts["established"] - counts["closed_by_server"]
    idle.close()

    ok = [t for t, e in probe_results if e is None]
    res = {
        "type": "idle", "label": a.label, "target": a.target, "sessions_requested": a.sessions,
        **counts, "not_attempted": a.sessions - started, "held_open_at_end": held, "connect_errors": idle.errors,
        "open_s": round(open_s, 2), "server_root_pid": root,
        "pss_before_kb": pss0, "pss_peak_kb": peak_pss, "rss_peak_kb": peak_rss,
        "procs_before": procs0, "procs_peak": peak_procs,
        # Per greeted session: connections still waiting in the kernel's
        # accept queue cost the server nothing yet.
        "pss_per_idle_session_kb": round((peak_pss - pss0) / counts["greeted"], 2) if counts["greeted"] else None,
        "kernel_tcp_mem_delta_kb": tcp1 - tcp0 if tcp0 is not None and tcp1 is not None else None,
        "probe_alone_ms": round(base_t * 1000, 1), "probe_alone_error": base_err,
        "probe_ms": [round(t * 1000, 1) for t, _ in probe_results],
        "probe_errors": [e for _, e in probe_results if e],
        "probe_ok": len(ok), "probes": len(probe_results),
        "probe_median_ms": round(statistics.median(ok) * 1000, 1) if ok else None,
    }
    print(f"{a.label or a.target}: {held} of {a.sessions} idle sessions established and open "
          f"({counts['greeted']} greeted, {counts['refused']} refused, {counts['closed_by_server']} closed by server, "
          f"{counts['connect_failed'] + counts['connect_timed_out']} never connected, "
          f"{a.sessions - started} not attempted); "
          f"PSS {pss0 / 1024:.1f} -> {peak_pss / 1024:.1f} MB peak over {peak_procs} processes "
          f"({res['pss_per_idle_session_kb']} kB per greeted session); "
          f"probe alone {res['probe_alone_ms']} ms, under load {res['probe_ms']} ms "
          f"({res['probe_ok']}/{res['probes']} ok{'; ' + res['probe_errors'][0] if res['probe_errors'] else ''})",
          file=sys.stderr, flush=True)
    if a.json:
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
