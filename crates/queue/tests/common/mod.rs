//! Helpers shared by the queue's integration tests.
#![allow(dead_code)]

use smtpd_queue::QueueBackend;
use smtpd_types::{Envelope, EnvelopeKind, EvpId, MailAddr, MsgId};
use std::io::{Read, Write};

/// A plausible envelope of message `msgid` for recipient `user@example.org`.
pub fn envelope(msgid: MsgId, user: &str) -> Envelope {
    let mut e = Envelope::new(
        EvpId::random_in(msgid),
        EnvelopeKind::Mda,
        Some(MailAddr::new("sender", "example.net")),
        MailAddr::new(user, "example.org"),
    );
    e.dispatcher = "local".into();
    e.smtpname = "mx.example.org".into();
    e.helo = "client.example.net".into();
    e.hostname = "client.example.net".into();
    e.sockaddr = "192.0.2.1".into();
    e.ctime = 1_700_000_000;
    e.ttl = 345_600;
    e.mda_user = Some(user.into());
    e
}

/// Open a message, write `content` through the handed-out file as the
/// SMTP process would, and return its id.
pub fn receive(q: &mut dyn QueueBackend, content: &[u8]) -> MsgId {
    let msgid = q.create_message().unwrap();
    let mut f = q.message_fd_w(msgid).unwrap();
    f.write_all(content).unwrap();
    // The writer's part of the contract: cut a recycled file to length.
    f.set_len(content.len() as u64).unwrap();
    msgid
}

/// Receive and commit a message with recipients `users`.
pub fn queue_message(
    q: &mut dyn QueueBackend,
    content: &[u8],
    users: &[&str],
) -> (MsgId, Vec<Envelope>) {
    let msgid = receive(q, content);
    let envs: Vec<Envelope> = users.iter().map(|u| envelope(msgid, u)).collect();
    q.commit(msgid, envs.clone()).unwrap();
    (msgid, envs)
}

/// The content of a queued message.
pub fn content(q: &mut dyn QueueBackend, msgid: MsgId) -> Vec<u8> {
    let mut buf = Vec::new();
    q.message_fd_r(msgid)
        .unwrap()
        .read_to_end(&mut buf)
        .unwrap();
    buf
}

/// Every envelope id the walk finds, sorted; panics on a walk error.
pub fn walked(q: &mut dyn QueueBackend) -> Vec<EvpId> {
    let mut ids: Vec<EvpId> = q.walk().unwrap().map(|r| r.unwrap().id).collect();
    ids.sort();
    ids
}

pub fn sorted_ids(envs: &[Envelope]) -> Vec<EvpId> {
    let mut ids: Vec<EvpId> = envs.iter().map(|e| e.id).collect();
    ids.sort();
    ids
}
