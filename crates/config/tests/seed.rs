//! The configuration examples of the seed paper ("OpenSMTPD: We deliver!",
//! §2) parse, and lower to the rules the paper describes.

mod common;

use common::ok;
use smtpd_config::{
    Action, Cond, Config, Decision, Grammar, ListenOn, ListenerTls, LocalKind, Mapping, Method,
    Operand, Relay, RelayTls, RelayTlsMode, RelayUrl, TableOrigin, TableSource,
};

/// A rule as (conditions, action) with literal tables shown by content.
fn rules(c: &Config) -> Vec<(Vec<String>, &Action)> {
    c.rules
        .iter()
        .map(|r| {
            assert_eq!(r.grammar, Grammar::Old);
            let conds = r
                .conditions
                .iter()
                .map(|k| show(c, &k.cond, k.negated))
                .collect();
            let Decision::Action(a) = &r.decision else {
                panic!("reject")
            };
            (conds, c.action(a).expect("action exists"))
        })
        .collect()
}

fn operand(c: &Config, o: &Operand) -> String {
    let t = c.table(&o.table).expect("table");
    match (&t.origin, &t.source) {
        (TableOrigin::Literal, TableSource::List(v)) => format!("\"{}\"", v[0]),
        _ => format!("<{}>", t.name),
    }
}

fn show(c: &Config, cond: &Cond, negated: bool) -> String {
    let s = match cond {
        Cond::FromLocal {
            or_authenticated: true,
        } => "from local-or-auth".to_string(),
        Cond::FromAny => "from any".to_string(),
        Cond::ForLocal => "for local".to_string(),
        Cond::ForAny => "for any".to_string(),
        Cond::ForDomain(o) => format!("for domain {}", operand(c, o)),
        Cond::Tag(o) => format!("tag {}", operand(c, o)),
        other => panic!("unexpected condition {other:?}"),
    };
    if negated {
        format!("!{s}")
    } else {
        s
    }
}

fn local(a: &Action) -> (&LocalKind, Option<&Mapping>) {
    match &a.method {
        Method::Local(d) => (&d.kind, d.mapping.as_ref()),
        Method::Relay(_) => panic!("expected local delivery, got relay"),
    }
}

fn relay(a: &Action) -> &Relay {
    match &a.method {
        Method::Relay(r) => r,
        Method::Local(_) => panic!("expected relay"),
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn minimal_example() {
    let c = ok("listen on lo0\naccept for local deliver to mbox\naccept for any relay\n");
    assert_eq!(c.listeners.len(), 1);
    assert_eq!(c.listeners[0].on, ListenOn::Name("lo0".into()));
    assert_eq!(c.listeners[0].port, 25);
    let r = rules(&c);
    // "The first rule matches mails sent for the local machine … deliver to
    // the user mbox"; without `from`, only local (or authenticated) senders.
    assert_eq!(r[0].0, strings(&["for local", "from local-or-auth"]));
    assert_eq!(local(r[0].1), (&LocalKind::Mbox, None));
    // "The second rule matches all mails regardless of the destination
    // domain, and use standard relaying".
    assert_eq!(r[1].0, strings(&["for any", "from local-or-auth"]));
    assert_eq!(relay(r[1].1), &Relay::default());
}

#[test]
fn egress_and_aliases_example() {
    let c = ok(
        "listen on lo0\nlisten on egress\n\ntable aliases file:/etc/mail/aliases\n\n\
                accept from any for local alias <aliases> deliver to mbox\naccept for any relay\n",
    );
    assert_eq!(c.listeners[1].on, ListenOn::Name("egress".into()));
    assert_eq!(
        c.table("aliases").map(|t| &t.source),
        Some(&TableSource::File {
            path: "/etc/mail/aliases".into()
        })
    );
    let r = rules(&c);
    assert_eq!(r[0].0, strings(&["from any", "for local"]));
    assert_eq!(
        local(r[0].1),
        (&LocalKind::Mbox, Some(&Mapping::Alias("aliases".into())))
    );
    // "Relaying … only for mails originating from the local machine".
    assert_eq!(r[1].0, strings(&["for any", "from local-or-auth"]));
}

#[test]
fn isp_relay_example() {
    let c = ok("listen on lo0\n\ntable aliases file:/etc/mail/aliases\n\
                table secrets file:/etc/mail/secret\n\n\
                accept for local alias <aliases> deliver to mbox\n\
                accept for any relay via tls+auth://myisp@smtps.my.isp auth <secrets>\n");
    let r = rules(&c);
    let rel = relay(r[1].1);
    assert_eq!(rel.auth.as_deref(), Some("secrets"));
    // tls:// is mandatory STARTTLS without certificate verification.
    assert_eq!(rel.tls, Some(RelayTls { verify: false }));
    let host = c
        .table(rel.host.as_deref().expect("host"))
        .expect("host table");
    let TableSource::List(urls) = &host.source else {
        panic!("literal")
    };
    let url = RelayUrl::parse(&urls[0]).expect("url");
    assert_eq!(url.tls, RelayTlsMode::StartTls);
    assert_eq!(url.label.as_deref(), Some("myisp"));
    assert_eq!(url.host, "smtps.my.isp");
    assert_eq!(url.port, None);
}

const REAL_WORLD: &str = r#"listen on lo0
# Tag traffic from the local DKIM signing proxy
listen on lo0 port 10029 tag DKIM
# Listen for incoming mail on standard smtp port and smtps port with ssl.
listen on egress ssl certificate mail.mydomain.org
# Listen on a different port, enable tls and require auth
listen on egress port submission tls certificate mail.mydomain.org auth

table sources          { xxx.xxx.xxx.44, xxx.xxx.xxx.45 }
table aliases          "/etc/mail/smtpd/aliases"
table aliases2         "/etc/mail/smtpd/aliases2"
table pdomains         "/etc/mail/smtpd/primary-domains"
table vdomains         "/etc/mail/smtpd/virtual-domains"
table vusers           "/etc/mail/smtpd/virtual-users"
table bdomains         "/etc/mail/smtpd/backup-domains"

# Deliver local mails with aliases
accept for local alias <aliases> deliver to maildir

# Accept external mails for our primary domains.
accept from any for domain <pdomains> alias <aliases> deliver to maildir

# Accept external mails for a specific primary domain with other aliases.
accept from any for domain "other.dom" alias <aliases2> deliver to maildir

# Virtual domains, with a mapping from virtual users to real mailboxes
accept from any for domain <vdomains> virtual <vusers> deliver to maildir

# Act as a backup server for the given domains, only relay to servers with
# lower MX preference than the one specified.
accept from any for domain <bdomains> relay backup mx1.mydomain.org

# Relay all signed traffic, using multiple source addresses (round robin).
accept tagged DKIM for any relay source <sources>
# Relay outgoing mails through a DKIM signing proxy.
accept for any relay via smtp://127.0.0.1:10028
"#;

#[test]
fn real_world_example() {
    let c = ok(&REAL_WORLD
        .replace("xxx.xxx.xxx.44", "192.0.2.44")
        .replace("xxx.xxx.xxx.45", "192.0.2.45"));

    // Listeners: `ssl` is STARTTLS on 25 plus SMTPS on 465.
    /// (port, TLS mode, pki, tag, auth)
    type Summary<'a> = (u16, ListenerTls, Vec<String>, Option<&'a str>, bool);
    let l: Vec<Summary> = c
        .listeners
        .iter()
        .map(|l| {
            (
                l.port,
                l.tls,
                l.pki.clone(),
                l.tag.as_deref(),
                l.auth.is_some(),
            )
        })
        .collect();
    let plain = ListenerTls::Plain;
    let starttls = ListenerTls::StartTls {
        required: false,
        verify: false,
    };
    let cert = strings(&["mail.mydomain.org"]);
    assert_eq!(
        l,
        vec![
            (25, plain, vec![], None, false),
            (10029, plain, vec![], Some("DKIM"), false),
            (25, starttls, cert.clone(), None, false),
            (
                465,
                ListenerTls::Smtps { verify: false },
                cert.clone(),
                None,
                false
            ),
            (587, starttls, cert, None, true),
        ]
    );
    assert_eq!(
        c.table("sources").map(|t| &t.source),
        Some(&TableSource::List(strings(&["192.0.2.44", "192.0.2.45"])))
    );

    let r = rules(&c);
    assert_eq!(r.len(), 7);
    let maildir = LocalKind::Maildir {
        path: None,
        junk: false,
    };
    let alias = |t: &str| Mapping::Alias(t.into());
    assert_eq!(r[0].0, strings(&["for local", "from local-or-auth"]));
    assert_eq!(local(r[0].1), (&maildir, Some(&alias("aliases"))));
    assert_eq!(r[1].0, strings(&["from any", "for domain <pdomains>"]));
    assert_eq!(local(r[1].1), (&maildir, Some(&alias("aliases"))));
    assert_eq!(r[2].0, strings(&["from any", "for domain \"other.dom\""]));
    assert_eq!(local(r[2].1), (&maildir, Some(&alias("aliases2"))));
    assert_eq!(r[3].0, strings(&["from any", "for domain <vdomains>"]));
    assert_eq!(
        local(r[3].1),
        (&maildir, Some(&Mapping::Virtual("vusers".into())))
    );
    assert_eq!(r[4].0, strings(&["from any", "for domain <bdomains>"]));
    assert_eq!(
        relay(r[4].1).backup,
        Some(Some("mx1.mydomain.org".to_string()))
    );
    assert_eq!(
        r[5].0,
        strings(&["tag \"DKIM\"", "for any", "from local-or-auth"])
    );
    assert_eq!(relay(r[5].1).src.as_deref(), Some("sources"));
    assert_eq!(r[6].0, strings(&["for any", "from local-or-auth"]));
    let host = relay(r[6].1).host.as_deref().expect("via");
    assert_eq!(
        c.table(host).map(|t| &t.source),
        Some(&TableSource::List(strings(&["smtp://127.0.0.1:10028"])))
    );
}
