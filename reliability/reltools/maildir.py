"""Reading Maildirs back: every delivered file once, parsed once."""

import os


def message_files(maildir):
    """Paths of the delivered messages (new/ and cur/)."""
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        try:
            names = os.listdir(d)
        except OSError:
            continue
        out.extend(os.path.join(d, n) for n in names)
    return out


def tmp_count(maildir):
    try:
        return len(os.listdir(os.path.join(maildir, "tmp")))
    except OSError:
        return 0


def headers(data):
    """The header block as (lowercased name, value) pairs, unfolded."""
    head = data.split(b"\n\n", 1)[0].replace(b"\r\n", b"\n")
    out = []
    for raw in head.split(b"\n"):
        line = raw.decode("utf-8", "replace")
        if line[:1] in (" ", "\t") and out:
            name, value = out[-1]
            out[-1] = (name, value + " " + line.strip())
        elif ":" in line:
            name, value = line.split(":", 1)
            out.append((name.strip().lower(), value.strip()))
    return out


class Scanner:
    """Scans Maildirs repeatedly, reading each new file only once (a
    delivered file never changes; its name is unique)."""

    def __init__(self, parse):
        self.parse = parse
        self.seen = {}

    def scan(self, maildirs):
        current = set()
        for md in maildirs:
            for path in message_files(md):
                current.add(path)
                if path in self.seen:
                    continue
                try:
                    with open(path, "rb") as f:
                        data = f.read()
                except OSError:
                    continue  # moved new/ -> cur/ meanwhile: next scan
                self.seen[path] = (md, self.parse(data))
        for gone in set(self.seen) - current:
            del self.seen[gone]
        return list(self.seen.values())
