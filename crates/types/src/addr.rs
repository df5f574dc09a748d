//! Mail addresses as the server carries them.
//!
//! An address is split once, at the last `@`, into a local part and a domain.
//! The local part is kept exactly as the client wrote it (quotes included, if
//! any: `"john doe"@example.org` keeps its quotes) because local parts are
//! case-sensitive and only the final delivery agent may interpret them. The
//! domain is kept as written too; comparisons on it are case-insensitive.
//!
//! Parsing the SMTP path syntax of RFC 5321 (`<@relay:user@dom>`, quoted
//! strings, address literals) is the protocol crate's job; this type only
//! holds the result.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A mail address: `user@domain`. A sender address may be the null path
/// `<>`, which is represented as `Option<MailAddr>::None` by users of this
/// type, never as an empty `MailAddr`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MailAddr {
    /// The local part, as written (at most 64 octets by RFC 5321, longer ones
    /// are refused by the parser that makes them).
    pub user: String,
    /// The domain, or an address literal such as `[192.0.2.1]`. Empty only
    /// for bare local user names (`root`) that a table or alias produced.
    pub domain: String,
}

/// Why a string is not a mail address.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AddrError {
    #[error("empty address")]
    Empty,
    #[error("address has no local part")]
    NoUser,
    #[error("address has no domain")]
    NoDomain,
    #[error("address contains a forbidden character")]
    BadChar,
}

impl MailAddr {
    /// Make an address from its two parts.
    pub fn new(user: impl Into<String>, domain: impl Into<String>) -> Self {
        MailAddr {
            user: user.into(),
            domain: domain.into(),
        }
    }

    /// Split `user@domain` at the last `@`. This is the form addresses take
    /// in tables, alias files and envelope files; it refuses control
    /// characters and whitespace outside quotes but does no further RFC 5321
    /// validation.
    pub fn parse(s: &str) -> Result<Self, AddrError> {
        if s.is_empty() {
            return Err(AddrError::Empty);
        }
        if s.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return Err(AddrError::BadChar);
        }
        let (user, domain) = match s.rfind('@') {
            Some(at) => (&s[..at], &s[at + 1..]),
            None => return Err(AddrError::NoDomain),
        };
        if user.is_empty() {
            return Err(AddrError::NoUser);
        }
        if domain.is_empty() {
            return Err(AddrError::NoDomain);
        }
        if !user.starts_with('"') && user.contains(char::is_whitespace) {
            return Err(AddrError::BadChar);
        }
        if domain.contains(char::is_whitespace) {
            return Err(AddrError::BadChar);
        }
        Ok(MailAddr::new(user, domain))
    }

    /// The domain, lower-cased, as tables and rules compare it.
    pub fn domain_lc(&self) -> String {
        self.domain.to_ascii_lowercase()
    }

    /// The local part without its sub-address: `user+tag` gives `user` for
    /// the delimiter `+`. A local part that starts with the delimiter is
    /// returned whole, as OpenSMTPD does.
    pub fn user_without_tag(&self, delim: char) -> &str {
        match self.user.find(delim) {
            Some(0) | None => &self.user,
            Some(i) => &self.user[..i],
        }
    }

    /// The sub-address (`tag` in `user+tag`), if any.
    pub fn tag(&self, delim: char) -> Option<&str> {
        match self.user.find(delim) {
            Some(0) | None => None,
            Some(i) => Some(&self.user[i + delim.len_utf8()..]),
        }
    }
}

impl fmt::Display for MailAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.domain.is_empty() {
            write!(f, "{}", self.user)
        } else {
            write!(f, "{}@{}", self.user, self.domain)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_last_at() {
        let a = MailAddr::parse("\"a@b\"@example.org").unwrap();
        assert_eq!(a.user, "\"a@b\"");
        assert_eq!(a.domain, "example.org");
        assert_eq!(a.to_string(), "\"a@b\"@example.org");
    }

    #[test]
    fn refuses_bad_input() {
        assert_eq!(MailAddr::parse(""), Err(AddrError::Empty));
        assert_eq!(MailAddr::parse("@x"), Err(AddrError::NoUser));
        assert_eq!(MailAddr::parse("x@"), Err(AddrError::NoDomain));
        assert_eq!(MailAddr::parse("x"), Err(AddrError::NoDomain));
        assert_eq!(MailAddr::parse("a b@x"), Err(AddrError::BadChar));
        assert_eq!(MailAddr::parse("a\r@x"), Err(AddrError::BadChar));
    }

    #[test]
    fn subaddress() {
        let a = MailAddr::parse("joe+lists@x.org").unwrap();
        assert_eq!(a.user_without_tag('+'), "joe");
        assert_eq!(a.tag('+'), Some("lists"));
        let b = MailAddr::parse("+x@x.org").unwrap();
        assert_eq!(b.user_without_tag('+'), "+x");
        assert_eq!(b.tag('+'), None);
    }
}
