//! The SMTP client of sendmail: one transaction over the local session
//! the control process handed us (smtp runs it like a connection to the
//! local socket: `from local` rules apply). Commands go one at a time,
//! built and read with the protocol crate.

use smtpd_proto::{
    encode_for_data, Body, Capabilities, Command, MailFrom, MailParams, RcptParams, RcptTo,
    Recipient, Reply, ReplyParser,
};
use smtpd_types::{DsnNotify, DsnRet, MailAddr};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// How long the server may take to answer one command (the last waits for
/// the queue's commit).
const REPLY_TIMEOUT: Duration = Duration::from_secs(300);

/// Why the message was not enqueued.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// Try again later: a 4xx reply, or the session broke.
    #[error("{0}")]
    Temp(String),
    /// Refused (5xx).
    #[error("{0}")]
    Perm(String),
}

/// One transaction.
pub struct Transaction<'a> {
    pub helo: &'a str,
    pub sender: Option<&'a MailAddr>,
    pub rcpts: &'a [MailAddr],
    pub content: &'a [u8],
    /// Show the conversation on standard error (`sendmail -v`).
    pub verbose: bool,
    /// DSN parameters (`-N`, `-R`, `-V`), sent when the server offers DSN.
    pub notify: Option<DsnNotify>,
    pub ret: Option<DsnRet>,
    pub envid: Option<String>,
}

struct Session {
    stream: UnixStream,
    parser: ReplyParser,
    unfed: Vec<u8>,
    verbose: bool,
}

fn temp(what: &str, e: impl std::fmt::Display) -> SubmitError {
    SubmitError::Temp(format!("{what}: {e}"))
}

impl Session {
    fn reply(&mut self) -> Result<Reply, SubmitError> {
        let mut buf = [0u8; 4096];
        loop {
            if !self.unfed.is_empty() {
                let took = self.parser.feed(&self.unfed);
                self.unfed.drain(..took);
            }
            if let Some(r) = self.parser.next_reply() {
                let r = r.map_err(|e| temp("bad reply", e))?;
                if self.verbose {
                    eprint!("<<< {}", String::from_utf8_lossy(&r.to_wire()));
                }
                return Ok(r);
            }
            let n = self
                .stream
                .read(&mut buf)
                .map_err(|e| temp("reading a reply", e))?;
            if n == 0 {
                return Err(SubmitError::Temp("the server closed the session".into()));
            }
            self.unfed.extend_from_slice(&buf[..n]);
        }
    }

    /// A reply of class `want`, else the failure of the class given.
    fn expect(&mut self, want: u16, during: &str) -> Result<Reply, SubmitError> {
        let r = self.reply()?;
        if r.code / 100 == want {
            return Ok(r);
        }
        let text = format!("{during}: {}", r.to_string().trim_end());
        Err(if r.code >= 500 {
            SubmitError::Perm(text)
        } else {
            SubmitError::Temp(text)
        })
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), SubmitError> {
        self.stream
            .write_all(bytes)
            .map_err(|e| temp("writing to the server", e))
    }

    fn command(&mut self, cmd: Command, want: u16) -> Result<Reply, SubmitError> {
        let verb = cmd.verb();
        let line = cmd
            .to_wire()
            .map_err(|e| SubmitError::Perm(format!("{verb}: {e}")))?;
        if self.verbose {
            eprint!(">>> {}", String::from_utf8_lossy(&line));
        }
        self.send(&line)?;
        self.expect(want, verb)
    }
}

fn ascii(a: &MailAddr) -> bool {
    a.user.is_ascii() && a.domain.is_ascii()
}

/// Enqueue the message; on success the server's last reply (it names the
/// message id).
pub fn submit(stream: UnixStream, t: &Transaction<'_>) -> Result<String, SubmitError> {
    stream
        .set_read_timeout(Some(REPLY_TIMEOUT))
        .map_err(|e| temp("session", e))?;
    let mut s = Session {
        stream,
        parser: ReplyParser::new(),
        unfed: Vec::new(),
        verbose: t.verbose,
    };
    s.expect(2, "greeting")?;
    let ehlo = s.command(Command::Ehlo(t.helo.to_string()), 2)?;
    let caps = Capabilities::from_ehlo_reply(&ehlo);
    let wanted = MailParams {
        body: (!t.content.is_ascii()).then_some(Body::EightBitMime),
        smtputf8: !t.sender.is_none_or(ascii) || !t.rcpts.iter().all(ascii),
        ret: t.ret,
        envid: t.envid.clone(),
        ..MailParams::default()
    };
    let mail = MailFrom {
        sender: t.sender.cloned(),
        params: wanted.for_peer(&caps),
    };
    let rcpt_params = RcptParams {
        notify: t.notify.unwrap_or_default(),
        orcpt: None,
    }
    .for_peer(&caps);
    s.command(Command::Mail(mail), 2)?;
    for rcpt in t.rcpts {
        let cmd = Command::Rcpt(RcptTo {
            rcpt: Recipient::Mailbox(rcpt.clone()),
            params: rcpt_params.clone(),
        });
        s.command(cmd, 2)?;
    }
    s.command(Command::Data, 3)?;
    s.send(&encode_for_data(t.content))?;
    let done = s.expect(2, "end of data")?;
    // The message is queued whatever QUIT gets.
    if let Ok(line) = Command::Quit.to_wire() {
        if s.send(&line).is_ok() {
            let _ = s.reply();
        }
    }
    Ok(done.to_string().trim_end().to_string())
}
