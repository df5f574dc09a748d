//! SMTP replies: a code, an optional RFC 3463 enhanced status, and text
//! lines, turned into wire bytes.
//!
//! One type serves both sides: the server builds replies and writes them
//! with [`Reply::to_wire`]; the client side's [`crate::ReplyParser`] yields
//! the same type from bytes read off a peer.
//!
//! The enhanced status, when present, is written at the start of *every*
//! line, as RFC 2034 §3 asks and as clients that look only at the last line
//! expect. Text is sanitised on output: a CR, LF or other control character
//! in a text line (which may quote something the client sent, such as an
//! address) becomes a space, so a reply can never be split into two replies
//! or inject a line of its own.

use smtpd_types::EnhancedStatus;
use std::fmt;

/// One SMTP reply, possibly of several lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code (RFC 5321 §4.2): 2xx, 3xx, 4xx or 5xx.
    pub code: u16,
    /// The RFC 3463 enhanced status code, if the reply carries one. The
    /// greeting and the EHLO reply carry none; every other reply of our
    /// server does.
    pub esc: Option<EnhancedStatus>,
    /// The text lines, without the code, the enhanced status or CRLF. An
    /// empty list is written as a single line with no text.
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply.
    pub fn new(code: u16, esc: Option<EnhancedStatus>, text: impl Into<String>) -> Self {
        Reply {
            code,
            esc,
            lines: vec![text.into()],
        }
    }

    /// A one-line reply with an enhanced status given as its three numbers.
    pub fn with_esc(code: u16, esc: (u8, u16, u16), text: impl Into<String>) -> Self {
        Reply::new(code, Some(EnhancedStatus::new(esc.0, esc.1, esc.2)), text)
    }

    /// A reply of several lines.
    pub fn multiline(code: u16, esc: Option<EnhancedStatus>, lines: Vec<String>) -> Self {
        Reply { code, esc, lines }
    }

    /// 2xx: the command succeeded.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 3xx: go on (354 after DATA, 334 during AUTH).
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }

    /// 4xx: try again later.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// 5xx: never going to work.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// The text of all lines joined by a space, for logs and error lines.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }

    /// Append the wire form (every line terminated by CRLF) to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let code = self.code.min(999);
        let last = self.lines.len().saturating_sub(1);
        let empty = [String::new()];
        let lines: &[String] = if self.lines.is_empty() {
            &empty
        } else {
            &self.lines
        };
        for (i, line) in lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            out.extend_from_slice(format!("{code:03}{sep}").as_bytes());
            if let Some(esc) = self.esc {
                out.extend_from_slice(esc.to_string().as_bytes());
                if !line.is_empty() {
                    out.push(b' ');
                }
            }
            out.extend(
                line.bytes()
                    .map(|b| if b < 0x20 || b == 0x7f { b' ' } else { b }),
            );
            out.extend_from_slice(b"\r\n");
        }
    }

    /// The wire form: every line `CODE-` (continuation) or `CODE ` (last),
    /// the enhanced status, the text, CRLF.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.write_to(&mut out);
        out
    }
}

/// One line for logs: `550 5.1.1 text text`.
impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(esc) = self.esc {
            write!(f, " {esc}")?;
        }
        for line in &self.lines {
            write!(f, " {line}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_with_esc() {
        let r = Reply::with_esc(250, (2, 0, 0), "Ok");
        assert_eq!(r.to_wire(), b"250 2.0.0 Ok\r\n");
        assert!(r.is_positive());
        assert_eq!(r.to_string(), "250 2.0.0 Ok");
    }

    #[test]
    fn multi_line_puts_esc_on_every_line() {
        let r = Reply::multiline(
            550,
            Some(EnhancedStatus::new(5, 7, 1)),
            vec!["first".into(), "second".into()],
        );
        assert_eq!(r.to_wire(), b"550-5.7.1 first\r\n550 5.7.1 second\r\n");
        assert!(r.is_permanent());
    }

    #[test]
    fn no_esc_and_empty_lines() {
        let r = Reply::multiline(250, None, vec![]);
        assert_eq!(r.to_wire(), b"250 \r\n");
        let r = Reply::new(354, None, "Enter mail, end with \".\" on a line by itself");
        assert_eq!(
            r.to_wire(),
            b"354 Enter mail, end with \".\" on a line by itself\r\n"
        );
        assert!(r.is_intermediate());
        let r = Reply::new(421, Some(EnhancedStatus::new(4, 4, 2)), "");
        assert_eq!(r.to_wire(), b"421 4.4.2\r\n");
        assert!(r.is_transient());
    }

    #[test]
    fn control_characters_in_text_cannot_split_a_reply() {
        let r = Reply::new(250, None, "a\r\n250 forged\0x");
        assert_eq!(r.to_wire(), b"250 a  250 forged x\r\n");
    }
}
