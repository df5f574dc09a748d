//! The `Table` trait: what every backend offers the lookup process.

use crate::error::TableError;
use crate::service::{Service, ServiceSet};
use crate::value::Value;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The shape of a table's contents (OpenSMTPD's `T_LIST`/`T_HASH`/`T_DYNAMIC`).
/// The configuration checks use it: an `alias` table must not be a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TableKind {
    /// Values only (`{ a, b }`, one value per line).
    List,
    /// Keys with values (`{ k = v }`, `key value` lines).
    Mapping,
    /// Answered by a program or the system (getpwnam): any key may exist.
    Dynamic,
}

/// A table as the lookup process uses it.
///
/// Keys are normalised by the table (ASCII lower-case, shorter than
/// [`crate::MAX_KEY_LEN`]); callers pass them as received. Every method
/// takes `&self` so that a table can be shared; reloads and the `fetch`
/// cursor use interior mutability. Errors mean "could not answer" and must
/// be treated as temporary failures; "no such key" is `Ok(None)`/`Ok(false)`.
pub trait Table: Send + Sync + fmt::Debug {
    /// The table's name in the configuration.
    fn name(&self) -> &str;

    /// The backend name (`static`, `db`, `getpwnam`, …).
    fn backend(&self) -> &'static str;

    /// The services this table can answer.
    fn services(&self) -> ServiceSet;

    /// Whether the table is a list, a mapping or dynamic (may change on
    /// `update` for file tables).
    fn kind(&self) -> TableKind;

    /// Find the entry whose key matches `key` under `service`'s rules and
    /// return its value, parsed for `service`.
    fn lookup(&self, service: Service, key: &str) -> Result<Option<Value>, TableError>;

    /// Whether some entry matches `key` under `service`'s rules.
    fn check(&self, service: Service, key: &str) -> Result<bool, TableError>;

    /// The next entry, rotating through the table (`source`, `relayhost`).
    fn fetch(&self, service: Service) -> Result<Option<Value>, TableError>;

    /// Reload the contents from disk (`smtpctl update table`). On failure
    /// the table keeps serving its previous contents.
    fn update(&self) -> Result<(), TableError>;

    /// Check that every entry is usable for `service` (for `smtpd -n`):
    /// values parse, regular expressions compile, the shape fits.
    fn validate(&self, service: Service) -> Result<(), TableError> {
        let _ = service;
        Ok(())
    }
}
