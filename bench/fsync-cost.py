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

For each: mean, median, p90 and max latency, and the serial rate it allows
(1 / mean): the ceiling of a server that commits messages one at a time.
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
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        lat.append(time.perf_counter() - t)
    lat.sort()
    return {
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

    if a.json:
        print(json.dumps({"dir": a.dir, "iterations": a.n, "tests": out}))
        return
    print(f"fsync cost in {a.dir} ({a.n} iterations each):")
    for name, r in out.items():
        print(f"  {name:<48} mean {r['mean_ms']:.3f} ms, median {r['median_ms']:.3f} ms, p90 {r['p90_ms']:.3f} ms, "
              f"max {r['max_ms']:.3f} ms  -> {r['serial_per_s']}/s serially")


if __name__ == "__main__":
    main()
