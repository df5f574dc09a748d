//! Playing the parent to a lone child: start `smtpd -x ROLE` with a
//! channel whose other end the test holds, to send it what no real parent
//! would (a malformed frame) and watch how it reacts.

use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};

use super::SMTPD;

/// Start `smtpd -x ROLE --ipc-fd N` the way the parent does; returns the
/// child (its stderr piped) and our end of its channel.
pub fn start_child(role: &str) -> (Child, UnixStream) {
    let (ours, theirs) = UnixStream::pair().expect("socketpair");
    // Like the parent: the child's end is close-on-exec except for this
    // spawn (another test spawning meanwhile may inherit it too, which
    // only keeps the socket open a little longer).
    smtpd_ipc::os::clear_cloexec(theirs.as_fd()).expect("clear close-on-exec");
    let child = Command::new(SMTPD)
        .arg("-x")
        .arg(role)
        .arg("--ipc-fd")
        .arg(theirs.as_raw_fd().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting a child role");
    drop(theirs);
    (child, ours)
}
