//! `sendmail` (and `send-mail`): read a message on standard input and
//! enqueue it. As OpenSMTPD's enqueuer, it asks the control process for a
//! local SMTP session — smtp opens one on a socket pair and the control
//! process passes us its end (`SCM_RIGHTS`) — and speaks SMTP over it, so
//! the message takes the same path as any other: rules (`from local`),
//! expansion, queue commit.
//!
//! When the daemon is not running the message is not sent: the error says
//! so and the exit status is 75 (`EX_TEMPFAIL`), which tells the calling
//! program to try again later. (OpenSMTPD's offline drop directory, from
//! which the daemon re-injects at start, is not implemented.)

mod message;
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
        Mode::Newaliases => return faces::newaliases(&[]),
        Mode::ListQueue => return faces::mailq(&["mailq".to_string()]),
        Mode::Send => {}
    }
    match send(&opts) {
        Ok(reply) => {
            if opts.verbose {
                eprintln!("sendmail: {reply}");
            }
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

fn send(opts: &Options) -> Result<String, Failure> {
    let local = Local::get();
    let sender = match opts.from.as_deref().map(str::trim) {
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
    let session = open_session()?;
    let t = submit::Transaction {
        helo: &local.host,
        sender: sender.as_ref(),
        rcpts: &rcpts,
        content: &content,
        verbose: opts.verbose,
    };
    submit::submit(session, &t).map_err(|e| match e {
        submit::SubmitError::Temp(t) => fail(EX_TEMPFAIL, t),
        submit::SubmitError::Perm(t) => fail(EX_UNAVAILABLE, t),
    })
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
fn open_session() -> Result<UnixStream, Failure> {
    let place = Place::new(None, None);
    let mut client = Client::connect(&place.socket).map_err(|e| {
        if e.server_down() {
            fail(
                EX_TEMPFAIL,
                format!("smtpd doesn't seem to be running: message not sent ({e})"),
            )
        } else if matches!(&e, smtpd_control_proto::ClientError::Connect { source, .. }
            if source.kind() == std::io::ErrorKind::PermissionDenied)
        {
            fail(EX_NOPERM, e.to_string())
        } else {
            fail(EX_TEMPFAIL, e.to_string())
        }
    })?;
    match client.request(&Request::OpenSession) {
        Ok((Response::Session, mut fds)) => fds
            .pop()
            .map(UnixStream::from)
            .ok_or_else(|| fail(EX_TEMPFAIL, "the server sent no session")),
        Ok((Response::Failed(why), _)) => Err(fail(EX_TEMPFAIL, why)),
        Ok((other, _)) => Err(fail(EX_TEMPFAIL, format!("unexpected answer {other:?}"))),
        Err(e) => Err(fail(EX_TEMPFAIL, e.to_string())),
    }
}
