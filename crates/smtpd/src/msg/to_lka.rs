//! What the lookup agent accepts: rule matching and expansion for smtp,
//! reverse DNS, user information for mda, `~/.forward` files from the
//! parent, and for mta (which is chrooted and has no resolver or tables)
//! the DNS and table lookups of relaying.

use serde::{Deserialize, Serialize};
use smtpd_ipc::{Message, Role};
use smtpd_types::{DsnNotify, MailAddr};
use std::net::IpAddr;

use super::to_smtp::AuthResult;
use super::{HasShutdown, ReqId, Secret, SessionInfo, TxInfo};

#[derive(Debug, Serialize, Deserialize)]
pub enum ToLka {
    /// smtp (RCPT TO): find the first matching rule and expand the
    /// recipient into final envelopes. Answered by `ToSmtp::Expanded`.
    Expand {
        req: ReqId,
        session: Box<SessionInfo>,
        tx: Box<TxInfo>,
        rcpt: MailAddr,
        notify: DsnNotify,
        orcpt: Option<String>,
    },
    /// smtp (connect): the client's reverse DNS. Answered by `ToSmtp::Rdns`.
    Rdns { req: ReqId, addr: IpAddr },
    /// smtp (AUTH): check a user's password against the listener's
    /// credentials table (the smtp process has no tables), or against the
    /// system's passwords (`None`: lka asks the parent). Answered by
    /// `ToSmtp::Authenticated`.
    Authenticate {
        req: ReqId,
        table: Option<String>,
        user: String,
        password: Secret,
    },
    /// mda: look a user up in a userbase table (`None` = the system's
    /// `getpwnam`). Answered by `ToMda::UserInfo`.
    UserInfo {
        req: ReqId,
        userbase: Option<String>,
        user: String,
    },
    /// mta: the MX records of a domain. Answered by `ToMta::Mx`.
    Mx { req: ReqId, domain: String },
    /// mta: the addresses (A and AAAA) of a host. Answered by `ToMta::Host`.
    Host { req: ReqId, name: String },
    /// mta: a relay URL from a `relayhost` table: `relay host <t>` fetches
    /// one (`domain: None`), `relay domain <t>` looks the domain up.
    /// Answered by `ToMta::RelayHost`.
    RelayHost {
        req: ReqId,
        table: String,
        domain: Option<String>,
    },
    /// mta: the `user:password` stored under `label` in a relay `auth`
    /// table. Answered by `ToMta::Credentials`.
    Credentials {
        req: ReqId,
        table: String,
        label: String,
    },
    /// mta: a source address from a relay `src` table. Answered by
    /// `ToMta::Source`.
    Source { req: ReqId, table: String },
    /// mta: the HELO name of a source address, from a relay `helo-src`
    /// table (addrname service). Answered by `ToMta::HeloName`.
    HeloName {
        req: ReqId,
        table: String,
        addr: std::net::IpAddr,
    },
    /// parent: the user's `~/.forward`, opened as the user. Carries one
    /// descriptor when `found`. An `error` is `permanent` when the file was
    /// refused (unsafe), temporary when it could not be opened right now.
    Forward {
        req: ReqId,
        found: bool,
        error: Option<String>,
        permanent: bool,
    },
    /// smtp (MAIL of an authenticated session on a `senders <table>`
    /// listener): may `user` send as `sender`? Answered by
    /// `ToSmtp::SenderChecked`.
    CheckSender {
        req: ReqId,
        table: String,
        user: String,
        sender: Option<MailAddr>,
    },
    /// parent: the answer to `ToParent::CheckPassword`.
    PasswordChecked { req: ReqId, result: AuthResult },
    /// control: `smtpctl log verbose|brief`.
    Verbose(bool),
    /// control: `smtpctl update table NAME`: reload the table from its
    /// source; answered by `ToControl::TableUpdated`.
    UpdateTable { req: ReqId, name: String },
    /// parent: stop.
    Shutdown,
}

impl Message for ToLka {
    fn may_come_from(&self, from: Role) -> bool {
        match self {
            ToLka::Verbose(_) | ToLka::UpdateTable { .. } => from == Role::Control,
            ToLka::Expand { .. }
            | ToLka::Rdns { .. }
            | ToLka::Authenticate { .. }
            | ToLka::CheckSender { .. } => from == Role::Smtp,
            ToLka::UserInfo { .. } => from == Role::Mda,
            ToLka::Mx { .. }
            | ToLka::Host { .. }
            | ToLka::RelayHost { .. }
            | ToLka::Credentials { .. }
            | ToLka::Source { .. }
            | ToLka::HeloName { .. } => from == Role::Mta,
            ToLka::Forward { .. } | ToLka::PasswordChecked { .. } | ToLka::Shutdown => {
                from == Role::Parent
            }
        }
    }

    fn applied_on_arrival(&self) -> bool {
        match self {
            ToLka::Verbose(v) => crate::logging::apply_verbose(*v),
            _ => false,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            ToLka::Verbose(_) => "Verbose",
            ToLka::UpdateTable { .. } => "UpdateTable",
            ToLka::Expand { .. } => "Expand",
            ToLka::Rdns { .. } => "Rdns",
            ToLka::Authenticate { .. } => "Authenticate",
            ToLka::CheckSender { .. } => "CheckSender",
            ToLka::UserInfo { .. } => "UserInfo",
            ToLka::Mx { .. } => "Mx",
            ToLka::Host { .. } => "Host",
            ToLka::RelayHost { .. } => "RelayHost",
            ToLka::Credentials { .. } => "Credentials",
            ToLka::Source { .. } => "Source",
            ToLka::HeloName { .. } => "HeloName",
            ToLka::Forward { .. } => "Forward",
            ToLka::PasswordChecked { .. } => "PasswordChecked",
            ToLka::Shutdown => "Shutdown",
        }
    }
}

impl HasShutdown for ToLka {
    fn is_shutdown(&self) -> bool {
        matches!(self, ToLka::Shutdown)
    }
}

impl ToLka {
    /// The request this message answers, if it is a reply.
    pub fn reply_to(&self) -> Option<ReqId> {
        match self {
            ToLka::Forward { req, .. } | ToLka::PasswordChecked { req, .. } => Some(*req),
            _ => None,
        }
    }
}
