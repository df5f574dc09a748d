//! The control process (the seed's §3.2.8 and §2.2): it listens on the
//! control socket for `smtpctl`, forwards each request to the process it
//! concerns — the scheduler for pause/resume/schedule/remove and queue
//! states, the queue for envelope and message contents, smtp for enqueue
//! sessions, lka for `update table`, mta for `show hosts|relays|routes`,
//! every process for the log level — and answers the client.
//! It also adds up the counter updates every process sends, for `show
//! stats` and `monitor`.
//!
//! Runs unprivileged, chrooted into the empty directory, holding only the
//! socket the parent bound for it (0666 on a privileged server, each
//! request checked against the client's credentials; 0600 in development
//! mode). Each client is served by its own task, so several may be
//! connected at once; a client's requests are answered in order.

mod counters;
mod requests;

use anyhow::{anyhow, Context, Result};
use smtpd_control_proto::Status;
use smtpd_ipc::Inbound;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::net::UnixListener;
use tracing::{debug, warn};

use crate::child::{on_closed, ChildSetup, Ctx, Flow};
use crate::msg::{HasShutdown, Subsystem, ToControl};
use crate::peers::Peers;
use crate::pending::Pending;
use counters::Counters;

pub fn main(mut setup: ChildSetup) -> Result<()> {
    let socket = setup
        .control_socket
        .take()
        .ok_or_else(|| anyhow!("the parent sent no control socket"))?;
    setup.drop_privileges()?;
    setup.run::<ToControl, _, _>(move |ctx| run(ctx, socket))
}

/// What the client tasks share.
pub struct Shared {
    pub peers: Peers,
    pub pending: Arc<Pending<ToControl>>,
    counters: Mutex<Counters>,
    status: Mutex<Status>,
    /// When the server started (Unix seconds), for `uptime`.
    pub started: u64,
    /// Who may run administrative commands besides root: the user the
    /// server runs as (development mode runs everything as one user).
    pub admin_uid: u32,
}

impl Shared {
    pub fn counters(&self) -> MutexGuard<'_, Counters> {
        // One update or read at a time; a poisoned lock still holds
        // consistent numbers.
        self.counters.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn status(&self) -> MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

async fn run(mut ctx: Ctx<ToControl>, socket: OwnedFd) -> Result<()> {
    let std_listener = std::os::unix::net::UnixListener::from(socket);
    std_listener.set_nonblocking(true)?;
    let listener = UnixListener::from_std(std_listener).context("control socket")?;
    let paused = |s| ctx.rt.paused.contains(&s);
    let shared = Arc::new(Shared {
        peers: ctx.peers.clone(),
        pending: Pending::new(),
        counters: Mutex::new(Counters::default()),
        status: Mutex::new(Status {
            mda_paused: paused(Subsystem::Mda),
            mta_paused: paused(Subsystem::Mta),
            smtp_paused: paused(Subsystem::Smtp),
        }),
        started: now(),
        admin_uid: nix::unistd::geteuid().as_raw(),
    });
    loop {
        tokio::select! {
            ev = ctx.inbox.recv() => {
                let Some(ev) = ev else { return Ok(()) };
                match ev {
                    Inbound::Closed { from, error } => {
                        if on_closed(ctx.role, from, error)? == Flow::Stop {
                            return Ok(());
                        }
                        // Answers from a dead peer will never come.
                        shared.pending.fail_all();
                    }
                    Inbound::Msg { msg, .. } if msg.is_shutdown() => return Ok(()),
                    Inbound::Msg { msg: ToControl::Stats(updates), .. } => {
                        shared.counters().apply(&updates);
                    }
                    Inbound::Msg { msg, fds, .. } => match msg.reply_to() {
                        Some(req) => {
                            shared.pending.complete(req, msg, fds);
                        }
                        None => debug!("control: unexpected {msg:?}"),
                    },
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(requests::serve_client(shared.clone(), stream));
                }
                Err(e) => {
                    // Out of descriptors, most likely: wait a little
                    // rather than spin.
                    warn!("control: accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
        }
    }
}
