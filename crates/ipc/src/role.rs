//! The roles of the server's processes and who may talk to whom.
//!
//! The table is the seed's §3–4, written once here and enforced twice: the
//! parent only creates socketpairs between roles that [`may_talk`] allows,
//! and every message type says which roles may send it.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One process of the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    /// The master process: the only one that stays root.
    Parent,
    /// The SMTP server: listeners and inbound sessions.
    Smtp,
    /// The mail transfer agent: relaying to other hosts.
    Mta,
    /// The mail delivery agent: local deliveries through the parent.
    Mda,
    /// The mail filter agent: drives filter programs for smtp sessions.
    Mfa,
    /// The lookup agent: tables, rules, expansion, DNS, user info.
    Lka,
    /// The queue: the only process that touches the spool.
    Queue,
    /// The scheduler: decides what to try when, in memory only.
    Scheduler,
    /// The control socket: smtpctl requests and statistics.
    Control,
}

impl Role {
    /// Every child role, in the order the parent starts them.
    pub const CHILDREN: [Role; 8] = [
        Role::Control,
        Role::Scheduler,
        Role::Queue,
        Role::Lka,
        Role::Mfa,
        Role::Mda,
        Role::Mta,
        Role::Smtp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Parent => "parent",
            Role::Smtp => "smtp",
            Role::Mta => "mta",
            Role::Mda => "mda",
            Role::Mfa => "mfa",
            Role::Lka => "lka",
            Role::Queue => "queue",
            Role::Scheduler => "scheduler",
            Role::Control => "control",
        }
    }

    /// The peers a process of this role is connected to (the parent is
    /// everybody's peer and is included).
    pub fn peers(self) -> Vec<Role> {
        let all = [
            Role::Parent,
            Role::Smtp,
            Role::Mta,
            Role::Mda,
            Role::Mfa,
            Role::Lka,
            Role::Queue,
            Role::Scheduler,
            Role::Control,
        ];
        all.into_iter()
            .filter(|&r| r != self && may_talk(self, r))
            .collect()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown role name.
#[derive(Debug, thiserror::Error)]
#[error("unknown role {0:?}")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, UnknownRole> {
        Ok(match s {
            "parent" => Role::Parent,
            "smtp" => Role::Smtp,
            "mta" => Role::Mta,
            "mda" => Role::Mda,
            "mfa" => Role::Mfa,
            "lka" => Role::Lka,
            "queue" => Role::Queue,
            "scheduler" => Role::Scheduler,
            "control" => Role::Control,
            _ => return Err(UnknownRole(s.to_string())),
        })
    }
}

/// May processes of roles `a` and `b` talk to each other?
///
/// From the seed: smtp ↔ lka (rules, expansion, DNS), smtp ↔ queue (message
/// files, commit), smtp ↔ mfa (filters), lka ↔ parent (`~/.forward`,
/// passwords), queue ↔ scheduler, queue ↔ mda, queue ↔ mta, mda ↔ lka (user
/// info), mda ↔ parent (delivery programs as the user), mta ↔ lka (MX,
/// credentials, HELO, sources), control ↔ every role, parent ↔ every role.
/// The scheduler talks to queue and control only (and is started and
/// stopped by the parent, which sends it nothing else).
pub fn may_talk(a: Role, b: Role) -> bool {
    use Role::*;
    if a == b {
        return false;
    }
    let pair = if a <= b { (a, b) } else { (b, a) };
    matches!(
        pair,
        (Parent, _)
            | (_, Control)
            | (Smtp, Lka)
            | (Smtp, Queue)
            | (Smtp, Mfa)
            | (Mta, Queue)
            | (Mta, Lka)
            | (Mta, Mfa)
            | (Mda, Lka)
            | (Mda, Queue)
            | (Queue, Scheduler)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_talks_to_queue_control_and_parent_only() {
        assert_eq!(
            Role::Scheduler.peers(),
            vec![Role::Parent, Role::Queue, Role::Control]
        );
    }

    #[test]
    fn seed_edges() {
        use Role::*;
        for (a, b) in [
            (Smtp, Lka),
            (Smtp, Queue),
            (Smtp, Mfa),
            (Lka, Parent),
            (Queue, Scheduler),
            (Queue, Mda),
            (Queue, Mta),
            (Mda, Lka),
            (Mda, Parent),
            (Mta, Lka),
            (Mta, Mfa),
        ] {
            assert!(may_talk(a, b), "{a} <-> {b}");
            assert!(may_talk(b, a), "{b} <-> {a}");
        }
        for r in Role::CHILDREN {
            assert!(may_talk(r, Parent));
            if r != Control {
                assert!(may_talk(r, Control));
            }
        }
        for (a, b) in [
            (Smtp, Mta),
            (Smtp, Mda),
            (Smtp, Scheduler),
            (Lka, Queue),
            (Lka, Scheduler),
            (Mfa, Queue),
            (Mda, Mta),
            (Scheduler, Mda),
        ] {
            assert!(!may_talk(a, b), "{a} <-> {b} must not talk");
        }
    }

    #[test]
    fn names_round_trip() {
        for r in Role::CHILDREN.into_iter().chain([Role::Parent]) {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
    }
}
