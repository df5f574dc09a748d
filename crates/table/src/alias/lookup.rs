//! The key orders of alias and virtual lookups, and `:include:` files.
//!
//! `alias <table>` (aliases_get): the local user, lower-cased; if it has a
//! sub-address tag, first the whole `user+tag`, then `user`.
//!
//! `virtual <table>` (aliases_virtual_get): `user+tag@domain`, `user@domain`,
//! `user+tag`, `user`, `@domain`, `@` — the tagged forms only when there is
//! a tag, and the two catch-alls only when the address has a domain.

use super::node::{parse_alias_list, AliasError, ExpandNode};
use crate::error::TableError;
use crate::service::Service;
use crate::table::Table;
use crate::tablefile::strip_comment;
use std::path::{Path, PathBuf};

/// What an alias or virtual lookup found, and under which key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliasMatch {
    pub key: String,
    pub nodes: Vec<ExpandNode>,
}

/// The keys tried for a local user, in order.
pub fn alias_keys(user: &str, delim: char) -> Vec<String> {
    let user = user.to_ascii_lowercase();
    let mut keys = Vec::with_capacity(2);
    if let Some(at) = user.find(delim) {
        keys.push(user.clone());
        keys.push(user[..at].to_string());
    } else {
        keys.push(user);
    }
    keys.retain(|k| !k.is_empty());
    keys
}

/// The keys tried for a virtual recipient `user@domain`, in order.
pub fn virtual_keys(user: &str, domain: &str, delim: char) -> Vec<String> {
    let user = user.to_ascii_lowercase();
    let domain = domain.to_ascii_lowercase();
    let (base, tag) = match user.find(delim) {
        Some(at) => (&user[..at], &user[at + delim.len_utf8()..]),
        None => (user.as_str(), ""),
    };
    let mut keys = Vec::with_capacity(6);
    if !tag.is_empty() {
        keys.push(format!("{base}{delim}{tag}@{domain}"));
    }
    keys.push(format!("{base}@{domain}"));
    if !tag.is_empty() {
        keys.push(format!("{base}{delim}{tag}"));
    }
    keys.push(base.to_string());
    if !domain.is_empty() {
        keys.push(format!("@{domain}"));
        keys.push("@".to_string());
    }
    keys.retain(|k| !k.is_empty());
    keys
}

/// Look a local user up in an `alias` table.
pub fn lookup_alias(
    table: &dyn Table,
    user: &str,
    delim: char,
) -> Result<Option<AliasMatch>, TableError> {
    first_match(table, alias_keys(user, delim))
}

/// Look a recipient up in a `virtual` table.
pub fn lookup_virtual(
    table: &dyn Table,
    user: &str,
    domain: &str,
    delim: char,
) -> Result<Option<AliasMatch>, TableError> {
    first_match(table, virtual_keys(user, domain, delim))
}

fn first_match(table: &dyn Table, keys: Vec<String>) -> Result<Option<AliasMatch>, TableError> {
    for key in keys {
        if let Some(value) = table.lookup(Service::Alias, &key)? {
            let nodes = value.into_alias().ok_or_else(|| TableError::Backend {
                table: table.name().to_string(),
                reason: format!("alias lookup of \"{key}\" returned a non-alias value"),
            })?;
            return Ok(Some(AliasMatch { key, nodes }));
        }
    }
    Ok(None)
}

/// Why an `:include:` file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IncludeError {
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
        error: AliasError,
    },
    #[error("{}:{line}: not valid UTF-8", path.display())]
    NotUtf8 { path: PathBuf, line: usize },
}

/// Read an `:include:` file: each line is an alias list, `#` starts a
/// comment, blank lines are skipped, and nested `:include:` items are
/// dropped, as OpenSMTPD does (it reads includes with `do_includes = 0`).
pub fn read_include(path: &Path) -> Result<Vec<ExpandNode>, IncludeError> {
    let bytes = std::fs::read(path).map_err(|source| IncludeError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut nodes = Vec::new();
    for (idx, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = idx + 1;
        let text = std::str::from_utf8(raw).map_err(|_| IncludeError::NotUtf8 {
            path: path.to_path_buf(),
            line,
        })?;
        let text = strip_comment(text).trim();
        if text.is_empty() {
            continue;
        }
        let parsed = parse_alias_list(text).map_err(|error| IncludeError::Syntax {
            path: path.to_path_buf(),
            line,
            error,
        })?;
        nodes.extend(
            parsed
                .into_iter()
                .filter(|n| !matches!(n, ExpandNode::Include(_))),
        );
    }
    Ok(nodes)
}

/// Replace every `:include:` node by the contents of its file.
pub fn resolve_includes(nodes: Vec<ExpandNode>) -> Result<Vec<ExpandNode>, IncludeError> {
    let mut out = Vec::with_capacity(nodes.len());
    for node in nodes {
        match node {
            ExpandNode::Include(path) => out.extend(read_include(&path)?),
            other => out.push(other),
        }
    }
    Ok(out)
}
