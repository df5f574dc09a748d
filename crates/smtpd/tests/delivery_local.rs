//! Local delivery end to end, as any user may run it: a message sent over
//! TCP to the real binary is delivered by the method of its action
//! (Maildir, `junk`, mbox, `mda "cmd"`, `mda wrapper`) and read back with
//! Python's `mailbox` module — body byte for byte, exactly one copy, the
//! delivery headers present. The test users live in a userbase whose homes
//! are in the server's temporary directory (see `support::local`).

mod support;

use support::local::{start, wait_delivered, wait_queue_empty};
use support::{message, pymail};

const FROM: &str = "alice@remote.test";

/// The default Maildir (`~/Maildir`): each of two recipients of one
/// transaction gets one copy, byte for byte.
#[test]
fn maildir_default_path() {
    let s = start(
        r#"listen on 127.0.0.1 port {PORT}
action "md" maildir userbase <users>
match from any for domain "local.test" action "md"
"#,
    );
    let body = message::tricky_body();
    let msg = message::message(FROM, "joe@local.test", "default-maildir", &body);
    message::send_one(s.port, FROM, &["joe@local.test", "ann@local.test"], &msg);
    wait_delivered(&s, 2);
    wait_queue_empty(&s);
    for (user, rcpt) in [("joe", "joe@local.test"), ("ann", "ann@local.test")] {
        let mails = pymail::maildir(&s.path(&format!("home/{user}/Maildir")));
        assert_eq!(mails.len(), 1, "{user}: exactly one copy");
        assert_eq!(mails[0].body(), &body[..], "{user}: body byte for byte");
        assert_eq!(mails[0].header("Subject"), Some("default-maildir"));
        mails[0].assert_delivery_headers(FROM, rcpt);
        assert_eq!(mails[0].all("Received").len(), 1);
    }
}

/// A Maildir path with format specifiers: lower-cased domain and user of
/// the recipient, and a sub-address delivered into its existing folder.
#[test]
fn maildir_format_specifiers() {
    let s = start(
        r#"listen on 127.0.0.1 port {PORT}
action "vmail" maildir "{DIR}/vmail/%{dest.domain:lowercase}/%{dest.user:lowercase|strip}" userbase <users>
match from any for domain "local.test" action "vmail"
"#,
    );
    let body = message::tricky_body();
    let msg = message::message(FROM, "Joe@LOCAL.test", "fmt", &body);
    message::send_one(s.port, FROM, &["Joe@LOCAL.test"], &msg);
    wait_delivered(&s, 1);
    let dir = s.path("vmail/local.test/joe");
    let mails = pymail::maildir(&dir);
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].body(), &body[..]);
    mails[0].assert_delivery_headers(FROM, "Joe@LOCAL.test");

    // joe+lists: `.lists` exists, so the message is filed there.
    std::fs::create_dir_all(dir.join(".lists")).unwrap();
    let msg = message::message(FROM, "joe+lists@local.test", "tagged", &body);
    message::send_one(s.port, FROM, &["joe+lists@local.test"], &msg);
    wait_delivered(&s, 2);
    assert_eq!(pymail::maildir(&dir).len(), 1, "the inbox is unchanged");
    let listed = pymail::maildir(&dir.join(".lists"));
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].header("Subject"), Some("tagged"));
    assert_eq!(listed[0].body(), &body[..]);
}

/// `junk`: `X-Spam: yes` goes to `.Junk`, everything else to the inbox.
#[test]
fn maildir_junk() {
    let s = start(
        r#"listen on 127.0.0.1 port {PORT}
action "md" maildir junk userbase <users>
match from any for domain "local.test" action "md"
"#,
    );
    let spam = b"X-Spam: yes\nSubject: buy now\n\nspam body\n";
    let ham = b"X-Spam: no\nSubject: hello\n\nham body\n";
    message::send_one(s.port, FROM, &["joe@local.test"], spam);
    message::send_one(s.port, FROM, &["joe@local.test"], ham);
    wait_delivered(&s, 2);
    let md = s.path("home/joe/Maildir");
    let inbox = pymail::maildir(&md);
    let junk = pymail::maildir(&md.join(".Junk"));
    assert_eq!(inbox.len(), 1);
    assert_eq!(junk.len(), 1);
    assert_eq!(inbox[0].header("Subject"), Some("hello"));
    assert_eq!(junk[0].header("Subject"), Some("buy now"));
    assert_eq!(junk[0].body(), b"spam body\n");
    junk[0].assert_delivery_headers(FROM, "joe@local.test");
}

/// mbox in `--mailbox-dir`: `From ` separators with the envelope sender
/// (MAILER-DAEMON for `<>`), `>From ` quoting, messages one after the
/// other, the mailbox private to its user.
#[test]
fn mbox_in_mailbox_dir() {
    use std::os::unix::fs::PermissionsExt;
    let s = start(
        r#"listen on 127.0.0.1 port {PORT}
action "mb" mbox userbase <users>
match from any for domain "local.test" action "mb"
"#,
    );
    let body = message::tricky_body();
    let m1 = message::message(FROM, "joe@local.test", "first", &body);
    let m2 = message::message("", "joe@local.test", "second", b"bounce text\n");
    message::send_one(s.port, FROM, &["joe@local.test"], &m1);
    wait_delivered(&s, 1);
    message::send_one(s.port, "", &["joe@local.test"], &m2);
    wait_delivered(&s, 2);
    let path = s.path("mail/joe");
    let mails = pymail::mbox(&path);
    assert_eq!(mails.len(), 2, "two messages, one copy each");
    assert!(
        mails[0].from_line.starts_with(FROM),
        "{:?}",
        mails[0].from_line
    );
    assert_eq!(mails[0].body(), &message::mbox_quoted(&body)[..]);
    mails[0].assert_delivery_headers(FROM, "joe@local.test");
    assert!(
        mails[1].from_line.starts_with("MAILER-DAEMON"),
        "{:?}",
        mails[1].from_line
    );
    assert_eq!(mails[1].header("Subject"), Some("second"));
    assert_eq!(mails[1].body(), b"bounce text\n");
    mails[1].assert_delivery_headers("", "joe@local.test");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "mailbox mode {mode:o}");
    // The file is exactly the two framed messages: nothing half-written,
    // and each message ends with its blank line.
    let text = std::fs::read(&path).unwrap();
    assert!(text.ends_with(b"\n\n"));
    assert_eq!(
        text.split(|b| *b == b'\n')
            .filter(|l| l.starts_with(b"From "))
            .count(),
        2
    );
}

/// `mda "cmd"`: format specifiers expanded in the command, the message on
/// standard input (delivery headers first, no `From ` line), and exactly
/// OpenSMTPD's environment variables.
#[test]
fn mda_command_environment() {
    let s = start(
        r#"listen on 127.0.0.1 port {PORT}
action "prog" mda "cat > {DIR}/out/%{dest.user:lowercase}.msg; env > {DIR}/out/%{dest.user:lowercase}.env" userbase <users>
match from any for domain "local.test" action "prog"
"#,
    );
    let body = message::tricky_body();
    let msg = message::message(FROM, "joe@local.test", "mda", &body);
    message::send_one(s.port, FROM, &["Joe+Box@local.test"], &msg);
    wait_delivered(&s, 1);
    let got = std::fs::read(s.path("out/joe+box.msg")).unwrap();
    let prefix = format!("Return-Path: <{FROM}>\nDelivered-To: Joe+Box@local.test\nReceived: ");
    assert!(
        got.starts_with(prefix.as_bytes()),
        "{}",
        String::from_utf8_lossy(&got)
    );
    assert!(
        got.ends_with(&msg),
        "the message follows the headers as sent"
    );

    let env = std::fs::read_to_string(s.path("out/joe+box.env")).unwrap();
    let vars: std::collections::HashMap<&str, &str> =
        env.lines().filter_map(|l| l.split_once('=')).collect();
    let home = s.path("home/joe");
    let expect = [
        ("DOMAIN", "local.test"),
        ("EXTENSION", "Box"),
        ("HOME", home.to_str().unwrap()),
        ("LOCAL", "Joe+Box"),
        ("LOGNAME", "joe"),
        ("ORIGINAL_RECIPIENT", "Joe+Box@local.test"),
        ("RECIPIENT", "Joe+Box@local.test"),
        ("SENDER", FROM),
        ("SHELL", "/bin/sh"),
        ("USER", "joe"),
    ];
    for (k, v) in expect {
        assert_eq!(vars.get(k).copied(), Some(v), "{k} in\n{env}");
    }
    assert!(vars.get("PATH").is_some_and(|p| p.contains("/usr/bin")));
    // Nothing of the server's own environment leaks through (sh itself
    // adds PWD, SHLVL and `_`).
    let extra: Vec<&&str> = vars
        .keys()
        .filter(|k| !expect.iter().any(|(e, _)| e == *k))
        .filter(|k| !["PATH", "PWD", "SHLVL", "_", "OLDPWD"].contains(k))
        .collect();
    assert!(extra.is_empty(), "unexpected variables {extra:?}");
}

/// `mda wrapper`: the wrapper's command runs with `%{mda}` replaced by the
/// action's command.
#[test]
fn mda_wrapper() {
    let s = start(
        r#"mda wrapper "logged" "{DIR}/wrap.sh %{mda}"
listen on 127.0.0.1 port {PORT}
action "prog" mda "/usr/bin/tee {DIR}/out/%{dest.user}.msg" wrapper "logged" userbase <users>
match from any for domain "local.test" action "prog"
"#,
    );
    support::local::script(
        &s.path("wrap.sh"),
        "echo \"wrapped: $*\" >> \"$HOME/../../out/wrapper.log\"\nexec \"$@\" > /dev/null\n",
    );
    let body = message::tricky_body();
    let msg = message::message(FROM, "ann@local.test", "wrapped", &body);
    message::send_one(s.port, FROM, &["ann@local.test"], &msg);
    wait_delivered(&s, 1);
    let log = std::fs::read_to_string(s.path("out/wrapper.log")).unwrap();
    let expected = format!(
        "wrapped: /usr/bin/tee {}\n",
        s.path("out/ann.msg").display()
    );
    assert_eq!(log, expected);
    let got = std::fs::read(s.path("out/ann.msg")).unwrap();
    assert!(got.ends_with(&msg));
}

/// Users who share a uid (virtual users of one mail account, or every
/// user of an unprivileged server) share delivery workers; each program
/// still runs in its own user's home, with its own HOME and USER.
#[test]
fn mda_runs_in_each_users_home() {
    let s = start(
        r#"listen on 127.0.0.1 port {PORT}
action "prog" mda "pwd > {DIR}/out/%{user.username}.pwd; echo $HOME $USER >> {DIR}/out/%{user.username}.pwd; cat > /dev/null" userbase <users>
match from any for domain "local.test" action "prog"
"#,
    );
    let msg = message::message(FROM, "joe@local.test", "homes", b"homes\n");
    for _ in 0..2 {
        message::send_one(
            s.port,
            FROM,
            &["joe@local.test", "ann@local.test", "bob@local.test"],
            &msg,
        );
    }
    wait_delivered(&s, 6);
    for u in ["joe", "ann", "bob"] {
        let home = s.path(&format!("home/{u}"));
        let got = std::fs::read_to_string(s.path(&format!("out/{u}.pwd"))).unwrap();
        assert_eq!(
            got,
            format!("{h}\n{h} {u}\n", h = home.display()),
            "{u}: the last delivery's directory and environment"
        );
    }
}
