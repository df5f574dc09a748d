//! Builtin filters (`filter NAME phase PHASE match CONDITIONS DECISION`
//! and chains) over real sessions: each phase's decision lands where
//! OpenSMTPD applies it — instead of the banner, as the reply to
//! EHLO/MAIL/RCPT — and `junk` marks the delivered message.

mod support;

use std::time::Duration;
use support::client::Client;
use support::dns::FakeDns;
use support::local::{users_table, wait_delivered};
use support::source::connect_from;
use support::{pymail, Options, Server};

const FROM: &str = "sender@remote.test";

/// An unprivileged server with the test users and `config`, its DNS
/// `dns_args` (a fake DNS, or one that knows no name).
fn start(config: &str, dns_args: Vec<String>) -> Server {
    start_prepared(config, dns_args, |_| {})
}

/// `start`, with `prepare` run on the server's directory first.
fn start_prepared(
    config: &str,
    dns_args: Vec<String>,
    prepare: impl FnOnce(&std::path::Path),
) -> Server {
    let dir = tempfile::Builder::new()
        .prefix("smtpd-test-")
        .tempdir()
        .expect("temp dir");
    prepare(dir.path());
    for u in support::local::USERS {
        std::fs::create_dir_all(dir.path().join("home").join(u)).unwrap();
    }
    std::fs::create_dir_all(dir.path().join("mail")).unwrap();
    Server::start_in(
        dir,
        &format!(
            "{}{config}\naction \"md\" maildir userbase <users>\nmatch from any for domain \"local.test\" action \"md\"\n",
            users_table()
        ),
        Options {
            args: dns_args,
            ..Default::default()
        },
    )
}

#[test]
fn connect_phase_disconnects_listed_sources_before_the_banner() {
    let s = start(
        r#"table bad { "127.0.0.3" }
filter f phase connect match src <bad> disconnect "550 go away"
listen on 127.0.0.1 port {PORT} filter f"#,
        support::nodns::args(),
    );
    let mut c = connect_from("127.0.0.3", s.port);
    c.set_timeout(Duration::from_secs(10));
    let r = c.reply();
    assert_eq!(r.code, 550, "{r:?}");
    assert_eq!(r.text(), "5.7.1 go away");
    assert_eq!(c.read_to_end(), "", "the session ends after the reply");

    // Any other client gets the banner and is served.
    let mut ok = connect_from("127.0.0.2", s.port);
    ok.expect(220);
    assert_eq!(ok.cmd("EHLO client.test").code, 250);
    assert!(s
        .log
        .text()
        .contains("smtp disconnected reason=filter-disconnect"));
}

#[test]
fn mail_from_reject_and_chain_order() {
    let port2 = support::free_port();
    let s = start(
        &r#"table spammers { "spam@bad.test" }
table vip { "bob@local.test" }
filter nospam phase mail-from match mail-from <spammers> reject "550 5.7.1 sender refused"
filter pass phase rcpt-to match rcpt-to <vip> bypass
filter strict phase rcpt-to match !rdns reject "450 4.7.1 no reverse DNS"
filter all chain { nospam, pass, strict }
filter reversed chain { strict, pass }
listen on 127.0.0.1 port {PORT} filter all
listen on 127.0.0.1 port {PORT2} filter reversed"#
            .replace("{PORT2}", &port2.to_string()),
        support::nodns::args(),
    );
    let mut c = s.smtp();
    c.hello();
    // mail-from: the listed sender is refused at MAIL, others go on.
    let r = c.cmd("MAIL FROM:<spam@bad.test>");
    assert_eq!((r.code, r.text().as_str()), (550, "5.7.1 sender refused"));
    assert_eq!(c.cmd(&format!("MAIL FROM:<{FROM}>")).code, 250);
    // The chain in order: bob is bypassed before `strict` refuses
    // everybody without a reverse DNS name (nobody has one here).
    assert_eq!(c.cmd("RCPT TO:<bob@local.test>").code, 250);
    let r = c.cmd("RCPT TO:<joe@local.test>");
    assert_eq!((r.code, r.text().as_str()), (450, "4.7.1 no reverse DNS"));
    assert_eq!(c.cmd("DATA").code, 354);
    c.send_raw(b"Subject: vip\r\n\r\nhello\r\n.\r\n");
    assert_eq!(c.reply().code, 250);
    c.cmd("QUIT");
    wait_delivered(&s, 1);
    let bob = pymail::maildir(&s.path("home/bob/Maildir"));
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0].header("X-Spam"), None);

    // The reversed chain refuses bob too: `strict` comes first.
    let mut c2 = Client::connect(("127.0.0.1", port2));
    c2.hello();
    assert_eq!(c2.cmd(&format!("MAIL FROM:<{FROM}>")).code, 250);
    assert_eq!(c2.cmd("RCPT TO:<bob@local.test>").code, 450);
}

/// `smtpctl update table` reaches the builtin filters' tables too: a
/// sender added to the file is refused from then on.
#[test]
fn update_table_reaches_the_filters_tables() {
    let s = start_prepared(
        r#"table spammers file:{DIR}/spammers
filter nospam phase mail-from match mail-from <spammers> reject "550 5.7.1 sender refused"
listen on 127.0.0.1 port {PORT} filter nospam"#,
        support::nodns::args(),
        |dir| std::fs::write(dir.join("spammers"), "spam@bad.test\n").unwrap(),
    );
    let mut c = s.smtp();
    c.hello();
    assert_eq!(c.cmd("MAIL FROM:<late@bad.test>").code, 250);
    assert_eq!(c.cmd("RSET").code, 250);
    std::fs::write(s.path("spammers"), "spam@bad.test\nlate@bad.test\n").unwrap();
    assert_eq!(
        support::smtpctl::ok(&s, &["update", "table", "spammers"]),
        "command succeeded\n"
    );
    let r = c.cmd("MAIL FROM:<late@bad.test>");
    assert_eq!((r.code, r.text().as_str()), (550, "5.7.1 sender refused"));
    s.log.expect("mfa: table spammers reloaded");
}

#[test]
fn rcpt_to_junk_marks_the_delivered_message() {
    let s = start(
        r#"table junky { "ann@local.test" }
filter junk phase rcpt-to match rcpt-to <junky> junk
listen on 127.0.0.1 port {PORT} filter junk"#,
        support::nodns::args(),
    );
    let msg = support::message::message(FROM, "ann@local.test", "spam?", b"buy\n");
    support::message::send_one(s.port, FROM, &["ann@local.test"], &msg);
    let msg = support::message::message(FROM, "joe@local.test", "ham", b"hi\n");
    support::message::send_one(s.port, FROM, &["joe@local.test"], &msg);
    wait_delivered(&s, 2);
    let ann = pymail::maildir(&s.path("home/ann/Maildir"));
    assert_eq!(ann.len(), 1);
    assert_eq!(ann[0].header("X-Spam"), Some("Yes"));
    assert_eq!(ann[0].body(), b"buy\n");
    let joe = pymail::maildir(&s.path("home/joe/Maildir"));
    assert_eq!(joe.len(), 1);
    assert_eq!(joe[0].header("X-Spam"), None);
}

/// `fcrdns` and `rdns <table>` with the test's own DNS: 127.0.0.5 has a
/// forward-confirmed name, 127.0.0.6 a name that does not resolve back,
/// 127.0.0.7 none.
#[test]
fn ehlo_phase_checks_reverse_dns() {
    let dns = FakeDns::start(&[
        ([127, 0, 0, 5].into(), "mx5.rdns.test", true),
        ([127, 0, 0, 6].into(), "liar.rdns.test", false),
    ]);
    let s = start(
        r#"table named { "liar.rdns.test" }
filter nofc phase ehlo match !fcrdns !rdns <named> reject "550 5.7.25 no FCrDNS"
filter liar phase ehlo match rdns <named> disconnect "421 4.7.0 liar"
filter checks chain { nofc, liar }
listen on 127.0.0.1 port {PORT} filter checks"#,
        dns.args(),
    );
    let ehlo = |src: &str| {
        let mut c = connect_from(src, s.port);
        c.set_timeout(Duration::from_secs(10));
        c.expect(220);
        let r = c.cmd("EHLO client.test");
        (c, r)
    };
    let (_c5, r5) = ehlo("127.0.0.5");
    assert_eq!(r5.code, 250, "{r5:?}");
    let (mut c6, r6) = ehlo("127.0.0.6");
    assert_eq!((r6.code, r6.text().as_str()), (421, "4.7.0 liar"));
    assert_eq!(c6.read_to_end(), "", "disconnected");
    let (mut c7, r7) = ehlo("127.0.0.7");
    assert_eq!((r7.code, r7.text().as_str()), (550, "5.7.25 no FCrDNS"));
    // A refused EHLO leaves the session without a greeting: MAIL is out
    // of sequence, and the session goes on.
    assert_eq!(c7.cmd(&format!("MAIL FROM:<{FROM}>")).code, 503);
}

/// `listen on socket filter …`: local enqueue (`sendmail`) goes through
/// the filters too.
#[test]
fn local_enqueue_through_a_filtered_socket() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let s = start(
        r#"table blocked { "evil@remote.test" }
table junky { "ann@local.test" }
filter nofrom phase mail-from match mail-from <blocked> reject "550 5.7.1 not from here"
filter spammy phase rcpt-to match rcpt-to <junky> junk
filter enqueue chain { nofrom, spammy }
listen on socket filter enqueue
listen on 127.0.0.1 port {PORT}"#,
        support::nodns::args(),
    );
    let sendmail = support::smtpctl::face(s.dir.path(), "sendmail");
    let send = |from: &str, to: &str| {
        let mut child = Command::new(&sendmail)
            .args(["-f", from, to])
            .env("SMTPD_SOCKET", s.path("smtpd.sock"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting sendmail");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"Subject: local\n\nbody\n")
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let refused = send("evil@remote.test", "joe@local.test");
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("not from here"), "{err}");
    let ok = send("friend@remote.test", "ann@local.test");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    wait_delivered(&s, 1);
    let ann = pymail::maildir(&s.path("home/ann/Maildir"));
    assert_eq!(ann.len(), 1);
    assert_eq!(ann[0].header("X-Spam"), Some("Yes"));
    assert_eq!(pymail::maildir(&s.path("home/joe/Maildir")).len(), 0);
}

/// `rewrite`: the recipient a filter gives replaces the client's, before
/// the rules see it.
#[test]
fn rcpt_to_rewrite_replaces_the_recipient() {
    let s = start(
        r#"table moved { "old@local.test" }
filter rw phase rcpt-to match rcpt-to <moved> rewrite "joe@local.test"
listen on 127.0.0.1 port {PORT} filter rw"#,
        support::nodns::args(),
    );
    let msg = support::message::message(FROM, "old@local.test", "moved", b"hi\n");
    support::message::send_one(s.port, FROM, &["old@local.test"], &msg);
    wait_delivered(&s, 1);
    let joe = pymail::maildir(&s.path("home/joe/Maildir"));
    assert_eq!(joe.len(), 1);
    assert_eq!(joe[0].header("Subject"), Some("moved"));
}
