//! Table operations over in-memory [`Entries`], shared by the backends that
//! hold their contents (static) or index them (db).

use crate::entries::{Entries, RegexFailure};
use crate::error::TableError;
use crate::key::normalize_key;
use crate::netaddr::parse_ip;
use crate::service::{Service, ServiceSet};
use crate::table::TableKind;
use crate::value::{parse_fetched, parse_value, Value, ValueError};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Refuse a service the backend cannot serve.
pub(crate) fn require_service(
    table: &str,
    backend: &'static str,
    services: ServiceSet,
    service: Service,
) -> Result<(), TableError> {
    if services.contains(service) {
        Ok(())
    } else {
        Err(TableError::UnsupportedService {
            table: table.to_string(),
            backend,
            service,
        })
    }
}

/// Normalise a query key, naming the table in the error.
pub(crate) fn normalize(table: &str, key: &str) -> Result<String, TableError> {
    normalize_key(key).map_err(|error| TableError::KeyTooLong {
        table: table.to_string(),
        error,
    })
}

fn regex_error(table: &str, failure: RegexFailure) -> TableError {
    TableError::BadRegex {
        table: table.to_string(),
        pattern: failure.pattern,
        reason: failure.reason,
    }
}

fn bad_value(table: &str, service: Service, key: &str, error: ValueError) -> TableError {
    TableError::BadValue {
        table: table.to_string(),
        service,
        key: key.to_string(),
        error,
    }
}

/// Services whose lookups need a value, so a list cannot serve them.
fn needs_values(service: Service) -> bool {
    matches!(
        service,
        Service::Alias
            | Service::Credentials
            | Service::Userinfo
            | Service::Mailaddrmap
            | Service::Addrname
    )
}

/// `lookup` on normalised `key`.
pub(crate) fn lookup(
    table: &str,
    entries: &Entries,
    service: Service,
    key: &str,
) -> Result<Option<Value>, TableError> {
    if entries.kind() == TableKind::List {
        return Err(TableError::NotAMapping {
            table: table.to_string(),
            service,
        });
    }
    let Some(i) = entries
        .find(service, key)
        .map_err(|f| regex_error(table, f))?
    else {
        return Ok(None);
    };
    let raw = entries.value(i).unwrap_or_default();
    parse_value(service, entries.key(i), raw)
        .map(Some)
        .map_err(|e| bad_value(table, service, entries.key(i), e))
}

/// `check` on normalised `key`.
pub(crate) fn check(
    table: &str,
    entries: &Entries,
    service: Service,
    key: &str,
) -> Result<bool, TableError> {
    entries
        .find(service, key)
        .map(|found| found.is_some())
        .map_err(|f| regex_error(table, f))
}

/// `fetch`: the entry under the cursor, then advance it.
pub(crate) fn fetch(
    table: &str,
    entries: &Entries,
    cursor: &AtomicUsize,
    service: Service,
) -> Result<Option<Value>, TableError> {
    if !service.is_fetchable() {
        return Err(TableError::UnsupportedOperation {
            table: table.to_string(),
            operation: "fetch",
            service,
        });
    }
    if entries.len() == 0 {
        return Ok(None);
    }
    let i = cursor.fetch_add(1, Ordering::Relaxed) % entries.len();
    let key = entries.key(i);
    parse_fetched(service, key)
        .map(Some)
        .map_err(|e| bad_value(table, service, key, e))
}

/// `validate`: every entry usable for `service`.
pub(crate) fn validate(table: &str, entries: &Entries, service: Service) -> Result<(), TableError> {
    if needs_values(service) && entries.kind() == TableKind::List {
        return Err(TableError::NotAMapping {
            table: table.to_string(),
            service,
        });
    }
    match service {
        Service::Regex => {
            entries.regex_set().map_err(|f| regex_error(table, f))?;
        }
        Service::Source => {
            for i in 0..entries.len() {
                let key = entries.key(i);
                parse_ip(key).map_err(|e| bad_value(table, service, key, e.into()))?;
            }
        }
        _ => {}
    }
    if needs_values(service) || service == Service::Relayhost {
        for i in 0..entries.len() {
            if let Some(raw) = entries.value(i) {
                parse_value(service, entries.key(i), raw)
                    .map_err(|e| bad_value(table, service, entries.key(i), e))?;
            }
        }
    }
    Ok(())
}
