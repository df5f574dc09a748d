//! Starting the filter processes (`proc`, `proc-exec`): each once, at
//! start, through `/bin/sh -c`, as the unprivileged user when we are root.
//! Their stdin and stdout go to the mfa (`Bootstrap::FilterProc`); their
//! stderr is logged here, line by line, under the filter's name. A thread
//! per filter waits for its end and logs it; the mfa, which sees the
//! filter's output close, stops the server.

use anyhow::{Context, Result};
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
            cmd.uid(rt.user.uid).gid(rt.user.gid);
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
