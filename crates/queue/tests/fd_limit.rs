//! A commit must not need a descriptor per envelope: a message may have a
//! thousand recipients, and a batch many messages. This runs alone in its
//! own test process because it lowers the process's descriptor limit.

mod common;

use common::{content, envelope, receive, sorted_ids, walked};
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use smtpd_queue::{FsOptions, FsQueue, QueueBackend};

#[test]
fn commit_of_more_envelopes_than_descriptors() {
    let dir = tempfile::tempdir().unwrap();
    let mut q = FsQueue::open(&dir.path().join("spool"), FsOptions::default()).unwrap();
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, 64, hard).unwrap();

    let msgid = receive(&mut q, b"Subject: many\n\nhi\n");
    let envs: Vec<_> = (0..300)
        .map(|i| envelope(msgid, &format!("user{i}")))
        .collect();
    q.commit(msgid, envs.clone()).unwrap();
    assert_eq!(walked(&mut q), sorted_ids(&envs));
    assert_eq!(content(&mut q, msgid), b"Subject: many\n\nhi\n");
}
