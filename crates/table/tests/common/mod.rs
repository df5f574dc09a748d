//! Shared by the integration tests: table contents described once, and the
//! three ways of opening them (inline, file, makemap-built db).

#![allow(dead_code)] // each test binary uses part of this module

pub mod fixtures;

use smtpd_table::makemap::{self, MapType};
use smtpd_table::tablefile::{parse_table_text, ParseMode};
use smtpd_table::{open, Table, TableKind, TableSpec};
use std::path::Path;
use tempfile::TempDir;

/// Table contents, independent of the backend that will hold them.
#[derive(Clone, Copy, Debug)]
pub enum Contents {
    List(&'static [&'static str]),
    Map(&'static [(&'static str, &'static str)]),
    /// A mapping written aliases(5)-style (`key: value`), built with
    /// `makemap -t aliases`.
    Aliases(&'static [(&'static str, &'static str)]),
}

impl Contents {
    pub fn kind(self) -> TableKind {
        match self {
            Contents::List(_) => TableKind::List,
            _ => TableKind::Mapping,
        }
    }

    /// The contents as a table(5) file.
    pub fn render(self) -> String {
        match self {
            Contents::List(items) => {
                let mut text = String::new();
                let natural = items.first().is_none_or(|first| {
                    parse_table_text(first, ParseMode::Auto).map(|t| t.kind) == Ok(TableKind::List)
                });
                if !natural {
                    text.push_str("# @list\n");
                }
                for item in items {
                    text.push_str(item);
                    text.push('\n');
                }
                text
            }
            Contents::Map(pairs) => pairs.iter().map(|(k, v)| format!("{k}\t{v}\n")).collect(),
            Contents::Aliases(pairs) => pairs
                .iter()
                .map(|(k, v)| format!("# {k}\n{k}: {v}\n"))
                .collect(),
        }
    }

    fn map_type(self) -> MapType {
        match self {
            Contents::List(_) => MapType::Set,
            Contents::Map(_) => MapType::Plain,
            Contents::Aliases(_) => MapType::Aliases,
        }
    }
}

/// An opened table and the temporary directory its files live in.
pub struct Opened {
    pub table: Box<dyn Table>,
    pub dir: Option<TempDir>,
}

impl std::ops::Deref for Opened {
    type Target = dyn Table;
    fn deref(&self) -> &(dyn Table + 'static) {
        self.table.as_ref()
    }
}

/// How a backend is set up for a test.
pub type Factory = fn(&str, Contents, char) -> Opened;

pub fn open_inline(name: &str, contents: Contents, delim: char) -> Opened {
    let spec = match contents {
        Contents::List(items) => {
            TableSpec::inline_list(name, items.iter().map(|s| s.to_string()).collect())
        }
        Contents::Map(pairs) | Contents::Aliases(pairs) => TableSpec::inline_map(
            name,
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
    };
    Opened {
        table: open(&spec.with_subaddr_delim(delim)).expect("open inline table"),
        dir: None,
    }
}

pub fn write_source(dir: &Path, name: &str, contents: Contents) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents.render()).expect("write table file");
    path
}

pub fn open_file(name: &str, contents: Contents, delim: char) -> Opened {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_source(dir.path(), name, contents);
    let spec = TableSpec::from_location(name, &format!("file:{}", path.display()));
    Opened {
        table: open(&spec.with_subaddr_delim(delim)).expect("open file table"),
        dir: Some(dir),
    }
}

pub fn open_db(name: &str, contents: Contents, delim: char) -> Opened {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = write_source(dir.path(), name, contents);
    let report = makemap::build(&source, None, contents.map_type()).expect("makemap");
    let spec = TableSpec::from_location(name, &format!("db:{}", report.output.display()));
    Opened {
        table: open(&spec.with_subaddr_delim(delim)).expect("open db table"),
        dir: Some(dir),
    }
}
