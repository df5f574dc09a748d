//! The transactional promise over real crashes: kill the queue process, or
//! the whole tree, at each step of a transaction; after a restart on the
//! same spool every message that got 250 is queued (or delivered) and
//! nothing else is, and `incoming/` is purged. Also the embedded default
//! configuration (no `-f`), run as a user would run it.

mod support;

use nix::sys::signal::Signal;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;
use support::client::Client;
use support::{conf, mailbox, spool, Options, Server};

fn config() -> String {
    conf::basic("")
}

/// Delivery paused: what the queue holds is what we look at.
fn paused() -> Options {
    let mut args = support::dns::no_names();
    args.extend(["-P".into(), "mda".into()]);
    Options {
        args,
        ..Default::default()
    }
}

/// The msgids in the queue, each checked to be whole: a message file and
/// at least one envelope that names the message.
fn queued(spool_dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for dir in spool::queued_messages(spool_dir) {
        let msgid = dir.file_name().unwrap().to_string_lossy().into_owned();
        assert!(dir.join("message").is_file(), "{msgid}: no message file");
        let envs: Vec<String> = support::read_dir_names(&dir)
            .into_iter()
            .filter(|n| n != "message")
            .collect();
        assert!(!envs.is_empty(), "{msgid}: no envelope");
        for e in envs {
            assert!(e.starts_with(&msgid), "{msgid}: stray file {e}");
            let f = spool::envelope_fields(&dir.join(&e));
            assert_eq!(f.get("version").map(String::as_str), Some("3"), "{e}");
            assert_eq!(f.get("rcpt").map(String::as_str), Some("alice@local.test"));
        }
        out.insert(msgid);
    }
    out
}

fn send_one(c: &mut Client, n: usize) -> String {
    let r = c.send_mail(
        "s@example.com",
        &["alice@local.test"],
        &format!("Subject: message {n}\n\nbody {n}"),
    );
    assert_eq!(r.code, 250, "{r:?}");
    r.text().split(' ').nth(1).unwrap().to_string()
}

/// Where in the transaction the crash comes.
#[derive(Clone, Copy, Debug)]
enum Step {
    AfterMail,
    AfterRcpt,
    DuringData,
    AfterFinalDot,
}

/// Bring the client to `step` of a transaction.
fn reach(c: &mut Client, step: Step) {
    assert_eq!(c.cmd("MAIL FROM:<s@example.com>").code, 250);
    if matches!(step, Step::AfterMail) {
        return;
    }
    assert_eq!(c.cmd("RCPT TO:<alice@local.test>").code, 250);
    if matches!(step, Step::AfterRcpt) {
        return;
    }
    assert_eq!(c.cmd("DATA").code, 354);
    c.send_raw(b"Subject: in flight\r\n\r\nhalf of it");
    if matches!(step, Step::DuringData) {
        return;
    }
    c.send_raw(b"\r\n.\r\n");
}

fn crash_at_each_step(kill_queue_only: bool) {
    let mut server = Server::start_opts(&config(), paused());
    let mut acked: BTreeSet<String> = BTreeSet::new();
    let mut n = 0;
    for step in [
        Step::AfterMail,
        Step::AfterRcpt,
        Step::DuringData,
        Step::AfterFinalDot,
    ] {
        let mut c = server.smtp();
        c.hello();
        n += 1;
        acked.insert(send_one(&mut c, n));
        reach(&mut c, step);
        let sp = server.path("spool");
        if !matches!(step, Step::AfterFinalDot) {
            // The open transaction's message is in incoming/.
            assert!(!spool::incoming_all(&sp).is_empty(), "{step:?}");
        }
        if kill_queue_only {
            let tree = support::procs::descendants(server.pid());
            let queue = server.roles()["queue"];
            support::unsafe_free_kill(queue as i32, Signal::SIGKILL);
            // A child's death stops the whole server, children included.
            let st = server.wait_exit(Duration::from_secs(20));
            assert!(st.is_some_and(|s| !s.success()), "{step:?}: {st:?}");
            let gone = support::eventually(Duration::from_secs(10), || {
                !support::procs::any_alive(&tree)
            });
            if !gone {
                for p in tree.iter().filter(|p| support::procs::alive(**p)) {
                    support::unsafe_free_kill(*p as i32, Signal::SIGKILL);
                }
                panic!("{step:?}: children outlived the parent");
            }
        } else {
            server.crash();
        }
        // The client hears no 250 for the transaction in flight, unless
        // the final dot won the race against the kill: then that message
        // must survive like any other.
        c.set_timeout(Duration::from_secs(10));
        if let Some(r) = c.try_reply().filter(|r| r.code == 250) {
            assert!(matches!(step, Step::AfterFinalDot), "{step:?}: {r:?}");
            acked.insert(r.text().split(' ').nth(1).unwrap().to_string());
        }
        let dir = server.stop_keep_dir();
        server = Server::start_in(dir, &config(), paused());
        let sp = server.path("spool");
        assert!(
            spool::incoming(&sp).is_empty(),
            "{step:?}: incoming/ not purged"
        );
        let now = queued(&sp);
        let extra: Vec<&String> = now.difference(&acked).collect();
        assert!(
            acked.is_subset(&now),
            "{step:?}: lost {:?}",
            acked.difference(&now)
        );
        match step {
            // Committed before the 250 could be read: the one duplicate
            // the promise allows. It is whole (checked by `queued`).
            Step::AfterFinalDot => assert!(extra.len() <= 1, "{step:?}: {extra:?}"),
            _ => assert!(extra.is_empty(), "{step:?}: {extra:?}"),
        }
        acked = now;
    }
    // Delivery resumes on a last restart: each message exactly once.
    let dir = server.stop_keep_dir();
    let server = Server::start_in(
        dir,
        &config(),
        Options {
            args: support::dns::no_names(),
            ..Default::default()
        },
    );
    let maildir = server.path("mail/alice");
    assert!(support::eventually(Duration::from_secs(15), || {
        mailbox::maildir_count(&maildir) >= acked.len()
            && spool::queued_messages(&server.path("spool")).is_empty()
    }));
    let msgs = mailbox::maildir(&maildir);
    assert_eq!(msgs.len(), acked.len());
    for i in 1..=n {
        let subject = format!("Subject: message {i}\n");
        let count = msgs
            .iter()
            .filter(|m| String::from_utf8_lossy(m).contains(&subject))
            .count();
        assert_eq!(count, 1, "message {i}");
    }
}

#[test]
fn killing_the_queue_at_each_step_loses_nothing_and_adds_nothing() {
    crash_at_each_step(true);
}

#[test]
fn killing_the_whole_tree_at_each_step_loses_nothing_and_adds_nothing() {
    crash_at_each_step(false);
}

/// The embedded default listens on the fixed port 2525: tests that use it
/// take this lock, and skip when something else holds the port.
fn port_2525_lock() -> Option<nix::fcntl::Flock<std::fs::File>> {
    let path = std::env::temp_dir().join("smtpd-test-port-2525.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .ok()?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).ok()
}

#[test]
fn the_embedded_default_delivers_locally_and_relays_nothing() {
    if Path::new(smtpd_default_config()).exists() {
        eprintln!(
            "note: {} exists; the embedded default is not used here",
            smtpd_default_config()
        );
        return;
    }
    let Some(_lock) = port_2525_lock() else {
        eprintln!("note: cannot take the port 2525 lock; skipped");
        return;
    };
    if std::net::TcpListener::bind("127.0.0.1:2525").is_err() {
        eprintln!("note: 127.0.0.1:2525 is busy; the embedded default test is skipped");
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("smtpd-test-")
        .tempdir()
        .unwrap();
    let server = support::custom::start_custom(
        dir,
        2525,
        None,
        support::dns::no_names()
            .into_iter()
            .map(Into::into)
            .collect(),
        true,
    );
    assert!(server
        .log
        .text()
        .contains("running the embedded default configuration"));
    let mut c = server.smtp();
    c.hello();
    let r = c.send_mail(
        "me@example.com",
        &["user@localhost"],
        "Subject: hi\n\nembedded",
    );
    assert_eq!(r.code, 250, "{r:?}");
    let r = c.send_mail(
        "me@example.com",
        &["Other.User@[127.0.0.1]"],
        "Subject: two\n\nx",
    );
    assert_eq!(r.code, 250, "{r:?}");
    // No relaying, not even from this host; and not from outside.
    assert_eq!(c.cmd("MAIL FROM:<me@example.com>").code, 250);
    let r = c.cmd("RCPT TO:<someone@example.org>");
    assert_eq!(r.code, 550, "{r:?}");
    assert!(r.text().starts_with("5.7.1"), "{r:?}");
    let mut out = support::source::connect_from("127.0.0.2", 2525);
    out.hello();
    assert_eq!(out.cmd("MAIL FROM:<spammer@example.net>").code, 250);
    for rc in ["victim@example.org", "user@localhost"] {
        let r = out.cmd(&format!("RCPT TO:<{rc}>"));
        assert_eq!(r.code, 550, "{rc}: {r:?}");
    }

    let maildir = server.path("smtpd-data/mail/user");
    assert!(support::eventually(Duration::from_secs(10), || {
        mailbox::maildir_count(&maildir) == 1
    }));
    let new = support::read_dir_names(&maildir.join("new"));
    assert_eq!(new.len(), 1, "{new:?}");
    let m = mailbox::maildir(&maildir);
    assert!(String::from_utf8_lossy(&m[0]).ends_with("Subject: hi\n\nembedded\n"));
    let other = server.path("smtpd-data/mail/other.user");
    assert!(support::eventually(Duration::from_secs(10), || {
        mailbox::maildir_count(&other) == 1
    }));
}

fn smtpd_default_config() -> &'static str {
    "/etc/mail/smtpd.conf"
}
