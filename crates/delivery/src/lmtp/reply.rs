//! Reading an SMTP/LMTP server reply: one or more `CODE-text` lines ending
//! with a `CODE text` line, with an optional RFC 2034 enhanced status code
//! at the start of the text.
//!
//! Kept small and self-contained on purpose: the protocol crate has its own
//! reply parser, which may replace this one.

use smtpd_types::EnhancedStatus;
use std::fmt;
use std::io::{self, BufRead, Read};

/// Longest reply line accepted, CRLF included (RFC 5321 says 512; servers
/// sometimes exceed it, so allow some room).
const MAX_LINE: u64 = 2048;
/// Most lines in one reply (an `LHLO` answer has one per extension).
const MAX_LINES: usize = 128;

/// A server reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code.
    pub code: u16,
    /// The enhanced status, when the server gave one whose class matches
    /// the code.
    pub status: Option<EnhancedStatus>,
    /// The text of each line, without the code and enhanced status.
    pub lines: Vec<String>,
}

/// Why no reply could be read.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("malformed reply line {0:?}")]
    Malformed(String),
    #[error("reply line too long")]
    LineTooLong,
    #[error("reply has too many lines")]
    TooManyLines,
}

impl Reply {
    /// The first digit of the code: 2 success, 3 go on, 4 temporary, 5
    /// permanent failure.
    pub fn class(&self) -> u16 {
        self.code / 100
    }

    pub fn is_success(&self) -> bool {
        self.class() == 2
    }

    /// All lines' text joined by spaces.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }

    /// The status to record when this reply refuses a delivery: the
    /// server's enhanced code, else `X.0.0` of the reply's class. A reply
    /// that is neither 4xx nor 5xx is a protocol error (4.5.0).
    pub fn delivery_status(&self) -> EnhancedStatus {
        match (self.class(), self.status) {
            (4 | 5, Some(s)) => s,
            (c @ (4 | 5), None) => EnhancedStatus::new(c as u8, 0, 0),
            _ => EnhancedStatus::new(4, 5, 0),
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(s) = self.status {
            write!(f, " {s}")?;
        }
        let text = self.text();
        if !text.is_empty() {
            write!(f, " {text}")?;
        }
        Ok(())
    }
}

/// Read one whole reply.
pub fn read_reply(r: &mut dyn BufRead) -> Result<Reply, ReplyError> {
    let mut code = None;
    let mut status = None;
    let mut lines = Vec::new();
    loop {
        let raw = read_line(r)?;
        let (this_code, last, text) = split_line(&raw)?;
        if *code.get_or_insert(this_code) != this_code {
            return Err(ReplyError::Malformed(raw));
        }
        let (line_status, text) = enhanced(this_code, text);
        if lines.is_empty() {
            status = line_status;
        }
        lines.push(text.to_string());
        if last {
            return Ok(Reply {
                code: this_code,
                status,
                lines,
            });
        }
        if lines.len() >= MAX_LINES {
            return Err(ReplyError::TooManyLines);
        }
    }
}

/// One line, without its CRLF (or bare LF, which some servers send).
fn read_line(r: &mut dyn BufRead) -> Result<String, ReplyError> {
    let mut buf = Vec::new();
    r.take(MAX_LINE).read_until(b'\n', &mut buf)?;
    if buf.is_empty() {
        return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
    }
    if buf.last() != Some(&b'\n') {
        if buf.len() as u64 >= MAX_LINE {
            return Err(ReplyError::LineTooLong);
        }
        return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// `250-text` → (250, false, "text"); `250 text` and `250` → last line.
fn split_line(line: &str) -> Result<(u16, bool, &str), ReplyError> {
    let bad = || ReplyError::Malformed(line.to_string());
    let digits = line.get(..3).ok_or_else(bad)?;
    let b = digits.as_bytes();
    let valid = (b'2'..=b'5').contains(&b[0]) && b[1].is_ascii_digit() && b[2].is_ascii_digit();
    if !valid {
        return Err(bad());
    }
    let code = digits.parse::<u16>().map_err(|_| bad())?;
    match line.as_bytes().get(3) {
        None => Ok((code, true, "")),
        Some(b' ') => Ok((code, true, &line[4..])),
        Some(b'-') => Ok((code, false, &line[4..])),
        Some(_) => Err(bad()),
    }
}

/// Split an enhanced status code off a line's text, if it has one of the
/// reply's class.
fn enhanced(code: u16, text: &str) -> (Option<EnhancedStatus>, &str) {
    let (first, rest) = text.split_once(' ').unwrap_or((text, ""));
    match EnhancedStatus::parse(first) {
        Some(s) if u16::from(s.class) == code / 100 => (Some(s), rest.trim_start()),
        _ => (None, text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[u8]) -> Result<Reply, ReplyError> {
        read_reply(&mut &s[..])
    }

    #[test]
    fn single_and_multi_line() {
        let r = parse(b"250 2.1.5 Ok\r\n").unwrap();
        assert_eq!(r.code, 250);
        assert_eq!(r.status, Some(EnhancedStatus::new(2, 1, 5)));
        assert_eq!(r.text(), "Ok");
        assert_eq!(r.to_string(), "250 2.1.5 Ok");

        let r = parse(b"250-host\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\nnext").unwrap();
        assert_eq!(r.lines, ["host", "PIPELINING", "ENHANCEDSTATUSCODES"]);
        assert_eq!(r.status, None);

        let r = parse(b"452-4.2.2 Mailbox full\r\n452 4.2.2 try later\r\n").unwrap();
        assert_eq!(r.text(), "Mailbox full try later");
        assert_eq!(r.delivery_status(), EnhancedStatus::new(4, 2, 2));

        let r = parse(b"220\n").unwrap();
        assert_eq!((r.code, r.text()), (220, String::new()));
    }

    #[test]
    fn status_defaults_and_mismatches() {
        let r = parse(b"550 no such user\r\n").unwrap();
        assert_eq!(r.delivery_status(), EnhancedStatus::new(5, 0, 0));
        // an enhanced code of another class is just text
        let r = parse(b"550 4.1.1 odd\r\n").unwrap();
        assert_eq!(r.status, None);
        assert_eq!(r.text(), "4.1.1 odd");
        let r = parse(b"250 fine\r\n").unwrap();
        assert_eq!(r.delivery_status(), EnhancedStatus::new(4, 5, 0));
    }

    #[test]
    fn bad_replies() {
        for bad in [
            &b"hello\r\n"[..],
            b"25\r\n",
            b"250x\r\n",
            b"650 x\r\n",
            b"250-a\r\n251 b\r\n",
        ] {
            assert!(
                matches!(parse(bad), Err(ReplyError::Malformed(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(parse(b""), Err(ReplyError::Io(_))));
        assert!(matches!(parse(b"250-a\r\n"), Err(ReplyError::Io(_))));
        assert!(matches!(parse(b"250 no end"), Err(ReplyError::Io(_))));
        let long = vec![b'2'; 5000];
        assert!(matches!(parse(&long), Err(ReplyError::LineTooLong)));
        let many = b"250-x\r\n".repeat(200);
        assert!(matches!(parse(&many), Err(ReplyError::TooManyLines)));
        // any bytes: an error or a reply, never a panic
        let _ = parse(b"2\xff\xfe \xc3\r\n");
        let _ = parse("25é \r\n".as_bytes());
    }
}
