//! Handing a report to the smtp process: the client side of a local SMTP
//! session (the seed's §4.5: the queue "re-injects the bounce message using
//! the SMTP protocol"). One transaction, `MAIL FROM:<>` to the original
//! sender, commands one at a time; the original message is streamed from
//! its spool file through the DATA encoder (CRLF, dot-stuffing), so a large
//! message is never held in memory.

use smtpd_proto::{
    Body, Capabilities, Command, MailFrom, MailParams, RcptParams, RcptTo, Recipient, Reply,
    ReplyParser, WireEncoder,
};
use smtpd_types::MailAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::report::{Attach, Report};

/// How long the server may take to answer one command. The last one waits
/// for the queue's commit, which may sit behind a batch of syncs.
const REPLY_TIMEOUT: Duration = Duration::from_secs(150);
/// Bytes of the original read at a time.
const CHUNK: usize = 64 * 1024;

/// Why a report did not get through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InjectError {
    /// Try again later (4xx, a broken session, an unreadable file).
    #[error("{0}")]
    Temp(String),
    /// Refused for good (5xx): the report is dropped, never bounced.
    #[error("{0}")]
    Perm(String),
}

fn temp(what: &str, e: impl std::fmt::Display) -> InjectError {
    InjectError::Temp(format!("{what}: {e}"))
}

/// The original message, read from the spool.
pub struct Original {
    pub file: tokio::fs::File,
}

/// One SMTP conversation over `stream`.
struct Client<S> {
    stream: S,
    parser: ReplyParser,
    buf: Vec<u8>,
    /// Bytes read and not yet taken by the parser.
    unfed: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    async fn reply(&mut self) -> Result<Reply, InjectError> {
        loop {
            let took = if self.unfed.is_empty() {
                0
            } else {
                let t = self.parser.feed(&self.unfed);
                self.unfed.drain(..t);
                t
            };
            if let Some(r) = self.parser.next_reply() {
                return r.map_err(|e| temp("bad reply", e));
            }
            if !self.unfed.is_empty() {
                if took == 0 {
                    return Err(InjectError::Temp("reply too long".into()));
                }
                continue;
            }
            let n = tokio::time::timeout(REPLY_TIMEOUT, self.stream.read(&mut self.buf))
                .await
                .map_err(|_| InjectError::Temp("timeout waiting for a reply".into()))?
                .map_err(|e| temp("reading a reply", e))?;
            if n == 0 {
                return Err(InjectError::Temp("the session was closed".into()));
            }
            self.unfed.extend_from_slice(&self.buf[..n]);
        }
    }

    /// Wait for a reply of class `want` (2 or 3); any other is a failure of
    /// the class the server gave.
    async fn expect(&mut self, want: u16, during: &str) -> Result<Reply, InjectError> {
        let r = self.reply().await?;
        if r.code / 100 == want {
            return Ok(r);
        }
        let text = format!("{during}: {}", r.to_string().trim_end());
        Err(if r.code >= 500 {
            InjectError::Perm(text)
        } else {
            InjectError::Temp(text)
        })
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), InjectError> {
        self.stream
            .write_all(bytes)
            .await
            .map_err(|e| temp("writing to the session", e))
    }

    async fn command(&mut self, cmd: Command, want: u16) -> Result<Reply, InjectError> {
        let verb = cmd.verb();
        let line = cmd
            .to_wire()
            .map_err(|e| InjectError::Perm(format!("{verb}: {e}")))?;
        self.write(&line).await?;
        self.expect(want, verb).await
    }
}

/// Send `report` to `to` over a fresh session; on success, the server's
/// final reply (it names the report's message id).
pub async fn send<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    helo: &str,
    to: &MailAddr,
    report: &Report,
    original: Option<Original>,
) -> Result<String, InjectError> {
    let mut c = Client {
        stream,
        parser: ReplyParser::new(),
        buf: vec![0u8; 4096],
        unfed: Vec::new(),
    };
    c.expect(2, "greeting").await?;
    let ehlo = c.command(Command::Ehlo(helo.to_string()), 2).await?;
    // The original may hold 8-bit bytes, and the sender's address UTF-8.
    let wanted = MailParams {
        body: Some(Body::EightBitMime),
        smtputf8: !(to.user.is_ascii() && to.domain.is_ascii()),
        ..MailParams::default()
    };
    c.command(
        Command::Mail(MailFrom {
            sender: None,
            params: wanted.for_peer(&Capabilities::from_ehlo_reply(&ehlo)),
        }),
        2,
    )
    .await?;
    c.command(
        Command::Rcpt(RcptTo {
            rcpt: Recipient::Mailbox(to.clone()),
            params: RcptParams::default(),
        }),
        2,
    )
    .await?;
    c.command(Command::Data, 3).await?;
    write_content(&mut c, report, original).await?;
    let done = c.expect(2, "end of data").await?;
    // Best effort: the report is queued whatever QUIT gets.
    if let Ok(line) = Command::Quit.to_wire() {
        if c.write(&line).await.is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(5), c.reply()).await;
        }
    }
    Ok(done.to_string().trim_end().to_string())
}

/// The report around the original message, encoded for DATA.
async fn write_content<S: AsyncRead + AsyncWrite + Unpin>(
    c: &mut Client<S>,
    report: &Report,
    original: Option<Original>,
) -> Result<(), InjectError> {
    let mut enc = WireEncoder::for_data();
    let mut out = Vec::with_capacity(CHUNK + CHUNK / 8);
    enc.encode(report.head().as_bytes(), &mut out);
    if let Some(mut orig) = original {
        let mut header_end = HeaderEnd::default();
        let only_header = report.attach != Attach::Full;
        let mut chunk = vec![0u8; CHUNK];
        loop {
            let n = orig
                .file
                .read(&mut chunk)
                .await
                .map_err(|e| temp("reading the original message", e))?;
            if n == 0 {
                break;
            }
            let piece = &chunk[..n];
            if only_header {
                if let Some(end) = header_end.find(piece) {
                    enc.encode(&piece[..end], &mut out);
                    break;
                }
            }
            enc.encode(piece, &mut out);
            c.write(&out).await?;
            out.clear();
        }
    }
    enc.encode(report.tail().as_bytes(), &mut out);
    enc.finish(&mut out);
    c.write(&out).await
}

/// Finds the blank line that ends a message header, across pieces. CRs are
/// looked through, so a CRLF spool file is cut at the same place.
#[derive(Debug)]
struct HeaderEnd {
    /// The last byte seen (CRs aside) was a line end; true at the start, so
    /// a message that begins with an empty line has an empty header.
    at_line_start: bool,
}

impl Default for HeaderEnd {
    fn default() -> Self {
        HeaderEnd {
            at_line_start: true,
        }
    }
}

impl HeaderEnd {
    /// Where the header ends in `piece` (the index of the empty line's
    /// LF: what comes before it is the header), if it does.
    fn find(&mut self, piece: &[u8]) -> Option<usize> {
        for (i, &b) in piece.iter().enumerate() {
            match b {
                b'\n' if self.at_line_start => return Some(i),
                b'\n' => self.at_line_start = true,
                b'\r' => {}
                _ => self.at_line_start = false,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roles::queue::report::fresh_ids;
    use smtpd_types::envelope::BounceType;
    use std::io::Write as _;
    use tokio::io::{AsyncBufReadExt, BufReader, DuplexStream};

    /// A server that answers RCPT with `rcpt_reply` and records what it
    /// was sent after DATA.
    async fn server(io: DuplexStream, rcpt_reply: &'static str) -> (Vec<String>, Vec<u8>) {
        let (r, mut w) = tokio::io::split(io);
        let mut r = BufReader::new(r);
        let mut cmds = Vec::new();
        let mut data = Vec::new();
        w.write_all(b"220 test ESMTP\r\n").await.unwrap();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).await.unwrap() == 0 {
                return (cmds, data);
            }
            let line = line.trim_end().to_string();
            let reply: &[u8] = match line.split(' ').next().unwrap_or("") {
                "EHLO" => b"250-test\r\n250 8BITMIME\r\n",
                "MAIL" => b"250 2.0.0 Ok\r\n",
                "RCPT" => rcpt_reply.as_bytes(),
                "DATA" => b"354 go\r\n",
                "QUIT" => b"221 2.0.0 Bye\r\n",
                _ => b"500 5.5.1 what\r\n",
            };
            cmds.push(line.clone());
            w.write_all(reply).await.unwrap();
            if line == "DATA" {
                loop {
                    let mut l = Vec::new();
                    r.read_until(b'\n', &mut l).await.unwrap();
                    if l == b".\r\n" || l.is_empty() {
                        break;
                    }
                    data.extend_from_slice(&l);
                }
                w.write_all(b"250 2.0.0 abc Message accepted\r\n")
                    .await
                    .unwrap();
            }
        }
    }

    fn report(attach: Attach) -> Report {
        let (boundary, message_id) = fresh_ids("mx.test");
        Report {
            name: "mx.test".into(),
            kind: BounceType::Failed,
            to: MailAddr::new("ann", "a.test"),
            envid: None,
            arrival: 0,
            delayed_for: 0,
            recipients: Vec::new(),
            attach,
            boundary,
            message_id,
            date: 0,
        }
    }

    fn original(text: &[u8]) -> Original {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(text).unwrap();
        use std::io::Seek as _;
        f.rewind().unwrap();
        Original {
            file: tokio::fs::File::from_std(f),
        }
    }

    const MESSAGE: &[u8] = b"Subject: hi\n\n.dot\nbody\n";

    #[tokio::test]
    async fn a_report_goes_through_with_the_original() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let srv = tokio::spawn(server(b, "250 2.1.5 Ok\r\n"));
        let to = MailAddr::new("ann", "a.test");
        let got = send(
            a,
            "mx.test",
            &to,
            &report(Attach::Full),
            Some(original(MESSAGE)),
        )
        .await;
        assert_eq!(got, Ok("250 2.0.0 abc Message accepted".into()));
        let (cmds, data) = srv.await.unwrap();
        assert_eq!(
            cmds,
            [
                "EHLO mx.test",
                "MAIL FROM:<> BODY=8BITMIME",
                "RCPT TO:<ann@a.test>",
                "DATA",
                "QUIT"
            ]
        );
        let text = String::from_utf8(data).unwrap();
        assert!(
            text.contains("\r\nSubject: hi\r\n\r\n..dot\r\nbody\r\n"),
            "{text}"
        );
        assert!(!text.replace("\r\n", "").contains('\n'), "CRLF only");
    }

    #[tokio::test]
    async fn refusals_are_permanent_or_temporary_by_class() {
        let to = MailAddr::new("ann", "a.test");
        for (reply, perm) in [("550 5.1.1 no\r\n", true), ("451 4.3.0 later\r\n", false)] {
            let (a, b) = tokio::io::duplex(1 << 16);
            let srv = tokio::spawn(server(b, reply));
            let got = send(a, "mx.test", &to, &report(Attach::Headers), None).await;
            match got {
                Err(InjectError::Perm(t)) if perm => assert!(t.contains("no"), "{t}"),
                Err(InjectError::Temp(t)) if !perm => assert!(t.contains("later"), "{t}"),
                other => panic!("{reply}: {other:?}"),
            }
            drop(srv);
        }
    }

    #[tokio::test]
    async fn headers_only_stops_at_the_blank_line() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let srv = tokio::spawn(server(b, "250 2.1.5 Ok\r\n"));
        let to = MailAddr::new("ann", "a.test");
        let r = report(Attach::Headers);
        send(a, "mx.test", &to, &r, Some(original(MESSAGE)))
            .await
            .unwrap();
        let (_, data) = srv.await.unwrap();
        let text = String::from_utf8(data).unwrap();
        assert!(
            text.contains(&format!("Subject: hi\r\n\r\n--{}--\r\n", r.boundary)),
            "{text}"
        );
        assert!(!text.contains("body"), "{text}");
    }

    #[test]
    fn header_end_across_pieces() {
        let mut h = HeaderEnd::default();
        assert_eq!(h.find(b"A: b\nC: d\n"), None);
        assert_eq!(h.find(b"\nbody\n\n"), Some(0));
        let mut h = HeaderEnd::default();
        assert_eq!(h.find(b"A: b\r\n\r\nbody"), Some(7));
        let mut h = HeaderEnd::default();
        assert_eq!(h.find(b"\nbody"), Some(0), "no header at all");
        let mut h = HeaderEnd::default();
        assert_eq!(h.find(b"A: b\nC: d"), None, "no body: all header");
    }
}
