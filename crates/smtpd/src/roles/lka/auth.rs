//! AUTH for the smtp process (OpenSMTPD's `lka_authenticate`): the user's
//! entry of the listener's credentials table holds a crypt(3) hash, as
//! `smtpctl encrypt` (or `mkpasswd`, `htpasswd -B`) writes it; the check
//! itself is `crate::passwords`'. And the `senders` check of an
//! authenticated session's MAIL (OpenSMTPD's `lka_mailaddrmap`).

use smtpd_table::{Service, Value};
use smtpd_types::MailAddr;
use tracing::warn;

use super::tables::Tables;
use crate::msg::to_smtp::SenderCheck;

/// The stored hash of `user`: `Ok(None)` for an unknown user, `Err` when
/// the table cannot answer.
pub fn stored_hash(tables: &Tables, table: &str, user: &str) -> Result<Option<String>, String> {
    let t = tables.get(table).map_err(|e| e.to_string())?;
    match t.lookup(Service::Credentials, user) {
        Ok(Some(Value::Credentials(c))) => Ok(Some(c.password)),
        Ok(_) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// May `user` send as `sender`? The user's `mailaddrmap` entry in `table`
/// lists the addresses (`joe@example.org`, `@example.org`, `joe`) it may
/// use; no entry, no address.
pub fn sender_allowed(
    tables: &Tables,
    table: &str,
    user: &str,
    sender: Option<&MailAddr>,
    delim: char,
) -> SenderCheck {
    let found = tables
        .get(table)
        .and_then(|t| t.lookup(Service::Mailaddrmap, user));
    match found {
        Ok(Some(Value::Mailaddrmap(patterns))) => {
            let (u, d) = sender
                .map(|a| (a.user.as_str(), a.domain.as_str()))
                .unwrap_or(("", ""));
            if patterns.iter().any(|p| p.matches(u, d, delim)) {
                SenderCheck::Allowed
            } else {
                SenderCheck::Refused
            }
        }
        Ok(_) => SenderCheck::Refused,
        Err(e) => {
            warn!("lka: senders table {table}: {e}");
            SenderCheck::TempFail
        }
    }
}
