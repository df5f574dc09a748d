//! Resolving listeners to socket addresses.

use std::io;
use std::net::{IpAddr, SocketAddr};

use smtpd_config::iface::{
    default_routes_v4, default_routes_v6, resolve_listener, resolve_listener_with, IfAddr,
    InterfaceSource, ResolveError, SystemInterfaces,
};
use smtpd_config::{Family, ListenOn, Listener, Span};

/// A made-up host: lo, eth0 (default route) and eth1.
struct Fake;

impl InterfaceSource for Fake {
    fn addresses(&self) -> io::Result<Vec<IfAddr>> {
        let a = |name: &str, addr: &str, scope_id, loopback| IfAddr {
            name: name.into(),
            addr: addr.parse().unwrap(),
            scope_id,
            loopback,
        };
        Ok(vec![
            a("lo", "127.0.0.1", 0, true),
            a("lo", "::1", 0, true),
            a("eth0", "192.0.2.10", 0, false),
            a("eth0", "fe80::1", 2, false),
            a("eth1", "198.51.100.1", 0, false),
        ])
    }

    fn default_route_interfaces(&self) -> io::Result<Vec<String>> {
        Ok(vec!["eth0".into()])
    }

    fn resolve_host(&self, name: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        match name {
            "mx.example.org" => Ok(vec![
                SocketAddr::new("192.0.2.25".parse().unwrap(), port),
                SocketAddr::new("2001:db8::25".parse().unwrap(), port),
            ]),
            _ => Err(io::Error::new(io::ErrorKind::NotFound, "no such host")),
        }
    }
}

fn listener(on: ListenOn, port: u16, family: Option<Family>) -> Listener {
    let mut l = Listener::new(on, Span::default());
    l.port = port;
    l.family = family;
    l
}

fn resolve(on: ListenOn, family: Option<Family>) -> Vec<String> {
    resolve_listener_with(&listener(on, 25, family), &Fake)
        .unwrap()
        .iter()
        .map(|a| a.to_string())
        .collect()
}

fn name(s: &str) -> ListenOn {
    ListenOn::Name(s.into())
}

#[test]
fn interfaces_groups_and_names() {
    assert_eq!(
        resolve(name("eth0"), None),
        ["192.0.2.10:25", "[fe80::1%2]:25"]
    );
    assert_eq!(
        resolve(name("eth0"), Some(Family::Inet4)),
        ["192.0.2.10:25"]
    );
    // lo0 is OpenBSD's loopback interface.
    assert_eq!(resolve(name("lo0"), None), ["127.0.0.1:25", "[::1]:25"]);
    // egress: the interfaces holding the default route.
    assert_eq!(
        resolve(name("egress"), Some(Family::Inet4)),
        ["192.0.2.10:25"]
    );
    assert_eq!(resolve(ListenOn::All, Some(Family::Inet4)).len(), 3);
    assert_eq!(resolve(ListenOn::All, None).len(), 5);
    assert_eq!(
        resolve(ListenOn::Localhost, None),
        ["127.0.0.1:25", "[::1]:25"]
    );
    assert_eq!(
        resolve(ListenOn::Localhost, Some(Family::Inet6)),
        ["[::1]:25"]
    );
    assert_eq!(
        resolve(name("mx.example.org"), Some(Family::Inet6)),
        ["[2001:db8::25]:25"]
    );
    let a: IpAddr = "203.0.113.5".parse().unwrap();
    assert_eq!(resolve(ListenOn::Addr(a), None), ["203.0.113.5:25"]);
    assert!(
        resolve_listener_with(&listener(ListenOn::Socket, 0, None), &Fake)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn unresolvable_listeners() {
    let e = resolve_listener_with(&listener(name("nosuch"), 25, None), &Fake).unwrap_err();
    assert!(matches!(e, ResolveError::NotFound(n) if n == "nosuch"));
    let a: IpAddr = "203.0.113.5".parse().unwrap();
    let e = resolve_listener_with(&listener(ListenOn::Addr(a), 25, Some(Family::Inet6)), &Fake)
        .unwrap_err();
    assert!(matches!(e, ResolveError::Family { .. }));
    let e =
        resolve_listener_with(&listener(name("eth1"), 25, Some(Family::Inet6)), &Fake).unwrap_err();
    assert!(matches!(e, ResolveError::NotFound(_)));
}

#[test]
fn default_routes_from_proc() {
    let v4 =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
              eth0\t00000000\t0102000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
              eth0\t0002000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n\
              wg0\t00000000\t00000000\t0201\t0\t0\t0\t00000000\t0\t0\t0\n";
    assert_eq!(default_routes_v4(v4), ["eth0"]);
    let v6 = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00450003 eth1\n\
              00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n\
              fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001 eth1\n";
    assert_eq!(default_routes_v6(v6), ["eth1"]);
}

#[test]
fn the_running_system() {
    let addrs = SystemInterfaces.addresses().unwrap();
    assert!(addrs
        .iter()
        .any(|a| a.loopback && a.addr == IpAddr::from([127, 0, 0, 1])));
    let got = resolve_listener(&listener(ListenOn::Localhost, 2525, Some(Family::Inet4))).unwrap();
    assert_eq!(got, vec![SocketAddr::from(([127, 0, 0, 1], 2525))]);
    let lo = addrs.iter().find(|a| a.loopback).unwrap().name.clone();
    let got = resolve_listener(&listener(name(&lo), 25, Some(Family::Inet4))).unwrap();
    assert!(got.contains(&SocketAddr::from(([127, 0, 0, 1], 25))));
    let got = resolve_listener(&listener(name("lo0"), 25, Some(Family::Inet4))).unwrap();
    assert!(got.contains(&SocketAddr::from(([127, 0, 0, 1], 25))));
    // What a listener resolves to can really be bound (port 0: any).
    let got = resolve_listener(&listener(name(&lo), 0, Some(Family::Inet4))).unwrap();
    let sock = std::net::TcpListener::bind(got[0]).unwrap();
    assert!(sock.local_addr().unwrap().ip().is_loopback());
}
