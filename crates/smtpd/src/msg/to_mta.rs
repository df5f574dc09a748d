//! What the mail transfer agent accepts: envelopes to relay from the queue,
//! and the answers of lka to the DNS and table lookups relaying needs (the
//! mta is chrooted and has neither a resolver nor the tables).

use serde::{Deserialize, Serialize};
use smtpd_ipc::{Message, Role};
use smtpd_types::Envelope;
use std::net::IpAddr;

use super::{HasShutdown, ReqId};

/// One MX record: its preference and exchange host, lower case, without
/// the final dot (`""` for the root, RFC 7505's null MX).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MxRecord {
    pub preference: u16,
    pub exchange: String,
}

/// The answer to a DNS question, with the distinctions relaying needs: a
/// name without records of that type (`NoData`, e.g. no MX: use the
/// domain's address) is not a name that does not exist (`NxDomain`: the
/// mail can never be delivered), and neither is a failed lookup (`Failed`:
/// try again later).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DnsAnswer<T> {
    Found(T),
    NoData,
    NxDomain,
    Failed(String),
}

/// `user:password` from a relay `auth` table.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayCredentials {
    pub username: String,
    pub password: String,
}

/// Never print a password, even in a debug log.
impl std::fmt::Debug for RelayCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RelayCredentials({}, ***)", self.username)
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub enum ToMta {
    /// queue: relay this envelope. Carries one descriptor: the message,
    /// open for reading.
    Relay {
        envelope: Box<Envelope>,
    },
    /// lka: the MX records of a domain.
    Mx {
        req: ReqId,
        result: DnsAnswer<Vec<MxRecord>>,
    },
    /// lka: the addresses of a host.
    Host {
        req: ReqId,
        result: DnsAnswer<Vec<IpAddr>>,
    },
    /// lka: a relay URL (`Ok(None)`: the table has none for the key).
    RelayHost {
        req: ReqId,
        result: Result<Option<String>, String>,
    },
    /// lka: credentials (`Ok(None)`: no such label).
    Credentials {
        req: ReqId,
        result: Result<Option<RelayCredentials>, String>,
    },
    /// lka: a source address (`Ok(None)`: the table is empty).
    Source {
        req: ReqId,
        result: Result<Option<IpAddr>, String>,
    },
    /// lka: the HELO name of a source address (`Ok(None)`: not listed).
    HeloName {
        req: ReqId,
        result: Result<Option<String>, String>,
    },
    /// control/parent: hold or release relaying.
    Pause,
    Resume,
    /// control: `smtpctl log verbose|brief`.
    Verbose(bool),
    /// control: `smtpctl show hosts|relays|routes`; answered by
    /// `ToControl::Lines`.
    Show {
        req: ReqId,
        view: smtpd_control_proto::MtaView,
    },
    /// parent: stop.
    Shutdown,
}

impl Message for ToMta {
    fn may_come_from(&self, from: Role) -> bool {
        match self {
            ToMta::Verbose(_) | ToMta::Show { .. } => from == Role::Control,
            ToMta::Relay { .. } => from == Role::Queue,
            ToMta::Mx { .. }
            | ToMta::Host { .. }
            | ToMta::RelayHost { .. }
            | ToMta::Credentials { .. }
            | ToMta::Source { .. }
            | ToMta::HeloName { .. } => from == Role::Lka,
            ToMta::Pause | ToMta::Resume => matches!(from, Role::Parent | Role::Control),
            ToMta::Shutdown => from == Role::Parent,
        }
    }

    fn applied_on_arrival(&self) -> bool {
        match self {
            ToMta::Verbose(v) => crate::logging::apply_verbose(*v),
            _ => false,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            ToMta::Verbose(_) => "Verbose",
            ToMta::Show { .. } => "Show",
            ToMta::Relay { .. } => "Relay",
            ToMta::Mx { .. } => "Mx",
            ToMta::Host { .. } => "Host",
            ToMta::RelayHost { .. } => "RelayHost",
            ToMta::Credentials { .. } => "Credentials",
            ToMta::Source { .. } => "Source",
            ToMta::HeloName { .. } => "HeloName",
            ToMta::Pause => "Pause",
            ToMta::Resume => "Resume",
            ToMta::Shutdown => "Shutdown",
        }
    }
}

impl HasShutdown for ToMta {
    fn is_shutdown(&self) -> bool {
        matches!(self, ToMta::Shutdown)
    }
}

impl ToMta {
    /// The request this message answers, if it is a reply.
    pub fn reply_to(&self) -> Option<ReqId> {
        match self {
            ToMta::Mx { req, .. }
            | ToMta::Host { req, .. }
            | ToMta::RelayHost { req, .. }
            | ToMta::Credentials { req, .. }
            | ToMta::Source { req, .. }
            | ToMta::HeloName { req, .. } => Some(*req),
            _ => None,
        }
    }
}
