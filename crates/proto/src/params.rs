//! ESMTP parameters of MAIL FROM and RCPT TO (RFC 5321 §4.1.2, RFC 1870
//! SIZE, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8, RFC 3461 DSN, RFC 4954 AUTH).
//!
//! Strict by design: an unknown parameter, one whose extension is not
//! offered, a duplicate or a malformed value is an error, never silently
//! dropped, so what we store on the envelope is exactly what the client
//! asked for. `AUTH=` on MAIL is checked for syntax and ignored: we never
//! trust a client's claim about who submitted a message.
//!
//! ENVID and ORCPT are decoded from xtext (RFC 3461 §4) on the way in and
//! stored decoded; [`xtext_encode`] turns them back for the relay's MAIL
//! and RCPT lines.

use crate::error::CommandError;
use crate::limits::{MAX_ENVID, MAX_ORCPT};
use smtpd_types::{DsnNotify, DsnRet};

/// `BODY=` of MAIL FROM. BINARYMIME is refused (we do not offer it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Body {
    SevenBit,
    EightBitMime,
}

impl Body {
    pub fn as_str(self) -> &'static str {
        match self {
            Body::SevenBit => "7BIT",
            Body::EightBitMime => "8BITMIME",
        }
    }
}

/// The parameters of MAIL FROM.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailParams {
    /// `SIZE=`: the client's estimate of the message size, in octets.
    pub size: Option<u64>,
    pub body: Option<Body>,
    /// `SMTPUTF8`: the transaction may use UTF-8 addresses and headers.
    pub smtputf8: bool,
    /// `RET=FULL|HDRS` (DSN).
    pub ret: Option<DsnRet>,
    /// `ENVID=`, decoded from xtext: printable ASCII, for DSN reports.
    pub envid: Option<String>,
}

/// `ORCPT=addr-type;address` of RCPT TO, decoded.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Orcpt {
    /// The address type, lower case. Only `rfc822` is accepted.
    pub addr_type: String,
    /// The original recipient, decoded from xtext.
    pub addr: String,
}

impl Orcpt {
    /// The parameter value as sent on the wire: `rfc822;xtext`.
    pub fn to_param(&self) -> String {
        format!("{};{}", self.addr_type, xtext_encode(&self.addr))
    }
}

/// The parameters of RCPT TO.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RcptParams {
    /// `NOTIFY=`; unset (all false) when the client gave none.
    pub notify: DsnNotify,
    pub orcpt: Option<Orcpt>,
}

/// Which optional extensions the session offers: a parameter of an
/// extension not offered is answered like an unknown one (555), as RFC 5321
/// §4.1.2 and RFC 3461 §4 ask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offered {
    pub dsn: bool,
    pub smtputf8: bool,
}

/// Decode xtext (RFC 3461 §4): `+XX` is the byte with hex value XX, every
/// other character of `!`..`~` except `+` and `=` stands for itself. Lower
/// case hex digits are accepted (the RFC asks senders for upper case).
pub fn xtext_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                let hex = s.get(i + 1..i + 3)?;
                if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'=' => return None,
            c if (33..=126).contains(&c) => {
                out.push(c);
                i += 1;
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Encode bytes as xtext: `+`, `=`, controls, space and 8-bit bytes become
/// `+XX`.
pub fn xtext_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if (33..=126).contains(&c) && c != b'+' && c != b'=' {
            out.push(c as char);
        } else {
            out.push_str(&format!("+{c:02X}"));
        }
    }
    out
}

/// Decode an xtext value that must decode to printable ASCII.
fn printable_xtext(v: &str) -> Option<String> {
    let raw = xtext_decode(v)?;
    if raw.iter().all(|&c| (32..=126).contains(&c)) {
        String::from_utf8(raw).ok()
    } else {
        None
    }
}

/// Split `rest` (what follows the path) into `(KEYWORD, value)` pairs.
/// Keywords are upper-cased; values are kept as written.
fn split_params(rest: &str) -> Result<Vec<(String, Option<&str>)>, CommandError> {
    let mut out = Vec::new();
    for tok in rest.split([' ', '\t']).filter(|t| !t.is_empty()) {
        let (key, value) = match tok.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (tok, None),
        };
        let kb = key.as_bytes();
        let key_ok = !kb.is_empty()
            && kb[0].is_ascii_alphanumeric()
            && kb.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-');
        // esmtp-value: 1*(%d33-60 / %d62-126), plus UTF-8 (RFC 6531).
        let value_ok = value.is_none_or(|v| {
            !v.is_empty()
                && v.bytes()
                    .all(|c| ((33..=126).contains(&c) && c != b'=') || c >= 0x80)
        });
        if !key_ok || !value_ok {
            return Err(CommandError::BadParameterSyntax);
        }
        out.push((key.to_ascii_uppercase(), value));
    }
    Ok(out)
}

fn set_once<T>(slot: &mut Option<T>, v: T, name: &'static str) -> Result<(), CommandError> {
    if slot.is_some() {
        return Err(CommandError::DuplicateParameter(name));
    }
    *slot = Some(v);
    Ok(())
}

fn need_value<'a>(v: Option<&'a str>, name: &'static str) -> Result<&'a str, CommandError> {
    v.ok_or(CommandError::BadParameter(name))
}

/// Parse the parameters of MAIL FROM.
pub(crate) fn parse_mail_params(rest: &str, offered: Offered) -> Result<MailParams, CommandError> {
    let mut p = MailParams::default();
    let mut seen_utf8 = false;
    let mut seen_auth = false;
    for (key, value) in split_params(rest)? {
        match key.as_str() {
            "SIZE" => {
                let v = need_value(value, "SIZE")?;
                if v.len() > 20 || !v.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(CommandError::BadParameter("SIZE"));
                }
                let n = v.parse().map_err(|_| CommandError::BadParameter("SIZE"))?;
                set_once(&mut p.size, n, "SIZE")?;
            }
            "BODY" => {
                let v = need_value(value, "BODY")?;
                let body = if v.eq_ignore_ascii_case("7BIT") {
                    Body::SevenBit
                } else if v.eq_ignore_ascii_case("8BITMIME") {
                    Body::EightBitMime
                } else if v.eq_ignore_ascii_case("BINARYMIME") {
                    return Err(CommandError::UnsupportedValue("BODY"));
                } else {
                    return Err(CommandError::BadParameter("BODY"));
                };
                set_once(&mut p.body, body, "BODY")?;
            }
            "SMTPUTF8" if offered.smtputf8 => {
                if value.is_some() {
                    return Err(CommandError::BadParameter("SMTPUTF8"));
                }
                if seen_utf8 {
                    return Err(CommandError::DuplicateParameter("SMTPUTF8"));
                }
                seen_utf8 = true;
                p.smtputf8 = true;
            }
            "RET" if offered.dsn => {
                let v = need_value(value, "RET")?;
                let ret = if v.eq_ignore_ascii_case("FULL") {
                    DsnRet::Full
                } else if v.eq_ignore_ascii_case("HDRS") {
                    DsnRet::Hdrs
                } else {
                    return Err(CommandError::BadParameter("RET"));
                };
                set_once(&mut p.ret, ret, "RET")?;
            }
            "ENVID" if offered.dsn => {
                let v = need_value(value, "ENVID")?;
                if v.len() > MAX_ENVID {
                    return Err(CommandError::BadParameter("ENVID"));
                }
                let id = printable_xtext(v).ok_or(CommandError::BadParameter("ENVID"))?;
                set_once(&mut p.envid, id, "ENVID")?;
            }
            "AUTH" => {
                let v = need_value(value, "AUTH")?;
                if v != "<>" && xtext_decode(v).is_none() {
                    return Err(CommandError::BadParameter("AUTH"));
                }
                if seen_auth {
                    return Err(CommandError::DuplicateParameter("AUTH"));
                }
                seen_auth = true;
            }
            _ => return Err(CommandError::UnknownParameter(key)),
        }
    }
    Ok(p)
}

/// Parse the parameters of RCPT TO.
pub(crate) fn parse_rcpt_params(rest: &str, offered: Offered) -> Result<RcptParams, CommandError> {
    let mut p = RcptParams::default();
    let mut seen_notify = false;
    for (key, value) in split_params(rest)? {
        match key.as_str() {
            "NOTIFY" if offered.dsn => {
                if seen_notify {
                    return Err(CommandError::DuplicateParameter("NOTIFY"));
                }
                seen_notify = true;
                p.notify = parse_notify(need_value(value, "NOTIFY")?)?;
            }
            "ORCPT" if offered.dsn => {
                let v = need_value(value, "ORCPT")?;
                set_once(&mut p.orcpt, parse_orcpt(v)?, "ORCPT")?;
            }
            _ => return Err(CommandError::UnknownParameter(key)),
        }
    }
    Ok(p)
}

/// `NEVER` or a comma list of `SUCCESS`, `FAILURE`, `DELAY`.
fn parse_notify(v: &str) -> Result<DsnNotify, CommandError> {
    let mut n = DsnNotify::default();
    for item in v.split(',') {
        let flag = if item.eq_ignore_ascii_case("SUCCESS") {
            &mut n.success
        } else if item.eq_ignore_ascii_case("FAILURE") {
            &mut n.failure
        } else if item.eq_ignore_ascii_case("DELAY") {
            &mut n.delay
        } else if item.eq_ignore_ascii_case("NEVER") {
            &mut n.never
        } else {
            return Err(CommandError::BadParameter("NOTIFY"));
        };
        *flag = true;
    }
    if n.never && (n.success || n.failure || n.delay) {
        return Err(CommandError::BadParameter("NOTIFY"));
    }
    Ok(n)
}

/// `rfc822;xtext-address`. The decoded address must be printable ASCII
/// with an `@`; beyond that it is whatever the first MTA accepted (RFC 822
/// syntax, possibly longer than our own limits), and only ever echoed in a
/// report, so it is not held to our path rules.
fn parse_orcpt(v: &str) -> Result<Orcpt, CommandError> {
    if v.len() > MAX_ORCPT {
        return Err(CommandError::BadParameter("ORCPT"));
    }
    let (ty, addr) = v
        .split_once(';')
        .ok_or(CommandError::BadParameter("ORCPT"))?;
    if !ty.eq_ignore_ascii_case("rfc822") {
        return Err(CommandError::UnsupportedValue("ORCPT"));
    }
    let addr = printable_xtext(addr).ok_or(CommandError::BadParameter("ORCPT"))?;
    if !addr.contains('@') {
        return Err(CommandError::BadParameter("ORCPT"));
    }
    Ok(Orcpt {
        addr_type: "rfc822".into(),
        addr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xtext_round_trip() {
        assert_eq!(xtext_encode("a+b=c d"), "a+2Bb+3Dc+20d");
        assert_eq!(xtext_decode("a+2Bb+3Dc+20d").unwrap(), b"a+b=c d");
        assert_eq!(xtext_decode("+2b").unwrap(), b"+");
        assert!(xtext_decode("+2").is_none());
        assert!(xtext_decode("+zz").is_none());
        assert!(xtext_decode("a=b").is_none());
        assert!(xtext_decode("+é1").is_none());
    }
}
