//! The queue process (the seed's §3.2.2): the only process that touches the
//! spool. Runs as the queue user, chrooted into the spool.
//!
//! The spool work is synchronous file-system work, so it runs on one store
//! thread ([`store`]) that owns the backend; the async side only moves
//! messages between the channels and that thread. Commits that arrive while
//! the store is busy are made durable together (group commit).
//!
//! Reports for senders (bounces) are made by the store and delivered from
//! the async side ([`bounce`]): the queue asks smtp for a local session and
//! speaks SMTP over it, so the store thread never waits for a session.

mod bounce;
mod inject;
mod report;
mod store;

use anyhow::{Context, Result};
use smtpd_ipc::Inbound;
use smtpd_queue::{FsOptions, FsQueue, QueueBackend, SyncMode};
use std::path::PathBuf;
use std::sync::Arc;

use crate::child::{on_closed, ChildSetup, Flow};
use crate::msg::{HasShutdown, ToQueue};
use crate::pending::Pending;

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
        let (jobs_tx, jobs_rx) = tokio::sync::mpsc::unbounded_channel();
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
        let sessions: Arc<Pending<ToQueue>> = Pending::new();
        let bouncer = tokio::spawn(bounce::run(bounce::Bouncer {
            jobs: jobs_rx,
            done: done_tx,
            peers: ctx.peers.clone(),
            pending: sessions.clone(),
            hostname: ctx.rt.hostname.clone(),
            max_message_size: ctx.rt.config.smtp.max_message_size,
        }));
        let (commit_tx, commit_rx) = std::sync::mpsc::channel();
        let committer_peers = ctx.peers.clone();
        let committer = std::thread::Builder::new()
            .name("queue-commit".into())
            .spawn(move || store::committer(commit_rx, committer_peers))
            .context("starting the commit thread")?;
        let store = std::thread::Builder::new()
            .name("queue-store".into())
            .spawn(move || store::Store::new(backend, peers, jobs_tx, commit_tx).run(rx, loaded))
            .context("starting the store thread")?;
        let mut result = Ok(());
        loop {
            let ev = tokio::select! {
                ev = ctx.inbox.recv() => ev,
                // A report's outcome goes to the store like any other.
                Some((evpid, outcome)) = done_rx.recv() => {
                    let op = store::Op { msg: ToQueue::Outcome { evpid, outcome }, _fds: Vec::new() };
                    if tx.send(op).is_err() {
                        result = Err(anyhow::anyhow!("the store thread stopped"));
                        break;
                    }
                    continue;
                }
            };
            let Some(ev) = ev else { break };
            let flow = match ev {
                Inbound::Closed { from, error } => match on_closed(ctx.role, from, error) {
                    Ok(f) => {
                        // Sessions asked of a dead smtp will never come.
                        sessions.fail_all();
                        f
                    }
                    Err(e) => {
                        result = Err(e);
                        Flow::Stop
                    }
                },
                Inbound::Msg { msg, .. } if msg.is_shutdown() => Flow::Stop,
                // A session for a report: to the task that asked for it.
                Inbound::Msg {
                    msg: ToQueue::SessionOpened { req, result },
                    fds,
                    ..
                } => {
                    sessions.complete(req, ToQueue::SessionOpened { req, result }, fds);
                    Flow::Continue
                }
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
        // Reports in progress are abandoned: their envelopes stay queued and
        // are tried again after the restart.
        bouncer.abort();
        // Let the store finish what it was given (a commit in progress must
        // complete or cancel cleanly) before the process exits.
        drop(tx);
        // The committer ends once the store is gone, after finishing the
        // commits it still holds.
        let stored = tokio::task::spawn_blocking(move || {
            let s = store.join();
            let _ = committer.join();
            s
        })
        .await
        .context("joining the store thread")?;
        match stored {
            Ok(r) => r?,
            Err(_) => anyhow::bail!("the store thread panicked"),
        }
        result
    })
}
