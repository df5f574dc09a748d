//! The DATA section on the wire: queued text (LF line endings) turned into
//! CRLF lines with dot-stuffing (RFC 5321 §4.5.2), ended by `.` CRLF.
//!
//! Nothing bare goes out: an LF becomes CRLF, a CRLF stays one, and a CR
//! not followed by LF becomes a line break too (servers that refuse bare
//! CRs would otherwise reject the whole message).

use std::io::{self, Write};

/// Bytes gathered before a write to the socket.
const FLUSH_AT: usize = 64 * 1024;

/// Streams a message into a DATA section.
pub(crate) struct DotStuffer<'w> {
    out: &'w mut dyn Write,
    buf: Vec<u8>,
    at_line_start: bool,
    pending_cr: bool,
}

impl<'w> DotStuffer<'w> {
    pub(crate) fn new(out: &'w mut dyn Write) -> Self {
        DotStuffer {
            out,
            buf: Vec::with_capacity(FLUSH_AT + 1024),
            at_line_start: true,
            pending_cr: false,
        }
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) -> io::Result<()> {
        for &b in bytes {
            self.byte(b);
        }
        if self.buf.len() >= FLUSH_AT {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// End the last line if needed, add the terminating `.` line, and send
    /// everything.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        if self.pending_cr {
            self.end_line();
        }
        if !self.at_line_start {
            self.end_line();
        }
        self.buf.extend_from_slice(b".\r\n");
        self.out.write_all(&self.buf)?;
        self.out.flush()
    }

    fn byte(&mut self, b: u8) {
        if self.pending_cr {
            self.pending_cr = false;
            self.end_line();
            if b == b'\n' {
                return;
            }
        }
        match b {
            b'\r' => self.pending_cr = true,
            b'\n' => self.end_line(),
            _ => {
                if self.at_line_start && b == b'.' {
                    self.buf.push(b'.');
                }
                self.buf.push(b);
                self.at_line_start = false;
            }
        }
    }

    fn end_line(&mut self) {
        self.buf.extend_from_slice(b"\r\n");
        self.at_line_start = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(msg: &[u8], chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut d = DotStuffer::new(&mut out);
        for c in msg.chunks(chunk.max(1)) {
            d.push(c).unwrap();
        }
        d.finish().unwrap();
        out
    }

    fn both(msg: &[u8]) -> Vec<u8> {
        let w = wire(msg, msg.len());
        assert_eq!(w, wire(msg, 1));
        w
    }

    #[test]
    fn crlf_and_dots() {
        assert_eq!(both(b"a\n.\n..b\n"), b"a\r\n..\r\n...b\r\n.\r\n");
        assert_eq!(both(b".x"), b"..x\r\n.\r\n");
        assert_eq!(both(b"a\r\nb\r\n"), b"a\r\nb\r\n.\r\n");
        assert_eq!(both(b"a\rb\r"), b"a\r\nb\r\n.\r\n");
        assert_eq!(both(b"a\r\r\n.\r"), b"a\r\n\r\n..\r\n.\r\n");
        assert_eq!(both(b""), b".\r\n");
        assert_eq!(both(b"\n"), b"\r\n.\r\n");
        assert_eq!(both(b"x.\n a.b\n"), b"x.\r\n a.b\r\n.\r\n");
    }

    #[test]
    fn no_bare_cr_or_lf_ever() {
        let nasty = b"\r\r\n\n\r.\n.\r\r.\n\x00\xff\r";
        let w = both(nasty);
        for (i, &b) in w.iter().enumerate() {
            if b == b'\r' {
                assert_eq!(w.get(i + 1), Some(&b'\n'), "bare CR at {i}");
            }
            if b == b'\n' {
                assert_eq!(w[i - 1], b'\r', "bare LF at {i}");
            }
        }
    }
}
