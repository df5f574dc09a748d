//! Every Maildir under one directory (one per recipient, named by the
//! local part, as `maildir "{DIR}/maildirs/%{dest.user:lowercase}"` makes
//! them), and waiting for mail to land there.

#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{mailbox, read_dir_names};

/// (Maildir name, message) for every message delivered under `root`.
pub fn all(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut names = read_dir_names(root);
    names.sort();
    let mut out = Vec::new();
    for n in names {
        for m in mailbox::maildir(&root.join(&n)) {
            out.push((n.clone(), m));
        }
    }
    out
}

/// Wait until some delivered message satisfies `pred`; returns the
/// Maildir it is in.
pub fn wait_for(root: &Path, timeout: Duration, pred: impl Fn(&[u8]) -> bool) -> Option<String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some((n, _)) = all(root).into_iter().find(|(_, m)| pred(m)) {
            return Some(n);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Does `hay` contain `needle`?
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}
