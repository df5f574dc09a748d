//! The command line: OpenSMTPD's flags, plus the run-time paths OpenSMTPD
//! fixes at build time.

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::msg::Subsystem;

/// Seconds an SMTP session may stay idle (RFC 5321 §4.5.3.2: 5 minutes).
pub const DEFAULT_SMTP_TIMEOUT: u64 = 300;

/// smtpd — the mail server daemon.
#[derive(Parser, Debug, Clone)]
#[command(name = "smtpd", version, disable_help_flag = false)]
pub struct Cli {
    /// Stay in the foreground and log to standard error.
    #[arg(short = 'd')]
    pub foreground: bool,

    /// Check the configuration and exit: 0 if it is valid, 1 otherwise.
    #[arg(short = 'n')]
    pub check: bool,

    /// With -n: check the grammar and semantics only, without opening
    /// tables or certificates or resolving interfaces.
    #[arg(long = "syntax-only", requires = "check")]
    pub syntax_only: bool,

    /// With -n: print the configuration in today's grammar.
    #[arg(long = "print", requires = "check")]
    pub print: bool,

    /// Log more.
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Use this configuration file (default /etc/mail/smtpd.conf).
    #[arg(short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Define a macro, overriding one set in the file.
    #[arg(short = 'D', value_name = "NAME=VALUE")]
    pub defines: Vec<String>,

    /// Start with this subsystem paused.
    #[arg(short = 'P', value_name = "mda|mta|smtp", value_parser = parse_subsystem)]
    pub paused: Vec<Subsystem>,

    /// Ignored (OpenSMTPD: do not daemonize but log to syslog).
    #[arg(short = 'F', hide = true)]
    pub no_daemon: bool,

    /// Trace subsystems (accepted for compatibility; see -v).
    #[arg(short = 'T', value_name = "TRACE", hide = true)]
    pub trace: Vec<String>,

    /// The spool directory.
    #[arg(long, value_name = "DIR")]
    pub spool: Option<PathBuf>,

    /// The control socket.
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,

    /// The empty directory unprivileged processes are chrooted into.
    #[arg(long, value_name = "DIR")]
    pub empty: Option<PathBuf>,

    /// The user of the unprivileged processes.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// The user of the queue process.
    #[arg(long = "queue-user", value_name = "NAME")]
    pub queue_user: Option<String>,

    /// The smtpctl program, run as `sendmail -S` to enqueue the messages
    /// of the offline queue at start [default: beside smtpd].
    #[arg(long, value_name = "PATH")]
    pub smtpctl: Option<PathBuf>,

    /// The directory of mbox mailboxes.
    #[arg(long = "mailbox-dir", value_name = "DIR")]
    pub mailbox_dir: Option<PathBuf>,

    /// Send DNS queries to this server instead of the system's.
    #[arg(long, value_name = "ADDR:PORT")]
    pub resolver: Option<SocketAddr>,

    /// Close an SMTP session (421 4.4.2) after this many seconds without a
    /// command, or without data during DATA/BDAT. RFC 5321 §4.5.3.2 asks
    /// for at least 5 minutes, the default; shorter values are for tests
    /// and for servers under attack.
    #[arg(long = "smtp-timeout", value_name = "SECS", default_value_t = DEFAULT_SMTP_TIMEOUT,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub smtp_timeout: u64,

    /// Connect to MX hosts on this port instead of 25 (tests).
    #[arg(long = "mx-port", value_name = "N")]
    pub mx_port: Option<u16>,

    /// Check AUTH on listeners without a credentials table against this
    /// file (shadow(5) format) instead of /etc/shadow (tests).
    #[arg(long, value_name = "FILE")]
    pub shadow: Option<PathBuf>,

    /// Even when started as root, run every process as the invoking user,
    /// without chroot (development mode).
    #[arg(long)]
    pub unprivileged: bool,

    /// Internal: run as the child process of this role.
    #[arg(short = 'x', value_name = "ROLE", hide = true)]
    pub child_role: Option<String>,

    /// Internal: the descriptor of the child's channel to the parent.
    #[arg(long = "ipc-fd", hide = true)]
    pub ipc_fd: Option<i32>,
}

fn parse_subsystem(s: &str) -> Result<Subsystem, String> {
    match s {
        "mda" => Ok(Subsystem::Mda),
        "mta" => Ok(Subsystem::Mta),
        "smtp" => Ok(Subsystem::Smtp),
        _ => Err(format!(
            "unknown subsystem {s:?}: expected mda, mta or smtp"
        )),
    }
}

impl Cli {
    /// The `-D name=value` macros, split.
    pub fn macros(&self) -> Result<Vec<(String, String)>, String> {
        self.defines
            .iter()
            .map(|d| match d.split_once('=') {
                Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
                _ => Err(format!(
                    "invalid macro definition {d:?}: expected NAME=VALUE"
                )),
            })
            .collect()
    }
}
