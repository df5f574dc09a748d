//! Reading delivered mail back.

use std::path::Path;

/// The messages in a Maildir's `new/` (and `cur/`), oldest name first.
pub fn maildir(dir: &Path) -> Vec<Vec<u8>> {
    let mut names: Vec<std::path::PathBuf> = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(rd) = std::fs::read_dir(dir.join(sub)) {
            for e in rd.flatten() {
                names.push(e.path());
            }
        }
    }
    names.sort();
    names
        .into_iter()
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

/// Count the messages in a Maildir.
pub fn maildir_count(dir: &Path) -> usize {
    maildir(dir).len()
}
