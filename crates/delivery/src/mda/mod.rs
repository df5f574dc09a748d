//! Delivery to a program (`action … mda "cmd"`, aliases and `.forward`
//! entries `|cmd`).
//!
//! The command (format specifiers already expanded) runs as `SHELL -c cmd`
//! in the user's home, with exactly the environment of [`MdaEnv`], in a
//! process group of its own. It reads the message on its standard input:
//! the prepended header lines, then the message as queued — **no** mbox
//! `From ` line, as OpenSMTPD (procmail and maildrop are run with `-f` when
//! they want the envelope sender). Its stdout and stderr go to one pipe,
//! whose last non-empty line becomes the error line.
//!
//! The exit status decides the outcome (see [`exit_status`]). A program
//! that exits 0 without reading all of its input has delivered: it is the
//! program's business to want the whole message.
//!
//! Two rules keep a program from delivering half a message: if reading the
//! message fails, the program is killed **before** its input is closed, so
//! it never sees an end of file; and a program that overruns its time is
//! killed with its whole process group.

mod env;
mod output;
mod status;

pub use env::{MdaEnv, DEFAULT_PATH};
pub use status::exit_status;

use crate::context::DeliveryContext;
use crate::error::DeliveryError;
use crate::headers::encode_prepend;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The shell OpenSMTPD runs delivery commands with.
pub const DEFAULT_SHELL: &str = "/bin/sh";

/// How long to wait for the program's output to end after it exited. Only
/// a background process it left behind can hold the pipe open that long.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// Longest pause between two checks of whether the program has exited.
const MAX_POLL: Duration = Duration::from_millis(50);

/// A program to deliver to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MdaCommand {
    /// The command line, run as `shell -c command`.
    pub command: String,
    /// The shell.
    pub shell: PathBuf,
    /// The working directory (the user's home).
    pub directory: PathBuf,
    /// The whole environment: nothing else is inherited.
    pub env: Vec<(String, String)>,
    /// Kill the program (and its process group) after this long.
    pub timeout: Duration,
}

impl MdaCommand {
    /// The command for a delivery, as OpenSMTPD runs it: with `/bin/sh`
    /// (not the user's login shell, which for a mail-only account is often
    /// `nologin`), in the user's home, with [`MdaEnv`]. The timeout is
    /// OpenSMTPD-like generous: five minutes. Every field may be changed
    /// before [`run_mda`].
    pub fn new(command: impl Into<String>, ctx: &DeliveryContext) -> Self {
        MdaCommand {
            command: command.into(),
            shell: PathBuf::from(DEFAULT_SHELL),
            directory: PathBuf::from(&ctx.user.directory),
            env: MdaEnv::new(ctx, DEFAULT_SHELL).to_pairs(),
            timeout: Duration::from_secs(300),
        }
    }
}

/// Run the program with `prepend` and the message on its standard input.
pub fn run_mda(
    cmd: &MdaCommand,
    prepend: &[String],
    message: &mut dyn Read,
) -> Result<(), DeliveryError> {
    let head = encode_prepend(prepend)?;
    let (out_r, out_w) =
        io::pipe().map_err(|e| DeliveryError::io("create output pipe for program", e))?;
    let mut child = {
        // Dropped right after the spawn: it holds the write end of the
        // output pipe, which must be closed here for the reader to end.
        let mut command = Command::new(&cmd.shell);
        let err_w = out_w
            .try_clone()
            .map_err(|e| DeliveryError::io("duplicate output pipe for program", e))?;
        command
            .arg("-c")
            .arg(&cmd.command)
            .env_clear()
            .envs(cmd.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&cmd.directory)
            .stdin(Stdio::piped())
            .stdout(out_w)
            .stderr(err_w)
            .process_group(0);
        command
            .spawn()
            .map_err(|e| DeliveryError::io(format!("run {}", cmd.shell.display()), e))?
    };
    let (line_tx, line_rx) = mpsc::channel();
    // Not scoped: a background process the program left behind may hold the
    // pipe open for as long as it likes, and we do not wait for it.
    std::thread::spawn(move || {
        let _ = line_tx.send(output::last_line(out_r));
    });

    let stdin = child.stdin.take();
    let (abort_tx, abort_rx) = mpsc::channel::<()>();
    let (status, timed_out, fed) = std::thread::scope(|s| {
        let watcher = s.spawn(move || watch(child, cmd.timeout, abort_rx));
        let fed = feed(stdin, &head, message);
        if fed.is_err() {
            // Kill first, close the input after: the program must not
            // take a truncated message for a whole one.
            let _ = abort_tx.send(());
        }
        drop(abort_tx);
        let (status, timed_out) = match watcher.join() {
            Ok(r) => r,
            Err(_) => (Err(io::Error::other("program watcher panicked")), false),
        };
        (status, timed_out, fed)
    });
    if let Err((e, stdin)) = fed {
        drop(stdin);
        return Err(e);
    }
    let status = status.map_err(|e| DeliveryError::io("wait for program", e))?;
    let last_line = line_rx.recv_timeout(OUTPUT_GRACE).ok().flatten();
    outcome(status, timed_out, cmd.timeout, last_line)
}

/// Map the program's end to the delivery result.
fn outcome(
    status: ExitStatus,
    timed_out: bool,
    timeout: Duration,
    last_line: Option<String>,
) -> Result<(), DeliveryError> {
    if timed_out {
        return Err(DeliveryError::ProgramTimeout {
            after: timeout,
            last_line,
        });
    }
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(()),
        (Some(code), _) => Err(DeliveryError::ProgramExit { code, last_line }),
        (None, signal) => Err(DeliveryError::ProgramKilled {
            signal: signal.unwrap_or(0),
            last_line,
        }),
    }
}

/// Write the header lines and the message to the program's input, then
/// close it. The program closing its end early (`EPIPE`) is not an error:
/// its exit status will tell. On any other failure the input is handed
/// back still open, for the caller to close only after killing the program.
fn feed(
    stdin: Option<ChildStdin>,
    head: &[u8],
    message: &mut dyn Read,
) -> Result<(), (DeliveryError, ChildStdin)> {
    let Some(mut stdin) = stdin else {
        return Ok(());
    };
    match copy(&mut stdin, head, message) {
        Ok(()) | Err(Stop::ProgramClosed) => Ok(()),
        Err(Stop::Failed(e)) => Err((e, stdin)),
    }
}

/// Why copying to the program stopped early.
enum Stop {
    /// The program closed its input.
    ProgramClosed,
    Failed(DeliveryError),
}

fn copy(stdin: &mut ChildStdin, head: &[u8], message: &mut dyn Read) -> Result<(), Stop> {
    let werr = |e: io::Error| {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Stop::ProgramClosed
        } else {
            Stop::Failed(DeliveryError::io("write to program", e))
        }
    };
    stdin.write_all(head).map_err(werr)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match message.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Stop::Failed(DeliveryError::io("read message", e))),
        };
        stdin.write_all(&buf[..n]).map_err(werr)?;
    }
}

/// Wait for the program to exit, killing its process group at the deadline
/// or when asked to. Returns its status and whether the deadline killed it.
///
/// This polls `try_wait` instead of blocking in `wait`: only the thread
/// that owns the child may reap it, and reaping must not race with the
/// kill (a reaped pid may be reused).
fn watch(
    mut child: Child,
    timeout: Duration,
    abort: Receiver<()>,
) -> (io::Result<ExitStatus>, bool) {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    let mut abort = Some(abort);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return (Ok(status), false),
            Ok(None) => {}
            Err(e) => return (Err(e), false),
        }
        let now = Instant::now();
        if now >= deadline {
            kill_group(&child);
            return (child.wait(), true);
        }
        let wait = pause.min(deadline - now);
        pause = (pause * 2).min(MAX_POLL);
        match abort.as_ref().map(|rx| rx.recv_timeout(wait)) {
            Some(Ok(())) => {
                kill_group(&child);
                return (child.wait(), false);
            }
            Some(Err(RecvTimeoutError::Timeout)) => {}
            Some(Err(RecvTimeoutError::Disconnected)) => abort = None,
            None => std::thread::sleep(wait),
        }
    }
}

/// Kill the program and everything it started in its process group. The
/// child is not reaped yet, so its pid (the group's id) is still ours.
fn kill_group(child: &Child) {
    let pgid = Pid::from_raw(child.id() as i32);
    if killpg(pgid, Signal::SIGKILL).is_err() {
        let _ = nix::sys::signal::kill(pgid, Signal::SIGKILL);
    }
}
