//! Where an envelope goes and how: the pure part of relaying policy, from
//! the action's `relay` options (smtpd.conf(5)) and the DNS answers. No
//! I/O here, so every rule is unit-tested.

use smtpd_config::{ListenOn, Listener, Relay, RelayProto, RelayTls, RelayTlsMode, RelayUrl};
use smtpd_types::{DeliveryOutcome, EnhancedStatus, MailAddr};
use std::net::{IpAddr, SocketAddr};

use crate::msg::to_mta::MxRecord;

/// The relay an envelope is queued on: envelopes with the same key share
/// the destination's DNS answers, connections and transactions. The
/// dispatcher is part of it because its options (helo, tls, auth, src)
/// shape the connections.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RouteKey {
    pub dispatcher: String,
    /// The recipient domain (lower case), unless the action sends every
    /// domain to the same smarthost.
    pub domain: Option<String>,
}

/// How the hosts to connect to are found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// MX lookup of the domain (`relay`, `relay backup`); `backup` is our
    /// own MX name when acting as a backup MX.
    Mx {
        domain: String,
        backup: Option<String>,
    },
    /// `relay host <t>`: one URL from the table, whatever the domain.
    HostTable { table: String },
    /// `relay domain <t>`: the URL the table holds for the domain.
    DomainTable { table: String, domain: String },
}

/// The route of an envelope for `dest_domain` under the action `relay`.
/// `hostname` is our server name (the default backup MX name).
pub fn route_of(
    dispatcher: &str,
    relay: &Relay,
    dest_domain: &str,
    hostname: &str,
) -> (RouteKey, Destination) {
    let domain = dest_domain.trim_end_matches('.').to_ascii_lowercase();
    if let Some(table) = &relay.host {
        let key = RouteKey {
            dispatcher: dispatcher.to_string(),
            domain: None,
        };
        return (
            key,
            Destination::HostTable {
                table: table.clone(),
            },
        );
    }
    let key = RouteKey {
        dispatcher: dispatcher.to_string(),
        domain: Some(domain.clone()),
    };
    if let Some(table) = &relay.domain {
        let dest = Destination::DomainTable {
            table: table.clone(),
            domain,
        };
        return (key, dest);
    }
    let backup = relay
        .backup
        .as_ref()
        .map(|b| b.clone().unwrap_or_else(|| hostname.to_string()));
    (key, Destination::Mx { domain, backup })
}

/// How TLS is used on a relay's connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsPolicy {
    /// Never (`smtp+notls://`, `lmtp://`).
    Never,
    /// STARTTLS when offered, unverified; plaintext when not offered or
    /// when the handshake fails (`smtp://`, MX relaying).
    Opportunistic,
    /// STARTTLS required (`smtp+tls://`, the `tls` option).
    StartTls { verify: bool },
    /// TLS from the first byte (`smtps://`).
    Implicit { verify: bool },
}

impl TlsPolicy {
    /// For a relay URL (smarthost, `relay domain`) and the action's `tls`
    /// option. The schemes that demand TLS verify the peer unless the
    /// action says `tls no-verify`.
    pub fn for_url(url: &RelayUrl, option: Option<RelayTls>) -> TlsPolicy {
        let verify = option.map(|t| t.verify).unwrap_or(true);
        match url.tls {
            RelayTlsMode::NoTls => TlsPolicy::Never,
            RelayTlsMode::Opportunistic => match option {
                Some(t) => TlsPolicy::StartTls { verify: t.verify },
                None => TlsPolicy::Opportunistic,
            },
            RelayTlsMode::StartTls => TlsPolicy::StartTls { verify },
            RelayTlsMode::Smtps | RelayTlsMode::SmtpsOrStartTls => TlsPolicy::Implicit { verify },
        }
    }

    /// For MX relaying: opportunistic unless the action says `tls`.
    pub fn for_mx(option: Option<RelayTls>) -> TlsPolicy {
        match option {
            Some(t) => TlsPolicy::StartTls { verify: t.verify },
            None => TlsPolicy::Opportunistic,
        }
    }

    pub fn verify(self) -> bool {
        matches!(
            self,
            TlsPolicy::StartTls { verify: true } | TlsPolicy::Implicit { verify: true }
        )
    }
}

/// Whether a URL speaks LMTP.
pub fn is_lmtp(url: &RelayUrl) -> bool {
    url.proto == RelayProto::Lmtp
}

/// The MX hosts to try, best first, or why there are none to try.
/// - RFC 7505: a single MX `.` means the domain accepts no mail; an MX
///   `localhost` is a misconfiguration that would deliver to ourselves.
///   Both are permanent failures.
/// - As a backup MX (`backup` = our MX name), only the MXs preferred to
///   ours are tried; when we are in the list and nobody is better, the
///   mail waits (a temporary failure) rather than looping.
pub fn mx_order(
    domain: &str,
    mut mxs: Vec<MxRecord>,
    backup: Option<&str>,
) -> Result<Vec<MxRecord>, DeliveryOutcome> {
    if mxs.iter().any(|m| m.exchange.is_empty()) {
        return Err(DeliveryOutcome::permfail(
            EnhancedStatus::new(5, 1, 10),
            format!("Domain {domain} does not accept mail (null MX)"),
        ));
    }
    if mxs
        .iter()
        .any(|m| m.exchange.eq_ignore_ascii_case("localhost"))
    {
        return Err(DeliveryOutcome::permfail(
            EnhancedStatus::new(5, 4, 4),
            format!("MX of {domain} is localhost"),
        ));
    }
    // Stable: records of equal preference keep the zone's order.
    mxs.sort_by_key(|m| m.preference);
    if let Some(me) = backup {
        let me = me.trim_end_matches('.');
        let mine = mxs
            .iter()
            .filter(|m| m.exchange.eq_ignore_ascii_case(me))
            .map(|m| m.preference)
            .min();
        if let Some(mine) = mine {
            mxs.retain(|m| m.preference < mine);
            if mxs.is_empty() {
                return Err(DeliveryOutcome::tempfail(
                    EnhancedStatus::new(4, 4, 4),
                    format!("no MX of {domain} is preferred to ours ({me})"),
                ));
            }
        }
    }
    Ok(mxs)
}

/// The MAIL FROM of a relayed message: `mail-from` rewrites a non-null
/// sender (`user` replaces the local part, `@domain` the domain, an
/// address replaces both); the null sender `<>` is never rewritten, so
/// bounces stay bounces.
pub fn rewrite_sender(
    sender: Option<&MailAddr>,
    mail_from: Option<&str>,
) -> Result<Option<MailAddr>, String> {
    let (Some(sender), Some(rule)) = (sender, mail_from) else {
        return Ok(sender.cloned());
    };
    let rule = rule.trim();
    let bad = || format!("invalid mail-from {rule:?}");
    let out = if let Some(domain) = rule.strip_prefix('@') {
        if domain.is_empty() || domain.contains('@') {
            return Err(bad());
        }
        MailAddr::new(sender.user.clone(), domain)
    } else if rule.contains('@') {
        MailAddr::parse(rule).map_err(|_| bad())?
    } else if rule.is_empty() {
        return Err(bad());
    } else {
        MailAddr::new(rule, sender.domain.clone())
    };
    Ok(Some(out))
}

/// An address literal domain (`[192.0.2.1]`, `[IPv6:2001:db8::1]`) names
/// its host directly: no MX lookup.
pub fn address_literal(domain: &str) -> Option<std::net::IpAddr> {
    let inner = domain.strip_prefix('[')?.strip_suffix(']')?;
    let inner = inner
        .strip_prefix("IPv6:")
        .or_else(|| inner.strip_prefix("ipv6:"))
        .unwrap_or(inner);
    inner.parse().ok()
}

/// Where we listen, for loop detection: a relay host that is one of our
/// own listening sockets would hand the mail back to us.
#[derive(Clone, Debug, Default)]
pub struct Ours {
    /// (address or `None` for "any local address", port).
    listeners: Vec<(Option<IpAddr>, u16)>,
    local: Vec<IpAddr>,
}

impl Ours {
    pub fn new(listeners: &[Listener], local: &[IpAddr]) -> Ours {
        let listeners = listeners
            .iter()
            .filter_map(|l| match &l.on {
                ListenOn::Socket => None,
                ListenOn::Addr(ip) => Some((Some(*ip), l.port)),
                ListenOn::Localhost | ListenOn::All | ListenOn::Name(_) => Some((None, l.port)),
            })
            .collect();
        Ours {
            listeners,
            local: local.to_vec(),
        }
    }

    pub fn is_ours(&self, addr: SocketAddr) -> bool {
        let ip = addr.ip();
        let local = ip.is_loopback() || ip.is_unspecified() || self.local.contains(&ip);
        self.listeners.iter().any(|(l, port)| {
            *port == addr.port()
                && match l {
                    Some(l) => *l == ip || (l.is_unspecified() && local),
                    None => local,
                }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mx(p: u16, e: &str) -> MxRecord {
        MxRecord {
            preference: p,
            exchange: e.into(),
        }
    }

    #[test]
    fn smarthost_routes_every_domain_together() {
        let r = Relay {
            host: Some("<smart>".into()),
            ..Relay::default()
        };
        let (k1, d) = route_of("out", &r, "A.example", "me");
        let (k2, _) = route_of("out", &r, "b.example", "me");
        assert_eq!(k1, k2);
        assert_eq!(
            d,
            Destination::HostTable {
                table: "<smart>".into()
            }
        );
    }

    #[test]
    fn mx_routes_per_domain_lower_case_and_backup_defaults_to_our_name() {
        let r = Relay {
            backup: Some(None),
            ..Relay::default()
        };
        let (k, d) = route_of("out", &r, "Example.ORG.", "mx2.example.org");
        assert_eq!(k.domain.as_deref(), Some("example.org"));
        assert_eq!(
            d,
            Destination::Mx {
                domain: "example.org".into(),
                backup: Some("mx2.example.org".into())
            }
        );
        let r = Relay {
            domain: Some("<map>".into()),
            ..Relay::default()
        };
        assert!(matches!(
            route_of("d", &r, "x.test", "me").1,
            Destination::DomainTable { .. }
        ));
    }

    #[test]
    fn mx_sorted_by_preference_stably() {
        let v = mx_order("d", vec![mx(20, "b"), mx(10, "a"), mx(20, "c")], None).unwrap();
        let names: Vec<&str> = v.iter().map(|m| m.exchange.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn null_mx_and_localhost_fail_permanently() {
        let e = mx_order("d", vec![mx(0, "")], None).unwrap_err();
        assert!(
            matches!(e, DeliveryOutcome::PermFail { status, .. } if status == EnhancedStatus::new(5, 1, 10))
        );
        let e = mx_order("d", vec![mx(10, "LocalHost")], None).unwrap_err();
        assert!(matches!(e, DeliveryOutcome::PermFail { .. }));
    }

    #[test]
    fn backup_keeps_only_better_mxs() {
        let all = vec![mx(10, "a"), mx(20, "me"), mx(30, "c"), mx(20, "b")];
        let v = mx_order("d", all.clone(), Some("ME.")).unwrap();
        assert_eq!(v, vec![mx(10, "a")]);
        // Not listed: every MX is tried.
        assert_eq!(mx_order("d", all, Some("other")).unwrap().len(), 4);
        // We are the best: wait.
        let e = mx_order("d", vec![mx(10, "me"), mx(20, "x")], Some("me")).unwrap_err();
        assert!(matches!(e, DeliveryOutcome::TempFail { .. }));
    }

    #[test]
    fn mail_from_rewrites_but_never_the_null_sender() {
        let s = MailAddr::new("alice", "inside.test");
        let r = |rule| rewrite_sender(Some(&s), Some(rule)).unwrap().unwrap();
        assert_eq!(r("@out.test"), MailAddr::new("alice", "out.test"));
        assert_eq!(r("bounce"), MailAddr::new("bounce", "inside.test"));
        assert_eq!(r("x@y.test"), MailAddr::new("x", "y.test"));
        assert_eq!(rewrite_sender(None, Some("x@y.test")).unwrap(), None);
        assert_eq!(rewrite_sender(Some(&s), None).unwrap(), Some(s.clone()));
        assert!(rewrite_sender(Some(&s), Some("@")).is_err());
        assert!(rewrite_sender(Some(&s), Some("")).is_err());
    }

    #[test]
    fn tls_policies() {
        let u = |s| RelayUrl::parse(s).unwrap();
        let no_verify = Some(RelayTls { verify: false });
        assert_eq!(
            TlsPolicy::for_url(&u("smtp://h"), None),
            TlsPolicy::Opportunistic
        );
        assert_eq!(
            TlsPolicy::for_url(&u("smtp+tls://h"), None),
            TlsPolicy::StartTls { verify: true }
        );
        assert_eq!(
            TlsPolicy::for_url(&u("smtp+tls://h"), no_verify),
            TlsPolicy::StartTls { verify: false }
        );
        assert_eq!(
            TlsPolicy::for_url(&u("smtps://h"), None),
            TlsPolicy::Implicit { verify: true }
        );
        assert_eq!(
            TlsPolicy::for_url(&u("smtp+notls://h"), None),
            TlsPolicy::Never
        );
        assert_eq!(
            TlsPolicy::for_url(&u("lmtp://h:24"), None),
            TlsPolicy::Never
        );
        assert_eq!(TlsPolicy::for_mx(None), TlsPolicy::Opportunistic);
        assert_eq!(
            TlsPolicy::for_mx(no_verify),
            TlsPolicy::StartTls { verify: false }
        );
    }

    #[test]
    fn loops_are_our_own_listeners() {
        let mut a = Listener::default_socket();
        a.on = ListenOn::Addr([127, 0, 0, 1].into());
        a.port = 2525;
        let mut b = Listener::default_socket();
        b.on = ListenOn::All;
        b.port = 25;
        let ours = Ours::new(
            &[a, b, Listener::default_socket()],
            &[[192, 0, 2, 7].into()],
        );
        let sa = |ip: [u8; 4], port| SocketAddr::from((ip, port));
        assert!(ours.is_ours(sa([127, 0, 0, 1], 2525)));
        assert!(!ours.is_ours(sa([127, 0, 0, 2], 2525)));
        assert!(!ours.is_ours(sa([127, 0, 0, 1], 2526)));
        assert!(ours.is_ours(sa([192, 0, 2, 7], 25)));
        assert!(ours.is_ours(sa([127, 0, 0, 9], 25)));
        assert!(!ours.is_ours(sa([192, 0, 2, 8], 25)));
    }

    #[test]
    fn address_literals() {
        assert_eq!(address_literal("[127.0.0.1]"), Some([127, 0, 0, 1].into()));
        assert_eq!(
            address_literal("[IPv6:::1]"),
            Some(std::net::Ipv6Addr::LOCALHOST.into())
        );
        assert_eq!(address_literal("example.org"), None);
        assert_eq!(address_literal("[junk]"), None);
    }
}
