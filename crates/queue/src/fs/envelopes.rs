//! Envelopes of queued messages: load, update, add, delete.

use super::commit::rename_noreplace;
use super::layout::{self, Layout};
use super::{open_write, sync_dir};
use crate::envelope_file::{self, MAX_FILE_SIZE};
use crate::QueueError;
use smtpd_types::{Envelope, EvpId};
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::path::Path;

/// Read a file of at most [`MAX_FILE_SIZE`] bytes (one more is read to
/// notice a larger one, which `decode` then refuses).
fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(1024);
    File::open(path)?
        .take(MAX_FILE_SIZE as u64 + 1)
        .read_to_end(&mut buf)?;
    Ok(buf)
}

pub(super) fn load(layout: &Layout, evpid: EvpId) -> Result<Envelope, QueueError> {
    load_path(&layout.queued_evp(evpid), evpid)
}

/// Load the envelope file at `path`, named `evpid`.
pub(super) fn load_path(path: &Path, evpid: EvpId) -> Result<Envelope, QueueError> {
    let bytes = raw_path(path, evpid)?;
    envelope_file::decode(evpid, &bytes).map_err(|source| QueueError::Corrupt { evpid, source })
}

/// The bytes of a queued envelope's file, undecoded.
pub(super) fn load_raw(layout: &Layout, evpid: EvpId) -> Result<Vec<u8>, QueueError> {
    raw_path(&layout.queued_evp(evpid), evpid)
}

fn raw_path(path: &Path, evpid: EvpId) -> Result<Vec<u8>, QueueError> {
    read_bounded(path).map_err(|e| match e.kind() {
        ErrorKind::NotFound => QueueError::EnvelopeNotFound(evpid),
        _ => QueueError::io("read", path)(e),
    })
}

/// Write `env` to its scratch file and sync it, ready to be renamed in.
fn write_scratch(layout: &Layout, env: &Envelope) -> Result<std::path::PathBuf, QueueError> {
    let text = envelope_file::encode(env).map_err(|source| QueueError::Encode {
        evpid: env.id,
        source,
    })?;
    let scratch = layout.scratch_evp(env.id);
    let result = open_write(&scratch, false)
        .and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_data()
        })
        .map_err(QueueError::io("write", &scratch));
    if result.is_err() {
        let _ = std::fs::remove_file(&scratch);
    }
    result.map(|()| scratch)
}

/// Replace an existing envelope: the old file or the new one survives a
/// crash, never a mix.
pub(super) fn update(layout: &Layout, env: &Envelope) -> Result<(), QueueError> {
    let target = layout.queued_evp(env.id);
    // Never bring back an envelope that was deleted.
    if target.symlink_metadata().is_err() {
        return Err(QueueError::EnvelopeNotFound(env.id));
    }
    let scratch = write_scratch(layout, env)?;
    std::fs::rename(&scratch, &target).map_err(|e| {
        let _ = std::fs::remove_file(&scratch);
        QueueError::io("rename", &target)(e)
    })
}

/// Add a new envelope to a queued message, durably.
pub(super) fn add(layout: &Layout, env: &Envelope) -> Result<(), QueueError> {
    let msgid = env.msgid();
    let dir = layout.queued_msg(msgid);
    if !dir.join(layout::MESSAGE).exists() {
        return Err(QueueError::MessageNotFound(msgid));
    }
    let target = dir.join(env.id.to_string());
    let scratch = write_scratch(layout, env)?;
    if let Err(e) = rename_noreplace(&scratch, &target) {
        let _ = std::fs::remove_file(&scratch);
        return Err(match e.kind() {
            ErrorKind::AlreadyExists => QueueError::EnvelopeExists(env.id),
            _ => QueueError::io("rename", &target)(e),
        });
    }
    sync_dir(&dir).inspect_err(|_| {
        // Not known to be durable: take it back rather than half-add it.
        let _ = std::fs::remove_file(&target);
    })
}

/// Delete an envelope, and its message with the last one. Returns whether
/// the message went too.
pub(super) fn delete(
    layout: &Layout,
    spares: &mut super::recycle::Spares,
    evpid: EvpId,
) -> Result<bool, QueueError> {
    let msgid = evpid.msgid();
    let dir = layout.queued_msg(msgid);
    let path = dir.join(evpid.to_string());
    // One listing tells whether the envelope is there, whether it is the
    // last, and whether the directory holds anything else.
    let listing = list(&dir, evpid)?;
    if !listing.found {
        return Err(QueueError::EnvelopeNotFound(evpid));
    }
    if listing.others {
        std::fs::remove_file(&path).map_err(|e| match e.kind() {
            ErrorKind::NotFound => QueueError::EnvelopeNotFound(evpid),
            _ => QueueError::io("unlink", &path)(e),
        })?;
        return Ok(false);
    }
    // The last envelope: the message goes, its directory kept for reuse.
    spares.retire(layout, &dir, Some(&path), false, !listing.extra)?;
    Ok(true)
}

/// What a message directory holds besides its content, seen from one
/// envelope.
struct Listing {
    /// The envelope's file is there.
    found: bool,
    /// Other envelope files are there.
    others: bool,
    /// Entries that are neither envelopes nor the content.
    extra: bool,
}

fn list(dir: &Path, evpid: EvpId) -> Result<Listing, QueueError> {
    let entries = std::fs::read_dir(dir).map_err(|e| match e.kind() {
        ErrorKind::NotFound => QueueError::EnvelopeNotFound(evpid),
        _ => QueueError::io("read", dir)(e),
    })?;
    let mut l = Listing {
        found: false,
        others: false,
        extra: false,
    };
    for entry in entries {
        let entry = entry.map_err(QueueError::io("read", dir))?;
        let name = entry.file_name();
        match layout::hex_name(&name, 16) {
            Some(id) if id == evpid.0 => l.found = true,
            Some(_) => l.others = true,
            None if name == layout::MESSAGE => {}
            None => l.extra = true,
        }
    }
    Ok(l)
}

/// Does the message directory still hold an envelope file?
pub(super) fn has_envelopes(dir: &Path) -> Result<bool, QueueError> {
    let entries = std::fs::read_dir(dir).map_err(QueueError::io("read", dir))?;
    for entry in entries {
        let entry = entry.map_err(QueueError::io("read", dir))?;
        if layout::hex_name(&entry.file_name(), 16).is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}
