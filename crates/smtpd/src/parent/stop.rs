//! Watching the children die and stopping them in order.
//!
//! Two rules live here. When a child dies, the parent names *that* child —
//! the first to go — and why (its exit status or signal), not one of the
//! bystanders that may notice its channel closing. And an orderly stop
//! stops the smtp process first and waits for it: its sessions may still
//! be finishing a transaction, which needs lka (expansion, through the
//! parent for `~/.forward`) and the queue (commit) to answer. Only once
//! smtp is gone are the others told to stop, so a transaction in flight at
//! SIGTERM either ends with its 250 after the queue made it durable, or
//! with a 4xx — never a 250 the queue did not stand behind.

use smtpd_ipc::{Inbound, Role};
use std::collections::HashMap;
use std::process::ExitStatus;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, warn};

use super::privileged::Services;
use crate::msg::ToParent;

/// How long the smtp process gets to stop: its own grace for sessions to
/// finish their transactions (7 s, `roles::smtp`) and a margin.
pub const SMTP_STOP: Duration = Duration::from_secs(9);
/// How long the other children get to stop once smtp is gone.
pub const OTHERS_STOP: Duration = Duration::from_secs(10);
/// How long a child whose channel to us closed gets to be reaped, so that
/// we can report how it ended.
pub const REAP_WAIT: Duration = Duration::from_secs(2);
/// How long killed children get to be reaped.
const KILL_REAP: Duration = Duration::from_secs(2);

/// A child ended.
pub struct Exit {
    pub role: Role,
    pub pid: u32,
    pub status: std::io::Result<ExitStatus>,
}

/// The children still alive, and the news of their ends.
pub struct Watch {
    pub events: mpsc::UnboundedReceiver<Exit>,
    alive: HashMap<Role, u32>,
}

impl Watch {
    pub fn new(events: mpsc::UnboundedReceiver<Exit>, alive: HashMap<Role, u32>) -> Self {
        Watch { events, alive }
    }

    pub fn pid(&self, role: Role) -> Option<u32> {
        self.alive.get(&role).copied()
    }

    /// Note that a child ended; its description when it was alive.
    pub fn ended(&mut self, exit: &Exit) -> String {
        self.alive.remove(&exit.role);
        format!(
            "child {} (pid {}) {}",
            exit.role,
            exit.pid,
            describe(&exit.status)
        )
    }

    /// The channel of `role` closed without a protocol error: the process
    /// is going away. Wait (briefly) until it is reaped and describe how it
    /// ended. Other children reaped meanwhile are noted too.
    pub async fn reap(&mut self, role: Role) -> String {
        let pid = self.pid(role).unwrap_or(0);
        let deadline = Instant::now() + REAP_WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(exit)) if exit.role == role => return self.ended(&exit),
                Ok(Some(exit)) => {
                    let other = self.ended(&exit);
                    warn!("{other}");
                }
                Ok(None) | Err(_) => {
                    return format!("child {role} (pid {pid}) closed its channel to the parent")
                }
            }
        }
    }

    /// Wait until none of `roles` is alive, serving the children's
    /// privileged requests meanwhile; SIGKILL the ones still alive at
    /// `timeout`.
    pub async fn wait_for(
        &mut self,
        roles: &[Role],
        timeout: Duration,
        inbox: &mut mpsc::UnboundedReceiver<Inbound<ToParent>>,
        privileged: &Services,
    ) {
        let deadline = Instant::now() + timeout;
        let mut inbox_open = true;
        while roles.iter().any(|r| self.alive.contains_key(r)) {
            tokio::select! {
                biased;
                ev = self.events.recv() => match ev {
                    Some(exit) => self.log_stopped(&exit),
                    None => return,
                },
                ev = inbox.recv(), if inbox_open => match ev {
                    Some(Inbound::Msg { from, msg, fds }) => privileged.handle(from, msg, fds),
                    Some(Inbound::Closed { .. }) => {}
                    None => inbox_open = false,
                },
                _ = tokio::time::sleep_until(deadline) => {
                    self.kill(roles).await;
                    return;
                }
            }
        }
    }

    fn log_stopped(&mut self, exit: &Exit) {
        let what = self.ended(exit);
        match &exit.status {
            Ok(s) if s.success() => debug!("{what}"),
            _ => warn!("{what}"),
        }
    }

    /// SIGKILL those of `roles` still alive and reap them.
    async fn kill(&mut self, roles: &[Role]) {
        for role in roles {
            if let Some(pid) = self.pid(*role) {
                warn!("child {role} (pid {pid}) did not stop in time: killing it");
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        // Reap them so that no zombie outlives us.
        let deadline = Instant::now() + KILL_REAP;
        while roles.iter().any(|r| self.alive.contains_key(r)) {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(exit)) => {
                    self.alive.remove(&exit.role);
                }
                _ => break,
            }
        }
    }
}

/// How a child ended, for the log.
pub fn describe(status: &std::io::Result<ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(c), _) => format!("exited with status {c}"),
            (None, Some(sig)) => format!(
                "was killed by signal {sig} ({})",
                nix::sys::signal::Signal::try_from(sig)
                    .map(|s| s.as_str())
                    .unwrap_or("?")
            ),
            _ => "ended".to_string(),
        },
        Err(e) => format!("could not be waited for: {e}"),
    }
}
