//! Types shared by several messages.

use serde::{Deserialize, Serialize};
use smtpd_types::{DsnRet, MailAddr, MsgId};
use std::net::IpAddr;

/// A subsystem that `smtpctl pause`/`resume` and `smtpd -P` act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Subsystem {
    /// Accepting new SMTP sessions.
    Smtp,
    /// Relaying.
    Mta,
    /// Local deliveries.
    Mda,
}

/// Where an SMTP client connected from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientAddr {
    Inet(IpAddr),
    /// The local enqueue socket (smtpctl/sendmail, internal bounces).
    Local,
}

impl ClientAddr {
    /// OpenSMTPD's text form (envelope `sockaddr`, logs).
    pub fn to_text(&self) -> String {
        match self {
            ClientAddr::Inet(ip) => ip.to_string(),
            ClientAddr::Local => "local".to_string(),
        }
    }
}

/// What the rule engine knows of an SMTP session when it matches a rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: u64,
    /// Index of the listener in the config's listener list.
    pub listener: usize,
    pub tag: Option<String>,
    pub client: ClientAddr,
    /// Reverse DNS of the client, if it has one.
    pub rdns: Option<String>,
    /// The reverse DNS name resolves back to the client's address.
    #[serde(default)]
    pub fcrdns: bool,
    pub helo: String,
    /// The user the client authenticated as.
    pub auth_user: Option<String>,
    pub tls: bool,
    /// The name we announced in the banner.
    pub smtpname: String,
}

/// What the rule engine knows of the transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxInfo {
    pub msgid: MsgId,
    /// The reverse path; `None` for `<>`.
    pub mail_from: Option<MailAddr>,
    pub dsn_ret: Option<DsnRet>,
    pub dsn_envid: Option<String>,
}

/// A user a delivery runs as: the result of a `userinfo` lookup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub username: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
}

/// A counter update for `smtpctl show stats` and `monitor`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatUpdate {
    pub name: String,
    pub delta: i64,
}

/// A password on its way to lka: never shown by `Debug`, so that a logged
/// message cannot leak it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}
