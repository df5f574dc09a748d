//! Local delivery when things go wrong: a delivery program's exit status
//! (75 and 71 and death by a signal are retried, other codes fail for good
//! with the program's last error line, reported to the sender); a full
//! disk under mbox and Maildir (temporary, nothing half-written left,
//! delivered once there is room again); and the `mda
//! limit` on concurrent deliveries, in total and per user, watched in
//! /proc while deliveries are slow.
//!
//! Retries follow the local schedule: the first one comes about 10 s after
//! the message was queued, so the two tests that wait for one take that
//! long (the others are quick).

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use support::local::{
    fill, queued_envelopes, script, start, start_with, wait_count, wait_delivered,
};
use support::{eventually, is_root, message, procs, pymail, Options, Server};

const FROM: &str = "alice@remote.test";
/// Long enough for the first retry (10 s after queueing) and its delivery.
const RETRY_WAIT: Duration = Duration::from_secs(30);

fn lines_with<'a>(text: &'a str, needles: &[&str]) -> Vec<&'a str> {
    text.lines()
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .collect()
}

/// Exit 75 and 71 and a kill are temporary: retried, and delivered once on
/// the retry. Exit 1 is permanent: logged with the program's last error
/// line, never retried, and reported to the sender (tests/bounce.rs).
#[test]
fn program_exit_status_decides() {
    let s = start_with(
        r#"table vt { "@" = "joe" }
listen on 127.0.0.1 port {PORT}
action "prog" mda "exec {DIR}/mda.sh %{dest.user}" virtual <vt> userbase <users>
match from any for domain "fail.test" action "prog"
"#,
        Options::default(),
        |dir| {
            let body = fill(
                r#"u=$1; out={DIR}/out
echo call >> "$out/$u.calls"
if [ ! -e "$out/$u.tried" ]; then
  touch "$out/$u.tried"
  case $u in
    t75) echo "mailbox locked out" >&2; exit 75 ;;
    t71) echo "cannot fork" >&2; exit 71 ;;
    sig) kill -KILL $$ ;;
  esac
fi
if [ "$u" = perm ]; then
  echo "first complaint" >&2
  echo "quota exceeded for perm" >&2
  exit 1
fi
cat > "$out/$u.msg"
"#,
                dir,
            );
            script(&dir.join("mda.sh"), &body);
        },
    );
    let rcpts = [
        "t75@fail.test",
        "t71@fail.test",
        "sig@fail.test",
        "perm@fail.test",
    ];
    let body = message::tricky_body();
    let msg = message::message(FROM, "t75@fail.test", "exits", &body);
    message::send_one(s.port, FROM, &rcpts, &msg);

    wait_count(&s, "delivery: TempFail", 3, Duration::from_secs(10));
    wait_count(&s, "delivery: PermFail", 1, Duration::from_secs(10));
    let text = s.log.text();
    let t75 = lines_with(&text, &["delivery: TempFail", "rcpt=<t75@fail.test>"]);
    assert!(
        t75.len() == 1 && t75[0].contains("exited with status 75: mailbox locked out"),
        "{text}"
    );
    let t71 = lines_with(&text, &["delivery: TempFail", "rcpt=<t71@fail.test>"]);
    assert!(t71.len() == 1 && t71[0].contains("status 71"), "{text}");
    let sig = lines_with(&text, &["delivery: TempFail", "rcpt=<sig@fail.test>"]);
    assert!(
        sig.len() == 1 && sig[0].contains("killed by signal 9"),
        "{text}"
    );
    let perm = lines_with(&text, &["delivery: PermFail", "rcpt=<perm@fail.test>"]);
    assert!(
        perm.len() == 1 && perm[0].contains("status 1: quota exceeded for perm"),
        "the last error line is reported: {text}"
    );
    wait_count(&s, "failed permanently", 1, Duration::from_secs(10));

    // The retries deliver the three temporary failures, once each.
    wait_count(&s, "delivery: Ok", 3, RETRY_WAIT);
    for u in ["t75", "t71", "sig"] {
        let got = std::fs::read(s.path(&format!("out/{u}.msg"))).unwrap();
        assert!(got.ends_with(&msg), "{u}: the whole message");
        let calls = std::fs::read_to_string(s.path(&format!("out/{u}.calls"))).unwrap();
        assert_eq!(calls.lines().count(), 2, "{u}: one failure, one success");
    }
    // The permanent failure was tried once and reported to the sender
    // with its error line; no rule accepts the sender's domain, so the
    // report is dropped (never bounced) and nothing stays queued.
    let calls = std::fs::read_to_string(s.path("out/perm.calls")).unwrap();
    assert_eq!(calls.lines().count(), 1);
    let text = s.log.text();
    assert!(
        lines_with(
            &text,
            &["failed permanently", "quota exceeded for perm", "report"]
        )
        .len()
            == 1,
        "{text}"
    );
    wait_count(&s, "dropped", 1, Duration::from_secs(15));
    support::local::wait_queue_empty(&s);
}

/// A tmpfs mounted for a test, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::Builder::new()
            .prefix("smtpd-tmpfs-")
            .tempdir()
            .ok()?;
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0777"),
                "tmpfs",
            ])
            .arg(dir.path())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        ok.then_some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Fill a file system, leaving about `free` bytes.
fn fill_disk(dir: &Path, free: usize) -> PathBuf {
    use std::io::Write;
    let spare = dir.join("spare");
    std::fs::write(&spare, vec![0u8; free]).unwrap();
    let filler = dir.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 1024];
    while f.write_all(&chunk).is_ok() {}
    drop(f);
    std::fs::remove_file(spare).unwrap();
    filler
}

fn files_in(dir: &Path) -> Vec<String> {
    support::read_dir_names(dir)
}

/// A full disk under an mbox and a Maildir: the delivery fails temporarily,
/// the message stays queued, the mbox is cut back to its size before the
/// attempt and the Maildir keeps no partial file; once there is room again
/// the retry delivers the message exactly once, intact.
#[test]
fn full_disk_is_a_temporary_failure() {
    if !is_root() {
        eprintln!("full_disk_is_a_temporary_failure: skipped: mounting a tmpfs needs root");
        return;
    }
    let Some(disk) = Tmpfs::mount("256k") else {
        eprintln!("full_disk_is_a_temporary_failure: skipped: cannot mount a tmpfs here");
        return;
    };
    let mount = disk.path().to_path_buf();
    let s = start_with(
        r#"listen on 127.0.0.1 port {PORT}
action "mb" mbox userbase <users>
action "md" maildir "{DIR}/mail/md/%{dest.user}" userbase <users>
match from any for domain "mb.test" action "mb"
match from any for domain "md.test" action "md"
"#,
        Options::default(),
        |dir| {
            // The mailbox directory is the tmpfs.
            std::fs::remove_dir(dir.join("mail")).unwrap();
            std::os::unix::fs::symlink(&mount, dir.join("mail")).unwrap();
        },
    );
    let small = message::message(FROM, "joe@mb.test", "before", b"fits\n");
    message::send_one(s.port, FROM, &["joe@mb.test", "joe@md.test"], &small);
    wait_delivered(&s, 2);
    let mbox = mount.join("joe");
    let maildir = mount.join("md/joe");
    let before = std::fs::read(&mbox).unwrap();

    let filler = fill_disk(&mount, 8 * 1024);
    let mut big_body = message::tricky_body();
    while big_body.len() < 32 * 1024 {
        big_body.extend_from_slice(b"0123456789 abcdefghijklmnopqrstuvwxyz 0123456789\n");
    }
    let big = message::message(FROM, "joe@mb.test", "after", &big_body);
    message::send_one(s.port, FROM, &["joe@mb.test", "joe@md.test"], &big);
    wait_count(&s, "delivery: TempFail", 2, Duration::from_secs(10));
    let text = s.log.text();
    assert_eq!(
        lines_with(&text, &["delivery: TempFail", "No space left on device"]).len(),
        2,
        "{text}"
    );
    assert_eq!(queued_envelopes(&s).len(), 2, "the message is kept");
    assert_eq!(std::fs::read(&mbox).unwrap(), before, "mbox cut back");
    assert_eq!(files_in(&maildir.join("new")).len(), 1);
    assert!(files_in(&maildir.join("tmp")).is_empty(), "no partial file");
    assert!(!mount.join("joe.lock").exists(), "no lock left behind");

    std::fs::remove_file(filler).unwrap();
    wait_count(&s, "delivery: Ok", 4, RETRY_WAIT);
    let mails = pymail::mbox(&mbox);
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[1].header("Subject"), Some("after"));
    assert_eq!(mails[1].body(), &message::mbox_quoted(&big_body)[..]);
    let mails = pymail::maildir(&maildir);
    assert_eq!(mails.len(), 2);
    let after: Vec<_> = mails
        .iter()
        .filter(|m| m.header("Subject") == Some("after"))
        .collect();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].body(), &big_body[..]);
    assert!(files_in(&maildir.join("tmp")).is_empty());
    support::local::wait_queue_empty(&s);
    drop(s);
}

/// The delivery workers of a server, by user (from their titles,
/// `smtpd: delivery USER`).
fn workers(s: &Server) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for pid in procs::children(s.pid()) {
        let title = procs::cmdline(pid);
        if let Some(user) = title.strip_prefix("smtpd: delivery ") {
            *out.entry(user.trim().to_string()).or_default() += 1;
        }
    }
    out
}

/// `mda limit max-session 2 max-session-per-user 1`: six slow deliveries
/// for three users never run more than two workers at once, nor more than
/// one per user, and all of them complete.
#[test]
fn mda_session_limits() {
    let s = start(
        r#"table lusers { "u1" = "5001:5001:{DIR}/home/joe", "u2" = "5002:5002:{DIR}/home/ann", "u3" = "5003:5003:{DIR}/home/bob" }
mda limit max-session 2 max-session-per-user 1
listen on 127.0.0.1 port {PORT}
action "slow" mda "sleep 0.5; cat > /dev/null; echo done >> {DIR}/out/%{user.username}" userbase <lusers>
match from any for domain "lim.test" action "slow"
"#,
    );
    let rcpts = [
        "u1@lim.test",
        "u1+b@lim.test",
        "u2@lim.test",
        "u2+b@lim.test",
        "u3@lim.test",
        "u3+b@lim.test",
    ];
    let msg = message::message(FROM, "u1@lim.test", "slow", b"slow\n");
    message::send_one(s.port, FROM, &rcpts, &msg);

    let mut max_total = 0;
    let mut max_user = 0;
    let done = eventually(Duration::from_secs(30), || {
        let w = workers(&s);
        max_total = max_total.max(w.values().sum::<usize>());
        max_user = max_user.max(w.values().copied().max().unwrap_or(0));
        s.log.count("delivery: Ok") >= 6
    });
    assert!(done, "not all delivered; log:\n{}", s.log.text());
    eprintln!("max workers: {max_total} in total, {max_user} for one user");
    assert!(max_total <= 2, "{max_total} workers at once");
    assert!(max_user <= 1, "{max_user} workers for one user");
    assert!(max_total >= 1);
    for u in ["u1", "u2", "u3"] {
        let n = std::fs::read_to_string(s.path(&format!("out/{u}")))
            .unwrap()
            .lines()
            .count();
        assert_eq!(n, 2, "{u}");
    }
}
