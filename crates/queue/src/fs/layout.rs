//! Where things live in the spool, as OpenSMTPD lays it out:
//!
//! ```text
//! SPOOL/                       0711
//!   incoming/                  0700  messages being received
//!     MSGID/message            content written by the SMTP process
//!     MSGID/EVPID              envelopes, written at commit
//!     EVPID.tmp                an envelope being rewritten (update/add)
//!   queue/                     0700  committed messages
//!     XX/MSGID/message         XX = top byte of the msgid, 256 buckets
//!     XX/MSGID/EVPID           one file per envelope
//!   purge/                     0700  retired message directories, reused
//!     spareN/message           (truncated) for new messages: see `recycle`
//!   temporary/                 0700  kept for OpenSMTPD compatibility
//! ```
//!
//! Ownership (`_smtpq`) is the privileged parent's business; we only set
//! modes on what we create.

use crate::QueueError;
use smtpd_types::{EvpId, MsgId};
use std::fs::DirBuilder;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub(crate) const INCOMING: &str = "incoming";
pub(crate) const QUEUE: &str = "queue";
pub(crate) const MESSAGE: &str = "message";
const OTHER_DIRS: &[&str] = &["temporary", "purge"];

pub(crate) const SPOOL_MODE: u32 = 0o711;
pub(crate) const DIR_MODE: u32 = 0o700;

/// The paths of one spool.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub root: PathBuf,
    pub incoming: PathBuf,
    pub queue: PathBuf,
}

impl Layout {
    pub fn new(root: &Path) -> Self {
        Layout {
            root: root.to_path_buf(),
            incoming: root.join(INCOMING),
            queue: root.join(QUEUE),
        }
    }

    /// Create the spool and its directories where missing. Existing
    /// directories are left as they are (the parent may have set owners).
    pub fn create(&self) -> Result<(), QueueError> {
        make_dir(&self.root, SPOOL_MODE)?;
        make_dir(&self.incoming, DIR_MODE)?;
        make_dir(&self.queue, DIR_MODE)?;
        for d in OTHER_DIRS {
            make_dir(&self.root.join(d), DIR_MODE)?;
        }
        Ok(())
    }

    /// `purge/`: where retired message directories wait to be reused
    /// (see `recycle`).
    pub fn purge(&self) -> PathBuf {
        self.root.join("purge")
    }

    pub fn incoming_msg(&self, msgid: MsgId) -> PathBuf {
        self.incoming.join(msgid.to_string())
    }

    pub fn bucket(&self, bucket: u8) -> PathBuf {
        self.queue.join(format!("{bucket:02x}"))
    }

    pub fn queued_msg(&self, msgid: MsgId) -> PathBuf {
        self.bucket(msgid.bucket()).join(msgid.to_string())
    }

    pub fn queued_evp(&self, evpid: EvpId) -> PathBuf {
        self.queued_msg(evpid.msgid()).join(evpid.to_string())
    }

    /// The scratch file an envelope is rewritten in before it is renamed
    /// over its queued file. It lives in `incoming/`, which a restart
    /// purges, so a crash mid-write leaves nothing in the queue.
    pub fn scratch_evp(&self, evpid: EvpId) -> PathBuf {
        self.incoming.join(format!("{evpid}.tmp"))
    }
}

/// Create `path` with `mode` (exactly: the umask is overridden) unless it
/// exists. Returns whether it was created.
pub(crate) fn make_dir(path: &Path, mode: u32) -> Result<bool, QueueError> {
    match DirBuilder::new().mode(mode).create(path) {
        Ok(()) => {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .map_err(QueueError::io("chmod", path))?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => Ok(false),
        Err(e) => Err(QueueError::io("mkdir", path)(e)),
    }
}

/// Parse a fixed-width lower-case hex name (`%08x`, `%016x`, `%02x`), the
/// only names the queue writes; anything else in a queue directory is not
/// ours and is skipped.
pub(crate) fn hex_name(name: &std::ffi::OsStr, width: usize) -> Option<u64> {
    let s = name.to_str()?;
    if s.len() != width || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

/// Create a message directory, failing if it exists (the collision check
/// for fresh message ids).
pub(crate) fn make_dir_exclusive(path: &Path) -> std::io::Result<()> {
    DirBuilder::new().mode(DIR_MODE).create(path)
}
