#!/usr/bin/env python3
"""dummy-smtpd.py — a stand-in with our server's command line, to test the bench plumbing.

NOT a benchmark subject and never a source of figures.  It lets run.sh,
idle-sessions.sh and profile.sh be exercised end to end (start, "smtpd ready",
load, Maildir count, PSS, stop, Ctrl-C) before our server delivers mail:

    SMTPD_BIN=bench/dummy-smtpd.py bench/run.sh --quick -s ours --no-build

It reads only `listen on ADDR port N` and the first `maildir "PATH"` of the
config, accepts any MAIL/RCPT, and writes each message into the Maildir
(tmp/ then rename into new/, no fsync).  Relay and the other flags are
accepted and ignored.  One asyncio task per session.
"""
import argparse
import asyncio
import itertools
import os
import re
import socket
import sys

SEQ = itertools.count()


def parse_conf(path):
    text = open(path).read()
    m = re.search(r"listen on (\S+) port (\d+)", text)
    if not m:
        sys.exit(f"{path}: no 'listen on ADDR port N'")
    md = re.search(r'maildir "([^"]+)"', text)
    return m.group(1), int(m.group(2)), md.group(1) if md else None


def deliver(maildir, data):
    name = f"{os.getpid()}.{next(SEQ)}.{socket.gethostname()}"
    tmp = os.path.join(maildir, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, os.path.join(maildir, "new", name))


async def session(reader, writer, maildir):
    def send(line):
        writer.write(line.encode() + b"\r\n")

    send("220 dummy ESMTP")
    in_data, buf = False, []
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            if in_data:
                if line in (b".\r\n", b".\n"):
                    in_data = False
                    if maildir:
                        deliver(maildir, b"".join(buf))
                    buf = []
                    send("250 2.0.0 queued")
                else:
                    buf.append(line[1:] if line.startswith(b"..") else line)
                continue
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                send("250 dummy")
            elif verb == b"DATA":
                in_data = True
                send("354 go ahead")
            elif verb == b"QUIT":
                send("221 bye")
                break
            else:  # MAIL, RCPT, RSET, NOOP, ...
                send("250 ok")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-d", action="store_true")
    ap.add_argument("-n", action="store_true")
    ap.add_argument("-f", required=True)
    for flag in ("--spool", "--socket", "--mailbox-dir", "--user", "--queue-user"):
        ap.add_argument(flag)
    ap.add_argument("--unprivileged", action="store_true")
    a = ap.parse_args()
    host, port, maildir = parse_conf(a.f)
    if a.n:
        print("configuration OK")
        return
    server = await asyncio.start_server(lambda r, w: session(r, w, maildir), host, port, backlog=4096)
    print(f"dummy smtpd ready: listening on {host}:{port}", file=sys.stderr, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
