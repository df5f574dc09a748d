//! The queue: where messages and their envelopes wait until they are
//! delivered, bounced or expired (the seed's §3.2.2 and §4.1).
//!
//! - [`QueueBackend`] is what the queue process drives: transactional
//!   message creation with fd passing, envelope load/update/delete, a walk
//!   to rebuild the scheduler at start, and group commit.
//! - [`FsQueue`] keeps OpenSMTPD's spool layout and envelope files, with a
//!   stronger promise than OpenSMTPD: nothing is acknowledged before it is
//!   on stable storage.
//! - [`RamQueue`] keeps everything in memory, for tests and throwaway
//!   setups.
//! - [`envelope_file`] reads and writes OpenSMTPD's version-3 envelope files.
//! - [`SpoolReader`] reads an fs spool without changing anything (smtpctl
//!   with the daemon down).

pub mod backend;
pub mod envelope_file;
pub mod error;
pub mod fs;
pub mod ram;

pub use backend::{FinishedCommit, PendingCommit, QueueBackend, Walk};
pub use error::QueueError;
pub use fs::{FsOptions, FsQueue, SpoolReader, SyncMode};
pub use ram::RamQueue;
