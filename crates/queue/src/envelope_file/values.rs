//! How each kind of value is spelled in an envelope file, both ways.
//!
//! These spellings are OpenSMTPD's (`envelope.c`, `to.c`): addresses as
//! `user@domain` with `@` for the null sender, flags as words, `dsn-notify`
//! as the bit mask number, enhanced status as two small numbers.

use super::{DecodeError, EncodeError};
use smtpd_types::envelope::BounceType;
use smtpd_types::{DsnNotify, DsnRet, EnhancedStatus, EnvelopeFlags, MailAddr};

/// OpenSMTPD's DSN bits (smtpd.h `DSN_SUCCESS` …).
const DSN_SUCCESS: u8 = 0x01;
const DSN_FAILURE: u8 = 0x02;
const DSN_DELAY: u8 = 0x04;
const DSN_NEVER: u8 = 0x08;

fn bad(key: &'static str, value: &str, reason: &'static str) -> DecodeError {
    DecodeError::BadValue {
        key,
        value: value.to_string(),
        reason,
    }
}

/// Make free text storable as a value: control characters (line breaks
/// included) become spaces and leading blanks go. The writer applies it to
/// the informational fields that come from peers (`helo`, `hostname`,
/// `errorline`); callers may use it for anything else they build from
/// outside text.
pub fn clean_value(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim_start()
        .to_string()
}

/// Check that `value` will read back exactly as written.
pub(super) fn check_storable(key: &'static str, value: &str) -> Result<(), EncodeError> {
    if value.contains(['\n', '\r', '\0']) {
        return Err(EncodeError::BadValue {
            key,
            reason: "contains a line break or NUL",
        });
    }
    if value.starts_with(|c: char| c.is_ascii_whitespace()) {
        return Err(EncodeError::BadValue {
            key,
            reason: "starts with a blank",
        });
    }
    Ok(())
}

/// `user@domain`; a bare user keeps OpenSMTPD's trailing `@`.
pub(super) fn addr_to_text(a: &MailAddr) -> String {
    format!("{}@{}", a.user, a.domain)
}

/// The reverse path: `@` is the null sender `<>`.
pub(super) fn sender_to_text(a: Option<&MailAddr>) -> String {
    a.map(addr_to_text).unwrap_or_else(|| "@".to_string())
}

/// Split at the last `@` as OpenSMTPD's `text_to_mailaddr()`; a text
/// without `@` is a bare user.
fn split_addr(s: &str) -> (&str, &str) {
    match s.rfind('@') {
        Some(at) => (&s[..at], &s[at + 1..]),
        None => (s, ""),
    }
}

fn check_addr_chars(key: &'static str, s: &str) -> Result<(), DecodeError> {
    if s.chars().any(|c| c.is_control()) {
        return Err(bad(key, s, "control character in address"));
    }
    Ok(())
}

/// A recipient (`rcpt`, `dest`): must name at least a user.
pub(super) fn addr_from_text(key: &'static str, s: &str) -> Result<MailAddr, DecodeError> {
    check_addr_chars(key, s)?;
    let (user, domain) = split_addr(s);
    if user.is_empty() {
        return Err(bad(key, s, "address has no local part"));
    }
    Ok(MailAddr::new(user, domain))
}

/// The sender: `@` (or nothing) is the null sender.
pub(super) fn sender_from_text(s: &str) -> Result<Option<MailAddr>, DecodeError> {
    check_addr_chars("sender", s)?;
    let (user, domain) = split_addr(s);
    match (user.is_empty(), domain.is_empty()) {
        (true, true) => Ok(None),
        (true, false) => Err(bad("sender", s, "address has no local part")),
        _ => Ok(Some(MailAddr::new(user, domain))),
    }
}

/// A decimal number within `max`, digits only (OpenSMTPD's `strtonum`
/// bounds; it never writes signs or blanks).
pub(super) fn number(key: &'static str, s: &str, max: u64) -> Result<u64, DecodeError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(key, s, "not a decimal number"));
    }
    match s.parse::<u64>() {
        Ok(v) if v <= max => Ok(v),
        _ => Err(bad(key, s, "number out of range")),
    }
}

/// A time in Unix seconds (`time_t`, never negative in a queue).
pub(super) fn time(key: &'static str, s: &str) -> Result<u64, DecodeError> {
    number(key, s, i64::MAX as u64)
}

pub(super) fn flags_to_text(f: &EnvelopeFlags) -> String {
    let mut words = Vec::new();
    if f.authenticated {
        words.push("authenticated");
    }
    if f.bounce {
        words.push("bounce");
    }
    if f.internal {
        words.push("internal");
    }
    words.join(" ")
}

/// Words separated by blanks, commas or bars; `enqueued` is an old flag
/// OpenSMTPD still accepts and ignores.
pub(super) fn flags_from_text(s: &str) -> Result<EnvelopeFlags, DecodeError> {
    let mut f = EnvelopeFlags::default();
    for word in s.split([' ', ',', '|']).filter(|w| !w.is_empty()) {
        match word.to_ascii_lowercase().as_str() {
            "authenticated" => f.authenticated = true,
            "bounce" => f.bounce = true,
            "internal" => f.internal = true,
            "enqueued" => {}
            _ => return Err(bad("flags", s, "unknown flag")),
        }
    }
    Ok(f)
}

pub(super) fn dsn_notify_to_text(n: &DsnNotify) -> String {
    let mut bits = 0u8;
    if n.success {
        bits |= DSN_SUCCESS;
    }
    if n.failure {
        bits |= DSN_FAILURE;
    }
    if n.delay {
        bits |= DSN_DELAY;
    }
    if n.never {
        bits |= DSN_NEVER;
    }
    bits.to_string()
}

/// OpenSMTPD writes the bit mask as a number; the RFC 3461 words
/// (`SUCCESS,DELAY`, `NEVER`) are accepted too, for hand-written files.
pub(super) fn dsn_notify_from_text(s: &str) -> Result<DsnNotify, DecodeError> {
    let bits = if s.bytes().all(|b| b.is_ascii_digit()) {
        number("dsn-notify", s, u8::MAX as u64)? as u8
    } else {
        let mut bits = 0;
        for word in s.split([',', ' ']).filter(|w| !w.is_empty()) {
            bits |= match word.to_ascii_uppercase().as_str() {
                "SUCCESS" => DSN_SUCCESS,
                "FAILURE" => DSN_FAILURE,
                "DELAY" => DSN_DELAY,
                "NEVER" => DSN_NEVER,
                _ => return Err(bad("dsn-notify", s, "unknown notification")),
            };
        }
        bits
    };
    if bits & !(DSN_SUCCESS | DSN_FAILURE | DSN_DELAY | DSN_NEVER) != 0 {
        return Err(bad("dsn-notify", s, "unknown notification bit"));
    }
    Ok(DsnNotify {
        success: bits & DSN_SUCCESS != 0,
        failure: bits & DSN_FAILURE != 0,
        delay: bits & DSN_DELAY != 0,
        never: bits & DSN_NEVER != 0,
    })
}

pub(super) fn dsn_ret_from_text(s: &str) -> Result<DsnRet, DecodeError> {
    match s.to_ascii_uppercase().as_str() {
        "FULL" => Ok(DsnRet::Full),
        "HDRS" => Ok(DsnRet::Hdrs),
        _ => Err(bad("dsn-ret", s, "expected FULL or HDRS")),
    }
}

/// OpenSMTPD's current and older bounce type words.
pub(super) fn bounce_type_from_text(s: &str) -> Result<BounceType, DecodeError> {
    match s.to_ascii_lowercase().as_str() {
        "failed" | "error" => Ok(BounceType::Failed),
        "delayed" | "warn" => Ok(BounceType::Delayed),
        "delivered" | "dsn" => Ok(BounceType::Delivered),
        _ => Err(bad(
            "bounce-type",
            s,
            "expected failed, delayed or delivered",
        )),
    }
}

/// `esc-code` is OpenSMTPD's `enum enhanced_status_code`: subject·10 +
/// detail in one byte, which only holds single-digit parts. Codes with a
/// larger part (5.7.26) are written `subject.detail`, our extension.
pub(super) fn esc_code_to_text(st: &EnhancedStatus) -> String {
    if st.subject < 10 && st.detail < 10 {
        (st.subject * 10 + st.detail).to_string()
    } else {
        format!("{}.{}", st.subject, st.detail)
    }
}

pub(super) fn esc_from_text(
    class: &str,
    code: Option<&str>,
) -> Result<Option<EnhancedStatus>, DecodeError> {
    let class_num = number("esc-class", class, u8::MAX as u64)? as u8;
    if class_num == 0 {
        return Ok(None);
    }
    if !matches!(class_num, 2 | 4 | 5) {
        return Err(bad("esc-class", class, "expected 2, 4 or 5"));
    }
    let (subject, detail) = match code {
        None => (0, 0),
        Some(c) => match c.split_once('.') {
            Some((s, d)) => (
                number("esc-code", s, 999)? as u16,
                number("esc-code", d, 999)? as u16,
            ),
            None => {
                let v = number("esc-code", c, 99)? as u16;
                (v / 10, v % 10)
            }
        },
    };
    Ok(Some(EnhancedStatus::new(class_num, subject, detail)))
}

/// OpenSMTPD writes IPv6 peers in brackets (`[::1]`); our envelopes hold
/// the bare address.
pub(super) fn sockaddr_to_text(s: &str) -> String {
    if s.contains(':') && !s.starts_with('[') {
        format!("[{s}]")
    } else {
        s.to_string()
    }
}

/// Accepts `local`, IPv4, `[IPv6]` and the older `IPv6:addr`.
pub(super) fn sockaddr_from_text(s: &str) -> Result<String, DecodeError> {
    if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("sockaddr", s, "blank or control character"));
    }
    if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return Ok(inner.to_string());
    }
    // Compared as bytes: the fifth byte of a hostile value may fall inside
    // a multi-byte character, where slicing the `str` would panic. When the
    // five bytes are the ASCII prefix, byte 5 is a character boundary.
    if s.len() > 5 && s.as_bytes()[..5].eq_ignore_ascii_case(b"IPv6:") {
        return Ok(s[5..].to_string());
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multibyte_character_across_the_ipv6_prefix_is_no_panic() {
        // Found by fuzz-extra's envelope_decode (regressions/envelope_decode/
        // sockaddr-multibyte-prefix): "HPv6" then U+01AB straddling byte 5.
        assert_eq!(
            sockaddr_from_text("HPv6\u{1ab}:1").unwrap(),
            "HPv6\u{1ab}:1"
        );
        assert_eq!(sockaddr_from_text("ipv6:::1").unwrap(), "::1");
    }

    #[test]
    fn addresses_as_opensmtpd_spells_them() {
        assert_eq!(sender_from_text("@").unwrap(), None);
        assert_eq!(sender_from_text("").unwrap(), None);
        assert!(sender_from_text("@example.org").is_err());
        let bare = addr_from_text("rcpt", "root@").unwrap();
        assert_eq!(bare, MailAddr::new("root", ""));
        assert_eq!(addr_to_text(&bare), "root@");
        assert_eq!(addr_from_text("rcpt", "root").unwrap(), bare);
        assert!(addr_from_text("rcpt", "@").is_err());
        assert!(addr_from_text("rcpt", "a\u{1}b@x").is_err());
    }

    #[test]
    fn esc_codes() {
        let st = esc_from_text("5", Some("11")).unwrap().unwrap();
        assert_eq!(st, EnhancedStatus::new(5, 1, 1));
        assert_eq!(esc_code_to_text(&st), "11");
        let big = EnhancedStatus::new(5, 7, 26);
        assert_eq!(esc_code_to_text(&big), "7.26");
        assert_eq!(esc_from_text("5", Some("7.26")).unwrap(), Some(big));
        assert_eq!(esc_from_text("0", Some("7")).unwrap(), None);
        assert!(esc_from_text("3", None).is_err());
        assert!(esc_from_text("5", Some("100")).is_err());
    }

    #[test]
    fn dsn_notify_as_number_or_words() {
        let n = dsn_notify_from_text("6").unwrap();
        assert!(n.failure && n.delay && !n.success && !n.never);
        assert_eq!(dsn_notify_from_text("failure,Delay").unwrap(), n);
        assert_eq!(dsn_notify_to_text(&n), "6");
        assert!(dsn_notify_from_text("NEVER").unwrap().never);
        assert!(dsn_notify_from_text("SOMETIMES").is_err());
        assert!(dsn_notify_from_text("").is_err());
    }

    #[test]
    fn clean_value_removes_breaks() {
        assert_eq!(clean_value("  421 a\r\nb"), "421 a  b");
    }
}
