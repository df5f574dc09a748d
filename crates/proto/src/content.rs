//! What the DATA and BDAT receivers share: limits, statistics, and the
//! meter that watches normalised content on its way out.
//!
//! Both receivers turn every line ending (CRLF, bare LF, bare CR) into a
//! single LF and pass the result through a `ContentMeter`, which checks
//! the limits and gathers the facts the session needs, without holding the
//! message: it looks at each byte once as it streams to the caller's
//! buffer. When a limit is broken the meter stops emitting (the message is
//! refused anyway, so there is no point spooling the rest) but keeps
//! counting, and the receiver keeps reading to the end of the data so the
//! session stays in step with the client.

use crate::error::ContentError;
use crate::limits::{DEFAULT_MAX_MESSAGE_SIZE, MAX_RECEIVED_HEADERS, MAX_TEXT_LINE};
use memchr::memchr;

/// Limits applied to one message's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentLimits {
    /// Largest message, counted in CRLF form (each line end as two bytes,
    /// dot-stuffing not counted): the unit of RFC 1870's SIZE and of
    /// `smtp max-message-size`.
    pub max_size: u64,
    /// Longest text line, line end not counted.
    pub max_line: usize,
    /// A message with this many `Received:` headers or more is a loop.
    pub max_received: u32,
}

impl Default for ContentLimits {
    fn default() -> Self {
        ContentLimits {
            max_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_line: MAX_TEXT_LINE,
            max_received: MAX_RECEIVED_HEADERS,
        }
    }
}

/// Facts about a received message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContentStats {
    /// Size in CRLF form (see [`ContentLimits::max_size`]).
    pub size: u64,
    /// Bytes of content in LF form (what the spool holds once the
    /// message is accepted).
    pub stored: u64,
    /// Line ends emitted.
    pub lines: u64,
    /// `Received:` headers in the header section.
    pub received_headers: u32,
    /// Some byte is 8-bit (matters for BODY=7BIT and for relaying to a
    /// peer without 8BITMIME).
    pub has_8bit: bool,
    /// Some byte is NUL (RFC 5322 forbids it; policy decides).
    pub has_nul: bool,
    /// Bare CRs and bare LFs that were taken as line ends. Non-zero means
    /// a sloppy or hostile client; worth a log line.
    pub bare_line_ends: u64,
}

const RECEIVED: &[u8] = b"received:";

/// Checks limits and gathers [`ContentStats`] over LF-normalised content.
#[derive(Clone, Debug)]
pub(crate) struct ContentMeter {
    limits: ContentLimits,
    stats: ContentStats,
    error: Option<ContentError>,
    /// Length of the current line so far.
    line_len: usize,
    /// Still in the header section (before the first empty line).
    in_headers: bool,
    /// How many bytes of `received:` the current line starts with; `None`
    /// once it cannot be a Received header.
    hdr_match: Option<usize>,
    /// Emit nothing at all (a receiver that only skips a chunk).
    silent: bool,
}

impl ContentMeter {
    pub(crate) fn new(limits: ContentLimits) -> Self {
        ContentMeter {
            limits,
            stats: ContentStats::default(),
            error: None,
            line_len: 0,
            in_headers: true,
            hdr_match: Some(0),
            silent: false,
        }
    }

    /// A meter that emits nothing and never fails: for input that is read
    /// only to be thrown away.
    pub(crate) fn silent() -> Self {
        let mut m = Self::new(ContentLimits {
            max_size: u64::MAX,
            max_line: usize::MAX,
            max_received: u32::MAX,
        });
        m.silent = true;
        m
    }

    fn fail(&mut self, e: ContentError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    fn emitting(&self) -> bool {
        self.error.is_none() && !self.silent
    }

    /// Text containing no line end. Only the bytes that fit within the
    /// limits are emitted, so what comes out before a failure is the same
    /// however the input was cut into reads.
    pub(crate) fn text(&mut self, t: &[u8], out: &mut Vec<u8>) {
        if t.is_empty() {
            return;
        }
        let room_line = self.limits.max_line.saturating_sub(self.line_len);
        let room_size = self.limits.max_size.saturating_sub(self.stats.size);
        let room_size = usize::try_from(room_size).unwrap_or(usize::MAX);
        if self.emitting() {
            out.extend_from_slice(&t[..t.len().min(room_line).min(room_size)]);
        }
        if self.in_headers {
            if let Some(m) = self.hdr_match {
                let n = (RECEIVED.len() - m).min(t.len());
                self.hdr_match = t[..n]
                    .eq_ignore_ascii_case(&RECEIVED[m..m + n])
                    .then_some(m + n);
            }
        }
        if !self.stats.has_8bit && !t.is_ascii() {
            self.stats.has_8bit = true;
        }
        if !self.stats.has_nul && memchr(0, t).is_some() {
            self.stats.has_nul = true;
        }
        self.line_len = self.line_len.saturating_add(t.len());
        // The limit that the first excess byte breaks is the one reported.
        if t.len() > room_line && room_line <= room_size {
            self.fail(ContentError::LineTooLong {
                limit: self.limits.max_line,
            });
        }
        self.add_size(t.len() as u64, t.len() as u64);
    }

    /// A line end (from CRLF).
    pub(crate) fn line_end(&mut self, out: &mut Vec<u8>) {
        if self.in_headers {
            if self.line_len == 0 {
                self.in_headers = false;
            } else if self.hdr_match == Some(RECEIVED.len()) {
                self.stats.received_headers += 1;
                if self.stats.received_headers >= self.limits.max_received {
                    self.fail(ContentError::Loop {
                        count: self.stats.received_headers,
                    });
                }
            }
        }
        self.line_len = 0;
        self.hdr_match = Some(0);
        self.stats.lines += 1;
        self.add_size(2, 1);
        if self.emitting() {
            out.push(b'\n');
        }
    }

    /// A line end from a bare CR or bare LF.
    pub(crate) fn bare_line_end(&mut self, out: &mut Vec<u8>) {
        self.stats.bare_line_ends += 1;
        self.line_end(out);
    }

    fn add_size(&mut self, wire: u64, stored: u64) {
        self.stats.size = self.stats.size.saturating_add(wire);
        self.stats.stored = self.stats.stored.saturating_add(stored);
        if self.stats.size > self.limits.max_size {
            self.fail(ContentError::TooBig {
                limit: self.limits.max_size,
            });
        }
    }

    pub(crate) fn error(&self) -> Option<ContentError> {
        self.error
    }

    pub(crate) fn stats(&self) -> ContentStats {
        self.stats
    }

    /// The outcome once the content is complete.
    pub(crate) fn result(&self) -> Result<ContentStats, ContentError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.stats),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        lines: &[&[u8]],
        limits: ContentLimits,
    ) -> (Vec<u8>, Result<ContentStats, ContentError>) {
        let mut m = ContentMeter::new(limits);
        let mut out = Vec::new();
        for l in lines {
            // Feed each line in two pieces to exercise the header matcher.
            let (a, b) = l.split_at(l.len() / 2);
            m.text(a, &mut out);
            m.text(b, &mut out);
            m.line_end(&mut out);
        }
        (out, m.result())
    }

    #[test]
    fn counts_received_headers_only_in_the_header_section() {
        let (out, r) = run(
            &[
                b"Received: a",
                b"rEcEiVeD:b",
                b"X-Received: c",
                b"Received : d",
                b"",
                b"Received: body",
            ],
            ContentLimits::default(),
        );
        assert_eq!(r.unwrap().received_headers, 2);
        assert!(out.starts_with(b"Received: a\n"));
    }

    #[test]
    fn loop_at_the_limit() {
        let limits = ContentLimits {
            max_received: 3,
            ..ContentLimits::default()
        };
        let (_, r) = run(&[b"Received: 1", b"Received: 2"], limits);
        assert!(r.is_ok());
        let (out, r) = run(
            &[b"Received: 1", b"Received: 2", b"Received: 3", b"x"],
            limits,
        );
        assert_eq!(r, Err(ContentError::Loop { count: 3 }));
        // Output stops at the failure.
        assert_eq!(out, b"Received: 1\nReceived: 2\nReceived: 3");
    }

    #[test]
    fn size_is_counted_in_crlf_form() {
        let limits = ContentLimits {
            max_size: 5,
            ..ContentLimits::default()
        };
        let (_, r) = run(&[b"abc"], limits);
        assert_eq!(r.unwrap().size, 5);
        let (_, r) = run(&[b"abcd"], limits);
        assert_eq!(r, Err(ContentError::TooBig { limit: 5 }));
    }

    #[test]
    fn line_length_limit_and_flags() {
        let limits = ContentLimits {
            max_line: 4,
            ..ContentLimits::default()
        };
        let (_, r) = run(&[b"ab\xc3\xa9", b"\0"], limits);
        let s = r.unwrap();
        assert!(s.has_8bit && s.has_nul);
        let (_, r) = run(&[b"abcde"], limits);
        assert_eq!(r, Err(ContentError::LineTooLong { limit: 4 }));
    }
}
