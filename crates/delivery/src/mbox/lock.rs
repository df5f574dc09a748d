//! Mailbox locking: a dot-lock file (`MBOX.lock`) for the programs that use
//! that convention (mutt, procmail, mail.local, Dovecot by default), plus
//! `flock` on the mailbox itself for those that use that one. Both waits are
//! bounded; a dot-lock older than the stale age is taken to belong to a
//! crashed process and is removed.
//!
//! Both waits poll: `flock` cannot be given a timeout without signals, and
//! a dot-lock can only be polled.

use super::DotLock;
use crate::error::DeliveryError;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// First pause between two attempts; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(20);
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// A held dot-lock, removed when dropped.
#[derive(Debug)]
pub(crate) struct DotLockGuard {
    path: PathBuf,
}

impl Drop for DotLockGuard {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// The dot-lock's path: the mailbox's with `.lock` appended.
pub(crate) fn lock_path(mbox: &Path) -> PathBuf {
    let mut p = OsString::from(mbox.as_os_str());
    p.push(".lock");
    PathBuf::from(p)
}

/// Pauses between attempts until a deadline.
struct Backoff {
    deadline: Instant,
    pause: Duration,
}

impl Backoff {
    fn new(deadline: Instant) -> Self {
        Backoff {
            deadline,
            pause: FIRST_PAUSE,
        }
    }

    /// Sleep before the next attempt; `false` once the deadline is past.
    fn wait(&mut self) -> bool {
        let now = Instant::now();
        if now >= self.deadline {
            return false;
        }
        std::thread::sleep(self.pause.min(self.deadline - now));
        self.pause = (self.pause * 2).min(MAX_PAUSE);
        true
    }
}

/// Take the dot-lock of `mbox`, waiting until `deadline`. With
/// [`DotLock::IfPermitted`], a directory we may not create files in means
/// no dot-lock (`Ok(None)`), as on a `/var/mail` owned by root:mail when the
/// worker is not in group mail.
pub(crate) fn dotlock(
    mbox: &Path,
    policy: DotLock,
    deadline: Instant,
    stale_after: Duration,
) -> Result<Option<DotLockGuard>, DeliveryError> {
    if policy == DotLock::Off {
        return Ok(None);
    }
    let path = lock_path(mbox);
    let mut backoff = Backoff::new(deadline);
    loop {
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut f) => {
                // The pid helps a human find the holder; the lock works without it.
                let _ = writeln!(f, "{}", std::process::id());
                return Ok(Some(DotLockGuard { path }));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if is_stale(&path, stale_after) {
                    match fs::remove_file(&path) {
                        Ok(()) => continue,
                        Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                        Err(e) => {
                            return Err(DeliveryError::io(
                                format!("remove stale lock {}", path.display()),
                                e,
                            ))
                        }
                    }
                }
                if !backoff.wait() {
                    return Err(DeliveryError::Locked {
                        path: mbox.to_path_buf(),
                    });
                }
            }
            Err(e) if policy == DotLock::IfPermitted && not_permitted(&e) => return Ok(None),
            Err(e) => {
                return Err(DeliveryError::io(
                    format!("create lock {}", path.display()),
                    e,
                ))
            }
        }
    }
}

fn not_permitted(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS)
    )
}

/// Whether a lock file was last touched longer ago than `stale_after`. A
/// lock that vanished meanwhile is not stale (the next attempt will do).
fn is_stale(path: &Path, stale_after: Duration) -> bool {
    fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age > stale_after)
}

/// Take an exclusive `flock` on the open mailbox, waiting until `deadline`.
pub(crate) fn flock(
    file: File,
    path: &Path,
    deadline: Instant,
) -> Result<Flock<File>, DeliveryError> {
    let mut backoff = Backoff::new(deadline);
    let mut file = file;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => return Ok(locked),
            Err((f, Errno::EWOULDBLOCK)) => {
                if !backoff.wait() {
                    return Err(DeliveryError::Locked {
                        path: path.to_path_buf(),
                    });
                }
                file = f;
            }
            Err((_, errno)) => {
                return Err(DeliveryError::io(
                    format!("flock {}", path.display()),
                    io::Error::from_raw_os_error(errno as i32),
                ))
            }
        }
    }
}
