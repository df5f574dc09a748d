#!/usr/bin/env python3
"""Crash-safety harness: load an SMTP server while SIGKILLing it, then prove
that every message it acknowledged with 250 was delivered.

C client threads send N messages of R recipients each, one SMTP session per
message. Meanwhile the server's whole process tree (or one random process
of it) is killed with SIGKILL at random moments and restarted with
--start-cmd, --crashes times during the load and --drain-crashes times
while the queue drains. Every attempt carries a unique id; a failed attempt
is retried as a new attempt with a new id. At the end the harness waits for
the queue to drain, reads the Maildir(s) and reports, as JSON:

  lost        (id, recipient) pairs acknowledged with 250 but not delivered
  duplicates  extra copies of acknowledged messages (allowed only in the
              documented windows: a crash between delivery and envelope
              removal, or between commit and the client reading its 250)
  unacknowledged_but_delivered  attempts that got a 4xx, 5xx or no reply
              to their end of data and were delivered anyway (allowed)
  delivered_without_end_of_data attempts cut before their end of data was
              sent that were delivered anyway (never allowed)
  corrupt     delivered copies whose body differs from what was sent

Exit status: 0 when lost == corrupt == delivered_without_end_of_data == 0,
1 otherwise, 2 when the harness could not run the server.

Example (our server):
  crash_test.py --port 2525 --maildir '/tmp/t/mail/{user}' \\
      --start-cmd 'exec target/release/smtpd -d -f /tmp/t/smtpd.conf \\
                   --spool /tmp/t/spool --unprivileged' \\
      --messages 3000 --concurrency 8 --recipients 3 --crashes 30
"""

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from reltools import ledger as L  # noqa: E402
from reltools.maildir import Scanner, tmp_count  # noqa: E402
from reltools.server import ServerControl, StartError  # noqa: E402
from reltools.smtp import Closed, Session, dot_stuff  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n", 2)[2])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--start-cmd", required=True,
                   help="shell command starting the server (foreground or daemonising)")
    p.add_argument("--stop-cmd", help="shell command stopping it at the end (default SIGTERM)")
    p.add_argument("--pid-cmd", help="shell command printing the main pid "
                   "(default: the process listening on --port)")
    p.add_argument("--flush-cmd", help="shell command run now and then while draining "
                   "(e.g. `postqueue -f`, `smtpctl schedule all`)")
    p.add_argument("--queue-empty-cmd", help="shell command that exits 0 when the queue is empty")
    p.add_argument("--maildir", action="append", required=True,
                   help="Maildir to read; {rcpt} and {user} (local part, lowercased) "
                   "expand per recipient; repeatable")
    p.add_argument("--rcpt", default="r{i}@local.test",
                   help="recipient template, {i} = 1..R (default r{i}@local.test)")
    p.add_argument("--sender", default="sender@client.test")
    p.add_argument("-n", "--messages", type=int, default=1000)
    p.add_argument("-c", "--concurrency", type=int, default=8)
    p.add_argument("-r", "--recipients", type=int, default=3)
    p.add_argument("-s", "--size", type=int, default=2048, help="message size in bytes")
    p.add_argument("--crashes", type=int, default=10, help="crashes during the load")
    p.add_argument("--drain-crashes", type=int, default=3, help="crashes while draining")
    p.add_argument("--interval", default="0.3:2.0",
                   help="MIN:MAX seconds between crashes (uniform)")
    p.add_argument("--kill", choices=["tree", "child", "mixed"], default="tree",
                   help="what a crash kills (mixed: tree or child, half each)")
    p.add_argument("--child-match", default=None,
                   help="regex on /proc/PID/cmdline choosing the children to kill "
                   "(ours: '^smtpd: ')")
    p.add_argument("--max-attempts", type=int, default=50,
                   help="attempts per message before giving it up")
    p.add_argument("--io-timeout", type=float, default=30.0)
    p.add_argument("--drain-timeout", type=float, default=300.0)
    p.add_argument("--settle", type=float, default=3.0,
                   help="seconds without new deliveries before the count is final")
    p.add_argument("--ready-timeout", type=float, default=60.0)
    p.add_argument("--log-dir", help="keep the server's output here, one file per start")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--label", default="", help="name of the server in the summary")
    p.add_argument("--json-out", help="also write the summary to this file")
    p.add_argument("--no-start", action="store_true",
                   help="the server already runs: do not start it first")
    p.add_argument("--leave-running", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    a = p.parse_args(argv)
    lo, hi = (float(x) for x in a.interval.split(":"))
    a.interval = (lo, hi)
    return a


class Progress:
    def __init__(self, quiet):
        self.quiet = quiet
        self.t0 = time.monotonic()

    def __call__(self, *msg):
        if not self.quiet:
            print(f"[{time.monotonic() - self.t0:7.2f}s]", *msg, file=sys.stderr, flush=True)


def one_attempt(a, msg_id, rcpts):
    """Run one SMTP session; returns (outcome, accepted rcpts, reply text),
    or None when the server could not be reached at all."""
    try:
        s = Session(a.host, a.port, timeout=a.io_timeout)
    except OSError:
        return None
    accepted = []
    data_started = False
    try:
        code, _ = s.reply()
        if code != 220:
            return L.NOT_IN_DATA, [], f"banner {code}"
        code, _ = s.cmd("EHLO crash.test")
        if code != 250:
            return L.NOT_IN_DATA, [], f"EHLO {code}"
        code, _ = s.cmd(f"MAIL FROM:<{a.sender}>")
        if code != 250:
            return L.NOT_IN_DATA, [], f"MAIL {code}"
        for r in rcpts:
            code, _ = s.cmd(f"RCPT TO:<{r}>")
            if code == 250:
                accepted.append(r.lower())
        if not accepted:
            return L.NOT_IN_DATA, [], "no recipient accepted"
        code, _ = s.cmd("DATA")
        if code != 354:
            return L.NOT_IN_DATA, [], f"DATA {code}"
        data_started = True
        s.send(dot_stuff(L.build_message(msg_id, rcpts, a.size)))
        data_started = False
        try:
            code, text = s.reply()
        except Closed as e:
            return L.NO_REPLY, accepted, str(e)
        outcome = L.ACKED if code == 250 else L.TEMPFAIL if code < 500 else L.PERMFAIL
        s.quit()
        return outcome, accepted, f"{code} {' '.join(text)}"
    except Closed as e:
        return (L.CUT_IN_DATA if data_started else L.NOT_IN_DATA), accepted, str(e)
    finally:
        s.close()


class Load:
    """The client threads and their shared list of messages to send."""

    def __init__(self, a, ledger, prefix, progress):
        self.a, self.ledger, self.prefix, self.progress = a, ledger, prefix, progress
        self.next_slot = 0
        self.lock = threading.Lock()
        self.given_up = 0
        self.unreachable_waits = 0
        self.early_failures = 0
        self.done = threading.Event()

    def take(self):
        with self.lock:
            if self.next_slot >= self.a.messages:
                return None
            self.next_slot += 1
            return self.next_slot - 1

    def worker(self):
        a = self.a
        rcpts = [a.rcpt.format(i=i + 1) for i in range(a.recipients)]
        while True:
            slot = self.take()
            if slot is None:
                return
            attempt = 0
            while attempt < a.max_attempts:
                msg_id = f"{self.prefix}{slot:07d}.{attempt}"
                res = one_attempt(a, msg_id, rcpts)
                if res is None:  # server down (being restarted): wait
                    with self.lock:
                        self.unreachable_waits += 1
                    time.sleep(0.05)
                    continue
                outcome, accepted, reply = res
                attempt += 1
                if outcome != L.NOT_IN_DATA or accepted:
                    self.ledger.record(msg_id, outcome, accepted, reply)
                else:
                    with self.lock:
                        self.early_failures += 1
                if outcome == L.ACKED:
                    break
                time.sleep(0.02)
            else:
                with self.lock:
                    self.given_up += 1

    def run(self):
        threads = [threading.Thread(target=self.worker, daemon=True)
                   for _ in range(self.a.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.done.set()


class Crasher:
    """Kills the server at random moments and restarts it."""

    def __init__(self, a, ctl, rng, progress):
        self.a, self.ctl, self.rng, self.progress = a, ctl, rng, progress
        self.stats = {"tree_kills": 0, "child_kills": 0, "child_kill_server_survived": 0,
                      "child_kill_server_restarted": 0, "restarts": 0, "killed_roles": {}}

    def crash_once(self):
        mode = self.a.kill
        if mode == "mixed":
            mode = self.rng.choice(["tree", "child"])
        if mode == "child":
            hit = self.ctl.crash_child(self.a.child_match, self.rng)
            if hit is not None:
                snap, pid, cl = hit
                self.stats["child_kills"] += 1
                role = cl.split()[1] if cl.startswith("smtpd: ") and len(cl.split()) > 1 else cl.split(" ")[0]
                roles = self.stats["killed_roles"]
                roles[role] = roles.get(role, 0) + 1
                how = self.ctl.ensure_running(snap)
                self.stats[f"child_kill_server_{how}"] += 1
                if how == "restarted":
                    self.stats["restarts"] += 1
                self.progress(f"crash: killed child {pid} ({cl}); server {how}")
                return
        pids = self.ctl.crash_tree()
        self.stats["tree_kills"] += 1
        self.progress(f"crash: killed tree {pids}")
        self.ctl.start()
        self.stats["restarts"] += 1

    def run(self, count, until):
        done = 0
        while done < count and not until.is_set():
            if until.wait(self.rng.uniform(*self.a.interval)):
                break
            self.crash_once()
            done += 1
        return done


def drain(a, scanner, maildirs, owner, ledger, prefix, progress):
    """Wait until every acknowledged delivery is there and nothing new has
    arrived for --settle seconds (and the queue is empty, if we can ask)."""
    t0 = time.monotonic()
    last_flush = 0.0
    last_count, last_change = -1, time.monotonic()
    last_report = 0.0
    while True:
        now = time.monotonic()
        if a.flush_cmd and now - last_flush > 10:
            subprocess.run(a.flush_cmd, shell=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=60)
            last_flush = now
        delivered = scanner.scan(maildirs)
        missing = L.account(ledger, delivered, prefix, owner)["lost"]
        if len(delivered) != last_count:
            last_count, last_change = len(delivered), now
        queue_empty = True
        if a.queue_empty_cmd:
            queue_empty = subprocess.run(a.queue_empty_cmd, shell=True, timeout=60,
                                         stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL).returncode == 0
        if not missing and queue_empty and now - last_change >= a.settle:
            return now - t0, True
        if now - t0 > a.drain_timeout:
            return now - t0, False
        if now - last_report >= 10:
            progress(f"draining: {len(delivered)} files, {missing} acknowledged deliveries missing")
            last_report = now
        time.sleep(1.0)


def maildir_list(a, rcpts):
    """The Maildirs to read, and the recipient of each per-recipient one."""
    out, owner = set(), {}
    for tmpl in a.maildir:
        if "{rcpt}" in tmpl or "{user}" in tmpl:
            for r in rcpts:
                md = tmpl.format(rcpt=r, user=r.split("@")[0].lower())
                out.add(md)
                owner[md] = r
        else:
            out.add(tmpl)
    return sorted(out), owner


def main(argv=None):
    a = parse_args(argv if argv is not None else sys.argv[1:])
    rng = random.Random(a.seed)
    progress = Progress(a.quiet)
    # The run's id prefix is random even with --seed (which fixes only the
    # crash schedule), so that a Maildir shared with earlier runs is fine.
    prefix = "ct" + os.urandom(5).hex() + "."
    ctl = ServerControl(a.host, a.port, a.start_cmd, a.stop_cmd, a.pid_cmd,
                        a.log_dir, a.ready_timeout, progress)
    ledger = L.Ledger()
    scanner = Scanner(L.make_parser(a.size))
    try:
        if not a.no_start:
            ctl.start()
        progress(f"server up (pid {ctl.root()}); run {prefix}")
        t_load = time.monotonic()
        load = Load(a, ledger, prefix, progress)
        crasher = Crasher(a, ctl, rng, progress)
        lt = threading.Thread(target=load.run, daemon=True)
        lt.start()
        load_crashes = crasher.run(a.crashes, load.done)
        lt.join()
        load_secs = time.monotonic() - t_load
        progress(f"load done in {load_secs:.1f}s: {dict(ledger.outcomes())}")
        stop_drain_crashes = threading.Event()
        drain_crashes = crasher.run(a.drain_crashes, stop_drain_crashes)
        if not ctl.banner_ok():
            ctl.crash_tree()
            ctl.start()
            crasher.stats["restarts"] += 1
        all_rcpts = [a.rcpt.format(i=i + 1).lower() for i in range(a.recipients)]
        maildirs, owner = maildir_list(a, all_rcpts)
        drain_secs, drained = drain(a, scanner, maildirs, owner, ledger, prefix, progress)
        verdict = L.account(ledger, scanner.scan(maildirs), prefix, owner)
        tmp_left = sum(tmp_count(m) for m in maildirs)
    except StartError as e:
        print(json.dumps({"error": str(e)}), flush=True)
        return 2
    finally:
        if not a.leave_running:
            ctl.stop()
    outcomes = ledger.outcomes()
    summary = {
        "server": a.label,
        "messages": a.messages,
        "recipients_per_message": a.recipients,
        "concurrency": a.concurrency,
        "message_size": a.size,
        "kill_mode": a.kill,
        "attempts": sum(outcomes.values()),
        "acknowledged": outcomes.get(L.ACKED, 0),
        "tempfailed": outcomes.get(L.TEMPFAIL, 0),
        "permfailed": outcomes.get(L.PERMFAIL, 0),
        "no_reply_after_data": outcomes.get(L.NO_REPLY, 0),
        "cut_during_data": outcomes.get(L.CUT_IN_DATA, 0),
        "cut_before_data": outcomes.get(L.NOT_IN_DATA, 0),
        "messages_given_up": load.given_up,
        "sessions_failed_before_rcpt": load.early_failures,
        "connects_refused": load.unreachable_waits,
        "crashes_injected": load_crashes + drain_crashes,
        "crashes_during_load": load_crashes,
        "crashes_during_drain": drain_crashes,
        **{k: v for k, v in crasher.stats.items()},
        "start_retries": ctl.start_retries,
        "load_seconds": round(load_secs, 2),
        "drain_seconds": round(drain_secs, 2),
        "drained": drained,
        "maildir_tmp_left": tmp_left,
        **verdict,
    }
    summary["ok"] = (summary["lost"] == 0 and summary["corrupt"] == 0
                     and summary["delivered_without_end_of_data"] == 0)
    text = json.dumps(summary, indent=2, sort_keys=False)
    print(text, flush=True)
    if a.json_out:
        with open(a.json_out, "w") as f:
            f.write(text + "\n")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
