//! Recycling the inodes of delivered messages.
//!
//! Every message costs a directory, its content file and one file per
//! envelope. Deleting them after delivery and creating new ones for the next
//! message makes the file system allocate and free three inodes per
//! message. On ext4 without a journal (the root file system of the machines
//! this was measured on) every inode allocation then scans past the
//! recently freed inodes of its group, and that scan was three quarters of
//! the queue process's CPU under load (`perf`: `recently_deleted`,
//! `find_get_block_common`). Other file systems pay less, but all pay for
//! bitmap and inode table updates.
//!
//! So a message whose last envelope is deleted is not removed: its
//! directory is renamed into `purge/` (out of the queue, which only `walk`s
//! `queue/`), its content file is truncated, its last envelope file is
//! truncated and renamed to a spare name. A new incoming message then takes
//! such a directory (one rename), and its first envelope takes the spare
//! file (one rename and a write). No inode is allocated or freed in the
//! steady state. At most [`MAX_SPARES`] directories are kept; beyond that
//! they are removed as before.
//!
//! Safety: a spare directory is never in `queue/`, so a crash at any point
//! cannot make it look queued; the content is truncated before the
//! directory is offered for reuse; at start every leftover in `purge/` is
//! truncated (or removed) before use.

use super::layout::{Layout, MESSAGE};
use crate::QueueError;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

/// The most spare message directories kept.
pub(crate) const MAX_SPARES: usize = 512;

/// The name a spare envelope file has inside a spare directory (not a hex
/// name, so no scan of the queue ever takes it for an envelope).
pub(crate) const SPARE_FILE: &str = "spare-envelope";

/// A message directory waiting in `purge/` for its next message (with an
/// empty `message` and, usually, an empty spare envelope file).
#[derive(Debug)]
pub(crate) struct Spare {
    pub dir: PathBuf,
}

/// The spare directories of a queue.
#[derive(Debug, Default)]
pub(crate) struct Spares {
    free: Vec<Spare>,
    next: u64,
}

impl Spares {
    /// Take the spares left in `purge/` by a previous run: truncate their
    /// files (a crash may have left content) and keep up to `MAX_SPARES`;
    /// remove anything else.
    pub fn reload(layout: &Layout) -> Spares {
        let mut s = Spares::default();
        let Ok(entries) = std::fs::read_dir(layout.purge()) else {
            return s;
        };
        for e in entries.flatten() {
            let path = e.path();
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            let spare = is_dir
                && e.file_name()
                    .to_str()
                    .is_some_and(|n| n.starts_with("spare"))
                && s.free.len() < MAX_SPARES
                && clean(&path).is_ok();
            if spare {
                s.free.push(Spare { dir: path });
            } else if is_dir {
                let _ = std::fs::remove_dir_all(&path);
            } else {
                let _ = std::fs::remove_file(&path);
            }
        }
        s.next = s.free.len() as u64 + 1;
        s
    }

    /// A spare directory for a new message, if one is waiting.
    pub fn take(&mut self) -> Option<Spare> {
        self.free.pop()
    }

    /// Put back a spare that could not be used (its rename failed).
    pub fn put_back(&mut self, s: Spare) {
        self.free.push(s);
    }

    /// Retire the message directory `dir` (out of `queue/` or `incoming/`)
    /// whose envelope file `last` is the only one left (or `None`): keep it
    /// as a spare, or remove it when there are enough.
    pub fn retire(
        &mut self,
        layout: &Layout,
        dir: &Path,
        last: Option<&Path>,
    ) -> Result<(), QueueError> {
        if self.free.len() >= MAX_SPARES {
            return std::fs::remove_dir_all(dir).map_err(QueueError::io("remove", dir));
        }
        // Out of the queue first: from here on a crash leaves a spare, not
        // a message.
        let target = loop {
            let t = layout.purge().join(format!("spare{}", self.next));
            self.next += 1;
            if !t.exists() {
                break t;
            }
        };
        std::fs::rename(dir, &target).map_err(QueueError::io("rename", dir))?;
        if let Some(last) = last.and_then(|p| p.file_name()) {
            // Kept as the next message's first envelope file; if the rename
            // fails, `clean` removes it.
            let _ = std::fs::rename(target.join(last), target.join(SPARE_FILE));
        }
        if clean(&target).is_err() {
            let _ = std::fs::remove_dir_all(&target);
            return Ok(());
        }
        self.free.push(Spare { dir: target });
        Ok(())
    }
}

/// Empty a spare directory's files (content must not linger) and remove
/// anything but the content and the spare envelope.
fn clean(dir: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        let path = e.path();
        if name == MESSAGE || name == SPARE_FILE {
            OpenOptions::new().write(true).open(&path)?.set_len(0)?;
        } else if e.file_type()?.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}
