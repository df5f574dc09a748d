//! Filters (`filter …`) and filter processes (`proc …`).

use serde::{Deserialize, Serialize};

use super::{Operand, Span};

/// `filter NAME …`, or an anonymous chain written inline as
/// `filter { a, b }` on a listener or relay action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub name: String,
    pub kind: FilterKind,
    /// `true` for an inline chain (generated name, printed inline).
    pub inline: bool,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FilterKind {
    /// `filter NAME proc PROC`: a shared `proc`.
    Proc { proc: String },
    /// `filter NAME proc-exec "cmd" [user U] [group G] [chroot D]`: a
    /// process of its own. (The old `filter NAME ["path" args…]` of 5.x
    /// lowers here too.)
    ProcExec { command: String, run: RunAs },
    /// `filter NAME phase PHASE match COND… DECISION`: a builtin check.
    Builtin {
        phase: FilterPhase,
        conditions: Vec<FilterCondition>,
        decision: FilterDecision,
    },
    /// `filter NAME chain { a, b }`: filters applied in order.
    Chain { filters: Vec<String> },
}

/// Who a filter process runs as (default `_smtpd`), and where.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunAs {
    pub user: Option<String>,
    pub group: Option<String>,
    pub chroot: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FilterPhase {
    Connect,
    Helo,
    Ehlo,
    Auth,
    MailFrom,
    RcptTo,
    Data,
    Commit,
}

impl FilterPhase {
    pub fn keyword(self) -> &'static str {
        match self {
            FilterPhase::Connect => "connect",
            FilterPhase::Helo => "helo",
            FilterPhase::Ehlo => "ehlo",
            FilterPhase::Auth => "auth",
            FilterPhase::MailFrom => "mail-from",
            FilterPhase::RcptTo => "rcpt-to",
            FilterPhase::Data => "data",
            FilterPhase::Commit => "commit",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterCondition {
    pub negated: bool,
    pub cond: FilterCond,
}

/// Builtin filter checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FilterCond {
    /// Forward-confirmed reverse DNS.
    Fcrdns,
    /// The client has a reverse DNS name (in the table).
    Rdns(Option<Operand>),
    /// The client address is in the table.
    Src(Operand),
    Helo(Operand),
    /// The session authenticated (as a user in the table).
    Auth(Option<Operand>),
    MailFrom(Operand),
    RcptTo(Operand),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FilterDecision {
    Bypass,
    /// Add `X-Spam: Yes`.
    Junk,
    Reject(String),
    Disconnect(String),
    Rewrite(String),
    Report(String),
}

/// `proc NAME "cmd" [user U] [group G] [chroot D]`: a filter process
/// shared by the filters naming it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proc {
    pub name: String,
    pub command: String,
    pub run: RunAs,
    pub span: Span,
}
