//! The eight child roles. Each has one entry (`main`) taking the setup
//! from the handshake and one inbox type; see ARCHITECTURE.md for what each
//! does and whom it talks to.

use anyhow::Result;
use smtpd_ipc::{Inbound, Message, Role};
use std::os::fd::OwnedFd;

use crate::child::{on_closed, ChildSetup, Ctx, Flow};
use crate::msg::HasShutdown;

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

/// The plain event loop: take inbox messages one at a time and hand them to
/// `handle`, until the parent says stop (or goes away), `handle` says stop,
/// or a channel fails.
pub async fn serve<In, F>(ctx: &mut Ctx<In>, mut handle: F) -> Result<()>
where
    In: Message + HasShutdown,
    F: FnMut(Role, In, Vec<OwnedFd>) -> Result<Flow>,
{
    while let Some(ev) = ctx.inbox.recv().await {
        let flow = match ev {
            Inbound::Closed { from, error } => on_closed(ctx.role, from, error)?,
            Inbound::Msg { msg, .. } if msg.is_shutdown() => Flow::Stop,
            Inbound::Msg { from, msg, fds } => handle(from, msg, fds)?,
        };
        if flow == Flow::Stop {
            break;
        }
    }
    Ok(())
}
