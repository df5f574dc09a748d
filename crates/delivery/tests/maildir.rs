//! Maildir delivery into real temporary directories, read back from disk.

use smtpd_delivery::{deliver_maildir, DeliveryError, MaildirOptions};
use std::collections::HashSet;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn prepend() -> Vec<String> {
    vec![
        "Return-Path: <alice@example.org>".into(),
        "Delivered-To: bob@example.net".into(),
    ]
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

const MESSAGE: &[u8] = b"Subject: hello\nFrom: alice@example.org\n\nFrom the top\n.\n..\n\xe9t\xe9\n\nlast line without newline";

#[test]
fn delivers_byte_exact_with_headers_prepended() {
    let root = tempfile::tempdir().unwrap();
    let md = root.path().join("home/bob/Maildir");
    let path = deliver_maildir(
        &md,
        &MaildirOptions::default(),
        &prepend(),
        &mut &MESSAGE[..],
    )
    .unwrap();

    assert_eq!(path.parent().unwrap(), md.join("new"));
    let mut expect = b"Return-Path: <alice@example.org>\nDelivered-To: bob@example.net\n".to_vec();
    expect.extend_from_slice(MESSAGE);
    assert_eq!(fs::read(&path).unwrap(), expect);

    assert_eq!(names(&md.join("new")).len(), 1);
    assert!(names(&md.join("tmp")).is_empty());
    assert!(names(&md.join("cur")).is_empty());
    for sub in ["", "cur", "new", "tmp"] {
        let mode = fs::metadata(md.join(sub)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{sub}");
    }
    let mode = fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn existing_maildir_is_used_as_is() {
    let root = tempfile::tempdir().unwrap();
    let md = root.path().join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(md.join(sub)).unwrap();
    }
    fs::write(md.join("cur/old:2,S"), b"old").unwrap();
    deliver_maildir(&md, &MaildirOptions::default(), &[], &mut &b"x\n"[..]).unwrap();
    assert_eq!(names(&md.join("cur")), ["old:2,S"]);
    assert_eq!(names(&md.join("new")).len(), 1);
}

#[test]
fn junk_goes_to_the_junk_folder() {
    let root = tempfile::tempdir().unwrap();
    let md = root.path().join("Maildir");
    let junk = MaildirOptions {
        junk: true,
        ..Default::default()
    };
    let spam = b"Subject: buy\nX-Spam: Yes\n\nbody\n";
    let p = deliver_maildir(&md, &junk, &prepend(), &mut &spam[..]).unwrap();
    assert_eq!(p.parent().unwrap(), md.join(".Junk/new"));
    assert!(names(&md.join("new")).is_empty());
    assert!(fs::read(&p).unwrap().ends_with(spam));

    // X-Spam in the body is not a verdict
    let ham = b"Subject: about spam\n\nX-Spam: yes\n";
    let p = deliver_maildir(&md, &junk, &[], &mut &ham[..]).unwrap();
    assert_eq!(p.parent().unwrap(), md.join("new"));

    // without the option, the header is ignored
    let p = deliver_maildir(&md, &MaildirOptions::default(), &[], &mut &spam[..]).unwrap();
    assert_eq!(p.parent().unwrap(), md.join("new"));
    assert!(names(&md.join("tmp")).is_empty());
    assert!(names(&md.join(".Junk/tmp")).is_empty());
}

#[test]
fn subaddress_selects_an_existing_folder_only() {
    let root = tempfile::tempdir().unwrap();
    let md = root.path().join("Maildir");
    fs::create_dir_all(md.join(".lists")).unwrap();
    let to = |ext: &str| MaildirOptions {
        junk: false,
        extension: Some(ext.into()),
    };
    let p = deliver_maildir(&md, &to("lists"), &[], &mut &b"x\n"[..]).unwrap();
    assert_eq!(p.parent().unwrap(), md.join(".lists/new"));
    let p = deliver_maildir(&md, &to("nosuch"), &[], &mut &b"x\n"[..]).unwrap();
    assert_eq!(p.parent().unwrap(), md.join("new"));
    assert!(!md.join(".nosuch").exists());
    // a sub-address cannot climb out of the Maildir
    let p = deliver_maildir(&md, &to("../../etc"), &[], &mut &b"x\n"[..]).unwrap();
    assert_eq!(p.parent().unwrap(), md.join("new"));
}

#[test]
fn many_deliveries_get_unique_names() {
    let root = tempfile::tempdir().unwrap();
    let md = root.path().join("Maildir");
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let md = md.clone();
            std::thread::spawn(move || {
                (0..100)
                    .map(|i| {
                        let msg = format!("Subject: {t}/{i}\n\nbody\n");
                        deliver_maildir(&md, &MaildirOptions::default(), &[], &mut msg.as_bytes())
                            .unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all = HashSet::new();
    for t in threads {
        for p in t.join().unwrap() {
            assert!(all.insert(p));
        }
    }
    assert_eq!(names(&md.join("new")).len(), 400);
    assert!(names(&md.join("tmp")).is_empty());
    // every message arrived whole and once
    let subjects: HashSet<String> = names(&md.join("new"))
        .iter()
        .map(|n| {
            let data = fs::read_to_string(md.join("new").join(n)).unwrap();
            data.lines().next().unwrap().to_string()
        })
        .collect();
    assert_eq!(subjects.len(), 400);
    for n in names(&md.join("new")) {
        assert!(!n.contains('/') && !n.contains(':'), "{n}");
    }
}

/// Yields some bytes, then fails like a disk with a bad sector.
struct FailingMessage(usize);

impl Read for FailingMessage {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0 == 0 {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        self.0 -= 1;
        buf[..6].copy_from_slice(b"line\n\n");
        Ok(6)
    }
}

#[test]
fn failed_delivery_leaves_nothing_behind() {
    let root = tempfile::tempdir().unwrap();
    let md = root.path().join("Maildir");
    let err = deliver_maildir(
        &md,
        &MaildirOptions::default(),
        &prepend(),
        &mut FailingMessage(3),
    )
    .unwrap_err();
    assert!(err.is_temporary());
    assert_eq!(err.status().to_string(), "4.3.0");
    assert!(names(&md.join("new")).is_empty());
    assert!(names(&md.join("tmp")).is_empty());
}

#[test]
fn bad_paths_and_headers_are_refused() {
    let err = deliver_maildir(
        Path::new("Maildir"),
        &MaildirOptions::default(),
        &[],
        &mut &b""[..],
    )
    .unwrap_err();
    assert!(matches!(err, DeliveryError::RelativePath { .. }));

    let root = tempfile::tempdir().unwrap();
    // a file where the Maildir should be
    let file = root.path().join("Maildir");
    fs::write(&file, b"").unwrap();
    let err = deliver_maildir(&file, &MaildirOptions::default(), &[], &mut &b"x"[..]).unwrap_err();
    assert!(err.is_temporary(), "{err}");

    let md = root.path().join("md");
    let err = deliver_maildir(
        &md,
        &MaildirOptions::default(),
        &["Bad\nHeader: x".into()],
        &mut &b"x"[..],
    )
    .unwrap_err();
    assert!(!err.is_temporary());
    assert!(!md.exists());
}
