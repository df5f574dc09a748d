//! DNS for the lookup agent: reverse names of clients, forward-confirmed.
//!
//! Queries go to the system's resolvers or to `smtpd --resolver ADDR:PORT`
//! (tests point it at a server of their own). Every query is bounded: one
//! attempt with a short timeout, so a dead resolver slows a session by at
//! most about a second and never stalls the banner (the smtp process sends
//! the banner without waiting for the answer).

use anyhow::Result;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Per-query limit.
const TIMEOUT: Duration = Duration::from_millis(1000);

pub struct Dns {
    resolver: Option<TokioResolver>,
}

impl Dns {
    /// A resolver for `server`, or the system's. Without a usable
    /// configuration lookups simply find nothing.
    pub fn new(server: Option<SocketAddr>) -> Result<Dns> {
        let builder = match server {
            Some(addr) => {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for c in &mut ns.connections {
                    c.port = addr.port();
                }
                Some(TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![ns]),
                    TokioRuntimeProvider::default(),
                ))
            }
            None => TokioResolver::builder_tokio().ok(),
        };
        let resolver = match builder {
            Some(mut b) => {
                let o = b.options_mut();
                o.timeout = TIMEOUT;
                o.attempts = 1;
                b.build().ok()
            }
            None => None,
        };
        Ok(Dns { resolver })
    }

    /// The client's name and whether it resolves back to the address
    /// (forward-confirmed reverse DNS).
    pub async fn rdns(&self, addr: IpAddr) -> (Option<String>, bool) {
        let Some(r) = &self.resolver else {
            return (None, false);
        };
        let lookup = match tokio::time::timeout(TIMEOUT * 2, r.reverse_lookup(addr)).await {
            Ok(Ok(l)) => l,
            _ => return (None, false),
        };
        let name = lookup.answers().iter().find_map(|rec| match &rec.data {
            RData::PTR(p) => Some(p.0.to_string().trim_end_matches('.').to_string()),
            _ => None,
        });
        let Some(name) = name else {
            return (None, false);
        };
        let confirmed =
            match tokio::time::timeout(TIMEOUT * 2, r.lookup_ip(format!("{name}."))).await {
                Ok(Ok(ips)) => ips.iter().any(|ip| ip == addr),
                _ => false,
            };
        (Some(name), confirmed)
    }
}
