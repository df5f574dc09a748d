//! The SMTP server over real TCP against the real binary: the dialogue,
//! the extensions EHLO advertises, pipelining, input hygiene (bare CR/LF,
//! smuggling), BDAT, and the limits. Clients: raw byte sessions, Python's
//! smtplib and swaks.

mod support;

use std::time::{Duration, Instant};
use support::client::{Client, Reply};
use support::{conf, mailbox, programs, spool, Server};

fn mail_of(server: &Server, user: &str) -> Vec<Vec<u8>> {
    mailbox::maildir(&server.path(&format!("mail/{user}")))
}

/// Wait until `user` has `n` messages; returns them.
fn wait_mail(server: &Server, user: &str, n: usize) -> Vec<Vec<u8>> {
    let ok = support::eventually(Duration::from_secs(10), || mail_of(server, user).len() >= n);
    let got = mail_of(server, user);
    assert!(ok, "{user}: expected {n} message(s), got {}", got.len());
    got
}

fn opts() -> support::Options {
    support::Options {
        args: support::dns::no_names(),
        ..Default::default()
    }
}

fn start(extra_global: &str) -> Server {
    Server::start_opts(&conf::basic(extra_global), opts())
}

/// Every reply after the greeting and HELO/EHLO carries an enhanced status
/// code of its class (RFC 2034), 354 aside (RFC 3463 has no class 3).
fn assert_esc(r: &Reply) {
    if r.code == 354 {
        return;
    }
    for line in &r.lines {
        let esc = line.split(' ').next().unwrap_or("");
        let parts: Vec<&str> = esc.split('.').collect();
        assert!(
            parts.len() == 3 && parts.iter().all(|p| p.parse::<u16>().is_ok()),
            "reply without an enhanced code: {r:?}"
        );
        assert_eq!(
            parts[0],
            (r.code / 100).to_string(),
            "enhanced code of the wrong class: {r:?}"
        );
    }
}

fn cmd(c: &mut Client, line: &str, code: u16) -> Reply {
    let r = c.cmd(line);
    assert_eq!(r.code, code, "{line}: {r:?}");
    assert_esc(&r);
    r
}

#[test]
fn dialogue_extensions_and_enhanced_codes() {
    let server = start("");
    let mut c = server.smtp();
    let t0 = Instant::now();
    let banner = c.expect(220);
    assert!(t0.elapsed() < Duration::from_secs(2), "slow banner");
    assert!(banner.text().contains("ESMTP"), "{banner:?}");

    // Before HELO, no mail.
    cmd(&mut c, "MAIL FROM:<a@example.com>", 503);
    let helo = c.cmd("HELO client.test");
    assert_eq!(helo.code, 250, "{helo:?}");
    let ehlo = c.cmd("EHLO client.test");
    assert_eq!(ehlo.code, 250);
    let kws: Vec<&str> = ehlo.lines.iter().skip(1).map(String::as_str).collect();
    for want in [
        "PIPELINING",
        "8BITMIME",
        "ENHANCEDSTATUSCODES",
        "DSN",
        "SMTPUTF8",
        "CHUNKING",
        "HELP",
    ] {
        assert!(kws.contains(&want), "EHLO lacks {want}: {kws:?}");
    }
    let size = kws
        .iter()
        .find_map(|k| k.strip_prefix("SIZE "))
        .expect("SIZE n advertised");
    assert_eq!(size.parse::<u64>().unwrap(), 35 * 1024 * 1024);

    cmd(&mut c, "NOOP", 250);
    cmd(&mut c, "RSET", 250);
    let help = cmd(&mut c, "HELP", 214);
    assert!(help.text().contains("RCPT"), "{help:?}");
    let vrfy = c.cmd("VRFY alice");
    assert!(vrfy.code == 252 || vrfy.code == 502, "{vrfy:?}");
    assert_esc(&vrfy);
    let expn = c.cmd("EXPN staff");
    assert!(expn.code == 252 || expn.code == 502, "{expn:?}");
    assert_esc(&expn);
    cmd(&mut c, "FROBNICATE", 500);
    cmd(&mut c, "RCPT TO:<alice@local.test>", 503);
    cmd(&mut c, "DATA", 503);
    cmd(&mut c, "MAIL FROM:<sender@example.com>", 250);
    cmd(&mut c, "MAIL FROM:<sender@example.com>", 503);
    cmd(&mut c, "DATA", 554);
    cmd(&mut c, "RCPT TO:<alice@local.test>", 250);
    cmd(&mut c, "DATA", 354);
    c.send_raw(b"Subject: hi\r\n\r\nhello\r\n.\r\n");
    let done = c.reply();
    assert_eq!(done.code, 250, "{done:?}");
    assert_esc(&done);
    cmd(&mut c, "QUIT", 221);
    assert_eq!(c.read_to_end(), "");

    let got = wait_mail(&server, "alice", 1);
    let text = String::from_utf8_lossy(&got[0]).into_owned();
    assert!(text.contains("\nReceived: from client.test"), "{text}");
    assert!(text.ends_with("Subject: hi\n\nhello\n"), "{text:?}");
}

#[test]
fn the_data_reply_names_the_msgid() {
    let mut args = opts().args;
    args.extend(["-P".into(), "mda".into()]);
    let server = Server::start_opts(
        &conf::basic(""),
        support::Options {
            args,
            ..Default::default()
        },
    );
    let mut c = server.smtp();
    c.hello();
    let r = c.send_mail("s@example.com", &["alice@local.test"], "hello");
    assert_eq!(r.code, 250);
    assert_esc(&r);
    let msgid = r.text().split(' ').nth(1).unwrap_or("").to_string();
    assert_eq!(msgid.len(), 8, "{r:?}");
    assert!(msgid.chars().all(|c| c.is_ascii_hexdigit()), "{r:?}");
    let dirs = spool::queued_messages(&server.path("spool"));
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let name = dirs[0].file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(name, msgid);
    assert_eq!(
        dirs[0]
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy(),
        msgid[..2]
    );
    assert!(server
        .log
        .wait_for(&format!("msgid={msgid}"), Duration::from_secs(5)));
}

#[test]
fn smtplib_and_swaks_deliver() {
    let server = start("");
    let port = server.port.to_string();
    let code = r#"
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=20)
code, _ = s.ehlo('py.test')
assert code == 250
for ext in ['pipelining', '8bitmime', 'size', 'enhancedstatuscodes', 'dsn', 'smtputf8', 'chunking']:
    assert s.has_extn(ext), ext
assert int(s.esmtp_features['size']) > 0
refused = s.sendmail('py@example.com', ['alice@local.test', 'bob@local.test'],
    b'Subject: from python\r\n\r\nline one\r\n.leading dot\r\n')
assert refused == {}, refused
try:
    s.sendmail('py@example.com', ['nobody@example.com'], b'x\r\n')
    raise SystemExit('relay accepted')
except smtplib.SMTPRecipientsRefused as e:
    code, msg = e.recipients['nobody@example.com']
    assert code == 550 and msg.startswith(b'5.7.1'), (code, msg)
code, msg = s.noop()
assert code == 250 and msg.startswith(b'2.0.0'), msg
s.quit()
print('ok')
"#;
    let out = programs::python(code, &[&port]);
    assert!(out.status.success(), "{}", programs::text(&out));
    let a = wait_mail(&server, "alice", 1);
    let b = wait_mail(&server, "bob", 1);
    for m in [&a[0], &b[0]] {
        let t = String::from_utf8_lossy(m).into_owned();
        assert!(t.contains("Subject: from python\n"), "{t}");
        assert!(t.contains("\n.leading dot\n"), "dot-unstuffed: {t}");
        assert!(!t.contains('\r'), "{t:?}");
    }

    if !programs::have("swaks") {
        eprintln!("note: swaks is not installed; the swaks half is skipped");
        return;
    }
    let server_arg = format!("127.0.0.1:{port}");
    for pipe in [false, true] {
        let mut args = vec![
            "--server",
            &server_arg,
            "--from",
            "swaks@example.com",
            "--to",
            "bob@local.test",
            "--helo",
            "swaks.test",
            "--header",
            "Subject: swaks",
            "--body",
            "body from swaks",
            "--timeout",
            "20",
        ];
        if pipe {
            args.push("--pipeline");
        }
        let out = programs::swaks(&args);
        let t = programs::text(&out);
        assert!(out.status.success(), "{t}");
        assert!(t.contains("<-  250 2.0.0"), "{t}");
    }
    let b = wait_mail(&server, "bob", 3);
    assert_eq!(
        b.iter()
            .filter(|m| String::from_utf8_lossy(m).contains("body from swaks"))
            .count(),
        2
    );
    // swaks refused for a relay attempt.
    let out = programs::swaks(&[
        "--server",
        &server_arg,
        "--from",
        "swaks@example.com",
        "--to",
        "someone@example.net",
        "--timeout",
        "20",
    ]);
    let t = programs::text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("550 5.7.1"), "{t}");
}

#[test]
fn a_whole_pipelined_transaction_in_one_write() {
    let server = start("");
    let mut c = server.smtp();
    c.expect(220);
    c.send_raw(
        b"EHLO pipe.test\r\n\
          MAIL FROM:<p@example.com>\r\n\
          RCPT TO:<alice@local.test>\r\n\
          RCPT TO:<nobody@example.org>\r\n\
          RCPT TO:<bob@local.test>\r\n\
          DATA\r\n\
          Subject: piped\r\n\r\nall at once\r\n.\r\n\
          MAIL FROM:<p2@example.com>\r\n\
          RCPT TO:<bob@local.test>\r\n\
          DATA\r\n\
          Subject: second\r\n\r\nagain\r\n.\r\n\
          QUIT\r\n",
    );
    let codes: Vec<u16> = std::iter::from_fn(|| c.try_reply())
        .inspect(assert_esc_unless_hello)
        .map(|r| r.code)
        .collect();
    assert_eq!(
        codes,
        [250, 250, 250, 550, 250, 354, 250, 250, 250, 354, 250, 221]
    );
    let a = wait_mail(&server, "alice", 1);
    let b = wait_mail(&server, "bob", 2);
    assert!(String::from_utf8_lossy(&a[0]).ends_with("Subject: piped\n\nall at once\n"));
    let bt: Vec<String> = b
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    assert!(bt.iter().any(|t| t.ends_with("Subject: second\n\nagain\n")));
}

fn assert_esc_unless_hello(r: &Reply) {
    if !r.text().contains("pleased to meet you") {
        assert_esc(r);
    }
}

#[test]
fn bare_cr_and_lf_are_normalised() {
    let server = start("");
    let mut c = server.smtp();
    c.hello();
    cmd(&mut c, "MAIL FROM:<s@example.com>", 250);
    cmd(&mut c, "RCPT TO:<alice@local.test>", 250);
    cmd(&mut c, "DATA", 354);
    c.send_raw(b"Subject: bare\r\n\r\none\rtwo\nthree\r\r\nfour\n\rfive\r\n.\r\n");
    cmd_reply(&mut c, 250);
    let got = wait_mail(&server, "alice", 1);
    let text = String::from_utf8_lossy(&got[0]).into_owned();
    assert!(!text.contains('\r'), "raw CR stored: {text:?}");
    assert!(
        text.ends_with("Subject: bare\n\none\ntwo\nthree\n\nfour\n\nfive\n"),
        "{text:?}"
    );
}

fn cmd_reply(c: &mut Client, code: u16) -> Reply {
    let r = c.reply();
    assert_eq!(r.code, code, "{r:?}");
    assert_esc(&r);
    r
}

#[test]
fn smuggling_attempts_do_not_end_data() {
    let server = start("");
    let variants: [&[u8]; 8] = [
        b"\n.\n",
        b"\r.\r",
        b"\r\n.\n",
        b"\n.\r\n",
        b"\r.\r\n",
        b"\r\n.\r",
        b"\r\n\x00.\r\n",
        b"\r\n .\r\n",
    ];
    for (i, v) in variants.iter().enumerate() {
        let mut c = server.smtp();
        c.hello();
        cmd(&mut c, "MAIL FROM:<s@example.com>", 250);
        cmd(&mut c, "RCPT TO:<alice@local.test>", 250);
        cmd(&mut c, "DATA", 354);
        let mut data = format!("Subject: smuggle {i}\r\n\r\nbefore").into_bytes();
        data.extend_from_slice(v);
        data.extend_from_slice(
            b"MAIL FROM:<evil@example.com>\r\nRCPT TO:<bob@local.test>\r\nDATA\r\nsmuggled\r\n",
        );
        c.send_raw(&data);
        // Nothing must answer yet: the data goes on.
        c.set_timeout(Duration::from_millis(300));
        let early = c.try_reply();
        assert!(early.is_none(), "variant {i}: early reply {early:?}");
        c.set_timeout(Duration::from_secs(30));
        c.send_raw(b".\r\nQUIT\r\n");
        cmd_reply(&mut c, 250);
        cmd_reply(&mut c, 221);
        assert!(c.try_reply().is_none());
    }
    let got = wait_mail(&server, "alice", variants.len());
    assert_eq!(got.len(), variants.len());
    for m in &got {
        let t = String::from_utf8_lossy(m);
        assert!(t.contains("MAIL FROM:<evil@example.com>"), "{t:?}");
        assert!(!t.contains('\r'), "{t:?}");
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        mail_of(&server, "bob").is_empty(),
        "a smuggled message arrived"
    );
    assert_eq!(server.log.count("smtp message msgid="), variants.len());
}

#[test]
fn bdat_chunks() {
    let server = start("");
    let mut c = server.smtp();
    c.hello();
    // One LAST chunk.
    cmd(&mut c, "MAIL FROM:<s@example.com>", 250);
    cmd(&mut c, "RCPT TO:<alice@local.test>", 250);
    let m1 = b"Subject: one chunk\r\n\r\nbo\rdy\n\r\n";
    c.send_raw(format!("BDAT {} LAST\r\n", m1.len()).as_bytes());
    c.send_raw(m1);
    cmd_reply(&mut c, 250);
    // Several chunks, one of them empty, a line split across chunks.
    cmd(&mut c, "MAIL FROM:<s@example.com>", 250);
    cmd(&mut c, "RCPT TO:<alice@local.test>", 250);
    for part in [
        &b"Subject: three chunks\r\n\r\nfirst li"[..],
        b"ne\r\nsecond\r\n",
    ] {
        c.send_raw(format!("BDAT {}\r\n", part.len()).as_bytes());
        c.send_raw(part);
        cmd_reply(&mut c, 250);
    }
    c.send_raw(b"BDAT 0 LAST\r\n");
    cmd_reply(&mut c, 250);
    // BDAT, then the next transaction pipelined in the same write, with a
    // chunk that holds what looks like commands and a dot line.
    let m3 = b"Subject: piped bdat\r\n\r\n.\r\nMAIL FROM:<x@y>\r\n";
    let mut w = b"MAIL FROM:<s@example.com>\r\nRCPT TO:<bob@local.test>\r\n".to_vec();
    w.extend_from_slice(format!("BDAT {} LAST\r\n", m3.len()).as_bytes());
    w.extend_from_slice(m3);
    w.extend_from_slice(
        b"MAIL FROM:<t@example.com>\r\nRCPT TO:<bob@local.test>\r\nBDAT 4 LAST\r\nhi\r\nQUIT\r\n",
    );
    c.send_raw(&w);
    for code in [250, 250, 250, 250, 250, 250, 221] {
        cmd_reply(&mut c, code);
    }
    // BDAT without a transaction: the chunk is read and refused.
    let mut c = server.smtp();
    c.hello();
    c.send_raw(b"BDAT 4 LAST\r\nabcd");
    cmd_reply(&mut c, 503);
    cmd(&mut c, "NOOP", 250);

    let a = wait_mail(&server, "alice", 2);
    let at: Vec<String> = a
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    assert!(at
        .iter()
        .any(|t| t.ends_with("Subject: one chunk\n\nbo\ndy\n\n")));
    assert!(at
        .iter()
        .any(|t| t.ends_with("Subject: three chunks\n\nfirst line\nsecond\n")));
    let b = wait_mail(&server, "bob", 2);
    let bt: Vec<String> = b
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    assert!(
        bt.iter()
            .any(|t| t.ends_with("Subject: piped bdat\n\n.\nMAIL FROM:<x@y>\n")),
        "{bt:?}"
    );
    assert!(bt.iter().any(|t| t.ends_with("\nhi\n")), "{bt:?}");
    assert!(at.iter().chain(&bt).all(|t| !t.contains('\r')));
}

#[test]
fn oversize_messages_are_refused_and_nothing_is_queued() {
    let server = start("smtp max-message-size 10K");
    let sp = server.path("spool");
    let mut c = server.smtp();
    let ehlo = c.hello();
    assert!(ehlo.lines.iter().any(|l| l == "SIZE 10240"), "{ehlo:?}");
    // SIZE= over the limit at MAIL.
    let r = cmd(&mut c, "MAIL FROM:<s@example.com> SIZE=20000", 552);
    assert!(r.text().starts_with("5.3.4"), "{r:?}");
    cmd(&mut c, "MAIL FROM:<s@example.com> SIZE=2000", 250);
    cmd(&mut c, "RCPT TO:<alice@local.test>", 250);
    cmd(&mut c, "DATA", 354);
    let line = "x".repeat(70);
    let mut data = String::from("Subject: big\r\n\r\n");
    while data.len() < 30_000 {
        data.push_str(&line);
        data.push_str("\r\n");
    }
    data.push_str(".\r\n");
    c.send_raw(data.as_bytes());
    let r = cmd_reply(&mut c, 552);
    assert!(r.text().starts_with("5.3.4"), "{r:?}");
    // The same by BDAT.
    cmd(&mut c, "MAIL FROM:<s@example.com>", 250);
    cmd(&mut c, "RCPT TO:<alice@local.test>", 250);
    let chunk = data.replace("\r\n.\r\n", "\r\n");
    c.send_raw(format!("BDAT {} LAST\r\n", chunk.len()).as_bytes());
    c.send_raw(chunk.as_bytes());
    let r = cmd_reply(&mut c, 552);
    assert!(r.text().starts_with("5.3.4"), "{r:?}");
    cmd(&mut c, "NOOP", 250);
    assert!(spool::queued_messages(&sp).is_empty());
    assert!(
        support::eventually(Duration::from_secs(5), || spool::incoming(&sp).is_empty()),
        "incoming/ not cleaned: {:?}",
        spool::incoming(&sp)
    );
    cmd(&mut c, "QUIT", 221);
    assert!(mail_of(&server, "alice").is_empty());
}

#[test]
fn recipient_and_message_limits() {
    let server = Server::start_opts(
        &conf::local(
            &["a", "b", "c", "d"],
            "smtp limit max-rcpt 3 max-mails 2\n\
             match from any for domain \"local.test\" action \"local\"\n",
        ),
        opts(),
    );
    let mut c = server.smtp();
    c.hello();
    cmd(&mut c, "MAIL FROM:<s@example.com>", 250);
    for u in ["a", "b", "c"] {
        cmd(&mut c, &format!("RCPT TO:<{u}@local.test>"), 250);
    }
    let r = cmd(&mut c, "RCPT TO:<d@local.test>", 452);
    assert!(r.text().starts_with("4.5.3"), "{r:?}");
    cmd(&mut c, "DATA", 354);
    c.send_raw(b"Subject: three\r\n\r\nx\r\n.\r\n");
    cmd_reply(&mut c, 250);
    let r = c.send_mail("s@example.com", &["d@local.test"], "second");
    assert_eq!(r.code, 250);
    let r = cmd(&mut c, "MAIL FROM:<s@example.com>", 452);
    assert!(r.text().starts_with("4.5.3"), "{r:?}");
    for u in ["a", "b", "c", "d"] {
        wait_mail(&server, u, 1);
    }
}

#[test]
fn addresses() {
    let server = start("");
    let mut c = server.smtp();
    c.hello();
    cmd(&mut c, "MAIL FROM:<not an address>", 553);
    cmd(&mut c, "MAIL FROM:<>", 250);
    let r = cmd(&mut c, "RCPT TO:<a b@local.test>", 553);
    assert!(r.text().starts_with("5.1.3"), "{r:?}");
    cmd(&mut c, "RCPT TO:<>", 553);
    cmd(&mut c, "RCPT TO:<alice@@local.test>", 553);
    let r = cmd(&mut c, "RCPT TO:<carol@local.test>", 550);
    assert!(r.text().starts_with("5.1.1"), "{r:?}");
    let r = cmd(&mut c, "RCPT TO:<someone@example.org>", 550);
    assert!(r.text().starts_with("5.7.1"), "{r:?}");
    // A quoted local part that names a user is that user.
    cmd(&mut c, "RCPT TO:<\"alice\"@local.test>", 250);
    cmd(&mut c, "RCPT TO:<\"bob\"@LOCAL.TEST>", 250);
    cmd(&mut c, "DATA", 354);
    c.send_raw(b"Subject: bounce-like\r\n\r\nfrom the null sender\r\n.\r\n");
    cmd_reply(&mut c, 250);
    // A quoted local part with a space, as a sender.
    cmd(&mut c, "MAIL FROM:<\"john smith\"@example.com>", 250);
    cmd(&mut c, "RCPT TO:<alice@local.test>", 250);
    cmd(&mut c, "DATA", 354);
    c.send_raw(b"Subject: quoted\r\n\r\nx\r\n.\r\n");
    cmd_reply(&mut c, 250);
    wait_mail(&server, "bob", 1);
    wait_mail(&server, "alice", 2);
    let log = server.log.text();
    assert!(log.contains("from=<> to=<alice@local.test>"), "{log}");
    assert!(
        log.contains("from=<\"john smith\"@example.com>"),
        "quoted sender kept: {log}"
    );
}

#[test]
fn dsn_parameters_are_stored_on_the_envelope() {
    let mut args = opts().args;
    args.extend(["-P".into(), "mda".into()]);
    let server = Server::start_opts(
        &conf::basic(""),
        support::Options {
            args,
            ..Default::default()
        },
    );
    let mut c = server.smtp();
    c.hello();
    cmd(
        &mut c,
        "MAIL FROM:<s@example.com> RET=HDRS ENVID=QQ314159+2B",
        250,
    );
    cmd(
        &mut c,
        "RCPT TO:<alice@local.test> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;Alice+2B1@local.test",
        250,
    );
    cmd(&mut c, "RCPT TO:<bob@local.test> NOTIFY=NEVER", 250);
    cmd(&mut c, "RCPT TO:<bob@local.test> NOTIFY=NEVER,SUCCESS", 501);
    cmd(&mut c, "RCPT TO:<bob@local.test> ORCPT=x400;foo", 555);
    cmd(&mut c, "DATA", 354);
    c.send_raw(b"Subject: dsn\r\n\r\nx\r\n.\r\n");
    cmd_reply(&mut c, 250);
    cmd(&mut c, "MAIL FROM:<s@example.com> RET=SOMETIMES", 501);
    // An ENVID the envelope cannot hold (a leading blank) is refused at
    // MAIL, not by a 451 after the data.
    cmd(&mut c, "MAIL FROM:<s@example.com> ENVID=+20lead", 501);
    let evps = spool::queued_envelopes(&server.path("spool"));
    assert_eq!(evps.len(), 2, "{evps:?}");
    let fields: Vec<_> = evps.iter().map(|p| spool::envelope_fields(p)).collect();
    let alice = fields
        .iter()
        .find(|f| f.get("rcpt").map(String::as_str) == Some("alice@local.test"))
        .expect("alice's envelope");
    assert_eq!(alice["dsn-ret"], "HDRS");
    // ENVID is kept decoded from xtext (the DSN report prints it).
    assert_eq!(alice["dsn-envid"], "QQ314159+");
    // OpenSMTPD's envelope keeps NOTIFY as its bit mask: SUCCESS 1,
    // FAILURE 2, DELAY 4, NEVER 8.
    assert_eq!(alice["dsn-notify"], "5");
    assert_eq!(alice["dsn-orcpt"], "rfc822;Alice+2B1@local.test");
    let bob = fields
        .iter()
        .find(|f| f.get("rcpt").map(String::as_str) == Some("bob@local.test"))
        .expect("bob's envelope");
    assert_eq!(bob["dsn-notify"], "8");
    assert_eq!(bob["dsn-ret"], "HDRS");
    assert!(!bob.contains_key("dsn-orcpt"), "{bob:?}");
}

#[test]
fn smtputf8_addresses_need_the_parameter() {
    let server = Server::start_opts(
        &conf::local(
            &["alice"],
            "table everyone { \"@\" = \"alice\" }\n\
             action \"v\" maildir \"{DIR}/mail/%{user.username}\" virtual <everyone> userbase <users>\n\
             match from any for domain \"utf8.test\" action \"v\"\n",
        ),
        opts(),
    );
    let mut c = server.smtp();
    c.hello();
    let r = cmd(&mut c, "MAIL FROM:<jörg@example.com>", 553);
    assert!(r.text().starts_with("5.6.7"), "{r:?}");
    cmd(&mut c, "MAIL FROM:<s@example.com>", 250);
    let r = cmd(&mut c, "RCPT TO:<jörg@utf8.test>", 553);
    assert!(r.text().starts_with("5.6.7"), "{r:?}");
    cmd(&mut c, "RSET", 250);
    cmd(&mut c, "MAIL FROM:<jörg@example.com> SMTPUTF8", 250);
    cmd(&mut c, "RCPT TO:<ålice@utf8.test>", 250);
    cmd(&mut c, "DATA", 354);
    c.send_raw("Subject: grüße\r\n\r\nÄÖÜ\r\n.\r\n".as_bytes());
    cmd_reply(&mut c, 250);
    let got = wait_mail(&server, "alice", 1);
    let t = String::from_utf8_lossy(&got[0]).into_owned();
    assert!(t.contains("with UTF8ESMTP"), "{t}");
    assert!(t.ends_with("Subject: grüße\n\nÄÖÜ\n"), "{t}");
    assert!(server.log.text().contains("from=<jörg@example.com>"));
}

#[test]
fn loops_are_refused() {
    let server = start("");
    let mut c = server.smtp();
    c.hello();
    for (n, code) in [(99, 250), (100, 554)] {
        cmd(&mut c, "MAIL FROM:<s@example.com>", 250);
        cmd(&mut c, "RCPT TO:<alice@local.test>", 250);
        cmd(&mut c, "DATA", 354);
        let mut data = String::new();
        for i in 0..n {
            data.push_str(&format!("Received: from hop{i}.example by x; today\r\n"));
        }
        data.push_str(&format!("Subject: {n} hops\r\n\r\nx\r\n.\r\n"));
        c.send_raw(data.as_bytes());
        let r = cmd_reply(&mut c, code);
        if code == 554 {
            assert!(r.text().starts_with("5.4.6"), "{r:?}");
        }
    }
    let got = wait_mail(&server, "alice", 1);
    assert!(String::from_utf8_lossy(&got[0]).contains("Subject: 99 hops"));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(mail_of(&server, "alice").len(), 1);
}

#[test]
fn hogs_and_long_lines() {
    let server = start("");
    let mut c = server.smtp();
    c.hello();
    // A command line over the tolerated limit: refused, the session goes on.
    let long = format!("NOOP {}", "x".repeat(10_000));
    let r = cmd(&mut c, &long, 500);
    assert!(r.text().starts_with("5.5.2"), "{r:?}");
    cmd(&mut c, "NOOP", 250);
    // A long text line (under 64 KiB) is accepted whole.
    let text_line = "y".repeat(20_000);
    let r = c.send_mail(
        "s@example.com",
        &["alice@local.test"],
        &format!("Subject: long\n\n{text_line}"),
    );
    assert_eq!(r.code, 250, "{r:?}");
    let got = wait_mail(&server, "alice", 1);
    assert!(String::from_utf8_lossy(&got[0]).ends_with(&format!("\n{text_line}\n")));

    // Unknown commands: the session is closed after too many.
    let mut c = server.smtp();
    c.hello();
    let mut codes = Vec::new();
    // One write: the server may close after its 421 while a client that
    // wrote line by line would still be writing (and get EPIPE).
    c.send_raw("XYZZY\r\n".repeat(40).as_bytes());
    while let Some(r) = c.try_reply() {
        assert_esc(&r);
        codes.push(r.code);
    }
    assert_eq!(codes.last(), Some(&421), "{codes:?}");
    assert!(codes[..codes.len() - 1].iter().all(|c| *c == 500));
    assert!(codes.len() < 40, "{codes:?}");
    assert!(server
        .log
        .wait_for("smtp disconnected reason=hog", Duration::from_secs(5)));
}

#[test]
fn idle_sessions_time_out() {
    let mut args = support::dns::no_names();
    args.extend(["--smtp-timeout".into(), "1".into()]);
    let server = Server::start_opts(
        &conf::basic(""),
        support::Options {
            args,
            ..Default::default()
        },
    );
    // Idle between commands.
    let mut idle = server.smtp();
    idle.hello();
    // In DATA, part of the message sent.
    let mut data = server.smtp();
    data.hello();
    cmd(&mut data, "MAIL FROM:<s@example.com>", 250);
    cmd(&mut data, "RCPT TO:<alice@local.test>", 250);
    cmd(&mut data, "DATA", 354);
    data.send_raw(b"Subject: never finished\r\n\r\nhalf");
    // In a BDAT chunk, part of the chunk sent.
    let mut bdat = server.smtp();
    bdat.hello();
    cmd(&mut bdat, "MAIL FROM:<s@example.com>", 250);
    cmd(&mut bdat, "RCPT TO:<alice@local.test>", 250);
    bdat.send_raw(b"BDAT 100 LAST\r\nonly some");
    for c in [&mut idle, &mut data, &mut bdat] {
        let r = c.reply();
        assert_eq!(r.code, 421, "{r:?}");
        assert!(r.text().starts_with("4.4.2"), "{r:?}");
        assert_eq!(c.read_to_end(), "", "the session is closed after the 421");
    }
    let sp = server.path("spool");
    assert!(support::eventually(Duration::from_secs(5), || {
        server.log.count("reason=timeout") == 3 && spool::incoming(&sp).is_empty()
    }));
    assert!(spool::queued_messages(&sp).is_empty());
}

#[test]
fn one_log_line_per_session_event_and_delivery() {
    let server = start("");
    let mut c = server.smtp();
    c.hello();
    cmd(&mut c, "MAIL FROM:<s@example.com>", 250);
    cmd(&mut c, "RCPT TO:<nobody@example.org>", 550);
    cmd(&mut c, "RCPT TO:<alice@local.test>", 250);
    cmd(&mut c, "RCPT TO:<bob@local.test>", 250);
    cmd(&mut c, "DATA", 354);
    c.send_raw(b"Subject: logged\r\n\r\nx\r\n.\r\n");
    let msgid = cmd_reply(&mut c, 250)
        .text()
        .split(' ')
        .nth(1)
        .unwrap()
        .to_string();
    cmd(&mut c, "MAIL FROM:<s@example.com> SIZE=999999999", 552);
    let auth = c.cmd("AUTH PLAIN AHVzZXIAc2VjcmV0");
    assert!(auth.code >= 500, "{auth:?}");
    cmd(&mut c, "QUIT", 221);
    assert!(server
        .log
        .wait_for("smtp disconnected reason=quit", Duration::from_secs(5)));
    assert!(support::eventually(Duration::from_secs(10), || {
        server.log.count("delivery: Ok for") == 2
    }));
    let log = server.log.text();
    let lines: Vec<&str> = log.lines().collect();
    let connected = lines
        .iter()
        .find(|l| l.contains(" smtp connected address=127.0.0.1"))
        .expect("a connected line");
    let sessid = connected
        .split_whitespace()
        .find(|w| w.len() == 16 && w.chars().all(|c| c.is_ascii_hexdigit()))
        .expect("the session id")
        .to_string();
    let of_session: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains(&format!("{sessid} smtp ")))
        .collect();
    let count = |what: &str| of_session.iter().filter(|l| l.contains(what)).count();
    assert_eq!(count(" smtp connected "), 1);
    assert_eq!(count(" smtp disconnected reason=quit"), 1);
    assert_eq!(
        count(&format!(" smtp message msgid={msgid} size=")),
        1,
        "{log}"
    );
    assert!(of_session
        .iter()
        .any(|l| l.contains(&format!("msgid={msgid}")) && l.contains("nrcpt=2 proto=ESMTP")));
    assert!(of_session.iter().any(|l| l.contains(
        "smtp failed-command command=\"RCPT TO:<nobody@example.org>\" result=\"550 5.7.1 "
    )));
    assert!(of_session.iter().any(|l| l.contains(
        "smtp failed-command command=\"MAIL FROM:<s@example.com> SIZE=999999999\" result=\"552 5.3.4 "
    )));
    assert!(of_session
        .iter()
        .any(|l| l.contains("smtp failed-command command=\"AUTH PLAIN\" result=\"5")));
    assert!(!log.contains("AHVzZXIAc2VjcmV0"), "credentials logged");
    for user in ["alice", "bob"] {
        let env = of_session
            .iter()
            .find(|l| l.contains(&format!("to=<{user}@local.test>")))
            .expect("an envelope line");
        let evpid = env
            .split("evpid=")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap();
        assert!(evpid.starts_with(&msgid), "{env}");
        assert!(env.contains(" smtp envelope evpid="), "{env}");
        assert!(env.contains("from=<s@example.com>"), "{env}");
        let delivery = lines
            .iter()
            .find(|l| l.contains(&format!("delivery: Ok for {evpid}: ")))
            .expect("a delivery line");
        for field in [
            "from=<s@example.com>",
            &format!("to=<{user}@local.test>"),
            &format!("user={user}"),
            "method=maildir",
            "delay=",
            "stat=Delivered",
        ] {
            assert!(delivery.contains(field), "{field} missing: {delivery}");
        }
    }
}

#[test]
fn near_the_descriptor_limit_new_clients_wait_their_turn() {
    let dir = tempfile::Builder::new()
        .prefix("smtpd-test-")
        .tempdir()
        .unwrap();
    let port = support::free_port();
    let mut args = support::custom::standard_args(&dir, port, &conf::basic(""));
    args.extend(support::dns::no_names().into_iter().map(Into::into));
    let server = support::custom::start_custom(
        dir,
        port,
        Some("ulimit -n 64 && exec \"$0\" \"$@\""),
        args,
        true,
    );
    // Hold sessions open until the server stops taking new ones.
    let mut held: Vec<Client> = Vec::new();
    let mut waiting: Vec<Client> = Vec::new();
    for _ in 0..64 {
        let mut c = server.smtp();
        c.set_timeout(Duration::from_millis(500));
        match c.try_reply() {
            Some(r) => {
                assert_eq!(r.code, 220, "{r:?}");
                // Each one in a transaction: a socket and a message file.
                c.set_timeout(Duration::from_secs(30));
                c.line("EHLO client.test");
                assert_eq!(c.reply().code, 250);
                assert_eq!(c.cmd("MAIL FROM:<s@example.com>").code, 250);
                held.push(c);
            }
            None => {
                waiting.push(c);
                if waiting.len() == 3 {
                    break;
                }
            }
        }
    }
    assert_eq!(waiting.len(), 3, "the server never stopped accepting");
    assert!(held.len() >= 4, "only {} sessions fit", held.len());
    // The waiting clients were not refused: once sessions end, they are
    // served, and mail flows.
    for _ in 0..3 {
        let mut c = held.pop().unwrap();
        assert_eq!(c.cmd("QUIT").code, 221);
    }
    for c in &mut waiting {
        c.set_timeout(Duration::from_secs(10));
        let r = c.reply();
        assert_eq!(r.code, 220, "{r:?}");
        c.set_timeout(Duration::from_secs(30));
        c.line("EHLO client.test");
        assert_eq!(c.reply().code, 250);
        let r = c.send_mail(
            "s@example.com",
            &["alice@local.test"],
            "Subject: waited\n\nx",
        );
        assert_eq!(r.code, 250, "{r:?}");
    }
    for c in &mut held {
        assert_eq!(c.cmd("RCPT TO:<bob@local.test>").code, 250);
        assert_eq!(c.cmd("RSET").code, 250);
    }
    wait_mail(&server, "alice", 3);
    // The server stopped accepting before the limit, not when accept(2)
    // failed.
    let log = server.log.text();
    assert!(!log.contains("Too many open files"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}
