//! Making reports for senders (the seed's §4.5): a failed or expired
//! envelope becomes a report envelope on the same message; a delayed one
//! gets a delay notice beside it; a delivered one, whose sender asked for
//! it, a success notice.
//!
//! A report envelope is a copy of the envelope it reports on, of kind
//! `bounce`: its `sender` is the original sender (who gets the report),
//! its `rcpt`/`dest` the recipient it reports on, its `errorline`/`esc`
//! the failure, so one report can list every recipient of a message that
//! failed. Its own life starts now: `ctime` now, `ttl` 7 days, no
//! retries yet. `bounce-delay` and `bounce-ttl` keep what the report says:
//!
//! - failure and success: `bounce-delay` is how long the original had
//!   waited (its arrival is `ctime − bounce-delay`), `bounce-ttl` 7 days;
//! - delay notice (OpenSMTPD's meaning): `bounce-delay` is the `warn-
//!   interval` that was passed, `bounce-ttl` the original's ttl, and
//!   `last-bounce` the warning's time, so the original arrived at
//!   `last-bounce − bounce-delay` and is given up at arrival + ttl.
//!
//! The report envelope is durable before the original goes, so a crash
//! in between loses nothing: at worst the original is tried once more and
//! reported twice, never not at all.

use smtpd_queue::QueueError;
use smtpd_types::envelope::{BounceInfo, BounceType};
use smtpd_types::{EnhancedStatus, Envelope, EnvelopeKind, EvpId};
use tracing::{debug, error, info, warn};

use super::{now, Store};
use crate::msg::to_scheduler::SchedOutcome;
use crate::msg::ToScheduler;

/// How long a report may wait in the queue (OpenSMTPD: 7 days).
pub const BOUNCE_TTL: u64 = 7 * 24 * 3600;
/// Fresh ids tried for a report envelope before giving up.
const ID_TRIES: usize = 8;

/// Why no report is made, if none is.
fn no_report(env: &Envelope, kind: BounceType) -> Option<&'static str> {
    if env.sender.is_none() {
        return Some("the sender is <>");
    }
    if env.kind == EnvelopeKind::Bounce || env.flags.bounce {
        return Some("the message is itself a report");
    }
    let n = &env.dsn_notify;
    if n.never {
        return Some("NOTIFY=NEVER");
    }
    match kind {
        BounceType::Failed if !n.wants_failure() => Some("NOTIFY without FAILURE"),
        BounceType::Delayed if !n.wants_delay() => Some("NOTIFY without DELAY"),
        BounceType::Delivered if !n.success => Some("no NOTIFY=SUCCESS"),
        _ => None,
    }
}

/// The report envelope for `orig` (which holds the failure to report).
fn report_envelope(orig: &Envelope, info: BounceInfo, now: u64) -> Envelope {
    let mut b = orig.clone();
    b.id = EvpId::random_in(orig.msgid());
    b.kind = EnvelopeKind::Bounce;
    b.ctime = now;
    b.ttl = BOUNCE_TTL;
    b.retry = 0;
    b.last_try = 0;
    // The envelope file of a report keeps no local-delivery fields.
    b.mda_exec = None;
    b.mda_file = None;
    b.mda_subaddress = None;
    b.mda_user = None;
    b.bounce = Some(info);
    b
}

/// Why an envelope is given up, as the log and the report say it.
struct Why<'a> {
    status: EnhancedStatus,
    reason: &'a str,
    /// `failed permanently`, `is looping`, `expired`.
    what: &'a str,
    /// Add the last error the envelope was retried for (an expiry).
    last_error: bool,
}

/// What became of a report that was due.
enum Made {
    Report(Box<Envelope>),
    NotWanted(&'static str),
}

impl Store {
    /// Add a report envelope (`info.kind`) for `orig` to its message,
    /// durably, unless the sender wants none.
    fn make_report(
        &mut self,
        orig: &Envelope,
        info: BounceInfo,
        now: u64,
    ) -> Result<Made, QueueError> {
        if let Some(why) = no_report(orig, info.kind) {
            return Ok(Made::NotWanted(why));
        }
        let mut last = None;
        for _ in 0..ID_TRIES {
            let b = report_envelope(orig, info.clone(), now);
            match self.backend.envelope_add(&b) {
                Ok(()) => {
                    crate::stats::update(&self.peers, "queue.bounce", 1);
                    return Ok(Made::Report(Box::new(b)));
                }
                Err(QueueError::EnvelopeExists(_)) => last = Some(b.id),
                Err(e) => return Err(e),
            }
        }
        Err(QueueError::EnvelopeExists(last.unwrap_or(orig.id)))
    }

    /// Tell the scheduler of a new report envelope.
    fn schedule_report(&mut self, b: &Envelope) {
        self.send_scheduler(ToScheduler::Committed {
            envelopes: vec![b.sched_info()],
        });
    }

    fn delete(&mut self, evpid: EvpId) {
        self.notify_success.remove(&evpid);
        if let Err(e) = self.backend.envelope_delete(evpid) {
            warn!("queue: removing {evpid}: {e}");
        }
    }

    /// A permanent failure (or a loop): report it to the sender, then
    /// remove the envelope. A report that fails for good is dropped.
    pub(super) fn fail(&mut self, evpid: EvpId, status: EnhancedStatus, reason: &str, what: &str) {
        let why = Why {
            status,
            reason,
            what,
            last_error: false,
        };
        self.give_up(evpid, why, SchedOutcome::PermFail);
    }

    /// Past its time to live: an "Envelope expired" report, then remove.
    /// The scheduler has already forgotten the envelope.
    pub(super) fn expire(&mut self, evpid: EvpId) {
        let why = Why {
            status: EnhancedStatus::new(5, 4, 7),
            reason: "Envelope expired",
            what: "expired",
            last_error: true,
        };
        self.give_up(evpid, why, SchedOutcome::Removed);
    }

    /// Report `why` (unless the sender wants no report), remove the
    /// envelope, and tell the scheduler `told`.
    fn give_up(&mut self, evpid: EvpId, why: Why<'_>, told: SchedOutcome) {
        let Why {
            status,
            reason,
            what,
            last_error,
        } = why;
        let now = now();
        let mut env = match self.backend.envelope_load(evpid) {
            Ok(e) => e,
            Err(e) => {
                warn!("queue: {evpid} {what}: {e}");
                self.send_scheduler(ToScheduler::Outcome {
                    evpid,
                    outcome: told,
                    info: None,
                });
                return;
            }
        };
        let sender = env
            .sender
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or_default();
        if env.kind == EnvelopeKind::Bounce {
            // Never a report about a report.
            warn!("queue: report {evpid} to <{sender}> {what}: {status} {reason}: dropped");
            self.delete(evpid);
            self.send_scheduler(ToScheduler::Outcome {
                evpid,
                outcome: told,
                info: None,
            });
            return;
        }
        let reason = match &env.errorline {
            Some(last) if last_error => format!("{reason} (last error: {last})"),
            _ => reason.to_string(),
        };
        env.errorline = Some(format!("{status} {reason}"));
        env.esc = Some(status);
        env.last_try = now;
        let info = BounceInfo {
            ttl: BOUNCE_TTL,
            delay: now.saturating_sub(env.ctime),
            kind: BounceType::Failed,
        };
        let report = match self.make_report(&env, info, now) {
            Ok(Made::Report(b)) => {
                info!(
                    "queue: {evpid} {what}: {status} {reason}: report {} to <{sender}>",
                    b.id
                );
                Some(b)
            }
            Ok(Made::NotWanted(why)) => {
                info!("queue: {evpid} {what}: {status} {reason}: no report ({why}): removed");
                None
            }
            Err(e) => {
                // The original stays: nothing is lost, and the next attempt
                // (or, for an expiry, the next start) tries again.
                error!("queue: {evpid} {what}: its report cannot be queued: {e}: kept");
                let info = self
                    .backend
                    .envelope_update(&env)
                    .ok()
                    .map(|()| env.sched_info());
                let outcome = match told {
                    SchedOutcome::PermFail => SchedOutcome::TempFail,
                    other => other,
                };
                self.send_scheduler(ToScheduler::Outcome {
                    evpid,
                    outcome,
                    info,
                });
                return;
            }
        };
        self.delete(evpid);
        self.send_scheduler(ToScheduler::Outcome {
            evpid,
            outcome: told,
            info: None,
        });
        if let Some(b) = report {
            self.schedule_report(&b);
        }
    }

    /// The scheduler says `evpid` passed a `bounce warn-interval`: a delay
    /// notice, if the sender wants one; `at` is recorded either way.
    pub(super) fn delay_warning(&mut self, evpid: EvpId, at: u64, delay: u64) {
        let mut env = match self.backend.envelope_load(evpid) {
            Ok(e) => e,
            Err(e) => {
                // Delivered or removed meanwhile: nothing to warn about.
                debug!("queue: delay notice for {evpid}: {e}");
                return;
            }
        };
        if env.last_bounce >= at {
            return;
        }
        env.last_bounce = at;
        let info = BounceInfo {
            ttl: env.ttl,
            delay,
            kind: BounceType::Delayed,
        };
        let report = match self.make_report(&env, info, now()) {
            Ok(Made::Report(b)) => {
                info!(
                    "queue: {evpid} delayed: report {} to <{}>",
                    b.id,
                    env.sender
                        .as_ref()
                        .map(|a| a.to_string())
                        .unwrap_or_default()
                );
                Some(b)
            }
            Ok(Made::NotWanted(why)) => {
                debug!("queue: {evpid} delayed: no report ({why})");
                None
            }
            Err(e) => {
                error!("queue: {evpid} delayed: its report cannot be queued: {e}");
                None
            }
        };
        if let Err(e) = self.backend.envelope_update(&env) {
            warn!("queue: recording the delay notice on {evpid}: {e}");
        }
        if let Some(b) = report {
            self.schedule_report(&b);
        }
    }

    /// Delivered: a success notice for a local delivery whose sender asked
    /// for one (`NOTIFY=SUCCESS`), then the envelope goes.
    pub(super) fn delivered(&mut self, evpid: EvpId) {
        // Read back only when a success notice was asked for at commit.
        let wanted = self.notify_success.remove(&evpid);
        let loaded = if wanted {
            self.backend.envelope_load(evpid).ok()
        } else {
            None
        };
        let report = match loaded {
            Some(mut env) if super::wants_success_notice(&env) => {
                let now = now();
                env.esc = Some(EnhancedStatus::new(2, 0, 0));
                env.errorline = Some("2.0.0 Delivered".into());
                let info = BounceInfo {
                    ttl: BOUNCE_TTL,
                    delay: now.saturating_sub(env.ctime),
                    kind: BounceType::Delivered,
                };
                match self.make_report(&env, info, now) {
                    Ok(Made::Report(b)) => Some(b),
                    Ok(Made::NotWanted(_)) => None,
                    Err(e) => {
                        warn!("queue: success notice for {evpid}: {e}: not sent");
                        None
                    }
                }
            }
            _ => None,
        };
        if let Err(e) = self.backend.envelope_delete(evpid) {
            warn!("queue: removing delivered {evpid}: {e}");
        }
        self.send_scheduler(ToScheduler::Outcome {
            evpid,
            outcome: SchedOutcome::Delivered,
            info: None,
        });
        if let Some(b) = report {
            self.schedule_report(&b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtpd_types::{DsnNotify, MailAddr, MsgId};

    fn env() -> Envelope {
        let mut e = Envelope::new(
            EvpId::random_in(MsgId(9)),
            EnvelopeKind::Mda,
            Some(MailAddr::new("a", "a.test")),
            MailAddr::new("b", "b.test"),
        );
        e.mda_user = Some("b".into());
        e.ctime = 100;
        e.retry = 3;
        e
    }

    #[test]
    fn who_gets_a_report() {
        let e = env();
        assert_eq!(no_report(&e, BounceType::Failed), None);
        assert_eq!(no_report(&e, BounceType::Delayed), None);
        assert!(no_report(&e, BounceType::Delivered).is_some());
        let mut null = env();
        null.sender = None;
        assert!(no_report(&null, BounceType::Failed).is_some());
        let mut report_msg = env();
        report_msg.flags.bounce = true;
        assert!(no_report(&report_msg, BounceType::Failed).is_some());
        let mut never = env();
        never.dsn_notify = DsnNotify {
            never: true,
            ..DsnNotify::default()
        };
        assert_eq!(no_report(&never, BounceType::Failed), Some("NOTIFY=NEVER"));
        let mut delay_only = env();
        delay_only.dsn_notify.delay = true;
        assert!(no_report(&delay_only, BounceType::Failed).is_some());
        assert_eq!(no_report(&delay_only, BounceType::Delayed), None);
    }

    #[test]
    fn report_envelope_starts_a_life_of_its_own() {
        let e = env();
        let info = BounceInfo {
            ttl: BOUNCE_TTL,
            delay: 50,
            kind: BounceType::Failed,
        };
        let b = report_envelope(&e, info.clone(), 150);
        assert_eq!(b.msgid(), e.msgid());
        assert_ne!(b.id, e.id);
        assert_eq!(b.kind, EnvelopeKind::Bounce);
        assert_eq!((b.ctime, b.ttl, b.retry), (150, BOUNCE_TTL, 0));
        assert_eq!(b.sender, e.sender);
        assert_eq!(b.dest, e.dest);
        assert_eq!(b.mda_user, None);
        assert_eq!(b.bounce, Some(info));
        assert!(smtpd_queue::envelope_file::encode(&b).is_ok());
    }
}
