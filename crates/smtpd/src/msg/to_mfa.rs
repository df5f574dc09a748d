//! What the mail filter agent accepts. Filters (the `filter` statements)
//! come with their own issue; the process exists now, wired to smtp,
//! control and the parent, so that adding them changes no other role.

use serde::{Deserialize, Serialize};
use smtpd_ipc::{Message, Role};

use super::HasShutdown;

#[derive(Debug, Serialize, Deserialize)]
pub enum ToMfa {
    /// parent: stop.
    Shutdown,
}

impl Message for ToMfa {
    fn may_come_from(&self, from: Role) -> bool {
        match self {
            ToMfa::Shutdown => from == Role::Parent,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            ToMfa::Shutdown => "Shutdown",
        }
    }
}

impl HasShutdown for ToMfa {
    fn is_shutdown(&self) -> bool {
        matches!(self, ToMfa::Shutdown)
    }
}
