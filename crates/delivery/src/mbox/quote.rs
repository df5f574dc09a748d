//! The mbox framing of one message: the `From ` separator line, `>From `
//! quoting, and the blank line that ends it.
//!
//! We write **mboxrd**: a line matching `^>*From ` gets one more `>`. Unlike
//! mboxo (which quotes only `^From `, as OpenSMTPD's `mail.local` does), the
//! quoting can be undone exactly by a reader that knows mboxrd, and for the
//! common case — a body line starting `From ` — both produce `>From `, which
//! is what Python's `mailbox` and mail readers expect. (OpenSMTPD issue
//! #1083 asks for mboxrd.)
//!
//! The framer streams: memory stays bounded whatever the line lengths, and
//! it never flushes on drop, so an abandoned message leaves nothing behind
//! but what was explicitly written (the caller truncates that away).

use chrono::{DateTime, TimeZone};
use std::fmt::Display;
use std::io::{self, Write};

const FROM: &[u8] = b"From ";
/// Bytes gathered before a write to the mailbox.
const FLUSH_AT: usize = 64 * 1024;

/// The separator line: `From SENDER DATE` with an `asctime(3)` date
/// (`Thu Nov 24 18:22:48 1986`), ended by LF. White space and control
/// characters in the sender (a quoted local part may have them) become `_`,
/// since readers split this line on white space.
pub(crate) fn from_line<Tz: TimeZone>(sender: &str, when: &DateTime<Tz>) -> String
where
    Tz::Offset: Display,
{
    let sender: String = sender
        .chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    format!("From {} {}\n", sender, when.format("%a %b %e %H:%M:%S %Y"))
}

/// Where a line stands in the decision "does it need quoting?".
#[derive(Clone, Copy, Debug)]
enum Line {
    /// At the start of a line, having seen `gts` `>` and then the first
    /// `matched` bytes of `From `.
    Start { gts: usize, matched: usize },
    /// Past the decision: copy until the end of the line.
    Rest,
}

/// Quotes and frames one message onto a writer.
pub(crate) struct MboxFramer<'w> {
    out: &'w mut dyn Write,
    buf: Vec<u8>,
    line: Line,
    last: Option<u8>,
}

impl<'w> MboxFramer<'w> {
    /// Start a message: the separator line is written first.
    pub(crate) fn new(out: &'w mut dyn Write, from_line: &str) -> Self {
        let mut buf = Vec::with_capacity(FLUSH_AT + 1024);
        buf.extend_from_slice(from_line.as_bytes());
        MboxFramer {
            out,
            buf,
            line: Line::Start { gts: 0, matched: 0 },
            last: None,
        }
    }

    /// Add message bytes (headers or body, LF line endings).
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

    /// End the message: close its last line if it had no LF, add the blank
    /// separator line, and write everything out.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        self.release_prefix();
        if self.last.is_some_and(|b| b != b'\n') {
            self.buf.push(b'\n');
        }
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)?;
        self.out.flush()
    }

    fn byte(&mut self, b: u8) {
        self.last = Some(b);
        match self.line {
            Line::Rest => {
                self.buf.push(b);
                if b == b'\n' {
                    self.line = Line::Start { gts: 0, matched: 0 };
                }
            }
            Line::Start { gts, matched } => {
                if matched == 0 && b == b'>' {
                    self.line = Line::Start {
                        gts: gts + 1,
                        matched,
                    };
                } else if b == FROM[matched] {
                    if matched + 1 == FROM.len() {
                        self.buf.push(b'>');
                        self.line = Line::Start {
                            gts,
                            matched: FROM.len(),
                        };
                        self.release_prefix();
                    } else {
                        self.line = Line::Start {
                            gts,
                            matched: matched + 1,
                        };
                    }
                } else {
                    self.release_prefix();
                    self.buf.push(b);
                    if b == b'\n' {
                        self.line = Line::Start { gts: 0, matched: 0 };
                    }
                }
            }
        }
    }

    /// Write out the `>`s and partial `From ` held back at a line start.
    fn release_prefix(&mut self) {
        if let Line::Start { gts, matched } = self.line {
            self.buf.extend(std::iter::repeat_n(b'>', gts));
            self.buf.extend_from_slice(&FROM[..matched]);
            self.line = Line::Rest;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    fn frame(msg: &[u8], chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut f = MboxFramer::new(&mut out, "From x Thu Jan  1 00:00:00 1970\n");
        for c in msg.chunks(chunk.max(1)) {
            f.push(c).unwrap();
        }
        f.finish().unwrap();
        out
    }

    fn body(msg: &[u8]) -> Vec<u8> {
        let whole = frame(msg, msg.len());
        assert_eq!(whole, frame(msg, 1), "chunking changed the output");
        assert_eq!(whole, frame(msg, 3), "chunking changed the output");
        whole[32..].to_vec()
    }

    #[test]
    fn quotes_mboxrd() {
        assert_eq!(body(b"From me\n"), b">From me\n\n");
        assert_eq!(
            body(b"a\nFrom x\n>From y\n>>From z\n"),
            b"a\n>From x\n>>From y\n>>>From z\n\n"
        );
        assert_eq!(
            body(b"From\nFrom:\n>From\nFro"),
            b"From\nFrom:\n>From\nFro\n\n"
        );
        assert_eq!(
            body(b" From x\nfrom x\n>x\n>"),
            b" From x\nfrom x\n>x\n>\n\n"
        );
        assert_eq!(body(b">>>"), b">>>\n\n");
        assert_eq!(body(b"From "), b">From \n\n");
    }

    #[test]
    fn frames_the_end() {
        assert_eq!(body(b"a\n"), b"a\n\n");
        assert_eq!(body(b"a"), b"a\n\n");
        assert_eq!(body(b""), b"\n");
        assert_eq!(body(b"a\n\n"), b"a\n\n\n");
    }

    #[test]
    fn separator_line() {
        let t = FixedOffset::east_opt(3600)
            .unwrap()
            .with_ymd_and_hms(1986, 11, 4, 8, 2, 9)
            .unwrap();
        assert_eq!(
            from_line("a@b.org", &t),
            "From a@b.org Tue Nov  4 08:02:09 1986\n"
        );
        assert_eq!(
            from_line("\"a b\"@c", &t),
            "From \"a_b\"@c Tue Nov  4 08:02:09 1986\n"
        );
    }
}
