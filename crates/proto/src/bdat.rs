//! The BDAT receiver (RFC 3030 CHUNKING): one message arriving as chunks of
//! exactly announced sizes, the last one marked LAST.
//!
//! No dot-unstuffing and no end-of-data mark: the sizes frame the data. The
//! same line-end normalisation as DATA applies (CRLF, bare CR and bare LF
//! all become LF; a CR at the end of one chunk and an LF at the start of
//! the next are one CRLF), and the same limits. smtp-proto's
//! `BdatReceiver` only copies bytes, so this is ours.
//!
//! A message need not end with a line end under BDAT; a CR as its very
//! last byte counts as a bare line end. Content that does not end in LF is
//! stored as is; the wire encoder adds the final CRLF when it is sent on.
//!
//! When a limit is broken, the receiver still counts every chunk's bytes
//! off the stream (the client has sent them already), emitting nothing.
//! The session answers the chunk where the error showed with
//! [`ContentError::reply`] and later chunks of the same transaction with a
//! refusal of its choice; a BDAT the session refuses outright (no MAIL,
//! no valid RCPT) is skipped with [`BdatReceiver::discarding`].

use crate::content::{ContentLimits, ContentMeter, ContentStats};
use crate::error::ContentError;
use memchr::memchr2;

/// What [`BdatReceiver::feed`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BdatStatus {
    /// All the input was consumed; the chunk wants more bytes.
    NeedMore,
    /// The current chunk (not the last) is complete after `consumed` bytes
    /// of this input; the rest is the command stream. Reply 250, or the
    /// error of [`BdatReceiver::error`] if there is one.
    ChunkDone { consumed: usize },
    /// The LAST chunk is complete after `consumed` bytes: the message is
    /// whole, with these stats or this broken limit.
    MessageDone {
        consumed: usize,
        result: Result<ContentStats, ContentError>,
    },
}

/// Receives one message sent with BDAT.
#[derive(Clone, Debug)]
pub struct BdatReceiver {
    meter: ContentMeter,
    /// Bytes of the current chunk still to come.
    remaining: u64,
    /// The current chunk is the LAST one.
    last: bool,
    /// A chunk is being received.
    in_chunk: bool,
    /// The previous byte was a CR whose fate depends on the next byte.
    pending_cr: bool,
    /// The LAST chunk has been received.
    finished: bool,
}

impl BdatReceiver {
    /// A receiver for one message; call [`start_chunk`](Self::start_chunk)
    /// for each BDAT command.
    pub fn new(limits: ContentLimits) -> Self {
        Self::with_meter(ContentMeter::new(limits))
    }

    /// A receiver that only skips chunks: it emits nothing and never fails.
    pub fn discarding() -> Self {
        Self::with_meter(ContentMeter::silent())
    }

    fn with_meter(meter: ContentMeter) -> Self {
        BdatReceiver {
            meter,
            remaining: 0,
            last: false,
            in_chunk: false,
            pending_cr: false,
            finished: false,
        }
    }

    /// Announce the chunk of a BDAT command. Returns `false` (and changes
    /// nothing) while a chunk is still being received or after the LAST
    /// one: a session bug, since commands are only read between chunks.
    pub fn start_chunk(&mut self, size: u64, last: bool) -> bool {
        if self.in_chunk || self.finished {
            return false;
        }
        self.remaining = size;
        self.last = last;
        self.in_chunk = true;
        true
    }

    /// Consume bytes of the current chunk from `input`, appending
    /// normalised content to `out` (at most `input.len() + 1` bytes).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> BdatStatus {
        if !self.in_chunk {
            return BdatStatus::NeedMore;
        }
        let n = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(input.len());
        self.normalise(&input[..n], out);
        self.remaining -= n as u64;
        if self.remaining > 0 {
            return BdatStatus::NeedMore;
        }
        self.in_chunk = false;
        if !self.last {
            return BdatStatus::ChunkDone { consumed: n };
        }
        if self.pending_cr {
            self.pending_cr = false;
            self.meter.bare_line_end(out);
        }
        self.finished = true;
        BdatStatus::MessageDone {
            consumed: n,
            result: self.meter.result(),
        }
    }

    /// Line-end normalisation of chunk bytes, carrying a trailing CR over
    /// to the next call.
    fn normalise(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        if self.pending_cr && !bytes.is_empty() {
            self.pending_cr = false;
            if bytes[0] == b'\n' {
                i = 1;
                self.meter.line_end(out);
            } else {
                self.meter.bare_line_end(out);
            }
        }
        while i < bytes.len() {
            let Some(k) = memchr2(b'\r', b'\n', &bytes[i..]) else {
                self.meter.text(&bytes[i..], out);
                return;
            };
            self.meter.text(&bytes[i..i + k], out);
            let at = i + k;
            if bytes[at] == b'\n' {
                self.meter.bare_line_end(out);
                i = at + 1;
            } else if at + 1 == bytes.len() {
                self.pending_cr = true;
                return;
            } else if bytes[at + 1] == b'\n' {
                self.meter.line_end(out);
                i = at + 2;
            } else {
                self.meter.bare_line_end(out);
                i = at + 1;
            }
        }
    }

    /// The limit broken so far, if any.
    pub fn error(&self) -> Option<ContentError> {
        self.meter.error()
    }

    /// Statistics so far.
    pub fn stats(&self) -> ContentStats {
        self.meter.stats()
    }

    /// Has the LAST chunk been received?
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Is a chunk being received (so input is chunk data, not commands)?
    pub fn in_chunk(&self) -> bool {
        self.in_chunk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_with_split_crlf_and_pipelined_tail() {
        let mut r = BdatReceiver::new(ContentLimits::default());
        let mut out = Vec::new();
        assert!(r.start_chunk(4, false));
        assert_eq!(r.feed(b"ab\r", &mut out), BdatStatus::NeedMore);
        assert!(!r.start_chunk(1, false));
        assert_eq!(
            r.feed(b"\rBDAT", &mut out),
            BdatStatus::ChunkDone { consumed: 1 }
        );
        assert!(r.start_chunk(3, true));
        let status = r.feed(b"\n.\rQUIT\r\n", &mut out);
        let BdatStatus::MessageDone { consumed, result } = status else {
            panic!("{status:?}")
        };
        assert_eq!(consumed, 3);
        // "ab" CR CR | LF "." CR(end) -> ab, bare CR, CRLF, ".", bare CR.
        assert_eq!(out, b"ab\n\n.\n");
        assert_eq!(result.unwrap().bare_line_ends, 2);
        assert!(r.is_finished());
        assert!(!r.start_chunk(1, true));
    }

    #[test]
    fn empty_last_chunk() {
        let mut r = BdatReceiver::new(ContentLimits::default());
        let mut out = Vec::new();
        r.start_chunk(2, false);
        assert_eq!(
            r.feed(b"hi", &mut out),
            BdatStatus::ChunkDone { consumed: 2 }
        );
        r.start_chunk(0, true);
        assert!(matches!(
            r.feed(b"", &mut out),
            BdatStatus::MessageDone {
                consumed: 0,
                result: Ok(_)
            }
        ));
        assert_eq!(out, b"hi");
    }

    #[test]
    fn too_big_keeps_consuming_and_discarding_emits_nothing() {
        let limits = ContentLimits {
            max_size: 3,
            ..ContentLimits::default()
        };
        let mut r = BdatReceiver::new(limits);
        let mut out = Vec::new();
        r.start_chunk(10, true);
        let status = r.feed(b"0123456789rest", &mut out);
        assert_eq!(
            status,
            BdatStatus::MessageDone {
                consumed: 10,
                result: Err(ContentError::TooBig { limit: 3 })
            }
        );
        let mut d = BdatReceiver::discarding();
        let mut out = Vec::new();
        d.start_chunk(5, false);
        assert_eq!(
            d.feed(b"abcdefg", &mut out),
            BdatStatus::ChunkDone { consumed: 5 }
        );
        assert!(out.is_empty());
    }
}
