//! DNS for the lookup agent: reverse names of clients, forward-confirmed;
//! MX records and host addresses for relaying (asked by mta).
//!
//! Queries go to the system's resolvers or to `smtpd --resolver ADDR:PORT`
//! (tests point it at a server of their own). Every query is bounded: one
//! attempt with a short timeout, so a dead resolver slows a session by at
//! most about a second and never stalls the banner (the smtp process sends
//! the banner without waiting for the answer).
//!
//! With `--resolver`, reverse lookups are asked of that server directly,
//! for every address: the resolver library would otherwise answer
//! `localhost` for all of 127.0.0.0/8 itself (RFC 6761) and read
//! /etc/hosts first, so the server an admin (or a test) named would never
//! be asked about loopback clients. With the system's resolvers, that
//! library behaviour stays.

use anyhow::Result;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::client::{Client, ClientHandle};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::udp::UdpClientStream;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_resolver::TokioResolver;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::msg::to_mta::{DnsAnswer, MxRecord};

/// Per-query limit.
const TIMEOUT: Duration = Duration::from_millis(1000);

pub struct Dns {
    resolver: Option<TokioResolver>,
    /// `--resolver`: where reverse lookups go directly.
    server: Option<SocketAddr>,
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
        Ok(Dns { resolver, server })
    }

    /// The client's name and whether it resolves back to the address
    /// (forward-confirmed reverse DNS).
    pub async fn rdns(&self, addr: IpAddr) -> (Option<String>, bool) {
        let Some(r) = &self.resolver else {
            return (None, false);
        };
        let name = match self.server {
            Some(server) => ptr_from(server, addr).await,
            None => match tokio::time::timeout(TIMEOUT * 2, r.reverse_lookup(addr)).await {
                Ok(Ok(l)) => first_ptr(l.answers()),
                _ => None,
            },
        };
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

/// The first PTR target of an answer, without the final dot.
fn first_ptr(answers: &[Record]) -> Option<String> {
    answers.iter().find_map(|rec| match &rec.data {
        RData::PTR(p) => Some(p.0.to_string().trim_end_matches('.').to_string()),
        _ => None,
    })
}

/// Ask `server` for the PTR record of `addr` (one UDP query, bounded).
async fn ptr_from(server: SocketAddr, addr: IpAddr) -> Option<String> {
    let stream = UdpClientStream::builder(server, TokioRuntimeProvider::default())
        .with_timeout(Some(TIMEOUT))
        .with_max_retries(0)
        .build();
    let (mut client, background) = Client::<TokioRuntimeProvider>::from_sender(stream);
    let bg = tokio::spawn(background);
    let answer = tokio::time::timeout(
        TIMEOUT * 2,
        client.query(Name::from(addr), DNSClass::IN, RecordType::PTR),
    )
    .await;
    bg.abort();
    match answer {
        Ok(Ok(resp)) => first_ptr(&resp.answers),
        _ => None,
    }
}

/// Most MX records kept for one domain (OpenSMTPD keeps every one; a
/// bound keeps a hostile zone from making the mta try hundreds of hosts).
const MAX_MX: usize = 16;

impl Dns {
    /// The MX records of `domain`, as the zone gives them (sorting and the
    /// null-MX rule are the mta's policy).
    pub async fn mx(&self, domain: &str) -> DnsAnswer<Vec<MxRecord>> {
        let Some(r) = &self.resolver else {
            return DnsAnswer::Failed("no resolver configured".into());
        };
        let fqdn = format!("{}.", domain.trim_end_matches('.'));
        let lookup = match tokio::time::timeout(TIMEOUT * 2, r.mx_lookup(fqdn)).await {
            Ok(Ok(l)) => l,
            Ok(Err(e)) => return classify(e),
            Err(_) => return DnsAnswer::Failed("MX lookup timed out".into()),
        };
        let mut mxs: Vec<MxRecord> = lookup
            .answers()
            .iter()
            .filter_map(|rec| match &rec.data {
                RData::MX(mx) => Some(MxRecord {
                    preference: mx.preference,
                    exchange: mx
                        .exchange
                        .to_string()
                        .trim_end_matches('.')
                        .to_ascii_lowercase(),
                }),
                _ => None,
            })
            .collect();
        mxs.truncate(MAX_MX);
        if mxs.is_empty() {
            DnsAnswer::NoData
        } else {
            DnsAnswer::Found(mxs)
        }
    }

    /// The IPv4 and IPv6 addresses of `name` (an address literal is its
    /// own answer).
    pub async fn host(&self, name: &str) -> DnsAnswer<Vec<IpAddr>> {
        if let Ok(ip) = name.parse::<IpAddr>() {
            return DnsAnswer::Found(vec![ip]);
        }
        let Some(r) = &self.resolver else {
            return DnsAnswer::Failed("no resolver configured".into());
        };
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match tokio::time::timeout(TIMEOUT * 3, r.lookup_ip(fqdn)).await {
            Ok(Ok(ips)) => {
                let v: Vec<IpAddr> = ips.iter().collect();
                if v.is_empty() {
                    DnsAnswer::NoData
                } else {
                    DnsAnswer::Found(v)
                }
            }
            Ok(Err(e)) => classify(e),
            Err(_) => DnsAnswer::Failed("address lookup timed out".into()),
        }
    }
}

/// A failed lookup: a name that does not exist, a name without records of
/// the type asked, or a failure to get an answer.
fn classify<T>(e: NetError) -> DnsAnswer<T> {
    if e.is_nx_domain() {
        DnsAnswer::NxDomain
    } else if e.is_no_records_found() {
        DnsAnswer::NoData
    } else {
        DnsAnswer::Failed(e.to_string())
    }
}
