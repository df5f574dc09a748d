//! Helpers of the local delivery tests: a userbase of test users whose
//! homes live in the server's temporary directory (so that no test writes
//! into a real home), waiting for delivery outcomes in the log, and looking
//! at the queue on disk.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{eventually, Options, Server};

/// The invoking user's uid and gid.
pub fn me() -> (u32, u32) {
    (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    )
}

/// The test users of the `users` userbase: their homes are DIR/home/NAME.
pub const USERS: [&str; 3] = ["joe", "ann", "bob"];

/// `table users { … }`: the test users, all with the invoking user's ids
/// (unprivileged servers run every delivery as the invoking user anyway).
pub fn users_table() -> String {
    let (uid, gid) = me();
    let entries: Vec<String> = USERS
        .iter()
        .map(|u| format!("\"{u}\" = \"{uid}:{gid}:{{DIR}}/home/{u}\""))
        .collect();
    format!("table users {{ {} }}\n", entries.join(", "))
}

/// Start an unprivileged server with `config` (which may use `<users>`),
/// kept off any outside DNS, with the test users' homes, the mbox
/// directory DIR/mail and an output directory DIR/out created.
pub fn start(config: &str) -> Server {
    start_with(config, Options::default(), |_| {})
}

/// As [`start`], with options, and `prepare` run on the server's directory
/// (homes and DIR/out already made) before the server starts: for files
/// its tables read at start.
pub fn start_with(config: &str, mut opts: Options, prepare: impl FnOnce(&Path)) -> Server {
    opts.args.extend(super::nodns::args());
    let dir = tempfile::Builder::new()
        .prefix("smtpd-test-")
        .tempdir()
        .expect("temp dir");
    for u in USERS {
        std::fs::create_dir_all(dir.path().join("home").join(u)).unwrap();
    }
    std::fs::create_dir_all(dir.path().join("mail")).unwrap();
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    prepare(dir.path());
    Server::start_in(dir, &format!("{}{config}", users_table()), opts)
}

/// Replace `{DIR}` in a text written before the server starts.
pub fn fill(text: &str, dir: &Path) -> String {
    text.replace("{DIR}", &dir.to_string_lossy())
}

/// Wait until the log holds at least `n` lines containing `needle`.
pub fn wait_count(s: &Server, needle: &str, n: usize, timeout: Duration) {
    if !eventually(timeout, || s.log.count(needle) >= n) {
        panic!(
            "expected {n} × {needle:?} in the log within {timeout:?}; log:\n{}",
            s.log.text()
        );
    }
}

/// Wait for `n` successful deliveries.
pub fn wait_delivered(s: &Server, n: usize) {
    wait_count(s, "delivery: Ok", n, Duration::from_secs(15));
}

/// The envelope files in the queue (`queue/XX/MSGID/EVPID`), sorted.
pub fn queued_envelopes(s: &Server) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let root = s.path("spool/queue");
    for bucket in dir_entries(&root) {
        for msg in dir_entries(&bucket) {
            for f in dir_entries(&msg) {
                if f.file_name().is_some_and(|n| n != "message") {
                    out.push(f);
                }
            }
        }
    }
    out.sort();
    out
}

/// Wait until the queue holds no envelope (every delivery is final).
pub fn wait_queue_empty(s: &Server) {
    if !eventually(Duration::from_secs(10), || queued_envelopes(s).is_empty()) {
        panic!(
            "queue not empty: {:?}; log:\n{}",
            queued_envelopes(s),
            s.log.text()
        );
    }
}

fn dir_entries(p: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(p)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// Write an executable shell script.
pub fn script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}
