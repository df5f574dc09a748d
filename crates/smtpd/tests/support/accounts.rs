//! The system accounts of privileged tests, and running a command as one.

use std::process::{Command, Output};

/// uid and gid of an account; `None` if it does not exist.
pub fn lookup(name: &str) -> Option<(u32, u32)> {
    nix::unistd::User::from_name(name)
        .ok()
        .flatten()
        .map(|u| (u.uid.as_raw(), u.gid.as_raw()))
}

/// Run `argv` as `uid`/`gid` with no supplementary group (util-linux
/// `setpriv`, as root): what a process of that user may do.
pub fn run_as(uid: u32, gid: u32, argv: &[&str]) -> Output {
    Command::new("setpriv")
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .arg("--clear-groups")
        .arg("--")
        .args(argv)
        .output()
        .expect("running setpriv")
}
