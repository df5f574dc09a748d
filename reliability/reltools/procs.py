"""Processes through /proc: trees, listeners, killing, memory.

The crash harness must find a server it did not necessarily start itself
(`postfix start` daemonises), so the server's main process is found from the
socket listening on the SMTP port: the holder of that socket that is an
ancestor of every other holder, walked up while its parent runs the same
executable (a privilege-separated server whose listener lives in a child).
"""

import os
import signal


def _pids():
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            out.append(int(name))
    return out


def ppid(pid):
    """The parent of `pid`, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    rest = data.rsplit(b")", 1)[-1].split()
    try:
        return int(rest[1])
    except (IndexError, ValueError):
        return None


def state(pid):
    """The one-letter state of `pid` (R, S, Z...), or None when gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    rest = data.rsplit(b")", 1)[-1].split()
    return rest[0].decode() if rest else None


def start_time(pid):
    """The start time of `pid` in clock ticks since boot (field 22 of
    /proc/PID/stat): with the pid, it names one process even across pid
    reuse."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    rest = data.rsplit(b")", 1)[-1].split()
    try:
        return int(rest[19])
    except (IndexError, ValueError):
        return None


def snapshot(root):
    """{pid: start time} of `root` and its descendants."""
    out = {}
    for p in [root, *descendants(root)]:
        t = start_time(p)
        if t is not None:
            out[p] = t
    return out


def kill_snapshot(snap):
    """SIGKILL the processes of a snapshot that are still the same ones."""
    killed = []
    for p, t in snap.items():
        if start_time(p) == t and kill_one(p):
            killed.append(p)
    return killed


def alive(pid):
    s = state(pid)
    return s is not None and s not in ("Z", "X")


def exists(pid):
    """True while `pid` is in the process table, zombie or not."""
    return os.path.exists(f"/proc/{pid}")


def parent_map():
    out = {}
    for p in _pids():
        pp = ppid(p)
        if pp is not None:
            out[p] = pp
    return out


def descendants(pid, pmap=None):
    """Every descendant of `pid` (not `pid` itself)."""
    pmap = pmap if pmap is not None else parent_map()
    kids = {}
    for child, parent in pmap.items():
        kids.setdefault(parent, []).append(child)
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in kids.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return ""
    return " ".join(x.decode("utf-8", "replace") for x in raw.split(b"\0") if x)


def exe(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def listening_inodes(port):
    """Inodes of the TCP sockets listening on `port` (any address)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) < 10:
                continue
            local, st, inode = cols[1], cols[3], cols[9]
            if st == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def socket_holders(inodes):
    """Processes with an open descriptor on one of these socket inodes."""
    wanted = {f"socket:[{i}]" for i in inodes}
    out = set()
    if not wanted:
        return out
    for p in _pids():
        try:
            fds = os.listdir(f"/proc/{p}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{p}/fd/{fd}") in wanted:
                    out.add(p)
                    break
            except OSError:
                continue
    return out


def ourselves(pmap=None):
    """This process and its ancestors: never part of a server's tree (a
    Python server started by this Python harness runs the same executable
    as its parent)."""
    pmap = pmap if pmap is not None else parent_map()
    out, p = set(), os.getpid()
    while p and p not in out:
        out.add(p)
        p = pmap.get(p)
    return out


def root_of_listener(port):
    """The main process of the server listening on `port`, or None."""
    pmap = parent_map()
    own = ourselves(pmap)
    holders = socket_holders(listening_inodes(port)) - own
    if not holders:
        return None
    roots = set()
    for h in holders:
        r, e = h, exe(h)
        while True:
            parent = pmap.get(r)
            if (parent is None or parent <= 1 or parent in own
                    or e is None or exe(parent) != e):
                break
            r = parent
        roots.add(r)
    # The one that is an ancestor of (or equal to) every other.
    for r in roots:
        desc = set(descendants(r, pmap)) | {r}
        if roots <= desc:
            return r
    return min(roots)


def kill_tree(root, extra=()):
    """SIGKILL `root`, its descendants and `extra` as close to at once as
    possible: whole process groups that lie inside the tree are killed with
    one killpg, the rest one by one. Returns the pids signalled."""
    pmap = parent_map()
    pids = set()
    for top in [root, *extra]:
        if top and alive(top):
            pids.add(top)
            pids.update(descendants(top, pmap))
    pids -= ourselves(pmap)
    own_group = os.getpgid(0)
    groups = {}
    for p in pmap:
        try:
            groups.setdefault(os.getpgid(p), set()).add(p)
        except OSError:
            continue
    for g, members in groups.items():
        if g != own_group and members and members <= pids:
            try:
                os.killpg(g, signal.SIGKILL)
            except OSError:
                pass
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    return sorted(pids)


def kill_one(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
        return True
    except OSError:
        return False


def tree_memory_kib(root):
    """(PSS, RSS) in KiB summed over `root` and its descendants."""
    pss = rss = 0
    for p in [root, *descendants(root)]:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
                    elif line.startswith("Rss:"):
                        rss += int(line.split()[1])
        except OSError:
            continue
    return pss, rss
