"""A deliberately plain SMTP client: one command, one reply, raw bytes.

smtplib hides where a session failed; the crash harness needs to know
exactly whether the end of data was sent and whether its reply was read,
so it speaks the protocol itself.
"""

import socket


class Closed(Exception):
    """The server closed the connection (or it timed out)."""


class Session:
    def __init__(self, host, port, timeout=30.0, source=None, connect_timeout=5.0):
        self.sock = socket.create_connection(
            (host, port), timeout=connect_timeout,
            source_address=(source, 0) if source else None)
        self.sock.settimeout(timeout)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _line(self):
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except OSError as e:
                raise Closed(str(e)) from e
            if not chunk:
                raise Closed("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        """(code, [text lines]) of one (multi-line) reply."""
        lines = []
        while True:
            line = self._line()
            if len(line) < 3 or not line[:3].isdigit():
                raise Closed(f"malformed reply {line!r}")
            lines.append(line[4:])
            if line[3:4] != "-":
                return int(line[:3]), lines

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise Closed(str(e)) from e

    def cmd(self, line):
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def quit(self):
        try:
            self.cmd("QUIT")
        except Closed:
            pass
        self.close()


def dot_stuff(text):
    """Message text (LF or CRLF lines) to DATA bytes, end marker included."""
    out = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith("."):
            line = "." + line
        out.append(line)
    if out and out[-1] == "":
        out.pop()
    return ("\r\n".join(out) + "\r\n.\r\n").encode()
