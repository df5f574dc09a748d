//! Writing an envelope in OpenSMTPD's `envelope_dump_buffer()` order.

use super::values::{
    addr_to_text, check_storable, clean_value, dsn_notify_to_text, esc_code_to_text, flags_to_text,
    sender_to_text, sockaddr_to_text,
};
use super::{EncodeError, VERSION};
use smtpd_types::envelope::BounceType;
use smtpd_types::{Envelope, EnvelopeKind};
use std::fmt::Write as _;

/// Accumulates `key: value` lines, leaving out empty values as OpenSMTPD
/// does and refusing values that would not read back as written.
struct Lines(String);

impl Lines {
    fn put(&mut self, key: &'static str, value: &str) -> Result<(), EncodeError> {
        if value.is_empty() {
            return Ok(());
        }
        check_storable(key, value)?;
        // Writing to a String cannot fail.
        let _ = writeln!(self.0, "{key}: {value}");
        Ok(())
    }

    fn put_opt(&mut self, key: &'static str, value: Option<&str>) -> Result<(), EncodeError> {
        self.put(key, value.unwrap_or(""))
    }

    /// Free text that came from a peer: cleaned rather than refused, so a
    /// strange HELO or remote error line never stops mail from queueing.
    fn put_text(&mut self, key: &'static str, value: &str) -> Result<(), EncodeError> {
        self.put(key, &clean_value(value))
    }

    fn put_num(&mut self, key: &'static str, value: impl std::fmt::Display) {
        let _ = writeln!(self.0, "{key}: {value}");
    }
}

/// The file text of `env`. Empty strings and `Some("")` are both left out,
/// so they read back as `None`/empty; `helo`, `hostname` and `errorline`
/// are passed through [`clean_value`](super::clean_value); every other
/// string must be storable as is.
pub fn encode(env: &Envelope) -> Result<String, EncodeError> {
    let mut l = Lines(String::with_capacity(512));
    l.put_num("version", VERSION);
    l.put("dispatcher", &env.dispatcher)?;
    l.put_opt("tag", env.tag.as_deref())?;
    l.put("type", env.kind.as_str())?;
    l.put("smtpname", &env.smtpname)?;
    l.put_text("helo", &env.helo)?;
    l.put_text("hostname", &env.hostname)?;
    l.put_opt("username", env.username.as_deref())?;
    l.put_text("errorline", env.errorline.as_deref().unwrap_or(""))?;
    l.put("sockaddr", &sockaddr_to_text(&env.sockaddr))?;
    l.put("sender", &sender_to_text(env.sender.as_ref()))?;
    l.put("rcpt", &addr_to_text(&env.rcpt))?;
    l.put("dest", &addr_to_text(&env.dest))?;
    l.put_num("ctime", env.ctime);
    l.put_num("last-try", env.last_try);
    l.put_num("last-bounce", env.last_bounce);
    l.put_num("ttl", env.ttl);
    l.put_num("retry", env.retry);
    l.put("flags", &flags_to_text(&env.flags))?;
    l.put("dsn-notify", &dsn_notify_to_text(&env.dsn_notify))?;
    l.put("dsn-ret", env.dsn_ret.map(|r| r.as_str()).unwrap_or(""))?;
    l.put_opt("dsn-envid", env.dsn_envid.as_deref())?;
    l.put_opt("dsn-orcpt", env.dsn_orcpt.as_deref())?;
    if let Some(st) = &env.esc {
        l.put_num("esc-class", st.class);
        l.put("esc-code", &esc_code_to_text(st))?;
    }
    match env.kind {
        EnvelopeKind::Mda => {
            l.put_opt("mda-exec", env.mda_exec.as_deref())?;
            l.put_opt("mda-file", env.mda_file.as_deref())?;
            l.put_opt("mda-subaddress", env.mda_subaddress.as_deref())?;
            l.put_opt("mda-user", env.mda_user.as_deref())?;
        }
        EnvelopeKind::Mta => {}
        EnvelopeKind::Bounce => {
            let b = env.bounce.as_ref();
            let kind = b.map(|b| b.kind).unwrap_or(BounceType::Failed);
            let ttl = b.map(|b| b.ttl).unwrap_or(0);
            let delay = b.map(|b| b.delay).unwrap_or(0);
            // OpenSMTPD writes these two only for delay notices; we also
            // keep them when set, which OpenSMTPD reads without complaint.
            if kind == BounceType::Delayed || ttl != 0 {
                l.put_num("bounce-ttl", ttl);
            }
            if kind == BounceType::Delayed || delay != 0 {
                l.put_num("bounce-delay", delay);
            }
            l.put("bounce-type", kind.as_str())?;
        }
    }
    Ok(l.0)
}
