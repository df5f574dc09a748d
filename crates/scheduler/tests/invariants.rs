//! Random sequences of operations keep the scheduler consistent: nothing is
//! handed out twice, nothing past its expiry is tried, and the in-flight
//! count always matches the envelopes in flight.

use proptest::prelude::*;
use smtpd_scheduler::{Config, EvpState, Limits, Scheduler, Target, Verdict};
use smtpd_types::{DeliveryOutcome, EnhancedStatus, EnvelopeKind, EvpId, MsgId, SchedInfo};
use std::collections::{BTreeMap, HashSet};

#[derive(Clone, Debug)]
enum Op {
    Queue {
        msg: u32,
        n: u32,
        kind: u8,
        ttl: u64,
    },
    Batch,
    Outcome {
        pick: usize,
        result: u8,
    },
    Tick(u64),
    Pause {
        msg: u32,
    },
    Resume {
        msg: u32,
    },
    PauseKind(u8),
    ResumeKind(u8),
    Schedule {
        msg: u32,
    },
    Remove {
        msg: u32,
    },
}

fn kind(k: u8) -> EnvelopeKind {
    [EnvelopeKind::Mda, EnvelopeKind::Mta, EnvelopeKind::Bounce][usize::from(k % 3)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u32..6, 1u32..4, any::<u8>(), 1u64..5000).prop_map(|(msg, n, kind, ttl)| Op::Queue {
            msg,
            n,
            kind,
            ttl
        }),
        Just(Op::Batch),
        Just(Op::Batch),
        (any::<usize>(), any::<u8>()).prop_map(|(pick, result)| Op::Outcome { pick, result }),
        (0u64..2000).prop_map(Op::Tick),
        (1u32..6).prop_map(|msg| Op::Pause { msg }),
        (1u32..6).prop_map(|msg| Op::Resume { msg }),
        any::<u8>().prop_map(Op::PauseKind),
        any::<u8>().prop_map(Op::ResumeKind),
        (1u32..6).prop_map(|msg| Op::Schedule { msg }),
        (1u32..6).prop_map(|msg| Op::Remove { msg }),
    ]
}

/// Count envelopes in flight by paging through the listing.
fn listed_inflight(s: &Scheduler) -> usize {
    let mut n = 0;
    let mut after = None;
    loop {
        let page = s.envelopes(after);
        let Some(last) = page.last() else { return n };
        after = Some(last.evpid);
        n += page
            .iter()
            .filter(|st| st.state == EvpState::Inflight)
            .count();
    }
}

proptest! {
    #[test]
    fn random_operations_keep_the_scheduler_consistent(ops in proptest::collection::vec(op(), 1..120)) {
        let mut s = Scheduler::new(Config {
            limits: Limits { max_inflight: 7, max_schedule: 4, ..Limits::default() },
            ..Config::default()
        });
        let mut now = 1_000_000u64;
        let mut inflight: BTreeMap<EvpId, ()> = BTreeMap::new();
        let mut expiry: BTreeMap<EvpId, u64> = BTreeMap::new();
        let mut known: HashSet<EvpId> = HashSet::new();
        for op in ops {
            match op {
                Op::Queue { msg, n, kind: k, ttl } => {
                    let evpid = EvpId((u64::from(msg) << 32) | u64::from(n));
                    let info = SchedInfo { evpid, kind: kind(k), ctime: now, ttl, retry: 0, last_try: 0, last_bounce: 0, is_bounce_msg: false };
                    if s.insert(info).is_ok() {
                        prop_assert!(known.insert(evpid));
                        expiry.insert(evpid, now + ttl);
                        s.commit(MsgId(msg));
                    }
                }
                Op::Batch => {
                    let b = s.batch(now);
                    for id in b.mda.iter().chain(&b.mta).chain(&b.bounce) {
                        prop_assert!(inflight.insert(*id, ()).is_none(), "handed out twice");
                        prop_assert!(expiry[id] > now, "tried past its expiry");
                    }
                    for id in &b.expired {
                        prop_assert!(expiry[id] <= now, "expired early");
                        prop_assert!(!inflight.contains_key(id));
                        known.remove(id);
                    }
                }
                Op::Outcome { pick, result } => {
                    if inflight.is_empty() { continue; }
                    let id = *inflight.keys().nth(pick % inflight.len()).unwrap_or(&EvpId(0));
                    let outcome = match result % 3 {
                        0 => DeliveryOutcome::Ok,
                        1 => DeliveryOutcome::tempfail(EnhancedStatus::new(4, 0, 0), "later"),
                        _ => DeliveryOutcome::permfail(EnhancedStatus::new(5, 0, 0), "never"),
                    };
                    let verdict = s.outcome(id, &outcome, now).unwrap();
                    inflight.remove(&id);
                    match verdict {
                        Verdict::Retry { next_try, .. } => prop_assert!(next_try > now),
                        _ => { known.remove(&id); }
                    }
                }
                Op::Tick(d) => now += d,
                Op::Pause { msg } => { s.pause(Target::Message(MsgId(msg))); }
                Op::Resume { msg } => { s.resume(Target::Message(MsgId(msg))); }
                Op::PauseKind(k) => s.pause_kind(kind(k)),
                Op::ResumeKind(k) => s.resume_kind(kind(k)),
                Op::Schedule { msg } => { s.schedule_now(Target::Message(MsgId(msg)), now); }
                Op::Remove { msg } => {
                    let r = s.remove(Target::Message(MsgId(msg)));
                    for id in &r.now {
                        prop_assert!(!inflight.contains_key(id));
                        known.remove(id);
                    }
                    for id in &r.when_back {
                        prop_assert!(inflight.contains_key(id));
                    }
                }
            }
            prop_assert_eq!(s.inflight(), inflight.len());
            prop_assert_eq!(listed_inflight(&s), inflight.len());
            prop_assert_eq!(s.len(), known.len());
            prop_assert!(s.inflight() <= 7);
            if let Some(t) = s.next_wakeup(now) {
                prop_assert!(t >= now);
            }
        }
    }
}
