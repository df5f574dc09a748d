//! LMTP delivery (RFC 2033; `action … lmtp DEST [rcpt-to]`).
//!
//! One transaction carries one message to any number of recipients at one
//! destination: `LHLO`, `MAIL FROM`, one `RCPT TO` per recipient, `DATA`,
//! and then — the point of LMTP — one reply per accepted recipient, so that
//! each recipient gets its own outcome. The caller chooses the recipient
//! strings: the user name by default, the original recipient address with
//! `rcpt-to`.
//!
//! Commands go one at a time (no pipelining): local servers answer fast and
//! it keeps the state simple. If reading the message fails midway, the
//! connection is dropped without the final `.`, so the server discards
//! what it got. Everything is blocking with timeouts.

mod data;
mod dest;
mod reply;

pub use dest::LmtpDest;
pub use reply::{read_reply, Reply, ReplyError};

use crate::error::DeliveryError;
use crate::headers::encode_prepend;
use data::DotStuffer;
use dest::Conn;
use smtpd_types::{DeliveryOutcome, EnhancedStatus, MailAddr};
use std::io::{self, BufReader, Read, Write};
use std::time::Duration;

/// How long to wait for the answer to `QUIT`, once every outcome is known.
const QUIT_WAIT: Duration = Duration::from_secs(5);

/// How to talk to the LMTP server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LmtpOptions {
    /// Our name, sent with `LHLO`.
    pub lhlo_name: String,
    pub connect_timeout: Duration,
    /// Limit for each read and each write on the connection.
    pub io_timeout: Duration,
}

impl Default for LmtpOptions {
    /// This host's name; 30 s to connect; 5 min for each read or write
    /// (RFC 5321 allows the server 10 min after the final dot).
    fn default() -> Self {
        let host = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_string());
        LmtpOptions {
            lhlo_name: host,
            connect_timeout: Duration::from_secs(30),
            io_timeout: Duration::from_secs(300),
        }
    }
}

/// Deliver a message from `sender` to `recipients` at `dest`, with
/// `prepend` header lines first. Returns one outcome per recipient, in the
/// order given: the server's own reply for that recipient where there is
/// one, else the failure that stopped the transaction.
pub fn deliver_lmtp(
    dest: &LmtpDest,
    opts: &LmtpOptions,
    sender: Option<&MailAddr>,
    recipients: &[String],
    prepend: &[String],
    message: &mut dyn Read,
) -> Vec<DeliveryOutcome> {
    let mut outcomes: Vec<Option<DeliveryOutcome>> = recipients
        .iter()
        .map(|r| (!usable(r)).then(|| DeliveryError::BadAddress { addr: r.clone() }.to_outcome()))
        .collect();
    if let Err(e) = transaction(
        dest,
        opts,
        sender,
        recipients,
        prepend,
        message,
        &mut outcomes,
    ) {
        let failed = e.to_outcome();
        for slot in outcomes.iter_mut().filter(|s| s.is_none()) {
            *slot = Some(failed.clone());
        }
    }
    outcomes
        .into_iter()
        .map(|o| {
            o.unwrap_or_else(|| {
                DeliveryOutcome::tempfail(EnhancedStatus::new(4, 5, 0), "no reply for recipient")
            })
        })
        .collect()
}

/// Whether an address can go into a command line as it is.
fn usable(addr: &str) -> bool {
    !addr.is_empty() && !addr.chars().any(|c| c.is_control())
}

/// Run the transaction, filling in the outcome of each recipient as it
/// becomes known. An error applies to the recipients still without one.
fn transaction(
    dest: &LmtpDest,
    opts: &LmtpOptions,
    sender: Option<&MailAddr>,
    recipients: &[String],
    prepend: &[String],
    message: &mut dyn Read,
    outcomes: &mut [Option<DeliveryOutcome>],
) -> Result<(), DeliveryError> {
    let head = encode_prepend(prepend)?;
    let sender = sender.map(|s| s.to_string()).unwrap_or_default();
    if sender.chars().any(|c| c.is_control()) {
        return Err(DeliveryError::BadAddress { addr: sender });
    }
    if outcomes.iter().all(|o| o.is_some()) {
        return Ok(());
    }
    let mut s = Session::open(dest, opts)?;
    expect(s.reply("greeting")?, "greeting")?;
    let lhlo = expect(
        s.command(&format!("LHLO {}", opts.lhlo_name), "LHLO")?,
        "LHLO",
    )?;

    let utf8_offered = lhlo
        .lines
        .iter()
        .skip(1)
        .any(|l| l.eq_ignore_ascii_case("SMTPUTF8"));
    let utf8_needed = !sender.is_ascii() || recipients.iter().any(|r| !r.is_ascii());
    let param = if utf8_offered && utf8_needed {
        " SMTPUTF8"
    } else {
        ""
    };
    expect(
        s.command(&format!("MAIL FROM:<{sender}>{param}"), "MAIL FROM")?,
        "MAIL FROM",
    )?;

    let mut accepted = Vec::new();
    for (i, rcpt) in recipients.iter().enumerate() {
        if outcomes[i].is_some() {
            continue;
        }
        let reply = s.command(&format!("RCPT TO:<{rcpt}>"), "RCPT TO")?;
        match expect(reply, "RCPT TO") {
            Ok(_) => accepted.push(i),
            Err(e) => outcomes[i] = Some(e.to_outcome()),
        }
    }
    if accepted.is_empty() {
        s.quit();
        return Ok(());
    }

    let data = s.command("DATA", "DATA")?;
    if data.code != 354 {
        let refused = refusal("DATA", data).to_outcome();
        for &i in &accepted {
            outcomes[i] = Some(refused.clone());
        }
        s.quit();
        return Ok(());
    }
    s.send_message(&head, message)?;

    // One reply per accepted recipient, in RCPT order (RFC 2033 §4.2).
    for &i in &accepted {
        let reply = s.reply("end of data")?;
        outcomes[i] = Some(match expect(reply, "end of data") {
            Ok(_) => DeliveryOutcome::Ok,
            Err(e) => e.to_outcome(),
        });
    }
    s.quit();
    Ok(())
}

/// A 2xx reply, or the error it stands for.
fn expect(reply: Reply, stage: &'static str) -> Result<Reply, DeliveryError> {
    if reply.is_success() {
        Ok(reply)
    } else {
        Err(refusal(stage, reply))
    }
}

/// A refusal (4xx, 5xx), or a protocol error for a reply that makes no
/// sense at this point.
fn refusal(stage: &'static str, reply: Reply) -> DeliveryError {
    match reply.class() {
        4 | 5 => DeliveryError::Rejected { stage, reply },
        _ => DeliveryError::Protocol {
            stage,
            detail: format!("unexpected reply {reply}"),
        },
    }
}

/// An open connection: replies are read through a buffer, commands written
/// straight to the socket.
struct Session {
    reader: BufReader<Conn>,
    writer: Conn,
}

impl Session {
    fn open(dest: &LmtpDest, opts: &LmtpOptions) -> Result<Self, DeliveryError> {
        let what = || format!("connect to {dest}");
        let conn = dest.connect(opts.connect_timeout)?;
        conn.set_timeouts(opts.io_timeout)
            .map_err(|e| DeliveryError::io(what(), e))?;
        let reader = conn.try_clone().map_err(|e| DeliveryError::io(what(), e))?;
        Ok(Session {
            reader: BufReader::new(reader),
            writer: conn,
        })
    }

    fn reply(&mut self, stage: &'static str) -> Result<Reply, DeliveryError> {
        read_reply(&mut self.reader).map_err(|e| match e {
            ReplyError::Io(e) => DeliveryError::io(format!("{stage}: reading reply"), e),
            other => DeliveryError::Protocol {
                stage,
                detail: other.to_string(),
            },
        })
    }

    fn command(&mut self, line: &str, stage: &'static str) -> Result<Reply, DeliveryError> {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .and_then(|()| self.writer.flush())
            .map_err(|e| DeliveryError::io(format!("{stage}: sending command"), e))?;
        self.reply(stage)
    }

    /// Send the DATA section. On a failure to read the message, the final
    /// dot is never sent.
    fn send_message(&mut self, head: &[u8], message: &mut dyn Read) -> Result<(), DeliveryError> {
        let werr = |e| DeliveryError::io("DATA: sending message", e);
        let mut out = DotStuffer::new(&mut self.writer);
        out.push(head).map_err(werr)?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match message.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(DeliveryError::io("read message", e)),
            };
            out.push(&buf[..n]).map_err(werr)?;
        }
        out.finish().map_err(werr)
    }

    /// Say goodbye; the outcomes are known, so failures here do not matter.
    fn quit(mut self) {
        let _ = self.reader.get_ref().set_timeouts(QUIT_WAIT);
        if self.writer.write_all(b"QUIT\r\n").is_ok() {
            let _ = read_reply(&mut self.reader);
        }
    }
}
