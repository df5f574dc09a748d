//! The LMTP client against a small LMTP server written here, on 127.0.0.1
//! and on a Unix socket.

use smtpd_delivery::{deliver_lmtp, LmtpDest, LmtpOptions};
use smtpd_types::{DeliveryOutcome, EnhancedStatus, MailAddr};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::thread::JoinHandle;
use std::time::Duration;

/// How the test server behaves.
#[derive(Clone, Copy, Default)]
struct Script {
    /// Replace the greeting (e.g. with a refusal).
    greeting: Option<&'static str>,
    /// Close the connection right after the final dot, without replies.
    hang_up_after_data: bool,
}

/// What the server saw.
#[derive(Debug, Default)]
struct Seen {
    commands: Vec<String>,
    /// The DATA section as it came over the wire, final dot included.
    wire: Vec<u8>,
    /// The message after undoing dot-stuffing and CRLF.
    message: Vec<u8>,
    /// Whether the final dot arrived.
    complete: bool,
}

/// Recipient local parts decide the server's answers: `temp…`/`perm…` are
/// refused at RCPT, `latetemp…`/`lateperm…` after the data, others accepted.
fn rcpt_reply(addr: &str) -> &'static str {
    if addr.starts_with("latetemp") || addr.starts_with("lateperm") {
        "250 2.1.5 Ok"
    } else if addr.starts_with("temp") {
        "451 4.2.1 Mailbox busy"
    } else if addr.starts_with("perm") {
        "550 5.1.1 No such user"
    } else {
        "250 2.1.5 Ok"
    }
}

fn data_reply(addr: &str) -> &'static str {
    if addr.starts_with("latetemp") {
        "452 4.2.2 Mailbox full"
    } else if addr.starts_with("lateperm") {
        "552-5.2.2 Quota exceeded\r\n552 5.2.2 for good"
    } else {
        "250 2.0.0 Delivered"
    }
}

fn serve<S: Read + Write>(stream: S, script: Script) -> Seen {
    let mut seen = Seen::default();
    let _ = session(stream, script, &mut seen);
    seen
}

fn session<S: Read + Write>(stream: S, script: Script, seen: &mut Seen) -> io::Result<()> {
    let mut r = BufReader::new(stream);
    let greeting = script.greeting.unwrap_or("220 test LMTP ready");
    write!(r.get_mut(), "{greeting}\r\n")?;
    let mut accepted: Vec<String> = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim_end_matches("\r\n").to_string();
        seen.commands.push(line.clone());
        let upper = line.to_ascii_uppercase();
        let reply = if upper.starts_with("LHLO ") {
            "250-test\r\n250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8".to_string()
        } else if upper.starts_with("MAIL FROM:") {
            "250 2.1.0 Ok".to_string()
        } else if let Some(rest) = upper.strip_prefix("RCPT TO:<") {
            let addr = line[9..9 + rest.trim_end_matches('>').len()].to_string();
            let reply = rcpt_reply(&addr);
            if reply.starts_with('2') {
                accepted.push(addr);
            }
            reply.to_string()
        } else if upper == "DATA" {
            write!(r.get_mut(), "354 End data with <CR><LF>.<CR><LF>\r\n")?;
            read_data(&mut r, seen)?;
            if script.hang_up_after_data || !seen.complete {
                return Ok(());
            }
            let replies: Vec<&str> = accepted.iter().map(|a| data_reply(a)).collect();
            replies.join("\r\n")
        } else if upper == "QUIT" {
            write!(r.get_mut(), "221 2.0.0 Bye\r\n")?;
            return Ok(());
        } else {
            "500 5.5.2 Unknown command".to_string()
        };
        write!(r.get_mut(), "{reply}\r\n")?;
    }
}

fn read_data<S: Read>(r: &mut BufReader<S>, seen: &mut Seen) -> io::Result<()> {
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        seen.wire.extend_from_slice(&line);
        if line == b".\r\n" {
            seen.complete = true;
            return Ok(());
        }
        let body = line.strip_suffix(b"\r\n").unwrap_or(&line);
        let body = body.strip_prefix(b".").unwrap_or(body);
        seen.message.extend_from_slice(body);
        seen.message.push(b'\n');
    }
}

fn tcp_server(script: Script) -> (LmtpDest, JoinHandle<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        serve(stream, script)
    });
    (
        LmtpDest::parse(&format!("127.0.0.1:{port}")).unwrap(),
        handle,
    )
}

fn opts() -> LmtpOptions {
    LmtpOptions {
        lhlo_name: "mx.test".into(),
        connect_timeout: Duration::from_secs(10),
        io_timeout: Duration::from_secs(30),
    }
}

fn sender() -> MailAddr {
    MailAddr::new("alice", "example.org")
}

fn rcpts(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn prepend() -> Vec<String> {
    vec!["Return-Path: <alice@example.org>".into()]
}

fn status(o: &DeliveryOutcome) -> Option<String> {
    match o {
        DeliveryOutcome::TempFail { status, .. } | DeliveryOutcome::PermFail { status, .. } => {
            Some(status.to_string())
        }
        _ => None,
    }
}

#[test]
fn per_recipient_outcomes_over_tcp() {
    let (dest, server) = tcp_server(Script::default());
    let to = rcpts(&[
        "ok1@x.org",
        "temp@x.org",
        "perm@x.org",
        "latetemp@x.org",
        "ok2@x.org",
        "lateperm@x.org",
    ]);
    let msg = b"Subject: hi\n\nbody\n";
    let out = deliver_lmtp(
        &dest,
        &opts(),
        Some(&sender()),
        &to,
        &prepend(),
        &mut &msg[..],
    );
    let seen = server.join().unwrap();

    assert_eq!(out.len(), 6);
    assert_eq!(out[0], DeliveryOutcome::Ok);
    assert!(
        matches!(&out[1], DeliveryOutcome::TempFail { reason, .. } if reason.contains("451") && reason.contains("Mailbox busy"))
    );
    assert_eq!(status(&out[1]).as_deref(), Some("4.2.1"));
    assert!(matches!(&out[2], DeliveryOutcome::PermFail { .. }));
    assert_eq!(status(&out[2]).as_deref(), Some("5.1.1"));
    assert!(matches!(&out[3], DeliveryOutcome::TempFail { .. }));
    assert_eq!(status(&out[3]).as_deref(), Some("4.2.2"));
    assert_eq!(out[4], DeliveryOutcome::Ok);
    assert!(
        matches!(&out[5], DeliveryOutcome::PermFail { reason, .. } if reason.contains("Quota exceeded for good"))
    );
    assert_eq!(status(&out[5]).as_deref(), Some("5.2.2"));

    assert_eq!(seen.commands[0], "LHLO mx.test");
    assert_eq!(seen.commands[1], "MAIL FROM:<alice@example.org>");
    assert_eq!(
        seen.commands
            .iter()
            .filter(|c| c.starts_with("RCPT TO:"))
            .count(),
        6
    );
    assert_eq!(seen.commands.iter().filter(|c| *c == "DATA").count(), 1);
    assert_eq!(seen.commands.last().map(String::as_str), Some("QUIT"));
    assert_eq!(
        seen.message,
        b"Return-Path: <alice@example.org>\nSubject: hi\n\nbody\n"
    );
}

#[test]
fn unix_socket_destination() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lmtp.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let server = std::thread::spawn(move || serve(listener.accept().unwrap().0, Script::default()));
    let dest = LmtpDest::parse(path.to_str().unwrap()).unwrap();
    let out = deliver_lmtp(
        &dest,
        &opts(),
        None,
        &rcpts(&["bob"]),
        &[],
        &mut &b"x\n"[..],
    );
    let seen = server.join().unwrap();
    assert_eq!(out, vec![DeliveryOutcome::Ok]);
    assert_eq!(seen.commands[1], "MAIL FROM:<>");
    assert_eq!(seen.commands[2], "RCPT TO:<bob>");
    assert_eq!(seen.message, b"x\n");
}

#[test]
fn dot_transparency_and_crlf_on_the_wire() {
    let (dest, server) = tcp_server(Script::default());
    let msg = b"Subject: dots\n\n.\n..\n.x\nmid.dle\n\nbare\rcr\nend";
    let out = deliver_lmtp(
        &dest,
        &opts(),
        Some(&sender()),
        &rcpts(&["a@x"]),
        &[],
        &mut &msg[..],
    );
    let seen = server.join().unwrap();
    assert_eq!(out, vec![DeliveryOutcome::Ok]);
    assert!(seen.complete);
    assert_eq!(
        seen.message,
        b"Subject: dots\n\n.\n..\n.x\nmid.dle\n\nbare\ncr\nend\n"
    );
    assert!(seen
        .wire
        .starts_with(b"Subject: dots\r\n\r\n..\r\n...\r\n..x\r\n"));
    for (i, &b) in seen.wire.iter().enumerate() {
        if b == b'\r' {
            assert_eq!(seen.wire.get(i + 1), Some(&b'\n'), "bare CR at {i}");
        }
        if b == b'\n' {
            assert_eq!(seen.wire[i - 1], b'\r', "bare LF at {i}");
        }
    }
}

#[test]
fn no_data_when_every_recipient_is_refused() {
    let (dest, server) = tcp_server(Script::default());
    let out = deliver_lmtp(
        &dest,
        &opts(),
        Some(&sender()),
        &rcpts(&["perm@x", "temp@x"]),
        &[],
        &mut &b"x\n"[..],
    );
    let seen = server.join().unwrap();
    assert!(matches!(out[0], DeliveryOutcome::PermFail { .. }));
    assert!(matches!(out[1], DeliveryOutcome::TempFail { .. }));
    assert!(!seen.commands.iter().any(|c| c == "DATA"));
}

#[test]
fn refused_connection_is_temporary_for_all() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let dest = LmtpDest::parse(&format!("127.0.0.1:{port}")).unwrap();
    let out = deliver_lmtp(
        &dest,
        &opts(),
        None,
        &rcpts(&["a@x", "b@x"]),
        &[],
        &mut &b"x\n"[..],
    );
    for o in &out {
        assert!(matches!(o, DeliveryOutcome::TempFail { .. }), "{o:?}");
        assert_eq!(status(o).as_deref(), Some("4.4.1"));
    }
}

#[test]
fn refusing_greeting_fails_everyone_permanently() {
    let (dest, server) = tcp_server(Script {
        greeting: Some("554 5.3.2 Not accepting mail"),
        ..Script::default()
    });
    let out = deliver_lmtp(
        &dest,
        &opts(),
        None,
        &rcpts(&["a@x", "b@x"]),
        &[],
        &mut &b"x\n"[..],
    );
    server.join().unwrap();
    for o in &out {
        assert_eq!(
            *o,
            DeliveryOutcome::permfail(
                EnhancedStatus::new(5, 3, 2),
                "greeting: 554 5.3.2 Not accepting mail"
            )
        );
    }
}

#[test]
fn hang_up_after_data_is_temporary_for_accepted_recipients() {
    let (dest, server) = tcp_server(Script {
        hang_up_after_data: true,
        ..Script::default()
    });
    let out = deliver_lmtp(
        &dest,
        &opts(),
        None,
        &rcpts(&["a@x", "perm@x", "b@x"]),
        &[],
        &mut &b"x\n"[..],
    );
    server.join().unwrap();
    assert!(
        matches!(out[0], DeliveryOutcome::TempFail { .. }),
        "{:?}",
        out[0]
    );
    assert_eq!(status(&out[1]).as_deref(), Some("5.1.1"));
    assert!(matches!(out[2], DeliveryOutcome::TempFail { .. }));
}

/// Some bytes, then a read error.
struct FailingMessage(usize);

impl Read for FailingMessage {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0 == 0 {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        self.0 -= 1;
        buf[..5].copy_from_slice(b"part\n");
        Ok(5)
    }
}

#[test]
fn unreadable_message_is_never_completed() {
    let (dest, server) = tcp_server(Script::default());
    let out = deliver_lmtp(
        &dest,
        &opts(),
        None,
        &rcpts(&["a@x"]),
        &[],
        &mut FailingMessage(2),
    );
    let seen = server.join().unwrap();
    assert!(
        matches!(&out[0], DeliveryOutcome::TempFail { reason, .. } if reason.starts_with("read message"))
    );
    assert!(!seen.complete, "the final dot must not be sent");
}

#[test]
fn unusable_recipient_fails_alone() {
    let (dest, server) = tcp_server(Script::default());
    let to = vec!["evil@x>\r\nRSET".to_string(), "good@x".to_string()];
    let out = deliver_lmtp(&dest, &opts(), None, &to, &[], &mut &b"x\n"[..]);
    let seen = server.join().unwrap();
    assert_eq!(status(&out[0]).as_deref(), Some("5.1.3"));
    assert_eq!(out[1], DeliveryOutcome::Ok);
    assert!(!seen
        .commands
        .iter()
        .any(|c| c.contains("RSET") || c.contains("evil")));
}

#[test]
fn smtputf8_is_asked_for_when_needed_and_offered() {
    let (dest, server) = tcp_server(Script::default());
    let out = deliver_lmtp(
        &dest,
        &opts(),
        Some(&sender()),
        &rcpts(&["élodie@x"]),
        &[],
        &mut &b"x\n"[..],
    );
    let seen = server.join().unwrap();
    assert_eq!(out, vec![DeliveryOutcome::Ok]);
    assert_eq!(seen.commands[1], "MAIL FROM:<alice@example.org> SMTPUTF8");
}
