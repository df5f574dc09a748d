//! The eight child roles. Each has one entry (`main`) taking the setup
//! from the handshake and one inbox type; see ARCHITECTURE.md for what each
//! does and whom it talks to.

use anyhow::Result;
use smtpd_ipc::Role;

use crate::child::ChildSetup;

pub mod control;
pub mod lka;
pub mod mda;
pub mod mfa;
pub mod mta;
pub mod queue;
pub mod scheduler;
pub mod smtp;

/// Run the role this child was started as.
pub fn main(setup: ChildSetup) -> Result<()> {
    match setup.role {
        Role::Smtp => smtp::main(setup),
        Role::Mta => mta::main(setup),
        Role::Mda => mda::main(setup),
        Role::Mfa => mfa::main(setup),
        Role::Lka => lka::main(setup),
        Role::Queue => queue::main(setup),
        Role::Scheduler => scheduler::main(setup),
        Role::Control => control::main(setup),
        Role::Parent => anyhow::bail!("the parent is not a child role"),
    }
}
