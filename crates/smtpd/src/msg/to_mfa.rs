//! What the mail filter agent accepts: the smtp process's filter requests
//! and reports for the sessions of listeners with a `filter`, and the
//! usual orders from the parent and control.

use serde::{Deserialize, Serialize};
use smtpd_config::FilterPhase;
use smtpd_ipc::{Message, Role};

use super::{HasShutdown, ReqId, SessionInfo};

#[derive(Debug, Serialize, Deserialize)]
pub enum ToMfa {
    /// smtp: run the session's filter chain for one phase; `param` is what
    /// the phase is about (the client address at connect, the HELO name,
    /// the address of MAIL/RCPT, empty for data and commit). Answered by
    /// `ToSmtp::Filtered`.
    Filter {
        req: ReqId,
        session: Box<SessionInfo>,
        phase: FilterPhase,
        param: String,
        /// The transaction's sender, for `mail-from` conditions after MAIL.
        mail_from: Option<String>,
    },
    /// smtp: an event for the `report|…` lines of the session's filter
    /// processes (`link-connect`, `tx-mail`, …), with its fields already
    /// in the protocol's order. No answer.
    Report {
        session: Box<SessionInfo>,
        event: String,
        fields: Vec<String>,
    },
    /// mta: an event of a relay session for the `report|…|smtp-out|…`
    /// lines of the filter processes of `filter` (the action's). No answer.
    ReportOut {
        filter: String,
        session: u64,
        event: String,
        fields: Vec<String>,
    },
    /// smtp: the message of a transaction (its content with dot-stuffing
    /// undone, LF line ends, as the spool keeps it) for the `data-line` filters of the session.
    /// Answered by `ToSmtp::FilteredData`.
    Data {
        req: ReqId,
        session: Box<SessionInfo>,
        content: Vec<u8>,
    },
    /// control: `smtpctl update table NAME` (after lka did it): the
    /// builtin filters' copy of the table. Answered by
    /// `ToControl::TableUpdated`.
    UpdateTable { req: ReqId, name: String },
    /// control: `smtpctl log verbose|brief`.
    Verbose(bool),
    /// parent: stop.
    Shutdown,
}

impl Message for ToMfa {
    fn may_come_from(&self, from: Role) -> bool {
        match self {
            ToMfa::Filter { .. } | ToMfa::Report { .. } | ToMfa::Data { .. } => from == Role::Smtp,
            ToMfa::ReportOut { .. } => from == Role::Mta,
            ToMfa::Verbose(_) | ToMfa::UpdateTable { .. } => from == Role::Control,
            ToMfa::Shutdown => from == Role::Parent,
        }
    }

    fn applied_on_arrival(&self) -> bool {
        match self {
            ToMfa::Verbose(v) => crate::logging::apply_verbose(*v),
            _ => false,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            ToMfa::Filter { .. } => "Filter",
            ToMfa::Report { .. } => "Report",
            ToMfa::ReportOut { .. } => "ReportOut",
            ToMfa::Data { .. } => "Data",
            ToMfa::UpdateTable { .. } => "UpdateTable",
            ToMfa::Verbose(_) => "Verbose",
            ToMfa::Shutdown => "Shutdown",
        }
    }
}

impl HasShutdown for ToMfa {
    fn is_shutdown(&self) -> bool {
        matches!(self, ToMfa::Shutdown)
    }
}
