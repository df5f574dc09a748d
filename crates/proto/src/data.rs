//! The DATA receiver (RFC 5321 §4.1.1.4, §4.5.2): from the bytes after the
//! 354 to the end-of-data mark, streaming LF-normalised, dot-unstuffed
//! content to the caller.
//!
//! Written here rather than taken from smtp-proto's `DataReceiver`, which
//! passes bare CR and LF through unchanged (so a relay would forward them,
//! the root of SMTP smuggling), does not recognise `.CRLF` right after the
//! 354 as an empty message, and applies no limits.
//!
//! # The rules, byte for byte
//!
//! - **End of data is exactly `CRLF . CRLF`**, where the first CRLF may be
//!   the (virtual) one just before the content: `.CRLF` as the very first
//!   bytes is an empty message. Nothing else ends the data. The smuggling
//!   sequences `LF.LF`, `CR.CR`, `LF.CRLF`, `CRLF.LF`, `CR.LF`, `LF.CR`,
//!   `CR.CRLF`, `CRLF.CR`, and any of them with a NUL, are content.
//! - **Line ends**: CRLF, a bare LF and a bare CR each end a line and are
//!   emitted as one LF. The output never holds a CR, so a relay that turns
//!   LF into CRLF can never emit a bare CR or LF.
//! - **Dot-unstuffing**: a line that starts with `.` after a real CRLF
//!   loses that dot (`..x` → `.x`, `.x` → `x`). After a bare CR or LF a
//!   leading dot is plain content: such a client is not speaking RFC 5321,
//!   and guessing whether it stuffed would let two readers disagree.
//! - **A lone dot that does not end the data is kept as a `.` line**: after
//!   a real CRLF, `.` followed by a bare LF or bare CR (`CRLF.LF`,
//!   `CRLF.CR`) is stored as the line `.`; after a bare line end, `.` is
//!   content anyway (`LF.CRLF` stores a `.` line). Whoever sends that line
//!   on again dot-stuffs it to `..` (see [`crate::WireEncoder`]), so the
//!   next hop reads a dot, never an end of data: the smuggled commands that
//!   follow stay inside this message, as text.
//!
//! After the end, bytes that follow (pipelined commands) are not consumed:
//! [`DataStatus::Done`] says how many bytes of the last input were used.

use crate::content::{ContentLimits, ContentMeter, ContentStats};
use crate::error::ContentError;
use memchr::memchr2;

/// Where the receiver is in the byte stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// At a line start after a real CRLF (or at the very start).
    StartAfterCrlf,
    /// At a line start after a bare CR or LF: a dot here is content.
    StartAfterBare,
    /// Inside a line.
    InLine,
    /// Saw a CR inside a line; is it CRLF or bare?
    Cr,
    /// Saw `.` at a line start after CRLF.
    Dot,
    /// Saw `.` CR at a line start after CRLF: an LF now ends the data.
    DotCr,
    /// The end of data was seen.
    Done,
}

/// What [`DataReceiver::feed`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataStatus {
    /// All the input was consumed; the end of data is still to come.
    NeedMore,
    /// The end of data was seen after `consumed` bytes of this input; the
    /// rest belongs to the command stream. `result` is the message's stats
    /// or the limit it broke (reply with [`ContentError::reply`]).
    Done {
        consumed: usize,
        result: Result<ContentStats, ContentError>,
    },
}

/// Receives one message after DATA.
#[derive(Clone, Debug)]
pub struct DataReceiver {
    state: State,
    meter: ContentMeter,
}

impl DataReceiver {
    /// A receiver for one message, right after the 354.
    pub fn new(limits: ContentLimits) -> Self {
        DataReceiver {
            state: State::StartAfterCrlf,
            meter: ContentMeter::new(limits),
        }
    }

    /// Consume `input`, appending normalised content to `out` (at most
    /// `input.len() + 1` bytes are added). The caller writes `out` to the
    /// spool and clears it whenever it likes; the receiver keeps no copy.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> DataStatus {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                State::Done => return self.done(0),
                State::StartAfterCrlf => {
                    if input[i] == b'.' {
                        i += 1;
                        self.state = State::Dot;
                    } else {
                        self.state = State::InLine;
                    }
                }
                State::StartAfterBare => self.state = State::InLine,
                State::InLine => match memchr2(b'\r', b'\n', &input[i..]) {
                    None => {
                        self.meter.text(&input[i..], out);
                        i = input.len();
                    }
                    Some(k) => {
                        self.meter.text(&input[i..i + k], out);
                        let c = input[i + k];
                        i += k + 1;
                        if c == b'\n' {
                            self.meter.bare_line_end(out);
                            self.state = State::StartAfterBare;
                        } else {
                            self.state = State::Cr;
                        }
                    }
                },
                State::Cr => {
                    if input[i] == b'\n' {
                        i += 1;
                        self.meter.line_end(out);
                        self.state = State::StartAfterCrlf;
                    } else {
                        // The CR was bare; the byte at `i` starts a line.
                        self.meter.bare_line_end(out);
                        self.state = State::StartAfterBare;
                    }
                }
                State::Dot => match input[i] {
                    b'\r' => {
                        i += 1;
                        self.state = State::DotCr;
                    }
                    b'\n' => {
                        // CRLF . LF: content, kept as a "." line.
                        i += 1;
                        self.meter.text(b".", out);
                        self.meter.bare_line_end(out);
                        self.state = State::StartAfterBare;
                    }
                    // Dot-unstuffing: the leading dot is dropped.
                    _ => self.state = State::InLine,
                },
                State::DotCr => {
                    if input[i] == b'\n' {
                        i += 1;
                        self.state = State::Done;
                        return self.done(i);
                    }
                    // CRLF . CR x: content, kept as a "." line.
                    self.meter.text(b".", out);
                    self.meter.bare_line_end(out);
                    self.state = State::StartAfterBare;
                }
            }
        }
        if self.state == State::Done {
            return self.done(i);
        }
        DataStatus::NeedMore
    }

    fn done(&self, consumed: usize) -> DataStatus {
        DataStatus::Done {
            consumed,
            result: self.meter.result(),
        }
    }

    /// The limit broken so far, if any: the session may stop spooling
    /// early (the receiver still reads to the end of data).
    pub fn error(&self) -> Option<ContentError> {
        self.meter.error()
    }

    /// Statistics so far.
    pub fn stats(&self) -> ContentStats {
        self.meter.stats()
    }

    /// Has the end of data been seen?
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type End = Option<(usize, Result<ContentStats, ContentError>)>;

    /// Feed all of `input`; returns (content, consumed at end, result).
    fn recv(input: &[u8]) -> (Vec<u8>, End) {
        let mut r = DataReceiver::new(ContentLimits::default());
        let mut out = Vec::new();
        match r.feed(input, &mut out) {
            DataStatus::NeedMore => (out, None),
            DataStatus::Done { consumed, result } => (out, Some((consumed, result))),
        }
    }

    #[test]
    fn plain_message_and_pipelined_tail() {
        let (out, end) = recv(b"Subject: x\r\n\r\nhello\r\n.\r\nQUIT\r\n");
        assert_eq!(out, b"Subject: x\n\nhello\n");
        assert_eq!(end.unwrap().0, 24);
    }

    #[test]
    fn empty_message_right_after_354() {
        let (out, end) = recv(b".\r\nQUIT\r\n");
        assert_eq!(out, b"");
        let (consumed, result) = end.unwrap();
        assert_eq!(consumed, 3);
        assert_eq!(result.unwrap().size, 0);
    }

    #[test]
    fn dot_unstuffing() {
        let (out, end) = recv(b"..\r\n.x\r\n...y\r\n.\r\n");
        assert_eq!(out, b".\nx\n..y\n");
        assert!(end.is_some());
    }

    #[test]
    fn bare_line_ends_are_normalised() {
        let (out, end) = recv(b"a\rb\nc\r\r\nd\r\n.\r\n");
        assert_eq!(out, b"a\nb\nc\n\nd\n");
        assert_eq!(end.unwrap().1.unwrap().bare_line_ends, 3);
    }

    #[test]
    fn after_done_nothing_more_is_consumed() {
        let mut r = DataReceiver::new(ContentLimits::default());
        let mut out = Vec::new();
        assert!(matches!(
            r.feed(b".\r\n", &mut out),
            DataStatus::Done { consumed: 3, .. }
        ));
        assert!(matches!(
            r.feed(b"x", &mut out),
            DataStatus::Done { consumed: 0, .. }
        ));
        assert!(r.is_done());
    }
}
