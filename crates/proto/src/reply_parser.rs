//! Client side: replies read from a server or an LMTP peer.
//!
//! Feed bytes, take complete replies (all lines of a multi-line reply
//! together). Each line is `CODE-text` (more follow) or `CODE text` / `CODE`
//! (last); all lines must carry the same code. An enhanced status at the
//! start of the text (RFC 2034) is taken out of every line when its class
//! matches the code's first digit (`550 5.1.1 …`); otherwise the text is
//! left alone (`250 1.2.3.4 is you` is text).
//!
//! Hand-written rather than smtp-proto's `ResponseReceiver`, which stores
//! each part of the enhanced code in a `u8` (RFC 3463 allows up to 999),
//! does not check that continuation lines carry the same code, and joins
//! lines into one string. Memory is bounded by a per-line and a per-reply
//! limit; after an error the connection should be dropped.

use crate::error::ReplyError;
use crate::limits::{MAX_REPLY_LINE, MAX_REPLY_SIZE};
use crate::line_buffer::{LineBuffer, LineItem};
use crate::reply::Reply;
use smtpd_types::EnhancedStatus;

/// The reply being assembled.
#[derive(Clone, Debug)]
struct Partial {
    code: u16,
    esc: Option<EnhancedStatus>,
    lines: Vec<String>,
    size: usize,
}

/// Assembles replies from bytes.
#[derive(Clone, Debug)]
pub struct ReplyParser {
    lines: LineBuffer,
    partial: Option<Partial>,
    max_reply: usize,
}

impl Default for ReplyParser {
    fn default() -> Self {
        Self::new()
    }
}

/// A line's code, whether it is the last, and its text.
fn split_line(line: &[u8]) -> Result<(u16, bool, &[u8]), ReplyError> {
    let bad =
        || ReplyError::BadCode(String::from_utf8_lossy(&line[..line.len().min(40)]).into_owned());
    if line.len() < 3
        || !line[..3].iter().all(u8::is_ascii_digit)
        || !(b'2'..=b'5').contains(&line[0])
    {
        return Err(bad());
    }
    let code = u16::from(line[0] - b'0') * 100
        + u16::from(line[1] - b'0') * 10
        + u16::from(line[2] - b'0');
    match line.get(3) {
        None => Ok((code, true, &[])),
        Some(b' ') => Ok((code, true, &line[4..])),
        Some(b'-') => Ok((code, false, &line[4..])),
        Some(_) => Err(bad()),
    }
}

/// Take a leading enhanced status of the reply's class out of `text`.
fn strip_esc(code: u16, text: &str) -> (Option<EnhancedStatus>, &str) {
    let (head, rest) = text.split_once(' ').unwrap_or((text, ""));
    match EnhancedStatus::parse(head) {
        Some(esc) if u16::from(esc.class) == code / 100 => (Some(esc), rest),
        _ => (None, text),
    }
}

impl ReplyParser {
    /// A parser with the default limits.
    pub fn new() -> Self {
        Self::with_limits(MAX_REPLY_LINE, MAX_REPLY_SIZE)
    }

    /// A parser accepting lines of at most `max_line` bytes and replies of
    /// at most `max_reply` bytes.
    pub fn with_limits(max_line: usize, max_reply: usize) -> Self {
        ReplyParser {
            lines: LineBuffer::new(max_line, max_line.saturating_mul(4)),
            partial: None,
            max_reply,
        }
    }

    /// Give received bytes; returns how many were taken (see
    /// [`crate::CommandBuffer::feed`]).
    pub fn feed(&mut self, input: &[u8]) -> usize {
        self.lines.feed(input)
    }

    /// The next complete reply, or `None` when more input is needed.
    pub fn next_reply(&mut self) -> Option<Result<Reply, ReplyError>> {
        loop {
            let line = match self.lines.next_line()? {
                LineItem::Line(l) => l,
                LineItem::TooLong => {
                    self.partial = None;
                    return Some(Err(ReplyError::LineTooLong));
                }
            };
            let (code, last, text) = match split_line(line) {
                Ok(parts) => parts,
                Err(e) => {
                    self.partial = None;
                    return Some(Err(e));
                }
            };
            let text = String::from_utf8_lossy(text);
            let (esc, text) = strip_esc(code, &text);
            let text = text.to_string();
            let mut p = self.partial.take().unwrap_or(Partial {
                code,
                esc,
                lines: Vec::new(),
                size: 0,
            });
            if p.code != code {
                return Some(Err(ReplyError::CodeMismatch {
                    expected: p.code,
                    got: code,
                }));
            }
            p.size = p.size.saturating_add(line.len() + 2);
            if p.size > self.max_reply {
                return Some(Err(ReplyError::TooLarge {
                    limit: self.max_reply,
                }));
            }
            p.lines.push(text);
            if last {
                return Some(Ok(Reply::multiline(p.code, p.esc, p.lines)));
            }
            self.partial = Some(p);
        }
    }

    /// Are there bytes received beyond the replies taken? (After `220` to
    /// STARTTLS there must be none: anything else was injected in clear.)
    pub fn has_pending_input(&self) -> bool {
        !self.lines.buffered().is_empty() || self.partial.is_some()
    }

    /// Forget everything buffered.
    pub fn clear(&mut self) {
        self.lines.clear();
        self.partial = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Vec<Result<Reply, ReplyError>> {
        let mut p = ReplyParser::new();
        let mut v = Vec::new();
        let mut rest = input;
        while !rest.is_empty() {
            let n = p.feed(rest);
            rest = &rest[n..];
            while let Some(r) = p.next_reply() {
                v.push(r);
            }
        }
        v
    }

    #[test]
    fn multi_line_with_esc_and_pipelined_replies() {
        let v = parse_all(b"250-mx Hello\r\n250-PIPELINING\r\n250 SIZE 10\r\n550 5.1.1 No such user\r\n354 go\r\n");
        assert_eq!(
            v[0],
            Ok(Reply::multiline(
                250,
                None,
                vec!["mx Hello".into(), "PIPELINING".into(), "SIZE 10".into()]
            ))
        );
        assert_eq!(v[1], Ok(Reply::with_esc(550, (5, 1, 1), "No such user")));
        assert_eq!(v[2], Ok(Reply::new(354, None, "go")));
    }

    #[test]
    fn esc_of_another_class_is_text_and_bare_code_is_fine() {
        let v = parse_all(b"250 5.1.1 odd\r\n250\r\n451-4.3.0 a\r\n451 4.3.0 b\n");
        assert_eq!(v[0], Ok(Reply::new(250, None, "5.1.1 odd")));
        assert_eq!(v[1], Ok(Reply::new(250, None, "")));
        assert_eq!(
            v[2],
            Ok(Reply::multiline(
                451,
                Some(EnhancedStatus::new(4, 3, 0)),
                vec!["a".into(), "b".into()]
            ))
        );
    }

    #[test]
    fn errors() {
        assert!(matches!(
            parse_all(b"25 x\r\n")[0],
            Err(ReplyError::BadCode(_))
        ));
        assert!(matches!(
            parse_all(b"250x\r\n")[0],
            Err(ReplyError::BadCode(_))
        ));
        assert!(matches!(
            parse_all(b"150 x\r\n")[0],
            Err(ReplyError::BadCode(_))
        ));
        assert_eq!(
            parse_all(b"250-a\r\n251 b\r\n")[0],
            Err(ReplyError::CodeMismatch {
                expected: 250,
                got: 251
            })
        );
        let mut big = Vec::new();
        for _ in 0..30_000 {
            big.extend_from_slice(b"250-xxxxxxxx\r\n");
        }
        assert!(parse_all(&big).contains(&Err(ReplyError::TooLarge {
            limit: MAX_REPLY_SIZE
        })));
    }
}
