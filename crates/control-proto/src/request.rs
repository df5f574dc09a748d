//! What a client asks the control process.

use serde::{Deserialize, Serialize};
use smtpd_ipc::{Message, Role};
use smtpd_types::{EvpId, MsgId};

/// A subsystem that `pause`/`resume` act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Subsystem {
    /// Local deliveries.
    Mda,
    /// Relaying.
    Mta,
    /// Accepting new SMTP sessions.
    Smtp,
}

impl Subsystem {
    /// The name `smtpctl` and `show status` use.
    pub fn as_str(self) -> &'static str {
        match self {
            Subsystem::Mda => "mda",
            Subsystem::Mta => "mta",
            Subsystem::Smtp => "smtp",
        }
    }
}

/// OpenSMTPD's trace subsystems (`smtpctl trace`), and the processes whose
/// logging each turns verbose here: we have no finer traces than a
/// process's debug logging.
pub const TRACE_SUBSYSTEMS: &[(&str, &[Role])] = &[
    ("all", &ALL_ROLES),
    ("bounce", &[Role::Queue]),
    ("expand", &[Role::Lka]),
    ("filters", &[Role::Mfa]),
    ("imsg", &ALL_ROLES),
    ("io", &ALL_ROLES),
    ("lookup", &[Role::Lka]),
    ("mproc", &ALL_ROLES),
    ("mta", &[Role::Mta]),
    ("rules", &[Role::Lka]),
    ("scheduler", &[Role::Scheduler]),
    ("smtp", &[Role::Smtp]),
    ("stat", &[Role::Control]),
];

const ALL_ROLES: [Role; 9] = [
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

/// The processes `trace SUBSYSTEM` concerns; `None` for an unknown name.
pub fn trace_roles(subsystem: &str) -> Option<&'static [Role]> {
    TRACE_SUBSYSTEMS
        .iter()
        .find(|(name, _)| *name == subsystem)
        .map(|(_, roles)| *roles)
}

/// What `show hosts|relays|routes` lists of the mta's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MtaView {
    Hosts,
    Relays,
    Routes,
}

/// Which envelopes a command is about: `ID|MSGID|all`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    Envelope(EvpId),
    Message(MsgId),
    All,
}

/// One request. Each is answered by exactly one [`crate::Response`],
/// except `ShowQueue`, answered by pages and an `End`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// `show queue [MSGID]`: every envelope (of one message), with its
    /// scheduling state.
    ShowQueue { msgid: Option<MsgId> },
    /// `show envelope EVPID`: the envelope's file as the queue holds it.
    ShowEnvelope(EvpId),
    /// `show message EVPID|MSGID`: the message file, sent as a descriptor.
    ShowMessage(MsgId),
    /// `show stats`.
    ShowStats,
    /// `show status`.
    ShowStatus,
    /// `monitor`: the counters it prints, asked for every second.
    Digest,
    /// `pause mda|mta|smtp`.
    Pause(Subsystem),
    /// `resume mda|mta|smtp`.
    Resume(Subsystem),
    /// `pause envelope ID|MSGID|all`.
    PauseEnvelopes(Target),
    /// `resume envelope ID|MSGID|all`.
    ResumeEnvelopes(Target),
    /// `schedule ID|MSGID|all`.
    Schedule(Target),
    /// `remove ID|MSGID|all`.
    Remove(Target),
    /// `log verbose` / `log brief`.
    Log { verbose: bool },
    /// `sendmail`: a local SMTP session, answered with one end of it.
    OpenSession,
    /// `trace|untrace SUBSYSTEM`: verbose logging on or off in the
    /// processes that do that part of the work (see [`TRACE_SUBSYSTEMS`]).
    Trace { subsystem: String, on: bool },
    /// `show hosts|relays|routes`: the mta's current state, as lines.
    ShowMta(MtaView),
    /// `update table NAME`: the lookup process reloads the table from its
    /// file.
    UpdateTable(String),
}

impl Request {
    /// May any local user ask this, or only the administrator? OpenSMTPD
    /// lets everybody enqueue mail; everything else needs root. (The
    /// socket's mode decides who may connect at all.)
    pub fn needs_admin(&self) -> bool {
        !matches!(self, Request::OpenSession)
    }

    /// The request's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Request::ShowQueue { .. } => "show queue",
            Request::ShowEnvelope(_) => "show envelope",
            Request::ShowMessage(_) => "show message",
            Request::ShowStats => "show stats",
            Request::ShowStatus => "show status",
            Request::Digest => "monitor",
            Request::Pause(_) => "pause",
            Request::Resume(_) => "resume",
            Request::PauseEnvelopes(_) => "pause envelope",
            Request::ResumeEnvelopes(_) => "resume envelope",
            Request::Schedule(_) => "schedule",
            Request::Remove(_) => "remove",
            Request::Log { .. } => "log",
            Request::OpenSession => "enqueue",
            Request::UpdateTable(_) => "update table",
            Request::Trace { on: true, .. } => "trace",
            Request::Trace { on: false, .. } => "untrace",
            Request::ShowMta(MtaView::Hosts) => "show hosts",
            Request::ShowMta(MtaView::Relays) => "show relays",
            Request::ShowMta(MtaView::Routes) => "show routes",
        }
    }
}

/// The control process serves each client as an ipc channel. A client is
/// not one of the server's roles: it may send any request (whether it is
/// *allowed* to is decided per request from its credentials).
impl Message for Request {
    fn may_come_from(&self, _from: Role) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        Request::name(self)
    }
}
