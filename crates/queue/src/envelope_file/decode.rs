//! Reading an envelope file, OpenSMTPD's or ours.

use super::values::{
    addr_from_text, bounce_type_from_text, dsn_notify_from_text, dsn_ret_from_text, esc_from_text,
    flags_from_text, number, sender_from_text, sockaddr_from_text, time,
};
use super::{DecodeError, MAX_FILE_SIZE, VERSION};
use smtpd_types::envelope::{BounceInfo, BounceType};
use smtpd_types::{DsnNotify, Envelope, EnvelopeFlags, EnvelopeKind, EvpId};
use std::collections::HashMap;

/// Every key a version-3 file may hold (ours adds `mda-file`).
const KEYS: &[&str] = &[
    "version",
    "dispatcher",
    "tag",
    "type",
    "smtpname",
    "helo",
    "hostname",
    "username",
    "errorline",
    "sockaddr",
    "sender",
    "rcpt",
    "dest",
    "ctime",
    "last-try",
    "last-bounce",
    "ttl",
    "retry",
    "flags",
    "dsn-notify",
    "dsn-ret",
    "dsn-envid",
    "dsn-orcpt",
    "esc-class",
    "esc-code",
    "mda-exec",
    "mda-file",
    "mda-subaddress",
    "mda-user",
    "bounce-ttl",
    "bounce-delay",
    "bounce-type",
];

/// Keys without which the envelope cannot be delivered or scheduled. Every
/// writer emits them, so their absence means a damaged file.
const REQUIRED: &[&str] = &["version", "type", "sender", "rcpt", "dest", "ctime", "ttl"];

/// Fields that come from peers and are only shown to people: bytes that are
/// not UTF-8 are replaced rather than refused, so an odd HELO in an
/// OpenSMTPD queue never makes its message undeliverable.
const LOSSY: &[&str] = &["helo", "hostname", "errorline"];

/// The file's lines as a key → value map.
struct Fields<'a>(HashMap<&'static str, std::borrow::Cow<'a, str>>);

impl<'a> Fields<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut map = HashMap::new();
        if bytes.is_empty() {
            return Err(DecodeError::MissingKey("version"));
        }
        let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        for (i, line) in body.split(|&b| b == b'\n').enumerate() {
            let (key, value) = split_line(i + 1, line)?;
            let lower = key.to_ascii_lowercase();
            let Some(known) = KEYS.iter().copied().find(|k| *k == lower) else {
                return Err(DecodeError::UnknownKey {
                    line: i + 1,
                    key: lower,
                });
            };
            let text = if LOSSY.contains(&known) {
                String::from_utf8_lossy(value)
            } else {
                std::str::from_utf8(value)
                    .map(std::borrow::Cow::Borrowed)
                    .map_err(|_| DecodeError::Syntax {
                        line: i + 1,
                        reason: "value is not UTF-8",
                    })?
            };
            if map.insert(known, text).is_some() {
                return Err(DecodeError::DuplicateKey(known.to_string()));
            }
        }
        for key in REQUIRED {
            if !map.contains_key(key) {
                return Err(DecodeError::MissingKey(key));
            }
        }
        Ok(Fields(map))
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|v| v.as_ref())
    }

    /// Required keys were checked in `parse`, so this only falls back for
    /// optional ones.
    fn text(&self, key: &str) -> String {
        self.get(key).unwrap_or("").to_string()
    }

    fn opt(&self, key: &str) -> Option<String> {
        self.get(key).filter(|v| !v.is_empty()).map(str::to_string)
    }

    fn time_or_zero(&self, key: &'static str) -> Result<u64, DecodeError> {
        self.get(key).map(|v| time(key, v)).unwrap_or(Ok(0))
    }
}

/// `key [blanks] : [blanks] value`, key made of letters, digits and `-`.
fn split_line(line_no: usize, line: &[u8]) -> Result<(&str, &[u8]), DecodeError> {
    let syntax = |reason| DecodeError::Syntax {
        line: line_no,
        reason,
    };
    if line.contains(&0) {
        return Err(syntax("NUL byte"));
    }
    // A carriage return cannot be written back (the encoder refuses it in
    // any value): an envelope we could load but never update is refused
    // here, at load. (Found by the envelope_decode fuzz target.)
    if line.contains(&b'\r') {
        return Err(syntax("carriage return"));
    }
    let key_len = line
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'-'))
        .unwrap_or(line.len());
    if key_len == 0 {
        return Err(syntax("expected a key"));
    }
    let rest = trim_blanks(&line[key_len..]);
    let Some(after_colon) = rest.strip_prefix(b":") else {
        return Err(syntax("expected ':' after the key"));
    };
    // The key is ASCII by construction.
    let key = std::str::from_utf8(&line[..key_len]).map_err(|_| syntax("bad key"))?;
    Ok((key, trim_blanks(after_colon)))
}

/// Skip leading blanks as C's `isspace()` does.
fn trim_blanks(s: &[u8]) -> &[u8] {
    let n = s
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c'))
        .count();
    &s[n..]
}

/// Read the file text of envelope `id`. Any byte string gives either an
/// envelope or an error saying what is wrong, never a panic.
pub fn decode(id: EvpId, bytes: &[u8]) -> Result<Envelope, DecodeError> {
    if bytes.len() > MAX_FILE_SIZE {
        return Err(DecodeError::TooLarge);
    }
    let f = Fields::parse(bytes)?;
    let version = f.text("version");
    if number("version", &version, u32::MAX as u64).ok() != Some(VERSION as u64) {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    let type_text = f.text("type");
    let kind = EnvelopeKind::parse(&type_text.to_ascii_lowercase()).ok_or_else(|| {
        DecodeError::BadValue {
            key: "type",
            value: type_text.clone(),
            reason: "expected mda, mta or bounce",
        }
    })?;
    let esc = match f.get("esc-class") {
        Some(class) => esc_from_text(class, f.get("esc-code"))?,
        None => None,
    };
    let bounce = if kind == EnvelopeKind::Bounce {
        Some(BounceInfo {
            ttl: f.time_or_zero("bounce-ttl")?,
            delay: f.time_or_zero("bounce-delay")?,
            kind: match f.get("bounce-type") {
                Some(t) => bounce_type_from_text(t)?,
                None => BounceType::Failed,
            },
        })
    } else {
        // OpenSMTPD ignores them for other types too; still, reject junk.
        f.time_or_zero("bounce-ttl")?;
        f.time_or_zero("bounce-delay")?;
        f.get("bounce-type")
            .map(bounce_type_from_text)
            .transpose()?;
        None
    };
    Ok(Envelope {
        id,
        dispatcher: f.text("dispatcher"),
        tag: f.opt("tag"),
        kind,
        smtpname: f.text("smtpname"),
        helo: f.text("helo"),
        hostname: f.text("hostname"),
        username: f.opt("username"),
        errorline: f.opt("errorline"),
        sockaddr: sockaddr_from_text(&f.text("sockaddr"))?,
        sender: sender_from_text(&f.text("sender"))?,
        rcpt: addr_from_text("rcpt", &f.text("rcpt"))?,
        dest: addr_from_text("dest", &f.text("dest"))?,
        ctime: f.time_or_zero("ctime")?,
        last_try: f.time_or_zero("last-try")?,
        last_bounce: f.time_or_zero("last-bounce")?,
        ttl: f.time_or_zero("ttl")?,
        retry: f
            .get("retry")
            .map(|v| number("retry", v, u32::MAX as u64))
            .transpose()?
            .unwrap_or(0) as u32,
        flags: f
            .get("flags")
            .map(flags_from_text)
            .transpose()?
            .unwrap_or(EnvelopeFlags::default()),
        dsn_notify: f
            .get("dsn-notify")
            .map(dsn_notify_from_text)
            .transpose()?
            .unwrap_or(DsnNotify::default()),
        dsn_ret: f
            .get("dsn-ret")
            .filter(|v| !v.is_empty())
            .map(dsn_ret_from_text)
            .transpose()?,
        dsn_envid: f.opt("dsn-envid"),
        dsn_orcpt: f.opt("dsn-orcpt"),
        esc,
        mda_exec: f.opt("mda-exec"),
        mda_file: f.opt("mda-file"),
        mda_subaddress: f.opt("mda-subaddress"),
        mda_user: f.opt("mda-user"),
        bounce,
    })
}
