#!/usr/bin/env python3
"""Hostile-client battery against any SMTP server (long form of the
reliability_hostile*.rs tests; also runs against the peers).

While each attack runs from --attack-source (127.0.0.1), a well-behaved
client from --good-source (127.0.0.2) connects every --good-every seconds,
times its banner and sends one message; the server's memory (PSS summed
over its process tree, found from the listening socket) is sampled every
half second. Attacks, run in the order given with --attack (default: all):

  idle       --idle N connections opened and held, silent, for --duration s
  slowloris  --slow N connections dribbling a session start, one byte every
             --slow-interval s, for --duration s
  junk       one connection pipelining --junk-lines unknown commands
  kick       unknown commands one at a time until the server disconnects
  longline   4 connections each sending one 10 MB command line
  bytes      NUL bytes and invalid UTF-8 in commands

Output: one JSON object per attack (a line each), then a summary line.
Example (the long form of RELIABILITY.md):
  hostile.py --port 2525 --idle 10000 --slow 1000 --slow-interval 60 \\
      --duration 300 --maildir /tmp/t/maildirs/good
"""

import argparse
import json
import os
import resource
import selectors
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from reltools import procs  # noqa: E402
from reltools.maildir import message_files  # noqa: E402
from reltools.smtp import Closed, Session, dot_stuff  # noqa: E402

ATTACKS = ["idle", "slowloris", "junk", "kick", "longline", "bytes"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n", 2)[2])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--attack", action="append", choices=ATTACKS)
    p.add_argument("--attack-source", default="127.0.0.1")
    p.add_argument("--good-source", default="127.0.0.2")
    p.add_argument("--good-rcpt", default="good@local.test")
    p.add_argument("--good-every", type=float, default=2.0)
    p.add_argument("--maildir", help="the good recipient's Maildir, to check its mail arrived")
    p.add_argument("--idle", type=int, default=2000)
    p.add_argument("--slow", type=int, default=200)
    p.add_argument("--slow-interval", type=float, default=1.0)
    p.add_argument("--duration", type=float, default=10.0, help="seconds per idle/slowloris attack")
    p.add_argument("--junk-lines", type=int, default=100000)
    p.add_argument("--label", default="")
    return p.parse_args()


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Observer:
    """The good client and the memory sampler, running beside an attack."""

    def __init__(self, a, tag):
        self.a, self.tag = a, tag
        self.stop = threading.Event()
        self.latencies, self.failures, self.markers = [], [], []
        self.mem_peak = 0
        root = procs.root_of_listener(a.port)
        self.root = root
        self.mem_base = procs.tree_memory_kib(root)[0] if root else 0
        self.threads = [threading.Thread(target=self.good, daemon=True),
                        threading.Thread(target=self.memory, daemon=True)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()

    def memory(self):
        while not self.stop.is_set():
            if self.root:
                self.mem_peak = max(self.mem_peak, procs.tree_memory_kib(self.root)[0])
            self.stop.wait(0.5)

    def good(self):
        n = 0
        while not self.stop.is_set():
            n += 1
            marker = f"good-{self.tag}-{os.getpid()}-{n}-{time.time():.3f}"
            t0 = time.monotonic()
            try:
                s = Session(self.a.host, self.a.port, timeout=10, source=self.a.good_source,
                            connect_timeout=10)
                code, _ = s.reply()
                self.latencies.append(time.monotonic() - t0)
                ok = code == 220 and s.cmd("EHLO good.test")[0] == 250 \
                    and s.cmd("MAIL FROM:<good@client.test>")[0] == 250 \
                    and s.cmd(f"RCPT TO:<{self.a.good_rcpt}>")[0] == 250 \
                    and s.cmd("DATA")[0] == 354
                if ok:
                    s.send(dot_stuff(f"Subject: {marker}\n\n{marker}\n"))
                    ok = s.reply()[0] == 250
                s.quit()
                (self.markers if ok else self.failures).append(marker)
            except (OSError, Closed) as e:
                self.latencies.append(time.monotonic() - t0)
                self.failures.append(f"{marker}: {e}")
            self.stop.wait(self.a.good_every)

    def report(self):
        lat = sorted(self.latencies)
        delivered = None
        if self.a.maildir and self.markers:
            deadline = time.monotonic() + 30
            while True:
                found = set()
                for path in message_files(self.a.maildir):
                    try:
                        with open(path, "rb") as f:
                            data = f.read()
                    except OSError:
                        continue
                    found.update(m for m in self.markers if m.encode() in data)
                if len(found) == len(self.markers) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            delivered = len(found)
        return {
            "good_sessions": len(lat),
            "good_banner_s": {"min": round(lat[0], 3), "median": round(statistics.median(lat), 3),
                              "max": round(lat[-1], 3)} if lat else None,
            "good_mail_accepted": len(self.markers),
            "good_mail_failed": len(self.failures),
            "good_mail_delivered": delivered,
            "good_failures": self.failures[:5],
            "pss_base_kib": self.mem_base,
            "pss_peak_kib": self.mem_peak,
        }


def open_many(a, n):
    """n non-blocking connections from the attack source."""
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((a.attack_source, 0))
        s.connect_ex((a.host, a.port))
        socks.append(s)
    return socks


def watch(socks, seconds, each_round=None, interval=1.0):
    """Poll the connections for `seconds`: which got a banner, which were
    closed by the server (and after how long)."""
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    t0 = time.monotonic()
    banner, closed = set(), {}
    next_round = t0
    while time.monotonic() - t0 < seconds:
        if each_round and time.monotonic() >= next_round:
            each_round()
            next_round += interval
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                data = s.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if data.startswith(b"220"):
                banner.add(s)
            if not data:
                closed[s] = time.monotonic() - t0
                sel.unregister(s)
    sel.close()
    return banner, closed


def attack_idle(a, obs):
    socks = open_many(a, a.idle)
    banner, closed = watch(socks, a.duration)
    for s in socks:
        s.close()
    return {"connections": a.idle, "got_banner": len(banner), "closed_by_server": len(closed)}


def attack_slowloris(a, obs):
    socks = open_many(a, a.slow)
    script = b"EHLO slow.test\r\nMAIL FROM:<slow@client.test>\r\nRCPT TO:<x@local.test>\r\nDATA\r\n"
    pos = [0]

    def dribble():
        b = script[pos[0] % len(script):pos[0] % len(script) + 1]
        for s in socks:
            try:
                s.send(b)
            except OSError:
                pass
        pos[0] += 1

    banner, closed = watch(socks, a.duration, dribble, a.slow_interval)
    for s in socks:
        s.close()
    times = sorted(closed.values())
    return {"connections": a.slow, "bytes_each": pos[0], "got_banner": len(banner),
            "closed_by_server": len(closed),
            "first_close_s": round(times[0], 1) if times else None}


def blast(a, payload, after_ehlo=True):
    """Send payload from a thread, read replies until EOF: (codes, first texts)."""
    s = Session(a.host, a.port, timeout=60, source=a.attack_source)
    s.reply()
    if after_ehlo:
        s.cmd("EHLO hostile.test")

    def writer():
        try:
            for i in range(0, len(payload), 65536):
                s.sock.sendall(payload[i:i + 65536])
            s.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    codes, texts = [], []
    try:
        while True:
            code, text = s.reply()
            codes.append(code)
            if len(texts) < 3:
                texts.append(f"{code} {' '.join(text)}")
    except Closed:
        pass
    t.join(timeout=30)
    s.close()
    return codes, texts


def attack_junk(a, obs):
    codes, texts = blast(a, b"XJUNK nonsense\r\n" * a.junk_lines, after_ehlo=False)
    return {"lines_sent": a.junk_lines, "replies": len(codes),
            "last_reply": codes[-1] if codes else None, "first_replies": texts}


def attack_kick(a, obs):
    s = Session(a.host, a.port, timeout=30, source=a.attack_source)
    s.reply()
    n, last = 0, None
    try:
        while n < 100000:
            last = s.cmd("XJUNK nonsense")
            n += 1
    except Closed:
        pass
    s.close()
    return {"commands_until_disconnect": n, "last_reply": f"{last[0]} {' '.join(last[1])}" if last else None}


def attack_longline(a, obs):
    line = b"NOOP " + b"A" * (10 * 1024 * 1024) + b"\r\nNOOP\r\n"
    out = [None] * 4

    def one(i):
        try:
            out[i] = blast(a, line)
        except (OSError, Closed) as e:
            out[i] = ([], [str(e)])

    ts = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return {"clients": 4, "line_bytes": len(line), "replies": [o[1] for o in out]}


def attack_bytes(a, obs):
    cases = [b"EHLO a\0b.test", b"HELO \xff\xfe.test", b"\0\0\0\0", b"MAIL FROM:<a\0b@client.test>",
             b"MAIL FROM:<ok@client.test>", b"RCPT TO:<\xed\xa0\x80@local.test>",
             b"RCPT TO:<nul\0@local.test>", b"RSET"]
    s = Session(a.host, a.port, timeout=30, source=a.attack_source)
    s.reply()
    s.cmd("EHLO hostile.test")
    out = []
    try:
        for c in cases:
            s.send(c + b"\r\n")
            code, text = s.reply()
            out.append([c.decode("latin-1"), f"{code} {' '.join(text)}"])
    except Closed as e:
        out.append(["(closed)", str(e)])
    s.quit()
    return {"replies": out}


def main():
    a = parse_args()
    raise_nofile(max(a.idle, a.slow) * 2 + 1024)
    results = []
    for name in a.attack or ATTACKS:
        with Observer(a, name) as obs:
            t0 = time.monotonic()
            res = globals()[f"attack_{name}"](a, obs)
            res["seconds"] = round(time.monotonic() - t0, 1)
            time.sleep(min(a.good_every, 2.0))  # one more good session after
        res = {"server": a.label, "attack": name, **res, **obs.report()}
        results.append(res)
        print(json.dumps(res), flush=True)
    alive = procs.root_of_listener(a.port) is not None
    print(json.dumps({"server": a.label, "summary": True, "server_still_listening": alive}))


if __name__ == "__main__":
    main()
