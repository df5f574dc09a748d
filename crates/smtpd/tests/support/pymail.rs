//! Reading delivered mail back with Python's `mailbox` module, the way a
//! mail reader would: if Python cannot split or parse what we wrote, the
//! delivery is wrong whatever our own code thinks.
//!
//! Each message comes back with its raw bytes (as `mailbox` returns them:
//! for mbox without the `From ` separator and without the blank line that
//! ends the message), its `From ` line (mbox only) and its header fields as
//! Python's `email` parser sees them.

use std::path::Path;
use std::process::Command;

/// One message read by Python.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The message as `mailbox.get_bytes()` returns it.
    pub raw: Vec<u8>,
    /// The mbox `From ` line, without `From ` (empty for Maildir).
    pub from_line: String,
    /// Header fields in order, as `email.message_from_bytes` parses them.
    pub headers: Vec<(String, String)>,
}

impl Mail {
    /// The first value of a header field (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header field.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The bytes after the blank line that ends the header section.
    pub fn body(&self) -> &[u8] {
        match self.raw.windows(2).position(|w| w == b"\n\n") {
            Some(i) => &self.raw[i + 2..],
            None => &[],
        }
    }

    /// Check the headers every final delivery carries.
    pub fn assert_delivery_headers(&self, sender: &str, rcpt: &str) {
        assert_eq!(
            self.header("Return-Path"),
            Some(format!("<{sender}>").as_str()),
            "Return-Path of {self:?}"
        );
        assert_eq!(
            self.header("Delivered-To"),
            Some(rcpt),
            "Delivered-To of {self:?}"
        );
        assert!(self.header("Received").is_some(), "no Received: {self:?}");
    }
}

const SCRIPT: &str = r#"
import mailbox, sys, email, email.policy
kind, path = sys.argv[1], sys.argv[2]
if kind == "maildir":
    box = mailbox.Maildir(path, factory=None, create=False)
else:
    box = mailbox.mbox(path, create=False)
box.lock() if kind == "mbox" else None
keys = list(box.keys())
if kind == "maildir":
    keys.sort()
for key in keys:
    raw = box.get_bytes(key)
    from_ = box.get_message(key).get_from() if kind == "mbox" else ""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    fields = []
    for name, value in msg.items():
        fields.append(name.encode("utf-8", "surrogateescape").hex())
        fields.append(str(value).encode("utf-8", "surrogateescape").hex())
    print(raw.hex(), from_.encode("utf-8", "surrogateescape").hex(), ",".join(fields) or "-")
box.unlock() if kind == "mbox" else None
"#;

fn run(kind: &str, path: &Path) -> Vec<Mail> {
    let out = Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(kind)
        .arg(path)
        .output()
        .expect("running python3");
    assert!(
        out.status.success(),
        "python mailbox failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("hex output")
        .lines()
        .map(|line| {
            let mut parts = line.split(' ');
            let raw = unhex(parts.next().unwrap_or(""));
            let from_line = String::from_utf8_lossy(&unhex(parts.next().unwrap_or(""))).into();
            let fields: Vec<String> = match parts.next().unwrap_or("-") {
                "-" => Vec::new(),
                f => f
                    .split(',')
                    .map(|h| String::from_utf8_lossy(&unhex(h)).into_owned())
                    .collect(),
            };
            let headers = fields
                .chunks(2)
                .map(|c| (c[0].clone(), c.get(1).cloned().unwrap_or_default()))
                .collect();
            Mail {
                raw,
                from_line,
                headers,
            }
        })
        .collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// The messages of a Maildir folder (`new/` and `cur/`), by file name.
/// An absent Maildir has no messages.
pub fn maildir(dir: &Path) -> Vec<Mail> {
    if !dir.join("new").is_dir() {
        return Vec::new();
    }
    run("maildir", dir)
}

/// The messages of an mbox file, in order. An absent file has none.
pub fn mbox(path: &Path) -> Vec<Mail> {
    if !path.exists() {
        return Vec::new();
    }
    run("mbox", path)
}

/// Is Python's `mailbox` usable here? Every test that reads mail needs it.
pub fn available() -> bool {
    Command::new("python3")
        .args(["-c", "import mailbox"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}
