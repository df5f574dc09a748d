//! makemap(8): build a `db` table from a table(5) text file, or dump one.
//!
//! The binary is a thin command-line face over these functions, which
//! `newaliases` (smtpctl) can call too. As OpenSMTPD's makemap:
//! - without `-t`, every line must be `key value`;
//! - `-t aliases` also checks every value as an aliases(5) list;
//! - `-t set` stores keys only (the whole line is the key);
//! - keys are lower-cased and a repeated key is an error;
//! - the output (default `FILE.db`) is written to a temporary file and
//!   renamed into place, carrying the source file's mode over.

use crate::alias::{parse_alias_list, AliasError};
use crate::dbfile::{write_db, DbFile, DbOpenError};
use crate::key::{normalize_key, KeyTooLong};
use crate::table::TableKind;
use crate::tablefile::{parse_table_bytes, LineErrorKind, ParseMode, Record};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// What kind of map to build (`-t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapType {
    /// `key value` lines.
    Plain,
    /// `key: alias, list` lines, values checked as alias lists.
    Aliases,
    /// One key per line, no values.
    Set,
}

/// Why makemap failed. Line errors print as `FILE:LINE: message`.
#[derive(Debug, thiserror::Error)]
pub enum MakemapError {
    #[error("{name}: {source}")]
    Io {
        name: String,
        #[source]
        source: io::Error,
    },
    #[error("{name}:{line}: {error}")]
    Syntax {
        name: String,
        line: usize,
        error: LineErrorKind,
    },
    #[error("{name}:{line}: {error}")]
    KeyTooLong {
        name: String,
        line: usize,
        error: KeyTooLong,
    },
    #[error("{name}:{line}: duplicate entry for \"{key}\" (first on line {first})")]
    Duplicate {
        name: String,
        line: usize,
        key: String,
        first: usize,
    },
    #[error("{name}:{line}: invalid alias entry for \"{key}\": {error}")]
    BadAlias {
        name: String,
        line: usize,
        key: String,
        error: AliasError,
    },
    #[error("reading from standard input needs -o to name the output")]
    StdinNeedsOutput,
    #[error("{name}: not a usable table database: {reason}")]
    BadDb { name: String, reason: String },
}

/// What a build produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildReport {
    pub output: PathBuf,
    pub entries: usize,
}

/// `FILE.db`, makemap's default output name.
pub fn default_output(source: &Path) -> PathBuf {
    let mut name = source.as_os_str().to_owned();
    name.push(".db");
    PathBuf::from(name)
}

/// Build a database from `source` (`-` for standard input).
pub fn build(
    source: &Path,
    output: Option<&Path>,
    map_type: MapType,
) -> Result<BuildReport, MakemapError> {
    let name = source.display().to_string();
    let io_err = |source| MakemapError::Io {
        name: name.clone(),
        source,
    };
    let (bytes, like, output) = if source == Path::new("-") {
        let output = output.ok_or(MakemapError::StdinNeedsOutput)?;
        let mut bytes = Vec::new();
        io::stdin().read_to_end(&mut bytes).map_err(io_err)?;
        (bytes, None, output.to_path_buf())
    } else {
        let meta = std::fs::metadata(source).map_err(io_err)?;
        let bytes = std::fs::read(source).map_err(io_err)?;
        let output = output.map_or_else(|| default_output(source), Path::to_path_buf);
        (bytes, Some(meta), output)
    };
    let (kind, records) = parse_source(&name, &bytes, map_type)?;
    write_db(&output, kind, &records, like.as_ref()).map_err(|source| MakemapError::Io {
        name: output.display().to_string(),
        source,
    })?;
    Ok(BuildReport {
        output,
        entries: records.len(),
    })
}

/// Parse and check the source text into database records.
pub fn parse_source(
    name: &str,
    bytes: &[u8],
    map_type: MapType,
) -> Result<(TableKind, Vec<Record>), MakemapError> {
    let mode = match map_type {
        MapType::Set => ParseMode::List,
        MapType::Plain | MapType::Aliases => ParseMode::Mapping,
    };
    let parsed = parse_table_bytes(bytes, mode).map_err(|e| MakemapError::Syntax {
        name: name.to_string(),
        line: e.line,
        error: e.kind,
    })?;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut records = Vec::with_capacity(parsed.entries.len());
    for entry in parsed.entries {
        let line = entry.line;
        let key = normalize_key(&entry.key).map_err(|error| MakemapError::KeyTooLong {
            name: name.to_string(),
            line,
            error,
        })?;
        if let Some(&first) = seen.get(&key) {
            return Err(MakemapError::Duplicate {
                name: name.to_string(),
                line,
                key,
                first,
            });
        }
        if let (MapType::Aliases, Some(value)) = (map_type, &entry.value) {
            parse_alias_list(value).map_err(|error| MakemapError::BadAlias {
                name: name.to_string(),
                line,
                key: key.clone(),
                error,
            })?;
        }
        seen.insert(key.clone(), line);
        records.push((key, entry.value));
    }
    Ok((parsed.kind, records))
}

/// `makemap -U`: print a database as text, `key<TAB>value` per line (just
/// `key` for a set), in the order it was built.
pub fn dump(db: &Path, out: &mut dyn Write) -> Result<usize, MakemapError> {
    let name = db.display().to_string();
    let file = DbFile::open(db).map_err(|e| match e {
        DbOpenError::Io(source) => MakemapError::Io {
            name: name.clone(),
            source,
        },
        DbOpenError::Bad(reason) => MakemapError::BadDb {
            name: name.clone(),
            reason,
        },
    })?;
    let records = file.records().map_err(|source| MakemapError::Io {
        name: name.clone(),
        source,
    })?;
    let write_err = |source| MakemapError::Io {
        name: "standard output".to_string(),
        source,
    };
    for (key, value) in &records {
        out.write_all(key).map_err(write_err)?;
        if file.kind != TableKind::List {
            out.write_all(b"\t").map_err(write_err)?;
            out.write_all(value).map_err(write_err)?;
        }
        out.write_all(b"\n").map_err(write_err)?;
    }
    out.flush().map_err(write_err)?;
    Ok(records.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, t: MapType) -> Result<(TableKind, Vec<Record>), MakemapError> {
        parse_source("src", text.as_bytes(), t)
    }

    #[test]
    fn plain_needs_values() {
        let err = parse("a 1\nb\n", MapType::Plain).unwrap_err();
        assert_eq!(
            err.to_string(),
            "src:2: \"b\" has no value (every line of a mapping needs `key value`)"
        );
    }

    #[test]
    fn duplicates_and_case() {
        let err = parse("Joe a\n\njoe b\n", MapType::Plain).unwrap_err();
        assert_eq!(
            err.to_string(),
            "src:3: duplicate entry for \"joe\" (first on line 1)"
        );
        let err = parse("a\nA\n", MapType::Set).unwrap_err();
        assert!(matches!(err, MakemapError::Duplicate { line: 2, .. }));
    }

    #[test]
    fn aliases_are_checked() {
        let (kind, recs) = parse(
            "root: joe, /var/log/x\n# c\nJoe: \"|prog\"\n",
            MapType::Aliases,
        )
        .unwrap();
        assert_eq!(kind, TableKind::Mapping);
        assert_eq!(recs[1], ("joe".to_string(), Some("\"|prog\"".to_string())));
        let err = parse("root: joe\nbad: error:600 x\n", MapType::Aliases).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("src:2: invalid alias entry for \"bad\""));
    }

    #[test]
    fn sets_keep_whole_lines() {
        let (kind, recs) =
            parse("example.org\n# x\n*.example.net  # wild\n", MapType::Set).unwrap();
        assert_eq!(kind, TableKind::List);
        assert_eq!(
            recs,
            vec![("example.org".into(), None), ("*.example.net".into(), None)]
        );
    }

    #[test]
    fn default_name() {
        assert_eq!(
            default_output(Path::new("/etc/mail/aliases")),
            PathBuf::from("/etc/mail/aliases.db")
        );
    }
}
