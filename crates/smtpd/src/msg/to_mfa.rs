//! What the mail filter agent accepts. Filters (the `filter` statements)
//! come with their own issue; the process exists now, wired to smtp,
//! control and the parent, so that adding them changes no other role.

use serde::{Deserialize, Serialize};
use smtpd_ipc::{Message, Role};

use super::HasShutdown;

#[derive(Debug, Serialize, Deserialize)]
pub enum ToMfa {
    /// control: `smtpctl log verbose|brief`.
    Verbose(bool),
    /// parent: stop.
    Shutdown,
}

impl Message for ToMfa {
    fn may_come_from(&self, from: Role) -> bool {
        match self {
            ToMfa::Verbose(_) => from == Role::Control,
            ToMfa::Shutdown => from == Role::Parent,
        }
    }

    fn applied_on_arrival(&self) -> bool {
        match self {
            ToMfa::Verbose(v) => crate::logging::apply_verbose(*v),
            _ => false,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            ToMfa::Verbose(_) => "Verbose",
            ToMfa::Shutdown => "Shutdown",
        }
    }
}

impl HasShutdown for ToMfa {
    fn is_shutdown(&self) -> bool {
        matches!(self, ToMfa::Shutdown)
    }
}
