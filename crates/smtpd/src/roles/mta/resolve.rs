//! Turning a relay's destination into a connection plan: the hosts to try
//! in order with their addresses, the port, TLS and AUTH, the HELO name and
//! source address. All lookups go through lka. The plan is kept while the
//! relay is in use (the seed's §4.4: envelopes arriving meanwhile for the
//! same relay do not trigger the queries again).

use smtpd_config::{Relay, RelayUrl};
use smtpd_types::{DeliveryOutcome, EnhancedStatus};
use std::net::IpAddr;

use super::lka::LkaClient;
use super::route::{address_literal, is_lmtp, mx_order, Destination, TlsPolicy};
use crate::msg::to_mta::{DnsAnswer, RelayCredentials};

/// One host to try, with its addresses in the resolver's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub addrs: Vec<IpAddr>,
}

/// Everything a session needs to reach the relay.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Best first (MX preference order).
    pub targets: Vec<Target>,
    pub port: u16,
    pub lmtp: bool,
    pub tls: TlsPolicy,
    pub auth: Option<RelayCredentials>,
    pub helo: String,
    pub source: Option<IpAddr>,
    /// The `ca` of the action, if any (verification roots).
    pub ca: Option<String>,
    /// The action's `protocols` and `ciphers`, if any.
    pub protocols: Option<String>,
    pub ciphers: Option<String>,
    /// The action's `pki`: a client certificate to show.
    pub pki: Option<String>,
}

/// What the plan is built from besides the destination.
pub struct Setting<'a> {
    pub relay: &'a Relay,
    pub hostname: &'a str,
    /// The port MX hosts are reached on (25; `--mx-port` in tests).
    pub mx_port: u16,
}

fn temp(detail: u16, why: impl Into<String>) -> DeliveryOutcome {
    DeliveryOutcome::tempfail(EnhancedStatus::new(4, 4, detail), why)
}

fn config_temp(why: impl Into<String>) -> DeliveryOutcome {
    DeliveryOutcome::tempfail(EnhancedStatus::new(4, 3, 5), why)
}

pub async fn resolve(
    lka: &LkaClient,
    dest: &Destination,
    s: &Setting<'_>,
) -> Result<Plan, DeliveryOutcome> {
    let relay = s.relay;
    let mut plan = Plan {
        targets: Vec::new(),
        port: s.mx_port,
        lmtp: false,
        tls: TlsPolicy::for_mx(relay.tls),
        auth: None,
        helo: relay.helo.clone().unwrap_or_else(|| s.hostname.to_string()),
        source: None,
        ca: relay.ca.clone(),
        protocols: relay.protocols.clone(),
        ciphers: relay.ciphers.clone(),
        pki: relay.pki.clone(),
    };
    match dest {
        Destination::HostTable { table } => {
            let url = relay_url(lka, table, None).await?;
            with_url(lka, relay, &url, &mut plan).await?;
        }
        Destination::DomainTable { table, domain } => {
            let url = relay_url(lka, table, Some(domain)).await?;
            with_url(lka, relay, &url, &mut plan).await?;
        }
        Destination::Mx { domain, backup } => {
            plan.targets = mx_targets(lka, domain, backup.as_deref()).await?;
        }
    }
    if let Some(table) = &relay.src {
        plan.source = lka
            .source(table)
            .await
            .map_err(|e| config_temp(format!("source table {table}: {e}")))?;
    }
    // `helo-src`: the name that goes with the source address.
    if let (Some(table), Some(addr)) = (&relay.helo_src, plan.source) {
        if let Some(name) = lka
            .helo_name(table, addr)
            .await
            .map_err(|e| config_temp(format!("helo-src table {table}: {e}")))?
        {
            plan.helo = name;
        }
    }
    Ok(plan)
}

async fn relay_url(
    lka: &LkaClient,
    table: &str,
    domain: Option<&str>,
) -> Result<RelayUrl, DeliveryOutcome> {
    let text = match lka.relay_host(table, domain).await {
        Ok(Some(u)) => u,
        Ok(None) => {
            return Err(config_temp(match domain {
                Some(d) => format!("no relay for domain {d} in table {table}"),
                None => format!("no relay host in table {table}"),
            }))
        }
        Err(e) => return Err(config_temp(format!("relay table {table}: {e}"))),
    };
    RelayUrl::parse(&text).map_err(|e| config_temp(format!("relay URL {text:?}: {e}")))
}

/// A smarthost: its host, port, protocol, TLS and credentials.
async fn with_url(
    lka: &LkaClient,
    relay: &Relay,
    url: &RelayUrl,
    plan: &mut Plan,
) -> Result<(), DeliveryOutcome> {
    plan.port = url.effective_port();
    plan.lmtp = is_lmtp(url);
    plan.tls = TlsPolicy::for_url(url, relay.tls);
    plan.targets = vec![host_target(lka, &url.host).await?];
    if let Some(table) = &relay.auth {
        let Some(label) = &url.label else {
            return Err(config_temp(format!(
                "auth table {table} but no label in the relay URL"
            )));
        };
        plan.auth = match lka.credentials(table, label).await {
            Ok(Some(c)) => Some(c),
            Ok(None) => {
                return Err(config_temp(format!(
                    "no credentials for {label} in {table}"
                )))
            }
            Err(e) => return Err(config_temp(format!("credentials table {table}: {e}"))),
        };
    }
    Ok(())
}

/// The addresses of one named host (a smarthost, or a domain without MX).
async fn host_target(lka: &LkaClient, host: &str) -> Result<Target, DeliveryOutcome> {
    match lka.host(host).await {
        DnsAnswer::Found(addrs) => Ok(Target {
            host: host.to_string(),
            addrs,
        }),
        DnsAnswer::NoData | DnsAnswer::NxDomain => Err(temp(4, format!("no address for {host}"))),
        DnsAnswer::Failed(e) => Err(temp(3, format!("DNS error for {host}: {e}"))),
    }
}

/// MX relaying: the MX hosts in order with their addresses; a domain
/// without MX is its own (implicit) MX, RFC 5321 §5.1.
async fn mx_targets(
    lka: &LkaClient,
    domain: &str,
    backup: Option<&str>,
) -> Result<Vec<Target>, DeliveryOutcome> {
    if let Some(ip) = address_literal(domain) {
        return Ok(vec![Target {
            host: domain.to_string(),
            addrs: vec![ip],
        }]);
    }
    let mxs = match lka.mx(domain).await {
        DnsAnswer::Found(m) => m,
        DnsAnswer::NoData => {
            return match lka.host(domain).await {
                DnsAnswer::Found(addrs) => Ok(vec![Target {
                    host: domain.to_string(),
                    addrs,
                }]),
                DnsAnswer::NoData | DnsAnswer::NxDomain => Err(DeliveryOutcome::permfail(
                    EnhancedStatus::new(5, 1, 2),
                    format!("No MX or address found for domain {domain}"),
                )),
                DnsAnswer::Failed(e) => Err(temp(3, format!("DNS error for {domain}: {e}"))),
            };
        }
        DnsAnswer::NxDomain => {
            return Err(DeliveryOutcome::permfail(
                EnhancedStatus::new(5, 1, 2),
                format!("Domain {domain} does not exist"),
            ))
        }
        DnsAnswer::Failed(e) => {
            return Err(temp(3, format!("MX lookup of {domain} failed: {e}")));
        }
    };
    let mut targets = Vec::new();
    let mut last = String::new();
    for mx in mx_order(domain, mxs, backup)? {
        match lka.host(&mx.exchange).await {
            DnsAnswer::Found(addrs) => targets.push(Target {
                host: mx.exchange,
                addrs,
            }),
            DnsAnswer::NoData | DnsAnswer::NxDomain => {
                last = format!("no address for MX {}", mx.exchange)
            }
            DnsAnswer::Failed(e) => last = format!("DNS error for MX {}: {e}", mx.exchange),
        }
    }
    if targets.is_empty() {
        return Err(temp(4, format!("no MX of {domain} has an address: {last}")));
    }
    Ok(targets)
}
