//! What the control process accepts: counter updates from every role.

use serde::{Deserialize, Serialize};
use smtpd_ipc::{Message, Role};

use super::{HasShutdown, StatUpdate};

#[derive(Debug, Serialize, Deserialize)]
pub enum ToControl {
    /// any role: named counter increments/decrements (the seed's §3.2.8).
    Stats(Vec<StatUpdate>),
    /// parent: stop.
    Shutdown,
}

impl Message for ToControl {
    fn may_come_from(&self, from: Role) -> bool {
        match self {
            ToControl::Stats(_) => from != Role::Control,
            ToControl::Shutdown => from == Role::Parent,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            ToControl::Stats(_) => "Stats",
            ToControl::Shutdown => "Shutdown",
        }
    }
}

impl HasShutdown for ToControl {
    fn is_shutdown(&self) -> bool {
        matches!(self, ToControl::Shutdown)
    }
}
