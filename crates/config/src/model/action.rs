//! Actions (dispatchers): what happens to a recipient a rule accepted.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Span;

/// `action NAME METHOD [options] [ttl DELAY]`, or the action an old
/// `accept` rule carries, lowered into a named action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub name: String,
    pub method: Method,
    /// Per-action queue lifetime (`ttl`; old per-rule `expire`); `None` =
    /// the global `queue ttl`.
    pub ttl: Option<Duration>,
    pub origin: ActionOrigin,
    pub span: Span,
}

/// Whether an action was declared or generated from an old rule (its name
/// then is generated too, see [`crate::Config::actions`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionOrigin {
    Declared,
    OldRule,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    Local(LocalDelivery),
    Relay(Relay),
}

/// A local delivery method and its options.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalDelivery {
    pub kind: LocalKind,
    /// `alias <t>` or `virtual <t>` (mutually exclusive).
    pub mapping: Option<Mapping>,
    /// `userbase <t>`; `None` = the system users (`<getpwnam>`).
    pub userbase: Option<String>,
    /// `user NAME`: deliver as this single user (virtual hosting).
    pub user: Option<String>,
    /// `wrapper NAME`: an `mda wrapper` the command runs under.
    pub wrapper: Option<String>,
}

impl LocalDelivery {
    pub fn new(kind: LocalKind) -> Self {
        LocalDelivery {
            kind,
            mapping: None,
            userbase: None,
            user: None,
            wrapper: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LocalKind {
    /// `mbox`: /var/mail via mail.local.
    Mbox,
    /// `maildir [PATH] [junk]`; `None` = `~/Maildir`. Format specifiers
    /// (`%{dest.user}`) are kept as written.
    Maildir { path: Option<String>, junk: bool },
    /// `lmtp DEST [rcpt-to]`: `host:port` or a unix socket path.
    Lmtp { dest: String, rcpt_to: bool },
    /// `mda "command"`.
    Mda { command: String },
    /// `forward-only`: accept only if aliases/.forward yield remote
    /// addresses. (An old `accept` rule with no delivery action lowers here.)
    ForwardOnly,
    /// `expand-only`: accept only if expansion yields a delivery method.
    ExpandOnly,
}

/// `alias <t>` or `virtual <t>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mapping {
    Alias(String),
    Virtual(String),
}

impl Mapping {
    pub fn table(&self) -> &str {
        match self {
            Mapping::Alias(t) | Mapping::Virtual(t) => t,
        }
    }
}

/// `relay [options]`: delivery over SMTP/LMTP to another host.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relay {
    /// `host URL|<list>`: smarthost(s), a table of relay URLs
    /// ([`crate::RelayUrl`]); no MX lookup.
    pub host: Option<String>,
    /// `domain <map>`: per-domain relay URL.
    pub domain: Option<String>,
    /// `backup [mx NAME]`: act as backup MX (skip MXs at or below our own
    /// preference); `Some(None)` = the server name.
    pub backup: Option<Option<String>>,
    pub helo: Option<String>,
    /// `helo-src <addrname>`: HELO name per source address.
    pub helo_src: Option<String>,
    /// `src <source>`: source addresses, rotated.
    pub src: Option<String>,
    /// Client certificate.
    pub pki: Option<String>,
    pub ca: Option<String>,
    /// `tls [no-verify]`: mandatory TLS, verified unless `no-verify`.
    pub tls: Option<RelayTls>,
    pub protocols: Option<String>,
    pub ciphers: Option<String>,
    /// `auth <creds>` (label → `user:password`), needs `host`.
    pub auth: Option<String>,
    /// `mail-from ADDR`: rewrite MAIL FROM (`user`, `@domain` or full).
    pub mail_from: Option<String>,
    pub srs: bool,
    /// smtp-out filter (by name).
    pub filter: Option<String>,
}

/// The relay `tls` option.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayTls {
    pub verify: bool,
}

/// `mda wrapper NAME "command %{mda}"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MdaWrapper {
    pub name: String,
    pub command: String,
    pub span: Span,
}
