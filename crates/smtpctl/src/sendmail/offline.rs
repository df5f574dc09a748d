//! OpenSMTPD's offline queue, sendmail's side: when the daemon is not
//! running, the message is written to `SPOOL/offline/` (mode 01777 on a
//! privileged server: any user may drop a file, only its owner may remove
//! it) as a file of our own, mode 0600. The daemon replays each at start
//! as the user who owns it (`smtpd`'s `parent/offline.rs`).
//!
//! Format (OpenSMTPD's): the sendmail arguments joined by `|` on the
//! first line, then the input exactly as read. The file is written under
//! a dot name and renamed when complete: the daemon skips dot names, so it
//! never replays half a message.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Why the message could not be dropped offline.
#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    /// An argument the one-line format cannot carry.
    #[error("argument {0:?} contains '|' or a line break: cannot queue it offline")]
    BadArgument(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The directory offline messages go to in `spool`.
pub fn dir(spool: &Path) -> PathBuf {
    spool.join("offline")
}

/// Write `input` and `args` to a new file in `spool`'s offline directory;
/// its path.
pub fn write(spool: &Path, args: &[String], input: &[u8]) -> Result<PathBuf, OfflineError> {
    if let Some(bad) = args.iter().find(|a| a.contains(['|', '\n', '\r'])) {
        return Err(OfflineError::BadArgument(bad.clone()));
    }
    let dir = dir(spool);
    let name = format!(
        "{}.{}.{:08x}",
        chrono::Utc::now().timestamp(),
        std::process::id(),
        rand::random::<u32>()
    );
    let tmp = dir.join(format!(".{name}"));
    let path = dir.join(&name);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| OfflineError::Io { path, source }
    };
    // create_new: never through a link someone left, never over a file.
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    let written = (|| {
        f.write_all(args.join("|").as_bytes())?;
        f.write_all(b"\n")?;
        f.write_all(input)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(&path)(e));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_holds_the_arguments_then_the_input() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir(tmp.path())).unwrap();
        let args = vec!["-t".to_string(), "joe@example.org".to_string()];
        let p = write(tmp.path(), &args, b"Subject: x\n\nbody\n").unwrap();
        assert_eq!(
            std::fs::read(&p).unwrap(),
            b"-t|joe@example.org\nSubject: x\n\nbody\n"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // Nothing half-written is left behind.
        assert_eq!(std::fs::read_dir(dir(tmp.path())).unwrap().count(), 1);
        let bad = vec!["a|b".to_string()];
        assert!(matches!(
            write(tmp.path(), &bad, b""),
            Err(OfflineError::BadArgument(_))
        ));
    }
}
