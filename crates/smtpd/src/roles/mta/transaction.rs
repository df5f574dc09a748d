//! One mail transaction on an open connection: MAIL, one RCPT per
//! envelope, DATA, and an outcome for every envelope (the peer's reply
//! text and enhanced code as the reason). With a peer that offers
//! PIPELINING (RFC 2920), MAIL, the RCPTs and DATA go in one write and
//! their replies are read in order; otherwise one command at a time.
//!
//! The message file is read twice: once to learn its size and whether it
//! has 8-bit bytes (for SIZE and BODY=8BITMIME), once to stream it through
//! the proto crate's [`WireEncoder`] (CRLF line ends, dot-stuffing), so a
//! large message never sits in memory whole.
//!
//! The file is read with plain positioned reads on the runtime's thread,
//! not through `tokio::fs`: the spool file was written moments ago and is
//! in the page cache, so a read costs microseconds, while `tokio::fs` hands
//! every read to a blocking thread and back (measured: ~10 context switches
//! per relayed message, the mta's largest cost after the sockets).

use smtpd_proto::{
    Body, Command, MailFrom, MailParams, Orcpt, RcptParams, RcptTo, Recipient, Reply, WireEncoder,
};
use smtpd_types::{DeliveryOutcome, EnhancedStatus, Envelope, MailAddr, MsgId};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::Duration;

use super::session::{Connected, COMMAND};
use super::wire::WireError;

/// How long the peer may take with the 354, a block of content, and the
/// final reply.
const DATA_INIT: Duration = Duration::from_secs(120);
const DATA_BLOCK: Duration = Duration::from_secs(180);
const DATA_END: Duration = Duration::from_secs(600);

/// Envelopes of one message for one relay, sent in one transaction.
pub struct Task {
    pub msgid: MsgId,
    /// The reverse path after `mail-from` rewriting (`None`: `<>`).
    pub sender: Option<MailAddr>,
    pub envelopes: Vec<Envelope>,
    pub file: std::fs::File,
    /// How many connections were found dead under this task already.
    pub stale: u8,
}

/// How many dead connections a task is given back for before its
/// envelopes fail temporarily: a peer that drops every connection at MAIL
/// must not keep a task going round.
const MAX_STALE: u8 = 3;

/// One envelope's outcome and the reply it came from, for the log.
pub struct Delivered {
    pub envelope: Envelope,
    pub outcome: DeliveryOutcome,
    pub stat: String,
}

/// What the content scan found.
struct Scan {
    /// Size on the wire, CRLF counted (dot-stuffing is not).
    size: u64,
    eight_bit: bool,
}

/// Read the block of `file` at `offset` into `buf` (a short count only at
/// the end), retrying interrupted reads.
fn read_block(file: &File, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match file.read_at(buf, offset) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

fn scan(file: &File) -> std::io::Result<Scan> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut s = Scan {
        size: 0,
        eight_bit: false,
    };
    let mut offset = 0u64;
    loop {
        let n = read_block(file, offset, &mut buf)?;
        if n == 0 {
            return Ok(s);
        }
        offset += n as u64;
        let chunk = &buf[..n];
        s.size += n as u64 + memchr_count(chunk) as u64;
        s.eight_bit |= chunk.iter().any(|b| *b >= 0x80);
    }
}

fn memchr_count(chunk: &[u8]) -> usize {
    chunk.iter().filter(|b| **b == b'\n').count()
}

/// The outcome a reply means: 5xx permanent, anything else that is not
/// 2xx temporary. The reply's enhanced code when it has one of its class.
pub fn outcome_of(r: &Reply) -> DeliveryOutcome {
    let class = if r.is_permanent() { 5 } else { 4 };
    let status = r
        .esc
        .filter(|e| e.class == class)
        .unwrap_or(EnhancedStatus::new(class, 0, 0));
    let reason = format!("{} {}", r.code, r.text());
    if class == 5 {
        DeliveryOutcome::permfail(status, reason)
    } else {
        DeliveryOutcome::tempfail(status, reason)
    }
}

/// An envelope and, once known, its outcome and the reply it came from.
type Slot = (Envelope, Option<(DeliveryOutcome, String)>);

/// Collects the outcomes while the transaction goes on.
struct Outcomes {
    slots: Vec<Slot>,
    /// The peer answered MAIL (so a failure from here on is this
    /// transaction's, not a stale connection's).
    mail_answered: bool,
}

impl Outcomes {
    fn set(&mut self, i: usize, o: DeliveryOutcome, stat: String) {
        if let Some(slot) = self.slots.get_mut(i) {
            slot.1.get_or_insert((o, stat));
        }
    }

    fn set_reply(&mut self, i: usize, r: &Reply) {
        let o = if r.is_positive() {
            DeliveryOutcome::Ok
        } else {
            outcome_of(r)
        };
        self.set(i, o, r.to_string());
    }

    /// Every envelope still without an outcome gets this one, decided
    /// here rather than by a reply.
    fn decide(&mut self, o: DeliveryOutcome) {
        let stat = super::report::stat_of(&o);
        self.rest(&o, &stat);
    }

    /// Every envelope still without an outcome gets this one.
    fn rest(&mut self, o: &DeliveryOutcome, stat: &str) {
        for i in 0..self.slots.len() {
            self.set(i, o.clone(), stat.to_string());
        }
    }

    fn done(self) -> Vec<Delivered> {
        self.slots
            .into_iter()
            .map(|(envelope, o)| {
                let (outcome, stat) = o.unwrap_or_else(|| {
                    let o = DeliveryOutcome::tempfail(EnhancedStatus::new(4, 0, 0), "no outcome");
                    (o, "no outcome".into())
                });
                Delivered {
                    envelope,
                    outcome,
                    stat,
                }
            })
            .collect()
    }
}

/// How a transaction ended.
pub enum Sent {
    /// An outcome per envelope, and whether the connection can take
    /// another transaction.
    Done(Vec<Delivered>, bool),
    /// The connection was found dead before the peer answered MAIL: it
    /// had waited idle (kept from an earlier transaction, or opened while
    /// the task was queued) and the peer closed it meanwhile, timed out or
    /// restarted. The task is given back whole, to go out on a fresh
    /// connection rather than wait for a retry (as Postfix does with its
    /// connection cache); at most [`MAX_STALE`] times.
    Stale(Task),
}

/// Send `task` on `c`.
pub async fn send(c: &mut Connected, task: Task, lmtp: bool) -> Sent {
    let Task {
        msgid,
        sender,
        envelopes,
        file,
        stale,
    } = task;
    let mut out = Outcomes {
        slots: envelopes.into_iter().map(|e| (e, None)).collect(),
        mail_answered: false,
    };
    let alive = match transact(c, &mut out, sender.as_ref(), &file, lmtp).await {
        Ok(alive) => alive,
        Err(_) if !out.mail_answered && stale < MAX_STALE => {
            return Sent::Stale(Task {
                msgid,
                sender,
                envelopes: out.slots.into_iter().map(|(e, _)| e).collect(),
                file,
                stale: stale + 1,
            });
        }
        Err(e) => {
            let why = format!(
                "connection with {} [{}] lost: {e}",
                c.peer.host, c.peer.addr
            );
            out.decide(DeliveryOutcome::tempfail(EnhancedStatus::new(4, 4, 2), why));
            false
        }
    };
    Sent::Done(out.done(), alive)
}

fn needs_smtputf8(sender: Option<&MailAddr>, envs: &[Slot]) -> bool {
    let non_ascii = |a: &MailAddr| !a.user.is_ascii() || !a.domain.is_ascii();
    sender.is_some_and(non_ascii) || envs.iter().any(|(e, _)| non_ascii(&e.dest))
}

/// `rfc822;xtext` as stored on the envelope, back into its parts.
fn orcpt_of(env: &Envelope) -> Option<Orcpt> {
    let (ty, addr) = env.dsn_orcpt.as_deref()?.split_once(';')?;
    let addr = smtpd_proto::xtext_decode(addr)?;
    Some(Orcpt {
        addr_type: ty.to_ascii_lowercase(),
        addr: String::from_utf8(addr).ok()?,
    })
}

async fn reset(c: &mut Connected) -> Result<bool, WireError> {
    let r = c
        .wire
        .command(&Command::Rset, COMMAND, "after RSET")
        .await?;
    Ok(r.is_positive())
}

/// The transaction proper. `Err`: the connection failed (every envelope
/// without an outcome then fails temporarily).
async fn transact(
    c: &mut Connected,
    out: &mut Outcomes,
    sender: Option<&MailAddr>,
    file: &File,
    lmtp: bool,
) -> Result<bool, WireError> {
    let scan = match scan(file) {
        Ok(s) => s,
        Err(e) => {
            let why = format!("cannot read the message: {e}");
            out.decide(DeliveryOutcome::tempfail(EnhancedStatus::new(4, 3, 0), why));
            return Ok(true);
        }
    };
    if let Some(max) = c.caps.size.filter(|m| *m > 0) {
        if scan.size > max {
            let why = format!(
                "message too big for {} ({} > {max} bytes)",
                c.peer.host, scan.size
            );
            out.decide(DeliveryOutcome::permfail(
                EnhancedStatus::new(5, 3, 4),
                &why,
            ));
            return Ok(true);
        }
    }
    let smtputf8 = needs_smtputf8(sender, &out.slots);
    if smtputf8 && !c.caps.smtputf8 {
        let why = format!("{} does not support SMTPUTF8", c.peer.host);
        out.decide(DeliveryOutcome::permfail(
            EnhancedStatus::new(5, 6, 7),
            &why,
        ));
        return Ok(true);
    }
    let Some((first, _)) = out.slots.first() else {
        return Ok(true);
    };
    let params = MailParams {
        size: Some(scan.size),
        body: scan.eight_bit.then_some(Body::EightBitMime),
        smtputf8,
        ret: first.dsn_ret,
        envid: first.dsn_envid.clone(),
    }
    .for_peer(&c.caps);
    let mail = Command::Mail(MailFrom {
        sender: sender.cloned(),
        params,
    });
    if mail.to_wire().is_err() {
        let why = "the sender cannot be sent in a MAIL command".to_string();
        out.decide(DeliveryOutcome::permfail(
            EnhancedStatus::new(5, 1, 7),
            &why,
        ));
        return Ok(true);
    }
    // The RCPT commands, built first: one that cannot be written fails
    // its envelope here and is never sent.
    let mut rcpts = Vec::new();
    for i in 0..out.slots.len() {
        let env = &out.slots[i].0;
        let rcpt = Command::Rcpt(RcptTo {
            rcpt: Recipient::Mailbox(env.dest.clone()),
            params: RcptParams {
                notify: env.dsn_notify,
                orcpt: orcpt_of(env),
            }
            .for_peer(&c.caps),
        });
        match rcpt.to_wire() {
            Ok(wire) => rcpts.push((i, wire)),
            Err(_) => {
                let why = "the recipient cannot be sent in a RCPT command".to_string();
                out.set(
                    i,
                    DeliveryOutcome::permfail(EnhancedStatus::new(5, 1, 3), &why),
                    why,
                );
            }
        }
    }
    if c.caps.pipelining && !rcpts.is_empty() {
        return pipelined(c, out, &mail, rcpts, file, lmtp).await;
    }
    let r = c.wire.command(&mail, COMMAND, "after MAIL").await?;
    out.mail_answered = true;
    if !r.is_positive() {
        out.rest(&outcome_of(&r), &r.to_string());
        return reset(c).await;
    }
    let mut accepted = Vec::new();
    for (i, wire) in rcpts {
        c.wire.send(&wire, COMMAND, "sending RCPT").await?;
        let r = c.wire.reply(COMMAND, "after RCPT").await?;
        if r.is_positive() {
            accepted.push(i);
        } else {
            out.set_reply(i, &r);
        }
    }
    if accepted.is_empty() {
        return reset(c).await;
    }
    let data = Command::Data.to_wire()?;
    c.wire.send(&data, COMMAND, "sending DATA").await?;
    let r = c.wire.reply(DATA_INIT, "after DATA").await?;
    after_data(c, out, &r, accepted, file, lmtp).await
}

/// RFC 2920: MAIL, every RCPT and DATA in one write, then their replies in
/// order (one round trip instead of two plus one per recipient).
async fn pipelined(
    c: &mut Connected,
    out: &mut Outcomes,
    mail: &Command,
    rcpts: Vec<(usize, Vec<u8>)>,
    file: &File,
    lmtp: bool,
) -> Result<bool, WireError> {
    let mut batch = mail.to_wire()?;
    for (_, wire) in &rcpts {
        batch.extend_from_slice(wire);
    }
    batch.extend_from_slice(&Command::Data.to_wire()?);
    c.wire
        .send(&batch, COMMAND, "sending MAIL, RCPT and DATA")
        .await?;
    let r = c.wire.reply(COMMAND, "after MAIL").await?;
    out.mail_answered = true;
    let mail_ok = r.is_positive();
    if !mail_ok {
        out.rest(&outcome_of(&r), &r.to_string());
    }
    let mut accepted = Vec::new();
    for (i, _) in rcpts {
        let r = c.wire.reply(COMMAND, "after RCPT").await?;
        if !mail_ok {
            continue;
        }
        if r.is_positive() {
            accepted.push(i);
        } else {
            out.set_reply(i, &r);
        }
    }
    let r = c.wire.reply(DATA_INIT, "after DATA").await?;
    if r.code == 354 && accepted.is_empty() {
        // A server that opened DATA with nothing accepted: end the
        // (empty) message and forget it; every envelope has its outcome.
        c.wire
            .send(b".\r\n", DATA_BLOCK, "ending an empty message")
            .await?;
        c.wire.reply(DATA_END, "after the empty message").await?;
        return reset(c).await;
    }
    if accepted.is_empty() {
        return reset(c).await;
    }
    after_data(c, out, &r, accepted, file, lmtp).await
}

/// From the reply to DATA on: the content, and the outcome of each
/// accepted recipient.
async fn after_data(
    c: &mut Connected,
    out: &mut Outcomes,
    r: &Reply,
    accepted: Vec<usize>,
    file: &File,
    lmtp: bool,
) -> Result<bool, WireError> {
    if r.code != 354 {
        let o = if r.is_positive() {
            DeliveryOutcome::tempfail(EnhancedStatus::new(4, 5, 0), format!("unexpected {r}"))
        } else {
            outcome_of(r)
        };
        out.rest(&o, &r.to_string());
        return reset(c).await;
    }
    stream(c, file).await?;
    if lmtp {
        for i in accepted {
            let r = c.wire.reply(DATA_END, "after the message").await?;
            out.set_reply(i, &r);
        }
    } else {
        let r = c.wire.reply(DATA_END, "after the message").await?;
        for i in accepted {
            out.set_reply(i, &r);
        }
    }
    Ok(true)
}

/// The content after the 354, encoded, and the final `.`. A read error
/// midway drops the connection: the peer must not take a truncated
/// message for a whole one.
async fn stream(c: &mut Connected, file: &File) -> Result<(), WireError> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut wire = Vec::with_capacity(buf.len() + buf.len() / 8);
    let mut enc = WireEncoder::for_data();
    let mut offset = 0u64;
    loop {
        let n = read_block(file, offset, &mut buf)?;
        if n == 0 {
            break;
        }
        offset += n as u64;
        wire.clear();
        enc.encode(&buf[..n], &mut wire);
        c.wire
            .send(&wire, DATA_BLOCK, "sending the message")
            .await?;
    }
    wire.clear();
    enc.finish(&mut wire);
    c.wire.send(&wire, DATA_BLOCK, "ending the message").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_become_outcomes_with_their_enhanced_code() {
        let r = Reply::with_esc(550, (5, 1, 1), "No such user");
        assert_eq!(
            outcome_of(&r),
            DeliveryOutcome::permfail(EnhancedStatus::new(5, 1, 1), "550 No such user")
        );
        // No code, or one of another class: the class's generic code.
        let r = Reply::new(451, None, "later");
        assert_eq!(
            outcome_of(&r),
            DeliveryOutcome::tempfail(EnhancedStatus::new(4, 0, 0), "451 later")
        );
        let r = Reply::new(554, Some(EnhancedStatus::new(2, 0, 0)), "odd");
        assert!(matches!(
            outcome_of(&r),
            DeliveryOutcome::PermFail { status, .. } if status == EnhancedStatus::new(5, 0, 0)
        ));
        // A 3xx where a final answer was due is no success.
        assert!(matches!(
            outcome_of(&Reply::new(354, None, "?")),
            DeliveryOutcome::TempFail { .. }
        ));
    }

    #[test]
    fn orcpt_round_trips_from_the_envelope() {
        let mut e = sample();
        e.dsn_orcpt = Some("rfc822;a+2Bb@c.test".into());
        assert_eq!(
            orcpt_of(&e),
            Some(Orcpt {
                addr_type: "rfc822".into(),
                addr: "a+b@c.test".into()
            })
        );
        e.dsn_orcpt = Some("garbage".into());
        assert_eq!(orcpt_of(&e), None);
        e.dsn_orcpt = Some("rfc822;+zz".into());
        assert_eq!(orcpt_of(&e), None);
    }

    #[test]
    fn smtputf8_only_for_non_ascii_addresses() {
        let mut e = sample();
        let slots = vec![(e.clone(), None)];
        assert!(!needs_smtputf8(e.sender.as_ref(), &slots));
        e.dest = MailAddr::new("jos\u{e9}", "example.test");
        assert!(needs_smtputf8(None, &[(e, None)]));
    }

    fn sample() -> Envelope {
        let mut e = Envelope::new(
            smtpd_types::EvpId(0x0102030405060708),
            smtpd_types::EnvelopeKind::Mta,
            Some(MailAddr::new("a", "b.test")),
            MailAddr::new("r", "remote.test"),
        );
        e.dispatcher = "out".into();
        e.smtpname = "mx.test".into();
        e.helo = "c.test".into();
        e.hostname = "c.test".into();
        e.sockaddr = "127.0.0.1".into();
        e
    }
}
