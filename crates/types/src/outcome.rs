//! The outcome of a delivery attempt, and RFC 3463 enhanced status codes.
//!
//! Outcomes are data, not errors: a refused message is a normal event that
//! the queue records and the scheduler acts on.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An RFC 3463 enhanced status code, `class.subject.detail` (e.g. `5.1.1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EnhancedStatus {
    pub class: u8,
    pub subject: u16,
    pub detail: u16,
}

impl EnhancedStatus {
    pub const fn new(class: u8, subject: u16, detail: u16) -> Self {
        EnhancedStatus {
            class,
            subject,
            detail,
        }
    }

    /// Parse `X.Y.Z`, where X is 2, 4 or 5.
    pub fn parse(s: &str) -> Option<Self> {
        let mut it = s.split('.');
        let class: u8 = it.next()?.parse().ok()?;
        let subject: u16 = it.next()?.parse().ok()?;
        let detail: u16 = it.next()?.parse().ok()?;
        if it.next().is_some() || !matches!(class, 2 | 4 | 5) || subject > 999 || detail > 999 {
            return None;
        }
        Some(EnhancedStatus::new(class, subject, detail))
    }
}

impl fmt::Display for EnhancedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// What became of one envelope's delivery attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryOutcome {
    /// Delivered (or accepted by the next hop): the envelope is removed.
    Ok,
    /// Try again later; the envelope stays in the queue.
    TempFail {
        status: EnhancedStatus,
        reason: String,
    },
    /// Never going to work: the envelope is bounced to its sender.
    PermFail {
        status: EnhancedStatus,
        reason: String,
    },
    /// The message is looping (too many hops, or a delivery to ourselves).
    Loop { reason: String },
}

impl DeliveryOutcome {
    pub fn tempfail(status: EnhancedStatus, reason: impl Into<String>) -> Self {
        DeliveryOutcome::TempFail {
            status,
            reason: reason.into(),
        }
    }

    pub fn permfail(status: EnhancedStatus, reason: impl Into<String>) -> Self {
        DeliveryOutcome::PermFail {
            status,
            reason: reason.into(),
        }
    }

    /// The word OpenSMTPD's `delivery` log lines use for this outcome.
    pub fn result_word(&self) -> &'static str {
        match self {
            DeliveryOutcome::Ok => "Ok",
            DeliveryOutcome::TempFail { .. } => "TempFail",
            DeliveryOutcome::PermFail { .. } => "PermFail",
            DeliveryOutcome::Loop { .. } => "Loop",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enhanced_status_round_trip() {
        let s = EnhancedStatus::parse("5.1.1").unwrap();
        assert_eq!(s.to_string(), "5.1.1");
        assert!(EnhancedStatus::parse("3.1.1").is_none());
        assert!(EnhancedStatus::parse("5.1").is_none());
        assert!(EnhancedStatus::parse("5.1.1.1").is_none());
    }
}
