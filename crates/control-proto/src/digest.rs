//! The counters `smtpctl monitor` prints, kept by the control process
//! from the counter updates every role sends (OpenSMTPD's `stat_digest`,
//! updated as its `control_digest_update` does).

use serde::{Deserialize, Serialize};

/// Totals since the server started (and two current values derived from
/// them: sessions and envelopes now = in − out).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    /// SMTP sessions opened and closed.
    pub clt_connect: u64,
    pub clt_disconnect: u64,
    /// Envelopes that entered and left the scheduler.
    pub evp_enqueued: u64,
    pub evp_dequeued: u64,
    pub evp_expired: u64,
    pub evp_removed: u64,
    /// Reports (bounces) made.
    pub evp_bounce: u64,
    /// Delivery outcomes.
    pub dlv_ok: u64,
    pub dlv_tempfail: u64,
    pub dlv_permfail: u64,
    pub dlv_loop: u64,
}

impl Digest {
    /// Account a counter update: `name` changed by `delta`.
    pub fn update(&mut self, name: &str, delta: i64) {
        let up = delta.unsigned_abs();
        let (field, increments) = match (name, delta >= 0) {
            ("smtp.session", true) => (&mut self.clt_connect, true),
            ("smtp.session", false) => (&mut self.clt_disconnect, true),
            ("scheduler.envelope", true) => (&mut self.evp_enqueued, true),
            ("scheduler.envelope", false) => (&mut self.evp_dequeued, true),
            ("scheduler.envelope.expired", i) => (&mut self.evp_expired, i),
            ("scheduler.envelope.removed", i) => (&mut self.evp_removed, i),
            ("scheduler.delivery.ok", i) => (&mut self.dlv_ok, i),
            ("scheduler.delivery.tempfail", i) => (&mut self.dlv_tempfail, i),
            ("scheduler.delivery.permfail", i) => (&mut self.dlv_permfail, i),
            ("scheduler.delivery.loop", i) => (&mut self.dlv_loop, i),
            ("queue.bounce", i) => (&mut self.evp_bounce, i),
            _ => return,
        };
        *field = if increments {
            field.saturating_add(up)
        } else {
            field.saturating_sub(up)
        };
    }

    /// SMTP sessions open now.
    pub fn sessions(&self) -> u64 {
        self.clt_connect.saturating_sub(self.clt_disconnect)
    }

    /// Envelopes queued now.
    pub fn envelopes(&self) -> u64 {
        self.evp_enqueued.saturating_sub(self.evp_dequeued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_and_envelopes_count_in_and_out() {
        let mut d = Digest::default();
        d.update("smtp.session", 1);
        d.update("smtp.session", 1);
        d.update("smtp.session", -1);
        d.update("scheduler.envelope", 3);
        d.update("scheduler.envelope", -1);
        d.update("scheduler.delivery.ok", 1);
        d.update("queue.bounce", 1);
        d.update("smtp.session.inet4", 1);
        assert_eq!((d.clt_connect, d.clt_disconnect, d.sessions()), (2, 1, 1));
        assert_eq!((d.evp_enqueued, d.evp_dequeued, d.envelopes()), (3, 1, 2));
        assert_eq!((d.dlv_ok, d.evp_bounce), (1, 1));
    }
}
