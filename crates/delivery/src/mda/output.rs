//! Keeping the last thing a delivery program said.
//!
//! OpenSMTPD sends a program's stdout and stderr to one place and reports
//! its last line as the error. Programs can print a lot, so only the last
//! non-empty line is kept, cut to a bounded length.

use crate::error::one_line;
use std::io::{self, Read};

/// Longest line kept, in bytes; the rest of a longer line is dropped.
const MAX_LINE: usize = 1024;

/// Read `r` to its end and return its last non-empty line (trimmed).
pub(crate) fn last_line(mut r: impl Read) -> Option<String> {
    let mut current: Vec<u8> = Vec::new();
    let mut last: Option<Vec<u8>> = None;
    let mut buf = [0u8; 8192];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        for &b in &buf[..n] {
            if b == b'\n' {
                if !current.trim_ascii().is_empty() {
                    last = Some(std::mem::take(&mut current));
                }
                current.clear();
            } else if current.len() < MAX_LINE {
                current.push(b);
            }
        }
    }
    if !current.trim_ascii().is_empty() {
        last = Some(current);
    }
    last.map(|l| one_line(&String::from_utf8_lossy(&l)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_non_empty_line() {
        assert_eq!(last_line(&b"a\nb\n\n  \n"[..]).as_deref(), Some("b"));
        assert_eq!(
            last_line(&b"a\n  no newline "[..]).as_deref(),
            Some("no newline")
        );
        assert_eq!(last_line(&b"\n\n"[..]), None);
        assert_eq!(last_line(&b""[..]), None);
        let long = vec![b'x'; 5000];
        assert_eq!(last_line(&long[..]).unwrap().len(), 512);
        assert_eq!(
            last_line(&b"bad \xff byte\r\n"[..]).as_deref(),
            Some("bad \u{fffd} byte")
        );
    }
}
