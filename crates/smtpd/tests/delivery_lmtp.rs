//! LMTP delivery end to end against real LMTP servers: Dovecot's (over TCP
//! and its Unix socket, `rcpt-to` or the user name) and aiosmtpd's in LMTP
//! mode, which refuses or defers chosen recipients so that each
//! recipient's own outcome can be checked: accepted → delivered once,
//! 4xx → retried later, 5xx → failed permanently.

mod support;

use std::time::Duration;
use support::lmtpd::Lmtpd;
use support::local::{start, wait_count, wait_delivered};
use support::{message, pymail};

const FROM: &str = "alice@remote.test";

/// Dovecot over TCP (RCPT is the user name) and over its Unix socket
/// (`rcpt-to`: RCPT is the address): each message stored once, byte for
/// byte, with our delivery headers.
#[test]
fn dovecot_over_tcp_and_unix_socket() {
    let Some(dovecot) = Lmtpd::dovecot() else {
        return;
    };
    let conf = format!(
        r#"listen on 127.0.0.1 port {{PORT}}
action "tcp" lmtp "{tcp}" userbase <users>
action "unix" lmtp "{unix}" rcpt-to userbase <users>
match from any for domain "tcp.test" action "tcp"
match from any for domain "unix.test" action "unix"
"#,
        tcp = dovecot.dest,
        unix = dovecot.dovecot_socket().display()
    );
    let s = start(&conf);
    let body = message::tricky_body();
    let m1 = message::message(FROM, "joe@tcp.test", "over-tcp", &body);
    message::send_one(s.port, FROM, &["joe@tcp.test"], &m1);
    let m2 = message::message(FROM, "ann@unix.test", "over-unix", &body);
    message::send_one(s.port, FROM, &["ann@unix.test"], &m2);
    wait_delivered(&s, 2);

    for (user, rcpt, subject) in [
        ("joe", "joe@tcp.test", "over-tcp"),
        ("ann", "ann@unix.test", "over-unix"),
    ] {
        let mails = pymail::maildir(&dovecot.dovecot_maildir(user));
        assert_eq!(mails.len(), 1, "{user}: {}", dovecot.dovecot_log());
        let m = &mails[0];
        assert_eq!(m.header("Subject"), Some(subject));
        assert_eq!(m.body(), &body[..], "{user}: body byte for byte");
        // Dovecot adds a Delivered-To of its own (the RCPT it got).
        assert!(m.all("Delivered-To").contains(&rcpt), "{m:?}");
        assert!(
            m.all("Return-Path").contains(&"<alice@remote.test>"),
            "{m:?}"
        );
        // Dovecot's Received and ours.
        assert!(m.all("Received").len() >= 2, "{m:?}");
    }
    let log = dovecot.dovecot_log();
    assert!(log.contains("lmtp(joe)"), "{log}");
    assert!(log.contains("lmtp(ann@unix.test)"), "{log}");
}

/// One message, four recipients, four outcomes from the LMTP server: the
/// accepted one is delivered once; the one refused with 550 fails
/// permanently (kept in the queue as failed); the one deferred with 451 at
/// RCPT and the one refused with 452 after the data are retried, and the
/// first of these gets through on its retry.
#[test]
fn per_recipient_outcomes() {
    let Some(lmtp) = Lmtpd::aiosmtpd(false) else {
        return;
    };
    let conf = format!(
        r#"table vt {{ "@" = "joe" }}
listen on 127.0.0.1 port {{PORT}}
action "lm" lmtp "{dest}" rcpt-to virtual <vt> userbase <users>
match from any for domain "lmtp.test" action "lm"
"#,
        dest = lmtp.dest
    );
    let s = start(&conf);
    let rcpts = [
        "ok@lmtp.test",
        "temp@lmtp.test",
        "perm@lmtp.test",
        "quota@lmtp.test",
    ];
    let body = message::tricky_body();
    let msg = message::message(FROM, "ok@lmtp.test", "per-rcpt", &body);
    message::send_one(s.port, FROM, &rcpts, &msg);

    wait_delivered(&s, 1);
    wait_count(&s, "PermFail for", 1, Duration::from_secs(10));
    wait_count(&s, "TempFail for", 2, Duration::from_secs(10));
    let text = s.log.text();
    let line = |rcpt: &str, what: &str| {
        text.lines()
            .any(|l| l.contains(what) && l.contains(&format!("rcpt=<{rcpt}>")))
    };
    assert!(line("ok@lmtp.test", "delivery: Ok"), "{text}");
    assert!(line("perm@lmtp.test", "delivery: PermFail"), "{text}");
    assert!(line("temp@lmtp.test", "delivery: TempFail"), "{text}");
    assert!(line("quota@lmtp.test", "delivery: TempFail"), "{text}");
    assert!(text.contains("User unknown"), "{text}");

    // The retry (local base 10 s after the message was queued): temp is
    // accepted now, quota is still full.
    wait_count(&s, "delivery: Ok", 2, Duration::from_secs(30));
    let text = s.log.text();
    assert!(
        text.lines()
            .any(|l| l.contains("delivery: Ok") && l.contains("rcpt=<temp@lmtp.test>")),
        "{text}"
    );
    for rcpt in ["ok@lmtp.test", "temp@lmtp.test"] {
        let mails = pymail::maildir(&lmtp.maildir(rcpt));
        assert_eq!(mails.len(), 1, "{rcpt}: one copy");
        assert_eq!(mails[0].body(), &body[..]);
        mails[0].assert_delivery_headers(FROM, rcpt);
    }
    assert!(pymail::maildir(&lmtp.maildir("perm@lmtp.test")).is_empty());
    assert!(pymail::maildir(&lmtp.maildir("quota@lmtp.test")).is_empty());
    let log = lmtp.log();
    assert_eq!(
        log.iter().filter(|l| l.contains("refused=<perm")).count(),
        1,
        "a permanent failure is not retried: {log:?}"
    );
}

/// Over a Unix socket without `rcpt-to`, RCPT names the local user; the
/// envelope sender and our LHLO name are passed on.
#[test]
fn unix_socket_sends_the_user_name() {
    let Some(lmtp) = Lmtpd::aiosmtpd(true) else {
        return;
    };
    let conf = format!(
        r#"listen on 127.0.0.1 port {{PORT}}
action "lm" lmtp "{dest}" userbase <users>
match from any for domain "lmtp.test" action "lm"
"#,
        dest = lmtp.dest
    );
    let s = start(&conf);
    let body = message::tricky_body();
    let msg = message::message(FROM, "Joe@lmtp.test", "unix", &body);
    message::send_one(s.port, FROM, &["Joe@lmtp.test"], &msg);
    wait_delivered(&s, 1);
    let mails = pymail::maildir(&lmtp.maildir("joe"));
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].body(), &body[..]);
    mails[0].assert_delivery_headers(FROM, "Joe@lmtp.test");
    let log = lmtp.log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(
        log[0].starts_with("from=<alice@remote.test> rcpt=<joe> lhlo="),
        "{log:?}"
    );
}

/// An LMTP server that is not there is a temporary failure: the message
/// stays queued for the retry.
#[test]
fn server_down_is_temporary() {
    let port = support::free_port();
    let conf = format!(
        r#"listen on 127.0.0.1 port {{PORT}}
action "lm" lmtp "127.0.0.1:{port}" userbase <users>
match from any for domain "lmtp.test" action "lm"
"#
    );
    let s = start(&conf);
    let msg = message::message(FROM, "joe@lmtp.test", "down", b"nobody home\n");
    message::send_one(s.port, FROM, &["joe@lmtp.test"], &msg);
    wait_count(&s, "delivery: TempFail", 1, Duration::from_secs(10));
    let text = s.log.text();
    assert!(
        text.lines()
            .any(|l| l.contains("delivery: TempFail") && l.contains("stat=4.4.1")),
        "{text}"
    );
    assert_eq!(support::local::queued_envelopes(&s).len(), 1);
}
