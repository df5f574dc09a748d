//! mbox delivery (`action … mbox`, `/var/mail/USER`) and alias or
//! `.forward` deliveries to a file (`/path/file`), both in mbox format.
//!
//! One message is appended under both locks (dot-lock and `flock`, see
//! [`lock`]). The mailbox's size is noted once locked; if anything fails
//! before the message is on disk, the file is cut back to that size, so a
//! mailbox never holds half a message. The message is flushed to disk
//! before the locks are released.
//!
//! The mailbox is opened without following symbolic links and must be a
//! regular file with a single name, so that a planted link cannot make the
//! server write elsewhere. A missing mailbox is created with mode 0600.
//! The directory holding it must exist (for `/var/mail` that is the
//! system's business, not ours).

mod lock;
mod quote;

#[cfg(test)]
mod tests;

use crate::error::DeliveryError;
use crate::headers::encode_prepend;
use lock::{dotlock, flock};
use quote::{from_line, MboxFramer};
use smtpd_types::MailAddr;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

/// Whether to take the dot-lock (`MBOX.lock`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DotLock {
    /// Take it, or fail (temporarily) if the directory refuses the lock file.
    Required,
    /// Take it if the directory lets us create files there; otherwise rely
    /// on `flock` alone. Useful where `/var/mail` is writable only by group
    /// mail and the worker is not in it.
    IfPermitted,
    /// Do not use one (`flock` only).
    Off,
}

/// How to lock a mailbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MboxOptions {
    pub dotlock: DotLock,
    /// How long to wait for both locks, in total, before giving up
    /// (temporarily).
    pub lock_timeout: Duration,
    /// A dot-lock not modified for this long is taken to be left over by a
    /// crashed process, and removed.
    pub stale_lock_age: Duration,
}

impl Default for MboxOptions {
    /// Dot-lock if permitted, wait up to a minute, break dot-locks older
    /// than five minutes (Postfix uses 500 s, procmail 17 min).
    fn default() -> Self {
        MboxOptions {
            dotlock: DotLock::IfPermitted,
            lock_timeout: Duration::from_secs(60),
            stale_lock_age: Duration::from_secs(300),
        }
    }
}

/// Append a message to the mailbox at `path` (absolute): a `From ` line
/// naming `sender` (`MAILER-DAEMON` for `<>`), the `prepend` header lines,
/// the message with `>From ` quoting, and a blank line.
pub fn deliver_mbox(
    path: &Path,
    sender: Option<&MailAddr>,
    opts: &MboxOptions,
    prepend: &[String],
    message: &mut dyn Read,
) -> Result<(), DeliveryError> {
    deliver(
        path,
        sender,
        opts,
        prepend,
        message,
        Target::Mailbox,
        &plain_sink,
    )
}

/// Append a message to a file named by an alias or a `.forward` entry
/// (`/path/file`), in the same format and with the same care as
/// [`deliver_mbox`]. The one difference: the file may also be a character
/// device, so that the common alias to `/dev/null` works (written to
/// without locking or truncation, which devices do not support).
pub fn append_to_file(
    path: &Path,
    sender: Option<&MailAddr>,
    opts: &MboxOptions,
    prepend: &[String],
    message: &mut dyn Read,
) -> Result<(), DeliveryError> {
    deliver(
        path,
        sender,
        opts,
        prepend,
        message,
        Target::File,
        &plain_sink,
    )
}

/// What may be at the end of the path.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Mailbox,
    File,
}

/// Makes the writer the message goes through. Normally the file itself;
/// tests put a failing writer here to check that the mailbox is restored.
type SinkMaker = dyn for<'f> Fn(&'f File) -> Box<dyn Write + 'f>;

fn plain_sink(file: &File) -> Box<dyn Write + '_> {
    Box::new(file)
}

fn deliver(
    path: &Path,
    sender: Option<&MailAddr>,
    opts: &MboxOptions,
    prepend: &[String],
    message: &mut dyn Read,
    target: Target,
    sink: &SinkMaker,
) -> Result<(), DeliveryError> {
    if !path.is_absolute() {
        return Err(DeliveryError::RelativePath {
            path: path.to_path_buf(),
        });
    }
    let head = encode_prepend(prepend)?;
    let separator = from_line(&crate::context::mbox_from(sender), &chrono::Local::now());

    let file = open_mailbox(path)?;
    let meta = file
        .metadata()
        .map_err(|e| DeliveryError::io(format!("stat {}", path.display()), e))?;
    let kind = meta.file_type();
    if target == Target::File && kind.is_char_device() {
        let mut out = &file;
        return write_message(&mut out, &separator, &head, message, path);
    }
    if !kind.is_file() {
        return Err(DeliveryError::NotRegularFile {
            path: path.to_path_buf(),
        });
    }
    if meta.nlink() > 1 {
        return Err(DeliveryError::HardLinked {
            path: path.to_path_buf(),
            links: meta.nlink(),
        });
    }
    // The worker runs as the recipient: a mailbox it did not create and
    // does not own is someone else's trap (mail.local refuses it too).
    let me = nix::unistd::geteuid().as_raw();
    if target == Target::Mailbox && meta.uid() != me {
        return Err(DeliveryError::WrongOwner {
            path: path.to_path_buf(),
            owner: meta.uid(),
            expected: me,
        });
    }

    let deadline = Instant::now() + opts.lock_timeout;
    // Held until the end of this function, released after the fsync.
    let _dot = dotlock(path, opts.dotlock, deadline, opts.stale_lock_age)?;
    let file = flock(file, path, deadline)?;

    let original_len = file
        .metadata()
        .map_err(|e| DeliveryError::io(format!("stat {}", path.display()), e))?
        .len();
    let mut out = sink(&file);
    let written = write_message(&mut *out, &separator, &head, message, path).and_then(|()| {
        file.sync_all()
            .map_err(|e| DeliveryError::io(format!("fsync {}", path.display()), e))
    });
    drop(out);
    if let Err(e) = written {
        // Cut the mailbox back to its size before this delivery. Should even
        // that fail, say so: the mailbox needs a human.
        if let Err(t) = file.set_len(original_len).and_then(|()| file.sync_all()) {
            return Err(DeliveryError::io(
                format!(
                    "{}; cutting {} back to {original_len} bytes failed too",
                    e.reason(),
                    path.display()
                ),
                t,
            ));
        }
        return Err(e);
    }
    Ok(())
}
/// Open (or create, 0600) the mailbox for appending, refusing a symbolic
/// link. `O_NONBLOCK` keeps a FIFO planted at the path from blocking us.
fn open_mailbox(path: &Path) -> Result<File, DeliveryError> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => DeliveryError::Symlink {
                path: path.to_path_buf(),
            },
            _ => DeliveryError::io(format!("open {}", path.display()), e),
        })
}

/// Write one framed message.
fn write_message(
    out: &mut dyn Write,
    separator: &str,
    head: &[u8],
    message: &mut dyn Read,
    path: &Path,
) -> Result<(), DeliveryError> {
    let werr = |e| DeliveryError::io(format!("write {}", path.display()), e);
    let mut framer = MboxFramer::new(out, separator);
    framer.push(head).map_err(werr)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match message.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DeliveryError::io("read message", e)),
        };
        framer.push(&buf[..n]).map_err(werr)?;
    }
    framer.finish().map_err(werr)
}
