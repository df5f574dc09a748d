//! Tables: the key/value and list lookups smtpd.conf rules, actions and
//! listeners are built on (OpenSMTPD's table(5), aliases(5), makemap(8)).
//!
//! Code map:
//! - [`service`] — what a lookup is for ([`Service`], [`ServiceSet`]);
//! - [`table`] — the [`Table`] trait every backend implements;
//! - [`spec`] — [`TableSpec`] (what the daemon builds from the configuration)
//!   and the backend [`Registry`]; [`open`] opens a table;
//! - [`value`] — typed lookup results ([`Value`]);
//! - [`alias`] — alias values ([`ExpandNode`]) and the alias/virtual key orders;
//! - [`backend`] — `static` (inline and files), `db` (makemap CDB), `getpwnam`;
//! - [`tablefile`] — the table(5) text format, shared by `static` and makemap;
//! - [`makemap`] — building and dumping `db` files (the `makemap` binary);
//! - matching rules: [`hostmatch`] (domain wildcards), [`netaddr`] (CIDR),
//!   [`mailpattern`] (address patterns); regexes use the `regex` crate.
//!
//! Invariants: keys are ASCII-lower-cased and shorter than [`MAX_KEY_LEN`]
//! on both sides of every comparison; a lookup error is never "not found";
//! no input (file, database, key) makes this crate panic.

pub mod alias;
pub mod backend;
mod dbfile;
mod entries;
pub mod error;
pub mod hostmatch;
pub mod key;
pub mod listsplit;
pub mod mailpattern;
pub mod makemap;
pub mod makemap_cli;
pub mod netaddr;
mod ops;
pub mod service;
pub mod spec;
pub mod table;
pub mod tablefile;
pub mod value;

pub use alias::{
    lookup_alias, lookup_virtual, parse_alias_list, AliasError, AliasMatch, ErrorReply, ExpandNode,
};
pub use error::TableError;
pub use key::{normalize_key, MAX_KEY_LEN};
pub use mailpattern::MailPattern;
pub use netaddr::Netaddr;
pub use service::{Service, ServiceSet};
pub use spec::{open, InlineData, Registry, TableSpec};
pub use table::{Table, TableKind};
pub use value::{Addrname, Credentials, Userinfo, Value};
