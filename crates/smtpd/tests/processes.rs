//! The process design, end to end (issue 3), on the real `smtpd` binary:
//! one process per role, each with the privileges ARCHITECTURE.md's table
//! gives it; start-up errors that say what to create; a child that dies
//! stops the server and is the one named; SIGTERM ends idle sessions with
//! 421 and lets a transaction in flight finish — and what got 250 is in
//! the queue after a restart.

mod support;

use nix::sys::signal::Signal;
use std::collections::HashSet;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::{
    accounts, eventually, fake_parent, is_root, mailbox, procs, unsafe_free_kill, Options, Server,
    EMPTY_DIR,
};

/// The eight children of the parent.
const ROLES: [&str; 8] = [
    "control",
    "lka",
    "mda",
    "mfa",
    "mta",
    "queue",
    "scheduler",
    "smtp",
];

/// How long a stopping server may take before the test gives up on it.
const STOP: Duration = Duration::from_secs(15);

/// Options with lka's DNS pointed at a closed loopback port (no outside
/// DNS) and `extra` arguments.
fn opts(privileged: bool, extra: &[&str]) -> Options {
    let mut args = vec!["--resolver".to_string(), "127.0.0.1:1".to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    Options {
        args,
        privileged,
        wait_ready: true,
    }
}

/// Development mode: every recipient at local.test is delivered into
/// `{DIR}/maildir` as the invoking user.
fn dev_config() -> String {
    let me = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .expect("the invoking user has a passwd entry");
    format!(
        "listen on 127.0.0.1 port {{PORT}}\n\
         table vusers {{ \"@\" = \"{name}\" }}\n\
         table vbase {{ \"{name}\" = \"{uid}:{gid}:{{DIR}}/mail\" }}\n\
         action \"local\" maildir \"{{DIR}}/maildir\" virtual <vusers> userbase <vbase>\n\
         match from any for domain \"local.test\" action \"local\"\n",
        name = me.name,
        uid = me.uid,
        gid = me.gid,
    )
}

/// Privileged runs: recipients are system users (run with `-P mda`: these
/// tests look at processes and the queue, not at mailboxes).
const PRIV_CONFIG: &str = "listen on 127.0.0.1 port {PORT}\n\
     action \"local\" maildir \"{DIR}/maildir\"\n\
     match from any for domain \"local.test\" action \"local\"\n";

/// Files below `dir`, recursively.
fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => count_files(&e.path()),
                    _ => 1,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("stat").mode() & 0o7777
}

#[test]
fn every_role_runs_as_its_own_process() {
    let server = Server::start_opts(&dev_config(), opts(false, &[]));
    assert!(
        server.log.text().contains("running unprivileged as"),
        "development mode says so:\n{}",
        server.log.text()
    );
    let parent = server.pid();
    let roles = server.roles();
    let mut names: Vec<&str> = roles.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ROLES, "one child per role");
    let pids: HashSet<u32> = roles.values().copied().collect();
    assert_eq!(pids.len(), ROLES.len(), "each role its own process");
    assert!(!pids.contains(&parent));
    assert_eq!(procs::children(parent).len(), ROLES.len(), "no other child");
    let parent_uids = procs::creds(parent).uids;
    for (role, &pid) in &roles {
        assert_eq!(
            procs::ppid(pid),
            Some(parent),
            "{role} is the parent's child"
        );
        let title = procs::cmdline(pid);
        assert!(
            title.starts_with(&format!("smtpd: {role} -x {role} ")),
            "{role}'s title: {title:?}"
        );
        // Development mode: the invoking user, no chroot, but still no
        // way to gain privileges.
        assert_eq!(procs::creds(pid).uids, parent_uids, "{role}");
        assert_eq!(procs::root_dir(pid), Some(PathBuf::from("/")), "{role}");
        assert!(procs::no_new_privs(pid), "{role} has NoNewPrivs");
    }
}

#[test]
fn privileged_roles_have_their_users_chroots_and_spool() {
    if !is_root() {
        eprintln!("skipped: privilege separation needs root");
        return;
    }
    let (Some((su, sg)), Some((qu, qg)), Some(_)) = (
        accounts::lookup("_smtpd"),
        accounts::lookup("_smtpq"),
        accounts::lookup("smtpdtest1"),
    ) else {
        eprintln!("skipped: users _smtpd, _smtpq, smtpdtest1 missing (.ci/setup-machine.sh)");
        return;
    };
    let server = Server::start_opts(PRIV_CONFIG, opts(true, &["-P", "mda"]));
    assert!(!server.log.text().contains("running unprivileged"));
    let spool = std::fs::canonicalize(server.path("spool")).expect("spool");

    let parent = server.pid();
    assert_eq!(
        procs::creds(parent).uids,
        vec![0; 4],
        "the parent stays root"
    );
    assert_eq!(procs::root_dir(parent), Some(PathBuf::from("/")));
    let roles = server.roles();
    assert_eq!(roles.len(), ROLES.len(), "{roles:?}");
    for (role, &pid) in &roles {
        let (uid, gid, root) = match role.as_str() {
            "queue" => (qu, qg, spool.clone()),
            "lka" => (su, sg, PathBuf::from("/")),
            _ => (su, sg, PathBuf::from(EMPTY_DIR)),
        };
        let c = procs::creds(pid);
        assert_eq!(
            c.uids,
            vec![uid; 4],
            "{role}: real, effective, saved, fs uid"
        );
        assert_eq!(c.gids, vec![gid; 4], "{role}: gids");
        assert!(
            c.groups.iter().all(|&g| g == gid),
            "{role}: supplementary groups dropped, got {:?}",
            c.groups
        );
        assert_eq!(procs::root_dir(pid), Some(root), "{role}: chroot");
        assert!(procs::no_new_privs(pid), "{role}: NoNewPrivs");
    }

    // OpenSMTPD's spool: 0711 root, its subdirectories 0700 the queue user.
    let md = std::fs::metadata(&spool).expect("spool");
    assert_eq!((md.uid(), md.gid(), mode(&spool)), (0, 0, 0o711));
    for sub in ["incoming", "queue", "temporary", "purge", "corrupt"] {
        let p = spool.join(sub);
        let md = std::fs::metadata(&p).expect(sub);
        assert_eq!((md.uid(), md.gid(), mode(&p)), (qu, qg, 0o700), "{sub}");
    }

    // The smtp process cannot open the spool: it is not in its world...
    let smtp = roles["smtp"];
    let seen_by_smtp = PathBuf::from(format!("/proc/{smtp}/root"))
        .join(spool.strip_prefix("/").expect("absolute spool"));
    assert!(!seen_by_smtp.exists(), "{} exists", seen_by_smtp.display());
    // ...and its user may not read it even from outside the chroot. The
    // test directory is opened to traversal so that only the spool's own
    // modes decide; the queue user, as the control, may read it.
    std::fs::set_permissions(server.dir.path(), std::fs::Permissions::from_mode(0o711))
        .expect("chmod test dir");
    let queue_dir = spool.join("queue");
    let q = queue_dir.to_str().expect("utf-8 path");
    let refused = accounts::run_as(su, sg, &["ls", q]);
    assert!(!refused.status.success(), "_smtpd listed the queue");
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("Permission denied"), "{why}");
    let allowed = accounts::run_as(qu, qg, &["ls", q]);
    assert!(allowed.status.success(), "{allowed:?}");

    // The roles still do their work from their jails: a message goes in
    // through smtp and is committed by the chrooted queue.
    let mut c = server.smtp();
    c.hello();
    let r = c.send_mail(
        "sender@example.com",
        &["smtpdtest1@local.test"],
        "Subject: privsep\n\nhello",
    );
    assert_eq!(r.code, 250, "{r:?}");
    assert!(count_files(&queue_dir) > 0, "the message is in the queue");
}

/// Start privileged with `extra` and expect a start-up error containing
/// `needle`.
fn expect_startup_error(extra: &[&str], needle: &str) {
    let mut o = opts(true, extra);
    o.wait_ready = false;
    let mut server = Server::start_opts(PRIV_CONFIG, o);
    let status = server.wait_exit(STOP).expect("smtpd exits");
    assert!(!status.success(), "{status:?}");
    assert!(
        server.log.wait_for(needle, Duration::from_secs(5)),
        "expected {needle:?} in:\n{}",
        server.log.text()
    );
    assert!(!server.log.text().contains("smtpd ready"));
}

#[test]
fn a_missing_user_is_a_startup_error_naming_what_to_create() {
    if !is_root() {
        eprintln!("skipped: users are only switched to as root");
        return;
    }
    expect_startup_error(
        &["--user", "nosuchuser"],
        "user nosuchuser does not exist: create it (useradd",
    );
    expect_startup_error(
        &["--queue-user", "nosuchqueueuser"],
        "user nosuchqueueuser does not exist: create it",
    );
}

#[test]
fn a_missing_empty_dir_is_a_startup_error_naming_what_to_create() {
    if !is_root() {
        eprintln!("skipped: chroots are only used as root");
        return;
    }
    expect_startup_error(
        &["--empty", "/nonexistent-smtpd-empty"],
        "chroot directory /nonexistent-smtpd-empty is missing: create it (mkdir -m 0755)",
    );
}

/// The server stopped because `role` (pid `victim`) was killed, said so
/// once, and no bystander failed; its whole tree is gone.
fn assert_stopped_for(server: &mut Server, tree: &[u32], role: &str, victim: u32) {
    let status = server.wait_exit(STOP).expect("the server stops");
    assert!(!status.success(), "exit status {status:?}");
    assert!(
        eventually(Duration::from_secs(5), || !procs::any_alive(tree)),
        "processes left: {:?}",
        tree.iter()
            .filter(|p| procs::alive(**p))
            .collect::<Vec<_>>()
    );
    let want = format!(
        "child {role} (pid {victim}) was killed by signal 9 (SIGKILL): stopping the server"
    );
    assert!(
        server.log.wait_for(&want, Duration::from_secs(5)),
        "expected {want:?} in:\n{}",
        server.log.text()
    );
    assert_eq!(server.log.count("stopping the server"), 1);
    assert_eq!(server.log.count("fatal:"), 0, "a bystander failed");
}

fn kill_one_child(role: &str) {
    let mut server = Server::start_opts(&dev_config(), opts(false, &[]));
    let tree = procs::descendants(server.pid());
    let victim = server.roles()[role];
    unsafe_free_kill(victim as i32, Signal::SIGKILL);
    assert_stopped_for(&mut server, &tree, role, victim);
}

#[test]
fn killing_the_queue_stops_the_server() {
    kill_one_child("queue");
}

#[test]
fn killing_smtp_stops_the_server() {
    kill_one_child("smtp");
}

#[test]
fn killing_lka_stops_the_server() {
    kill_one_child("lka");
}

/// The queue dies with a request of smtp's unread in its socket: smtp's
/// channel to it then fails with a reset rather than a clean end. smtp
/// must neither die of it (the parent would then see two children end and
/// might blame smtp) nor leave its session waiting: the client hears 451.
#[test]
fn the_child_that_died_is_named_not_a_bystander() {
    let mut server = Server::start_opts(&dev_config(), opts(false, &[]));
    let tree = procs::descendants(server.pid());
    let queue = server.roles()["queue"];
    let mut c = server.smtp();
    c.hello();
    assert_eq!(c.cmd("MAIL FROM:<sender@example.com>").code, 250);
    assert_eq!(c.cmd("RCPT TO:<someone@local.test>").code, 250);
    assert_eq!(c.cmd("DATA").code, 354);
    unsafe_free_kill(queue as i32, Signal::SIGSTOP);
    // The end of data makes smtp ask the stopped queue to commit.
    c.send_raw(b"Subject: t\r\n\r\nbody\r\n.\r\n");
    // Let smtp's Commit reach the stopped queue's socket. (Were it late,
    // the channel would just end cleanly: the assertions hold too.)
    std::thread::sleep(Duration::from_millis(300));
    unsafe_free_kill(queue as i32, Signal::SIGKILL);
    let r = c.reply();
    assert_eq!(r.code, 451, "{r:?}");
    assert_stopped_for(&mut server, &tree, "queue", queue);
}

/// SIGTERM: an idle session hears 421 at once; a session in the middle of
/// DATA may finish it, and its 250 means the message is in the queue (the
/// queue is stopped only after smtp). Run with mda paused, so that the
/// message waits in the spool for the restart to deliver it.
#[test]
fn sigterm_ends_idle_sessions_and_lets_a_transaction_finish() {
    let config = dev_config();
    let mut server = Server::start_opts(&config, opts(false, &["-P", "mda"]));
    let tree = procs::descendants(server.pid());
    let mut idle = server.smtp();
    idle.hello();
    let mut busy = server.smtp();
    busy.hello();
    assert_eq!(busy.cmd("MAIL FROM:<sender@example.com>").code, 250);
    assert_eq!(busy.cmd("RCPT TO:<alice@local.test>").code, 250);
    assert_eq!(busy.cmd("DATA").code, 354);
    busy.send_raw(b"Subject: in flight\r\n\r\nbefore the signal\r\n");

    unsafe_free_kill(server.pid() as i32, Signal::SIGTERM);
    let r = idle.reply();
    assert_eq!(r.code, 421, "{r:?}");
    assert!(idle.try_reply().is_none(), "the idle session is closed");

    // smtp is stopping (it said 421 above); the transaction goes on.
    busy.send_raw(b"after the signal\r\n.\r\n");
    let r = busy.reply();
    assert_eq!(r.code, 250, "the transaction in flight completes: {r:?}");
    assert_eq!(busy.reply().code, 421);

    let status = server.wait_exit(STOP).expect("the server stops");
    assert!(status.success(), "exit status {status:?}");
    assert!(eventually(Duration::from_secs(5), || !procs::any_alive(
        &tree
    )));
    assert!(server.log.text().contains("received SIGTERM"));
    assert!(count_files(&server.path("spool/queue")) > 0, "queued");
    assert_eq!(mailbox::maildir_count(&server.path("maildir")), 0);

    // The 250 stands: after a restart the message is delivered, once.
    let dir = server.stop_keep_dir();
    let server = Server::start_in(dir, &config, opts(false, &[]));
    server.log.expect("delivery: Ok");
    let mail = mailbox::maildir(&server.path("maildir"));
    assert_eq!(mail.len(), 1);
    let text = String::from_utf8_lossy(&mail[0]);
    assert!(
        text.contains("before the signal") && text.contains("after the signal"),
        "{text}"
    );
}

/// A malformed frame ends the channel it came on, and the error names both
/// ends. Injected end to end on the one channel a test can hold without
/// hacks: a child's channel to its parent, with the test as the parent.
/// (Between two running children, and for forbidden messages, the ipc
/// crate's unit tests show the same.)
#[test]
fn a_malformed_frame_is_fatal_and_names_both_roles() {
    let cases: [(&[u8], &str); 3] = [
        (&[0, 0, 0, 2, 99, 0], "IPC version 99"),
        (
            &[0, 0, 0, 5, smtpd_ipc::IPC_VERSION, 0, 0xff, 0xff, 0xff],
            "undecodable payload",
        ),
        (&[0xff, 0xff, 0xff, 0xff], "exceeds the limit"),
    ];
    for (frame, what) in cases {
        let (child, mut chan) = fake_parent::start_child("queue");
        chan.write_all(frame).expect("write to the child");
        let out = child.wait_with_output().expect("wait for the child");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: {:?} {err}", out.status);
        assert!(err.contains("channel queue <-> parent"), "{err}");
        assert!(err.contains(what), "{err}");
    }
}
