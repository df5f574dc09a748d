//! The queue process (the seed's §3.2.2): the only process that touches the
//! spool. Runs as the queue user, chrooted into the spool.
//!
//! The spool work is synchronous file-system work, so it runs on one store
//! thread ([`store`]) that owns the backend; the async side only moves
//! messages between the channels and that thread. Commits that arrive while
//! the store is busy are made durable together (group commit).

mod store;

use anyhow::{Context, Result};
use smtpd_ipc::Inbound;
use smtpd_queue::{FsOptions, FsQueue, QueueBackend, SyncMode};
use std::path::PathBuf;

use crate::child::{on_closed, ChildSetup, Flow};
use crate::msg::{HasShutdown, ToQueue};

pub fn main(setup: ChildSetup) -> Result<()> {
    setup.drop_privileges()?;
    // After the chroot the spool is our root directory.
    let root = if setup.rt.privileged {
        PathBuf::from("/")
    } else {
        setup.rt.paths.spool.clone()
    };
    let backend = FsQueue::open(
        &root,
        FsOptions {
            reserve_percent: 5,
            sync: SyncMode::Files,
        },
    )
    .with_context(|| format!("opening the spool {}", setup.rt.paths.spool.display()))?;
    run_with(setup, Box::new(backend))
}

/// Run the queue process over any backend.
pub fn run_with(setup: ChildSetup, mut backend: Box<dyn QueueBackend + Send>) -> Result<()> {
    let loaded = store::reload(backend.as_mut()).context("reloading the spool")?;
    setup.run::<ToQueue, _, _>(|mut ctx| async move {
        let (tx, rx) = std::sync::mpsc::channel();
        let peers = ctx.peers.clone();
        let store = std::thread::Builder::new()
            .name("queue-store".into())
            .spawn(move || store::Store::new(backend, peers).run(rx, loaded))
            .context("starting the store thread")?;
        let mut result = Ok(());
        while let Some(ev) = ctx.inbox.recv().await {
            let flow = match ev {
                Inbound::Closed { from, error } => match on_closed(ctx.role, from, error) {
                    Ok(f) => f,
                    Err(e) => {
                        result = Err(e);
                        Flow::Stop
                    }
                },
                Inbound::Msg { msg, .. } if msg.is_shutdown() => Flow::Stop,
                Inbound::Msg { msg, fds, .. } => {
                    if tx.send(store::Op { msg, _fds: fds }).is_err() {
                        result = Err(anyhow::anyhow!("the store thread stopped"));
                        Flow::Stop
                    } else {
                        Flow::Continue
                    }
                }
            };
            if flow == Flow::Stop {
                break;
            }
        }
        // Let the store finish what it was given (a commit in progress must
        // complete or cancel cleanly) before the process exits.
        drop(tx);
        let stored = tokio::task::spawn_blocking(move || store.join())
            .await
            .context("joining the store thread")?;
        match stored {
            Ok(r) => r?,
            Err(_) => anyhow::bail!("the store thread panicked"),
        }
        result
    })
}
