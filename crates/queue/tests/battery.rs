//! One test battery, run on every backend: the fs backend in both sync
//! modes and the ram backend must behave the same through the trait.

mod common;

use common::{content, envelope, queue_message, receive, sorted_ids, walked};
use smtpd_queue::{FsOptions, FsQueue, QueueBackend, QueueError, RamQueue, SyncMode};
use smtpd_types::{EnvelopeKind, EvpId, MailAddr, MsgId};
use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom, Write};

const BODY: &[u8] = b"Subject: hello\n\nA message.\n";

fn create_write_commit_load(q: &mut dyn QueueBackend) {
    let (msgid, envs) = queue_message(q, BODY, &["bob", "carol"]);
    for e in &envs {
        assert_eq!(&q.envelope_load(e.id).unwrap(), e);
    }
    assert_eq!(content(q, msgid), BODY);
    assert_eq!(walked(q), sorted_ids(&envs));
    // Committed means no longer incoming.
    assert!(matches!(
        q.message_fd_w(msgid),
        Err(QueueError::NotIncoming(_))
    ));
    assert!(matches!(q.rollback(msgid), Err(QueueError::NotIncoming(_))));
}

fn readers_are_independent(q: &mut dyn QueueBackend) {
    let (msgid, _) = queue_message(q, BODY, &["bob"]);
    let mut a = q.message_fd_r(msgid).unwrap();
    let mut b = q.message_fd_r(msgid).unwrap();
    let mut first = [0u8; 7];
    a.read_exact(&mut first).unwrap();
    let mut all = Vec::new();
    b.read_to_end(&mut all).unwrap();
    assert_eq!(&first, b"Subject");
    assert_eq!(all, BODY);
}

fn write_fd_can_be_asked_for_again(q: &mut dyn QueueBackend) {
    let msgid = receive(q, b"Subject: hi\n");
    let mut again = q.message_fd_w(msgid).unwrap();
    again.seek(SeekFrom::End(0)).unwrap();
    again.write_all(b"\nbody\n").unwrap();
    q.commit(msgid, vec![envelope(msgid, "bob")]).unwrap();
    assert_eq!(content(q, msgid), b"Subject: hi\n\nbody\n");
}

fn update_replaces_an_envelope(q: &mut dyn QueueBackend) {
    let (_, envs) = queue_message(q, BODY, &["bob"]);
    let mut e = envs[0].clone();
    e.retry = 4;
    e.last_try = 1_700_003_600;
    e.errorline = Some("421 4.4.2 Connection dropped".into());
    q.envelope_update(&e).unwrap();
    assert_eq!(q.envelope_load(e.id).unwrap(), e);

    let mut ghost = e.clone();
    ghost.id = EvpId::random_in(e.msgid());
    assert!(matches!(
        q.envelope_update(&ghost),
        Err(QueueError::EnvelopeNotFound(_))
    ));
    assert!(matches!(
        q.envelope_load(ghost.id),
        Err(QueueError::EnvelopeNotFound(_))
    ));
}

fn delete_last_envelope_removes_message(q: &mut dyn QueueBackend) {
    let (msgid, envs) = queue_message(q, BODY, &["bob", "carol"]);
    assert!(!q.envelope_delete(envs[0].id).unwrap());
    assert!(matches!(
        q.envelope_load(envs[0].id),
        Err(QueueError::EnvelopeNotFound(_))
    ));
    assert_eq!(content(q, msgid), BODY);
    assert!(q.envelope_delete(envs[1].id).unwrap());
    assert!(matches!(
        q.message_fd_r(msgid),
        Err(QueueError::MessageNotFound(_))
    ));
    assert!(matches!(
        q.envelope_delete(envs[1].id),
        Err(QueueError::EnvelopeNotFound(_))
    ));
    assert!(walked(q).is_empty());
    // A deleted envelope is never brought back by an update.
    assert!(matches!(
        q.envelope_update(&envs[1]),
        Err(QueueError::EnvelopeNotFound(_))
    ));
}

fn rollback_leaves_nothing(q: &mut dyn QueueBackend) {
    let msgid = receive(q, BODY);
    q.rollback(msgid).unwrap();
    assert!(matches!(
        q.commit(msgid, vec![envelope(msgid, "bob")]),
        Err(QueueError::NotIncoming(_))
    ));
    assert!(matches!(
        q.message_fd_w(msgid),
        Err(QueueError::NotIncoming(_))
    ));
    assert!(matches!(
        q.message_fd_r(msgid),
        Err(QueueError::MessageNotFound(_))
    ));
    assert!(walked(q).is_empty());
    assert_eq!(q.purge_incoming().unwrap(), 0);
}

fn failed_commit_cancels_the_message(q: &mut dyn QueueBackend) {
    let msgid = receive(q, BODY);
    assert!(matches!(
        q.commit(msgid, vec![]),
        Err(QueueError::NoEnvelopes(_))
    ));
    // Cancelled as a whole: it cannot be committed afterwards either.
    assert!(matches!(
        q.commit(msgid, vec![envelope(msgid, "bob")]),
        Err(QueueError::NotIncoming(_))
    ));

    let no_content = q.create_message().unwrap();
    assert!(matches!(
        q.commit(no_content, vec![envelope(no_content, "bob")]),
        Err(QueueError::NoContent(_))
    ));

    let msgid = receive(q, BODY);
    let mut twice = envelope(msgid, "bob");
    let copy = twice.clone();
    twice.dest = MailAddr::new("other", "example.org");
    assert!(matches!(
        q.commit(msgid, vec![twice, copy]),
        Err(QueueError::EnvelopeExists(_))
    ));

    let msgid = receive(q, BODY);
    let mut bad = envelope(msgid, "bob");
    bad.dest = MailAddr::new("bob\nmda-exec: /bin/sh", "example.org");
    assert!(matches!(
        q.commit(msgid, vec![bad]),
        Err(QueueError::Encode { .. })
    ));

    assert!(walked(q).is_empty());
    assert_eq!(q.purge_incoming().unwrap(), 0);
}

fn add_envelope_to_committed_message(q: &mut dyn QueueBackend) {
    let (msgid, envs) = queue_message(q, BODY, &["bob"]);
    let mut report = envelope(msgid, "sender");
    report.kind = EnvelopeKind::Bounce;
    report.flags.bounce = true;
    report.sender = None;
    report.mda_user = None;
    report.bounce = Some(smtpd_types::envelope::BounceInfo {
        ttl: 0,
        delay: 0,
        kind: smtpd_types::envelope::BounceType::Failed,
    });
    q.envelope_add(&report).unwrap();
    assert_eq!(q.envelope_load(report.id).unwrap(), report);
    let mut all = envs.clone();
    all.push(report.clone());
    assert_eq!(walked(q), sorted_ids(&all));
    assert!(matches!(
        q.envelope_add(&report),
        Err(QueueError::EnvelopeExists(_))
    ));

    // The report keeps the content alive after the original is delivered.
    assert!(!q.envelope_delete(envs[0].id).unwrap());
    assert_eq!(content(q, msgid), BODY);

    let elsewhere = envelope(MsgId(msgid.0.wrapping_add(1).max(1)), "x");
    assert!(matches!(
        q.envelope_add(&elsewhere),
        Err(QueueError::MessageNotFound(_))
    ));
    // Not into a message that is still incoming either.
    let incoming = receive(q, BODY);
    assert!(matches!(
        q.envelope_add(&envelope(incoming, "x")),
        Err(QueueError::MessageNotFound(_))
    ));
}

fn purge_incoming_forgets_open_messages(q: &mut dyn QueueBackend) {
    let (queued, envs) = queue_message(q, BODY, &["bob"]);
    let a = receive(q, BODY);
    let b = q.create_message().unwrap();
    assert_eq!(q.purge_incoming().unwrap(), 2);
    for m in [a, b] {
        assert!(matches!(q.message_fd_w(m), Err(QueueError::NotIncoming(_))));
        assert!(matches!(
            q.commit(m, vec![envelope(m, "bob")]),
            Err(QueueError::NotIncoming(_))
        ));
    }
    // Queued mail is untouched.
    assert_eq!(content(q, queued), BODY);
    assert_eq!(walked(q), sorted_ids(&envs));
}

fn commit_batch_commits_each_message_on_its_own(q: &mut dyn QueueBackend) {
    let good1 = receive(q, b"one\n");
    let bad = receive(q, b"two\n");
    let good2 = receive(q, b"three\n");
    let e1 = vec![envelope(good1, "a"), envelope(good1, "b")];
    let e2 = vec![envelope(good2, "c")];
    // An envelope of another message makes `bad` fail, alone.
    let wrong = vec![envelope(good1, "intruder")];
    let results = q.commit_batch(vec![
        (good1, e1.clone()),
        (bad, wrong),
        (good2, e2.clone()),
        (MsgId(0xdead_beef), vec![envelope(MsgId(0xdead_beef), "x")]),
    ]);
    assert_eq!(results.len(), 4);
    assert!(results[0].is_ok());
    assert!(matches!(results[1], Err(QueueError::WrongMessage { .. })));
    assert!(results[2].is_ok());
    assert!(matches!(results[3], Err(QueueError::NotIncoming(_))));
    assert_eq!(content(q, good1), b"one\n");
    assert_eq!(content(q, good2), b"three\n");
    assert!(matches!(
        q.message_fd_r(bad),
        Err(QueueError::MessageNotFound(_))
    ));
    let mut all = e1;
    all.extend(e2);
    assert_eq!(walked(q), sorted_ids(&all));
    assert_eq!(q.purge_incoming().unwrap(), 0);
}

fn message_ids_are_unique(q: &mut dyn QueueBackend) {
    let mut seen = HashSet::new();
    for _ in 0..200 {
        assert!(seen.insert(q.create_message().unwrap()));
    }
    let (queued, _) = queue_message(q, BODY, &["bob"]);
    assert!(!seen.contains(&queued));
}

fn has_room_by_default(q: &mut dyn QueueBackend) {
    assert!(q.has_room().unwrap());
}

/// Instantiate every check for one backend constructor.
macro_rules! battery {
    ($name:ident, $make:expr) => {
        mod $name {
            use super::*;

            fn run(check: fn(&mut dyn QueueBackend)) {
                #[allow(clippy::redundant_closure_call)]
                let (mut q, _guard) = ($make)();
                check(&mut q);
            }

            #[test]
            fn create_write_commit_load() {
                run(super::create_write_commit_load)
            }
            #[test]
            fn readers_are_independent() {
                run(super::readers_are_independent)
            }
            #[test]
            fn write_fd_can_be_asked_for_again() {
                run(super::write_fd_can_be_asked_for_again)
            }
            #[test]
            fn update_replaces_an_envelope() {
                run(super::update_replaces_an_envelope)
            }
            #[test]
            fn delete_last_envelope_removes_message() {
                run(super::delete_last_envelope_removes_message)
            }
            #[test]
            fn rollback_leaves_nothing() {
                run(super::rollback_leaves_nothing)
            }
            #[test]
            fn failed_commit_cancels_the_message() {
                run(super::failed_commit_cancels_the_message)
            }
            #[test]
            fn add_envelope_to_committed_message() {
                run(super::add_envelope_to_committed_message)
            }
            #[test]
            fn purge_incoming_forgets_open_messages() {
                run(super::purge_incoming_forgets_open_messages)
            }
            #[test]
            fn commit_batch_commits_each_message_on_its_own() {
                run(super::commit_batch_commits_each_message_on_its_own)
            }
            #[test]
            fn message_ids_are_unique() {
                run(super::message_ids_are_unique)
            }
            #[test]
            fn has_room_by_default() {
                run(super::has_room_by_default)
            }
        }
    };
}

fn fs_with(sync: SyncMode) -> (FsQueue, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let q = FsQueue::open(
        &dir.path().join("spool"),
        FsOptions {
            sync,
            ..FsOptions::default()
        },
    )
    .unwrap();
    (q, dir)
}

battery!(fs_files, || fs_with(SyncMode::Files));
battery!(fs_syncfs, || fs_with(SyncMode::Filesystem));
battery!(ram, || (RamQueue::new(), ()));
