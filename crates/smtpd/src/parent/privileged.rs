//! The privileged work the parent does for its children (the seed's
//! §3.2.9): start a delivery worker as the recipient user for mda, open a
//! user's `~/.forward` as that user for lka, check a system password for
//! lka (AUTH without a credentials table).

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::{setegid, seteuid, Gid, Uid};
use smtpd_ipc::{os, BlockingChannel, Role, Sender};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tracing::{debug, warn};

use crate::msg::bootstrap::RuntimeConfig;
use crate::msg::worker::WorkerSetup;
use crate::msg::{ToLka, ToMda, ToParent, UserInfo};

pub struct Services {
    privileged: bool,
    verbose: bool,
    foreground: bool,
    mda: Sender<ToMda>,
    lka: Sender<ToLka>,
    shadow: PathBuf,
}

impl Services {
    pub fn new(rt: &RuntimeConfig, mda: Sender<ToMda>, lka: Sender<ToLka>) -> Self {
        Services {
            privileged: rt.privileged,
            verbose: rt.verbose,
            foreground: rt.foreground,
            mda,
            lka,
            shadow: rt.shadow.clone(),
        }
    }

    /// Serve one request from a child. Failures are answered, never fatal:
    /// a user whose `.forward` cannot be read must not stop the server.
    pub fn handle(&self, from: Role, msg: ToParent, _fds: Vec<OwnedFd>) {
        match msg {
            // Verbose is applied on arrival (`logging::apply_verbose`).
            ToParent::Ready { .. } | ToParent::Verbose(_) => {}
            ToParent::StartDelivery {
                req,
                user,
                mbox_group,
            } => {
                let result = self.start_worker(&user, mbox_group);
                let sent = match result {
                    Ok(fd) => self.mda.send_with_fds(
                        ToMda::Started {
                            req,
                            result: Ok(()),
                        },
                        vec![fd],
                    ),
                    Err(e) => {
                        warn!("cannot start a delivery for {}: {e:#}", user.username);
                        self.mda.send(ToMda::Started {
                            req,
                            result: Err(format!("{e:#}")),
                        })
                    }
                };
                if let Err(e) = sent {
                    debug!("answering {from}: {e}");
                }
            }
            ToParent::CheckPassword {
                req,
                user,
                password,
            } => {
                // Hashing is slow by design: off the parent's event loop.
                let shadow = self.shadow.clone();
                let lka = self.lka.clone();
                tokio::spawn(async move {
                    let result = tokio::task::spawn_blocking(move || {
                        super::shadow::check(&shadow, &user, &password.0)
                    })
                    .await
                    .unwrap_or(crate::msg::to_smtp::AuthResult::TempFail);
                    if let Err(e) = lka.send(ToLka::PasswordChecked { req, result }) {
                        debug!("answering lka: {e}");
                    }
                });
            }
            ToParent::OpenForward { req, user } => {
                let sent = match self.open_forward(&user) {
                    Ok(Some(f)) => self.lka.send_with_fds(
                        ToLka::Forward {
                            req,
                            found: true,
                            error: None,
                            permanent: false,
                        },
                        vec![f.into()],
                    ),
                    Ok(None) => self.lka.send(ToLka::Forward {
                        req,
                        found: false,
                        error: None,
                        permanent: false,
                    }),
                    Err(e) => self.lka.send(ToLka::Forward {
                        req,
                        found: false,
                        error: Some(e.to_string()),
                        permanent: matches!(e, ForwardError::Refused(_)),
                    }),
                };
                if let Err(e) = sent {
                    debug!("answering {from}: {e}");
                }
            }
        }
    }

    /// Start `smtpd -x worker` for `user`; it drops to the user's rights
    /// itself (as its first act, before reading any message). Returns the
    /// socket mda talks to it on.
    fn start_worker(&self, user: &UserInfo, mbox_group: Option<u32>) -> Result<OwnedFd> {
        let exe = std::env::current_exe()?;
        let (ours, theirs) = os::stream_pair()?;
        os::clear_cloexec(theirs.as_fd())?;
        let mut cmd = tokio::process::Command::new(exe);
        cmd.arg0(format!("smtpd: delivery {}", user.username))
            .arg("-x")
            .arg("worker")
            .arg("--ipc-fd")
            .arg(theirs.as_raw_fd().to_string())
            .stdin(Stdio::null())
            .process_group(0)
            .kill_on_drop(false);
        let mut child = cmd.spawn().context("spawning the delivery worker")?;
        drop(theirs);
        let mut ch = BlockingChannel::new(ours);
        ch.send(
            &WorkerSetup {
                user: user.clone(),
                extra_groups: mbox_group.into_iter().collect(),
                privileged: self.privileged,
                verbose: self.verbose,
                foreground: self.foreground,
            },
            &[],
        )?;
        let name = user.username.clone();
        tokio::spawn(async move {
            match child.wait().await {
                Ok(s) if s.success() => debug!("delivery worker for {name} exited"),
                Ok(s) => warn!("delivery worker for {name} ended: {s}"),
                Err(e) => warn!("delivery worker for {name}: {e}"),
            }
        });
        let (sock, _buf, _fds) = ch.into_parts();
        Ok(sock)
    }

    /// Open `~user/.forward` with the user's rights, refusing files others
    /// could have written (forward(5)).
    fn open_forward(&self, user: &UserInfo) -> Result<Option<File>, ForwardError> {
        let home = Path::new(&user.home);
        let path = home.join(".forward");
        let opened = if self.privileged {
            as_user(user, || open_nofollow(&path))
                .map_err(|e| ForwardError::Failed(format!("{e:#}")))?
        } else {
            open_nofollow(&path)
        };
        let refused = |why: String| ForwardError::Refused(format!("{}: {why}", path.display()));
        let file = match opened {
            Ok(f) => f,
            Err(Errno::ENOENT) => return Ok(None),
            // Out of resources or a failing disk: may be gone on retry.
            Err(
                e @ (Errno::EMFILE | Errno::ENFILE | Errno::EIO | Errno::ENOMEM | Errno::EINTR),
            ) => return Err(ForwardError::Failed(format!("{}: {e}", path.display()))),
            Err(Errno::ELOOP) => return Err(refused("is a symbolic link".into())),
            Err(e) => return Err(refused(format!("cannot open: {e}"))),
        };
        let md = file
            .metadata()
            .map_err(|e| ForwardError::Failed(format!("{}: {e}", path.display())))?;
        if !md.is_file() {
            return Err(refused("not a regular file".into()));
        }
        if md.uid() != user.uid && md.uid() != 0 {
            return Err(refused(format!("does not belong to {}", user.username)));
        }
        if md.mode() & 0o022 != 0 {
            return Err(refused("group or world writable".into()));
        }
        let hmd = std::fs::metadata(home)
            .map_err(|e| ForwardError::Failed(format!("{}: {e}", home.display())))?;
        if hmd.mode() & 0o022 != 0 {
            return Err(refused(format!(
                "home directory {} is group or world writable",
                home.display()
            )));
        }
        Ok(Some(file))
    }
}

/// Why a `~/.forward` was not handed over.
#[derive(Debug, thiserror::Error)]
enum ForwardError {
    /// The file is unsafe or unusable (writable by others, a link, not the
    /// user's, unreadable): the user's doing, which retrying will not fix.
    /// OpenSMTPD fails the expansion permanently here, and so do we: the
    /// sender hears at once, and the refusal is in the log for the
    /// administrator, instead of mail piling up for days unseen.
    #[error("refused: {0}")]
    Refused(String),
    /// The system could not open it right now.
    #[error("{0}")]
    Failed(String),
}

fn open_nofollow(path: &Path) -> nix::Result<File> {
    open(
        path,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map(File::from)
}

/// Run `f` with the effective ids of `user`, then become root again. The
/// parent's runtime is single-threaded and `f` does not await, so nothing
/// else runs with the borrowed identity.
fn as_user<T>(user: &UserInfo, f: impl FnOnce() -> T) -> Result<T> {
    setegid(Gid::from_raw(user.gid)).context("setegid")?;
    if let Err(e) = seteuid(Uid::from_raw(user.uid)) {
        let _ = setegid(Gid::from_raw(0));
        bail!("seteuid: {e}");
    }
    let out = f();
    seteuid(Uid::from_raw(0)).context("seteuid back to root")?;
    setegid(Gid::from_raw(0)).context("setegid back to root")?;
    Ok(out)
}
