//! smtpd.conf: the configuration language of the mail server.
//!
//! Reads both grammars OpenSMTPD has had — today's (6.4 → 7.8: `table`,
//! `pki`, `listen on`, `action`, `match`, `filter` …) and the older one of
//! 5.3 → 6.0 (`accept`/`reject … deliver to …`, `relay via …`, `expire` …),
//! mixed freely in one file — and lowers both into one typed [`Config`].
//!
//! # API
//!
//! - [`parse_file`] / [`parse_str`] / [`parse_bytes`]: lexing, parsing,
//!   lowering and the syntax-level semantic checks (undefined and duplicate
//!   names, table uses, listener option rules, sizes, delays, addresses).
//!   They return the [`Config`] and every [`Diag`]nostic.
//! - [`check_syntax`]: what `smtpd -n --syntax-only` runs (the same, as a
//!   list of diagnostics); only `include`d files are read.
//! - [`full_check`]: what `smtpd -n` adds: tables opened through the
//!   daemon's [`CheckEnv`], certificates and keys loaded, interfaces and
//!   host names resolved.
//! - [`print`]: the configuration in today's grammar (also the converter
//!   from the old grammar).
//! - [`iface::resolve_listener`]: the socket addresses a listener binds.
//!
//! # Wiring `smtpd -n`
//!
//! `--syntax-only`: print [`check_syntax`]'s diagnostics (`Diag` displays as
//! `FILE:LINE:COL: message`). Full check: [`parse_file`], and when it has
//! no diagnostics, [`full_check`] on its config. `--print`: [`print`] of a
//! parse without diagnostics. `-D name=value` goes in
//! [`ParseOptions::macros`].
//!
//! # Invariants
//!
//! - Parsing never panics, whatever the input bytes.
//! - Every error carries a position: file (the `include`d file it is in),
//!   line and column.
//! - Rules keep file order; the first matching rule wins.
//! - Every reference is by name and resolves: a table, action, filter, pki
//!   or ca used in a successfully parsed statement was defined before it
//!   (or is a builtin table).
//! - For a configuration in today's grammar, `parse(print(c))` equals `c`
//!   (spans aside); `print` is idempotent for any input.

pub mod check;
mod diag;
pub mod iface;
mod lexer;
pub mod model;
mod parser;
mod print;
pub mod tls_lists;
mod units;

use std::path::Path;

pub use check::{full_check, CheckEnv};
pub use diag::Diag;
pub use model::*;
pub use print::print;

/// Options of a parse.
#[derive(Clone, Debug, Default)]
pub struct ParseOptions {
    /// Macros from `smtpd -D name=value`; a file's own definition of the
    /// same name does not override them.
    pub macros: Vec<(String, String)>,
}

/// What a parse yields: the configuration (built from every statement that
/// parsed) and the diagnostics, in input order. The configuration is only
/// meaningful when `diags` is empty.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub config: Config,
    pub diags: Vec<Diag>,
}

impl Parsed {
    pub fn is_ok(&self) -> bool {
        self.diags.is_empty()
    }
}

/// Parse the file at `path` (and the files it includes).
pub fn parse_file(path: &Path, opts: &ParseOptions) -> Parsed {
    let name = path.to_string_lossy();
    match std::fs::read(path) {
        Ok(data) => parser::parse(&name, data, opts),
        Err(e) => Parsed {
            config: Config::default(),
            diags: vec![Diag {
                file: name.into_owned(),
                line: 0,
                col: 0,
                message: format!("cannot read configuration: {e}"),
            }],
        },
    }
}

/// Parse `text` as the contents of a file called `name` (relative
/// `include`s are resolved against `name`'s directory).
pub fn parse_str(name: &str, text: &str, opts: &ParseOptions) -> Parsed {
    parse_bytes(name, text.as_bytes(), opts)
}

/// Parse arbitrary bytes (configuration files need not be UTF-8).
pub fn parse_bytes(name: &str, data: &[u8], opts: &ParseOptions) -> Parsed {
    parser::parse(name, data.to_vec(), opts)
}

/// The syntax-only check of `smtpd -n --syntax-only`: grammar and
/// semantics, without opening tables or certificates or resolving
/// interfaces (included files are read).
pub fn check_syntax(path: &Path, opts: &ParseOptions) -> Vec<Diag> {
    parse_file(path, opts).diags
}
