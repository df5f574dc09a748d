//! mbox delivery against real files in temporary directories.

use super::lock::lock_path;
use super::*;
use crate::error::Severity;
use nix::fcntl::{Flock, FlockArg};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::sync::mpsc;
use std::time::SystemTime;

fn sender() -> MailAddr {
    MailAddr::new("alice", "example.org")
}

fn headers() -> Vec<String> {
    vec![
        "Return-Path: <alice@example.org>".to_string(),
        "Delivered-To: bob@example.net".to_string(),
    ]
}

fn short() -> MboxOptions {
    MboxOptions {
        lock_timeout: Duration::from_millis(300),
        ..MboxOptions::default()
    }
}

/// Parse an mbox as Python's `mailbox.mbox` does: a line starting `From `
/// begins a message, and the blank line before the next one is not part of
/// the message. Returns (separator line, raw content) pairs.
fn parse_mbox(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for line in data.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"From ") {
            out.push((String::from_utf8_lossy(line).into_owned(), Vec::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.extend_from_slice(line);
        } else {
            panic!("content before the first From line");
        }
    }
    for (_, content) in &mut out {
        assert!(
            content.ends_with(b"\n\n"),
            "message not followed by a blank line"
        );
        content.pop();
    }
    out
}

/// Undo mboxrd quoting.
fn unquote(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in content.split_inclusive(|&b| b == b'\n') {
        let gts = line.iter().take_while(|&&b| b == b'>').count();
        if gts > 0 && line[gts..].starts_with(b"From ") {
            out.extend_from_slice(&line[1..]);
        } else {
            out.extend_from_slice(line);
        }
    }
    out
}

#[test]
fn two_messages_appended_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("bob");
    let m1 = b"Subject: one\n\nFrom the start\n>From quoted\nplain\n.\n".to_vec();
    let m2 = b"Subject: two\n\n\xe9t\xe9 8-bit\nno final newline".to_vec();
    deliver_mbox(
        &mbox,
        Some(&sender()),
        &MboxOptions::default(),
        &headers(),
        &mut &m1[..],
    )
    .unwrap();
    deliver_mbox(&mbox, None, &MboxOptions::default(), &[], &mut &m2[..]).unwrap();

    let data = fs::read(&mbox).unwrap();
    let msgs = parse_mbox(&data);
    assert_eq!(msgs.len(), 2);

    assert!(
        msgs[0].0.starts_with("From alice@example.org "),
        "{}",
        msgs[0].0
    );
    let mut expect1 = b"Return-Path: <alice@example.org>\nDelivered-To: bob@example.net\n".to_vec();
    expect1.extend_from_slice(b"Subject: one\n\n>From the start\n>>From quoted\nplain\n.\n");
    assert_eq!(msgs[0].1, expect1);
    let mut original1 =
        b"Return-Path: <alice@example.org>\nDelivered-To: bob@example.net\n".to_vec();
    original1.extend_from_slice(&m1);
    assert_eq!(unquote(&msgs[0].1), original1);

    assert!(
        msgs[1].0.starts_with("From MAILER-DAEMON "),
        "{}",
        msgs[1].0
    );
    assert_eq!(
        msgs[1].1,
        b"Subject: two\n\n\xe9t\xe9 8-bit\nno final newline\n"
    );

    let mode = fs::metadata(&mbox).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(!lock_path(&mbox).exists(), "dot-lock left behind");
}

#[test]
fn separator_line_has_an_asctime_date() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("m");
    deliver_mbox(
        &mbox,
        Some(&sender()),
        &MboxOptions::default(),
        &[],
        &mut &b"x\n"[..],
    )
    .unwrap();
    let data = fs::read_to_string(&mbox).unwrap();
    let first = data.lines().next().unwrap();
    let date = first.strip_prefix("From alice@example.org ").unwrap();
    chrono::NaiveDateTime::parse_from_str(date, "%a %b %e %H:%M:%S %Y").unwrap();
}

/// Writes through to the file until `budget` bytes, then fails with ENOSPC.
struct FailAfter<'f> {
    file: &'f File,
    budget: usize,
}

impl Write for FailAfter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.budget == 0 {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        let n = buf.len().min(self.budget);
        let n = (&*self.file).write(&buf[..n])?;
        self.budget -= n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn failed_write_leaves_the_mailbox_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("bob");
    deliver_mbox(
        &mbox,
        Some(&sender()),
        &MboxOptions::default(),
        &[],
        &mut &b"first\n"[..],
    )
    .unwrap();
    let before = fs::read(&mbox).unwrap();

    let big = vec![b'x'; 200_000];
    fn failing(f: &File) -> Box<dyn Write + '_> {
        Box::new(FailAfter {
            file: f,
            budget: 70_000,
        })
    }
    let err = deliver(
        &mbox,
        Some(&sender()),
        &MboxOptions::default(),
        &headers(),
        &mut &big[..],
        Target::Mailbox,
        &failing,
    )
    .unwrap_err();
    assert_eq!(err.severity(), Severity::Temporary);
    assert_eq!(err.status().to_string(), "4.2.2");
    assert_eq!(fs::read(&mbox).unwrap(), before);
    assert!(!lock_path(&mbox).exists());

    // and the mailbox still takes mail afterwards
    deliver_mbox(
        &mbox,
        None,
        &MboxOptions::default(),
        &[],
        &mut &b"second\n"[..],
    )
    .unwrap();
    assert_eq!(parse_mbox(&fs::read(&mbox).unwrap()).len(), 2);
}

#[test]
fn failed_read_of_the_message_also_restores() {
    struct BadRead(usize);
    impl Read for BadRead {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::from_raw_os_error(libc::EIO));
            }
            self.0 -= 1;
            buf[..10].copy_from_slice(b"aaaaaaaaa\n");
            Ok(10)
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("bob");
    fs::write(&mbox, b"").unwrap();
    // 10 000 lines: more than one flush of the framer reaches the file
    let err = deliver_mbox(
        &mbox,
        None,
        &MboxOptions::default(),
        &[],
        &mut BadRead(10_000),
    )
    .unwrap_err();
    assert_eq!(err.status().to_string(), "4.3.0");
    assert_eq!(fs::metadata(&mbox).unwrap().len(), 0);
}

#[test]
fn held_dot_lock_is_respected() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("bob");
    fs::write(lock_path(&mbox), b"12345\n").unwrap();
    let err = deliver_mbox(&mbox, None, &short(), &[], &mut &b"x\n"[..]).unwrap_err();
    assert!(matches!(err, DeliveryError::Locked { .. }), "{err:?}");
    assert!(err.is_temporary());
    assert_eq!(fs::metadata(&mbox).map(|m| m.len()).unwrap_or(0), 0);
    // someone else's lock is not ours to remove
    assert!(lock_path(&mbox).exists());
}

#[test]
fn delivery_waits_for_the_dot_lock_holder() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("bob");
    let lock = lock_path(&mbox);
    fs::write(&lock, b"1\n").unwrap();
    let (started_tx, started_rx) = mpsc::channel();
    let m = mbox.clone();
    let worker = std::thread::spawn(move || {
        started_tx.send(()).unwrap();
        let opts = MboxOptions {
            lock_timeout: Duration::from_secs(60),
            ..MboxOptions::default()
        };
        deliver_mbox(&m, None, &opts, &[], &mut &b"after the lock\n"[..])
    });
    started_rx.recv().unwrap();
    // The holder appends its own message while holding the lock, then
    // releases it; ours must come after it, intact.
    std::thread::sleep(Duration::from_millis(100));
    fs::write(&mbox, b"From holder Thu Jan  1 00:00:00 1970\nheld\n\n").unwrap();
    fs::remove_file(&lock).unwrap();
    worker.join().unwrap().unwrap();
    let msgs = parse_mbox(&fs::read(&mbox).unwrap());
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].1, b"held\n");
    assert_eq!(msgs[1].1, b"after the lock\n");
}

#[test]
fn stale_dot_lock_is_broken() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("bob");
    let lock = File::create(lock_path(&mbox)).unwrap();
    lock.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    drop(lock);
    deliver_mbox(&mbox, None, &short(), &[], &mut &b"x\n"[..]).unwrap();
    assert!(!lock_path(&mbox).exists());
    assert_eq!(parse_mbox(&fs::read(&mbox).unwrap()).len(), 1);
}

#[test]
fn held_flock_is_respected() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("bob");
    fs::write(&mbox, b"").unwrap();
    let holder = Flock::lock(File::open(&mbox).unwrap(), FlockArg::LockExclusive).unwrap();
    let opts = MboxOptions {
        dotlock: DotLock::Off,
        ..short()
    };
    let err = deliver_mbox(&mbox, None, &opts, &[], &mut &b"x\n"[..]).unwrap_err();
    assert!(matches!(err, DeliveryError::Locked { .. }), "{err:?}");
    drop(holder);
    deliver_mbox(&mbox, None, &opts, &[], &mut &b"x\n"[..]).unwrap();
    assert_eq!(parse_mbox(&fs::read(&mbox).unwrap()).len(), 1);
}

#[test]
fn refuses_symlinks_directories_and_hard_links() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    fs::write(&target, b"secret\n").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let err = deliver_mbox(&link, None, &short(), &[], &mut &b"x\n"[..]).unwrap_err();
    assert!(matches!(err, DeliveryError::Symlink { .. }), "{err:?}");

    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    let err = deliver_mbox(&sub, None, &short(), &[], &mut &b"x\n"[..]).unwrap_err();
    // opening a directory for writing fails with EISDIR
    assert!(err.is_temporary(), "{err:?}");

    let hard = dir.path().join("hard");
    fs::hard_link(&target, &hard).unwrap();
    let err = deliver_mbox(&hard, None, &short(), &[], &mut &b"x\n"[..]).unwrap_err();
    assert!(
        matches!(err, DeliveryError::HardLinked { links: 2, .. }),
        "{err:?}"
    );
    assert_eq!(fs::read(&target).unwrap(), b"secret\n");

    let err =
        deliver_mbox(Path::new("rel/mbox"), None, &short(), &[], &mut &b"x\n"[..]).unwrap_err();
    assert!(matches!(err, DeliveryError::RelativePath { .. }));
}

#[test]
fn fifo_is_not_a_mailbox() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    // a reader keeps the open from failing, so the type check is reached
    let _reader = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    let err = append_to_file(&fifo, None, &short(), &[], &mut &b"x\n"[..]).unwrap_err();
    assert!(
        matches!(err, DeliveryError::NotRegularFile { .. }),
        "{err:?}"
    );
}

#[test]
fn file_variant_appends_in_mbox_format_and_accepts_dev_null() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("archive");
    append_to_file(
        &file,
        Some(&sender()),
        &MboxOptions::default(),
        &headers(),
        &mut &b"From x\n"[..],
    )
    .unwrap();
    let msgs = parse_mbox(&fs::read(&file).unwrap());
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].1.ends_with(b"\n>From x\n"));
    append_to_file(
        Path::new("/dev/null"),
        None,
        &MboxOptions::default(),
        &[],
        &mut &b"x\n"[..],
    )
    .unwrap();
    let err = deliver_mbox(
        Path::new("/dev/null"),
        None,
        &short(),
        &[],
        &mut &b"x\n"[..],
    )
    .unwrap_err();
    assert!(
        matches!(err, DeliveryError::NotRegularFile { .. }),
        "{err:?}"
    );
}

#[test]
fn bad_prepend_line_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("bob");
    let err = deliver_mbox(
        &mbox,
        None,
        &short(),
        &["X: a\nY: b".into()],
        &mut &b"x\n"[..],
    )
    .unwrap_err();
    assert_eq!(err.severity(), Severity::Permanent);
    assert!(!mbox.exists());
}

#[test]
fn a_mailbox_owned_by_someone_else_is_refused() {
    // Only root can make a file owned by another user.
    if !nix::unistd::geteuid().is_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("victim");
    std::fs::write(&path, b"").unwrap();
    nix::unistd::chown(&path, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
    let err = deliver_mbox(
        &path,
        None,
        &MboxOptions::default(),
        &[],
        &mut &b"Subject: x\n\nhi\n"[..],
    )
    .unwrap_err();
    assert!(
        matches!(err, DeliveryError::WrongOwner { owner: 65534, .. }),
        "{err:?}"
    );
    assert!(err.is_temporary());
    assert_eq!(std::fs::read(&path).unwrap(), b"");
}
