//! Making untrusted text safe for a one-line listing, as OpenSMTPD's
//! smtpctl does with `strnvis(3)` (default style) on an envelope's error
//! line: control characters become `\^X`, bytes with the high bit
//! `\M-x`, a backslash `\\`. A remote server's reply ends up in that
//! line, so it must not be able to move the terminal's cursor or break
//! the listing's one-line-per-envelope shape.
//!
//! (Written by hand: it is a dozen lines, and the crates that implement
//! `vis(3)` are unmaintained.)

/// `strnvis(…, 0)` of `s`, byte by byte. Tabs and newlines are encoded
/// too (unlike `vis` without `VIS_TAB|VIS_NL`): the result is one line.
pub fn vis(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        push_byte(&mut out, b);
    }
    out
}

fn push_byte(out: &mut String, b: u8) {
    let c = b & 0x7f;
    if b & 0x80 != 0 {
        out.push_str("\\M-");
        if c < 0x20 || c == 0x7f {
            push_control(out, c);
        } else {
            out.push(char::from(c));
        }
        return;
    }
    match b {
        b'\\' => out.push_str("\\\\"),
        0x20..=0x7e => out.push(char::from(b)),
        _ => {
            out.push('\\');
            push_control(out, b);
        }
    }
}

/// `^X` for a control character, `^?` for DEL.
fn push_control(out: &mut String, c: u8) {
    out.push('^');
    out.push(if c == 0x7f { '?' } else { char::from(c + b'@') });
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn printable_text_is_kept() {
        assert_eq!(vis("421 4.4.2 try later"), "421 4.4.2 try later");
    }

    #[test]
    fn control_characters_and_high_bytes_are_encoded() {
        assert_eq!(vis("a\tb\nc\x1b[2J"), "a\\^Ib\\^Jc\\^[[2J");
        assert_eq!(vis("\x7f"), "\\^?");
        assert_eq!(vis("é"), "\\M-C\\M-)");
        assert_eq!(vis("back\\slash"), "back\\\\slash");
    }

    proptest! {
        #[test]
        fn the_result_is_printable_ascii(s in ".*") {
            let v = vis(&s);
            prop_assert!(v.bytes().all(|b| (0x20..0x7f).contains(&b)));
        }
    }
}
