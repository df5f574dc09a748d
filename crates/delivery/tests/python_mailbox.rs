//! What we write must read back with Python's `mailbox` module, the reader
//! the end-to-end tests of the server use: mbox framing and Maildir layout.

use smtpd_delivery::{deliver_maildir, deliver_mbox, MaildirOptions, MboxOptions};
use smtpd_types::MailAddr;
use std::path::Path;
use std::process::Command;

/// Read every message of a mailbox with Python and return their raw bytes
/// (for mbox: without the `From ` line), in file order.
fn python_read(kind: &str, path: &Path) -> Vec<Vec<u8>> {
    let script = r#"
import mailbox, sys
kind, path = sys.argv[1], sys.argv[2]
box = mailbox.mbox(path, create=False) if kind == "mbox" else mailbox.Maildir(path, create=False)
keys = box.keys()
if kind == "mbox":
    keys = sorted(keys)
for k in keys:
    print(box.get_bytes(k).hex())
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(kind)
        .arg(path)
        .output()
        .expect("python3 is needed for this test");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            (0..l.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&l[i..i + 2], 16).unwrap())
                .collect()
        })
        .collect()
}

const BODY: &[u8] =
    b"Subject: test\nFrom: a@example.org\n\nFrom the beginning\n.\n..\n\xc3\xa9t\xc3\xa9 8-bit\n\n";

#[test]
fn mbox_reads_back_with_python() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("bob");
    let sender = MailAddr::new("a", "example.org");
    let head = vec!["Return-Path: <a@example.org>".to_string()];
    deliver_mbox(
        &mbox,
        Some(&sender),
        &MboxOptions::default(),
        &head,
        &mut &BODY[..],
    )
    .unwrap();
    deliver_mbox(
        &mbox,
        None,
        &MboxOptions::default(),
        &[],
        &mut &b"Subject: 2\n\nsecond"[..],
    )
    .unwrap();

    let msgs = python_read("mbox", &mbox);
    assert_eq!(msgs.len(), 2);
    let mut expect = b"Return-Path: <a@example.org>\n".to_vec();
    // Python does not undo `>From ` quoting
    expect.extend_from_slice(&mboxrd_quoted(BODY));
    assert_eq!(msgs[0], expect);
    assert_eq!(msgs[1], b"Subject: 2\n\nsecond\n");
}

#[test]
fn maildir_reads_back_with_python() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("Maildir");
    let head = vec!["Delivered-To: bob@example.org".to_string()];
    deliver_maildir(&md, &MaildirOptions::default(), &head, &mut &BODY[..]).unwrap();
    let msgs = python_read("maildir", &md);
    assert_eq!(msgs.len(), 1);
    let mut expect = b"Delivered-To: bob@example.org\n".to_vec();
    expect.extend_from_slice(BODY);
    assert_eq!(msgs[0], expect);
}

/// mboxrd quoting of `^>*From ` lines, written out plainly for the test.
fn mboxrd_quoted(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in text.split_inclusive(|&b| b == b'\n') {
        let gts = line.iter().take_while(|&&b| b == b'>').count();
        if line[gts..].starts_with(b"From ") {
            out.push(b'>');
        }
        out.extend_from_slice(line);
    }
    out
}
