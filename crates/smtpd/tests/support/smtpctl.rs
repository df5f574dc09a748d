//! Running the real `smtpctl` binary (crates/smtpctl) against a test
//! server, and its faces (`sendmail`, `mailq`, … as links named so).
//!
//! `cargo test -p smtpd` builds only smtpd's own binary, so smtpctl is
//! taken from beside it in the target directory, and built there first
//! (`cargo build -p smtpctl`, once per test program) when it is missing or
//! older than its sources. `cargo test --workspace` has built it already.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::SystemTime;

use super::Server;

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The newest modification time among the files under `dir`.
fn newest(dir: &Path) -> Option<SystemTime> {
    let mut best: Option<SystemTime> = None;
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        let t = if p.is_dir() {
            newest(&p)
        } else {
            e.metadata().and_then(|m| m.modified()).ok()
        };
        best = best.max(t);
    }
    best
}

fn stale(bin: &Path) -> bool {
    let Ok(built) = bin.metadata().and_then(|m| m.modified()) else {
        return true;
    };
    // smtpctl and every crate it is built from: a change in any (say the
    // IPC version in crates/ipc) makes an old binary fail against the server.
    [
        "crates/smtpctl",
        "crates/control-proto",
        "crates/ipc",
        "crates/types",
        "crates/proto",
        "crates/config",
        "crates/table",
        "crates/queue",
    ]
    .iter()
    .filter_map(|d| newest(&root().join(d)))
    .any(|src| src > built)
}

/// The smtpctl binary, up to date.
pub fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = Path::new(super::SMTPD).with_file_name("smtpctl");
        if stale(&bin) {
            // SMTPD is TARGET/PROFILE/smtpd: build into the same place.
            let profile_dir = bin.parent().expect("a profile directory");
            let target = profile_dir.parent().expect("a target directory");
            let mut cmd = Command::new(env!("CARGO"));
            cmd.args(["build", "-q", "-p", "smtpctl", "--target-dir"])
                .arg(target)
                .current_dir(root());
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                cmd.arg("--release");
            }
            let st = cmd.status().expect("running cargo build -p smtpctl");
            assert!(st.success(), "cargo build -p smtpctl failed");
        }
        assert!(bin.exists(), "no smtpctl at {}", bin.display());
        bin
    })
}

/// `smtpctl --socket … --spool … ARGS` for `server`.
pub fn command(server: &Server, args: &[&str]) -> Command {
    command_at(&server.path("smtpd.sock"), &server.path("spool"), args)
}

/// `smtpctl --socket SOCKET --spool SPOOL ARGS` (a server that may not
/// run).
pub fn command_at(socket: &Path, spool: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(binary());
    cmd.arg("--socket")
        .arg(socket)
        .arg("--spool")
        .arg(spool)
        .args(args)
        .stdin(Stdio::null());
    cmd
}

/// Run `smtpctl ARGS` against `server`.
pub fn run(server: &Server, args: &[&str]) -> Output {
    command(server, args).output().expect("running smtpctl")
}

/// Run `smtpctl ARGS`, which must succeed; its standard output.
pub fn ok(server: &Server, args: &[&str]) -> String {
    let out = run(server, args);
    assert!(
        out.status.success(),
        "smtpctl {args:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("smtpctl prints UTF-8")
}

/// A link called `name` to smtpctl in `dir` (the faces are chosen by the
/// program's name).
pub fn face(dir: &Path, name: &str) -> PathBuf {
    let link = dir.join(name);
    if !link.exists() {
        std::os::unix::fs::symlink(binary(), &link).expect("linking a face");
    }
    link
}

/// The lines of `show queue`, split into their `|` fields.
pub fn queue_lines(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split('|').map(String::from).collect())
        .collect()
}
