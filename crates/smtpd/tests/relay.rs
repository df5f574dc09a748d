//! Relaying end to end (the seed's §4.4): mail accepted by the real
//! `smtpd` is relayed by its mta to a second SMTP server (the test sink)
//! that really receives it — by smarthost URL, or by MX through a fake
//! DNS server — with an outcome per envelope in the log and the queue.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::client::Client;
use support::mx_dns::{MxDns, Rr};
use support::sink::{only_crlf, Sink, SinkOptions};
use support::{eventually, free_port, Options, Server};

const WAIT: Duration = Duration::from_secs(20);

fn opts(args: Vec<String>) -> Options {
    Options {
        args,
        ..Options::default()
    }
}

/// No outside DNS: a closed loopback port.
fn no_dns() -> Vec<String> {
    vec!["--resolver".into(), "127.0.0.1:1".into()]
}

fn smarthost_config(port: u16, options: &str) -> String {
    format!(
        "listen on 127.0.0.1 port {{PORT}}\n\
         action \"out\" relay host smtp://127.0.0.1:{port} {options}\n\
         match from any for domain \"remote.test\" action \"out\"\n"
    )
}

/// The envelope files still in the queue.
fn queued(server: &Server) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(&server.path("spool/queue"), &mut out);
    out.retain(|p| p.file_name().is_some_and(|n| n != "message"));
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn wait_log(server: &Server, needle: &str, n: usize) {
    assert!(
        eventually(WAIT, || server.log.count(needle) >= n),
        "expected {n}× {needle:?} in the log:\n{}",
        server.log.text()
    );
}

fn crlf(s: &str) -> Vec<u8> {
    s.replace('\n', "\r\n").into_bytes()
}

/// One transaction with DSN parameters, sent by hand.
fn send_dsn_mail(c: &mut Client, rcpts: &[&str], body: &str) {
    c.hello();
    assert_eq!(
        c.cmd("MAIL FROM:<alice@local.test> RET=HDRS ENVID=env+2B1")
            .code,
        250
    );
    for r in rcpts {
        let line = format!("RCPT TO:<{r}> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;{r}");
        assert_eq!(c.cmd(&line).code, 250, "{line}");
    }
    assert_eq!(c.cmd("DATA").code, 354);
    let mut data = String::new();
    for l in body.split('\n') {
        if l.starts_with('.') {
            data.push('.');
        }
        data.push_str(l);
        data.push_str("\r\n");
    }
    data.push_str(".\r\n");
    c.send_raw(data.as_bytes());
    assert_eq!(c.reply().code, 250);
}

#[test]
fn smarthost_gets_one_transaction_byte_exact() {
    let sink = Sink::start(SinkOptions::default());
    let server = Server::start_opts(&smarthost_config(sink.port(), ""), opts(no_dns()));
    let body = "Subject: dots and bytes\n\n.\n..two\n.leading dot\ncaf\u{e9} \u{fc}ber\nend";
    send_dsn_mail(
        &mut server.smtp(),
        &["a@remote.test", "b@remote.test", "c@remote.test"],
        body,
    );
    wait_log(&server, "result=\"Ok\"", 3);
    let got = sink.received();
    assert_eq!(got.len(), 1, "one transaction for the three recipients");
    let m = &got[0];
    assert_eq!(m.rcpts.len(), 3);
    assert!(
        m.mail.starts_with("MAIL FROM:<alice@local.test>"),
        "{}",
        m.mail
    );
    for p in ["BODY=8BITMIME", "SIZE=", "RET=HDRS", "ENVID=env+2B1"] {
        assert!(m.mail.contains(p), "{p} missing in {}", m.mail);
    }
    assert!(
        m.rcpts[0].contains("NOTIFY=SUCCESS,FAILURE") && m.rcpts[0].contains("ORCPT=rfc822;"),
        "{}",
        m.rcpts[0]
    );
    // The content arrives as written, CRLF line ends, dots restored.
    let mut want = crlf(body);
    want.extend_from_slice(b"\r\n");
    assert!(
        m.data.starts_with(b"Received: "),
        "{:?}",
        String::from_utf8_lossy(&m.data)
    );
    assert!(
        m.data.ends_with(&want),
        "content differs:\n{:?}",
        String::from_utf8_lossy(&m.data)
    );
    for raw in sink.raw() {
        assert!(only_crlf(&raw), "bare CR or LF on the wire: {raw:?}");
    }
    let line = format!("relay=\"127.0.0.1 [127.0.0.1:{}]\"", sink.port());
    assert!(server.log.text().contains(&line), "{}", server.log.text());
    assert!(eventually(WAIT, || queued(&server).is_empty()));
}

#[test]
fn per_recipient_outcomes_with_a_helo_only_peer() {
    let sink = Sink::start(SinkOptions {
        extensions: Vec::new(),
        no_ehlo: true,
        ..SinkOptions::default()
    });
    let config = smarthost_config(sink.port(), "helo \"relay-out.test\"");
    let server = Server::start_opts(&config, opts(no_dns()));
    let mut c = server.smtp();
    c.hello();
    let r = c.send_mail(
        "alice@local.test",
        &["ok@remote.test", "perm1@remote.test", "temp1@remote.test"],
        "Subject: mixed\n\nhello",
    );
    assert_eq!(r.code, 250);
    wait_log(&server, "mta delivery", 3);
    let log = server.log.text();
    assert_eq!(log.matches("result=\"Ok\"").count(), 1, "{log}");
    assert!(log.contains("rcpt=<perm1@remote.test>"), "{log}");
    assert!(
        log.lines().any(|l| l.contains("to=<perm1@remote.test>")
            && l.contains("result=\"PermFail\"")
            && l.contains("550 5.1.1 No such user here")),
        "{log}"
    );
    assert!(
        log.lines().any(|l| l.contains("to=<temp1@remote.test>")
            && l.contains("result=\"TempFail\"")
            && l.contains("450 4.2.1")),
        "{log}"
    );
    let got = sink.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].helo, "relay-out.test");
    // No extension offered: no parameter sent.
    assert_eq!(got[0].mail, "MAIL FROM:<alice@local.test>");
    assert_eq!(got[0].rcpts, vec!["RCPT TO:<ok@remote.test>".to_string()]);
    // The refused one is kept as failed, the deferred one waits.
    wait_log(&server, "failed permanently", 1);
    assert!(eventually(WAIT, || queued(&server).len() == 2));
}

#[test]
fn peer_down_tempfails_and_the_mail_goes_once_it_is_up() {
    let port = free_port();
    let config = smarthost_config(port, "");
    let server = Server::start_opts(&config, opts(no_dns()));
    let mut c = server.smtp();
    c.hello();
    let r = c.send_mail(
        "alice@local.test",
        &["x@remote.test"],
        "Subject: later\n\nwait",
    );
    assert_eq!(r.code, 250);
    wait_log(&server, "result=\"TempFail\"", 1);
    assert!(server.log.text().contains("no MX could be reached"));
    let files = queued(&server);
    assert_eq!(files.len(), 1, "the envelope stays queued");
    let envelope = std::fs::read_to_string(&files[0]).unwrap();
    assert!(envelope.contains("retry: 1"), "{envelope}");

    // The next attempt would come 400 s later; stand in for
    // `smtpctl schedule` by resetting the retry count while stopped.
    let dir = server.stop_keep_dir();
    std::fs::write(&files[0], envelope.replace("retry: 1", "retry: 0")).unwrap();
    let sink = Sink::start_on(port, SinkOptions::default());
    let server = Server::start_in(dir, &config, opts(no_dns()));
    wait_log(&server, "result=\"Ok\"", 1);
    assert_eq!(sink.received().len(), 1);
    assert!(eventually(WAIT, || queued(&server).is_empty()));
}

#[test]
fn mx_routing_through_dns() {
    let sink = Sink::start(SinkOptions::default());
    let dns = MxDns::start(&[
        // The best MX is down (nothing listens on 127.0.0.2): the next one.
        Rr::Mx("relay.test", 10, "down.relay.test"),
        Rr::A("down.relay.test", [127, 0, 0, 2].into()),
        Rr::Mx("relay.test", 20, "up.relay.test"),
        Rr::A("up.relay.test", [127, 0, 0, 1].into()),
        // No MX: the domain's own address.
        Rr::A("implicit.test", [127, 0, 0, 1].into()),
        // RFC 7505.
        Rr::Mx("nullmx.test", 0, "."),
        Rr::Mx("lo.test", 10, "localhost"),
    ]);
    let config = "listen on 127.0.0.1 port {PORT}\n\
         table doms { \"relay.test\", \"implicit.test\", \"nullmx.test\", \"lo.test\", \"nowhere.test\" }\n\
         action \"mx\" relay\n\
         match from any for domain <doms> action \"mx\"\n";
    let mut args = dns.args();
    args.extend(["--mx-port".to_string(), sink.port().to_string()]);
    let server = Server::start_opts(config, opts(args));
    let mut c = server.smtp();
    c.hello();
    let rcpts = [
        "a@relay.test",
        "b@implicit.test",
        "c@nullmx.test",
        "d@lo.test",
        "e@nowhere.test",
    ];
    let r = c.send_mail("alice@local.test", &rcpts, "Subject: mx\n\nhi");
    assert_eq!(r.code, 250);
    wait_log(&server, "mta delivery", 5);
    let log = server.log.text();
    let line = |to: &str| {
        log.lines()
            .find(|l| l.contains("mta delivery") && l.contains(&format!("to=<{to}>")))
            .unwrap_or_else(|| panic!("no delivery line for {to}:\n{log}"))
            .to_string()
    };
    let a = line("a@relay.test");
    assert!(a.contains("result=\"Ok\""), "{a}");
    assert!(
        a.contains(&format!(
            "relay=\"up.relay.test [127.0.0.1:{}]\"",
            sink.port()
        )),
        "{a}"
    );
    assert!(line("b@implicit.test").contains("result=\"Ok\""));
    for (to, why) in [
        ("c@nullmx.test", "null MX"),
        ("d@lo.test", "localhost"),
        ("e@nowhere.test", "does not exist"),
    ] {
        let l = line(to);
        assert!(l.contains("result=\"PermFail\"") && l.contains(why), "{l}");
    }
    assert_eq!(sink.received().len(), 2, "one transaction per domain");
    wait_log(&server, "failed permanently", 3);
}

#[test]
fn an_mx_that_is_ourselves_is_a_loop() {
    let dns = MxDns::start(&[
        Rr::Mx("self.test", 10, "me.self.test"),
        Rr::A("me.self.test", [127, 0, 0, 1].into()),
    ]);
    let port = free_port();
    let config = "listen on 127.0.0.1 port {PORT}\n\
         action \"mx\" relay\n\
         match from any for domain \"self.test\" action \"mx\"\n";
    let mut args = dns.args();
    args.extend(["--mx-port".to_string(), port.to_string()]);
    let dir = tempfile::Builder::new()
        .prefix("smtpd-test-")
        .tempdir()
        .unwrap();
    let server = Server::start_on(dir, port, config, opts(args));
    let mut c = server.smtp();
    c.hello();
    let r = c.send_mail("alice@local.test", &["x@self.test"], "Subject: loop\n\nhi");
    assert_eq!(r.code, 250);
    wait_log(&server, "result=\"Loop\"", 1);
    wait_log(&server, "is looping", 1);
    assert_eq!(queued(&server).len(), 1, "kept as failed");
}

#[test]
fn an_idle_connection_takes_the_next_message() {
    let sink = Sink::start(SinkOptions::default());
    let server = Server::start_opts(&smarthost_config(sink.port(), ""), opts(no_dns()));
    let mut c = server.smtp();
    c.hello();
    for n in 1..=2 {
        let body = format!("Subject: message {n}\n\nhi");
        let r = c.send_mail("alice@local.test", &["x@remote.test"], &body);
        assert_eq!(r.code, 250);
        wait_log(&server, "result=\"Ok\"", n);
    }
    assert_eq!(sink.received().len(), 2);
    assert_eq!(sink.connections(), 1, "the session was kept alive");
}

/// A peer that restarted leaves our kept connection dead: the next message
/// finds it so at MAIL and goes out at once on a new connection, with no
/// temporary failure and no retry delay (it used to wait 400 s).
#[test]
fn a_message_for_a_dead_kept_connection_goes_on_a_new_one() {
    let sink = Sink::start(SinkOptions {
        drop_after: Some(1),
        ..SinkOptions::default()
    });
    let server = Server::start_opts(&smarthost_config(sink.port(), ""), opts(no_dns()));
    let mut c = server.smtp();
    c.hello();
    for n in 1..=3 {
        let body = format!("Subject: message {n}\n\nhi");
        let r = c.send_mail("alice@local.test", &["x@remote.test"], &body);
        assert_eq!(r.code, 250);
        wait_log(&server, "result=\"Ok\"", n);
    }
    let subjects: Vec<bool> = (1..=3)
        .map(|n| {
            let want = format!("Subject: message {n}");
            sink.received()
                .iter()
                .any(|r| String::from_utf8_lossy(&r.data).contains(&want))
        })
        .collect();
    assert_eq!(subjects, vec![true; 3], "every message arrived");
    assert_eq!(sink.connections(), 3, "one new connection per message");
    let log = server.log.text();
    assert!(!log.contains("TempFail"), "{log}");
    assert_eq!(
        server
            .log
            .count("is gone: the message goes out on a new one"),
        2,
        "{log}"
    );
    assert!(eventually(WAIT, || queued(&server).is_empty()));
}

/// A peer that offers PIPELINING gets MAIL, the RCPTs and DATA in one
/// write, and each recipient still gets its own outcome; one that does not
/// gets them one at a time.
#[test]
fn pipelining_peers_get_the_commands_together() {
    for (offer, pipelined) in [(true, 1), (false, 0)] {
        let mut extensions = SinkOptions::default().extensions;
        if offer {
            extensions.push("PIPELINING".into());
        }
        let sink = Sink::start(SinkOptions {
            extensions,
            ..SinkOptions::default()
        });
        let server = Server::start_opts(&smarthost_config(sink.port(), ""), opts(no_dns()));
        let mut c = server.smtp();
        c.hello();
        let r = c.send_mail(
            "alice@local.test",
            &["ok@remote.test", "perm@remote.test"],
            "Subject: piped\n\nhi",
        );
        assert_eq!(r.code, 250);
        wait_log(&server, "mta delivery", 2);
        let log = server.log.text();
        let line = |to: &str| {
            log.lines()
                .find(|l| l.contains("mta delivery") && l.contains(&format!("to=<{to}>")))
                .unwrap_or_default()
                .to_string()
        };
        assert!(line("ok@remote.test").contains("result=\"Ok\""), "{log}");
        assert!(
            line("perm@remote.test").contains("result=\"PermFail\""),
            "{log}"
        );
        let got = sink.received();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].rcpts, vec!["RCPT TO:<ok@remote.test>".to_string()]);
        assert_eq!(sink.pipelined(), pipelined, "offered: {offer}");
    }
}

/// `src <table>` picks the source address and `helo-src <table>` the
/// HELO name that goes with it.
#[test]
fn helo_src_names_the_source_address() {
    let sink = Sink::start(SinkOptions::default());
    let config = format!(
        "table srcs {{ 127.0.0.1 }}\n\
         table helos {{ \"127.0.0.1\" = \"out-one.example.test\" }}\n\
         listen on 127.0.0.1 port {{PORT}}\n\
         action \"out\" relay host smtp://127.0.0.1:{} src <srcs> helo-src <helos>\n\
         match from any for domain \"remote.test\" action \"out\"\n",
        sink.port()
    );
    let server = Server::start_opts(&config, opts(no_dns()));
    let mut c = server.smtp();
    c.hello();
    let r = c.send_mail("alice@local.test", &["x@remote.test"], "Subject: s\n\nhi");
    assert_eq!(r.code, 250);
    wait_log(&server, "result=\"Ok\"", 1);
    let got = sink.received();
    assert_eq!(got[0].helo, "out-one.example.test");
    assert!(server.log.text().contains("source=\"127.0.0.1\""));
}

/// A peer that drops every connection at MAIL: the task is tried on a few
/// fresh connections, then fails temporarily (it does not go round forever).
#[test]
fn a_peer_that_drops_every_connection_at_mail_gets_a_bounded_number() {
    let sink = Sink::start(SinkOptions {
        drop_at_mail: true,
        ..SinkOptions::default()
    });
    let server = Server::start_opts(&smarthost_config(sink.port(), ""), opts(no_dns()));
    let mut c = server.smtp();
    c.hello();
    let r = c.send_mail("alice@local.test", &["x@remote.test"], "Subject: x\n\nhi");
    assert_eq!(r.code, 250);
    wait_log(&server, "result=\"TempFail\"", 1);
    assert!(server
        .log
        .text()
        .contains("lost: connection closed by the peer"));
    assert_eq!(sink.connections(), 4, "the first connection and three more");
    assert_eq!(queued(&server).len(), 1, "kept for a retry");
}

#[test]
fn peer_size_lmtp_domain_map_and_mail_from() {
    let small = Sink::start(SinkOptions {
        extensions: vec!["SIZE 100".into()],
        ..SinkOptions::default()
    });
    let lmtp = Sink::start(SinkOptions {
        lmtp: true,
        ..SinkOptions::default()
    });
    let mapped = Sink::start(SinkOptions::default());
    let config = format!(
        "listen on 127.0.0.1 port {{PORT}}\n\
         action \"small\" relay host smtp://127.0.0.1:{}\n\
         action \"lmtp\" relay host lmtp://127.0.0.1:{}\n\
         action \"map\" relay domain {{ \"map.test\" = \"smtp://127.0.0.1:{}\" }} mail-from \"@rewritten.test\"\n\
         match from any for domain \"small.test\" action \"small\"\n\
         match from any for domain \"lmtp.test\" action \"lmtp\"\n\
         match from any for domain \"map.test\" action \"map\"\n",
        small.port(),
        lmtp.port(),
        mapped.port()
    );
    let server = Server::start_opts(&config, opts(no_dns()));
    let mut c = server.smtp();
    c.hello();
    let big = format!("Subject: big\n\n{}", "x".repeat(300));
    let rcpts = ["a@small.test", "b@lmtp.test", "c@lmtp.test", "d@map.test"];
    assert_eq!(c.send_mail("alice@local.test", &rcpts, &big).code, 250);
    // The null sender is never rewritten.
    assert_eq!(
        c.send_mail("", &["e@map.test"], "Subject: bounce\n\nx")
            .code,
        250
    );
    wait_log(&server, "mta delivery", 5);
    let log = server.log.text();
    assert!(
        log.lines().any(|l| l.contains("to=<a@small.test>")
            && l.contains("result=\"PermFail\"")
            && l.contains("5.3.4")),
        "{log}"
    );
    assert!(small.received().is_empty());
    let got = lmtp.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpts.len(), 2);
    assert_eq!(log.matches("result=\"Ok\"").count(), 4, "{log}");
    let mut froms: Vec<String> = mapped.received().iter().map(|m| m.mail.clone()).collect();
    froms.sort();
    assert!(froms[0].starts_with("MAIL FROM:<>"), "{froms:?}");
    assert!(
        froms[1].starts_with("MAIL FROM:<alice@rewritten.test>"),
        "{froms:?}"
    );
}
