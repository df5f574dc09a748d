//! `smtpctl [--socket PATH] [--spool DIR] COMMAND…`: the options, then the
//! command words (see [`crate::parser`]).

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::commands;
use crate::parser;

/// smtpctl — control the smtpd mail server.
#[derive(Parser, Debug)]
#[command(
    name = "smtpctl",
    version,
    after_help = "Commands (any unambiguous prefix will do, e.g. `sh q`):
  show queue [MSGID] | show envelope EVPID | show message EVPID|MSGID
  show stats | show status | show hosts | show relays | show routes
  pause|resume mda|mta|smtp
  pause|resume envelope EVPID|MSGID|all
  schedule EVPID|MSGID|all | remove EVPID|MSGID|all
  monitor [--count N] | log brief|verbose
  update table NAME (reload a file table)
  trace|untrace SUBSYSTEM (verbose logging in the processes concerned)
  encrypt [STRING] (SHA-512 crypt, $6$, of STRING or of each line of stdin)"
)]
pub struct Cli {
    /// The daemon's control socket [default: $SMTPD_SOCKET, else
    /// /var/run/smtpd.sock].
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,

    /// The spool, read directly by `show queue` (and `show envelope`,
    /// `show message`) when the daemon is not running [default:
    /// $SMTPD_SPOOL, else /var/spool/smtpd].
    #[arg(long, value_name = "DIR")]
    pub spool: Option<PathBuf>,

    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
}

/// Where the daemon is.
pub struct Place {
    pub socket: PathBuf,
    pub spool: PathBuf,
}

impl Place {
    /// The paths given, else those of the environment (`SMTPD_SOCKET`,
    /// `SMTPD_SPOOL`: how the `mailq` and `sendmail` faces, which take no
    /// such options, find a server installed elsewhere), else the
    /// defaults.
    pub fn new(socket: Option<PathBuf>, spool: Option<PathBuf>) -> Self {
        let pick = |given: Option<PathBuf>, var: &str, default: &str| {
            given
                .or_else(|| std::env::var_os(var).map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from(default))
        };
        Place {
            socket: pick(socket, "SMTPD_SOCKET", smtpd_control_proto::DEFAULT_SOCKET),
            spool: pick(spool, "SMTPD_SPOOL", smtpd_control_proto::DEFAULT_SPOOL),
        }
    }
}

pub fn main(args: &[String]) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let place = Place::new(cli.socket, cli.spool);
    let result = parser::parse(&cli.command).and_then(|cmd| commands::run(&place, cmd));
    finish(result)
}

/// Print a failure as `smtpctl: …` and turn it into the exit status.
pub fn finish(result: Result<(), crate::error::CtlError>) -> ExitCode {
    match result {
        Ok(()) | Err(crate::error::CtlError::OutputClosed) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smtpctl: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
