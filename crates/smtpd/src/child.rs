//! What every child process does before and around its role: the start-up
//! handshake with the parent, dropping privileges, the runtime and the
//! channels to its peers.
//!
//! A child is `smtpd -x ROLE --ipc-fd N`. Its entry (`roles::ROLE::main`)
//! receives a [`ChildSetup`], does whatever needs privileges (open the
//! spool, read certificates, open tables), calls
//! [`ChildSetup::drop_privileges`] — visibly, at the top of the entry, as in
//! OpenSMTPD — and then [`ChildSetup::run`] with its event loop.

use anyhow::{anyhow, bail, Context, Result};
use smtpd_ipc::channel::attach_with_leftover;
use smtpd_ipc::{channel, BlockingChannel, Inbound, Message, Role};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::mpsc;

use crate::msg::{Bootstrap, HasShutdown, RuntimeConfig, ToParent};
use crate::peers::Peers;
use crate::{logging, privsep, roles};

/// A child after the handshake, before it drops privileges.
pub struct ChildSetup {
    pub role: Role,
    pub rt: Arc<RuntimeConfig>,
    parent: BlockingChannel,
    peers: Vec<(Role, OwnedFd)>,
    /// smtp: the bound listening sockets, by listener index.
    pub listeners: Vec<(usize, SocketAddr, OwnedFd)>,
    /// control: the bound control socket.
    pub control_socket: Option<OwnedFd>,
    /// mfa: each filter process's name, stdin and stdout.
    pub filter_procs: Vec<(String, OwnedFd, OwnedFd)>,
}

/// What a role's event loop works with.
pub struct Ctx<In> {
    pub role: Role,
    pub rt: Arc<RuntimeConfig>,
    pub inbox: mpsc::UnboundedReceiver<Inbound<In>>,
    pub peers: Peers,
}

/// Entry point of `smtpd -x ROLE`.
pub fn main(role: &str, ipc_fd: Option<i32>) -> ExitCode {
    let role: Role = match role.parse() {
        Ok(r) if r != Role::Parent => r,
        _ => {
            eprintln!("smtpd: unknown process role {role:?}");
            return ExitCode::from(2);
        }
    };
    let setup = match handshake(role, ipc_fd) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("smtpd: {role}: start-up failed: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    logging::init(role.as_str(), setup.rt.foreground, setup.rt.verbose);
    match roles::main(setup) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("fatal: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn handshake(role: Role, ipc_fd: Option<i32>) -> Result<ChildSetup> {
    let fd = ipc_fd.ok_or_else(|| anyhow!("-x needs --ipc-fd: children are started by smtpd"))?;
    let fd = smtpd_ipc::os::adopt_inherited(fd).context("adopting the channel to the parent")?;
    let mut parent = BlockingChannel::new(fd);
    // A malformed frame (or a closed channel) ends the handshake; the
    // error names both ends of the channel.
    let channel = || format!("channel {role} <-> parent");
    let (first, _): (Bootstrap, _) = parent.recv(Role::Parent).with_context(channel)?;
    let rt = match first {
        Bootstrap::Setup { role: r, runtime } if r == role => runtime,
        Bootstrap::Setup { role: r, .. } => bail!("parent set us up as {r}, we are {role}"),
        other => bail!("expected Setup first, got {other:?}"),
    };
    let mut setup = ChildSetup {
        role,
        rt: Arc::new(*rt),
        parent,
        peers: Vec::new(),
        listeners: Vec::new(),
        control_socket: None,
        filter_procs: Vec::new(),
    };
    loop {
        let (msg, mut fds): (Bootstrap, Vec<OwnedFd>) =
            setup.parent.recv(Role::Parent).with_context(channel)?;
        let one = |fds: &mut Vec<OwnedFd>| {
            fds.pop()
                .ok_or_else(|| anyhow!("handshake message without its descriptor"))
        };
        match msg {
            Bootstrap::Peer { role: peer } => {
                if !smtpd_ipc::role::may_talk(role, peer) {
                    bail!("parent offered a channel to {peer}, which {role} may not talk to");
                }
                setup.peers.push((peer, one(&mut fds)?));
            }
            Bootstrap::Listener { index, addr } => {
                setup.listeners.push((index, addr, one(&mut fds)?))
            }
            Bootstrap::ControlSocket => setup.control_socket = Some(one(&mut fds)?),
            Bootstrap::FilterProc { name } => {
                let (Some(stdout), Some(stdin)) = (fds.pop(), fds.pop()) else {
                    bail!("filter {name} handed over without its descriptors");
                };
                setup.filter_procs.push((name, stdin, stdout));
            }
            Bootstrap::Go => return Ok(setup),
            Bootstrap::Setup { .. } => bail!("second Setup in the handshake"),
        }
    }
}

impl ChildSetup {
    /// Drop privileges as this role's entry in the privilege table says
    /// (ARCHITECTURE.md): the queue becomes the queue user chrooted into the
    /// spool; lka becomes the unprivileged user without chroot (it reads
    /// tables and resolv.conf); every other role becomes the unprivileged
    /// user chrooted into the empty directory. Without root, nothing changes
    /// but the no-new-privileges bit.
    pub fn drop_privileges(&self) -> Result<()> {
        let rt = &self.rt;
        if !rt.privileged {
            return privsep::no_new_privs();
        }
        match self.role {
            Role::Queue => privsep::drop_to(&rt.queue_user, Some(&rt.paths.spool), &[]),
            Role::Lka => privsep::drop_to(&rt.user, None, &[]),
            _ => privsep::drop_to(&rt.user, Some(&rt.paths.empty), &[]),
        }
        .with_context(|| format!("dropping privileges for {}", self.role))
    }

    /// Start the runtime, attach the channels, tell the parent we are ready
    /// and run the role's loop until it returns.
    pub fn run<In, F, Fut>(self, body: F) -> Result<()>
    where
        In: Message + HasShutdown,
        F: FnOnce(Ctx<In>) -> Fut,
        Fut: Future<Output = Result<()>>,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the runtime")?;
        let role = self.role;
        let rt = self.rt;
        let (sock, buf, fds) = self.parent.into_parts();
        let peers = self.peers;
        runtime.block_on(async move {
            let (tx, rx) = mpsc::unbounded_channel::<Inbound<In>>();
            let mut map: HashMap<Role, smtpd_ipc::Sender<()>> = HashMap::new();
            let to_parent =
                attach_with_leftover::<In, ()>(role, Role::Parent, sock, buf, fds, tx.clone())?;
            map.insert(Role::Parent, to_parent);
            for (peer, fd) in peers {
                map.insert(peer, channel::attach::<In, ()>(role, peer, fd, tx.clone())?);
            }
            drop(tx);
            let peers = Peers::new(map);
            peers
                .parent()
                .send(ToParent::Ready { role })
                .context("telling the parent we are ready")?;
            body(Ctx {
                role,
                rt,
                inbox: rx,
                peers,
            })
            .await
        })
    }
}

/// What a role's loop does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// The common reaction to a channel that closed. The parent going away
/// means we stop. A peer that went away — closing cleanly, or dying with
/// data we had sent it still unread, which the kernel reports to us as a
/// reset — is not our business: the parent saw it die and will stop
/// everybody, and it alone reports why. Were a bystander to exit here, the
/// parent could see it go first and blame the wrong process. A channel
/// that failed (malformed frame, forbidden message) is fatal for this
/// process.
pub fn on_closed(me: Role, from: Role, error: Option<smtpd_ipc::ChannelError>) -> Result<Flow> {
    match (from, error) {
        (Role::Parent, _) => Ok(Flow::Stop),
        (_, Some(smtpd_ipc::ChannelError::Io(e))) if peer_vanished(&e) => {
            tracing::debug!("{from} went away: {e}");
            Ok(Flow::Continue)
        }
        (_, Some(e)) => Err(anyhow!("channel {me} <-> {from} failed: {e}")),
        (_, None) => {
            tracing::debug!("{from} closed its channel");
            Ok(Flow::Continue)
        }
    }
}

/// The errors a socket gives when the process at the other end is gone.
pub fn peer_vanished(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtpd_ipc::{ChannelError, FrameError};
    use std::io::{Error, ErrorKind};

    #[test]
    fn a_peer_that_went_away_is_left_to_the_parent() {
        assert_eq!(
            on_closed(Role::Smtp, Role::Queue, None).unwrap(),
            Flow::Continue
        );
        for kind in [ErrorKind::ConnectionReset, ErrorKind::BrokenPipe] {
            let e = ChannelError::Io(Error::from(kind));
            assert_eq!(
                on_closed(Role::Smtp, Role::Queue, Some(e)).unwrap(),
                Flow::Continue
            );
        }
    }

    #[test]
    fn the_parent_going_away_stops_the_child() {
        assert_eq!(
            on_closed(Role::Smtp, Role::Parent, None).unwrap(),
            Flow::Stop
        );
    }

    #[test]
    fn a_failed_channel_is_fatal_and_names_both_roles() {
        let errors = [
            ChannelError::Frame(FrameError::Version(9)),
            ChannelError::Forbidden {
                from: Role::Queue,
                to: Role::Smtp,
                msg: "Deliver",
            },
            ChannelError::Io(Error::from(ErrorKind::InvalidData)),
        ];
        for e in errors {
            let err = on_closed(Role::Smtp, Role::Queue, Some(e)).unwrap_err();
            assert!(err.to_string().contains("channel smtp <-> queue"), "{err}");
        }
    }
}
