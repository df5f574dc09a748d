//! Tables: named lookup sources, and the services they are used for.

use serde::{Deserialize, Serialize};

use super::Span;

/// Tables every configuration has without declaring them. A reference to one
/// of these names resolves to the builtin unless a `table` of the same name
/// is declared (a declaration shadows the builtin).
///
/// - `localhost`: the local addresses and `local` (what `from local` means)
/// - `anyhost`: `0.0.0.0/0`, `::/0` and `local` (what `from any` means)
/// - `localnames`: `localhost`, the server name and the local addresses (`for local`)
/// - `anydestination`: `*` and the short host name (`for any`)
/// - `getpwnam`: the system user database (the default `userbase`)
pub const BUILTIN_TABLES: [&str; 5] = [
    "localhost",
    "anyhost",
    "localnames",
    "anydestination",
    "getpwnam",
];

/// Is `name` one of [`BUILTIN_TABLES`]?
pub fn is_builtin_table(name: &str) -> bool {
    BUILTIN_TABLES.contains(&name)
}

/// Prefix of every generated (anonymous) table and filter-chain name. Users
/// cannot declare names starting with it, so generated names never clash.
pub const GENERATED_PREFIX: char = '<';

/// A table: declared with `table NAME …`, or generated for an inline
/// `{ … }` list/mapping or a literal string written where a table is
/// accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDef {
    pub name: String,
    pub source: TableSource,
    pub origin: TableOrigin,
    pub span: Span,
}

/// Where a table's content comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TableSource {
    /// Inline `{ a, b }` (or a literal string: a one-element list).
    List(Vec<String>),
    /// Inline `{ k = v, k2 => v2 }`.
    Map(Vec<(String, String)>),
    /// `file:/path` or a bare `/path`: the static backend reading a file.
    File { path: String },
    /// `db:/path`: a file built by `makemap`.
    Db { path: String },
    /// `getpwnam` (or `getpwnam:`): the system user database.
    Getpwnam,
    /// Any other `TYPE:/config`: an external table program `table-TYPE`.
    External {
        backend: String,
        config: Option<String>,
    },
}

/// How a table came to exist; the printer uses it to write inline tables
/// inline again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TableOrigin {
    /// A `table NAME …` statement.
    Declared,
    /// An inline `{ … }` written where a table is accepted.
    Inline,
    /// A single string written where a table is accepted.
    Literal,
}

/// The lookup services of OpenSMTPD tables (smtpd-tables(7)); the daemon
/// passes them to its table backends when it opens a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Service {
    Alias,
    Domain,
    Credentials,
    Netaddr,
    Userinfo,
    Source,
    Mailaddr,
    Mailaddrmap,
    Addrname,
    Relayhost,
    String,
    Regex,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Alias => "alias",
            Service::Domain => "domain",
            Service::Credentials => "credentials",
            Service::Netaddr => "netaddr",
            Service::Userinfo => "userinfo",
            Service::Source => "source",
            Service::Mailaddr => "mailaddr",
            Service::Mailaddrmap => "mailaddrmap",
            Service::Addrname => "addrname",
            Service::Relayhost => "relayhost",
            Service::String => "string",
            Service::Regex => "regex",
        }
    }
}

/// A table operand of a condition: the table (by name) and whether its
/// values are POSIX extended regular expressions (`regex` keyword).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operand {
    pub table: String,
    pub regex: bool,
}

/// One use of a table by the configuration: which service it must serve and
/// where the using item is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableUse {
    pub table: String,
    pub service: Service,
    pub span: Span,
}
