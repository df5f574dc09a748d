//! The conversation between mda and a delivery worker.
//!
//! A worker is a short-lived process the parent starts for one user
//! (`smtpd -x worker`); it drops to that user's rights before doing
//! anything else, then serves deliveries sent by mda over its socket, one
//! at a time, until mda closes the socket. It is how the seed's "execute
//! the mail delivery program on behalf of the local user" scales: Maildir
//! and mbox deliveries need no new process per message.

use serde::{Deserialize, Serialize};
use smtpd_types::{DeliveryOutcome, MailAddr};

use super::UserInfo;

/// Sent by the parent before the socket is handed to mda.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkerSetup {
    pub user: UserInfo,
    /// Groups added to the user's own (the mbox directory's group).
    pub extra_groups: Vec<u32>,
    /// Started as root: switch to the user. Otherwise stay as we are.
    pub privileged: bool,
    pub verbose: bool,
    pub foreground: bool,
}

/// One delivery to make.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Method {
    Maildir {
        path: String,
        junk: bool,
        /// The sub-address: an existing `.EXTENSION` folder receives it.
        extension: Option<String>,
    },
    Mbox {
        path: String,
    },
    /// An alias or `.forward` `/path`: appended in mbox format.
    File {
        path: String,
    },
    /// `mda "cmd"` or an alias `|cmd`, run by `/bin/sh -c` in the
    /// user's home with exactly this environment.
    Command {
        command: String,
        env: Vec<(String, String)>,
        /// The recipient user's home: users sharing a uid share a worker,
        /// so the worker's own user does not say whose home it is.
        directory: String,
        timeout_secs: u64,
    },
    /// LMTP to `dest` (`host:port` or a socket path), one RCPT per entry.
    Lmtp {
        dest: String,
        lhlo: String,
        rcpts: Vec<String>,
    },
}

/// mda → worker. Carries one descriptor: the message, open for reading.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    pub id: u64,
    pub method: Method,
    /// The envelope sender (`None` = `<>`), for mbox `From ` lines and
    /// the LMTP MAIL FROM.
    pub sender: Option<MailAddr>,
    /// Header lines to put before the message (`Return-Path:`,
    /// `Delivered-To:`), each without its line end.
    pub prepend: Vec<String>,
}

/// worker → mda: one outcome per recipient (one, except for LMTP).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobDone {
    pub id: u64,
    pub outcomes: Vec<DeliveryOutcome>,
}
