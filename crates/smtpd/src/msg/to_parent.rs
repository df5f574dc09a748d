//! What the parent accepts: readiness, and the privileged work the seed
//! gives it (§3.2.9): open a user's `~/.forward` for lka, start a delivery
//! as the recipient user for mda.

use serde::{Deserialize, Serialize};
use smtpd_ipc::{Message, Role};

use super::{ReqId, Secret, UserInfo};

#[derive(Debug, Serialize, Deserialize)]
pub enum ToParent {
    /// A child finished its start-up and serves its inbox.
    Ready { role: Role },
    /// lka: open `~/.forward` of this user, as the user.
    OpenForward { req: ReqId, user: UserInfo },
    /// lka: check a password against the system's (`/etc/shadow`, readable
    /// by root only), for AUTH on a listener without a credentials table.
    /// Answered by `ToLka::PasswordChecked`.
    CheckPassword {
        req: ReqId,
        user: String,
        password: Secret,
    },
    /// mda: start a delivery worker running as this user. The reply
    /// (`ToMda::Started`) carries the socket to talk to it; the worker
    /// writes mailboxes and runs delivery programs with the user's rights.
    StartDelivery {
        req: ReqId,
        user: UserInfo,
        /// The mbox directory's group, added to the worker's groups so
        /// that it can create mailboxes in a root:mail 2775 spool without
        /// the user being in that group.
        mbox_group: Option<u32>,
    },
    /// control: `smtpctl log verbose|brief`.
    Verbose(bool),
}

impl Message for ToParent {
    fn may_come_from(&self, from: Role) -> bool {
        match self {
            ToParent::Verbose(_) => from == Role::Control,
            ToParent::Ready { role } => *role == from,
            ToParent::OpenForward { .. } | ToParent::CheckPassword { .. } => from == Role::Lka,
            ToParent::StartDelivery { .. } => from == Role::Mda,
        }
    }

    fn applied_on_arrival(&self) -> bool {
        match self {
            ToParent::Verbose(v) => crate::logging::apply_verbose(*v),
            _ => false,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            ToParent::Verbose(_) => "Verbose",
            ToParent::Ready { .. } => "Ready",
            ToParent::OpenForward { .. } => "OpenForward",
            ToParent::CheckPassword { .. } => "CheckPassword",
            ToParent::StartDelivery { .. } => "StartDelivery",
        }
    }
}
