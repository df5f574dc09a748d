//! The canonical form of the addresses a client gives in MAIL and RCPT.
//!
//! RFC 5321 §4.1.2 and RFC 5322 §3.4.1 make a quoted local part mean its
//! content: `"alice"@example.org` is `alice@example.org`. The protocol
//! parser keeps local parts exactly as written (so that `"a@b"@x` can never
//! become `a@b@x`); here the quotes are dropped when, and only when, the
//! content is a plain dot-string that needs none, so that rules, tables,
//! user lookups and logs all see one spelling of one mailbox. A local part
//! that really needs its quotes (`"john smith"`) is left as it is.

use smtpd_types::MailAddr;

/// `addr` with needless quotes around its local part removed.
pub fn canonical(mut addr: MailAddr) -> MailAddr {
    if let Some(inner) = unquoted(&addr.user) {
        if is_dot_string(&inner) {
            addr.user = inner;
        }
    }
    addr
}

/// The content of a quoted string (quoted pairs resolved), or `None` when
/// `s` is not one.
fn unquoted(s: &str) -> Option<String> {
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// RFC 5321 Dot-string: atoms of atext (RFC 6531: any non-ASCII
/// character too) joined by single dots.
fn is_dot_string(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|atom| {
            !atom.is_empty()
                && atom.chars().all(|c| {
                    c.is_ascii_alphanumeric() || !c.is_ascii() || "!#$%&'*+-/=?^_`{|}~".contains(c)
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(user: &str) -> String {
        canonical(MailAddr::new(user, "example.org")).user
    }

    #[test]
    fn needless_quotes_go_needed_ones_stay() {
        assert_eq!(c("\"alice\""), "alice");
        assert_eq!(c("\"first.last\""), "first.last");
        assert_eq!(c("\"al\\ice\""), "alice");
        assert_eq!(c("\"jörg\""), "jörg");
        assert_eq!(c("plain"), "plain");
        for kept in [
            "\"john smith\"",
            "\"a@b\"",
            "\".alice\"",
            "\"a..b\"",
            "\"\"",
            "\"a\\\"b\"",
            "\"a,b\"",
        ] {
            assert_eq!(c(kept), kept);
        }
    }
}
