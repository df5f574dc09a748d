//! Writing strings so the lexer reads them back unchanged.

use crate::parser::Dialect;

/// A word the lexer reads back as the same unquoted string: not a keyword
/// of today's grammar, not a number, made of safe characters.
fn is_bare(s: &str) -> bool {
    let b = s.as_bytes();
    match b.first() {
        Some(f) if f.is_ascii_alphanumeric() || *f == b'_' => {}
        _ => return false,
    }
    b.iter()
        .all(|c| c.is_ascii_alphanumeric() || b"-_.:/@+".contains(c))
        && !b.iter().all(u8::is_ascii_digit)
        && !crate::parser::is_reserved(s, Dialect::Modern)
}

/// `s` as a word, quoted when needed.
pub(crate) fn word(s: &str) -> String {
    if is_bare(s) {
        s.to_string()
    } else {
        quote(s)
    }
}

/// `s` in double quotes. Inside quotes the lexer turns `\"`, `\ ` and
/// `\<tab>` into the character alone and keeps any other backslash, so a
/// backslash before one of those is written doubled.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => match chars.peek() {
                Some(&n @ ('"' | ' ' | '\t')) => {
                    out.push_str("\\\\");
                    out.push(n);
                    chars.next();
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_str, ParseOptions};

    /// A `pki`'s certificate path is stored verbatim: use it to read a
    /// word back.
    fn read_back(s: &str) -> Option<String> {
        let text = format!("pki x cert {}\nmatch for any reject\n", word(s));
        let p = parse_str("t", &text, &ParseOptions::default());
        p.is_ok()
            .then(|| p.config.pkis.first().and_then(|k| k.cert.clone()))
            .flatten()
    }

    #[test]
    fn words_read_back() {
        for s in [
            "plain",
            "relay",
            "with space",
            "q\"uote",
            "back\\slash",
            "b\\\"q",
            "b\\ s",
            "a\\\\b",
            "123",
            "#hash",
            "$dollar",
            "{brace}",
            "x=y",
            "ünï",
            "tab\there",
        ] {
            assert_eq!(
                read_back(s).as_deref(),
                Some(s),
                "{s:?} written as {}",
                word(s)
            );
        }
        assert_eq!(word("relay"), "\"relay\"");
        assert_eq!(word("mail.example.com"), "mail.example.com");
    }
}
