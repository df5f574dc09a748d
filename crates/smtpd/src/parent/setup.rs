//! The parent's preparations before it starts the children: who runs as
//! whom, the directories they need, and the sockets bound with root's
//! rights that the unprivileged children inherit.

use anyhow::{bail, Context, Result};
use nix::unistd::{chown, Gid, Uid, User};
use std::fs::{self, DirBuilder};
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

use crate::msg::bootstrap::{Account, Paths};
use crate::privsep;

/// The subdirectories of the spool, all owned by the queue user, mode
/// 0700: only the queue process can read the mail in them.
pub const SPOOL_SUBDIRS: [&str; 5] = ["incoming", "queue", "temporary", "purge", "corrupt"];

/// Look up one of the unprivileged accounts.
pub fn account(name: &str) -> Result<Account> {
    let user = User::from_name(name)
        .with_context(|| format!("looking up user {name}"))?
        .with_context(|| {
            format!(
                "user {name} does not exist: create it (useradd -r -d /var/empty -s /usr/sbin/nologin {name}), \
                 or run with --unprivileged"
            )
        })?;
    if user.uid.is_root() {
        bail!("user {name} must not be root");
    }
    Ok(Account {
        name: name.to_string(),
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
    })
}

/// The account of whoever started us (development mode).
pub fn invoking_account() -> Account {
    let uid = Uid::current();
    let gid = Gid::current();
    let name = User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string());
    Account {
        name,
        uid: uid.as_raw(),
        gid: gid.as_raw(),
    }
}

/// Create the spool with OpenSMTPD's owners and modes: the spool itself
/// 0711 root (the queue is chrooted into it), its subdirectories 0700 the
/// queue user. In development mode everything belongs to us, 0700.
pub fn prepare_spool(paths: &Paths, privileged: bool, queue_user: &Account) -> Result<()> {
    let spool = &paths.spool;
    let mode = if privileged { 0o711 } else { 0o700 };
    DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(spool)
        .with_context(|| format!("creating spool {}", spool.display()))?;
    if privileged {
        chown(spool, Some(Uid::from_raw(0)), Some(Gid::from_raw(0)))
            .with_context(|| format!("chown {}", spool.display()))?;
        fs::set_permissions(spool, fs::Permissions::from_mode(0o711))?;
        privsep::check_chroot_dir(spool)?;
    }
    for sub in SPOOL_SUBDIRS {
        let dir = spool.join(sub);
        if !dir.exists() {
            DirBuilder::new()
                .mode(0o700)
                .create(&dir)
                .with_context(|| format!("creating {}", dir.display()))?;
        }
        if privileged {
            chown(
                &dir,
                Some(Uid::from_raw(queue_user.uid)),
                Some(Gid::from_raw(queue_user.gid)),
            )
            .with_context(|| format!("chown {}", dir.display()))?;
        }
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
    }
    prepare_offline(spool, privileged)?;
    let probe = spool.join("queue");
    let md = fs::metadata(&probe)?;
    if !privileged && md.uid() != Uid::current().as_raw() {
        bail!(
            "spool {} belongs to another user: use --spool DIR",
            spool.display()
        );
    }
    Ok(())
}

/// The directory `sendmail` drops messages into while the daemon is down
/// (OpenSMTPD's `offline/`, replayed at start by `super::offline`).
pub const OFFLINE: &str = "offline";

/// `offline/`: privileged, root's and mode 01777, so that every local user
/// can drop a file there and nobody can remove or rename another's (the
/// sticky bit); each file is owned by whoever wrote it, which is the only
/// identity the replay trusts. OpenSMTPD 7.8 makes it 0770 root:_smtpq
/// with a setgid smtpctl; ours is not setgid, hence the sticky
/// world-writable mode of /tmp. In development mode: ours, 0700.
fn prepare_offline(spool: &Path, privileged: bool) -> Result<()> {
    let dir = spool.join(OFFLINE);
    match fs::symlink_metadata(&dir) {
        Ok(md) if !md.is_dir() => bail!("{} is not a directory", dir.display()),
        Ok(_) => {}
        Err(_) => DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("creating {}", dir.display()))?,
    }
    let mode = if privileged {
        chown(&dir, Some(Uid::from_raw(0)), Some(Gid::from_raw(0)))
            .with_context(|| format!("chown {}", dir.display()))?;
        0o1777
    } else {
        0o700
    };
    fs::set_permissions(&dir, fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", dir.display()))?;
    Ok(())
}

/// The chroot of the unprivileged processes must exist and be safe.
pub fn check_empty(paths: &Paths) -> Result<()> {
    privsep::check_chroot_dir(&paths.empty)
}

/// Bind one listening TCP socket with a deep backlog: the kernel must never
/// drop connection attempts under load (OpenSMTPD's backlog of 5 is the
/// cliff the performance issue describes).
pub fn bind_tcp(addr: SocketAddr) -> Result<OwnedFd> {
    use socket2::{Domain, Protocol, Socket, Type};
    let domain = if addr.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let sock = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.bind(&addr.into())
        .with_context(|| format!("binding {addr}"))?;
    sock.listen(4096)?;
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}

/// Bind the control socket, replacing a stale one (a socket file nobody
/// listens on) but refusing to steal a live one.
pub fn bind_control(path: &Path, open_to_all: bool) -> Result<OwnedFd> {
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            bail!(
                "control socket {} is in use: is another smtpd running?",
                path.display()
            );
        }
        fs::remove_file(path).with_context(|| format!("removing stale {}", path.display()))?;
    }
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
    }
    let listener = std::os::unix::net::UnixListener::bind(path)
        .with_context(|| format!("binding control socket {}", path.display()))?;
    // Privileged, the socket is open to every local user, as OpenSMTPD's
    // (srw-rw-rw-): `sendmail` must work for them. The control process
    // checks each request against the client's SO_PEERCRED: commands need
    // root or the server's user; anyone may only enqueue mail. In
    // development mode the server is one user's toy: only that user.
    let mode = if open_to_all { 0o666 } else { 0o600 };
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    listener.set_nonblocking(true)?;
    Ok(listener.into())
}
