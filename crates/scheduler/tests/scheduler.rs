//! The scheduler on a fake clock: time is a number the test moves.

use smtpd_scheduler::{
    Batch, Config, DelayWarning, EvpState, Limits, Removal, SchedError, Scheduler, Target, Verdict,
};
use smtpd_types::{DeliveryOutcome, EnhancedStatus, EnvelopeKind, EvpId, MsgId, SchedInfo};

const T0: u64 = 1_700_000_000;
const DAY: u64 = 86_400;

fn info(msg: u32, n: u32, kind: EnvelopeKind) -> SchedInfo {
    SchedInfo {
        evpid: EvpId((u64::from(msg) << 32) | u64::from(n)),
        kind,
        ctime: T0,
        ttl: 4 * DAY,
        retry: 0,
        last_try: 0,
        last_bounce: 0,
        is_bounce_msg: false,
    }
}

fn tempfail() -> DeliveryOutcome {
    DeliveryOutcome::tempfail(EnhancedStatus::new(4, 2, 0), "busy")
}

fn permfail() -> DeliveryOutcome {
    DeliveryOutcome::permfail(EnhancedStatus::new(5, 1, 1), "no such user")
}

fn with_limits(limits: Limits) -> Scheduler {
    Scheduler::new(Config {
        limits,
        ..Config::default()
    })
}

/// Insert and commit one message's envelopes.
fn queue(s: &mut Scheduler, infos: &[SchedInfo]) {
    for i in infos {
        s.insert(*i).unwrap();
    }
    let msgid = infos[0].evpid.msgid();
    assert_eq!(s.commit(msgid), infos.len());
}

fn all_ids(b: &Batch) -> Vec<EvpId> {
    let mut v: Vec<EvpId> = b
        .mda
        .iter()
        .chain(&b.mta)
        .chain(&b.bounce)
        .copied()
        .collect();
    v.sort();
    v
}

#[test]
fn envelopes_wait_for_their_commit_and_are_handed_out_once() {
    let mut s = Scheduler::new(Config::default());
    let e = info(1, 1, EnvelopeKind::Mda);
    s.insert(e).unwrap();
    assert!(s.batch(T0).is_empty());
    assert_eq!(s.next_wakeup(T0), None);
    assert_eq!(s.len(), 0);

    assert_eq!(s.commit(MsgId(1)), 1);
    assert_eq!(s.next_wakeup(T0), Some(T0));
    let b = s.batch(T0);
    assert_eq!(b.mda, vec![e.evpid]);
    assert_eq!(s.inflight(), 1);
    // In flight: never handed out again, however long it takes.
    assert!(s.batch(T0 + DAY).is_empty());
    assert_eq!(
        s.outcome(e.evpid, &DeliveryOutcome::Ok, T0 + 1),
        Ok(Verdict::Done)
    );
    assert_eq!(s.len(), 0);
    assert_eq!(s.inflight(), 0);
    assert_eq!(s.next_wakeup(T0 + 1), None);
}

#[test]
fn rollback_forgets_staged_envelopes() {
    let mut s = Scheduler::new(Config::default());
    s.insert(info(1, 1, EnvelopeKind::Mda)).unwrap();
    s.insert(info(1, 2, EnvelopeKind::Mta)).unwrap();
    assert_eq!(s.rollback(MsgId(1)), 2);
    assert_eq!(s.commit(MsgId(1)), 0);
    assert!(s.batch(T0).is_empty());
    assert_eq!(s.rollback(MsgId(1)), 0);
    // The ids are free again.
    s.insert(info(1, 1, EnvelopeKind::Mda)).unwrap();
}

#[test]
fn refuses_what_its_state_does_not_allow() {
    let mut s = Scheduler::new(Config::default());
    let e = info(1, 1, EnvelopeKind::Mda);
    queue(&mut s, &[e]);
    assert_eq!(s.insert(e), Err(SchedError::Duplicate(e.evpid)));
    assert_eq!(
        s.outcome(e.evpid, &DeliveryOutcome::Ok, T0),
        Err(SchedError::NotInflight(e.evpid))
    );
    let ghost = EvpId(0x9_0000_0009);
    assert_eq!(
        s.outcome(ghost, &DeliveryOutcome::Ok, T0),
        Err(SchedError::Unknown(ghost))
    );
    s.insert(info(2, 1, EnvelopeKind::Mta)).unwrap();
    assert_eq!(
        s.insert(info(2, 1, EnvelopeKind::Mta)),
        Err(SchedError::Duplicate(info(2, 1, EnvelopeKind::Mta).evpid))
    );
}

#[test]
fn batches_respect_max_schedule() {
    let mut s = Scheduler::new(Config::default());
    let infos: Vec<SchedInfo> = (1..=25).map(|n| info(7, n, EnvelopeKind::Mda)).collect();
    queue(&mut s, &infos);
    let sizes: Vec<usize> = (0..4).map(|_| s.batch(T0).len()).collect();
    assert_eq!(sizes, [10, 10, 5, 0]);
    assert_eq!(s.inflight(), 25);
}

#[test]
fn batches_respect_max_inflight() {
    let mut s = with_limits(Limits {
        max_inflight: 12,
        ..Limits::default()
    });
    let infos: Vec<SchedInfo> = (1..=20).map(|n| info(7, n, EnvelopeKind::Mda)).collect();
    queue(&mut s, &infos);
    assert_eq!(s.batch(T0).len(), 10);
    let second = s.batch(T0);
    assert_eq!(second.len(), 2);
    assert!(s.batch(T0).is_empty());
    assert_eq!(s.inflight(), 12);
    // Full: the next event is no delivery, only the earliest expiry.
    assert_eq!(s.next_wakeup(T0), Some(T0 + 4 * DAY));
    s.outcome(second.mda[0], &DeliveryOutcome::Ok, T0).unwrap();
    assert_eq!(s.next_wakeup(T0), Some(T0));
    assert_eq!(s.batch(T0).len(), 1);
}

#[test]
fn kinds_share_each_batch() {
    let mut s = with_limits(Limits {
        max_schedule: 6,
        ..Limits::default()
    });
    for (msg, kind) in [
        (1, EnvelopeKind::Mda),
        (2, EnvelopeKind::Mta),
        (3, EnvelopeKind::Bounce),
    ] {
        let infos: Vec<SchedInfo> = (1..=10).map(|n| info(msg, n, kind)).collect();
        queue(&mut s, &infos);
    }
    let b = s.batch(T0);
    assert_eq!((b.mda.len(), b.mta.len(), b.bounce.len()), (2, 2, 2));
    assert!(b.mda.iter().all(|e| e.msgid() == MsgId(1)));
    assert!(b.mta.iter().all(|e| e.msgid() == MsgId(2)));
    assert!(b.bounce.iter().all(|e| e.msgid() == MsgId(3)));
}

/// Fail an envelope at each of its due times and collect the next tries.
fn next_tries(kind: EnvelopeKind) -> Vec<u64> {
    let mut s = Scheduler::new(Config::default());
    let e = info(1, 1, kind);
    queue(&mut s, &[e]);
    let mut now = T0;
    let mut tries = Vec::new();
    for n in 1..=5u32 {
        assert_eq!(all_ids(&s.batch(now)), vec![e.evpid], "attempt {n}");
        match s.outcome(e.evpid, &tempfail(), now).unwrap() {
            Verdict::Retry {
                retry, next_try, ..
            } => {
                assert_eq!(retry, n);
                // Not a second early.
                assert!(s.batch(next_try - 1).is_empty());
                assert_eq!(s.next_wakeup(now), Some(next_try));
                tries.push(next_try - T0);
                now = next_try;
            }
            other => panic!("attempt {n}: {other:?}"),
        }
    }
    tries
}

#[test]
fn backoff_for_relaying_is_400_seconds_times_n_squared() {
    assert_eq!(
        next_tries(EnvelopeKind::Mta),
        [400, 1600, 3600, 6400, 10_000]
    );
}

#[test]
fn backoff_for_local_delivery_is_10_seconds_times_n_squared() {
    assert_eq!(next_tries(EnvelopeKind::Mda), [10, 40, 90, 160, 250]);
}

#[test]
fn missed_steps_are_skipped_not_made_up() {
    let mut s = Scheduler::new(Config::default());
    let e = info(1, 1, EnvelopeKind::Mta);
    queue(&mut s, &[e]);
    // The first attempt only ends (or starts) long after creation.
    s.batch(T0);
    let late = T0 + 400 * 9 + 1;
    assert_eq!(
        s.outcome(e.evpid, &tempfail(), late),
        Ok(Verdict::Retry {
            retry: 1,
            next_try: T0 + 400 * 16,
            delay_warning: None
        })
    );
}

#[test]
fn reloaded_envelopes_resume_their_backoff() {
    let mut s = Scheduler::new(Config::default());
    let mut e = info(1, 1, EnvelopeKind::Mta);
    e.retry = 3;
    queue(&mut s, &[e]);
    assert_eq!(s.next_wakeup(T0), Some(T0 + 3600));
    assert!(s.batch(T0 + 3599).is_empty());
    assert_eq!(s.batch(T0 + 3600).mta, vec![e.evpid]);
}

#[test]
fn envelopes_expire_after_their_ttl() {
    let mut s = Scheduler::new(Config::default());
    let mut e = info(1, 1, EnvelopeKind::Mta);
    e.ttl = 1000;
    let mut f = info(1, 2, EnvelopeKind::Mta);
    f.ttl = 5000;
    queue(&mut s, &[e, f]);
    assert_eq!(all_ids(&s.batch(T0)), vec![e.evpid, f.evpid]);
    // e's next try (T0+400) comes before its expiry; f fails late, past
    // e's expiry but not its own.
    assert!(matches!(
        s.outcome(e.evpid, &tempfail(), T0),
        Ok(Verdict::Retry { .. })
    ));
    assert_eq!(s.batch(T0 + 400).mta, vec![e.evpid]);
    assert!(matches!(
        s.outcome(e.evpid, &tempfail(), T0 + 400),
        Ok(Verdict::Retry { next_try, .. }) if next_try == T0 + 1600
    ));
    // Expiry comes before the next try, and the scheduler wakes for it.
    assert_eq!(s.next_wakeup(T0 + 400), Some(T0 + 1000));
    let b = s.batch(T0 + 1000);
    assert_eq!(b.expired, vec![e.evpid]);
    assert!(all_ids(&b).is_empty());
    assert_eq!(s.status(e.evpid), None);
    // A temporary failure past the ttl is an expiry too.
    assert!(matches!(
        s.outcome(f.evpid, &tempfail(), T0 + 5000),
        Ok(Verdict::Expired)
    ));
    assert!(s.is_empty());
}

#[test]
fn a_due_envelope_past_its_expiry_is_expired_not_tried() {
    let mut s = Scheduler::new(Config::default());
    let mut infos: Vec<SchedInfo> = (1..=3).map(|n| info(1, n, EnvelopeKind::Mda)).collect();
    for i in &mut infos {
        i.ttl = 60;
    }
    queue(&mut s, &infos);
    let b = s.batch(T0 + 60);
    assert_eq!(b.expired.len(), 3);
    assert!(all_ids(&b).is_empty());
}

#[test]
fn permanent_failures_and_loops_bounce() {
    let mut s = Scheduler::new(Config::default());
    let (a, b) = (info(1, 1, EnvelopeKind::Mta), info(1, 2, EnvelopeKind::Mda));
    queue(&mut s, &[a, b]);
    s.batch(T0);
    assert_eq!(s.outcome(a.evpid, &permfail(), T0), Ok(Verdict::Bounce));
    let looped = DeliveryOutcome::Loop {
        reason: "too many hops".into(),
    };
    assert_eq!(s.outcome(b.evpid, &looped, T0), Ok(Verdict::Bounce));
    assert!(s.is_empty());
}

#[test]
fn pausing_envelopes_messages_and_everything() {
    let mut s = Scheduler::new(Config::default());
    let m1: Vec<SchedInfo> = (1..=2).map(|n| info(1, n, EnvelopeKind::Mda)).collect();
    let m2: Vec<SchedInfo> = (1..=2).map(|n| info(2, n, EnvelopeKind::Mta)).collect();
    queue(&mut s, &m1);
    queue(&mut s, &m2);

    assert_eq!(s.pause(Target::Envelope(m1[0].evpid)), 1);
    assert_eq!(s.pause(Target::Message(MsgId(2))), 2);
    assert_eq!(
        s.status(m1[0].evpid).map(|st| st.state),
        Some(EvpState::Held)
    );
    assert_eq!(all_ids(&s.batch(T0)), vec![m1[1].evpid]);
    assert_eq!(s.pause(Target::Message(MsgId(2))), 0, "already paused");

    assert_eq!(s.resume(Target::Message(MsgId(2))), 2);
    assert_eq!(all_ids(&s.batch(T0)), vec![m2[0].evpid, m2[1].evpid]);

    // Pause all (m1[0] already is): even the in-flight ones wait, paused,
    // after their attempt.
    assert_eq!(s.pause(Target::All), 3);
    assert!(matches!(
        s.outcome(m2[0].evpid, &tempfail(), T0),
        Ok(Verdict::Retry { .. })
    ));
    assert!(s.batch(T0 + DAY).is_empty());
    assert_eq!(s.next_wakeup(T0), None);
    assert_eq!(s.resume(Target::All), 4);
    assert_eq!(all_ids(&s.batch(T0 + DAY)), vec![m1[0].evpid, m2[0].evpid]);
}

#[test]
fn a_paused_envelope_does_not_expire_until_resumed() {
    let mut s = Scheduler::new(Config::default());
    let mut e = info(1, 1, EnvelopeKind::Mda);
    e.ttl = 100;
    queue(&mut s, &[e]);
    s.pause(Target::Envelope(e.evpid));
    assert!(s.batch(T0 + 1000).is_empty());
    s.resume(Target::Envelope(e.evpid));
    assert_eq!(s.batch(T0 + 1000).expired, vec![e.evpid]);
}

#[test]
fn pausing_a_kind_holds_its_envelopes_only() {
    let mut s = Scheduler::new(Config::default());
    let local = info(1, 1, EnvelopeKind::Mda);
    let remote = info(2, 1, EnvelopeKind::Mta);
    queue(&mut s, &[local]);
    queue(&mut s, &[remote]);
    s.pause_kind(EnvelopeKind::Mda);
    assert!(s.is_kind_paused(EnvelopeKind::Mda));
    assert_eq!(
        s.status(local.evpid).map(|st| st.state),
        Some(EvpState::Held)
    );
    assert_eq!(s.batch(T0).mta, vec![remote.evpid]);
    assert!(s.batch(T0).is_empty());
    // Only the expiry of the held one is left to wake up for.
    assert_eq!(s.next_wakeup(T0), Some(T0 + 4 * DAY));
    s.resume_kind(EnvelopeKind::Mda);
    assert_eq!(s.next_wakeup(T0), Some(T0));
    assert_eq!(s.batch(T0).mda, vec![local.evpid]);
}

#[test]
fn schedule_now_makes_pending_envelopes_due() {
    let mut s = Scheduler::new(Config::default());
    let a = info(1, 1, EnvelopeKind::Mta);
    let b = info(1, 2, EnvelopeKind::Mta);
    let c = info(2, 1, EnvelopeKind::Mta);
    queue(&mut s, &[a, b]);
    queue(&mut s, &[c]);
    s.batch(T0);
    for e in [a, b, c] {
        s.outcome(e.evpid, &tempfail(), T0).unwrap();
    }
    let now = T0 + 60;
    assert!(s.batch(now).is_empty());
    assert_eq!(s.schedule_now(Target::Envelope(a.evpid), now), 1);
    assert_eq!(s.next_wakeup(now), Some(now));
    assert_eq!(s.batch(now).mta, vec![a.evpid]);
    // In flight: left alone.
    assert_eq!(s.schedule_now(Target::Envelope(a.evpid), now), 0);
    assert_eq!(s.schedule_now(Target::Message(MsgId(1)), now), 1);
    assert_eq!(s.batch(now).mta, vec![b.evpid]);
    assert_eq!(s.schedule_now(Target::All, now), 1);
    assert_eq!(s.batch(now).mta, vec![c.evpid]);
}

#[test]
fn removing_pending_and_in_flight_envelopes() {
    let mut s = Scheduler::new(Config::default());
    let a = info(1, 1, EnvelopeKind::Mda);
    let b = info(1, 2, EnvelopeKind::Mda);
    let c = info(2, 1, EnvelopeKind::Mta);
    let d = info(2, 2, EnvelopeKind::Mta);
    queue(&mut s, &[a, b]);
    queue(&mut s, &[c, d]);
    // a and c go out; b and d stay pending.
    s.pause(Target::Envelope(b.evpid));
    s.pause(Target::Envelope(d.evpid));
    assert_eq!(all_ids(&s.batch(T0)), vec![a.evpid, c.evpid]);

    assert_eq!(
        s.remove(Target::Message(MsgId(1))),
        Removal {
            now: vec![b.evpid],
            when_back: vec![a.evpid],
        }
    );
    assert_eq!(s.status(a.evpid).map(|st| st.removing), Some(true));
    // Asking twice changes nothing.
    assert_eq!(s.remove(Target::Envelope(a.evpid)), Removal::default());
    assert_eq!(s.outcome(a.evpid, &tempfail(), T0), Ok(Verdict::Removed));
    assert_eq!(s.inflight(), 1);

    // Delivered before the removal took effect: done is done.
    assert_eq!(s.remove(Target::All).when_back, vec![c.evpid]);
    assert_eq!(
        s.outcome(c.evpid, &DeliveryOutcome::Ok, T0),
        Ok(Verdict::Done)
    );
    assert!(s.is_empty());
    assert_eq!(s.inflight(), 0);
}

#[test]
fn forgetting_an_in_flight_envelope_frees_its_slot() {
    let mut s = Scheduler::new(Config::default());
    let e = info(1, 1, EnvelopeKind::Mda);
    queue(&mut s, &[e]);
    s.batch(T0);
    assert!(s.forget(e.evpid));
    assert_eq!(s.inflight(), 0);
    assert!(!s.forget(e.evpid));
    assert_eq!(
        s.outcome(e.evpid, &DeliveryOutcome::Ok, T0),
        Err(SchedError::Unknown(e.evpid))
    );
}

#[test]
fn delay_warnings_once_per_interval() {
    let mut s = Scheduler::new(Config {
        delay_warnings: vec![3600, 7200],
        ..Config::default()
    });
    let e = info(1, 1, EnvelopeKind::Mta);
    let mut report = info(2, 1, EnvelopeKind::Mta);
    report.is_bounce_msg = true;
    queue(&mut s, &[e]);
    queue(&mut s, &[report]);
    let mut now = T0;
    let mut warnings = Vec::new();
    for _ in 0..5 {
        s.batch(now);
        let Ok(Verdict::Retry {
            next_try,
            delay_warning,
            ..
        }) = s.outcome(e.evpid, &tempfail(), now)
        else {
            panic!("expected a retry");
        };
        let Ok(Verdict::Retry {
            delay_warning: none,
            ..
        }) = s.outcome(report.evpid, &tempfail(), now)
        else {
            panic!("expected a retry");
        };
        assert_eq!(none, None, "never a warning about a report");
        warnings.push(delay_warning);
        now = next_try;
    }
    // Next tries: +400, +1600, +3600, +6400, +10000.
    assert_eq!(
        warnings,
        [
            None,
            None,
            Some(DelayWarning {
                at: T0 + 3600,
                delay: 3600
            }),
            None,
            Some(DelayWarning {
                at: T0 + 7200,
                delay: 7200
            }),
        ]
    );
}

#[test]
fn listings_page_through_messages_and_envelopes() {
    let mut s = with_limits(Limits {
        max_msg_batch_size: 2,
        max_evp_batch_size: 3,
        max_schedule: 1,
        ..Limits::default()
    });
    for msg in 1..=3 {
        let infos: Vec<SchedInfo> = (1..=2).map(|n| info(msg, n, EnvelopeKind::Mta)).collect();
        queue(&mut s, &infos);
    }
    assert_eq!(s.messages(None), [MsgId(1), MsgId(2)]);
    assert_eq!(s.messages(Some(MsgId(2))), [MsgId(3)]);
    assert!(s.messages(Some(MsgId(3))).is_empty());

    let first = s.envelopes(None);
    assert_eq!(first.len(), 3);
    let second = s.envelopes(first.last().map(|st| st.evpid));
    assert_eq!(second.len(), 3);
    assert!(s.envelopes(second.last().map(|st| st.evpid)).is_empty());

    let out = s.batch(T0).mta[0];
    s.outcome(out, &tempfail(), T0 + 5).unwrap();
    let st = s.status(out).unwrap();
    assert_eq!(st.state, EvpState::Pending);
    assert_eq!((st.retry, st.last_try, st.time), (1, T0 + 5, T0 + 400));
    assert_eq!(st.expires_at, T0 + 4 * DAY);
    let inflight = s.batch(T0).mta[0];
    let st = s.status(inflight).unwrap();
    assert_eq!((st.state, st.time), (EvpState::Inflight, T0));
}

#[test]
fn reports_added_to_a_committed_message_are_scheduled_on_their_commit() {
    let mut s = Scheduler::new(Config::default());
    let original = info(1, 1, EnvelopeKind::Mta);
    queue(&mut s, &[original]);
    let report = info(1, 2, EnvelopeKind::Bounce);
    s.insert(report).unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s.commit(MsgId(1)), 1);
    let b = s.batch(T0);
    assert_eq!(
        (b.mta.clone(), b.bounce.clone()),
        (vec![original.evpid], vec![report.evpid])
    );
}
