//! The scheduler process (the seed's §3.2.1 and §4.2): knows every
//! envelope's scheduling facts, hands batches of due envelopes to the
//! queue, takes outcomes back. Runs unprivileged, chrooted into the empty
//! directory; talks to the queue and control only (and is started and
//! stopped by the parent). No disk, no network: the logic is the pure
//! `smtpd-scheduler` crate, this is its event loop and clock.

use anyhow::Result;
use smtpd_ipc::Inbound;
use smtpd_scheduler::{Config as SchedConfig, Limits, Scheduler, Target as SchedTarget, Verdict};
use smtpd_types::{DeliveryOutcome, EnhancedStatus, EnvelopeKind};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing::{debug, warn};

use crate::child::{on_closed, ChildSetup, Ctx, Flow};
use crate::msg::to_scheduler::{SchedOutcome, Target};
use crate::msg::{HasShutdown, Subsystem, ToQueue, ToScheduler};

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
    let queue = ctx.peers.queue();
    loop {
        dispatch(&mut sched, &queue);
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
                handle(&mut sched, &queue, msg);
                // Drain what else is waiting before scheduling, so bursts
                // of commits become one round of batches.
                while let Ok(more) = ctx.inbox.try_recv() {
                    match more {
                        Inbound::Msg { msg, .. } if msg.is_shutdown() => return Ok(()),
                        Inbound::Msg { msg, .. } => handle(&mut sched, &queue, msg),
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
fn dispatch(sched: &mut Scheduler, queue: &smtpd_ipc::Sender<ToQueue>) {
    loop {
        let b = sched.batch(now());
        if b.is_empty() {
            return;
        }
        if !b.expired.is_empty() {
            send(queue, ToQueue::Expire { evpids: b.expired });
        }
        let mut evpids = b.mda;
        evpids.extend(b.mta);
        evpids.extend(b.bounce);
        if !evpids.is_empty() {
            send(queue, ToQueue::Deliver { evpids });
        }
    }
}

fn send(queue: &smtpd_ipc::Sender<ToQueue>, msg: ToQueue) {
    if let Err(e) = queue.send(msg) {
        warn!("scheduler: telling the queue: {e}");
    }
}

fn handle(sched: &mut Scheduler, queue: &smtpd_ipc::Sender<ToQueue>, msg: ToScheduler) {
    match msg {
        ToScheduler::Committed { envelopes } | ToScheduler::Loaded { envelopes } => {
            let mut msgids = Vec::new();
            for info in envelopes {
                let m = info.evpid.msgid();
                if let Err(e) = sched.insert(info) {
                    warn!("scheduler: {e}");
                }
                if !msgids.contains(&m) {
                    msgids.push(m);
                }
            }
            for m in msgids {
                sched.commit(m);
            }
        }
        ToScheduler::Outcome { evpid, outcome, .. } => {
            let o = match outcome {
                SchedOutcome::Removed => {
                    sched.forget(evpid);
                    return;
                }
                SchedOutcome::Delivered => DeliveryOutcome::Ok,
                SchedOutcome::TempFail => {
                    DeliveryOutcome::tempfail(EnhancedStatus::new(4, 0, 0), "")
                }
                SchedOutcome::PermFail => {
                    DeliveryOutcome::permfail(EnhancedStatus::new(5, 0, 0), "")
                }
            };
            match sched.outcome(evpid, &o, now()) {
                Ok(Verdict::Done) | Ok(Verdict::Bounce) => {}
                // A delay notice is due: the queue makes it (if the sender
                // wants one) and records the warning on the envelope.
                Ok(Verdict::Retry {
                    delay_warning: Some(w),
                    ..
                }) => send(
                    queue,
                    ToQueue::DelayWarning {
                        evpid,
                        at: w.at,
                        delay: w.delay,
                    },
                ),
                Ok(Verdict::Retry { .. }) => {}
                Ok(Verdict::Expired) => send(
                    queue,
                    ToQueue::Expire {
                        evpids: vec![evpid],
                    },
                ),
                Ok(Verdict::Removed) => send(
                    queue,
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
        ToScheduler::PauseEnvelopes(t) => {
            sched.pause(target(t));
        }
        ToScheduler::ResumeEnvelopes(t) => {
            sched.resume(target(t));
        }
        ToScheduler::Schedule(t) => {
            sched.schedule_now(target(t), now());
        }
        ToScheduler::Remove(t) => {
            let removal = sched.remove(target(t));
            if !removal.now.is_empty() {
                send(
                    queue,
                    ToQueue::Remove {
                        evpids: removal.now,
                    },
                );
            }
        }
        ToScheduler::Shutdown => {}
    }
}
