//! Looking into a server's spool (the fs queue layout): committed
//! messages, their envelope files, and what is left in `incoming/`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The directories of committed messages: `spool/queue/XX/MSGID`.
pub fn queued_messages(spool: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(buckets) = std::fs::read_dir(spool.join("queue")) else {
        return out;
    };
    for b in buckets.flatten() {
        if let Ok(msgs) = std::fs::read_dir(b.path()) {
            out.extend(msgs.flatten().map(|m| m.path()));
        }
    }
    out.sort();
    out
}

/// The envelope files of committed messages (every file of a message
/// directory but `message`).
pub fn queued_envelopes(spool: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for m in queued_messages(spool) {
        if let Ok(rd) = std::fs::read_dir(&m) {
            out.extend(
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.file_name().is_some_and(|n| n != "message")),
            );
        }
    }
    out.sort();
    out
}

/// Every entry of `spool/incoming/`, pooled empty messages included.
pub fn incoming_all(spool: &Path) -> Vec<String> {
    super::read_dir_names(&spool.join("incoming"))
}

/// The incoming messages that hold something: content or envelopes. The
/// smtp process keeps a few empty messages created ahead of need (its
/// pool); those are not leftovers of a transaction.
pub fn incoming(spool: &Path) -> Vec<String> {
    let dir = spool.join("incoming");
    super::read_dir_names(&dir)
        .into_iter()
        .filter(|name| {
            // Pooled: only an empty `message` (and, for a recycled
            // directory, an empty spare envelope file).
            let m = dir.join(name);
            let pooled = super::read_dir_names(&m).iter().all(|f| {
                (f == "message" || f == "spare-envelope")
                    && std::fs::metadata(m.join(f))
                        .map(|md| md.len() == 0)
                        .unwrap_or(true)
            });
            !pooled
        })
        .collect()
}

/// An envelope file's `key: value` fields.
pub fn envelope_fields(path: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The message content of a committed message directory.
pub fn message_of(msg_dir: &Path) -> Vec<u8> {
    std::fs::read(msg_dir.join("message")).unwrap_or_default()
}
