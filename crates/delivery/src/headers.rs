//! Header lines added at final delivery, and a scanner of the message's own
//! header section (for the Maildir `junk` option).
//!
//! Messages reach the delivery methods with LF line endings, as the queue
//! stores them; the added lines use LF too.

use crate::error::DeliveryError;
use smtpd_types::MailAddr;

/// The lines OpenSMTPD adds at final delivery: `Return-Path: <sender>`
/// (`<>` for the null sender) and `Delivered-To: rcpt`, where `rcpt` is the
/// recipient as given in `RCPT TO`.
pub fn delivery_headers(sender: Option<&MailAddr>, rcpt: &MailAddr) -> Vec<String> {
    let sender = sender.map(|s| s.to_string()).unwrap_or_default();
    vec![
        format!("Return-Path: <{sender}>"),
        format!("Delivered-To: {rcpt}"),
    ]
}

/// Check the lines to prepend and encode them, each ended by LF. Each must
/// be one header field (`Name: value`, no CR or LF): anything else would
/// corrupt the message or end its header section early.
pub(crate) fn encode_prepend(lines: &[String]) -> Result<Vec<u8>, DeliveryError> {
    let mut out = Vec::new();
    for line in lines {
        let name_ok = line.split_once(':').is_some_and(|(name, _)| {
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic())
        });
        if !name_ok || line.contains(['\r', '\n']) {
            return Err(DeliveryError::BadHeader { line: line.clone() });
        }
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    Ok(out)
}

/// Longest header field kept for inspection; longer ones are cut (an
/// `X-Spam` field is a few bytes long, and memory must stay bounded).
const MAX_FIELD: usize = 1024;

/// Watches the bytes of a message go by and tells whether its header
/// section marks it as spam: `X-Spam: yes` or `X-Spam-Flag: yes`, names and
/// value case-insensitive, folded values unfolded (OpenSMTPD's
/// `mail.maildir` checks the same two fields, on unfolded lines only). Body
/// lines are never looked at.
#[derive(Debug, Default)]
pub(crate) struct JunkScanner {
    /// The logical field being gathered (name, colon, unfolded value).
    field: Vec<u8>,
    /// The next byte starts a physical line.
    at_line_start: bool,
    /// A field has begun, so a line starting with white space continues it.
    started: bool,
    /// The blank line ending the header section has been seen.
    body: bool,
    junk: bool,
}

impl JunkScanner {
    pub(crate) fn new() -> Self {
        JunkScanner {
            at_line_start: true,
            ..Default::default()
        }
    }

    /// Feed the next bytes of the message. CRs are ignored, so that CRLF
    /// text is read like LF text.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.body {
                return;
            }
            if b == b'\r' {
                continue;
            }
            if self.at_line_start {
                self.at_line_start = false;
                match b {
                    b'\n' => {
                        self.end_header();
                        continue;
                    }
                    b' ' | b'\t' if self.started => {}
                    _ => {
                        self.finish_field();
                        self.started = true;
                    }
                }
            }
            if b == b'\n' {
                self.at_line_start = true;
            } else if self.field.len() < MAX_FIELD {
                self.field.push(b);
            }
        }
    }

    /// The verdict, once the whole message (or its header) has been fed.
    pub(crate) fn is_junk(&mut self) -> bool {
        if !self.body {
            self.finish_field();
        }
        self.junk
    }

    fn end_header(&mut self) {
        self.finish_field();
        self.body = true;
    }

    fn finish_field(&mut self) {
        let field = std::mem::take(&mut self.field);
        if let Some(colon) = field.iter().position(|&b| b == b':') {
            let name = field[..colon].trim_ascii();
            let value = field[colon + 1..].trim_ascii();
            let spam_field =
                name.eq_ignore_ascii_case(b"x-spam") || name.eq_ignore_ascii_case(b"x-spam-flag");
            if spam_field && value.eq_ignore_ascii_case(b"yes") {
                self.junk = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn junk(msg: &[u8], chunk: usize) -> bool {
        let mut s = JunkScanner::new();
        for c in msg.chunks(chunk) {
            s.feed(c);
        }
        s.is_junk()
    }

    fn both(msg: &[u8]) -> bool {
        let whole = junk(msg, msg.len().max(1));
        assert_eq!(whole, junk(msg, 1), "chunking changed the verdict");
        whole
    }

    #[test]
    fn finds_x_spam_in_header() {
        assert!(both(b"Subject: hi\nX-Spam: yes\n\nbody\n"));
        assert!(both(b"x-spam:YES\n\nbody\n"));
        assert!(both(b"X-Spam-Flag: Yes\nSubject: x\n\n"));
        assert!(both(b"X-Spam:\n  yes\n\n"));
        assert!(both(b"Subject: x\nX-Spam: yes"));
        assert!(both(b"Subject: x\r\nX-Spam: yes\r\n\r\nb\r\n"));
    }

    #[test]
    fn ignores_body_and_other_values() {
        assert!(!both(b"Subject: hi\n\nX-Spam: yes\n"));
        assert!(!both(b"X-Spam: no\n\n"));
        assert!(!both(b"X-Spam: yes please\n\n"));
        assert!(!both(b"X-Spam-Status: yes\n\n"));
        assert!(!both(b"Subject: a\n X-Spam: yes\n\n"));
        assert!(!both(b""));
        assert!(!both(b"\nX-Spam: yes\n"));
    }

    #[test]
    fn prepend_lines_are_checked() {
        let ok = encode_prepend(&delivery_headers(
            Some(&MailAddr::new("a", "b.org")),
            &MailAddr::new("c", "d.org"),
        ))
        .unwrap();
        assert_eq!(ok, b"Return-Path: <a@b.org>\nDelivered-To: c@d.org\n");
        assert_eq!(
            delivery_headers(None, &MailAddr::new("c", "d"))[0],
            "Return-Path: <>"
        );
        for bad in [
            "",
            "no colon",
            ": empty name",
            "X-A: b\nX-C: d",
            "X A: b",
            "X: a\r",
        ] {
            assert!(encode_prepend(&[bad.to_string()]).is_err(), "{bad:?}");
        }
    }
}
