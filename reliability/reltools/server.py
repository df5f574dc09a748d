"""Starting, crashing and restarting the server under test.

The server is started by a shell command. A command that stays in the
foreground (`smtpd -d ...`) is kept as our child; one that daemonises
(`postfix start`, a run script) returns and the server is found from its
listening socket (or from --pid-cmd). Either way a crash is a SIGKILL of
the whole tree, or of one process of it, and a restart is the same start
command again.
"""

import os
import random
import re
import signal
import socket
import subprocess
import time

from . import procs


class StartError(Exception):
    pass


class ServerControl:
    def __init__(self, host, port, start_cmd, stop_cmd=None, pid_cmd=None,
                 log_dir=None, ready_timeout=60.0, log=print):
        self.host, self.port = host, port
        self.start_cmd, self.stop_cmd, self.pid_cmd = start_cmd, stop_cmd, pid_cmd
        self.log_dir = log_dir
        self.ready_timeout = ready_timeout
        self.log = log
        self.fg = None  # Popen of a start command still running
        self.starts = 0
        self.start_retries = 0

    # -- start / stop -----------------------------------------------------

    def banner_ok(self, timeout=2.0):
        """True when a connection gets a 220 greeting."""
        try:
            with socket.create_connection((self.host, self.port), timeout=timeout) as s:
                s.settimeout(timeout)
                data = b""
                while b"\n" not in data:
                    chunk = s.recv(512)
                    if not chunk:
                        return False
                    data += chunk
                try:
                    s.sendall(b"QUIT\r\n")
                except OSError:
                    pass
                return data.startswith(b"220")
        except OSError:
            return False

    def start(self, attempts=3):
        """Start the server; a start that fails (a run script tripping over
        what the crash left behind) is cleaned up and tried again."""
        for n in range(attempts):
            try:
                return self._start_once()
            except StartError:
                if n == attempts - 1:
                    raise
                self.start_retries += 1
                self.log(f"start failed, cleaning up and retrying ({n + 1}/{attempts})")
                self.crash_tree()
                time.sleep(1.0)

    def _start_once(self):
        self.starts += 1
        out = subprocess.DEVNULL
        if self.log_dir:
            os.makedirs(self.log_dir, exist_ok=True)
            out = open(os.path.join(self.log_dir, f"server-{self.starts:03d}.log"), "wb")
        self.fg = subprocess.Popen(self.start_cmd, shell=True, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        if out is not subprocess.DEVNULL:
            out.close()
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            rc = self.fg.poll()
            if rc is not None:
                self.fg = None
                if rc != 0:
                    raise StartError(f"start command exited with status {rc}")
            if self.banner_ok(timeout=1.0):
                return
            time.sleep(0.05)
        raise StartError(f"server not ready on {self.host}:{self.port} "
                         f"after {self.ready_timeout}s")

    def root(self):
        """The server's main process (None when nothing runs)."""
        if self.pid_cmd:
            try:
                out = subprocess.run(self.pid_cmd, shell=True, capture_output=True,
                                     text=True, timeout=10).stdout.split()
                pid = int(out[0]) if out else None
                if pid and procs.alive(pid):
                    return pid
            except (ValueError, subprocess.SubprocessError):
                pass
        return procs.root_of_listener(self.port)

    def _reap(self):
        if self.fg is not None:
            try:
                self.fg.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            if self.fg.poll() is not None:
                self.fg = None

    def wait_port_free(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not procs.listening_inodes(self.port):
                return True
            time.sleep(0.05)
        return False

    # -- crashes ----------------------------------------------------------

    def crash_tree(self, leftovers=None):
        """SIGKILL the server's whole process tree (and what is left of an
        earlier snapshot of it). Returns the pids."""
        root = self.root()
        extra = [self.fg.pid] if self.fg is not None else []
        killed = procs.kill_tree(root, extra) if (root or extra) else []
        if leftovers:
            killed += procs.kill_snapshot(leftovers)
            # A dead main process may linger as a zombie for a while (the
            # run scripts' kill -0 would think it is still running).
            killed += [p for p, t in leftovers.items() if procs.start_time(p) == t]
        self._reap()
        # Wait until every killed process is reaped (not even a zombie: run
        # scripts check for a live pid with kill -0, which a zombie passes)
        # and the listener is gone, so that the restart can bind.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(procs.exists(p) for p in killed):
            time.sleep(0.02)
        self.wait_port_free()
        return killed

    def crash_child(self, match=None, rng=random):
        """SIGKILL one random descendant of the main process (whose command
        line matches `match`, a regex). Returns (root, pid, cmdline) or
        None when there is no such process."""
        root = self.root()
        if root is None:
            return None
        kids = procs.descendants(root)
        cands = [(p, procs.cmdline(p)) for p in kids]
        if match:
            cands = [(p, c) for p, c in cands if re.search(match, c)]
        if not cands:
            return None
        snap = procs.snapshot(root)
        pid, cl = rng.choice(cands)
        procs.kill_one(pid)
        return snap, pid, cl

    def ensure_running(self, snap, grace=3.0):
        """After a child kill: if the main process went down (or the server
        stopped answering) kill what is left of the tree `snap` (from
        crash_child) and start it again. Returns "survived" or
        "restarted"."""
        root_before = next(iter(snap), None)  # snapshot() puts the root first
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if root_before is None or not procs.alive(root_before):
                break
            time.sleep(0.05)
        if root_before is not None and procs.alive(root_before):
            for _ in range(20):
                if self.banner_ok(timeout=1.0):
                    return "survived"
                time.sleep(0.25)
        self.crash_tree(leftovers=snap)
        self.start()
        return "restarted"

    def stop(self):
        if self.stop_cmd:
            subprocess.run(self.stop_cmd, shell=True, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=60)
        else:
            root = self.root()
            if root:
                procs.kill_one(root, signal.SIGTERM)
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline and procs.alive(root):
                    time.sleep(0.05)
        if self.fg is not None:
            try:
                self.fg.terminate()
            except OSError:
                pass
        self._reap()
        root = self.root()
        if root:  # still there: no mercy
            self.crash_tree()
