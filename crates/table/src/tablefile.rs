//! The text format of table files (table(5)), shared by the static backend
//! and makemap so that a file means the same thing in both.
//!
//! - one entry per line; leading and trailing white space is ignored, and so
//!   are blank lines;
//! - `#` starts a comment at the beginning of a line or after white space
//!   (a `#` inside a word, as in a password, is kept);
//! - a list has one value per line, the whole line being the value;
//! - a mapping line is `key[:]<ws>value` (aliases(5) style `key: value` is
//!   the same thing); `[addr]` keys end at the bracket, and keys that are IP
//!   addresses (`::1`, `ipv6:::1`, `fe80::/10`) are not cut at their colons;
//! - in automatic mode the first entry decides: no value makes a list, a
//!   value a mapping; a `# @list` comment before the first entry forces a
//!   list; an empty file is an (empty) mapping;
//! - an indented line following a mapping entry whose value ends with a
//!   comma continues that value, as long alias lists are written in
//!   aliases(5) files.

use crate::netaddr::Netaddr;
use crate::table::TableKind;

/// How to decide between a list and a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseMode {
    /// As the static backend: from `# @list` or the first entry.
    Auto,
    /// Every line must be `key value` (makemap without `-t set`).
    Mapping,
    /// Every line is a key (makemap `-t set`).
    List,
}

/// One entry as written in the file (key not yet lower-cased).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawEntry {
    /// 1-based line number where the entry starts.
    pub line: usize,
    pub key: String,
    /// `None` in a list.
    pub value: Option<String>,
}

/// A normalised key and its value (`None` in a list), as stored.
pub type Record = (String, Option<String>);

/// A parsed table file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedTable {
    pub kind: TableKind,
    pub entries: Vec<RawEntry>,
}

/// What is wrong with one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineErrorKind {
    #[error("line is not valid UTF-8")]
    NotUtf8,
    #[error("line contains a NUL byte")]
    NulByte,
    #[error("\"{key}\" has no value (every line of a mapping needs `key value`)")]
    MissingValue { key: String },
    #[error("empty key")]
    EmptyKey,
    #[error("\"[\" without a closing \"]\"")]
    UnterminatedBracket,
}

/// A line-level error, with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct LineError {
    pub line: usize,
    pub kind: LineErrorKind,
}

/// Parse table text given as bytes (files need not be UTF-8 until a line is
/// used, so the error can name the line).
pub fn parse_table_bytes(bytes: &[u8], mode: ParseMode) -> Result<ParsedTable, LineError> {
    let mut parser = Parser::new(mode);
    for (idx, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = idx + 1;
        let err = |kind| LineError { line, kind };
        if raw.contains(&0) {
            return Err(err(LineErrorKind::NulByte));
        }
        let text = std::str::from_utf8(raw).map_err(|_| err(LineErrorKind::NotUtf8))?;
        parser.line(line, text).map_err(err)?;
    }
    Ok(parser.finish())
}

/// Parse table text.
pub fn parse_table_text(text: &str, mode: ParseMode) -> Result<ParsedTable, LineError> {
    parse_table_bytes(text.as_bytes(), mode)
}

struct Parser {
    mode: ParseMode,
    kind: Option<TableKind>,
    entries: Vec<RawEntry>,
}

impl Parser {
    fn new(mode: ParseMode) -> Self {
        let kind = match mode {
            ParseMode::Auto => None,
            ParseMode::Mapping => Some(TableKind::Mapping),
            ParseMode::List => Some(TableKind::List),
        };
        Parser {
            mode,
            kind,
            entries: Vec::new(),
        }
    }

    fn line(&mut self, line: usize, raw: &str) -> Result<(), LineErrorKind> {
        let trimmed = raw.trim();
        if let Some(comment) = trimmed.strip_prefix('#') {
            if self.mode == ParseMode::Auto && self.kind.is_none() && comment.trim() == "@list" {
                self.kind = Some(TableKind::List);
            }
            return Ok(());
        }
        let text = strip_comment(trimmed).trim_end();
        if text.is_empty() {
            return Ok(());
        }
        let indented = raw.starts_with([' ', '\t']);
        if indented && self.kind == Some(TableKind::Mapping) {
            if let Some(value) = self.entries.last_mut().and_then(|e| e.value.as_mut()) {
                if value.ends_with(',') {
                    value.push(' ');
                    value.push_str(text);
                    return Ok(());
                }
            }
        }
        if self.kind == Some(TableKind::List) {
            self.entries.push(RawEntry {
                line,
                key: text.to_string(),
                value: None,
            });
            return Ok(());
        }
        let (key, value) = split_entry(text)?;
        // Only a line that is one bare word starts a list; `key:` with
        // nothing after it is a mapping entry that lacks its value.
        let bare_word = value.is_none() && key.len() == text.len();
        let kind = *self.kind.get_or_insert(if bare_word {
            TableKind::List
        } else {
            TableKind::Mapping
        });
        let value = match (kind, value) {
            (TableKind::Mapping, Some(v)) => Some(v.to_string()),
            (TableKind::Mapping, None) => {
                return Err(LineErrorKind::MissingValue {
                    key: key.to_string(),
                })
            }
            (_, _) => None,
        };
        self.entries.push(RawEntry {
            line,
            key: key.to_string(),
            value,
        });
        Ok(())
    }

    fn finish(self) -> ParsedTable {
        ParsedTable {
            kind: self.kind.unwrap_or(TableKind::Mapping),
            entries: self.entries,
        }
    }
}

/// Cut a trailing `# comment` (a `#` at the start or after white space).
pub(crate) fn strip_comment(line: &str) -> &str {
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        if c == '#' && prev_space {
            return &line[..i];
        }
        prev_space = c.is_ascii_whitespace();
    }
    line
}

/// Split a trimmed, comment-free line into key and optional value.
fn split_entry(s: &str) -> Result<(&str, Option<&str>), LineErrorKind> {
    let (key, rest) = if s.starts_with('[') {
        let end = s.find(']').ok_or(LineErrorKind::UnterminatedBracket)?;
        s.split_at(end + 1)
    } else {
        let token_end = s.find([' ', '\t']).unwrap_or(s.len());
        let token = &s[..token_end];
        if token.contains(':') && Netaddr::parse(token).is_ok() {
            s.split_at(token_end)
        } else {
            s.split_at(s.find([' ', '\t', ':']).unwrap_or(s.len()))
        }
    };
    if key.is_empty() {
        return Err(LineErrorKind::EmptyKey);
    }
    let (had_colon, rest) = match rest.strip_prefix(':') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let mut value = rest.trim_start();
    if !had_colon {
        // `key : value`
        if let Some(after) = value.strip_prefix(':') {
            if after.is_empty() || after.starts_with([' ', '\t']) {
                value = after.trim_start();
            }
        }
    }
    Ok((key, (!value.is_empty()).then_some(value)))
}

#[cfg(test)]
mod tests;
