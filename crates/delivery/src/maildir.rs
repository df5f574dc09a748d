//! Maildir delivery (`action … maildir [path] [junk]`).
//!
//! The message is written to `tmp/` under a name no other delivery can
//! pick, flushed to disk, and renamed into `new/`; the `new/` directory is
//! then flushed too, so that the rename survives a crash. A reader of the
//! Maildir never sees a partial message, and a failure never leaves one in
//! `new/`: the temporary file is removed on every error path.
//!
//! Options, as OpenSMTPD's `mail.maildir`: `junk` files messages whose
//! header says `X-Spam: yes` into the `.Junk` folder (created as needed),
//! and a sub-address selects the folder `.TAG` if it already exists
//! (`joe+lists@` → `~/Maildir/.lists`), never creating one.

use crate::error::DeliveryError;
use crate::format::sanitize;
use crate::headers::{encode_prepend, JunkScanner};
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// How to deliver into a Maildir.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaildirOptions {
    /// File messages marked `X-Spam: yes` (or `X-Spam-Flag: yes`) in their
    /// header into the `.Junk` folder.
    pub junk: bool,
    /// The envelope's sub-address: when the folder `.EXTENSION` (sanitised)
    /// exists, the message goes there.
    pub extension: Option<String>,
}

/// Mode of the directories we create: the user's mail is the user's alone.
const DIR_MODE: u32 = 0o700;
/// Mode of message files.
const FILE_MODE: u32 = 0o600;
/// Read size when copying the message.
const CHUNK: usize = 64 * 1024;
/// How many names to try when one is somehow taken.
const NAME_ATTEMPTS: u32 = 16;

/// Deliver a message into the Maildir at `dir` (absolute; created with its
/// `cur/ new/ tmp/` as needed, mode 0700), with `prepend` header lines
/// first. Returns the path of the delivered file in `new/`.
pub fn deliver_maildir(
    dir: &Path,
    opts: &MaildirOptions,
    prepend: &[String],
    message: &mut dyn Read,
) -> Result<PathBuf, DeliveryError> {
    if !dir.is_absolute() {
        return Err(DeliveryError::RelativePath {
            path: dir.to_path_buf(),
        });
    }
    let head = encode_prepend(prepend)?;
    let junk_dir = dir.join(".Junk");
    if opts.junk {
        make_maildir(&junk_dir)?;
    }
    let folder = extension_folder(dir, opts.extension.as_deref())?;

    // The Maildir usually exists: try the file first and create the
    // directories only when it is missing (a delivery then costs no mkdir
    // or stat at all).
    let (tmp_path, name, mut file) = match create_tmp(&folder) {
        Ok(t) => t,
        Err(_) => {
            make_maildir(dir)?;
            if folder != dir {
                make_maildir(&folder)?;
            }
            create_tmp(&folder)?
        }
    };
    let written = write_message(&mut file, &tmp_path, &head, message, opts.junk);
    drop(file);
    let is_junk = match written {
        Ok(j) => j,
        Err(e) => {
            let _ = fs::remove_file(&tmp_path);
            return Err(e);
        }
    };
    let new_dir = if is_junk { junk_dir } else { folder }.join("new");
    let final_path = new_dir.join(&name);
    let mut renamed = fs::rename(&tmp_path, &final_path);
    if matches!(&renamed, Err(e) if e.kind() == io::ErrorKind::NotFound) && tmp_path.exists() {
        // `tmp/` was there but not `new/`: complete the Maildir, try again.
        make_maildir(new_dir.parent().unwrap_or(dir))?;
        renamed = fs::rename(&tmp_path, &final_path);
    }
    if let Err(e) = renamed {
        let _ = fs::remove_file(&tmp_path);
        return Err(DeliveryError::io(
            format!("rename {} to {}", tmp_path.display(), final_path.display()),
            e,
        ));
    }
    // Without this the rename may not survive a crash. If it fails, the
    // message may or may not be on disk: take it back and let the queue
    // retry, since a duplicate is better than a loss.
    if let Err(e) = sync_dir(&new_dir) {
        let _ = fs::remove_file(&final_path);
        return Err(e);
    }
    Ok(final_path)
}

/// Write the prepended lines and the message, and flush them to disk.
/// Returns whether the header marked the message as junk.
fn write_message(
    file: &mut File,
    path: &Path,
    head: &[u8],
    message: &mut dyn Read,
    watch_junk: bool,
) -> Result<bool, DeliveryError> {
    let werr = |e| DeliveryError::io(format!("write {}", path.display()), e);
    let mut scanner = JunkScanner::new();
    file.write_all(head).map_err(werr)?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match message.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DeliveryError::io("read message", e)),
        };
        if watch_junk {
            scanner.feed(&buf[..n]);
        }
        file.write_all(&buf[..n]).map_err(werr)?;
    }
    file.sync_all()
        .map_err(|e| DeliveryError::io(format!("fsync {}", path.display()), e))?;
    Ok(watch_junk && scanner.is_junk())
}

/// The folder a sub-address selects, if it exists; else the Maildir itself.
fn extension_folder(dir: &Path, extension: Option<&str>) -> Result<PathBuf, DeliveryError> {
    let Some(ext) = extension.map(sanitize).filter(|e| !e.is_empty()) else {
        return Ok(dir.to_path_buf());
    };
    let sub = dir.join(format!(".{ext}"));
    if sub.is_dir() {
        make_maildir(&sub)?;
        Ok(sub)
    } else {
        Ok(dir.to_path_buf())
    }
}

/// Create a Maildir and its three subdirectories, as far as missing.
fn make_maildir(dir: &Path) -> Result<(), DeliveryError> {
    let mkerr = |p: &Path, e| DeliveryError::io(format!("create directory {}", p.display()), e);
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|e| mkerr(dir, e))?;
    for sub in ["cur", "new", "tmp"] {
        let p = dir.join(sub);
        match DirBuilder::new().mode(DIR_MODE).create(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && p.is_dir() => {}
            Err(e) => return Err(mkerr(&p, e)),
        }
    }
    Ok(())
}

/// Create a new file in `folder/tmp` under a fresh unique name.
fn create_tmp(folder: &Path) -> Result<(PathBuf, String, File), DeliveryError> {
    let mut last_err = None;
    for _ in 0..NAME_ATTEMPTS {
        let name = unique_name();
        let path = folder.join("tmp").join(&name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&path)
        {
            Ok(f) => return Ok((path, name, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some((path, e)),
            Err(e) => return Err(DeliveryError::io(format!("create {}", path.display()), e)),
        }
    }
    let (path, e) = last_err.unwrap_or_else(|| {
        (
            folder.join("tmp"),
            io::Error::from(io::ErrorKind::AlreadyExists),
        )
    });
    Err(DeliveryError::io(format!("create {}", path.display()), e))
}

/// Flush a directory's entries to disk.
fn sync_dir(dir: &Path) -> Result<(), DeliveryError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| DeliveryError::io(format!("fsync {}", dir.display()), e))
}

/// Deliveries made by this process, for unique names.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A name no other delivery can use, in the form the Maildir specification
/// recommends: `SECONDS.M<usec>P<pid>Q<seq>.HOST`. The pid and the
/// per-process sequence make it unique on this host even within one
/// microsecond; the host name makes it unique across hosts sharing the
/// Maildir.
pub fn unique_name() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    format!(
        "{}.M{}P{}Q{}.{}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        seq,
        host_part()
    )
}

/// This host's name as a Maildir file name may carry it: `/` and `:` (the
/// separator of the info suffix) are written as the specification says,
/// `\057` and `\072`.
fn host_part() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let name = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_string());
        maildir_host(&name)
    })
}

fn maildir_host(name: &str) -> String {
    name.replace('/', "\\057").replace(':', "\\072")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_escaped() {
        assert_eq!(maildir_host("a/b:c"), "a\\057b\\072c");
        assert!(!host_part().contains(['/', ':']));
    }

    #[test]
    fn names_have_the_recommended_shape() {
        let n = unique_name();
        let (secs, rest) = n.split_once(".M").unwrap();
        assert!(secs.parse::<u64>().is_ok());
        let pid = format!("P{}Q", std::process::id());
        assert!(rest.contains(&pid), "{n}");
        assert_ne!(unique_name(), unique_name());
    }
}
