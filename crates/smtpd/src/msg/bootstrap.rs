//! The start-up handshake between the parent and a child.
//!
//! A child is started as `smtpd -x ROLE --ipc-fd N`; descriptor N is its
//! channel to the parent. Before the child drops privileges, the parent
//! sends on it, in order: `Setup` (the checked configuration and run-time
//! settings), one `Peer` per peer role with the socket to it, the
//! role's extra descriptors (`Listener`, `ControlSocket`, `FilterProc`), then
//! `Go`.
//! After `Go` the child drops privileges, starts its runtime and says
//! `ToParent::Ready`.

use serde::{Deserialize, Serialize};
use smtpd_ipc::Role;
use std::path::PathBuf;

use super::Subsystem;

/// Everything a child needs to run, decided by the parent.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RuntimeConfig {
    pub config: smtpd_config::Config,
    pub paths: Paths,
    /// Started as root: children chroot and switch users.
    pub privileged: bool,
    /// The unprivileged accounts (meaningful when `privileged`).
    pub user: Account,
    pub queue_user: Account,
    /// Log to stderr in the foreground (`-d`).
    pub foreground: bool,
    pub verbose: bool,
    /// Subsystems paused at start (`-P`).
    pub paused: Vec<Subsystem>,
    /// Our server name: first line of /etc/mail/mailname, else the FQDN.
    pub hostname: String,
    /// The names `for local` matches: localhost, the server name and the
    /// interface addresses as literals.
    pub localnames: Vec<String>,
    /// Addresses of this host's interfaces (for `from local`).
    pub local_addrs: Vec<std::net::IpAddr>,
    /// DNS server for lookups (`--resolver`); the system's when `None`.
    pub resolver: Option<std::net::SocketAddr>,
    /// Idle time allowed in an SMTP session (`--smtp-timeout`).
    pub smtp_timeout: std::time::Duration,
    /// Port used to reach MX hosts (`--mx-port`, tests only; default 25).
    pub mx_port: u16,
    /// The system's password hashes, for AUTH without a credentials table
    /// (`--shadow`, tests only; default `/etc/shadow`). Read by the parent.
    pub shadow: PathBuf,
}

/// Paths OpenSMTPD fixes at build time and we take as flags.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Paths {
    pub spool: PathBuf,
    pub socket: PathBuf,
    pub empty: PathBuf,
    pub mailbox_dir: PathBuf,
    /// `--smtpctl`: the parent runs it for the offline queue; `None`:
    /// the one beside our own binary.
    pub smtpctl: Option<PathBuf>,
}

/// An unprivileged account a child runs as.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// The handshake messages.
#[derive(Debug, Serialize, Deserialize)]
pub enum Bootstrap {
    Setup {
        role: Role,
        runtime: Box<RuntimeConfig>,
    },
    /// Carries one descriptor: the socket to `role`.
    Peer {
        role: Role,
    },
    /// Carries one descriptor: a bound, listening TCP socket for the
    /// listener `index` of the config (smtp only).
    Listener {
        index: usize,
        addr: std::net::SocketAddr,
    },
    /// Carries one descriptor: the bound control socket (control only).
    ControlSocket,
    /// Carries two descriptors, in order: the write end of the filter
    /// process `name`'s stdin and the read end of its stdout (mfa only).
    FilterProc {
        name: String,
    },
    Go,
}
