"""What was sent, what the server answered, what arrived — and the verdict.

Every attempt carries a unique id (header X-Crash-Test-Id and a body token
derived from it), so a delivered file names the attempt it came from and
proves it arrived whole. An id is never reused: a client retrying after a
failure sends a new attempt, so a second copy of one id is always a
duplicate made by the server.
"""

import hashlib
import threading
from collections import Counter, defaultdict

from .maildir import headers

ID_HEADER = "x-crash-test-id"

# How an attempt ended, from the client's side.
ACKED = "acked"                  # 250 to the end of data: must be delivered
TEMPFAIL = "tempfail"            # 4xx to the end of data: may or may not be
PERMFAIL = "permfail"            # 5xx to the end of data: may or may not be
NO_REPLY = "no_reply"            # end of data sent, no reply: may or may not be
CUT_IN_DATA = "cut_in_data"      # failed while sending the data: must NOT be
NOT_IN_DATA = "not_in_data"      # failed before DATA: nothing to deliver


def token(msg_id):
    return hashlib.sha256(msg_id.encode()).hexdigest()


def body_text(msg_id, size):
    """The body of an attempt: about `size` bytes made of its token, so a
    delivered copy can be checked byte for byte."""
    tok = token(msg_id)
    lines = [f"begin {tok}"]
    lines += [f"{i:06d} {tok}" for i in range(max(0, (size - 400) // 72))]
    lines.append(f"end {tok}")
    return "".join(x + "\n" for x in lines)


def build_message(msg_id, rcpts, size):
    """The message text (LF lines) of an attempt."""
    return (
        "From: crash-test <sender@client.test>\n"
        f"To: {', '.join(rcpts)}\n"
        f"Subject: crash test {msg_id}\n"
        f"Message-ID: <{msg_id}@crash.test>\n"
        f"X-Crash-Test-Id: {msg_id}\n"
        "\n" + body_text(msg_id, size)
    )


def make_parser(size):
    """A parser of delivered files for attempts of `size` bytes: returns
    (id, attributed recipient or None, intact) or None for a file that is
    not ours. Intact means the body is exactly the one sent."""

    def parse(data):
        hs = headers(data)
        ids = [v for n, v in hs if n == ID_HEADER]
        if not ids:
            return None
        msg_id = ids[0]
        rcpt = None
        for name in ("x-original-to", "delivered-to"):
            vals = [v for n, v in hs if n == name]
            if vals:
                rcpt = vals[0].strip("<> ").lower()
                break
        parts = data.split(b"\n\n", 1)
        intact = len(parts) == 2 and parts[1] == body_text(msg_id, size).encode()
        return msg_id, rcpt, intact

    return parse


class Ledger:
    """The client's record of every attempt (thread-safe)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.attempts = {}  # id -> (outcome, accepted recipients, reply text)

    def record(self, msg_id, outcome, rcpts, reply=""):
        with self.lock:
            self.attempts[msg_id] = (outcome, tuple(rcpts), reply)

    def outcomes(self):
        with self.lock:
            return Counter(o for o, _, _ in self.attempts.values())

    def expected(self):
        """(id, rcpt) pairs that must be delivered."""
        with self.lock:
            return {(i, r) for i, (o, rs, _) in self.attempts.items() if o == ACKED for r in rs}


def account(ledger, delivered, prefix, maildir_rcpt=None):
    """The verdict over the delivered files (from Scanner.scan).
    `maildir_rcpt` maps a per-recipient Maildir to its recipient; in a
    shared Maildir the X-Original-To/Delivered-To header names it."""
    maildir_rcpt = maildir_rcpt or {}
    per_rcpt = defaultdict(Counter)  # id -> Counter(rcpt or None)
    corrupt, foreign = [], 0
    for md, parsed in delivered:
        if parsed is None:
            continue
        msg_id, rcpt, intact = parsed
        rcpt = maildir_rcpt.get(md, rcpt)
        if not msg_id.startswith(prefix):
            foreign += 1
            continue
        if not intact:
            corrupt.append(msg_id)
        per_rcpt[msg_id][rcpt] += 1

    lost, dups, dups_unacked, unacked_delivered = [], 0, 0, []
    phantom, unknown = [], []
    with ledger.lock:
        attempts = dict(ledger.attempts)
    for msg_id, (outcome, rcpts, _reply) in attempts.items():
        got = per_rcpt.get(msg_id, Counter())
        want = set(rcpts)
        # Copies attributed to one of our recipients count for it; the rest
        # (a shared Maildir without X-Original-To/Delivered-To) fill the
        # recipients still missing, in any order.
        loose = sum(c for r, c in got.items() if r not in want)
        missing, extra = 0, 0
        for r in want:
            c = got.get(r, 0)
            if c == 0:
                missing += 1
            else:
                extra += c - 1
        used = min(loose, missing)
        missing -= used
        extra += loose - used
        total = sum(got.values())
        if outcome == ACKED:
            if missing:
                lost.append((msg_id, missing))
            dups += extra
        else:
            if total:
                unacked_delivered.append(msg_id)
                dups_unacked += extra
                if outcome in (CUT_IN_DATA, NOT_IN_DATA):
                    phantom.append(msg_id)
    for msg_id in per_rcpt:
        if msg_id not in attempts:
            unknown.append(msg_id)
    return {
        "lost": sum(n for _, n in lost),
        "lost_messages": len(lost),
        "duplicates": dups,
        "duplicates_unacknowledged": dups_unacked,
        "unacknowledged_but_delivered": len(unacked_delivered),
        "delivered_without_end_of_data": len(phantom),
        "corrupt": len(corrupt),
        "unknown_ids": len(unknown),
        "foreign_files": foreign,
        "examples": {
            "lost": [i for i, _ in lost[:10]],
            "corrupt": corrupt[:10],
            "phantom": phantom[:10],
            "unknown": unknown[:10],
        },
    }
