//! RFC 5321 §4.1.2 paths and mailboxes, with RFC 6531 (SMTPUTF8) UTF-8.
//!
//! ```text
//! Path      = "<" [ A-d-l ":" ] Mailbox ">"        ; A-d-l: source route, stripped
//! Mailbox   = Local-part "@" ( Domain / address-literal )
//! Local-part= Dot-string / Quoted-string           ; at most 64 octets, as written
//! Domain    = sub-domain *("." sub-domain)         ; labels <= 63, whole <= 255
//! address-literal = "[" IPv4 "]" / "[IPv6:" IPv6 "]"
//! ```
//!
//! Hand-written rather than taken from smtp-proto because our rules differ
//! from its parser on points that matter for security and for the envelope
//! format: it removes the quotes of a quoted local part (we keep the local
//! part exactly as written, since local parts are the delivery agent's to
//! interpret and `"a@b"@x` must not become `a@b@x`), it accepts any 8-bit
//! byte whether or not the transaction declared SMTPUTF8, it does not check
//! domains or address literals, and it silently drops CRs.
//!
//! What this module decides, and what it leaves to policy:
//! - `%` and `!` are plain local-part characters: whether `a%b@us` is relayed
//!   is the rule engine's business, not the syntax's.
//! - A source route (`<@a,@b:user@dom>`) is checked for syntax and dropped,
//!   as RFC 5321 §C asks.
//! - `<Postmaster>` (any case, no domain) is a recipient only; the session
//!   maps it to its own postmaster.
//! - Domains are kept as written; trailing dots (`user@example.org.`) are a
//!   syntax error, so `localhost.` can never be mistaken for another name.
//! - A U-label's length is counted in UTF-8 octets (an approximation of its
//!   A-label's length, which would need an IDNA library to compute).

use crate::limits::{MAX_DOMAIN, MAX_LABEL, MAX_LOCAL_PART, MAX_PATH};
use smtpd_types::MailAddr;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Why a path or address was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path must be enclosed in angle brackets")]
    NotBracketed,
    #[error("path longer than 256 octets")]
    PathTooLong,
    #[error("invalid source route")]
    BadRoute,
    #[error("address has no @domain")]
    NoDomain,
    #[error("invalid local part")]
    BadLocalPart,
    #[error("local part longer than 64 octets")]
    LocalPartTooLong,
    #[error("invalid domain")]
    BadDomain,
    #[error("domain longer than 255 octets")]
    DomainTooLong,
    #[error("invalid address literal")]
    BadAddressLiteral,
    #[error("non-ASCII address without SMTPUTF8")]
    Utf8NotAllowed,
    #[error("the null path <> is not allowed here")]
    NullNotAllowed,
    #[error("unexpected characters after the address")]
    TrailingGarbage,
}

/// A recipient as RCPT TO gives it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Recipient {
    /// `<Postmaster>` without a domain (RFC 5321 §4.5.1): the session's own
    /// postmaster.
    Postmaster,
    /// An ordinary mailbox.
    Mailbox(MailAddr),
}

/// What a path scan found, before the UTF-8 rule is applied.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Scanned {
    pub(crate) kind: PathKind,
    /// Offset just past the path (past `>` when bracketed).
    pub(crate) end: usize,
    /// Some byte of the path is not ASCII.
    pub(crate) has_utf8: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PathKind {
    Null,
    Postmaster,
    Mailbox(MailAddr),
}

/// RFC 5322 atext (RFC 6531 adds every non-ASCII character, checked by
/// the caller through `>= 0x80` on valid UTF-8).
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b) || b >= 0x80
}

/// Scan a dot-string starting at `pos`; returns the offset after it.
fn scan_dot_string(s: &[u8], pos: usize) -> Result<usize, PathError> {
    let mut i = pos;
    loop {
        let atom_start = i;
        while i < s.len() && is_atext(s[i]) {
            i += 1;
        }
        if i == atom_start {
            return Err(PathError::BadLocalPart);
        }
        if i < s.len() && s[i] == b'.' {
            i += 1;
        } else {
            return Ok(i);
        }
    }
}

/// Scan a quoted string starting at the `"` at `pos`.
fn scan_quoted_string(s: &[u8], pos: usize) -> Result<usize, PathError> {
    let mut i = pos + 1;
    while i < s.len() {
        match s[i] {
            b'"' => return Ok(i + 1),
            b'\\' => match s.get(i + 1) {
                Some(&c) if (32..=126).contains(&c) => i += 2,
                _ => return Err(PathError::BadLocalPart),
            },
            c if (32..=126).contains(&c) || c >= 0x80 => i += 1,
            _ => return Err(PathError::BadLocalPart),
        }
    }
    Err(PathError::BadLocalPart)
}

/// Scan a domain name starting at `pos`; returns the offset after it.
/// `underscore` admits `_` in labels (HELO names of misconfigured hosts).
pub(crate) fn scan_domain(s: &[u8], pos: usize, underscore: bool) -> Result<usize, PathError> {
    let label_char =
        |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b >= 0x80 || (underscore && b == b'_');
    let mut i = pos;
    loop {
        let start = i;
        while i < s.len() && label_char(s[i]) {
            i += 1;
        }
        let label = &s[start..i];
        if label.is_empty() || label[0] == b'-' || label[label.len() - 1] == b'-' {
            return Err(PathError::BadDomain);
        }
        if label.len() > MAX_LABEL {
            return Err(PathError::BadDomain);
        }
        if i - pos > MAX_DOMAIN {
            return Err(PathError::DomainTooLong);
        }
        if i < s.len() && s[i] == b'.' {
            i += 1;
        } else {
            return Ok(i);
        }
    }
}

/// Check the inside of an address literal (without its brackets).
pub(crate) fn valid_address_literal(inner: &str) -> bool {
    match inner.get(..5) {
        Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => inner[5..].parse::<Ipv6Addr>().is_ok(),
        _ => inner.parse::<Ipv4Addr>().is_ok(),
    }
}

/// Scan a domain or an address literal starting at `pos`.
fn scan_domain_or_literal(s: &str, pos: usize) -> Result<usize, PathError> {
    let b = s.as_bytes();
    if b.get(pos) == Some(&b'[') {
        let close = b[pos..]
            .iter()
            .position(|&c| c == b']')
            .ok_or(PathError::BadAddressLiteral)?;
        let inner = &s[pos + 1..pos + close];
        if !valid_address_literal(inner) {
            return Err(PathError::BadAddressLiteral);
        }
        return Ok(pos + close + 1);
    }
    scan_domain(b, pos, false)
}

/// Scan `local@domain` starting at `pos`.
fn scan_mailbox(s: &str, pos: usize) -> Result<(MailAddr, usize), PathError> {
    let b = s.as_bytes();
    let local_end = if b.get(pos) == Some(&b'"') {
        scan_quoted_string(b, pos)?
    } else {
        scan_dot_string(b, pos)?
    };
    if local_end - pos > MAX_LOCAL_PART {
        return Err(PathError::LocalPartTooLong);
    }
    if b.get(local_end) != Some(&b'@') {
        return Err(match b.get(local_end) {
            None | Some(b'>') => PathError::NoDomain,
            Some(_) => PathError::BadLocalPart,
        });
    }
    let dom_start = local_end + 1;
    let dom_end = scan_domain_or_literal(s, dom_start)?;
    let addr = MailAddr::new(&s[pos..local_end], &s[dom_start..dom_end]);
    Ok((addr, dom_end))
}

/// Scan a source route `@a,@b:` starting at the `@` at `pos`; returns the
/// offset after the `:`.
fn scan_route(s: &[u8], pos: usize) -> Result<usize, PathError> {
    let mut i = pos;
    loop {
        if s.get(i) != Some(&b'@') {
            return Err(PathError::BadRoute);
        }
        i = scan_domain(s, i + 1, false).map_err(|_| PathError::BadRoute)?;
        match s.get(i) {
            Some(b',') => i += 1,
            Some(b':') => return Ok(i + 1),
            _ => return Err(PathError::BadRoute),
        }
    }
}

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Scan a path at the start of `s`. With `unbracketed`, a bare mailbox
/// (`MAIL FROM:user@x`, sent by some old clients) is accepted too.
pub(crate) fn scan_path(s: &str, unbracketed: bool) -> Result<Scanned, PathError> {
    let b = s.as_bytes();
    let (kind, end) = if b.first() == Some(&b'<') {
        let mut i = 1;
        if b.get(1) == Some(&b'>') {
            (PathKind::Null, 2)
        } else if b.len() >= 12 && b[1..11].eq_ignore_ascii_case(b"postmaster") && b[11] == b'>' {
            (PathKind::Postmaster, 12)
        } else {
            if b.get(1) == Some(&b'@') {
                i = scan_route(b, 1)?;
            }
            let (addr, end) = scan_mailbox(s, i)?;
            match b.get(end) {
                Some(b'>') => {}
                None => return Err(PathError::NotBracketed),
                // Something after the address but inside the brackets.
                Some(b' ' | b'\t') => return Err(PathError::TrailingGarbage),
                // A character the domain (scanned last) cannot hold.
                Some(_) => return Err(PathError::BadDomain),
            }
            (PathKind::Mailbox(addr), end + 1)
        }
    } else if unbracketed && !b.is_empty() {
        let (addr, end) = scan_mailbox(s, 0)?;
        if end + 2 > MAX_PATH {
            return Err(PathError::PathTooLong);
        }
        (PathKind::Mailbox(addr), end)
    } else {
        return Err(PathError::NotBracketed);
    };
    if end > MAX_PATH {
        return Err(PathError::PathTooLong);
    }
    if end < b.len() && !is_space(b[end]) {
        return Err(PathError::TrailingGarbage);
    }
    let has_utf8 = !b[..end].is_ascii();
    Ok(Scanned {
        kind,
        end,
        has_utf8,
    })
}

/// Parse a MAIL FROM reverse path at the start of `s`: `None` is `<>`.
/// Returns the address and the rest of `s` (parameters). `utf8` allows
/// non-ASCII addresses (the transaction declared SMTPUTF8).
pub fn parse_reverse_path(s: &str, utf8: bool) -> Result<(Option<MailAddr>, &str), PathError> {
    let sc = scan_path(s, false)?;
    if sc.has_utf8 && !utf8 {
        return Err(PathError::Utf8NotAllowed);
    }
    let addr = match sc.kind {
        PathKind::Null => None,
        PathKind::Postmaster => return Err(PathError::NoDomain),
        PathKind::Mailbox(a) => Some(a),
    };
    Ok((addr, &s[sc.end..]))
}

/// Parse a RCPT TO forward path at the start of `s`; returns the
/// recipient and the rest of `s` (parameters).
pub fn parse_forward_path(s: &str, utf8: bool) -> Result<(Recipient, &str), PathError> {
    let sc = scan_path(s, false)?;
    if sc.has_utf8 && !utf8 {
        return Err(PathError::Utf8NotAllowed);
    }
    let rcpt = match sc.kind {
        PathKind::Null => return Err(PathError::NullNotAllowed),
        PathKind::Postmaster => Recipient::Postmaster,
        PathKind::Mailbox(a) => Recipient::Mailbox(a),
    };
    Ok((rcpt, &s[sc.end..]))
}

/// Parse a whole string as a bare mailbox (`user@domain`, no brackets):
/// for addresses from other sources (the sendmail interface, ORCPT) that
/// must obey the same syntax as SMTP paths.
pub fn parse_mailbox(s: &str, utf8: bool) -> Result<MailAddr, PathError> {
    let (addr, end) = scan_mailbox(s, 0)?;
    if end != s.len() {
        return Err(PathError::TrailingGarbage);
    }
    if !s.is_ascii() && !utf8 {
        return Err(PathError::Utf8NotAllowed);
    }
    if s.len() + 2 > MAX_PATH {
        return Err(PathError::PathTooLong);
    }
    Ok(addr)
}

/// Is `s` acceptable as the argument of HELO/EHLO: a domain (where `_` is
/// tolerated, as OpenSMTPD and Postfix do for Windows host names) or an
/// address literal? ASCII only: RFC 6531 keeps EHLO in ASCII.
pub fn valid_helo_name(s: &str) -> bool {
    if !s.is_ascii() || s.is_empty() {
        return false;
    }
    if let Some(inner) = s.strip_prefix('[') {
        return inner.strip_suffix(']').is_some_and(valid_address_literal);
    }
    matches!(scan_domain(s.as_bytes(), 0, true), Ok(end) if end == s.len())
}

/// Write a mailbox as an SMTP path: `<user@domain>`. A local part that is
/// neither a dot-string nor already quoted (as can come out of an alias
/// table) is quoted, so the path on the wire is always well-formed.
pub fn format_path(addr: &MailAddr) -> String {
    let user = &addr.user;
    let b = user.as_bytes();
    let is_dot_string = matches!(scan_dot_string(b, 0), Ok(end) if end == b.len());
    let is_quoted =
        b.first() == Some(&b'"') && matches!(scan_quoted_string(b, 0), Ok(end) if end == b.len());
    let local = if is_dot_string || is_quoted {
        user.clone()
    } else {
        let mut q = String::with_capacity(user.len() + 2);
        q.push('"');
        for c in user.chars() {
            if c == '"' || c == '\\' {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        q
    };
    if addr.domain.is_empty() {
        format!("<{local}>")
    } else {
        format!("<{local}@{}>", addr.domain)
    }
}
