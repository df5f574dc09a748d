//! Counter updates for `smtpctl show stats` and `monitor` (the seed's
//! §3.2.8: "all processes can report information about their internal
//! activity … in the form of named counter increments/decrements"). The
//! control process adds them up; names follow OpenSMTPD's
//! (`smtp.session`, `scheduler.delivery.ok`, …).
//!
//! Updates are gathered for [`FLUSH_AFTER`] and sent to control in one
//! message: sent one by one they were about eight messages per mail
//! delivered, each a `sendmsg` and a wake-up of the control process
//! (~5% of the server's CPU under load). Increments and decrements of a
//! counter are kept apart, so that `monitor`'s digest (which counts
//! sessions opened, envelopes added …) sees every one.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;
use tracing::debug;

use crate::msg::{StatUpdate, ToControl};
use crate::peers::Peers;

/// How long updates wait to be sent together: short enough that `show
/// stats` lags the traffic by no more than a blink.
const FLUSH_AFTER: Duration = Duration::from_millis(20);

/// Updates not sent yet: per counter, the sum of increments and the sum
/// of decrements; and whether a flush is already scheduled.
#[derive(Default)]
struct Pending {
    sums: BTreeMap<String, (i64, i64)>,
    scheduled: bool,
}

static PENDING: Mutex<Option<Pending>> = Mutex::new(None);

/// Change counter `name` by `delta`.
pub fn update(peers: &Peers, name: &str, delta: i64) {
    updates(peers, &[(name, delta)]);
}

/// Change several counters.
pub fn updates(peers: &Peers, changes: &[(&str, i64)]) {
    let changes = changes.iter().filter(|(_, d)| *d != 0);
    // Outside a tokio runtime (a plain thread) there is nobody to flush
    // later: send at once.
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        let list = changes
            .map(|(name, delta)| StatUpdate {
                name: (*name).to_string(),
                delta: *delta,
            })
            .collect();
        return send(peers, list);
    };
    let mut guard = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    let pending = guard.get_or_insert_with(Pending::default);
    let mut any = false;
    for (name, delta) in changes {
        any = true;
        let sums = match pending.sums.get_mut(*name) {
            Some(s) => s,
            None => pending.sums.entry((*name).to_string()).or_default(),
        };
        if *delta > 0 {
            sums.0 = sums.0.saturating_add(*delta);
        } else {
            sums.1 = sums.1.saturating_add(*delta);
        }
    }
    if !any || pending.scheduled {
        return;
    }
    pending.scheduled = true;
    let peers = peers.clone();
    rt.spawn(async move {
        tokio::time::sleep(FLUSH_AFTER).await;
        flush(&peers);
    });
}

/// Send what was gathered.
fn flush(peers: &Peers) {
    let sums = {
        let mut guard = PENDING.lock().unwrap_or_else(|e| e.into_inner());
        let pending = guard.get_or_insert_with(Pending::default);
        pending.scheduled = false;
        std::mem::take(&mut pending.sums)
    };
    let mut list = Vec::with_capacity(sums.len() * 2);
    for (name, (up, down)) in sums {
        for delta in [up, down] {
            if delta != 0 {
                list.push(StatUpdate {
                    name: name.clone(),
                    delta,
                });
            }
        }
    }
    send(peers, list);
}

fn send(peers: &Peers, list: Vec<StatUpdate>) {
    if list.is_empty() {
        return;
    }
    // Counters are informative: a control process that is gone (the
    // server is stopping) is no reason to fail anything.
    if let Err(e) = peers.control().send(ToControl::Stats(list)) {
        debug!("counters: {e}");
    }
}
