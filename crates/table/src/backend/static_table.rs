//! The `static` backend: inline contents from the configuration, or a
//! table(5) text file (`file:` and bare paths) that `update` re-reads.

use crate::entries::Entries;
use crate::error::TableError;
use crate::key::normalize_key;
use crate::ops;
use crate::service::{Service, ServiceSet};
use crate::spec::InlineData;
use crate::table::{Table, TableKind};
use crate::tablefile::{parse_table_bytes, ParseMode};
use crate::value::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, RwLock};

const BACKEND: &str = "static";

/// A table whose whole contents are held in memory.
#[derive(Debug)]
pub struct StaticTable {
    name: String,
    file: Option<PathBuf>,
    delim: char,
    entries: RwLock<Arc<Entries>>,
    cursor: AtomicUsize,
}

impl StaticTable {
    /// A table from inline configuration contents.
    pub fn from_inline(name: &str, data: &InlineData, delim: char) -> Result<Self, TableError> {
        let key = |index: usize, k: &str| {
            normalize_key(k).map_err(|error| TableError::InlineKeyTooLong {
                table: name.to_string(),
                index: index + 1,
                error,
            })
        };
        let entries = match data {
            InlineData::List(items) => {
                let pairs = items
                    .iter()
                    .enumerate()
                    .map(|(i, k)| Ok((key(i, k)?, None)))
                    .collect::<Result<Vec<_>, TableError>>()?;
                Entries::new(TableKind::List, delim, pairs)
            }
            InlineData::Map(items) => {
                let pairs = items
                    .iter()
                    .enumerate()
                    .map(|(i, (k, v))| Ok((key(i, k)?, Some(v.clone()))))
                    .collect::<Result<Vec<_>, TableError>>()?;
                Entries::new(TableKind::Mapping, delim, pairs)
            }
        };
        Ok(Self::with_entries(name, None, delim, entries))
    }

    /// A table read from a table(5) file.
    pub fn from_file(name: &str, path: &Path, delim: char) -> Result<Self, TableError> {
        let entries = load_file(path, delim)?;
        Ok(Self::with_entries(
            name,
            Some(path.to_path_buf()),
            delim,
            entries,
        ))
    }

    fn with_entries(name: &str, file: Option<PathBuf>, delim: char, entries: Entries) -> Self {
        StaticTable {
            name: name.to_string(),
            file,
            delim,
            entries: RwLock::new(Arc::new(entries)),
            cursor: AtomicUsize::new(0),
        }
    }

    /// The current contents (a reload swaps them; readers keep their copy).
    fn current(&self) -> Arc<Entries> {
        let guard = self.entries.read().unwrap_or_else(|p| p.into_inner());
        Arc::clone(&guard)
    }

    fn prepare(&self, service: Service, key: &str) -> Result<String, TableError> {
        ops::require_service(&self.name, BACKEND, ServiceSet::ALL, service)?;
        ops::normalize(&self.name, key)
    }
}

/// Read and index a table file.
pub(crate) fn load_file(path: &Path, delim: char) -> Result<Entries, TableError> {
    let bytes = std::fs::read(path).map_err(|source| TableError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let parsed = parse_table_bytes(&bytes, ParseMode::Auto).map_err(|e| TableError::Syntax {
        path: path.to_path_buf(),
        line: e.line,
        error: e.kind,
    })?;
    let pairs = parsed
        .entries
        .into_iter()
        .map(|e| {
            let key = normalize_key(&e.key).map_err(|error| TableError::FileKeyTooLong {
                path: path.to_path_buf(),
                line: e.line,
                error,
            })?;
            Ok((key, e.value))
        })
        .collect::<Result<Vec<_>, TableError>>()?;
    Ok(Entries::new(parsed.kind, delim, pairs))
}

impl Table for StaticTable {
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
        self.current().kind()
    }

    fn lookup(&self, service: Service, key: &str) -> Result<Option<Value>, TableError> {
        let key = self.prepare(service, key)?;
        ops::lookup(&self.name, &self.current(), service, &key)
    }

    fn check(&self, service: Service, key: &str) -> Result<bool, TableError> {
        let key = self.prepare(service, key)?;
        ops::check(&self.name, &self.current(), service, &key)
    }

    fn fetch(&self, service: Service) -> Result<Option<Value>, TableError> {
        ops::require_service(&self.name, BACKEND, ServiceSet::ALL, service)?;
        ops::fetch(&self.name, &self.current(), &self.cursor, service)
    }

    fn update(&self) -> Result<(), TableError> {
        let Some(path) = &self.file else {
            return Ok(()); // inline contents only change with the configuration
        };
        let fresh = load_file(path, self.delim)?;
        let mut guard = self.entries.write().unwrap_or_else(|p| p.into_inner());
        *guard = Arc::new(fresh);
        Ok(())
    }

    fn validate(&self, service: Service) -> Result<(), TableError> {
        ops::require_service(&self.name, BACKEND, ServiceSet::ALL, service)?;
        ops::validate(&self.name, &self.current(), service)
    }
}
