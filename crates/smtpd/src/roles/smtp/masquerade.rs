//! `senders <table> masquerade`: the From: header of an authenticated
//! user's message is rewritten to the address the session gave in MAIL
//! FROM (which `senders` has already checked the user may use), so that
//! the header cannot claim another sender than the envelope. The display
//! name is kept: `"Alice" <anything@x>` becomes `"Alice" <alice@ours>`.
//!
//! The content streams into the queue file; only the header section is
//! held here until its end (the first empty line), at most [`MAX_HEAD`]
//! bytes: a longer one goes through unchanged. Written by hand: it works on
//! the stream as it arrives, which mail-parser (a whole message in memory)
//! does not.

use std::borrow::Cow;

/// The most header bytes held back for the rewrite.
const MAX_HEAD: usize = 256 * 1024;

/// The rewrite of one message's header.
pub struct Masquerade {
    sender: String,
    head: Vec<u8>,
    /// The header section went out already (rewritten or not).
    done: bool,
}

impl Masquerade {
    pub fn new(sender: String) -> Masquerade {
        Masquerade {
            sender,
            head: Vec::new(),
            done: false,
        }
    }

    /// Take content bytes (LF line ends); returns what may be written now
    /// (after the header section: the bytes themselves, not a copy).
    pub fn feed<'a>(&mut self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        if self.done {
            return Cow::Borrowed(bytes);
        }
        let start = self.head.len().saturating_sub(1);
        self.head.extend_from_slice(bytes);
        let end = if self.head.first() == Some(&b'\n') {
            Some(0)
        } else {
            find(&self.head[start..], b"\n\n").map(|i| start + i + 1)
        };
        Cow::Owned(match end {
            Some(end) => {
                self.done = true;
                let body = self.head.split_off(end);
                let mut out = rewrite(&self.head, &self.sender);
                out.extend_from_slice(&body);
                self.head = Vec::new();
                out
            }
            None if self.head.len() > MAX_HEAD => {
                self.done = true;
                std::mem::take(&mut self.head)
            }
            None => Vec::new(),
        })
    }

    /// The end of the content: whatever is still held (a message that is
    /// all header), rewritten.
    pub fn finish(&mut self) -> Vec<u8> {
        if self.done {
            return Vec::new();
        }
        self.done = true;
        rewrite(&std::mem::take(&mut self.head), &self.sender)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The header section with every From: field's addresses replaced.
fn rewrite(head: &[u8], sender: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.len() + sender.len());
    let mut i = 0;
    while i < head.len() {
        // One field: its first line and its continuation lines.
        let mut end = line_end(head, i);
        while end < head.len() && matches!(head[end], b' ' | b'\t') {
            end = line_end(head, end);
        }
        let field = &head[i..end];
        if is_from(field) {
            out.extend_from_slice(&from_field(field, sender));
        } else {
            out.extend_from_slice(field);
        }
        i = end;
    }
    out
}

/// The index just past the LF that ends the line starting at `i`.
fn line_end(head: &[u8], i: usize) -> usize {
    head[i..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(head.len(), |p| i + p + 1)
}

fn is_from(field: &[u8]) -> bool {
    field.len() > 5 && field[..5].eq_ignore_ascii_case(b"from:")
}

/// `From: Name <addr>` → `From: Name <sender>`; a bare address (with or
/// without a comment) → `From: <sender>`.
fn from_field(field: &[u8], sender: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(field);
    let value = text[5..].trim_end_matches('\n');
    let unfolded: String = value.replace("\n", "");
    let new_value = match (unfolded.find('<'), unfolded.rfind('>')) {
        (Some(open), Some(close)) if open < close => {
            let name = unfolded[..open].trim();
            if name.is_empty() {
                format!("<{sender}>")
            } else {
                format!("{name} <{sender}>")
            }
        }
        _ => format!("<{sender}>"),
    };
    format!("From: {new_value}\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(parts: &[&str]) -> String {
        let mut m = Masquerade::new("alice@ours.test".into());
        let mut out = Vec::new();
        for p in parts {
            out.extend_from_slice(&m.feed(p.as_bytes()));
        }
        out.extend(m.finish());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn from_is_rewritten_keeping_the_name() {
        assert_eq!(
            run(&["Subject: x\nFrom: \"Alice A.\" <boss@else.test>\n\nFrom: body stays\n"]),
            "Subject: x\nFrom: \"Alice A.\" <alice@ours.test>\n\nFrom: body stays\n"
        );
        assert_eq!(
            run(&["from: boss@else.test (Boss)\nTo: b@c\n\nhi\n"]),
            "From: <alice@ours.test>\nTo: b@c\n\nhi\n"
        );
    }

    #[test]
    fn folded_and_split_across_reads() {
        assert_eq!(
            run(&["Fr", "om: Alice\n <x@", "y>\nTo: z\n", "\nbo", "dy\n"]),
            "From: Alice <alice@ours.test>\nTo: z\n\nbody\n"
        );
    }

    #[test]
    fn no_header_end_and_no_header() {
        assert_eq!(run(&["From: x@y"]), "From: <alice@ours.test>\n");
        assert_eq!(run(&["\nFrom: body\n"]), "\nFrom: body\n");
        assert_eq!(run(&["To: a@b\n\n"]), "To: a@b\n\n");
    }
}
