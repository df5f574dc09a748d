//! How the daemon describes a table to open, and the registry that maps a
//! backend name to the code that opens it.
//!
//! The configuration crate does not depend on this one: the daemon builds a
//! [`TableSpec`] from each `table` statement (or inline `{ … }`) and calls
//! [`open`]. [`Registry::services_of`] lets the configuration checks know
//! which services a backend serves without opening anything.

use crate::backend::{db::DbTable, getpwnam::GetpwnamTable, static_table::StaticTable};
use crate::error::TableError;
use crate::service::{Service, ServiceSet};
use crate::table::Table;
use std::path::PathBuf;

/// Inline contents: `{ a, b }` or `{ k = v, k2 => v2 }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InlineData {
    List(Vec<String>),
    Map(Vec<(String, String)>),
}

/// Everything needed to open one table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSpec {
    /// The name in the configuration (`<aliases>`), or a generated one for
    /// anonymous inline tables.
    pub name: String,
    /// `static`, `file` (same as `static`), `db`, `getpwnam`, or another
    /// name a registered backend answers to.
    pub backend: String,
    /// The file of `file:`/`db:`/bare-path tables.
    pub path: Option<PathBuf>,
    /// The contents of inline tables.
    pub inline: Option<InlineData>,
    /// The sub-address delimiter (`smtp sub-addr-delim`, `+` by default);
    /// `mailaddr` matching strips tags at it.
    pub subaddr_delim: char,
    /// For tables answered by a program: the uid and gid it runs as when
    /// the opening process is root (`None`: as the opener).
    pub run_as: Option<(u32, u32)>,
}

impl TableSpec {
    fn new(name: &str, backend: &str) -> TableSpec {
        TableSpec {
            name: name.to_string(),
            backend: backend.to_string(),
            path: None,
            inline: None,
            subaddr_delim: '+',
            run_as: None,
        }
    }

    /// An inline list, `table NAME { a, b }`.
    pub fn inline_list(name: &str, items: Vec<String>) -> TableSpec {
        TableSpec {
            inline: Some(InlineData::List(items)),
            ..TableSpec::new(name, "static")
        }
    }

    /// An inline mapping, `table NAME { k = v }`.
    pub fn inline_map(name: &str, pairs: Vec<(String, String)>) -> TableSpec {
        TableSpec {
            inline: Some(InlineData::Map(pairs)),
            ..TableSpec::new(name, "static")
        }
    }

    /// A static table read from a file, `table NAME file:/path`.
    pub fn file(name: &str, path: impl Into<PathBuf>) -> TableSpec {
        TableSpec {
            path: Some(path.into()),
            ..TableSpec::new(name, "static")
        }
    }

    /// A makemap database, `table NAME db:/path.db`.
    pub fn db(name: &str, path: impl Into<PathBuf>) -> TableSpec {
        TableSpec {
            path: Some(path.into()),
            ..TableSpec::new(name, "db")
        }
    }

    /// The system user database, `<getpwnam>`.
    pub fn getpwnam(name: &str) -> TableSpec {
        TableSpec::new(name, "getpwnam")
    }

    /// The location form of `table NAME [type:]/path`: a bare path or
    /// `file:` is a static file table, `db:` a database, any other `TYPE:`
    /// names that backend with the rest as its path.
    pub fn from_location(name: &str, location: &str) -> TableSpec {
        if location.starts_with('/') {
            return TableSpec::file(name, location);
        }
        match location.split_once(':') {
            Some((backend, rest)) => TableSpec {
                path: (!rest.is_empty()).then(|| PathBuf::from(rest)),
                ..TableSpec::new(name, backend)
            },
            None => TableSpec {
                path: Some(PathBuf::from(location)),
                ..TableSpec::new(name, "static")
            },
        }
    }

    /// The same spec with another sub-address delimiter.
    pub fn with_subaddr_delim(mut self, delim: char) -> TableSpec {
        self.subaddr_delim = delim;
        self
    }

    pub(crate) fn bad(&self, reason: &str) -> TableError {
        TableError::BadSpec {
            table: self.name.clone(),
            reason: reason.to_string(),
        }
    }
}

/// A function that opens a table for a spec.
pub type OpenFn = fn(&TableSpec) -> Result<Box<dyn Table>, TableError>;

struct BackendEntry {
    name: String,
    services: ServiceSet,
    open: OpenFn,
}

/// Backends by name.
pub struct Registry {
    backends: Vec<BackendEntry>,
}

impl Registry {
    /// The built-in backends: `static` (also `file`), `db`, `getpwnam`.
    pub fn builtin() -> Registry {
        let mut r = Registry {
            backends: Vec::new(),
        };
        r.register("static", ServiceSet::ALL, open_static);
        r.register("file", ServiceSet::ALL, open_static);
        r.register("db", ServiceSet::ALL, open_db);
        r.register(
            "getpwnam",
            ServiceSet::of(&[Service::Userinfo]),
            open_getpwnam,
        );
        r
    }

    /// Add (or replace) a backend.
    pub fn register(&mut self, name: &str, services: ServiceSet, open: OpenFn) {
        self.backends.retain(|b| b.name != name);
        self.backends.push(BackendEntry {
            name: name.to_string(),
            services,
            open,
        });
    }

    /// The services a backend serves, or `None` if no such backend.
    pub fn services_of(&self, backend: &str) -> Option<ServiceSet> {
        self.find(backend).map(|b| b.services)
    }

    /// Open the table a spec describes. A backend this registry does not
    /// know is an external program (`proc:PROGRAM`, or `table-TYPE` from
    /// the libexec directories) speaking the proc-table protocol.
    pub fn open(&self, spec: &TableSpec) -> Result<Box<dyn Table>, TableError> {
        match self.find(&spec.backend) {
            Some(backend) => (backend.open)(spec),
            None => Ok(Box::new(crate::backend::proc_table::ProcTable::open(spec)?)),
        }
    }

    fn find(&self, name: &str) -> Option<&BackendEntry> {
        self.backends.iter().find(|b| b.name == name)
    }
}

/// Open a table with the built-in backends.
pub fn open(spec: &TableSpec) -> Result<Box<dyn Table>, TableError> {
    Registry::builtin().open(spec)
}

fn open_static(spec: &TableSpec) -> Result<Box<dyn Table>, TableError> {
    let table = match (&spec.inline, &spec.path) {
        (Some(data), None) => StaticTable::from_inline(&spec.name, data, spec.subaddr_delim)?,
        (None, Some(path)) => StaticTable::from_file(&spec.name, path, spec.subaddr_delim)?,
        (Some(_), Some(_)) => return Err(spec.bad("both inline contents and a file given")),
        (None, None) => return Err(spec.bad("a static table needs inline contents or a file")),
    };
    Ok(Box::new(table))
}

fn open_db(spec: &TableSpec) -> Result<Box<dyn Table>, TableError> {
    if spec.inline.is_some() {
        return Err(spec.bad("a db table cannot have inline contents"));
    }
    let path = spec
        .path
        .as_ref()
        .ok_or_else(|| spec.bad("a db table needs a file"))?;
    Ok(Box::new(DbTable::open(
        &spec.name,
        path,
        spec.subaddr_delim,
    )?))
}

fn open_getpwnam(spec: &TableSpec) -> Result<Box<dyn Table>, TableError> {
    if spec.inline.is_some() || spec.path.is_some() {
        return Err(spec.bad("the getpwnam backend takes no contents or file"));
    }
    Ok(Box::new(GetpwnamTable::new(&spec.name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let s = TableSpec::from_location("a", "/etc/mail/aliases");
        assert_eq!(
            (s.backend.as_str(), s.path),
            ("static", Some("/etc/mail/aliases".into()))
        );
        let s = TableSpec::from_location("a", "file:/etc/mail/aliases");
        assert_eq!(s.backend, "file");
        let s = TableSpec::from_location("a", "db:/etc/mail/aliases.db");
        assert_eq!(
            (s.backend.as_str(), s.path),
            ("db", Some("/etc/mail/aliases.db".into()))
        );
        let s = TableSpec::from_location("a", "ldap:/etc/mail/ldap.conf");
        assert_eq!(s.backend, "ldap");
    }

    #[test]
    fn registry() {
        let r = Registry::builtin();
        assert_eq!(r.services_of("db"), Some(ServiceSet::ALL));
        assert_eq!(
            r.services_of("getpwnam"),
            Some(ServiceSet::of(&[Service::Userinfo]))
        );
        assert_eq!(r.services_of("ldap"), None);
        // Not built in: a `table-TYPE` program is looked for (none of this
        // name exists anywhere).
        let err = open(&TableSpec::from_location("x", "nosuchtype:/etc/x")).unwrap_err();
        assert_eq!(err.to_string(), "unsupported table backend \"nosuchtype\"");
        let err = open(&TableSpec::new("x", "static")).unwrap_err();
        assert!(err.to_string().contains("needs inline contents or a file"));
        let mut spec = TableSpec::getpwnam("p");
        spec.path = Some("/x".into());
        assert!(open(&spec).is_err());
        assert!(open(&TableSpec::new("d", "db")).is_err());
    }
}
