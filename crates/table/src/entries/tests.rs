use super::*;
use proptest::prelude::*;

fn list(keys: &[&str]) -> Entries {
    Entries::new(
        TableKind::List,
        '+',
        keys.iter().map(|k| (k.to_string(), None)),
    )
}

/// What OpenSMTPD computes: the first entry, in order, that matches.
fn scan(service: Service, keys: &[String], key: &str, delim: char) -> Option<usize> {
    keys.iter().position(|k| match service {
        Service::Domain => hostname_match(key, k),
        Service::Netaddr => {
            k == key
                || match (Netaddr::parse(k), Netaddr::parse(key)) {
                    (Ok(net), Ok(q)) => net.contains(q.addr),
                    _ => false,
                }
        }
        Service::Mailaddr => {
            let q = MailPattern::parse(key);
            MailPattern::parse(k).matches(&q.user, &q.domain, delim)
        }
        _ => k == key,
    })
}

#[test]
fn duplicates_keep_first_position_and_last_value() {
    let e = Entries::new(
        TableKind::Mapping,
        '+',
        vec![
            ("a".to_string(), Some("1".to_string())),
            ("b".to_string(), Some("2".to_string())),
            ("a".to_string(), Some("3".to_string())),
        ],
    );
    assert_eq!(e.len(), 2);
    assert_eq!((e.key(0), e.value(0)), ("a", Some("3")));
}

#[test]
fn first_match_in_file_order() {
    let e = list(&["10.0.0.0/8", "10.1.0.0/16", "local"]);
    assert_eq!(e.find(Service::Netaddr, "10.1.2.3").unwrap(), Some(0));
    assert_eq!(e.find(Service::Netaddr, "local").unwrap(), Some(2));
    assert_eq!(e.find(Service::Netaddr, "11.0.0.1").unwrap(), None);
    let e = list(&["*.example.org", "mx.example.org"]);
    assert_eq!(e.find(Service::Domain, "mx.example.org").unwrap(), Some(0));
}

#[test]
fn regex_failures_name_the_pattern() {
    let e = list(&["^ok$", "(unclosed"]);
    let f = e.find(Service::Regex, "ok").unwrap_err();
    assert_eq!(f.pattern, "(unclosed");
    let e = list(&["^a", "b$"]);
    assert_eq!(e.find(Service::Regex, "xb").unwrap(), Some(1));
    assert_eq!(e.find(Service::Regex, "ab").unwrap(), Some(0));
}

#[test]
fn addrname_by_address() {
    let e = Entries::new(
        TableKind::Mapping,
        '+',
        vec![
            ("[::1]".to_string(), Some("six".to_string())),
            ("127.0.0.1".to_string(), Some("four".to_string())),
        ],
    );
    assert_eq!(e.find(Service::Addrname, "::1").unwrap(), Some(0));
    assert_eq!(e.find(Service::Addrname, "ipv6:0::1").unwrap(), Some(0));
    assert_eq!(e.find(Service::Addrname, "127.0.0.1").unwrap(), Some(1));
    assert_eq!(e.find(Service::Addrname, "127.0.0.2").unwrap(), None);
}

fn net_key() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u8..4, 0u8..4, 0u8..=32).prop_map(|(a, b, bits)| format!("10.{a}.{b}.1/{bits}")),
        (0u8..4, 0u8..4).prop_map(|(a, b)| format!("10.{a}.{b}.1")),
        (0u16..4, 0u8..=128).prop_map(|(a, bits)| format!("2001:db8:{a}::1/{bits}")),
        Just("local".to_string()),
    ]
}

fn mail_key() -> impl Strategy<Value = String> {
    let user = prop_oneof![Just(""), Just("joe"), Just("joe+x"), Just("ann")];
    let domain = prop_oneof![Just(""), Just("a.org"), Just("*.a.org"), Just("b.a.org")];
    (user, domain, any::<bool>()).prop_map(|(u, d, at)| {
        if d.is_empty() && !at {
            u.to_string()
        } else {
            format!("{u}@{d}")
        }
    })
}

proptest! {
    #[test]
    fn net_index_agrees_with_a_scan(keys in prop::collection::vec(net_key(), 0..8), q in net_key()) {
        let e = list(&keys.iter().map(String::as_str).collect::<Vec<_>>());
        let stored: Vec<String> = (0..e.len()).map(|i| e.key(i).to_string()).collect();
        prop_assert_eq!(e.find(Service::Netaddr, &q).unwrap(), scan(Service::Netaddr, &stored, &q, '+'));
    }

    #[test]
    fn mail_index_agrees_with_a_scan(keys in prop::collection::vec(mail_key(), 0..8), q in mail_key()) {
        let e = list(&keys.iter().map(String::as_str).collect::<Vec<_>>());
        let stored: Vec<String> = (0..e.len()).map(|i| e.key(i).to_string()).collect();
        prop_assert_eq!(e.find(Service::Mailaddr, &q).unwrap(), scan(Service::Mailaddr, &stored, &q, '+'));
    }

    #[test]
    fn domain_index_agrees_with_a_scan(
        keys in prop::collection::vec(prop_oneof![Just("a.org"), Just("*.a.org"), Just("b.a.org"), Just("*"), Just("*b*")], 0..6),
        q in prop_oneof![Just("a.org"), Just("b.a.org"), Just("c.b.a.org"), Just("x")],
    ) {
        let e = list(&keys);
        let stored: Vec<String> = (0..e.len()).map(|i| e.key(i).to_string()).collect();
        prop_assert_eq!(e.find(Service::Domain, q).unwrap(), scan(Service::Domain, &stored, q, '+'));
    }
}
