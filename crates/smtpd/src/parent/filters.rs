//! Starting the filter processes (`proc`, `proc-exec`): each once, at
//! start, through `/bin/sh -c`, as the unprivileged user when we are root
//! (or the `user`/`group` the filter names; a `chroot` is refused: not
//! supported yet).
//! Their stdin and stdout go to the mfa (`Bootstrap::FilterProc`); their
//! stderr is logged here, line by line, under the filter's name. A thread
//! per filter waits for its end and logs it; the mfa, which sees the
//! filter's output close, stops the server.

use anyhow::{Context, Result};
use nix::unistd::{Group, User};
use std::io::BufRead;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use tracing::{error, info};

use crate::msg::RuntimeConfig;
use crate::roles::mfa::chain;

/// A started filter: name, its stdin (write end), its stdout (read end).
pub type Started = (String, OwnedFd, OwnedFd);

pub fn start(rt: &RuntimeConfig) -> Result<Vec<Started>> {
    let mut out = Vec::new();
    for spec in chain::procs(&rt.config) {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(&spec.command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if rt.privileged {
            let (uid, gid) = account(rt, &spec)?;
            cmd.uid(uid).gid(gid);
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting filter {}: {}", spec.name, spec.command))?;
        let pid = child.id();
        info!("filter {} started (pid {pid}): {}", spec.name, spec.command);
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            anyhow::bail!("filter {}: no pipes", spec.name);
        };
        let name = spec.name.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                match line {
                    Ok(l) => info!("filter {name}: {l}"),
                    Err(_) => break,
                }
            }
            match child.wait() {
                Ok(st) => error!("filter {name} (pid {pid}) exited: {st}"),
                Err(e) => error!("filter {name} (pid {pid}): {e}"),
            }
        });
        out.push((spec.name, OwnedFd::from(stdin), OwnedFd::from(stdout)));
    }
    Ok(out)
}

/// The uid and gid a filter runs as when we are root: its `user` (and that
/// user's group) or `_smtpd`, its `group` if it names one.
fn account(rt: &RuntimeConfig, spec: &chain::ProcSpec) -> Result<(u32, u32)> {
    if let Some(dir) = &spec.run.chroot {
        anyhow::bail!(
            "filter {}: chroot {dir}: filters in a chroot are not supported yet",
            spec.name
        );
    }
    let (mut uid, mut gid) = (rt.user.uid, rt.user.gid);
    if let Some(name) = &spec.run.user {
        let u = User::from_name(name)
            .ok()
            .flatten()
            .with_context(|| format!("filter {}: no user {name}", spec.name))?;
        (uid, gid) = (u.uid.as_raw(), u.gid.as_raw());
    }
    if let Some(name) = &spec.run.group {
        let g = Group::from_name(name)
            .ok()
            .flatten()
            .with_context(|| format!("filter {}: no group {name}", spec.name))?;
        gid = g.gid.as_raw();
    }
    Ok((uid, gid))
}
