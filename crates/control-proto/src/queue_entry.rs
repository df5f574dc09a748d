//! One line of `smtpctl show queue`, in OpenSMTPD's format:
//!
//! ```text
//! evpid|src|agent|flags|sender|rcpt|dest|ctime|expire|lasttry|retry|runstate|delay|error
//! ```
//!
//! `src` is `inet4`, `inet6` or `local` (where the message came from),
//! `agent` `mda`, `mta` or `bounce`, `flags` a comma-separated subset of
//! `bounce,auth,internal,suspend,hold`, addresses are `user@domain` (`@`
//! for the null sender), times are Unix seconds, and the run state is
//! `pending|SECONDS` (until the next try; negative when it is overdue,
//! e.g. while its agent is paused), `inflight|SECONDS` (since it was
//! handed out), or `offline|` (listed from the spool with the daemon
//! down). The error line is the last failure, made safe by [`crate::vis`].

use serde::{Deserialize, Serialize};
use smtpd_types::{Envelope, EnvelopeKind, EvpId, MailAddr};
use std::net::IpAddr;

/// Where an envelope stands in the scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunState {
    /// Waiting; next try at this time.
    Pending { next_try: u64 },
    /// Out for delivery since this time.
    Inflight { since: u64 },
    /// Unknown: read from the spool without the daemon.
    Offline,
}

/// The flags column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryFlags {
    /// The message is a report (never bounced again).
    pub bounce: bool,
    /// The sender had authenticated.
    pub auth: bool,
    /// Made inside the server.
    pub internal: bool,
    /// Paused by `smtpctl pause envelope`.
    pub suspend: bool,
    /// Held back by the scheduler.
    pub hold: bool,
}

impl EntryFlags {
    fn text(&self) -> String {
        let names = [
            (self.bounce, "bounce"),
            (self.auth, "auth"),
            (self.internal, "internal"),
            (self.suspend, "suspend"),
            (self.hold, "hold"),
        ];
        names
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// One envelope as `show queue` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    pub evpid: EvpId,
    /// The client's address as the envelope records it (`sockaddr`).
    pub sockaddr: String,
    pub kind: EnvelopeKind,
    pub flags: EntryFlags,
    pub sender: Option<MailAddr>,
    pub rcpt: MailAddr,
    pub dest: MailAddr,
    pub ctime: u64,
    pub expire: u64,
    pub last_try: u64,
    pub retry: u32,
    pub run: RunState,
    pub errorline: Option<String>,
}

impl QueueEntry {
    /// The entry for `env` in state `run`; `suspend`/`hold` come from the
    /// scheduler.
    pub fn new(env: &Envelope, run: RunState, suspend: bool, hold: bool) -> Self {
        QueueEntry {
            evpid: env.id,
            sockaddr: env.sockaddr.clone(),
            kind: env.kind,
            flags: EntryFlags {
                bounce: env.flags.bounce,
                auth: env.flags.authenticated,
                internal: env.flags.internal,
                suspend,
                hold,
            },
            sender: env.sender.clone(),
            rcpt: env.rcpt.clone(),
            dest: env.dest.clone(),
            ctime: env.ctime,
            expire: env.expires_at(),
            last_try: env.last_try,
            retry: env.retry,
            run,
            errorline: env.errorline.clone(),
        }
    }

    /// `inet4`, `inet6`, `local`, or `?` for an address we cannot read.
    fn source(&self) -> &'static str {
        if self.sockaddr == "local" {
            return "local";
        }
        match self.sockaddr.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => "inet4",
            Ok(IpAddr::V6(_)) => "inet6",
            Err(_) => "?",
        }
    }

    /// The line `show queue` prints, at time `now`.
    pub fn line(&self, now: u64) -> String {
        let run = match self.run {
            RunState::Pending { next_try } => format!("pending|{}", signed_diff(next_try, now)),
            RunState::Inflight { since } => format!("inflight|{}", signed_diff(now, since)),
            RunState::Offline => "offline|".to_string(),
        };
        let sender = self
            .sender
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "@".to_string());
        format!(
            "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
            self.evpid,
            self.source(),
            self.kind.as_str(),
            self.flags.text(),
            crate::vis::vis(&sender),
            crate::vis::vis(&self.rcpt.to_string()),
            crate::vis::vis(&self.dest.to_string()),
            self.ctime,
            self.expire,
            self.last_try,
            self.retry,
            run,
            crate::vis::vis(self.errorline.as_deref().unwrap_or("")),
        )
    }
}

/// `a - b` as a signed number, without overflow.
fn signed_diff(a: u64, b: u64) -> i128 {
    i128::from(a) - i128::from(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtpd_types::{EnvelopeFlags, MsgId};

    fn env() -> Envelope {
        let mut e = Envelope::new(
            EvpId::random_in(MsgId(0x0a0b_0c0d)),
            EnvelopeKind::Mda,
            Some(MailAddr::new("alice", "example.org")),
            MailAddr::new("bob", "example.net"),
        );
        e.dest = MailAddr::new("robert", "example.net");
        e.sockaddr = "127.0.0.1".into();
        e.ctime = 1_000;
        e.ttl = 345_600;
        e.last_try = 1_100;
        e.retry = 2;
        e.errorline = Some("421 4.4.2 try\tlater".into());
        e
    }

    #[test]
    fn a_pending_envelope_reads_as_opensmtpd_prints_it() {
        let e = env();
        let line =
            QueueEntry::new(&e, RunState::Pending { next_try: 1_300 }, false, false).line(1_200);
        assert_eq!(
            line,
            format!(
                "{}|inet4|mda||alice@example.org|bob@example.net|robert@example.net|1000|346600|1100|2|pending|100|421 4.4.2 try\\^Ilater",
                e.id
            )
        );
    }

    #[test]
    fn flags_states_and_sources() {
        let mut e = env();
        e.sender = None;
        e.sockaddr = "local".into();
        e.kind = EnvelopeKind::Bounce;
        e.flags = EnvelopeFlags {
            authenticated: true,
            bounce: true,
            internal: true,
        };
        e.errorline = None;
        let line = QueueEntry::new(&e, RunState::Inflight { since: 50 }, true, false).line(80);
        let fields: Vec<&str> = line.split('|').collect();
        assert_eq!(fields[1], "local");
        assert_eq!(fields[2], "bounce");
        assert_eq!(fields[3], "bounce,auth,internal,suspend");
        assert_eq!(fields[4], "@");
        assert_eq!(&fields[11..], ["inflight", "30", ""]);

        e.sockaddr = "::1".into();
        let line = QueueEntry::new(&e, RunState::Offline, false, false).line(0);
        let fields: Vec<&str> = line.split('|').collect();
        assert_eq!(fields[1], "inet6");
        assert_eq!(&fields[11..], ["offline", "", ""]);
        assert_eq!(fields.len(), 14);
    }

    #[test]
    fn an_overdue_envelope_has_a_negative_delay() {
        let line =
            QueueEntry::new(&env(), RunState::Pending { next_try: 10 }, false, false).line(25);
        assert!(line.contains("|pending|-15|"), "{line}");
    }
}
