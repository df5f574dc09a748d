//! The smtp process (the seed's §3.2.3): the SMTP server. It receives the
//! listening sockets from the parent, runs every session as a task, and
//! reaches the rest of the system only by messages: lka for rules and
//! expansion, the queue for message files and commits. The queue's
//! reports come in through local sessions it asks for (`OpenSession`).
//!
//! Counter-measures of the seed: it stops accepting when near its
//! descriptor limit (and resumes when sessions end), and drops clients
//! that hog a session without doing useful work (`session.rs`).

mod address;
mod masquerade;
mod pool;
mod received;
mod sasl;
mod session;
mod tls;

use anyhow::{Context, Result};
use smtpd_ipc::Inbound;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tracing::{info, warn};

use crate::child::{on_closed, ChildSetup, Ctx, Flow};
use crate::msg::{HasShutdown, RuntimeConfig, Subsystem, ToControl, ToQueue, ToSmtp};
use crate::peers::Peers;
use crate::pending::Pending;

/// How long sessions get to finish their transaction after a shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(7);

/// What all sessions share.
pub struct Shared {
    pub rt: Arc<RuntimeConfig>,
    pub peers: Peers,
    pub pending: Arc<Pending<ToSmtp>>,
    /// True once the server is stopping.
    pub shutdown: watch::Receiver<bool>,
    /// Sessions alive now.
    pub sessions: AtomicUsize,
    /// Transactions open now (each holds a message file besides its
    /// session's socket).
    pub transactions: AtomicUsize,
    /// Descriptors sessions and transactions may hold in all: the limit,
    /// less what the process holds for itself, the pool and a reserve.
    pub fd_budget: usize,
    /// New sessions are accepted while sessions and transactions hold
    /// fewer descriptors than this: the rest of the budget is kept for
    /// transactions, so that idle connections can fill the session slots
    /// without keeping anybody from sending mail.
    pub session_cap: usize,
    /// Signalled when a session ends (the accept loops may resume).
    pub session_ended: Notify,
    /// Some rule tests the client's reverse DNS name (`from rdns`): RCPT
    /// must wait for it. Otherwise sessions never wait on DNS.
    pub needs_rdns: bool,
    /// Incoming messages created ahead of need.
    pub pool: std::sync::Mutex<pool::Pool>,
    /// The TLS configurations of the TLS listeners.
    pub tls: tls::ServerTls,
}

pub fn main(mut setup: ChildSetup) -> Result<()> {
    let (fd_budget, pool_batch) = raise_fd_limit();
    let listeners = std::mem::take(&mut setup.listeners);
    // Keys are readable by root only and the chroot is empty: read them
    // all now.
    let tls = tls::ServerTls::load(&setup.rt.config, &setup.rt.hostname)
        .context("setting up TLS for the listeners")?;
    setup.drop_privileges()?;
    setup.run::<ToSmtp, _, _>(move |ctx| run(ctx, listeners, fd_budget, pool_batch, tls))
}

/// Descriptors kept free beyond those open at start: the runtime's own
/// (epoll, wakers) and whatever the process opens later besides sessions.
const FD_RESERVE: usize = 16;

/// Raise the soft descriptor limit to the hard one and derive the budget
/// of descriptors for sessions (one each: the socket) and transactions
/// (one more: the message file), besides the descriptors the process
/// already holds, the message pool and a reserve (OpenSMTPD's rule: stop
/// accepting before the limit is reached, not after `accept` fails).
/// Returns the budget and the pool's batch size.
fn raise_fd_limit() -> (usize, usize) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap_or((1024, 1024));
    let target = hard.min(1 << 20);
    let limit = if target > soft && setrlimit(Resource::RLIMIT_NOFILE, target, hard).is_ok() {
        target
    } else {
        soft
    };
    let held = open_descriptors().unwrap_or(32);
    let batch = pool::batch_for(limit as usize);
    let budget = (limit as usize).saturating_sub(held + FD_RESERVE + pool::max_held(batch));
    (budget.max(1), batch)
}

/// The part of the descriptor budget kept for transactions: half of a small
/// budget (every session can then open a transaction, as if each took two
/// descriptors), a quarter of a large one but at least 1,000.
fn transaction_reserve(budget: usize) -> usize {
    (budget / 2).min((budget / 4).max(1000))
}

/// How many descriptors the process holds now (where /proc tells).
fn open_descriptors() -> Option<usize> {
    // The directory handle itself is one of the entries.
    std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count().saturating_sub(1))
}

async fn run(
    mut ctx: Ctx<ToSmtp>,
    listeners: Vec<(usize, SocketAddr, OwnedFd)>,
    fd_budget: usize,
    pool_batch: usize,
    tls: tls::ServerTls,
) -> Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let (pause_tx, pause_rx) = watch::channel(ctx.rt.paused.contains(&Subsystem::Smtp));
    let shared = Arc::new(Shared {
        rt: ctx.rt.clone(),
        peers: ctx.peers.clone(),
        pending: Pending::new(),
        shutdown: stop_rx,
        sessions: AtomicUsize::new(0),
        transactions: AtomicUsize::new(0),
        fd_budget,
        session_cap: fd_budget - transaction_reserve(fd_budget),
        session_ended: Notify::new(),
        needs_rdns: ctx.rt.config.rules.iter().any(|r| {
            r.conditions
                .iter()
                .any(|c| matches!(c.cond, smtpd_config::Cond::FromRdns(_)))
        }),
        pool: std::sync::Mutex::new(pool::Pool::new(pool_batch)),
        tls,
    });
    {
        let queue = shared.peers.queue();
        shared.pool().refill(&queue);
    }
    for (index, addr, fd) in listeners {
        let std_listener = std::net::TcpListener::from(fd);
        std_listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(std_listener).context("listener")?;
        tokio::spawn(accept_loop(
            shared.clone(),
            listener,
            index,
            addr,
            pause_rx.clone(),
        ));
    }
    while let Some(ev) = ctx.inbox.recv().await {
        match ev {
            Inbound::Closed { from, error } => {
                if on_closed(ctx.role, from, error)? == Flow::Stop {
                    break;
                }
                // A peer died and the parent is stopping the server: the
                // sessions waiting for it answer 451 now, not at a timeout.
                shared.pending.fail_all();
            }
            Inbound::Msg { msg, .. } if msg.is_shutdown() => break,
            Inbound::Msg { from, msg, fds } => match msg.reply_to() {
                Some(req) => {
                    shared.pending.complete(req, msg, fds);
                }
                None => match msg {
                    ToSmtp::MessagesCreated { msgids, no_room } => {
                        let queue = shared.peers.queue();
                        shared.pool().add(msgids, fds, no_room, &queue);
                    }
                    ToSmtp::Room { ok } => {
                        let queue = shared.peers.queue();
                        if ok {
                            shared.pool().room_again(&queue);
                        } else {
                            shared.pool().set_no_room(&queue);
                        }
                    }
                    ToSmtp::OpenSession { req } => open_session(&shared, req, from),
                    ToSmtp::Pause => {
                        info!("smtp: paused: no new sessions");
                        let _ = pause_tx.send(true);
                    }
                    ToSmtp::Resume => {
                        info!("smtp: resumed");
                        let _ = pause_tx.send(false);
                    }
                    _ => {}
                },
            },
        }
    }
    // Stop: no new sessions; idle sessions say 421 now, the others after
    // their transaction, within the grace period.
    let _ = stop_tx.send(true);
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    while shared.sessions.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
        // Replies still arrive while sessions finish.
        tokio::select! {
            ev = ctx.inbox.recv() => match ev {
                Some(Inbound::Msg { msg, fds, .. }) => {
                    if let Some(req) = msg.reply_to() {
                        shared.pending.complete(req, msg, fds);
                    }
                }
                Some(Inbound::Closed { from, .. }) => {
                    if from != smtpd_ipc::Role::Parent {
                        shared.pending.fail_all();
                    }
                }
                None => break,
            },
            _ = shared.session_ended.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    Ok(())
}

impl Shared {
    /// Descriptors held by sessions and their transactions now.
    pub fn fds_in_use(&self) -> usize {
        self.sessions.load(Ordering::Acquire) + self.transactions.load(Ordering::Acquire)
    }

    /// The message pool (the lock is only held for a push or a pop).
    pub fn pool(&self) -> std::sync::MutexGuard<'_, pool::Pool> {
        self.pool.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A local session for the queue's report, or for `sendmail` through
/// control: an ordinary session on one end of a socket pair, the other end
/// sent to whoever asked. It counts as a session (the shutdown waits for
/// it) but is never refused for the session limit: reports must get
/// through.
fn open_session(shared: &Arc<Shared>, req: crate::msg::ReqId, asker: smtpd_ipc::Role) {
    let pair = std::os::unix::net::UnixStream::pair().and_then(|(ours, theirs)| {
        ours.set_nonblocking(true)?;
        Ok((tokio::net::UnixStream::from_std(ours)?, theirs))
    });
    let sent = match pair {
        Ok((ours, theirs)) => {
            shared.sessions.fetch_add(1, Ordering::AcqRel);
            let sh = shared.clone();
            tokio::spawn(async move {
                session::run_local(sh.clone(), ours).await;
                sh.sessions.fetch_sub(1, Ordering::AcqRel);
                sh.session_ended.notify_waiters();
            });
            answer_session(shared, asker, req, Ok(OwnedFd::from(theirs)))
        }
        Err(e) => {
            warn!("smtp: a local session for {asker}: {e}");
            answer_session(shared, asker, req, Err(e.to_string()))
        }
    };
    if let Err(e) = sent {
        warn!("smtp: answering {asker}: {e}");
    }
}

/// `SessionOpened` to the queue or to control, with the session's end.
fn answer_session(
    shared: &Shared,
    asker: smtpd_ipc::Role,
    req: crate::msg::ReqId,
    end: Result<OwnedFd, String>,
) -> Result<(), smtpd_ipc::ChannelError> {
    let (result, fds) = match end {
        Ok(fd) => (Ok(()), vec![fd]),
        Err(e) => (Err(e), Vec::new()),
    };
    if asker == smtpd_ipc::Role::Control {
        let msg = ToControl::SessionOpened { req, result };
        shared.peers.control().send_with_fds(msg, fds)
    } else {
        let msg = ToQueue::SessionOpened { req, result };
        shared.peers.queue().send_with_fds(msg, fds)
    }
}

async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    index: usize,
    addr: SocketAddr,
    mut paused: watch::Receiver<bool>,
) {
    let mut stop = shared.shutdown.clone();
    loop {
        // Hold off while paused or at the session limit.
        while *paused.borrow() || shared.fds_in_use() >= shared.session_cap {
            tokio::select! {
                _ = paused.changed() => {}
                _ = shared.session_ended.notified() => {}
                _ = stop.changed() => return,
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
            if *stop.borrow() {
                return;
            }
        }
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
            _ = paused.changed() => continue,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                shared.sessions.fetch_add(1, Ordering::AcqRel);
                let sh = shared.clone();
                tokio::spawn(async move {
                    session::run(sh.clone(), stream, peer, index, addr).await;
                    sh.sessions.fetch_sub(1, Ordering::AcqRel);
                    sh.session_ended.notify_waiters();
                });
            }
            Err(e) => {
                // Out of descriptors (EMFILE/ENFILE) or a transient error:
                // stop accepting for a moment instead of spinning.
                warn!("smtp: accept on {addr}: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::transaction_reserve;

    #[test]
    fn small_budgets_keep_half_for_transactions() {
        // Every session can open a transaction: cap + reserve = budget and
        // reserve >= cap.
        for budget in [1usize, 2, 100, 1999] {
            let reserve = transaction_reserve(budget);
            assert!(reserve * 2 >= budget - 1, "budget {budget}");
            assert!(reserve <= budget);
        }
    }

    #[test]
    fn large_budgets_keep_a_quarter_but_at_least_a_thousand() {
        assert_eq!(transaction_reserve(3000), 1000);
        assert_eq!(transaction_reserve(20_000), 5000);
        assert_eq!(transaction_reserve(1 << 20), 1 << 18);
    }
}
