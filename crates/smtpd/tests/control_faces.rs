//! The faces of smtpctl that Unix programs expect, as links named after
//! them: `sendmail` (a message from standard input, enqueued through a
//! local SMTP session the control process hands over, then delivered),
//! `mailq`, `newaliases` and `makemap`; and `show queue` with the daemon
//! down, which reads the spool without changing it.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use support::local::{start, start_with, wait_count};
use support::message::{message, send_one};
use support::smtpctl::{self as ctl, face, queue_lines};
use support::{eventually, mailbox, sysusers, Options, Server};

const FROM: &str = "alice@remote.test";

const LOCAL: &str = r#"listen on 127.0.0.1 port {PORT}
action "local" maildir "{DIR}/mail/%{user.username}" userbase <users>
match from any for domain "local.test" action "local"
"#;

/// Run a face with `input` on its standard input, pointed at `socket`.
fn run_face(program: &Path, args: &[&str], socket: &Path, input: &[u8]) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .env("SMTPD_SOCKET", socket)
        // The spool beside the socket, never the system's.
        .env("SMTPD_SPOOL", socket.with_file_name("spool"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the face");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn delivered(s: &Server, user: &str) -> String {
    let msgs = mailbox::maildir(&s.path(&format!("mail/{user}")));
    assert_eq!(msgs.len(), 1, "{user} got {} message(s)", msgs.len());
    text(&msgs[0])
}

#[test]
fn sendmail_t_takes_recipients_from_the_header() {
    let s = start(LOCAL);
    let sendmail = face(s.dir.path(), "sendmail");
    let input = b"To: joe@local.test\n\
                  Cc: Ann <ann@local.test>\n\
                  Bcc: bob@local.test\n\
                  Subject: via sendmail\n\
                  \n\
                  first line\n\
                  .\n\
                  not part of it\n";
    let out = run_face(&sendmail, &["-t"], &s.path("smtpd.sock"), input);
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_count(&s, "delivery: Ok", 3, Duration::from_secs(15));
    for user in ["joe", "ann", "bob"] {
        let m = delivered(&s, user);
        assert!(m.contains("Subject: via sendmail\n"), "{m}");
        assert!(m.contains("first line\n"), "{m}");
        assert!(
            !m.contains("not part of it"),
            "a lone dot ends the message: {m}"
        );
        assert!(!m.contains("Bcc"), "Bcc is removed: {m}");
        if user != "bob" {
            assert!(!m.contains("bob@"), "nobody learns of bob: {m}");
        }
        for added in ["\nFrom: ", "\nDate: ", "\nMessage-ID: <"] {
            assert!(m.contains(added), "{added:?} added: {m}");
        }
    }
    // A local session: `from local` rules apply, logged as such.
    assert!(s.log.text().contains("smtp connected address=local"));
    // (Counter updates reach control within 20 ms.)
    assert!(support::eventually(Duration::from_secs(5), || {
        ctl::ok(&s, &["show", "stats"]).contains("smtp.session.local=1\n")
    }));
}

#[test]
fn sendmail_with_a_sender_a_name_and_dots_kept() {
    let s = start(LOCAL);
    let sendmail = face(s.dir.path(), "send-mail");
    let input = b"no header in this one\n.\nstill the body\n";
    let out = run_face(
        &sendmail,
        &["-oi", "-f", FROM, "-F", "Alice Example", "joe@local.test"],
        &s.path("smtpd.sock"),
        input,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_count(&s, "delivery: Ok", 1, Duration::from_secs(15));
    let m = delivered(&s, "joe");
    assert!(
        m.contains("From: Alice Example <alice@remote.test>\n"),
        "{m}"
    );
    assert!(
        m.contains("\n\nno header in this one\n.\nstill the body\n"),
        "{m}"
    );
    assert!(s.log.text().contains("from=<alice@remote.test>"));

    // A refused recipient: nothing is sent, and the status says so.
    let out = run_face(
        &sendmail,
        &["nobody@elsewhere.test"],
        &s.path("smtpd.sock"),
        b"x\n",
    );
    assert_eq!(out.status.code(), Some(69), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("RCPT"), "{}", text(&out.stderr));
}

#[test]
fn sendmail_without_a_server_or_offline_directory_asks_to_try_again_later() {
    // No server ever ran here: no spool, so no offline directory either.
    let dir = tempfile::tempdir().unwrap();
    let sendmail = face(dir.path(), "sendmail");
    let out = run_face(
        &sendmail,
        &["joe@local.test"],
        &dir.path().join("smtpd.sock"),
        b"Subject: x\n\nbody\n",
    );
    assert_eq!(out.status.code(), Some(75), "EX_TEMPFAIL");
    let err = text(&out.stderr);
    assert!(
        err.contains("doesn't seem to be running") && err.contains("offline"),
        "{err}"
    );
    let out = run_face(&sendmail, &["-t"], &dir.path().join("smtpd.sock"), b"\n");
    assert_eq!(
        out.status.code(),
        Some(64),
        "no recipients: {}",
        text(&out.stderr)
    );
}

/// The flags OpenSMTPD's enqueuer accepts: the DSN ones reach the
/// envelope, the others are accepted and change nothing.
#[test]
fn sendmail_accepts_the_flags_of_programs_written_for_sendmail() {
    let opts = Options {
        args: vec!["-P".into(), "mda".into()],
        ..Options::default()
    };
    let s = start_with(LOCAL, opts, |_| {});
    let sendmail = face(s.dir.path(), "sendmail");
    let out = run_face(
        &sendmail,
        &[
            "-N",
            "success,failure",
            "-R",
            "hdrs",
            "-V",
            "envid42",
            "-B",
            "8BITMIME",
            "-bm",
            "-i",
            "-oi",
            "-odb",
            "-odi",
            "-oem",
            "-v",
            "joe@local.test",
        ],
        &s.path("smtpd.sock"),
        b"Subject: flags\n\nall accepted\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // -v shows the conversation, with the DSN parameters.
    let err = text(&out.stderr);
    assert!(err.contains(">>> MAIL FROM:"), "{err}");
    let mut lines = Vec::new();
    assert!(eventually(Duration::from_secs(10), || {
        lines = queue_lines(&ctl::ok(&s, &["show", "queue"]));
        lines.len() == 1
    }));
    let env = ctl::ok(&s, &["show", "envelope", &lines[0][0]]);
    assert!(env.contains("dsn-ret: HDRS\n"), "{env}");
    assert!(env.contains("dsn-envid: envid42\n"), "{env}");
    assert!(env.contains("dsn-notify: "), "{env}");
    assert!(!env.contains("dsn-notify: \n"), "{env}");
    assert_eq!(ctl::ok(&s, &["resume", "mda"]), "command succeeded\n");
    wait_count(&s, "delivery: Ok", 1, Duration::from_secs(15));
    assert!(delivered(&s, "joe").contains("all accepted\n"));

    // -bm alone (the default mode) and the plain -i.
    let out = run_face(
        &sendmail,
        &["-bm", "-i", "ann@local.test"],
        &s.path("smtpd.sock"),
        b"Subject: bm\n\n.\nafter the dot\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_count(&s, "delivery: Ok", 2, Duration::from_secs(15));
    assert!(delivered(&s, "ann").contains("after the dot\n"));
}

/// Every path under `root` with its size and modification time.
fn snapshot(root: &Path) -> Vec<(String, u64, std::time::SystemTime)> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let md = e.metadata().unwrap();
            if md.is_dir() {
                todo.push(e.path());
            }
            out.push((
                e.path().display().to_string(),
                md.len(),
                md.modified().unwrap(),
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn mailq_and_show_queue_with_the_daemon_down() {
    let opts = Options {
        args: vec!["-P".into(), "mda".into()],
        ..Options::default()
    };
    let s = start_with(LOCAL, opts, |_| {});
    let msg = message(FROM, "joe@local.test", "offline", b"kept\n");
    send_one(s.port, FROM, &["joe@local.test", "ann@local.test"], &msg);
    let mut online = Vec::new();
    assert!(eventually(Duration::from_secs(10), || {
        online = queue_lines(&ctl::ok(&s, &["show", "queue"]));
        online.len() == 2
    }));

    // mailq: the same listing.
    let mailq = face(s.dir.path(), "mailq");
    let out = run_face(&mailq, &[], &s.path("smtpd.sock"), b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = queue_lines(&text(&out.stdout));
    assert_eq!(listed.len(), 2);
    for (a, b) in listed.iter().zip(&online) {
        assert_eq!(a[..12], b[..12]);
    }

    // The daemon goes away (killed: its socket file stays, nobody
    // listens); the spool is read directly, and left as it was.
    let dir = s.stop_keep_dir();
    let (socket, spool) = (dir.path().join("smtpd.sock"), dir.path().join("spool"));
    let before = snapshot(&spool);
    let out = ctl::command_at(&socket, &spool, &["show", "queue"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let offline = queue_lines(&text(&out.stdout));
    assert_eq!(offline.len(), 2);
    for (off, on) in offline.iter().zip(&online) {
        assert_eq!(off[..3], on[..3], "same envelope");
        assert_eq!(on[3], "hold", "mda is paused");
        assert_eq!(off[3], "", "no scheduler flags offline");
        assert_eq!(off[4..11], on[4..11], "same facts");
        assert_eq!(off[11..], ["offline", "", ""]);
    }
    let evpid = &offline[0][0];
    let env = ctl::command_at(&socket, &spool, &["show", "envelope", evpid])
        .output()
        .unwrap();
    assert!(
        text(&env.stdout).contains("rcpt: "),
        "{}",
        text(&env.stderr)
    );
    let m = ctl::command_at(&socket, &spool, &["show", "message", evpid])
        .output()
        .unwrap();
    assert!(
        text(&m.stdout).contains("Subject: offline"),
        "{}",
        text(&m.stderr)
    );
    assert_eq!(snapshot(&spool), before, "the spool is untouched");

    // Commands that need the daemon say it is not running.
    let st = ctl::command_at(&socket, &spool, &["show", "status"])
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(1));
}

#[test]
fn newaliases_rebuilds_db_alias_tables_and_makemap_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("aliases"), "postmaster: joe\nabuse: joe, ann\n").unwrap();
    let conf = d.join("smtpd.conf");
    std::fs::write(
        &conf,
        format!(
            "table aliases db:{dir}/aliases.db\n\
             table others file:{dir}/others\n\
             listen on 127.0.0.1 port 2525\n\
             action \"local\" maildir alias <aliases>\n\
             action \"more\" maildir alias <others>\n\
             match from any for domain \"local.test\" action \"local\"\n\
             match from any for domain \"other.test\" action \"more\"\n",
            dir = d.display()
        ),
    )
    .unwrap();
    let newaliases = face(d, "newaliases");
    // No server here (never the system's).
    let out = Command::new(&newaliases)
        .arg("-f")
        .arg(&conf)
        .env("SMTPD_SOCKET", d.join("none.sock"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("aliases.db: 2 entries"), "{said}");
    assert!(said.contains("table others is not a db table"), "{said}");

    let makemap = face(d, "makemap");
    let out = Command::new(&makemap)
        .arg("-U")
        .arg(d.join("aliases.db"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dumped = text(&out.stdout);
    assert!(
        dumped.contains("postmaster") && dumped.contains("abuse"),
        "{dumped}"
    );

    // makemap builds too (here a plain map).
    std::fs::write(d.join("map"), "k v\n").unwrap();
    let out = Command::new(&makemap).arg(d.join("map")).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(d.join("map.db").exists());

    // sendmail -bi is newaliases (of the default configuration, which a
    // test machine may lack: only the dispatch is checked here).
    let sendmail = face(d, "sendmail");
    let out = Command::new(&sendmail).arg("-bi").output().unwrap();
    assert!(
        text(&out.stderr).starts_with("newaliases:") || out.status.success(),
        "{}",
        text(&out.stderr)
    );
}

/// Privilege-separated (as root): control runs as `_smtpd` in the empty
/// chroot, the queue as `_smtpq` in the spool; root's smtpctl still gets
/// the queue listing, the message (a descriptor from the queue, passed on
/// by control) and an enqueue session.
#[test]
fn a_privileged_server_answers_root() {
    let Some((u1, _, _)) = sysusers::setup("a_privileged_server_answers_root") else {
        return;
    };
    let conf = "listen on 127.0.0.1 port {PORT}\n\
                action \"md\" maildir userbase <realusers>\n\
                match from any for domain \"local.test\" action \"md\"\n";
    let s = sysusers::start(conf, &[&u1], |_| {});
    // Open to every local user, as OpenSMTPD's: requests are checked one
    // by one against the client's credentials.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(s.path("smtpd.sock"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o666, "control socket mode {mode:o}");
    assert_eq!(ctl::ok(&s, &["pause", "mda"]), "command succeeded\n");
    let rcpt = format!("{}@local.test", u1.name);
    let msg = message(FROM, &rcpt, "privileged", b"through the chroots\n");
    send_one(s.port, FROM, &[&rcpt], &msg);
    let mut lines = Vec::new();
    assert!(eventually(Duration::from_secs(10), || {
        lines = queue_lines(&ctl::ok(&s, &["show", "queue"]));
        lines.len() == 1
    }));
    let shown = ctl::ok(&s, &["show", "message", &lines[0][0]]);
    assert!(shown.contains("through the chroots"), "{shown}");
    assert!(ctl::ok(&s, &["show", "envelope", &lines[0][0]]).contains(&format!("rcpt: {rcpt}")));

    let sendmail = face(s.dir.path(), "sendmail");
    let input = format!("To: {rcpt}\nSubject: by sendmail\n\nhi\n");
    let out = run_face(&sendmail, &["-t"], &s.path("smtpd.sock"), input.as_bytes());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(ctl::ok(&s, &["resume", "mda"]), "command succeeded\n");
    wait_count(&s, "delivery: Ok", 2, Duration::from_secs(20));
    let maildir = s.path(&format!("home/{}/Maildir", u1.name));
    assert_eq!(mailbox::maildir_count(&maildir), 2);
}

/// Start a program just copied: while the copy was being written, another
/// test's thread may have forked, and its child holds the file open for
/// writing until it executes its own program — exec fails with ETXTBSY
/// meanwhile. Try again briefly.
fn spawn_fresh_copy(cmd: &mut Command) -> std::process::Child {
    for _ in 0..100 {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(nix::errno::Errno::ETXTBSY as i32) => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other.expect("starting the copy"),
        }
    }
    panic!("the copy stayed busy");
}

/// The socket opened to everybody (as OpenSMTPD's is): a user who is not
/// the administrator may enqueue mail but run no command.
#[test]
fn only_the_administrator_runs_commands_but_anyone_may_enqueue() {
    if !support::is_root() {
        eprintln!("skipped: needs root to run smtpctl as another user");
        return;
    }
    let Some(user) = sysusers::user("smtpdtest1") else {
        eprintln!("skipped: run .ci/setup-machine.sh to create the test users");
        return;
    };
    let s = start(LOCAL);
    // In development mode the socket is the invoking user's alone.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(s.path("smtpd.sock"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "control socket mode {mode:o}");
    // Opened up as a privileged server opens it.
    sysusers::set_mode(s.dir.path(), 0o711);
    sysusers::set_mode(&s.path("smtpd.sock"), 0o666);
    // A copy the user can run wherever the build directory is.
    let bin = s.path("bin");
    std::fs::create_dir(&bin).unwrap();
    let smtpctl = bin.join("smtpctl");
    std::fs::copy(ctl::binary(), &smtpctl).unwrap();
    sysusers::set_mode(&smtpctl, 0o755);
    let as_user = |cmd: &mut Command| {
        use std::os::unix::process::CommandExt;
        cmd.uid(user.uid).gid(user.gid);
    };

    let mut status = Command::new(&smtpctl);
    status
        .arg("--socket")
        .arg(s.path("smtpd.sock"))
        .args(["show", "status"]);
    as_user(&mut status);
    status.stdout(Stdio::piped()).stderr(Stdio::piped());
    let out = spawn_fresh_copy(&mut status).wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("permission denied"),
        "{}",
        text(&out.stderr)
    );

    let mut sendmail = Command::new(&smtpctl);
    {
        use std::os::unix::process::CommandExt;
        sendmail.arg0("sendmail");
    }
    sendmail
        .arg("joe@local.test")
        .env("SMTPD_SOCKET", s.path("smtpd.sock"))
        .stdin(Stdio::piped())
        .stderr(Stdio::piped());
    as_user(&mut sendmail);
    let mut child = spawn_fresh_copy(&mut sendmail);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Subject: from a user\n\nhello\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_count(&s, "delivery: Ok", 1, Duration::from_secs(15));
    let m = delivered(&s, "joe");
    assert!(m.contains(&format!("From: {}@", user.name)), "{m}");
}
