//! Errors of table opening and lookups.
//!
//! Every message names the table (or file and line) it is about, so the
//! daemon can log it and `smtpd -n` can print it as is.

use crate::key::KeyTooLong;
use crate::service::Service;
use crate::tablefile::LineErrorKind;
use crate::value::ValueError;
use std::path::PathBuf;

/// A failure of a table operation. Lookups that fail this way must be
/// treated as temporary failures by the caller (OpenSMTPD answers 451).
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("unsupported table backend \"{0}\"")]
    UnsupportedBackend(String),

    #[error("table {table}: {reason}")]
    BadSpec { table: String, reason: String },

    #[error("table {table}: backend {backend} cannot serve {service} lookups")]
    UnsupportedService {
        table: String,
        backend: &'static str,
        service: Service,
    },

    #[error("table {table}: {operation} is not possible for the {service} service")]
    UnsupportedOperation {
        table: String,
        operation: &'static str,
        service: Service,
    },

    #[error("table {table} is a list: it has no values to look up for {service}")]
    NotAMapping { table: String, service: Service },

    #[error("table {table}: {error}")]
    KeyTooLong { table: String, error: KeyTooLong },

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{}:{line}: {error}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        error: LineErrorKind,
    },

    #[error("{}:{line}: {error}", path.display())]
    FileKeyTooLong {
        path: PathBuf,
        line: usize,
        error: KeyTooLong,
    },

    #[error("table {table}: inline entry {index}: {error}")]
    InlineKeyTooLong {
        table: String,
        index: usize,
        error: KeyTooLong,
    },

    #[error("table {table}: key \"{key}\": invalid {service} value: {error}")]
    BadValue {
        table: String,
        service: Service,
        key: String,
        error: ValueError,
    },

    #[error("table {table}: invalid regular expression \"{pattern}\": {reason}")]
    BadRegex {
        table: String,
        pattern: String,
        reason: String,
    },

    #[error("{}: not a usable table database: {reason}", path.display())]
    BadDb { path: PathBuf, reason: String },

    #[error("table {table}: user database lookup failed: {source}")]
    System {
        table: String,
        #[source]
        source: nix::Error,
    },

    #[error("table {table}: {reason}")]
    Backend { table: String, reason: String },
}
