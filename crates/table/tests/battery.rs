//! One battery of lookup semantics, run against every backend that holds
//! contents: static inline, static file, and db built by makemap.

mod common;

use common::fixtures::*;
use common::{open_db, open_file, open_inline, Contents, Factory};
use smtpd_table::alias::{lookup_alias, lookup_virtual};
use smtpd_table::{
    Addrname, Credentials, ExpandNode, MailPattern, Netaddr, Service, ServiceSet, TableError,
    TableKind, Userinfo, Value,
};
use smtpd_types::MailAddr;
use std::net::IpAddr;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn check(f: Factory, contents: Contents, service: Service, yes: &[&str], no: &[&str]) {
    let t = f("t", contents, '+');
    for key in yes {
        assert!(
            t.check(service, key).unwrap(),
            "{service} {key} should match"
        );
    }
    for key in no {
        assert!(
            !t.check(service, key).unwrap(),
            "{service} {key} should not match"
        );
    }
}

fn shape(f: Factory) {
    let t = f("shape", DOMAINS, '+');
    assert_eq!(t.name(), "shape");
    assert_eq!(t.services(), ServiceSet::ALL);
    assert_eq!(t.kind(), TableKind::List);
    assert!(matches!(
        t.lookup(Service::Domain, "example.org"),
        Err(TableError::NotAMapping { .. })
    ));
    assert_eq!(f("m", CREDENTIALS, '+').kind(), TableKind::Mapping);
    let long = "a".repeat(2000);
    assert!(matches!(
        t.check(Service::Domain, &long),
        Err(TableError::KeyTooLong { .. })
    ));
}

fn domain(f: Factory) {
    check(
        f,
        DOMAINS,
        Service::Domain,
        &[
            "example.org",
            "EXAMPLE.ORG",
            "mx.example.net",
            "mixed.case.org",
        ],
        &["a.b.example.net", "example.net", "other.org", "org", ""],
    );
    let t = f("d", DOMAIN_MAP, '+');
    assert_eq!(
        t.lookup(Service::Domain, "MX.example.com").unwrap(),
        Some(Value::Domain("wild".into()))
    );
    assert_eq!(
        t.lookup(Service::Domain, "example.org").unwrap(),
        Some(Value::Domain("primary".into()))
    );
    assert_eq!(t.lookup(Service::Domain, "example.com").unwrap(), None);
}

fn netaddr(f: Factory) {
    check(
        f,
        NETADDRS,
        Service::Netaddr,
        &[
            "192.168.1.77",
            "10.1.2.3",
            "::1",
            "[::1]",
            "ipv6:::1",
            "2001:db8:1::5",
            "fe80::1",
            "LOCAL",
            "172.20.0.1",
        ],
        &[
            "192.168.2.1",
            "10.1.2.4",
            "2001:db9::1",
            "fe80::2",
            "172.32.0.1",
            "not-an-address",
            "::ffff:192.168.1.77",
        ],
    );
    let t = f("n", NETADDR_MAP, '+');
    assert_eq!(
        t.lookup(Service::Netaddr, "OFFICE").unwrap(),
        Some(Value::Netaddr(Netaddr::parse("192.168.1.0/24").unwrap()))
    );
}

fn mailaddr(f: Factory) {
    check(
        f,
        MAILADDRS,
        Service::Mailaddr,
        &[
            "joe@anywhere.test",
            "Joe+lists@x.y",
            "joe",
            "bob@example.org",
            "jane@example.com",
            "jane+x@example.com",
            "ann@mx.example.net",
            "tagged+x@example.com",
        ],
        &[
            "bob@sub.example.org",
            "jane@example.net",
            "ann@example.net",
            "ann@a.b.example.net",
            "tagged@example.com",
            "tagged+y@example.com",
            "joe-lists@x.y",
        ],
    );
    check(f, CATCH_ALL, Service::Mailaddr, &["x@y.z", "x", "@y"], &[]);
    // The sub-address delimiter is the configured one.
    let t = f("m", MAILADDRS, '-');
    assert!(t.check(Service::Mailaddr, "joe-lists@x.y").unwrap());
    assert!(!t.check(Service::Mailaddr, "joe+lists@x.y").unwrap());
}

fn alias(f: Factory) {
    let t = f("aliases", ALIASES, '+');
    assert_eq!(
        t.lookup(Service::Alias, "ROOT").unwrap(),
        Some(Value::Alias(vec![
            ExpandNode::Username("admin".into()),
            ExpandNode::Filename("/var/log/root.mail".into()),
        ]))
    );
    assert_eq!(
        t.lookup(Service::Alias, "upper").unwrap(),
        Some(Value::Alias(vec![ExpandNode::Username("lower".into())]))
    );
    assert_eq!(
        t.lookup(Service::Alias, "prog").unwrap(),
        Some(Value::Alias(vec![ExpandNode::Filter(
            "/usr/bin/vacation joe".into()
        )]))
    );
    assert_eq!(
        t.lookup(Service::Alias, "inc").unwrap(),
        Some(Value::Alias(vec![ExpandNode::Include(
            "/etc/mail/staff".into()
        )]))
    );
    assert!(matches!(
        t.lookup(Service::Alias, "err").unwrap(),
        Some(Value::Alias(nodes)) if matches!(&nodes[0], ExpandNode::Error(e) if e.code == 550)
    ));
    assert_eq!(t.lookup(Service::Alias, "nobody").unwrap(), None);
    assert!(t.check(Service::Alias, "joe").unwrap());
    assert!(!t.check(Service::Alias, "nobody").unwrap());

    // Local alias key order: user+tag exactly, then user.
    let m = lookup_alias(&*t, "Joe+Lists", '+').unwrap().unwrap();
    assert_eq!(m.key, "joe+lists");
    assert_eq!(
        m.nodes,
        vec![ExpandNode::Filename("/home/joe/lists".into())]
    );
    let m = lookup_alias(&*t, "joe+other", '+').unwrap().unwrap();
    assert_eq!(m.key, "joe");
    assert_eq!(
        m.nodes,
        vec![ExpandNode::Address(MailAddr::new("joe", "example.com"))]
    );
    assert_eq!(lookup_alias(&*t, "nobody+x", '+').unwrap(), None);

    let bad = f("bad", BAD_ALIAS, '+');
    assert!(matches!(
        bad.lookup(Service::Alias, "bad"),
        Err(TableError::BadValue {
            service: Service::Alias,
            ..
        })
    ));
    assert!(bad.lookup(Service::Alias, "good").unwrap().is_some());
    assert!(bad.validate(Service::Alias).is_err());
    assert!(t.validate(Service::Alias).is_ok());
    assert!(matches!(
        f("l", DOMAINS, '+').validate(Service::Alias),
        Err(TableError::NotAMapping { .. })
    ));
}

fn virtual_order(f: Factory) {
    let t = f("virtual", VIRTUAL, '+');
    let key = |user: &str, domain: &str| {
        lookup_virtual(&*t, user, domain, '+')
            .unwrap()
            .map(|m| m.key)
    };
    assert_eq!(
        key("joe", "example.org").as_deref(),
        Some("joe@example.org")
    );
    assert_eq!(
        key("Joe+Tag", "Example.ORG").as_deref(),
        Some("joe+tag@example.org")
    );
    assert_eq!(
        key("joe+other", "example.org").as_deref(),
        Some("joe@example.org")
    );
    assert_eq!(key("ann", "example.net").as_deref(), Some("ann"));
    assert_eq!(key("ann+x", "example.net").as_deref(), Some("ann"));
    assert_eq!(key("bob+x", "example.net").as_deref(), Some("bob+x"));
    assert_eq!(key("carol", "example.org").as_deref(), Some("@example.org"));
    assert_eq!(key("carol", "example.com").as_deref(), Some("@"));
    let m = lookup_virtual(&*t, "joe", "example.org", '+')
        .unwrap()
        .unwrap();
    assert_eq!(m.nodes, vec![ExpandNode::Username("joe-local".into())]);

    let t = f("virtual2", VIRTUAL_NO_GLOBAL, '+');
    assert!(lookup_virtual(&*t, "carol", "example.com", '+')
        .unwrap()
        .is_none());
    assert!(lookup_virtual(&*t, "carol", "example.org", '+')
        .unwrap()
        .is_some());
}

fn credentials(f: Factory) {
    let t = f("creds", CREDENTIALS, '+');
    assert_eq!(
        t.lookup(Service::Credentials, "JOE").unwrap(),
        Some(Value::Credentials(Credentials {
            username: "joe".into(),
            password: "$2b$10$hIJ4QfMcp.90nJwKqGbKM.MybArjHOTpEtoTV.DgLYAiThuoYmTSe".into(),
        }))
    );
    assert_eq!(
        t.lookup(Service::Credentials, "relay1").unwrap(),
        Some(Value::Credentials(Credentials {
            username: "user".into(),
            password: "secret:with:colons".into(),
        }))
    );
    assert!(matches!(
        t.lookup(Service::Credentials, "short"),
        Err(TableError::BadValue { .. })
    ));
    assert_eq!(t.lookup(Service::Credentials, "nobody").unwrap(), None);
}

fn userinfo(f: Factory) {
    let t = f("users", USERINFO, '+');
    assert_eq!(
        t.lookup(Service::Userinfo, "Joe").unwrap(),
        Some(Value::Userinfo(Userinfo {
            username: "joe".into(),
            uid: 1000,
            gid: 100,
            home: "/home/virtual/joe".into(),
        }))
    );
    assert!(t.lookup(Service::Userinfo, "bad").is_err());
    assert!(t.check(Service::Userinfo, "joe").unwrap());
    assert!(!t.check(Service::Userinfo, "nobody").unwrap());
    let err = t.validate(Service::Userinfo).unwrap_err();
    assert!(err.to_string().contains("\"bad\""), "{err}");
}

fn source(f: Factory) {
    let t = f("src", SOURCES, '+');
    let fetched: Vec<Value> = (0..4)
        .map(|_| t.fetch(Service::Source).unwrap().unwrap())
        .collect();
    assert_eq!(
        fetched,
        vec![
            Value::Source(ip("192.0.2.1")),
            Value::Source(ip("192.0.2.2")),
            Value::Source(ip("2001:db8::1")),
            Value::Source(ip("192.0.2.1")),
        ]
    );
    assert!(t.check(Service::Source, "192.0.2.2").unwrap());
    assert!(!t.check(Service::Source, "192.0.2.3").unwrap());
    assert!(t.validate(Service::Source).is_ok());
    assert!(matches!(
        t.fetch(Service::Domain),
        Err(TableError::UnsupportedOperation { .. })
    ));
    assert!(f("none", EMPTY, '+')
        .fetch(Service::Source)
        .unwrap()
        .is_none());
    assert!(f("d", DOMAINS, '+').validate(Service::Source).is_err());
}

fn addrname(f: Factory) {
    let t = f("names", ADDRNAMES, '+');
    let name = |key: &str| match t.lookup(Service::Addrname, key).unwrap() {
        Some(Value::Addrname(Addrname { addr, name })) => Some((addr, name)),
        None => None,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(name("::1"), Some((ip("::1"), "ip6-localhost".into())));
    assert_eq!(name("[::1]"), Some((ip("::1"), "ip6-localhost".into())));
    assert_eq!(
        name("127.0.0.1"),
        Some((ip("127.0.0.1"), "localhost".into()))
    );
    assert_eq!(
        name("192.0.2.10"),
        Some((ip("192.0.2.10"), "mx.example.org".into()))
    );
    assert_eq!(name("192.0.2.11"), None);
    assert!(t.validate(Service::Addrname).is_ok());
}

fn relayhost(f: Factory) {
    let t = f("relays", RELAY_MAP, '+');
    assert_eq!(
        t.lookup(Service::Relayhost, "EXAMPLE.ORG").unwrap(),
        Some(Value::Relayhost(
            "smtp+tls://label@mx.example.org:587".into()
        ))
    );
    assert_eq!(t.lookup(Service::Relayhost, "example.com").unwrap(), None);
    let t = f("relays", RELAY_LIST, '+');
    let got: Vec<Value> = (0..3)
        .map(|_| t.fetch(Service::Relayhost).unwrap().unwrap())
        .collect();
    assert_eq!(
        got,
        vec![
            Value::Relayhost("smtp://a.example.org".into()),
            Value::Relayhost("smtp://b.example.org".into()),
            Value::Relayhost("smtp://a.example.org".into()),
        ]
    );
}

fn string(f: Factory) {
    check(
        f,
        STRINGS,
        Service::String,
        &["tag1", "TAG1", "important"],
        &["tag", "tag10", "importan"],
    );
}

fn regex(f: Factory) {
    check(
        f,
        REGEXES,
        Service::Regex,
        &[
            "admin@example.org",
            "ADMIN@x",
            "foo.spam.example",
            "abc123",
            "file.EXE",
        ],
        &["user@x", "abc12", "x.spam", "file.exe.txt"],
    );
    let t = f("bad", BAD_REGEX, '+');
    let err = t.check(Service::Regex, "ok").unwrap_err();
    assert!(
        matches!(&err, TableError::BadRegex { pattern, .. } if pattern == "(unclosed"),
        "{err}"
    );
    assert!(t.validate(Service::Regex).is_err());
    assert!(f("ok", REGEXES, '+').validate(Service::Regex).is_ok());
}

fn mailaddrmap(f: Factory) {
    let t = f("senders", MAILADDRMAP, '+');
    let Some(Value::Mailaddrmap(patterns)) = t.lookup(Service::Mailaddrmap, "Joe").unwrap() else {
        panic!("no mailaddrmap value");
    };
    assert_eq!(
        patterns,
        vec![
            MailPattern::parse("joe@example.org"),
            MailPattern::parse("joe.doe@example.org"),
            MailPattern::parse("@example.net"),
        ]
    );
    let allowed = |addr: &str| patterns.iter().any(|p| p.matches_text(addr, '+'));
    assert!(allowed("joe+x@example.org"));
    assert!(allowed("anyone@example.net"));
    assert!(!allowed("ann@example.org"));
    assert_eq!(t.lookup(Service::Mailaddrmap, "ann").unwrap(), None);
}

macro_rules! battery {
    ($backend:ident, $factory:expr) => {
        mod $backend {
            use super::*;
            const F: Factory = $factory;
            #[test]
            fn shape() {
                super::shape(F)
            }
            #[test]
            fn domain() {
                super::domain(F)
            }
            #[test]
            fn netaddr() {
                super::netaddr(F)
            }
            #[test]
            fn mailaddr() {
                super::mailaddr(F)
            }
            #[test]
            fn alias() {
                super::alias(F)
            }
            #[test]
            fn virtual_order() {
                super::virtual_order(F)
            }
            #[test]
            fn credentials() {
                super::credentials(F)
            }
            #[test]
            fn userinfo() {
                super::userinfo(F)
            }
            #[test]
            fn source() {
                super::source(F)
            }
            #[test]
            fn addrname() {
                super::addrname(F)
            }
            #[test]
            fn relayhost() {
                super::relayhost(F)
            }
            #[test]
            fn string() {
                super::string(F)
            }
            #[test]
            fn regex() {
                super::regex(F)
            }
            #[test]
            fn mailaddrmap() {
                super::mailaddrmap(F)
            }
        }
    };
}

battery!(static_inline, open_inline);
battery!(static_file, open_file);
battery!(db, open_db);
