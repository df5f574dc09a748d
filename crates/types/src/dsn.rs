//! Delivery Status Notification parameters (RFC 3461) carried on envelopes.

use serde::{Deserialize, Serialize};

/// `NOTIFY=` of RCPT TO: when the sender wants a report. `NEVER` is the empty
/// set with `never` set; it excludes the other three (the parser refuses the
/// combination with 501/553 before an envelope is made).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DsnNotify {
    pub success: bool,
    pub failure: bool,
    pub delay: bool,
    pub never: bool,
}

impl DsnNotify {
    /// True when the client gave no NOTIFY parameter: RFC 3461 then says
    /// failures (and, at the MTA's discretion, delays) are reported.
    pub fn is_unset(&self) -> bool {
        !(self.success || self.failure || self.delay || self.never)
    }

    /// Should a failure report be sent?
    pub fn wants_failure(&self) -> bool {
        self.failure || self.is_unset()
    }

    /// Should a delay report be sent?
    pub fn wants_delay(&self) -> bool {
        self.delay || self.is_unset()
    }

    /// The RFC 3461 text form (`SUCCESS,FAILURE`), empty when unset.
    pub fn to_param(&self) -> String {
        if self.never {
            return "NEVER".into();
        }
        let mut parts = Vec::new();
        if self.success {
            parts.push("SUCCESS");
        }
        if self.failure {
            parts.push("FAILURE");
        }
        if self.delay {
            parts.push("DELAY");
        }
        parts.join(",")
    }
}

/// `RET=` of MAIL FROM: what a report carries of the original message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DsnRet {
    Full,
    Hdrs,
}

impl DsnRet {
    pub fn as_str(self) -> &'static str {
        match self {
            DsnRet::Full => "FULL",
            DsnRet::Hdrs => "HDRS",
        }
    }
}
