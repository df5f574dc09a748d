//! `smtpctl show hosts|relays|routes`: the mta's current state in
//! OpenSMTPD's line formats, as far as our simpler model has the same
//! things. OpenSMTPD keeps hosts, relays, routes and connectors as
//! long-lived objects with penalties; ours are the relays with their
//! resolved plans and the sessions they hold, so:
//!
//! - hosts: every address of a resolved relay's plan,
//!   `ADDR NAME refcount=N nconn=N lastconn=DUR` (refcount: the relays
//!   that may use it; nconn: sessions connected to it; lastconn: since
//!   the last connection got through, `-` if none);
//! - relays: `[relay:DEST,port=N,dispatcher=NAME] refcount=N ntask=N
//!   nconn=N lastconn=DUR timeout=- wait=WHAT` with wait `MX` while the
//!   destination is being resolved, `connector` while connections are
//!   being opened, and ` [PAUSED]` while relaying is paused;
//! - routes: one line per source and destination address of connected
//!   sessions, `ID. [SRC] <-> DST (NAME) FLAGS nconn=N nerror=0 penalty=0
//!   timeout=-`, flags NDQK (new, disabled, runq, keepalive) with `-`
//!   unset: we keep no penalties or disabled routes, `K` when one of the
//!   sessions idles kept alive.

use smtpd_control_proto::{duration_text, MtaView};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Instant;

use super::Mta;

pub fn lines(mta: &Mta, view: MtaView) -> Vec<String> {
    match view {
        MtaView::Hosts => hosts(mta),
        MtaView::Relays => relays(mta),
        MtaView::Routes => routes(mta),
    }
}

fn since(t: Option<Instant>) -> String {
    t.map(|t| duration_text(t.elapsed().as_secs()))
        .unwrap_or_else(|| "-".into())
}

fn hosts(mta: &Mta) -> Vec<String> {
    #[derive(Default)]
    struct Host {
        name: String,
        refcount: usize,
        nconn: usize,
        last: Option<Instant>,
    }
    let mut hosts: BTreeMap<IpAddr, Host> = BTreeMap::new();
    for relay in mta.relays.values() {
        let Some(plan) = &relay.plan else { continue };
        for t in &plan.targets {
            for addr in &t.addrs {
                let h = hosts.entry(*addr).or_default();
                if h.name.is_empty() {
                    h.name = t.host.clone();
                }
                h.refcount += 1;
            }
        }
    }
    for s in mta.sessions.values() {
        let Some(peer) = &s.peer else { continue };
        let h = hosts.entry(peer.addr.ip()).or_default();
        if h.name.is_empty() {
            h.name = peer.host.clone();
        }
        h.nconn += 1;
        h.last = h.last.max(s.connected_at);
    }
    hosts
        .into_iter()
        .map(|(addr, h)| {
            format!(
                "{addr} {} refcount={} nconn={} lastconn={}",
                h.name,
                h.refcount,
                h.nconn,
                since(h.last)
            )
        })
        .collect()
}

fn relays(mta: &Mta) -> Vec<String> {
    let mut keys: Vec<_> = mta.relays.keys().collect();
    keys.sort_by(|a, b| (&a.dispatcher, &a.domain).cmp(&(&b.dispatcher, &b.domain)));
    keys.into_iter()
        .filter_map(|k| Some((k, mta.relays.get(k)?)))
        .map(|(key, r)| {
            let dest = key
                .domain
                .clone()
                .or_else(|| {
                    r.plan
                        .as_ref()
                        .and_then(|p| p.targets.first().map(|t| t.host.clone()))
                })
                .unwrap_or_else(|| "-".into());
            let port = r
                .plan
                .as_ref()
                .map(|p| format!(",port={}", p.port))
                .unwrap_or_default();
            let wait = if r.plan.is_none() {
                "MX"
            } else if r.connecting > 0 {
                "connector"
            } else {
                ""
            };
            format!(
                "[relay:{dest}{port},dispatcher={}] refcount={} ntask={} nconn={} lastconn={} timeout=- wait={wait}{}",
                key.dispatcher,
                r.tasks.len() + r.sessions.len(),
                r.tasks.len(),
                r.sessions.len(),
                since(r.last_conn),
                if mta.paused { " [PAUSED]" } else { "" }
            )
        })
        .collect()
}

fn routes(mta: &Mta) -> Vec<String> {
    #[derive(Default)]
    struct Route {
        name: String,
        nconn: usize,
        keepalive: bool,
    }
    let mut routes: BTreeMap<(Option<IpAddr>, IpAddr), Route> = BTreeMap::new();
    for s in mta.sessions.values() {
        let Some(peer) = &s.peer else { continue };
        let r = routes
            .entry((peer.local.map(|l| l.ip()), peer.addr.ip()))
            .or_default();
        r.name = peer.host.clone();
        r.nconn += 1;
        r.keepalive |= s.idle_since.is_some();
    }
    routes
        .into_iter()
        .enumerate()
        .map(|(i, ((src, dst), r))| {
            format!(
                "{}. [{}] <-> {dst} ({}) ---{} nconn={} nerror=0 penalty=0 timeout=-",
                i + 1,
                src.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                r.name,
                if r.keepalive { 'K' } else { '-' },
                r.nconn
            )
        })
        .collect()
}
