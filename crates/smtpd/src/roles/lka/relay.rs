//! The table lookups of relaying, for mta (which cannot open tables from
//! its chroot): relay URLs (`relayhost`), credentials, source addresses.

use smtpd_table::{Service, Value};
use std::net::IpAddr;

use super::tables::Tables;
use crate::msg::to_mta::RelayCredentials;

/// `relay host <t>` (`domain: None`: fetch one URL of the list, rotated by
/// the table) or `relay domain <t>` (the URL stored for the domain).
pub fn relay_host(
    tables: &Tables,
    table: &str,
    domain: Option<&str>,
) -> Result<Option<String>, String> {
    let t = tables.get(table).map_err(|e| e.to_string())?;
    let value = match domain {
        None => t.fetch(Service::Relayhost),
        Some(d) => t.lookup(Service::Relayhost, &d.to_ascii_lowercase()),
    }
    .map_err(|e| e.to_string())?;
    Ok(match value {
        Some(Value::Relayhost(url)) | Some(Value::String(url)) => Some(url),
        _ => None,
    })
}

/// The credentials stored under `label`.
pub fn credentials(
    tables: &Tables,
    table: &str,
    label: &str,
) -> Result<Option<RelayCredentials>, String> {
    let t = tables.get(table).map_err(|e| e.to_string())?;
    match t.lookup(Service::Credentials, label) {
        Ok(Some(Value::Credentials(c))) => Ok(Some(RelayCredentials {
            username: c.username,
            password: c.password,
        })),
        Ok(_) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// One source address of the table (rotated by the table).
pub fn source(tables: &Tables, table: &str) -> Result<Option<IpAddr>, String> {
    let t = tables.get(table).map_err(|e| e.to_string())?;
    match t.fetch(Service::Source) {
        Ok(Some(Value::Source(ip))) => Ok(Some(ip)),
        Ok(_) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// The HELO name `table` (addrname service) gives source address `addr`.
pub fn helo_name(tables: &Tables, table: &str, addr: IpAddr) -> Result<Option<String>, String> {
    let t = tables.get(table).map_err(|e| e.to_string())?;
    match t.lookup(Service::Addrname, &addr.to_string()) {
        Ok(Some(Value::Addrname(a))) => Ok(Some(a.name)),
        Ok(_) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}
