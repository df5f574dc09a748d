//! Why a delivery failed, and what the queue should do about it.
//!
//! Every method returns `Result<_, DeliveryError>`. The error carries enough
//! to decide the envelope's fate without looking at its text: whether trying
//! again can help ([`Severity`]), the RFC 3463 enhanced status to record and
//! report, and a one-line reason for logs, `smtpctl show queue` and bounces.
//!
//! # Policy
//!
//! The server promises never to lose a message, so anything an administrator
//! can fix is **temporary**: the envelope stays queued until it expires.
//!
//! | cause | severity | status |
//! |---|---|---|
//! | disk full, quota exceeded (`ENOSPC`, `EDQUOT`) | temporary | 4.2.2 |
//! | I/O error (`EIO`), out of memory, too many files, read-only fs | temporary | 4.3.0 |
//! | permission denied, no such directory, not a directory | temporary | 4.3.5 (misconfiguration) |
//! | mailbox is a symlink, a hard link or not a regular file | temporary | 4.3.5 |
//! | mailbox locked for too long | temporary | 4.2.0 |
//! | path too long, invalid argument | permanent | 5.3.0 (retrying cannot help) |
//! | unknown `errno` | temporary | 4.3.0 |
//! | program exit 0 / 71 / 75 / killed / timed out | ok / temp / temp / temp / temp | 4.3.0 |
//! | program exit other | permanent | per `sysexits.h` (see [`crate::mda`]) |
//! | LMTP 4xx / 5xx reply | temporary / permanent | the reply's enhanced code, else `X.0.0` |
//! | LMTP connection or protocol trouble | temporary | 4.4.1, 4.4.2 or 4.5.0 |
//! | LMTP destination that does not parse | temporary | 4.3.5 |
//! | address with control characters (cannot be sent) | permanent | 5.1.3 |
//! | header line to prepend that is not one header line | permanent | 5.6.0 |
//! | format specifier syntax in the config | temporary | 4.3.5 |
//! | format specifier that does not fit this recipient | permanent | 5.3.0 |
//!
//! Permission problems are temporary (as in OpenSMTPD's `mail.maildir`, which
//! exits `EX_TEMPFAIL` for them): they are nearly always a mistake in the
//! setup, and bouncing every message until it is noticed would be worse
//! than keeping them queued.

use crate::format::FormatError;
use crate::lmtp::Reply;
use smtpd_types::{DeliveryOutcome, EnhancedStatus};
use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Whether trying the same delivery again later can succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Keep the envelope and retry (OpenSMTPD's TempFail).
    Temporary,
    /// Give up and report to the sender (OpenSMTPD's PermFail).
    Permanent,
}

/// Longest reason kept, in characters: enough for any sensible error line,
/// short enough for an envelope file and a log line.
const MAX_REASON: usize = 512;

/// A failed delivery.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// A system call failed; its `errno` decides the severity.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// The mailbox stayed locked by someone else for the whole wait.
    #[error("{}: mailbox is locked by another process", path.display())]
    Locked { path: PathBuf },
    /// The mailbox path is a symbolic link (refused: it could point anywhere).
    #[error("{}: refusing to deliver through a symbolic link", path.display())]
    Symlink { path: PathBuf },
    /// The mailbox path exists but is not a regular file.
    #[error("{}: not a regular file", path.display())]
    NotRegularFile { path: PathBuf },
    /// The mailbox file has other names (a hard link could make us write
    /// into a file its owner never meant to receive mail).
    #[error("{}: mailbox has {links} hard links", path.display())]
    HardLinked { path: PathBuf, links: u64 },
    /// An existing mailbox belongs to someone else: in a world-writable
    /// spool another user could have made it to catch this user's mail.
    #[error("{}: mailbox belongs to uid {owner}, not to the recipient (uid {expected})", path.display())]
    WrongOwner {
        path: PathBuf,
        owner: u32,
        expected: u32,
    },
    /// Delivery paths must be absolute: the worker's directory is not ours to
    /// assume.
    #[error("{}: delivery path is not absolute", path.display())]
    RelativePath { path: PathBuf },
    /// A header line given to prepend is not a single header line.
    #[error("invalid header line to prepend: {line:?}")]
    BadHeader { line: String },
    /// The delivery program exited with a non-zero status.
    #[error("program exited with status {code}{}", tail(last_line))]
    ProgramExit {
        code: i32,
        last_line: Option<String>,
    },
    /// The delivery program was killed by a signal (not by us).
    #[error("program killed by signal {signal}{}", tail(last_line))]
    ProgramKilled {
        signal: i32,
        last_line: Option<String>,
    },
    /// The delivery program ran longer than allowed and was killed.
    #[error("program timed out after {}s{}", after.as_secs(), tail(last_line))]
    ProgramTimeout {
        after: Duration,
        last_line: Option<String>,
    },
    /// An LMTP destination that is neither `host:port` nor a socket path.
    #[error("invalid LMTP destination {dest:?}")]
    BadDestination { dest: String },
    /// An address with characters that cannot go into an SMTP command.
    #[error("address not usable in a command: {addr:?}")]
    BadAddress { addr: String },
    /// The LMTP server refused at some step of the transaction.
    #[error("{stage}: {reply}")]
    Rejected { stage: &'static str, reply: Reply },
    /// The LMTP server said something that makes no sense at this point.
    #[error("{stage}: protocol error: {detail}")]
    Protocol { stage: &'static str, detail: String },
    /// A format specifier in a path or command could not be expanded.
    #[error(transparent)]
    Format(#[from] FormatError),
}

fn tail(line: &Option<String>) -> String {
    match line {
        Some(l) => format!(": {l}"),
        None => String::new(),
    }
}

impl DeliveryError {
    /// Wrap an I/O error with what was being done (usually including a path).
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        DeliveryError::Io {
            context: context.into(),
            source,
        }
    }

    /// Whether a later retry can succeed.
    pub fn severity(&self) -> Severity {
        if self.status().class == 5 {
            Severity::Permanent
        } else {
            Severity::Temporary
        }
    }

    pub fn is_temporary(&self) -> bool {
        self.severity() == Severity::Temporary
    }

    /// The RFC 3463 enhanced status for this failure (class 4 or 5).
    pub fn status(&self) -> EnhancedStatus {
        use DeliveryError::*;
        match self {
            Io { source, .. } => io_status(source),
            Locked { .. } => EnhancedStatus::new(4, 2, 0),
            Symlink { .. }
            | NotRegularFile { .. }
            | HardLinked { .. }
            | WrongOwner { .. }
            | RelativePath { .. } => EnhancedStatus::new(4, 3, 5),
            BadHeader { .. } => EnhancedStatus::new(5, 6, 0),
            BadDestination { .. } => EnhancedStatus::new(4, 3, 5),
            BadAddress { .. } => EnhancedStatus::new(5, 1, 3),
            ProgramExit { code, .. } => crate::mda::exit_status(*code),
            ProgramKilled { .. } | ProgramTimeout { .. } => EnhancedStatus::new(4, 3, 0),
            Rejected { reply, .. } => reply.delivery_status(),
            Protocol { .. } => EnhancedStatus::new(4, 5, 0),
            Format(e) if e.is_config_error() => EnhancedStatus::new(4, 3, 5),
            Format(_) => EnhancedStatus::new(5, 3, 0),
        }
    }

    /// The reason as one line (no CR or LF, at most 512 characters).
    pub fn reason(&self) -> String {
        one_line(&self.to_string())
    }

    /// The outcome the queue records for this failure.
    pub fn to_outcome(&self) -> DeliveryOutcome {
        match self.severity() {
            Severity::Temporary => DeliveryOutcome::tempfail(self.status(), self.reason()),
            Severity::Permanent => DeliveryOutcome::permfail(self.status(), self.reason()),
        }
    }
}

impl From<DeliveryError> for DeliveryOutcome {
    fn from(e: DeliveryError) -> Self {
        e.to_outcome()
    }
}

/// The outcome of a delivery method's result: `Ok` for success, whatever it
/// returned.
pub fn outcome_of<T>(result: &Result<T, DeliveryError>) -> DeliveryOutcome {
    match result {
        Ok(_) => DeliveryOutcome::Ok,
        Err(e) => e.to_outcome(),
    }
}

/// Squash a text onto one printable line of bounded length.
pub(crate) fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_REASON));
    for (n, c) in s.chars().enumerate() {
        if n == MAX_REASON {
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out.trim().to_string()
}

/// The enhanced status for a system error. Network errors appear here too,
/// from the LMTP client.
fn io_status(e: &io::Error) -> EnhancedStatus {
    if let Some(errno) = e.raw_os_error() {
        match errno {
            libc::ENOSPC | libc::EDQUOT => return EnhancedStatus::new(4, 2, 2),
            libc::EACCES | libc::EPERM | libc::ENOENT | libc::ENOTDIR => {
                return EnhancedStatus::new(4, 3, 5)
            }
            libc::ELOOP => return EnhancedStatus::new(4, 3, 5),
            libc::ENAMETOOLONG | libc::EINVAL => return EnhancedStatus::new(5, 3, 0),
            libc::ECONNREFUSED | libc::EHOSTUNREACH | libc::ENETUNREACH => {
                return EnhancedStatus::new(4, 4, 1)
            }
            _ => {}
        }
    }
    match e.kind() {
        io::ErrorKind::TimedOut
        | io::ErrorKind::WouldBlock
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => EnhancedStatus::new(4, 4, 2),
        io::ErrorKind::ConnectionRefused => EnhancedStatus::new(4, 4, 1),
        _ => EnhancedStatus::new(4, 3, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(errno: i32) -> DeliveryError {
        DeliveryError::io("/x", io::Error::from_raw_os_error(errno))
    }

    #[test]
    fn errno_mapping() {
        assert_eq!(os(libc::ENOSPC).status(), EnhancedStatus::new(4, 2, 2));
        assert_eq!(os(libc::EDQUOT).status(), EnhancedStatus::new(4, 2, 2));
        assert_eq!(os(libc::EIO).status(), EnhancedStatus::new(4, 3, 0));
        assert_eq!(os(libc::EACCES).status(), EnhancedStatus::new(4, 3, 5));
        assert_eq!(os(libc::ENOENT).status(), EnhancedStatus::new(4, 3, 5));
        assert!(os(libc::EIO).is_temporary());
        assert_eq!(os(libc::ENAMETOOLONG).severity(), Severity::Permanent);
        assert_eq!(os(libc::EXDEV).status(), EnhancedStatus::new(4, 3, 0));
    }

    #[test]
    fn outcome_conversion() {
        let o: DeliveryOutcome = os(libc::ENOSPC).into();
        match o {
            DeliveryOutcome::TempFail { status, reason } => {
                assert_eq!(status.to_string(), "4.2.2");
                assert!(reason.starts_with("/x: "), "{reason}");
            }
            other => panic!("unexpected {other:?}"),
        }
        let e = DeliveryError::ProgramExit {
            code: 1,
            last_line: Some("no such user".into()),
        };
        assert_eq!(
            e.to_outcome(),
            DeliveryOutcome::permfail(
                EnhancedStatus::new(5, 3, 0),
                "program exited with status 1: no such user"
            )
        );
        assert_eq!(outcome_of::<()>(&Ok(())), DeliveryOutcome::Ok);
    }

    #[test]
    fn reason_is_one_line() {
        let e = DeliveryError::BadHeader {
            line: "a\r\nb".into(),
        };
        let r = e.reason();
        assert!(!r.contains('\n') && !r.contains('\r'));
        let long = DeliveryError::io("x".repeat(2000), io::Error::from_raw_os_error(libc::EIO));
        assert_eq!(long.reason().chars().count(), MAX_REASON);
    }
}
