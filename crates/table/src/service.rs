//! The services a table can be asked for, and sets of them.
//!
//! A service names what a lookup is *for* (OpenSMTPD's `enum table_service`):
//! the same table file can answer as a list of domains for `match for domain`
//! and as a list of strings for `match tag`, and each service has its own key
//! matching rules and its own value format.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a table lookup is for. The names are those of smtpd.conf(5) and of
/// the smtpd-tables(7) protocol (`register|alias`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Service {
    /// `alias`/`virtual` tables and listener `senders`: key → alias list.
    Alias,
    /// `for domain`, `helo`: domain names, `*.example.org` wildcards.
    Domain,
    /// Listener `auth` and relay `auth`: key → password hash or `user:password`.
    Credentials,
    /// `from src`: addresses and CIDR networks.
    Netaddr,
    /// `userbase`: user → `uid:gid:home`.
    Userinfo,
    /// Relay `src`: source addresses, rotated with `fetch`.
    Source,
    /// `mail-from`, `rcpt-to`: `user`, `@domain`, `user@domain`, `user@*.domain`.
    Mailaddr,
    /// `senders`: user → list of mail address patterns.
    Mailaddrmap,
    /// `hostnames`, `helo-src`: address → host name.
    Addrname,
    /// Relay `host`/`domain` maps: key → relay URL; also rotated with `fetch`.
    Relayhost,
    /// `tag` and other plain string conditions: exact (case-folded) strings.
    String,
    /// Any `regex` condition: extended regular expressions.
    Regex,
}

impl Service {
    /// Every service, in the order of OpenSMTPD's enum.
    pub const ALL: [Service; 12] = [
        Service::Alias,
        Service::Domain,
        Service::Credentials,
        Service::Netaddr,
        Service::Userinfo,
        Service::Source,
        Service::Mailaddr,
        Service::Mailaddrmap,
        Service::Addrname,
        Service::Relayhost,
        Service::String,
        Service::Regex,
    ];

    /// The lower-case name used in configuration and protocol text.
    pub fn name(self) -> &'static str {
        match self {
            Service::Alias => "alias",
            Service::Domain => "domain",
            Service::Credentials => "credentials",
            Service::Netaddr => "netaddr",
            Service::Userinfo => "userinfo",
            Service::Source => "source",
            Service::Mailaddr => "mailaddr",
            Service::Mailaddrmap => "mailaddrmap",
            Service::Addrname => "addrname",
            Service::Relayhost => "relayhost",
            Service::String => "string",
            Service::Regex => "regex",
        }
    }

    /// Whether keys are compared by a pattern rule (wildcard, network,
    /// address pattern, regex) rather than by exact equality.
    pub fn matches_by_pattern(self) -> bool {
        matches!(
            self,
            Service::Domain | Service::Netaddr | Service::Mailaddr | Service::Regex
        )
    }

    /// Whether `fetch` (rotation through the entries) makes sense.
    pub fn is_fetchable(self) -> bool {
        matches!(self, Service::Source | Service::Relayhost)
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a table service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown table service \"{0}\"")]
pub struct UnknownService(pub String);

impl FromStr for Service {
    type Err = UnknownService;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Service::ALL
            .into_iter()
            .find(|svc| svc.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownService(s.to_string()))
    }
}

/// A set of services, e.g. those a backend can serve.
///
/// Hand-written rather than taken from `bitflags`/`enumset`: it is a
/// twelve-member set over an existing enum, and a dozen lines here cost less
/// than a dependency and a second declaration of the members.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct ServiceSet(u16);

impl ServiceSet {
    /// No service.
    pub const EMPTY: ServiceSet = ServiceSet(0);
    /// Every service (what the static and db backends serve).
    pub const ALL: ServiceSet = ServiceSet((1 << Service::ALL.len()) - 1);

    /// The set holding exactly these services.
    pub fn of(services: &[Service]) -> Self {
        services.iter().fold(Self::EMPTY, |set, s| set.with(*s))
    }

    /// This set plus one service.
    pub fn with(self, service: Service) -> Self {
        ServiceSet(self.0 | service.bit())
    }

    pub fn contains(self, service: Service) -> bool {
        self.0 & service.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The members, in enum order.
    pub fn iter(self) -> impl Iterator<Item = Service> {
        Service::ALL.into_iter().filter(move |s| self.contains(*s))
    }
}

impl fmt::Debug for ServiceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl fmt::Display for ServiceSet {
    /// Comma-separated names, as an error message would list them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Service::name).collect();
        f.write_str(&names.join(", "))
    }
}

impl FromIterator<Service> for ServiceSet {
    fn from_iter<I: IntoIterator<Item = Service>>(iter: I) -> Self {
        iter.into_iter().fold(Self::EMPTY, |set, s| set.with(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Service::ALL {
            assert_eq!(s.name().parse::<Service>(), Ok(s));
            assert_eq!(s.to_string(), s.name());
        }
        assert_eq!("ALIAS".parse::<Service>(), Ok(Service::Alias));
        assert!("aliases".parse::<Service>().is_err());
    }

    #[test]
    fn sets() {
        let set = ServiceSet::of(&[Service::Userinfo, Service::Alias]);
        assert!(set.contains(Service::Alias));
        assert!(set.contains(Service::Userinfo));
        assert!(!set.contains(Service::Domain));
        assert_eq!(set.to_string(), "alias, userinfo");
        assert_eq!(ServiceSet::ALL.iter().count(), 12);
        assert!(ServiceSet::EMPTY.is_empty());
        let collected: ServiceSet = [Service::Regex].into_iter().collect();
        assert_eq!(collected, ServiceSet::EMPTY.with(Service::Regex));
    }
}
