//! Bounded line framing shared by the server's command reader and the
//! client's reply parser.
//!
//! Two properties matter here and are why this is hand-written rather than
//! taken from smtp-proto's `RequestReceiver`:
//!
//! - **Memory is bounded.** [`LineBuffer::feed`] takes at most the free
//!   capacity and says how much it took; the caller keeps the rest. A line
//!   longer than the limit is reported once and then skipped up to its LF
//!   *without being stored*, so a 10 MB line costs nothing but the time to
//!   scan it. (smtp-proto's receiver, after a too-long line, parses the tail
//!   of that line as a new command — a way to smuggle a command past a
//!   front-end that checked only line starts.)
//! - **Framing is lazy.** Lines are cut only when asked for. Bytes after a
//!   `DATA`/`BDAT` line belong to the message, not to the command stream, and
//!   must reach the content receiver untouched: [`LineBuffer::take_buffered`]
//!   hands them over exactly as received.
//!
//! A line ends at LF. A CR right before that LF is removed; any other CR
//! stays in the line, where the command parser refuses it as a control
//! character (a bare CR never ends a command line: treating it as one would
//! let `NOOP\rMAIL FROM:…` be read differently by us and by a front-end).

use memchr::memchr;

/// What [`LineBuffer::next_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LineItem<'a> {
    /// A complete line, without its LF or CRLF.
    Line(&'a [u8]),
    /// A line longer than the limit: it has been (or is being) discarded.
    TooLong,
}

/// A byte buffer that yields lines of bounded length.
#[derive(Debug, Clone)]
pub(crate) struct LineBuffer {
    buf: Vec<u8>,
    /// Offset of the first byte not yet handed out.
    start: usize,
    /// Longest line accepted, terminator included.
    max_line: usize,
    /// Most bytes held at once (at least `max_line`).
    capacity: usize,
    /// Skipping the rest of a too-long line until its LF.
    discarding: bool,
}

impl LineBuffer {
    pub(crate) fn new(max_line: usize, capacity: usize) -> Self {
        let max_line = max_line.max(2);
        LineBuffer {
            buf: Vec::new(),
            start: 0,
            max_line,
            capacity: capacity.max(max_line),
            discarding: false,
        }
    }

    /// Take bytes from `input`; returns how many were taken (stored or, for
    /// the rest of a too-long line, dropped). Stops when the buffer is full:
    /// take lines out, then feed the remainder.
    pub(crate) fn feed(&mut self, input: &[u8]) -> usize {
        let mut taken = 0;
        if self.discarding {
            match memchr(b'\n', input) {
                None => return input.len(),
                Some(i) => {
                    self.discarding = false;
                    taken = i + 1;
                }
            }
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let free = self.capacity.saturating_sub(self.buf.len());
        let n = free.min(input.len() - taken);
        self.buf.extend_from_slice(&input[taken..taken + n]);
        taken + n
    }

    /// The next complete line, a too-long report, or `None` when more
    /// input is needed.
    pub(crate) fn next_line(&mut self) -> Option<LineItem<'_>> {
        let data = &self.buf[self.start..];
        match memchr(b'\n', data) {
            Some(i) => {
                let begin = self.start;
                self.start += i + 1;
                if i + 1 > self.max_line {
                    return Some(LineItem::TooLong);
                }
                let mut end = begin + i;
                if end > begin && self.buf[end - 1] == b'\r' {
                    end -= 1;
                }
                Some(LineItem::Line(&self.buf[begin..end]))
            }
            None if data.len() >= self.max_line => {
                self.buf.clear();
                self.start = 0;
                self.discarding = true;
                Some(LineItem::TooLong)
            }
            None => None,
        }
    }

    /// Bytes received but not yet handed out as lines.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Hand over every byte not yet cut into lines, and forget them.
    pub(crate) fn take_buffered(&mut self) -> Vec<u8> {
        let rest = self.buf.split_off(self.start);
        self.buf.clear();
        self.start = 0;
        rest
    }

    /// Drop everything buffered (e.g. right after STARTTLS, where bytes sent
    /// in clear before the handshake must never be read as commands).
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.start = 0;
        self.discarding = false;
    }

    /// Is the rest of a too-long line being skipped?
    #[cfg(test)]
    pub(crate) fn is_discarding(&self) -> bool {
        self.discarding
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(lb: &mut LineBuffer) -> Vec<Result<Vec<u8>, ()>> {
        let mut v = Vec::new();
        while let Some(item) = lb.next_line() {
            v.push(match item {
                LineItem::Line(l) => Ok(l.to_vec()),
                LineItem::TooLong => Err(()),
            });
        }
        v
    }

    #[test]
    fn crlf_and_bare_lf_end_lines_bare_cr_does_not() {
        let mut lb = LineBuffer::new(100, 1000);
        assert_eq!(lb.feed(b"a\r\nb\nc\rd\r\ne"), 11);
        assert_eq!(
            lines(&mut lb),
            vec![Ok(b"a".to_vec()), Ok(b"b".to_vec()), Ok(b"c\rd".to_vec())]
        );
        assert_eq!(lb.buffered(), b"e");
        lb.feed(b"\r\n");
        assert_eq!(lines(&mut lb), vec![Ok(b"e".to_vec())]);
    }

    #[test]
    fn too_long_line_is_reported_once_and_skipped_unbuffered() {
        let mut lb = LineBuffer::new(10, 20);
        let big = vec![b'x'; 10_000_000];
        let mut input: &[u8] = &big;
        let mut reports = 0;
        while !input.is_empty() {
            let n = lb.feed(input);
            assert!(lb.buffered().len() <= 20);
            input = &input[n..];
            for l in lines(&mut lb) {
                assert!(l.is_err());
                reports += 1;
            }
        }
        assert_eq!(reports, 1);
        assert!(lb.is_discarding());
        lb.feed(b"tail\r\nNOOP\r\n");
        assert_eq!(lines(&mut lb), vec![Ok(b"NOOP".to_vec())]);
    }

    #[test]
    fn too_long_line_with_its_lf_in_the_buffer() {
        // The limit counts the terminator: "12345\r\n" is 7 bytes.
        let mut lb = LineBuffer::new(7, 100);
        lb.feed(b"12345\r\n123456\r\nok\r\n");
        assert_eq!(
            lines(&mut lb),
            vec![Ok(b"12345".to_vec()), Err(()), Ok(b"ok".to_vec())]
        );
    }

    #[test]
    fn feed_stops_at_capacity() {
        let mut lb = LineBuffer::new(10, 10);
        assert_eq!(lb.feed(b"abc\r\ndef\r\nghi\r\n"), 10);
        assert_eq!(
            lines(&mut lb),
            vec![Ok(b"abc".to_vec()), Ok(b"def".to_vec())]
        );
        assert_eq!(lb.feed(b"ghi\r\n"), 5);
        assert_eq!(lines(&mut lb), vec![Ok(b"ghi".to_vec())]);
    }

    #[test]
    fn take_buffered_hands_over_raw_bytes() {
        let mut lb = LineBuffer::new(100, 1000);
        lb.feed(b"BDAT 5\r\nab\r\n.xyz");
        assert_eq!(lines(&mut lb).len(), 2);
        assert_eq!(lb.take_buffered(), b".xyz");
        assert!(lb.buffered().is_empty());
    }
}
