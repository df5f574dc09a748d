//! One outbound SMTP (or LMTP) connection: reach the first host of the
//! plan that answers, negotiate (greeting, EHLO or HELO, STARTTLS, AUTH),
//! then carry out the transactions the mta hands over until told to quit
//! or the connection fails.

use smtpd_proto::{Capabilities, Command, Reply};
use smtpd_types::{DeliveryOutcome, EnhancedStatus};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;

use super::resolve::Plan;
use super::route::{Ours, TlsPolicy};
use super::tls::{server_name, Tls};
use super::transaction::{self, Delivered, Sent, Task};
use super::wire::{Wire, WireError};

/// Deadlines of each step (RFC 5321 §4.5.3.2 suggests 5 minutes for
/// commands, 10 for the end of data; a connection gets less).
pub const CONNECT: Duration = Duration::from_secs(30);
pub const COMMAND: Duration = Duration::from_secs(300);
pub const TLS_HANDSHAKE: Duration = Duration::from_secs(30);

/// What the mta tells a session.
pub enum Cmd {
    Task(Task),
    Quit,
}

/// The peer a session reached, for logs.
#[derive(Clone, Debug)]
pub struct Peer {
    pub host: String,
    pub addr: SocketAddr,
    pub local: Option<SocketAddr>,
    pub tls: Option<String>,
}

/// What a session tells the mta.
pub enum SessionEvent {
    Connected {
        id: u64,
        peer: Peer,
    },
    /// No host could be reached; the outcome applies to the relay's
    /// waiting envelopes.
    ConnectFailed {
        id: u64,
        outcome: DeliveryOutcome,
    },
    /// A task is done: one outcome per envelope. `alive`: the connection
    /// can take another task.
    Done {
        id: u64,
        peer: Peer,
        results: Vec<Delivered>,
        alive: bool,
    },
    /// The connection was found dead at the start of a task (see
    /// [`Sent::Stale`]): the task goes back to the relay's queue, and
    /// `Closed` follows.
    Stale {
        id: u64,
        task: Task,
    },
    Closed {
        id: u64,
    },
}

/// What a session works with.
pub struct Setup {
    pub id: u64,
    pub plan: Arc<Plan>,
    pub tls: Arc<Tls>,
    pub ours: Arc<Ours>,
    pub events: mpsc::UnboundedSender<SessionEvent>,
    pub cmds: mpsc::UnboundedReceiver<Cmd>,
}

/// A negotiated connection.
pub struct Connected {
    pub wire: Wire,
    pub caps: Capabilities,
    pub peer: Peer,
}

pub async fn run(mut s: Setup) {
    let id = s.id;
    let mut c = match connect(&s.plan, &s.tls, &s.ours).await {
        Ok(c) => c,
        Err(outcome) => {
            let _ = s.events.send(SessionEvent::ConnectFailed { id, outcome });
            return;
        }
    };
    let _ = s.events.send(SessionEvent::Connected {
        id,
        peer: c.peer.clone(),
    });
    loop {
        match s.cmds.recv().await {
            Some(Cmd::Task(task)) => match transaction::send(&mut c, task, s.plan.lmtp).await {
                Sent::Done(results, alive) => {
                    let _ = s.events.send(SessionEvent::Done {
                        id,
                        peer: c.peer.clone(),
                        results,
                        alive,
                    });
                    if !alive {
                        break;
                    }
                }
                Sent::Stale(task) => {
                    tracing::info!(
                            "session {id:x}: the connection to {} [{}] is gone: the message goes out on a new one",
                            c.peer.host,
                            c.peer.addr
                        );
                    let _ = s.events.send(SessionEvent::Stale { id, task });
                    break;
                }
            },
            Some(Cmd::Quit) | None => {
                c.wire.quit().await;
                break;
            }
        }
    }
    let _ = s.events.send(SessionEvent::Closed { id });
}

/// Why one host could not be used.
enum OpenError {
    /// The TLS handshake failed: with opportunistic TLS, try again in
    /// plaintext.
    Handshake(String),
    Other(String),
}

/// Try the plan's hosts in order, each of their addresses in turn.
pub async fn connect(plan: &Plan, tls: &Tls, ours: &Ours) -> Result<Connected, DeliveryOutcome> {
    let mut last = String::from("no address to connect to");
    let mut tried = 0;
    let mut looping = None;
    for target in &plan.targets {
        for ip in &target.addrs {
            let addr = SocketAddr::new(*ip, plan.port);
            if ours.is_ours(addr) {
                looping = Some(format!("{} [{addr}] is this server", target.host));
                continue;
            }
            tried += 1;
            let first = open(plan, tls, &target.host, addr, false).await;
            let result = match first {
                Err(OpenError::Handshake(e)) if plan.tls == TlsPolicy::Opportunistic => {
                    tracing::info!("{} [{addr}]: {e}: trying again without TLS", target.host);
                    open(plan, tls, &target.host, addr, true).await
                }
                other => other,
            };
            match result {
                Ok(c) => return Ok(c),
                Err(OpenError::Handshake(e) | OpenError::Other(e)) => {
                    tracing::info!("cannot use {} [{addr}]: {e}", target.host);
                    last = format!("{} [{addr}]: {e}", target.host);
                }
            }
        }
    }
    if let (0, Some(why)) = (tried, looping) {
        return Err(DeliveryOutcome::Loop {
            reason: format!("Loop detected: {why}"),
        });
    }
    Err(DeliveryOutcome::tempfail(
        EnhancedStatus::new(4, 4, 1),
        format!("no MX could be reached: {last}"),
    ))
}

async fn tcp_connect(plan: &Plan, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let sock = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(src) = plan.source {
        if src.is_ipv4() == addr.is_ipv4() {
            sock.bind(SocketAddr::new(src, 0))?;
        }
    }
    match tokio::time::timeout(CONNECT, sock.connect(addr)).await {
        Ok(r) => {
            let stream = r?;
            // Every write is a whole command group or a whole block of the
            // message, flushed: Nagle would only hold the tail of the
            // message (and the final dot) until the peer's delayed ACK,
            // ~40 ms per message (measured: 20 connections relayed 430 msg/s).
            stream.set_nodelay(true)?;
            Ok(stream)
        }
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "connection timed out",
        )),
    }
}

fn other(e: impl std::fmt::Display) -> OpenError {
    OpenError::Other(e.to_string())
}

fn refused(what: &str, r: &Reply) -> OpenError {
    OpenError::Other(format!("{what}: {r}"))
}

/// Connect to one address and negotiate. `plain_only`: the second try of
/// opportunistic TLS after a failed handshake.
async fn open(
    plan: &Plan,
    tls: &Tls,
    host: &str,
    addr: SocketAddr,
    plain_only: bool,
) -> Result<Connected, OpenError> {
    let tcp = tcp_connect(plan, addr).await.map_err(other)?;
    let local = tcp.local_addr().ok();
    let mut wire = Wire::new(tcp);
    let tls_config = |verify: bool| {
        tls.config(&super::tls::Choice {
            verify,
            ca: plan.ca.clone(),
            protocols: plan.protocols.clone(),
            ciphers: plan.ciphers.clone(),
            pki: plan.pki.clone(),
        })
        .map_err(other)
    };
    let name = || server_name(host).ok_or_else(|| other(format!("bad TLS name {host:?}")));
    if let TlsPolicy::Implicit { verify } = plan.tls {
        wire = wire
            .start_tls(tls_config(verify)?, name()?, TLS_HANDSHAKE)
            .await
            .map_err(|e| OpenError::Other(e.to_string()))?;
    }
    let greeting = wire
        .reply(COMMAND, "waiting for the greeting")
        .await
        .map_err(other)?;
    if !greeting.is_positive() {
        wire.quit().await;
        return Err(refused("greeting", &greeting));
    }
    let mut caps = hello(&mut wire, plan).await?;
    let wants_tls = match plan.tls {
        TlsPolicy::Never | TlsPolicy::Implicit { .. } => false,
        TlsPolicy::Opportunistic => !plain_only && caps.starttls,
        TlsPolicy::StartTls { .. } => true,
    };
    if wants_tls {
        if !caps.starttls {
            wire.quit().await;
            return Err(other("TLS required but STARTTLS not offered"));
        }
        let r = wire
            .command(&Command::StartTls, COMMAND, "after STARTTLS")
            .await
            .map_err(other)?;
        if r.code != 220 {
            wire.quit().await;
            return Err(refused("STARTTLS", &r));
        }
        let config = tls_config(plan.tls.verify())?;
        wire = match wire.start_tls(config, name()?, TLS_HANDSHAKE).await {
            Ok(w) => w,
            Err(e @ WireError::Tls(_)) => return Err(OpenError::Handshake(e.to_string())),
            Err(e) => return Err(other(e)),
        };
        caps = hello(&mut wire, plan).await?;
    }
    if let Some(creds) = &plan.auth {
        super::auth::login(&mut wire, &caps, creds)
            .await
            .map_err(OpenError::Other)?;
    }
    let peer = Peer {
        host: host.to_string(),
        addr,
        local,
        tls: wire.tls_info(),
    };
    Ok(Connected { wire, caps, peer })
}

/// EHLO (LHLO for LMTP); a server that refuses EHLO with 5xx gets HELO
/// and is assumed to offer nothing.
async fn hello(wire: &mut Wire, plan: &Plan) -> Result<Capabilities, OpenError> {
    let name = plan.helo.clone();
    let cmd = if plan.lmtp {
        Command::Lhlo(name.clone())
    } else {
        Command::Ehlo(name.clone())
    };
    let r = wire
        .command(&cmd, COMMAND, "after EHLO")
        .await
        .map_err(other)?;
    if r.is_positive() {
        return Ok(Capabilities::from_ehlo_reply(&r));
    }
    if plan.lmtp || !r.is_permanent() {
        wire.quit().await;
        return Err(refused("EHLO", &r));
    }
    let r = wire
        .command(&Command::Helo(name), COMMAND, "after HELO")
        .await
        .map_err(other)?;
    if !r.is_positive() {
        wire.quit().await;
        return Err(refused("HELO", &r));
    }
    Ok(Capabilities::default())
}
