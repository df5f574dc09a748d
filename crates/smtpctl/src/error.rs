//! What can go wrong in smtpctl, and the exit status each failure gives.

use smtpd_control_proto::ClientError;

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// The command line makes no sense.
    #[error("{0}")]
    Usage(String),
    /// OpenSMTPD has this command; we do not yet.
    #[error("{0}: not supported yet")]
    Unsupported(String),
    /// The daemon is not running and the command needs it.
    #[error("smtpd doesn't seem to be running ({0})")]
    NotRunning(ClientError),
    /// Talking to the daemon failed.
    #[error("{0}")]
    Client(#[from] ClientError),
    /// The daemon refused or failed the command.
    #[error("command failed: {0}")]
    Failed(String),
    /// Reading the spool or writing the output failed.
    #[error("{0}")]
    Io(String),
    /// Whoever read our output stopped reading (`mailq | head`): not an
    /// error worth a message.
    #[error("output closed")]
    OutputClosed,
}

impl CtlError {
    /// The exit status: 1 for every failure, as smtpctl's; 2 for a bad
    /// command line.
    pub fn exit_code(&self) -> u8 {
        match self {
            CtlError::Usage(_) => 2,
            CtlError::OutputClosed => 0,
            _ => 1,
        }
    }
}

/// A failed write to standard output.
pub fn output_error(e: std::io::Error) -> CtlError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        CtlError::OutputClosed
    } else {
        CtlError::Io(format!("writing the output: {e}"))
    }
}

/// Connecting failed: "not running" when nobody listens, else as is.
pub fn connect_error(e: ClientError) -> CtlError {
    if e.server_down() {
        CtlError::NotRunning(e)
    } else {
        CtlError::Client(e)
    }
}
