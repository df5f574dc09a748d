//! OpenSMTPD's offline queue, the daemon's side: once every child is
//! ready, each file `sendmail` dropped into `SPOOL/offline/` while the
//! daemon was down is enqueued by running `sendmail -S` again, with the
//! file as its standard input, **as the user who owns the file** — the
//! owner is the only identity trusted (the file's content could claim
//! anything; `-S` makes sendmail take the sender from the user it runs
//! as). A file enqueued is removed; one that fails stays, with a warning,
//! for the next start (as OpenSMTPD's).
//!
//! File format (OpenSMTPD's): the sendmail arguments joined by `|` on the
//! first line, then the message as sendmail read it.

use anyhow::{bail, Context, Result};
use nix::fcntl::OFlag;
use nix::unistd::{Uid, User};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tracing::{info, warn};

use super::setup::OFFLINE;

/// The first line (the arguments) may not be longer than this.
const MAX_ARGS_LINE: usize = 64 * 1024;

/// How long one replay may take (it waits for the queue's commit).
const REPLAY_TIMEOUT: Duration = Duration::from_secs(300);

/// Where the replay finds what it needs.
pub struct Replay {
    pub spool: PathBuf,
    pub socket: PathBuf,
    pub privileged: bool,
    /// `--smtpctl`, else beside smtpd.
    pub smtpctl: Option<PathBuf>,
}

/// Replay every offline file, one after the other. Never fails: each
/// problem is logged and leaves its file in place.
pub async fn replay_all(r: Replay) {
    let dir = r.spool.join(OFFLINE);
    let mut names: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.path())
            // `.NAME`: a file sendmail is still writing (it renames it
            // when complete).
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
            })
            .collect(),
        Err(e) => {
            warn!("offline: {}: {e}", dir.display());
            return;
        }
    };
    if names.is_empty() {
        return;
    }
    names.sort();
    let smtpctl = match smtpctl_path(r.smtpctl.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            warn!(
                "offline: {e:#}: {} message(s) left in {}",
                names.len(),
                dir.display()
            );
            return;
        }
    };
    let mut done = 0;
    for path in &names {
        match replay_one(&r, &smtpctl, path).await {
            Ok(()) => done += 1,
            Err(e) => warn!("offline: {}: not enqueued: {e:#}", path.display()),
        }
    }
    info!("offline: {done} of {} message(s) enqueued", names.len());
}

/// `--smtpctl`, else the one beside smtpd (both in /usr/sbin, as
/// OpenSMTPD's; both in the target directory of a build). It runs as the
/// files' owners: they must be able to reach it.
fn smtpctl_path(given: Option<&Path>) -> Result<PathBuf> {
    let p = match given {
        Some(p) => p.to_path_buf(),
        None => std::env::current_exe()
            .context("locating our own binary")?
            .with_file_name("smtpctl"),
    };
    if !p.is_file() {
        bail!("no smtpctl at {}", p.display());
    }
    Ok(p)
}

/// Who a file's owner is, to run as.
struct Owner {
    name: String,
    uid: u32,
    gid: u32,
    home: PathBuf,
}

fn owner(uid: u32, privileged: bool) -> Result<Owner> {
    if !privileged && uid != Uid::current().as_raw() {
        bail!("owned by uid {uid}, and an unprivileged server can only enqueue as itself");
    }
    let user = User::from_uid(Uid::from_raw(uid))
        .context("looking up the owner")?
        .with_context(|| format!("owner uid {uid} is no user"))?;
    Ok(Owner {
        name: user.name,
        uid,
        gid: user.gid.as_raw(),
        home: user.dir,
    })
}

/// Open the file without following a link or blocking on a FIFO, and
/// check it is a plain file with one name: a hard link dropped here to
/// a file of somebody else's would have it sent as that somebody.
fn open_checked(path: &Path) -> Result<(File, std::fs::Metadata)> {
    // Not even opened unless it looks like a plain file (opening a device
    // as root may do something); checked again on the descriptor.
    let seen = std::fs::symlink_metadata(path).context("stat")?;
    if !seen.file_type().is_file() {
        bail!("not a regular file");
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
        .open(path)
        .context("opening")?;
    let md = file.metadata().context("fstat")?;
    if md.ino() != seen.ino() || md.dev() != seen.dev() {
        bail!("replaced while being opened");
    }
    if !md.is_file() {
        bail!("not a regular file");
    }
    if md.nlink() != 1 {
        bail!("has {} links", md.nlink());
    }
    Ok((file, md))
}

/// The arguments of the first line; the file is left positioned at the
/// message.
fn read_args(file: &mut File) -> Result<Vec<String>> {
    let mut buf = vec![0u8; MAX_ARGS_LINE + 1];
    let mut len = 0;
    let end = loop {
        if let Some(nl) = buf[..len].iter().position(|&b| b == b'\n') {
            break nl;
        }
        if len == buf.len() {
            bail!("the argument line is longer than {MAX_ARGS_LINE} bytes");
        }
        let n = file.read(&mut buf[len..]).context("reading")?;
        if n == 0 {
            bail!("no argument line");
        }
        len += n;
    };
    file.seek(SeekFrom::Start(end as u64 + 1))
        .context("seeking")?;
    let line = std::str::from_utf8(&buf[..end]).context("the argument line")?;
    Ok(if line.is_empty() {
        Vec::new()
    } else {
        line.split('|').map(String::from).collect()
    })
}

async fn replay_one(r: &Replay, smtpctl: &Path, path: &Path) -> Result<()> {
    let (mut file, md) = open_checked(path)?;
    let who = owner(md.uid(), r.privileged)?;
    let args = read_args(&mut file)?;
    let mut cmd = tokio::process::Command::new(smtpctl);
    cmd.arg0("sendmail")
        .arg("-S")
        .args(&args)
        .stdin(Stdio::from(file))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Nothing of root's environment reaches the user's process but
        // where the server is.
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", &who.home)
        .env("SMTPD_SOCKET", &r.socket)
        .env("SMTPD_SPOOL", &r.spool)
        .current_dir(if who.home.is_dir() {
            who.home.as_path()
        } else {
            Path::new("/")
        })
        .process_group(0)
        .kill_on_drop(true);
    if r.privileged {
        // std clears the supplementary groups when it changes the uid.
        cmd.uid(who.uid).gid(who.gid);
    }
    let child = cmd.spawn().context("starting sendmail")?;
    let out = tokio::time::timeout(REPLAY_TIMEOUT, child.wait_with_output())
        .await
        .context("sendmail took too long")?
        .context("waiting for sendmail")?;
    if !out.status.success() {
        bail!(
            "sendmail as {} ended with {}: {}",
            who.name,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    // Remove the very file we replayed, not whatever has its name now.
    let now = std::fs::symlink_metadata(path).context("stat before removing")?;
    if now.dev() == md.dev() && now.ino() == md.ino() {
        std::fs::remove_file(path).context("removing")?;
    }
    info!(
        "offline: {} enqueued as {}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        who.name
    );
    Ok(())
}
