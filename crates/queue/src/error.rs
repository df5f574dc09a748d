//! What can go wrong in a queue backend.

use crate::envelope_file::{DecodeError, EncodeError};
use smtpd_types::{EvpId, MsgId};
use std::io;
use std::path::PathBuf;

/// A queue operation failed. For a commit, any error means the message was
/// cancelled as a whole: nothing of it stays in the queue.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("message {0} is not an open incoming message")]
    NotIncoming(MsgId),
    #[error("message {0} is not in the queue")]
    MessageNotFound(MsgId),
    #[error("envelope {0} is not in the queue")]
    EnvelopeNotFound(EvpId),
    #[error("envelope {0} already exists")]
    EnvelopeExists(EvpId),
    #[error("envelope {evpid} does not belong to message {msgid}")]
    WrongMessage { msgid: MsgId, evpid: EvpId },
    #[error("message {0} was committed without envelopes")]
    NoEnvelopes(MsgId),
    #[error("message {0} has no content (it was never opened for writing, or it was lost)")]
    NoContent(MsgId),
    #[error("no free message id found")]
    IdsExhausted,
    #[error("envelope {evpid} cannot be stored: {source}")]
    Encode {
        evpid: EvpId,
        #[source]
        source: EncodeError,
    },
    #[error("envelope {evpid} is corrupt: {source}")]
    Corrupt {
        evpid: EvpId,
        #[source]
        source: DecodeError,
    },
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A memory-backed file could not be made (ram backend).
    #[error("{op}: {source}")]
    Sys {
        op: &'static str,
        #[source]
        source: nix::Error,
    },
}

impl QueueError {
    /// An I/O error on `path` during `op`.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| QueueError::Io { op, path, source }
    }

    /// A copy of this error for another message of the same commit batch
    /// that a shared step failed for (`io::Error` is not `Clone`).
    pub(crate) fn duplicate(&self) -> Self {
        match self {
            QueueError::Io { op, path, source } => QueueError::Io {
                op,
                path: path.clone(),
                source: io::Error::new(source.kind(), source.to_string()),
            },
            QueueError::Sys { op, source } => QueueError::Sys {
                op,
                source: *source,
            },
            QueueError::NotIncoming(m) => QueueError::NotIncoming(*m),
            QueueError::MessageNotFound(m) => QueueError::MessageNotFound(*m),
            QueueError::EnvelopeNotFound(e) => QueueError::EnvelopeNotFound(*e),
            QueueError::EnvelopeExists(e) => QueueError::EnvelopeExists(*e),
            QueueError::WrongMessage { msgid, evpid } => QueueError::WrongMessage {
                msgid: *msgid,
                evpid: *evpid,
            },
            QueueError::NoEnvelopes(m) => QueueError::NoEnvelopes(*m),
            QueueError::NoContent(m) => QueueError::NoContent(*m),
            QueueError::IdsExhausted => QueueError::IdsExhausted,
            QueueError::Encode { evpid, source } => QueueError::Encode {
                evpid: *evpid,
                source: source.clone(),
            },
            QueueError::Corrupt { evpid, source } => QueueError::Corrupt {
                evpid: *evpid,
                source: source.clone(),
            },
        }
    }
}
