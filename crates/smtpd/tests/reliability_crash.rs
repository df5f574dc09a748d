//! Crash safety, CI form: `reliability/crash_test.py` (the harness of the
//! long form, see RELIABILITY.md) runs a short load at our server while it
//! SIGKILLs the whole tree or one `smtpd: ROLE` child at random moments and
//! restarts it. Every message that got a 250 must be delivered to every
//! recipient's Maildir: lost == 0, no corrupt copy, nothing delivered whose
//! end of data never reached the server.
//!
//! The harness is the very tool used against the peers, so that the CI
//! form and the long form measure the same thing.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::SMTPD;

/// The harness script, from the repository root.
fn harness() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../reliability/crash_test.py")
}

/// One Maildir per recipient, as the issue asks: the harness then knows
/// which recipient every delivered copy is for.
const CONFIG: &str = r#"
listen on 127.0.0.1 port {PORT}
action "local" maildir "{DIR}/maildirs/%{dest.user:lowercase}" {CATCHALL}
match from any for domain "local.test" action "local"
"#;

/// The reduced load: 300 messages of 3 recipients from 4 clients, 5
/// crashes (tree or one role process) during the load and 2 while the queue
/// drains, well under a minute in all.
const LOAD: &[&str] = &[
    "--messages=300",
    "--concurrency=4",
    "--recipients=3",
    "--size=1500",
    "--crashes=5",
    "--drain-crashes=2",
    "--interval=0.2:0.8",
    "--kill=mixed",
    "--child-match=^smtpd: ",
    "--drain-timeout=40",
    "--settle=1",
    "--io-timeout=10",
    "--ready-timeout=20",
    "--seed=6",
    "--label=smtpd-ci",
];

/// A number from the harness's JSON summary (flat `"key": number` lines).
fn field(summary: &str, key: &str) -> Option<u64> {
    let re = regex::Regex::new(&format!(r#""{key}":\s*(\d+)"#)).ok()?;
    re.captures(summary)?.get(1)?.as_str().parse().ok()
}

#[test]
fn acknowledged_mail_survives_sigkill_of_tree_and_children() {
    let dir = tempfile::Builder::new()
        .prefix("smtpd-crash-")
        .tempdir()
        .expect("temp dir");
    let port = support::free_port();
    let text = support::expand_catchall(CONFIG)
        .replace("{PORT}", &port.to_string())
        .replace("{DIR}", dir.path().to_str().expect("utf-8 temp dir"));
    let conf = dir.path().join("smtpd.conf");
    std::fs::write(&conf, text).expect("write config");
    let d = dir.path().display();
    // `exec` so that the shell is the server (one tree to kill).
    let start = format!(
        "exec {SMTPD} -d -f {} --spool {d}/spool --socket {d}/smtpd.sock \
         --mailbox-dir {d}/mail --unprivileged",
        conf.display()
    );
    let out = Command::new("python3")
        .arg(harness())
        .args(["--port", &port.to_string()])
        .args(["--start-cmd", &start])
        .args(["--maildir", &format!("{d}/maildirs/{{user}}")])
        .args(LOAD)
        .args(["--log-dir", &format!("{d}/logs")])
        .output()
        .expect("running python3 reliability/crash_test.py");
    let summary = String::from_utf8_lossy(&out.stdout).into_owned();
    let progress = String::from_utf8_lossy(&out.stderr).into_owned();
    let logs = server_logs(&dir.path().join("logs"));
    let context = format!("summary:\n{summary}\nharness:\n{progress}\nserver logs:\n{logs}");

    assert_eq!(field(&summary, "lost"), Some(0), "{context}");
    assert_eq!(field(&summary, "corrupt"), Some(0), "{context}");
    assert_eq!(
        field(&summary, "delivered_without_end_of_data"),
        Some(0),
        "{context}"
    );
    assert!(
        field(&summary, "acknowledged").unwrap_or(0) >= 300,
        "every message must eventually be acknowledged: {context}"
    );
    assert!(
        field(&summary, "crashes_injected").unwrap_or(0) >= 3,
        "the load must have been crashed several times: {context}"
    );
    assert!(out.status.success(), "harness failed: {context}");
}

/// The tail of every server log the harness kept, for a failing run.
fn server_logs(dir: &std::path::Path) -> String {
    let mut names = support::read_dir_names(dir);
    names.sort();
    let mut out = String::new();
    for n in names {
        let text = std::fs::read_to_string(dir.join(&n)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(30)..];
        out.push_str(&format!("--- {n}\n{}\n", tail.join("\n")));
    }
    out
}
