//! The counters the control process keeps from the updates every role
//! sends (`ToControl::Stats`): `smtpctl show stats` lists them, `monitor`
//! prints the [`Digest`] derived from them.

use smtpd_control_proto::Digest;
use std::collections::BTreeMap;

use crate::msg::StatUpdate;

/// Every counter by name, and the monitor's digest.
#[derive(Default)]
pub struct Counters {
    values: BTreeMap<String, i64>,
    digest: Digest,
}

impl Counters {
    pub fn apply(&mut self, updates: &[StatUpdate]) {
        for u in updates {
            self.add(&u.name, u.delta);
        }
    }

    pub fn add(&mut self, name: &str, delta: i64) {
        let v = self.values.entry(name.to_string()).or_insert(0);
        *v = v.saturating_add(delta);
        self.digest.update(name, delta);
    }

    /// Every counter, in name order.
    pub fn list(&self) -> Vec<(String, i64)> {
        self.values.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    pub fn digest(&self) -> Digest {
        self.digest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(name: &str, delta: i64) -> StatUpdate {
        StatUpdate {
            name: name.into(),
            delta,
        }
    }

    #[test]
    fn updates_add_up_by_name_and_feed_the_digest() {
        let mut c = Counters::default();
        c.apply(&[up("smtp.session", 1), up("smtp.session.inet4", 1)]);
        c.apply(&[up("smtp.session", 1), up("smtp.session", -1)]);
        c.add("scheduler.delivery.ok", 2);
        assert_eq!(
            c.list(),
            vec![
                ("scheduler.delivery.ok".to_string(), 2),
                ("smtp.session".to_string(), 1),
                ("smtp.session.inet4".to_string(), 1),
            ]
        );
        let d = c.digest();
        assert_eq!((d.clt_connect, d.clt_disconnect, d.dlv_ok), (2, 1, 2));
    }
}
