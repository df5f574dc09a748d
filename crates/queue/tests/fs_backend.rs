//! What only the fs backend promises: OpenSMTPD's layout on disk, nothing
//! half-queued after a crash, damaged files reported, the space check.

mod common;

use common::{content, envelope, queue_message, receive, sorted_ids, walked};
use smtpd_queue::{FsOptions, FsQueue, QueueBackend, QueueError};
use smtpd_types::{EvpId, MsgId};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const BODY: &[u8] = b"Subject: on disk\n\nbody\n";

fn open(spool: &Path) -> FsQueue {
    FsQueue::open(spool, FsOptions::default()).unwrap()
}

fn spool() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    (dir, spool)
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn creates_the_spool_with_opensmtpd_modes() {
    let (_d, spool) = spool();
    open(&spool);
    assert_eq!(mode(&spool), 0o711);
    for sub in ["incoming", "queue", "temporary", "purge"] {
        assert_eq!(mode(&spool.join(sub)), 0o700, "{sub}");
    }
}

#[test]
fn committed_message_lies_in_its_bucket_under_opensmtpd_names() {
    let (_d, spool) = spool();
    let mut q = open(&spool);
    let (msgid, envs) = queue_message(&mut q, BODY, &["bob", "carol"]);

    let dir = spool
        .join("queue")
        .join(format!("{:02x}", msgid.0 >> 24))
        .join(format!("{:08x}", msgid.0));
    assert_eq!(q.message_dir(msgid), dir);
    let mut expected: Vec<String> = envs.iter().map(|e| format!("{:016x}", e.id.0)).collect();
    expected.push("message".into());
    expected.sort();
    assert_eq!(names(&dir), expected);
    assert_eq!(fs::read(dir.join("message")).unwrap(), BODY);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("message")), 0o600);
    let evp_file = dir.join(format!("{:016x}", envs[0].id.0));
    assert_eq!(mode(&evp_file), 0o600);
    let text = fs::read_to_string(evp_file).unwrap();
    assert!(
        text.starts_with("version: 3\ndispatcher: local\ntype: mda\n"),
        "{text}"
    );
    assert!(names(&spool.join("incoming")).is_empty());
}

#[test]
fn incoming_message_lives_in_incoming_until_commit() {
    let (_d, spool) = spool();
    let mut q = open(&spool);
    let msgid = receive(&mut q, BODY);
    let dir = spool.join("incoming").join(msgid.to_string());
    assert_eq!(names(&dir), ["message"]);
    assert_eq!(fs::read(dir.join("message")).unwrap(), BODY);
    q.commit(msgid, vec![envelope(msgid, "bob")]).unwrap();
    assert!(!dir.exists());
}

#[test]
fn queue_survives_a_restart() {
    let (_d, spool) = spool();
    let (msgid, envs) = {
        let mut q = open(&spool);
        queue_message(&mut q, BODY, &["bob", "carol"])
    };
    let mut q = open(&spool);
    assert_eq!(q.purge_incoming().unwrap(), 0);
    assert_eq!(walked(&mut q), sorted_ids(&envs));
    assert_eq!(content(&mut q, msgid), BODY);
    assert_eq!(q.envelope_load(envs[1].id).unwrap(), envs[1]);
}

#[test]
fn crash_before_commit_leaves_nothing_half_queued() {
    let (_d, spool) = spool();
    let committed = {
        let mut q = open(&spool);
        let (_, committed) = queue_message(&mut q, BODY, &["kept"]);
        // A session that wrote its message but never committed.
        receive(&mut q, BODY);
        // Another that had its envelopes on disk when the process died in
        // the middle of a commit (phase 2 done, rename not yet).
        let msgid = receive(&mut q, BODY);
        let e = envelope(msgid, "lost");
        let text = smtpd_queue::envelope_file::encode(&e).unwrap();
        fs::write(
            spool
                .join("incoming")
                .join(msgid.to_string())
                .join(e.id.to_string()),
            text,
        )
        .unwrap();
        // And an envelope rewrite interrupted before its rename.
        fs::write(
            spool.join("incoming").join("00000001deadbeef.tmp"),
            "version: 3\n",
        )
        .unwrap();
        committed
        // Dropped without commit or rollback: the "crash".
    };
    let mut q = open(&spool);
    assert_eq!(walked(&mut q), sorted_ids(&committed));
    assert_eq!(q.purge_incoming().unwrap(), 2);
    assert!(names(&spool.join("incoming")).is_empty());
    assert_eq!(walked(&mut q), sorted_ids(&committed));
}

#[test]
fn corrupt_envelope_is_reported_not_a_panic() {
    let (_d, spool) = spool();
    let mut q = open(&spool);
    let (msgid, envs) = queue_message(&mut q, BODY, &["bob", "carol", "dave"]);
    let victim = envs[1].id;
    let path = q.message_dir(msgid).join(victim.to_string());
    fs::write(&path, b"version: 3\ntype: mda\nrcpt: \xff\xfe\n").unwrap();

    match q.envelope_load(victim) {
        Err(QueueError::Corrupt { evpid, .. }) => assert_eq!(evpid, victim),
        other => panic!("expected a corrupt envelope, got {other:?}"),
    }
    let results: Vec<_> = q.walk().unwrap().collect();
    assert_eq!(results.len(), 3);
    let good: Vec<EvpId> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|e| e.id))
        .collect();
    assert_eq!(good.len(), 2);
    assert!(!good.contains(&victim));
    assert!(results
        .iter()
        .any(|r| matches!(r, Err(QueueError::Corrupt { evpid, .. }) if *evpid == victim)));

    // A file far too large is refused without being read whole.
    fs::write(&path, vec![b'a'; 200_000]).unwrap();
    assert!(matches!(
        q.envelope_load(victim),
        Err(QueueError::Corrupt { .. })
    ));
}

#[test]
fn walk_skips_foreign_names_and_cleans_emptied_messages() {
    let (_d, spool) = spool();
    let mut q = open(&spool);
    let (_, envs) = queue_message(&mut q, BODY, &["bob"]);
    // Leftover of a crash between the last envelope's unlink and rmdir.
    let msgid = MsgId(0x4200_0001);
    let emptied = q.message_dir(msgid);
    fs::create_dir_all(&emptied).unwrap();
    fs::write(emptied.join("message"), BODY).unwrap();
    // Things that are not ours.
    fs::write(spool.join("queue").join("README"), "hi").unwrap();
    fs::create_dir_all(spool.join("queue").join("zz")).unwrap();
    assert_eq!(walked(&mut q), sorted_ids(&envs));
    assert!(!emptied.exists());
}

#[test]
fn envelopes_without_content_are_reported() {
    let (_d, spool) = spool();
    let mut q = open(&spool);
    let (msgid, _) = queue_message(&mut q, BODY, &["bob"]);
    fs::remove_file(q.message_dir(msgid).join("message")).unwrap();
    let results: Vec<_> = q.walk().unwrap().collect();
    assert!(matches!(results.as_slice(), [Err(QueueError::NoContent(m))] if *m == msgid));
}

#[test]
fn space_check_honours_the_reserve() {
    let (_d, spool) = spool();
    let full = FsQueue::open(
        &spool,
        FsOptions {
            reserve_percent: 100,
            ..FsOptions::default()
        },
    )
    .unwrap();
    assert!(!full.has_room().unwrap());
    let none = FsQueue::open(
        &spool,
        FsOptions {
            reserve_percent: 0,
            ..FsOptions::default()
        },
    )
    .unwrap();
    assert!(none.has_room().unwrap());
}

#[test]
fn update_goes_through_a_scratch_file_and_leaves_none() {
    let (_d, spool) = spool();
    let mut q = open(&spool);
    let (_, envs) = queue_message(&mut q, BODY, &["bob"]);
    let mut e = envs[0].clone();
    e.retry = 7;
    q.envelope_update(&e).unwrap();
    assert!(names(&spool.join("incoming")).is_empty());
    assert_eq!(q.envelope_load(e.id).unwrap().retry, 7);
}

#[test]
fn failure_while_publishing_cancels_only_that_message() {
    let (_d, spool) = spool();
    let mut q = open(&spool);
    let doomed = receive(&mut q, BODY);
    // A second message in another bucket, which must not be affected.
    let mut fine = receive(&mut q, BODY);
    while fine.bucket() == doomed.bucket() {
        q.rollback(fine).unwrap();
        fine = receive(&mut q, BODY);
    }
    // A plain file where the doomed message's bucket directory should be
    // makes its rename impossible.
    let bucket = spool.join("queue").join(format!("{:02x}", doomed.bucket()));
    fs::write(&bucket, "in the way").unwrap();

    let fine_envs = vec![envelope(fine, "bob")];
    let results = q.commit_batch(vec![
        (doomed, vec![envelope(doomed, "bob")]),
        (fine, fine_envs.clone()),
    ]);
    assert!(
        matches!(results[0], Err(QueueError::Io { .. })),
        "{:?}",
        results[0]
    );
    assert!(results[1].is_ok());
    // Nothing of the doomed message is left, anywhere.
    assert!(names(&spool.join("incoming")).is_empty());
    assert_eq!(walked(&mut q), sorted_ids(&fine_envs));
    assert!(q.message_fd_r(doomed).is_err());
    assert!(matches!(
        q.message_fd_w(doomed),
        Err(QueueError::NotIncoming(_))
    ));
}

#[test]
fn failure_while_writing_envelopes_cancels_the_message() {
    let (_d, spool) = spool();
    let mut q = open(&spool);
    let msgid = receive(&mut q, BODY);
    let e = envelope(msgid, "bob");
    // Something already sits where the envelope file must be created.
    fs::create_dir(
        spool
            .join("incoming")
            .join(msgid.to_string())
            .join(e.id.to_string()),
    )
    .unwrap();
    assert!(matches!(
        q.commit(msgid, vec![e]),
        Err(QueueError::Io { .. })
    ));
    assert!(names(&spool.join("incoming")).is_empty());
    assert!(walked(&mut q).is_empty());
}

/// Delivered messages give their directory and files to new ones: no
/// inode is allocated or freed in the steady state (see `fs/recycle.rs`),
/// and nothing of the old message survives in the new one.
#[test]
fn delivered_messages_are_recycled_without_leaking_content() {
    use std::os::unix::fs::MetadataExt;
    let (_d, root) = spool();
    let mut q = open(&root);
    let (m1, envs) = queue_message(&mut q, b"the first secret content\n", &["alice"]);
    let dir1 = q.message_dir(m1);
    let dir_ino = fs::metadata(&dir1).unwrap().ino();
    let msg_ino = fs::metadata(dir1.join("message")).unwrap().ino();
    let env_ino = fs::metadata(dir1.join(envs[0].id.to_string()))
        .unwrap()
        .ino();
    assert!(q.envelope_delete(envs[0].id).unwrap(), "the message went");
    assert!(!dir1.exists());
    // Nothing of it is queued any more, even after a restart.
    drop(q);
    let mut q = open(&root);
    assert!(walked(&mut q).is_empty());

    // The next message takes the same inodes; written over from the start
    // and cut to length by the writer, nothing of the first one remains.
    let m2 = q.create_message().unwrap();
    let incoming = root.join("incoming").join(m2.to_string());
    assert_eq!(fs::metadata(&incoming).unwrap().ino(), dir_ino);
    {
        let mut f = q.message_fd_w(m2).unwrap();
        std::io::Write::write_all(&mut f, b"second\n").unwrap();
        f.set_len(7).unwrap();
    }
    let e2 = envelope(m2, "bob");
    q.commit(m2, vec![e2.clone()]).unwrap();
    let dir2 = q.message_dir(m2);
    assert_eq!(fs::metadata(dir2.join("message")).unwrap().ino(), msg_ino);
    assert_eq!(
        fs::metadata(dir2.join(e2.id.to_string())).unwrap().ino(),
        env_ino
    );
    assert_eq!(content(&mut q, m2), b"second\n");
    let mut want = vec![e2.id.to_string(), "message".to_string()];
    want.sort();
    assert_eq!(names(&dir2), want);
    assert_eq!(q.envelope_load(e2.id).unwrap(), e2);
}

/// A rolled-back incoming message is recycled too, and the spares a
/// previous run left are emptied when the queue opens.
#[test]
fn abandoned_messages_and_leftover_spares_are_emptied() {
    let (_d, root) = spool();
    let mut q = open(&root);
    let m = receive(&mut q, b"abandoned content\n");
    q.rollback(m).unwrap();
    let spare = fs::read_dir(root.join("purge"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    assert!(spare.join("message").is_file());
    drop(q);
    let mut q = open(&root);
    let m2 = q.create_message().unwrap();
    assert_eq!(
        fs::metadata(root.join("incoming").join(m2.to_string()).join("message"))
            .unwrap()
            .len(),
        0
    );
}

/// The split commit: the syncs and renames of a prepared batch finish on
/// another thread while the backend creates and rolls back other messages.
#[test]
fn a_prepared_commit_finishes_on_another_thread() {
    let (_d, root) = spool();
    let mut q = open(&root);
    let m = receive(&mut q, b"content\n");
    let e = envelope(m, "alice");
    let pending = q.commit_prepare(vec![(m, vec![e.clone()])]);
    let other = receive(&mut q, b"other\n");
    let results = std::thread::spawn(move || pending.finish()).join().unwrap();
    assert!(results[0].is_ok(), "{results:?}");
    q.rollback(other).unwrap();
    assert_eq!(walked(&mut q), vec![e.id]);
    assert_eq!(content(&mut q, m), b"content\n");
}

/// A recycled file that held a longer message is cut to the new one's
/// length: not one byte of the old message reaches a delivery.
#[test]
fn a_recycled_file_never_shows_the_previous_message() {
    let (_d, root) = spool();
    let mut q = open(&root);
    let long = b"a much longer first message, with private words in it\n".repeat(50);
    let (m1, e1) = queue_message(&mut q, &long, &["alice"]);
    assert!(q.envelope_delete(e1[0].id).unwrap());
    let _ = m1;
    let (m2, _) = queue_message(&mut q, b"short\n", &["bob"]);
    assert_eq!(content(&mut q, m2), b"short\n");
}
