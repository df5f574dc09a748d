//! Mail address patterns (`mailaddr` and `mailaddrmap` services):
//! `user`, `@domain`, `user@domain`, `user@*.domain`, and `@` for anything.
//!
//! Matching follows OpenSMTPD's `mailaddr_match()`: the domain is compared
//! with the [`hostname_match`] wildcard rules; the user part is compared
//! case-insensitively, and the sub-address tag of the tested address is
//! dropped first unless the pattern itself carries a tag.

use crate::hostmatch::hostname_match;
use crate::listsplit::{split_list, SplitError};
use serde::{Deserialize, Serialize};
use smtpd_types::MailAddr;
use std::fmt;

/// One address pattern. Either part may be empty: an empty user matches any
/// user, an empty domain any domain, and both empty (`@`) anything.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MailPattern {
    pub user: String,
    pub domain: String,
}

impl MailPattern {
    /// Split at the last `@`, as `text_to_mailaddr()`: `joe` is a user
    /// pattern, `@example.org` a domain pattern, `@` the catch-all.
    pub fn parse(text: &str) -> MailPattern {
        match text.rfind('@') {
            None => MailPattern {
                user: text.to_string(),
                domain: String::new(),
            },
            Some(at) => MailPattern {
                user: text[..at].to_string(),
                domain: text[at + 1..].to_string(),
            },
        }
    }

    /// Whether this pattern accepts every address.
    pub fn is_catch_all(&self) -> bool {
        self.user.is_empty() && self.domain.is_empty()
    }

    /// Whether the address `user@domain` matches this pattern, with `delim`
    /// the sub-address delimiter (`+` unless configured otherwise).
    pub fn matches(&self, user: &str, domain: &str, delim: char) -> bool {
        if self.is_catch_all() {
            return true;
        }
        if !self.domain.is_empty() && !hostname_match(domain, &self.domain) {
            return false;
        }
        if !self.user.is_empty() {
            let user = if self.user.contains(delim) {
                user
            } else {
                strip_tag(user, delim)
            };
            if !user.eq_ignore_ascii_case(&self.user) {
                return false;
            }
        }
        true
    }

    /// [`MailPattern::matches`] for a parsed address.
    pub fn matches_addr(&self, addr: &MailAddr, delim: char) -> bool {
        self.matches(&addr.user, &addr.domain, delim)
    }

    /// [`MailPattern::matches`] for address text (split at the last `@`).
    pub fn matches_text(&self, addr: &str, delim: char) -> bool {
        let a = MailPattern::parse(addr);
        self.matches(&a.user, &a.domain, delim)
    }
}

/// The local part up to the first delimiter, as OpenSMTPD cuts it (a tag at
/// position 0 leaves an empty user).
pub(crate) fn strip_tag(user: &str, delim: char) -> &str {
    user.split(delim).next().unwrap_or(user)
}

impl fmt::Display for MailPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.domain.is_empty() && !self.user.is_empty() {
            f.write_str(&self.user)
        } else {
            write!(f, "{}@{}", self.user, self.domain)
        }
    }
}

/// Parse a `mailaddrmap` value: a comma list of patterns, quoted and
/// escaped as alias lists are (`mailaddr_line()`).
pub fn parse_mailaddr_list(text: &str) -> Result<Vec<MailPattern>, SplitError> {
    Ok(split_list(text)?
        .iter()
        .map(|item| MailPattern::parse(item))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> MailPattern {
        MailPattern::parse(s)
    }

    #[test]
    fn parse_forms() {
        assert_eq!(
            p("joe"),
            MailPattern {
                user: "joe".into(),
                domain: "".into()
            }
        );
        assert_eq!(
            p("@ex.org"),
            MailPattern {
                user: "".into(),
                domain: "ex.org".into()
            }
        );
        assert_eq!(p("\"a@b\"@ex.org").user, "\"a@b\"");
        assert!(p("@").is_catch_all());
        assert_eq!(p("joe").to_string(), "joe");
        assert_eq!(p("@ex.org").to_string(), "@ex.org");
        assert_eq!(p("joe@ex.org").to_string(), "joe@ex.org");
    }

    #[test]
    fn matching() {
        assert!(p("joe").matches("Joe", "any.org", '+'));
        assert!(p("joe").matches("joe+lists", "any.org", '+'));
        assert!(!p("joe+x").matches("joe+lists", "any.org", '+'));
        assert!(p("joe+x").matches("joe+x", "any.org", '+'));
        assert!(p("@ex.org").matches("anyone", "EX.org", '+'));
        assert!(!p("@ex.org").matches("anyone", "sub.ex.org", '+'));
        assert!(p("ann@*.ex.net").matches("ann", "mx.ex.net", '+'));
        assert!(!p("ann@*.ex.net").matches("bob", "mx.ex.net", '+'));
        assert!(p("@").matches("", "", '+'));
        assert!(p("joe").matches("joe-x", "d", '-'));
        assert!(!p("@ex.org").matches("joe", "", '+'));
    }

    #[test]
    fn lists() {
        let l = parse_mailaddr_list("joe@ex.org, @ex.net ,ann").unwrap();
        assert_eq!(l, vec![p("joe@ex.org"), p("@ex.net"), p("ann")]);
        assert!(parse_mailaddr_list("\"joe").is_err());
    }
}
