//! The spool's file system fills up (issue 6, disk full): new mail gets
//! `452 4.3.1`, mail already accepted stays intact, and mail flows again
//! once there is room. The spool is a small tmpfs the test mounts (root
//! only; skipped otherwise).

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use support::{mailbox, Options, Server};

const CONFIG: &str = r#"
listen on 127.0.0.1 port {PORT}
action "local" maildir "{DIR}/maildirs/%{dest.user:lowercase}" {CATCHALL}
match from any for domain "local.test" action "local"
"#;

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).ok()?;
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .status()
            .ok()?
            .success();
        ok.then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn free_bytes(p: &Path) -> u64 {
    let s = nix::sys::statvfs::statvfs(p).expect("statvfs");
    s.blocks_available() as u64 * s.fragment_size() as u64
}

fn total_bytes(p: &Path) -> u64 {
    let s = nix::sys::statvfs::statvfs(p).expect("statvfs");
    s.blocks() as u64 * s.fragment_size() as u64
}

/// Fill the file system at `dir` until about `keep` bytes are free.
fn fill(dir: &Path, keep: u64) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).expect("filler");
    let chunk = vec![0u8; 16 * 1024];
    while free_bytes(dir) > keep + chunk.len() as u64 {
        if f.write_all(&chunk).is_err() {
            break;
        }
    }
    f.sync_all().ok();
    path
}

fn mail_from(c: &mut support::client::Client) -> support::client::Reply {
    c.cmd("MAIL FROM:<s@example.com>")
}

#[test]
fn a_full_spool_refuses_new_mail_keeps_the_rest_and_recovers() {
    if !support::is_root() {
        eprintln!("spool_full: needs root to mount a tmpfs; skipped");
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("smtpd-full-")
        .tempdir()
        .unwrap();
    let spool = dir.path().join("spool");
    let Some(_fs) = Tmpfs::mount(&spool, "4m") else {
        eprintln!("spool_full: cannot mount a tmpfs here; skipped");
        return;
    };
    let port = support::free_port();
    let opts = || Options {
        args: vec!["-P".into(), "mda".into()],
        ..Options::default()
    };
    let server = Server::start_on(dir, port, CONFIG, opts());

    // Two messages accepted while there is room; delivery is paused, so
    // they wait in the spool.
    let mut c = server.smtp();
    c.hello();
    for n in 0..2 {
        let r = c.send_mail(
            "s@example.com",
            &["alice@local.test"],
            &format!("Subject: early {n}\n\nbody {n}\n"),
        );
        assert_eq!(r.code, 250, "{r:?}");
    }
    let queued_before = support::spool::queued_messages(&spool);
    assert_eq!(queued_before.len(), 2);

    // Fill the spool to below the 5% reserve (but not to the last byte).
    let reserve = total_bytes(&spool) / 20;
    let filler = fill(&spool, reserve / 2);
    let refused = support::eventually(Duration::from_secs(10), || {
        let r = mail_from(&mut c);
        if r.code == 250 {
            c.cmd("RSET");
        }
        r.code == 452
    });
    assert!(refused, "new mail was not refused with the spool full");
    let r = mail_from(&mut c);
    assert_eq!(r.code, 452, "{r:?}");
    assert!(r.text().starts_with("4.3.1"), "{r:?}");

    // What was accepted is intact.
    assert_eq!(support::spool::queued_messages(&spool), queued_before);
    for m in &queued_before {
        let content = support::spool::message_of(m);
        assert!(
            content.windows(6).any(|w| w == b"body 0")
                || content.windows(6).any(|w| w == b"body 1")
        );
    }

    // Room again: new mail is accepted.
    std::fs::remove_file(&filler).unwrap();
    let accepted = support::eventually(Duration::from_secs(10), || {
        let r = mail_from(&mut c);
        if r.code == 250 {
            c.cmd("RSET");
            true
        } else {
            false
        }
    });
    assert!(accepted, "mail still refused after room came back");
    let r = c.send_mail(
        "s@example.com",
        &["alice@local.test"],
        "Subject: late\n\nbody late\n",
    );
    assert_eq!(r.code, 250, "{r:?}");
    c.cmd("QUIT");

    // Restart without the pause: all three are delivered, once each.
    let port = server.port;
    let dir = server.stop_keep_dir();
    let server = Server::start_on(dir, port, CONFIG, Options::default());
    let md = server.path("maildirs/alice");
    assert!(
        support::eventually(Duration::from_secs(20), || mailbox::maildir_count(&md) == 3),
        "delivered: {}",
        mailbox::maildir_count(&md)
    );
    assert!(support::eventually(Duration::from_secs(10), || {
        support::spool::queued_messages(&server.path("spool")).is_empty()
    }));
}
