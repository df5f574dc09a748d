//! OpenSMTPD's offline queue: `sendmail` with the daemon down drops the
//! message into SPOOL/offline/ and succeeds; the daemon, at start,
//! enqueues every file there as the user who owns it and removes it.

mod support;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use support::local::{start, users_table, wait_count};
use support::smtpctl::face;
use support::{eventually, mailbox, nodns, read_dir_names, sysusers, Options, Server};

const LOCAL: &str = r#"listen on 127.0.0.1 port {PORT}
action "local" maildir "{DIR}/mail/%{user.username}" userbase <users>
match from any for domain "local.test" action "local"
"#;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// sendmail with `input`, pointed at the server of `dir`.
fn sendmail(program: &Path, args: &[&str], dir: &Path, input: &[u8]) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .env("SMTPD_SOCKET", dir.join("smtpd.sock"))
        .env("SMTPD_SPOOL", dir.join("spool"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting sendmail");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn offline_files(spool: &Path) -> Vec<String> {
    read_dir_names(&spool.join("offline"))
}

#[test]
fn sendmail_with_the_daemon_down_queues_offline_and_the_daemon_sends_it_at_start() {
    // A server ran here once (it made the spool), and is gone.
    let s = start(LOCAL);
    let offline = s.path("spool/offline");
    let mode = std::fs::metadata(&offline).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o700, "development mode: ours alone");
    let dir = s.stop_keep_dir();

    let program = face(dir.path(), "sendmail");
    let out = sendmail(
        &program,
        &["-f", "alice@remote.test", "joe@local.test"],
        dir.path(),
        b"Subject: written while down\n\nkept for later\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("queued offline"),
        "{}",
        text(&out.stderr)
    );
    let files = offline_files(&dir.path().join("spool"));
    assert_eq!(files.len(), 1, "{files:?}");
    let dropped: PathBuf = offline.join(&files[0]);
    let content = text(&std::fs::read(&dropped).unwrap());
    assert!(
        content.starts_with("-f|alice@remote.test|joe@local.test\nSubject: written while down\n"),
        "{content}"
    );

    // The daemon starts: the message is enqueued, delivered, the file gone.
    let s = Server::start_in(
        dir,
        &format!("{}{LOCAL}", users_table()),
        Options {
            args: nodns::args(),
            ..Options::default()
        },
    );
    wait_count(&s, "delivery: Ok", 1, Duration::from_secs(20));
    let msgs = mailbox::maildir(&s.path("mail/joe"));
    assert_eq!(msgs.len(), 1);
    let m = text(&msgs[0]);
    assert!(m.contains("Subject: written while down\n"), "{m}");
    assert!(m.contains("kept for later\n"), "{m}");
    // The sender is the file's owner (us), not the `-f` the file carries:
    // a replay believes only the owner.
    let me = nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .unwrap()
        .name;
    // The delivery line may reach the log after the file is in the Maildir.
    s.log.expect(&format!("from=<{me}@"));
    let log = s.log.text();
    assert!(!log.contains("from=<alice@remote.test>"), "{log}");
    assert!(
        eventually(Duration::from_secs(10), || offline_files(&s.path("spool"))
            .is_empty()),
        "offline/ is emptied: {:?}",
        offline_files(&s.path("spool"))
    );
    s.log.expect("offline: 1 of 1 message(s) enqueued");
}

/// As root: the file's owner is who sends, whatever the file claims; a
/// file that is not a plain file of one name is left alone.
#[test]
fn an_offline_message_is_enqueued_as_the_user_who_owns_it() {
    let Some((u1, u2, _)) =
        sysusers::setup("an_offline_message_is_enqueued_as_the_user_who_owns_it")
    else {
        return;
    };
    let conf = "listen on 127.0.0.1 port {PORT}\n\
                action \"md\" maildir userbase <realusers>\n\
                match from any for domain \"local.test\" action \"md\"\n";
    let rcpt = format!("{}@local.test", u2.name);
    let s = sysusers::start_args(conf, &[&u1, &u2], |dir| {
        let offline = dir.join("spool/offline");
        std::fs::create_dir_all(&offline).unwrap();
        // What smtpdtest1 dropped, claiming to be root.
        let forged = offline.join("1.forged");
        std::fs::write(
            &forged,
            format!("-f|root@evil.test|{rcpt}\nSubject: who am I\n\nfrom a user\n"),
        )
        .unwrap();
        sysusers::chown(&forged, u1.uid, u1.gid);
        sysusers::set_mode(&forged, 0o600);
        // A symbolic link to it: never followed.
        std::os::unix::fs::symlink(&forged, offline.join("2.link")).unwrap();
        // A second name of smtpdtest2's file: not sent as smtpdtest2.
        let theirs = dir.join("out/theirs");
        std::fs::write(&theirs, format!("{rcpt}\nSubject: linked\n\nnot yours\n")).unwrap();
        sysusers::chown(&theirs, u2.uid, u2.gid);
        std::fs::hard_link(&theirs, offline.join("3.hardlink")).unwrap();
        // A FIFO: never opened (it would block).
        // The replay runs smtpctl as the files' owners: a copy they can
        // reach wherever the build directory is.
        let bin = dir.join("bin");
        std::fs::create_dir(&bin).unwrap();
        sysusers::set_mode(&bin, 0o755);
        let smtpctl = bin.join("smtpctl");
        std::fs::copy(support::smtpctl::binary(), &smtpctl).unwrap();
        sysusers::set_mode(&smtpctl, 0o755);
        nix::unistd::mkfifo(
            &offline.join("4.fifo"),
            nix::sys::stat::Mode::from_bits_truncate(0o666),
        )
        .unwrap();
        vec!["--smtpctl".into(), smtpctl.display().to_string()]
    });
    let offline = s.path("spool/offline");
    let md = std::fs::metadata(&offline).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(md.mode() & 0o7777, 0o1777, "any user may drop a file");
    assert_eq!(md.uid(), 0);

    wait_count(&s, "delivery: Ok", 1, Duration::from_secs(20));
    let maildir = s.path(&format!("home/{}/Maildir", u2.name));
    let msgs = mailbox::maildir(&maildir);
    assert_eq!(msgs.len(), 1);
    let m = text(&msgs[0]);
    assert!(m.contains("Subject: who am I\n"), "{m}");
    s.log.expect(&format!("from=<{}@", u1.name));
    let log = s.log.text();
    assert!(!log.contains("root@evil.test"), "{log}");
    assert!(m.contains(&format!("From: {}@", u1.name)), "{m}");
    let left = || {
        let mut l = offline_files(&s.path("spool"));
        l.sort();
        l
    };
    assert!(
        eventually(Duration::from_secs(10), || left()
            == ["2.link", "3.hardlink", "4.fifo"]),
        "{:?}",
        left()
    );
    assert!(
        eventually(Duration::from_secs(10), || s
            .log
            .text()
            .contains("offline: 1 of 4 message(s) enqueued")),
        "{}",
        s.log.text()
    );
    let log = s.log.text();
    for (name, why) in [
        ("2.link", "not a regular file"),
        ("3.hardlink", "has 2 links"),
        ("4.fifo", "not a regular file"),
    ] {
        assert!(
            log.contains(&format!("{name}: not enqueued: {why}")),
            "{log}"
        );
    }
    assert_eq!(mailbox::maildir(&maildir).len(), 1, "only the owner's own");
}
