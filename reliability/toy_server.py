#!/usr/bin/env python3
"""A toy SMTP server to check the crash harness itself.

    toy_server.py --port P --maildir DIR [--lazy]

It accepts any mail and delivers it into one Maildir (DIR/{new,tmp}).
Default: the message is written (tmp/ then rename into new/, fsync'ed)
before the 250 — crash-safe, the harness must report lost = 0. --lazy: the
250 comes first and the message waits in memory for a writer that runs
every half second — every SIGKILL loses what was waiting, and the harness
must report it (exit status 1). Not a mail server: no queue, one copy per
message whatever the recipients, no limits.
"""

import argparse
import asyncio
import os
import time


class Maildir:
    def __init__(self, path):
        self.path = path
        for sub in ("new", "tmp", "cur"):
            os.makedirs(os.path.join(path, sub), exist_ok=True)
        self.n = 0

    def deliver(self, data):
        self.n += 1
        name = f"{time.time():.6f}.{os.getpid()}_{self.n}.toy"
        tmp = os.path.join(self.path, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, os.path.join(self.path, "new", name))


async def session(reader, writer, md, lazy, pending):
    async def reply(line):
        writer.write(line.encode() + b"\r\n")
        await writer.drain()

    await reply("220 toy ESMTP")
    rcpts = 0
    while True:
        line = await reader.readline()
        if not line:
            break
        verb = line.strip().upper()[:4]
        if verb in (b"EHLO", b"HELO", b"MAIL", b"RSET", b"NOOP"):
            rcpts = 0 if verb in (b"MAIL", b"RSET") else rcpts
            await reply("250 ok")
        elif verb == b"RCPT":
            rcpts += 1
            await reply("250 ok")
        elif verb == b"DATA" and rcpts:
            await reply("354 go ahead")
            lines = []
            while True:
                dl = await reader.readline()
                if not dl:
                    return
                if dl == b".\r\n":
                    break
                lines.append(dl[1:] if dl.startswith(b".") else dl)
            data = b"".join(lines).replace(b"\r\n", b"\n")
            if lazy:
                pending.append(data)
            else:
                md.deliver(data)
            await reply("250 accepted")
        elif verb == b"QUIT":
            await reply("221 bye")
            break
        else:
            await reply("500 what?")
    writer.close()


async def lazy_writer(md, pending):
    while True:
        await asyncio.sleep(0.5)
        while pending:
            md.deliver(pending.pop(0))


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--maildir", required=True)
    p.add_argument("--lazy", action="store_true")
    a = p.parse_args()
    md, pending = Maildir(a.maildir), []
    server = await asyncio.start_server(
        lambda r, w: session(r, w, md, a.lazy, pending), a.host, a.port, reuse_address=True)
    if a.lazy:
        asyncio.ensure_future(lazy_writer(md, pending))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
