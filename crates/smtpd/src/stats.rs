//! Counter updates for `smtpctl show stats` and `monitor` (the seed's
//! §3.2.8: "all processes can report information about their internal
//! activity … in the form of named counter increments/decrements"). The
//! control process adds them up; names follow OpenSMTPD's
//! (`smtp.session`, `scheduler.delivery.ok`, …).

use tracing::debug;

use crate::msg::{StatUpdate, ToControl};
use crate::peers::Peers;

/// Change counter `name` by `delta`.
pub fn update(peers: &Peers, name: &str, delta: i64) {
    updates(peers, &[(name, delta)]);
}

/// Change several counters in one message.
pub fn updates(peers: &Peers, changes: &[(&str, i64)]) {
    let list: Vec<StatUpdate> = changes
        .iter()
        .filter(|(_, d)| *d != 0)
        .map(|(name, delta)| StatUpdate {
            name: (*name).to_string(),
            delta: *delta,
        })
        .collect();
    if list.is_empty() {
        return;
    }
    // Counters are informative: a control process that is gone (the
    // server is stopping) is no reason to fail anything.
    if let Err(e) = peers.control().send(ToControl::Stats(list)) {
        debug!("counters: {e}");
    }
}
