//! What the control process answers.

use serde::{Deserialize, Serialize};
use smtpd_ipc::{Message, Role};

use crate::{Digest, QueueEntry};

/// Whether each subsystem runs (`show status`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub mda_paused: bool,
    pub mta_paused: bool,
    pub smtp_paused: bool,
}

/// One response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// Done.
    Ok,
    /// Not done, and why.
    Failed(String),
    /// How many envelopes the command applied to.
    Count(usize),
    /// Part of a `show queue` listing; more pages or `End` follow.
    QueuePage(Vec<QueueEntry>),
    /// The end of a listing.
    End,
    /// An envelope file's text.
    EnvelopeText(String),
    /// Carries one descriptor: the message file, open for reading.
    Message,
    /// Every counter, and how long the server has run (seconds).
    Stats {
        counters: Vec<(String, i64)>,
        uptime: u64,
    },
    Status(Status),
    Digest(Digest),
    /// Carries one descriptor: our end of a local SMTP session.
    Session,
    /// Lines to print as they are (`show hosts|relays|routes`).
    Lines(Vec<String>),
}

impl Response {
    fn variant(&self) -> &'static str {
        match self {
            Response::Ok => "Ok",
            Response::Failed(_) => "Failed",
            Response::Count(_) => "Count",
            Response::QueuePage(_) => "QueuePage",
            Response::End => "End",
            Response::EnvelopeText(_) => "EnvelopeText",
            Response::Message => "Message",
            Response::Stats { .. } => "Stats",
            Response::Status(_) => "Status",
            Response::Digest(_) => "Digest",
            Response::Session => "Session",
            Response::Lines(_) => "Lines",
        }
    }
}

/// Responses travel on the same kind of channel as requests (see
/// [`crate::Request`]'s impl); only the control process sends them.
impl Message for Response {
    fn may_come_from(&self, _from: Role) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        self.variant()
    }
}
