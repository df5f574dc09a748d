//! AUTH for the smtp process (OpenSMTPD's `lka_authenticate`): the user's
//! entry of the listener's credentials table holds a crypt(3) hash, as
//! `smtpctl encrypt` (or `mkpasswd`, `htpasswd -B`) writes it; the check
//! itself is `crate::passwords`'.

use smtpd_table::{Service, Value};

use super::tables::Tables;

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
