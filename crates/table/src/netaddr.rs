//! Network addresses as tables write them: `192.168.1.1`, `10.0.0.0/8`,
//! `10/8`, `::1`, `[::1]`, `ipv6:::1`, `2001:db8::/32`.
//!
//! Two parsers, as in OpenSMTPD:
//! - [`Netaddr::parse`] follows `text_to_netaddr()` (itself `inet_net_pton`):
//!   an optional prefix length, short IPv4 forms (`10/8`, `192.168`) and
//!   classful default prefixes when none is given;
//! - [`parse_ip`] follows `parse_sockaddr()`: one exact address, as `source`
//!   and `addrname` tables hold them (brackets, `ipv6:` prefix and a `%scope`
//!   suffix are accepted; the scope is dropped).
//!
//! Hand-written: `ipnet`-style crates parse only the strict `addr/len` form
//! and would refuse the short and classful forms existing tables use.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address with a prefix length: a network, or one host at full length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Netaddr {
    pub addr: IpAddr,
    /// Prefix length: 0..=32 for IPv4, 0..=128 for IPv6.
    pub bits: u8,
}

/// Text that is not a network address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not an IPv4 or IPv6 address or network")]
pub struct BadNetaddr(pub String);

impl Netaddr {
    /// Parse as OpenSMTPD's `text_to_netaddr()`.
    pub fn parse(text: &str) -> Result<Netaddr, BadNetaddr> {
        let bad = || BadNetaddr(text.to_string());
        let s = strip_prefix_ci(text, "ipv6:").unwrap_or(text);
        if let Some((addr, bits)) = parse_v4_net(s) {
            return Ok(Netaddr {
                addr: IpAddr::V4(addr),
                bits,
            });
        }
        let inner = match s.strip_prefix('[') {
            Some(rest) => {
                let rest = strip_prefix_ci(rest, "ipv6:").unwrap_or(rest);
                // `[addr/len]` as OpenSMTPD writes it, or `[addr]/len`.
                match rest.strip_suffix(']') {
                    Some(inner) => inner.to_string(),
                    None => {
                        let (addr, len) = rest.split_once("]/").ok_or_else(bad)?;
                        format!("{addr}/{len}")
                    }
                }
            }
            None => s.to_string(),
        };
        let (addr, bits) = parse_v6_net(&inner).ok_or_else(bad)?;
        Ok(Netaddr {
            addr: IpAddr::V6(addr),
            bits,
        })
    }

    /// A single host.
    pub fn host(addr: IpAddr) -> Netaddr {
        let bits = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        Netaddr { addr, bits }
    }

    /// Whether `ip` lies in this network. Families never mix: an IPv4
    /// address does not match an IPv4-mapped IPv6 network, as in OpenSMTPD.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = mask_v4(self.bits);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = mask_v6(self.bits);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    /// The network part of the address, host bits cleared (an index key).
    pub(crate) fn masked_bits(&self) -> u128 {
        masked(self.addr, self.bits)
    }
}

impl fmt::Display for Netaddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.bits)
    }
}

/// `ip` with everything past `bits` cleared, widened to 128 bits so that one
/// index type serves both families (the family is kept apart by the caller).
pub(crate) fn masked(ip: IpAddr, bits: u8) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4) & mask_v4(bits)),
        IpAddr::V6(v6) => u128::from(v6) & mask_v6(bits),
    }
}

fn mask_v4(bits: u8) -> u32 {
    match bits {
        0 => 0,
        b if b >= 32 => u32::MAX,
        b => u32::MAX << (32 - u32::from(b)),
    }
}

fn mask_v6(bits: u8) -> u128 {
    match bits {
        0 => 0,
        b if b >= 128 => u128::MAX,
        b => u128::MAX << (128 - u32::from(b)),
    }
}

/// Parse one exact address as OpenSMTPD's `parse_sockaddr()`.
pub fn parse_ip(text: &str) -> Result<IpAddr, BadNetaddr> {
    if let Ok(v4) = text.parse::<Ipv4Addr>() {
        return Ok(IpAddr::V4(v4));
    }
    let s = text.strip_prefix('[').unwrap_or(text);
    let s = strip_prefix_ci(s, "ipv6:").unwrap_or(s);
    let s = s.split(']').next().unwrap_or(s);
    let s = s.split('%').next().unwrap_or(s);
    s.parse::<Ipv6Addr>()
        .map(IpAddr::V6)
        .map_err(|_| BadNetaddr(text.to_string()))
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// `inet_net_pton(AF_INET, …)` for decimal input: 1 to 4 octets, an
/// optional `/len`, and when it is missing the classful default widened to
/// cover the octets written.
fn parse_v4_net(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, bits) = match s.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let mut octets = [0u8; 4];
    let mut count = 0usize;
    for part in addr.split('.') {
        if count == 4 || part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        octets[count] = part.parse().ok()?;
        count += 1;
    }
    let bits = match bits {
        Some(b) => {
            if b.is_empty() || !b.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let b: u8 = b.parse().ok()?;
            if b > 32 {
                return None;
            }
            b
        }
        None => classful_bits(octets[0], count),
    };
    Some((Ipv4Addr::from(octets), bits))
}

/// The default prefix of `inet_net_pton` when none is written.
fn classful_bits(first: u8, octets_written: usize) -> u8 {
    let mut bits: u8 = match first {
        240.. => 32,
        224.. => 4,
        192.. => 24,
        128.. => 16,
        _ => 8,
    };
    let written = u8::try_from(octets_written * 8).unwrap_or(32);
    if bits < written {
        bits = written;
    }
    if bits == 8 && first == 224 {
        bits = 4;
    }
    bits
}

/// An IPv6 address with an optional `/len` (128 when missing).
fn parse_v6_net(s: &str) -> Option<(Ipv6Addr, u8)> {
    let (addr, bits) = match s.split_once('/') {
        Some((a, b)) => {
            if b.is_empty() || !b.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let b: u8 = b.parse().ok()?;
            if b > 128 {
                return None;
            }
            (a, b)
        }
        None => (s, 128),
    };
    Some((addr.parse().ok()?, bits))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Netaddr {
        Netaddr::parse(s).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_forms() {
        assert_eq!(net("192.168.1.1"), Netaddr::host(ip("192.168.1.1")));
        assert_eq!(net("10.0.0.0/8").bits, 8);
        assert_eq!(
            net("10/8"),
            Netaddr {
                addr: ip("10.0.0.0"),
                bits: 8
            }
        );
        assert_eq!(net("10").bits, 8);
        assert_eq!(net("172.16").bits, 16);
        assert_eq!(net("192.168").bits, 24);
        assert_eq!(net("224").bits, 4);
        assert_eq!(net("0.0.0.0/0").bits, 0);
        for bad in [
            "1.2.3.4.5",
            "1.2.3.256",
            "1.2.3.4/33",
            "1..2",
            "a.b.c.d",
            "1.2.3.4/",
            "",
        ] {
            assert!(Netaddr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ipv6_forms() {
        assert_eq!(net("::1"), Netaddr::host(ip("::1")));
        assert_eq!(net("[::1]"), Netaddr::host(ip("::1")));
        assert_eq!(net("ipv6:::1"), Netaddr::host(ip("::1")));
        assert_eq!(net("[IPv6:::1]"), Netaddr::host(ip("::1")));
        assert_eq!(net("2001:db8::/32").bits, 32);
        assert_eq!(net("[2001:db8::/32]").bits, 32);
        assert_eq!(net("[2001:db8::]/32").bits, 32);
        for bad in ["[::1", "::1/129", "::g", "[::1]x"] {
            assert!(Netaddr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn containment() {
        assert!(net("10.0.0.0/8").contains(ip("10.200.1.1")));
        assert!(!net("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(net("10.1.2.3/8").contains(ip("10.9.9.9")));
        assert!(net("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(!net("0.0.0.0/0").contains(ip("::1")));
        assert!(net("2001:db8::/32").contains(ip("2001:db8:ffff::1")));
        assert!(!net("2001:db8::/32").contains(ip("2001:db9::1")));
        assert!(net("::/0").contains(ip("::1")));
        assert!(!net("::ffff:10.0.0.0/104").contains(ip("10.0.0.1")));
    }

    #[test]
    fn exact_addresses() {
        assert_eq!(parse_ip("192.0.2.1").unwrap(), ip("192.0.2.1"));
        assert_eq!(parse_ip("[2001:db8::1]").unwrap(), ip("2001:db8::1"));
        assert_eq!(parse_ip("ipv6:::3").unwrap(), ip("::3"));
        assert_eq!(parse_ip("fe80::1%eth0").unwrap(), ip("fe80::1"));
        assert!(parse_ip("10/8").is_err());
        assert!(parse_ip("example.org").is_err());
    }
}
