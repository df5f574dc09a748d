//! The envelope: one recipient of one message, with everything needed to
//! deliver it, retry it, expire it or bounce it.
//!
//! The fields follow OpenSMTPD's version-3 envelope (smtpd.h `struct
//! envelope`, and the `key: value` file the queue writes), so that a queue
//! written by OpenSMTPD can be read by ours. Times are Unix seconds.

use crate::{DsnNotify, DsnRet, EnhancedStatus, EvpId, MailAddr, MsgId};
use serde::{Deserialize, Serialize};

/// What kind of work an envelope is waiting for. OpenSMTPD's file calls
/// these `mda`, `mta` and `bounce`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EnvelopeKind {
    /// Local delivery (mbox, Maildir, program, LMTP).
    Mda,
    /// Relaying to another host.
    Mta,
    /// An internal envelope that makes a report for the sender.
    Bounce,
}

impl EnvelopeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EnvelopeKind::Mda => "mda",
            EnvelopeKind::Mta => "mta",
            EnvelopeKind::Bounce => "bounce",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "mda" => Some(EnvelopeKind::Mda),
            "mta" => Some(EnvelopeKind::Mta),
            "bounce" => Some(EnvelopeKind::Bounce),
            _ => None,
        }
    }
}

/// Envelope flags as OpenSMTPD stores them (`flags: authenticated bounce`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EnvelopeFlags {
    /// The client had authenticated when it submitted the message.
    pub authenticated: bool,
    /// The message is itself a report: it is never bounced again.
    pub bounce: bool,
    /// The message was made inside the server (a report, a local enqueue).
    pub internal: bool,
}

/// Which report a bounce envelope asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BounceType {
    Failed,
    Delayed,
    Delivered,
}

impl BounceType {
    pub fn as_str(self) -> &'static str {
        match self {
            BounceType::Failed => "failed",
            BounceType::Delayed => "delayed",
            BounceType::Delivered => "delivered",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "failed" => Some(BounceType::Failed),
            "delayed" => Some(BounceType::Delayed),
            "delivered" => Some(BounceType::Delivered),
            _ => None,
        }
    }
}

/// The extra fields of a bounce envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BounceInfo {
    /// How long the report itself may wait in the queue.
    pub ttl: u64,
    /// For a delay notice: how long the original has waited.
    pub delay: u64,
    pub kind: BounceType,
}

/// One recipient of one message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub id: EvpId,
    /// The name of the action (OpenSMTPD: the "dispatcher") that handles this
    /// envelope. It is looked up in the current config at each attempt, so a
    /// fixed config applies to mail already queued.
    pub dispatcher: String,
    pub tag: Option<String>,
    pub kind: EnvelopeKind,
    /// Our name as the client saw it in the banner.
    pub smtpname: String,
    /// The HELO/EHLO argument the client gave.
    pub helo: String,
    /// The client's host name (reverse DNS), or its address in brackets.
    pub hostname: String,
    /// The user the client authenticated as, if any.
    pub username: Option<String>,
    /// The last error seen while delivering, for logs, `smtpctl show queue`
    /// and bounce reports.
    pub errorline: Option<String>,
    /// The client's address (`127.0.0.1`, `::1`, or `local` for the socket).
    pub sockaddr: String,
    /// The reverse path; `None` is the null sender `<>`.
    pub sender: Option<MailAddr>,
    /// The recipient as the client gave it in RCPT TO.
    pub rcpt: MailAddr,
    /// The final recipient after alias/virtual/forward expansion.
    pub dest: MailAddr,
    pub ctime: u64,
    pub last_try: u64,
    pub last_bounce: u64,
    /// Seconds after `ctime` at which the envelope expires.
    pub ttl: u64,
    pub retry: u32,
    pub flags: EnvelopeFlags,
    pub dsn_notify: DsnNotify,
    pub dsn_ret: Option<DsnRet>,
    pub dsn_envid: Option<String>,
    pub dsn_orcpt: Option<String>,
    /// The enhanced status of the last failure.
    pub esc: Option<EnhancedStatus>,
    /// Local delivery: a command from an alias or `.forward` (`|cmd`), run
    /// instead of the action's method.
    pub mda_exec: Option<String>,
    /// Local delivery: a file from an alias or `.forward` (`/path`),
    /// appended to in mbox format instead of the action's method. (An
    /// extension key of ours: `mda-file`.)
    pub mda_file: Option<String>,
    pub mda_subaddress: Option<String>,
    /// Local delivery: the system or virtual user whose rights the delivery
    /// runs with.
    pub mda_user: Option<String>,
    pub bounce: Option<BounceInfo>,
}

impl Envelope {
    pub fn msgid(&self) -> MsgId {
        self.id.msgid()
    }

    /// When the envelope expires (Unix seconds).
    pub fn expires_at(&self) -> u64 {
        self.ctime.saturating_add(self.ttl)
    }

    /// The facts the scheduler needs about this envelope, and nothing more.
    pub fn sched_info(&self) -> SchedInfo {
        SchedInfo {
            evpid: self.id,
            kind: self.kind,
            ctime: self.ctime,
            ttl: self.ttl,
            retry: self.retry,
            last_try: self.last_try,
            last_bounce: self.last_bounce,
            is_bounce_msg: self.flags.bounce,
        }
    }

    /// A skeleton envelope with the given ids and addresses and every other
    /// field empty, for builders and tests.
    pub fn new(id: EvpId, kind: EnvelopeKind, sender: Option<MailAddr>, rcpt: MailAddr) -> Self {
        Envelope {
            id,
            dispatcher: String::new(),
            tag: None,
            kind,
            smtpname: String::new(),
            helo: String::new(),
            hostname: String::new(),
            username: None,
            errorline: None,
            sockaddr: String::new(),
            sender,
            dest: rcpt.clone(),
            rcpt,
            ctime: 0,
            last_try: 0,
            last_bounce: 0,
            ttl: 0,
            retry: 0,
            flags: EnvelopeFlags::default(),
            dsn_notify: DsnNotify::default(),
            dsn_ret: None,
            dsn_envid: None,
            dsn_orcpt: None,
            esc: None,
            mda_exec: None,
            mda_file: None,
            mda_subaddress: None,
            mda_user: None,
            bounce: None,
        }
    }
}

/// What the scheduler knows of an envelope: its scheduling facts only (the
/// seed's §3.2.1), never addresses or content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedInfo {
    pub evpid: EvpId,
    pub kind: EnvelopeKind,
    pub ctime: u64,
    pub ttl: u64,
    pub retry: u32,
    pub last_try: u64,
    pub last_bounce: u64,
    /// The envelope's message is itself a report (never bounced again).
    pub is_bounce_msg: bool,
}
