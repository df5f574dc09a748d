//! Turning a listener into the socket addresses it binds, on Linux.
//!
//! `listen on` takes an address, `localhost`, `all`/`any`, an interface
//! name, an interface group or a host name. Interface names come from
//! `getifaddrs`; `lo0` (OpenBSD's name) means the loopback interface when no
//! interface has that name; `egress` means the interfaces that hold a
//! default route (read from `/proc/net/route` and `/proc/net/ipv6_route`);
//! anything else is resolved as a host name (getaddrinfo, through std).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6, ToSocketAddrs};

use nix::net::if_::InterfaceFlags;

use crate::model::{Family, ListenOn, Listener};

/// One address of one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfAddr {
    pub name: String,
    pub addr: IpAddr,
    /// Interface index, for link-local IPv6 addresses.
    pub scope_id: u32,
    pub loopback: bool,
}

/// Where interface information comes from (the system, or a test's list).
pub trait InterfaceSource {
    /// Every address of every interface.
    fn addresses(&self) -> io::Result<Vec<IfAddr>>;
    /// Names of the interfaces holding a default route.
    fn default_route_interfaces(&self) -> io::Result<Vec<String>>;

    /// Addresses of a host name (getaddrinfo, through std, by default).
    fn resolve_host(&self, name: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok((name, port).to_socket_addrs()?.collect())
    }
}

/// The running system's interfaces.
pub struct SystemInterfaces;

impl InterfaceSource for SystemInterfaces {
    fn addresses(&self) -> io::Result<Vec<IfAddr>> {
        let mut out = Vec::new();
        for ifa in nix::ifaddrs::getifaddrs().map_err(io::Error::from)? {
            let Some(sa) = ifa.address else { continue };
            let loopback = ifa.flags.contains(InterfaceFlags::IFF_LOOPBACK);
            let (addr, scope_id) = if let Some(v4) = sa.as_sockaddr_in() {
                (IpAddr::V4(v4.ip()), 0)
            } else if let Some(v6) = sa.as_sockaddr_in6() {
                (IpAddr::V6(v6.ip()), v6.scope_id())
            } else {
                continue;
            };
            out.push(IfAddr {
                name: ifa.interface_name,
                addr,
                scope_id,
                loopback,
            });
        }
        Ok(out)
    }

    fn default_route_interfaces(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        if let Ok(t) = std::fs::read_to_string("/proc/net/route") {
            names.extend(default_routes_v4(&t));
        }
        if let Ok(t) = std::fs::read_to_string("/proc/net/ipv6_route") {
            names.extend(default_routes_v6(&t));
        }
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(n.clone()));
        Ok(names)
    }
}

/// Why a listener has no address.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("invalid virtual ip or interface: {0}")]
    NotFound(String),
    #[error("{what} is not an {family} address")]
    Family { what: String, family: &'static str },
    #[error("cannot list interfaces: {0}")]
    Io(#[from] io::Error),
}

const RTF_UP: u32 = 0x0001;
const RTF_REJECT: u32 = 0x0200;

/// Interfaces with an IPv4 default route, from `/proc/net/route` text
/// (`Iface Destination Gateway Flags … Mask …`, hexadecimal).
pub fn default_routes_v4(text: &str) -> Vec<String> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let flags = u32::from_str_radix(f.get(3)?, 16).ok()?;
            let default = *f.get(1)? == "00000000" && *f.get(7)? == "00000000";
            (default && flags & RTF_UP != 0 && flags & RTF_REJECT == 0).then(|| f[0].to_string())
        })
        .collect()
}

/// Interfaces with an IPv6 default route, from `/proc/net/ipv6_route`
/// text (destination, prefix length, …, flags, device).
pub fn default_routes_v6(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 10 {
                return None;
            }
            let flags = u32::from_str_radix(f[8], 16).ok()?;
            let default = f[0].bytes().all(|b| b == b'0') && f[1] == "00";
            (default && flags & RTF_UP != 0 && flags & RTF_REJECT == 0).then(|| f[9].to_string())
        })
        .collect()
}

/// The socket addresses `l` binds, using the system's interfaces. A socket
/// listener binds no internet address (empty list).
pub fn resolve_listener(l: &Listener) -> Result<Vec<SocketAddr>, ResolveError> {
    resolve_listener_with(l, &SystemInterfaces)
}

/// [`resolve_listener`] with the interfaces from `src`.
pub fn resolve_listener_with(
    l: &Listener,
    src: &dyn InterfaceSource,
) -> Result<Vec<SocketAddr>, ResolveError> {
    let fam_ok = |ip: &IpAddr| match l.family {
        Some(Family::Inet4) => ip.is_ipv4(),
        Some(Family::Inet6) => ip.is_ipv6(),
        None => true,
    };
    let sock = |a: &IfAddr| match a.addr {
        IpAddr::V6(ip) => SocketAddr::V6(SocketAddrV6::new(
            ip,
            l.port,
            0,
            link_scope(&ip, a.scope_id),
        )),
        ip => SocketAddr::new(ip, l.port),
    };
    let of_interfaces = |pick: &dyn Fn(&IfAddr) -> bool| -> Result<Vec<SocketAddr>, ResolveError> {
        Ok(src
            .addresses()?
            .iter()
            .filter(|a| pick(a) && fam_ok(&a.addr))
            .map(sock)
            .collect())
    };
    let mut out = match &l.on {
        ListenOn::Socket => return Ok(Vec::new()),
        ListenOn::Addr(ip) => {
            if !fam_ok(ip) {
                return Err(ResolveError::Family {
                    what: ip.to_string(),
                    family: if ip.is_ipv4() { "inet6" } else { "inet4" },
                });
            }
            vec![SocketAddr::new(*ip, l.port)]
        }
        ListenOn::Localhost => {
            let has_v6 = src
                .addresses()?
                .iter()
                .any(|a| a.addr == IpAddr::V6(Ipv6Addr::LOCALHOST));
            let mut v = Vec::new();
            for ip in [
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ] {
                if fam_ok(&ip) && (ip.is_ipv4() || has_v6) {
                    v.push(SocketAddr::new(ip, l.port));
                }
            }
            v
        }
        ListenOn::All => of_interfaces(&|_| true)?,
        ListenOn::Name(name) => {
            let addrs = src.addresses()?;
            let v = if addrs.iter().any(|a| &a.name == name) {
                of_interfaces(&|a| &a.name == name)?
            } else if name == "lo0" {
                of_interfaces(&|a| a.loopback)?
            } else if name == "egress" {
                let egress = src.default_route_interfaces()?;
                of_interfaces(&|a| egress.contains(&a.name))?
            } else {
                match src.resolve_host(name, l.port) {
                    Ok(v) => v.into_iter().filter(|s| fam_ok(&s.ip())).collect(),
                    Err(_) => Vec::new(),
                }
            };
            v
        }
    };
    let mut seen = std::collections::HashSet::new();
    out.retain(|a| seen.insert(*a));
    if out.is_empty() {
        return Err(ResolveError::NotFound(match &l.on {
            ListenOn::Name(n) => n.clone(),
            ListenOn::All => "all".into(),
            ListenOn::Localhost => "localhost".into(),
            ListenOn::Addr(ip) => ip.to_string(),
            ListenOn::Socket => "socket".into(),
        }));
    }
    Ok(out)
}

/// Link-local addresses need their interface; others must not carry one.
fn link_scope(ip: &Ipv6Addr, scope: u32) -> u32 {
    if ip.segments()[0] & 0xffc0 == 0xfe80 {
        scope
    } else {
        0
    }
}
