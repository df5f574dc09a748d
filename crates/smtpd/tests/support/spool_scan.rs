//! Looking into the spool for envelopes queued for relaying: a message
//! accepted for an outside recipient leaves an envelope file with a
//! `type: mta` line (OpenSMTPD's version-3 format) from the moment its 250
//! is sent until the relay succeeds, so reading the spool right after the
//! 250 catches an open relay even before the relaying code exists.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Envelope files under `spool` (any depth) whose type is `mta`, with the
/// recipient each names.
pub fn relay_envelopes(spool: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut todo = vec![spool.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                todo.push(p);
            } else if meta.len() <= 64 * 1024 {
                let Ok(text) = std::fs::read_to_string(&p) else {
                    continue;
                };
                let mut is_mta = false;
                let mut rcpt = String::new();
                for line in text.lines() {
                    let Some((k, v)) = line.split_once(':') else {
                        continue;
                    };
                    match k.trim().to_ascii_lowercase().as_str() {
                        "type" => is_mta = v.trim().eq_ignore_ascii_case("mta"),
                        "rcpt" | "dest" if rcpt.is_empty() => rcpt = v.trim().to_string(),
                        _ => {}
                    }
                }
                if is_mta {
                    out.push((p, rcpt));
                }
            }
        }
    }
    out
}
