#!/usr/bin/env python3
"""fsync-cost.py [DIR] — what one durable queue commit costs on this disk.

The disk's sync latency bounds any server that makes each message durable on
its own before answering 250 (issue 7: "the disk's fsync rate bounds a
server that fsyncs each message alone").  This times, in DIR (default
/var/tmp, where every benchmarked server keeps its spool and Maildir):

  fsync 4 KiB        overwrite 4 KiB of an existing file, fsync
  append+fsync 4 KiB append 4 KiB to a growing file, fsync (allocates blocks,
                     so the journal commits metadata too)
  commit             the queue's path for one message: create a temp file,
                     write 4 KiB, fsync it, rename it into place, fsync the
                     directory (what makes the rename durable)
  commit, no dir sync  the same without the directory fsync (OpenSMTPD 6.8's
                     path minus its missing file sync: for scale only)
  message path       every sync our server makes for one message delivered
                     to a Maildir, without any SMTP or IPC: the queue commit
                     (content 4 KiB + envelope, each fdatasync'ed, message
                     directory fsync, rename into a bucket, bucket fsync),
                     then the Maildir delivery (tmp file, fsync, rename into
                     new/, fsync new/), then the queue entry removed

For each: mean, median, p90 and max latency, the serial rate it allows
(1 / mean), and the CPU time (user + system) it costs this process: on a
VM most of a sync's cost is the kernel submitting and completing I/O, and
that CPU is the floor under any server's "CPU per message".

The serial rate is the ceiling of a server that commits messages one at a
time.
"""
import argparse
import json
import os
import statistics
import tempfile
import time

BLOCK = b"x" * 4096


def timed(n, fn):
    lat = []
    cpu0 = time.process_time()
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        lat.append(time.perf_counter() - t)
    cpu = time.process_time() - cpu0
    lat.sort()
    return {
        "cpu_ms": round(cpu / n * 1e3, 3),
        "mean_ms": round(statistics.mean(lat) * 1e3, 3),
        "median_ms": round(statistics.median(lat) * 1e3, 3),
        "p90_ms": round(lat[int(len(lat) * 0.9)] * 1e3, 3),
        "max_ms": round(lat[-1] * 1e3, 3),
        # The mean, not the median: a rare 10 ms sync stalls the whole series.
        "serial_per_s": round(1 / statistics.mean(lat)),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", nargs="?", default="/var/tmp")
    ap.add_argument("-n", type=int, default=300, help="iterations per test")
    ap.add_argument("--json", action="store_true", help="one JSON object instead of text")
    a = ap.parse_args()

    out = {}
    with tempfile.TemporaryDirectory(prefix="fsync-cost.", dir=a.dir) as d:
        # Overwrite in place: the data blocks already exist, so this is the
        # cheapest sync the disk offers.
        p = os.path.join(d, "overwrite")
        fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o600)
        os.write(fd, BLOCK)
        os.fsync(fd)

        def overwrite(_):
            os.pwrite(fd, BLOCK, 0)
            os.fsync(fd)

        out["fsync 4 KiB (overwrite)"] = timed(a.n, overwrite)
        os.close(fd)

        fd = os.open(os.path.join(d, "append"), os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)

        def append(_):
            os.write(fd, BLOCK)
            os.fsync(fd)

        out["append 4 KiB + fsync"] = timed(a.n, append)
        os.close(fd)

        tmpdir, qdir = os.path.join(d, "tmp"), os.path.join(d, "queue")
        os.mkdir(tmpdir)
        os.mkdir(qdir)
        dfd = os.open(qdir, os.O_RDONLY | os.O_DIRECTORY)

        def commit(i, dir_sync=True, tag="a"):
            src = os.path.join(tmpdir, f"{tag}{i}")
            f = os.open(src, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            os.write(f, BLOCK)
            os.fsync(f)
            os.close(f)
            os.rename(src, os.path.join(qdir, f"{tag}{i}"))
            if dir_sync:
                os.fsync(dfd)

        out["create+write 4 KiB+fsync+rename+dir fsync"] = timed(a.n, commit)
        out["create+write 4 KiB+fsync+rename (no dir fsync)"] = timed(
            a.n, lambda i: commit(i, dir_sync=False, tag="b"))
        os.close(dfd)

        for sub in ("incoming", "bucket", "md/tmp", "md/new", "md/cur"):
            os.makedirs(os.path.join(d, sub))
        bucket_fd = os.open(os.path.join(d, "bucket"), os.O_RDONLY | os.O_DIRECTORY)
        new_fd = os.open(os.path.join(d, "md/new"), os.O_RDONLY | os.O_DIRECTORY)
        envelope = b"version: 3\n" + b"k: v\n" * 200
        parts = {"queue commit": 0.0, "Maildir delivery": 0.0, "queue removal": 0.0}

        def message_path(i):
            t0 = time.process_time()
            inc = os.path.join(d, "incoming", f"m{i}")
            os.mkdir(inc)
            for name, body in (("message", BLOCK), ("e", envelope)):
                f = os.open(os.path.join(inc, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
                os.write(f, body)
                os.fdatasync(f)
                os.close(f)
            f = os.open(inc, os.O_RDONLY | os.O_DIRECTORY)
            os.fsync(f)
            os.close(f)
            queued = os.path.join(d, "bucket", f"m{i}")
            os.rename(inc, queued)
            os.fsync(bucket_fd)
            t1 = time.process_time()
            # delivery
            src = os.open(os.path.join(queued, "message"), os.O_RDONLY)
            data = os.read(src, 65536)
            os.close(src)
            tmp = os.path.join(d, "md/tmp", f"t{i}")
            f = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            os.write(f, data)
            os.fsync(f)
            os.close(f)
            os.rename(tmp, os.path.join(d, "md/new", f"t{i}"))
            os.fsync(new_fd)
            t2 = time.process_time()
            # the queue forgets it (not synced)
            os.unlink(os.path.join(queued, "message"))
            os.unlink(os.path.join(queued, "e"))
            os.rmdir(queued)
            t3 = time.process_time()
            parts["queue commit"] += t1 - t0
            parts["Maildir delivery"] += t2 - t1
            parts["queue removal"] += t3 - t2

        out["message path (queue commit + Maildir + removal)"] = timed(a.n, message_path)
        os.close(bucket_fd)
        os.close(new_fd)
        cpu_parts = {k: round(v / a.n * 1e3, 3) for k, v in parts.items()}
        out["message path (queue commit + Maildir + removal)"]["cpu_parts_ms"] = cpu_parts

    if a.json:
        print(json.dumps({"dir": a.dir, "iterations": a.n, "tests": out}))
        return
    print(f"fsync cost in {a.dir} ({a.n} iterations each):")
    for name, r in out.items():
        print(f"  {name:<48} mean {r['mean_ms']:.3f} ms, median {r['median_ms']:.3f} ms, p90 {r['p90_ms']:.3f} ms, "
              f"max {r['max_ms']:.3f} ms, cpu {r['cpu_ms']:.3f} ms  -> {r['serial_per_s']}/s serially")
        for part, ms in r.get("cpu_parts_ms", {}).items():
            print(f"      cpu of the {part}: {ms:.3f} ms")


if __name__ == "__main__":
    main()
