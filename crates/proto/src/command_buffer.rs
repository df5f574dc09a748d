//! The server's input buffer in command mode: bytes in, command lines out.
//!
//! PIPELINING (RFC 2920) comes for free: one read may carry several
//! commands, a command may be split across reads, and lines are handed out
//! one at a time, in order, so the session answers each in turn.
//!
//! Line rules (see the private `line_buffer` module for the why): a line ends at
//! CRLF; a bare LF also ends it (tolerated, as every major server does, for
//! hand-typed sessions and broken clients); a bare CR does not, and makes
//! the line a syntax error. A line is at most
//! [`crate::limits::MAX_COMMAND_LINE`] bytes with its
//! terminator; a longer one yields [`CommandError::LineTooLong`] once
//! (`500 5.5.2 Line too long`) and the rest of it is skipped as it arrives,
//! never stored.
//!
//! The session's read loop:
//!
//! ```
//! use smtpd_proto::{CommandBuffer, ParseOptions, parse_command};
//! let mut cb = CommandBuffer::new();
//! let mut input: &[u8] = b"EHLO a.example\r\nNOOP\r\n";
//! let mut verbs = Vec::new();
//! while !input.is_empty() {
//!     let n = cb.feed(input);
//!     input = &input[n..];
//!     while let Some(line) = cb.next_line() {
//!         let cmd = line.and_then(|l| parse_command(&l, &ParseOptions::default()));
//!         verbs.push(cmd.unwrap().verb());
//!     }
//! }
//! assert_eq!(verbs, ["EHLO", "NOOP"]);
//! ```
//!
//! After a DATA command is accepted (354) or a BDAT command parsed, the
//! bytes already buffered belong to the message: take them with
//! [`CommandBuffer::take_buffered`] and give them to the receiver; the
//! receiver's leftover (what follows the end of data) is fed back here.
//! After STARTTLS, call [`CommandBuffer::clear`] before the handshake:
//! anything the client pipelined in clear must not be read as commands of
//! the protected session (CVE-2011-0411).

use crate::error::CommandError;
use crate::limits::{COMMAND_BUFFER_CAPACITY, MAX_COMMAND_LINE};
use crate::line_buffer::{LineBuffer, LineItem};

/// Bounded command-line framing for one server session.
#[derive(Debug, Clone)]
pub struct CommandBuffer {
    lines: LineBuffer,
}

impl Default for CommandBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl CommandBuffer {
    /// A buffer with the default limits.
    pub fn new() -> Self {
        Self::with_limits(MAX_COMMAND_LINE, COMMAND_BUFFER_CAPACITY)
    }

    /// A buffer accepting lines of at most `max_line` bytes (terminator
    /// included) and holding at most `capacity` bytes (raised to `max_line`
    /// if smaller).
    pub fn with_limits(max_line: usize, capacity: usize) -> Self {
        CommandBuffer {
            lines: LineBuffer::new(max_line, capacity),
        }
    }

    /// Give received bytes; returns how many were taken. Fewer than offered
    /// means the buffer is full: take lines out with
    /// [`next_line`](Self::next_line), then feed the rest.
    pub fn feed(&mut self, input: &[u8]) -> usize {
        self.lines.feed(input)
    }

    /// The next command line without its line ending, or `None` when more
    /// input is needed.
    pub fn next_line(&mut self) -> Option<Result<Vec<u8>, CommandError>> {
        match self.lines.next_line()? {
            LineItem::Line(l) => Some(Ok(l.to_vec())),
            LineItem::TooLong => Some(Err(CommandError::LineTooLong)),
        }
    }

    /// Are there bytes received and not yet handed out? (A client that
    /// sends more after a command that must be last in a pipelined group,
    /// like STARTTLS, can be caught with this.)
    pub fn has_pending_input(&self) -> bool {
        !self.lines.buffered().is_empty()
    }

    /// Every byte received and not yet handed out as a line, exactly as it
    /// came; the buffer is emptied.
    pub fn take_buffered(&mut self) -> Vec<u8> {
        self.lines.take_buffered()
    }

    /// Forget everything buffered.
    pub fn clear(&mut self) {
        self.lines.clear()
    }
}
