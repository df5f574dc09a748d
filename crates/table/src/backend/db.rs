//! The `db` backend: a database built by makemap.
//!
//! Exact-key services go straight to the CDB hash lookup, so a large alias
//! database is never loaded whole. Pattern services (domain, netaddr,
//! mailaddr, regex, addrname) and `fetch` need every key: the records are
//! read once into the shared in-memory [`Entries`] the first time one of
//! them is asked for.
//!
//! As OpenSMTPD does, every lookup checks whether the file was replaced and
//! reopens it if so. If the new file cannot be opened, the table keeps
//! serving the old one (and logs why once per file version).

use crate::dbfile::{DbFile, DbOpenError, FileStamp};
use crate::entries::Entries;
use crate::error::TableError;
use crate::ops;
use crate::service::{Service, ServiceSet};
use crate::table::{Table, TableKind};
use crate::value::{parse_value, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

const BACKEND: &str = "db";

/// One opened version of the file, with its lazily built index.
#[derive(Debug)]
struct DbState {
    file: DbFile,
    entries: OnceLock<Result<Entries, String>>,
}

/// A makemap database.
#[derive(Debug)]
pub struct DbTable {
    name: String,
    path: PathBuf,
    delim: char,
    state: RwLock<Arc<DbState>>,
    /// The last file version that failed to open, not to retry it each time.
    failed: Mutex<Option<FileStamp>>,
    cursor: AtomicUsize,
}

impl DbTable {
    pub fn open(name: &str, path: &Path, delim: char) -> Result<Self, TableError> {
        let state = open_state(path)?;
        Ok(DbTable {
            name: name.to_string(),
            path: path.to_path_buf(),
            delim,
            state: RwLock::new(Arc::new(state)),
            failed: Mutex::new(None),
            cursor: AtomicUsize::new(0),
        })
    }

    fn current(&self) -> Arc<DbState> {
        let guard = self.state.read().unwrap_or_else(|p| p.into_inner());
        Arc::clone(&guard)
    }

    fn replace(&self, state: DbState) -> Arc<DbState> {
        let fresh = Arc::new(state);
        let mut guard = self.state.write().unwrap_or_else(|p| p.into_inner());
        *guard = Arc::clone(&fresh);
        fresh
    }

    /// The state to answer from, reopening the file if it was replaced.
    fn fresh_state(&self) -> Result<Arc<DbState>, TableError> {
        let current = self.current();
        let stamp = FileStamp::of_path(&self.path).map_err(|source| TableError::Io {
            path: self.path.clone(),
            source,
        })?;
        if stamp == current.file.stamp {
            return Ok(current);
        }
        let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        if *failed == Some(stamp) {
            return Ok(current);
        }
        match open_state(&self.path) {
            Ok(state) => {
                *failed = None;
                Ok(self.replace(state))
            }
            Err(e) => {
                tracing::warn!(table = %self.name, error = %e, "keeping the previous database");
                *failed = Some(stamp);
                Ok(current)
            }
        }
    }

    fn entries<'a>(&self, state: &'a DbState) -> Result<&'a Entries, TableError> {
        state
            .entries
            .get_or_init(|| build_entries(&state.file, self.delim))
            .as_ref()
            .map_err(|reason| TableError::BadDb {
                path: self.path.clone(),
                reason: reason.clone(),
            })
    }

    /// The raw value under an exact, normalised key.
    fn get(&self, state: &DbState, key: &str) -> Result<Option<String>, TableError> {
        if key.contains('\0') {
            return Ok(None); // never a table key; keeps the metadata hidden
        }
        let bad = |reason: String| TableError::BadDb {
            path: self.path.clone(),
            reason,
        };
        match state.file.cdb.get(key.as_bytes()) {
            None => Ok(None),
            Some(Err(e)) => Err(bad(e.to_string())),
            Some(Ok(bytes)) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| bad(format!("value of \"{key}\" is not UTF-8"))),
        }
    }

    fn prepare(&self, service: Service, key: &str) -> Result<String, TableError> {
        ops::require_service(&self.name, BACKEND, ServiceSet::ALL, service)?;
        ops::normalize(&self.name, key)
    }
}

fn open_state(path: &Path) -> Result<DbState, TableError> {
    let file = DbFile::open(path).map_err(|e| match e {
        DbOpenError::Io(source) => TableError::Io {
            path: path.to_path_buf(),
            source,
        },
        DbOpenError::Bad(reason) => TableError::BadDb {
            path: path.to_path_buf(),
            reason,
        },
    })?;
    Ok(DbState {
        file,
        entries: OnceLock::new(),
    })
}

fn build_entries(file: &DbFile, delim: char) -> Result<Entries, String> {
    let records = file.records().map_err(|e| e.to_string())?;
    let mut pairs = Vec::with_capacity(records.len());
    for (k, v) in records {
        let key = String::from_utf8(k).map_err(|_| "a key is not UTF-8".to_string())?;
        let value = match file.kind {
            TableKind::List => None,
            _ => {
                Some(String::from_utf8(v).map_err(|_| format!("value of \"{key}\" is not UTF-8"))?)
            }
        };
        pairs.push((key, value));
    }
    Ok(Entries::new(file.kind, delim, pairs))
}

/// Services answered from the whole key set rather than one hash probe.
fn needs_index(service: Service) -> bool {
    service.matches_by_pattern() || service == Service::Addrname
}

impl Table for DbTable {
    fn name(&self) -> &str {
        &self.name
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn services(&self) -> ServiceSet {
        ServiceSet::ALL
    }

    fn kind(&self) -> TableKind {
        self.current().file.kind
    }

    fn lookup(&self, service: Service, key: &str) -> Result<Option<Value>, TableError> {
        let key = self.prepare(service, key)?;
        let state = self.fresh_state()?;
        if state.file.kind == TableKind::List {
            return Err(TableError::NotAMapping {
                table: self.name.clone(),
                service,
            });
        }
        if needs_index(service) {
            return ops::lookup(&self.name, self.entries(&state)?, service, &key);
        }
        let Some(raw) = self.get(&state, &key)? else {
            return Ok(None);
        };
        parse_value(service, &key, &raw)
            .map(Some)
            .map_err(|error| TableError::BadValue {
                table: self.name.clone(),
                service,
                key,
                error,
            })
    }

    fn check(&self, service: Service, key: &str) -> Result<bool, TableError> {
        let key = self.prepare(service, key)?;
        let state = self.fresh_state()?;
        if needs_index(service) {
            return ops::check(&self.name, self.entries(&state)?, service, &key);
        }
        Ok(self.get(&state, &key)?.is_some())
    }

    fn fetch(&self, service: Service) -> Result<Option<Value>, TableError> {
        ops::require_service(&self.name, BACKEND, ServiceSet::ALL, service)?;
        let state = self.fresh_state()?;
        ops::fetch(&self.name, self.entries(&state)?, &self.cursor, service)
    }

    fn update(&self) -> Result<(), TableError> {
        let state = open_state(&self.path)?;
        self.replace(state);
        *self.failed.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
    }

    fn validate(&self, service: Service) -> Result<(), TableError> {
        ops::require_service(&self.name, BACKEND, ServiceSet::ALL, service)?;
        let state = self.fresh_state()?;
        ops::validate(&self.name, self.entries(&state)?, service)
    }
}
