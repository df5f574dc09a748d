//! Starting the children: re-execute our own binary once per role (never a
//! bare `fork()` from a threaded runtime), each with one inherited channel,
//! then hand each child its configuration, the sockets to its peers and its
//! extra descriptors.

use anyhow::{Context, Result};
use smtpd_ipc::{os, role::may_talk, BlockingChannel, Role};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::Stdio;
use tokio::process::{Child, Command};

use crate::msg::{Bootstrap, RuntimeConfig};

/// A started child, before and after its handshake.
pub struct Started {
    pub role: Role,
    pub child: Child,
    pub pid: u32,
    pub channel: BlockingChannel,
}

/// Start `smtpd -x ROLE --ipc-fd N` with `N` its end of a fresh socketpair.
/// The title the child shows in `ps` (`/proc/PID/cmdline`) names its role.
pub fn start(role: Role) -> Result<Started> {
    let exe = std::env::current_exe().context("locating our own binary")?;
    let (ours, theirs) = os::stream_pair().context("socketpair")?;
    // The child's end is created close-on-exec like every descriptor and
    // opened up only for this spawn, then closed here.
    os::clear_cloexec(theirs.as_fd())?;
    let fd = theirs.as_raw_fd();
    let mut cmd = Command::new(&exe);
    cmd.arg0(format!("smtpd: {role}"))
        .arg("-x")
        .arg(role.as_str())
        .arg("--ipc-fd")
        .arg(fd.to_string())
        .stdin(Stdio::null())
        // Its own process group: a terminal's ^C reaches the parent only,
        // which then stops the children in order.
        .process_group(0)
        .kill_on_drop(false);
    let child = cmd
        .spawn()
        .with_context(|| format!("starting the {role} process"))?;
    drop(theirs);
    let pid = child.id().unwrap_or(0);
    Ok(Started {
        role,
        child,
        pid,
        channel: BlockingChannel::new(ours),
    })
}

/// The extra descriptors some roles get.
pub struct Extras {
    pub listeners: Vec<(usize, SocketAddr, OwnedFd)>,
    pub control_socket: Option<OwnedFd>,
    /// mfa: the filter processes' stdin and stdout.
    pub filters: Vec<super::filters::Started>,
}

/// The handshake with every child: Setup, then one socketpair per pair of
/// roles that may talk (and only those), then the extras, then Go.
pub fn handshake(children: &mut [Started], runtime: &RuntimeConfig, extras: Extras) -> Result<()> {
    for c in children.iter_mut() {
        c.channel
            .send(
                &Bootstrap::Setup {
                    role: c.role,
                    runtime: Box::new(runtime.clone()),
                },
                &[],
            )
            .with_context(|| format!("sending setup to {}", c.role))?;
    }
    let index: HashMap<Role, usize> = children
        .iter()
        .enumerate()
        .map(|(i, c)| (c.role, i))
        .collect();
    let roles: Vec<Role> = children.iter().map(|c| c.role).collect();
    for (i, &a) in roles.iter().enumerate() {
        for &b in &roles[i + 1..] {
            if !may_talk(a, b) {
                continue;
            }
            let (ea, eb) = os::stream_pair()?;
            children[index[&a]]
                .channel
                .send(&Bootstrap::Peer { role: b }, &[ea])
                .with_context(|| format!("wiring {a} to {b}"))?;
            children[index[&b]]
                .channel
                .send(&Bootstrap::Peer { role: a }, &[eb])
                .with_context(|| format!("wiring {b} to {a}"))?;
        }
    }
    if let Some(&i) = index.get(&Role::Smtp) {
        for (idx, addr, fd) in extras.listeners {
            children[i]
                .channel
                .send(&Bootstrap::Listener { index: idx, addr }, &[fd])?;
        }
    }
    if let (Some(&i), Some(fd)) = (index.get(&Role::Control), extras.control_socket) {
        children[i].channel.send(&Bootstrap::ControlSocket, &[fd])?;
    }
    if let Some(&i) = index.get(&Role::Mfa) {
        for (name, stdin, stdout) in extras.filters {
            children[i]
                .channel
                .send(&Bootstrap::FilterProc { name }, &[stdin, stdout])?;
        }
    }
    for c in children.iter_mut() {
        c.channel
            .send(&Bootstrap::Go, &[])
            .with_context(|| format!("starting {}", c.role))?;
    }
    Ok(())
}
