//! `sendmail` (and `send-mail`): read a message on standard input and
//! enqueue it. As OpenSMTPD's enqueuer, it asks the control process for a
//! local SMTP session — smtp opens one on a socket pair and the control
//! process passes us its end (`SCM_RIGHTS`) — and speaks SMTP over it, so
//! the message takes the same path as any other: rules (`from local`),
//! expansion, queue commit.
//!
//! When the daemon is not running the message goes to the spool's
//! `offline/` directory (see [`offline`]) and sendmail succeeds, saying
//! so: the daemon enqueues it at start, as the user who wrote it. Only if
//! that fails too (no such directory, say) is the exit status 75
//! (`EX_TEMPFAIL`): try again later.

mod message;
mod offline;
mod options;
mod submit;

use smtpd_control_proto::{Client, Request, Response};
use smtpd_types::MailAddr;
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;

use crate::cli::Place;
use crate::faces;
use options::{Mode, Options};

// sysexits(3), which callers of sendmail read.
const EX_USAGE: u8 = 64;
const EX_DATAERR: u8 = 65;
const EX_UNAVAILABLE: u8 = 69;
const EX_IOERR: u8 = 74;
const EX_TEMPFAIL: u8 = 75;
const EX_NOPERM: u8 = 77;

/// A failure and its exit status.
struct Failure {
    code: u8,
    text: String,
}

fn fail(code: u8, text: impl Into<String>) -> Failure {
    Failure {
        code,
        text: text.into(),
    }
}

pub fn main(args: &[String]) -> ExitCode {
    let opts = match options::parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("sendmail: {e}");
            return ExitCode::from(EX_USAGE);
        }
    };
    match opts.mode {
        // A replayed offline file may only send mail.
        _ if opts.replay && opts.mode != Mode::Send => {
            eprintln!("sendmail: -S only sends mail");
            return ExitCode::from(EX_USAGE);
        }
        Mode::Newaliases => return faces::newaliases(&[]),
        Mode::ListQueue => return faces::mailq(&["mailq".to_string()]),
        Mode::Send => {}
    }
    match send(&opts, args) {
        Ok(Sent::Queued(reply)) => {
            if opts.verbose {
                eprintln!("sendmail: {reply}");
            }
            ExitCode::SUCCESS
        }
        Ok(Sent::Offline(path)) => {
            eprintln!(
                "sendmail: smtpd is not running: message queued offline ({}); \
                 it will be sent when smtpd starts",
                path.display()
            );
            ExitCode::SUCCESS
        }
        Err(f) => {
            eprintln!("sendmail: {}", f.text);
            ExitCode::from(f.code)
        }
    }
}

/// Who runs us, and on which host: the default sender, and the domain of
/// addresses given without one.
struct Local {
    login: String,
    host: String,
}

impl Local {
    fn get() -> Self {
        let uid = nix::unistd::getuid();
        let login = nix::unistd::User::from_uid(uid)
            .ok()
            .flatten()
            .map(|u| u.name)
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| uid.to_string());
        let host = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        Local { login, host }
    }

    /// `user@domain` as given (angle brackets dropped), or `user@host`.
    fn qualify(&self, addr: &str) -> Result<MailAddr, Failure> {
        let a = addr.trim();
        let a = a
            .strip_prefix('<')
            .and_then(|x| x.strip_suffix('>'))
            .unwrap_or(a);
        let full = if a.contains('@') {
            a.to_string()
        } else {
            format!("{a}@{}", self.host)
        };
        MailAddr::parse(&full).map_err(|e| fail(EX_DATAERR, format!("bad address {addr:?}: {e}")))
    }
}

/// What became of the message.
enum Sent {
    /// Enqueued; the server's last reply.
    Queued(String),
    /// The daemon is down: dropped in the offline directory, at this path.
    Offline(std::path::PathBuf),
}

fn send(opts: &Options, args: &[String]) -> Result<Sent, Failure> {
    let local = Local::get();
    // Replaying an offline file, we run as its owner, who is the sender:
    // the file's `-f` is not believed.
    let from = opts.from.as_deref().filter(|_| !opts.replay);
    let sender = match from.map(str::trim) {
        Some("" | "<>") => None,
        Some(f) => Some(local.qualify(f)?),
        None => Some(local.qualify(&local.login)?),
    };
    let mut input = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut input)
        .map_err(|e| fail(EX_IOERR, format!("reading the message: {e}")))?;
    let parsed = message::parse(message::until_end(&input, opts.ignore_dots));

    let mut rcpts: Vec<MailAddr> = Vec::new();
    let given = opts.rcpts.iter().flat_map(|r| r.split(','));
    let from_header = if opts.header_rcpts {
        message::header_rcpts(&parsed)
    } else {
        Vec::new()
    };
    for r in given.map(str::to_string).chain(from_header) {
        if r.trim().is_empty() {
            continue;
        }
        let a = local.qualify(&r)?;
        if !rcpts.contains(&a) {
            rcpts.push(a);
        }
    }
    if rcpts.is_empty() {
        return Err(fail(EX_USAGE, "no recipients"));
    }

    let content = message::rebuild(&parsed, &missing_fields(&parsed, opts, &local, &sender));
    let place = Place::new(None, None);
    let session = match open_session(&place) {
        Ok(s) => s,
        Err(Unreachable::Down(why)) if !opts.replay => {
            // Everything as given, so that the replay reads it the same.
            return offline::write(&place.spool, args, &input)
                .map(Sent::Offline)
                .map_err(|e| {
                    fail(
                        EX_TEMPFAIL,
                        format!("smtpd doesn't seem to be running ({why}), and queueing offline failed: {e}"),
                    )
                });
        }
        Err(Unreachable::Down(why)) => {
            return Err(fail(
                EX_TEMPFAIL,
                format!("smtpd doesn't seem to be running: message not sent ({why})"),
            ))
        }
        Err(Unreachable::Other(f)) => return Err(f),
    };
    let t = submit::Transaction {
        helo: &local.host,
        sender: sender.as_ref(),
        rcpts: &rcpts,
        content: &content,
        verbose: opts.verbose,
        notify: opts.notify,
        ret: opts.ret,
        envid: opts.envid.clone(),
    };
    submit::submit(session, &t)
        .map(Sent::Queued)
        .map_err(|e| match e {
            submit::SubmitError::Temp(t) => fail(EX_TEMPFAIL, t),
            submit::SubmitError::Perm(t) => fail(EX_UNAVAILABLE, t),
        })
}

/// Why no session came.
enum Unreachable {
    /// Nobody listens on the control socket.
    Down(smtpd_control_proto::ClientError),
    /// Anything else: refused, or the server failed.
    Other(Failure),
}

/// From:, Date: and Message-ID: for a message that lacks them.
fn missing_fields(
    parsed: &message::Parsed<'_>,
    opts: &Options,
    local: &Local,
    sender: &Option<MailAddr>,
) -> Vec<String> {
    let mut added = Vec::new();
    if !message::has(parsed, "from") {
        let addr = sender
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or_else(|| format!("{}@{}", local.login, local.host));
        added.push(match &opts.full_name {
            Some(name) => format!("From: {name} <{addr}>"),
            None => format!("From: {addr}"),
        });
    }
    if !message::has(parsed, "date") {
        added.push(format!("Date: {}", chrono::Local::now().to_rfc2822()));
    }
    if !message::has(parsed, "message-id") {
        let now = chrono::Utc::now().timestamp();
        let r: u32 = rand::random();
        added.push(format!("Message-ID: <{now}.{r:08x}@{}>", local.host));
    }
    added
}

/// A local SMTP session from the daemon.
fn open_session(place: &Place) -> Result<UnixStream, Unreachable> {
    let mut client = Client::connect(&place.socket).map_err(|e| {
        if e.server_down() {
            Unreachable::Down(e)
        } else if matches!(&e, smtpd_control_proto::ClientError::Connect { source, .. }
            if source.kind() == std::io::ErrorKind::PermissionDenied)
        {
            Unreachable::Other(fail(EX_NOPERM, e.to_string()))
        } else {
            Unreachable::Other(fail(EX_TEMPFAIL, e.to_string()))
        }
    })?;
    let why = match client.request(&Request::OpenSession) {
        Ok((Response::Session, mut fds)) => match fds.pop() {
            Some(fd) => return Ok(UnixStream::from(fd)),
            None => "the server sent no session".to_string(),
        },
        Ok((Response::Failed(why), _)) => why,
        Ok((other, _)) => format!("unexpected answer {other:?}"),
        Err(e) => e.to_string(),
    };
    Err(Unreachable::Other(fail(EX_TEMPFAIL, why)))
}
