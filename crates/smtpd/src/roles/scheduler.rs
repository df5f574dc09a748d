//! The scheduler process (the seed's §3.2.1 and §4.2): knows every
//! envelope's scheduling facts, hands batches of due envelopes to the
//! queue, takes outcomes back. Runs unprivileged, chrooted into the empty
//! directory; talks to the queue and control only (and is started and
//! stopped by the parent). No disk, no network: the logic is the pure
//! `smtpd-scheduler` crate, this is its event loop and clock.

use anyhow::Result;
use smtpd_control_proto::RunState;
use smtpd_ipc::Inbound;
use smtpd_scheduler::{
    Config as SchedConfig, EvpState, Limits, Scheduler, Target as SchedTarget, Verdict,
};
use smtpd_types::{DeliveryOutcome, EnhancedStatus, EnvelopeKind, EvpId, MsgId};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing::{debug, warn};

use crate::child::{on_closed, ChildSetup, Ctx, Flow};
use crate::msg::to_control::SchedState;
use crate::msg::to_scheduler::{SchedOutcome, Target};
use crate::msg::{HasShutdown, Subsystem, ToControl, ToQueue, ToScheduler};
use crate::peers::Peers;
use crate::stats;

pub fn main(setup: ChildSetup) -> Result<()> {
    setup.drop_privileges()?;
    setup.run::<ToScheduler, _, _>(run)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn kind_of(s: Subsystem) -> Option<EnvelopeKind> {
    match s {
        Subsystem::Mda => Some(EnvelopeKind::Mda),
        Subsystem::Mta => Some(EnvelopeKind::Mta),
        Subsystem::Smtp => None,
    }
}

fn target(t: Target) -> SchedTarget {
    match t {
        Target::Envelope(e) => SchedTarget::Envelope(e),
        Target::Message(m) => SchedTarget::Message(m),
        Target::All => SchedTarget::All,
    }
}

async fn run(mut ctx: Ctx<ToScheduler>) -> Result<()> {
    let cfg = &ctx.rt.config;
    let mut sched = Scheduler::new(SchedConfig {
        limits: Limits {
            max_inflight: cfg.scheduler.max_inflight as usize,
            max_evp_batch_size: cfg.scheduler.max_evp_batch_size as usize,
            max_msg_batch_size: cfg.scheduler.max_msg_batch_size as usize,
            max_schedule: cfg.scheduler.max_schedule as usize,
        },
        delay_warnings: cfg
            .bounce
            .warn_interval
            .iter()
            .map(|d| d.as_secs())
            .collect(),
    });
    for s in &ctx.rt.paused {
        if let Some(k) = kind_of(*s) {
            sched.pause_kind(k);
        }
    }
    let peers = ctx.peers.clone();
    loop {
        dispatch(&mut sched, &peers);
        let wake = sched
            .next_wakeup(now())
            .map(|t| Duration::from_secs(t.saturating_sub(now())).max(Duration::from_millis(50)))
            .unwrap_or(Duration::from_secs(3600));
        let ev = tokio::select! {
            ev = ctx.inbox.recv() => ev,
            _ = tokio::time::sleep(wake) => continue,
        };
        let Some(ev) = ev else { return Ok(()) };
        let flow = match ev {
            Inbound::Closed { from, error } => on_closed(ctx.role, from, error)?,
            Inbound::Msg { msg, .. } if msg.is_shutdown() => Flow::Stop,
            Inbound::Msg { msg, .. } => {
                handle(&mut sched, &peers, msg);
                // Drain what else is waiting before scheduling, so bursts
                // of commits become one round of batches.
                while let Ok(more) = ctx.inbox.try_recv() {
                    match more {
                        Inbound::Msg { msg, .. } if msg.is_shutdown() => return Ok(()),
                        Inbound::Msg { msg, .. } => handle(&mut sched, &peers, msg),
                        Inbound::Closed { from, error } => {
                            if on_closed(ctx.role, from, error)? == Flow::Stop {
                                return Ok(());
                            }
                        }
                    }
                }
                Flow::Continue
            }
        };
        if flow == Flow::Stop {
            return Ok(());
        }
    }
}

/// Hand out everything that is due, in as many batches as it takes.
fn dispatch(sched: &mut Scheduler, peers: &Peers) {
    loop {
        let b = sched.batch(now());
        if b.is_empty() {
            return;
        }
        if !b.expired.is_empty() {
            let n = b.expired.len() as i64;
            stats::updates(
                peers,
                &[
                    ("scheduler.envelope", -n),
                    ("scheduler.envelope.expired", n),
                ],
            );
            send(peers, ToQueue::Expire { evpids: b.expired });
        }
        let mut evpids = b.mda;
        evpids.extend(b.mta);
        evpids.extend(b.bounce);
        if !evpids.is_empty() {
            debug!(
                "scheduler: {} envelope(s) due: handed to the queue",
                evpids.len()
            );
            send(peers, ToQueue::Deliver { evpids });
        }
    }
}

fn send(peers: &Peers, msg: ToQueue) {
    if let Err(e) = peers.queue().send(msg) {
        warn!("scheduler: telling the queue: {e}");
    }
}

fn reply(peers: &Peers, msg: ToControl) {
    if let Err(e) = peers.control().send(msg) {
        warn!("scheduler: answering control: {e}");
    }
}

/// A page of `smtpctl show queue`: the states after `after`, of message
/// `msgid` only when given (its envelopes are consecutive in id order).
fn list(sched: &Scheduler, msgid: Option<MsgId>, after: Option<EvpId>) -> Vec<SchedState> {
    let start = after.or_else(|| {
        msgid
            .filter(|m| m.0 > 0)
            .map(|m| EvpId((u64::from(m.0) << 32) - 1))
    });
    let mut page = sched.envelopes(start);
    if let Some(m) = msgid {
        page.retain(|s| s.evpid.msgid() == m);
    }
    page.into_iter()
        .map(|s| SchedState {
            evpid: s.evpid,
            run: match s.state {
                EvpState::Inflight => RunState::Inflight { since: s.time },
                EvpState::Pending | EvpState::Held => RunState::Pending { next_try: s.time },
            },
            suspended: s.suspended,
            held: s.state == EvpState::Held && !s.suspended,
        })
        .collect()
}

fn handle(sched: &mut Scheduler, peers: &Peers, msg: ToScheduler) {
    match msg {
        ToScheduler::Committed { envelopes } | ToScheduler::Loaded { envelopes } => {
            let mut msgids = Vec::new();
            let mut added = 0;
            for info in envelopes {
                let m = info.evpid.msgid();
                match sched.insert(info) {
                    Ok(()) => added += 1,
                    Err(e) => warn!("scheduler: {e}"),
                }
                if !msgids.contains(&m) {
                    msgids.push(m);
                }
            }
            for m in msgids {
                sched.commit(m);
            }
            stats::update(peers, "scheduler.envelope", added);
        }
        ToScheduler::Outcome { evpid, outcome, .. } => {
            let (o, counter) = match outcome {
                SchedOutcome::Removed => {
                    if sched.forget(evpid) {
                        stats::update(peers, "scheduler.envelope", -1);
                    }
                    return;
                }
                SchedOutcome::Delivered => (DeliveryOutcome::Ok, "scheduler.delivery.ok"),
                SchedOutcome::TempFail => (
                    DeliveryOutcome::tempfail(EnhancedStatus::new(4, 0, 0), ""),
                    "scheduler.delivery.tempfail",
                ),
                SchedOutcome::PermFail => (
                    DeliveryOutcome::permfail(EnhancedStatus::new(5, 0, 0), ""),
                    "scheduler.delivery.permfail",
                ),
            };
            let verdict = sched.outcome(evpid, &o, now());
            let gone = match verdict {
                Ok(Verdict::Retry { .. }) | Err(_) => None,
                Ok(Verdict::Expired) => Some("scheduler.envelope.expired"),
                Ok(Verdict::Removed) => Some("scheduler.envelope.removed"),
                Ok(Verdict::Done) | Ok(Verdict::Bounce) => Some(""),
            };
            if verdict.is_ok() {
                let mut changes = vec![(counter, 1)];
                if let Some(why) = gone {
                    changes.push(("scheduler.envelope", -1));
                    if !why.is_empty() {
                        changes.push((why, 1));
                    }
                }
                stats::updates(peers, &changes);
            }
            match verdict {
                Ok(Verdict::Done) | Ok(Verdict::Bounce) => {}
                // A delay notice is due: the queue makes it (if the sender
                // wants one) and records the warning on the envelope.
                Ok(Verdict::Retry {
                    delay_warning: Some(w),
                    ..
                }) => send(
                    peers,
                    ToQueue::DelayWarning {
                        evpid,
                        at: w.at,
                        delay: w.delay,
                    },
                ),
                Ok(Verdict::Retry { .. }) => {}
                Ok(Verdict::Expired) => send(
                    peers,
                    ToQueue::Expire {
                        evpids: vec![evpid],
                    },
                ),
                Ok(Verdict::Removed) => send(
                    peers,
                    ToQueue::Remove {
                        evpids: vec![evpid],
                    },
                ),
                Err(e) => debug!("scheduler: outcome for {evpid}: {e}"),
            }
        }
        ToScheduler::PauseSubsystem(s) => {
            if let Some(k) = kind_of(s) {
                sched.pause_kind(k);
            }
        }
        ToScheduler::ResumeSubsystem(s) => {
            if let Some(k) = kind_of(s) {
                sched.resume_kind(k);
            }
        }
        ToScheduler::PauseEnvelopes { req, target: t } => {
            let n = sched.pause(target(t));
            reply(peers, ToControl::Count { req, n });
        }
        ToScheduler::ResumeEnvelopes { req, target: t } => {
            let n = sched.resume(target(t));
            reply(peers, ToControl::Count { req, n });
        }
        ToScheduler::Schedule { req, target: t } => {
            let n = sched.schedule_now(target(t), now());
            reply(peers, ToControl::Count { req, n });
        }
        ToScheduler::Remove { req, target: t } => {
            let removal = sched.remove(target(t));
            let n = removal.now.len() + removal.when_back.len();
            reply(peers, ToControl::Count { req, n });
            if !removal.now.is_empty() {
                let gone = removal.now.len() as i64;
                stats::updates(
                    peers,
                    &[
                        ("scheduler.envelope", -gone),
                        ("scheduler.envelope.removed", gone),
                    ],
                );
                send(
                    peers,
                    ToQueue::Remove {
                        evpids: removal.now,
                    },
                );
            }
        }
        ToScheduler::ListEnvelopes { req, msgid, after } => {
            let states = list(sched, msgid, after);
            reply(peers, ToControl::EnvelopeStates { req, states });
        }
        // Applied on arrival (`logging::apply_verbose`).
        ToScheduler::Verbose(_) => {}
        ToScheduler::Shutdown => {}
    }
}
