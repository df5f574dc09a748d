//! Client side: stored (LF-normalised) content turned into wire bytes, for
//! DATA (dot-stuffed, ended by `.CRLF`) or BDAT (no stuffing).
//!
//! What comes out holds CR only directly before LF and LF only directly
//! after CR: every LF becomes CRLF, and — so that content from any source
//! (a spool taken over from another server, a local submission) is safe —
//! a CR in the input is treated as the receivers treat it: CRLF is one line
//! end, a bare CR is a line end too. A relay built on this can never send
//! a bare CR or LF, whatever is in its queue.
//!
//! With dot-stuffing, every line that starts with `.` gets one more (RFC
//! 5321 §4.5.2), so a stored `.` line goes out as `..` and can never end
//! the data early. [`WireEncoder::finish`] adds a final CRLF if the content
//! did not end with a line end (the end mark needs one; BDAT gets one too,
//! so a message relays the same either way), then `.CRLF` for DATA.
//!
//! Streaming: encode a spool file piece by piece, then finish. Output for
//! a trailing CR is held back until the next piece tells whether an LF
//! follows.

use memchr::memchr2;

/// A streaming content encoder for one message.
#[derive(Clone, Debug)]
pub struct WireEncoder {
    stuff_dots: bool,
    at_line_start: bool,
    pending_cr: bool,
}

impl WireEncoder {
    /// For DATA: CRLF line ends, dot-stuffing, `.CRLF` at the end.
    pub fn for_data() -> Self {
        WireEncoder {
            stuff_dots: true,
            at_line_start: true,
            pending_cr: false,
        }
    }

    /// For BDAT: CRLF line ends only. The chunk size is the length of what
    /// [`encode`](Self::encode) (and [`finish`](Self::finish)) produce.
    pub fn for_bdat() -> Self {
        WireEncoder {
            stuff_dots: false,
            ..Self::for_data()
        }
    }

    fn line_end(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\r\n");
        self.at_line_start = true;
    }

    /// Encode a piece of content, appending wire bytes to `out`.
    pub fn encode(&mut self, content: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        if self.pending_cr && !content.is_empty() {
            self.pending_cr = false;
            if content[0] == b'\n' {
                i = 1;
            }
            self.line_end(out);
        }
        while i < content.len() {
            if self.at_line_start && self.stuff_dots && content[i] == b'.' {
                out.push(b'.');
            }
            let k = memchr2(b'\r', b'\n', &content[i..]).unwrap_or(content.len() - i);
            if k > 0 {
                out.extend_from_slice(&content[i..i + k]);
                self.at_line_start = false;
            }
            let at = i + k;
            if at == content.len() {
                return;
            }
            if content[at] == b'\n' {
                self.line_end(out);
                i = at + 1;
            } else if at + 1 == content.len() {
                self.pending_cr = true;
                return;
            } else {
                i = if content[at + 1] == b'\n' {
                    at + 2
                } else {
                    at + 1
                };
                self.line_end(out);
            }
        }
    }

    /// End the message: flush a held CR, add a final CRLF if needed, and
    /// for DATA the end mark `.CRLF`.
    pub fn finish(mut self, out: &mut Vec<u8>) {
        if self.pending_cr || !self.at_line_start {
            self.line_end(out);
        }
        if self.stuff_dots {
            out.extend_from_slice(b".\r\n");
        }
    }
}

/// A whole message encoded for DATA (everything after the 354).
pub fn encode_for_data(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + content.len() / 32 + 8);
    let mut enc = WireEncoder::for_data();
    enc.encode(content, &mut out);
    enc.finish(&mut out);
    out
}

/// A whole message encoded for a single `BDAT n LAST` chunk.
pub fn encode_for_bdat(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + content.len() / 32 + 2);
    let mut enc = WireEncoder::for_bdat();
    enc.encode(content, &mut out);
    enc.finish(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_encoding() {
        assert_eq!(encode_for_data(b""), b".\r\n");
        assert_eq!(encode_for_data(b"a\n.\n..b\n"), b"a\r\n..\r\n...b\r\n.\r\n");
        assert_eq!(encode_for_data(b"no end"), b"no end\r\n.\r\n");
        assert_eq!(encode_for_data(b".x"), b"..x\r\n.\r\n");
        assert_eq!(encode_for_data(b"a\r\nb\rc\r"), b"a\r\nb\r\nc\r\n.\r\n");
    }

    #[test]
    fn bdat_encoding_has_no_stuffing() {
        assert_eq!(encode_for_bdat(b".\n.x"), b".\r\n.x\r\n");
        assert_eq!(encode_for_bdat(b""), b"");
    }

    #[test]
    fn split_cr_lf_across_pieces() {
        let mut out = Vec::new();
        let mut e = WireEncoder::for_data();
        e.encode(b"a\r", &mut out);
        e.encode(b"\n.b\r", &mut out);
        e.encode(b".c", &mut out);
        e.finish(&mut out);
        assert_eq!(out, b"a\r\n..b\r\n..c\r\n.\r\n");
    }
}
