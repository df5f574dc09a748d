//! When to try again: OpenSMTPD's quadratic backoff
//! (`scheduler_ramqueue.c`: `scheduler_backoff`, `scheduler_next`).
//!
//! Attempt *n* of an envelope is due at `ctime + base·n²`: the first
//! (n = 0) at once, then, for relaying, after 6m40s, 26m40s, 1h, 1h46m40s,
//! 2h46m40s… (base 400 s), and for local delivery after 10 s, 40 s, 90 s…
//! (base 10 s). After a failure the next attempt is the first step, from
//! the retry count on, whose time is still in the future; attempts that a
//! long outage made us miss are skipped, not made up in a burst.

use smtpd_types::EnvelopeKind;

/// Base delay for relaying to other hosts (OpenSMTPD `BACKOFF_TRANSFER`).
pub const BACKOFF_TRANSFER: u64 = 400;
/// Base delay for local delivery and reports (OpenSMTPD `BACKOFF_DELIVERY`).
pub const BACKOFF_DELIVERY: u64 = 10;

/// The backoff base for an envelope kind: only relaying waits long.
pub fn base_for(kind: EnvelopeKind) -> u64 {
    match kind {
        EnvelopeKind::Mta => BACKOFF_TRANSFER,
        EnvelopeKind::Mda | EnvelopeKind::Bounce => BACKOFF_DELIVERY,
    }
}

/// The time of attempt `step`: `ctime + base·step²` (saturating, so absurd
/// inputs give "far in the future" rather than a wrap-around).
pub fn backoff(ctime: u64, base: u64, step: u32) -> u64 {
    let step = u64::from(step);
    ctime.saturating_add(base.saturating_mul(step.saturating_mul(step)))
}

/// The first step `s ≥ step` whose time is after `now`, and that time.
/// Computed in closed form (OpenSMTPD loops), so an envelope reloaded years
/// after its creation costs nothing.
pub fn next_after(ctime: u64, base: u64, step: u32, now: u64) -> (u32, u64) {
    let mut s = step;
    if base > 0 && now >= ctime {
        // base·s² > now − ctime  ⇔  s² > ⌊(now − ctime) / base⌋.
        let q = (now - ctime) / base;
        let least = q.isqrt() + 1;
        s = s.max(u32::try_from(least).unwrap_or(u32::MAX));
    }
    (s, backoff(ctime, base, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loop OpenSMTPD runs, to check the closed form against.
    fn reference(ctime: u64, base: u64, mut step: u32, now: u64) -> (u32, u64) {
        while backoff(ctime, base, step) <= now {
            step += 1;
        }
        (step, backoff(ctime, base, step))
    }

    #[test]
    fn closed_form_matches_opensmtpds_loop() {
        for base in [BACKOFF_TRANSFER, BACKOFF_DELIVERY, 3] {
            for step in 0..6 {
                for now in (0..20_000).step_by(7) {
                    assert_eq!(
                        next_after(1000, base, step, now),
                        reference(1000, base, step, now),
                        "base {base} step {step} now {now}"
                    );
                }
            }
        }
    }

    #[test]
    fn absurd_times_saturate() {
        assert_eq!(backoff(u64::MAX - 1, 400, 3), u64::MAX);
        let (_, t) = next_after(0, 400, u32::MAX, u64::MAX);
        assert_eq!(t, u64::MAX);
    }
}
