//! The outcome of a relayed envelope: OpenSMTPD's log line, then the
//! report to the queue (exactly one per envelope it dispatched).

use smtpd_types::{DeliveryOutcome, Envelope};
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::{info, warn};

use super::session::Peer;
use crate::msg::ToQueue;
use crate::peers::Peers;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `mta delivery evpid=… from=<…> to=<…> rcpt=<…> source="…"
/// relay="HOST [ADDR]" delay=…s result="Ok" stat="…"`, as OpenSMTPD logs
/// it (`relay` and `source` are `-` when no connection was made).
pub fn log_line(env: &Envelope, peer: Option<&Peer>, o: &DeliveryOutcome, stat: &str) -> String {
    let from = env
        .sender
        .as_ref()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let (source, relay) = match peer {
        Some(p) => (
            p.local
                .map(|l| l.ip().to_string())
                .unwrap_or_else(|| "-".into()),
            format!("{} [{}]", p.host, p.addr),
        ),
        None => ("-".into(), "-".into()),
    };
    let stat = stat.replace(['"', '\r', '\n'], " ");
    format!(
        "mta delivery evpid={:016x} from=<{}> to=<{}> rcpt=<{}> source=\"{}\" relay=\"{}\" delay={}s result=\"{}\" stat=\"{}\"",
        env.id.0,
        from,
        env.dest,
        env.rcpt,
        source,
        relay,
        now().saturating_sub(env.ctime),
        o.result_word(),
        stat
    )
}

pub fn report(
    peers: &Peers,
    env: &Envelope,
    peer: Option<&Peer>,
    outcome: DeliveryOutcome,
    stat: &str,
) {
    info!("{}", log_line(env, peer, &outcome, stat));
    crate::stats::update(peers, "mta.envelope", -1);
    let evpid = env.id;
    if let Err(e) = peers.queue().send(ToQueue::Outcome { evpid, outcome }) {
        warn!("reporting {evpid}: {e}");
    }
}

/// The stat of an outcome decided without a reply from a peer.
pub fn stat_of(o: &DeliveryOutcome) -> String {
    match o {
        DeliveryOutcome::Ok => "Ok".into(),
        DeliveryOutcome::TempFail { status, reason }
        | DeliveryOutcome::PermFail { status, reason } => format!("{status} {reason}"),
        DeliveryOutcome::Loop { reason } => reason.clone(),
    }
}
