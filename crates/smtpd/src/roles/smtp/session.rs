//! One inbound SMTP session: the state machine over a connection.
//!
//! Bytes go through the protocol crate (framing, parsing, DATA/BDAT
//! receivers); decisions come from lka (rules, expansion) and the queue
//! (message file, commit) by messages. Replies to pipelined commands are
//! gathered and written together before the session waits for input again
//! (RFC 2920).

use smtpd_config::{FilterPhase, Listener, ListenerTls};
use smtpd_ipc::ChannelError;
use smtpd_proto::{
    parse_command, start_data, BdatReceiver, Capabilities, Command, CommandBuffer, ContentLimits,
    DataReceiver, DataStatus, MailFrom, ParseOptions, RcptTo, Recipient, Reply,
};
use smtpd_types::{EnhancedStatus, Envelope, MailAddr, MsgId};
use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tracing::{info, warn};

use super::address;
use super::received::{self, Trace};
use super::sasl;
use super::tls::{self, Conn, Upgrade};
use super::Shared;
use crate::msg::to_smtp::{Expansion, FilterVerdict, QueueFailure};
use crate::msg::{ClientAddr, ReqId, SessionInfo, ToLka, ToQueue, ToSmtp, TxInfo};
use crate::pending::Reply as PendingReply;

mod auth;
mod filters;
mod starttls;

/// How long a session waits for another process to answer.
const IPC_TIMEOUT: Duration = Duration::from_secs(120);
/// How long RCPT waits for the client's reverse DNS name.
const RDNS_WAIT: Duration = Duration::from_secs(3);
/// Errors (bad commands, bad sequence, refused arguments) tolerated before
/// the session is closed.
const MAX_ERRORS: u32 = 20;
/// Commands that do no useful work (NOOP, RSET, HELP, VRFY, EXPN, bare
/// HELO/EHLO) tolerated between two messages.
const MAX_USELESS: u32 = 100;
/// Bytes read at a time between commands: small, because thousands of
/// idle sessions each hold this buffer.
const READ_CHUNK: usize = 2 * 1024;
/// Bytes read at a time while a message comes in, at most.
const DATA_CHUNK: usize = 64 * 1024;

/// The read buffer of a message: small at first (a slow or idle client
/// in DATA costs little), doubled whenever a read fills it, up to
/// `DATA_CHUNK` for clients that send fast.
struct GrowBuf {
    buf: Vec<u8>,
}

impl GrowBuf {
    fn new() -> Self {
        GrowBuf {
            buf: vec![0u8; READ_CHUNK],
        }
    }

    fn slice(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// A read returned `n` bytes.
    fn note(&mut self, n: usize) {
        if n == self.buf.len() && self.buf.len() < DATA_CHUNK {
            let len = (self.buf.len() * 2).min(DATA_CHUNK);
            self.buf.resize(len, 0);
        }
    }
}

/// Run a session until the client leaves, misbehaves, or the server stops.
pub async fn run(
    sh: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    listener: usize,
    local: SocketAddr,
) {
    let conf = sh.rt.config.listeners.get(listener).cloned();
    let Some(conf) = conf else {
        warn!("smtp: no listener {listener} in the configuration");
        return;
    };
    let id: u64 = rand::random();
    info!(
        "{id:016x} smtp connected address={} local={local}",
        peer.ip()
    );
    let family = if peer.is_ipv4() {
        "smtp.session.inet4"
    } else {
        "smtp.session.inet6"
    };
    crate::stats::updates(&sh.peers, &[("smtp.session", 1), (family, 1)]);
    let mut conn = Conn::Plain(stream);
    let smtps = matches!(conf.tls, ListenerTls::Smtps { .. });
    let mut tls_desc = None;
    if smtps {
        // Implicit TLS (RFC 8314): the handshake comes before the banner.
        let Some((tcp, acceptor)) = conn.take_plain().zip(sh.tls.acceptor(listener)) else {
            warn!("{id:016x} smtp: no TLS configuration for listener {listener}");
            return;
        };
        match tls::accept(&acceptor, tcp, sh.rt.smtp_timeout).await {
            Ok((s, desc)) => {
                conn.put_tls(s);
                tls_desc = Some(desc);
            }
            Err(e) => {
                info!("{id:016x} smtp disconnected reason=tls-error: {e}");
                crate::stats::update(&sh.peers, "smtp.session", -1);
                return;
            }
        }
    }
    let mut s = Session::new(sh, conn, conf, listener, ClientAddr::Inet(peer.ip()), id);
    s.local = local.to_string();
    if let Some(desc) = tls_desc {
        s.secured(&desc);
    }
    s.start_rdns(peer);
    s.serve_to_end().await;
}

/// Run a session for a local client on any stream: the queue's reports
/// (the seed's §4.5) come through a socket pair, not a listener. The
/// session is the local enqueue socket's (`listen on socket`, or its
/// default): `from local` and `from socket` rules apply, no reverse DNS.
pub async fn run_local<S: AsyncRead + AsyncWrite + Unpin + Upgrade>(sh: Arc<Shared>, stream: S) {
    let conf = sh.rt.config.socket_listener();
    let index = sh
        .rt
        .config
        .listeners
        .iter()
        .position(|l| *l == conf)
        .unwrap_or(sh.rt.config.listeners.len());
    let id: u64 = rand::random();
    info!("{id:016x} smtp connected address=local local=internal");
    crate::stats::updates(&sh.peers, &[("smtp.session", 1), ("smtp.session.local", 1)]);
    let mut s = Session::new(sh, stream, conf, index, ClientAddr::Local, id);
    s.serve_to_end().await;
}

/// An open transaction.
struct Tx {
    msgid: MsgId,
    /// The message file, written directly: the content arrives in large
    /// chunks, and a buffer here would cost every open transaction 64 KiB.
    file: File,
    mail_from: Option<MailAddr>,
    smtputf8: bool,
    ret: Option<smtpd_types::DsnRet>,
    envid: Option<String>,
    envelopes: Vec<Envelope>,
    rcpts: Vec<MailAddr>,
    /// BDAT: the transaction already failed; the rest is discarded and the
    /// last chunk gets this reply.
    failed: Option<Reply>,
    bdat: Option<BdatReceiver>,
    /// Size of the BDAT chunk being received.
    chunk_size: u64,
    data_started: bool,
    /// A filter said `junk`: the message gets `X-Spam: Yes`.
    junk: bool,
    /// `senders … masquerade` for an authenticated session: the From:
    /// header is rewritten on its way to the file.
    masq: Option<super::masquerade::Masquerade>,
    /// Counts this transaction's descriptor in the process's budget.
    _slot: TxSlot,
}

impl Tx {
    /// Write client content to the message file (through the From:
    /// rewrite when there is one).
    fn write_content(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match &mut self.masq {
            Some(m) => {
                let out = m.feed(bytes);
                self.file.write_all(&out)
            }
            None => self.file.write_all(bytes),
        }
    }

    /// The end of the content: write what the rewrite still holds.
    fn finish_content(&mut self) -> std::io::Result<()> {
        match &mut self.masq {
            Some(m) => {
                let out = m.finish();
                self.file.write_all(&out)
            }
            None => Ok(()),
        }
    }
}

/// One open transaction in the descriptor budget, given back when the
/// transaction ends however it ends.
struct TxSlot(Arc<Shared>);

impl TxSlot {
    fn take(sh: &Arc<Shared>) -> TxSlot {
        sh.transactions
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        TxSlot(sh.clone())
    }
}

impl Drop for TxSlot {
    fn drop(&mut self) {
        self.0
            .transactions
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        self.0.session_ended.notify_waiters();
    }
}

struct Session<S> {
    sh: Arc<Shared>,
    conf: Listener,
    info: SessionInfo,
    stream: S,
    /// Replies not yet written.
    out: Vec<u8>,
    cmds: CommandBuffer,
    /// Bytes read but not yet taken by the command buffer.
    input: Vec<u8>,
    esmtp: bool,
    tx: Option<Tx>,
    mails: u64,
    errors: u32,
    useless: u32,
    rdns: Option<oneshot::Receiver<PendingReply<ToSmtp>>>,
    caps: Capabilities,
    /// A refused BDAT whose chunk is being skipped, and the reply for it.
    pending_discard: Option<(BdatReceiver, Reply)>,
    /// The command being answered, as the failed-command log shows it;
    /// `None` for replies that answer no command (timeouts, shutdown).
    current: Option<String>,
    /// An AUTH exchange waits for the client's response line.
    sasl: Option<sasl::Step>,
    /// A filter said `junk` before MAIL: every message of the session
    /// gets `X-Spam: Yes`.
    junk: bool,
    /// Our address, as the filters' `link-connect` report gives it.
    local: String,
    /// The TLS session's description, once there is one.
    tls_desc: Option<String>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn r(code: u16, esc: (u8, u16, u16), text: impl Into<String>) -> Reply {
    Reply::with_esc(code, esc, text)
}

/// A command line as the log shows it: at most 128 characters, and never
/// the credentials of an AUTH line.
fn loggable(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let mut words = text.split(' ');
    if words
        .next()
        .is_some_and(|verb| verb.eq_ignore_ascii_case("AUTH"))
    {
        let mech = words.next().unwrap_or("");
        return format!("AUTH {mech}").chars().take(128).collect();
    }
    text.chars().take(128).collect()
}

/// What a command asks the session loop to do next.
enum Next {
    Continue,
    Data,
    Bdat,
    /// STARTTLS was accepted: the handshake comes next.
    StartTls,
    Close(&'static str),
}

impl<S: AsyncRead + AsyncWrite + Unpin + Upgrade> Session<S> {
    fn new(
        sh: Arc<Shared>,
        stream: S,
        conf: Listener,
        listener: usize,
        client: ClientAddr,
        id: u64,
    ) -> Self {
        let hostname = conf
            .hostname
            .clone()
            .unwrap_or_else(|| sh.rt.hostname.clone());
        let mut caps = Capabilities::server_default(sh.rt.config.smtp.max_message_size);
        caps.dsn = !conf.no_dsn;
        caps.starttls = matches!(conf.tls, ListenerTls::StartTls { .. });
        // The data-line filters see messages that come with DATA: a
        // filtered listener does not offer BDAT.
        caps.chunking &= conf.filter.is_none();
        Session {
            info: SessionInfo {
                id,
                listener,
                tag: conf.tag.clone(),
                client,
                rdns: None,
                fcrdns: false,
                helo: String::new(),
                auth_user: None,
                tls: false,
                smtpname: hostname,
            },
            sh,
            conf,
            stream,
            out: Vec::new(),
            cmds: CommandBuffer::new(),
            input: Vec::new(),
            esmtp: false,
            tx: None,
            mails: 0,
            errors: 0,
            useless: 0,
            rdns: None,
            caps,
            pending_discard: None,
            current: None,
            sasl: None,
            junk: false,
            local: "local".to_string(),
            tls_desc: None,
        }
    }

    /// Serve, then abandon an unfinished transaction and log the end.
    async fn serve_to_end(&mut self) {
        let reason = self.serve().await;
        self.abandon_tx();
        self.report("link-disconnect", Vec::new);
        // TLS ends with a close_notify (clients otherwise see a truncation);
        // a peer that does not read gets no more than a moment.
        let _ = tokio::time::timeout(Duration::from_secs(1), self.stream.shutdown()).await;
        info!("{} smtp disconnected reason={reason}", self.id());
        crate::stats::update(&self.sh.peers, "smtp.session", -1);
    }

    fn id(&self) -> String {
        format!("{:016x}", self.info.id)
    }

    fn start_rdns(&mut self, peer: SocketAddr) {
        let (req, rx) = self.sh.pending.register();
        if self
            .sh
            .peers
            .lka()
            .send(ToLka::Rdns {
                req,
                addr: peer.ip(),
            })
            .is_ok()
        {
            self.rdns = Some(rx);
        } else {
            self.sh.pending.cancel(req);
        }
    }

    /// Take the reverse DNS answer if it came, waiting at most `wait`.
    async fn settle_rdns(&mut self, wait: Duration) {
        let Some(mut rx) = self.rdns.take() else {
            return;
        };
        let got = if wait.is_zero() {
            rx.try_recv().ok()
        } else {
            tokio::time::timeout(wait, &mut rx)
                .await
                .ok()
                .and_then(|r| r.ok())
        };
        match got {
            Some((
                ToSmtp::Rdns {
                    name,
                    forward_confirmed,
                    ..
                },
                _,
            )) => {
                self.info.rdns = name;
                self.info.fcrdns = forward_confirmed;
            }
            Some(_) => {}
            None if wait.is_zero() => self.rdns = Some(rx),
            None => {}
        }
    }

    /// Queue a reply; every 4xx/5xx answer to a command is logged as a
    /// failed command, as OpenSMTPD does.
    fn reply(&mut self, reply: Reply) {
        if reply.code >= 400 {
            if let Some(cmd) = &self.current {
                info!(
                    "{} smtp failed-command command=\"{}\" result=\"{}\"",
                    self.id(),
                    cmd.escape_default(),
                    reply.to_string().escape_default()
                );
            }
        }
        reply.write_to(&mut self.out);
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            // TLS holds what it encrypts until flushed.
            self.stream.flush().await?;
            self.out.clear();
        }
        Ok(())
    }

    async fn serve(&mut self) -> &'static str {
        if let Some(why) = self.connect_filter().await {
            return why;
        }
        let banner = format!("{} ESMTP smtpd", self.info.smtpname);
        self.reply(Reply::new(220, None, banner));
        self.report("link-greeting", || vec![self.info.smtpname.clone()]);
        let mut buf = vec![0u8; READ_CHUNK];
        let mut shutdown = self.sh.shutdown.clone();
        loop {
            // Answer every complete command line already received.
            loop {
                if !self.input.is_empty() {
                    let n = self.cmds.feed(&self.input);
                    self.input.drain(..n);
                }
                let Some(line) = self.cmds.next_line() else {
                    break;
                };
                let next = match line {
                    Err(e) => {
                        self.errors += 1;
                        self.current = Some(format!("({e})"));
                        self.reply(e.reply());
                        Next::Continue
                    }
                    Ok(line) => self.command(&line).await,
                };
                let next = match next {
                    Next::Data => self.data().await,
                    Next::Bdat => self.bdat().await,
                    Next::StartTls => self.starttls().await,
                    other => other,
                };
                if let Next::Close(why) = next {
                    let _ = self.flush().await;
                    return why;
                }
                if self.errors > MAX_ERRORS || self.useless > MAX_USELESS {
                    self.current = None;
                    self.reply(r(
                        421,
                        (4, 7, 0),
                        "Too many errors or useless commands: closing",
                    ));
                    let _ = self.flush().await;
                    return "hog";
                }
            }
            if self.flush().await.is_err() {
                return "io-error";
            }
            if *shutdown.borrow() {
                self.current = None;
                self.reply(r(421, (4, 3, 2), "Server shutting down"));
                let _ = self.flush().await;
                return "shutdown";
            }
            let n = tokio::select! {
                n = tokio::time::timeout(self.sh.rt.smtp_timeout, self.stream.read(&mut buf)) => n,
                _ = shutdown.changed() => continue,
            };
            match n {
                Err(_) => {
                    self.current = None;
                    self.reply(r(421, (4, 4, 2), "Timeout: closing"));
                    let _ = self.flush().await;
                    return "timeout";
                }
                Ok(Ok(0)) => return "disconnect",
                Ok(Err(_)) => return "io-error",
                Ok(Ok(n)) => self.input.extend_from_slice(&buf[..n]),
            }
            self.settle_rdns(Duration::ZERO).await;
        }
    }

    fn parse_options(&self) -> ParseOptions {
        let mut o = self.caps.parse_options();
        o.utf8_transaction = self.tx.as_ref().map(|t| t.smtputf8).unwrap_or(false);
        o
    }

    async fn command(&mut self, line: &[u8]) -> Next {
        if let Some(step) = self.sasl.take() {
            return self.sasl_line(step, line).await;
        }
        self.current = Some(loggable(line));
        let cmd = match parse_command(line, &self.parse_options()) {
            Ok(c) => c,
            Err(e) => {
                self.errors += 1;
                self.reply(e.reply());
                return Next::Continue;
            }
        };
        match cmd {
            Command::Helo(name) | Command::Ehlo(name) | Command::Lhlo(name) => {
                let esmtp = !matches!(line.first(), Some(b'h' | b'H'))
                    || line.len() > 4 && line[..4].eq_ignore_ascii_case(b"EHLO");
                self.hello(name, esmtp).await
            }
            Command::Mail(m) => self.mail(m).await,
            Command::Rcpt(rc) => self.rcpt(rc).await,
            Command::Data => self.start_data().await,
            Command::Bdat { size, last } => self.start_bdat(size, last),
            Command::Rset => {
                self.useless += 1;
                if let Some(tx) = self.tx.take() {
                    self.report("tx-reset", || vec![tx.msgid.to_string()]);
                    self.rollback(tx);
                }
                self.reply(r(250, (2, 0, 0), "Reset state"));
                Next::Continue
            }
            Command::Noop => {
                self.useless += 1;
                self.reply(r(250, (2, 0, 0), "Ok"));
                Next::Continue
            }
            Command::Help(_) => {
                self.useless += 1;
                self.reply(Reply::multiline(
                    214,
                    Some(EnhancedStatus::new(2, 0, 0)),
                    vec![
                        "This is smtpd, a mail server in the OpenSMTPD design".into(),
                        "Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP HELP QUIT".into(),
                        "End of HELP info".into(),
                    ],
                ));
                Next::Continue
            }
            Command::Quit => {
                self.reply(r(221, (2, 0, 0), "Bye"));
                Next::Close("quit")
            }
            Command::Vrfy(_) => {
                self.useless += 1;
                self.reply(r(
                    252,
                    (2, 5, 2),
                    "Cannot VRFY user, but will accept message",
                ));
                Next::Continue
            }
            Command::Expn(_) => {
                self.useless += 1;
                self.reply(r(502, (5, 5, 1), "EXPN is disabled"));
                Next::Continue
            }
            Command::StartTls => self.start_tls(),
            Command::Auth {
                mechanism,
                initial_response,
            } => self.auth(&mechanism, initial_response.as_deref()).await,
        }
    }

    async fn hello(&mut self, name: String, esmtp: bool) -> Next {
        self.useless += 1;
        self.abandon_tx();
        let phase = if esmtp {
            FilterPhase::Ehlo
        } else {
            FilterPhase::Helo
        };
        let verdict = self.filter(phase, &name).await;
        if let Some(next) = self.refused(&verdict) {
            return next;
        }
        self.report("link-identify", || {
            vec![
                if esmtp { "EHLO" } else { "HELO" }.to_string(),
                name.clone(),
            ]
        });
        self.info.helo = name.clone();
        self.esmtp = esmtp;
        let client = match &self.info.client {
            ClientAddr::Inet(ip) => ip.to_string(),
            ClientAddr::Local => "local".to_string(),
        };
        let greeting = format!(
            "{} Hello {} [{}], pleased to meet you",
            self.info.smtpname, name, client
        );
        if esmtp {
            let rep = self.caps.ehlo_reply(&greeting);
            self.reply(rep);
        } else {
            self.reply(Reply::new(250, None, greeting));
        }
        Next::Continue
    }

    async fn ask(
        &mut self,
        make: impl FnOnce(ReqId) -> Result<(), ChannelError>,
    ) -> Option<PendingReply<ToSmtp>> {
        let (req, rx) = self.sh.pending.register();
        if let Err(e) = make(req) {
            warn!("{} smtp: {e}", self.id());
            self.sh.pending.cancel(req);
            return None;
        }
        match tokio::time::timeout(IPC_TIMEOUT, rx).await {
            Ok(Ok(reply)) => Some(reply),
            _ => {
                self.sh.pending.cancel(req);
                None
            }
        }
    }

    async fn mail(&mut self, mut m: MailFrom) -> Next {
        if self.info.helo.is_empty() {
            self.errors += 1;
            self.reply(r(503, (5, 5, 1), "Polite people say HELO first"));
            return Next::Continue;
        }
        if self.tx.is_some() {
            self.errors += 1;
            self.reply(r(503, (5, 5, 1), "Sender already specified"));
            return Next::Continue;
        }
        if let Some(refusal) = self.not_secure_enough() {
            self.errors += 1;
            self.reply(refusal);
            return Next::Continue;
        }
        let given = m.sender.as_ref().map(|a| a.to_string()).unwrap_or_default();
        let verdict = self.filter(FilterPhase::MailFrom, &given).await;
        // `junk` here marks the transaction about to open, not the session.
        let junk = verdict == FilterVerdict::Junk;
        if !junk {
            if let Some(next) = self.refused(&verdict) {
                return next;
            }
        }
        // A rewrite to an empty address is the null sender; one that does
        // not parse leaves the client's.
        if let FilterVerdict::Rewrite(v) = &verdict {
            if v.is_empty() || v == "<>" {
                m.sender = None;
            } else if let Ok(a) = MailAddr::parse(v.trim_start_matches('<').trim_end_matches('>')) {
                m.sender = Some(a);
            }
        }
        self.open_tx(m, junk).await;
        Next::Continue
    }

    async fn open_tx(&mut self, m: MailFrom, junk: bool) {
        let sender = m.sender.clone().map(address::canonical);
        if let Some(refusal) = self.sender_refused(sender.as_ref()).await {
            if refusal.code >= 500 {
                self.errors += 1;
            }
            return self.reply(refusal);
        }
        if self.mails >= self.sh.rt.config.smtp.max_mails {
            return self.reply(r(452, (4, 5, 3), "Too many messages sent"));
        }
        // The envelope file cannot hold a value that starts with a blank:
        // refuse such an ENVID now rather than fail every commit with 451.
        if m.params
            .envid
            .as_deref()
            .is_some_and(|e| e.starts_with([' ', '\t']))
        {
            self.errors += 1;
            return self.reply(smtpd_proto::CommandError::BadParameter("ENVID").reply());
        }
        let max = self.sh.rt.config.smtp.max_message_size;
        if m.params.size.unwrap_or(0) > max {
            return self.reply(r(
                552,
                (5, 3, 4),
                format!("Message too big: limit is {max} bytes"),
            ));
        }
        // A transaction holds a message file: near the descriptor limit,
        // new ones wait (the client retries) rather than risk the limit.
        if self.sh.fds_in_use() >= self.sh.fd_budget {
            return self.reply(r(
                452,
                (4, 3, 2),
                "Too many transactions at once: try again later",
            ));
        }
        let queue = self.sh.peers.queue();
        let pooled = self.sh.pool().take(&queue);
        let answer = match pooled {
            Some((msgid, file)) => Some((
                ToSmtp::MessageCreated {
                    req: 0,
                    result: Ok(msgid),
                },
                vec![std::os::fd::OwnedFd::from(file)],
            )),
            None => {
                let a = self
                    .ask(|req| queue.send(ToQueue::CreateMessage { req }))
                    .await;
                if let Some((ToSmtp::MessageCreated { result: Ok(_), .. }, _)) = &a {
                    self.sh.pool().room_again(&queue);
                }
                a
            }
        };
        let (msgid, file) = match answer {
            Some((
                ToSmtp::MessageCreated {
                    result: Ok(msgid), ..
                },
                mut fds,
            )) => match fds.pop() {
                Some(fd) => (msgid, File::from(fd)),
                None => return self.reply(r(451, (4, 3, 0), "Temporary failure: no message file")),
            },
            Some((
                ToSmtp::MessageCreated {
                    result: Err(QueueFailure::NoRoom),
                    ..
                },
                _,
            )) => {
                return self.reply(r(452, (4, 3, 1), "Insufficient system storage"));
            }
            _ => {
                return self.reply(r(
                    451,
                    (4, 3, 0),
                    "Temporary failure: cannot queue mail now",
                ))
            }
        };
        let mail_from = m.sender.map(address::canonical);
        let masq = match (&self.conf.senders, &self.info.auth_user, &mail_from) {
            (Some(s), Some(_), Some(from)) if s.masquerade => {
                Some(super::masquerade::Masquerade::new(from.to_string()))
            }
            _ => None,
        };
        self.tx = Some(Tx {
            msgid,
            file,
            mail_from,
            smtputf8: m.params.smtputf8,
            ret: m.params.ret,
            envid: m.params.envid,
            envelopes: Vec::new(),
            rcpts: Vec::new(),
            failed: None,
            bdat: None,
            chunk_size: 0,
            data_started: false,
            junk,
            masq,
            _slot: TxSlot::take(&self.sh),
        });
        self.report("tx-begin", || vec![msgid.to_string()]);
        self.report("tx-mail", || {
            vec![msgid.to_string(), "ok".to_string(), self.sender_text()]
        });
        self.reply(r(250, (2, 0, 0), "Ok"));
    }

    fn sender_text(&self) -> String {
        self.tx
            .as_ref()
            .and_then(|t| t.mail_from.as_ref())
            .map(|a| a.to_string())
            .unwrap_or_default()
    }

    async fn rcpt(&mut self, rc: RcptTo) -> Next {
        let Some(tx) = &self.tx else {
            self.errors += 1;
            self.reply(r(503, (5, 5, 1), "Need MAIL before RCPT"));
            return Next::Continue;
        };
        if tx.data_started {
            self.errors += 1;
            self.reply(r(503, (5, 5, 1), "RCPT not allowed after BDAT"));
            return Next::Continue;
        }
        if tx.rcpts.len() as u64 >= self.sh.rt.config.smtp.max_rcpt {
            self.reply(r(452, (4, 5, 3), "Too many recipients"));
            return Next::Continue;
        }
        let mut rcpt = match rc.rcpt {
            Recipient::Mailbox(a) => address::canonical(a),
            Recipient::Postmaster => MailAddr::new("postmaster", self.info.smtpname.clone()),
        };
        let msgid = tx.msgid;
        let verdict = self.filter(FilterPhase::RcptTo, &rcpt.to_string()).await;
        if let Some(next) = self.refused(&verdict) {
            let result = if matches!(&verdict, FilterVerdict::Reject { code, .. } if *code < 500) {
                "tempfail"
            } else {
                "permfail"
            };
            self.report("tx-rcpt", || {
                vec![msgid.to_string(), result.to_string(), rcpt.to_string()]
            });
            return next;
        }
        if let FilterVerdict::Rewrite(v) = &verdict {
            if let Ok(a) = MailAddr::parse(v.trim_start_matches('<').trim_end_matches('>')) {
                rcpt = address::canonical(a);
            }
        }
        let Some(tx) = &self.tx else {
            return Next::Continue;
        };
        let txinfo = TxInfo {
            msgid: tx.msgid,
            mail_from: tx.mail_from.clone(),
            dsn_ret: tx.ret,
            dsn_envid: tx.envid.clone(),
        };
        let wait = if self.sh.needs_rdns {
            RDNS_WAIT
        } else {
            Duration::ZERO
        };
        self.settle_rdns(wait).await;
        let lka = self.sh.peers.lka();
        let session = self.info.clone();
        let orcpt = rc.params.orcpt.as_ref().map(|o| o.to_param());
        let notify = rc.params.notify;
        let rc2 = rcpt.clone();
        let answer = self
            .ask(|req| {
                lka.send(ToLka::Expand {
                    req,
                    session: Box::new(session),
                    tx: Box::new(txinfo),
                    rcpt: rc2,
                    notify,
                    orcpt,
                })
            })
            .await;
        let rep = match answer {
            Some((
                ToSmtp::Expanded {
                    result: Expansion::Accepted(envs),
                    ..
                },
                _,
            )) => {
                if let Some(tx) = &mut self.tx {
                    tx.envelopes.extend(envs);
                    tx.rcpts.push(rcpt.clone());
                }
                self.report("tx-rcpt", || {
                    vec![msgid.to_string(), "ok".to_string(), rcpt.to_string()]
                });
                r(250, (2, 1, 5), "Recipient ok")
            }
            Some((
                ToSmtp::Expanded {
                    result: Expansion::Rejected { code, status, text },
                    ..
                },
                _,
            )) => {
                self.errors += 1;
                Reply::new(code, Some(status), format!("{text}: <{rcpt}>"))
            }
            Some((
                ToSmtp::Expanded {
                    result: Expansion::TempFail { text },
                    ..
                },
                _,
            )) => Reply::new(451, Some(EnhancedStatus::new(4, 3, 0)), text),
            _ => r(451, (4, 3, 0), "Temporary failure"),
        };
        if rep.code >= 400 {
            let result = if rep.code >= 500 {
                "permfail"
            } else {
                "tempfail"
            };
            self.report("tx-rcpt", || {
                vec![msgid.to_string(), result.to_string(), rcpt.to_string()]
            });
        }
        self.reply(rep);
        Next::Continue
    }

    /// Checks before content may come; writes the Received: header.
    fn may_start_content(&mut self) -> Result<(), Reply> {
        let Some(tx) = &mut self.tx else {
            return Err(r(503, (5, 5, 1), "Need MAIL before DATA"));
        };
        if tx.envelopes.is_empty() {
            return Err(r(554, (5, 5, 1), "No valid recipients"));
        }
        if !tx.data_started {
            tx.data_started = true;
            if (self.junk || tx.junk) && tx.file.write_all(filters::JUNK_HEADER).is_err() {
                return Err(r(451, (4, 3, 0), "Temporary failure writing the message"));
            }
            let client = match &self.info.client {
                ClientAddr::Inet(ip) => ip.to_string(),
                ClientAddr::Local => "local".to_string(),
            };
            let for_rcpt = (tx.rcpts.len() == 1).then(|| tx.rcpts[0].to_string());
            let h = received::header(&Trace {
                helo: &self.info.helo,
                rdns: self.info.rdns.as_deref(),
                client: &client,
                mask_src: self.conf.mask_src,
                by: &self.info.smtpname,
                esmtp: self.esmtp,
                tls: self.info.tls,
                auth: self.info.auth_user.is_some(),
                auth_note: self
                    .conf
                    .received_auth
                    .then_some(self.info.auth_user.as_deref()),
                utf8: tx.smtputf8,
                msgid: tx.msgid,
                for_rcpt,
            });
            if tx.file.write_all(h.as_bytes()).is_err() {
                return Err(r(451, (4, 3, 0), "Temporary failure writing the message"));
            }
        }
        Ok(())
    }

    fn limits(&self) -> ContentLimits {
        ContentLimits {
            max_size: self.sh.rt.config.smtp.max_message_size,
            ..ContentLimits::default()
        }
    }

    async fn start_data(&mut self) -> Next {
        if let Some(tx) = &self.tx {
            if tx.bdat.is_some() {
                self.errors += 1;
                self.reply(r(503, (5, 5, 1), "DATA not allowed after BDAT"));
                return Next::Continue;
            }
            if !tx.envelopes.is_empty() {
                let verdict = self.filter(FilterPhase::Data, "").await;
                if let Some(next) = self.refused(&verdict) {
                    return next;
                }
            }
        }
        if let Err(rep) = self.may_start_content() {
            self.errors += 1;
            self.reply(rep);
            return Next::Continue;
        }
        if let Some(tx) = &self.tx {
            self.report("tx-data", || vec![tx.msgid.to_string(), "ok".to_string()]);
        }
        self.reply(start_data());
        Next::Data
    }

    /// Receive the content after DATA, then commit.
    async fn data(&mut self) -> Next {
        // Content comes in big reads; the buffer lives only while it does.
        let mut grow = GrowBuf::new();
        if self.flush().await.is_err() {
            return Next::Close("io-error");
        }
        let mut rx = DataReceiver::new(self.limits());
        // Anything already received after the DATA line is content.
        let mut pending = self.cmds.take_buffered();
        pending.append(&mut self.input);
        let mut out = Vec::new();
        let mut write_failed = false;
        // With filters the content is held until the data-line filters
        // have seen it.
        let filtered = self.filtered();
        let mut held = Vec::new();
        loop {
            let status = rx.feed(&pending, &mut out);
            if filtered {
                held.append(&mut out);
            }
            if !out.is_empty() {
                if let Some(tx) = &mut self.tx {
                    if !write_failed && tx.write_content(&out).is_err() {
                        write_failed = true;
                    }
                }
                out.clear();
            }
            match status {
                DataStatus::Done { consumed, result } => {
                    self.input = pending.split_off(consumed);
                    let rep = match result {
                        Err(e) => {
                            self.abandon_tx();
                            e.reply()
                        }
                        Ok(stats) if write_failed => {
                            let _ = stats;
                            self.abandon_tx();
                            r(452, (4, 3, 1), "Insufficient system storage")
                        }
                        Ok(stats) => {
                            let held = filtered.then(|| std::mem::take(&mut held));
                            match self.end_of_data(stats.size, held).await {
                                Ok(rep) => rep,
                                Err(next) => return next,
                            }
                        }
                    };
                    self.reply(rep);
                    return Next::Continue;
                }
                DataStatus::NeedMore => {
                    pending.clear();
                    match tokio::time::timeout(
                        self.sh.rt.smtp_timeout,
                        self.stream.read(grow.slice()),
                    )
                    .await
                    {
                        Ok(Ok(0)) | Ok(Err(_)) => return Next::Close("disconnect-in-data"),
                        Err(_) => {
                            self.current = None;
                            self.reply(r(421, (4, 4, 2), "Timeout during DATA: closing"));
                            return Next::Close("timeout");
                        }
                        Ok(Ok(n)) => {
                            pending.extend_from_slice(&grow.slice()[..n]);
                            grow.note(n);
                        }
                    }
                }
            }
        }
    }

    fn start_bdat(&mut self, size: u64, last: bool) -> Next {
        // The chunk's bytes follow the command whatever we answer, so a
        // refused BDAT still reads (and discards) them.
        let refusal = match &self.tx {
            Some(tx) if tx.failed.is_some() => None,
            _ => self.may_start_content().err(),
        };
        if refusal.is_some() || self.tx.is_none() {
            let mut d = BdatReceiver::discarding();
            d.start_chunk(size, last);
            self.errors += 1;
            self.pending_discard = Some((
                d,
                refusal.unwrap_or_else(|| r(503, (5, 5, 1), "Need MAIL before BDAT")),
            ));
            return Next::Bdat;
        }
        let limits = self.limits();
        if let Some(tx) = &mut self.tx {
            tx.chunk_size = size;
            let rx = tx.bdat.get_or_insert_with(|| BdatReceiver::new(limits));
            rx.start_chunk(size, last);
        }
        Next::Bdat
    }

    /// Receive one BDAT chunk (already announced), then answer it.
    async fn bdat(&mut self) -> Next {
        let mut grow = GrowBuf::new();
        let mut discard = self.pending_discard.take();
        let mut pending = self.cmds.take_buffered();
        pending.append(&mut self.input);
        let mut out = Vec::new();
        loop {
            let status = match &mut discard {
                Some((d, _)) => d.feed(&pending, &mut out),
                None => match self.tx.as_mut().and_then(|t| t.bdat.as_mut()) {
                    Some(rx) => rx.feed(&pending, &mut out),
                    None => return Next::Continue,
                },
            };
            if !out.is_empty() {
                if let Some(tx) = &mut self.tx {
                    if discard.is_none() && tx.failed.is_none() && tx.write_content(&out).is_err() {
                        tx.failed = Some(r(452, (4, 3, 1), "Insufficient system storage"));
                    }
                }
                out.clear();
            }
            match status {
                smtpd_proto::BdatStatus::NeedMore => {
                    pending.clear();
                    match tokio::time::timeout(
                        self.sh.rt.smtp_timeout,
                        self.stream.read(grow.slice()),
                    )
                    .await
                    {
                        Ok(Ok(0)) | Ok(Err(_)) => return Next::Close("disconnect-in-data"),
                        Err(_) => {
                            self.current = None;
                            self.reply(r(421, (4, 4, 2), "Timeout during BDAT: closing"));
                            return Next::Close("timeout");
                        }
                        Ok(Ok(n)) => {
                            pending.extend_from_slice(&grow.slice()[..n]);
                            grow.note(n);
                        }
                    }
                }
                smtpd_proto::BdatStatus::ChunkDone { consumed } => {
                    self.input = pending.split_off(consumed);
                    if let Some((_, rep)) = discard {
                        self.reply(rep);
                        return Next::Continue;
                    }
                    let err = self
                        .tx
                        .as_ref()
                        .and_then(|t| t.bdat.as_ref())
                        .and_then(|b| b.error());
                    let failed = self.tx.as_ref().and_then(|t| t.failed.clone());
                    match (err, failed) {
                        (Some(e), _) => {
                            // The message is refused: drop the transaction now.
                            self.abandon_tx();
                            self.reply(e.reply());
                        }
                        (None, Some(rep)) => {
                            self.abandon_tx();
                            self.reply(rep);
                        }
                        (None, None) => {
                            let n = self.tx.as_ref().map(|t| t.chunk_size).unwrap_or(0);
                            self.reply(r(250, (2, 0, 0), format!("{n} octets received")));
                        }
                    }
                    return Next::Continue;
                }
                smtpd_proto::BdatStatus::MessageDone { consumed, result } => {
                    self.input = pending.split_off(consumed);
                    if let Some((_, rep)) = discard {
                        self.reply(rep);
                        return Next::Continue;
                    }
                    let failed = self.tx.as_ref().and_then(|t| t.failed.clone());
                    let rep = match (result, failed) {
                        (Err(e), _) => {
                            self.abandon_tx();
                            e.reply()
                        }
                        (Ok(_), Some(rep)) => {
                            self.abandon_tx();
                            rep
                        }
                        (Ok(stats), None) => self.commit(stats.size).await,
                    };
                    self.reply(rep);
                    return Next::Continue;
                }
            }
        }
    }

    /// Make the message durable through the queue; the reply says how it
    /// went. Nothing is acknowledged before the queue says it is committed.
    async fn commit(&mut self, size: u64) -> Reply {
        let Some(mut tx) = self.tx.take() else {
            return r(503, (5, 5, 1), "No transaction");
        };
        // The file may be a recycled one holding an older, longer message
        // (the queue reuses files without emptying them): cut it where this
        // message ends.
        let cut = tx
            .finish_content()
            .and_then(|()| tx.file.flush())
            .and_then(|()| std::io::Seek::stream_position(&mut tx.file))
            .and_then(|end| tx.file.set_len(end));
        if cut.is_err() {
            self.rollback(tx);
            return r(452, (4, 3, 1), "Insufficient system storage");
        }
        let ctime = now();
        // One envelope per distinct final delivery of the message.
        let mut seen = HashSet::new();
        let mut envelopes = std::mem::take(&mut tx.envelopes);
        envelopes.retain(|e| {
            seen.insert((
                e.dispatcher.clone(),
                e.dest.to_string().to_ascii_lowercase(),
                e.mda_user.clone(),
                e.mda_exec.clone(),
                e.mda_file.clone(),
            ))
        });
        for e in &mut envelopes {
            e.ctime = ctime;
        }
        let msgid = tx.msgid;
        let nrcpt = envelopes.len();
        let logged: Vec<(u64, String, String)> = envelopes
            .iter()
            .map(|e| {
                (
                    e.id.0,
                    e.sender.as_ref().map(|a| a.to_string()).unwrap_or_default(),
                    e.dest.to_string(),
                )
            })
            .collect();
        let queue = self.sh.peers.queue();
        let answer = self
            .ask(|req| {
                queue.send(ToQueue::Commit {
                    req,
                    msgid,
                    envelopes,
                })
            })
            .await;
        match answer {
            Some((ToSmtp::Committed { result: Ok(()), .. }, _)) => {
                self.mails += 1;
                self.useless = 0;
                let id = self.id();
                info!(
                    "{id} smtp message msgid={msgid} size={size} nrcpt={nrcpt} proto={}",
                    if self.esmtp { "ESMTP" } else { "SMTP" }
                );
                for (evpid, from, to) in logged {
                    info!("{id} smtp envelope evpid={evpid:016x} from=<{from}> to=<{to}>");
                }
                self.report("tx-commit", || vec![msgid.to_string(), size.to_string()]);
                r(
                    250,
                    (2, 0, 0),
                    format!("{msgid} Message accepted for delivery"),
                )
            }
            Some((
                ToSmtp::Committed {
                    result: Err(QueueFailure::NoRoom),
                    ..
                },
                _,
            )) => r(452, (4, 3, 1), "Insufficient system storage"),
            _ => r(
                451,
                (4, 3, 0),
                "Temporary failure: message not queued, try again",
            ),
        }
    }

    /// Abandon a transaction: the queue forgets the incoming message.
    /// Drop the open transaction, if any: its incoming message is removed
    /// by the queue, so nothing refused is ever half-queued.
    fn abandon_tx(&mut self) {
        if let Some(tx) = self.tx.take() {
            self.rollback(tx);
        }
    }

    fn rollback(&mut self, tx: Tx) {
        let msgid = tx.msgid;
        drop(tx);
        self.report("tx-rollback", || vec![msgid.to_string()]);
        if let Err(e) = self.sh.peers.queue().send(ToQueue::Rollback { msgid }) {
            warn!("{} smtp: rollback of {msgid}: {e}", self.id());
        }
    }
}
